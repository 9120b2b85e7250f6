// SPDX-License-Identifier: MIT
/* Runs with the sequential executor: results, pruning, overrides, inputs,
 * defaults, failures, cancellation, and values released early. */
#include <hamr.h>
#include <pthread.h>

#include "tests/check.h"
#include "tests/each_executor.h"

static int tracked_frees; /* objects of type "tracked" freed so far */


static int f_a(hamr_call *c) { return hamr_ret_i64(c, 2); }
static int f_b(hamr_call *c) { return hamr_ret_i64(c, hamr_arg_i64(c, 0) * 10); }
static int f_c(hamr_call *c)
{
	return hamr_ret_i64(c, hamr_arg_i64(c, 0) + hamr_arg_i64(c, 1));
}
static int f_scaled(hamr_call *c)
{
	return hamr_ret_f64(c, (double)hamr_arg_i64(c, 0) * hamr_arg_f64(c, 1));
}
static int f_label(hamr_call *c)
{
	char buf[64];
	snprintf(buf, sizeof buf, "%s-%lld", hamr_arg_str(c, 1),
	         (long long)hamr_arg_i64(c, 0));
	return hamr_ret_str(c, buf);
}
static int f_fail(hamr_call *c)
{
	return hamr_fail(c, "bad value %lld", (long long)hamr_arg_i64(c, 0));
}
static int f_count_calls(hamr_call *c)
{
	int *n = hamr_userdata(c);
	(*n)++;
	return hamr_ret_i64(c, *n);
}

static const hamr_node_def basic_nodes[] = {
	{.name = "a", .fn = f_a, .type = HAMR_I64},
	{.name = "b", .fn = f_b, .type = HAMR_I64,
	 .deps = (const hamr_dep[]){HAMR_DEP("a", HAMR_I64), {0}}},
	{.name = "c", .fn = f_c, .type = HAMR_I64,
	 .deps = (const hamr_dep[]){HAMR_DEP("a", HAMR_I64), HAMR_DEP("b", HAMR_I64), {0}}},
	{.name = "scale", .type = HAMR_F64, .kind = HAMR_NODE_INPUT},
	{.name = "scaled", .fn = f_scaled, .type = HAMR_F64,
	 .deps = (const hamr_dep[]){HAMR_DEP("c", HAMR_I64),
	                            HAMR_DEP_OPT("scale", HAMR_F64, HAMR_DEFAULT_F64(0.5)),
	                            {0}}},
	{.name = "prefix", .type = HAMR_STR, .kind = HAMR_NODE_INPUT},
	{.name = "label", .fn = f_label, .type = HAMR_STR,
	 .deps = (const hamr_dep[]){HAMR_DEP("c", HAMR_I64), HAMR_DEP("prefix", HAMR_STR), {0}}},
	{.name = "broken", .fn = f_fail, .type = HAMR_I64,
	 .deps = (const hamr_dep[]){HAMR_DEP("b", HAMR_I64), {0}}},
	{0}};
static const hamr_module basic = {"basic", basic_nodes};

static hamr_graph *basic_graph(void)
{
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &basic));
	CHECK_OK(hamr_graph_build(g));
	return g;
}

static void test_results_of_a_small_chain(void)
{
	hamr_graph *g = basic_graph();
	const char *outs[] = {"c", "b"};
	hamr_plan *p = NULL;
	CHECK_OK(hamr_plan_create(&p, g, outs, 2, NULL));
	CHECK_EQ_INT(hamr_plan_node_count(p), 3);
	CHECK_EQ_STR(hamr_plan_node_name(p, 0), "a");
	hamr_run *r = NULL;
	CHECK_OK(hamr_run_execute(&r, p, NULL, g_opts));
	int64_t c = 0, b = 0;
	CHECK_OK(hamr_run_result_i64(r, "c", &c));
	CHECK_OK(hamr_run_result_i64(r, "b", &b));
	CHECK_EQ_INT(c, 22);
	CHECK_EQ_INT(b, 20);
	CHECK(hamr_run_result(r, "a") == NULL); /* not requested */
	CHECK_RC(hamr_run_result_i64(r, "a", &c), HAMR_ENOENT);
	double d;
	CHECK_RC(hamr_run_result_f64(r, "c", &d), HAMR_ETYPE);
	CHECK_CONTAINS(hamr_errmsg(), "i64");
	hamr_run_destroy(r);
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
}

