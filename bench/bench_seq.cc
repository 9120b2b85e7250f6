// SPDX-License-Identifier: MIT
// The sequential executor's own cost per node, against a plain C loop that
// does the same additions.
//
// Graphs (bench/graphs.h), 1000 computed nodes each, input x = 1:
//   wide:   node_k = x + k for k < 999, and "total" summing all 999
//   chain:  node_0 = x + 1, node_i = node_{i-1} + 1
// The plan is made once, outside the timed loop. Times are taken with
// CLOCK_MONOTONIC around the measured calls (UseManualTime), and every
// counter but cpu_util is in nanoseconds per computed node (1000 here).
// Each benchmark also reports cpu_ns_per_node (the thread's CPU time over
// the whole loop, per node) and cpu_util (see graphs.h): on a loaded
// machine, compare cpu_ns_per_node, which preemption does not inflate.
//
//   BM_seq_execute  hamr_run_execute + hamr_run_destroy: what a caller pays
//                   per run. ns_per_node.
//   BM_seq_phases   the same run, each call timed apart, so that setting a
//                   run up is visible beside running it: create_ns
//                   (hamr_run_create: slots, given values), start_ns,
//                   wait_ns (the executor loop and the node functions),
//                   destroy_ns; ns_per_node is their sum. The three clock
//                   reads between the calls add about 0.07 ns per node.
//   BM_threads_execute  BM_seq_execute on the threads executor, on a pool
//                   of 1 or 2 workers (the second argument), made once:
//                   what parallel costs against sequential on tiny nodes.
//   BM_baseline     the same 1000 nodes as a plain C loop: an array of
//                   function pointers, each node called indirectly with its
//                   argument indices into an array of uint64_t values and
//                   its constant, doing the same arithmetic as hamr's node
//                   functions. It is the floor for any engine that calls
//                   nodes through pointers; hamr's overhead per node is
//                   (BM_seq_execute - BM_baseline) ns_per_node.
#include <benchmark/benchmark.h>

#include "graphs.h"

