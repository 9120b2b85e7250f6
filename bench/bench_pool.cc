// SPDX-License-Identifier: MIT
// The work-stealing pool's own costs (include/hamr/pool.h), through the
// public API: what one spawn + sync costs, what a steal costs, the
// fork-join recursion of fib, and how long a parked pool takes to start a
// task.
//
//   BM_spawn_sync_pair/1   one worker; a task spawns an empty task and syncs
//                          it at once, kBatch times. Nobody can steal, so
//                          this is the Chase-Lev push + pop pair, plus
//                          hamr_spawn/hamr_sync's own work.
//                          Counter: ns_per_pair.
//   BM_steal/W/N           W workers (1 or 2); a task spawns N empty
//                          children, then syncs them newest first. With 2
//                          workers the other one, idle, steals from the top
//                          of the deque meanwhile; W = 1 is the same work
//                          with no thief. Counters: ns_per_task (spawn +
//                          sync + run, per child), stolen (fraction of the
//                          children the thief took).
//   BM_fib/W               fib(25) with no cutoff (spawn fib(n-1), fib(n-2)
//                          inline, sync), 242,785 calls, on W workers.
//                          Counter: ns_per_call.
//   BM_wake/W/spin         hamr_pool_call on a pool of W workers, from the
//                          benchmark's thread: wake_ns is the time from just
//                          before the call to the task's first instruction
//                          (CLOCK_MONOTONIC on both sides), roundtrip_ns to
//                          the call's return. spin = 0: spin_us = HAMR_OFF
//                          and every call waits until a worker has parked
//                          (its park count moved, then 50 us more), so it
//                          measures the futex wake-up; spin = 1: the
//                          default spin, calls back to back, so a worker is
//                          still searching when the call comes. Counters:
//                          median, min and 90th percentile of wake_ns over
//                          the iterations (the Time column is the mean).
//
// Timing is manual, as in the other files (README.md): the fork-join
// benchmarks read CLOCK_MONOTONIC inside the pool, at the start and end of
// the task that does the work, so a counter excludes the submission from
// the benchmark's thread and the wake-up of the first worker; the pool is
// created once per benchmark run, outside the timing. Counters are plain
// nanoseconds.
#include <benchmark/benchmark.h>

#include <hamr.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <time.h>
#include <vector>

