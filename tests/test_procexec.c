// SPDX-License-Identifier: MIT
/* The process executor: map blocks and plain nodes in worker processes,
 * results that cross in place, crash isolation with retries and timeouts,
 * the arena's limits, codec checks before a run, forked copies of the
 * program, and no leaks.
 *
 * Crashes are injected by the nodes themselves on their first attempt
 * (hamr_attempt), chosen from the item index by a fixed hash, so every
 * run knows which items must fail or succeed. No outcome depends on how
 * fast the machine is: a run with crashes has a timeout no slow task can
 * reach, and a run that tests timeouts times only tasks that wait for
 * something that never comes. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <hamr.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/check.h"
#include "tests/nodes.h"
#include "tests/procfs.h"
#include "tests/sanitizers.h"

/* A timeout for runs with crashes: a day, which no task that merely runs
 * slowly (a sanitizer's report on a loaded machine) reaches, so a crash is
 * never taken for a hang. */
#define NO_TIMEOUT_MS (24L * 3600 * 1000)
/* A timeout for tasks that wait forever: only the timeout ends them. */
#define HANG_TIMEOUT_MS 100
#define HANG_TIMEOUT_TEXT "HAMR_TASK_TIMEOUT (100 ms)"

static hamr_procpool *pp;

/* Memory shared with the fork server and so with every worker (mapped
 * before the server starts): what the tests and the nodes they run tell
 * each other. */
typedef struct shared {
	atomic_int waiting; /* tasks waiting on `gate` or forever */
	atomic_int gate;    /* 1: gated tasks go on */
	atomic_int exiter;  /* the pid of the worker f_exit ran in */
	atomic_int self_kill; /* 1: f_exit dies of its own SIGKILL */
} shared;

static shared *sh;

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* A graph, its inputs, a plan and a run, made in steps: graph_with_n,
 * then plan (planned does both), then a run (run_with does it all);
 * done destroys what was made. */
typedef struct fixture {
	hamr_graph *g;
	hamr_values *in;
	hamr_plan *p;
	hamr_run *r;
	int create_rc, run_rc;
} fixture;

/* A graph of the module defs (NULL: an empty one, for a test that loads
 * its module itself) and inputs with n set: f.g and f.in. A test with
 * more inputs sets them in f.in before it plans. */
static fixture graph_with_n(const hamr_node_def *defs, int64_t n)
{
	fixture f = {0};
	hamr_module m = {"procexec", defs};
	CHECK_OK(hamr_graph_create(&f.g));
	if (defs)
		CHECK_OK(hamr_graph_add_module(f.g, &m));
	CHECK_OK(hamr_values_create(&f.in));
	CHECK_OK(hamr_values_set_i64(f.in, "n", n));
	return f;
}

/* The plan of outs from f's graph and inputs: f.p. */
static void plan(fixture *f, const char *const *outs, size_t n_outs)
{
	CHECK_OK(hamr_plan_create(&f->p, f->g, outs, n_outs, f->in));
}

static fixture planned(const hamr_node_def *defs, const char *const *outs, size_t n_outs,
                       int64_t n)
{
	fixture f = graph_with_n(defs, n);
	plan(&f, outs, n_outs);
	return f;
}

/* planned, then a run with options o, waited for: f.r, with
 * hamr_run_create's rc in f.create_rc and the run's in f.run_rc. */
static fixture run_with(const hamr_node_def *defs, const char *const *outs, size_t n_outs,
                        int64_t n, const hamr_run_opts *o)
{
	fixture f = planned(defs, outs, n_outs, n);
	f.create_rc = hamr_run_create(&f.r, f.p, f.in, o);
	if (!f.create_rc) {
		CHECK_OK(hamr_run_start(f.r));
		f.run_rc = hamr_run_wait(f.r);
	}
	return f;
}

static void done(fixture *f)
{
	hamr_run_destroy(f->r);
	hamr_plan_destroy(f->p);
	hamr_graph_destroy(f->g);
	hamr_values_destroy(f->in);
}

static hamr_run_opts on_processes(void)
{
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	o.remote = HAMR_REMOTE_PROCESSES;
	o.procpool = pp;
	return o;
}

static int f_pid(hamr_call *c)
{
	return hamr_ret_i64(c, (int64_t)getpid());
}

static int f_square(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	return hamr_ret_i64(c, x * x + hamr_arg_i64(c, 1));
}

static int f_offset(hamr_call *c)
{
	return hamr_ret_i64(c, 7);
}

static int f_distinct(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	int64_t n = 0;
	for (size_t i = 0; i < l.len; i++) {
		size_t k = 0;
		while (k < i && hamr_list_i64(l, k) != hamr_list_i64(l, i))
			k++;
		n += k == i;
	}
	return hamr_ret_i64(c, n);
}

static const hamr_node_def square_defs[] = {
	INPUT_N,
	{.name = "offset", .fn = f_offset, .type = HAMR_I64},
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "square", .fn = f_square, .type = HAMR_I64,
	 .deps = DEPS(HAMR_DEP("items", HAMR_I64), HAMR_DEP("offset", HAMR_I64))},
	{.name = "pid", .fn = f_pid, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("square", HAMR_I64))},
	{.name = "pids", .fn = f_distinct, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("pid", HAMR_I64))},
	{0}};

/* square_defs' "total" over n items */
static int64_t squares(int64_t n)
{
	int64_t s = 0;
	for (int64_t i = 0; i < n; i++)
		s += i * i + 7;
	return s;
}

static void test_a_block_in_processes(void)
{
	const char *outs[] = {"total", "pids"};
	int64_t n = 2000, want = squares(n);
	hamr_run_opts o = on_processes();
	fixture f = run_with(square_defs, outs, 2, n, &o);
	CHECK_OK(f.create_rc);
	CHECK_OK(f.run_rc);
	int64_t total = 0, pids = 0;
	CHECK_OK(hamr_run_result_i64(f.r, "total", &total));
	CHECK_OK(hamr_run_result_i64(f.r, "pids", &pids));
	CHECK_EQ_INT(total, want);
	/* the items ran in the pool's workers, not here */
	CHECK(pids >= 2 && pids <= hamr_procpool_size(pp));
	hamr_process_stats st;
	CHECK_OK(hamr_run_process_stats(f.r, &st));
	CHECK_EQ_INT(st.tasks, n);
	CHECK_EQ_INT(st.bytes_copied, 0); /* scalars only */
	CHECK_EQ_INT(st.crashes, 0);
	done(&f);
	/* the same on the sequential executor */
	hamr_run_opts seq = HAMR_RUN_OPTS_INIT;
	f = run_with(square_defs, outs, 1, n, &seq);
	CHECK_OK(hamr_run_result_i64(f.r, "total", &total));
	CHECK_EQ_INT(total, want);
	done(&f);
}



typedef struct task_seen {
	atomic_int task_ends, from_workers, node_ends;
	atomic_llong items;
	int self;
} task_seen;

static void task_hook(const hamr_event *e, void *ud)
{
	task_seen *t = ud;
	if (e->kind == HAMR_EV_TASK_END) {
		atomic_fetch_add(&t->task_ends, 1);
		atomic_fetch_add(&t->items, e->count);
		if (e->pid != t->self && e->start_ns <= e->t_ns && e->t_ns > 0)
			atomic_fetch_add(&t->from_workers, 1);
	}
	if (e->kind == HAMR_EV_NODE_END && !strcmp(e->node, "square"))
		atomic_fetch_add(&t->node_ends, 1);
}

static void test_block_events_come_from_workers(void)
{
	const char *outs[] = {"total"};
	task_seen t = {.self = (int)getpid()};
	hamr_hook hook = {task_hook, &t};
	hamr_run_opts o = on_processes();
	o.hooks = &hook;
	o.n_hooks = 1;
	o.stats = 1;
	fixture f = run_with(square_defs, outs, 1, 500, &o);
	CHECK_OK(f.run_rc);
	CHECK_EQ_INT(atomic_load(&t.task_ends), 500);
	CHECK_EQ_INT(atomic_load(&t.items), 500);
	CHECK_EQ_INT(atomic_load(&t.from_workers), 500);
	CHECK_EQ_INT(atomic_load(&t.node_ends), 500);
	hamr_run_stats st;
	CHECK_OK(hamr_run_stats_get(f.r, &st));
	CHECK_EQ_INT(st.n_blocks, 1);
	CHECK_EQ_INT(st.blocks[0].items, 500);
	CHECK_EQ_INT(st.blocks[0].tasks, 500);
	done(&f);
}

