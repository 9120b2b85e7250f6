// SPDX-License-Identifier: MIT
/* Run statistics (hamr_run_opts.stats, HAMR_STATS): per node, per block and
 * per worker, the live-bytes peak, their printout, and the plan drawn with
 * its times (hamr_run_write_dot). */
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_internal.h"
#include "runtime/pool/env_internal.h"
#include "runtime/pool/pool_internal.h"
#include "runtime/core/run_internal.h"
#include "serialize/error_internal.h"

/* Counters per plan node, per block (scope) and per worker, updated with
 * relaxed atomics where the events happen (no order hangs on them: the run's
 * end, which every worker's last decrement of `left` orders, reads them),
 * and turned into the public arrays when the run ends. */

typedef struct node_count {
	atomic_ullong count;
	atomic_llong total_ns, max_ns;
} node_count;

typedef struct block_count {
	atomic_ullong items, tasks;
	atomic_llong task_ns, max_inflight;
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
	atomic_llong live_peak; /* live value bytes as each thread saw them */
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

/* The live value count publishes each thread's changes only in steps of
 * 64 KiB (serialize/value.c), so its peak misses whatever a run holds below
 * that per thread: a few lists of a thousand items never reach it. The run
 * also samples the count as the thread that ends a node or builds a
 * block's lists sees it (the published count plus its own unpublished
 * part), right where those values are new, and keeps the higher peak. */
static void live_sample(hamr__stats *s)
{
	size_t v = hamr_value_bytes_live();
	max_store(&s->live_peak, v > LLONG_MAX ? LLONG_MAX : (long long)v);
}

int hamr__stats_init(hamr_run *r, long print)
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
	live_sample(s);
}

void hamr__stats_task(hamr_run *r, int32_t scope, const hamr_event *e, uint64_t inflight)
{
	block_count *b = &r->stats->block[scope];
	atomic_fetch_add_explicit(&b->tasks, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&b->task_ns, e->t_ns - e->start_ns, memory_order_relaxed);
	max_store(&b->max_inflight, inflight > LLONG_MAX ? LLONG_MAX : (long long)inflight);
}

void hamr__stats_block(hamr_run *r, int32_t scope, uint64_t items)
{
	atomic_fetch_add_explicit(&r->stats->block[scope].items, items, memory_order_relaxed);
	live_sample(r->stats); /* on the thread that built the block's lists */
}

void hamr__stats_start(hamr_run *r)
{
	hamr__stats *s = r->stats;
	for (size_t w = 0; w < s->n_workers; w++)
		hamr_pool_worker_stats(r->pool, (int)w, &s->pool_start[w]);
	hamr_value_bytes_reset_peak();
	live_sample(s);
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
		o->max_inflight = (uint64_t)atomic_load_explicit(&b->max_inflight, memory_order_relaxed);
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
	live_sample(s);
	size_t seen = (size_t)atomic_load_explicit(&s->live_peak, memory_order_relaxed);
	size_t published = hamr_value_bytes_peak();
	s->out.live_bytes_peak = seen > published ? seen : published;
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
	/* the name column as wide as the longest name, so columns align */
	int width = 24;
	for (size_t i = 0; i < st.n_nodes; i++) {
		size_t len = strlen(st.nodes[i].node);
		if (len > (size_t)width)
			width = len > 4096 ? 4096 : (int)len;
	}
	flockfile(f);
	fprintf(f, "hamr stats: run of %zu nodes, %.3f ms, live value bytes peak %zu\n",
	        st.n_nodes, (double)st.wall_ns / 1e6, st.live_bytes_peak);
	fprintf(f, "  %-*s %12s %14s %12s %12s\n", width, "node", "count", "total ms", "mean us",
	        "max us");
	for (size_t i = 0; i < st.n_nodes; i++) {
		const hamr_node_stats *n = order[i];
		fprintf(f, "  %-*s %12llu %14.3f %12.3f %12.3f\n", width, n->node,
		        (unsigned long long)n->count, (double)n->total_ns / 1e6,
		        n->count ? (double)n->total_ns / 1e3 / (double)n->count : 0.0,
		        (double)n->max_ns / 1e3);
	}
	for (size_t b = 0; b < st.n_blocks; b++) {
		const hamr_block_stats *x = &st.blocks[b];
		fprintf(f, "  block of \"%s\": %llu items in %llu batches, mean batch %.3f us, at most %llu items in flight\n",
		        x->node, (unsigned long long)x->items, (unsigned long long)x->tasks,
		        x->tasks ? (double)x->task_ns / 1e3 / (double)x->tasks : 0.0,
		        (unsigned long long)x->max_inflight);
		if (x->short_tasks)
			fprintf(f, "  warning: the batches of the block of \"%s\" take %.3f us on average, "
			           "under a few microseconds: per-batch costs dominate; grouping auto "
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
		fprintf(f, " %llu nodes, busy %.1f%%, pool tasks %llu, steals %llu, failed steals %llu, parks %llu\n",
		        (unsigned long long)x->nodes, 100.0 * x->busy_share,
		        (unsigned long long)x->pool.tasks, (unsigned long long)x->pool.steals,
		        (unsigned long long)x->pool.failed_steals, (unsigned long long)x->pool.parks);
	}
	funlockfile(f);
	free(order);
	return 0;
}

int hamr_run_write_dot(const hamr_run *r, FILE *f)
{
	hamr_run_stats st = {0};
	int rc = hamr_run_stats_get(r, &st);
	if (rc)
		return rc;
	return hamr__plan_write_dot_timed(r->plan, st.nodes, f);
}

void hamr__stats_free(hamr__stats *s)
{
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

