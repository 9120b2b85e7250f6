// SPDX-License-Identifier: MIT
/* A plain plan's records of where, in its order, more than the next node
 * is ready (hamr_plan.wide) and at least HAMR__BROAD are (.broad), which
 * tell the threads executor running in order where turning lazy could
 * give another worker something: none in a line, the fork of a diamond,
 * every root but the last, five roots (broad at the first two places), a
 * line defined readers first (planned in the walk's order) and reading a
 * given value, and, for random graphs, exactly the positions where a
 * count of ready nodes made by hand from the plan's dependents (mark_wide
 * reads the arguments) says so; no records for plans with a blocking
 * node or a map block. */
#include <hamr.h>
#include <stdio.h>
#include <stdlib.h>

#include "graph/graph_internal.h"
#include "tests/check.h"
#include "tests/nodes.h"

#define MAX_K 200

/* The plan of nodes n0 .. n(k-1), node i reading the nodes of deps[i]
 * (lower indices, -1 ended), planned for the last one and every node no
 * other reads. */
static hamr_plan *plan_of(int k, const int deps[][4])
{
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	static char names[MAX_K][16];
	int read[MAX_K] = {0};
	for (int i = 0; i < k; i++) {
		snprintf(names[i], sizeof names[i], "n%d", i);
		hamr_dep d[5];
		int nd = 0;
		for (int j = 0; j < 4 && deps[i][j] >= 0; j++) {
			d[nd++] = (hamr_dep)HAMR_DEP(names[deps[i][j]], HAMR_I64);
			read[deps[i][j]] = 1;
		}
		d[nd] = (hamr_dep)HAMR_DEPS_END;
		hamr_node_def def = {.name = names[i], .fn = f_one_plus_sum, .type = HAMR_I64, .deps = d};
		CHECK_OK(hamr_graph_add_node(g, "m", &def));
	}
	hamr_plan *p = NULL;
	CHECK_OK(plan_for_unread(&p, g, (const char(*)[16])names, read, k, NULL));
	if (!p) { /* no plan to look at: report and stop */
		fprintf(stderr, "%d check(s) failed\n", check_failures);
		exit(1);
	}
	return p;
}

/* The nodes ready at position t of p, counted by hand: the nodes from t
 * on whose computed inputs all come before t. */
static uint32_t ready_by_hand(const hamr_plan *p, uint32_t t)
{
	uint32_t ready = 0;
	for (uint32_t v = t; v < p->n_nodes; v++) {
		int ok = 1;
		for (uint32_t u = 0; u < p->n_nodes && ok; u++)
			for (uint32_t k = 0; k < p->nodes[u].n_dependents; k++)
				if (p->dependents[p->nodes[u].dep_start + k] == v && u >= t)
					ok = 0;
		ready += (uint32_t)ok;
	}
	return ready;
}

/* The first position from t on whose bit is set in a record, by a scan. */
static uint32_t next_by_scan(const uint64_t *bits, uint32_t n, uint32_t t)
{
	for (uint32_t u = t; u < n; u++)
		if (bits[u / 64] >> (u % 64) & 1)
			return u;
	return UINT32_MAX;
}

/* p's records against the count by hand (wide: more than one ready;
 * broad: HAMR__BROAD or more), and hamr__plan_next_wide and _broad
 * against scans of them; the wide positions as a bit string. */
static uint64_t check_plan(const hamr_plan *p)
{
	CHECK(p->wide != NULL && p->broad != NULL);
	uint64_t bits = 0;
	for (uint32_t t = 0; p->wide && p->broad && t < p->n_nodes; t++) {
		uint32_t ready = ready_by_hand(p, t);
		int w = (int)(p->wide[t / 64] >> (t % 64) & 1);
		CHECK_EQ_INT(w, ready > 1);
		CHECK_EQ_INT((int)(p->broad[t / 64] >> (t % 64) & 1), ready >= HAMR__BROAD);
		if (w && t < 64)
			bits |= (uint64_t)1 << t;
		CHECK_EQ_INT(hamr__plan_next_wide(p, t), next_by_scan(p->wide, p->n_nodes, t));
		CHECK_EQ_INT(hamr__plan_next_broad(p, t), next_by_scan(p->broad, p->n_nodes, t));
	}
	CHECK_EQ_INT(hamr__plan_next_wide(p, p->n_nodes), UINT32_MAX);
	CHECK_EQ_INT(hamr__plan_next_broad(p, p->n_nodes), UINT32_MAX);
	return bits;
}