/* ---- plain nodes, zero copy, user types with codecs ------------------------ */

typedef struct pt {
	int64_t x, y;
} pt;

static size_t pt_encode(const void *obj, void *buf, size_t cap)
{
	if (cap >= sizeof(pt))
		memcpy(buf, obj, sizeof(pt));
	return sizeof(pt);
}

static int pt_decode(const void *buf, size_t len, void **obj)
{
	if (len != sizeof(pt))
		return HAMR_ECODEC;
	pt *p = malloc(sizeof *p);
	if (!p)
		return HAMR_ENOMEM;
	memcpy(p, buf, sizeof *p);
	*obj = p;
	return 0;
}

static const hamr_type_desc pt_type = {.name = "test.pt", .size = sizeof(pt),
                                       .encode = pt_encode, .decode = pt_decode};
static const hamr_type_desc raw_type = {.name = "test.raw", .size = sizeof(pt)};

static int f_big(hamr_call *c)
{
	size_t n = (size_t)hamr_arg_i64(c, 0);
	unsigned char *b = hamr_ret_alloc(c, n);
	if (!b)
		return HAMR_ENOMEM;
	for (size_t k = 0; k < n; k += 4096)
		b[k] = (unsigned char)(k / 4096);
	return 0;
}

static int f_check_big(hamr_call *c)
{
	size_t n = 0;
	const unsigned char *b = hamr_arg_bytes(c, 0, &n);
	int64_t bad = 0;
	for (size_t k = 0; k < n; k += 4096)
		bad += b[k] != (unsigned char)(k / 4096);
	return hamr_ret_i64(c, bad ? -bad : (int64_t)n);
}

static int f_greet(hamr_call *c)
{
	char buf[64];
	snprintf(buf, sizeof buf, "hello %lld", (long long)hamr_arg_i64(c, 0));
	return hamr_ret_str(c, buf);
}

static int f_point(hamr_call *c)
{
	pt *p;
	hamr_value v;
	int rc = hamr_value_alloc_user(&v, &pt_type, (void **)&p);
	if (rc)
		return rc;
	p->x = hamr_arg_i64(c, 0);
	p->y = 3 * p->x;
	return hamr_ret_value(c, &v);
}

static int f_norm(hamr_call *c)
{
	const pt *p = hamr_arg_user(c, 0);
	size_t n = 0;
	hamr_arg_str(c, 1);
	hamr_value_str(hamr_arg(c, 1), &n);
	return hamr_ret_i64(c, p ? p->x + p->y + (int64_t)n : -1);
}

static const hamr_node_def plain_defs[] = {
	INPUT_N,
	{.name = "big", .fn = f_big, .type = HAMR_BYTES, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "checked", .fn = f_check_big, .type = HAMR_I64,
	 .deps = DEPS(HAMR_DEP("big", HAMR_BYTES))},
	{.name = "greeting", .fn = f_greet, .type = HAMR_STR, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "point", .fn = f_point, .type = &pt_type, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "norm", .fn = f_norm, .type = HAMR_I64,
	 .deps = DEPS(HAMR_DEP("point", &pt_type), HAMR_DEP("greeting", HAMR_STR))},
	{.name = "pid", .fn = f_pid, .type = HAMR_I64},
	{0}};

typedef struct seen {
	atomic_int starts, ends, child_pid_ends;
	int self;
} seen;

static void count_hook(const hamr_event *e, void *ud)
{
	seen *s = ud;
	if (e->kind == HAMR_EV_NODE_START)
		atomic_fetch_add(&s->starts, 1);
	if (e->kind == HAMR_EV_NODE_END) {
		atomic_fetch_add(&s->ends, 1);
		if (e->pid != s->self && e->start_ns <= e->t_ns)
			atomic_fetch_add(&s->child_pid_ends, 1);
	}
}

static void test_plain_nodes_in_processes(void)
{
	const char *outs[] = {"big", "checked", "greeting", "norm", "pid"};
	int64_t n = 1 << 20;
	seen sn = {.self = (int)getpid()};
	hamr_hook hook = {count_hook, &sn};
	hamr_run_opts o = on_processes();
	o.executor = HAMR_EXEC_PROCESSES;
	o.hooks = &hook;
	o.n_hooks = 1;
	fixture f = run_with(plain_defs, outs, 5, n, &o);
	CHECK_OK(f.create_rc);
	CHECK_OK(f.run_rc);
	int64_t checked = 0, norm = 0, pid = 0;
	CHECK_OK(hamr_run_result_i64(f.r, "checked", &checked));
	CHECK_EQ_INT(checked, n);
	const hamr_value *big = hamr_run_result(f.r, "big");
	size_t len = 0;
	const unsigned char *b = hamr_value_bytes(big, &len);
	CHECK_EQ_INT(len, n);
	CHECK(b && b[4096 * 5] == 5);
	const char *g = NULL;
	CHECK_OK(hamr_run_result_str(f.r, "greeting", &g));
	CHECK_EQ_STR(g, "hello 1048576");
	CHECK_OK(hamr_run_result_i64(f.r, "norm", &norm));
	CHECK_EQ_INT(norm, 4 * n + (int64_t)strlen("hello 1048576"));
	CHECK_OK(hamr_run_result_i64(f.r, "pid", &pid));
	CHECK(pid != getpid());
	hamr_process_stats st;
	CHECK_OK(hamr_run_process_stats(f.r, &st));
	CHECK_EQ_INT(st.tasks, 6);
	/* the 1 MiB result crossed in place (twice: back, and to "checked");
	 * only the string and the point were copied */
	CHECK(st.bytes_shared >= 2 * (uint64_t)n);
	CHECK(st.bytes_copied > 0 && st.bytes_copied < 256);
	/* node events came from the workers, timed there */
	CHECK_EQ_INT(atomic_load(&sn.starts), 6);
	CHECK_EQ_INT(atomic_load(&sn.ends), 6);
	CHECK_EQ_INT(atomic_load(&sn.child_pid_ends), 6);
	done(&f);
}

static void test_zero_copy_result(void)
{
	const char *outs[] = {"big"};
	for (int64_t n = 1 << 20; n <= (64 << 20); n *= 64) {
		hamr_run_opts o = on_processes();
		o.executor = HAMR_EXEC_PROCESSES;
		fixture f = run_with(plain_defs, outs, 1, n, &o);
		CHECK_OK(f.run_rc);
		hamr_process_stats st;
		CHECK_OK(hamr_run_process_stats(f.r, &st));
		CHECK_EQ_INT(st.bytes_copied, 0);
		CHECK_EQ_INT(st.bytes_shared, n);
		size_t len = 0;
		const unsigned char *b = hamr_value_bytes(hamr_run_result(f.r, "big"), &len);
		CHECK_EQ_INT(len, n);
		CHECK(b && b[n - 4096] == (unsigned char)((n - 4096) / 4096));
		done(&f);
	}
}

static int f_raw(hamr_call *c)
{
	pt *p;
	hamr_value v;
	int rc = hamr_value_alloc_user(&v, &raw_type, (void **)&p);
	if (rc)
		return rc;
	p->x = hamr_arg_i64(c, 0);
	return hamr_ret_value(c, &v);
}

