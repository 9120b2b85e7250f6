// SPDX-License-Identifier: MIT
/* Lifecycle hooks: handing events to a run's hooks, and the Chrome trace
 * writer behind hamr_trace_open and HAMR_TRACE.
 *
 * A run copies its hooks at creation (the caller's, then the process's
 * trace hook when HAMR_TRACE is set); executors call hamr__event only when
 * the run has hooks, so a run without costs one test per node. The trace
 * writer formats each event into a buffer of its own and appends it under
 * a lock: one line per event, written whole. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime/run_internal.h"
#include "runtime/env_internal.h"
#include "runtime/pool_internal.h"
#include "serialize/error_internal.h"

int64_t hamr__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void hamr__event(const hamr_run *r, hamr_event *e)
{
	e->run = r;
	e->t_ns = hamr__now_ns();
	e->worker = hamr_worker_index();
	e->pid = r->pid;
	for (size_t k = 0; k < r->n_hooks; k++)
		r->hooks[k].fn(e, r->hooks[k].userdata);
}

/* ---- the Chrome trace ----------------------------------------------------- */

typedef struct trace {
	FILE *f;
	pthread_mutex_t lock;
	int any;    /* an event was written: the next one needs a comma */
	int closed; /* finished: later events are dropped (HAMR_TRACE's at exit) */
} trace;

static HAMR__TLS int tls_tid;

/* s as the contents of a JSON string, malloc'd; NULL when out of memory. */
static char *json_escape(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	char *buf = malloc(6 * n + 1), *o = buf;
	if (!buf)
		return NULL;
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			*o++ = '\\';
			*o++ = (char)ch;
		} else if (ch < 0x20) {
			o += sprintf(o, "\\u%04x", ch);
		} else {
			*o++ = (char)ch;
		}
	}
	*o = '\0';
	return buf;
}

static void trace_event(const hamr_event *e, void *userdata)
{
	trace *t = userdata;
	const char *cat;
	switch (e->kind) {
	case HAMR_EV_NODE_END:
		cat = "node";
		break;
	case HAMR_EV_TASK_END:
		cat = "task";
		break;
	case HAMR_EV_BLOCK_END:
		cat = "block";
		break;
	case HAMR_EV_RUN_END:
		pthread_mutex_lock(&t->lock);
		if (!t->closed)
			fflush(t->f); /* a run's events are on disk when it ends */
		pthread_mutex_unlock(&t->lock);
		return;
	default:
		return;
	}
	char *name = json_escape(e->node), *line = NULL;
	if (!name)
		return;
	if (!tls_tid)
		tls_tid = (int)gettid(); /* once per thread */
	double ts = (double)e->start_ns / 1e3, dur = (double)(e->t_ns - e->start_ns) / 1e3;
	int n;
	if (e->kind == HAMR_EV_NODE_END)
		n = asprintf(&line,
		             "{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,"
		             "\"pid\":%d,\"tid\":%d,\"args\":{\"item\":%" PRId64 ",\"worker\":%d,\"rc\":%d}}",
		             name, cat, ts, dur, e->pid, tls_tid, e->item, e->worker, e->rc);
	else if (e->kind == HAMR_EV_TASK_END)
		n = asprintf(&line,
		             "{\"name\":\"%s batch %" PRId64 "\",\"cat\":\"%s\",\"ph\":\"X\",\"ts\":%.3f,"
		             "\"dur\":%.3f,\"pid\":%d,\"tid\":%d,\"args\":{\"first\":%" PRId64
		             ",\"count\":%" PRId64 ",\"worker\":%d}}",
		             name, e->task, cat, ts, dur, e->pid, tls_tid, e->first, e->count, e->worker);
	else
		n = asprintf(&line,
		             "{\"name\":\"%s block\",\"cat\":\"%s\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,"
		             "\"pid\":%d,\"tid\":%d,\"args\":{\"items\":%" PRId64 ",\"rc\":%d}}",
		             name, cat, ts, dur, e->pid, tls_tid, e->block_items, e->rc);
	free(name);
	if (n < 0)
		return;
	pthread_mutex_lock(&t->lock);
	if (!t->closed) {
		fputs(t->any ? ",\n" : "", t->f);
		fputs(line, t->f);
		t->any = 1;
	}
	pthread_mutex_unlock(&t->lock);
	free(line);
}

