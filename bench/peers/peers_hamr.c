// SPDX-License-Identifier: MIT
/* hamr's side of the peer benchmarks (impl `hamr`, and `hamr_seq` for the
 * sequential executor at one thread). Public API only, linked to the shared
 * libhamr as a user's program is.
 *
 * One pool per process, hamr_pool_create with workers = --threads and every
 * other setting at its default (spin 50 us, no pinning, lazy parallel_for).
 * The calling thread is not a worker: fork-join work enters through
 * hamr_pool_call, and graph runs through the threads executor on that pool;
 * the caller sleeps meanwhile, so T workers use T cores.
 *
 *   fib             hamr_spawn(fib(n-1)), fib(n-2) inline, hamr_sync
 *   map/fine        recursive binary split down to one item, spawn + sync
 *   map/untuned     hamr_parallel_for, no grain (lazy splitting); partial
 *                   sums in per-worker accumulators
 *   map/flat        one task spawns one task per item, FLAT_CHUNK at a time,
 *                   then syncs that chunk; every task has its own record
 *   wavefront       a grid graph of named nodes; oneshot times names +
 *                   add_node + build + plan + run + destroy (at sides 32,
 *                   100 and 512), rerun times run create + start + wait +
 *                   destroy on a plan made once (512)
 *   wide            1000 nodes node_k = x + k on an input x, and total,
 *                   their sum; oneshot and rerun as for wavefront
 *   chain           2^20 nodes in a line, rerun
 *   wavefront_work  256 x 256 grid, ~1 us per node, rerun
 *   mapreduce       a graph: items(n) emits 0 .. n-1 (hamr_emit_range), work(x)
 *                   is a node of its map block, total collects the block (a
 *                   list, summed); variant = the grouping (auto, block,
 *                   node), and auto-fold with total a fold collect instead;
 *                   auto-each and auto-fold-each emit the items one at a
 *                   time (hamr_emit_i64 in a loop); rerun
 *   mapreduce_noop  the same with work(x) = x, n = 1e3 .. 1e7 (auto,
 *                   auto-fold and their -each variants)
 *   proc_noop       mapreduce_noop's graph with 1e5 items (emitted one at a
 *                   time, as before hamr_emit_range), the map block in
 *                   worker processes (variant processes) or on the pool
 *                   (threads): the round trip of a task
 *   proc_cpu        64 items of about 10 ms of work each, the same two ways
 *   proc_result     one node that allocates an n-byte result through hamr
 *                   (n = 1 MiB, 64 MiB) and writes a byte per page, run in a
 *                   worker process (the result crosses in place) or on the
 *                   pool; units = bytes */
#include <hamr.h>

#include "peers_common.h"

static hamr_pool *pool;
static int n_threads;

static void die(const char *what, int rc)
{
	fprintf(stderr, "peers_hamr: %s: %s (%s)\n", what, hamr_strerror(rc),
	        hamr_errmsg());
	exit(1);
}

/* ---- fib --------------------------------------------------------------------- */

typedef struct fib_arg {
	int n;
	uint64_t r;
} fib_arg;

static void fib_task(void *p)
{
	fib_arg *a = p;
	if (a->n < 2) {
		a->r = (uint64_t)a->n;
		return;
	}
	fib_arg x = {a->n - 1, 0}, y = {a->n - 2, 0};
	hamr_task t;
	hamr_spawn(&t, fib_task, &x);
	fib_task(&y);
	hamr_sync(&t);
	a->r = x.r + y.r;
}

static uint64_t fib_body(void *ctx, int64_t *ns)
{
	(void)ctx;
	fib_arg a = {FIB_N, 0};
	int64_t t0 = peers_now_ns();
	int rc = hamr_pool_call(pool, fib_task, &a);
	*ns = peers_now_ns() - t0;
	if (rc)
		die("hamr_pool_call", rc);
	return a.r;
}

/* ---- map ----------------------------------------------------------------------- */

typedef struct split_arg {
	uint64_t lo, hi, r;
} split_arg;

