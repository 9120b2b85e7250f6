// SPDX-License-Identifier: MIT
/* Worker stacks: hamr_pool_opts.stack_size and HAMR_STACK set the stack
 * of every compute and blocking worker thread, parsed as strictly as the
 * other knobs (a K, M or G suffix, as OMP_STACKSIZE takes it), and deep
 * recursion inside a task runs on a pool given a big enough stack. */
#include <hamr.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/check.h"

#define DEPS(...) ((const hamr_dep[]){__VA_ARGS__, HAMR_DEPS_END})

/* The calling thread's stack size in bytes, as the thread library made it. */
static size_t my_stack(void)
{
	pthread_attr_t a;
	size_t sz = 0;
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		pthread_attr_getstacksize(&a, &sz);
		pthread_attr_destroy(&a);
	}
	return sz;
}

static void read_stack(void *arg)
{
	*(size_t *)arg = my_stack();
}

static int f_stack(hamr_call *c)
{
	return hamr_ret_i64(c, (int64_t)my_stack());
}

/* A stack that is `want` bytes, rounded up to whole pages at most. */
static int stack_is(size_t got, size_t want)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	return got >= want && got < want + page;
}

static void test_compute_and_blocking_workers_get_the_stack_asked_for(void)
{
	const size_t want = (size_t)24 << 20;
	hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
	po.workers = 2;
	po.blocking_workers = 2;
	po.stack_size = want;
	hamr_pool *pool = NULL;
	CHECK_OK(hamr_pool_create(&pool, &po));
	hamr_pool_opts got;
	hamr_pool_settings(pool, &got);
	CHECK_EQ_INT(got.stack_size, want);
	size_t sz = 0;
	CHECK_OK(hamr_pool_call(pool, read_stack, &sz));
	CHECK(stack_is(sz, want));

	static const hamr_tag io[] = {{"blocking", "true"}, {NULL, NULL}};
	hamr_graph *g = NULL;
	CHECK_OK(hamr_graph_create(&g));
	hamr_node_def b = {.name = "b", .fn = f_stack, .type = HAMR_I64, .tags = io};
	hamr_node_def c = {.name = "c", .fn = f_stack, .type = HAMR_I64};
	CHECK_OK(hamr_graph_add_node(g, "m", &b));
	CHECK_OK(hamr_graph_add_node(g, "m", &c));
	hamr_plan *p = NULL;
	const char *outs[] = {"b", "c"};
	CHECK_OK(hamr_plan_create(&p, g, outs, 2, NULL));
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	o.executor = HAMR_EXEC_THREADS;
	o.pool = pool;
	hamr_run *r = NULL;
	CHECK_OK(hamr_run_execute(&r, p, NULL, &o));
	int64_t vb = 0, vc = 0;
	CHECK_OK(hamr_run_result_i64(r, "b", &vb));
	CHECK_OK(hamr_run_result_i64(r, "c", &vc));
	CHECK(stack_is((size_t)vb, want)); /* a blocking worker */
	CHECK(stack_is((size_t)vc, want)); /* a compute worker */
	hamr_run_destroy(r);
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
	hamr_pool_destroy(pool);
}

/* A recursive walk whose frames need about 24 MiB of stack in all: three
 * times the usual default thread stack, so it crashes the test on a
 * worker that did not get the stack asked for. */
#define FRAME 4096
#define DEPTH 6000

static unsigned long walk(int depth, unsigned long seed)
{
	volatile unsigned char frame[FRAME];
	frame[0] = (unsigned char)seed;
	frame[FRAME - 1] = (unsigned char)(seed >> 8);
	if (depth == 0)
		return seed;
	unsigned long below = walk(depth - 1, seed * 6364136223846793005ul + 1442695040888963407ul);
	return below + frame[0] + frame[FRAME - 1];
}

struct walk_arg {
	unsigned long result;
};

static void deep(void *arg)
{
	((struct walk_arg *)arg)->result = walk(DEPTH, 1);
}

static void *deep_thread(void *arg)
{
	deep(arg);
	return NULL;
}

