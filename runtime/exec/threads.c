// SPDX-License-Identifier: MIT
/* The threads executor: a plan on the work-stealing pool.
 *
 * A run starts with one job, submitted from the caller's thread. For a
 * plain plan (no map blocks, no blocking nodes) that job first runs the
 * nodes in the plan's order, as the sequential executor does, with plain
 * counts and no scheduling at all (in_order below), and turns lazy only
 * once another worker is idle and the run has gone on for a while, and
 * only where the plan widens (more than the next node ready; a few only
 * for slow nodes).
 *
 * Lazy: each plan node has a task record in the run (no allocation per
 * node) and a counter of the computed inputs it still waits for. A worker
 * that finishes a node counts down its dependents; the first one made
 * ready runs next right there, the others it keeps (a ring) and runs
 * newest first. It makes one available to others, or half of its range
 * of roots, only when a worker is idle (hamr__worker_should_offer), as
 * parallel_for splits its range. Counts stay plain loads and stores until
 * work of the run first leaves its worker (shared_counts), and become
 * atomic read-modify-writes from then on. Decrements of a counter with
 * many contributors are gathered while the same counter repeats.
 * Nodes tagged blocking=true (I/O) run on the pool's blocking pool, sized
 * for concurrency rather than cores, so waiting never occupies a compute
 * worker; readiness crosses between the two pools through their queues.
 * So does a block whose items run such a node: its items run there too.
 *
 * In a plan with map blocks, the tasks are the units of the plan's outer
 * scope: a parallelizable node and its whole block is one unit, whose
 * items stream to consumers on the pool (runtime/blocks.c).
 *
 * Values are released as in the sequential executor, by counters of their
 * readers: the reader that takes a slot's count to zero frees it. A
 * failure stops the run fast: nodes not yet started are skipped (their
 * counters still move, so the run always finishes), running ones
 * complete, and the first error is the run's. Under keep_going nothing
 * stops: a node whose input failed is skipped when its turn comes. The
 * last node to finish ends the run. */
#include <pthread.h>
#include <stdlib.h>

#include <string.h>

#include "runtime/core/run_internal.h"
#include "runtime/pool/env_internal.h"
#include "serialize/value_internal.h"
#include "serialize/error_internal.h"


static void node_task(void *arg);

/* Node d's task record (or, with roots_end, a range of roots in the record
 * of its first root), filled for this worker's deque and pushed there. */
static void push_task(hamr_run *r, hamr__worker *w, uint32_t d, uint32_t i, uint32_t roots_end)
{
	/* the caller's lazy state has shared the counts already */
	hamr__node_task *t = &r->tasks[d];
	t->r = r;
	t->i = i;
	t->roots_end = roots_end;
	hamr__task_set_fn(&t->t, node_task, t);
	hamr__worker_push(w, &t->t);
}

/* Ready nodes a worker keeps to itself: it runs them, newest first, and
 * offers the oldest to others only when one is idle and its last offer
 * was taken (hamr__worker_should_offer), as parallel_for splits its
 * range. A graph of tiny nodes thus runs as a loop on one worker, at about
 * the sequential executor's price, and fans out as soon as a worker is
 * free. Decrements of a shared count (the inputs still pending of a
 * dependent with many, the readers still to come of a slot with many) wait in
 * `dep`/`slot` while the same counter comes again: 999 roots feeding one
 * sum touch its counter once per run of them, not once each. */
#define KEPT 64
#define FEW_INPUTS 8 /* a dependent with more inputs, a slot with more
                      * readers, has its decrements gathered */
/* Offering costs the run more than a push: once work has left its first
 * worker, every count takes an atomic read-modify-write, and the nodes'
 * results cross between caches. So a run's first worker offers nothing
 * for its first FIRST_OFFER_NS (a run shorter than that stays on it, at
 * about the sequential executor's price), unless its plan is small, and
 * any worker offers at most once per OFFER_NS of its own running, a
 * piece to each idle worker. A look reads the clock only when a worker
 * is idle; one that reads none comes again before the next node among a
 * task's first CLOCK_EVERY, then CLOCK_EVERY nodes on. A look that finds
 * it too early to offer puts the next one where, at the pace of the
 * nodes so far, that time has come (look_gap): among the first
 * CLOCK_EVERY nodes no further than twice as far as the task has got,
 * after them CLOCK_EVERY to CLOCK_MOST nodes on (a clock
 * read, 25 ns, every 16 nodes of 14 ns cost a 1,001-node run 1.5 us at 2
 * workers, the other worker idle). A node of a microsecond thus fans out
 * at once, a few long ones spread after the first, and a thousand nodes
 * of 20 ns stay on one worker. */
