// SPDX-License-Identifier: MIT
/* Random graphs against a straightforward reference, on every executor.
 *
 * Each graph has random nodes, each depending on a few earlier ones (some
 * optionally, on names that may not exist), some external inputs, random
 * outputs and random overrides. The reference computes, by plain recursion
 * over the definitions, which nodes the outputs need and every value; the
 * plan must keep exactly those nodes in a topological order, and every
 * run must produce exactly those values: sequential, threads, and three
 * threads runs of one plan at once. */
#include <hamr.h>
#include <inttypes.h>

#include "tests/check.h"

#define MAX_NODES 400
#define MAX_DEPS 5

typedef struct rgraph {
	int n;                    /* nodes 0..n-1; the first n_inputs are inputs */
	int n_inputs;
	int n_deps[MAX_NODES];
	int dep[MAX_NODES][MAX_DEPS];       /* -1: optional, missing name */
	int optional[MAX_NODES][MAX_DEPS];
	char name[MAX_NODES][16];
	/* per run */
	int given[MAX_NODES];     /* input given, or node overridden */
	int64_t given_val[MAX_NODES];
	int needed[MAX_NODES];
	int64_t val[MAX_NODES];
	int have[MAX_NODES];
} rgraph;

static uint64_t rng_state;
static int n_missing_cases, n_run_cases, n_run_nodes;
static hamr_pool *test_pool;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int64_t mix(int64_t acc, int64_t x)
{
	return (int64_t)(((uint64_t)acc * 1000003u) ^ (uint64_t)x);
}

/* node k's function: mixes its index with its arguments in order; an
 * absent optional argument counts as its default, 7 */
static int f_node(hamr_call *c)
{
	int64_t acc = (int64_t)(intptr_t)hamr_userdata(c);
	for (size_t i = 0; i < hamr_arg_count(c); i++)
		acc = mix(acc, hamr_arg_i64(c, i));
	return hamr_ret_i64(c, acc);
}

static int64_t ref_value(rgraph *g, int v)
{
	if (g->have[v])
		return g->val[v];
	int64_t acc;
	if (g->given[v]) {
		acc = g->given_val[v];
	} else {
		acc = v;
		for (int k = 0; k < g->n_deps[v]; k++) {
			int d = g->dep[v][k];
			int absent = d < 0 || (d < g->n_inputs && !g->given[d] &&
			                       g->optional[v][k]);
			acc = mix(acc, absent ? 7 : ref_value(g, d));
		}
	}
	g->have[v] = 1;
	g->val[v] = acc;
	return acc;
}

static void ref_needed(rgraph *g, int v)
{
	if (g->needed[v])
		return;
	g->needed[v] = 1;
	if (g->given[v] || v < g->n_inputs)
		return;
	for (int k = 0; k < g->n_deps[v]; k++) {
		int d = g->dep[v][k];
		if (d < 0 || (d < g->n_inputs && !g->given[d] && g->optional[v][k]))
			continue;
		ref_needed(g, d);
	}
}

/* The graph of rg, its nodes added in dependency order, or, `reversed`,
 * readers before what they read (the plan then orders them itself) */
static hamr_graph *make_graph(rgraph *rg, int reversed)
{
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	for (int j = 0; j < rg->n; j++) {
		int v = reversed ? rg->n - 1 - j : j;
		hamr_dep deps[MAX_DEPS + 1];
		char missing[MAX_DEPS][24];
		for (int k = 0; k < rg->n_deps[v]; k++) {
			hamr_dep d = HAMR_DEP_OPT(NULL, HAMR_I64, HAMR_DEFAULT_I64(7));
			if (rg->dep[v][k] < 0) {
				snprintf(missing[k], sizeof missing[k], "nothing_%d", k);
				d.name = missing[k];
			} else {
				d.name = rg->name[rg->dep[v][k]];
			}
			if (!rg->optional[v][k]) {
				d.flags = 0;
				d.dflt.type = NULL;
			}
			deps[k] = d;
		}
		deps[rg->n_deps[v]] = (hamr_dep)HAMR_DEPS_END;
		hamr_node_def def = {.name = rg->name[v], .type = HAMR_I64, .deps = deps};
		if (v < rg->n_inputs) {
			def.kind = HAMR_NODE_INPUT;
			def.deps = NULL;
		} else {
			def.fn = f_node;
			def.userdata = (void *)(intptr_t)v;
		}
		CHECK_OK(hamr_graph_add_node(g, "random", &def));
	}
	CHECK_OK(hamr_graph_build(g));
	return g;
}

static void random_graph(rgraph *g, int n)
{
	memset(g, 0, sizeof *g);
	g->n = n;
	g->n_inputs = 1 + (int)(rnd() % 4);
	for (int v = 0; v < n; v++) {
		snprintf(g->name[v], sizeof g->name[v], "%s%d", v < g->n_inputs ? "in" : "n", v);
		if (v < g->n_inputs)
			continue;
		g->n_deps[v] = (int)(rnd() % (MAX_DEPS + 1));
		for (int k = 0; k < g->n_deps[v]; k++) {
			/* mostly recent nodes, so chains get long */
			int span = v < 20 ? v : 20;
			g->dep[v][k] = rnd() % 4 ? v - 1 - (int)(rnd() % span) : (int)(rnd() % v);
			g->optional[v][k] = rnd() % 5 == 0;
			if (g->optional[v][k] && rnd() % 3 == 0)
				g->dep[v][k] = -1;
		}
	}
}

