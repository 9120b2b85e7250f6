// SPDX-License-Identifier: MIT
/* Values that cross between the program and the process executor's
 * workers: plain nodes outside blocks run in workers, with their events
 * timed there; a large result is read in place from the arena
 * (`bytes_copied` 0, up to 64 MiB), an input is written into it once for
 * all the tasks that read it, and an input that items pass back as their
 * result is shared, every reference gone with the run. What cannot cross
 * is refused before the run, naming the node: a user type without a
 * codec, and user data on the heap or the stack. And the limits: a result
 * larger than the arena (HAMR_ARENA_SIZE) and an allocation larger than a
 * worker may have (HAMR_CHILD_MEMORY) fail the run, saying which, and the
 * pool goes on. Last, lists made from C arrays and read back as arrays on
 * every executor, processes included. */
#include <hamr.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/check.h"
#include "tests/nodes.h"
#include "tests/procexec.h"

/* A user type with no codec: it cannot cross to a worker. */
static const hamr_type_desc raw_type = {.name = "test.raw", .size = sizeof(pt)};

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
	/* a pool of its own: a worker of the shared one may still be giving
	 * back the chunks an earlier test's result held (procworker.c's
	 * defer_chunk), a while after, as it runs on. Its workers allocate
	 * nothing here; the program's cursor keeps a chunk from the first
	 * run on, so the arena is measured after one */
	hamr_procpool *own = NULL;
	CHECK_OK(hamr_procpool_create(&own, &(hamr_procpool_opts){.processes = 2}));
	hamr_run_opts o = on_processes();
	o.procpool = own;
	CHECK_OK(hamr_run_execute(&f.r, f.p, f.in, &o));
	hamr_run_destroy(f.r);
	size_t before = hamr_procpool_arena_used(own);
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
	CHECK_EQ_INT(hamr_procpool_arena_used(own), before);
	done(&f);
	hamr_procpool_destroy(own);
	free(data);
}

/* The same input made in the pool's arena (hamr_procpool_value_alloc) is
 * not copied at all: every task reads it in place. It outlives its pool:
 * readable, and freed, after hamr_procpool_destroy. And the refusals. */
