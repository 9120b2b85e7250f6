// SPDX-License-Identifier: MIT
/* A macro-form module (modules/nodes_macro.c) linked from a static archive
 * with -Wl,--gc-sections: referencing the module takes its object file, and
 * its nodes all arrive, the same nodes as the shared object's. */
#include <string.h>

#include <hamr.h>

#include "tests/check.h"

HAMR_MODULE_DECLARE(nodes_macro);

static hamr_graph *built(int from_archive)
{
	hamr_graph *g = NULL;
	hamr_graph_opts o = {.allow_extra_config = 1};
	CHECK_OK(hamr_graph_create_with(&g, &o));
	if (from_archive)
		CHECK_OK(hamr_graph_add_module(g, HAMR_MODULE_REF(nodes_macro)));
	else
		CHECK_OK(hamr_graph_load_module(g, HAMR_TEST_MODULE_DIR "/nodes_macro.so"));
	CHECK_OK(hamr_graph_build(g));
	return g;
}

static void test_archive_module_lists_every_node(void)
{
	hamr_graph *a = built(1), *so = built(0);
	size_t n = hamr_graph_node_count(a);
	CHECK(n >= 20);
	CHECK_EQ_INT(n, hamr_graph_node_count(so));
	for (size_t i = 0; i < n; i++) {
		hamr_node_info x, y;
		CHECK_OK(hamr_graph_node_info(a, i, &x));
		CHECK_OK(hamr_graph_node_info(so, i, &y));
		CHECK_EQ_STR(x.name, y.name);
	}
	/* the module's own table, in the order of the lines */
	const hamr_module *m = HAMR_MODULE_REF(nodes_macro);
	CHECK_EQ_STR(m->nodes[0].name, "price");
	CHECK_EQ_STR(m->nodes[1].name, "weeks");
	CHECK_EQ_STR(m->nodes[2].name, "units");
	hamr_graph_destroy(a);
	hamr_graph_destroy(so);
}

static void test_archive_module_runs(void)
{
	static const char *const out[] = {"total"};
	hamr_graph *g = built(1);
	hamr_plan *p = NULL;
	hamr_run *r = NULL;
	int64_t t = 0;
	CHECK_OK(hamr_plan_create(&p, g, out, 1, NULL));
	CHECK_OK(hamr_run_execute(&r, p, NULL, NULL));
	CHECK_OK(hamr_run_result_i64(r, "total", &t));
	CHECK_EQ_INT(t, 333833500);
	hamr_run_destroy(r);
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
}

int main(void)
{
	RUN_TEST(test_archive_module_lists_every_node);
	RUN_TEST(test_archive_module_runs);
	TEST_EXIT();
}
