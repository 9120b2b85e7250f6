// SPDX-License-Identifier: MIT
/* The pool: fork-join, task groups (any number of children, nested,
 * reused, outside a worker), parallel_for (lazy and fixed grain, nested,
 * inside a task), calls from many outside threads, an idle pool that stops using
 * CPU, worker names, and the tuning knobs with their errors. */
#include <dirent.h>
#include <hamr.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "tests/check.h"

static int small(void)
{
	return !getenv("HAMR_TEST_LONG");
}

/* ---- fib ----------------------------------------------------------------- */

typedef struct fib_arg {
	int n;
	long result;
} fib_arg;

static void fib_task(void *p)
{
	fib_arg *a = p;
	if (a->n < 2) {
		a->result = a->n;
		return;
	}
	fib_arg x = {a->n - 1, 0}, y = {a->n - 2, 0};
	hamr_task t;
	hamr_spawn(&t, fib_task, &x);
	fib_task(&y);
	hamr_sync(&t);
	a->result = x.result + y.result;
}

static long fib_serial(int n)
{
	return n < 2 ? n : fib_serial(n - 1) + fib_serial(n - 2);
}

static hamr_pool *make_pool(int workers)
{
	hamr_pool_opts o = HAMR_POOL_OPTS_INIT;
	o.workers = workers;
	hamr_pool *p = NULL;
	CHECK_OK(hamr_pool_create(&p, &o));
	return p;
}

static void test_fib_matches_serial(void)
{
	int n = small() ? 22 : 32;
	for (int workers = 1; workers <= 4; workers *= 2) {
		hamr_pool *p = make_pool(workers);
		fib_arg a = {n, 0};
		CHECK_OK(hamr_pool_call(p, fib_task, &a));
		CHECK_EQ_INT(a.result, fib_serial(n));
		hamr_worker_stats st, sum = {0};
		for (int i = 0; i < workers; i++) {
			CHECK_OK(hamr_pool_worker_stats(p, i, &st));
			sum.tasks += st.tasks;
			sum.steals += st.steals;
		}
		/* every spawned task ran once, plus the call itself */
		CHECK(sum.tasks >= 1);
		CHECK_RC(hamr_pool_worker_stats(p, workers, &st), HAMR_ERANGE);
		hamr_pool_destroy(p);
	}
}

static void test_spawn_outside_a_pool_runs_inline(void)
{
	fib_arg a = {15, 0};
	CHECK_EQ_INT(hamr_worker_index(), -1);
	fib_task(&a);
	CHECK_EQ_INT(a.result, 610);
}

/* ---- parallel_for ------------------------------------------------------------ */

typedef struct cover {
	atomic_uchar *seen;
	size_t max_range;
	atomic_size_t biggest;
	atomic_long calls;
} cover;

static void mark(size_t lo, size_t hi, void *arg)
{
	cover *c = arg;
	for (size_t i = lo; i < hi; i++)
		atomic_fetch_add_explicit(&c->seen[i], 1, memory_order_relaxed);
	size_t len = hi - lo, b = atomic_load(&c->biggest);
	while (len > b && !atomic_compare_exchange_weak(&c->biggest, &b, len))
		;
	atomic_fetch_add(&c->calls, 1);
}

static long covered_once(cover *c, size_t n)
{
	long wrong = 0;
	for (size_t i = 0; i < n; i++)
		wrong += atomic_load(&c->seen[i]) != 1;
	return wrong;
}

/* ---- task groups ---------------------------------------------------------- */

/* A tree: the root spawns `n` children into one group; each child marks
 * itself and spawns `grand` grandchildren into a group of its own, which it
 * waits for before it returns. Each node of the tree runs exactly once. */
typedef struct tree {
	size_t n, grand;
	atomic_uchar *ran;      /* per child: how many times it ran */
	atomic_size_t grand_ran;
	atomic_size_t sum;
} tree;

typedef struct child {
	tree *t;
	size_t i;
} child;

static void grandchild_task(void *arg)
{
	tree *t = arg;
	atomic_fetch_add(&t->grand_ran, 1);
}

static void child_task(void *arg)
{
	child *c = arg;
	atomic_fetch_add(&c->t->ran[c->i], 1);
	atomic_fetch_add(&c->t->sum, c->i);
	hamr_task_group g;
	hamr_task_group_init(&g);
	for (size_t k = 0; k < c->t->grand; k++)
		hamr_task_group_spawn(&g, grandchild_task, c->t);
	hamr_task_group_wait(&g);
}

