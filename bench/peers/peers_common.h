/* SPDX-License-Identifier: MIT */
/* What every peer program shares (hamr, oneTBB, OpenMP, serial): the
 * workloads' sizes and arithmetic, their serial reference results, timing,
 * the command line and the CSV row. Written in the common subset of C11 and
 * C++17, so peers_tbb.cc includes it too.
 *
 * Each program is run as
 *
 *   peers_X --threads T --reps R [--only fib,map,wavefront,wide,chain,...]
 *
 * and prints one CSV row per (workload, variant) on stdout, in the columns
 * of PEERS_HEADER (bench/run-peers prints the header once). Every workload
 * is run once untimed (warm-up, also checked), then R times timed (a
 * workload under 1 ms as a mean of several runs a repeat: peers_measure);
 * each run's result is compared with the serial reference computed here,
 * and `check` says ok only when all of them matched.
 *
 * Arithmetic is on uint64_t (wrapping), so results are exact and identical
 * whatever the order of a reduction. */
#ifndef HAMR_PEERS_COMMON_H
#define HAMR_PEERS_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PEERS_HEADER                                                         \
	"bench,impl,variant,threads,n,units,reps,median_ms,min_ms,max_ms,"   \
	"ns_per_unit_median,ns_per_unit_min,ns_per_unit_max,check"

/* ---- the workloads ----------------------------------------------------- */

/* fib: fib(FIB_N) with no cutoff; units = calls of the function,
 * 2 fib(FIB_N + 1) - 1 = 2,692,537 for n = 30. */
#define FIB_N 30
#define FIB_CALLS 2692537ull
#define FIB_RESULT 832040ull

/* map: sum of map_f(i) for i < MAP_N; units = items. */
#define MAP_N 1000000u
/* Rounds of map_f: one round is a dependent 64-bit multiply-add, shift and
 * xor (about 4 cycles); 175 rounds took 230 to 240 ns on the 2-core VM of
 * bench/RESULTS.md. The serial row of a run shows what they took there. */
#define MAP_ROUNDS 175
/* wavefront_work: rounds per node, about 1 us on the same machine. */
#define WORK_ROUNDS 640

/* mapreduce: Hamilton's dynamic-execution shape, items(n) emitting
 * 0 .. n-1, work(x) = map_f(x) per item, total = their sum; units = items.
 * mapreduce_noop: the same with work(x) = x, for n in NOOP_SIZES. */
#define MAPRED_N MAP_N
#define NOOP_COUNT 5
static const uint64_t NOOP_SIZES[NOOP_COUNT] = {1000, 10000, 100000, 1000000, 10000000};

/* wavefront: WAVE_N x WAVE_N cells, cell(i,j) after (i-1,j) and (i,j-1):
 * v(i,j) = v(i-1,j) + v(i,j-1) + 1, a missing neighbour being 0. */
#define WAVE_N 512
/* wavefront/oneshot also at these sides (the last is WAVE_N): what building
 * and planning cost on small graphs. */
#define WAVE_ONESHOT_COUNT 3
static const int WAVE_ONESHOT_SIZES[WAVE_ONESHOT_COUNT] = {32, 100, WAVE_N};
/* wide: WIDE_N independent nodes node_k = x + k (x = WIDE_X, an input),
 * and one node summing them; units = WIDE_N + 1 nodes. bench/graphs.h's
 * wide shape at 1001 nodes. */
#define WIDE_N 1000
#define WIDE_X 1
/* chain: CHAIN_N nodes in a line, v0 = 1, v(k) = v(k-1) + 1. */
#define CHAIN_N (1u << 20)
/* wavefront_work: WORKW_N x WORKW_N cells,
 * v(i,j) = mix(v(i-1,j) + v(i,j-1) + 1, WORK_ROUNDS). */
#define WORKW_N 256

/* A chain of dependent integer operations, `rounds` long. noinline, so that
 * no compiler can interleave (vectorize) the items of a loop that calls it:
 * every implementation pays the same ~1.5 ns per round. */
__attribute__((noinline, unused)) static uint64_t peers_mix(uint64_t x, int rounds)
{
	for (int r = 0; r < rounds; r++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		x ^= x >> 29;
	}
	return x;
}

/* The map's f: about 240 ns. */
static inline uint64_t map_f(uint64_t i)
{
	return peers_mix(i, MAP_ROUNDS);
}

/* A wavefront cell from its two inputs (0 when absent). */
static inline uint64_t wave_cell(uint64_t up, uint64_t left)
{
	return up + left + 1;
}

static inline uint64_t work_cell(uint64_t up, uint64_t left)
{
	return peers_mix(up + left + 1, WORK_ROUNDS);
}

/* ---- serial references --------------------------------------------------- */

static inline uint64_t ref_fib(int n)
{
	return n < 2 ? (uint64_t)n : ref_fib(n - 1) + ref_fib(n - 2);
}

static inline uint64_t ref_map(void)
{
	uint64_t s = 0;
	for (uint64_t i = 0; i < MAP_N; i++)
		s += map_f(i);
	return s;
}