#define FIRST_OFFER_NS 20000
#define SMALL_PLAN 64 /* nodes: a plan this small spreads at once when a
                       * worker is idle, since running it lazily costs a
                       * few microseconds at most */
#define OFFER_NS 2000
#define LONG_NS 100000
#define CLOCK_EVERY 16
#define CLOCK_MOST 64
/* An in-order run where fewer than HAMR__BROAD nodes are ready turns lazy
 * only for nodes of at least SLOW_NODE_NS on average since its last look
 * (or its start); else it looks again NARROW_LOOK nodes on (a 512 x 512
 * wavefront of 12 ns nodes, two nodes ready at every place in its row
 * order, ran 1.04 to 1.5 times slower at 2 workers than at 1 when it
 * turned lazy; 1 us nodes of the same shape run 1.7 to 1.95 times
 * faster: bench/RESULTS.md). A node count, not a time: nodes that turn
 * slow are seen up to NARROW_LOOK of them late (at 12 ns a node, a look
 * each 12 us) */
#define SLOW_NODE_NS 250
#define NARROW_LOOK 1024

typedef struct lazy {
	hamr_run *r;
	const hamr_plan *p;     /* r->plan */
	hamr__worker *w;
	int same_pool;          /* w is a worker of r->pool */
	int local;              /* same_pool, and the plan has no blocking
	                         * node: any ready node may run here */
	uint32_t kept[KEPT];    /* a ring: the oldest at head */
	uint32_t head, n_kept;
	uint32_t dep, dep_n;    /* pending[dep] -= dep_n, deferred */
	int32_t slot;           /* remaining[slot] -= slot_n, deferred */
	uint32_t slot_n;
	int shared;             /* r->shared_counts, as this worker knows it */
	int64_t offer_at;       /* offers nothing before this time */
	int64_t last_look;      /* when offer last read the clock; 0: never */
	int64_t look_ns;        /* when offer last found it too early, and */
	uint32_t look_ran;      /* the task's nodes run then (next_look) */
} lazy;

/* Nodes to run before the next look, after a look before a task's node
 * `done` that found it `left` ns too early to offer, `nodes` nodes having
 * taken `spent` ns (0, 0, 0: a look that read no clock): as many as fill
 * `left` at that pace, CLOCK_EVERY to CLOCK_MOST, CLOCK_EVERY without a
 * pace. Among the first CLOCK_EVERY nodes at most done + 1, and 1 without
 * a pace: a run of tiny nodes looks before nodes 0, 1, 3, 7, 15 and 31 (6
 * clock reads where 17 were, a read about 25 ns: bench/RESULTS.md), a run
 * of long ones before each while it is too early, and a look that reads
 * no clock (no worker idle: two loads) comes before the next node. */
static uint32_t look_gap(int64_t spent, uint32_t nodes, int64_t left, uint32_t done)
{
	int64_t n = nodes && spent > 0 && left > 0 ? left / (spent / nodes + 1) : 0;
	if (done >= CLOCK_EVERY)
		return n < CLOCK_EVERY ? CLOCK_EVERY : n > CLOCK_MOST ? CLOCK_MOST : (uint32_t)n;
	return n < 1 ? 1 : n > (int64_t)done + 1 ? done + 1 : (uint32_t)n;
}

/* Work of the run is about to leave this worker (a push, a queue): from
 * now on every count is shared. The store is ordered before the push
 * that publishes the work (its release), so whoever runs that work sees
 * it, and sees the counts as this worker left them. */
static void share_counts(lazy *z)
{
	if (!z->shared) {
		/* relaxed: the push or submission that follows releases it */
		atomic_store_explicit(&z->r->shared_counts, true, memory_order_relaxed);
		z->shared = 1;
	}
}