typedef struct tree_call {
	tree *t;
	child *kids;
	int rounds;
	size_t early; /* children not yet run when a wait returned */
} tree_call;

/* On a worker: the children in one group, waited for, `rounds` times with
 * the same group (reused after its wait). */
static void tree_root(void *arg)
{
	tree_call *tc = arg;
	hamr_task_group g = HAMR_TASK_GROUP_INIT;
	for (int round = 0; round < tc->rounds; round++) {
		for (size_t i = 0; i < tc->t->n; i++)
			hamr_task_group_spawn(&g, child_task, &tc->kids[i]);
		hamr_task_group_wait(&g);
		for (size_t i = 0; i < tc->t->n; i++)
			tc->early += atomic_load(&tc->t->ran[i]) != (unsigned char)(round + 1);
	}
}

static void test_task_group_runs_every_child_once(void)
{
	size_t n = small() ? 2000 : 100000;
	for (int workers = 1; workers <= 4; workers *= 2) {
		hamr_pool *p = make_pool(workers);
		tree t = {.n = n, .grand = 3, .ran = calloc(n, sizeof *t.ran)};
		child *kids = malloc(n * sizeof *kids);
		CHECK(t.ran && kids);
		for (size_t i = 0; i < n; i++)
			kids[i] = (child){&t, i};
		tree_call tc = {&t, kids, 2, 0};
		CHECK_OK(hamr_pool_call(p, tree_root, &tc));
		CHECK_EQ_INT(tc.early, 0); /* each wait saw its round whole */
		/* two rounds through one group: every child twice, nothing lost
		 * or run more often */
		size_t wrong = 0;
		for (size_t i = 0; i < n; i++)
			wrong += atomic_load(&t.ran[i]) != 2;
		CHECK_EQ_INT(wrong, 0);
		CHECK_EQ_INT(atomic_load(&t.sum), 2 * (n * (n - 1) / 2));
		CHECK_EQ_INT(atomic_load(&t.grand_ran), 2 * n * t.grand);
		free(kids);
		free(t.ran);
		hamr_pool_destroy(p);
	}
}

static void count_run(void *arg)
{
	*(int *)arg += 1;
}

/* Outside a worker a group runs each function at once, as hamr_spawn
 * does, and its wait returns. */
static void test_task_group_outside_a_pool(void)
{
	hamr_task_group g;
	hamr_task_group_init(&g);
	int runs = 0;
	for (int i = 0; i < 5; i++) {
		hamr_task_group_spawn(&g, count_run, &runs);
		CHECK_EQ_INT(runs, i + 1);
	}
	hamr_task_group_wait(&g);
	CHECK_EQ_INT(runs, 5);
}

static void test_parallel_for_covers_each_index_once(void)
{
	size_t n = small() ? 200000 : 5000000;
	for (int workers = 1; workers <= 4; workers *= 2) {
		hamr_pool *p = make_pool(workers);
		cover c = {calloc(n, 1), 0, 0, 0};
		CHECK_OK(hamr_pool_parallel_for(p, 0, n, mark, &c));
		CHECK_EQ_INT(covered_once(&c, n), 0);
		/* lazy: chunks grow, so far fewer calls than items */
		CHECK(atomic_load(&c.calls) < (long)(n / 16));
		free(c.seen);
		hamr_pool_destroy(p);
	}
}

static void test_parallel_for_fixed_grain(void)
{
	hamr_pool_opts o = HAMR_POOL_OPTS_INIT;
	o.workers = 2;
	o.grain = 7;
	hamr_pool *p = NULL;
	CHECK_OK(hamr_pool_create(&p, &o));
	size_t n = 10007;
	cover c = {calloc(n, 1), 0, 0, 0};
	CHECK_OK(hamr_pool_parallel_for(p, 0, n, mark, &c));
	CHECK_EQ_INT(covered_once(&c, n), 0);
	CHECK(atomic_load(&c.biggest) <= 7);
	CHECK(atomic_load(&c.calls) >= (long)(n / 7));
	free(c.seen);
	hamr_pool_destroy(p);
}

typedef struct nested {
	atomic_llong sum;
	size_t inner;
} nested;

static void inner_body(size_t lo, size_t hi, void *arg)
{
	nested *nst = arg;
	long long s = 0;
	for (size_t j = lo; j < hi; j++)
		s += (long long)j;
	atomic_fetch_add(&nst->sum, s);
}

static void outer_body(size_t lo, size_t hi, void *arg)
{
	nested *nst = arg;
	for (size_t i = lo; i < hi; i++)
		hamr_parallel_for(0, nst->inner, inner_body, nst);
}

