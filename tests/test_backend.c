// SPDX-License-Identifier: MIT
/* The executor backend interface (hamr/backend.h), through a backend
 * written here with the public headers alone, as another library would
 * write one: it queues what it is sent and runs each task, when asked
 * for a completion, through the serving side (hamr_backend_serve). Map
 * blocks and nodes outside blocks sent to it give the sequential
 * executor's results; failures reach the run's error record with the
 * backend's item and "where"; a cancel reaches the job; a backend of an
 * unknown version, or none, is refused; zero-initialised options mean
 * defaults. */
#include <hamr.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/check.h"
#include "tests/fixture.h"
#include "tests/nodes.h"

#define WHERE 4242 /* what the test backend says ran its tasks */
#define RANK 5     /* ... and the rank it says they ran on */

/* ---- the test backend ------------------------------------------------------ */

typedef struct tb {
	int opened, closed, sent, served, dropped, cancels, checks;
	int refuse;           /* check refuses every program */
	int cancel;           /* cancels the run after serving cancel_after */
	int64_t cancel_after;
	int discarded;        /* still queued when the job closed */
	int short_outs;       /* hands back one value too few */
	int wrong_type;       /* hands back a string for its first value */
	int nodes_ran;        /* hamr_backend_node_ran calls */
} tb;

struct hamr_backend_job {
	tb *t;
	hamr_run *r;
	hamr_backend_program prog; /* its arrays and values are the job's */
	uint32_t *nodes, *outs;
	hamr_value *slots;
	int64_t *items;
	hamr_value *vals;
	size_t head, len, cap;
	int cancelled;
};

static int tb_check(void *self, const hamr_backend_program *prog)
{
	tb *t = self;
	t->checks++;
	if (!t->refuse)
		return 0;
	hamr_backend_node n;
	CHECK_OK(hamr_backend_node_info(prog->plan, prog->nodes[0], &n));
	return hamr_backend_error(HAMR_ECODEC, "node \"%s\": the test backend refuses it", n.name);
}

static int tb_open(void *self, hamr_run *r, const hamr_backend_program *prog,
                   hamr_backend_job **out)
{
	hamr_backend_job *j = calloc(1, sizeof *j);
	CHECK(j != NULL);
	j->t = self;
	j->r = r;
	j->nodes = malloc(prog->n_nodes * sizeof *j->nodes);
	j->outs = malloc((prog->n_outs ? prog->n_outs : 1) * sizeof *j->outs);
	j->slots = calloc(prog->n_slots, sizeof *j->slots);
	CHECK(j->nodes && j->outs && j->slots);
	memcpy(j->nodes, prog->nodes, prog->n_nodes * sizeof *j->nodes);
	memcpy(j->outs, prog->outs, prog->n_outs * sizeof *j->outs);
	/* the outside values are borrowed during open: the job keeps its own
	 * references */
	for (uint32_t s = 0; s < prog->n_slots; s++)
		if (prog->slots[s].type)
			j->slots[s] = hamr_value_ref(&prog->slots[s]);
	j->prog = *prog;
	j->prog.nodes = j->nodes;
	j->prog.outs = j->outs;
	j->prog.slots = j->slots;
	j->t->opened++;
	*out = j;
	return 0;
}

static int tb_send(hamr_backend_job *j, int64_t item, const hamr_value *v)
{
	if (j->len == j->cap) {
		size_t cap = j->cap ? 2 * j->cap : 16;
		int64_t *items = malloc(cap * sizeof *items);
		hamr_value *vals = malloc(cap * sizeof *vals);
		CHECK(items && vals);
		for (size_t k = 0; k < j->len; k++) {
			items[k] = j->items[(j->head + k) % j->cap];
			vals[k] = j->vals[(j->head + k) % j->cap];
		}
		free(j->items);
		free(j->vals);
		j->items = items;
		j->vals = vals;
		j->head = 0;
		j->cap = cap;
	}
	size_t at = (j->head + j->len++) % j->cap;
	j->items[at] = item;
	j->vals[at] = v ? hamr_value_ref(v) : (hamr_value)HAMR_VALUE_EMPTY;
	j->t->sent++;
	return 0;
}

