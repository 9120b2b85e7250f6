/* SPDX-License-Identifier: MIT */
/* A user's first hamr program, built against an installed hamr by
 * tests/install.cmake: the version, the error table, a value, and a
 * two-node graph from a static module table, planned and run. It prints
 * what it found and exits non-zero, naming the call, at the first surprise;
 * the install test checks its output. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <hamr.h>

static int failed(const char *what, int rc)
{
	fprintf(stderr, "consumer: %s: %s (%s): %s\n", what, hamr_err_name(rc),
	        hamr_strerror(rc), hamr_errmsg());
	return 1;
}

/* base = 40 */
static int base_fn(hamr_call *c)
{
	return hamr_ret_i64(c, 40);
}

/* answer = base + 2 */
static int answer_fn(hamr_call *c)
{
	return hamr_ret_i64(c, hamr_arg_i64(c, 0) + 2);
}

static const hamr_dep answer_deps[] = {
	{.name = "base", .type = HAMR_I64},
	{.name = NULL},
};

static const hamr_node_def consumer_nodes[] = {
	{.name = "base", .fn = base_fn, .type = HAMR_I64,
	 .doc = "the number to start from"},
	{.name = "answer", .fn = answer_fn, .type = HAMR_I64,
	 .deps = answer_deps, .doc = "base plus two"},
	{.name = NULL},
};

static const hamr_module consumer_module = {"consumer", consumer_nodes};

static int check_version(void)
{
	printf("hamr %s\n", hamr_version());
	if (strcmp(hamr_version(), HAMR_VERSION_STRING) != 0) {
		fprintf(stderr, "consumer: library %s, headers %s\n",
		        hamr_version(), HAMR_VERSION_STRING);
		return 1;
	}
	return 0;
}

static int check_errors(void)
{
	printf("%s: %s\n", hamr_err_name(HAMR_EDEP), hamr_strerror(HAMR_EDEP));
	if (strcmp(hamr_err_name(HAMR_EDEP), "HAMR_EDEP") != 0 ||
	    strcmp(hamr_strerror(HAMR_EDEP), "unknown dependency") != 0) {
		fprintf(stderr, "consumer: wrong name or message for HAMR_EDEP\n");
		return 1;
	}
	return 0;
}

static int check_value(void)
{
	static const char text[] = "hello from a consumer";
	hamr_value v = HAMR_VALUE_EMPTY;
	const char *s;
	size_t len = 0;
	int rc = hamr_value_make_str(&v, text);

	if (rc != 0)
		return failed("hamr_value_make_str", rc);
	s = hamr_value_str(&v, &len);
	printf("value: %s\n", s ? s : "(null)");
	rc = !s || len != strlen(text) || strcmp(s, text) != 0 ||
	     hamr_value_type(&v) != HAMR_STR;
	hamr_value_clear(&v);
	if (rc || hamr_value_type(&v) != NULL) {
		fprintf(stderr, "consumer: the string value did not read back\n");
		return 1;
	}
	return 0;
}

static int check_run(void)
{
	static const char *const outputs[] = {"answer"};
	hamr_graph *g = NULL;
	hamr_plan *p = NULL;
	hamr_run *r = NULL;
	int64_t answer = 0;
	int rc, bad = 1;

	if ((rc = hamr_graph_create(&g)) != 0) {
		failed("hamr_graph_create", rc);
		goto out;
	}
	if ((rc = hamr_graph_add_module(g, &consumer_module)) != 0) {
		failed("hamr_graph_add_module", rc);
		goto out;
	}
	if ((rc = hamr_plan_create(&p, g, outputs, 1, NULL)) != 0) {
		failed("hamr_plan_create", rc);
		goto out;
	}
	if ((rc = hamr_run_execute(&r, p, NULL, NULL)) != 0) {
		failed("hamr_run_execute", rc);
		goto out;
	}
	if ((rc = hamr_run_result_i64(r, "answer", &answer)) != 0) {
		failed("hamr_run_result_i64", rc);
		goto out;
	}
	printf("answer = %" PRId64 "\n", answer);
	if (answer != 42) {
		fprintf(stderr, "consumer: answer is %" PRId64 ", not 42\n",
		        answer);
		goto out;
	}
	bad = 0;
out:
	hamr_run_destroy(r);
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
	return bad;
}

int main(void)
{
	if (check_version() || check_errors() || check_value() || check_run())
		return 1;
	printf("consumer ok\n");
	return 0;
}
