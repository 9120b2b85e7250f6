// SPDX-License-Identifier: MIT
// Dynamic execution (map blocks) through the graph API: Hamilton's
// mapreduce shape, items(n) a parallelizable node that emits 0 .. n-1,
// work(x) a node of its block, total a collect.
//
//   BM_mapreduce_serial           the plain loop: sum of work(i), i < 1e6,
//                                 work about 240 ns (175 rounds of a
//                                 dependent multiply-xorshift)
//   BM_mapreduce/W/G/F            the graph on a pool of W workers, grouping
//                                 G (0 auto, 1 block, 2 node), total a list
//                                 collect (F = 0) or a fold (F = 1)
//   BM_mapreduce_noop/N/W/F       work(x) = x, N items: what an item costs
//
// Counter: ns_per_item, the wall time of one run (create, start, wait,
// destroy on a plan made once) over the items. Every benchmark checks its
// result against the plain loop first and stops with a message on a
// mismatch. Timing is manual (CLOCK_MONOTONIC around the run).
#include <benchmark/benchmark.h>

#include <hamr.h>

#include <cstdio>
#include <cstdlib>
#include <time.h>

namespace {

constexpr int kRounds = 175;
constexpr int64_t kItems = 1000000;

int64_t now_ns()
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

[[noreturn]] void die(const char *what, int rc)
{
	std::fprintf(stderr, "bench_dynamic: %s: %s (%s)\n", what, hamr_strerror(rc),
	             hamr_errmsg());
	std::exit(1);
}

__attribute__((noinline)) uint64_t work_f(uint64_t x)
{
	for (int r = 0; r < kRounds; r++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		x ^= x >> 29;
	}
	return x;
}

int f_items(hamr_call *c)
{
	int64_t n = hamr_arg_i64(c, 0);
	for (int64_t i = 0; i < n; i++)
		if (hamr_emit_i64(c, i))
			return HAMR_ECANCELED;
	return 0;
}

int f_work(hamr_call *c)
{
	return hamr_ret_i64(c, (int64_t)work_f((uint64_t)hamr_arg_i64(c, 0)));
}

int f_noop(hamr_call *c)
{
	return hamr_ret_arg(c, 0);
}

int f_total(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	uint64_t s = 0;
	for (size_t i = 0; i < l.len; i++)
		s += (uint64_t)hamr_list_i64(l, i);
	return hamr_ret_i64(c, (int64_t)s);
}

int add_step(hamr_value *acc, const hamr_value *x, void *)
{
	*acc = hamr_value_from_i64((int64_t)((uint64_t)hamr_value_i64(acc) +
	                                     (uint64_t)hamr_value_i64(x)));
	return 0;
}

const hamr_fold kSum = {HAMR_DEFAULT_I64(0), add_step, add_step};

struct Mapreduce {
	hamr_plan *plan = nullptr;
	hamr_values *in = nullptr;
	hamr_pool *pool = nullptr;
	hamr_run_opts opts = HAMR_RUN_OPTS_INIT;

