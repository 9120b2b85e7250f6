// SPDX-License-Identifier: MIT
/* Running map blocks, for both executors: streams of items.
 *
 * graph/plan_blocks.c laid a plan with blocks out by scope: each scope's units
 * in running order (a parallelizable node with its whole block is one
 * unit), what each block hands on per item (a value into a list, or into a
 * fold), the slots to reset and clear per item, and the outer values each
 * block reads. Here a unit runs: a plain node, or a parallelizable node
 * that emits items and its block, once per item.
 *
 * Items stream. Each emitted item goes into the block's stream at once:
 * segments of SEG items, found through a small directory, that consumers
 * claim from while the node is still emitting. A consumer claims a range
 * of published items with one compare-and-swap on the stream's `claimed`
 * index: with the default (auto) grouping, a share of what is published
 * and unclaimed (half of it over twice the workers, at least one item, or
 * HAMR_GRAIN items), so one busy worker takes nearly everything in a few
 * claims, costing about a serial loop, while several workers split what
 * is left ever finer and end together. New consumers are offered (a task
 * on the offering worker's deque) when a worker of the pool is idle, or
 * when the stream has no consumer at all, and only once the previous offer
 * was taken, so a busy pool sees at most one offer per stream. An offered
 * consumer that finds nothing left leaves, unless it is the last one and
 * the node still emits: it waits a moment for the next items first. That
 * one, while the node emits, claims no fewer than a batch (LINGER_BATCH,
 * or half the bound), and waits for one when fewer are there: a consumer
 * faster than the node would otherwise take each item as it is published,
 * in step with the node, the two threads trading the stream's lines per
 * item.
 * Block grouping claims one item at a time (a task per block instance);
 * node grouping also runs each of the item's nodes as a task of its own,
 * level by level. The emitting node holds back when max_inflight items
 * are published and unfinished: it runs claims itself until fewer are.
 *
 * A block that runs a node tagged blocking=true (in it or in a block
 * nested in it) waits rather than computes: its items run on the blocking
 * pool, an item at a time per blocking worker whatever the grouping, so
 * that as many items wait at once as the pool has workers. The block
 * itself (the emitting node, and the wait for its items) runs on a
 * blocking worker too, so waiting never holds a compute worker. Its
 * consumers are jobs in the blocking pool's queue, whose wake-up never
 * misses a parked worker: one for each published item while fewer than
 * the other blocking workers hold a place, each claiming single items
 * until none is left; once the node has emitted, its own thread runs items
 * too.
 *
 * Sequentially (the sequential executor, or a block whose items run
 * sequentially) each item runs as soon as it is emitted, in item order, in
 * the caller's own slots; blocking=true changes nothing there. On the pool
 * each consumer runs its items in a frame of its own: fresh slots for the
 * block's values, with the outer values the block reads and the defaults
 * copied in (shallow: those stay valid and unchanged until the whole block
 * is done).
 *
 * A block of one plain node runs its items through a shorter loop
 * (run_one): that node is their only reader, and, without hooks, a
 * concurrency group or keep_going, it is called through one call record
 * set up per claimed range (hamr__node_repeat), its scalar values cleared
 * once at the range's end; when one list or merging fold gathers that
 * node's scalar value and nothing else, through a loop shorter still
 * (run_one_lean), which takes the value from the call record. A push on
 * the pool (push_item, inline in the scalar emits) tests once for what is
 * rare (a new segment, a limit, a stop) and once for an offer or the
 * bound; emits of many items (push_many) write, publish and offer a run
 * of them at a time, a run as long as a segment and the bound allow.
 *
 * At the end of each item its gathered values leave the frame: a list's
 * value moves into the item's place in its segment, or, for a list of
 * i64, f64 or bool (a packed list), its 8 raw bytes into the segment's
 * chunk, which outlives the segment (past 2^20 items, for lists of i64
 * and f64, its place in the area, which the list then takes as its array:
 * see area_make); a fold's is folded (by the consumer into a partial of
 * its own when the fold can merge, else into the stream's accumulator
 * under a lock). Once every item is done, lists are built in item order
 * from the segments and chunks. A segment that no
 * list of values needs goes, once its items are done, onto a spare stack
 * for the emitting thread's next segment, so a block with only folds and
 * packed lists keeps its segments bounded by max_inflight, however many
 * items pass. Segments and chunks come from jemalloc when hamr has it.
 *
 * Failures: under fail_fast the first failed item stops the stream (no
 * claim starts; the emitting node gets HAMR_ECANCELED from its next emit)
 * and the block gives no lists. Under keep_going every item runs; a failed
 * one leaves its places empty (in a chunk, a gap the stream records), each
 * collect reading the block then gets
 * what it asked for: a tolerant one the items that succeeded (with their
 * indices), any other nothing, so it is skipped. */
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hamr/backend.h"
#include "runtime/core/run_internal.h"
#include "runtime/pool/env_internal.h"
#include "serialize/error_internal.h"
#include "serialize/value_internal.h"

#if defined(HAMR_WITH_JEMALLOC)
#include <jemalloc/jemalloc.h>

/* A stream's segments and chunks: from jemalloc, which keeps freed pages
 * a while for the next allocation. glibc hands the top of its heap back
 * to the kernel when a free leaves enough there, and a block's next
 * segments, or the next run's, then fault their pages in again. The
 * default arenas, with their thread caches: a segment made by the
 * emitting thread is freed by whichever thread ends the block, so the
 * per-worker arenas of the deques (pool.c) would not keep it local. */
static void *mem_alloc(size_t n)
{
	return mallocx(n, 0);
}

static void mem_free(void *p)
{
	if (p)
		dallocx(p, 0);
}
#else
static void *mem_alloc(size_t n)
{
	return malloc(n);
}

static void mem_free(void *p)
{
	free(p);
}
#endif

/* Where block blk's items run in run r: through a backend (worker
 * processes, or the run's own) only when the run has one for its remote
 * executor and the block can go there, else on the pool in its place;
 * *be and *self are that backend (NULL: none). */
static int items_remote(const hamr_run *r, int32_t blk, const hamr_backend **be, void **self)
{
	int remote = hamr__block_remote(r, blk);
	*be = NULL;
	*self = NULL;
	if (remote == HAMR_REMOTE_PROCESSES || remote == HAMR_REMOTE_BACKEND) {
		*be = hamr__block_backend(r, remote, self);
		if (!*be || !hamr__block_procable(r->plan, blk)) {
			*be = NULL;
			remote = HAMR_REMOTE_THREADS;
		}
	}
	return remote;
}

/* Whether block blk's items go to the pool by its tag or the run's remote
 * executor (not only by the local executor's default). */
static int threads_asked(const hamr_run *r, int32_t blk)
{
	int tag = r->plan->scope_remote[blk];
	return tag == HAMR_REMOTE_THREADS ||
	       (tag == HAMR_REMOTE_DEFAULT && r->opts.remote == HAMR_REMOTE_THREADS);
}

#define SEG_BITS 8
#define SEG ((size_t)1 << SEG_BITS)
#define DIRECT 16 /* segments reached without a page */
#define PAGE_BITS 10
#define PAGE ((size_t)1 << PAGE_BITS)
#define MAX_PAGES 16384
#define MAX_ITEMS (((size_t)DIRECT + (size_t)MAX_PAGES * PAGE) * SEG)
/* Packed lists of i64 and f64 from segment hamr__blocks_area_from (item
 * 2^20: 8 MiB of values) to item hamr__blocks_area_items (2^30): in a
 * reservation of area_items values per list, where consumers write each
 * item's value in its place and the built list takes it as its array
 * (see area_make). */
size_t hamr__blocks_area_from = 4096;
size_t hamr__blocks_area_items = (size_t)1 << 30;
#define MAX_OFFERS 64
#define LINGER_NS 2000 /* an idle consumer's wait for new items (linger) */
#define LINGER_BATCH 32 /* the items it waits for, to claim at once */
/* and how long it lingers in all (a variable for tests) */
int64_t hamr__blocks_linger_span_ns = 100000;

typedef struct seg {
	atomic_size_t done; /* items finished (or dropped) */
	uint64_t *pk;       /* the packed lists' values of its items, SEG a
	                     * list `stride` apart: raw 8-byte scalars (the
	                     * value union's bytes), where the lists are built
	                     * from. They outlive the segment. NULL: no packed
	                     * list */
	size_t stride;      /* SEG in a chunk, area_items in the area */
	struct seg *next;   /* on the stream's spare stack */
	hamr_value v[];     /* SEG items, then SEG values per list of values */
} seg;

typedef struct hamr__stream stream;
typedef struct gate gate;

/* A gather entry that moves a block value into a list, as gather reads
 * it per item: from slot src to place `at` + the item's offset in the
 * segment's values (lists of values), or to packed list `at` in its pk. */
typedef struct move_rec {
	uint32_t src;
	uint32_t at;
	int packed;
} move_rec;

/* A gather entry g that folds slot src's value with step. */
typedef struct fold_rec {
	uint32_t src;
	uint32_t g;
	int (*step)(hamr_value *acc, const hamr_value *x, void *userdata);
	void *userdata;
} fold_rec;

/* An offer: a consumer task, spawned for a hungry worker to steal, that
 * claims and runs items until none is left. */
typedef struct offer_rec {
	hamr_task t;
	stream *s;
} offer_rec;

/* Where one consumer runs its items. */
typedef struct ctx {
	hamr__frame f;
	int own;          /* f is its own (freed at the end) */
	hamr_value *part; /* per gather entry: partial folds, or NULL */
	size_t folded;    /* values folded into the partials */
	offer_rec offers[MAX_OFFERS];
	int n_offers;
} ctx;

struct hamr__stream {
	hamr_run *r;
	const hamr_plan *p;
	uint32_t owner;
	int32_t blk;
	const hamr__frame *outer;
	const hamr__gather *ga;
	uint32_t n_ga;
	uint32_t n_lists;   /* segment lists: gathers of block values */
	uint32_t *list_of;  /* per gather entry: its segment list, or -1 */
	uint32_t n_packed;  /* packed lists: gathers of block values of type
	                     * i64, f64 or bool, kept in chunks */
	uint32_t *packed_of; /* per gather entry: its packed list, or -1 */
	uint64_t **chunks;  /* per segment: its pk; the emitting thread alone
	                     * grows this, consumers reach pk through their
	                     * segment */
	size_t chunks_cap;
	uint8_t area_ok;    /* every packed list is of i64 or f64 */
	uint64_t *area;     /* the packed lists' values of segments area_from
	                     * to area_end (area_make): list l's of item it at
	                     * area[l * area_items + it]. NULL: chunks only */
	size_t area_from, area_items, area_end;
	size_t *area_kept;  /* per packed list: the bytes at the start of its
	                     * area that its built list took over */
	size_t (*gaps)[2];  /* items [lo, hi) that gave the packed lists
	                     * nothing (failed, or not run), under lock */
	size_t n_gaps, gaps_cap;
	int gaps_lost;      /* a gap could not be recorded: no packed list */
	uint8_t items_boxed; /* the items' type may hold boxes (any, or boxed) */
	uint8_t *drop;      /* per segment list: its values may hold boxes
	                     * (by type) and were not moved into a list */
	uint32_t *counted;  /* the block's slots with several readers: their
	                     * counts are reset per item (one reader drops) */
	uint32_t n_counted;
	const uint32_t *clear; /* the block's slots, cleared per item */
	uint32_t n_clear;
	fold_rec *folds; /* the gather entries that fold, in order */
	uint32_t n_folds;
	move_rec *moves; /* the gather entries that move a block value
	                     * into a list */
	uint32_t n_moves;
	uint32_t one_node;  /* the block's only node, when it is a plain node
	                     * of one reader (run_one), else UINT32_MAX */
	uint8_t scalars;    /* every value an item clears is a scalar by its
	                     * declared type: clearing it drops no box */
	int concurrent;     /* items on the pool */
	int pooled;         /* concurrent, and not on the blocking pool: a
	                     * push only offers now and then (push_item) */
	size_t batch;       /* what the only consumer of an emitting node
	                     * claims at least (linger); 0: not batched */
	int grouping;       /* HAMR_GROUPING_AUTO, BLOCK or NODE */
	int keep;           /* segments stay until the lists are built */
	int merge;          /* every fold merges: partials per consumer */
	int workers;
	size_t grain;
	size_t max_inflight;
	size_t max_items;   /* 0: none */
	size_t max_tasks;   /* 0: none; else tasks at most */
	size_t unit_tasks;  /* tasks per item: 1, or the units under node
	                     * grouping; 0 under auto (not limited) */
	size_t limit;       /* the first item max_items or max_tasks refuses,
	                     * SIZE_MAX: none */
	/* items: only the emitting thread writes these; consumers read what
	 * `published` covers. Each line below is written by one side: the
	 * emitting thread's, the claims, the finished count (with the spare
	 * stack, which the emitting thread also writes, once a segment), and
	 * the rarely written rest, so that no write on one side evicts what
	 * the other reads per item. */
	seg *direct[DIRECT];
	seg ***pages;       /* MAX_PAGES pages, made when needed */
	_Alignas(64) size_t n;
	seg *cur;
	size_t seen_finished; /* the emitting thread's last look at `finished` */
	atomic_size_t published;
	_Alignas(64) atomic_size_t claimed;
	_Alignas(64) atomic_size_t finished;
	_Atomic(seg *) spare;    /* finished segments for the emitting thread
	                          * to use again (seg_spare, seg_unspare) */
	atomic_uint bdone;       /* blocking items: finished, counted again
	                          * as the word the emitting thread sleeps on */
	_Alignas(64) atomic_size_t failed; /* items that failed or were skipped */
	atomic_size_t unrun;     /* claimed items dropped: a stop or cancel */
	int emit_rc;             /* the stream could not take an item */
	uint8_t *broken;         /* per gather entry: a fold whose step or
	                          * merge failed, which gives no result */
	atomic_bool closed;      /* the node has emitted everything */
	atomic_bool abandoned;   /* the node failed: its items do not run */
	atomic_int active;       /* consumers offered and not yet finished */
	/* blocking items (bpool set): consumers are jobs of the blocking pool */
	hamr_pool *bpool;
	int bcap;                /* consumers at most: the blocking workers */
	atomic_int places;       /* consumers started that claim again */
	gate *gate;              /* where they enter (they may start late) */
	atomic_uint bwaiting;    /* the emitting thread sleeps on bdone */
	atomic_llong n_batches;  /* batches formed, for hooks */
	/* items through a backend: the table and its instance (NULL: the
	 * items stay), the open job, what each item hands back */
	const hamr_backend *be;
	void *be_self;
	hamr_backend_job *job;
	int job_cancelled;       /* the backend's cancel was called */
	uint32_t outs[HAMR__MAX_OUT];
	uint32_t n_outs;
	atomic_int rc;           /* fail fast: the first error */
	pthread_mutex_t lock;    /* folds without merge; merging partials */
	hamr_value *acc;         /* per gather entry: a fold's accumulator */
	ctx prod;                /* the emitting thread's own consuming */
};

