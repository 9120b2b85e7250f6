/* SPDX-License-Identifier: MIT */
/* Random graphs with map blocks, for the tests that compare an executor
 * with the sequential one on them (test_random_blocks, the MPI tests).
 *
 * Each graph grows node by node inside a tree of scopes: a node joins a
 * random scope and reads random values visible there (nodes of its scope
 * or of enclosing ones, the item of each enclosing block), a
 * parallelizable node opens a block (nested up to two deep), and a collect
 * in a scope gathers a node of one of that scope's blocks. Values mix
 * their inputs in order, so item order shows in every collect; some
 * collects are tolerant, some fold (a sum, which any order gives alike).
 * Some nodes fail on some values. A node's userdata is a small number. */
#ifndef HAMR_TESTS_RANDOM_BLOCKS_H
#define HAMR_TESTS_RANDOM_BLOCKS_H

#include <hamr.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check.h"

#define MAX_NODES 60

static uint64_t rng;

static inline uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* one(seed) for seeds 1 to cases (HAMR_TEST_LONG: long_cases), each
 * with the generator seeded from it, so that a failure names its seed. */
static inline void random_seeds(int cases, int long_cases, void (*one)(int seed))
{
	if (getenv("HAMR_TEST_LONG"))
		cases = long_cases;
	for (int seed = 1; seed <= cases; seed++) {
		rng = 0x9E3779B97F4A7C15ull * (uint64_t)seed;
		one(seed);
	}
}

static inline int64_t mix(int64_t acc, int64_t x)
{
	return (int64_t)(((uint64_t)acc * 1000003u) ^ (uint64_t)x);
}

/* A plain node: its arguments mixed with its item's index in its block
 * (-1 outside blocks), which every executor must give as the sequential
 * one does. */
static inline int f_rand_plain(hamr_call *c)
{
	int64_t acc = mix((int64_t)(intptr_t)hamr_userdata(c), hamr_item_index(c));
	for (size_t i = 0; i < hamr_arg_count(c); i++)
		acc = mix(acc, hamr_arg_i64(c, i));
	if (acc % 211 == 7)
		return hamr_fail(c, "unlucky value");
	return hamr_ret_i64(c, acc);
}

/* 0 to 5 items, emitted one at a time, as an array, or as a range. */
static inline int f_rand_items(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0), xs[6];
	int64_t n = (int64_t)(((uint64_t)x >> 7) % 6);
	int rc = 0;
	switch (((uint64_t)x >> 11) % 3) {
	case 0:
		for (int64_t k = 0; k < n && !rc; k++)
			rc = hamr_emit_i64(c, mix(x, k));
		break;
	case 1:
		for (int64_t k = 0; k < n; k++)
			xs[k] = mix(x, k);
		rc = hamr_emit_i64s(c, xs, (size_t)n);
		break;
	default: {
		int64_t lo = (int64_t)((uint64_t)x % 1000);
		rc = hamr_emit_range(c, lo, lo + n);
	}
	}
	return rc ? HAMR_EFAIL : 0;
}

static inline int f_rand_collect(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	int64_t acc = (int64_t)(intptr_t)hamr_userdata(c) + (int64_t)l.len;
	for (size_t i = 0; i < l.len; i++)
		acc = mix(mix(acc, hamr_list_i64(l, i)), hamr_arg_item_index(c, 0, i));
	for (size_t i = 1; i < hamr_arg_count(c); i++)
		acc = mix(acc, hamr_arg_i64(c, i));
	return hamr_ret_i64(c, acc);
}

static inline int fold_add(hamr_value *acc, const hamr_value *x, void *ud)
{
	(void)ud;
	*acc = hamr_value_from_i64((int64_t)((uint64_t)hamr_value_i64(acc) +
	                                     (uint64_t)hamr_value_i64(x)));
	return 0;
}

static const hamr_fold fold_merging = {HAMR_DEFAULT_I64(0), fold_add, fold_add};
static const hamr_fold fold_locked = {HAMR_DEFAULT_I64(5), fold_add, NULL};

static inline int f_rand_fold(hamr_call *c)
{
	int64_t acc = (int64_t)(intptr_t)hamr_userdata(c);
	for (size_t i = 0; i < hamr_arg_count(c); i++)
		acc = mix(acc, hamr_arg_i64(c, i));
	return hamr_ret_i64(c, acc);
}