/* Takes n from count *c; whether that reached zero. While the run's work
 * has never left this worker, nobody else touches its counts, and a plain
 * load and store do (as the sequential executor's releases); else acq_rel:
 * the release publishes what this worker did before, the decrement that
 * reaches zero acquires everyone's. */
static inline int count_down(const lazy *z, atomic_uint *c, uint32_t n)
{
	if (!z->shared) {
		unsigned left = atomic_load_explicit(c, memory_order_relaxed) - n;
		atomic_store_explicit(c, left, memory_order_relaxed);
		return left == 0;
	}
	return atomic_fetch_sub_explicit(c, n, memory_order_acq_rel) == n;
}

/* Node d is ready and does not run next here: it is kept here if this
 * worker's pool is the one for it, or goes into the queue of the pool it
 * belongs to: the blocking pool for nodes tagged blocking and blocks that
 * run one, the compute pool for the others. Blocking nodes always go
 * through the queue, whose seq_cst wake never misses a parked worker:
 * they gain nothing from locality, and each waiting one should have a
 * worker of its own at once. A task record is written only when a node
 * leaves this worker. */
static void keep_or_send(lazy *z, uint32_t d)
{
	hamr_run *r = z->r;
	int blocking = (r->plan->nodes[d].flags &
	                (HAMR__PNODE_BLOCKING | HAMR__PNODE_BLOCKING_ITEMS)) != 0;
	if (blocking || !z->same_pool) {
		share_counts(z);
		hamr__node_task *t = &r->tasks[d];
		t->r = r;
		t->i = d;
		t->roots_end = 0;
		t->job.fn = node_task;
		t->job.arg = t;
		hamr__pool_submit(blocking ? r->blocking : r->pool, &t->job);
	} else if (z->n_kept < KEPT) {
		z->kept[(z->head + z->n_kept++) % KEPT] = d;
	} else {
		share_counts(z);
		push_task(r, z->w, d, d, 0);
	}
}

/* Node d is ready: it runs next here (*next) when nothing is next yet and
 * it belongs to this worker's pool, else keep_or_send. */
static inline void make_ready(lazy *z, uint32_t d, uint32_t *next)
{
	if (*next == UINT32_MAX &&
	    (z->local || (z->same_pool && !(z->p->nodes[d].flags &
	                                    (HAMR__PNODE_BLOCKING | HAMR__PNODE_BLOCKING_ITEMS)))))
		*next = d;
	else
		keep_or_send(z, d);
}

/* The deferred decrement of pending[dep], if any: the dependent is ready
 * when it reaches zero. acq_rel: the release publishes the results of the
 * nodes counted, the decrement that reaches zero acquires every input's
 * before the dependent reads. */
static void flush_dep(lazy *z)
{
	if (z->dep_n && count_down(z, &z->r->pending[z->dep], z->dep_n))
		keep_or_send(z, z->dep);
	z->dep_n = 0;
}

/* The deferred release of a slot's readers: its value is dropped by the
 * decrement that reaches zero (acq_rel, as hamr__slot_release's). */
static void flush_slot(lazy *z)
{
	if (z->slot_n && count_down(z, &z->r->remaining[z->slot], z->slot_n))
		hamr__value_drop(&z->r->slots[z->slot]);
	z->slot_n = 0;
}

/* Node i finished: its arguments' readers and its dependents' pending
 * inputs count down. The first dependent made ready that can run here is
 * returned, to run next; UINT32_MAX: none. */
static inline uint32_t node_done(lazy *z, uint32_t i)
{
	uint32_t next = UINT32_MAX;
	hamr_run *r = z->r;
	const hamr_plan *p = z->p;
	const hamr__pnode *pn = &p->nodes[i];
	for (uint32_t k = 0; k < pn->n_args; k++) {
		int32_t s = p->args[pn->arg_start + k];
		/* with map blocks: a block's outer reads are its unit's */
		if (s < 0 || p->slot_pinned[s] || (p->arg_direct && !p->arg_direct[pn->arg_start + k]))
			continue;
		if (p->consumers[s] == 1) {
			hamr__value_drop(&r->slots[s]);
		} else if (p->consumers[s] <= FEW_INPUTS) {
			if (count_down(z, &r->remaining[s], 1))
				hamr__value_drop(&r->slots[s]);
		} else if (z->slot_n && z->slot == s) {
			z->slot_n++;
		} else {
			flush_slot(z);
			z->slot = s;
			z->slot_n = 1;
		}
	}
	for (uint32_t k = 0; k < pn->n_dependents; k++) {
		uint32_t d = p->dependents[pn->dep_start + k];
		/* a dependent waiting for this node alone is ready; one with
		 * few inputs counts at once, since waiting would hold it back
		 * for no saving (acq_rel, as in flush_dep) */
		if (p->pending_init[d] == 1) {
			make_ready(z, d, &next);
		} else if (p->pending_init[d] <= FEW_INPUTS) {
			if (count_down(z, &r->pending[d], 1))
				make_ready(z, d, &next);
		} else if (z->dep_n && z->dep == d) {
			z->dep_n++;
		} else {
			flush_dep(z);
			z->dep = d;
			z->dep_n = 1;
		}
	}
	return next;
}