static seg **seg_ref(stream *s, size_t j)
{
	if (j < DIRECT)
		return &s->direct[j];
	j -= DIRECT;
	return &s->pages[j >> PAGE_BITS][j & (PAGE - 1)];
}

/* Items [lo, hi) give the packed lists nothing: recorded for
 * build_packed (failures are rare; items that succeed write no mark). */
static void stream_add_gap(stream *s, size_t lo, size_t hi)
{
	if (!s->n_packed || lo >= hi)
		return;
	pthread_mutex_lock(&s->lock);
	if (s->n_gaps == s->gaps_cap) {
		size_t cap = s->gaps_cap ? 2 * s->gaps_cap : 8;
		size_t(*g)[2] = realloc(s->gaps, cap * sizeof *g);
		if (g) {
			s->gaps = g;
			s->gaps_cap = cap;
		}
	}
	if (s->n_gaps < s->gaps_cap) {
		s->gaps[s->n_gaps][0] = lo;
		s->gaps[s->n_gaps++][1] = hi;
	} else {
		s->gaps_lost = 1;
	}
	pthread_mutex_unlock(&s->lock);
}

/* Releases the boxes a segment's values hold: none when their types are
 * scalars, nor once a list took them. */
static void seg_drop(stream *s, seg *sg)
{
	if (s->items_boxed)
		for (size_t k = 0; k < SEG; k++)
			hamr__value_drop(&sg->v[k]);
	for (uint32_t l = 0; l < s->n_lists; l++)
		if (s->drop[l])
			for (size_t k = 0; k < SEG; k++)
				hamr__value_drop(&sg->v[SEG * (1 + l) + k]);
}

/* Frees a segment and what its values hold. */
static void seg_free(stream *s, seg *sg)
{
	seg_drop(s, sg);
	mem_free(sg);
}

/* The spare stack, a Treiber stack of finished segments linked by
 * `next`. Its invariants: a segment is pushed once, by the consumer whose
 * count filled it (mark_done), and only after its last use; only the
 * emitting thread pops, so a popped segment cannot be pushed back and
 * popped again between a pop's read of the top and its compare-and-swap
 * (no ABA); a popped segment is the emitting thread's alone until it
 * publishes items in it.
 *
 * seg_spare: a finished segment, its boxes released, onto the stack. The
 * next segment comes from there, warm in cache, instead of a free and a
 * malloc (whose memory glibc may hand back to the kernel between them, a
 * page fault for every segment). */
static void seg_spare(stream *s, seg *sg)
{
	seg_drop(s, sg);
	/* release: the segment's last use before the emitting thread takes
	 * it (the done count's acq_rel already ordered the other consumers') */
	seg *top = atomic_load_explicit(&s->spare, memory_order_relaxed);
	do
		sg->next = top;
	while (!atomic_compare_exchange_weak_explicit(&s->spare, &top, sg, memory_order_release,
	                                              memory_order_relaxed));
}

/* A spare segment, or NULL (the emitting thread alone pops). */
static seg *seg_unspare(stream *s)
{
	/* acquire: pairs with the release in seg_spare */
	seg *top = atomic_load_explicit(&s->spare, memory_order_acquire);
	while (top && !atomic_compare_exchange_weak_explicit(&s->spare, &top, top->next,
	                                                     memory_order_acquire,
	                                                     memory_order_acquire))
		;
	return top;
}

/* One reader of slot s in frame f is done with it; gathered values stay
 * until their item ends. Other threads count the frame in scope 0 on the
 * threads executor, and under node grouping within an item. */
static inline void release(const hamr_plan *p, const hamr__frame *f, int32_t s)
{
	if ((uint32_t)s < p->n_nodes && p->gathered[s])
		return;
	hamr__slot_release(p, f, s);
}

static inline void release_args(const hamr_plan *p, const hamr__frame *f, uint32_t i)
{
	const hamr__pnode *pn = &p->nodes[i];
	for (uint32_t k = 0; k < pn->n_args; k++) {
		int32_t s = p->args[pn->arg_start + k];
		if (s >= 0 && p->arg_direct[pn->arg_start + k])
			release(p, f, s);
	}
}

/* Whether a stream whose stop flags are these has stopped (stopped(),
 * and run_one_lean, which loads their places once). */
static inline __attribute__((always_inline)) int stop_seen(const atomic_bool *abandoned,
                                                          const atomic_bool *halt)
{
	/* relaxed: fail fast and cancel are hints (running items end);
	 * acquire for halt: what set it (a cancel) is then seen by this
	 * thread and by whoever syncs with it, when the block tells a
	 * cancel from a stop by r->cancel (a plain load on x86) */
	return atomic_load_explicit(abandoned, memory_order_relaxed) ||
	       atomic_load_explicit(halt, memory_order_acquire);
}

static inline __attribute__((always_inline)) int stopped(const stream *s)
{
	return stop_seen(&s->abandoned, &s->r->halt);
}

static void stream_fail(stream *s, int rc)
{
	/* relaxed: read by the emitting thread once every consumer has
	 * synced with it (ctx_end), which orders the count */
	atomic_fetch_add_explicit(&s->failed, 1, memory_order_relaxed);
	if (s->r->keep_going || rc == HAMR__SKIPPED)
		return;
	int none = 0;
	atomic_compare_exchange_strong(&s->rc, &none, rc);
	/* relaxed: fail fast is a hint; the run's error record has the error */
	hamr__run_halt(s->r);
}

/* An event of the block (e: its batch fields, or NULL) for r's hooks. */
static void block_event(const stream *s, hamr_event_kind kind, hamr_event *e)
{
	hamr_event x = {.task = -1};
	if (!e)
		e = &x;
	e->kind = kind;
	e->node = s->p->nodes[s->owner].name;
	e->node_index = (int)s->owner;
	e->item = hamr__current_item;
	/* relaxed: what the node has published so far, a hint for progress */
	e->block_items = (int64_t)atomic_load_explicit(&s->published, memory_order_relaxed);
	e->block_final = atomic_load_explicit(&s->closed, memory_order_relaxed);
	hamr__event(s->r, e);
}

/* ---- consumers ---------------------------------------------------------- */

static int ctx_init(stream *s, ctx *c)
{
	const hamr_plan *p = s->p;
	memset(c, 0, offsetof(ctx, offers));
	c->n_offers = 0;
	if (!s->concurrent) {
		c->f = *s->outer;
		c->f.shared = 0; /* the block's slots: this thread's alone */
		return 0;
	}
	size_t ns = p->n_slots ? p->n_slots : 1;
	c->f.slots = calloc(ns, sizeof *c->f.slots);
	c->f.remaining = malloc(ns * sizeof *c->f.remaining);
	if (s->merge)
		c->part = calloc(s->n_ga, sizeof *c->part);
	if (!c->f.slots || !c->f.remaining || (s->merge && !c->part)) {
		free(c->f.slots);
		free(c->f.remaining);
		free(c->part);
		c->part = NULL;
		return HAMR_ENOMEM;
	}
	c->own = 1;
	c->f.shared = s->grouping == HAMR_GROUPING_NODE;
	/* shallow copies: the outer frames keep these alive and unchanged.
	 * A nested block reads what its own owner holds and what every
	 * enclosing owner holds (a value broadcast from further out). */
	for (int32_t x = s->blk; x > 0; x = p->node_scope[p->scope_owner[x]]) {
		uint32_t o = (uint32_t)p->scope_owner[x];
		for (uint32_t k = p->defer_start[o]; k < p->defer_start[o + 1]; k++)
			c->f.slots[p->defer[k]] = s->outer->slots[p->defer[k]];
	}
	uint32_t d0 = p->n_nodes + p->n_given;
	for (uint32_t d = 0; d < p->n_defaults; d++)
		c->f.slots[d0 + d] = s->outer->slots[d0 + d];
	for (uint32_t g = 0; c->part && g < s->n_ga; g++)
		if (s->ga[g].fold)
			c->part[g] = hamr_value_ref(&s->ga[g].init);
	return 0;
}

static void ctx_end(stream *s, ctx *c);

/* A consumer's context of its own, for a task that claims items; NULL
 * when out of memory (nothing is lost: the items stay for the other
 * consumers and for the emitting thread, which takes what is left). */
static ctx *ctx_new(stream *s)
{
	ctx *c = malloc(sizeof *c);
	if (c && ctx_init(s, c)) {
		free(c);
		c = NULL;
	}
	return c;
}

static void ctx_end(stream *s, ctx *c)
{
	while (c->n_offers > 0)
		hamr_sync(&c->offers[--c->n_offers].t);
	if (c->part && !c->folded) {
		/* partials of no item: nothing to merge */
		for (uint32_t g = 0; g < s->n_ga; g++)
			hamr_value_clear(&c->part[g]);
		free(c->part);
		c->part = NULL;
	} else if (c->part) {
		pthread_mutex_lock(&s->lock);
		for (uint32_t g = 0; g < s->n_ga; g++) {
			const hamr__gather *ge = &s->ga[g];
			if (!ge->fold)
				continue;
			int rc = s->broken[g] ? 0 :
			         ge->fold->merge(&s->acc[g], &c->part[g], ge->userdata);
			hamr_value_clear(&c->part[g]);
			if (rc) {
				s->broken[g] = 1; /* under the lock */
				pthread_mutex_unlock(&s->lock);
				char *msg = NULL;
				if (asprintf(&msg, "its fold's merge returned %d (%s)", rc,
				             hamr_err_name(rc)) < 0)
					msg = NULL;
				int e = hamr__run_fail(s->r, rc < 0 ? rc : HAMR_EFAIL,
				                       s->p->nodes[ge->node].name, msg);
				if (!s->r->keep_going)
					stream_fail(s, e);
				pthread_mutex_lock(&s->lock);
			}
		}
		pthread_mutex_unlock(&s->lock);
		free(c->part);
		c->part = NULL;
	}
	if (c->own) {
		free(c->f.slots); /* the block's own values are cleared per item */
		free(c->f.remaining);
		c->own = 0;
	}
}

/* Claims published items [*lo, *hi); 0 when fewer than min (at least
 * 1) are free. A share of what is there, or, for a consumer that has
 * waited for a batch (`all`, after linger), all of it. */
static int claim(stream *s, size_t *lo, size_t *hi, size_t min, int all)
{
	size_t c = atomic_load_explicit(&s->claimed, memory_order_relaxed);
	for (;;) {
		/* acquire: pairs with the release in push_item, so
		 * the items and their segments are visible */
		size_t e = atomic_load_explicit(&s->published, memory_order_acquire);
		if (c >= e || e - c < min)
			return 0;
		size_t avail = e - c, k;
		if (s->grouping != HAMR_GROUPING_AUTO)
			k = 1;
		else if (s->grain)
			k = s->grain;
		else if (all)
			k = avail;
		else if ((k = avail / (2 * (size_t)s->workers)) < min)
			k = min; /* a batch: the only consumer of an emitting node */
		if (k < 1)
			k = 1;
		if (k > avail)
			k = avail;
		/* relaxed: the acquire above already covers the items */
		if (atomic_compare_exchange_weak_explicit(&s->claimed, &c, c + k,
		                                          memory_order_relaxed,
		                                          memory_order_relaxed)) {
			*lo = c;
			*hi = c + k;
			return 1;
		}
	}
}

static void offer_run(void *arg);

/* Offers a consumer to a hungry worker: only when one is idle, this
 * worker's previous offer was taken, and something is left to claim. */
