// SPDX-License-Identifier: MIT
/* What a run's statistics say and draw: the live value bytes peak covers a
 * run's collected lists of a thousand items (each under the 64 KiB a
 * thread publishes at once); the printout names a block's batches apart
 * from its workers' pool tasks and keeps its node table aligned for a
 * 60-character node name; the timed DOT declares each node once, a default
 * read by two nodes once, draws the map block as a cluster labelled with
 * its parallelizable node, a legend, and one font for nodes and edges. */
#include <hamr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check.h"
#include "tests/nodes.h"

#define N 1000

/* 60 characters */
#define LONG_NAME "square_of_every_item_with_a_name_long_enough_to_pass_columns"

static int f_scaled(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	return hamr_ret_i64(c, x * x * hamr_arg_i64(c, 1));
}

static int f_sum_scaled(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	int64_t s = 0;
	for (size_t i = 0; i < l.len; i++)
		s += hamr_list_i64(l, i);
	return hamr_ret_i64(c, s * hamr_arg_i64(c, 1));
}

static const hamr_node_def defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = LONG_NAME, .fn = f_scaled, .type = HAMR_I64,
	 .deps = DEPS(HAMR_DEP("items", HAMR_I64),
	              HAMR_DEP_OPT("scale", HAMR_I64, HAMR_DEFAULT_I64(3)))},
	{.name = "total", .fn = f_sum_scaled, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED(LONG_NAME, HAMR_I64),
	              HAMR_DEP_OPT("scale", HAMR_I64, HAMR_DEFAULT_I64(3)))},
	{0}};

static hamr_plan *plan;
static hamr_values *in;

static void make_plan(void)
{
	hamr_module m = {"stats_output", defs};
	hamr_graph *g = NULL;
	const char *outs[] = {"total"};
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	CHECK_OK(hamr_values_create(&in));
	CHECK_OK(hamr_values_set_i64(in, "n", N));
	CHECK_OK(hamr_plan_create(&plan, g, outs, 1, in));
	hamr_graph_destroy(g);
}

static int64_t expected_total(void)
{
	int64_t s = 0;
	for (int64_t i = 0; i < N; i++)
		s += i * i * 3;
	return s * 3;
}

static hamr_run *run_with_stats(hamr_pool *pool, hamr_executor_kind exec)
{
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	o.executor = exec;
	o.pool = pool;
	o.stats = 1;
	hamr_run *r = NULL;
	CHECK_OK(hamr_run_execute(&r, plan, in, &o));
	const hamr_value *v = hamr_run_result(r, "total");
	CHECK(v != NULL);
	if (v)
		CHECK_EQ_INT(hamr_value_i64(v), expected_total());
	return r;
}

/* What f holds, NUL-terminated, in a malloc'd buffer; closes f. */
static char *read_back(FILE *f)
{
	long n = ftell(f);
	CHECK(n >= 0);
	char *buf = malloc(n > 0 ? (size_t)n + 1 : 1);
	CHECK(buf != NULL);
	rewind(f);
	size_t got = n > 0 ? fread(buf, 1, (size_t)n, f) : 0;
	CHECK_EQ_INT(got, n > 0 ? n : 0);
	buf[got] = '\0';
	fclose(f);
	return buf;
}

static char *printed(hamr_run *r)
{
	FILE *f = tmpfile();
	CHECK(f != NULL);
	CHECK_OK(hamr_run_stats_print(r, f));
	return read_back(f);
}

static char *dot_of(hamr_run *r)
{
	FILE *f = tmpfile();
	CHECK(f != NULL);
	CHECK_OK(hamr_run_write_dot(r, f));
	return read_back(f);
}