static void test_an_input_made_in_the_arena(void)
{
	size_t big = 8u << 20;
	hamr_procpool *own = NULL;
	hamr_procpool_opts po = {.processes = 2};
	CHECK_OK(hamr_procpool_create(&own, &po));
	size_t before = hamr_procpool_arena_used(own);
	hamr_value blob, kept;
	unsigned char *data = NULL;
	CHECK_OK(hamr_procpool_value_alloc(own, &blob, HAMR_BYTES, big, (void **)&data));
	CHECK(data != NULL && hamr_procpool_arena_used(own) >= before + big);
	for (size_t k = 0; data && k < big; k++)
		data[k] = (unsigned char)(k % 7);
	kept = hamr_value_ref(&blob);
	fixture f = graph_with_n(blob_defs, 1000);
	CHECK_OK(hamr_values_set(f.in, "blob", &blob));
	const char *outs[] = {"total"};
	plan(&f, outs, 1);
	hamr_run_opts o = on_processes();
	o.procpool = own;
	CHECK_OK(hamr_run_execute(&f.r, f.p, f.in, &o));
	int64_t total = 0, want = 0;
	for (int64_t i = 0; i < 1000; i++)
		want += (int64_t)big + (int64_t)((i % (int64_t)big) % 7);
	CHECK_OK(hamr_run_result_i64(f.r, "total", &total));
	CHECK_EQ_INT(total, want);
	hamr_process_stats st;
	CHECK_OK(hamr_run_process_stats(f.r, &st));
	CHECK(st.bytes_copied < 4096); /* the items' numbers, not the blob */
	CHECK(st.bytes_shared >= big);
	done(&f);

	/* a string gets hamr's NUL */
	hamr_value s;
	char *sp = NULL;
	CHECK_OK(hamr_procpool_value_alloc(own, &s, HAMR_STR, 5, (void **)&sp));
	memcpy(sp, "arena", 5);
	CHECK_EQ_STR(hamr_value_str(&s, NULL), "arena");

	/* refused: other types, NULLs, more than the arena holds */
	void *d = &d;
	hamr_value bad = hamr_value_from_i64(1);
	CHECK_RC(hamr_procpool_value_alloc(own, &bad, HAMR_I64, 8, &d), HAMR_ETYPE);
	CHECK(bad.type == NULL && d == NULL);
	CHECK_CONTAINS(hamr_errmsg(), "i64");
	CHECK_RC(hamr_procpool_value_alloc(NULL, &bad, HAMR_BYTES, 8, &d), HAMR_EINVAL);
	CHECK_RC(hamr_procpool_value_alloc(own, &bad, HAMR_BYTES, 8, NULL), HAMR_EINVAL);
	hamr_procpool *small = NULL;
	hamr_procpool_opts so = {.processes = 1, .arena_size = 1u << 20};
	CHECK_OK(hamr_procpool_create(&small, &so));
	CHECK_RC(hamr_procpool_value_alloc(small, &bad, HAMR_BYTES, 2u << 20, &d), HAMR_ENOMEM);
	CHECK_CONTAINS(hamr_errmsg(), "HAMR_ARENA_SIZE");
	hamr_procpool_destroy(small);

	/* past the pool: still readable, freed by the last release */
	hamr_procpool_destroy(own);
	size_t len = 0;
	const unsigned char *b = hamr_value_bytes(&kept, &len);
	CHECK_EQ_INT(len, big);
	CHECK(b && b[big - 1] == (unsigned char)((big - 1) % 7));
	CHECK_EQ_STR(hamr_value_str(&s, NULL), "arena");
	hamr_value_clear(&s);
	hamr_value_clear(&kept);
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

/* ---- lists from C arrays, on every executor ------------------------------
 * Lists of i64, f64 and bool made from C arrays and read back as arrays,
 * and a list of strings, through plain nodes and through map blocks whose
 * collects make packed lists from the items: sequentially, on threads, and
 * in worker processes (plain nodes there, and block items there). */
enum { LIST_N = 1000 };

static int f_doubled(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	const double *x = hamr_list_f64_array(l);
	double *y;
	hamr_value v;
	if (!x)
		return hamr_fail(c, "xs is not a packed list of f64");
	int rc = hamr_value_alloc_list(&v, HAMR_F64, l.len, (void **)&y);
	if (rc)
		return rc;
	for (size_t i = 0; i < l.len; i++)
		y[i] = 2 * x[i];
	return hamr_ret_value(c, &v);
}

static int f_plus_one(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	const int64_t *x = hamr_list_i64_array(l);
	int64_t *y = malloc((l.len ? l.len : 1) * sizeof *y);
	hamr_value v;
	if (!x || !y) {
		free(y);
		return hamr_fail(c, "ns is not a packed list of i64");
	}
	for (size_t i = 0; i < l.len; i++)
		y[i] = x[i] + 1;
	int rc = hamr_value_make_list_i64(&v, y, l.len);
	free(y);
	return rc ? rc : hamr_ret_value(c, &v);
}

static int f_flipped(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	const bool *x = hamr_list_bool_array(l);
	bool *y;
	hamr_value v;
	if (!x)
		return hamr_fail(c, "flags is not a packed list of bool");
	int rc = hamr_value_alloc_list(&v, HAMR_BOOL, l.len, (void **)&y);
	if (rc)
		return rc;
	for (size_t i = 0; i < l.len; i++)
		y[i] = !x[i];
	return hamr_ret_value(c, &v);
}

static int f_shout(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	char buf[3][32];
	const char *p[3];
	hamr_value v;
	if (l.len != 3)
		return hamr_fail(c, "names has %zu items, not 3", l.len);
	for (size_t i = 0; i < 3; i++) {
		const char *name = hamr_list_str(l, i);
		if (!name)
			return hamr_fail(c, "item %zu of names is not a string", i);
		snprintf(buf[i], sizeof buf[i], "%s!", name);
		p[i] = buf[i];
	}
	int rc = hamr_value_make_list_str(&v, p, 3);
	return rc ? rc : hamr_ret_value(c, &v);
}

static int f_half(hamr_call *c)
{
	return hamr_ret_f64(c, hamr_arg_f64(c, 0) / 2);
}

static int f_sq(hamr_call *c)
{
	return hamr_ret_i64(c, hamr_arg_i64(c, 0) * hamr_arg_i64(c, 0));
}

static int f_not(hamr_call *c)
{
	return hamr_ret_bool(c, !hamr_arg_bool(c, 0));
}

static const hamr_node_def array_defs[] = {
	{.name = "xs", .type = HAMR_LIST, .kind = HAMR_NODE_INPUT},
	{.name = "ns", .type = HAMR_LIST, .kind = HAMR_NODE_INPUT},
	{.name = "flags", .type = HAMR_LIST, .kind = HAMR_NODE_INPUT},
	{.name = "names", .type = HAMR_LIST, .kind = HAMR_NODE_INPUT},
	{.name = "doubled", .fn = f_doubled, .type = HAMR_LIST, .deps = DEPS(HAMR_DEP("xs", HAMR_LIST))},
	{.name = "plus_one", .fn = f_plus_one, .type = HAMR_LIST,
	 .deps = DEPS(HAMR_DEP("ns", HAMR_LIST))},
	{.name = "flipped", .fn = f_flipped, .type = HAMR_LIST,
	 .deps = DEPS(HAMR_DEP("flags", HAMR_LIST))},
	{.name = "shout", .fn = f_shout, .type = HAMR_LIST, .deps = DEPS(HAMR_DEP("names", HAMR_LIST))},
	{.name = "x", .fn = f_list, .type = HAMR_F64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("xs", HAMR_LIST))},
	{.name = "half", .fn = f_half, .type = HAMR_F64, .deps = DEPS(HAMR_DEP("x", HAMR_F64))},
	{.name = "halves", .fn = f_list, .type = HAMR_LIST, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("half", HAMR_F64))},
	{.name = "k", .fn = f_list, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("ns", HAMR_LIST))},
	{.name = "sq", .fn = f_sq, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("k", HAMR_I64))},
	{.name = "squares", .fn = f_list, .type = HAMR_LIST, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("sq", HAMR_I64))},
	{.name = "flag", .fn = f_list, .type = HAMR_BOOL, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("flags", HAMR_LIST))},
	{.name = "negated", .fn = f_not, .type = HAMR_BOOL, .deps = DEPS(HAMR_DEP("flag", HAMR_BOOL))},
	{.name = "nots", .fn = f_list, .type = HAMR_LIST, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("negated", HAMR_BOOL))},
	{0}};