static void offer(stream *s, ctx *c)
{
	if (!s->concurrent || s->bpool) /* blocking items: bstart starts them */
		return;
	hamr__worker *w = hamr__worker_self();
	/* relaxed: hints; a stale value offers one consumer late or early.
	 * With no consumer of this stream about, one is offered even when no
	 * worker is idle right now: one that turns idle later takes it, so
	 * items never wait for the next emit of a slow node */
	if (!w || hamr__deque_size(&w->q) != 0)
		return;
	size_t avail = atomic_load_explicit(&s->published, memory_order_relaxed) -
	               atomic_load_explicit(&s->claimed, memory_order_relaxed);
	int active = atomic_load_explicit(&s->active, memory_order_relaxed);
	/* another consumer only for enough work to share: each one claims a
	 * share of what is there, so a consumer for fewer items than workers
	 * would only contend for the claim line with the others */
	if ((ptrdiff_t)avail <= 0 ||
	    (active > 0 && (avail < 2 * (size_t)s->workers ||
	                    atomic_load_explicit(&hamr__worker_pool(w)->n_idle, memory_order_relaxed) <= 0)))
		return;
	/* a record of an offer that has run is free again (acquire: pairs
	 * with the release of its done flag after the task returned); a record still
	 * waiting must not move, since the deque points at it */
	offer_rec *k = NULL;
	if (c->n_offers < MAX_OFFERS)
		k = &c->offers[c->n_offers++];
	for (int j = 0; !k && j < c->n_offers; j++)
		if (hamr__task_done(&c->offers[j].t))
			k = &c->offers[j];
	if (!k)
		return;
	k->s = s;
	/* relaxed: `active` only steers offers (a stale value offers one
	 * consumer more or less); nothing is published through it */
	atomic_fetch_add_explicit(&s->active, 1, memory_order_relaxed);
	if (s->r->observe)
		block_event(s, HAMR_EV_TASK_SUBMIT, NULL);
	hamr_spawn(&k->t, offer_run, k);
}

/* The units of block scope sc for one item, in order: the cancel and stop
 * checks are per item (run_range), not per unit. */
static inline int run_units(hamr_run *r, int32_t sc, const hamr__frame *f)
{
	const hamr_plan *p = r->plan;
	for (uint32_t u = p->unit_start[sc]; u < p->unit_start[sc + 1]; u++) {
		uint32_t i = p->units[u];
		int rc = p->node_block[i] ? hamr__run_unit(r, i, f) : hamr__run_node_in(r, i, f->slots);
		if (rc)
			return rc; /* the item has failed */
		release_args(p, f, i);
	}
	return 0;
}

/* ---- one item ----------------------------------------------------------- */

typedef struct unit_task {
	hamr_task t;
	hamr_run *r;
	const hamr__frame *f;
	uint32_t i;
	int64_t item;
	int rc;
} unit_task;

static void unit_run(void *arg)
{
	unit_task *u = arg;
	int64_t saved = hamr__current_item;
	hamr__current_item = u->item;
	u->rc = hamr__run_unit(u->r, u->i, u->f);
	hamr__current_item = saved;
}

/* Node grouping: each unit of the item a task, level by level. */
static int run_levels(stream *s, const hamr__frame *f, int64_t item)
{
	hamr_run *r = s->r;
	const hamr_plan *p = s->p;
	uint32_t end = p->unit_start[s->blk + 1];
	int rc = 0;
	for (uint32_t a = p->unit_start[s->blk]; a < end && !rc;) {
		uint32_t b = a + 1;
		while (b < end && p->unit_level[b] == p->unit_level[a])
			b++;
		/* relaxed: a hint, as in hamr__run_scope */
		if (atomic_load_explicit(&r->cancel, memory_order_relaxed))
			return hamr__run_fail(r, HAMR_ECANCELED, NULL, NULL);
		for (uint32_t lo = a; lo < b && !rc && !stopped(s); lo += 32) {
			unit_task t[32];
			uint32_t m = b - lo < 32 ? b - lo : 32;
			for (uint32_t k = 0; k < m; k++) {
				t[k] = (unit_task){.r = r, .f = f, .i = p->units[lo + k], .item = item};
				hamr_spawn(&t[k].t, unit_run, &t[k]);
			}
			for (uint32_t k = m; k-- > 0;) {
				hamr_sync(&t[k].t);
				if (t[k].rc && (!rc || rc == HAMR__SKIPPED))
					rc = t[k].rc;
			}
		}
		for (uint32_t u = a; u < b; u++)
			release_args(p, f, p->units[u]);
		a = b;
	}
	return rc;
}

/* Fold entry g's step failed with rc on item it: its accumulator is
 * broken, the failure recorded. Returns the run's error. */
static __attribute__((noinline)) int fold_failed(stream *s, uint32_t g, size_t it, int rc)
{
	char *msg = NULL;
	if (s->concurrent)
		pthread_mutex_lock(&s->lock);
	s->broken[g] = 1; /* its accumulator is not to be trusted */
	if (s->concurrent)
		pthread_mutex_unlock(&s->lock);
	if (asprintf(&msg, "its fold step failed on item %zu with %d (%s)", it, rc,
	             hamr_err_name(rc)) < 0)
		msg = NULL;
	return hamr__run_fail(s->r, rc < 0 ? rc : HAMR_EFAIL, s->p->nodes[s->ga[g].node].name, msg);
}

/* Fold entry g's step on item value v into the stream's accumulator: a
 * consumer without partials (a fold without merge). */
static __attribute__((noinline)) int fold_into_acc(stream *s, const fold_rec *fr,
                                                   const hamr_value *v)
{
	int rc;
	if (s->concurrent)
		pthread_mutex_lock(&s->lock);
	rc = fr->step(&s->acc[fr->g], v, fr->userdata);
	if (s->concurrent)
		pthread_mutex_unlock(&s->lock);
	return rc;
}

/* The folds of item `it`'s values: into the consumer's partials, or the
 * stream's accumulators. 0, HAMR__SKIPPED, or the fold's error. */
static inline __attribute__((always_inline)) int gather_folds(stream *s, ctx *c, size_t it)
{
	hamr_value *slots = c->f.slots;
	for (uint32_t k = 0; k < s->n_folds; k++) {
		const fold_rec *fr = &s->folds[k];
		const hamr_value *v = &slots[fr->src];
		if (!v->type)
			return HAMR__SKIPPED;
		int rc;
		if (c->part) {
			rc = fr->step(&c->part[fr->g], v, fr->userdata);
			c->folded++;
		} else {
			rc = fold_into_acc(s, fr, v);
		}
		if (rc)
			return fold_failed(s, fr->g, it, rc);
	}
	return 0;
}

/* Hands on the values item `it` gathered: folds, then lists (which move
 * the value out of the frame). 0, or the fold's error. */
static inline __attribute__((always_inline)) int gather(stream *s, ctx *c, seg *sg, size_t off,
                                                        size_t it)
{
	hamr_value *slots = c->f.slots;
	int rc;
	if (s->n_folds && (rc = gather_folds(s, c, it)))
		return rc;
	for (uint32_t k = 0; k < s->n_moves; k++) {
		const move_rec *m = &s->moves[k];
		hamr_value *src = &slots[m->src];
		if (m->packed) {
			if (!src->type)
				return HAMR__SKIPPED;
			memcpy(&sg->pk[m->at * sg->stride + off], &src->u, sizeof(uint64_t));
			continue; /* a scalar: item_end clears it */
		}
		hamr_value *dst = &sg->v[m->at + off];
		dst->u = src->u; /* field by field, as in run_node_in */
		dst->type = src->type;
		src->type = NULL; /* moved */
		if (!dst->type)
			return HAMR__SKIPPED;
	}
	return 0;
}

/* Clears the block's values of an item in frame slots (the item itself
 * among them). */
static inline void item_clear(const stream *s, hamr_value *slots)
{
	const uint32_t *clear = s->clear;
	uint32_t n_clear = s->n_clear;
	if (s->scalars)
		for (uint32_t k = 0; k < n_clear; k++)
			slots[clear[k]].type = NULL;
	else
		for (uint32_t k = 0; k < n_clear; k++)
			hamr__value_drop(&slots[clear[k]]);
}

/* The end of item it, in segment sg, whose run returned rc: the values
 * it gathered handed on, the block's values of the item cleared unless
 * `later` (the caller clears them after its last item), a failure counted
 * for the stream. */
static inline __attribute__((always_inline)) void item_end(stream *s, ctx *c, seg *sg, size_t it,
                                                           int rc, int later)
{
	if (!rc)
		rc = gather(s, c, sg, it & (SEG - 1), it);
	if (!later)
		item_clear(s, c->f.slots);
	if (rc) {
		stream_add_gap(s, it, it + 1);
		stream_fail(s, rc);
	}
}

/* Item it, at *item in its segment, into its frame's slot *x. */
static inline void item_start(const stream *s, hamr_value *x, const hamr_value *item, size_t it)
{
	if (s->items_boxed) {
		*x = hamr__value_share(item);
	} else { /* field by field, as in push_item */
		x->u = item->u;
		x->type = item->type;
	}
	hamr__current_item = (int64_t)it;
}

static void run_item(stream *s, ctx *c, size_t it)
{
	hamr_run *r = s->r;
	const hamr_plan *p = s->p;
	const hamr__frame *f = &c->f;
	seg *sg = *seg_ref(s, it >> SEG_BITS);
	size_t off = it & (SEG - 1);
	/* relaxed: the frame is this consumer's; under node grouping the
	 * spawns of run_levels publish the counts to the item's other tasks */
	for (uint32_t k = 0; k < s->n_counted; k++)
		atomic_store_explicit(&f->remaining[s->counted[k]], p->consumers[s->counted[k]],
		                      memory_order_relaxed);
	item_start(s, &f->slots[s->owner], &sg->v[off], it);
	int rc = s->grouping == HAMR_GROUPING_NODE && s->concurrent ?
	         run_levels(s, f, (int64_t)it) : run_units(r, s->blk, f);
	item_end(s, c, sg, it, rc, 0);
}

/* run_one's loop for the commonest block: scalar items, and one gather
 * entry that takes the node's own value, either into a packed list
 * (`fold` 0) or by a fold into the consumer's partial (`fold` 1). The
 * same steps as run_one's item_start, repeated call and item_end, their
 * tests made once for the range, and the value taken from the call's
 * result rather than through its slot: the instructions between two
 * items' calls are fewer, and on a core that overlaps one item's work
 * with the next's (a dependent chain of operations, say) each of them
 * costs about a cycle of that overlap. */
static inline __attribute__((always_inline)) size_t run_one_lean(stream *s, ctx *c,
                                                                 hamr_call *call, size_t lo,
                                                                 size_t hi, int fold)
{
	hamr_value *slots = c->f.slots, *x = &slots[s->owner];
	uint32_t i = s->one_node;
	const fold_rec *fr = &s->folds[0];
	hamr_value *part = fold ? &c->part[fr->g] : NULL;
	size_t at = fold ? 0 : s->moves[0].at;
	/* what the loop reads per item, loaded once: the stop flags'
	 * places, the node's function, and this thread's item index */
	const atomic_bool *abandoned = &s->abandoned, *halt = &s->r->halt;
	hamr_fn fn = call->node->fn;
	int64_t *current = &hamr__current_item;
	size_t it = lo;
	while (it < hi) { /* a segment at a time */
		seg *sg = *seg_ref(s, it >> SEG_BITS);
		size_t off = it & (SEG - 1), seg_end = (it | (SEG - 1)) + 1;
		size_t end = seg_end < hi ? seg_end : hi;
		const hamr_value *item = &sg->v[off];
		uint64_t *pk = fold ? NULL : &sg->pk[at * sg->stride + off];
		/* every item is of the emitting node's (s->owner's) declared
		 * type, a scalar (s->scalars, which `later` needs): hamr_emit,
		 * the scalar emits, emit_many_check and hamr__run_emit's check
		 * of a returned list refuse any other. So the item slot's type
		 * is written once */
		x->type = item->type;
		for (; it < end; it++, item++, pk = fold ? NULL : pk + 1) {
			if (stop_seen(abandoned, halt))
				return it;
			x->u = item->u;
			*current = (int64_t)it;
			/* hamr__node_repeat, but for the slot's store */
			call->result.type = NULL;
			int rc = fn(call);
			const hamr_value *v = &call->result;
			if (__builtin_expect(rc != 0 || v->type == NULL || call->fail_msg != NULL, 0)) {
				rc = hamr__node_repeat_slow(call, slots, i, rc);
				v = &slots[i];
				if (rc == 0 && v->type == NULL)
					rc = HAMR__SKIPPED;
			}
			if (__builtin_expect(rc == 0, 1)) {
				if (!fold) {
					memcpy(pk, &v->u, sizeof(uint64_t));
					continue;
				}
				rc = fr->step(part, v, fr->userdata);
				c->folded++;
				if (__builtin_expect(rc == 0, 1))
					continue;
				rc = fold_failed(s, fr->g, it, rc);
			}
			stream_add_gap(s, it, it + 1);
			stream_fail(s, rc);
		}
	}
	return it;
}

/* run_one_lean for a packed list and for a fold, each its own copy. */
static __attribute__((noinline)) size_t run_one_packed(stream *s, ctx *c, hamr_call *call,
                                                       size_t lo, size_t hi)
{
	return run_one_lean(s, c, call, lo, hi, 0);
}

static __attribute__((noinline)) size_t run_one_folded(stream *s, ctx *c, hamr_call *call,
                                                       size_t lo, size_t hi)
{
	return run_one_lean(s, c, call, lo, hi, 1);
}