static void test_a_line_a_diamond_and_roots(void)
{
	static const int line[5][4] = {{-1}, {0, -1}, {1, -1}, {2, -1}, {3, -1}};
	hamr_plan *p = plan_of(5, line);
	CHECK_EQ_INT(check_plan(p), 0); /* never more than the next */
	hamr_plan_destroy(p);
	static const int diamond[4][4] = {{-1}, {0, -1}, {0, -1}, {1, 2, -1}};
	p = plan_of(4, diamond);
	CHECK_EQ_INT(hamr_plan_node_count(p), 4);
	CHECK_EQ_INT(check_plan(p), 2); /* both arms, once the fork ran */
	hamr_plan_destroy(p);
	static const int roots[4][4] = {{-1}, {-1}, {-1}, {0, 1, 2, -1}};
	p = plan_of(4, roots);
	CHECK_EQ_INT(check_plan(p), 3); /* roots left at 0 and 1; at 2 one */
	CHECK_EQ_INT(hamr__plan_next_broad(p, 0), UINT32_MAX); /* 3 at most */
	hamr_plan_destroy(p);
	static const int five[6][4] = {{-1}, {-1}, {-1}, {-1}, {-1}, {0, 1, 2, 3}};
	p = plan_of(6, five); /* n5 reads 4 of the 5 roots; n4 is an output */
	check_plan(p);
	CHECK_EQ_INT(hamr__plan_next_broad(p, 0), 0);
	CHECK_EQ_INT(hamr__plan_next_broad(p, 2), UINT32_MAX);
	hamr_plan_destroy(p);
	/* a line of 150, then a fork: the first wide position is in the
	 * third word of the record */
	static int long_line[153][4];
	long_line[0][0] = -1;
	for (int i = 1; i < 151; i++) {
		long_line[i][0] = i - 1;
		long_line[i][1] = -1;
	}
	long_line[151][0] = 149;
	long_line[151][1] = -1;
	long_line[152][0] = 150;
	long_line[152][1] = 151;
	long_line[152][2] = -1;
	p = plan_of(153, (const int(*)[4])long_line);
	CHECK_EQ_INT(check_plan(p), 0);
	CHECK_EQ_INT(hamr__plan_next_wide(p, 0), 150);
	hamr_plan_destroy(p);
}

static int f_three_items(hamr_call *c)
{
	return hamr_emit_range(c, 0, 3);
}

/* The plan of defs for output `out` has no records, and every place
 * counts as wide and broad. */
static void check_no_record(const hamr_node_def *defs, const char *out)
{
	hamr_module m = {"m", defs};
	hamr_graph *g = NULL;
	hamr_plan *p = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	CHECK_OK(hamr_plan_create(&p, g, &out, 1, NULL));
	CHECK(p && p->wide == NULL && p->broad == NULL);
	if (p) {
		CHECK_EQ_INT(hamr__plan_next_wide(p, 0), 0);
		CHECK_EQ_INT(hamr__plan_next_broad(p, 0), 0);
	}
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
}

/* A line defined readers first (the plan takes the walk's order), its
 * first node reading a given value, which is no computed input: a root.
 * Then plans that have no record: one with a blocking node, one with a
 * map block. */
static void test_walk_order_given_values_and_no_record(void)
{
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_input(g, "x", HAMR_I64));
	for (int i = 5; i >= 0; i--) {
		char name[8], dep[8];
		snprintf(name, sizeof name, "r%d", i);
		snprintf(dep, sizeof dep, i ? "r%d" : "x", i - 1);
		hamr_dep d[2] = {HAMR_DEP(dep, HAMR_I64), HAMR_DEPS_END};
		hamr_node_def def = {.name = name, .fn = f_one_plus_sum, .type = HAMR_I64, .deps = d};
		CHECK_OK(hamr_graph_add_node(g, "m", &def));
	}
	hamr_values *in = NULL;
	CHECK_OK(hamr_values_create(&in));
	CHECK_OK(hamr_values_set_i64(in, "x", 1));
	const char *out = "r5";
	hamr_plan *p = NULL;
	CHECK_OK(hamr_plan_create(&p, g, &out, 1, in));
	if (p) {
		CHECK_EQ_INT(hamr_plan_node_count(p), 6);
		CHECK_EQ_INT(check_plan(p), 0);
		CHECK_EQ_INT(hamr__plan_next_wide(p, 0), UINT32_MAX);
	}
	hamr_plan_destroy(p);
	hamr_values_destroy(in);
	hamr_graph_destroy(g);
	/* a blocking node: no record */
	const hamr_node_def io[] = {
		{.name = "io", .fn = f_one_plus_sum, .type = HAMR_I64,
		 .tags = (const hamr_tag[]){{"blocking", "true"}, {NULL, NULL}}},
		{0}};
	check_no_record(io, "io");
	/* a map block: no record */
	const hamr_dep d_x[] = {HAMR_DEP("items", HAMR_I64), HAMR_DEPS_END};
	const hamr_dep d_l[] = {HAMR_DEP_COLLECTED("one", HAMR_I64), HAMR_DEPS_END};
	const hamr_node_def blocks[] = {
		{.name = "items", .fn = f_three_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE},
		{.name = "one", .fn = f_one_plus_sum, .type = HAMR_I64, .deps = d_x},
		{.name = "all", .fn = f_one_plus_sum, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT, .deps = d_l},
		{0}};
	check_no_record(blocks, "all");
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Random graphs of up to 60 nodes and up to 3 inputs each, and one of
 * 200 nodes (a record of four words). */
static void test_random_graphs(void)
{
	for (int c = 0; c < 300; c++) {
		int k = c == 0 ? MAX_K : 2 + (int)(rnd() % 59);
		static int deps[MAX_K][4];
		for (int i = 0; i < k; i++) {
			int nd = i ? (int)(rnd() % 4) : 0, m = 0;
			for (int j = 0; j < nd; j++) {
				int d = (int)(rnd() % (uint64_t)i);
				int dup = 0;
				for (int q = 0; q < m; q++)
					dup |= deps[i][q] == d;
				if (!dup)
					deps[i][m++] = d;
			}
			if (m < 4)
				deps[i][m] = -1;
		}
		hamr_plan *p = plan_of(k, (const int(*)[4])deps);
		check_plan(p);
		hamr_plan_destroy(p);
	}
}

int main(void)
{
	RUN_TEST(test_a_line_a_diamond_and_roots);
	RUN_TEST(test_walk_order_given_values_and_no_record);
	RUN_TEST(test_random_graphs);
	TEST_EXIT();
}