	Mapreduce(hamr_fn work, bool fold, int64_t n, int workers, int grouping)
	{
		const hamr_dep d_n[] = {HAMR_DEP("n", HAMR_I64), HAMR_DEPS_END};
		const hamr_dep d_x[] = {HAMR_DEP("items", HAMR_I64), HAMR_DEPS_END};
		const hamr_dep d_w[] = {HAMR_DEP_COLLECTED("work", HAMR_I64), HAMR_DEPS_END};
		hamr_node_def defs[5] = {};
		defs[0].name = "n";
		defs[0].type = HAMR_I64;
		defs[0].kind = HAMR_NODE_INPUT;
		defs[1].name = "items";
		defs[1].fn = f_items;
		defs[1].type = HAMR_I64;
		defs[1].kind = HAMR_NODE_PARALLELIZABLE;
		defs[1].deps = d_n;
		defs[2].name = "work";
		defs[2].fn = work;
		defs[2].type = HAMR_I64;
		defs[2].deps = d_x;
		defs[3].name = "total";
		defs[3].fn = fold ? nullptr : f_total;
		defs[3].type = HAMR_I64;
		defs[3].kind = HAMR_NODE_COLLECT;
		defs[3].deps = d_w;
		defs[3].fold = fold ? &kSum : nullptr;
		hamr_module mod = {"mapreduce", defs};
		hamr_graph *g = nullptr;
		const char *outs[] = {"total"};
		int rc = hamr_graph_create(&g);
		if (!rc)
			rc = hamr_graph_add_module(g, &mod);
		if (!rc)
			rc = hamr_values_create(&in);
		if (!rc)
			rc = hamr_values_set_i64(in, "n", n);
		if (!rc)
			rc = hamr_plan_create(&plan, g, outs, 1, in);
		hamr_graph_destroy(g);
		hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
		po.workers = workers;
		if (!rc)
			rc = hamr_pool_create(&pool, &po);
		if (rc)
			die("mapreduce setup", rc);
		opts.executor = HAMR_EXEC_THREADS;
		opts.pool = pool;
		opts.grouping = (hamr_grouping)(HAMR_GROUPING_AUTO + grouping);
	}

	~Mapreduce()
	{
		hamr_plan_destroy(plan);
		hamr_values_destroy(in);
		hamr_pool_destroy(pool);
	}

	uint64_t run(int64_t *ns)
	{
		hamr_run *r = nullptr;
		int64_t v = 0, t0 = now_ns();
		int rc = hamr_run_execute(&r, plan, in, &opts);
		if (!rc)
			rc = hamr_run_result_i64(r, "total", &v);
		hamr_run_destroy(r);
		*ns = now_ns() - t0;
		if (rc)
			die("mapreduce run", rc);
		return (uint64_t)v;
	}
};

uint64_t serial_sum(int64_t n, bool noop)
{
	uint64_t s = 0;
	for (int64_t i = 0; i < n; i++)
		s += noop ? (uint64_t)i : work_f((uint64_t)i);
	return s;
}

void BM_mapreduce_serial(benchmark::State &state)
{
	for (auto _ : state) {
		int64_t t0 = now_ns();
		uint64_t s = serial_sum(kItems, false);
		benchmark::DoNotOptimize(s);
		double ns = (double)(now_ns() - t0);
		state.SetIterationTime(ns * 1e-9);
		state.counters["ns_per_item"] = ns / (double)kItems;
	}
}

void measure(benchmark::State &state, Mapreduce &m, int64_t n, uint64_t want)
{
	int64_t ns = 0;
	if (m.run(&ns) != want) {
		std::fprintf(stderr, "bench_dynamic: wrong total\n");
		std::exit(1);
	}
	for (auto _ : state) {
		m.run(&ns);
		state.SetIterationTime((double)ns * 1e-9);
		state.counters["ns_per_item"] = (double)ns / (double)n;
	}
}

void BM_mapreduce(benchmark::State &state)
{
	static uint64_t want = serial_sum(kItems, false);
	Mapreduce m(f_work, state.range(2) != 0, kItems, (int)state.range(0), (int)state.range(1));
	measure(state, m, kItems, want);
}

void BM_mapreduce_noop(benchmark::State &state)
{
	int64_t n = state.range(0);
	Mapreduce m(f_noop, state.range(2) != 0, n, (int)state.range(1), 0);
	measure(state, m, n, serial_sum(n, true));
}

} // namespace

BENCHMARK(BM_mapreduce_serial)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_mapreduce)
	->ArgsProduct({{1, 2}, {0, 1, 2}, {0, 1}})
	->UseManualTime()
	->Unit(benchmark::kMillisecond);
BENCHMARK(BM_mapreduce_noop)
	->ArgsProduct({{1000, 10000, 100000, 1000000, 10000000}, {1, 2}, {0, 1}})
	->UseManualTime()
	->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