/* Offers work to the idle workers, a piece for each: the oldest nodes
 * kept, then equal parts of what is left of a range of roots [*lo, *hi),
 * this worker keeping the first part unless it holds a node to run
 * (`holding`). Returns the nodes to run before the next look: more than
 * CLOCK_EVERY when a worker is idle but it is too early to offer
 * (OFFER_NS since the last offer, FIRST_OFFER_NS since the run's start),
 * `ran` being the nodes the task has run. */
static uint32_t offer(lazy *z, uint32_t *lo, uint32_t *hi, int holding, uint32_t ran)
{
	if (!hamr__worker_should_offer(z->w))
		return look_gap(0, 0, 0, ran);
	int64_t now = hamr__now_ns();
	if (now < z->offer_at) {
		uint32_t gap = z->look_ns ? look_gap(now - z->look_ns, ran - z->look_ran,
		                                     z->offer_at - now, ran) :
		                            look_gap(0, 0, 0, ran);
		z->look_ns = now;
		z->look_ran = ran;
		return gap;
	}
	z->look_ns = 0;
	z->offer_at = now + OFFER_NS;
	/* long nodes (a look LONG_NS after the last one) gain nothing from
	 * being kept: all kept ones go on the deque, where idle workers
	 * take them as they come free */
	int long_nodes = z->last_look && now - z->last_look >= LONG_NS;
	z->last_look = now;
	hamr_run *r = z->r;
	/* a gathered decrement may be all a dependent waits for: made
	 * ready, it can go to an idle worker now */
	flush_dep(z);
	uint32_t idle = (uint32_t)hamr__worker_idle_others(z->w);
	uint32_t give = long_nodes || idle > z->n_kept ? z->n_kept : idle;
	for (uint32_t k = 0; k < give; k++) {
		uint32_t d = z->kept[z->head];
		z->head = (z->head + 1) % KEPT;
		z->n_kept--;
		share_counts(z);
		push_task(r, z->w, d, d, 0);
	}
	idle = idle > give ? idle - give : 0;
	uint32_t len = *hi - *lo, keep = holding ? 0 : 1;
	if (idle && len > keep) {
		/* parts of the range: `keep` of them stays here */
		uint32_t given = idle < len - keep ? idle : len - keep, parts = given + keep;
		share_counts(z);
		for (uint32_t k = parts; k-- > keep;) {
			uint32_t a = *lo + (uint32_t)((uint64_t)len * k / parts);
			uint32_t b = *lo + (uint32_t)((uint64_t)len * (k + 1) / parts);
			push_task(r, z->w, r->plan->roots[a], a, b);
		}
		*hi = *lo + (uint32_t)((uint64_t)len * keep / parts);
	}
	return look_gap(0, 0, 0, ran);
}

/* What runs next when no dependent of the node just run can: the newest
 * kept node, the next root of the range; once none is left, the deferred
 * decrements, which may make one ready. UINT32_MAX: nothing is left. */
static uint32_t take_next(lazy *z, uint32_t *lo, uint32_t hi)
{
	for (;;) {
		if (z->n_kept)
			return z->kept[(z->head + --z->n_kept) % KEPT];
		if (*lo < hi) {
			uint32_t next = UINT32_MAX;
			make_ready(z, z->r->plan->roots[(*lo)++], &next);
			if (next != UINT32_MAX)
				return next;
			continue;
		}
		if (!z->dep_n && !z->slot_n)
			return UINT32_MAX;
		flush_slot(z);
		flush_dep(z);
	}
}