static void test_nested_parallel_for(void)
{
	hamr_pool *p = make_pool(2);
	nested nst = {0, 1000};
	size_t outer = small() ? 300 : 3000;
	CHECK_OK(hamr_pool_parallel_for(p, 0, outer, outer_body, &nst));
	CHECK_EQ_INT(atomic_load(&nst.sum), (long long)outer * 999 * 1000 / 2);
	hamr_pool_destroy(p);
}

/* ---- calls from many threads --------------------------------------------------- */

struct caller {
	hamr_pool *p;
	int wrong;
};

static void *call_many(void *arg)
{
	struct caller *c = arg;
	for (int i = 0; i < 50; i++) {
		fib_arg a = {12 + i % 5, 0};
		if (hamr_pool_call(c->p, fib_task, &a) || a.result != fib_serial(a.n))
			c->wrong++;
		if (hamr_worker_index() != -1)
			c->wrong++;
	}
	return NULL;
}

static void test_calls_from_many_threads(void)
{
	hamr_pool *p = make_pool(2);
	pthread_t t[6];
	struct caller c[6];
	for (int i = 0; i < 6; i++) {
		c[i] = (struct caller){p, 0};
		pthread_create(&t[i], NULL, call_many, &c[i]);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ_INT(c[i].wrong, 0);
	}
	hamr_pool_destroy(p);
}

/* ---- idle, names, knobs ----------------------------------------------------------- */

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int count_threads_named(const char *prefix)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d))) {
		char path[300], name[32] = "";
		snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(path, "r");
		if (f) {
			if (fgets(name, sizeof name, f) && !strncmp(name, prefix, strlen(prefix)))
				n++;
			fclose(f);
		}
	}
	if (d)
		closedir(d);
	return n;
}

static void test_idle_pool_uses_no_cpu(void)
{
	hamr_pool_opts o = HAMR_POOL_OPTS_INIT;
	o.workers = 3;
	o.spin_us = 100;
	hamr_pool *p = NULL;
	CHECK_OK(hamr_pool_create(&p, &o));
	CHECK_EQ_INT(count_threads_named("hamr-w"), 3);
	fib_arg a = {18, 0};
	CHECK_OK(hamr_pool_call(p, fib_task, &a));
	/* every worker parks once its spin is over: wait until each has,
	 * however long a loaded machine takes to let it (parks counts a
	 * worker on its way into the futex wait) */
	for (int parked = 0; parked < o.workers;) {
		usleep(1000);
		parked = 0;
		for (int i = 0; i < o.workers; i++) {
			hamr_worker_stats st;
			CHECK_OK(hamr_pool_worker_stats(p, i, &st));
			parked += st.parks >= 1;
		}
	}
	usleep(1000); /* past the last few instructions before the wait */
	double before = cpu_seconds();
	usleep(300 * 1000);
	double used = cpu_seconds() - before;
	/* three spinning workers would burn 0.9 s; parked ones nothing */
	if (used > 0.03)
		fprintf(stderr, "idle pool used %.3f s of CPU in 0.3 s\n", used);
	CHECK(used <= 0.03);
	hamr_worker_stats st;
	CHECK_OK(hamr_pool_worker_stats(p, 0, &st));
	CHECK(st.parks >= 1);
	hamr_pool_destroy(p);
	CHECK_EQ_INT(count_threads_named("hamr-w"), 0);
}