static const hamr_node_def raw_defs[] = {
	INPUT_N,
	{.name = "raw", .fn = f_raw, .type = &raw_type, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{0}};

static void test_a_type_without_codec_is_refused(void)
{
	const char *outs[] = {"raw"};
	hamr_run_opts o = on_processes();
	o.executor = HAMR_EXEC_PROCESSES;
	fixture f = run_with(raw_defs, outs, 1, 1, &o);
	CHECK_RC(f.create_rc, HAMR_ECODEC);
	CHECK_CONTAINS(hamr_errmsg(), "\"raw\"");
	CHECK_CONTAINS(hamr_errmsg(), "test.raw");
	CHECK_CONTAINS(hamr_errmsg(), "no codec");
	done(&f);
	/* on threads the same graph runs */
	o.executor = HAMR_EXEC_THREADS;
	f = run_with(raw_defs, outs, 1, 1, &o);
	CHECK_OK(f.create_rc);
	CHECK_OK(f.run_rc);
	done(&f);
}

/* ---- crashes, timeouts, retries --------------------------------------------- */

/* Which items crash on their first attempt, and how: about 10%. */
static int mischief(int64_t i)
{
	uint64_t h = (uint64_t)i * 0x9e3779b97f4a7c15ull;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return h % 10 == 0 ? 1 + (int)(h / 10 % 2) : 0; /* 1 kill, 2 segv */
}

static int f_risky(hamr_call *c)
{
	int64_t i = hamr_arg_i64(c, 0);
	if (hamr_attempt(c) == 1) {
		switch (mischief(i)) {
		case 1:
			kill(getpid(), SIGKILL);
			break;
		case 2:
			raise(SIGSEGV);
			break;
		default:
			break;
		}
	}
	return hamr_ret_i64(c, 3 * i + hamr_attempt(c) - 1);
}

static int f_list(hamr_call *c)
{
	return hamr_ret_arg(c, 0);
}

static const hamr_node_def risky_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "risky", .fn = f_risky, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "all", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED_TOLERANT("risky", HAMR_I64))},
	{.name = "values", .kind = HAMR_NODE_COLLECT, .type = HAMR_LIST, .fn = f_list,
	 .deps = DEPS(HAMR_DEP_COLLECTED_TOLERANT("risky", HAMR_I64))},
	{0}};

static void test_crashes_with_retries(void)
{
	const char *outs[] = {"all"};
	int64_t n = 1000, want = 0, bad = 0;
	for (int64_t i = 0; i < n; i++) {
		want += 3 * i + (mischief(i) ? 1 : 0); /* the retry's value */
		bad += mischief(i) != 0;
	}
	CHECK(bad >= 60 && bad <= 140);
	hamr_run_opts o = on_processes();
	o.retries = 1;
	o.task_timeout_ms = NO_TIMEOUT_MS;
	fixture f = run_with(risky_defs, outs, 1, n, &o);
	CHECK_OK(f.run_rc);
	int64_t all = 0;
	CHECK_OK(hamr_run_result_i64(f.r, "all", &all));
	CHECK_EQ_INT(all, want);
	hamr_process_stats st;
	CHECK_OK(hamr_run_process_stats(f.r, &st));
	CHECK_EQ_INT(st.crashes, bad);
	CHECK_EQ_INT(st.timeouts, 0);
	CHECK_EQ_INT(st.retries, bad);
	CHECK_EQ_INT(st.tasks, n);
	done(&f);
}

static void test_crashes_without_retries(void)
{
	const char *outs[] = {"values"};
	int64_t n = 1000;
	hamr_run_opts o = on_processes();
	o.retries = 0;
	o.task_timeout_ms = NO_TIMEOUT_MS;
	o.policy = HAMR_KEEP_GOING;
	fixture f = run_with(risky_defs, outs, 1, n, &o);
	CHECK_RC(f.run_rc, HAMR_ECRASH);
	size_t n_bad = 0;
	for (int64_t i = 0; i < n; i++)
		n_bad += mischief(i) != 0;
	CHECK_EQ_INT(hamr_run_error_count(f.r), n_bad);
	int kills = 0, segvs = 0;
	for (size_t k = 0; k < hamr_run_error_count(f.r); k++) {
		const hamr_error_info *e = hamr_run_error_at(f.r, k);
		CHECK_EQ_STR(e->node, "risky");
		CHECK(e->item >= 0 && e->item < n && mischief(e->item) != 0);
		CHECK(e->pid > 0 && e->pid != getpid());
		CHECK_EQ_INT(e->attempt, 1);
		CHECK_EQ_INT(e->code, HAMR_ECRASH);
		int how = e->item >= 0 && e->item < n ? mischief(e->item) : 0;
		if (how == 1) {
			kills++;
			CHECK_EQ_INT(e->signal, SIGKILL);
			CHECK_CONTAINS(e->message, "signal 9 (SIGKILL)");
		} else if (how == 2) {
			segvs++;
			/* AddressSanitizer and ThreadSanitizer catch SIGSEGV,
			 * report, and exit */
#ifdef SANITIZED
			CHECK_CONTAINS(e->message, "exited with status");
#else
			CHECK_EQ_INT(e->signal, SIGSEGV);
			CHECK_CONTAINS(e->message, "SIGSEGV");
#endif
		}
		char pid[32];
		snprintf(pid, sizeof pid, "process %d", e->pid);
		CHECK_CONTAINS(e->message, pid);
	}
	CHECK(kills > 0 && segvs > 0);
	hamr_process_stats st;
	CHECK_OK(hamr_run_process_stats(f.r, &st));
	CHECK_EQ_INT(st.crashes, n_bad);
	CHECK_EQ_INT(st.timeouts, 0);
	/* every other item's value is there, in item order */
	hamr_list l = hamr_value_list(hamr_run_result(f.r, "values"));
	CHECK_EQ_INT(l.len, (size_t)n - n_bad);
	size_t k = 0;
	for (int64_t i = 0; i < n && k < l.len; i++)
		if (!mischief(i))
			CHECK_EQ_INT(hamr_list_i64(l, k++), 3 * i);
	done(&f);
}

/* Waits for what never comes: only a kill ends it. */
static int f_stuck(hamr_call *c)
{
	(void)c;
	atomic_fetch_add(&sh->waiting, 1);
	for (;;)
		pause();
	return 0; /* never */
}

static const hamr_node_def stuck_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "stuck", .fn = f_stuck, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "values", .kind = HAMR_NODE_COLLECT, .type = HAMR_LIST, .fn = f_list,
	 .deps = DEPS(HAMR_DEP_COLLECTED_TOLERANT("stuck", HAMR_I64))},
	{0}};

/* Every task waits forever, so each attempt ends by its timeout, whatever
 * the machine's speed: each item fails on its last attempt. */
static void test_timeouts_with_and_without_retries(void)
{
	const char *outs[] = {"values"};
	int64_t n = 8;
	for (int retries = 0; retries <= 2; retries += 2) {
		hamr_run_opts o = on_processes();
		o.retries = retries;
		o.task_timeout_ms = HANG_TIMEOUT_MS;
		o.policy = HAMR_KEEP_GOING;
		fixture f = run_with(stuck_defs, outs, 1, n, &o);
		CHECK_RC(f.run_rc, HAMR_ETIMEDOUT);
		CHECK_EQ_INT(hamr_run_error_count(f.r), n);
		uint64_t items_seen = 0;
		for (size_t k = 0; k < hamr_run_error_count(f.r); k++) {
			const hamr_error_info *e = hamr_run_error_at(f.r, k);
			CHECK_EQ_STR(e->node, "stuck");
			CHECK_EQ_INT(e->code, HAMR_ETIMEDOUT);
			CHECK_EQ_INT(e->signal, SIGKILL);
			CHECK_EQ_INT(e->attempt, retries + 1);
			CHECK(e->pid > 0 && e->pid != getpid());
			CHECK_CONTAINS(e->message, HANG_TIMEOUT_TEXT);
			CHECK_CONTAINS(e->message, "which was killed");
			char pid[32];
			snprintf(pid, sizeof pid, "process %d", e->pid);
			CHECK_CONTAINS(e->message, pid);
			if (e->item >= 0 && e->item < n)
				items_seen |= 1ull << e->item;
		}
		CHECK_EQ_INT(items_seen, (1ull << n) - 1); /* each item once */
		CHECK_EQ_INT(hamr_value_list(hamr_run_result(f.r, "values")).len, 0);
		hamr_process_stats st;
		CHECK_OK(hamr_run_process_stats(f.r, &st));
		CHECK_EQ_INT(st.timeouts, n * (retries + 1));
		CHECK_EQ_INT(st.retries, n * retries);
		CHECK_EQ_INT(st.crashes, 0);
		CHECK_EQ_INT(st.tasks, 0);
		done(&f);
	}
}