/* Items [lo, hi) of a block of one plain node (one_node), with less than
 * run_item does: the item's only reader is that node, so releasing its
 * arguments would only clear what item_end clears, and no slot has
 * several readers to count. Returns where it stopped. */
static __attribute__((noinline)) size_t run_one(stream *s, ctx *c, size_t lo, size_t hi)
{
	hamr_run *r = s->r;
	hamr_value *slots = c->f.slots, *x = &slots[s->owner];
	uint32_t i = s->one_node;
	seg *sg = *seg_ref(s, lo >> SEG_BITS);
	size_t it = lo;
	hamr_call call; /* set up once for the range */
	int repeat = hamr__node_repeat_init(&call, r, i, slots);
	/* scalar values, each item's written before it is read (the item's
	 * by item_start, the node's by its call, which the repeated call's
	 * conditions let nothing skip): cleared once, after the last item */
	int later = repeat && s->scalars;
	/* run_one_lean: scalars cleared once (later), and one gather entry
	 * that takes the node's own value, a packed list or a fold with a
	 * partial of this consumer's (its steps never take the lock) */
	size_t (*lean)(stream *, ctx *, hamr_call *, size_t, size_t) = NULL;
	if (later && s->n_folds + s->n_moves == 1) {
		if (s->n_moves && s->moves[0].packed && s->moves[0].src == i)
			lean = run_one_packed;
		else if (s->n_folds && c->part && s->folds[0].src == i)
			lean = run_one_folded;
	}
	if (lean) {
		it = lean(s, c, &call, lo, hi);
		item_clear(s, slots);
		return it;
	}
	for (; it < hi && !stopped(s); it++) {
		size_t off = it & (SEG - 1);
		if (off == 0 && it != lo)
			sg = *seg_ref(s, it >> SEG_BITS);
		item_start(s, x, &sg->v[off], it);
		item_end(s, c, sg, it,
		         repeat ? hamr__node_repeat(&call, slots, i) : hamr__run_node_in(r, i, slots),
		         later);
	}
	if (later)
		item_clear(s, slots);
	return it;
}

static void mark_done(stream *s, size_t lo, size_t hi);

/* Runs claimed items [lo, hi) and marks them done. */
static void run_range(stream *s, ctx *c, size_t lo, size_t hi)
{
	hamr_event e = {.task = -1, .first = (int64_t)lo, .count = (int64_t)(hi - lo)};
	uint64_t inflight = 0;
	if (s->r->observe) {
		/* relaxed: a statistic */
		size_t fin = atomic_load_explicit(&s->finished, memory_order_relaxed);
		size_t pub = atomic_load_explicit(&s->published, memory_order_relaxed);
		inflight = pub > fin ? pub - fin : 0;
		/* relaxed: an index for the hooks, no order hangs on it */
		e.task = atomic_fetch_add_explicit(&s->n_batches, 1, memory_order_relaxed);
		block_event(s, HAMR_EV_BATCH, &e);
		block_event(s, HAMR_EV_TASK_START, &e);
		e.start_ns = e.t_ns;
	}
	int64_t saved = hamr__current_item;
	size_t it = lo;
	if (s->one_node != UINT32_MAX)
		it = run_one(s, c, lo, hi);
	else
		for (; it < hi && !stopped(s); it++)
			run_item(s, c, it);
	hamr__current_item = saved;
	if (it < hi) { /* relaxed: read after every consumer has synced */
		atomic_fetch_add_explicit(&s->unrun, hi - it, memory_order_relaxed);
		stream_add_gap(s, it, hi);
	}
	if (s->r->observe) {
		block_event(s, HAMR_EV_TASK_END, &e);
		if (s->r->stats)
			hamr__stats_task(s->r, s->blk, &e, inflight);
	}
	mark_done(s, lo, hi);
}

/* ---- waiting for blocking items ------------------------------------------ */

/* An item of a blocking stream is finished: the emitting thread, if it
 * sleeps at the bound, looks again. */
static void bnotify(stream *s)
{
	/* seq_cst: Dekker with bwait, which stores bwaiting and then reads
	 * bdone: either it reads this count, or this reads its flag */
	atomic_fetch_add_explicit(&s->bdone, 1, memory_order_seq_cst);
	if (atomic_load_explicit(&s->bwaiting, memory_order_seq_cst))
		hamr__futex_wake_private(&s->bdone, 1);
}

/* The emitting thread of a blocking stream, at max_inflight with nothing
 * left to claim: sleeps until an item finishes (the claimed ones run on
 * threads of their own, so one will), instead of spinning while items
 * wait on I/O. */
static void bwait(stream *s)
{
	/* seq_cst: see bnotify */
	atomic_store_explicit(&s->bwaiting, 1, memory_order_seq_cst);
	unsigned seen = atomic_load_explicit(&s->bdone, memory_order_seq_cst);
	/* acquire: pairs with the release in mark_done, as in consume */
	if (!stopped(s) &&
	    s->n - atomic_load_explicit(&s->finished, memory_order_acquire) >= s->max_inflight)
		hamr__futex_wait_private(&s->bdone, seen);
	/* relaxed: the flag only spares wakes; a consumer that still reads
	 * the stale 1 makes one needless futex_wake */
	atomic_store_explicit(&s->bwaiting, 0, memory_order_relaxed);
}

/* Items [lo, hi) are done, run or not: a segment whose count is full
 * goes onto the spare stack (unless lists of values still need it). */
static void mark_done(stream *s, size_t lo, size_t hi)
{
	/* acq_rel: whoever spares a segment sees every other consumer's last
	 * use of it */
	for (size_t a = lo; a < hi;) {
		size_t j = a >> SEG_BITS, b = (j + 1) << SEG_BITS;
		if (b > hi)
			b = hi;
		seg **ref = seg_ref(s, j);
		if (atomic_fetch_add_explicit(&(*ref)->done, b - a, memory_order_acq_rel) + (b - a) == SEG &&
		    !s->keep) {
			seg_spare(s, *ref);
			*ref = NULL;
		}
		a = b;
	}
	/* release: the producer's bound check reads it */
	atomic_fetch_add_explicit(&s->finished, hi - lo, memory_order_release);
	if (s->bpool)
		bnotify(s);
}

enum { TAKE_AVAILABLE, TAKE_TO_BOUND, TAKE_ALL };

/* ---- items through a backend (worker processes, or another) --------------
 * The thread of the block (the emitting one) drives the backend's job:
 * each published item is sent at once, and each finished one is handed on
 * here as it comes back, in the order items finish. */

/* An item that ran elsewhere is a task of one item, timed there: its
 * events carry the backend's times and who ran it (the pid field). */
static void backend_events(stream *s, const hamr_backend_done *res)
{
	hamr_event e = {.kind = HAMR_EV_TASK_START, .node = s->p->nodes[s->owner].name,
	                .node_index = (int)s->owner, .item = hamr__current_item,
	                .task = res->item, .first = res->item, .count = 1, .t_ns = res->t0,
	                .worker = -1, .pid = res->where, .rank = res->rank};
	/* relaxed: hints for progress, as in block_event */
	e.block_items = (int64_t)atomic_load_explicit(&s->published, memory_order_relaxed);
	e.block_final = atomic_load_explicit(&s->closed, memory_order_relaxed);
	hamr__event_at(s->r, &e);
	e.kind = HAMR_EV_TASK_END;
	e.start_ns = res->t0;
	e.t_ns = res->t1;
	e.rc = res->rc < 0 ? res->rc : 0;
	hamr__event_at(s->r, &e);
	if (s->r->stats) {
		size_t fin = atomic_load_explicit(&s->finished, memory_order_relaxed);
		hamr__stats_task(s->r, s->blk, &e, s->n > fin ? s->n - fin : 0);
	}
}

/* A completion hamr cannot take (`what`): its values dropped, recorded as
 * the backend's error (HAMR_EINVAL). */
static int backend_refused(stream *s, hamr_backend_done *res, const char *what)
{
	for (uint32_t k = 0; k < res->n_out && k < HAMR_BACKEND_MAX_OUT; k++)
		hamr_value_clear(&res->out[k]);
	res->n_out = 0;
	char msg[256]; /* what: at most 200 with its NUL */
	snprintf(msg, sizeof msg, "%s for item %lld", what, (long long)res->item);
	return hamr__backend_refuse(s->r, s->be, s->p->nodes[s->owner].name, res->item, msg);
}

static void backend_finish(stream *s, ctx *c, hamr_backend_done *res)
{
	/* relaxed: this thread published them */
	if (res->item < 0 ||
	    (size_t)res->item >= atomic_load_explicit(&s->published, memory_order_relaxed)) {
		stream_fail(s, backend_refused(s, res, "a completion of an item never sent"));
		return;
	}
	if (!res->rc && !res->dropped && res->n_out != s->n_outs)
		res->rc = backend_refused(s, res, "another count of values than its program hands back");
	for (uint32_t k = 0; !res->rc && !res->dropped && k < s->n_outs; k++) {
		const hamr__pnode *pn = &s->p->nodes[s->outs[k]];
		hamr_type got = res->out[k].type;
		if (pn->type && got != pn->type && !(pn->type == HAMR_NONE && !got)) {
			char what[200];
			snprintf(what, sizeof what, "a value of type %s for node \"%s\", declared %s",
			         hamr_type_name(got), pn->name, hamr_type_name(pn->type));
			res->rc = backend_refused(s, res, what);
		}
	}
	size_t it = (size_t)res->item;
	if (s->r->observe && res->where && res->t1)
		backend_events(s, res);
	if (res->dropped || res->rc)
		stream_add_gap(s, it, it + 1);
	if (res->dropped) {
		/* relaxed: read after the block's end */
		atomic_fetch_add_explicit(&s->unrun, 1, memory_order_relaxed);
	} else if (res->rc) {
		stream_fail(s, res->rc);
	} else {
		hamr_value *slots = c->f.slots;
		seg *sg = *seg_ref(s, it >> SEG_BITS);
		for (uint32_t k = 0; k < s->n_outs; k++)
			slots[s->outs[k]] = res->out[k];
		slots[s->owner] = hamr__value_share(&sg->v[it & (SEG - 1)]);
		int64_t saved = hamr__current_item;
		hamr__current_item = (int64_t)it;
		item_end(s, c, sg, it, 0, 0);
		hamr__current_item = saved;
	}
	mark_done(s, it, it + 1);
}

static void consume_backend(stream *s, ctx *c, int mode)
{
	for (;;) {
		size_t lo = atomic_load_explicit(&s->claimed, memory_order_relaxed);
		size_t hi = atomic_load_explicit(&s->published, memory_order_relaxed);
		if (hi > lo) {
			/* relaxed: this thread alone claims a backend's block */
			atomic_store_explicit(&s->claimed, hi, memory_order_relaxed);
			for (size_t it = lo; it < hi; it++) {
				seg *sg = *seg_ref(s, it >> SEG_BITS);
				int rc = stopped(s) ? HAMR_ECANCELED :
				         s->be->send(s->job, (int64_t)it, &sg->v[it & (SEG - 1)]);
				if (rc) { /* not sent: dropped, skipped or failed */
					hamr_backend_done res = {.item = (int64_t)it, .rc = rc,
					                  .dropped = rc == HAMR_ECANCELED,
					                  .rank = -1};
					backend_finish(s, c, &res);
				}
			}
		}
		int wait = mode == TAKE_ALL ||
		           (mode == TAKE_TO_BOUND &&
		            s->n - atomic_load_explicit(&s->finished, memory_order_relaxed) >= s->max_inflight);
		hamr_backend_done res;
		res.rank = -1; /* a backend may leave it */
		if (!s->job_cancelled && atomic_load_explicit(&s->r->cancel, memory_order_relaxed)) {
			/* relaxed: a hint, as in stopped() */
			s->be->cancel(s->job);
			s->job_cancelled = 1;
		}
		if (s->be->next(s->job, &res, wait)) {
			backend_finish(s, c, &res);
			continue;
		}
		return; /* nothing finished (not waiting), or nothing left */
	}
}

/* An offered consumer found nothing to claim: whether to look again
 * rather than leave. The last consumer about waits up to LINGER_NS for
 * the emitting thread's next LINGER_BATCH items while the node still
 * emits, then claims what is there. Leaving at once made a consumer
 * faster than the emitting node leave after every few items, and the
 * node offer a new one for the next few (a task, a frame and a merge
 * each): 2 workers then took 45 ns an item where 1 took 25. Taking each
 * item as it came kept the two threads in step, the consumer claiming
 * one item at a time from lines the node was still writing (list
 * collects of noop items at 2 workers: 16 ns an item against a fold's
 * 12). Other consumers still leave at once, so no more than one reads
 * `published` while the node writes it. The wait is short against what
 * an offer costs, and *end (0: not lingered yet) ends lingering
 * hamr__blocks_linger_span_ns after the first wait (running items
 * included), so that a worker kept busy by a node that emits steadily
 * still goes back, now and then, to the tasks waiting in the pool (a
 * stealable task spawned by the emitting node waited up to 62 ms
 * without a cap); after that, the consumer takes what is there and
 * leaves when nothing is. */