/* fine: halves down to one item, every half a task */
static void split_task(void *p)
{
	split_arg *a = p;
	if (a->hi - a->lo == 1) {
		a->r = map_f(a->lo);
		return;
	}
	uint64_t mid = a->lo + (a->hi - a->lo) / 2;
	split_arg x = {mid, a->hi, 0}, y = {a->lo, mid, 0};
	hamr_task t;
	hamr_spawn(&t, split_task, &x);
	split_task(&y);
	hamr_sync(&t);
	a->r = x.r + y.r;
}

static uint64_t map_fine_body(void *ctx, int64_t *ns)
{
	(void)ctx;
	split_arg a = {0, MAP_N, 0};
	int64_t t0 = peers_now_ns();
	int rc = hamr_pool_call(pool, split_task, &a);
	*ns = peers_now_ns() - t0;
	if (rc)
		die("hamr_pool_call", rc);
	return a.r;
}

/* untuned: one accumulator per worker, a cache line each */
typedef struct acc {
	uint64_t s;
	char pad[56];
} acc;

static acc accs[64];

static void map_range(size_t lo, size_t hi, void *arg)
{
	(void)arg;
	uint64_t s = 0;
	for (size_t i = lo; i < hi; i++)
		s += map_f(i);
	accs[hamr_worker_index()].s += s;
}

static uint64_t map_untuned_body(void *ctx, int64_t *ns)
{
	(void)ctx;
	memset(accs, 0, sizeof accs);
	int64_t t0 = peers_now_ns();
	int rc = hamr_pool_parallel_for(pool, 0, MAP_N, map_range, NULL);
	uint64_t s = 0;
	for (int w = 0; w < n_threads; w++)
		s += accs[w].s;
	*ns = peers_now_ns() - t0;
	if (rc)
		die("hamr_pool_parallel_for", rc);
	return s;
}

/* flat: the spawning task owns FLAT_CHUNK task records and reuses them */
#define FLAT_CHUNK 4096

typedef struct item_task {
	hamr_task t;
	uint64_t i, r;
} item_task;

static void item_run(void *p)
{
	item_task *it = p;
	it->r = map_f(it->i);
}

typedef struct flat_arg {
	item_task *items; /* FLAT_CHUNK */
	uint64_t r;
} flat_arg;

static void flat_task(void *p)
{
	flat_arg *a = p;
	uint64_t s = 0;
	for (uint64_t base = 0; base < MAP_N; base += FLAT_CHUNK) {
		uint64_t n = MAP_N - base < FLAT_CHUNK ? MAP_N - base : FLAT_CHUNK;
		for (uint64_t k = 0; k < n; k++) {
			a->items[k].i = base + k;
			hamr_spawn(&a->items[k].t, item_run, &a->items[k]);
		}
		for (uint64_t k = n; k-- > 0;) {
			hamr_sync(&a->items[k].t);
			s += a->items[k].r;
		}
	}
	a->r = s;
}

static uint64_t map_flat_body(void *ctx, int64_t *ns)
{
	flat_arg a = {ctx, 0};
	int64_t t0 = peers_now_ns();
	int rc = hamr_pool_call(pool, flat_task, &a);
	*ns = peers_now_ns() - t0;
	if (rc)
		die("hamr_pool_call", rc);
	return a.r;
}

/* ---- graphs ---------------------------------------------------------------------- */

/* Every graph node: 1 + the sum of its arguments (wave_cell), or that mixed
 * for about 1 us (work_cell). A grid's corner and a chain's first node have
 * no arguments. */
static int node_sum(hamr_call *c)
{
	uint64_t up = 0, left = 0;
	size_t n = hamr_arg_count(c);
	if (n > 0)
		up = (uint64_t)hamr_arg_i64(c, 0);
	if (n > 1)
		left = (uint64_t)hamr_arg_i64(c, 1);
	return hamr_ret_i64(c, (int64_t)wave_cell(up, left));
}