/* The worker dies of its own accord: exits with status 5, or, with
 * sh->self_kill, sends itself the SIGKILL a timeout would send. */
static int f_exit(hamr_call *c)
{
	(void)c;
	atomic_store(&sh->exiter, (int)getpid());
	if (atomic_load(&sh->self_kill))
		raise(SIGKILL);
	_exit(5);
}

static const hamr_node_def exit_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "exits", .fn = f_exit, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "values", .kind = HAMR_NODE_COLLECT, .type = HAMR_LIST, .fn = f_list,
	 .deps = DEPS(HAMR_DEP_COLLECTED_TOLERANT("exits", HAMR_I64))},
	{0}};

/* With the fork server stopped: once the worker that exits is a zombie
 * (which the stopped server cannot reap), waits out the timeout three
 * times over, so that the program has found the task past it and asked
 * the server to kill the worker, and lets the server go on. The outcome
 * does not hang on how long that is: a server let go sooner reaps the
 * worker first, and that is a crash too. */
static void *continue_server(void *server)
{
	pid_t w;
	while (!(w = atomic_load(&sh->exiter)) || proc_state(w, NULL) != 'Z')
		sleep_ms(1);
	sleep_ms(3 * HANG_TIMEOUT_MS);
	kill((pid_t)(intptr_t)server, SIGCONT);
	return NULL;
}

/* A worker found dead when its task's timeout is handled died of its own
 * accord: the run reports how (exit status 5, or its own SIGKILL), not a
 * timeout. The fork server is stopped while the task runs, so the worker
 * stays a zombie, dead and not yet reaped, when the program asks for the
 * kill. The SIGKILL case needs the server's word that it killed nothing:
 * the death alone looks like the kill's. */
static void death_at_the_timeout(int self_kill)
{
	const char *outs[] = {"values"};
	atomic_store(&sh->exiter, 0);
	atomic_store(&sh->self_kill, self_kill);
	pid_t server = parent_of(hamr_procpool_pid(pp, 0));
	CHECK(server > 0 && server != getpid());
	kill(server, SIGSTOP);
	while (proc_state(server, NULL) != 'T')
		sleep_ms(1);
	pthread_t cont;
	int helper = !pthread_create(&cont, NULL, continue_server, (void *)(intptr_t)server);
	CHECK(helper);
	if (!helper) {
		kill(server, SIGCONT);
		return;
	}
	hamr_run_opts o = on_processes();
	o.retries = 0;
	o.task_timeout_ms = HANG_TIMEOUT_MS;
	o.policy = HAMR_KEEP_GOING;
	fixture f = run_with(exit_defs, outs, 1, 1, &o);
	pthread_join(cont, NULL);
	CHECK_RC(f.run_rc, HAMR_ECRASH);
	CHECK_EQ_INT(hamr_run_error_count(f.r), 1);
	const hamr_error_info *e = hamr_run_error(f.r);
	CHECK(e != NULL);
	if (e) {
		CHECK_EQ_INT(e->code, HAMR_ECRASH);
		CHECK_EQ_INT(e->item, 0);
		CHECK_EQ_INT(e->signal, self_kill ? SIGKILL : 0);
		CHECK_EQ_INT(e->pid, atomic_load(&sh->exiter));
		CHECK_CONTAINS(e->message, self_kill ? "killed by signal 9" : "exited with status 5");
	}
	hamr_process_stats st;
	CHECK_OK(hamr_run_process_stats(f.r, &st));
	CHECK_EQ_INT(st.crashes, 1);
	CHECK_EQ_INT(st.timeouts, 0);
	done(&f);
	/* the pool goes on, its worker replaced */
	int64_t total = 0;
	const char *tot[] = {"total"};
	hamr_run_opts o2 = on_processes();
	f = run_with(square_defs, tot, 1, 50, &o2);
	CHECK_OK(f.run_rc);
	CHECK_OK(hamr_run_result_i64(f.r, "total", &total));
	CHECK_EQ_INT(total, squares(50));
	done(&f);
}

static void test_a_death_found_at_the_timeout_is_a_crash(void)
{
	death_at_the_timeout(0);
	death_at_the_timeout(1);
	atomic_store(&sh->self_kill, 0);
}

/* ---- inputs written once, space reclaimed, resources per worker ------------- */

static int f_blob_len(hamr_call *c)
{
	size_t n = 0;
	const unsigned char *b = hamr_arg_bytes(c, 1, &n);
	return hamr_ret_i64(c, (int64_t)n + b[hamr_arg_i64(c, 0) % (int64_t)n]);
}

static const hamr_node_def blob_defs[] = {
	INPUT_N,
	{.name = "blob", .type = HAMR_BYTES, .kind = HAMR_NODE_INPUT},
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "len", .fn = f_blob_len, .type = HAMR_I64,
	 .deps = DEPS(HAMR_DEP("items", HAMR_I64), HAMR_DEP("blob", HAMR_BYTES))},
	{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("len", HAMR_I64))},
	{0}};

static void test_a_large_input_is_written_once(void)
{
	size_t big = 8u << 20;
	unsigned char *data = malloc(big);
	for (size_t k = 0; k < big; k++)
		data[k] = (unsigned char)(k % 7);
	hamr_value blob;
	fixture f = graph_with_n(blob_defs, 1000);
	CHECK_OK(hamr_value_make_bytes(&blob, data, big));
	CHECK_OK(hamr_values_set(f.in, "blob", &blob));
	const char *outs[] = {"total"};
	plan(&f, outs, 1);
	size_t before = hamr_procpool_arena_used(pp);
	hamr_run_opts o = on_processes();
	CHECK_OK(hamr_run_execute(&f.r, f.p, f.in, &o));
	int64_t total = 0, want = 0;
	for (int64_t i = 0; i < 1000; i++)
		want += (int64_t)big + data[i % (int64_t)big];
	CHECK_OK(hamr_run_result_i64(f.r, "total", &total));
	CHECK_EQ_INT(total, want);
	hamr_process_stats st;
	CHECK_OK(hamr_run_process_stats(f.r, &st));
	/* copied into the arena once for 1000 tasks, read there in place */
	CHECK_EQ_INT(st.bytes_copied, big);
	hamr_run_destroy(f.r);
	f.r = NULL;
	/* the run's copy is gone with it */
	CHECK_EQ_INT(hamr_procpool_arena_used(pp), before);
	done(&f);
	free(data);
}

/* Allocates its result in the arena, and then misbehaves, on the first
 * attempt of one item in ten. */
static int f_risky_alloc(hamr_call *c)
{
	int64_t i = hamr_arg_i64(c, 0);
	unsigned char *b = hamr_ret_alloc(c, 100000);
	if (!b)
		return HAMR_ENOMEM;
	memset(b, (int)(i & 0x7f), 100000);
	if (hamr_attempt(c) == 1 && mischief(i) == 1)
		kill(getpid(), SIGKILL);
	if (hamr_attempt(c) == 1 && mischief(i) == 2)
		raise(SIGSEGV);
	return 0;
}

static int add_len(hamr_value *acc, const hamr_value *x, void *ud)
{
	(void)ud;
	size_t n = 0;
	const unsigned char *b = hamr_value_bytes(x, &n);
	*acc = hamr_value_from_i64(hamr_value_i64(acc) + (int64_t)n + (b ? b[n / 2] : 0));
	return 0;
}

static const hamr_fold len_sum = {HAMR_DEFAULT_I64(0), add_len, NULL};

static const hamr_node_def alloc_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "block", .fn = f_risky_alloc, .type = HAMR_BYTES,
	 .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "bytes", .type = HAMR_I64, .kind = HAMR_NODE_COLLECT, .fold = &len_sum,
	 .deps = DEPS(HAMR_DEP_COLLECTED("block", HAMR_BYTES))},
	{0}};

