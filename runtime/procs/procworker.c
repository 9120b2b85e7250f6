// SPDX-License-Identifier: MIT
/* The worker processes' side of the process executor: the loop each
 * worker runs, and running a task.
 *
 * A worker waits on its task ring (spinning for 50 µs, then sleeping on a
 * futex), runs each task's program for its item, and posts a completion;
 * it wakes a sleeping program when its queue has run down to half.
 * It resolves each program once: the objects its nodes live in (loading a
 * module it lacks), the user types it names (registered here from their
 * descriptors), and the outer values (decoded once when they are
 * encoded). It keeps the last few programs.
 *
 * Its values live where they are made: on its own heap, or in its arena
 * chunks (results from hamr_ret_alloc, copies of what it hands back). It
 * never counts its own arena values: they die with the task, and a chunk
 * comes back whole once the worker leaves it and the program has read
 * every completion that names it (the deferred list below). */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/pool/env_internal.h"
#include "runtime/procs/procwire_internal.h"
#include "runtime/core/run_internal.h"
#include "serialize/error_internal.h"
#include "serialize/value_internal.h"

/* A worker's state: its arena cursor, and chunks it left that completions
 * name, waiting for the program to acknowledge them. */
typedef struct deferred {
	uint32_t chunk;
	uint64_t need; /* done_tail at least this */
} deferred;

static struct {
	hamr_procpool *p;
	int w;
	hamr__wctl *c;
	hamr__arena_cursor cur;
	deferred *def;
	size_t n_def, cap_def;
	uint64_t copied; /* by the task running */
	int exit_after;  /* out of memory for its own records */
	uint64_t peak;   /* tasks queued at most since the bell last rang */
} me;

static void defer_chunk(void *ctx, uint32_t chunk)
{
	(void)ctx;
	if (me.n_def == me.cap_def) {
		size_t cap = me.cap_def ? 2 * me.cap_def : 64;
		deferred *d = realloc(me.def, cap * sizeof *d);
		if (!d) {
			/* no room to remember it: the chunk stays held, and the
			 * worker exits after this task, so that the program
			 * reclaims its space once it has read the completion */
			me.exit_after = 1;
			return;
		}
		me.def = d;
		me.cap_def = cap;
	}
	/* the completion of the task running, or of the next one */
	uint64_t need = atomic_load_explicit(&me.c->done_head, memory_order_relaxed) + 1;
	me.def[me.n_def++] = (deferred){chunk, need};
}

static void undefer(void)
{
	/* acquire: the program read the completions it acknowledged */
	uint64_t tail = atomic_load_explicit(&me.c->done_tail, memory_order_acquire);
	size_t k = 0;
	for (size_t i = 0; i < me.n_def; i++) {
		if (me.def[i].need <= tail)
			hamr__arena_unbias(&me.p->arena, me.def[i].chunk);
		else
			me.def[k++] = me.def[i];
	}
	me.n_def = k;
}

/* What follows a worker's arena allocation at off (0: it failed): a
 * failure marks the task out of memory; a span of its own is left at
 * once, like a chunk the cursor leaves. */
static uint64_t worker_took(uint64_t off)
{
	if (!off) {
		/* relaxed: read after the completion or the death */
		atomic_store_explicit(&me.c->oom, 1, memory_order_relaxed);
		return 0;
	}
	uint32_t c = hamr__arena_chunk_of(&me.p->arena, off);
	if (c != me.cur.chunk)
		defer_chunk(NULL, c);
	return off;
}

static uint64_t worker_alloc(void *ctx, size_t n)
{
	(void)ctx;
	return worker_took(hamr__arena_alloc(&me.p->arena, &me.cur, n));
}

static int worker_value(void *ctx, hamr_type t, hamr_type elem, size_t n, void **data,
                        hamr_value *out)
{
	(void)ctx;
	int rc = hamr__arena_value(&me.p->arena, &me.cur, t, elem, n, data, out);
	worker_took(rc ? 0 : (uint64_t)((char *)out->u.box - me.p->arena.base));
	return rc;
}

/* hamr_ret_alloc in a worker process (hamr__ret_alloc_hook): the result
 * in the arena, which the program reads in place. */