static int node_work(hamr_call *c)
{
	uint64_t up = 0, left = 0;
	size_t n = hamr_arg_count(c);
	if (n > 0)
		up = (uint64_t)hamr_arg_i64(c, 0);
	if (n > 1)
		left = (uint64_t)hamr_arg_i64(c, 1);
	return hamr_ret_i64(c, (int64_t)work_cell(up, left));
}

/* An n x n grid of nodes "c_I_J", each name formatted once in the loop
 * (a row's names kept for the next row's dependencies), and a plan for
 * the last corner, whose name goes to `sink`. */
static int grid_plan(hamr_plan **out, int n, hamr_fn fn, char *sink)
{
	hamr_graph *g = NULL;
	char(*rows)[24] = malloc(2 * (size_t)n * sizeof *rows); /* row i - 1, row i */
	int rc = rows ? hamr_graph_create(&g) : HAMR_ENOMEM;
	for (int i = 0; !rc && i < n; i++) {
		char(*up)[24] = rows + (size_t)((i + 1) % 2) * n, (*cur)[24] = rows + (size_t)(i % 2) * n;
		for (int j = 0; !rc && j < n; j++) {
			hamr_dep deps[3] = {HAMR_DEPS_END, HAMR_DEPS_END, HAMR_DEPS_END};
			int k = 0;
			snprintf(cur[j], sizeof cur[j], "c_%d_%d", i, j);
			if (i > 0) {
				deps[k].name = up[j];
				deps[k++].type = HAMR_I64;
			}
			if (j > 0) {
				deps[k].name = cur[j - 1];
				deps[k++].type = HAMR_I64;
			}
			hamr_node_def d = {.name = cur[j], .fn = fn, .type = HAMR_I64,
			                   .deps = deps};
			rc = hamr_graph_add_node(g, "grid", &d);
		}
	}
	free(rows);
	snprintf(sink, 32, "c_%d_%d", n - 1, n - 1);
	const char *outs[1] = {sink};
	if (!rc)
		rc = hamr_plan_create(out, g, outs, 1, NULL);
	hamr_graph_destroy(g); /* the plan keeps it alive */
	return rc;
}

/* node_k of wide: x + k, k in the userdata */
static int node_add(hamr_call *c)
{
	uint64_t k = (uint64_t)(uintptr_t)hamr_userdata(c);
	return hamr_ret_i64(c, (int64_t)((uint64_t)hamr_arg_i64(c, 0) + k));
}

/* wide's total: the sum of its arguments */
static int node_total(hamr_call *c)
{
	uint64_t s = 0;
	size_t n = hamr_arg_count(c);
	for (size_t i = 0; i < n; i++)
		s += (uint64_t)hamr_arg_i64(c, i);
	return hamr_ret_i64(c, (int64_t)s);
}

/* An input "x", WIDE_N nodes "node_K" = x + K and "total", their sum, the
 * sink (its name goes to `sink`); `in` gives x. */
static int wide_plan(hamr_plan **out, const hamr_values *in, char *sink)
{
	static char names[WIDE_N][16];
	static hamr_dep total_deps[WIDE_N + 1];
	const hamr_dep d_x[] = {HAMR_DEP("x", HAMR_I64), HAMR_DEPS_END};
	hamr_graph *g = NULL;
	int rc = hamr_graph_create(&g);
	hamr_node_def x = {.name = "x", .type = HAMR_I64, .kind = HAMR_NODE_INPUT};
	if (!rc)
		rc = hamr_graph_add_node(g, "wide", &x);
	for (int k = 0; !rc && k < WIDE_N; k++) {
		snprintf(names[k], sizeof names[k], "node_%d", k);
		hamr_node_def d = {.name = names[k], .fn = node_add, .type = HAMR_I64,
		                   .deps = d_x, .userdata = (void *)(uintptr_t)k};
		rc = hamr_graph_add_node(g, "wide", &d);
		total_deps[k].name = names[k];
		total_deps[k].type = HAMR_I64;
	}
	total_deps[WIDE_N] = (hamr_dep)HAMR_DEPS_END;
	hamr_node_def t = {.name = "total", .fn = node_total, .type = HAMR_I64,
	                   .deps = total_deps};
	if (!rc)
		rc = hamr_graph_add_node(g, "wide", &t);
	snprintf(sink, 32, "total");
	const char *outs[1] = {sink};
	if (!rc)
		rc = hamr_plan_create(out, g, outs, 1, in);
	hamr_graph_destroy(g);
	return rc;
}

