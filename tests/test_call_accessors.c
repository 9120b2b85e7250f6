// SPDX-License-Identifier: MIT
/* The node call's accessors that programs get inline (include/hamr/
 * runtime.h) against the library's functions of the same names: the
 * nodes of tests/call_nodes.h, compiled both ways, give the same results
 * and the same errors on both executors. */
#ifdef HAMR_NO_INLINE
#error "test_call_accessors.c tests the inline accessors: build it without HAMR_NO_INLINE"
#endif
#include <hamr.h>
#include <string.h>

#include "tests/check.h"

#define CALL_NODES call_nodes_inline
#include "tests/call_nodes.h"

const hamr_node_def *call_nodes_out(void); /* call_accessors_out.c */

/* Every right answer of cn_probe: 22 bits. */
#define PROBE_ALL ((1 << 22) - 1)

static void run_nodes(const hamr_node_def *defs, const hamr_run_opts *o, const char *how)
{
	hamr_module m = {"call", defs};
	hamr_graph *g = NULL;
	hamr_values *in = NULL;
	hamr_plan *p = NULL, *pw = NULL;
	hamr_run *r = NULL, *rw = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	CHECK_OK(hamr_values_create(&in));
	CHECK_OK(hamr_values_set_i64(in, "a", 40));
	CHECK_OK(hamr_values_set_f64(in, "b", 2.5));
	CHECK_OK(hamr_values_set_bool(in, "flag", true));
	const char *outs[] = {"probe", "twice", "half", "yes", "replaced"};
	CHECK_OK(hamr_plan_create(&p, g, outs, 5, in));
	CHECK_OK(hamr_run_execute(&r, p, in, o));
	int64_t probe = -1, twice = -1, replaced = -1;
	double half = -1;
	bool yes = false;
	CHECK_OK(hamr_run_result_i64(r, "probe", &probe));
	if (probe != PROBE_ALL)
		fprintf(stderr, "%s: probe bits %llx\n", how, (unsigned long long)probe);
	CHECK_EQ_INT(probe, PROBE_ALL);
	CHECK_OK(hamr_run_result_i64(r, "twice", &twice));
	CHECK_EQ_INT(twice, 42);
	CHECK_OK(hamr_run_result_f64(r, "half", &half));
	CHECK(half == 20.0);
	CHECK_OK(hamr_run_result_bool(r, "yes", &yes));
	CHECK(yes);
	CHECK_OK(hamr_run_result_i64(r, "replaced", &replaced));
	CHECK_EQ_INT(replaced, 7);
	/* an i64 from a node declared f64: the node's error, named */
	const char *wrong[] = {"wrong"};
	CHECK_OK(hamr_plan_create(&pw, g, wrong, 1, in));
	CHECK_EQ_INT(hamr_run_execute(&rw, pw, in, o), HAMR_ETYPE);
	const hamr_error_info *e = hamr_run_error(rw);
	CHECK(e && e->node && !strcmp(e->node, "wrong"));
	CHECK_CONTAINS(e && e->message ? e->message : "",
	               "returned i64, but the node is declared f64");
	hamr_run_destroy(rw);
	hamr_plan_destroy(pw);
	hamr_run_destroy(r);
	hamr_plan_destroy(p);
	hamr_values_destroy(in);
	hamr_graph_destroy(g);
}

static void test_inline_and_library_accessors_agree(void)
{
	hamr_pool *pool = NULL;
	hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
	po.workers = 2;
	CHECK_OK(hamr_pool_create(&pool, &po));
	hamr_run_opts seq = HAMR_RUN_OPTS_INIT, thr = HAMR_RUN_OPTS_INIT;
	seq.executor = HAMR_EXEC_SEQUENTIAL;
	thr.executor = HAMR_EXEC_THREADS;
	thr.pool = pool;
	run_nodes(call_nodes_inline(), &seq, "inline, sequential");
	run_nodes(call_nodes_inline(), &thr, "inline, threads");
	run_nodes(call_nodes_out(), &seq, "library, sequential");
	run_nodes(call_nodes_out(), &thr, "library, threads");
	hamr_pool_destroy(pool);
}

int main(void)
{
	RUN_TEST(test_inline_and_library_accessors_agree);
	TEST_EXIT();
}