namespace {

constexpr size_t kNodes = 1000;

// ---- hamr -----------------------------------------------------------------

struct Fixture {
	const hb::Spec *spec;
	hamr_values *given;
	hamr_plan *plan;
};

// One plan per shape, made (and checked) once; kept until the process ends.
const Fixture &fixture(hb::Shape shape)
{
	static Fixture f[3];
	Fixture &x = f[(int)shape];
	if (!x.plan) {
		x.spec = &hb::spec(shape, kNodes);
		x.given = hb::given_x();
		x.plan = hb::make_plan(*x.spec, x.given);
		hb::check_plan(*x.spec, x.plan, x.given);
	}
	return x;
}

// ns_per_node from the manual (wall) time of the measured calls;
// cpu_ns_per_node from the thread's CPU time over the whole loop (so it also
// holds the benchmark's own loop and clock reads, about 0.05 ns per node);
// cpu_util = CPU over wall time of the loop (graphs.h).
void per_node_counters(benchmark::State &state, int64_t measured_ns,
                       const hb::LoopClock &loop)
{
	const double per = 1.0 / ((double)state.iterations() * kNodes);
	state.counters["ns_per_node"] = (double)measured_ns * per;
	state.counters["cpu_ns_per_node"] = (double)loop.cpu * per;
	state.counters["cpu_util"] = loop.util();
}

void BM_seq_execute(benchmark::State &state, hb::Shape shape)
{
	const Fixture &f = fixture(shape);
	int64_t total = 0;
	hb::LoopClock loop;
	loop.start();
	for (auto _ : state) {
		hamr_run *r = nullptr;
		int64_t t0 = hb::now_ns();
		int rc = hamr_run_execute(&r, f.plan, f.given, nullptr);
		hamr_run_destroy(r);
		int64_t t1 = hb::now_ns();
		if (rc) {
			state.SkipWithError(hamr_errmsg());
			break;
		}
		total += t1 - t0;
		state.SetIterationTime((double)(t1 - t0) * 1e-9);
	}
	loop.stop();
	per_node_counters(state, total, loop);
}

// A pool of `workers`, made once per count and kept until the process ends.
hamr_pool *pool_of(int workers)
{
	static hamr_pool *pools[3];
	if (!pools[workers]) {
		hamr_pool_opts o = HAMR_POOL_OPTS_INIT;
		o.workers = workers;
		if (hamr_pool_create(&pools[workers], &o))
			return nullptr;
	}
	return pools[workers];
}

void BM_threads_execute(benchmark::State &state, hb::Shape shape)
{
	const Fixture &f = fixture(shape);
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	o.executor = HAMR_EXEC_THREADS;
	if (!(o.pool = pool_of((int)state.range(1)))) {
		state.SkipWithError(hamr_errmsg());
		return;
	}
	int64_t total = 0;
	hb::LoopClock loop;
	loop.start();
	for (auto _ : state) {
		hamr_run *r = nullptr;
		int64_t t0 = hb::now_ns();
		int rc = hamr_run_execute(&r, f.plan, f.given, &o);
		hamr_run_destroy(r);
		int64_t t1 = hb::now_ns();
		if (rc) {
			state.SkipWithError(hamr_errmsg());
			break;
		}
		total += t1 - t0;
		state.SetIterationTime((double)(t1 - t0) * 1e-9);
	}
	loop.stop();
	per_node_counters(state, total, loop);
}

void BM_seq_phases(benchmark::State &state, hb::Shape shape)
{
	const Fixture &f = fixture(shape);
	int64_t t_create = 0, t_start = 0, t_wait = 0, t_destroy = 0;
	hb::LoopClock loop;
	loop.start();
	for (auto _ : state) {
		hamr_run *r = nullptr;
		int64_t t0 = hb::now_ns();
		int rc = hamr_run_create(&r, f.plan, f.given, nullptr);
		int64_t t1 = hb::now_ns();
		if (!rc)
			rc = hamr_run_start(r);
		int64_t t2 = hb::now_ns();
		if (!rc)
			rc = hamr_run_wait(r);
		int64_t t3 = hb::now_ns();
		hamr_run_destroy(r);
		int64_t t4 = hb::now_ns();
		if (rc) {
			state.SkipWithError(hamr_errmsg());
			break;
		}
		t_create += t1 - t0;
		t_start += t2 - t1;
		t_wait += t3 - t2;
		t_destroy += t4 - t3;
		state.SetIterationTime((double)(t4 - t0) * 1e-9);
	}
	loop.stop();
	const double per = 1.0 / ((double)state.iterations() * kNodes);
	per_node_counters(state, t_create + t_start + t_wait + t_destroy, loop);
	state.counters["create_ns"] = (double)t_create * per;
	state.counters["start_ns"] = (double)t_start * per;
	state.counters["wait_ns"] = (double)t_wait * per;
	state.counters["destroy_ns"] = (double)t_destroy * per;
}

// ---- baseline: the same nodes, called from a plain loop --------------------

typedef uint64_t (*plain_fn)(const uint64_t *vals, const uint32_t *args,
                             uint32_t n_args, uint64_t k);

// node_add's twin: argument 0 plus k
uint64_t plain_add(const uint64_t *vals, const uint32_t *args, uint32_t n_args,
                   uint64_t k)
{
	return vals[args[0]] + k;
}

// node_sum's twin: k plus every argument
uint64_t plain_sum(const uint64_t *vals, const uint32_t *args, uint32_t n_args,
                   uint64_t k)
{
	uint64_t s = k;
	for (uint32_t i = 0; i < n_args; i++)
		s += vals[args[i]];
	return s;
}

// A spec compiled the way a hand-written C program would hold it: value i
// is node i's, value n is x.
struct Plain {
	std::vector<plain_fn> fn;
	std::vector<uint64_t> k;
	std::vector<uint32_t> arg_start, n_args, args;
	std::vector<uint64_t> vals;
};

Plain make_plain(const hb::Spec &s)
{
	Plain p;
	const size_t n = s.size();
	for (const hb::Node &nd : s.nodes) {
		p.fn.push_back(nd.fn == hb::node_add ? plain_add : plain_sum);
		p.k.push_back(nd.k);
		p.arg_start.push_back((uint32_t)p.args.size());
		p.n_args.push_back((uint32_t)nd.deps.size());
		for (int32_t d : nd.deps)
			p.args.push_back(d == hb::kInput ? (uint32_t)n : (uint32_t)d);
	}
	p.vals.assign(n + 1, 0);
	return p;
}

// noinline, and the pointers come from memory filled at run time, so every
// node is a real indirect call, as in hamr.
__attribute__((noinline)) uint64_t run_plain(Plain &p, uint64_t x)
{
	const size_t n = p.fn.size();
	uint64_t *vals = p.vals.data();
	vals[n] = x;
	for (size_t i = 0; i < n; i++)
		vals[i] = p.fn[i](vals, p.args.data() + p.arg_start[i], p.n_args[i],
		                  p.k[i]);
	return vals[n - 1];
}

void BM_baseline(benchmark::State &state, hb::Shape shape)
{
	const hb::Spec &s = hb::spec(shape, kNodes);
	Plain p = make_plain(s);
	if ((int64_t)run_plain(p, hb::kX) != s.reference()) {
		state.SkipWithError("the baseline disagrees with the reference");
		return;
	}
	int64_t total = 0;
	hb::LoopClock loop;
	loop.start();
	for (auto _ : state) {
		int64_t t0 = hb::now_ns();
		uint64_t v = run_plain(p, hb::kX);
		benchmark::DoNotOptimize(v);
		int64_t t1 = hb::now_ns();
		total += t1 - t0;
		state.SetIterationTime((double)(t1 - t0) * 1e-9);
	}
	loop.stop();
	per_node_counters(state, total, loop);
}

#define SEQ_OPTS Arg(kNodes)->UseManualTime()->Unit(benchmark::kMicrosecond)

BENCHMARK_CAPTURE(BM_seq_execute, wide, hb::Shape::wide)->SEQ_OPTS;
BENCHMARK_CAPTURE(BM_seq_execute, chain, hb::Shape::chain)->SEQ_OPTS;
BENCHMARK_CAPTURE(BM_threads_execute, wide, hb::Shape::wide)
    ->ArgsProduct({{kNodes}, {1, 2}})->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_threads_execute, chain, hb::Shape::chain)
    ->ArgsProduct({{kNodes}, {1, 2}})->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_threads_execute, random, hb::Shape::random)
    ->ArgsProduct({{kNodes}, {1, 2}})->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_seq_execute, random, hb::Shape::random)->SEQ_OPTS;
BENCHMARK_CAPTURE(BM_seq_phases, wide, hb::Shape::wide)->SEQ_OPTS;
BENCHMARK_CAPTURE(BM_seq_phases, chain, hb::Shape::chain)->SEQ_OPTS;
BENCHMARK_CAPTURE(BM_baseline, wide, hb::Shape::wide)->SEQ_OPTS;
BENCHMARK_CAPTURE(BM_baseline, chain, hb::Shape::chain)->SEQ_OPTS;

} // namespace

int main(int argc, char **argv)
{
	// Make and check both plans before anything is measured.
	fixture(hb::Shape::wide);
	fixture(hb::Shape::chain);

	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