static void test_knobs_api_wins_and_bad_values_fail(void)
{
	hamr_pool *p = NULL;
	hamr_pool_opts got;
	setenv("HAMR_WORKERS", "3", 1);
	setenv("HAMR_SPIN", "7", 1);
	setenv("HAMR_GRAIN", "64", 1);
	CHECK_OK(hamr_pool_create(&p, NULL));
	hamr_pool_settings(p, &got);
	CHECK_EQ_INT(got.workers, 3);
	CHECK_EQ_INT(got.spin_us, 7);
	CHECK_EQ_INT(got.grain, 64);
	CHECK_EQ_INT(got.pin, 0);
	hamr_pool_destroy(p);

	hamr_pool_opts o = HAMR_POOL_OPTS_INIT;
	o.workers = 2;
	o.spin_us = HAMR_OFF; /* an explicit zero wins over HAMR_SPIN */
	CHECK_OK(hamr_pool_create(&p, &o));
	hamr_pool_settings(p, &got);
	CHECK_EQ_INT(got.workers, 2); /* the API wins over HAMR_WORKERS */
	CHECK_EQ_INT(got.spin_us, 0);
	hamr_pool_destroy(p);

	const char *bad[][2] = {{"HAMR_WORKERS", "abc"}, {"HAMR_WORKERS", "0"},
	                        {"HAMR_SPIN", "-5"},     {"HAMR_PIN", "2"},
	                        {"HAMR_GRAIN", "12x"},   {"HAMR_BLOCKING_WORKERS", ""}};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		unsetenv("HAMR_WORKERS");
		unsetenv("HAMR_SPIN");
		unsetenv("HAMR_GRAIN");
		setenv(bad[i][0], bad[i][1], 1);
		p = NULL;
		int rc = hamr_pool_create(&p, NULL);
		if (!*bad[i][1]) { /* empty means unset */
			CHECK_OK(rc);
		} else {
			CHECK_RC(rc, HAMR_EINVAL);
			CHECK_CONTAINS(hamr_errmsg(), bad[i][0]);
			CHECK_CONTAINS(hamr_errmsg(), bad[i][1]);
			CHECK(p == NULL);
		}
		hamr_pool_destroy(p);
		unsetenv(bad[i][0]);
	}
	o = (hamr_pool_opts)HAMR_POOL_OPTS_INIT;
	o.pin = 5;
	CHECK_RC(hamr_pool_create(&p, &o), HAMR_EINVAL);
	CHECK(hamr_cpu_count() >= 1);
}

/* A designated initializer leaves every other knob unset, so spin_us and
 * pin still come from the environment; HAMR_OFF is the explicit zero. */
static void test_zero_knobs_take_the_environment_and_off_wins(void)
{
	hamr_pool *p = NULL;
	hamr_pool_opts got;
	setenv("HAMR_SPIN", "7", 1);
	setenv("HAMR_PIN", "1", 1);
	hamr_pool_opts o = {.workers = 2};
	CHECK_OK(hamr_pool_create(&p, &o));
	hamr_pool_settings(p, &got);
	CHECK_EQ_INT(got.workers, 2);
	CHECK_EQ_INT(got.spin_us, 7);
	CHECK_EQ_INT(got.pin, 1);
	hamr_pool_destroy(p);

	o = (hamr_pool_opts){.workers = 2, .spin_us = HAMR_OFF, .pin = HAMR_OFF};
	CHECK_OK(hamr_pool_create(&p, &o));
	hamr_pool_settings(p, &got);
	CHECK_EQ_INT(got.spin_us, 0);
	CHECK_EQ_INT(got.pin, 0);
	hamr_pool_destroy(p);
	unsetenv("HAMR_SPIN");
	unsetenv("HAMR_PIN");

	p = NULL;
	o = (hamr_pool_opts){.spin_us = -2};
	CHECK_RC(hamr_pool_create(&p, &o), HAMR_EINVAL);
	CHECK_CONTAINS(hamr_errmsg(), "spin_us = -2");
	o = (hamr_pool_opts){.pin = -2};
	CHECK_RC(hamr_pool_create(&p, &o), HAMR_EINVAL);
	CHECK_CONTAINS(hamr_errmsg(), "pin = -2");
	CHECK(p == NULL);
}

static void test_pinned_pool_runs(void)
{
	hamr_pool_opts o = HAMR_POOL_OPTS_INIT;
	o.workers = 2;
	o.pin = 1;
	hamr_pool *p = NULL;
	CHECK_OK(hamr_pool_create(&p, &o));
	fib_arg a = {16, 0};
	CHECK_OK(hamr_pool_call(p, fib_task, &a));
	CHECK_EQ_INT(a.result, 987);
	hamr_pool_destroy(p);
}

int main(void)
{
	RUN_TEST(test_spawn_outside_a_pool_runs_inline);
	RUN_TEST(test_fib_matches_serial);
	RUN_TEST(test_task_group_runs_every_child_once);
	RUN_TEST(test_task_group_outside_a_pool);
	RUN_TEST(test_parallel_for_covers_each_index_once);
	RUN_TEST(test_parallel_for_fixed_grain);
	RUN_TEST(test_nested_parallel_for);
	RUN_TEST(test_calls_from_many_threads);
	RUN_TEST(test_idle_pool_uses_no_cpu);
	RUN_TEST(test_knobs_api_wins_and_bad_values_fail);
	RUN_TEST(test_zero_knobs_take_the_environment_and_off_wins);
	RUN_TEST(test_pinned_pool_runs);
	TEST_EXIT();
}