static void test_crashed_workers_space_comes_back(void)
{
	size_t before = hamr_procpool_arena_used(pp);
	const char *outs[] = {"bytes"};
	hamr_run_opts o = on_processes();
	o.retries = 1;
	int64_t n = 300, want = 0, crashes = 0;
	for (int64_t i = 0; i < n; i++) {
		want += 100000 + (i & 0x7f);
		crashes += mischief(i) == 1 || mischief(i) == 2;
	}
	fixture f = run_with(alloc_defs, outs, 1, n, &o);
	CHECK_OK(f.run_rc);
	int64_t bytes = 0;
	CHECK_OK(hamr_run_result_i64(f.r, "bytes", &bytes));
	CHECK_EQ_INT(bytes, want);
	hamr_process_stats st;
	CHECK_OK(hamr_run_process_stats(f.r, &st));
	CHECK_EQ_INT(st.crashes, crashes);
	CHECK(crashes >= 10);
	CHECK_EQ_INT(st.bytes_copied, 0);
	done(&f);
	/* what the dead workers held came back with them; what lives on
	 * sits in the surviving workers' current chunks, at most one each (a
	 * worker lets go of the chunks of results the program read when it
	 * next looks: waited for, however long that takes; if it never
	 * happens the test's timeout fails it) */
	size_t limit = before + (size_t)hamr_procpool_size(pp) * (256u << 10);
	while (hamr_procpool_arena_used(pp) > limit)
		sleep_ms(1);
	CHECK(hamr_procpool_arena_used(pp) <= limit);
}


static int add_str_len(hamr_value *acc, const hamr_value *x, void *ud)
{
	(void)ud;
	size_t n = 0;
	const char *str = hamr_value_str(x, &n);
	*acc = hamr_value_from_i64(hamr_value_i64(acc) + (int64_t)n + (str ? str[n / 2] : 0));
	return 0;
}

static const hamr_fold str_len_sum = {HAMR_DEFAULT_I64(0), add_str_len, NULL};

/* An outer string that every item passes back as its own result. */
static int f_pass_label(hamr_call *c)
{
	return hamr_ret_arg(c, 1);
}

static const hamr_node_def pass_defs[] = {
	INPUT_N,
	{.name = "label", .type = HAMR_STR, .kind = HAMR_NODE_INPUT},
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "same", .fn = f_pass_label, .type = HAMR_STR,
	 .deps = DEPS(HAMR_DEP("items", HAMR_I64), HAMR_DEP("label", HAMR_STR))},
	{.name = "bytes", .type = HAMR_I64, .kind = HAMR_NODE_COLLECT, .fold = &str_len_sum,
	 .deps = DEPS(HAMR_DEP_COLLECTED("same", HAMR_STR))},
	{.name = "all", .fn = f_list, .type = HAMR_LIST, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("same", HAMR_STR))},
	{0}};

static void test_inputs_passed_back(void)
{
	const char *outs[] = {"bytes", "all"};
	const char *label = "a label long enough to be worth sharing";
	fixture f = graph_with_n(pass_defs, 400);
	CHECK_OK(hamr_values_set_str(f.in, "label", label));
	plan(&f, outs, 2);
	size_t used = hamr_procpool_arena_used(pp);
	for (int round = 0; round < 3; round++) {
		hamr_run_opts o = on_processes();
		hamr_run *r = NULL;
		CHECK_OK(hamr_run_execute(&r, f.p, f.in, &o));
		int64_t bytes = 0;
		CHECK_OK(hamr_run_result_i64(r, "bytes", &bytes));
		/* the length and the middle byte of each */
		CHECK_EQ_INT(bytes, 400 * ((int64_t)strlen(label) + label[strlen(label) / 2]));
		hamr_list l = hamr_value_list(hamr_run_result(r, "all"));
		CHECK_EQ_INT(l.len, 400);
		for (size_t k = 0; k < l.len; k += 57)
			CHECK_EQ_STR(hamr_list_str(l, k), label);
		hamr_run_destroy(r);
	}
	/* every reference the items took is gone with the run (the workers
	 * let go of their chunks when they next look: waited for) */
	size_t limit = used + (size_t)hamr_procpool_size(pp) * (256u << 10);
	while (hamr_procpool_arena_used(pp) > limit)
		sleep_ms(1);
	CHECK(hamr_procpool_arena_used(pp) <= limit);
	done(&f);
}

static atomic_int made_here; /* per process: each worker has its own */
static hamr_resource *conn;  /* registered before the fork server starts */

static void *conn_create(void *ctx)
{
	(void)ctx;
	int *n = malloc(sizeof *n);
	if (n)
		*n = atomic_fetch_add(&made_here, 1) + 1;
	return n;
}

static void conn_destroy(void *obj, void *ctx)
{
	(void)ctx;
	free(obj);
}

static int f_use_conn(hamr_call *c)
{
	int *made = hamr_resource_get(conn);
	if (!made)
		return hamr_fail(c, "no connection");
	if (hamr_arg_i64(c, 0) == 17 && hamr_attempt(c) == 1)
		kill(getpid(), SIGKILL); /* its replacement makes its own */
	/* how many this process made: one, whatever it ran before */
	return hamr_ret_i64(c, *made * 1000000 + (int64_t)getpid() % 1000000);
}

static const hamr_node_def conn_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "use", .fn = f_use_conn, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "uses", .fn = f_list, .type = HAMR_LIST, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("use", HAMR_I64))},
	{0}};

static void test_resources_per_worker_process(void)
{
	const char *outs[] = {"uses"};
	hamr_run_opts o = on_processes();
	o.retries = 1;
	fixture f = run_with(conn_defs, outs, 1, 200, &o);
	CHECK_OK(f.run_rc);
	hamr_list l = hamr_value_list(hamr_run_result(f.r, "uses"));
	CHECK_EQ_INT(l.len, 200);
	for (size_t k = 0; k < l.len; k++)
		CHECK_EQ_INT(hamr_list_i64(l, k) / 1000000, 1);
	hamr_process_stats st;
	CHECK_OK(hamr_run_process_stats(f.r, &st));
	CHECK_EQ_INT(st.crashes, 1);
	done(&f);
}

/* ---- limits: the arena, a worker's memory ------------------------------------ */

static int f_hog(hamr_call *c)
{
	size_t n = (size_t)hamr_arg_i64(c, 0);
	char *p = malloc(n);
	if (!p)
		return hamr_fail(c, "malloc(%zu) failed", n);
	memset(p, 1, n);
	int64_t s = p[n / 2];
	free(p);
	return hamr_ret_i64(c, s);
}