/* CHAIN_N nodes "n0" .. "nK" in a line; the sink is the last. */
static int chain_plan(hamr_plan **out, char *sink)
{
	hamr_graph *g = NULL;
	char name[32], prev[32];
	int rc = hamr_graph_create(&g);
	for (uint32_t k = 0; !rc && k < CHAIN_N; k++) {
		hamr_dep deps[2] = {HAMR_DEPS_END, HAMR_DEPS_END};
		snprintf(name, sizeof name, "n%u", k);
		if (k > 0) {
			snprintf(prev, sizeof prev, "n%u", k - 1);
			deps[0].name = prev;
			deps[0].type = HAMR_I64;
		}
		hamr_node_def d = {.name = name, .fn = node_sum, .type = HAMR_I64,
		                   .deps = deps};
		rc = hamr_graph_add_node(g, "chain", &d);
	}
	snprintf(sink, 32, "n%u", CHAIN_N - 1);
	const char *outs[1] = {sink};
	if (!rc)
		rc = hamr_plan_create(out, g, outs, 1, NULL);
	hamr_graph_destroy(g);
	return rc;
}

typedef struct graph_ctx {
	hamr_plan *plan;   /* rerun: made once */
	char sink[32];
	hamr_executor_kind exec;
	int n;             /* oneshot: grid size */
	hamr_fn fn;        /* oneshot: node function */
	int wide;          /* oneshot: wide_plan instead of grid_plan */
	hamr_values *in;   /* the inputs (wide's x), or NULL */
} graph_ctx;

static uint64_t run_plan(const graph_ctx *g, hamr_plan *plan)
{
	hamr_run_opts o = {.executor = g->exec, .pool = pool};
	hamr_run *r = NULL;
	int64_t v = 0;
	int rc = hamr_run_execute(&r, plan, g->in, &o);
	if (rc)
		die("hamr_run_execute", rc);
	if ((rc = hamr_run_result_i64(r, g->sink, &v)))
		die("hamr_run_result_i64", rc);
	hamr_run_destroy(r);
	return (uint64_t)v;
}

static uint64_t rerun_body(void *ctx, int64_t *ns)
{
	graph_ctx *g = ctx;
	int64_t t0 = peers_now_ns();
	uint64_t v = run_plan(g, g->plan);
	*ns = peers_now_ns() - t0;
	return v;
}

static uint64_t oneshot_body(void *ctx, int64_t *ns)
{
	graph_ctx *g = ctx;
	hamr_plan *plan = NULL;
	int64_t t0 = peers_now_ns();
	int rc = g->wide ? wide_plan(&plan, g->in, g->sink)
	                 : grid_plan(&plan, g->n, g->fn, g->sink);
	if (rc)
		die(g->wide ? "wide_plan" : "grid_plan", rc);
	uint64_t v = run_plan(g, plan);
	hamr_plan_destroy(plan);
	*ns = peers_now_ns() - t0;
	return v;
}

/* ---- mapreduce -------------------------------------------------------------------- */

/* The items 0 .. n-1, in one call. */
static int mr_items(hamr_call *c)
{
	return hamr_emit_range(c, 0, hamr_arg_i64(c, 0));
}

/* The same items emitted one at a time (the -each variants). */
static int mr_items_each(hamr_call *c)
{
	int64_t n = hamr_arg_i64(c, 0);
	for (int64_t i = 0; i < n; i++)
		if (hamr_emit_i64(c, i))
			return HAMR_ECANCELED;
	return 0;
}

static int mr_work(hamr_call *c)
{
	return hamr_ret_i64(c, (int64_t)map_f((uint64_t)hamr_arg_i64(c, 0)));
}

static int mr_noop(hamr_call *c)
{
	return hamr_ret_arg(c, 0);
}