static int linger(const stream *s, int64_t *end)
{
	hamr__worker *w = hamr__worker_self();
	/* relaxed: hints; a stale value only ends the wait early or late */
	if ((w && hamr__deque_size(&w->q) != 0) ||
	    atomic_load_explicit(&s->active, memory_order_relaxed) > 1)
		return 0;
	int64_t now = hamr__now_ns();
	if (!*end)
		*end = now + hamr__blocks_linger_span_ns;
	else if (now >= *end)
		return 0;
	size_t want = s->batch ? s->batch : 1;
	size_t seen = atomic_load_explicit(&s->claimed, memory_order_relaxed), pub;
	int64_t until = now + LINGER_NS;
	do {
		for (int j = 0; j < 16; j++)
			hamr__cpu_relax();
		pub = atomic_load_explicit(&s->published, memory_order_relaxed);
		if (pub - seen >= want)
			return 1;
		if (atomic_load_explicit(&s->closed, memory_order_relaxed) || stopped(s))
			break;
	} while (hamr__now_ns() < until);
	return pub > seen && !stopped(s);
}

static void consume(stream *s, ctx *c, int mode)
{
	if (s->job) {
		consume_backend(s, c, mode);
		return;
	}
	int64_t end = 0; /* see linger */
	int all = 0;
	for (;;) {
		if (stopped(s))
			return;
		offer(s, c);
		size_t lo, hi, min = 1;
		/* the only consumer about, on a node still emitting, takes
		 * a batch or waits for one (linger); relaxed: hints, as there */
		if (mode == TAKE_AVAILABLE && s->batch && !all &&
		    atomic_load_explicit(&s->active, memory_order_relaxed) <= 1 &&
		    !atomic_load_explicit(&s->closed, memory_order_relaxed))
			min = s->batch;
		if (!claim(s, &lo, &hi, min, all)) {
			/* acquire: pairs with the release in run_range; the count
			 * only bounds the emitter, but its items' frees are then
			 * ordered before the emitter goes on */
			if (mode == TAKE_TO_BOUND &&
			    s->n - atomic_load_explicit(&s->finished, memory_order_acquire) >= s->max_inflight) {
				/* other workers run what is left: wait for them */
				if (s->bpool) {
					bwait(s);
					continue;
				}
				hamr__worker *w = hamr__worker_self();
				if (!w || !hamr__worker_steal(w))
					hamr__cpu_relax();
				continue;
			}
			/* nothing to claim: the emitting node offers a consumer
			 * again when there is, unless this one waits for it */
			if (mode == TAKE_AVAILABLE && !s->bpool && (all = linger(s, &end)))
				continue;
			/* fewer than a batch, and no more waiting: what is there
			 * still runs now, not at the node's next emit */
			if (min > 1 && claim(s, &lo, &hi, 1, 0)) {
				run_range(s, c, lo, hi);
				continue;
			}
			return;
		}
		all = 0;
		run_range(s, c, lo, hi);
		if (mode == TAKE_TO_BOUND &&
		    s->n - atomic_load_explicit(&s->finished, memory_order_acquire) < s->max_inflight)
			return;
	}
}

/* An offered consumer: claims and runs items until it finds none it may
 * take, then leaves. Leaving races with the emitting thread, which
 * publishes an item and then offers a consumer only when none is active:
 * one that publishes while this one is leaving, and still counts it,
 * offers none, and a node that then waits for that item (it emits once
 * the item has run) waits forever. So the leaving consumer stores its
 * departure, then reads `published` again, and the emitting thread
 * stores `published`, then reads `active`, each store before its load
 * (hamr__fence_heavy here, once per departure; hamr__fence_light per
 * item in push_item): either the emitting thread sees no consumer and
 * offers one, or this one sees the item and comes back for it. */
static void offer_run(void *arg)
{
	offer_rec *k = arg;
	stream *s = k->s;
	for (;;) {
		ctx *c = ctx_new(s);
		if (c) {
			consume(s, c, TAKE_AVAILABLE);
			ctx_end(s, c);
			free(c);
		}
		atomic_fetch_sub_explicit(&s->active, 1, memory_order_relaxed);
		/* relaxed: a node that has emitted everything runs what is
		 * left itself (TAKE_ALL), and a stop ends the items: no fence
		 * needed then; the rest is ordered by the fence, and the claim
		 * that follows acquires what it takes */
		if (!c || stopped(s) || atomic_load_explicit(&s->closed, memory_order_relaxed))
			return;
		hamr__fence_heavy();
		if (atomic_load_explicit(&s->published, memory_order_relaxed) <=
		    atomic_load_explicit(&s->claimed, memory_order_relaxed))
			return;
		atomic_fetch_add_explicit(&s->active, 1, memory_order_relaxed);
	}
}

/* ---- items on the blocking pool --------------------------------------------
 * A consumer of a blocking stream is a job in the blocking pool's queue. It
 * may start after its block is done: the emitting thread runs what is left
 * to claim itself and then waits only for consumers that have started,
 * since a job still queued may never start while every blocking worker
 * runs an item that waits for a block (nested blocks: each item of the
 * outer one emits the inner one's items and waits for them). So a job
 * holds the block's gate, not the stream, and enters only while the gate
 * is open; the last holder frees the gate. Every started consumer ends:
 * it runs single items, and finds none left once the emitting thread has
 * claimed the rest. */

#define GATE_CLOSED (1u << 31)

struct gate {
	atomic_uint refs; /* the stream's, and one per job not yet run */
	atomic_uint in;   /* consumers inside, | GATE_CLOSED once closed */
	stream *s;
};

typedef struct bjob {
	hamr__job job;
	gate *g;
} bjob;

static void gate_drop(gate *g)
{
	/* acq_rel: whoever frees the gate sees every other holder's last use */
	if (atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1)
		free(g);
}

/* 1 when the consumer is in (the stream is alive until it leaves), 0 once
 * the gate is closed. */
static int gate_enter(gate *g)
{
	/* relaxed: the stream was published to the job by its queue; the
	 * count only has to be exact, which the read-modify-write makes it */
	unsigned x = atomic_load_explicit(&g->in, memory_order_relaxed);
	do {
		if (x & GATE_CLOSED)
			return 0;
	} while (!atomic_compare_exchange_weak_explicit(&g->in, &x, x + 1, memory_order_relaxed,
	                                                memory_order_relaxed));
	return 1;
}

static void gate_leave(gate *g)
{
	/* release: the consumer's items and merged folds before the
	 * emitting thread reads them; pairs with the acquire in gate_close.
	 * The gate stays valid for the wake: this job still holds it */
	if (atomic_fetch_sub_explicit(&g->in, 1, memory_order_release) == (GATE_CLOSED | 1))
		hamr__futex_wake_private(&g->in, 1);
}

/* Closes g (no consumer enters after) and returns once every consumer
 * inside has left. Closing again only waits again. */
static void gate_close(gate *g)
{
	/* relaxed: ordered against entries by the read-modify-writes on `in` */
	atomic_fetch_or_explicit(&g->in, GATE_CLOSED, memory_order_relaxed);
	unsigned x;
	/* acquire: pairs with the release in gate_leave */
	while ((x = atomic_load_explicit(&g->in, memory_order_acquire)) != GATE_CLOSED)
		hamr__futex_wait_private(&g->in, x);
}

/* Takes a consumer's place when fewer than bcap are taken; a is what
 * the caller last read of `places`. */
static int take_place(stream *s, int a)
{
	while (a < s->bcap)
		/* acq_rel: as every change of `places`; see bleave */
		if (atomic_compare_exchange_weak_explicit(&s->places, &a, a + 1, memory_order_acq_rel,
		                                          memory_order_relaxed))
			return 1;
	return 0;
}

/* A consumer found nothing to claim: gives its place up, and takes it
 * back (1) when an item came meanwhile. bstart publishes an item, then
 * reads the places with a read-modify-write, and starts no consumer when
 * all are taken. Every access that changes `places` is a read-modify-
 * write, acq_rel: so either bstart's comes after this decrement in the
 * order of `places` (and sees the place free), or this decrement reads
 * from it (or from a later change), which makes the item bstart
 * published visible to the check below. No fences: ThreadSanitizer
 * models these. */
static int bleave(stream *s)
{
	int a = atomic_fetch_sub_explicit(&s->places, 1, memory_order_acq_rel) - 1;
	/* relaxed: the decrement above acquired the items to look at; a
	 * stale `claimed` only makes a needless second look */
	if (stopped(s) || atomic_load_explicit(&s->published, memory_order_relaxed) <=
	                          atomic_load_explicit(&s->claimed, memory_order_relaxed))
		return 0;
	return take_place(s, a);
}

/* A blocking consumer: single items, each run to its end, until none is
 * left to claim. */
static void bconsume(stream *s)
{
	ctx *c = ctx_new(s);
	if (!c) {
		/* acq_rel: as every change of `places`; see bleave */
		atomic_fetch_sub_explicit(&s->places, 1, memory_order_acq_rel);
		return;
	}
	do
		consume(s, c, TAKE_AVAILABLE);
	while (bleave(s));
	ctx_end(s, c);
	free(c);
}

static void bjob_run(void *arg)
{
	bjob *j = arg;
	gate *g = j->g;
	free(j);
	if (gate_enter(g)) {
		bconsume(g->s);
		gate_leave(g);
	}
	gate_drop(g);
}

/* The emitting thread published an item: starts a consumer for it while
 * fewer than the blocking workers hold a place; else one of those claims
 * it when its item is done. */
static void bstart(stream *s)
{
	/* acq_rel, a read-modify-write that changes nothing: it reads the
	 * latest count, and a consumer's later decrement reads from it and
	 * so sees the item published before it; see bleave */
	int a = atomic_fetch_add_explicit(&s->places, 0, memory_order_acq_rel);
	if (!take_place(s, a))
		return;
	bjob *j = malloc(sizeof *j);
	if (!j) { /* the emitting thread runs the item in the end */
		/* acq_rel: as every change of `places`; see bleave */
		atomic_fetch_sub_explicit(&s->places, 1, memory_order_acq_rel);
		return;
	}
	j->g = s->gate;
	j->job.fn = bjob_run;
	j->job.arg = j;
	/* relaxed: the emitting thread holds a reference until the block's
	 * end, so the count cannot reach zero meanwhile */
	atomic_fetch_add_explicit(&s->gate->refs, 1, memory_order_relaxed);
	if (s->r->observe)
		block_event(s, HAMR_EV_TASK_SUBMIT, NULL);
	hamr__pool_submit(s->bpool, &j->job);
}

/* ---- the emitting side -------------------------------------------------- */

/* Whether the kernel counts a private writable mapping's pages against
 * a commit limit even when they are never touched (vm.overcommit_memory
 * 2, where MAP_NORESERVE does not apply): then the area, a reservation of
 * GiBs, would take that much from what every process shares. */
static int strict_commit;
static pthread_once_t commit_once = PTHREAD_ONCE_INIT;

static void commit_read(void)
{
	FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
	int mode = 0;
	if (f) {
		if (fscanf(f, "%d", &mode) != 1)
			mode = 0;
		fclose(f);
	}
	strict_commit = mode == 2;
}

/* Reserves the area (see hamr__blocks_area_from), as segment area_from
 * starts: an anonymous mapping of area_items values per packed list, of
 * huge pages where the kernel has them, which it provides as consumers
 * first write them, in parallel. Below area_from a list's values come
 * from chunks and are copied once built (those of the first 2^20 items
 * to the front of the area); past 8 MiB jemalloc gives each such list
 * fresh pages per run anyway, which the emitting thread alone then
 * faulted in and filled after the items. Without the mapping (strict
 * overcommit, an address space limit) segments stay in chunks. */
static void area_make(stream *s)
{
	size_t bytes = (size_t)s->n_packed * s->area_items * sizeof(uint64_t);
	pthread_once(&commit_once, commit_read);
	/* each list's area starts on a page (the list unmaps its own) */
	if (strict_commit || s->area_items * sizeof(uint64_t) % (size_t)sysconf(_SC_PAGESIZE))
		return;
	void *a = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (a == MAP_FAILED)
		return;
	if (!(s->area_kept = calloc(s->n_packed, sizeof *s->area_kept))) {
		munmap(a, bytes);
		return;
	}
#if defined(MADV_HUGEPAGE)
	(void)madvise(a, bytes, MADV_HUGEPAGE);
#endif
	s->area = a;
	s->area_end = s->area_items / SEG;
}

/* Whether segment j's packed values are in the area. */
static inline int in_area(const stream *s, size_t j)
{
	return s->area && j >= s->area_from && j < s->area_end;
}

/* Segment j's values of packed list l, SEG of them. */
static const uint64_t *pk_of(const stream *s, size_t j, uint32_t l)
{
	return s->chunks[j] + (in_area(s, j) ? s->area_items : SEG) * l;
}

/* Gives new segment j (sg) its packed values: a chunk, or its place in
 * the area; 0 or HAMR_ENOMEM. Not zeroed: a value is written before it
 * is read, and the gaps say which items gave none. A chunk is 2 KiB a
 * list, a size jemalloc reuses without faulting the pages in again
 * (2,080 did). */
static int seg_make_chunks(stream *s, seg *sg, size_t j)
{
	if (j >= s->chunks_cap) {
		size_t cap = s->chunks_cap ? 2 * s->chunks_cap : 16;
		uint64_t **t = realloc(s->chunks, cap * sizeof *t);
		if (!t)
			return HAMR_ENOMEM;
		s->chunks = t;
		s->chunks_cap = cap;
	}
	if (j == s->area_from && s->area_ok)
		area_make(s);
	uint64_t *pk;
	if (in_area(s, j)) {
		pk = s->area + j * SEG;
		sg->stride = s->area_items;
	} else if ((pk = mem_alloc((size_t)s->n_packed * SEG * sizeof *pk))) {
		sg->stride = SEG;
	} else {
		return HAMR_ENOMEM;
	}
	s->chunks[j] = pk;
	sg->pk = pk;
	return 0;
}