/* The last step of a run: after finish, r may be freed at once. */
static void end_run(hamr_run *r)
{
	hamr_pool *pool = r->pool;
	hamr__run_finish(r, r->err.code);
	hamr__pool_run_end(pool);
}

/* Runs what z's worker has: node i first (UINT32_MAX: none), then what
 * it makes ready and keeps, the roots of the range [lo, hi), until
 * nothing is left here. Returns the number of nodes it ran. */
static uint32_t run_lazy(lazy *z, uint32_t lo, uint32_t hi, uint32_t i)
{
	hamr_run *r = z->r;
	const hamr_plan *p = z->p;
	const int units = p->n_scopes > 1, keep_going = r->keep_going;
	uint32_t ran = 0, until_clock = 1;
	for (;;) {
		if (i == UINT32_MAX && (i = take_next(z, &lo, hi)) == UINT32_MAX)
			break;
		/* at gaps that offer (look_gap) says: a few long nodes spread
		 * at once, a long run of tiny ones looks at the clock now and
		 * then */
		if (__builtin_expect(!--until_clock, 0))
			until_clock = offer(z, &lo, &hi, 1, ran);
		/* relaxed: a late view of stop or cancel runs one more node,
		 * which fail-fast allows (running nodes complete) */
		if (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
			int rc;
			if (atomic_load_explicit(&r->cancel, memory_order_relaxed)) {
				rc = hamr__run_fail(r, HAMR_ECANCELED, NULL, NULL);
			} else if (units) {
				/* a unit: a node, or a block and its items */
				hamr__frame f = {r->slots, r->remaining, 1};
				rc = hamr__run_unit(r, i, &f);
			} else {
				rc = hamr__run_node(r, i);
			}
			if (rc < 0 && !keep_going)
				hamr__run_halt(r);
		}
		uint32_t next = node_done(z, i);
		ran++;
		i = next;
	}
	return ran;
}

/* One count for every node a task ran (a shared line touched once, not
 * once per node). acq_rel: the last to finish sees every other node's
 * work before it ends the run. */
static void count_ran(hamr_run *r, uint32_t ran)
{
	if (ran && atomic_fetch_sub_explicit(&r->left, ran, memory_order_acq_rel) == ran)
		end_run(r);
}

static void node_task(void *arg)
{
	hamr__node_task *nt = arg;
	hamr_run *r = nt->r;
	/* relaxed: a task that came here through a push or a queue was
	 * published after the flag was set (share_counts) */
	hamr__worker *w = hamr__worker_self();
	lazy z = {.r = r, .p = r->plan, .w = w, .same_pool = hamr__worker_pool(w) == r->pool,
	          .shared = atomic_load_explicit(&r->shared_counts, memory_order_relaxed)};
	z.local = z.same_pool && !z.p->n_blocking;
	/* the run's first worker waits before it offers anything; a worker
	 * given work by another may offer at once */
	if (!z.shared)
		z.offer_at = hamr__now_ns() + FIRST_OFFER_NS;
	/* this task may run inside an item of a block on this worker
	 * (stolen while it waits); it belongs to no item itself */
	int64_t item = hamr__current_item;
	hamr__current_item = -1;
	uint32_t ran = nt->roots_end ? run_lazy(&z, nt->i, nt->roots_end, UINT32_MAX) :
	                               run_lazy(&z, 0, 0, nt->i);
	hamr__current_item = item;
	count_ran(r, ran);
}

/* ---- in order ----------------------------------------------------------
 * A run of a plain plan (no map blocks, no blocking nodes) starts as the
 * sequential executor does: node after node in the plan's order on the
 * first worker, each argument released by a plain count, no count of
 * pending inputs and no ready set. Now and then (look_gap) it looks for
 * an idle worker; once one is idle and FIRST_OFFER_NS have passed, it
 * turns lazy at node t: the pending counts of the nodes from t on are
 * set, less the inputs that nodes before t gave them (what each would
 * have counted as it finished), which makes ready the nodes they alone
 * waited for; the roots from t on become the range. It turns only where
 * another node than t is ready (the plan's wide record): where t is the
 * only one, lazy running would have nothing to give either, and only
 * its costs, so it looks again where the plan next widens, or, in a
 * line to the end, never. Where fewer than HAMR__BROAD are ready (the
 * broad record), it turns only for slow nodes (SLOW_NODE_NS): fast ones
 * would pass between the workers one by one. So a graph of tiny nodes
 * costs what the sequential executor costs while one worker is all there
 * is, and spreads once another is free and there is something to spread
 * (order_look). */
