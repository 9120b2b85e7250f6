// SPDX-License-Identifier: MIT
/* A pool's whole life, many times over: what it takes from the process
 * (jemalloc arenas, memory) comes back at hamr_pool_destroy, with and
 * without the blocking pool, and destroy may follow a call made from
 * another thread without freeing the pool under the caller.
 *
 * The cycle counts are large in the plain build, where jemalloc is the
 * allocator and a leak of one arena per worker shows in RSS and in
 * arenas.narenas; the sanitizer builds run fewer cycles and rely on
 * LeakSanitizer (ASan) and on the race detector (TSan). */
#include <dlfcn.h>
#include <hamr.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "tests/check.h"
#include "tests/sanitizers.h"

#ifdef SANITIZED
enum { CYCLES = 200, CALL_ROUNDS = 1000 };
#else
enum { CYCLES = 10000, CALL_ROUNDS = 1000 };
#endif

#define DEPS(...) ((const hamr_dep[]){__VA_ARGS__, HAMR_DEPS_END})

/* The process's anonymous resident memory in bytes (RssAnon), or -1. */
static long long rss_anon(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	char line[256];
	long long kb = -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "RssAnon: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

/* jemalloc's mallctl when hamr runs on jemalloc (the plain build), else
 * NULL: looked up at run time so this test needs no jemalloc headers. */
typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);

static long long narenas(void)
{
	mallctl_fn ctl = (mallctl_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "mallctl");
	if (!ctl)
		return -1;
	unsigned n = 0;
	size_t sz = sizeof n;
	return ctl("arenas.narenas", &n, &sz, NULL, 0) == 0 ? (long long)n : -1;
}

static int f_one(hamr_call *c)
{
	return hamr_ret_i64(c, 1);
}

static int f_add(hamr_call *c)
{
	return hamr_ret_i64(c, hamr_arg_i64(c, 0) + hamr_arg_i64(c, 1));
}

/* a + b = 2, where b may be tagged blocking=true: a run that needs the
 * pool's blocking pool, and so starts it. */
static hamr_plan *small_plan(hamr_graph **g, int blocking)
{
	static const hamr_tag io[] = {{"blocking", "true"}, {NULL, NULL}};
	hamr_node_def a = {.name = "a", .fn = f_one, .type = HAMR_I64};
	hamr_node_def b = {.name = "b", .fn = f_one, .type = HAMR_I64,
	                   .tags = blocking ? io : NULL};
	hamr_node_def sum = {.name = "sum", .fn = f_add, .type = HAMR_I64,
	                     .deps = DEPS(HAMR_DEP("a", HAMR_I64), HAMR_DEP("b", HAMR_I64))};
	hamr_plan *p = NULL;
	CHECK_OK(hamr_graph_create(g));
	CHECK_OK(hamr_graph_add_node(*g, "m", &a));
	CHECK_OK(hamr_graph_add_node(*g, "m", &b));
	CHECK_OK(hamr_graph_add_node(*g, "m", &sum));
	const char *out = "sum";
	CHECK_OK(hamr_plan_create(&p, *g, &out, 1, NULL));
	return p;
}

/* One pool's life: create, run the plan on it, destroy. The result of the
 * run is checked each time. */
static int one_cycle(const hamr_plan *p, int blocking_workers)
{
	hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
	po.workers = 2;
	po.blocking_workers = blocking_workers;
	hamr_pool *pool = NULL;
	int rc = hamr_pool_create(&pool, &po);
	if (rc)
		return rc;
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	o.executor = HAMR_EXEC_THREADS;
	o.pool = pool;
	hamr_run *r = NULL;
	int64_t v = 0;
	rc = hamr_run_execute(&r, p, NULL, &o);
	if (!rc)
		rc = hamr_run_result_i64(r, "sum", &v);
	if (!rc && v != 2)
		rc = HAMR_EFAIL;
	hamr_run_destroy(r);
	hamr_pool_destroy(pool);
	return rc;
}