typedef struct gen {
	int n;
	int scope[MAX_NODES], block[MAX_NODES]; /* block: scope it opens, 0 */
	int n_scopes, parent[MAX_NODES], depth[MAX_NODES];
	char name[MAX_NODES][12]; /* "v" and any int */
} gen;

static inline int within(const gen *g, int outer, int inner)
{
	while (g->depth[inner] > g->depth[outer])
		inner = g->parent[inner];
	return inner == outer;
}

/* A random value visible in scope s, or -1 for the input "n". */
static inline int visible(const gen *g, int s)
{
	int cand[MAX_NODES], nc = 0;
	for (int v = 0; v < g->n; v++) {
		int vs = g->block[v] ? g->block[v] : g->scope[v];
		if (within(g, vs, s))
			cand[nc++] = v;
	}
	return nc && rnd() % 5 ? cand[rnd() % (uint64_t)nc] : -1;
}

static inline void build(gen *g, hamr_graph *hg)
{
	memset(g, 0, sizeof *g);
	g->n_scopes = 1;
	CHECK_OK(hamr_graph_add_input(hg, "n", HAMR_I64));
	int target = 10 + (int)(rnd() % (MAX_NODES - 10));
	for (int v = 0; v < target; v++) {
		int s = (int)(rnd() % (uint64_t)g->n_scopes);
		snprintf(g->name[v], sizeof g->name[v], "v%d", v);
		hamr_dep deps[5];
		int nd = 0;
		hamr_node_def d = {.name = g->name[v], .type = HAMR_I64,
		                   .userdata = (void *)(intptr_t)v, .deps = deps};
		g->scope[v] = s;
		/* a collect, if scope s has a block with something in it */
		int blocks[MAX_NODES], nb = 0;
		for (int u = 0; u < v; u++)
			if (g->block[u] && g->scope[u] == s)
				blocks[nb++] = u;
		uint64_t what = rnd() % 10;
		int collect_scope = 0;
		if (what < 3 && nb) {
			int owner = blocks[rnd() % (uint64_t)nb];
			int inner[MAX_NODES], ni = 0;
			inner[ni++] = owner; /* the items themselves */
			for (int u = 0; u < v; u++)
				if (g->scope[u] == g->block[owner])
					inner[ni++] = u;
			int t = inner[rnd() % (uint64_t)ni];
			deps[nd++] = (hamr_dep)HAMR_DEP_COLLECTED(g->name[t], HAMR_I64);
			if (rnd() % 2)
				deps[nd - 1].flags |= HAMR_DEP_TOLERANT;
			d.kind = HAMR_NODE_COLLECT;
			switch (rnd() % 4) {
			case 0:
				d.fold = &fold_merging;
				d.fn = f_rand_fold;
				break;
			case 1:
				d.fold = &fold_locked; /* no function: the sum */
				break;
			default:
				d.fn = f_rand_collect;
			}
			/* a collect sits around the block of what it collects */
			int ts = g->block[t] ? g->block[t] : g->scope[t];
			collect_scope = g->parent[ts];
		} else if (what < 5 && g->depth[s] < 2) {
			d.kind = HAMR_NODE_PARALLELIZABLE;
			d.fn = f_rand_items;
		} else {
			d.fn = f_rand_plain;
		}
		int want = d.kind == HAMR_NODE_PARALLELIZABLE ? 1 :
		           d.fold && !d.fn ? 1 : 1 + (int)(rnd() % 3);
		/* the scope a node really runs in is the deepest among its
		 * inputs' (as the build computes it): a collect sits around
		 * its block, and the rest is what the inputs say */
		int actual = d.kind == HAMR_NODE_COLLECT ? collect_scope : 0;
		while (nd < want) {
			int u = visible(g, s);
			deps[nd++] = (hamr_dep)HAMR_DEP(u < 0 ? "n" : g->name[u], HAMR_I64);
			int us = u < 0 ? 0 : g->block[u] ? g->block[u] : g->scope[u];
			if (g->depth[us] > g->depth[actual])
				actual = us;
		}
		deps[nd] = (hamr_dep)HAMR_DEPS_END;
		g->scope[v] = actual;
		if (d.kind == HAMR_NODE_PARALLELIZABLE) {
			int b = g->n_scopes++;
			g->parent[b] = actual;
			g->depth[b] = g->depth[actual] + 1;
			g->block[v] = b;
		}
		CHECK_OK(hamr_graph_add_node(hg, "random", &d));
		g->n = v + 1;
	}
	int rc = hamr_graph_build(hg);
	if (rc)
		fprintf(stderr, "generated graph rejected: %s\n", hamr_errmsg());
	CHECK_OK(rc);
}

