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

#include "mapreduce.h"

namespace {

constexpr int kRounds = 175;
constexpr int64_t kItems = 1000000;

using mr::now_ns;

[[noreturn]] void die(const char *what, int rc)
{
	mr::die("bench_dynamic", what, rc);
}

uint64_t work_f(uint64_t x)
{
	return mr::mix(x, kRounds);
}

int f_work(hamr_call *c)
{
	return hamr_ret_i64(c, (int64_t)work_f((uint64_t)hamr_arg_i64(c, 0)));
}

struct Mapreduce {
	hamr_plan *plan = nullptr;
	hamr_values *in = nullptr;
	hamr_pool *pool = nullptr;
	hamr_run_opts opts = HAMR_RUN_OPTS_INIT;

	Mapreduce(hamr_fn work, bool fold, int64_t n, int workers, int grouping)
	{
		int rc = mr::plan(work, fold, n, &plan, &in);
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
	Mapreduce m(mr::f_noop, state.range(2) != 0, n, (int)state.range(1), 0);
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
