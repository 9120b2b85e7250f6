/* SPDX-License-Identifier: MIT */
/* Nodes that use every accessor of the node call that programs get inline
 * (hamr_arg_count, hamr_arg, hamr_arg_present, hamr_arg_i64/_f64/_bool,
 * hamr_ret_i64/_f64/_bool) and the scalar value getters (hamr_value_i64/
 * _f64/_bool), for test_call_accessors. It includes this
 * header twice: in test_call_accessors.c, where they compile inline, and
 * in call_accessors_out.c, built with HAMR_NO_INLINE, where they are the
 * library's functions. CALL_NODES names the table each one makes. */
#include <hamr.h>

/* a (i64), b (f64), flag (bool), and "missing", an optional dependency
 * with no producer and no default: every getter on every argument, and
 * past the end, each right answer worth a bit of the result. */
static int cn_probe(hamr_call *c)
{
	int64_t bits = 0, k = 0;
#define CN_BIT(cond) (bits |= (int64_t)(cond) << k++)
	CN_BIT(hamr_arg_count(c) == 4);
	CN_BIT(hamr_arg_i64(c, 0) == 40);
	CN_BIT(hamr_arg_f64(c, 1) == 2.5);
	CN_BIT(hamr_arg_bool(c, 2));
	CN_BIT(hamr_arg_f64(c, 0) == 0.0);  /* another type: 0 */
	CN_BIT(hamr_arg_i64(c, 1) == 0);
	CN_BIT(!hamr_arg_bool(c, 0));
	CN_BIT(hamr_arg_present(c, 0));
	CN_BIT(!hamr_arg_present(c, 3));    /* absent */
	CN_BIT(hamr_arg(c, 3) == NULL);
	CN_BIT(hamr_arg_i64(c, 3) == 0);
	CN_BIT(hamr_arg(c, 4) == NULL);     /* past the end */
	CN_BIT(hamr_arg_i64(c, 99) == 0);
	CN_BIT(!hamr_arg_present(c, 99));
	CN_BIT(hamr_arg(c, 0) && hamr_arg(c, 0)->type == HAMR_I64);
	/* the value getters, inline too */
	CN_BIT(hamr_value_i64(hamr_arg(c, 0)) == 40);
	CN_BIT(hamr_value_f64(hamr_arg(c, 1)) == 2.5);
	CN_BIT(hamr_value_bool(hamr_arg(c, 2)));
	CN_BIT(hamr_value_i64(hamr_arg(c, 1)) == 0); /* another type: 0 */
	CN_BIT(hamr_value_f64(hamr_arg(c, 0)) == 0.0);
	CN_BIT(!hamr_value_bool(hamr_arg(c, 0)));
	CN_BIT(hamr_value_i64(NULL) == 0 && hamr_value_f64(NULL) == 0.0 && !hamr_value_bool(NULL));
#undef CN_BIT
	return hamr_ret_i64(c, bits);
}

static int cn_twice(hamr_call *c) /* the second result replaces the first */
{
	hamr_ret_i64(c, 1);
	return hamr_ret_i64(c, hamr_arg_i64(c, 0) + 2);
}

static int cn_half(hamr_call *c)
{
	return hamr_ret_f64(c, (double)hamr_arg_i64(c, 0) / 2.0);
}

static int cn_yes(hamr_call *c)
{
	return hamr_ret_bool(c, hamr_arg_f64(c, 0) > 0.0);
}

static int cn_replace_str(hamr_call *c) /* untyped: a string, then an i64 */
{
	int rc = hamr_ret_str(c, "a string the i64 replaces");
	return rc ? rc : hamr_ret_i64(c, 7);
}

static int cn_wrong(hamr_call *c) /* declared f64 */
{
	return hamr_ret_i64(c, 1);
}

const hamr_node_def *CALL_NODES(void);

const hamr_node_def *CALL_NODES(void)
{
	static const hamr_dep d_probe[] = {HAMR_DEP("a", HAMR_I64), HAMR_DEP("b", HAMR_F64),
	                                   HAMR_DEP("flag", HAMR_BOOL),
	                                   HAMR_DEP_OPT("missing", HAMR_I64, HAMR_NO_DEFAULT),
	                                   HAMR_DEPS_END};
	static const hamr_dep d_a[] = {HAMR_DEP("a", HAMR_I64), HAMR_DEPS_END};
	static const hamr_dep d_b[] = {HAMR_DEP("b", HAMR_F64), HAMR_DEPS_END};
	static const hamr_node_def defs[] = {
		{.name = "a", .type = HAMR_I64, .kind = HAMR_NODE_INPUT},
		{.name = "b", .type = HAMR_F64, .kind = HAMR_NODE_INPUT},
		{.name = "flag", .type = HAMR_BOOL, .kind = HAMR_NODE_INPUT},
		{.name = "probe", .fn = cn_probe, .type = HAMR_I64, .deps = d_probe},
		{.name = "twice", .fn = cn_twice, .type = HAMR_I64, .deps = d_a},
		{.name = "half", .fn = cn_half, .type = HAMR_F64, .deps = d_a},
		{.name = "yes", .fn = cn_yes, .type = HAMR_BOOL, .deps = d_b},
		{.name = "replaced", .fn = cn_replace_str, .deps = d_a},
		{.name = "wrong", .fn = cn_wrong, .type = HAMR_F64, .deps = d_a},
		{0}};
	return defs;
}