static int mr_total(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	uint64_t s = 0;
	for (size_t i = 0; i < l.len; i++)
		s += (uint64_t)hamr_list_i64(l, i);
	return hamr_ret_i64(c, (int64_t)s);
}

static int mr_add(hamr_value *acc, const hamr_value *x, void *ud)
{
	(void)ud;
	*acc = hamr_value_from_i64((int64_t)((uint64_t)hamr_value_i64(acc) +
	                                     (uint64_t)hamr_value_i64(x)));
	return 0;
}

static const hamr_fold mr_sum = {HAMR_DEFAULT_I64(0), mr_add, mr_add};

typedef struct mr_ctx {
	hamr_plan *plan;
	hamr_values *in;
	hamr_grouping grouping;
	hamr_remote_kind remote; /* LOCAL: the pool; PROCESSES: procs */
} mr_ctx;

static hamr_procpool *procs; /* the worker processes of the proc_* rows */

static void mr_make(mr_ctx *m, hamr_fn work, int fold, int each, uint64_t n, hamr_grouping gr)
{
	const hamr_dep d_n[] = {HAMR_DEP("n", HAMR_I64), HAMR_DEPS_END};
	const hamr_dep d_x[] = {HAMR_DEP("items", HAMR_I64), HAMR_DEPS_END};
	const hamr_dep d_w[] = {HAMR_DEP_COLLECTED("work", HAMR_I64), HAMR_DEPS_END};
	const hamr_node_def defs[] = {
		{.name = "n", .type = HAMR_I64, .kind = HAMR_NODE_INPUT},
		{.name = "items", .fn = each ? mr_items_each : mr_items, .type = HAMR_I64,
		 .kind = HAMR_NODE_PARALLELIZABLE, .deps = d_n},
		{.name = "work", .fn = work, .type = HAMR_I64, .deps = d_x},
		{.name = "total", .fn = fold ? NULL : mr_total, .type = HAMR_I64,
		 .kind = HAMR_NODE_COLLECT, .deps = d_w, .fold = fold ? &mr_sum : NULL},
		{0}};
	hamr_module mod = {"mapreduce", defs};
	hamr_graph *g = NULL;
	const char *outs[] = {"total"};
	int rc = hamr_graph_create(&g);
	if (!rc)
		rc = hamr_graph_add_module(g, &mod);
	if (!rc)
		rc = hamr_values_create(&m->in);
	if (!rc)
		rc = hamr_values_set_i64(m->in, "n", (int64_t)n);
	if (!rc)
		rc = hamr_plan_create(&m->plan, g, outs, 1, m->in);
	if (rc)
		die("mapreduce plan", rc);
	hamr_graph_destroy(g);
	m->grouping = gr;
}

static void mr_free(mr_ctx *m)
{
	hamr_plan_destroy(m->plan);
	hamr_values_destroy(m->in);
}

static uint64_t mr_body(void *ctx, int64_t *ns)
{
	mr_ctx *m = ctx;
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	o.executor = HAMR_EXEC_THREADS;
	o.pool = pool;
	o.grouping = m->grouping;
	o.remote = m->remote;
	o.procpool = procs;
	hamr_run *r = NULL;
	int64_t v = 0, t0 = peers_now_ns();
	int rc = hamr_run_execute(&r, m->plan, m->in, &o);
	if (!rc)
		rc = hamr_run_result_i64(r, "total", &v);
	hamr_run_destroy(r);
	*ns = peers_now_ns() - t0;
	if (rc)
		die("mapreduce run", rc);
	return (uint64_t)v;
}

/* ---- worker processes ------------------------------------------------------------ */

/* About 10 ms on the machine map_f takes 240 ns on. */
#define CPU_ROUNDS 7300000

static int proc_cpu_work(hamr_call *c)
{
	return hamr_ret_i64(c, (int64_t)peers_mix((uint64_t)hamr_arg_i64(c, 0), CPU_ROUNDS));
}

static uint64_t ref_cpu(uint64_t n)
{
	uint64_t s = 0;
	for (uint64_t i = 0; i < n; i++)
		s += peers_mix(i, CPU_ROUNDS);
	return s;
}

