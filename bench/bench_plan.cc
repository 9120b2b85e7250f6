// SPDX-License-Identifier: MIT
// What it costs, per node, to go from node definitions to a runnable plan,
// for graphs of 1e2 to 2.6e5 nodes (1e2, 1e3, 1e4, 1e5 and 262144, the
// cells of a 512 x 512 grid) of three shapes (bench/graphs.h): wide, chain
// and random DAG (about 3 dependencies per node). A flat ns_per_node from
// 1e3 up is the aim: the biggest graphs' tables outgrow the caches.
//
// Each iteration makes a fresh graph, since a build and a plan happen once
// per graph, and times three phases apart with CLOCK_MONOTONIC:
//
//   construct  hamr_graph_create + hamr_graph_add_input + N x add_node
//   build      hamr_graph_build (config, duplicate names, name resolution,
//              types, cycle check)
//   plan       hamr_plan_create for the sink (walk, slots, dependents)
//
// Destroying the plan and the graph is timed too but left out of the total.
// Google Benchmark's time column is the total (manual time: the sum of the
// three phases, so the untimed teardown and bookkeeping between them are
// not in it); the counters are per computed node (the input "x" is not
// counted), in nanoseconds:
//
//   ns_per_node   construct + build + plan
//   construct_ns, build_ns, plan_ns, destroy_ns   each phase alone
//   cpu_util      not per node: the thread's CPU time over the wall time of
//                 the whole loop (graphs.h); below ~0.97, other processes
//                 took the CPU during the measurement
//
// Why manual time and not PauseTiming(): each PauseTiming/ResumeTiming
// pair adds about 200 ns to the measured time (it reads the thread's CPU
// clock, a system call; measured on the 2-core VM of RESULTS.md), 7% of a
// 100-node plan compilation, and timing three phases apart would need three
// pairs; a vDSO clock read is about 20 ns. Why plain counters and not Counter::kIsIterationInvariantRate
// | kInvert: in Google Benchmark 1.7.1 that gives seconds per node (printed
// "1.2ns" but 1.2e-09 in JSON), and scaling it to ns makes the console print
// the number with an "s" after it. The counters here are computed from the
// same manual time that the time column shows, divided by iterations x N.
#include <benchmark/benchmark.h>

#include "graphs.h"

namespace {

void BM_plan(benchmark::State &state, hb::Shape shape)
{
	const size_t n = (size_t)state.range(0);
	const hb::Spec &s = hb::spec(shape, n);
	hamr_values *given = hb::given_x();
	std::vector<hamr_dep> scratch;
	const char *sink = s.sink();
	int64_t t_con = 0, t_build = 0, t_plan = 0, t_destroy = 0;
	hb::LoopClock loop;

	loop.start();
	for (auto _ : state) {
		hamr_graph *g = nullptr;
		hamr_plan *p = nullptr;
		int64_t t0 = hb::now_ns();
		int rc = hamr_graph_create(&g);
		if (!rc)
			rc = hb::add_spec(g, s, scratch);
		int64_t t1 = hb::now_ns();
		if (!rc)
			rc = hamr_graph_build(g);
		int64_t t2 = hb::now_ns();
		if (!rc)
			rc = hamr_plan_create(&p, g, &sink, 1, given);
		int64_t t3 = hb::now_ns();
		hamr_plan_destroy(p);
		hamr_graph_destroy(g);
		int64_t t4 = hb::now_ns();
		if (rc) {
			state.SkipWithError(hamr_errmsg());
			break;
		}
		t_con += t1 - t0;
		t_build += t2 - t1;
		t_plan += t3 - t2;
		t_destroy += t4 - t3;
		state.SetIterationTime((double)(t3 - t0) * 1e-9);
	}
	loop.stop();
	hamr_values_destroy(given);

	const double per = 1.0 / ((double)state.iterations() * (double)n);
	state.counters["ns_per_node"] = (double)(t_con + t_build + t_plan) * per;
	state.counters["construct_ns"] = (double)t_con * per;
	state.counters["build_ns"] = (double)t_build * per;
	state.counters["plan_ns"] = (double)t_plan * per;
	state.counters["destroy_ns"] = (double)t_destroy * per;
	state.counters["cpu_util"] = loop.util();
}

// The sizes measured, and checked by main() before measuring.
constexpr size_t kSizes[] = {100, 1000, 10000, 100000, 262144};

void plan_sizes(benchmark::internal::Benchmark *b)
{
	for (size_t n : kSizes)
		b->Arg((int64_t)n);
}

#define PLAN_SIZES                                                           \
	Apply(plan_sizes)->UseManualTime()->Unit(benchmark::kMicrosecond)

BENCHMARK_CAPTURE(BM_plan, wide, hb::Shape::wide)->PLAN_SIZES;
BENCHMARK_CAPTURE(BM_plan, chain, hb::Shape::chain)->PLAN_SIZES;
BENCHMARK_CAPTURE(BM_plan, random, hb::Shape::random)->PLAN_SIZES;

} // namespace

int main(int argc, char **argv)
{
	// Check every graph measured here before measuring it: the plan keeps
	// all N nodes and computes the sink's reference value.
	hamr_values *given = hb::given_x();
	for (hb::Shape shape : {hb::Shape::wide, hb::Shape::chain, hb::Shape::random})
		for (size_t n : kSizes) {
			const hb::Spec &s = hb::spec(shape, n);
			hamr_plan *p = hb::make_plan(s, given);
			hb::check_plan(s, p, given);
			hamr_plan_destroy(p);
		}
	hamr_values_destroy(given);

	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