static int occurrences(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void test_live_bytes_peak_covers_a_collected_list(hamr_pool *pool)
{
	for (int e = 0; e < 2; e++) {
		check_current = e ? "live peak, threads" : "live peak, sequential";
		hamr_run *r = run_with_stats(pool, e ? HAMR_EXEC_THREADS : HAMR_EXEC_SEQUENTIAL);
		hamr_run_stats st;
		CHECK_OK(hamr_run_stats_get(r, &st));
		/* the collected list: N values of at least 8 bytes each */
		CHECK(st.live_bytes_peak >= (size_t)N * 8);
		char *out = printed(r);
		CHECK(strstr(out, "live value bytes peak 0\n") == NULL);
		free(out);
		hamr_run_destroy(r);
	}
}

static void test_print_says_batches_and_pool_tasks(hamr_pool *pool)
{
	check_current = "batches and pool tasks";
	hamr_run *r = run_with_stats(pool, HAMR_EXEC_THREADS);
	char *out = printed(r);
	CHECK_CONTAINS(out, "block of \"items\": 1000 items in ");
	CHECK_CONTAINS(out, " batches, mean batch ");
	CHECK(strstr(out, " tasks, mean task ") == NULL);
	CHECK_CONTAINS(out, "worker 0: ");
	CHECK_CONTAINS(out, ", pool tasks ");
	free(out);
	hamr_run_destroy(r);
}

/* Every row of the node table (the header line and one line per node) is
 * as long as the header, and its count column ends where the header's
 * "count" does. */
static void test_node_table_aligned_for_long_names(hamr_pool *pool)
{
	check_current = "node table alignment";
	hamr_run *r = run_with_stats(pool, HAMR_EXEC_THREADS);
	char *out = printed(r);
	CHECK_EQ_INT(strlen(LONG_NAME), 60);
	char *header = strstr(out, "\n  node ");
	CHECK(header != NULL);
	if (header) {
		header++;
		size_t width = strcspn(header, "\n");
		size_t count_end = (size_t)(strstr(header, "count") - header) + strlen("count");
		int rows = 0;
		for (char *line = header + width + 1; *line;) {
			size_t len = strcspn(line, "\n");
			if (!strncmp(line, "  block of", 10) || !strncmp(line, "  worker", 8) ||
			    !strncmp(line, "  other threads", 15) || !strncmp(line, "  warning", 9))
				break;
			rows++;
			CHECK_EQ_INT(len, width);
			/* the count is right-aligned under "count" */
			CHECK(line[count_end - 1] != ' ' && line[count_end] == ' ');
			line += len + (line[len] == '\n');
		}
		CHECK_EQ_INT(rows, 3);
		char *row = strstr(out, "  " LONG_NAME " ");
		CHECK(row != NULL);
		if (row)
			CHECK_EQ_INT(strcspn(row, "\n"), width);
	}
	free(out);
	hamr_run_destroy(r);
}

static void test_dot_names_each_node_once_with_a_block_cluster(hamr_pool *pool)
{
	check_current = "timed DOT";
	hamr_run *r = run_with_stats(pool, HAMR_EXEC_THREADS);
	char *dot = dot_of(r);
	CHECK_EQ_INT(occurrences(dot, "\"n\" [shape="), 1);
	CHECK_EQ_INT(occurrences(dot, "\"items\" [shape="), 1);
	CHECK_EQ_INT(occurrences(dot, "\"" LONG_NAME "\" [shape="), 1);
	CHECK_EQ_INT(occurrences(dot, "\"total\" [shape="), 1);
	/* one default, read by two nodes: one node, two edges */
	CHECK_EQ_INT(occurrences(dot, "scale = 3 (default)"), 1);
	CHECK_EQ_INT(occurrences(dot, "[shape=note, label=\"scale"), 1);
	CHECK_EQ_INT(occurrences(dot, " [style=dashed];"), 2);
	/* the block's node inside a cluster labelled with "items"; the
	 * parallelizable and collect nodes outside it */
	const char *cl = strstr(dot, "subgraph \"cluster_items\" {");
	CHECK(cl != NULL);
	if (cl) {
		const char *end = strstr(cl, "\n  }\n");
		const char *in_block = strstr(cl, "\"" LONG_NAME "\" [shape=");
		CHECK(end != NULL && in_block != NULL && in_block < end);
		CHECK_CONTAINS(cl, "label=\"block of \\\"items\\\"\"");
		const char *items = strstr(dot, "\"items\" [shape=");
		const char *total = strstr(dot, "\"total\" [shape=");
		CHECK(items && items < cl);
		CHECK(total && total < cl);
	}
	/* a legend, and the nodes' font on edges too */
	CHECK_CONTAINS(dot, "subgraph \"cluster legend\" {");
	CHECK_CONTAINS(dot, "node [fontname=\"Helvetica\"];");
	CHECK_CONTAINS(dot, "edge [fontname=\"Helvetica\"];");
	CHECK_CONTAINS(dot, "[style=bold, label=\"collect\"]");
	free(dot);
	hamr_run_destroy(r);
}

int main(void)
{
	hamr_pool *pool = NULL;
	hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
	po.workers = 2;
	CHECK_OK(hamr_pool_create(&pool, &po));
	make_plan();
	/* first: no earlier run has left this process's live count behind */
	test_live_bytes_peak_covers_a_collected_list(pool);
	test_print_says_batches_and_pool_tasks(pool);
	test_node_table_aligned_for_long_names(pool);
	test_dot_names_each_node_once_with_a_block_cluster(pool);
	hamr_plan_destroy(plan);
	hamr_values_destroy(in);
	hamr_pool_destroy(pool);
	TEST_EXIT();
}