static int big_result(hamr_call *c)
{
	size_t n = (size_t)hamr_arg_i64(c, 0);
	unsigned char *b = hamr_ret_alloc(c, n);
	if (!b)
		return HAMR_ENOMEM;
	for (size_t k = 0; k < n; k += 4096)
		b[k] = (unsigned char)(k >> 12);
	return 0;
}

typedef struct res_ctx {
	hamr_plan *plan;
	hamr_values *in;
	hamr_executor_kind exec;
	uint64_t n;
} res_ctx;

static uint64_t result_body(void *ctx, int64_t *ns)
{
	res_ctx *m = ctx;
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	o.executor = m->exec;
	o.pool = pool;
	o.procpool = procs;
	hamr_run *r = NULL;
	int64_t t0 = peers_now_ns();
	int rc = hamr_run_execute(&r, m->plan, m->in, &o);
	uint64_t s = 0;
	if (!rc) {
		/* the program reads the result where it lies */
		size_t len = 0;
		const unsigned char *b = hamr_value_bytes(hamr_run_result(r, "big"), &len);
		for (size_t k = 0; b && k < len; k += 4096)
			s += b[k];
	}
	hamr_run_destroy(r);
	*ns = peers_now_ns() - t0;
	if (rc)
		die("proc_result run", rc);
	return s;
}

static void run_procs(const peers_opts *o, int T)
{
	int rc = hamr_procpool_create(&procs, &(hamr_procpool_opts){.processes = T});
	if (rc)
		die("hamr_procpool_create", rc);
	static const struct {
		const char *name;
		hamr_remote_kind remote;
	} v[] = {{"processes", HAMR_REMOTE_PROCESSES}, {"threads", HAMR_REMOTE_THREADS}};
	for (size_t k = 0; k < 2; k++) {
		if (peers_wanted(o, "proc_noop")) {
			uint64_t n = 100000;
			mr_ctx m = {0};
			mr_make(&m, mr_noop, 1, 1, n, HAMR_GROUPING_AUTO);
			m.remote = v[k].remote;
			peers_measure(o, "proc_noop", "hamr", v[k].name, T, n, n, ref_noop(n), mr_body, &m);
			mr_free(&m);
		}
		if (peers_wanted(o, "proc_cpu")) {
			uint64_t n = 64;
			mr_ctx m = {0};
			mr_make(&m, proc_cpu_work, 1, 1, n, HAMR_GROUPING_AUTO);
			m.remote = v[k].remote;
			peers_measure(o, "proc_cpu", "hamr", v[k].name, T, n, n, ref_cpu(n), mr_body, &m);
			mr_free(&m);
		}
	}
	for (uint64_t n = 1 << 20; peers_wanted(o, "proc_result") && n <= (64u << 20); n *= 64) {
		const hamr_dep d_n[] = {HAMR_DEP("n", HAMR_I64), HAMR_DEPS_END};
		const hamr_node_def defs[] = {
			{.name = "n", .type = HAMR_I64, .kind = HAMR_NODE_INPUT},
			{.name = "big", .fn = big_result, .type = HAMR_BYTES, .deps = d_n},
			{0}};
		hamr_module mod = {"proc_result", defs};
		hamr_graph *g = NULL;
		const char *outs[] = {"big"};
		res_ctx m = {0};
		m.n = n;
		if ((rc = hamr_graph_create(&g)) || (rc = hamr_graph_add_module(g, &mod)) ||
		    (rc = hamr_values_create(&m.in)) || (rc = hamr_values_set_i64(m.in, "n", (int64_t)n)) ||
		    (rc = hamr_plan_create(&m.plan, g, outs, 1, m.in)))
			die("proc_result plan", rc);
		hamr_graph_destroy(g);
		uint64_t want = 0;
		for (uint64_t k = 0; k < n; k += 4096)
			want += (unsigned char)(k >> 12);
		m.exec = HAMR_EXEC_PROCESSES;
		peers_measure(o, "proc_result", "hamr", "processes", T, n, n, want, result_body, &m);
		m.exec = HAMR_EXEC_THREADS;
		peers_measure(o, "proc_result", "hamr", "threads", T, n, n, want, result_body, &m);
		hamr_plan_destroy(m.plan);
		hamr_values_destroy(m.in);
	}
	hamr_procpool_destroy(procs);
}

