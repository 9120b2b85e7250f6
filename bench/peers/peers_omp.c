// SPDX-License-Identifier: MIT
/* OpenMP's side of the peer benchmarks. One source, built twice by
 * bench/run-peers: gcc -fopenmp (impl `omp_gcc`, libgomp) and clang
 * -fopenmp=libomp (impl `omp_llvm`, LLVM's libomp); PEERS_IMPL names it.
 * Threads: num_threads(--threads) on every parallel region; the main
 * thread is one of them. Runtime settings (wait policy, spin counts) are
 * left at each runtime's defaults.
 *
 *   fib/task             #pragma omp task for fib(n-1), fib(n-2) inline,
 *                        taskwait; inside parallel + single
 *   map/untuned          parallel for reduction(+), default schedule
 *   map/flat             one thread (single) makes one task per item, then
 *                        taskwait
 *   wavefront/oneshot    one task per cell with depend(in: up, left)
 *                        depend(out: cell), made by one thread in row order
 *   wavefront_work       the same at 256 x 256 with ~1 us per cell; an
 *                        OpenMP task graph cannot be kept, so each rep
 *                        makes it again: variant `rerun` is that
 *                        re-execution (the same code as oneshot) */
#include <omp.h>

#include "peers_common.h"

#ifndef PEERS_IMPL
#define PEERS_IMPL "omp"
#endif

static int T;

/* ---- fib ------------------------------------------------------------------------ */

static uint64_t fib(int n)
{
	if (n < 2)
		return (uint64_t)n;
	uint64_t x = 0, y;
#pragma omp task shared(x) firstprivate(n)
	x = fib(n - 1);
	y = fib(n - 2);
#pragma omp taskwait
	return x + y;
}

static uint64_t fib_body(void *ctx, int64_t *ns)
{
	(void)ctx;
	uint64_t r = 0;
	int64_t t0 = peers_now_ns();
#pragma omp parallel num_threads(T)
#pragma omp single
	r = fib(FIB_N);
	*ns = peers_now_ns() - t0;
	return r;
}

/* ---- map ------------------------------------------------------------------------- */

static uint64_t map_untuned_body(void *ctx, int64_t *ns)
{
	(void)ctx;
	uint64_t s = 0;
	int64_t t0 = peers_now_ns();
#pragma omp parallel for reduction(+ : s) num_threads(T)
	for (long i = 0; i < (long)MAP_N; i++)
		s += map_f((uint64_t)i);
	*ns = peers_now_ns() - t0;
	return s;
}

static uint64_t map_flat_body(void *ctx, int64_t *ns)
{
	uint64_t *res = ctx;
	uint64_t s = 0;
	int64_t t0 = peers_now_ns();
#pragma omp parallel num_threads(T)
#pragma omp single
	{
		for (uint64_t i = 0; i < MAP_N; i++) {
#pragma omp task firstprivate(i)
			res[i] = map_f(i);
		}
#pragma omp taskwait
	}
	for (uint64_t i = 0; i < MAP_N; i++)
		s += res[i];
	*ns = peers_now_ns() - t0;
	return s;
}

/* ---- wavefront ---------------------------------------------------------------------- */

typedef struct grid {
	int n, work;
	uint64_t *v; /* n x n */
} grid;

static uint64_t grid_body(void *ctx, int64_t *ns)
{
	grid *g = ctx;
	const int n = g->n, work = g->work;
	uint64_t *v = g->v;
	uint64_t none = 0; /* the dependence of a missing neighbour: never written */
	memset(v, 0, (size_t)n * (size_t)n * sizeof *v);
	int64_t t0 = peers_now_ns();
#pragma omp parallel num_threads(T)
#pragma omp single
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++) {
			uint64_t *c = &v[(size_t)i * n + j];
			uint64_t *up = i ? c - n : &none;
			uint64_t *left = j ? c - 1 : &none;
#pragma omp task firstprivate(c, up, left, i, j) depend(in : up[0], left[0]) depend(out : c[0])
			{
				uint64_t a = i ? *up : 0, b = j ? *left : 0;
				*c = work ? work_cell(a, b) : wave_cell(a, b);
			}
		}
	*ns = peers_now_ns() - t0;
	return v[(size_t)n * n - 1];
}

int main(int argc, char **argv)
{
	peers_opts o;
	peers_parse(argc, argv, &o);
	T = o.threads;
	omp_set_dynamic(0);

	if (peers_wanted(&o, "fib"))
		peers_measure(&o, "fib", PEERS_IMPL, "task", T, FIB_N, FIB_CALLS,
		              FIB_RESULT, fib_body, NULL);
	if (peers_wanted(&o, "map")) {
		uint64_t want = ref_map();
		uint64_t *res = malloc(sizeof *res * MAP_N);
		peers_measure(&o, "map", PEERS_IMPL, "untuned", T, MAP_N, MAP_N, want,
		              map_untuned_body, NULL);
		peers_measure(&o, "map", PEERS_IMPL, "flat", T, MAP_N, MAP_N, want,
		              map_flat_body, res);
		free(res);
	}
	if (peers_wanted(&o, "wavefront")) {
		grid g = {WAVE_N, 0, malloc(sizeof(uint64_t) * WAVE_N * WAVE_N)};
		peers_measure(&o, "wavefront", PEERS_IMPL, "oneshot", T, WAVE_N,
		              (uint64_t)WAVE_N * WAVE_N, ref_grid(WAVE_N, 0), grid_body, &g);
		free(g.v);
	}
	if (peers_wanted(&o, "wavefront_work")) {
		grid g = {WORKW_N, 1, malloc(sizeof(uint64_t) * WORKW_N * WORKW_N)};
		peers_measure(&o, "wavefront_work", PEERS_IMPL, "rerun", T, WORKW_N,
		              (uint64_t)WORKW_N * WORKW_N, ref_grid(WORKW_N, 1), grid_body,
		              &g);
		free(g.v);
	}
	return 0;
}