static void check_array_results(hamr_run *r, const double *xs, const int64_t *ns,
                                const bool *flags)
{
	static double want_f[2][LIST_N];
	static int64_t want_i[2][LIST_N];
	static bool want_b[LIST_N];
	for (size_t i = 0; i < LIST_N; i++) {
		want_f[0][i] = 2 * xs[i];
		want_f[1][i] = xs[i] / 2;
		want_i[0][i] = ns[i] + 1;
		want_i[1][i] = ns[i] * ns[i];
		want_b[i] = !flags[i];
	}
	const char *f_names[] = {"doubled", "halves"}, *i_names[] = {"plus_one", "squares"};
	for (int k = 0; k < 2; k++) {
		hamr_list l = hamr_value_list(hamr_run_result(r, f_names[k]));
		CHECK_EQ_INT(l.len, LIST_N);
		CHECK(hamr_list_f64_array(l) != NULL);
		if (hamr_list_f64_array(l) && l.len == LIST_N)
			CHECK(memcmp(hamr_list_f64_array(l), want_f[k], sizeof want_f[k]) == 0);
		l = hamr_value_list(hamr_run_result(r, i_names[k]));
		CHECK_EQ_INT(l.len, LIST_N);
		CHECK(hamr_list_i64_array(l) != NULL);
		if (hamr_list_i64_array(l) && l.len == LIST_N)
			CHECK(memcmp(hamr_list_i64_array(l), want_i[k], sizeof want_i[k]) == 0);
	}
	const char *b_names[] = {"flipped", "nots"};
	for (int k = 0; k < 2; k++) {
		hamr_list l = hamr_value_list(hamr_run_result(r, b_names[k]));
		CHECK_EQ_INT(l.len, LIST_N);
		CHECK(hamr_list_bool_array(l) != NULL);
		if (hamr_list_bool_array(l) && l.len == LIST_N)
			CHECK(memcmp(hamr_list_bool_array(l), want_b, sizeof want_b) == 0);
	}
	hamr_list s = hamr_value_list(hamr_run_result(r, "shout"));
	CHECK(s.elem == HAMR_STR && s.len == 3);
	CHECK_EQ_STR(hamr_list_str(s, 0), "ada!");
	CHECK_EQ_STR(hamr_list_str(s, 2), "!");
}