uint32_t hamr__threads_switch_at = UINT32_MAX;

static int starts_in_order(const hamr_plan *p)
{
	return p->n_scopes == 1 && !p->n_blocking;
}

/* Where in_order stands with its looks for idle workers. */
typedef struct order_look {
	const hamr_plan *p;
	hamr__worker *w;
	int64_t offer_at;   /* FIRST_OFFER_NS after the run's start */
	uint32_t switch_at; /* hamr__threads_switch_at */
	int small;          /* the plan has SMALL_PLAN nodes at most */
	int64_t broad;      /* the first broad place from the last search on
	                     * (UINT32_MAX: none); -1: not searched yet */
	/* where the pace of the nodes is measured from: the run's start, then
	 * each look that found the plan narrow and the nodes fast, so that
	 * nodes that turn slow after a long fast stretch show at the next
	 * look (an average since the start would hide them) */
	int64_t paced_at;
	uint32_t paced_t;
} order_look;

/* in_order's look before node t: 0 to turn lazy there, else the nodes to
 * run before the next look (look_gap, as in offer). A first node that
 * runs long lets the others spread after it; a small plan spreads at the
 * first look that finds a worker idle where it is wide (it reads no
 * clock, so it looks before each node). */
static uint32_t order_look_at(order_look *o, uint32_t t)
{
	const hamr_plan *p = o->p;
	if (o->switch_at != UINT32_MAX)
		return t == o->switch_at ? 0 : 1;
	if (!hamr__worker_should_offer(o->w))
		return o->small ? 1 : look_gap(0, 0, 0, t);
	int64_t now = o->small ? 0 : hamr__now_ns();
	if (!o->small && now < o->offer_at)
		return look_gap(now - (o->offer_at - FIRST_OFFER_NS), t, o->offer_at - now, t);
	/* the time has come: turn lazy where another node than t is ready
	 * and either HAMR__BROAD are or the nodes since the last such look
	 * ran slow; else look again at the next wide place (none: the rest
	 * of the plan is a line, nothing to give) */
	uint32_t wide = hamr__plan_next_wide(p, t);
	if (wide != t)
		return wide == UINT32_MAX ? p->n_nodes - t : wide - t;
	/* the next broad place, found once for the places before it (a scan
	 * to the end where there is none) */
	if (o->broad < (int64_t)t)
		o->broad = hamr__plan_next_broad(p, t);
	if (o->small || o->broad == (int64_t)t ||
	    now - o->paced_at >= (int64_t)(t - o->paced_t) * SLOW_NODE_NS)
		return 0;
	/* a few ready (fewer than HAMR__BROAD) of nodes that run fast: lazily
	 * they would pass between the workers node by node, each pass a
	 * cache line's trip; look again where more are ready, or in
	 * NARROW_LOOK nodes, in case the nodes have turned slow */
	o->paced_at = now; /* the pace from here on */
	o->paced_t = t;
	return o->broad - (int64_t)t < NARROW_LOOK ? (uint32_t)(o->broad - (int64_t)t) : NARROW_LOOK;
}