int hamr_trace_open(hamr_hook *out, const char *path)
{
	if (!out || !path)
		return hamr__error_set(HAMR_EINVAL, "hamr_trace_open: bad arguments");
	trace *t = calloc(1, sizeof *t);
	if (!t)
		return hamr__error_set(HAMR_ENOMEM, "out of memory opening a trace");
	if (!(t->f = fopen(path, "w"))) {
		free(t);
		return hamr__error_set(HAMR_EIO, "cannot write the trace \"%s\": %m", path);
	}
	pthread_mutex_init(&t->lock, NULL);
	fputs("[\n", t->f);
	out->fn = trace_event;
	out->userdata = t;
	return 0;
}

void hamr_trace_close(hamr_hook *h)
{
	if (!h || h->fn != trace_event)
		return;
	trace *t = h->userdata;
	fputs("\n]\n", t->f);
	fclose(t->f);
	pthread_mutex_destroy(&t->lock);
	free(t);
	h->fn = NULL;
	h->userdata = NULL;
}

static int stats_init(hamr_run *r, long print);

/* HAMR_TRACE: one trace for the process, opened at the first run, closed
 * at exit. */
static hamr_hook env_trace;
static int env_trace_rc;

/* At exit, runs may still be going (a worker of the default pool): the
 * trace is finished and closed, and later events dropped, but its memory
 * stays, since those runs hold the hook. */
static void env_trace_close(void)
{
	trace *t = env_trace.userdata;
	pthread_mutex_lock(&t->lock);
	if (!t->closed) {
		fputs("\n]\n", t->f);
		fclose(t->f);
		t->closed = 1;
	}
	pthread_mutex_unlock(&t->lock);
}

static void env_trace_open(void)
{
	const char *path = getenv("HAMR_TRACE");
	if (!path || !*path)
		return;
	env_trace_rc = hamr_trace_open(&env_trace, path);
	if (!env_trace_rc)
		atexit(env_trace_close);
}

int hamr__hooks_init(hamr_run *r)
{
	hamr__env_check(); /* typos in HAMR_* names, once per process */
	r->pid = (int)getpid();
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, env_trace_open);
	if (env_trace_rc)
		return hamr__error_set(env_trace_rc, "HAMR_TRACE=%s: the trace cannot be written",
		                       getenv("HAMR_TRACE"));
	long print = 0;
	if (!r->opts.stats) {
		int rc = hamr__env_long("HAMR_STATS", 0, 1, &print);
		if (rc < 0)
			return rc;
	}
	if ((r->opts.stats || print) && stats_init(r, print))
		return hamr__error_set(HAMR_ENOMEM, "out of memory creating a run");
	r->observe = r->stats != NULL;
	size_t n = r->opts.n_hooks + (env_trace.fn != NULL);
	if (!n)
		return 0;
	if (r->opts.n_hooks && !r->opts.hooks)
		return hamr__error_set(HAMR_EINVAL, "hamr_run_opts: n_hooks = %zu but no hooks",
		                       r->opts.n_hooks);
	hamr_hook *h = malloc(n * sizeof *h);
	if (!h)
		return hamr__error_set(HAMR_ENOMEM, "out of memory creating a run");
	for (size_t k = 0; k < r->opts.n_hooks; k++) {
		if (!r->opts.hooks[k].fn) {
			free(h);
			return hamr__error_set(HAMR_EINVAL, "hook %zu has no function", k);
		}
		h[k] = r->opts.hooks[k];
	}
	if (env_trace.fn)
		h[n - 1] = env_trace;
	r->hooks = h;
	r->n_hooks = n;
	r->observe = 1;
	return 0;
}