static void test_default_and_given_input(void)
{
	hamr_graph *g = basic_graph();
	const char *outs[] = {"scaled"};
	hamr_plan *p = NULL;
	CHECK_OK(hamr_plan_create(&p, g, outs, 1, NULL));
	hamr_run *r = NULL;
	CHECK_OK(hamr_run_execute(&r, p, NULL, g_opts));
	double v = 0;
	CHECK_OK(hamr_run_result_f64(r, "scaled", &v));
	CHECK(v == 11.0); /* 22 * default 0.5 */
	hamr_run_destroy(r);
	hamr_plan_destroy(p);

	hamr_values *in = NULL;
	CHECK_OK(hamr_values_create(&in));
	CHECK_OK(hamr_values_set_f64(in, "scale", 3.0));
	CHECK_OK(hamr_plan_create(&p, g, outs, 1, in));
	CHECK_OK(hamr_run_execute(&r, p, in, g_opts));
	CHECK_OK(hamr_run_result_f64(r, "scaled", &v));
	CHECK(v == 66.0);
	hamr_run_destroy(r);
	/* the plan expects "scale" now: a run without it is refused */
	hamr_values *none = NULL;
	CHECK_OK(hamr_values_create(&none));
	CHECK_RC(hamr_run_create(&r, p, none, g_opts), HAMR_EINPUT);
	CHECK_CONTAINS(hamr_errmsg(), "\"scale\"");
	CHECK(r == NULL);
	hamr_values_destroy(none);
	hamr_values_destroy(in);
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
}

static void test_missing_input_names_input_and_consumer(void)
{
	hamr_graph *g = basic_graph();
	const char *outs[] = {"label"};
	hamr_plan *p = NULL;
	CHECK_RC(hamr_plan_create(&p, g, outs, 1, NULL), HAMR_EINPUT);
	CHECK_CONTAINS(hamr_errmsg(), "missing external input \"prefix\" (needed by \"label\")");
	CHECK(p == NULL);
	hamr_values *in = NULL;
	CHECK_OK(hamr_values_create(&in));
	CHECK_OK(hamr_values_set_i64(in, "prefix", 3));
	CHECK_RC(hamr_plan_create(&p, g, outs, 1, in), HAMR_ETYPE);
	CHECK_CONTAINS(hamr_errmsg(), "\"prefix\" is i64, but it is declared str");
	CHECK_OK(hamr_values_set_str(in, "prefix", "run"));
	CHECK_OK(hamr_plan_create(&p, g, outs, 1, in));
	hamr_run *r = NULL;
	CHECK_OK(hamr_run_execute(&r, p, in, g_opts));
	hamr_values_destroy(in); /* the run holds its own references */
	const char *s = NULL;
	CHECK_OK(hamr_run_result_str(r, "label", &s));
	CHECK_EQ_STR(s, "run-22");
	hamr_run_destroy(r);
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
}

static void test_override_prunes_upstream(void)
{
	int calls = 0;
	hamr_node_def counted[] = {
		{.name = "src", .fn = f_count_calls, .userdata = &calls, .type = HAMR_I64},
		{.name = "mid", .fn = f_b, .type = HAMR_I64,
		 .deps = (const hamr_dep[]){HAMR_DEP("src", HAMR_I64), {0}}},
		{.name = "top", .fn = f_b, .type = HAMR_I64,
		 .deps = (const hamr_dep[]){HAMR_DEP("mid", HAMR_I64), {0}}},
		{0}};
	hamr_module m = {"counted", counted};
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	hamr_values *ov = NULL;
	CHECK_OK(hamr_values_create(&ov));
	CHECK_OK(hamr_values_set_i64(ov, "mid", 7));
	const char *outs[] = {"top"};
	hamr_plan *p = NULL;
	CHECK_OK(hamr_plan_create(&p, g, outs, 1, ov));
	CHECK_EQ_INT(hamr_plan_node_count(p), 1); /* only "top" */
	hamr_run *r = NULL;
	CHECK_OK(hamr_run_execute(&r, p, ov, g_opts));
	int64_t top = 0;
	CHECK_OK(hamr_run_result_i64(r, "top", &top));
	CHECK_EQ_INT(top, 70);
	CHECK_EQ_INT(calls, 0);
	hamr_run_destroy(r);
	hamr_plan_destroy(p);
	hamr_values_destroy(ov);
	hamr_graph_destroy(g);
}