static const hamr_node_def hog_defs[] = {
	INPUT_N,
	{.name = "hog", .fn = f_hog, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{0}};

static void test_limits(void)
{
	/* an arena of 1 MiB has no room for a 4 MiB result */
	hamr_procpool *small = NULL;
	CHECK_OK(hamr_procpool_create(&small, &(hamr_procpool_opts){.processes = 1,
	                                                             .arena_size = 1 << 20}));
	const char *outs[] = {"big"};
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	o.executor = HAMR_EXEC_PROCESSES;
	o.procpool = small;
	fixture f = run_with(plain_defs, outs, 1, 4 << 20, &o);
	CHECK_RC(f.run_rc, HAMR_ENOMEM);
	CHECK_CONTAINS(hamr_errmsg(), "\"big\"");
	CHECK_CONTAINS(hamr_errmsg(), "arena is full");
	CHECK_CONTAINS(hamr_errmsg(), "4194304-byte");
	CHECK_CONTAINS(hamr_errmsg(), "HAMR_ARENA_SIZE is 1048576 bytes");
	done(&f);
	/* and after the failure it still has room for what fits */
	f = run_with(plain_defs, outs, 1, 64 << 10, &o);
	CHECK_OK(f.run_rc);
	done(&f);
	hamr_procpool_destroy(small);

	/* a worker capped at 64 MiB cannot take 512 MiB */
	setenv("HAMR_CHILD_MEMORY", "67108864", 1);
	hamr_procpool *capped = NULL;
	CHECK_OK(hamr_procpool_create(&capped, &(hamr_procpool_opts){.processes = 1}));
	unsetenv("HAMR_CHILD_MEMORY");
	const char *hog[] = {"hog"};
	o.procpool = capped;
	f = run_with(hog_defs, hog, 1, 512 << 20, &o);
	CHECK(f.run_rc == HAMR_EFAIL || f.run_rc == HAMR_ECRASH);
	CHECK_CONTAINS(hamr_errmsg(), "\"hog\"");
	if (f.run_rc == HAMR_EFAIL)
		CHECK_CONTAINS(hamr_errmsg(), "malloc(536870912) failed (out of memory: HAMR_CHILD_MEMORY caps");
	else /* a sanitizer's allocator exits instead */
		CHECK_CONTAINS(hamr_errmsg(), "HAMR_CHILD_MEMORY");
	done(&f);
	f = run_with(hog_defs, hog, 1, 16 << 20, &o);
	CHECK_OK(f.run_rc);
	done(&f);
	hamr_procpool_destroy(capped);
}

/* ---- a module loaded after the fork server started ----------------------------- */

static void test_a_module_loaded_later(void)
{
	fixture f = graph_with_n(NULL, 100);
	CHECK_OK(hamr_graph_load_module(f.g, HAMR_TEST_MODULE_DIR "/hr_blocks.so"));
	const char *outs[] = {"total"};
	plan(&f, outs, 1);
	hamr_run_opts o = on_processes();
	o.policy = HAMR_KEEP_GOING;
	CHECK_RC(hamr_run_execute(&f.r, f.p, f.in, &o), HAMR_EFAIL);
	int64_t total = 0;
	CHECK_OK(hamr_run_result_i64(f.r, "total", &total));
	CHECK_EQ_INT(total, 10 * (99 * 100 / 2 - 3));
	const hamr_error_info *e = hamr_run_error(f.r);
	CHECK_EQ_STR(e->node, "checked");
	CHECK_EQ_INT(e->item, 3);
	CHECK(e->pid != getpid());
	CHECK_CONTAINS(e->message, "item 3 is bad");
	/* the fork server loaded it too, for workers forked from now on */
	pid_t server = parent_of(hamr_procpool_pid(pp, 0));
	char path[64], line[512];
	CHECK(server > 0 && server != getpid());
	snprintf(path, sizeof path, "/proc/%d/maps", (int)server);
	FILE *maps = fopen(path, "r");
	int loaded = 0;
	while (maps && fgets(line, sizeof line, maps))
		loaded |= strstr(line, "hr_blocks.so") != NULL;
	if (maps)
		fclose(maps);
	CHECK(loaded);
	done(&f);
}


/* ---- cancel ----------------------------------------------------------------------- */

static int f_hang(hamr_call *c)
{
	if (hamr_arg_i64(c, 0) >= 3) {
		atomic_fetch_add(&sh->waiting, 1);
		for (;;)
			pause();
	}
	return hamr_ret_i64(c, 1);
}

static const hamr_node_def hang_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "hang", .fn = f_hang, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("hang", HAMR_I64))},
	{0}};

static void test_cancel_stops_running_tasks(void)
{
	const char *outs[] = {"total"};
	fixture f = planned(hang_defs, outs, 1, 100);
	hamr_run_opts o = on_processes();
	o.executor = HAMR_EXEC_THREADS; /* started on the pool: this thread cancels */
	atomic_store(&sh->waiting, 0);
	CHECK_OK(hamr_run_create(&f.r, f.p, f.in, &o));
	CHECK_OK(hamr_run_start(f.r));
	/* cancelled once a task hangs in a worker */
	while (!atomic_load(&sh->waiting))
		sleep_ms(1);
	hamr_run_cancel(f.r);
	/* the hanging tasks never end by themselves: the wait returns only
	 * if they were stopped */
	CHECK_RC(hamr_run_wait(f.r), HAMR_ECANCELED);
	hamr_process_stats st;
	CHECK_OK(hamr_run_process_stats(f.r, &st));
	CHECK_EQ_INT(st.crashes, 0);
	done(&f);
	/* the pool's workers were replaced and run again */
	hamr_run_opts again = on_processes();
	f = run_with(square_defs, outs, 1, 50, &again);
	CHECK_OK(f.run_rc);
	done(&f);
}


/* ---- what workers cannot have ------------------------------------------------------ */

static int f_read_ud(hamr_call *c)
{
	const int64_t *x = hamr_userdata(c);
	return hamr_ret_i64(c, *x);
}

static void test_heap_userdata_is_refused(void)
{
	/* heap and stack memory, large or small: workers do not share it */
	int64_t *big = malloc(4 << 20), *small = malloc(sizeof *small), local = 43;
	big[0] = 42;
	*small = 42;
	hamr_node_def defs[] = {
		INPUT_N,
		{.name = "ud", .fn = f_read_ud, .userdata = big, .type = HAMR_I64},
		{0}};
	const char *outs[] = {"ud"};
	hamr_run_opts o = on_processes();
	o.executor = HAMR_EXEC_PROCESSES;
	void *refused[] = {big, small, &local};
	fixture f;
	for (int k = 0; k < 3; k++) {
		defs[1].userdata = refused[k];
		f = run_with(defs, outs, 1, 1, &o);
		CHECK_RC(f.create_rc, HAMR_ENOTSUP);
		CHECK_CONTAINS(hamr_errmsg(), "\"ud\"");
		CHECK_CONTAINS(hamr_errmsg(), "user data points to heap or stack memory");
		done(&f);
	}
	free(small);
	free(big);

	/* static data is in the program's image: fine */
	static const int64_t fixed = 7;
	defs[1].userdata = (void *)&fixed;
	f = run_with(defs, outs, 1, 1, &o);
	CHECK_OK(f.run_rc);
	int64_t v = 0;
	CHECK_OK(hamr_run_result_i64(f.r, "ud", &v));
	CHECK_EQ_INT(v, 7);
	done(&f);
}

static hamr_procpool *doomed;

/* Emits its items, then kills the fork server. */
static int f_items_then_kill(hamr_call *c)
{
	for (int64_t i = 0; i < hamr_arg_i64(c, 0); i++)
		if (hamr_emit_i64(c, i))
			return HAMR_ECANCELED;
	kill(parent_of(hamr_procpool_pid(doomed, 0)), SIGKILL);
	return 0;
}

static const hamr_node_def doomed_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items_then_kill, .type = HAMR_I64,
	 .kind = HAMR_NODE_PARALLELIZABLE, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "hang", .fn = f_hang, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("hang", HAMR_I64))},
	{0}};

/* In a child of the test (the server dies for good): a run whose fork
 * server dies fails, saying so, instead of waiting forever. */
__attribute__((unused)) static void test_the_fork_server_dying(void)
{
	int fd[2];
	CHECK_OK(pipe(fd));
	fflush(stdout);
	pid_t child = fork();
	if (child == 0) {
		close(fd[0]);
		char msg[1024] = "setup";
		/* a program that reaps nothing itself: the server's death
		 * must still be seen */
		signal(SIGCHLD, SIG_IGN);
		if (hamr_processes_init() == 0 && hamr_procpool_create(&doomed, &(hamr_procpool_opts){.processes = 2}) == 0) {
			const char *outs[] = {"total"};
			hamr_run_opts o = HAMR_RUN_OPTS_INIT;
			o.remote = HAMR_REMOTE_PROCESSES;
			o.procpool = doomed;
			pid_t w0 = hamr_procpool_pid(doomed, 0), w1 = hamr_procpool_pid(doomed, 1);
			fixture f = run_with(doomed_defs, outs, 1, 20, &o);
			snprintf(msg, sizeof msg, "%d %d %d %s", f.run_rc, (int)w0, (int)w1, hamr_errmsg());
		}
		if (write(fd[1], msg, sizeof msg) < 0)
			_exit(4);
		_exit(0);
	}
	close(fd[1]);
	char msg[1024] = "";
	CHECK(read(fd[0], msg, sizeof msg) > 0);
	close(fd[0]);
	waitpid(child, NULL, 0);
	int rc = 0, w0 = 0, w1 = 0, off = 0;
	CHECK(sscanf(msg, "%d %d %d %n", &rc, &w0, &w1, &off) == 3);
	CHECK_EQ_INT(rc, HAMR_EIO);
	CHECK_CONTAINS(msg + off, "fork server died");
	/* its workers, orphaned, come back here to be reaped: waited for,
	 * so that no zombie of theirs is left for a later test to find */
	CHECK(w0 > 0 && w1 > 0);
	while (w0 > 0 && w1 > 0 && (proc_state(w0, NULL) || proc_state(w1, NULL))) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		sleep_ms(1);
	}
}


