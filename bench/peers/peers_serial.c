// SPDX-License-Identifier: MIT
/* The serial floor: every workload as the plain C a programmer would write
 * on one core, without any scheduler (impl `serial`, threads 1). The grid
 * and chain workloads keep their whole array, as the parallel versions
 * do, so memory traffic is alike. */
#include "peers_common.h"

static volatile int fib_n = FIB_N; /* not a compile-time constant */

static __attribute__((noinline)) uint64_t fib(int n)
{
	return n < 2 ? (uint64_t)n : fib(n - 1) + fib(n - 2);
}

static uint64_t fib_body(void *ctx, int64_t *ns)
{
	(void)ctx;
	int64_t t0 = peers_now_ns();
	uint64_t r = fib(fib_n);
	*ns = peers_now_ns() - t0;
	return r;
}

static uint64_t map_body(void *ctx, int64_t *ns)
{
	(void)ctx;
	int64_t t0 = peers_now_ns();
	uint64_t s = 0;
	for (uint64_t i = 0; i < MAP_N; i++)
		s += map_f(i);
	*ns = peers_now_ns() - t0;
	return s;
}

typedef struct grid {
	int n, work;
	uint64_t *v; /* n x n */
} grid;

static uint64_t grid_body(void *ctx, int64_t *ns)
{
	grid *g = ctx;
	const int n = g->n;
	uint64_t *v = g->v;
	memset(v, 0, (size_t)n * (size_t)n * sizeof *v);
	int64_t t0 = peers_now_ns();
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++) {
			uint64_t up = i ? v[(size_t)(i - 1) * n + j] : 0;
			uint64_t left = j ? v[(size_t)i * n + j - 1] : 0;
			v[(size_t)i * n + j] = g->work ? work_cell(up, left) : wave_cell(up, left);
		}
	*ns = peers_now_ns() - t0;
	return v[(size_t)n * n - 1];
}

static volatile uint64_t wide_x = WIDE_X; /* not a compile-time constant */

/* wide: the WIDE_N values into an array, as the graph keeps them, then
 * their sum */
static uint64_t wide_body(void *ctx, int64_t *ns)
{
	uint64_t *v = ctx, s = 0;
	int64_t t0 = peers_now_ns();
	uint64_t x = wide_x;
	for (uint64_t k = 0; k < WIDE_N; k++)
		v[k] = x + k;
	for (uint64_t k = 0; k < WIDE_N; k++)
		s += v[k];
	*ns = peers_now_ns() - t0;
	return s;
}

static uint64_t chain_body(void *ctx, int64_t *ns)
{
	volatile uint64_t *v = ctx; /* volatile: a real load and store per node */
	int64_t t0 = peers_now_ns();
	v[0] = 1;
	for (size_t k = 1; k < CHAIN_N; k++)
		v[k] = v[k - 1] + 1;
	*ns = peers_now_ns() - t0;
	return v[CHAIN_N - 1];
}

/* the noop map: the items' sum, kept from being folded into a formula */
static uint64_t noop_body(void *ctx, int64_t *ns)
{
	uint64_t n = *(const uint64_t *)ctx, s = 0;
	int64_t t0 = peers_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		__asm__ volatile("" : "+r"(i));
		s += i;
	}
	*ns = peers_now_ns() - t0;
	return s;
}

int main(int argc, char **argv)
{
	peers_opts o;
	peers_parse(argc, argv, &o);
	if (peers_wanted(&o, "fib"))
		peers_measure(&o, "fib", "serial", "plain", 1, FIB_N, FIB_CALLS,
		              FIB_RESULT, fib_body, NULL);
	if (peers_wanted(&o, "map"))
		peers_measure(&o, "map", "serial", "plain", 1, MAP_N, MAP_N, ref_map(),
		              map_body, NULL);
	if (peers_wanted(&o, "mapreduce"))
		peers_measure(&o, "mapreduce", "serial", "plain", 1, MAPRED_N, MAPRED_N, ref_map(),
		              map_body, NULL);
	if (peers_wanted(&o, "mapreduce_noop"))
		for (int k = 0; k < NOOP_COUNT; k++) {
			uint64_t n = NOOP_SIZES[k];
			peers_measure(&o, "mapreduce_noop", "serial", "plain", 1, n, n, ref_noop(n),
			              noop_body, &n);
		}
	if (peers_wanted(&o, "wavefront")) {
		grid g = {WAVE_N, 0, malloc(sizeof(uint64_t) * WAVE_N * WAVE_N)};
		peers_measure(&o, "wavefront", "serial", "plain", 1, WAVE_N,
		              (uint64_t)WAVE_N * WAVE_N, ref_grid(WAVE_N, 0), grid_body, &g);
		free(g.v);
	}
	if (peers_wanted(&o, "wide")) {
		uint64_t *v = malloc(sizeof *v * WIDE_N);
		peers_measure(&o, "wide", "serial", "plain", 1, WIDE_N, WIDE_N + 1, ref_wide(),
		              wide_body, v);
		free(v);
	}
	if (peers_wanted(&o, "chain")) {
		uint64_t *v = malloc(sizeof *v * CHAIN_N);
		peers_measure(&o, "chain", "serial", "plain", 1, CHAIN_N, CHAIN_N,
		              ref_chain(), chain_body, v);
		free(v);
	}
	if (peers_wanted(&o, "wavefront_work")) {
		grid g = {WORKW_N, 1, malloc(sizeof(uint64_t) * WORKW_N * WORKW_N)};
		peers_measure(&o, "wavefront_work", "serial", "plain", 1, WORKW_N,
		              (uint64_t)WORKW_N * WORKW_N, ref_grid(WORKW_N, 1), grid_body,
		              &g);
		free(g.v);
	}
	return 0;
}