static uint32_t in_order(hamr_run *r, hamr__worker *w)
{
	const hamr_plan *p = r->plan;
	int64_t start = hamr__now_ns();
	order_look o = {.p = p, .w = w, .offer_at = start + FIRST_OFFER_NS,
	                .switch_at = hamr__threads_switch_at, .small = p->n_nodes <= SMALL_PLAN,
	                .broad = -1, .paced_at = start};
	uint32_t t = 0, until_clock = 1;
	for (; t < p->n_nodes; t++) {
		if (__builtin_expect(!--until_clock, 0) && !(until_clock = order_look_at(&o, t)))
			break;
		/* relaxed: as in run_lazy */
		if (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
			int rc = atomic_load_explicit(&r->cancel, memory_order_relaxed) ?
			                 hamr__run_fail(r, HAMR_ECANCELED, NULL, NULL) :
			                 hamr__run_node(r, t);
			if (rc < 0 && !r->keep_going)
				hamr__run_halt(r);
		}
		/* nothing of the run has left this worker */
		hamr__release_args_alone(p, r, t);
	}
	if (t == p->n_nodes)
		return t;
	/* lazy from node t on */
	lazy z = {.r = r, .p = p, .w = w, .same_pool = 1, .local = !p->n_blocking};
	/* a copy in bulk: nothing of the run has left this worker, so no
	 * other thread reads these counts yet (an atomic_uint is an unsigned
	 * int's bytes on every compiler hamr builds with) */
	_Static_assert(sizeof(atomic_uint) == sizeof(uint32_t), "pending counts are 32 bits");
	memcpy((void *)&r->pending[t], &p->pending_init[t], (p->n_nodes - t) * sizeof(uint32_t));
	uint32_t next = UINT32_MAX;
	for (uint32_t j = 0; j < t; j++) {
		const hamr__pnode *pn = &p->nodes[j];
		for (uint32_t k = 0; k < pn->n_dependents; k++) {
			uint32_t d = p->dependents[pn->dep_start + k];
			if (d >= t && count_down(&z, &r->pending[d], 1))
				make_ready(&z, d, &next);
		}
	}
	uint32_t lo = 0;
	while (lo < p->n_roots && p->roots[lo] < t)
		lo++;
	return t + run_lazy(&z, lo, p->n_roots, next);
}

/* The run's first job: the roots as one range, run here and split lazily
 * as workers turn idle. `left` counts this job too, so the run cannot end
 * (and be freed) before it returns. */
static void start_roots(void *arg)
{
	hamr_run *r = arg;
	const hamr_plan *p = r->plan;
	hamr__worker *w = hamr__worker_self();
	if (starts_in_order(p)) { /* on a worker of r->pool: it was submitted there */
		int64_t item = hamr__current_item;
		hamr__current_item = -1;
		count_ran(r, in_order(r, w));
		hamr__current_item = item;
	} else if (p->n_roots) {
		hamr__node_task *t = &r->tasks[p->roots[0]];
		t->r = r;
		t->i = 0;
		t->roots_end = p->n_roots;
		node_task(t);
	}
	if (atomic_fetch_sub_explicit(&r->left, 1, memory_order_acq_rel) == 1)
		end_run(r);
}

int hamr__threads_prepare(hamr_run *r)
{
	const hamr_plan *p = r->plan;
	if (p->n_blocking && !(r->blocking = hamr__pool_blocking(r->pool)))
		return HAMR_ENOMEM; /* the message says why */
	/* a plain plan's pending counts are set when it turns lazy */
	if (!starts_in_order(p))
		for (uint32_t i = 0; i < p->n_nodes; i++)
			atomic_init(&r->pending[i], p->pending_init[i]);
	atomic_init(&r->shared_counts, false);
	return 0;
}

void hamr__threads_start(hamr_run *r)
{
	r->job.fn = start_roots;
	r->job.arg = r;
	hamr__pool_run_begin(r->pool);
	hamr__pool_submit(r->pool, &r->job);
}

void hamr__threads_start_here(hamr_run *r)
{
	hamr_pool *p = r->pool;
	/* this thread's count in flight until it gives the worker back, so
	 * that a destroy of p waits for it (the run has its own) */
	hamr__pool_run_begin(p);
	hamr__worker *w = hamr__pool_claim(p);
	if (!w) {
		hamr__pool_run_end(p);
		hamr__threads_start(r);
		return;
	}
	/* a node that reaches a cancellation point must not end this thread
	 * while it holds the worker's place: the pool would wait for it
	 * forever */
	int cancel_state;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
	hamr__pool_run_begin(p);
	start_roots(r);
	/* on as the worker while the run goes on and there is work to take
	 * (a worker would be); what is left then runs on the workers that
	 * took it, and the wait that follows sleeps, as it does for a run
	 * handed over */
	hamr__worker_help_briefly(w, &r->state, RUN_DONE);
	hamr__pool_release(w);
	pthread_setcancelstate(cancel_state, NULL);
	hamr__pool_run_end(p);
}