/* The grid by dynamic programming over one row; `work` picks work_cell. */
static inline uint64_t ref_grid(int n, int work)
{
	uint64_t *row = (uint64_t *)calloc((size_t)n, sizeof *row);
	uint64_t v = 0;
	if (!row)
		abort();
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++) {
			uint64_t up = i ? row[j] : 0, left = j ? row[j - 1] : 0;
			row[j] = work ? work_cell(up, left) : wave_cell(up, left);
		}
	v = row[n - 1];
	free(row);
	return v;
}

/* sum of i for i < n, wrapping */
static inline uint64_t ref_noop(uint64_t n)
{
	return n * (n - 1) / 2;
}

/* sum of x + k for k < WIDE_N */
static inline uint64_t ref_wide(void)
{
	return (uint64_t)WIDE_N * WIDE_X + (uint64_t)WIDE_N * (WIDE_N - 1) / 2;
}

static inline uint64_t ref_chain(void)
{
	return CHAIN_N;
}

/* ---- command line -------------------------------------------------------- */

typedef struct peers_opts {
	int threads;
	int reps;
	const char *only; /* comma-separated workloads, NULL: all */
} peers_opts;

static inline void peers_parse(int argc, char **argv, peers_opts *o)
{
	o->threads = 1;
	o->reps = 7;
	o->only = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			o->threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			o->reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			o->only = argv[++i];
		else {
			fprintf(stderr,
			        "usage: %s [--threads T] [--reps R] [--only fib,map,...]\n",
			        argv[0]);
			exit(2);
		}
	}
	if (o->threads < 1 || o->reps < 1) {
		fprintf(stderr, "%s: --threads and --reps must be at least 1\n", argv[0]);
		exit(2);
	}
}

/* Whether workload `name` was asked for: an exact item of the list. */
static inline int peers_wanted(const peers_opts *o, const char *name)
{
	if (!o->only || !*o->only)
		return 1;
	size_t len = strlen(name);
	for (const char *p = o->only; *p;) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == len && !strncmp(p, name, len))
			return 1;
		if (!e)
			break;
		p = e + 1;
	}
	return 0;
}

/* ---- timing and the row ------------------------------------------------ */

static inline int64_t peers_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int peers_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Prints the row of `reps` timings (ns, reordered here). The median of an
 * even count is the mean of the middle two. */
static inline void peers_row(const char *bench, const char *impl, const char *variant,
                      int threads, uint64_t n, uint64_t units, int64_t *ns,
                      int reps, int ok)
{
	qsort(ns, (size_t)reps, sizeof *ns, peers_cmp_i64);
	double med = reps % 2 ? (double)ns[reps / 2]
	                      : 0.5 * ((double)ns[reps / 2 - 1] + (double)ns[reps / 2]);
	double mn = (double)ns[0], mx = (double)ns[reps - 1];
	double u = (double)units;
	printf("%s,%s,%s,%d,%llu,%llu,%d,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%s\n", bench,
	       impl, variant, threads, (unsigned long long)n,
	       (unsigned long long)units, reps, med * 1e-6, mn * 1e-6, mx * 1e-6,
	       med / u, mn / u, mx / u, ok ? "ok" : "FAIL");
	fflush(stdout);
}

/* Says on stderr what a failed check got. */
static inline int peers_check(const char *bench, const char *impl, const char *variant,
                       uint64_t got, uint64_t want)
{
	if (got == want)
		return 1;
	fprintf(stderr, "%s/%s/%s: got %llu, expected %llu\n", bench, impl, variant,
	        (unsigned long long)got, (unsigned long long)want);
	return 0;
}

/* Runs `body` once untimed and `reps` times timed; `body(ctx, &ns)` returns
 * its result and sets the nanoseconds it measured (so that a body can leave
 * setup and teardown out of its own timing). A body that took less than
 * PEERS_MIN_REP_NS untimed runs as often in each rep as fills that time
 * (at most PEERS_MAX_RUNS), and the rep's time is the mean of those runs:
 * a single run of a few microseconds is mostly the clock and the
 * machine's hiccups. Prints the row. */
typedef uint64_t (*peers_body)(void *ctx, int64_t *ns);

#define PEERS_MIN_REP_NS 1000000
#define PEERS_MAX_RUNS 10000

static inline void peers_measure(const peers_opts *o, const char *bench, const char *impl,
                          const char *variant, int threads, uint64_t n,
                          uint64_t units, uint64_t want, peers_body body,
                          void *ctx)
{
	int64_t *ns = (int64_t *)calloc((size_t)o->reps, sizeof *ns);
	int64_t warm = 0;
	if (!ns)
		abort();
	int ok = peers_check(bench, impl, variant, body(ctx, &warm), want);
	int64_t runs = warm >= PEERS_MIN_REP_NS ? 1 :
	               PEERS_MIN_REP_NS / (warm > 0 ? warm : 1) + 1;
	if (runs > PEERS_MAX_RUNS)
		runs = PEERS_MAX_RUNS;
	for (int r = 0; r < o->reps; r++) {
		int64_t sum = 0;
		for (int64_t k = 0; k < runs; k++) {
			int64_t t = 0;
			ok &= peers_check(bench, impl, variant, body(ctx, &t), want);
			sum += t;
		}
		ns[r] = sum / runs;
	}
	peers_row(bench, impl, variant, threads, n, units, ns, o->reps, ok);
	free(ns);
}

#endif