/* Whether two runs recorded the same failures: the same (node, item)
 * pairs, in any order. */
static inline int same_errors(const hamr_run *a, const hamr_run *b)
{
	size_t n = hamr_run_error_count(a);
	if (n != hamr_run_error_count(b))
		return 0;
	/* the same (node, item) pairs, in any order */
	for (size_t i = 0; i < n; i++) {
		const hamr_error_info *x = hamr_run_error_at(a, i);
		size_t hits_a = 0, hits_b = 0;
		for (size_t k = 0; k < n; k++) {
			const hamr_error_info *y = hamr_run_error_at(a, k), *z = hamr_run_error_at(b, k);
			hits_a += y->item == x->item && !strcmp(y->node, x->node);
			hits_b += z->item == x->item && !strcmp(z->node, x->node);
		}
		if (hits_a != hits_b)
			return 0;
	}
	return 1;
}

/* A random graph's plan, as the tests that run it make it: the graph in
 * *hg, its outputs (every node of scope 0, blocks' nodes one deep as
 * lists) in outs, a random input "n" in *in, the plan in *p. The plan's
 * code: the generator, which knows less than the planner, can make a
 * block read its own collect, refused (HAMR_EBLOCK). */
typedef struct random_plan {
	gen g;
	hamr_graph *hg;
	const char *outs[MAX_NODES];
	int n_out;
	hamr_values *in;
	hamr_plan *p;
} random_plan;

static inline int random_plan_make(random_plan *rp)
{
	rp->hg = NULL;
	rp->in = NULL;
	rp->p = NULL;
	rp->n_out = 0;
	CHECK_OK(hamr_graph_create(&rp->hg));
	build(&rp->g, rp->hg);
	const gen *g = &rp->g;
	for (int v = 0; v < g->n; v++)
		if (g->depth[g->block[v] ? g->block[v] : g->scope[v]] <= 1)
			rp->outs[rp->n_out++] = g->name[v];
	CHECK_OK(hamr_values_create(&rp->in));
	CHECK_OK(hamr_values_set_i64(rp->in, "n", (int64_t)(rnd() % 100000)));
	return hamr_plan_create(&rp->p, rp->hg, rp->outs, (size_t)rp->n_out, rp->in);
}

static inline void random_plan_free(random_plan *rp)
{
	hamr_plan_destroy(rp->p);
	hamr_values_destroy(rp->in);
	hamr_graph_destroy(rp->hg);
}

/* What compare_runs found, over many graphs. */
typedef struct agreement {
	int same;        /* both succeeded, every output equal (fail_fast) */
	int both_failed; /* both failed under fail_fast */
	int kept;        /* both kept going past the same failures */
} agreement;

/* Checks that run rt (of the executor named `what`) agrees with the
 * sequential run rs on every output in outs, and under keep_going on
 * every failure; counts the outcome in *a. */
static inline void compare_runs(const char *what, agreement *a, int seed, int keep,
                                const hamr_run *rs, const hamr_run *rt, int rc_s, int rc_t,
                                const char **outs, int n_out)
{
	const char *policy = keep ? "keep_going" : "fail_fast";
	if ((rc_s == 0) != (rc_t == 0)) {
		fprintf(stderr, "seed %d (%s): sequential %s, %s %s\n", seed, policy,
		        hamr_err_name(rc_s), what, hamr_err_name(rc_t));
		check_failures++;
		return;
	}
	if (rc_s && !keep) {
		a->both_failed++;
		return;
	}
	if (rc_s) {
		a->kept++;
		if (!same_errors(rs, rt)) {
			fprintf(stderr, "seed %d: %s under keep_going recorded other failures\n", seed,
			        what);
			check_failures++;
		}
	} else if (!keep) {
		a->same++;
	}
	for (int i = 0; i < n_out; i++) {
		const hamr_value *x = hamr_run_result(rs, outs[i]);
		const hamr_value *y = hamr_run_result(rt, outs[i]);
		if ((rc_s == 0 && (!x || !y)) || !x != !y || (x && !hamr_value_equal(x, y))) {
			fprintf(stderr, "seed %d (%s): %s's output %s differs\n", seed, policy, what,
			        outs[i]);
			check_failures++;
		}
	}
}

#endif