static void test_lists_from_arrays_on_every_executor(void)
{
	static double xs[LIST_N];
	static int64_t ns[LIST_N];
	static bool flags[LIST_N];
	static const char *const names[] = {"ada", "grace", ""};
	for (size_t i = 0; i < LIST_N; i++) {
		xs[i] = (double)i * 0.25 - 7;
		ns[i] = (int64_t)i * 3 - 1000;
		flags[i] = i % 3 == 0;
	}
	const char *outs[] = {"doubled", "plus_one", "flipped", "shout", "halves", "squares", "nots"};
	hamr_graph *g;
	hamr_module m = {"arrays", array_defs};
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	hamr_values *in;
	hamr_value v;
	CHECK_OK(hamr_values_create(&in));
	CHECK_OK(hamr_value_make_list_f64(&v, xs, LIST_N));
	CHECK_OK(hamr_values_set(in, "xs", &v));
	CHECK_OK(hamr_value_make_list_i64(&v, ns, LIST_N));
	CHECK_OK(hamr_values_set(in, "ns", &v));
	CHECK_OK(hamr_value_make_list_bool(&v, flags, LIST_N));
	CHECK_OK(hamr_values_set(in, "flags", &v));
	CHECK_OK(hamr_value_make_list_str(&v, names, 3));
	CHECK_OK(hamr_values_set(in, "names", &v));
	hamr_plan *p;
	CHECK_OK(hamr_plan_create(&p, g, outs, 7, in));

	hamr_pool *pool;
	hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
	po.workers = 2;
	CHECK_OK(hamr_pool_create(&pool, &po));
	hamr_run_opts o[4] = {HAMR_RUN_OPTS_INIT, HAMR_RUN_OPTS_INIT, HAMR_RUN_OPTS_INIT,
	                      HAMR_RUN_OPTS_INIT};
	o[0].executor = HAMR_EXEC_SEQUENTIAL;
	o[1].executor = HAMR_EXEC_THREADS;
	o[1].pool = pool;
	o[2] = on_processes(); /* items in worker processes */
	o[2].executor = HAMR_EXEC_SEQUENTIAL;
	o[3] = on_processes(); /* plain nodes too */
	o[3].executor = HAMR_EXEC_PROCESSES;
	const char *what[] = {"sequential", "threads", "items in processes", "nodes in processes"};
	for (int k = 0; k < 4; k++) {
		hamr_run *r;
		printf("  %s\n", what[k]);
		CHECK_OK(hamr_run_create(&r, p, in, &o[k]));
		CHECK_OK(hamr_run_start(r));
		CHECK_OK(hamr_run_wait(r));
		check_array_results(r, xs, ns, flags);
		if (k == 3) {
			/* packed lists cross as their boxes in the arena, not
			 * encoded: the three results back in place, and the
			 * three inputs each written once, as their bytes */
			hamr_process_stats st;
			CHECK_OK(hamr_run_process_stats(r, &st));
			uint64_t packed = LIST_N * (8 + 8 + sizeof(bool));
			CHECK(st.bytes_shared >= packed);
			CHECK(st.bytes_copied >= 2 * packed && st.bytes_copied < 2 * packed + 256);
		}
		hamr_run_destroy(r);
	}
	hamr_pool_destroy(pool);
	hamr_plan_destroy(p);
	hamr_values_destroy(in);
	hamr_graph_destroy(g);
}

int main(void)
{
	if (procexec_start())
		return 1;
	RUN_TEST(test_plain_nodes_in_processes);
	RUN_TEST(test_zero_copy_result);
	RUN_TEST(test_a_type_without_codec_is_refused);
	RUN_TEST(test_a_large_input_is_written_once);
	RUN_TEST(test_an_input_made_in_the_arena);
	RUN_TEST(test_inputs_passed_back);
	RUN_TEST(test_limits);
	RUN_TEST(test_heap_userdata_is_refused);
	RUN_TEST(test_lists_from_arrays_on_every_executor);
	hamr_procpool_destroy(pp);
	TEST_EXIT();
}
