// SPDX-License-Identifier: MIT
/* A module loaded with dlopen by test_graph: an input, a config-dependent
 * node and a user type, so loading, config and types across a shared-object
 * boundary are all exercised. */
#include <hamr.h>

typedef struct box {
	int64_t w, h;
} box;

static const hamr_type_desc box_type = {.name = "test.box", .size = sizeof(box)};

static int make_box(hamr_call *c)
{
	box *b;
	hamr_value v;
	int rc = hamr_value_alloc_user(&v, &box_type, (void **)&b);
	if (rc)
		return rc;
	b->w = hamr_arg_i64(c, 0);
	b->h = 2 * b->w;
	return hamr_ret_value(c, &v);
}

static int area(hamr_call *c)
{
	const box *b = hamr_arg_user(c, 0);
	return hamr_ret_i64(c, b->w * b->h);
}

static int perimeter(hamr_call *c)
{
	const box *b = hamr_arg_user(c, 0);
	return hamr_ret_i64(c, 2 * (b->w + b->h));
}

static const hamr_node_def nodes[] = {
	{.name = "width", .type = HAMR_I64, .kind = HAMR_NODE_INPUT},
	{.name = "box", .fn = make_box, .type = &box_type,
	 .deps = (const hamr_dep[]){HAMR_DEP("width", HAMR_I64), HAMR_DEPS_END},
	 .tags = (const hamr_tag[]){{"stage", "build"}, {NULL, NULL}},
	 .doc = "a box twice as high as wide"},
	{.name = "measure", .fn = area, .type = HAMR_I64,
	 .deps = (const hamr_dep[]){HAMR_DEP("box", &box_type), HAMR_DEPS_END},
	 .conds = (const hamr_cond[]){HAMR_COND_WHEN("measure", "area"), HAMR_CONDS_END}},
	{.name = "measure", .fn = perimeter, .type = HAMR_I64,
	 .deps = (const hamr_dep[]){HAMR_DEP("box", &box_type), HAMR_DEPS_END},
	 .conds = (const hamr_cond[]){HAMR_COND_WHEN_NOT("measure", "area"),
	                              HAMR_CONDS_END}},
	{0}};

static const hamr_module shapes = {"shapes", nodes};
HAMR_MODULE_EXPORT(shapes)