/* The rarer part of a push, for item s->n: a stop, a limit reached, or
 * the first item of a segment (which it makes). 0 when the push goes on,
 * else the error (v cleared). */
static __attribute__((noinline)) int push_rare(stream *s, hamr_value *v)
{
	if (stopped(s)) {
		hamr_value_clear(v);
		return HAMR_ECANCELED;
	}
	size_t i = s->n, off = i & (SEG - 1);
	if (__builtin_expect(s->max_items != 0, 0) && i >= s->max_items) {
		hamr_value_clear(v);
		return s->emit_rc = HAMR_ERANGE;
	}
	if (__builtin_expect(s->max_tasks != 0, 0) && s->unit_tasks &&
	    (i + 1) * s->unit_tasks > s->max_tasks) {
		hamr_value_clear(v);
		s->emit_rc = HAMR__E2BIG_TASKS; /* the node's message says which */
		return HAMR_ERANGE;
	}
	if (off == 0) {
		size_t j = i >> SEG_BITS;
		if (i >= MAX_ITEMS) {
			hamr_value_clear(v);
			return s->emit_rc = HAMR_EBLOCK;
		}
		if (j >= DIRECT && ((!s->pages && !(s->pages = calloc(MAX_PAGES, sizeof *s->pages))) ||
		                    (!s->pages[(j - DIRECT) >> PAGE_BITS] &&
		                     !(s->pages[(j - DIRECT) >> PAGE_BITS] = calloc(PAGE, sizeof(seg *)))))) {
			hamr_value_clear(v);
			return s->emit_rc = HAMR_ENOMEM;
		}
		/* zeroed where a value may be read before it is written: the
		 * lists' places (a failed item leaves its empty), and boxed
		 * items (seg_drop drops all SEG of them). Scalar items are
		 * written before they are read: no pass over them. */
		size_t vals = (1 + (size_t)s->n_lists) * SEG, skip = s->items_boxed ? 0 : SEG;
		seg *sg = seg_unspare(s);
		if (!sg)
			sg = mem_alloc(sizeof *sg + vals * sizeof(hamr_value));
		if (sg)
			sg->pk = NULL;
		if (!sg || (s->n_packed && seg_make_chunks(s, sg, j))) {
			mem_free(sg);
			hamr_value_clear(v);
			return s->emit_rc = HAMR_ENOMEM;
		}
		atomic_init(&sg->done, 0);
		memset(&sg->v[skip], 0, (vals - skip) * sizeof(hamr_value));
		*seg_ref(s, j) = sg;
		s->cur = sg;
	}
	return 0;
}

/* What follows publishing items up to i, but for the common case
 * push_item leaves out: on the sequential executor they run now; else a
 * consumer is offered (`due`, or when the stream has none; or a blocking
 * one started), and at the bound the emitting thread runs claims itself.
 * 0, or HAMR_ECANCELED once the stream has stopped. */
static __attribute__((noinline)) int push_then(stream *s, size_t i, int due)
{
	if (!s->concurrent) {
		consume(s, &s->prod, TAKE_TO_BOUND); /* these items, now */
		return stopped(s) ? HAMR_ECANCELED : 0;
	}
	/* offers: at once when the stream has no consumer, else now and then
	 * (the idle count is a line other workers write); blocking items
	 * start a consumer each while there are places */
	if (s->bpool)
		bstart(s);
	else if (due || atomic_load_explicit(&s->active, memory_order_relaxed) == 0)
		offer(s, &s->prod);
	/* the bound: `finished` only grows, so an old look that is under
	 * the bound proves the bound holds, without touching the line that
	 * consumers write */
	if (i + 1 - s->seen_finished >= s->max_inflight) {
		s->seen_finished = atomic_load_explicit(&s->finished, memory_order_acquire);
		if (i + 1 - s->seen_finished >= s->max_inflight) {
			consume(s, &s->prod, TAKE_TO_BOUND);
			s->seen_finished = atomic_load_explicit(&s->finished, memory_order_acquire);
		}
	}
	return stopped(s) ? HAMR_ECANCELED : 0;
}

/* Item *v into the stream (moved: v's type is NULL after), published to
 * the consumers. Inline in the emits of scalars, whose value then stays
 * in registers; the rarer parts are push_rare's and push_then's. */
/* The items before n are written: they are published (release: the
 * items and their segment before a consumer claims them), and on the
 * pool the read of `active` that follows is ordered after that store,
 * against a consumer leaving (offer_run). Without a pool (the sequential
 * executor, or no pool made yet) the light fence is a full one, and no
 * consumer leaves: no fence. Returns whether the stream is on the pool
 * (read once: the fence keeps the compiler from reusing a load). */
static inline __attribute__((always_inline)) int publish(stream *s, size_t n)
{
	int pooled = s->pooled;
	s->n = n;
	atomic_store_explicit(&s->published, n, memory_order_release);
	if (pooled)
		hamr__fence_light();
	return pooled;
}

static inline __attribute__((always_inline)) int push_item(stream *s, hamr_value *v)
{
	size_t i = s->n, off = i & (SEG - 1);
	/* one test for the rarer cases: a new segment, a limit (s->limit is
	 * the first item that max_items or max_tasks refuses), a stop */
	if (__builtin_expect(off == 0 || i >= s->limit || stopped(s), 0)) {
		int rc = push_rare(s, v);
		if (rc)
			return rc;
	}
	/* field by field: *v was just written that way by the caller, and a
	 * 16-byte load of two fresh 8-byte stores stalls store forwarding */
	hamr_value *dst = &s->cur->v[off];
	dst->u = v->u;
	dst->type = v->type;
	v->type = NULL;
	if (__builtin_expect(!publish(s, i + 1), 0))
		return push_then(s, i, 0);
	/* the common case on the pool: no offer due (see push_then), under
	 * the bound; a stop shows at the next push. relaxed: `active` is a
	 * hint that steers offers, a stale value offers one late (offer) */
	if (__builtin_expect((i & 31) == 0 ||
	                     atomic_load_explicit(&s->active, memory_order_relaxed) == 0 ||
	                     i + 1 - s->seen_finished >= s->max_inflight, 0))
		return push_then(s, i, (i & 31) == 0);
	return 0;
}

/* What push_many makes items of: values of `type`, one apart from
 * `next` (a range), or the 8 bytes of each value at raw (an array). */
typedef struct item_src {
	hamr_type type;
	const unsigned char *raw; /* NULL: a range */
	int64_t next;
} item_src;

/* n scalar items of src into the stream, the items that n push_item
 * calls would put there, under the same limits and bound, a run of them
 * at a time: the values written in one pass, published once, the offer
 * and the bound looked at once. A run ends at a segment's end, at the
 * limit on items, and at the bound: it is as long as the room under
 * max_inflight, so the emitting thread runs claims itself at the bound
 * as push_item's caller does, and sequentially (a bound of 1) each item
 * still runs as it comes. A stop shows at a run's start and end. */
static int push_many(stream *s, item_src *src, size_t n)
{
	if (s->bpool) { /* a consumer started per item: one at a time */
		for (; n; n--) {
			hamr_value v = {.type = src->type};
			if (src->raw) {
				memcpy(&v.u, src->raw, sizeof(uint64_t));
				src->raw += sizeof(uint64_t);
			} else {
				v.u.i64 = src->next++;
			}
			int rc = push_item(s, &v);
			if (rc)
				return rc;
		}
		return 0;
	}
	while (n) {
		size_t i = s->n, off = i & (SEG - 1);
		if (off == 0 || i >= s->limit || stopped(s)) {
			hamr_value v = {.type = src->type}; /* a scalar: nothing to clear */
			int rc = push_rare(s, &v);
			if (rc)
				return rc;
		}
		/* i < s->limit now: push_rare refuses the item at the limit */
		size_t k = SEG - off;
		if (k > n)
			k = n;
		if (k > s->limit - i)
			k = s->limit - i;
		/* the room under the bound: i - finished are in flight, fewer
		 * than max_inflight (push_then saw to that). An old look at
		 * `finished` gives less room, and a fresh one is taken when it
		 * gives less than half: only the pool's push_then looks */
		size_t used = i - s->seen_finished;
		if (used >= s->max_inflight / 2) {
			s->seen_finished = atomic_load_explicit(&s->finished, memory_order_acquire);
			used = i - s->seen_finished;
		}
		size_t room = used < s->max_inflight ? s->max_inflight - used : 1;
		if (k > room)
			k = room;
		hamr_value *dst = &s->cur->v[off];
		hamr_type t = src->type;
		if (src->raw) {
			for (size_t j = 0; j < k; j++) {
				memcpy(&dst[j].u, src->raw + j * sizeof(uint64_t), sizeof(uint64_t));
				dst[j].type = t;
			}
			src->raw += k * sizeof(uint64_t);
		} else {
			int64_t x = src->next;
			for (size_t j = 0; j < k; j++) {
				dst[j].u.i64 = x + (int64_t)j;
				dst[j].type = t;
			}
			src->next = x + (int64_t)k;
		}
		n -= k;
		publish(s, i + k);
		int rc = push_then(s, i + k - 1, 1);
		if (rc)
			return rc;
	}
	return 0;
}

int hamr__stream_push(stream *s, hamr_value *v)
{
	return push_item(s, v);
}

int hamr__stream_stopped(const stream *s)
{
	return stopped(s);
}

int hamr__stream_would_pass(const stream *s, size_t n_items)
{
	return s->max_tasks && s->unit_tasks && n_items > s->max_tasks / s->unit_tasks;
}

int hamr__stream_error(const stream *s, size_t *n_items)
{
	*n_items = s->n;
	return s->emit_rc;
}

/* The end of building a list: the item indices of a tolerant one handed
 * to it, or, on error rc, the list cleared. Returns rc. */
static int list_done(hamr_value *out, int64_t *index, int rc)
{
	if (!rc && index) {
		hamr__list_set_index(out, index); /* the list owns it now */
		index = NULL;
	}
	free(index);
	if (rc)
		hamr_value_clear(out);
	return rc;
}

static int gap_cmp(const void *a, const void *b)
{
	size_t x = ((const size_t *)a)[0], y = ((const size_t *)b)[0];
	return x < y ? -1 : x > y;
}

/* Item it's value for list entry g after failures, or NULL when it gave
 * none: in its segment for a list of values; for a packed list, in its
 * chunk unless a gap holds it (*q walks the sorted gaps; *tmp takes the
 * value). */
static hamr_value *tolerant_item(stream *s, uint32_t g, size_t it, size_t *q, hamr_value *tmp)
{
	uint32_t l = s->packed_of[g];
	size_t off = it & (SEG - 1);
	if (l == UINT32_MAX) {
		hamr_value *v = &(*seg_ref(s, it >> SEG_BITS))->v[SEG * (1 + s->list_of[g]) + off];
		return v->type ? v : NULL;
	}
	while (*q < s->n_gaps && s->gaps[*q][1] <= it)
		(*q)++;
	if (*q < s->n_gaps && s->gaps[*q][0] <= it)
		return NULL; /* failed, or not run */
	tmp->type = s->p->nodes[s->ga[g].src].type;
	memcpy(&tmp->u, &pk_of(s, it >> SEG_BITS, l)[off], sizeof(uint64_t));
	return tmp;
}

/* Appends to list *out the items that succeeded for list entry g, in
 * item order, and makes *index their indices. 0 or HAMR_ENOMEM. */
static int append_tolerant(stream *s, uint32_t g, hamr_value *out, int64_t **index)
{
	size_t n = s->n, m = 0, q = 0;
	if (!(*index = malloc((n ? n : 1) * sizeof **index)))
		return HAMR_ENOMEM;
	/* every consumer has synced with this thread: no lock needed */
	if (s->n_gaps)
		qsort(s->gaps, s->n_gaps, sizeof *s->gaps, gap_cmp);
	for (size_t it = 0; it < n; it++) {
		hamr_value tmp;
		hamr_value *v = tolerant_item(s, g, it, &q, &tmp);
		if (!v)
			continue;
		(*index)[m++] = (int64_t)it;
		int rc = hamr_list_append(out, v);
		if (rc)
			return rc;
	}
	return 0;
}

/* Builds packed list entry g from its chunks, in item order: a copy of
 * the bits (a byte of each for bool), or, after failures, the items that
 * succeeded with their indices. */
