/* SPDX-License-Identifier: MIT */
/* What the process executor's tests (tests/test_procexec_*.c) share: the
 * pool they run on and the memory they share with its workers, set up by
 * procexec_start() before any test runs; a fixture that makes a graph, its
 * inputs, a plan and a run in steps; and the graphs that more than one of
 * them runs: square_defs (a map block whose items square their index) and
 * plain_defs (plain nodes with a large byte result, a string and a user
 * type with a codec). Functions are static inline and data static const,
 * so that each test program takes what it uses.
 *
 * The fixture is not tests/fixture.h's: these tests set inputs in f.in
 * before they plan, and check hamr_run_create's rc apart from the run's.
 * A test includes one or the other. */
#ifndef HAMR_TESTS_PROCEXEC_H
#define HAMR_TESTS_PROCEXEC_H

#include <hamr.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "tests/check.h"
#include "tests/nodes.h"
/* before `pp` below, whose name a local in proc_state() would shadow */
#include "tests/procfs.h"

/* The pool that the tests run on unless they make their own (6 workers,
 * made by procexec_start). */
static hamr_procpool *pp;

/* Memory shared with the fork server and so with every worker (mapped
 * before the server starts): what the tests and the nodes they run tell
 * each other. */
typedef struct shared {
	atomic_int waiting; /* tasks waiting on `gate` or forever */
	atomic_int gate;    /* 1: gated tasks go on */
	atomic_int exiter;  /* the pid of the worker f_exit ran in (crashes) */
	atomic_int self_kill; /* 1: f_exit dies of its own SIGKILL */
} shared;

static shared *sh;

static inline void sleep_ms(long ms)
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
static inline fixture graph_with_n(const hamr_node_def *defs, int64_t n)
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
static inline void plan(fixture *f, const char *const *outs, size_t n_outs)
{
	CHECK_OK(hamr_plan_create(&f->p, f->g, outs, n_outs, f->in));
}

static inline fixture planned(const hamr_node_def *defs, const char *const *outs, size_t n_outs,
                              int64_t n)
{
	fixture f = graph_with_n(defs, n);
	plan(&f, outs, n_outs);
	return f;
}

/* planned, then a run with options o, waited for: f.r, with
 * hamr_run_create's rc in f.create_rc and the run's in f.run_rc. */
static inline fixture run_with(const hamr_node_def *defs, const char *const *outs, size_t n_outs,
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

static inline void done(fixture *f)
{
	hamr_run_destroy(f->r);
	hamr_plan_destroy(f->p);
	hamr_graph_destroy(f->g);
	hamr_values_destroy(f->in);
}

/* Blocks' items in worker processes of `pp`, every other node on the
 * sequential executor (on the waiting thread: no thread pool starts for
 * them). A test that wants other nodes elsewhere sets o.executor. */
static inline hamr_run_opts on_processes(void)
{
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	o.executor = HAMR_EXEC_SEQUENTIAL;
	o.remote = HAMR_REMOTE_PROCESSES;
	o.procpool = pp;
	return o;
}

static inline int f_pid(hamr_call *c)
{
	return hamr_ret_i64(c, (int64_t)getpid());
}

static inline int f_square(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	return hamr_ret_i64(c, x * x + hamr_arg_i64(c, 1));
}

static inline int f_offset(hamr_call *c)
{
	return hamr_ret_i64(c, 7);
}

static inline int f_distinct(hamr_call *c)
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
static inline int64_t squares(int64_t n)
{
	int64_t s = 0;
	for (int64_t i = 0; i < n; i++)
		s += i * i + 7;
	return s;
}

/* plain_defs: plain nodes outside blocks with a large bytes result, a
 * string, a user type with a codec (pt_type) and the worker's pid. */
typedef struct pt {
	int64_t x, y;
} pt;

static inline size_t pt_encode(const void *obj, void *buf, size_t cap)
{
	if (cap >= sizeof(pt))
		memcpy(buf, obj, sizeof(pt));
	return sizeof(pt);
}

static inline int pt_decode(const void *buf, size_t len, void **obj)
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

static inline int f_big(hamr_call *c)
{
	size_t n = (size_t)hamr_arg_i64(c, 0);
	unsigned char *b = hamr_ret_alloc(c, n);
	if (!b)
		return HAMR_ENOMEM;
	for (size_t k = 0; k < n; k += 4096)
		b[k] = (unsigned char)(k / 4096);
	return 0;
}

static inline int f_check_big(hamr_call *c)
{
	size_t n = 0;
	const unsigned char *b = hamr_arg_bytes(c, 0, &n);
	int64_t bad = 0;
	for (size_t k = 0; k < n; k += 4096)
		bad += b[k] != (unsigned char)(k / 4096);
	return hamr_ret_i64(c, bad ? -bad : (int64_t)n);
}

static inline int f_greet(hamr_call *c)
{
	char buf[64];
	snprintf(buf, sizeof buf, "hello %lld", (long long)hamr_arg_i64(c, 0));
	return hamr_ret_str(c, buf);
}

static inline int f_point(hamr_call *c)
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

static inline int f_norm(hamr_call *c)
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

/* A collect whose value is its list. */
static inline int f_list(hamr_call *c)
{
	return hamr_ret_arg(c, 0);
}

/* The mappings of pool arenas in this process. */
static inline int count_arena_maps(void)
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

/* What each test program does before its first test: the fork server's
 * workers, orphaned, come back to it; no timeout or retries from the
 * environment; `sh` mapped, and the fork server and `pp` started. A
 * program that registers resources does so before it calls this, so that
 * every worker has them. Returns 0, or -1 when `sh` could not be mapped. */
static inline int procexec_start(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* the runs here set their own timeouts and retries, or have none: a
	 * timeout from the environment would race the crashes they cause */
	unsetenv("HAMR_TASK_TIMEOUT");
	unsetenv("HAMR_RETRIES");
	/* before the fork server starts: its workers share it */
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return -1;
	CHECK_OK(hamr_processes_init());
	/* hanging tasks wait out their timeout side by side */
	CHECK_OK(hamr_procpool_create(&pp, &(hamr_procpool_opts){.processes = 6}));
	return 0;
}

#endif