/* A forked copy of the program that destroys the pool it inherited and
 * exits leaves the program's pool as it was: strings its workers make
 * in their chunks stay whole. */
static const hamr_node_def greet_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "greet", .fn = f_greet, .type = HAMR_STR, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "greetings", .fn = f_list, .type = HAMR_LIST, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("greet", HAMR_STR))},
	{0}};

static void check_greetings(int64_t n)
{
	const char *outs[] = {"greetings"};
	hamr_run_opts o = on_processes();
	fixture f = run_with(greet_defs, outs, 1, n, &o);
	CHECK_OK(f.run_rc);
	hamr_list l = hamr_value_list(hamr_run_result(f.r, "greetings"));
	CHECK_EQ_INT(l.len, n);
	int bad = 0;
	for (size_t k = 0; k < l.len; k++) {
		char want[64];
		snprintf(want, sizeof want, "hello %zu", k);
		bad += !hamr_list_str(l, k) || strcmp(hamr_list_str(l, k), want) != 0;
	}
	CHECK_EQ_INT(bad, 0);
	hamr_process_stats st;
	CHECK_OK(hamr_run_process_stats(f.r, &st));
	CHECK_EQ_INT(st.crashes, 0);
	done(&f);
}

/* Runs fn in a forked copy of the test: its checks count there, and its
 * exit status says whether they all held. The copy ends with exit, so
 * that under AddressSanitizer it is checked for leaks too; one forked
 * while the parent's threads run ends with _exit, since what those threads
 * hold only on their stacks (which the copy has not) would read as leaked. */
static void in_child_ending(void (*fn)(void), int leak_check)
{
	fflush(stdout);
	fflush(stderr);
	pid_t child = fork();
	if (child == 0) {
		check_failures = 0;
		fn();
		if (!leak_check) {
			fflush(stderr);
			_exit(check_failures ? 1 : 0);
		}
		exit(check_failures ? 1 : 0);
	}
	int status = -1;
	CHECK_EQ_INT(waitpid(child, &status, 0), child);
	CHECK(WIFEXITED(status));
	CHECK_EQ_INT(WEXITSTATUS(status), 0);
}

static void in_child(void (*fn)(void))
{
	in_child_ending(fn, 1);
}

static void child_destroys_pp(void)
{
	hamr_procpool_destroy(pp);
}

static void test_a_forked_copy_leaves_the_pool(void)
{
	check_greetings(5000); /* the workers have chunks of their own now */
	in_child(child_destroys_pp);
	for (int round = 0; round < 3; round++)
		check_greetings(20000);
}

/* ---- no leaks ---------------------------------------------------------------------- */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static int count_arena_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;
	while (f && fgets(line, sizeof line, f))
		n += strstr(line, "hamr-arena") != NULL;
	if (f)
		fclose(f);
	return n;
}

/* ---- forked copies of the program: inherited pools ------------------------------ */

/* square_defs' block over n items on pool q (NULL: the default pool): the
 * run's rc (hamr_run_create's, else the run's), its total in *total. */
static int run_squares(hamr_procpool *q, int64_t n, int64_t *total)
{
	const char *outs[] = {"total"};
	hamr_run_opts o = on_processes();
	o.procpool = q;
	fixture f = run_with(square_defs, outs, 1, n, &o);
	int rc = f.create_rc ? f.create_rc : f.run_rc;
	*total = -1;
	if (!rc)
		hamr_run_result_i64(f.r, "total", total);
	done(&f);
	return rc;
}

/* plain_defs' "pid" node on pool q (NULL: the default pool): the rc, and
 * the pid of the worker that ran it. */
static int run_pid(hamr_procpool *q, int64_t *pid)
{
	const char *outs[] = {"pid"};
	hamr_run_opts o = on_processes();
	o.executor = HAMR_EXEC_PROCESSES;
	o.procpool = q;
	fixture f = run_with(plain_defs, outs, 1, 1, &o);
	int rc = f.create_rc ? f.create_rc : f.run_rc;
	*pid = 0;
	if (!rc)
		hamr_run_result_i64(f.r, "pid", pid);
	done(&f);
	return rc;
}

static hamr_procpool *fresh; /* made, and never used before the fork */

/* In the copy: every run on an inherited pool is refused, naming the
 * process the pool belongs to; destroying them drops this copy's
 * mappings. */
static void child_refused(void)
{
	hamr_procpool *inherited[] = {pp, fresh};
	char want[96];
	snprintf(want, sizeof want, "this process pool belongs to process %d", (int)getppid());
	for (int k = 0; k < 2; k++) {
		int64_t total = 0, pid = 0;
		CHECK_RC(run_squares(inherited[k], 20, &total), HAMR_ESTATE);
		CHECK_CONTAINS(hamr_errmsg(), want);
		CHECK_CONTAINS(hamr_errmsg(), "make a new pool in the child");
#ifndef TSAN
		/* a plain node too: the processes executor starts the copy's
		 * thread pool, which ThreadSanitizer does not allow in a copy
		 * of a program with threads (the block above starts none) */
		CHECK_RC(run_pid(inherited[k], &pid), HAMR_ESTATE);
		CHECK_CONTAINS(hamr_errmsg(), want);
#else
		(void)pid;
#endif
		CHECK_EQ_INT(hamr_procpool_arena_used(inherited[k]), 0);
	}
	int maps = count_arena_maps();
	hamr_procpool_destroy(fresh);
	hamr_procpool_destroy(pp);
	CHECK_EQ_INT(count_arena_maps(), maps - 2);
}

/* Each of pool q's workers is the one it was, alive. */
static void check_same_workers(hamr_procpool *q, const pid_t *pids)
{
	for (int i = 0; i < hamr_procpool_size(q); i++) {
		CHECK_EQ_INT(hamr_procpool_pid(q, i), pids[i]);
		char st = proc_state(pids[i], NULL);
		CHECK(st != 0 && st != 'Z');
	}
}

/* A forked copy of the program cannot run on the pools it inherited,
 * used or not, and destroying them there leaves the parent's workers
 * alone: the parent's pools run as before. */
static void test_a_forked_copy_cannot_use_an_inherited_pool(void)
{
	int64_t total = 0;
	CHECK_OK(hamr_procpool_create(&fresh, &(hamr_procpool_opts){.processes = 2}));
	CHECK_OK(run_squares(pp, 50, &total));
	CHECK_EQ_INT(total, squares(50));
	pid_t pp_pids[64], fresh_pids[2];
	for (int i = 0; i < hamr_procpool_size(pp); i++)
		pp_pids[i] = hamr_procpool_pid(pp, i);
	for (int i = 0; i < 2; i++)
		fresh_pids[i] = hamr_procpool_pid(fresh, i);
	in_child(child_refused);
	check_same_workers(pp, pp_pids);
	check_same_workers(fresh, fresh_pids);
	CHECK_OK(run_squares(pp, 500, &total));
	CHECK_EQ_INT(total, squares(500));
	CHECK_OK(run_squares(fresh, 500, &total));
	CHECK_EQ_INT(total, squares(500));
	hamr_procpool_destroy(fresh);
	fresh = NULL;
}

static hamr_run *held; /* a run of the parent's, its result in the arena */

/* In the copy: the parent's result is readable; what the copy writes
 * there (as a release writes a count) and its releases stay its own. */
static void child_writes_and_releases(void)
{
	size_t len = 0;
	unsigned char *b = (unsigned char *)hamr_value_bytes(hamr_run_result(held, "big"), &len);
	CHECK_EQ_INT(len, 1 << 20);
	CHECK(b && b[4096 * 5] == 5);
	if (b)
		memset(b, 0xee, len);
	hamr_run_destroy(held);
	hamr_procpool_destroy(pp);
}