/* ---- statistics -------------------------------------------------------------
 * Counters per plan node, per block (scope) and per worker, updated with
 * relaxed atomics where the events happen (no order hangs on them: the run's
 * end, which every worker's last decrement of `left` orders, reads them),
 * and turned into the public arrays when the run ends. */

typedef struct node_count {
	atomic_ullong count;
	atomic_llong total_ns, max_ns;
} node_count;

typedef struct block_count {
	atomic_ullong items, tasks, max_inflight;
	atomic_llong task_ns;
} block_count;

typedef struct worker_count {
	atomic_ullong nodes;
	atomic_llong busy_ns;
} worker_count;

typedef struct hamr__stats {
	node_count *node;
	block_count *block;
	worker_count *worker; /* n_workers + 1: the last for other threads */
	size_t n_workers;
	hamr_worker_stats *pool_start;
	hamr_run_stats out;
	hamr_node_stats *out_nodes;
	hamr_block_stats *out_blocks;
	hamr_worker_run_stats *out_workers;
	atomic_int done; /* out is complete (release, before RUN_END) */
	int print;
} hamr__stats;

static void max_store(atomic_llong *m, long long v)
{
	long long cur = atomic_load_explicit(m, memory_order_relaxed);
	while (v > cur && !atomic_compare_exchange_weak_explicit(m, &cur, v, memory_order_relaxed,
	                                                         memory_order_relaxed))
		;
}

static int stats_init(hamr_run *r, long print)
{
	const hamr_plan *p = r->plan;
	hamr__stats *s = calloc(1, sizeof *s);
	if (!s)
		return HAMR_ENOMEM;
	r->stats = s;
	s->print = (int)print;
	s->n_workers = r->pool ? (size_t)r->pool->n : 0;
	size_t nn = p->n_nodes ? p->n_nodes : 1, nb = p->n_scopes;
	s->node = calloc(nn, sizeof *s->node);
	s->block = calloc(nb, sizeof *s->block);
	s->worker = calloc(s->n_workers + 1, sizeof *s->worker);
	s->pool_start = calloc(s->n_workers + 1, sizeof *s->pool_start);
	s->out_nodes = calloc(nn, sizeof *s->out_nodes);
	s->out_blocks = calloc(nb, sizeof *s->out_blocks);
	s->out_workers = calloc(s->n_workers + 1, sizeof *s->out_workers);
	if (!s->node || !s->block || !s->worker || !s->pool_start || !s->out_nodes ||
	    !s->out_blocks || !s->out_workers)
		return HAMR_ENOMEM;
	return 0;
}

void hamr__stats_node(hamr_run *r, const hamr_event *e)
{
	hamr__stats *s = r->stats;
	long long d = e->t_ns - e->start_ns;
	node_count *n = &s->node[e->node_index];
	atomic_fetch_add_explicit(&n->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&n->total_ns, d, memory_order_relaxed);
	max_store(&n->max_ns, d);
	/* a worker of another pool (a run inside a node) is another thread */
	hamr__worker *self = hamr__worker_self();
	size_t w = self && hamr__worker_pool(self) == r->pool && e->worker >= 0 &&
	           (size_t)e->worker < s->n_workers ? (size_t)e->worker : s->n_workers;
	atomic_fetch_add_explicit(&s->worker[w].nodes, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->worker[w].busy_ns, d, memory_order_relaxed);
}

void hamr__stats_task(hamr_run *r, int32_t scope, const hamr_event *e, uint64_t inflight)
{
	block_count *b = &r->stats->block[scope];
	atomic_fetch_add_explicit(&b->tasks, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&b->task_ns, e->t_ns - e->start_ns, memory_order_relaxed);
	unsigned long long cur = atomic_load_explicit(&b->max_inflight, memory_order_relaxed);
	while (inflight > cur &&
	       !atomic_compare_exchange_weak_explicit(&b->max_inflight, &cur, inflight,
	                                              memory_order_relaxed, memory_order_relaxed))
		;
}