namespace {

int64_t now_ns()
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

[[noreturn]] void die(const char *what, int rc)
{
	std::fprintf(stderr, "%s: %s (%s)\n", what, hamr_strerror(rc), hamr_errmsg());
	std::exit(1);
}

// spin_us: 0 for HAMR_SPIN or the default, HAMR_OFF for no spinning
hamr_pool *make_pool(int workers, int spin_us)
{
	hamr_pool_opts o = HAMR_POOL_OPTS_INIT;
	o.workers = workers;
	o.spin_us = spin_us;
	hamr_pool *p = nullptr;
	int rc = hamr_pool_create(&p, &o);
	if (rc)
		die("hamr_pool_create", rc);
	return p;
}

void empty_task(void *) {}

// ---- spawn + sync pair ----------------------------------------------------------

constexpr int kBatch = 100000;

struct Timed {
	int64_t ns = 0;
};

void pair_batch(void *arg)
{
	Timed *t = static_cast<Timed *>(arg);
	hamr_task task;
	int64_t t0 = now_ns();
	for (int k = 0; k < kBatch; k++) {
		hamr_spawn(&task, empty_task, nullptr);
		hamr_sync(&task);
	}
	t->ns = now_ns() - t0;
}

void BM_spawn_sync_pair(benchmark::State &state)
{
	hamr_pool *p = make_pool((int)state.range(0), 0);
	int64_t total = 0;
	for (auto _ : state) {
		Timed t;
		hamr_pool_call(p, pair_batch, &t);
		total += t.ns;
		state.SetIterationTime((double)t.ns * 1e-9);
	}
	state.counters["ns_per_pair"] = (double)total / ((double)state.iterations() * kBatch);
	hamr_pool_destroy(p);
}

// ---- steal -------------------------------------------------------------------------

struct StealRun {
	std::vector<hamr_task> kids;
	int64_t ns = 0;
};

void spawn_children(void *arg)
{
	StealRun *s = static_cast<StealRun *>(arg);
	const size_t n = s->kids.size();
	int64_t t0 = now_ns();
	for (size_t k = 0; k < n; k++)
		hamr_spawn(&s->kids[k], empty_task, nullptr);
	for (size_t k = n; k-- > 0;)
		hamr_sync(&s->kids[k]);
	s->ns = now_ns() - t0;
}

unsigned long long total_steals(hamr_pool *p, int workers)
{
	unsigned long long s = 0;
	for (int i = 0; i < workers; i++) {
		hamr_worker_stats st;
		if (hamr_pool_worker_stats(p, i, &st) == 0)
			s += st.steals;
	}
	return s;
}

void BM_steal(benchmark::State &state)
{
	const int workers = (int)state.range(0);
	const size_t n = (size_t)state.range(1);
	hamr_pool *p = make_pool(workers, 0);
	StealRun s;
	s.kids.resize(n);
	hamr_pool_call(p, spawn_children, &s); // the deque grows once, untimed
	unsigned long long steals0 = total_steals(p, workers);
	int64_t total = 0;
	for (auto _ : state) {
		hamr_pool_call(p, spawn_children, &s);
		total += s.ns;
		state.SetIterationTime((double)s.ns * 1e-9);
	}
	const double tasks = (double)state.iterations() * (double)n;
	state.counters["ns_per_task"] = (double)total / tasks;
	// each pool call is itself taken from the external queue, not stolen
	state.counters["stolen"] = (double)(total_steals(p, workers) - steals0) / tasks;
	hamr_pool_destroy(p);
}

// ---- fib ------------------------------------------------------------------------------

constexpr int kFibN = 25;
constexpr double kFibCalls = 242785; // 2 fib(26) - 1

struct FibArg {
	int n;
	uint64_t r;
};

void fib_task(void *arg)
{
	FibArg *a = static_cast<FibArg *>(arg);
	if (a->n < 2) {
		a->r = (uint64_t)a->n;
		return;
	}
	FibArg x{a->n - 1, 0}, y{a->n - 2, 0};
	hamr_task t;
	hamr_spawn(&t, fib_task, &x);
	fib_task(&y);
	hamr_sync(&t);
	a->r = x.r + y.r;
}

struct FibRun {
	FibArg a;
	int64_t ns;
};

void fib_root(void *arg)
{
	FibRun *f = static_cast<FibRun *>(arg);
	int64_t t0 = now_ns();
	fib_task(&f->a);
	f->ns = now_ns() - t0;
}

void BM_fib(benchmark::State &state)
{
	hamr_pool *p = make_pool((int)state.range(0), 0);
	int64_t total = 0;
	for (auto _ : state) {
		FibRun f{{kFibN, 0}, 0};
		hamr_pool_call(p, fib_root, &f);
		if (f.a.r != 75025) {
			state.SkipWithError("fib(25) != 75025");
			break;
		}
		total += f.ns;
		state.SetIterationTime((double)f.ns * 1e-9);
	}
	state.counters["ns_per_call"] = (double)total / ((double)state.iterations() * kFibCalls);
	hamr_pool_destroy(p);
}

// ---- wake-up latency ---------------------------------------------------------------------

void stamp_task(void *arg)
{
	*static_cast<int64_t *>(arg) = now_ns();
}

unsigned long long total_parks(hamr_pool *p, int workers)
{
	unsigned long long s = 0;
	for (int i = 0; i < workers; i++) {
		hamr_worker_stats st;
		if (hamr_pool_worker_stats(p, i, &st) == 0)
			s += st.parks;
	}
	return s;
}

// Waits until the park count exceeds `before` (or 100 ms passed), then
// 50 us more, since the count moves just before the futex wait. `before`
// is read just before the previous call: the worker that ran it parks
// again once it is done, and the others never woke.
void wait_parked(hamr_pool *p, int workers, unsigned long long before)
{
	struct timespec pause = {0, 20000};
	for (int k = 0; k < 5000 && total_parks(p, workers) <= before; k++)
		nanosleep(&pause, nullptr);
	pause.tv_nsec = 50000;
	nanosleep(&pause, nullptr);
}

double percentile(std::vector<int64_t> v, double q)
{
	if (v.empty())
		return 0;
	std::sort(v.begin(), v.end());
	size_t i = (size_t)(q * (double)(v.size() - 1) + 0.5);
	return (double)v[i];
}

void BM_wake(benchmark::State &state)
{
	const int workers = (int)state.range(0);
	const bool spin = state.range(1) != 0;
	hamr_pool *p = make_pool(workers, spin ? 0 : HAMR_OFF);
	std::vector<int64_t> wake, round;
	wake.reserve(4096);
	round.reserve(4096);
	int64_t started = 0;
	unsigned long long parks = total_parks(p, workers);
	hamr_pool_call(p, stamp_task, &started); // the workers have run once
	for (auto _ : state) {
		if (!spin) {
			wait_parked(p, workers, parks);
			parks = total_parks(p, workers);
		}
		int64_t t0 = now_ns();
		hamr_pool_call(p, stamp_task, &started);
		int64_t t1 = now_ns();
		wake.push_back(started - t0);
		round.push_back(t1 - t0);
		state.SetIterationTime((double)(started - t0) * 1e-9);
	}
	state.counters["wake_ns_median"] = percentile(wake, 0.5);
	state.counters["wake_ns_min"] = percentile(wake, 0.0);
	state.counters["wake_ns_p90"] = percentile(wake, 0.9);
	state.counters["roundtrip_ns_median"] = percentile(round, 0.5);
	hamr_pool_destroy(p);
}

} // namespace

BENCHMARK(BM_spawn_sync_pair)->Arg(1)->UseManualTime();
BENCHMARK(BM_steal)
	->ArgNames({"workers", "n"})
	->ArgsProduct({{1, 2}, {64, 1024, 16384}})
	->UseManualTime();
BENCHMARK(BM_fib)->ArgName("workers")->Arg(1)->Arg(2)->UseManualTime();
BENCHMARK(BM_wake)
	->ArgNames({"workers", "spin"})
	->ArgsProduct({{1, 2}, {0, 1}})
	->Iterations(2000)
	->UseManualTime();

int main(int argc, char **argv)
{
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