static int tb_next(hamr_backend_job *j, hamr_backend_done *d, int wait)
{
	(void)wait; /* every task finishes when asked for */
	if (!j->len)
		return 0;
	int64_t item = j->items[j->head];
	hamr_value v = j->vals[j->head];
	j->head = (j->head + 1) % j->cap;
	j->len--;
	memset(d, 0, sizeof *d);
	d->item = item;
	if (j->cancelled || hamr_backend_stopped(j->r) != HAMR_BACKEND_RUNNING) {
		d->rc = HAMR_ECANCELED;
		d->dropped = 1;
		j->t->dropped++;
		hamr_value_clear(&v);
		return 1;
	}
	hamr_backend_failure f;
	d->t0 = hamr_backend_now_ns();
	int rc = hamr_backend_serve(&j->prog, item, v.type ? &v : NULL, 1, d->out, &f);
	d->t1 = hamr_backend_now_ns();
	d->where = WHERE;
	d->rank = RANK;
	hamr_value_clear(&v);
	j->t->served++;
	for (uint32_t k = 0; k < j->prog.n_nodes; k++, j->t->nodes_ran++)
		hamr_backend_node_ran(j->r, j->prog.nodes[k], item, d->t0, d->t1, rc, WHERE, RANK);
	if (rc) {
		f.where = WHERE;
		d->rc = hamr_backend_fail(j->r, &f);
		free(f.message);
	} else {
		d->n_out = j->prog.n_outs;
		if (j->t->short_outs && d->n_out)
			hamr_value_clear(&d->out[--d->n_out]);
		if (j->t->wrong_type && d->n_out) {
			hamr_value_clear(&d->out[0]);
			CHECK_OK(hamr_value_make_str(&d->out[0], "not a number"));
		}
	}
	if (j->t->cancel && item == j->t->cancel_after)
		hamr_run_cancel(j->r);
	return 1;
}

static void tb_cancel(hamr_backend_job *j)
{
	j->cancelled = 1;
	j->t->cancels++;
}

static void tb_close(hamr_backend_job *j)
{
	if (!j)
		return;
	for (; j->len; j->len--, j->head = (j->head + 1) % j->cap) {
		hamr_value_clear(&j->vals[j->head]);
		j->t->discarded++;
	}
	for (uint32_t s = 0; s < j->prog.n_slots; s++)
		hamr_value_clear(&j->slots[s]);
	j->t->closed++;
	free(j->items);
	free(j->vals);
	free(j->nodes);
	free(j->outs);
	free(j->slots);
	free(j);
}

static const hamr_backend test_backend = {
	HAMR_BACKEND_ABI, sizeof(hamr_backend), "test", tb_check, tb_open, tb_send,
	tb_next, tb_cancel, tb_close};

/* ---- graphs ------------------------------------------------------------------ */

static int f_square(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	if (x == 7 && hamr_userdata(c))
		return hamr_fail(c, "item %lld refused", (long long)x);
	return hamr_ret_i64(c, x * x + hamr_arg_i64(c, 1));
}

/* n -> offset = 2n (outside blocks); items 0 .. n-1; per item square =
 * x*x + offset and label; collects total (sum) and chars (label lengths).
 * A macro: the dependency lists are compound literals of the caller's
 * scope. */
#define GRAPH_DEFS(defs, fail)                                                 \
	hamr_node_def defs[] = {                                               \
		INPUT_N,                                                       \
		{.name = "offset", .fn = f_twice, .type = HAMR_I64,           \
		 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},                       \
		{.name = "items", .fn = f_items, .type = HAMR_I64,             \
		 .kind = HAMR_NODE_PARALLELIZABLE,                             \
		 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},                       \
		{.name = "square", .fn = f_square, .type = HAMR_I64,           \
		 .userdata = (fail),                                           \
		 .deps = DEPS(HAMR_DEP("items", HAMR_I64),                     \
		              HAMR_DEP("offset", HAMR_I64))},                  \
		{.name = "label", .fn = f_sq_label, .type = HAMR_STR,             \
		 .deps = DEPS(HAMR_DEP("square", HAMR_I64))},                  \
		{.name = "total", .fn = f_sum_list, .type = HAMR_I64,          \
		 .kind = HAMR_NODE_COLLECT,                                    \
		 .deps = DEPS(HAMR_DEP_COLLECTED("square", HAMR_I64))},        \
		{.name = "chars", .fn = f_total_chars, .type = HAMR_I64,              \
		 .kind = HAMR_NODE_COLLECT,                                    \
		 .deps = DEPS(HAMR_DEP_COLLECTED("label", HAMR_STR))},         \
		{0}}