void hamr__stats_block(hamr_run *r, int32_t scope, uint64_t items)
{
	atomic_fetch_add_explicit(&r->stats->block[scope].items, items, memory_order_relaxed);
}

void hamr__stats_start(hamr_run *r)
{
	hamr__stats *s = r->stats;
	for (size_t w = 0; w < s->n_workers; w++)
		hamr_pool_worker_stats(r->pool, (int)w, &s->pool_start[w]);
	hamr_value_bytes_reset_peak();
}

void hamr__stats_end(hamr_run *r)
{
	hamr__stats *s = r->stats;
	const hamr_plan *p = r->plan;
	int64_t wall = hamr__now_ns() - r->start_ns;
	s->out.wall_ns = wall;
	s->out.n_nodes = p->n_nodes;
	s->out.nodes = s->out_nodes;
	for (uint32_t i = 0; i < p->n_nodes; i++) {
		hamr_node_stats *o = &s->out_nodes[i];
		o->node = p->nodes[i].name;
		o->count = atomic_load_explicit(&s->node[i].count, memory_order_relaxed);
		o->total_ns = atomic_load_explicit(&s->node[i].total_ns, memory_order_relaxed);
		o->max_ns = atomic_load_explicit(&s->node[i].max_ns, memory_order_relaxed);
	}
	s->out.blocks = s->out_blocks;
	for (uint32_t sc = 1; sc < p->n_scopes; sc++) {
		if (p->scope_owner[sc] < 0)
			continue;
		hamr_block_stats *o = &s->out_blocks[s->out.n_blocks++];
		const block_count *b = &s->block[sc];
		o->node = p->nodes[p->scope_owner[sc]].name;
		o->items = atomic_load_explicit(&b->items, memory_order_relaxed);
		o->tasks = atomic_load_explicit(&b->tasks, memory_order_relaxed);
		o->task_ns = atomic_load_explicit(&b->task_ns, memory_order_relaxed);
		o->max_inflight = atomic_load_explicit(&b->max_inflight, memory_order_relaxed);
		int grouping = r->opts.grouping ? r->opts.grouping : p->scope_grouping[sc];
		o->short_tasks = o->tasks >= 100 && o->task_ns / (int64_t)o->tasks < 5000 &&
		                 (grouping == HAMR_GROUPING_BLOCK || grouping == HAMR_GROUPING_NODE);
	}
	s->out.n_workers = s->n_workers + 1;
	s->out.workers = s->out_workers;
	for (size_t w = 0; w <= s->n_workers; w++) {
		hamr_worker_run_stats *o = &s->out_workers[w];
		o->nodes = atomic_load_explicit(&s->worker[w].nodes, memory_order_relaxed);
		o->busy_ns = atomic_load_explicit(&s->worker[w].busy_ns, memory_order_relaxed);
		o->busy_share = wall > 0 ? (double)o->busy_ns / (double)wall : 0.0;
		hamr_worker_stats now;
		if (w < s->n_workers && !hamr_pool_worker_stats(r->pool, (int)w, &now)) {
			o->pool.tasks = now.tasks - s->pool_start[w].tasks;
			o->pool.steals = now.steals - s->pool_start[w].steals;
			o->pool.failed_steals = now.failed_steals - s->pool_start[w].failed_steals;
			o->pool.parks = now.parks - s->pool_start[w].parks;
		}
	}
	s->out.live_bytes_peak = hamr_value_bytes_peak();
	/* release: pairs with the acquire in hamr_run_stats_get */
	atomic_store_explicit(&s->done, 1, memory_order_release);
	if (s->print)
		hamr_run_stats_print(r, stderr);
}

int hamr_run_stats_get(const hamr_run *r, hamr_run_stats *out)
{
	/* acquire: pairs with the release in hamr__stats_end */
	if (!r || !out || !r->stats ||
	    !atomic_load_explicit(&r->stats->done, memory_order_acquire))
		return hamr__error_set(HAMR_ESTATE,
		                       "no statistics: the run was made without stats, or has not ended");
	*out = r->stats->out;
	return 0;
}

