// SPDX-License-Identifier: MIT
/* A plan's dependents and pending counts against a count by hand from its
 * own arguments, on 900 random graphs: each node reads 0 to 20 earlier
 * nodes (so some have more arguments than HAMR__PAIRWISE_ARGS, checked
 * through marks rather than pair by pair) and, a quarter of the time, an
 * input. A third of the graphs read each node once per reader; a third
 * may read one node through several dependencies anywhere; a third only
 * in nodes of more than HAMR__PAIRWISE_ARGS arguments. For every computed
 * node: n_pending (and pending_init) is the count of distinct computed
 * nodes it reads, it is a root exactly when that is 0, its dependents are
 * the distinct nodes that read it, in plan order, and consumers counts
 * the arguments that read it. */
#include <hamr.h>
#include <stdio.h>
#include <stdlib.h>

#include "graph/graph_internal.h"
#include "tests/check.h"
#include "tests/nodes.h"

#define MAX_K 160
#define MAX_DEPS 20

static uint64_t rng = 0x2545f4914f6cdd1du;

static uint32_t next_rand(uint32_t below)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % below);
}

/* How a random graph's nodes may read one node twice. */
enum { ONCE, TWICE_ANYWHERE, TWICE_IN_BIG };

/* A random graph of k nodes planned for every node no other reads. Where
 * `mode` lets a node read one node twice, its dependencies are drawn
 * from a few nodes back, so that it often does. */
static hamr_plan *random_plan(int k, int mode)
{
	static char names[MAX_K][16];
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	if (!g)
		return NULL;
	CHECK_OK(hamr_graph_add_input(g, "x", HAMR_I64));
	int read[MAX_K] = {0};
	for (int i = 0; i < k; i++) {
		snprintf(names[i], sizeof names[i], "n%d", i);
		hamr_dep d[MAX_DEPS + 2];
		int nd = 0;
		if (next_rand(4) == 0)
			d[nd++] = (hamr_dep)HAMR_DEP("x", HAMR_I64);
		int want = i ? (int)next_rand(next_rand(4) ? 4 : MAX_DEPS + 1) : 0, first = nd;
		int twice = mode == TWICE_ANYWHERE ||
		            (mode == TWICE_IN_BIG && want > (int)HAMR__PAIRWISE_ARGS);
		for (int j = 0; j < want; j++) {
			int span = twice && i > 3 ? 3 : i;
			int t = i - 1 - (int)next_rand((uint32_t)span);
			int again = 0;
			for (int m = first; m < nd && !twice; m++)
				again |= d[m].name == names[t];
			if (again)
				continue;
			d[nd++] = (hamr_dep)HAMR_DEP(names[t], HAMR_I64);
			read[t] = 1;
		}
		d[nd] = (hamr_dep)HAMR_DEPS_END;
		hamr_node_def def = {.name = names[i], .fn = f_one_plus_sum, .type = HAMR_I64, .deps = d};
		CHECK_OK(hamr_graph_add_node(g, "m", &def));
	}
	hamr_values *in = NULL;
	CHECK_OK(hamr_values_create(&in));
	CHECK_OK(hamr_values_set_i64(in, "x", 1));
	hamr_plan *p = NULL;
	CHECK_OK(plan_for_unread(&p, g, (const char(*)[16])names, read, k, in));
	hamr_values_destroy(in);
	return p;
}

/* Does plan node i read computed node t through any argument? */
static int reads(const hamr_plan *p, uint32_t i, uint32_t t)
{
	const hamr__pnode *pn = &p->nodes[i];
	for (uint32_t a = 0; a < pn->n_args; a++)
		if (p->args[pn->arg_start + a] == (int32_t)t)
			return 1;
	return 0;
}

/* p's pending counts, dependents and consumers against counts by hand.
 * Returns whether some node reads a node twice. */
static int check_dependents(const hamr_plan *p)
{
	int twice = 0;
	uint32_t roots = 0;
	for (uint32_t i = 0; i < p->n_nodes; i++) {
		uint32_t distinct = 0;
		for (uint32_t t = 0; t < p->n_nodes; t++)
			distinct += (uint32_t)reads(p, i, t);
		CHECK_EQ_INT(p->nodes[i].n_pending, distinct);
		CHECK_EQ_INT(p->pending_init[i], distinct);
		if (!distinct) { /* a root, listed in order */
			CHECK(roots < p->n_roots && p->roots[roots] == i);
			roots++;
		}
		uint32_t computed = 0;
		for (uint32_t a = 0; a < p->nodes[i].n_args; a++) {
			int32_t t = p->args[p->nodes[i].arg_start + a];
			computed += t >= 0 && (uint32_t)t < p->n_nodes;
		}
		twice |= computed != distinct;
	}
	CHECK_EQ_INT(p->n_roots, roots);
	uint32_t start = 0;
	for (uint32_t t = 0; t < p->n_nodes; t++) {
		const hamr__pnode *pt = &p->nodes[t];
		CHECK_EQ_INT(pt->dep_start, start);
		uint32_t k = 0, args = 0;
		for (uint32_t i = 0; i < p->n_nodes; i++) {
			const hamr__pnode *pn = &p->nodes[i];
			for (uint32_t a = 0; a < pn->n_args; a++)
				args += p->args[pn->arg_start + a] == (int32_t)t;
			if (!reads(p, i, t))
				continue;
			if (k < pt->n_dependents)
				CHECK_EQ_INT(p->dependents[pt->dep_start + k], i);
			k++;
		}
		CHECK_EQ_INT(pt->n_dependents, k);
		CHECK_EQ_INT(p->consumers[t], args);
		start += pt->n_dependents;
	}
	return twice;
}

static void test_dependents_match_a_count_by_hand(void)
{
	int with_twice = 0, big_twice = 0, big = 0;
	for (int n = 0; n < 900; n++) {
		int k = 1 + (int)next_rand(MAX_K), mode = n % 3;
		hamr_plan *p = random_plan(k, mode);
		CHECK(p != NULL);
		if (!p)
			return;
		int twice = check_dependents(p);
		with_twice += twice;
		big_twice += twice && mode == TWICE_IN_BIG;
		for (uint32_t i = 0; i < p->n_nodes; i++)
			if (p->nodes[i].n_args > HAMR__PAIRWISE_ARGS) {
				big++;
				break;
			}
		hamr_plan_destroy(p);
	}
	/* every kind was made: graphs reading a node twice, some of them
	 * only in nodes checked through marks, and many with such nodes */
	CHECK(with_twice > 300);
	CHECK(big_twice > 100);
	CHECK(big > 300);
}

int main(void)
{
	RUN_TEST(test_dependents_match_a_count_by_hand);
	TEST_EXIT();
}