typedef struct result {
	int rc;
	int64_t total, chars;
	hamr_error_info err; /* strings valid until the run is destroyed */
} result;

/* Runs the graph for n items with o; the run is destroyed before it
 * returns, so err's strings are copied into the caller's buffers. */
static result run_graph(int64_t n, const hamr_run_opts *o, void *fail, char *node, char *msg)
{
	GRAPH_DEFS(defs, fail);
	hamr_module m = {"backend_test", defs};
	hamr_graph *g;
	hamr_plan *p;
	hamr_values *in;
	hamr_run *r = NULL;
	const char *outs[] = {"total", "chars"};
	result res = {0};
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	CHECK_OK(hamr_values_create(&in));
	CHECK_OK(hamr_values_set_i64(in, "n", n));
	CHECK_OK(hamr_plan_create(&p, g, outs, 2, in));
	res.rc = hamr_run_execute(&r, p, in, o);
	if (r && !res.rc) {
		CHECK_OK(hamr_run_result_i64(r, "total", &res.total));
		CHECK_OK(hamr_run_result_i64(r, "chars", &res.chars));
	}
	if (r) {
		res.err = *hamr_run_error(r);
		if (node)
			snprintf(node, 64, "%s", res.err.node ? res.err.node : "");
		if (msg)
			snprintf(msg, 256, "%s", res.err.message);
	} else if (msg) {
		snprintf(msg, 256, "%s", hamr_errmsg());
	}
	res.err.node = res.err.message = NULL;
	hamr_run_destroy(r);
	hamr_values_destroy(in);
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
	return res;
}

static result reference(int64_t n)
{
	hamr_run_opts o = {.executor = HAMR_EXEC_SEQUENTIAL};
	result ref = run_graph(n, &o, NULL, NULL, NULL);
	CHECK_OK(ref.rc);
	return ref;
}

/* ---- tests ------------------------------------------------------------------- */

/* A block's items go to the backend (remote), the rest stays local: one
 * job for the block, every item sent and served once, results as the
 * sequential executor's. On both local executors. */
static void test_remote_block(void)
{
	result ref = reference(50);
	CHECK_EQ_INT(ref.total, 49 * 50 * 99 / 6 + 50 * 100);
	for (int e = 0; e < 2; e++) {
		tb t = {0};
		hamr_run_opts o = {.executor = e ? HAMR_EXEC_THREADS : HAMR_EXEC_SEQUENTIAL,
		                   .remote = HAMR_REMOTE_BACKEND, .backend = &test_backend,
		                   .backend_self = &t};
		result res = run_graph(50, &o, NULL, NULL, NULL);
		CHECK_OK(res.rc);
		CHECK_EQ_INT(res.total, ref.total);
		CHECK_EQ_INT(res.chars, ref.chars);
		CHECK_EQ_INT(t.checks, 1);
		CHECK_EQ_INT(t.opened, 1);
		CHECK_EQ_INT(t.closed, 1);
		CHECK_EQ_INT(t.sent, 50);
		CHECK_EQ_INT(t.served, 50);
		CHECK_EQ_INT(t.cancels, 0);
	}
}

/* Node and task end events: by the process and rank they say. */
typedef struct where_seen {
	_Atomic int far_nodes, far_tasks; /* pid WHERE, rank RANK */
	_Atomic int here;                 /* this process, rank -1 */
	_Atomic int odd;                  /* anything else */
} where_seen;

static void on_end(const hamr_event *e, void *ud)
{
	where_seen *w = ud;
	if (e->kind != HAMR_EV_NODE_END && e->kind != HAMR_EV_TASK_END)
		return;
	if (e->pid == WHERE && e->rank == RANK)
		atomic_fetch_add(e->kind == HAMR_EV_NODE_END ? &w->far_nodes : &w->far_tasks, 1);
	else if (e->pid == (int)getpid() && e->rank == -1)
		atomic_fetch_add(&w->here, 1);
	else
		atomic_fetch_add(&w->odd, 1);
}

/* HAMR_EXEC_BACKEND: the node outside blocks ("offset") goes there too,
 * as a job of its own with one task. Hooks hear of what the backend ran
 * with the pid and rank it gave, and of the rest with this process's pid
 * and rank -1. */