static void one_case(int n, int seed)
{
	static rgraph rg; /* large: keep it off the stack */
	random_graph(&rg, n);
#ifdef HAMR_TEST_SWITCH_AT
	/* unit_threads_switch: the threads runs turn lazy at a node chosen
	 * per case, whatever the workers do */
	hamr__threads_switch_at = (uint32_t)(rnd() % (uint64_t)(n + 1));
#endif
	int reversed = seed % 3 == 0;
	hamr_graph *g = make_graph(&rg, reversed);
	hamr_values *given = NULL;
	CHECK_OK(hamr_values_create(&given));

	/* inputs: each given with probability 3/4; a few overrides */
	for (int v = 0; v < rg.n; v++) {
		int give = v < rg.n_inputs ? rnd() % 4 != 0 : rnd() % 25 == 0;
		if (!give)
			continue;
		rg.given[v] = 1;
		rg.given_val[v] = (int64_t)(rnd() % 1000);
		CHECK_OK(hamr_values_set_i64(given, rg.name[v], rg.given_val[v]));
	}
	/* outputs */
	const char *outs[8];
	int out_v[8];
	int n_out = 1 + (int)(rnd() % 8);
	for (int i = 0; i < n_out; i++) {
		out_v[i] = rg.n_inputs + (int)(rnd() % (uint64_t)(rg.n - rg.n_inputs));
		outs[i] = rg.name[out_v[i]];
		ref_needed(&rg, out_v[i]);
	}
	/* does the plan need an input nobody gave? */
	int missing = 0, n_computed = 0;
	for (int v = 0; v < rg.n; v++) {
		if (rg.needed[v] && v < rg.n_inputs && !rg.given[v])
			missing = 1;
		if (rg.needed[v] && !rg.given[v] && v >= rg.n_inputs)
			n_computed++;
	}
	hamr_plan *p = NULL;
	int rc = hamr_plan_create(&p, g, outs, (size_t)n_out, given);
	if (missing) {
		n_missing_cases++;
		CHECK_RC(rc, HAMR_EINPUT);
		goto done;
	}
	CHECK_OK(rc);
	if (rc)
		goto done;
	CHECK_EQ_INT(hamr_plan_node_count(p), n_computed);
	/* plan order is topological and holds exactly the needed nodes; for
	 * a graph built in dependency order, it is the graph's order */
	int pos[MAX_NODES], prev = -1;
	for (int v = 0; v < rg.n; v++)
		pos[v] = -1;
	for (size_t i = 0; i < hamr_plan_node_count(p); i++) {
		const char *nm = hamr_plan_node_name(p, i);
		int v = atoi(nm + 1);
		CHECK(nm[0] == 'n' && rg.needed[v] && !rg.given[v]);
		CHECK(reversed || v > prev);
		prev = v;
		pos[v] = (int)i;
	}
	for (int v = rg.n_inputs; v < rg.n; v++) {
		if (pos[v] < 0)
			continue;
		for (int k = 0; k < rg.n_deps[v]; k++) {
			int d = rg.dep[v][k];
			if (d >= rg.n_inputs && !rg.given[d])
				CHECK(pos[d] >= 0 && pos[d] < pos[v]);
		}
	}
	n_run_cases++;
	n_run_nodes += n_computed;
	/* the sequential executor, then the threads executor with one run,
	 * then three runs of the plan at once */
	hamr_run_opts opts[2] = {HAMR_RUN_OPTS_INIT, HAMR_RUN_OPTS_INIT};
	opts[0].executor = HAMR_EXEC_SEQUENTIAL;
	opts[1].executor = HAMR_EXEC_THREADS;
	opts[1].pool = test_pool;
	for (int e = 0; e < 3; e++) {
		hamr_run *r[3] = {NULL, NULL, NULL};
		int n_runs = e == 2 ? 3 : 1;
		const hamr_run_opts *o = &opts[e ? 1 : 0];
		for (int k = 0; k < n_runs; k++) {
			CHECK_OK(hamr_run_create(&r[k], p, given, o));
			CHECK_OK(hamr_run_start(r[k]));
		}
		for (int k = 0; k < n_runs; k++) {
			CHECK_OK(hamr_run_wait(r[k]));
			for (int i = 0; i < n_out; i++) {
				int64_t got = 0;
				CHECK_OK(hamr_run_result_i64(r[k], outs[i], &got));
				if (got != ref_value(&rg, out_v[i])) {
					fprintf(stderr, "seed %d, %s: output %s differs\n", seed,
					        hamr_executor_name(o->executor), outs[i]);
					check_failures++;
				}
			}
			hamr_run_destroy(r[k]);
		}
	}
	hamr_plan_destroy(p);
done:
	hamr_values_destroy(given);
	hamr_graph_destroy(g);
}

static void test_random_graphs_match_reference(void)
{
	int cases = getenv("HAMR_TEST_LONG") ? 20000 : 2000;
	for (int seed = 1; seed <= cases; seed++) {
		rng_state = 0x9E3779B97F4A7C15ull * (uint64_t)seed;
		int n = 5 + (int)(rnd() % (MAX_NODES - 5));
		one_case(n, seed);
	}
	printf("%d graphs ran (%d nodes), %d were refused for a missing input\n",
	       n_run_cases, n_run_nodes, n_missing_cases);
	/* both paths are exercised */
	CHECK(n_run_cases > cases / 4);
	CHECK(n_missing_cases > 0);
}

int main(void)
{
	RUN_TEST_ON_3_AND_1_WORKERS(&test_pool, test_random_graphs_match_reference);
	TEST_EXIT();
}