static void *ret_alloc(hamr_call *c, size_t n)
{
	hamr_value v;
	void *data = NULL;
	if (worker_value(NULL, HAMR_BYTES, NULL, n, &data, &v)) {
		hamr_fail(c, "the arena is full: cannot allocate a %zu-byte result (HAMR_ARENA_SIZE is %zu bytes)",
		          n, (size_t)me.p->arena.h->n_chunks * HAMR__CHUNK);
		return NULL;
	}
	if (hamr_ret_value(c, &v))
		return NULL;
	return data;
}

static void *resolve(const hamr__wprog *pg, const hamr__wcode *pc)
{
	if (pc->where == HAMR__WC_NULL)
		return NULL;
	if (pc->where == HAMR__WC_ADDRESS)
		return (void *)(uintptr_t)pc->off;
	const char *name = (const char *)pg + pg->strings + pc->name;
	/* the object by name: loaded already (the program had it when the
	 * fork server started, or the server loaded it since), else now */
	void *h = !name[0] ? dlopen(NULL, RTLD_NOW) :
	          dlopen(name, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE | RTLD_NOLOAD);
	if (!h && name[0])
		h = dlopen(name, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	struct link_map *lm = NULL;
	if (!h || dlinfo(h, RTLD_DI_LINKMAP, &lm) || !lm)
		return NULL;
	return (void *)(lm->l_addr + pc->off);
}

/* A program as a worker keeps it. */
typedef struct rprog {
	uint64_t off, gen;
	hamr__pnode *pn;
	int32_t *args;
	hamr_value *outer;  /* per local: the outer values, decoded */
	uint8_t *decoded;   /* per local: outer[k] is the worker's own */
	uint8_t *kinds;     /* slot kinds for the call's run */
	hamr_plan plan;
	hamr_run run;
	char *err;          /* why it cannot run, or NULL */
} rprog;

#define RCACHE 8
static rprog *rcache[RCACHE];
static unsigned rnext;

static void rprog_free(rprog *rp)
{
	if (!rp)
		return;
	for (uint32_t k = 0; rp->outer && k < rp->plan.n_slots; k++)
		if (rp->decoded[k])
			hamr_value_clear(&rp->outer[k]);
	free(rp->pn);
	free(rp->args);
	free(rp->outer);
	free(rp->decoded);
	free(rp->kinds);
	free(rp->err);
	free(rp);
}

/* An input off the wire: a string, bytes value or packed list is a view
 * into the arena; an encoded one is decoded into a value of the worker's own (*own). */
static int from_wval_worker(const hamr__wval *w, hamr_value *out, int *own)
{
	int taken; /* never, in a worker */
	*own = w->kind == HAMR__WV_ENC;
	if (*own)
		me.copied += w->b;
	return hamr__wire_get(&me.p->arena, w, out, &taken);
}

static hamr_type type_of(int32_t t, hamr_type *users)
{
	if (t == HAMR__WT_ANY)
		return NULL;
	if (t < HAMR__WT_USER)
		return hamr__wire_builtin(t);
	return users[t - HAMR__WT_USER];
}

static rprog *rprog_make(uint64_t off)
{
	const hamr__wprog *pg = (const hamr__wprog *)(me.p->arena.base + off);
	rprog *rp = calloc(1, sizeof *rp);
	if (!rp)
		return NULL;
	rp->off = off;
	rp->gen = pg->gen;
	uint32_t nl = pg->n_locals ? pg->n_locals : 1;
	rp->pn = calloc(pg->n_nodes ? pg->n_nodes : 1, sizeof *rp->pn);
	const int32_t *args = (const int32_t *)((const char *)pg + pg->args);
	const hamr__wnode *nodes = (const hamr__wnode *)((const char *)pg + pg->nodes);
	uint32_t n_args = 0;
	for (uint32_t k = 0; k < pg->n_nodes; k++)
		n_args += nodes[k].n_args;
	rp->args = malloc((n_args ? n_args : 1) * sizeof *rp->args);
	rp->outer = calloc(nl, sizeof *rp->outer);
	rp->decoded = calloc(nl, 1);
	rp->kinds = calloc(nl, 1);
	if (!rp->pn || !rp->args || !rp->outer || !rp->decoded || !rp->kinds) {
		rprog_free(rp);
		return NULL;
	}
	memcpy(rp->args, args, n_args * sizeof *rp->args);
	rp->plan.n_slots = nl;
	rp->plan.slot_kind = rp->kinds;
	rp->plan.nodes = rp->pn;
	rp->plan.args = rp->args;
	rp->run.plan = &rp->plan;
	const char *strs = (const char *)pg + pg->strings;
	/* the user types it names, registered here as the program has them */
	const hamr__wtype *types = (const hamr__wtype *)((const char *)pg + pg->types);
	hamr_type users[HAMR__WT_MAX_USER] = {0};
	for (uint32_t t = 0; t < pg->n_types && t < HAMR__WT_MAX_USER && !rp->err; t++) {
		const char *tn = strs + types[t].name;
		hamr_type found = hamr_type_find(tn);
		if (!found) {
			hamr_type_desc *d = calloc(1, sizeof *d);
			char *name = strdup(tn);
			if (!d || !name) {
				free(d);
				free(name);
				break;
			}
			d->name = name;
			d->kind = HAMR_KIND_USER;
			d->size = types[t].size;
			d->encode = (size_t (*)(const void *, void *, size_t))resolve(pg, &types[t].enc);
			d->decode = (int (*)(const void *, size_t, void **))resolve(pg, &types[t].dec);
			d->free = (void (*)(void *))resolve(pg, &types[t].free_);
			d->equal = (bool (*)(const void *, const void *))resolve(pg, &types[t].eq);
			if (hamr_type_register(d, &found))
				found = NULL; /* d stays: a registered descriptor's names must live */
		}
		users[t] = found;
	}
	for (uint32_t k = 0; k < pg->n_nodes; k++) {
		const hamr__wnode *n = &nodes[k];
		hamr__pnode *q = &rp->pn[k];
		q->name = strs + n->name;
		q->fn = (hamr_fn)resolve(pg, &n->fn);
		q->userdata = resolve(pg, &n->ud);
		q->type = type_of(n->type, users);
		q->kind = HAMR_NODE_PLAIN;
		q->arg_start = n->arg_start;
		q->n_args = n->n_args;
		if (!q->fn && !rp->err &&
		    asprintf(&rp->err, "the worker cannot find the node's function (in \"%s\")",
		             n->fn.where == HAMR__WC_OBJECT ? strs + n->fn.name : "?") < 0)
			rp->err = NULL;
	}
	const hamr__wouter *outer = (const hamr__wouter *)((const char *)pg + pg->outer);
	for (uint32_t k = 0; k < pg->n_outer; k++) {
		int own;
		uint32_t l = outer[k].local;
		if (from_wval_worker(&outer[k].v, &rp->outer[l], &own) && !rp->err)
			rp->err = strdup("the worker cannot decode an input value");
		rp->decoded[l] = (uint8_t)own;
	}
	return rp;
}

static rprog *rprog_get(uint64_t off)
{
	const hamr__wprog *pg = (const hamr__wprog *)(me.p->arena.base + off);
	for (int k = 0; k < RCACHE; k++)
		if (rcache[k] && rcache[k]->off == off && rcache[k]->gen == pg->gen)
			return rcache[k];
	rprog *rp = rprog_make(off);
	if (!rp)
		return NULL;
	unsigned k = rnext++ % RCACHE;
	rprog_free(rcache[k]);
	rcache[k] = rp;
	return rp;
}

/* A message into the arena for the completion; 0 when there is no room. */
static uint64_t put_msg(const char *msg)
{
	size_t n = strlen(msg) + 1;
	uint64_t off = worker_alloc(NULL, n);
	if (off)
		memcpy(me.p->arena.base + off, msg, n);
	return off;
}

static int fail_done(hamr__proc_done *d, int rc, int node, const char *msg)
{
	d->rc = rc;
	d->node = node;
	d->msg = msg ? put_msg(msg) : 0;
	return rc;
}


/* What a task hands back, put on the wire into completion d: 0, or the
 * failure, in d. */
static int put_outputs(const hamr__wprog *pg, const hamr_value *slots, hamr__proc_done *d)
{
	const uint32_t *outs = (const uint32_t *)((const char *)pg + pg->outs);
	hamr__wire_sink sink = {&me.p->arena, worker_alloc, worker_value, NULL, 0, 0};
	for (uint32_t k = 0; k < pg->n_out; k++) {
		hamr_value copy; /* a view in the arena: nothing to release */
		uint64_t raw;
		const hamr_value *v = &slots[outs[k]];
		int rc = hamr__wire_put(&sink, v, &d->out[k], &copy, &raw);
		if (rc == HAMR_ENOMEM) {
			/* relaxed: read after the completion or the death */
			atomic_store_explicit(&me.c->oom, 1, memory_order_relaxed);
			return fail_done(d, rc, -1,
			                 "the arena is full: no room for the task's results (HAMR_ARENA_SIZE)");
		}
		if (rc) {
			char m[256];
			snprintf(m, sizeof m, "its result of type %s cannot cross to the program: the type has no codec (encode and decode)",
			         hamr_type_name(v->type));
			return fail_done(d, rc, -1, m);
		}
	}
	me.copied += sink.copied;
	d->n_out = pg->n_out;
	return 0;
}

/* Runs one task's program into completion d. */
static void run_task(const hamr__proc_task *t, hamr__proc_done *d)
{
	memset(d, 0, offsetof(hamr__proc_done, t));
	d->seq = t->seq;
	d->node = -1;
	me.copied = 0;
	rprog *rp = rprog_get(t->prog);
	const hamr__wprog *pg = (const hamr__wprog *)(me.p->arena.base + t->prog);
	if (!rp || rp->err) {
		fail_done(d, rp ? HAMR_EMODULE : HAMR_ENOMEM, 0,
		          rp ? rp->err : "out of memory in the worker");
		return;
	}
	uint32_t nl = pg->n_locals ? pg->n_locals : 1;
	hamr_value local[64], *slots = nl <= 64 ? local : calloc(nl, sizeof *slots);
	uint8_t own_in = 0;
	if (!slots) {
		fail_done(d, HAMR_ENOMEM, 0, "out of memory in the worker");
		return;
	}
	memcpy(slots, rp->outer, nl * sizeof *slots);
	int own;
	if (pg->item_local >= 0) {
		if (from_wval_worker(&t->in, &slots[pg->item_local], &own)) {
			fail_done(d, HAMR_ECODEC, 0, "the worker cannot decode the item");
			goto out;
		}
		own_in = (uint8_t)own;
	}
	hamr__current_item = t->item;
	hamr__proc_attempt = (int)t->attempt;
	for (uint32_t k = 0; k < pg->n_nodes; k++) {
		const hamr__pnode *pn = &rp->pn[k];
		const hamr__wnode *src = (const hamr__wnode *)((const char *)pg + pg->nodes) + k;
		int64_t t0 = hamr__now_ns();
		char *m;
		int oom;
		int rc = hamr__backend_serve_node(&rp->run, pn, rp->args + pn->arg_start, slots,
		                                  &slots[src->result], &m, &oom);
		int64_t t1 = hamr__now_ns();
		if (k < HAMR__MAX_TIMED) {
			d->t[2 * k] = t0;
			d->t[2 * k + 1] = t1;
			d->n_timed = k + 1;
		}
		if (rc) {
			char *capped = NULL;
			if (oom && me.p->child_memory > 0 &&
			    asprintf(&capped, "%s (out of memory: HAMR_CHILD_MEMORY caps the worker at %ld bytes more than it started with)",
			             m ? m : "failed", me.p->child_memory) >= 0) {
				free(m);
				m = capped;
			}
			fail_done(d, rc, (int)k, m);
			free(m);
			goto out;
		}
	}
	put_outputs(pg, slots, d);
out:
	d->copied = me.copied;
	/* the task's values die here: the worker's own ones are freed, views
	 * into the arena cost nothing, and the outer values stay with the
	 * program's record for its next task */
	for (uint32_t k = 0; k < nl; k++) {
		if (rp->outer[k].type)
			continue;
		if ((int32_t)k == pg->item_local && !own_in)
			continue;
		hamr_value_clear(&slots[k]);
	}
	if (slots != local)
		free(slots);
	hamr__current_item = -1;
}

_Noreturn void hamr__procworker_main(hamr_procpool *p, int w)
{
	hamr__arena_worker = 1;
	hamr__ret_alloc_hook = ret_alloc;
	p->arena.self = (uint32_t)w + 1;
	me.p = p;
	me.w = w;
	me.c = hamr__wctl_of(p, w);
	me.cur = (hamr__arena_cursor){(uint32_t)w + 1, HAMR__NO_CHUNK, defer_chunk, NULL};
	hamr__wctl *c = me.c;
	for (;;) {
		/* relaxed: a request looked at every round; nothing hangs on it */
		if (atomic_load_explicit(&p->shm->stop, memory_order_relaxed))
			_exit(0);
		if (me.n_def)
			undefer();
		/* relaxed: the worker alone writes its tail */
		uint64_t tail = atomic_load_explicit(&c->task_tail, memory_order_relaxed);
		/* acquire: the task's record, written before the head moved */
		uint64_t head = atomic_load_explicit(&c->task_head, memory_order_acquire);
		if (tail < head) {
			const hamr__proc_task *t = &c->tasks[tail % HAMR__RING];
			/* relaxed: the program reads oom and the start after an
			 * acquire of cur_seq, a completion or the death record */
			atomic_store_explicit(&c->oom, 0, memory_order_relaxed);
			atomic_store_explicit(&c->cur_start, hamr__now_ns(), memory_order_relaxed);
			/* release: the start time with the task it is of (the
			 * program's timeout check acquires cur_seq) */
			atomic_store_explicit(&c->cur_seq, t->seq, memory_order_release);
			/* relaxed: the worker alone writes done_head. Acquire of
			 * done_tail: the program has read the completion whose
			 * slot this one reuses */
			uint64_t dh = atomic_load_explicit(&c->done_head, memory_order_relaxed);
			while (dh - atomic_load_explicit(&c->done_tail, memory_order_acquire) >= HAMR__RING) {
				struct timespec us = {0, 20000};
				nanosleep(&us, NULL);
			}
			run_task(t, &c->done[dh % HAMR__RING]);
			/* release: the completion before its index */
			atomic_store_explicit(&c->done_head, dh + 1, memory_order_release);
			/* relaxed: the tail is the worker's own, and no task is
			 * running any more once its completion is posted (the
			 * program reads cur_seq only past the completions) */
			atomic_store_explicit(&c->task_tail, tail + 1, memory_order_relaxed);
			atomic_store_explicit(&c->cur_seq, 0, memory_order_relaxed);
			/* a sleeping program is woken only when this worker's queue
			 * has run down to half of what it held (or to one task):
			 * then it refills the queue and reads the completions so
			 * far together. Waking it per completion costs a wake-up
			 * on another core each time, in this worker's path
			 * (acquire: as for any look at the head) */
			uint64_t queued = atomic_load_explicit(&c->task_head, memory_order_acquire) - (tail + 1);
			if (queued > me.peak)
				me.peak = queued;
			if (queued <= 1 || 2 * queued <= me.peak) {
				hamr__bell_ring(p->shm);
				me.peak = queued;
			}
			if (me.exit_after)
				_exit(3); /* a replacement starts afresh */
			continue;
		}
		/* nothing queued: spin a little, then sleep until a task comes */
		int64_t until = hamr__now_ns() + 50000;
		int got = 0;
		while (!got && hamr__now_ns() < until) {
			for (int k = 0; k < 64; k++)
				hamr__cpu_relax();
			/* acquire: as above, the tasks before the head */
			got = atomic_load_explicit(&c->task_head, memory_order_acquire) > tail;
		}
		if (got)
			continue;
		/* seq_cst: the flag before the look at the head, against the
		 * program's head before its look at the flag (Dekker): one of
		 * the two sees the other. A wake with chunks still deferred
		 * comes within a millisecond, to give them back */
		atomic_store_explicit(&c->wsleep, 1, memory_order_seq_cst);
		if (atomic_load_explicit(&c->task_head, memory_order_seq_cst) == tail &&
		    !atomic_load_explicit(&p->shm->stop, memory_order_relaxed))
			hamr__futex_wait(&c->wsleep, 1, me.n_def ? 1000000 : 200000000);
		/* relaxed: a hint to the program, which wakes it only once */
		atomic_store_explicit(&c->wsleep, 0, memory_order_relaxed);
	}
}