static void test_exec_backend(void)
{
	result ref = reference(20);
	tb t = {0};
	where_seen w = {0};
	hamr_hook hook = {on_end, &w};
	hamr_run_opts o = {.executor = HAMR_EXEC_BACKEND, .backend = &test_backend,
	                   .backend_self = &t, .hooks = &hook, .n_hooks = 1};
	result res = run_graph(20, &o, NULL, NULL, NULL);
	CHECK_OK(res.rc);
	CHECK_EQ_INT(res.total, ref.total);
	CHECK_EQ_INT(res.chars, ref.chars);
	CHECK_EQ_INT(t.checks, 2);
	CHECK_EQ_INT(t.opened, 2);
	CHECK_EQ_INT(t.closed, 2);
	CHECK_EQ_INT(t.sent, 21);
	CHECK_EQ_INT(t.served, 21);
	/* offset once, square and label per item; a task per item */
	CHECK_EQ_INT(atomic_load(&w.far_nodes), 1 + 2 * 20);
	CHECK_EQ_INT(atomic_load(&w.far_nodes), t.nodes_ran);
	CHECK_EQ_INT(atomic_load(&w.far_tasks), 20);
	CHECK(atomic_load(&w.here) >= 3); /* items, total, chars at least */
	CHECK_EQ_INT(atomic_load(&w.odd), 0);
}

/* A node that fails on item 7: the run's error names the node, the item,
 * the backend's "where", the node's message; no item after it runs
 * (fail fast), every job is closed. */
static void test_failure(void)
{
	static int fail = 1;
	tb t = {0};
	hamr_run_opts o = {.executor = HAMR_EXEC_SEQUENTIAL, .remote = HAMR_REMOTE_BACKEND,
	                   .backend = &test_backend, .backend_self = &t};
	char node[64], msg[256];
	result res = run_graph(30, &o, &fail, node, msg);
	CHECK_RC(res.rc, HAMR_EFAIL);
	CHECK_EQ_INT(res.err.code, HAMR_EFAIL);
	CHECK_EQ_STR(node, "square");
	CHECK_EQ_INT(res.err.item, 7);
	CHECK_EQ_INT(res.err.pid, WHERE);
	CHECK_EQ_INT(res.err.rank, -1); /* hamr_backend_fail: no MPI rank */
	CHECK(strstr(msg, "item 7 refused") != NULL);
	/* what was sent is served, dropped, or discarded at close */
	CHECK_EQ_INT(t.served, 8);
	CHECK_EQ_INT(t.sent, t.served + t.dropped + t.discarded);
	CHECK_EQ_INT(t.closed, t.opened);
}

/* The run cancelled while the backend runs its items: the job hears of
 * it once through cancel, the rest come back dropped, and the run ends
 * HAMR_ECANCELED. */
static void test_cancel(void)
{
	tb t = {.cancel = 1, .cancel_after = 5};
	hamr_run_opts o = {.executor = HAMR_EXEC_SEQUENTIAL, .remote = HAMR_REMOTE_BACKEND,
	                   .backend = &test_backend, .backend_self = &t};
	result res = run_graph(40, &o, NULL, NULL, NULL);
	CHECK_RC(res.rc, HAMR_ECANCELED);
	CHECK_EQ_INT(t.cancels, 1);
	CHECK_EQ_INT(t.served, 6);
	CHECK_EQ_INT(t.sent, t.served + t.dropped + t.discarded);
	CHECK_EQ_INT(t.closed, 1);
}

/* A completion that hands back fewer values than the program's, or a value
 * of another type than its node's, is refused, naming the backend and the
 * item; nothing leaks (ASan). */
static void test_bad_completion(void)
{
	tb t = {.short_outs = 1};
	hamr_run_opts o = {.executor = HAMR_EXEC_SEQUENTIAL, .remote = HAMR_REMOTE_BACKEND,
	                   .backend = &test_backend, .backend_self = &t};
	char node[64], msg[256];
	result res = run_graph(5, &o, NULL, node, msg);
	CHECK_RC(res.rc, HAMR_EINVAL);
	CHECK_EQ_STR(node, "items");
	CHECK_EQ_INT(res.err.item, 0);
	CHECK(strstr(msg, "backend \"test\" gave back another count of values") != NULL);
	CHECK_EQ_INT(t.closed, t.opened);

	/* a value of another type than its node's is refused too, naming
	 * the node and both types; the string is released (ASan) */
	tb w = {.wrong_type = 1};
	o.backend_self = &w;
	res = run_graph(5, &o, NULL, node, msg);
	CHECK_RC(res.rc, HAMR_EINVAL);
	CHECK_EQ_STR(node, "items");
	CHECK(strstr(msg, "a value of type str for node") != NULL);
	CHECK(strstr(msg, "declared i64") != NULL);
	CHECK_EQ_INT(w.closed, w.opened);
}