static void test_failure_keeps_finished_outputs(void)
{
	hamr_graph *g = basic_graph();
	const char *outs[] = {"b", "broken", "c"};
	hamr_plan *p = NULL;
	CHECK_OK(hamr_plan_create(&p, g, outs, 3, NULL));
	hamr_run *r = NULL;
	CHECK_RC(hamr_run_execute(&r, p, NULL, g_opts), HAMR_EFAIL);
	CHECK_CONTAINS(hamr_errmsg(), "node \"broken\" failed: bad value 20");
	CHECK(r != NULL);
	const hamr_error_info *e = hamr_run_error(r);
	CHECK_EQ_INT(e->code, HAMR_EFAIL);
	CHECK_EQ_STR(e->node, "broken");
	CHECK_EQ_STR(e->message, "bad value 20");
	CHECK_EQ_INT(e->item, -1);
	CHECK_EQ_INT(e->attempt, 1);
	int64_t b = 0;
	CHECK_OK(hamr_run_result_i64(r, "b", &b));
	CHECK_EQ_INT(b, 20);
	/* waiting again gives the same answer */
	CHECK_RC(hamr_run_wait(r), HAMR_EFAIL);
	hamr_run_destroy(r);
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
}

static int f_wrong_type(hamr_call *c) { return hamr_ret_f64(c, 1.5); }
static int f_nothing(hamr_call *c) { return 0; }
static int f_raw_code(hamr_call *c) { return 7; }