static void test_a_forked_copy_keeps_to_its_own_memory(void)
{
	const char *outs[] = {"big"};
	hamr_run_opts o = on_processes();
	o.executor = HAMR_EXEC_PROCESSES;
	fixture f = run_with(plain_defs, outs, 1, 1 << 20, &o);
	CHECK_OK(f.run_rc);
	held = f.r;
	in_child(child_writes_and_releases);
	size_t len = 0;
	const unsigned char *b = hamr_value_bytes(hamr_run_result(f.r, "big"), &len);
	CHECK_EQ_INT(len, 1 << 20);
	int bad = 0;
	for (size_t k = 0; b && k < len; k += 4096)
		bad += b[k] != (unsigned char)(k / 4096);
	CHECK(b != NULL);
	CHECK_EQ_INT(bad, 0);
	done(&f);
	check_greetings(2000);
}

/* In the copy: the parent's default pool and server are not its own; with
 * a server of its own, its default pool starts afresh. */
static void child_default_pool(void)
{
	int64_t total = 0;
	CHECK_RC(run_squares(NULL, 20, &total), HAMR_ESTATE);
	CHECK_CONTAINS(hamr_errmsg(), "no fork server in this process");
	CHECK_CONTAINS(hamr_errmsg(), "call hamr_processes_init() in this one");
#ifndef TSAN
	/* (under ThreadSanitizer a forked copy of a program with threads
	 * has threads of the sanitizer's, so it cannot start a server) */
	CHECK_OK(hamr_processes_init());
	CHECK_OK(run_squares(NULL, 200, &total));
	CHECK_EQ_INT(total, squares(200));
	int64_t pid = 0;
	CHECK_OK(run_pid(NULL, &pid));
	CHECK(pid > 0 && parent_of(parent_of((pid_t)pid)) == getpid());
#endif
}

static void test_a_forked_copy_has_a_default_pool_of_its_own(void)
{
	int64_t total = 0, pid = 0;
	CHECK_OK(run_squares(NULL, 50, &total));
	CHECK_EQ_INT(total, squares(50));
	in_child(child_default_pool);
	CHECK_OK(run_squares(NULL, 500, &total));
	CHECK_EQ_INT(total, squares(500));
	CHECK_OK(run_pid(NULL, &pid));
	CHECK(pid > 0 && parent_of(parent_of((pid_t)pid)) == getpid());
}

static int f_gated(hamr_call *c)
{
	atomic_fetch_add(&sh->waiting, 1);
	while (!atomic_load(&sh->gate))
		sleep_ms(1);
	return hamr_ret_i64(c, 2 * hamr_arg_i64(c, 0));
}

static const hamr_node_def gated_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "gated", .fn = f_gated, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("gated", HAMR_I64))},
	{0}};

static void child_mid_run(void)
{
	int64_t total = 0;
	CHECK_RC(run_squares(pp, 20, &total), HAMR_ESTATE);
	int maps = count_arena_maps();
	hamr_procpool_destroy(pp);
	CHECK_EQ_INT(count_arena_maps(), maps - 1);
}

/* Forked while the parent's run has tasks in the pool's workers: the copy
 * is refused and destroys its copy of the pool; the parent's run ends as
 * it would have. */
static void test_a_fork_during_a_run(void)
{
	const char *outs[] = {"total"};
	fixture f = planned(gated_defs, outs, 1, 100);
	hamr_run_opts o = on_processes();
	o.executor = HAMR_EXEC_THREADS; /* runs while this thread forks */
	atomic_store(&sh->gate, 0);
	atomic_store(&sh->waiting, 0);
	CHECK_OK(hamr_run_create(&f.r, f.p, f.in, &o));
	CHECK_OK(hamr_run_start(f.r));
	while (!atomic_load(&sh->waiting))
		sleep_ms(1);
	in_child_ending(child_mid_run, 0);
	atomic_store(&sh->gate, 1);
	CHECK_OK(hamr_run_wait(f.r));
	int64_t total = 0;
	CHECK_OK(hamr_run_result_i64(f.r, "total", &total));
	CHECK_EQ_INT(total, 99 * 100);
	done(&f);
	check_greetings(2000);
}

static void test_no_leaks(void)
{
	int fds = count_fds(), maps = count_arena_maps();
	for (int k = 0; k < 5; k++) {
		hamr_procpool *q = NULL;
		CHECK_OK(hamr_procpool_create(&q, &(hamr_procpool_opts){.processes = 2}));
		const char *outs[] = {"all"};
		hamr_run_opts o = HAMR_RUN_OPTS_INIT;
		o.remote = HAMR_REMOTE_PROCESSES;
		o.procpool = q;
		o.retries = 1;
		o.task_timeout_ms = NO_TIMEOUT_MS;
		fixture f = run_with(risky_defs, outs, 1, 100, &o);
		CHECK_OK(f.run_rc); /* crashes, retried */
		done(&f);
		/* and timeouts: every task waits forever */
		const char *stuck[] = {"values"};
		o.retries = 0;
		o.task_timeout_ms = HANG_TIMEOUT_MS;
		o.policy = HAMR_KEEP_GOING;
		f = run_with(stuck_defs, stuck, 1, 3, &o);
		CHECK_RC(f.run_rc, HAMR_ETIMEDOUT);
		CHECK_EQ_INT(hamr_run_error_count(f.r), 3);
		done(&f);
		hamr_procpool_destroy(q);
	}
	CHECK_EQ_INT(count_fds(), fds);
	CHECK_EQ_INT(count_arena_maps(), maps);
	/* no zombies among this process's children */
	CHECK(waitpid(-1, NULL, WNOHANG) <= 0);
}

int main(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* the runs here set their own timeouts and retries, or have none: a
	 * timeout from the environment would race the crashes they cause */
	unsetenv("HAMR_TASK_TIMEOUT");
	unsetenv("HAMR_RETRIES");
	/* before the fork server starts: its workers share it */
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 1;
	/* a resource registered first is there in every worker */
	hamr_resource_desc rd = {"conn", conn_create, conn_destroy, NULL};
	CHECK_OK(hamr_resource_register(&conn, &rd));
	CHECK_OK(hamr_processes_init());
	/* hanging tasks wait out their timeout side by side */
	CHECK_OK(hamr_procpool_create(&pp, &(hamr_procpool_opts){.processes = 6}));
	RUN_TEST(test_a_block_in_processes);
	RUN_TEST(test_block_events_come_from_workers);
	RUN_TEST(test_plain_nodes_in_processes);
	RUN_TEST(test_zero_copy_result);
	RUN_TEST(test_a_type_without_codec_is_refused);
	RUN_TEST(test_crashes_with_retries);
	RUN_TEST(test_crashes_without_retries);
	RUN_TEST(test_timeouts_with_and_without_retries);
	RUN_TEST(test_a_death_found_at_the_timeout_is_a_crash);
	RUN_TEST(test_a_large_input_is_written_once);
	RUN_TEST(test_crashed_workers_space_comes_back);
	RUN_TEST(test_resources_per_worker_process);
	RUN_TEST(test_inputs_passed_back);
	RUN_TEST(test_limits);
	RUN_TEST(test_a_module_loaded_later);
	RUN_TEST(test_cancel_stops_running_tasks);
	RUN_TEST(test_heap_userdata_is_refused);
#ifndef TSAN
	/* a forked copy of the test under ThreadSanitizer has its threads,
	 * and cannot start a fork server of its own */
	RUN_TEST(test_the_fork_server_dying);
#endif
	/* these copies start no thread: every configuration runs them */
	RUN_TEST(test_a_forked_copy_leaves_the_pool);
	RUN_TEST(test_a_forked_copy_cannot_use_an_inherited_pool);
	RUN_TEST(test_a_forked_copy_keeps_to_its_own_memory);
	RUN_TEST(test_a_forked_copy_has_a_default_pool_of_its_own);
	RUN_TEST(test_a_fork_during_a_run);
	RUN_TEST(test_no_leaks);
	hamr_procpool_destroy(pp);
	TEST_EXIT();
}