/* check refuses: the run is not made, with the backend's message. */
static void test_check_refuses(void)
{
	tb t = {.refuse = 1};
	hamr_run_opts o = {.executor = HAMR_EXEC_SEQUENTIAL, .remote = HAMR_REMOTE_BACKEND,
	                   .backend = &test_backend, .backend_self = &t};
	char msg[256];
	result res = run_graph(5, &o, NULL, NULL, msg);
	CHECK_RC(res.rc, HAMR_ECODEC);
	CHECK(strstr(msg, "node \"square\": the test backend refuses it") != NULL);
	CHECK_EQ_INT(t.opened, 0);
}

/* A table of another version, or a missing one, is refused by name. */
static void test_refused_tables(void)
{
	tb t = {0};
	hamr_backend future = test_backend;
	future.abi = HAMR_BACKEND_ABI + 1;
	hamr_run_opts o = {.remote = HAMR_REMOTE_BACKEND, .backend = &future, .backend_self = &t};
	char msg[256];
	CHECK_RC(run_graph(5, &o, NULL, NULL, msg).rc, HAMR_ENOTSUP);
	CHECK(strstr(msg, "backend \"test\"") != NULL);
	hamr_backend partial = test_backend;
	partial.cancel = NULL;
	o.backend = &partial;
	CHECK_RC(run_graph(5, &o, NULL, NULL, msg).rc, HAMR_EINVAL);
	CHECK(strstr(msg, "backend \"test\" leaves an operation NULL") != NULL);
	o.backend = NULL;
	CHECK_RC(run_graph(5, &o, NULL, NULL, msg).rc, HAMR_EINVAL);
	CHECK(strstr(msg, "hamr_run_opts.backend") != NULL);
	o = (hamr_run_opts){.executor = HAMR_EXEC_BACKEND};
	CHECK_RC(run_graph(5, &o, NULL, NULL, msg).rc, HAMR_EINVAL);
	CHECK_EQ_INT(t.opened, 0);
}

/* The serving side on its own: a program of the block's two nodes for one
 * item, its outside value borrowed; the outputs are the caller's; a
 * failing node fills the failure. */