/* ---- main ------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	peers_opts o;
	peers_parse(argc, argv, &o);
	n_threads = o.threads;
	if (n_threads > 64) {
		fprintf(stderr, "peers_hamr: at most 64 threads\n");
		return 2;
	}
	/* before any thread: worker processes come from the fork server */
	int want_procs = peers_wanted(&o, "proc_noop") || peers_wanted(&o, "proc_cpu") ||
	                 peers_wanted(&o, "proc_result");
	if (want_procs && hamr_processes_init())
		die("hamr_processes_init", HAMR_ESTATE);
	hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
	po.workers = o.threads;
	int rc = hamr_pool_create(&pool, &po);
	if (rc)
		die("hamr_pool_create", rc);
	const int T = o.threads;
	/* hamr_seq: the sequential executor, once, at one thread */
	const int seq = T == 1;

	if (peers_wanted(&o, "fib"))
		peers_measure(&o, "fib", "hamr", "spawn", T, FIB_N, FIB_CALLS, FIB_RESULT,
		              fib_body, NULL);
	if (peers_wanted(&o, "map")) {
		uint64_t want = ref_map();
		item_task *items = calloc(FLAT_CHUNK, sizeof *items);
		peers_measure(&o, "map", "hamr", "fine", T, MAP_N, MAP_N, want,
		              map_fine_body, NULL);
		peers_measure(&o, "map", "hamr", "untuned", T, MAP_N, MAP_N, want,
		              map_untuned_body, NULL);
		peers_measure(&o, "map", "hamr", "flat", T, MAP_N, MAP_N, want,
		              map_flat_body, items);
		free(items);
	}
	if (peers_wanted(&o, "wavefront")) {
		uint64_t want = ref_grid(WAVE_N, 0), units = (uint64_t)WAVE_N * WAVE_N;
		graph_ctx g = {.exec = HAMR_EXEC_THREADS, .fn = node_sum};
		for (int k = 0; k < WAVE_ONESHOT_COUNT; k++) {
			g.n = WAVE_ONESHOT_SIZES[k];
			peers_measure(&o, "wavefront", "hamr", "oneshot", T, g.n,
			              (uint64_t)g.n * g.n, ref_grid(g.n, 0), oneshot_body, &g);
		}
		if ((rc = grid_plan(&g.plan, WAVE_N, node_sum, g.sink)))
			die("grid_plan", rc);
		peers_measure(&o, "wavefront", "hamr", "rerun", T, WAVE_N, units, want,
		              rerun_body, &g);
		if (seq) {
			g.exec = HAMR_EXEC_SEQUENTIAL;
			for (int k = 0; k < WAVE_ONESHOT_COUNT; k++) {
				g.n = WAVE_ONESHOT_SIZES[k];
				peers_measure(&o, "wavefront", "hamr_seq", "oneshot", 1, g.n,
				              (uint64_t)g.n * g.n, ref_grid(g.n, 0), oneshot_body,
				              &g);
			}
			peers_measure(&o, "wavefront", "hamr_seq", "rerun", 1, WAVE_N, units,
			              want, rerun_body, &g);
		}
		hamr_plan_destroy(g.plan);
	}
	if (peers_wanted(&o, "wide")) {
		graph_ctx g = {.exec = HAMR_EXEC_THREADS, .wide = 1};
		if ((rc = hamr_values_create(&g.in)) ||
		    (rc = hamr_values_set_i64(g.in, "x", WIDE_X)))
			die("wide inputs", rc);
		peers_measure(&o, "wide", "hamr", "oneshot", T, WIDE_N, WIDE_N + 1,
		              ref_wide(), oneshot_body, &g);
		if ((rc = wide_plan(&g.plan, g.in, g.sink)))
			die("wide_plan", rc);
		peers_measure(&o, "wide", "hamr", "rerun", T, WIDE_N, WIDE_N + 1, ref_wide(),
		              rerun_body, &g);
		if (seq) {
			g.exec = HAMR_EXEC_SEQUENTIAL;
			peers_measure(&o, "wide", "hamr_seq", "oneshot", 1, WIDE_N, WIDE_N + 1,
			              ref_wide(), oneshot_body, &g);
			peers_measure(&o, "wide", "hamr_seq", "rerun", 1, WIDE_N, WIDE_N + 1,
			              ref_wide(), rerun_body, &g);
		}
		hamr_plan_destroy(g.plan);
		hamr_values_destroy(g.in);
	}
	if (peers_wanted(&o, "chain")) {
		graph_ctx g = {.exec = HAMR_EXEC_THREADS};
		if ((rc = chain_plan(&g.plan, g.sink)))
			die("chain_plan", rc);
		peers_measure(&o, "chain", "hamr", "rerun", T, CHAIN_N, CHAIN_N,
		              ref_chain(), rerun_body, &g);
		if (seq) {
			g.exec = HAMR_EXEC_SEQUENTIAL;
			peers_measure(&o, "chain", "hamr_seq", "rerun", 1, CHAIN_N, CHAIN_N,
			              ref_chain(), rerun_body, &g);
		}
		hamr_plan_destroy(g.plan);
	}
	if (peers_wanted(&o, "wavefront_work")) {
		uint64_t want = ref_grid(WORKW_N, 1), units = (uint64_t)WORKW_N * WORKW_N;
		graph_ctx g = {.exec = HAMR_EXEC_THREADS};
		if ((rc = grid_plan(&g.plan, WORKW_N, node_work, g.sink)))
			die("grid_plan", rc);
		peers_measure(&o, "wavefront_work", "hamr", "rerun", T, WORKW_N, units,
		              want, rerun_body, &g);
		if (seq) {
			g.exec = HAMR_EXEC_SEQUENTIAL;
			peers_measure(&o, "wavefront_work", "hamr_seq", "rerun", 1, WORKW_N,
			              units, want, rerun_body, &g);
		}
		hamr_plan_destroy(g.plan);
	}
	if (peers_wanted(&o, "mapreduce")) {
		uint64_t want = ref_map();
		static const struct {
			const char *name;
			hamr_grouping g;
			int fold, each;
		} v[] = {{"auto", HAMR_GROUPING_AUTO, 0, 0}, {"auto-fold", HAMR_GROUPING_AUTO, 1, 0},
		         {"auto-each", HAMR_GROUPING_AUTO, 0, 1},
		         {"auto-fold-each", HAMR_GROUPING_AUTO, 1, 1},
		         {"block", HAMR_GROUPING_BLOCK, 0, 0}, {"node", HAMR_GROUPING_NODE, 0, 0}};
		for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
			mr_ctx m = {0};
			mr_make(&m, mr_work, v[k].fold, v[k].each, MAPRED_N, v[k].g);
			peers_measure(&o, "mapreduce", "hamr", v[k].name, T, MAPRED_N, MAPRED_N,
			              want, mr_body, &m);
			mr_free(&m);
		}
	}
	if (peers_wanted(&o, "mapreduce_noop"))
		for (int k = 0; k < NOOP_COUNT; k++)
			for (int vk = 0; vk < 4; vk++) {
				static const char *const names[] = {"auto", "auto-fold", "auto-each",
				                                    "auto-fold-each"};
				uint64_t n = NOOP_SIZES[k];
				mr_ctx m = {0};
				mr_make(&m, mr_noop, vk & 1, vk >> 1, n, HAMR_GROUPING_AUTO);
				peers_measure(&o, "mapreduce_noop", "hamr", names[vk], T, n, n,
				              ref_noop(n), mr_body, &m);
				mr_free(&m);
			}
	if (want_procs)
		run_procs(&o, T);
	hamr_pool_destroy(pool);
	return 0;
}