static int build_packed(stream *s, uint32_t g, hamr_value *out)
{
	const hamr__gather *ge = &s->ga[g];
	hamr_type elem = s->p->nodes[ge->src].type;
	uint32_t l = s->packed_of[g];
	size_t n = s->n, failed = atomic_load(&s->failed) || s->n_gaps;
	int64_t *index = NULL;
	*out = (hamr_value)HAMR_VALUE_EMPTY;
	int rc = s->gaps_lost ? HAMR_ENOMEM : hamr_value_make_list(out, elem, 0);
	if (!rc && !failed && s->area && n <= s->area_end * SEG && !s->area_kept[l]) {
		/* the area is the list's array: the items below area_from
		 * copied to the front of it, and its pages past the last
		 * item's given back with the rest of the reservation */
		uint64_t *items = s->area + (size_t)l * s->area_items;
		for (size_t j = 0; j < s->area_from; j++)
			memcpy(items + j * SEG, pk_of(s, j, l), SEG * sizeof *items);
		size_t page = (size_t)sysconf(_SC_PAGESIZE);
		size_t bytes = (n * sizeof *items + page - 1) / page * page;
		hamr__list_adopt_mapped(out, items, n, bytes);
		s->area_kept[l] = bytes;
	} else if (!rc && !failed && n) {
		void *items = hamr__list_fill(out, n);
		if (!items)
			rc = HAMR_ENOMEM;
		for (size_t it = 0; it < n && !rc; it += SEG) {
			const uint64_t *x = pk_of(s, it >> SEG_BITS, l);
			size_t m = n - it < SEG ? n - it : SEG;
			if (elem == HAMR_BOOL) {
				for (size_t k = 0; k < m; k++) /* u.b: the union's first byte */
					memcpy((bool *)items + it + k, &x[k], sizeof(bool));
			} else {
				memcpy((uint64_t *)items + it, x, m * sizeof *x);
			}
		}
	} else if (!rc && failed) {
		rc = append_tolerant(s, g, out, &index);
	}
	return list_done(out, index, rc);
}

/* Builds list entry g from the segments, in item order; after failures a
 * tolerant list keeps only the items that succeeded, and records their
 * indices. */
static int build_list(stream *s, uint32_t g, hamr_value *out)
{
	if (s->packed_of[g] != UINT32_MAX)
		return build_packed(s, g, out);
	const hamr__gather *ge = &s->ga[g];
	size_t n = s->n, failed = atomic_load(&s->failed);
	size_t base = ge->src == s->owner ? 0 : SEG * (1 + (size_t)s->list_of[g]);
	int own = ge->src == s->owner;
	int64_t *index = NULL;
	int rc = hamr_value_make_list(out, s->p->nodes[ge->src].type, 0);
	if (!rc && (own || !failed)) {
		/* every item: copied (shared) or moved in bulk, a segment at a
		 * time; scalar items into a packed list (a packed list of other
		 * values is build_packed's) */
		void *items = n ? hamr__list_fill(out, n) : NULL;
		hamr_value *dst = items;
		hamr_list view = hamr_value_list(out);
		if (n && !items)
			rc = HAMR_ENOMEM;
		for (size_t it = 0; it < n && !rc; it += SEG) {
			seg *sg = *seg_ref(s, it >> SEG_BITS);
			size_t m = n - it < SEG ? n - it : SEG;
			if (view.data) {
				hamr__packed_put(items, view.elem, it, sg->v, m);
			} else if (own) {
				for (size_t k = 0; k < m; k++)
					dst[it + k] = hamr__value_share(&sg->v[k]);
			} else {
				memcpy(dst + it, &sg->v[base], m * sizeof *dst);
			}
		}
		if (!rc && !own)
			s->drop[s->list_of[g]] = 0; /* the list's now */
	}
	if (!rc && failed && !own)
		rc = append_tolerant(s, g, out, &index);
	return list_done(out, index, rc);
}

static int stream_init(stream *s, hamr_run *r, uint32_t owner, const hamr__frame *f)
{
	const hamr_plan *p = r->plan;
	pthread_mutex_init(&s->lock, NULL); /* first: stream_destroy ends it */
	s->r = r;
	s->p = p;
	s->owner = owner;
	s->items_boxed = !p->nodes[owner].type || hamr__type_boxed(p->nodes[owner].type);
	s->blk = p->node_block[owner];
	s->outer = f;
	s->ga = p->gather + p->gather_start[s->blk];
	s->n_ga = p->gather_start[s->blk + 1] - p->gather_start[s->blk];
	s->max_inflight = r->opts.max_inflight ? r->opts.max_inflight : 1;
	s->max_items = r->opts.max_items;
	s->unit_tasks = 1;
	/* the execution manager: the block's tag, else the run's remote
	 * executor, else its local one. A block for a backend whose nodes
	 * cannot all run there runs on the pool. */
	const hamr_backend *be;
	void *be_self;
	int remote = items_remote(r, s->blk, &be, &be_self);
	hamr__worker *w = hamr__worker_self();
	s->concurrent = remote == HAMR_REMOTE_THREADS && w;
	s->grouping = r->opts.grouping;
	if (s->grouping == HAMR_GROUPING_DEFAULT)
		s->grouping = p->scope_grouping[s->blk];
	if (s->grouping == HAMR_GROUPING_DEFAULT)
		s->grouping = HAMR_GROUPING_AUTO;
	if (s->concurrent && r->pool && (p->nodes[owner].flags & HAMR__PNODE_BLOCKING_ITEMS)) {
		/* items that wait: on the blocking pool, an item per worker */
		hamr_pool_opts po;
		if (!(s->bpool = hamr__pool_blocking(r->pool)) || !(s->gate = calloc(1, sizeof *s->gate)))
			return HAMR_ENOMEM;
		hamr_pool_settings(s->bpool, &po);
		/* the emitting thread holds one blocking worker (unit_pool put
		 * it there) until it has emitted: a place for a consumer beyond
		 * the others would be a job that cannot start meanwhile */
		s->bcap = po.workers > 1 ? po.workers - 1 : 1;
		atomic_init(&s->gate->refs, 1);
		atomic_init(&s->gate->in, 0);
		s->gate->s = s;
	}
	s->max_tasks = r->opts.max_tasks;
	s->unit_tasks = s->grouping == HAMR_GROUPING_AUTO ? 0 :
	                s->grouping == HAMR_GROUPING_NODE && s->concurrent && !s->bpool ?
	                p->unit_start[s->blk + 1] - p->unit_start[s->blk] : 1;
	/* the first item a limit refuses (push_rare says which) */
	s->limit = s->max_items ? s->max_items : SIZE_MAX;
	if (s->max_tasks && s->unit_tasks && s->max_tasks / s->unit_tasks < s->limit)
		s->limit = s->max_tasks / s->unit_tasks;
	s->pooled = s->concurrent && !s->bpool;
	if (s->bpool) /* an item per claim, its nodes in order on one thread */
		s->grouping = HAMR_GROUPING_BLOCK;
	s->workers = w ? hamr__worker_pool(w)->opts.workers : 1;
	s->grain = r->opts.grain ? r->opts.grain : w ? hamr__worker_pool(w)->opts.grain : 0;
	if (!s->concurrent && !be)
		s->max_inflight = 1; /* each item as it comes */
	/* batches under auto grouping that fit under the bound */
	if (s->pooled && s->grouping == HAMR_GROUPING_AUTO && !s->grain)
		s->batch = s->max_inflight / 2 < LINGER_BATCH ? s->max_inflight / 2 : LINGER_BATCH;
	s->be = be;
	s->be_self = be_self;
	if (be)
		s->n_outs = hamr__block_outs(p, s->blk, s->outs, HAMR__MAX_OUT);
	size_t ng = s->n_ga ? s->n_ga : 1; /* per gather entry, never 0 */
	s->list_of = malloc(ng * sizeof *s->list_of);
	s->packed_of = malloc(ng * sizeof *s->packed_of);
	s->folds = malloc(ng * sizeof *s->folds);
	s->moves = malloc(ng * sizeof *s->moves);
	s->drop = calloc(ng, 1);
	s->broken = calloc(ng, 1);
	if (!s->broken)
		return HAMR_ENOMEM;
	uint32_t c0 = p->clear_start[s->blk], c1 = p->clear_start[s->blk + 1];
	s->clear = p->clear + c0;
	s->n_clear = c1 - c0;
	s->counted = malloc((c1 - c0 ? c1 - c0 : 1) * sizeof *s->counted);
	if (!s->counted)
		return HAMR_ENOMEM;
	s->scalars = 1;
	for (uint32_t k = c0; k < c1; k++) {
		uint32_t x = p->clear[k];
		if (p->consumers[x] > 1)
			s->counted[s->n_counted++] = x;
		if (x >= p->n_nodes || !p->nodes[x].type || hamr__type_boxed(p->nodes[x].type))
			s->scalars = 0;
	}
	uint32_t u0 = p->unit_start[s->blk];
	s->one_node = UINT32_MAX;
	if (p->unit_start[s->blk + 1] - u0 == 1 && !p->node_block[p->units[u0]] &&
	    !s->n_counted && !(s->grouping == HAMR_GROUPING_NODE && s->concurrent))
		s->one_node = p->units[u0];
	s->acc = calloc(ng, sizeof *s->acc);
	if (!s->list_of || !s->packed_of || !s->folds || !s->moves || !s->drop || !s->acc)
		return HAMR_ENOMEM;
	s->merge = 1;
	s->area_ok = 1;
	s->area_from = hamr__blocks_area_from;
	s->area_items = hamr__blocks_area_items;
	int folds = 0;
	for (uint32_t g = 0; g < s->n_ga; g++) {
		const hamr__gather *ge = &s->ga[g];
		s->list_of[g] = UINT32_MAX;
		s->packed_of[g] = UINT32_MAX;
		const hamr_type t = p->nodes[ge->src].type;
		if (ge->fold) {
			folds = 1;
			s->merge &= ge->fold->merge != NULL;
			s->acc[g] = hamr_value_ref(&ge->init);
			s->folds[s->n_folds++] = (fold_rec){ge->src, g, ge->fold->step, ge->userdata};
		} else if (ge->src != owner && (t == HAMR_I64 || t == HAMR_F64 || t == HAMR_BOOL)) {
			/* in chunks that outlive their segments */
			s->packed_of[g] = s->n_packed++;
			s->moves[s->n_moves++] = (move_rec){ge->src, s->packed_of[g], 1};
			if (t == HAMR_BOOL) /* a byte an item in its list */
				s->area_ok = 0;
		} else {
			s->keep = 1; /* the segments, until the lists are built */
			if (ge->src != owner) {
				s->drop[s->n_lists] = !t || hamr__type_boxed(t);
				s->list_of[g] = s->n_lists++;
				s->moves[s->n_moves++] =
					(move_rec){ge->src, (uint32_t)SEG * (1 + s->list_of[g]), 0};
			}
		}
	}
	s->merge &= folds && s->concurrent;
	return ctx_init(s, &s->prod);
}