static void test_serve(void)
{
	static int fail = 1;
	GRAPH_DEFS(defs, &fail);
	hamr_module m = {"backend_test", defs};
	hamr_graph *g;
	hamr_plan *p;
	hamr_values *in;
	const char *outs[] = {"total", "chars"};
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	CHECK_OK(hamr_values_create(&in));
	CHECK_OK(hamr_values_set_i64(in, "n", 3));
	CHECK_OK(hamr_plan_create(&p, g, outs, 2, in));
	/* find the nodes and slots by name */
	uint32_t items = UINT32_MAX, square = UINT32_MAX, label = UINT32_MAX, offset = UINT32_MAX;
	uint32_t n_slots = 0;
	hamr_backend_node bn;
	for (uint32_t i = 0; hamr_backend_node_info(p, i, &bn) == 0; i++) {
		if (!strcmp(bn.name, "items"))
			items = i;
		else if (!strcmp(bn.name, "square"))
			square = i;
		else if (!strcmp(bn.name, "label"))
			label = i;
		else if (!strcmp(bn.name, "offset"))
			offset = i;
	}
	while (hamr_backend_slot_info(p, n_slots, NULL, NULL) == 0)
		n_slots++;
	CHECK(items != UINT32_MAX && square != UINT32_MAX && label != UINT32_MAX &&
	      offset != UINT32_MAX);
	CHECK_EQ_INT(hamr_backend_node_info(p, n_slots + 100, &bn), HAMR_ERANGE);
	CHECK_OK(hamr_backend_node_info(p, square, &bn));
	CHECK_EQ_INT(bn.n_args, 2);
	CHECK_EQ_INT(bn.args[1], (int32_t)offset); /* a node's result is its own slot */
	const char *sname;
	hamr_type st;
	CHECK_OK(hamr_backend_slot_info(p, label, &sname, &st));
	CHECK_EQ_STR(sname, "label");
	CHECK(st == HAMR_STR);

	hamr_value *slots = calloc(n_slots, sizeof *slots);
	CHECK(slots != NULL);
	slots[offset] = hamr_value_from_i64(100);
	uint32_t nodes[] = {square, label};
	uint32_t outs2[] = {square, label};
	hamr_backend_program prog = {p, nodes, 2, (int32_t)items, slots, n_slots, outs2, 2};
	hamr_value item = hamr_value_from_i64(4), got[2];
	hamr_backend_failure f;
	CHECK_OK(hamr_backend_serve(&prog, 4, &item, 1, got, &f));
	CHECK_EQ_INT(hamr_value_i64(&got[0]), 116);
	size_t len;
	CHECK_EQ_STR(hamr_value_str(&got[1], &len), "sq116");
	hamr_value_clear(&got[0]);
	hamr_value_clear(&got[1]);
	/* item 7 fails in "square": label never runs */
	item = hamr_value_from_i64(7);
	CHECK_RC(hamr_backend_serve(&prog, 7, &item, 2, got, &f), HAMR_EFAIL);
	CHECK_EQ_INT(f.code, HAMR_EFAIL);
	CHECK_EQ_INT(f.node, (int32_t)square);
	CHECK_EQ_INT(f.item, 7);
	CHECK_EQ_INT(f.attempt, 2);
	CHECK(f.message && strstr(f.message, "item 7 refused"));
	free(f.message);
	/* a program that does not match its plan: refused, with a failure
	 * that names no node */
	prog.n_slots = n_slots + 1;
	CHECK_RC(hamr_backend_serve(&prog, 4, &item, 1, got, &f), HAMR_EINVAL);
	CHECK_EQ_INT(f.code, HAMR_EINVAL);
	CHECK_EQ_INT(f.node, -1);
	CHECK(f.message && strstr(f.message, "hamr_backend_serve"));
	free(f.message);
	prog.n_slots = n_slots;
	uint32_t twice[] = {square, square};
	prog.nodes = twice;
	CHECK_RC(hamr_backend_serve(&prog, 4, &item, 1, got, &f), HAMR_EINVAL);
	CHECK(f.message && strstr(f.message, "node \"square\" is listed twice"));
	free(f.message);
	CHECK_RC(hamr_backend_node_info(NULL, 0, &bn), HAMR_EINVAL);
	free(slots);
	hamr_values_destroy(in);
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
}

/* Zero-initialised options are the defaults: the default executor
 * (HAMR_EXECUTOR's, else the built-in one) gives the sequential
 * executor's results; retries takes HAMR_OFF, not another negative
 * number. */
static void test_zero_options(void)
{
	result ref = reference(10);
	hamr_run_opts zero;
	memset(&zero, 0, sizeof zero);
	result res = run_graph(10, &zero, NULL, NULL, NULL);
	CHECK_OK(res.rc);
	CHECK_EQ_INT(res.total, ref.total);
	CHECK_EQ_STR(hamr_executor_name(HAMR_EXEC_DEFAULT), "default");
	CHECK_EQ_STR(hamr_executor_name(HAMR_EXEC_SEQUENTIAL), "sequential");
	CHECK_EQ_STR(hamr_executor_name(HAMR_EXEC_BACKEND), "backend");
	hamr_executor_kind k;
	CHECK_RC(hamr_executor_parse("default", &k), HAMR_EINVAL);
	CHECK_OK(hamr_executor_parse("processes", &k));
	CHECK_EQ_INT(k, HAMR_EXEC_PROCESSES);
	hamr_run_opts o = {.executor = HAMR_EXEC_THREADS, .remote = HAMR_REMOTE_PROCESSES,
	                   .retries = -2};
	char msg[256];
	CHECK_RC(run_graph(3, &o, NULL, NULL, msg).rc, HAMR_EINVAL);
	CHECK(strstr(msg, "retries = -2") != NULL);
}

static int f_plus_one(hamr_call *c)
{
	return hamr_ret_i64(c, hamr_arg_i64(c, 0) + 1);
}

/* A block tagged executor=mpi, run with default options: its items go to
 * the backend registered as "mpi". The run's code, and its total. */