static void test_node_contract_violations(void)
{
	hamr_node_def defs[] = {
		{.name = "wrong", .fn = f_wrong_type, .type = HAMR_I64},
		{.name = "nothing", .fn = f_nothing, .type = HAMR_I64},
		{.name = "effect", .fn = f_nothing, .type = HAMR_NONE},
		{.name = "raw", .fn = f_raw_code, .type = HAMR_I64},
		{0}};
	hamr_module m = {"contract", defs};
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	struct {
		const char *out;
		int rc;
		const char *msg;
	} cases[] = {
		{"wrong", HAMR_ETYPE, "returned f64, but the node is declared i64"},
		{"nothing", HAMR_ETYPE, "returned no value, but the node is declared i64"},
		{"effect", 0, ""},
		{"raw", HAMR_EFAIL, "returned 7"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		hamr_plan *p = NULL;
		hamr_run *r = NULL;
		CHECK_OK(hamr_plan_create(&p, g, &cases[i].out, 1, NULL));
		CHECK_RC(hamr_run_execute(&r, p, NULL, g_opts), cases[i].rc);
		CHECK_CONTAINS(hamr_run_error(r)->message, cases[i].msg);
		if (!cases[i].rc)
			CHECK(hamr_value_type(hamr_run_result(r, cases[i].out)) == HAMR_NONE);
		hamr_run_destroy(r);
		hamr_plan_destroy(p);
	}
	hamr_graph_destroy(g);
}


static void free_tracked(void *obj)
{
	tracked_frees++;
	free(obj);
}

static const hamr_type_desc tracked_type = {
	.name = "test.tracked", .size = sizeof(int64_t), .free = free_tracked};

static int f_make_tracked(hamr_call *c)
{
	int64_t *obj = malloc(sizeof *obj);
	*obj = (int64_t)(intptr_t)hamr_userdata(c);
	return hamr_ret_user(c, obj);
}

static int f_read_tracked(hamr_call *c)
{
	const int64_t *obj = hamr_arg_user(c, 0);
	return hamr_ret_i64(c, *obj);
}

static int f_frees_so_far(hamr_call *c)
{
	return hamr_ret_i64(c, tracked_frees * 1000 + hamr_arg_i64(c, 0));
}

/* "early" is read only by "reader"; once reader has run, the run drops it,
 * before "after" runs. "kept" is an output and must survive to the end. */
static void test_values_released_after_last_reader(void)
{
	hamr_node_def defs[] = {
		{.name = "early", .fn = f_make_tracked, .userdata = (void *)5, .type = &tracked_type},
		{.name = "kept", .fn = f_make_tracked, .userdata = (void *)6, .type = &tracked_type},
		{.name = "reader", .fn = f_read_tracked, .type = HAMR_I64,
		 .deps = (const hamr_dep[]){HAMR_DEP("early", &tracked_type), HAMR_DEPS_END}},
		{.name = "reader2", .fn = f_read_tracked, .type = HAMR_I64,
		 .deps = (const hamr_dep[]){HAMR_DEP("kept", &tracked_type), HAMR_DEPS_END}},
		{.name = "after", .fn = f_frees_so_far, .type = HAMR_I64,
		 .deps = (const hamr_dep[]){HAMR_DEP("reader", HAMR_I64),
		                            HAMR_DEP("reader2", HAMR_I64), HAMR_DEPS_END}},
		{0}};
	hamr_module m = {"release", defs};
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	const char *outs[] = {"after", "kept"};
	hamr_plan *p = NULL;
	CHECK_OK(hamr_plan_create(&p, g, outs, 2, NULL));
	hamr_run *r = NULL;
	tracked_frees = 0;
	CHECK_OK(hamr_run_execute(&r, p, NULL, g_opts));
	int64_t after = 0;
	CHECK_OK(hamr_run_result_i64(r, "after", &after));
	CHECK_EQ_INT(after, 1005); /* "early" freed before "after" ran */
	const hamr_value *kept = hamr_run_result(r, "kept");
	CHECK(kept && *(const int64_t *)hamr_value_user(kept) == 6);
	CHECK_EQ_INT(tracked_frees, 1);
	hamr_run_destroy(r);
	CHECK_EQ_INT(tracked_frees, 2); /* the output goes with the run */
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
}

/* Several runs of one plan at once, from several threads, agree. */
struct shared_plan_job {
	const hamr_plan *plan;
	int thread;
	int wrong;
};

static void *run_shared_plan(void *arg)
{
	struct shared_plan_job *job = arg;
	for (int i = 0; i < 200; i++) {
		hamr_values *in = NULL;
		hamr_run *r = NULL;
		double scale = job->thread * 1000 + i, got = 0;
		if (hamr_values_create(&in) || hamr_values_set_f64(in, "scale", scale) ||
		    hamr_run_execute(&r, job->plan, in, g_opts) ||
		    hamr_run_result_f64(r, "scaled", &got) || got != 22 * scale)
			job->wrong++;
		hamr_run_destroy(r);
		hamr_values_destroy(in);
	}
	return NULL;
}

static void test_plan_shared_by_threads(void)
{
	hamr_graph *g = basic_graph();
	hamr_values *in = NULL;
	CHECK_OK(hamr_values_create(&in));
	CHECK_OK(hamr_values_set_f64(in, "scale", 1.0));
	const char *outs[] = {"scaled"};
	hamr_plan *p = NULL;
	CHECK_OK(hamr_plan_create(&p, g, outs, 1, in));
	hamr_graph_destroy(g);
	pthread_t t[4];
	struct shared_plan_job jobs[4];
	for (int i = 0; i < 4; i++) {
		jobs[i] = (struct shared_plan_job){p, i, 0};
		CHECK(pthread_create(&t[i], NULL, run_shared_plan, &jobs[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ_INT(jobs[i].wrong, 0);
	}
	hamr_plan_destroy(p);
	hamr_values_destroy(in);
}
static int f_cancel_self(hamr_call *c)
{
	hamr_run_cancel(hamr_call_run(c));
	return hamr_ret_i64(c, 1);
}

static void test_cancel(void)
{
	int calls = 0;
	hamr_node_def defs[] = {
		{.name = "first", .fn = f_cancel_self, .type = HAMR_I64},
		{.name = "second", .fn = f_count_calls, .userdata = &calls, .type = HAMR_I64,
		 .deps = (const hamr_dep[]){HAMR_DEP("first", HAMR_I64), {0}}},
		{0}};
	hamr_module m = {"cancel", defs};
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	const char *outs[] = {"second", "first"};
	hamr_plan *p = NULL;
	CHECK_OK(hamr_plan_create(&p, g, outs, 2, NULL));
	hamr_run *r = NULL;
	CHECK_RC(hamr_run_execute(&r, p, NULL, g_opts), HAMR_ECANCELED);
	CHECK_EQ_INT(calls, 0);
	int64_t first = 0;
	CHECK_OK(hamr_run_result_i64(r, "first", &first));
	CHECK_EQ_INT(first, 1);
	hamr_run_destroy(r);
	if (g_opts && g_opts->executor != HAMR_EXEC_SEQUENTIAL)
		goto out; /* the threads executor starts at once: no window */
	/* cancelled before it starts: nothing runs */
	CHECK_OK(hamr_run_create(&r, p, NULL, &(hamr_run_opts){.executor = HAMR_EXEC_SEQUENTIAL}));
	CHECK_RC(hamr_run_wait(r), HAMR_ESTATE);
	CHECK_OK(hamr_run_start(r));
	CHECK_RC(hamr_run_start(r), HAMR_ESTATE);
	hamr_run_cancel(r);
	CHECK_RC(hamr_run_wait(r), HAMR_ECANCELED);
	CHECK(hamr_run_result(r, "first") == NULL);
	hamr_run_destroy(r);
out:
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
}

static void run_all(void)
{
	RUN_TEST(test_results_of_a_small_chain);
	RUN_TEST(test_default_and_given_input);
	RUN_TEST(test_missing_input_names_input_and_consumer);
	RUN_TEST(test_override_prunes_upstream);
	RUN_TEST(test_failure_keeps_finished_outputs);
	RUN_TEST(test_node_contract_violations);
	RUN_TEST(test_cancel);
	RUN_TEST(test_values_released_after_last_reader);
	RUN_TEST(test_plan_shared_by_threads);
}

int main(void)
{
	on_each_executor(run_all, 2);
	TEST_EXIT();
}