static void stream_destroy(stream *s)
{
	if (s->gate) {
		gate_close(s->gate);
		gate_drop(s->gate);
	}
	if (s->job)
		s->be->close(s->job);
	for (size_t j = 0; j < DIRECT; j++)
		if (s->direct[j])
			seg_free(s, s->direct[j]);
	for (size_t q = 0; s->pages && q < MAX_PAGES; q++) {
		if (!s->pages[q])
			continue;
		for (size_t j = 0; j < PAGE; j++)
			if (s->pages[q][j])
				seg_free(s, s->pages[q][j]);
		free(s->pages[q]);
	}
	free(s->pages);
	for (seg *sg = atomic_load(&s->spare), *nx; sg; sg = nx) {
		nx = sg->next;
		mem_free(sg); /* its values were dropped when it was spared */
	}
	for (uint32_t g = 0; s->acc && g < s->n_ga; g++)
		hamr_value_clear(&s->acc[g]);
	free(s->acc);
	free(s->list_of);
	free(s->packed_of);
	free(s->folds);
	free(s->moves);
	for (size_t j = 0; s->n_packed && j < (s->n + SEG - 1) >> SEG_BITS; j++)
		if (!in_area(s, j))
			mem_free(s->chunks[j]);
	free(s->chunks);
	for (uint32_t l = 0; s->area && l < s->n_packed; l++) /* but what lists took */
		munmap((char *)(s->area + (size_t)l * s->area_items) + s->area_kept[l],
		       s->area_items * sizeof(uint64_t) - s->area_kept[l]);
	free(s->area_kept);
	free(s->gaps);
	free(s->drop);
	free(s->broken);
	free(s->counted);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

typedef struct block_call {
	hamr_run *r;
	uint32_t owner;
	const hamr__frame *f;
	int64_t item; /* the caller's, for the error record */
	int rc;
} block_call;

static int run_block(hamr_run *r, uint32_t owner, const hamr__frame *f)
{
	const hamr_plan *p = r->plan;
	int rc;
	stream *s = aligned_alloc(64, (sizeof *s + 63) & ~(size_t)63);
	if (!s)
		return hamr__run_fail(r, HAMR_ENOMEM, p->nodes[owner].name, NULL);
	memset(s, 0, sizeof *s);
	if ((rc = stream_init(s, r, owner, f))) {
		stream_destroy(s);
		return hamr__run_fail(r, rc, p->nodes[owner].name, NULL);
	}
	if (s->be) { /* the block's nodes through a backend */
		int32_t b = s->blk;
		hamr_backend_program prog = {p, p->units + p->unit_start[b],
		                             p->unit_start[b + 1] - p->unit_start[b], (int32_t)owner,
		                             f->slots, p->n_slots, s->outs, s->n_outs};
		hamr_backend_job *job = NULL;
		rc = s->be->open(s->be_self, r, &prog, &job);
		if (!rc)
			s->job = job;
		if (rc) {
			char *msg = rc == HAMR_ENOMEM ? NULL : strdup(hamr_errmsg());
			stream_destroy(s);
			return hamr__run_fail(r, rc, p->nodes[owner].name, msg);
		}
	}
	hamr_event be = {.task = -1};
	if (r->observe)
		block_event(s, HAMR_EV_BLOCK_START, &be);
	rc = hamr__run_emit(r, owner, f->slots, s);
	if (rc)
		atomic_store(&s->abandoned, true);
	atomic_store_explicit(&s->closed, true, memory_order_release);
	if (!rc)
		consume(s, &s->prod, TAKE_ALL);
	ctx_end(s, &s->prod);
	if (s->gate) /* blocking consumers: those inside end their items */
		gate_close(s->gate);
	if (s->job) { /* its running tasks end (their results unused) */
		/* relaxed: a hint, as in stopped() */
		if (!s->job_cancelled && atomic_load_explicit(&r->cancel, memory_order_relaxed))
			s->be->cancel(s->job);
		s->be->close(s->job);
		s->job = NULL;
	}
	/* every consumer is done: the items are finished or dropped */
	if (!rc && !r->keep_going)
		rc = atomic_load(&s->rc);
	if (!rc && (atomic_load_explicit(&r->cancel, memory_order_relaxed) ||
	            atomic_load_explicit(&s->unrun, memory_order_relaxed)))
		/* items were dropped (a cancel, or a failure elsewhere): the
		 * block is incomplete */
		rc = atomic_load_explicit(&r->cancel, memory_order_relaxed) ?
		     hamr__run_fail(r, HAMR_ECANCELED, NULL, NULL) : HAMR_ECANCELED;
	if (!rc && !r->keep_going && atomic_load_explicit(&r->stop, memory_order_relaxed))
		rc = HAMR_ECANCELED; /* stopped by a failure elsewhere */
	size_t failed = atomic_load(&s->failed);
	for (uint32_t g = 0; g < s->n_ga && rc <= 0; g++) {
		const hamr__gather *ge = &s->ga[g];
		hamr_value *dst = &f->slots[ge->dst];
		hamr__value_drop(dst);
		if (rc)
			continue; /* a failed block gives nothing: half a list
			           * would look like a result */
		if ((failed && !ge->tolerant) || s->broken[g])
			continue; /* empty: whoever reads it is skipped */
		if (ge->fold) {
			/* no items and no initial value: none, which the fold's
			 * node turns into an error naming it */
			*dst = s->acc[g].type ? s->acc[g] : hamr_value_none();
			s->acc[g].type = NULL;
		} else {
			int e = build_list(s, g, dst);
			if (e)
				rc = hamr__run_fail(r, e, p->nodes[owner].name, NULL);
		}
	}
	if (r->observe) {
		be.start_ns = be.t_ns;
		be.rc = rc < 0 ? rc : 0;
		block_event(s, HAMR_EV_BLOCK_END, &be);
		if (r->stats)
			hamr__stats_block(r, s->blk, s->n);
	}
	stream_destroy(s);
	/* the outer values the block read: it is done with them */
	for (uint32_t k = p->defer_start[owner]; k < p->defer_start[owner + 1]; k++)
		release(p, f, (int32_t)p->defer[k]);
	return rc;
}

static void block_job(void *arg)
{
	block_call *b = arg;
	int64_t saved = hamr__current_item;
	hamr__current_item = b->item;
	b->rc = run_block(b->r, b->owner, b->f);
	hamr__current_item = saved;
}

/* The pool block unit i runs on when not on this thread (*to; NULL:
 * here). A block whose items run on the pool goes there from a thread
 * outside it (the caller of a sequential run); a block that runs a
 * blocking node goes to the blocking pool from any other thread, so that
 * the thread that emits its items and waits for them is never a compute
 * worker. Items that run in item order or in worker processes run here.
 * 0, or the error, recorded. */
static int unit_pool(hamr_run *r, uint32_t i, hamr_pool **to)
{
	const hamr_plan *p = r->plan;
	const hamr__pnode *pn = &p->nodes[i];
	int32_t blk = p->node_block[i];
	hamr__worker *w = hamr__worker_self();
	*to = NULL;
	if (!(pn->flags & HAMR__PNODE_BLOCKING_ITEMS)) {
		if (!w && r->pool && threads_asked(r, blk))
			*to = r->pool;
		return 0;
	}
	const hamr_backend *be;
	void *be_self;
	if (!r->pool || items_remote(r, blk, &be, &be_self) != HAMR_REMOTE_THREADS ||
	    (!w && !threads_asked(r, blk)))
		return 0;
	hamr_pool *b = hamr__pool_blocking(r->pool);
	if (!b) {
		char *msg = strdup(hamr_errmsg());
		return hamr__run_fail(r, HAMR_ENOMEM, pn->name, msg);
	}
	if (!w || hamr__worker_pool(w) != b)
		*to = b;
	return 0;
}

int hamr__run_unit(hamr_run *r, uint32_t i, const hamr__frame *f)
{
	const hamr_plan *p = r->plan;
	if (!p->node_block[i])
		return hamr__run_node_in(r, i, f->slots);
	hamr_pool *to;
	int rc = unit_pool(r, i, &to);
	if (rc)
		return rc;
	if (to) { /* this thread waits meanwhile */
		block_call b = {r, i, f, hamr__current_item, 0};
		rc = hamr_pool_call(to, block_job, &b);
		return rc ? hamr__run_fail(r, rc, p->nodes[i].name, NULL) : b.rc;
	}
	return run_block(r, i, f);
}

int hamr__run_scope(hamr_run *r, int32_t sc, const hamr__frame *f)
{
	const hamr_plan *p = r->plan;
	int first = 0;
	for (uint32_t u = p->unit_start[sc]; u < p->unit_start[sc + 1]; u++) {
		uint32_t i = p->units[u];
		/* relaxed: a stale view runs one more node (see sequential.c) */
		if (atomic_load_explicit(&r->cancel, memory_order_relaxed))
			return hamr__run_fail(r, HAMR_ECANCELED, NULL, NULL);
		if (!r->keep_going && atomic_load_explicit(&r->stop, memory_order_relaxed))
			return HAMR_ECANCELED; /* another item failed first */
		int rc = hamr__run_unit(r, i, f);
		if (rc && (!r->keep_going || sc > 0))
			return rc; /* inside an item: the item has failed */
		if (rc && (!first || (first > 0 && rc < 0)))
			first = rc; /* a failure over a skip */
		release_args(p, f, i);
	}
	return first;
}

/* ---- the node that emits ------------------------------------------------- */

/* The checks of every emit: c's node is parallelizable, and items of
 * `type` are its declared ones. 0, or the error, its message recorded. */
static int emit_check(hamr_call *c, hamr_type type)
{
	if (!c->stream) {
		hamr_fail(c, "emits items, but is not a parallelizable node");
		return HAMR_ESTATE;
	}
	if (c->type && c->type != type) {
		hamr_fail(c, "emitted %s, but its items are declared %s", hamr_type_name(type),
		          hamr_type_name(c->type));
		return HAMR_ETYPE;
	}
	return 0;
}

int hamr_emit(hamr_call *c, hamr_value *v)
{
	if (!v || !v->type) {
		hamr_fail(c, "emitted an empty value");
		return HAMR_EINVAL;
	}
	int rc = emit_check(c, v->type);
	if (rc) {
		hamr_value_clear(v);
		return rc;
	}
	return hamr__stream_push(c->stream, v); /* its failure: see hamr__run_emit */
}

/* A scalar emit: straight to the stream when the node's items are
 * declared of v's type (hamr_emit's checks hold then), else through
 * hamr_emit for its message. */
static inline __attribute__((always_inline)) int emit_scalar(hamr_call *c, hamr_value *v)
{
	if (__builtin_expect(c->stream && c->type == v->type, 1))
		return push_item(c->stream, v);
	return hamr_emit(c, v);
}

int hamr_emit_i64(hamr_call *c, int64_t x)
{
	hamr_value v = hamr_value_from_i64(x);
	return emit_scalar(c, &v);
}

int hamr_emit_f64(hamr_call *c, double x)
{
	hamr_value v = hamr_value_from_f64(x);
	return emit_scalar(c, &v);
}

/* emit_check for items of `type`, of which `lost` are to come from a
 * NULL array: 0 when they may go to the stream. It holds for no items
 * too, so that a node that is not parallelizable, or emits the wrong
 * type, fails on its first run, not on its first items. */
static int emit_many_check(hamr_call *c, hamr_type type, size_t lost)
{
	int rc = emit_check(c, type);
	if (rc)
		return rc;
	if (lost) {
		hamr_fail(c, "emitted %zu items from a NULL array", lost);
		return HAMR_EINVAL;
	}
	return 0;
}

int hamr_emit_range(hamr_call *c, int64_t lo, int64_t hi)
{
	int rc = emit_many_check(c, HAMR_I64, 0);
	if (rc || hi <= lo)
		return rc;
	/* the count in uint64_t, exact for any two int64_t; more than a
	 * size_t holds is more than a block holds (push_rare says so) */
	uint64_t count = (uint64_t)hi - (uint64_t)lo;
	item_src src = {.type = HAMR_I64, .next = lo};
	return push_many(c->stream, &src, count > SIZE_MAX ? SIZE_MAX : (size_t)count);
}

int hamr_emit_i64s(hamr_call *c, const int64_t *xs, size_t n)
{
	int rc = emit_many_check(c, HAMR_I64, xs ? 0 : n);
	item_src src = {.type = HAMR_I64, .raw = (const unsigned char *)xs};
	return rc ? rc : n ? push_many(c->stream, &src, n) : 0;
}

int hamr_emit_f64s(hamr_call *c, const double *xs, size_t n)
{
	int rc = emit_many_check(c, HAMR_F64, xs ? 0 : n);
	item_src src = {.type = HAMR_F64, .raw = (const unsigned char *)xs};
	return rc ? rc : n ? push_many(c->stream, &src, n) : 0;
}

int hamr_emit_str(hamr_call *c, const char *s)
{
	hamr_value v;
	int rc = hamr_value_make_str(&v, s ? s : "");
	if (rc)
		return hamr_fail(c, "cannot make an item: %s", hamr_strerror(rc));
	return hamr_emit(c, &v);
}

int hamr__run_emit(hamr_run *r, uint32_t i, hamr_value *slots, struct hamr__stream *s)
{
	const hamr__pnode *pn = &r->plan->nodes[i];
	hamr_call c;
	if (r->keep_going && hamr__missing_input(r, i, slots))
		return HAMR__SKIPPED;
	hamr__call_init(&c, r, i, slots, s);
	hamr_event e;
	if (r->observe)
		hamr__node_started(r, i, &e);
	int rc = pn->fn(&c); /* never in a group: planning refuses the tag */
	if (r->observe)
		hamr__node_ended(r, &e, rc);
	size_t emitted = 0;
	int emit_rc = hamr__stream_error(s, &emitted);
	if (emit_rc) {
		/* an item was lost, even if the node went on: its block would
		 * be short */
		free(c.fail_msg);
		c.fail_msg = NULL;
		if (emit_rc == HAMR__E2BIG_TASKS) {
			hamr_fail(&c, "its block would make more than %zu tasks, the limit (max_tasks, HAMR_MAX_TASKS); grouping auto batches items",
			          r->opts.max_tasks);
			emit_rc = HAMR_ERANGE;
		} else if (emit_rc == HAMR_ERANGE)
			hamr_fail(&c, "emitted more than %zu items, the limit (max_items, HAMR_MAX_ITEMS)",
			          r->opts.max_items);
		else
			hamr_fail(&c, emit_rc == HAMR_EBLOCK ? "emitted more items than one block holds (%zu)" :
			                                       "out of memory keeping item %zu", emitted);
		rc = emit_rc;
	} else if (!rc && c.result.type) {
		/* a returned list is the items */
		if (c.result.type != HAMR_LIST || emitted) {
			hamr_fail(&c, "a parallelizable node emits its items or returns a list, not %s",
			          emitted ? "both" : hamr_type_name(c.result.type));
			rc = HAMR_ETYPE;
		} else {
			hamr_list l = hamr_value_list(&c.result);
			if (r->opts.max_items && l.len > r->opts.max_items) {
				hamr_fail(&c, "returned %zu items, more than the limit of %zu (max_items, HAMR_MAX_ITEMS)",
				          l.len, r->opts.max_items);
				rc = HAMR_ERANGE;
			} else if (hamr__stream_would_pass(s, l.len)) {
				hamr_fail(&c, "its block would make more than %zu tasks for %zu items, the limit (max_tasks, HAMR_MAX_TASKS); grouping auto batches items",
				          r->opts.max_tasks, l.len);
				rc = HAMR_ERANGE;
			}
			/* a list of the declared type holds nothing else */
			for (size_t k = 0; pn->type && l.elem != pn->type && k < l.len && !rc; k++) {
				hamr_type t = hamr_list_get(l, k).type;
				if (t != pn->type) {
					hamr_fail(&c, "returned an item of type %s, but its items are declared %s",
					          hamr_type_name(t), hamr_type_name(pn->type));
					rc = HAMR_ETYPE;
				}
			}
			for (size_t k = 0; k < l.len && !rc; k++) {
				hamr_value item = hamr_list_get(l, k);
				hamr_value v = hamr__value_share(&item);
				rc = hamr__stream_push(s, &v);
			}
		}
	}
	hamr_value_clear(&c.result);
	if (!rc) {
		free(c.fail_msg);
		return 0;
	}
	if (!emit_rc && hamr__stream_stopped(s) && !c.fail_msg)
		rc = HAMR_ECANCELED; /* it stopped because the run did */
	return hamr__node_failed(r, pn, rc, c.fail_msg);
}