static int run_tagged(int64_t n, int64_t *total, char *msg)
{
	hamr_node_def defs[] = {
		INPUT_N,
		{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
		 .deps = DEPS(HAMR_DEP("n", HAMR_I64)), .tags = TAGS({"executor", "mpi"})},
		{.name = "next", .fn = f_plus_one, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
		{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("next", HAMR_I64))},
		{0}};
	const char *outs[] = {"total"};
	fixture f = run_with(defs, outs, 1, n, NULL);
	CHECK_OK(f.plan_rc);
	snprintf(msg, 256, "%s", f.r ? hamr_run_error(f.r)->message : hamr_errmsg());
	if (!f.run_rc)
		*total = i64(&f, "total");
	done(&f);
	return f.run_rc;
}

/* HAMR_EXEC_MPI, HAMR_REMOTE_MPI and the tag executor=mpi name the
 * backend registered as "mpi": refused while none is (naming the fix),
 * that backend once one is, refused again once it is forgotten. */
static void test_named_backend(void)
{
	char msg[256];
	int64_t total = 0;
	hamr_executor_kind k;
	CHECK_OK(hamr_executor_parse("mpi", &k));
	CHECK_EQ_INT(k, HAMR_EXEC_MPI);
	CHECK_EQ_STR(hamr_executor_name(HAMR_EXEC_MPI), "mpi");
	hamr_run_opts e = {.executor = HAMR_EXEC_MPI}, rem = {.remote = HAMR_REMOTE_MPI};
	CHECK_RC(run_graph(5, &e, NULL, NULL, msg).rc, HAMR_ENOTSUP);
	CHECK_CONTAINS(msg, "call hamr_mpi_init first");
	CHECK_RC(run_graph(5, &rem, NULL, NULL, msg).rc, HAMR_ENOTSUP);
	CHECK_RC(run_tagged(5, &total, msg), HAMR_ENOTSUP);
	CHECK_CONTAINS(msg, "MPI executor is not initialised");

	tb t = {0};
	CHECK_RC(hamr_backend_register("ray", &test_backend, &t), HAMR_EINVAL);
	CHECK_OK(hamr_backend_register("mpi", &test_backend, &t));
	result ref = reference(20);
	result res = run_graph(20, &rem, NULL, NULL, NULL);
	CHECK_OK(res.rc);
	CHECK_EQ_INT(res.total, ref.total);
	CHECK_EQ_INT(t.opened, 1);
	CHECK_EQ_INT(t.sent, 20);
	res = run_graph(20, &e, NULL, NULL, NULL); /* the node outside blocks too */
	CHECK_OK(res.rc);
	CHECK_EQ_INT(res.chars, ref.chars);
	CHECK_EQ_INT(t.opened, 3);
	CHECK_OK(run_tagged(10, &total, msg));
	CHECK_EQ_INT(total, 55);
	CHECK_EQ_INT(t.opened, 4);
	CHECK_EQ_INT(t.sent, 20 + 21 + 10);
	/* another backend beside it in one run: refused, naming it */
	static const hamr_backend other = {HAMR_BACKEND_ABI, sizeof(hamr_backend), "other",
	                                   tb_check, tb_open, tb_send, tb_next, tb_cancel, tb_close};
	hamr_run_opts both = {.remote = HAMR_REMOTE_MPI, .backend = &other, .backend_self = &t};
	CHECK_RC(run_graph(5, &both, NULL, NULL, msg).rc, HAMR_EINVAL);
	CHECK_CONTAINS(msg, "backend \"other\" in one run");
	CHECK_OK(hamr_backend_register("mpi", NULL, NULL));
	CHECK_RC(run_graph(5, &rem, NULL, NULL, msg).rc, HAMR_ENOTSUP);
	CHECK_EQ_INT(t.closed, t.opened);
}

int main(void)
{
	RUN_TEST(test_remote_block);
	RUN_TEST(test_exec_backend);
	RUN_TEST(test_failure);
	RUN_TEST(test_cancel);
	RUN_TEST(test_bad_completion);
	RUN_TEST(test_check_refuses);
	RUN_TEST(test_refused_tables);
	RUN_TEST(test_serve);
	RUN_TEST(test_zero_options);
	RUN_TEST(test_named_backend);
	TEST_EXIT();
}