static int by_total(const void *a, const void *b)
{
	const hamr_node_stats *x = *(hamr_node_stats *const *)a, *y = *(hamr_node_stats *const *)b;
	return x->total_ns < y->total_ns ? 1 : x->total_ns > y->total_ns ? -1 : 0;
}

int hamr_run_stats_print(const hamr_run *r, FILE *f)
{
	hamr_run_stats st = {0};
	if (!f)
		return hamr__error_set(HAMR_EINVAL, "hamr_run_stats_print: no file");
	int rc = hamr_run_stats_get(r, &st);
	if (rc)
		return rc;
	const hamr_node_stats **order = malloc((st.n_nodes ? st.n_nodes : 1) * sizeof *order);
	if (!order)
		return hamr__error_set(HAMR_ENOMEM, "out of memory printing statistics");
	for (size_t i = 0; i < st.n_nodes; i++)
		order[i] = &st.nodes[i];
	qsort(order, st.n_nodes, sizeof *order, by_total);
	flockfile(f);
	fprintf(f, "hamr stats: run of %zu nodes, %.3f ms, live value bytes peak %zu\n",
	        st.n_nodes, (double)st.wall_ns / 1e6, st.live_bytes_peak);
	fprintf(f, "  %-24s %12s %14s %12s %12s\n", "node", "count", "total ms", "mean us",
	        "max us");
	for (size_t i = 0; i < st.n_nodes; i++) {
		const hamr_node_stats *n = order[i];
		fprintf(f, "  %-24s %12llu %14.3f %12.3f %12.3f\n", n->node,
		        (unsigned long long)n->count, (double)n->total_ns / 1e6,
		        n->count ? (double)n->total_ns / 1e3 / (double)n->count : 0.0,
		        (double)n->max_ns / 1e3);
	}
	for (size_t b = 0; b < st.n_blocks; b++) {
		const hamr_block_stats *x = &st.blocks[b];
		fprintf(f, "  block of \"%s\": %llu items in %llu tasks, mean task %.3f us, at most %llu items in flight\n",
		        x->node, (unsigned long long)x->items, (unsigned long long)x->tasks,
		        x->tasks ? (double)x->task_ns / 1e3 / (double)x->tasks : 0.0,
		        (unsigned long long)x->max_inflight);
		if (x->short_tasks)
			fprintf(f, "  warning: the tasks of the block of \"%s\" take %.3f us on average, "
			           "under a few microseconds: per-task costs dominate; grouping auto "
			           "batches items\n",
			        x->node, (double)x->task_ns / 1e3 / (double)x->tasks);
	}
	for (size_t w = 0; w < st.n_workers; w++) {
		const hamr_worker_run_stats *x = &st.workers[w];
		if (w + 1 == st.n_workers && !x->nodes)
			continue;
		if (w + 1 < st.n_workers)
			fprintf(f, "  worker %zu:", w);
		else
			fprintf(f, "  other threads:");
		fprintf(f, " %llu nodes, busy %.1f%%, tasks %llu, steals %llu, failed steals %llu, parks %llu\n",
		        (unsigned long long)x->nodes, 100.0 * x->busy_share,
		        (unsigned long long)x->pool.tasks, (unsigned long long)x->pool.steals,
		        (unsigned long long)x->pool.failed_steals, (unsigned long long)x->pool.parks);
	}
	funlockfile(f);
	free(order);
	return 0;
}

void hamr__hooks_free(hamr_run *r)
{
	free(r->hooks);
	hamr__stats *s = r->stats;
	if (!s)
		return;
	free(s->node);
	free(s->block);
	free(s->worker);
	free(s->pool_start);
	free(s->out_nodes);
	free(s->out_blocks);
	free(s->out_workers);
	free(s);
}

int hamr_run_write_dot(const hamr_run *r, FILE *f)
{
	hamr_run_stats st = {0};
	int rc = hamr_run_stats_get(r, &st);
	if (rc)
		return rc;
	return hamr__plan_write_dot_timed(r->plan, st.nodes, f);
}