static void cycles(int blocking, int blocking_workers, int n)
{
	hamr_graph *g = NULL;
	hamr_plan *p = small_plan(&g, blocking);
	/* a few cycles first, so whatever a first pool makes once for the
	 * process (thread stacks kept for reuse, the allocator's own
	 * structures) is in the starting figures */
	for (int i = 0; i < 20; i++)
		CHECK_OK(one_cycle(p, blocking_workers));
	long long rss0 = rss_anon(), ar0 = narenas(), ar_mid = -1;
	int failed = 0;
	for (int i = 0; i < n && !failed; i++) {
		int rc = one_cycle(p, blocking_workers);
		if (rc) {
			CHECK_OK(rc);
			failed = 1;
		}
		if (i == n / 2)
			ar_mid = narenas();
	}
	long long rss1 = rss_anon(), ar1 = narenas();
	printf("  %d pools%s: RssAnon %.1f MB -> %.1f MB, arenas.narenas %lld -> %lld\n", n,
	       blocking ? " (each ran a blocking node)" : "", rss0 / 1e6, rss1 / 1e6, ar0, ar1);
	CHECK(rss0 > 0 && rss1 > 0);
#ifndef SANITIZED
	/* (a sanitizer keeps freed memory in quarantine, and shadow memory
	 * besides: there the leak check at exit says what leaked) */
	CHECK(rss1 - rss0 < 10ll << 20);
#endif
#ifdef HAMR_TEST_JEMALLOC
	CHECK(ar0 >= 0); /* libhamr runs on jemalloc here: mallctl is there */
#endif
	if (ar0 >= 0) {
		/* each pool's arenas went back: none is made anew per pool */
		CHECK(ar1 - ar0 <= 2 * (2 + blocking_workers));
		CHECK_EQ_INT(ar1, ar_mid);
	}
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
}

static void test_pools_give_back_their_memory(void)
{
	cycles(0, 0, CYCLES);
}

static void test_pools_with_a_blocking_pool_give_back_their_memory(void)
{
	/* 8 blocking workers, so that the full count of cycles starts 100,000
	 * threads rather than 660,000; then the default 64, fewer times */
	cycles(1, 8, CYCLES);
	cycles(1, 64, CYCLES / 10);
}

/* ---- a call racing destroy ------------------------------------------------ */

struct call_round {
	hamr_pool *pool;
	atomic_int started;
	int rc;
};

static void mark_started(void *arg)
{
	atomic_store((atomic_int *)arg, 1);
}

static void *caller(void *arg)
{
	struct call_round *cr = arg;
	cr->rc = hamr_pool_call(cr->pool, mark_started, &cr->started);
	return NULL;
}

/* hamr_pool_destroy waits for every task submitted so far, so it may be
 * called as soon as the task has started, while hamr_pool_call is still
 * on its way out: destroy must not free the pool under it (ThreadSanitizer
 * and ASan see it if it does). */
static void test_destroy_right_after_a_call_started_is_safe(void)
{
	int bad = 0;
	for (int i = 0; i < CALL_ROUNDS && !bad; i++) {
		hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
		po.workers = 2;
		struct call_round cr = {.rc = -1};
		atomic_init(&cr.started, 0);
		CHECK_OK(hamr_pool_create(&cr.pool, &po));
		pthread_t t;
		CHECK_EQ_INT(pthread_create(&t, NULL, caller, &cr), 0);
		while (!atomic_load(&cr.started))
			sched_yield();
		hamr_pool_destroy(cr.pool);
		pthread_join(t, NULL);
		if (cr.rc != 0) {
			CHECK_OK(cr.rc);
			bad = 1;
		}
	}
}

int main(void)
{
	/* the blocking pool first: each of its cycles would take 66 arenas,
	 * so a leak shows long before jemalloc's cap on arenas is reached */
	RUN_TEST(test_pools_with_a_blocking_pool_give_back_their_memory);
	RUN_TEST(test_pools_give_back_their_memory);
	RUN_TEST(test_destroy_right_after_a_call_started_is_safe);
	TEST_EXIT();
}