static void test_deep_recursion_runs_on_a_big_stack(void)
{
	hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
	po.workers = 2;
	po.stack_size = (size_t)128 << 20;
	hamr_pool *pool = NULL;
	CHECK_OK(hamr_pool_create(&pool, &po));
	struct walk_arg a = {0};
	CHECK_OK(hamr_pool_call(pool, deep, &a));
	/* the same walk on a thread of the same size, outside any pool */
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, po.stack_size);
	pthread_t t;
	struct walk_arg ref = {0};
	CHECK_EQ_INT(pthread_create(&t, &attr, deep_thread, &ref), 0);
	pthread_join(t, NULL);
	pthread_attr_destroy(&attr);
	CHECK(a.result != 0);
	CHECK_EQ_INT(a.result, ref.result);
	hamr_pool_destroy(pool);
}

/* HAMR_STACK's value, as a pool made now resolves it; -1 on an error,
 * whose code goes to *rc. */
static long long stack_from_env(const char *value, int *rc)
{
	setenv("HAMR_STACK", value, 1);
	hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
	po.workers = 1;
	hamr_pool *pool = NULL;
	*rc = hamr_pool_create(&pool, &po);
	unsetenv("HAMR_STACK");
	if (*rc)
		return -1;
	hamr_pool_opts got;
	hamr_pool_settings(pool, &got);
	hamr_pool_destroy(pool);
	return (long long)got.stack_size;
}

static void test_hamr_stack_takes_sizes_with_suffixes(void)
{
	int rc;
	CHECK_EQ_INT(stack_from_env("2M", &rc), 2 << 20);
	CHECK_EQ_INT(stack_from_env("2m", &rc), 2 << 20);
	CHECK_EQ_INT(stack_from_env("2MB", &rc), 2 << 20);
	CHECK_EQ_INT(stack_from_env("512K", &rc), 512 << 10);
	CHECK_EQ_INT(stack_from_env("1G", &rc), 1 << 30);
	CHECK_EQ_INT(stack_from_env("3000000", &rc), 3000000);
	CHECK_EQ_INT(stack_from_env("3000000 ", &rc), 3000000);

	const char *bad[] = {"abc", "2X", "-1", "1M2", "10", "63K", "65G", "9999999999999G", "M"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		CHECK_EQ_INT(stack_from_env(bad[i], &rc), -1);
		CHECK_EQ_INT(rc, HAMR_EINVAL);
		CHECK_CONTAINS(hamr_errmsg(), "HAMR_STACK=");
		CHECK_CONTAINS(hamr_errmsg(), "K, M or G suffix");
	}
}

static void test_stack_size_from_the_api_wins_and_is_checked(void)
{
	setenv("HAMR_STACK", "2M", 1);
	hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
	po.workers = 1;
	po.stack_size = (size_t)4 << 20;
	hamr_pool *pool = NULL;
	CHECK_OK(hamr_pool_create(&pool, &po));
	hamr_pool_opts got;
	hamr_pool_settings(pool, &got);
	CHECK_EQ_INT(got.stack_size, (size_t)4 << 20);
	hamr_pool_destroy(pool);
	unsetenv("HAMR_STACK");

	po.stack_size = 1000;
	pool = NULL;
	CHECK_RC(hamr_pool_create(&pool, &po), HAMR_EINVAL);
	CHECK(pool == NULL);
	CHECK_CONTAINS(hamr_errmsg(), "stack_size = 1000");

	/* unset everywhere: the thread library's default, reported as such */
	po.stack_size = 0;
	CHECK_OK(hamr_pool_create(&pool, &po));
	hamr_pool_settings(pool, &got);
	pthread_attr_t a;
	size_t dflt = 0;
	pthread_attr_init(&a);
	pthread_attr_getstacksize(&a, &dflt);
	pthread_attr_destroy(&a);
	CHECK_EQ_INT(got.stack_size, dflt);
	size_t sz = 0;
	CHECK_OK(hamr_pool_call(pool, read_stack, &sz));
	CHECK(stack_is(sz, dflt));
	hamr_pool_destroy(pool);
}

int main(void)
{
	RUN_TEST(test_compute_and_blocking_workers_get_the_stack_asked_for);
	RUN_TEST(test_deep_recursion_runs_on_a_big_stack);
	RUN_TEST(test_hamr_stack_takes_sizes_with_suffixes);
	RUN_TEST(test_stack_size_from_the_api_wins_and_is_checked);
	TEST_EXIT();
}
