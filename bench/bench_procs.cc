// SPDX-License-Identifier: MIT
// Worker processes (the process executor) against the pool's threads.
//
//   BM_proc_noop/M/W      a map block of 1e5 items whose node passes its
//                         item on, folded: M = 1 in W worker processes, M =
//                         0 on W threads. Counter ns_per_task: the round
//                         trip of a task, amortised
//   BM_proc_cpu/M/W       64 items of about 10 ms of work each, the same
//                         two ways: W = 2 against W = 1 is the speedup
//   BM_proc_result/M/N    one node that allocates an N-byte result through
//                         hamr_ret_alloc and writes a byte per page, in a
//                         worker process (M = 1: the result lives in the
//                         shared arena and the program reads it in place)
//                         or on the pool (M = 0); the program then reads a
//                         byte per page of it
//
// Every benchmark checks its result first and stops with a message on a
// mismatch. Timing is manual (CLOCK_MONOTONIC around each run). The fork
// server starts in main, before Google Benchmark or any pool starts a
// thread.
#include <benchmark/benchmark.h>

#include <hamr.h>

#include <cstdio>
#include <cstdlib>

#include "mapreduce.h"

namespace {

constexpr int kCpuRounds = 7300000; // about 10 ms
constexpr int64_t kNoopItems = 100000;
constexpr int64_t kCpuItems = 64;

using mr::now_ns;

[[noreturn]] void die(const char *what, int rc)
{
	mr::die("bench_procs", what, rc);
}

int f_cpu(hamr_call *c)
{
	return hamr_ret_i64(c, (int64_t)mr::mix((uint64_t)hamr_arg_i64(c, 0), kCpuRounds));
}

int f_big(hamr_call *c)
{
	size_t n = (size_t)hamr_arg_i64(c, 0);
	auto *b = static_cast<unsigned char *>(hamr_ret_alloc(c, n));
	if (!b)
		return HAMR_ENOMEM;
	for (size_t k = 0; k < n; k += 4096)
		b[k] = (unsigned char)(k >> 12);
	return 0;
}

// The plan of one node "big" of n bytes, and the given value of "n".
int big_plan(int64_t n, hamr_plan **out, hamr_values **in)
{
	const hamr_dep d_n[] = {HAMR_DEP("n", HAMR_I64), HAMR_DEPS_END};
	hamr_node_def defs[3] = {};
	defs[0].name = "n";
	defs[0].type = HAMR_I64;
	defs[0].kind = HAMR_NODE_INPUT;
	defs[1].name = "big";
	defs[1].fn = f_big;
	defs[1].type = HAMR_BYTES;
	defs[1].deps = d_n;
	return mr::plan_of(defs, "big", n, out, in);
}

struct Setup {
	hamr_plan *plan = nullptr;
	hamr_values *in = nullptr;
	hamr_pool *pool = nullptr;
	hamr_procpool *procs = nullptr;
	hamr_run_opts opts = HAMR_RUN_OPTS_INIT;
	const char *out;

	// map: a block of n items through `work`, folded into "total";
	// else one node "big" of n bytes
	Setup(bool map, hamr_fn work, int64_t n, bool in_procs, int workers)
		: out(map ? "total" : "big")
	{
		int rc = map ? mr::plan(work, true, n, &plan, &in) : big_plan(n, &plan, &in);
		hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
		po.workers = workers;
		if (!rc)
			rc = hamr_pool_create(&pool, &po);
		hamr_procpool_opts ppo = HAMR_PROCPOOL_OPTS_INIT;
		ppo.processes = workers;
		if (!rc)
			rc = hamr_procpool_create(&procs, &ppo);
		if (rc)
			die("setup", rc);
		opts.executor = map || !in_procs ? HAMR_EXEC_THREADS : HAMR_EXEC_PROCESSES;
		opts.remote = in_procs ? HAMR_REMOTE_PROCESSES : HAMR_REMOTE_THREADS;
		opts.pool = pool;
		opts.procpool = procs;
	}

	~Setup()
	{
		hamr_plan_destroy(plan);
		hamr_values_destroy(in);
		hamr_pool_destroy(pool);
		hamr_procpool_destroy(procs);
	}

	// one run; its result: "total", or the sum of a byte per page of "big"
	uint64_t run(int64_t *ns)
	{
		hamr_run *r = nullptr;
		int64_t t0 = now_ns();
		int rc = hamr_run_execute(&r, plan, in, &opts);
		uint64_t v = 0;
		if (!rc && out[0] == 't') {
			int64_t x = 0;
			rc = hamr_run_result_i64(r, out, &x);
			v = (uint64_t)x;
		} else if (!rc) {
			size_t len = 0;
			auto *b = static_cast<const unsigned char *>(
				hamr_value_bytes(hamr_run_result(r, out), &len));
			for (size_t k = 0; b && k < len; k += 4096)
				v += b[k];
		}
		hamr_run_destroy(r);
		*ns = now_ns() - t0;
		if (rc)
			die("run", rc);
		return v;
	}
};

void measure(benchmark::State &state, Setup &s, uint64_t want, int64_t units, const char *counter)
{
	int64_t ns = 0;
	if (s.run(&ns) != want) {
		std::fprintf(stderr, "bench_procs: wrong result\n");
		std::exit(1);
	}
	for (auto _ : state) {
		s.run(&ns);
		state.SetIterationTime((double)ns * 1e-9);
		state.counters[counter] = (double)ns / (double)units;
	}
}

void BM_proc_noop(benchmark::State &state)
{
	Setup s(true, mr::f_noop, kNoopItems, state.range(0) != 0, (int)state.range(1));
	measure(state, s, (uint64_t)(kNoopItems * (kNoopItems - 1) / 2), kNoopItems, "ns_per_task");
}

void BM_proc_cpu(benchmark::State &state)
{
	static uint64_t want = [] {
		uint64_t w = 0;
		for (int64_t i = 0; i < kCpuItems; i++)
			w += mr::mix((uint64_t)i, kCpuRounds);
		return w;
	}();
	Setup s(true, f_cpu, kCpuItems, state.range(0) != 0, (int)state.range(1));
	measure(state, s, want, kCpuItems, "ns_per_task");
}

void BM_proc_result(benchmark::State &state)
{
	int64_t n = state.range(1);
	uint64_t want = 0;
	for (int64_t k = 0; k < n; k += 4096)
		want += (unsigned char)(k >> 12);
	Setup s(false, nullptr, n, state.range(0) != 0, 2);
	measure(state, s, want, 1, "ns_per_task");
}

} // namespace

BENCHMARK(BM_proc_noop)->ArgsProduct({{1, 0}, {1, 2}})->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_proc_cpu)->ArgsProduct({{1, 0}, {1, 2}})->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_proc_result)
	->ArgsProduct({{1, 0}, {1 << 20, 64 << 20}})
	->UseManualTime()
	->Unit(benchmark::kMillisecond);

int main(int argc, char **argv)
{
	// first, while the program has one thread: the fork server
	int rc = hamr_processes_init();
	if (rc)
		die("hamr_processes_init", rc);
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
