// SPDX-License-Identifier: MIT
/* The program's side of the process executor: writing programs into the
 * arena, and the jobs that drive worker processes.
 *
 * A job runs one program (runtime/procwire_internal.h) for many tasks. It
 * takes workers from the pool's idle set, so that each ring has one
 * producer and one consumer, writes tasks into their rings a few ahead of
 * each worker (more once tasks prove short), reads completions, and
 * watches for deaths and timeouts. A dead worker's completions are read
 * first; its running task (the one its control block names) then fails,
 * or goes back to the queue when it has retries left, and the tasks
 * queued behind it go back unattempted. The worker's arena space is
 * reclaimed and a replacement is forked in its slot. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/pool/env_internal.h"
#include "runtime/procs/procexec_internal.h"
#include "runtime/procs/procs_internal.h"
#include "runtime/procs/procwire_internal.h"
#include "runtime/core/run_internal.h"
#include "serialize/error_internal.h"
#include "serialize/value_internal.h"

/* ---- the program's side: building a program ---------------------------------- */

/* A growing buffer: the program's image, and its strings. */
typedef struct builder {
	char *buf;
	size_t len, cap;
	int failed;
} builder;

/* Room for `need` bytes in all; 0, or 1 (and b->failed) out of memory. */
static int b_room(builder *b, size_t need)
{
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	char *g = realloc(b->buf, cap);
	if (!g)
		return b->failed = 1;
	b->buf = g;
	b->cap = cap;
	return 0;
}

/* Appends n bytes of p (NULL: zeroes) at the next 16-byte boundary; their
 * offset. */
static uint64_t b_put(builder *b, const void *p, size_t n)
{
	size_t at = (b->len + 15) & ~(size_t)15;
	if (b_room(b, at + n))
		return 0;
	if (at > b->len)
		memset(b->buf + b->len, 0, at - b->len);
	if (p)
		memcpy(b->buf + at, p, n);
	else
		memset(b->buf + at, 0, n);
	b->len = at + n;
	return at;
}

/* The strings: one table, each NUL-ended, stored once (a module's path
 * serves many nodes); the offset from the table's start. */
static uint32_t str_put(builder *t, const char *s)
{
	size_t n = strlen(s) + 1;
	for (size_t at = 0; at < t->len; at += strlen(t->buf + at) + 1)
		if (strcmp(t->buf + at, s) == 0)
			return (uint32_t)at;
	if (b_room(t, t->len + n))
		return 0;
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	return (uint32_t)(t->len - n);
}

static hamr__wcode code_ref(builder *st, const void *addr)
{
	hamr__wcode pc = {HAMR__WC_NULL, 0, 0};
	if (!addr)
		return pc;
	const char *name;
	uintptr_t base;
	if (!hamr__wire_locate(addr, &name, &base)) {
		/* no address the worker maps: a number in a pointer (heap and
		 * stack pointers were refused by proc_check) */
		pc.where = HAMR__WC_ADDRESS;
		pc.off = (uint64_t)(uintptr_t)addr;
		return pc;
	}
	pc.where = HAMR__WC_OBJECT;
	char full[PATH_MAX];
	/* a relative name is the program's working directory's, which the
	 * workers need not share */
	pc.name = str_put(st, name[0] && name[0] != '/' && realpath(name, full) ? full : name);
	pc.off = (uint64_t)((uintptr_t)addr - base);
	return pc;
}

typedef struct tlist {
	hamr_type t[HAMR__WT_MAX_USER];
	uint32_t n;
} tlist;

static int32_t type_code(tlist *tl, hamr_type t)
{
	if (!t)
		return HAMR__WT_ANY;
	if (hamr__wire_is_builtin(t))
		return (int32_t)t->kind;
	for (uint32_t k = 0; k < tl->n; k++)
		if (tl->t[k] == t)
			return HAMR__WT_USER + (int32_t)k;
	if (tl->n == HAMR__WT_MAX_USER)
		return HAMR__WT_ANY;
	tl->t[tl->n] = t;
	return HAMR__WT_USER + (int32_t)tl->n++;
}

/* ---- the program's side: jobs ------------------------------------------------ */

/* What the program made in the arena to send a value: a string or bytes
 * value of its own, or an encoding. */
typedef struct arena_owned {
	hamr_value v;
	uint64_t off;
} arena_owned;

typedef struct queued_task {
	int64_t item;
	uint32_t attempt;
	hamr__wval in;
	arena_owned own;   /* what the item's value took in the arena */
	uint64_t seq;
} queued_task;

typedef struct held_worker {
	int w;
	uint64_t seq;  /* tasks sent to this incarnation */
	uint64_t acked;
	queued_task q[HAMR__RING];
	uint64_t timed_out; /* the task killed for its timeout, 0: none */
	int respawn;        /* gone before: replace it before any task */
	int cancelled;      /* killed for the run's cancel */
} held_worker;

/* A program running on a pool of worker processes for one run: a map
 * block's nodes per item, or one node (a hamr_backend_job). */
typedef struct procjob procjob;

struct procjob {
	hamr_run *r;
	hamr_procpool *pp;
	const hamr_plan *p;
	uint64_t prog;       /* offset, held by the program */
	uint32_t *nodes;     /* the program's plan nodes */
	uint32_t n_nodes;
	uint32_t n_out;
	arena_owned *outer_own;   /* what the outer values took in the arena */
	uint32_t n_outer_own;
	queued_task *pend;         /* queued, not yet sent (a ring) */
	size_t pend_head, pend_len, pend_cap;
	held_worker **held;
	int n_held;
	size_t inflight;
	int depth;
	int64_t timeout_ns;  /* 0: none */
	long retries;
	int64_t mean_ns;
	int skip_all;        /* keep_going: an outer value it reads is
	                      * missing, so every item is skipped */
	const char *orphaned; /* why no worker is left to run its tasks */
	int cancel_asked;    /* the backend's cancel was called */
};

static void job_close(procjob *j);

/* The program holds what it allocated at off (under alloc_lock): a span
 * of its own is held by that alone. */
static void program_took(hamr_procpool *pp, uint64_t off)
{
	hamr__arena_hold(&pp->arena, off);
	uint32_t c = hamr__arena_chunk_of(&pp->arena, off);
	if (c != pp->cur.chunk)
		hamr__arena_unbias(&pp->arena, c);
}

static uint64_t program_alloc(void *ctx, size_t n)
{
	hamr_procpool *pp = ctx;
	pthread_mutex_lock(&pp->alloc_lock);
	uint64_t off = hamr__arena_alloc(&pp->arena, &pp->cur, n);
	if (off)
		program_took(pp, off);
	pthread_mutex_unlock(&pp->alloc_lock);
	return off;
}

/* A string, bytes value or packed list of the program's in the arena: its
 * last release frees it (hamr__arena_value). */
static int program_value(void *ctx, hamr_type t, hamr_type elem, size_t n, void **data,
                         hamr_value *out)
{
	hamr_procpool *pp = ctx;
	pthread_mutex_lock(&pp->alloc_lock);
	int rc = hamr__arena_value(&pp->arena, &pp->cur, t, elem, n, data, out);
	if (!rc)
		program_took(pp, (uint64_t)((char *)out->u.box - pp->arena.base));
	pthread_mutex_unlock(&pp->alloc_lock);
	return rc;
}

int hamr_procpool_value_alloc(hamr_procpool *p, hamr_value *out, hamr_type t, size_t n,
                              void **data)
{
	const char *what = "hamr_procpool_value_alloc";
	if (out)
		*out = (hamr_value)HAMR_VALUE_EMPTY;
	if (data)
		*data = NULL;
	if (!p || !out || !data)
		return hamr__error_set(HAMR_EINVAL, "%s: NULL %s", what,
		                       !p ? "pool" : !out ? "out" : "data");
	if (t != HAMR_STR && t != HAMR_BYTES)
		return hamr__error_set(HAMR_ETYPE, "%s: type %s; the arena holds str and bytes values",
		                       what, t ? hamr_type_name(t) : "NULL");
	int rc = hamr__procpool_usable(p);
	if (rc)
		return rc;
	if (program_value(p, t, NULL, n, data, out))
		return hamr__error_set(HAMR_ENOMEM,
		                       "%s: no room for a %zu-byte value in the pool's arena of %zu bytes, %zu in use (HAMR_ARENA_SIZE, hamr_procpool_opts.arena_size)",
		                       what, n, (size_t)p->arena.h->n_chunks * HAMR__CHUNK,
		                       hamr_procpool_arena_used(p));
	return 0;
}

/* The program's conversion of a value: what it makes in the arena for it
 * goes to *own, for the caller to release (owned_release) once no task
 * reads it. */
static int program_wval(procjob *j, const hamr_value *v, hamr__wval *out, arena_owned *own)
{
	hamr_procpool *pp = j->pp;
	hamr__wire_sink sink = {&pp->arena, program_alloc, program_value, pp, 0, 0};
	int rc = hamr__wire_put(&sink, v, out, &own->v, &own->off);
	/* relaxed: counts, read once the run has ended */
	atomic_fetch_add_explicit(&j->r->proc.copied, sink.copied, memory_order_relaxed);
	atomic_fetch_add_explicit(&j->r->proc.shared, sink.shared, memory_order_relaxed);
	return rc;
}

static void program_drop(hamr_procpool *pp, uint64_t off)
{
	if (off)
		hamr__arena_drop(&pp->arena, off);
}

static void owned_release(hamr_procpool *pp, arena_owned *o)
{
	hamr_value_clear(&o->v);
	program_drop(pp, o->off);
	o->off = 0;
}

static int codec_check(const hamr_plan *p, uint32_t i, hamr_type t, const char *what)
{
	if (!t || hamr__wire_is_builtin(t) || (t->encode && t->decode))
		return 0;
	return hamr__error_set(HAMR_ECODEC,
	                       "node \"%s\": %s of type %s would cross to a worker process, and %s has no codec (encode and decode)",
	                       p->nodes[i].name, what, hamr_type_name(t), hamr_type_name(t));
}

/* Whether a worker can use user data `ud`: in an object the worker maps
 * (static data, as it was when the worker started), or no address at all
 * (a number). Heap and stack memory are refused, whenever made: what the
 * program writes there after a worker started is not the worker's. */
static int userdata_ok(const void *ud)
{
	if (!ud)
		return 1;
	const char *name;
	uintptr_t base;
	if (hamr__wire_locate(ud, &name, &base))
		return 1;
	/* mincore fails on an address that is not mapped: then it is a
	 * number, passed as it is */
	long page = sysconf(_SC_PAGESIZE);
	unsigned char v;
	return mincore((void *)((uintptr_t)ud & ~(uintptr_t)(page - 1)), 1, &v) != 0;
}

static int proc_check(const hamr_plan *p, const uint32_t *nodes, uint32_t n_nodes)
{
	for (uint32_t k = 0; k < n_nodes; k++) {
		uint32_t i = nodes[k];
		const hamr__pnode *pn = &p->nodes[i];
		if (!userdata_ok(pn->userdata))
			return hamr__error_set(HAMR_ENOTSUP,
			                       "node \"%s\": its user data points to heap or stack memory, which worker processes do not share; point it at static data (which workers see as it was when they started) or pass the value as an input",
			                       pn->name);
		int rc = codec_check(p, i, pn->type, "its result");
		for (uint32_t a = 0; !rc && a < pn->n_args; a++) {
			int32_t s = p->args[pn->arg_start + a];
			if (s >= 0)
				rc = codec_check(p, i, p->slot_type[s], "an argument");
		}
		if (rc)
			return rc;
	}
	return 0;
}

static uint64_t next_gen(void)
{
	static atomic_ullong gen;
	/* relaxed: only uniqueness matters */
	return atomic_fetch_add_explicit(&gen, 1, memory_order_relaxed) + 1;
}

/* A program as job_open builds it, step by step: each plan slot's local
 * number (-1: not read), the image and its strings, the user types it
 * names, and the arrays that go into the image. */
typedef struct progbuild {
	procjob *j;
	hamr_run *r;
	const hamr_plan *p;
	const uint32_t *nodes;
	uint32_t n_nodes;
	int32_t *local;
	uint32_t n_locals;
	int32_t item_local;  /* -1: no item */
	builder img, strs;
	tlist types;
	int32_t *args;        /* per argument of each node, its local */
	uint32_t n_args;
	hamr__wouter *outer;  /* the outer values the nodes read */
	uint32_t n_outer;
	hamr__wnode *wnodes;
	hamr__wtype *wtypes;
} progbuild;

/* Locals: the item, the nodes' results; the outer slots come next, as the
 * arguments find them. */
static int number_locals(progbuild *pb, int32_t item_slot)
{
	const hamr_plan *p = pb->p;
	if (!(pb->local = malloc((p->n_slots ? p->n_slots : 1) * sizeof *pb->local)))
		return HAMR_ENOMEM;
	for (uint32_t s = 0; s < p->n_slots; s++)
		pb->local[s] = -1;
	pb->item_local = -1;
	if (item_slot >= 0)
		pb->local[item_slot] = pb->item_local = (int32_t)pb->n_locals++;
	for (uint32_t k = 0; k < pb->n_nodes; k++)
		pb->local[pb->nodes[k]] = (int32_t)pb->n_locals++;
	return 0;
}

/* Each node's arguments as locals; an outer slot read for the first time
 * gets a local and its value goes on the wire (into the arena, once). */
static int put_args(progbuild *pb, const hamr_value *slots)
{
	const hamr_plan *p = pb->p;
	procjob *j = pb->j;
	uint32_t n_args = 0, at = 0;
	for (uint32_t k = 0; k < pb->n_nodes; k++)
		n_args += p->nodes[pb->nodes[k]].n_args;
	pb->n_args = n_args;
	pb->args = malloc((n_args ? n_args : 1) * sizeof *pb->args);
	pb->outer = malloc((n_args ? n_args : 1) * sizeof *pb->outer);
	if (!pb->args || !pb->outer)
		return HAMR_ENOMEM;
	for (uint32_t k = 0; k < pb->n_nodes; k++) {
		const hamr__pnode *pn = &p->nodes[pb->nodes[k]];
		for (uint32_t a = 0; a < pn->n_args; a++) {
			int32_t s = p->args[pn->arg_start + a];
			if (s >= 0 && pb->local[s] < 0) {
				/* under keep_going, a value an upstream failure left
				 * out: the items would not run (as on the pool) */
				if (pb->r->keep_going && !slots[s].type && p->slot_kind[s] != HAMR__SLOT_DEFAULT)
					j->skip_all = 1;
				pb->local[s] = (int32_t)pb->n_locals++;
				hamr__wouter *o = &pb->outer[pb->n_outer++];
				o->local = (uint32_t)pb->local[s];
				o->pad = 0;
				arena_owned *own = &j->outer_own[j->n_outer_own];
				int rc = program_wval(j, &slots[s], &o->v, own);
				if (own->v.type || own->off)
					j->n_outer_own++;
				if (rc == HAMR_ECODEC)
					return hamr__error_set(HAMR_ECODEC,
					                       "node \"%s\": its argument \"%s\" (type %s) would cross to a worker process, and the type has no codec (encode and decode)",
					                       pn->name, p->slot_name[s], hamr_type_name(slots[s].type));
				if (rc)
					return rc;
			}
			pb->args[at++] = s >= 0 ? pb->local[s] : -1;
		}
	}
	return 0;
}

/* The nodes: functions and user data named by object and offset, their
 * argument ranges, result locals and types (the user types collected). */
static int put_nodes(progbuild *pb)
{
	const hamr_plan *p = pb->p;
	if (!(pb->wnodes = calloc(pb->n_nodes ? pb->n_nodes : 1, sizeof *pb->wnodes)))
		return HAMR_ENOMEM;
	for (uint32_t k = 0, a0 = 0; k < pb->n_nodes; k++) {
		const hamr__pnode *pn = &p->nodes[pb->nodes[k]];
		hamr__wnode *w = &pb->wnodes[k];
		w->fn = code_ref(&pb->strs, (const void *)(uintptr_t)pn->fn);
		w->ud = code_ref(&pb->strs, pn->userdata);
		w->name = str_put(&pb->strs, pn->name);
		w->n_args = pn->n_args;
		w->arg_start = a0;
		w->result = (uint32_t)pb->local[pb->nodes[k]];
		w->type = type_code(&pb->types, pn->type);
		for (uint32_t a = 0; a < pn->n_args; a++) {
			int32_t s = p->args[pn->arg_start + a];
			if (s >= 0)
				type_code(&pb->types, p->slot_type[s]);
		}
		a0 += pn->n_args;
	}
	if (pb->types.n == HAMR__WT_MAX_USER)
		return hamr__error_set(HAMR_ENOTSUP, "a process block names more than %d user types",
		                       HAMR__WT_MAX_USER - 1);
	return 0;
}

/* The user types: names and codec functions, so a worker finds or
 * registers each one. */
static int put_types(progbuild *pb)
{
	if (!(pb->wtypes = calloc(pb->types.n ? pb->types.n : 1, sizeof *pb->wtypes)))
		return HAMR_ENOMEM;
	for (uint32_t t = 0; t < pb->types.n; t++) {
		hamr_type ty = pb->types.t[t];
		hamr__wtype *w = &pb->wtypes[t];
		w->name = str_put(&pb->strs, ty->name);
		w->size = ty->size;
		w->enc = code_ref(&pb->strs, (const void *)(uintptr_t)ty->encode);
		w->dec = code_ref(&pb->strs, (const void *)(uintptr_t)ty->decode);
		w->free_ = code_ref(&pb->strs, (const void *)(uintptr_t)ty->free);
		w->eq = code_ref(&pb->strs, (const void *)(uintptr_t)ty->equal);
	}
	return 0;
}

/* The image: the header, then each array at its offset, copied into the
 * arena as one allocation the job holds (j->prog). */
static int put_image(progbuild *pb, const uint32_t *out_slots, uint32_t n_out)
{
	uint32_t outs[HAMR__MAX_OUT];
	for (uint32_t k = 0; k < n_out; k++)
		outs[k] = (uint32_t)pb->local[out_slots[k]];
	hamr__wprog hdr = {.gen = next_gen(), .n_nodes = pb->n_nodes, .n_locals = pb->n_locals,
	                   .n_outer = pb->n_outer, .n_out = n_out, .n_types = pb->types.n,
	                   .item_local = pb->item_local};
	builder *b = &pb->img;
	b_put(b, &hdr, sizeof hdr);
	hdr.nodes = b_put(b, pb->wnodes, pb->n_nodes * sizeof *pb->wnodes);
	hdr.args = b_put(b, pb->args, pb->n_args * sizeof *pb->args);
	hdr.outer = b_put(b, pb->outer, pb->n_outer * sizeof *pb->outer);
	hdr.outs = b_put(b, outs, n_out * sizeof *outs);
	hdr.types = b_put(b, pb->wtypes, pb->types.n * sizeof *pb->wtypes);
	hdr.strings = b_put(b, pb->strs.buf, pb->strs.len);
	if (b->failed || pb->strs.failed)
		return HAMR_ENOMEM;
	memcpy(b->buf, &hdr, sizeof hdr);
	procjob *j = pb->j;
	if (!(j->prog = program_alloc(j->pp, b->len)))
		return hamr__error_set(HAMR_ENOMEM,
		                       "the arena is full: no room for a %zu-byte program (HAMR_ARENA_SIZE)",
		                       b->len);
	memcpy(j->pp->arena.base + j->prog, b->buf, b->len);
	return 0;
}

/* A job of run r on pool pp, its program not yet built. */
static int job_new(procjob **out, hamr_run *r, hamr_procpool *pp, const uint32_t *nodes,
                   uint32_t n_nodes, uint32_t n_out)
{
	const hamr_plan *p = r->plan;
	procjob *j = calloc(1, sizeof *j);
	if (!j || !(j->nodes = malloc((n_nodes ? n_nodes : 1) * sizeof *j->nodes)) ||
	    !(j->held = calloc((size_t)pp->n, sizeof *j->held)) ||
	    !(j->outer_own = calloc(p->n_slots ? p->n_slots : 1, sizeof *j->outer_own))) {
		if (j) {
			free(j->nodes);
			free(j->held);
		}
		free(j);
		return HAMR_ENOMEM;
	}
	j->r = r;
	j->pp = pp;
	j->p = p;
	j->n_nodes = n_nodes;
	j->n_out = n_out;
	memcpy(j->nodes, nodes, n_nodes * sizeof *nodes);
	j->depth = 4;
	j->timeout_ns = r->proc_timeout_ms * 1000000;
	j->retries = r->proc_retries;
	*out = j;
	return 0;
}

/* Opens a job running plan nodes `nodes` (in that order) per task: the
 * item's value goes to slot item_slot (-1: no item), the other slots they
 * read come from `slots` (written into the arena now, once), and each task
 * hands back slots out_slots. HAMR_ECODEC (message naming node and type)
 * when a value cannot cross; HAMR_ENOMEM when the arena is full. */
static int job_open(procjob **out, hamr_run *r, hamr_procpool *pp, const uint32_t *nodes,
                    uint32_t n_nodes, int32_t item_slot, const hamr_value *slots,
                    const uint32_t *out_slots, uint32_t n_out)
{
	*out = NULL;
	int rc = hamr__procpool_usable(pp);
	if (rc)
		return rc; /* a forked copy's: nothing of it is touched */
	if (n_out > HAMR__MAX_OUT)
		return hamr__error_set(HAMR_ENOTSUP, "a process task hands back %u values, more than %d",
		                       n_out, HAMR__MAX_OUT);
	progbuild pb = {.r = r, .p = r->plan, .nodes = nodes, .n_nodes = n_nodes};
	if ((rc = job_new(&pb.j, r, pp, nodes, n_nodes, n_out)))
		return rc;
	if (!(rc = number_locals(&pb, item_slot)) && !(rc = put_args(&pb, slots)) &&
	    !(rc = put_nodes(&pb)) && !(rc = put_types(&pb)))
		rc = put_image(&pb, out_slots, n_out);
	free(pb.wtypes);
	free(pb.wnodes);
	free(pb.args);
	free(pb.outer);
	free(pb.local);
	free(pb.img.buf);
	free(pb.strs.buf);
	if (rc) {
		job_close(pb.j);
		return rc;
	}
	*out = pb.j;
	return 0;
}
/* ---- the program's side: workers ----------------------------------------------- */

static void worker_release(procjob *j, int h)
{
	hamr_procpool *pp = j->pp;
	held_worker *pw = j->held[h];
	pthread_mutex_lock(&pp->lock);
	pp->busy[pw->w] = 0;
	pthread_cond_signal(&pp->idle);
	pthread_mutex_unlock(&pp->lock);
	free(pw);
	j->held[h] = j->held[--j->n_held];
}

/* Reclaims a dead worker's space and forks its replacement. A slot the
 * server could not refill is gone until a second has passed; after
 * GIVE_UP failures in a row in every slot, jobs stop waiting for one. */
#define GIVE_UP 3

static int worker_replace(procjob *j, int w)
{
	hamr_procpool *pp = j->pp;
	hamr__arena_reclaim(&pp->arena, (uint32_t)w + 1);
	int rc = hamr__procpool_respawn(pp, w);
	pthread_mutex_lock(&pp->lock);
	if (rc) {
		pp->n_gone += !pp->gone[w];
		pp->gone[w] = 1;
		pp->gone_ns[w] = hamr__now_ns();
		pp->fails[w] += pp->fails[w] < 255;
	} else {
		pp->fails[w] = 0;
	}
	pthread_mutex_unlock(&pp->lock);
	return rc;
}

/* Takes idle workers, up to `want`; waits for one when `block` and none
 * is idle (or only gone ones, until their retry is due). The number
 * taken; a dead one (or a gone one tried again) is replaced first. */
static int worker_take(procjob *j, int want, int block)
{
	hamr_procpool *pp = j->pp;
	int got = 0;
	pthread_mutex_lock(&pp->lock);
	for (;;) {
		int64_t now = hamr__now_ns();
		int hopeless = pp->n_gone == pp->n;
		for (int w = 0; w < pp->n && hopeless; w++)
			hopeless = pp->fails[w] >= GIVE_UP;
		if (hopeless) {
			if (!j->orphaned)
				j->orphaned = "no worker process is left to run it: the fork server could not replace the ones that died";
			break;
		}
		for (int w = 0; w < pp->n && got < want; w++) {
			if (pp->busy[w] || (pp->gone[w] && now - pp->gone_ns[w] <= 1000000000))
				continue;
			held_worker *pw = calloc(1, sizeof *pw);
			if (!pw)
				break;
			if (pp->gone[w]) { /* its retry is due: a fresh respawn */
				pp->gone[w] = 0;
				pp->n_gone--;
				pw->respawn = 1;
			}
			pp->busy[w] = 1;
			pw->w = w;
			/* resume where its rings are (relaxed: the program's own
			 * counters, written by the job that let the worker go,
			 * which the pool's lock orders before this) */
			hamr__wctl *c = hamr__wctl_of(pp, w);
			pw->seq = atomic_load_explicit(&c->task_head, memory_order_relaxed);
			pw->acked = atomic_load_explicit(&c->done_tail, memory_order_relaxed);
			j->held[j->n_held++] = pw;
			got++;
		}
		/* relaxed: cancel is a hint, looked at again after each wait */
		if (got || !block || atomic_load_explicit(&j->r->cancel, memory_order_relaxed))
			break;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&pp->idle, &pp->lock, &ts);
	}
	pthread_mutex_unlock(&pp->lock);
	/* one that died idle is replaced before it gets work (acquire: the
	 * server's death record, status before state), and so is one tried
	 * again, whatever its control block says */
	for (int h = j->n_held - got; h < j->n_held; h++) {
		held_worker *pw = j->held[h];
		hamr__wctl *c = hamr__wctl_of(pp, pw->w);
		if (pw->respawn || atomic_load_explicit(&c->state, memory_order_acquire) == HAMR__W_DEAD) {
			pw->respawn = 0;
			if (worker_replace(j, pw->w)) {
				worker_release(j, h--); /* the last one moves here */
				got--;
				continue;
			}
			pw->seq = pw->acked = 0;
		}
	}
	return got;
}

/* Queues a task. The queue always has room for every task queued or
 * running, so that putting back a dead worker's tasks never fails. */
static int queue_push(procjob *j, const queued_task *s)
{
	if (j->pend_len + j->inflight >= j->pend_cap) {
		size_t cap = j->pend_cap ? 2 * j->pend_cap : 64;
		while (cap <= j->pend_len + j->inflight)
			cap *= 2;
		queued_task *g = malloc(cap * sizeof *g);
		if (!g)
			return HAMR_ENOMEM;
		for (size_t k = 0; k < j->pend_len; k++)
			g[k] = j->pend[(j->pend_head + k) % j->pend_cap];
		free(j->pend);
		j->pend = g;
		j->pend_cap = cap;
		j->pend_head = 0;
	}
	j->pend[(j->pend_head + j->pend_len++) % j->pend_cap] = *s;
	return 0;
}

/* Takes the next queued task off the queue, into *s. */
static void queue_pop(procjob *j, queued_task *s)
{
	*s = j->pend[j->pend_head];
	j->pend_head = (j->pend_head + 1) % j->pend_cap;
	j->pend_len--;
}

/* Sends queued tasks to the workers held, up to `depth` ahead of each. */
static void pump(procjob *j)
{
	hamr_procpool *pp = j->pp;
	if (j->pend_len && j->n_held < pp->n) {
		int want = (int)(j->pend_len / (size_t)j->depth) + 1;
		worker_take(j, want, j->n_held == 0);
	}
	for (int h = 0; h < j->n_held && j->pend_len; h++) {
		held_worker *pw = j->held[h];
		hamr__wctl *c = hamr__wctl_of(pp, pw->w);
		int sent = 0;
		while (j->pend_len && pw->seq - pw->acked < (uint64_t)j->depth) {
			queued_task s;
			queue_pop(j, &s);
			s.seq = ++pw->seq;
			pw->q[s.seq % HAMR__RING] = s;
			hamr__proc_task *t = &c->tasks[(s.seq - 1) % HAMR__RING];
			t->seq = s.seq;
			t->prog = j->prog;
			/* the index the worker's nodes see; s.item stays
			 * this side's */
			t->item = hamr__item_shown(j->r, s.item);
			t->attempt = s.attempt;
			t->in = s.in;
			sent++;
		}
		if (!sent)
			continue;
		j->inflight += (size_t)sent;
		/* release: the records before the head; seq_cst with the
		 * worker's sleep flag (Dekker) */
		atomic_store_explicit(&c->task_head, pw->seq, memory_order_seq_cst);
		if (atomic_exchange_explicit(&c->wsleep, 0, memory_order_seq_cst))
			hamr__futex_wake(&c->wsleep, 1);
	}
}

static const char *sig_name(int sig)
{
	const char *n = sigabbrev_np(sig);
	return n ? n : "?";
}

/* Records a failed task, with the worker's pid, signal and attempt. */
static int task_fail(procjob *j, const queued_task *s, int node, int code, int pid, int sig, char *msg)
{
	const char *name = j->p->nodes[j->nodes[node >= 0 ? node : 0]].name;
	return hamr__run_fail_at(j->r, code, name, msg, s->item, pid, sig, (int)s->attempt);
}

static void node_events(procjob *j, const hamr__proc_done *d, const queued_task *s, int pid)
{
	hamr_run *r = j->r;
	for (uint32_t k = 0; k < d->n_timed && k < j->n_nodes; k++) {
		uint32_t i = j->nodes[k];
		hamr_event e = {.kind = HAMR_EV_NODE_START, .node = r->plan->nodes[i].name,
		                .node_index = (int)i, .item = s->item, .task = -1,
		                .t_ns = d->t[2 * k], .pid = pid, .worker = -1, .rank = -1};
		hamr__event_at(r, &e);
		e.kind = HAMR_EV_NODE_END;
		e.start_ns = d->t[2 * k];
		e.t_ns = d->t[2 * k + 1];
		e.rc = k + 1 == d->n_timed && d->rc ? d->rc : 0;
		hamr__event_at(r, &e);
		if (r->stats)
			hamr__stats_node(r, &e);
	}
}

/* A completion of held worker h: its result in *res. */
static void take_done(procjob *j, held_worker *pw, hamr_backend_done *res)
{
	hamr_procpool *pp = j->pp;
	hamr__wctl *c = hamr__wctl_of(pp, pw->w);
	const hamr__proc_done *d = &c->done[pw->acked % HAMR__RING];
	queued_task *s = &pw->q[d->seq % HAMR__RING];
	/* relaxed: written before the worker ran its first task, which the
	 * completion's acquire orders */
	int pid = atomic_load_explicit(&c->pid, memory_order_relaxed);
	res->item = s->item;
	res->rc = 0;
	res->dropped = 0;
	res->n_out = 0;
	res->where = pid;
	res->t0 = d->n_timed ? d->t[0] : 0;
	res->t1 = d->n_timed ? d->t[2 * d->n_timed - 1] : 0;
	if (j->r->observe)
		node_events(j, d, s, pid);
	/* relaxed: counts, read once the run has ended */
	atomic_fetch_add_explicit(&j->r->proc.tasks, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&j->r->proc.copied, d->copied, memory_order_relaxed);
	if (d->n_timed) {
		int64_t ns = d->t[2 * d->n_timed - 1] - d->t[0];
		j->mean_ns = j->mean_ns ? (7 * j->mean_ns + ns) / 8 : ns;
	}
	if (d->rc) {
		char *msg = d->msg ? strdup(pp->arena.base + d->msg) : NULL;
		/* relaxed: written before the completion, which is acquired */
		if (d->rc == HAMR_ENOMEM && atomic_load_explicit(&c->oom, memory_order_relaxed) && msg) {
			char *m2 = NULL;
			if (asprintf(&m2, "%s (worker process %d)", msg, pid) >= 0) {
				free(msg);
				msg = m2;
			}
		}
		res->rc = task_fail(j, s, d->node, d->rc, pid, 0, msg);
	} else {
		res->n_out = d->n_out;
		for (uint32_t k = 0; k < d->n_out; k++) {
			const hamr__wval *w = &d->out[k];
			hamr_value *v = &res->out[k];
			int taken, rc = hamr__wire_get(&pp->arena, w, v, &taken);
			/* a worker's new value is taken over (and its chunk held);
			 * one the program holds already (an input passed on)
			 * gained a reference */
			if (taken)
				hamr__arena_hold(&pp->arena, w->a);
			size_t n;
			hamr_type elem;
			if (!rc && hamr__value_flat(v, &n, &elem))
				/* relaxed: a count */
				atomic_fetch_add_explicit(&j->r->proc.shared, n, memory_order_relaxed);
			if (rc && !res->rc) {
				char *m = NULL;
				if (asprintf(&m, "its result cannot be decoded: %s", hamr_errmsg()) < 0)
					m = NULL;
				res->rc = task_fail(j, s, -1, rc, pid, 0, m);
			}
		}
		if (res->rc) {
			for (uint32_t k = 0; k < res->n_out; k++)
				hamr_value_clear(&res->out[k]);
			res->n_out = 0;
		}
	}
	owned_release(pp, &s->own);
	/* release: everything read above before the worker may reuse it */
	atomic_store_explicit(&c->done_tail, ++pw->acked, memory_order_release);
	j->inflight--;
}

/* Worker h died: what it posted is read already. The task it ran fails
 * (or is retried), the others go back to the queue; the worker is
 * replaced. A failed task's result goes to *res (1), else 0. */
static int worker_died(procjob *j, int h, hamr_backend_done *res)
{
	hamr_procpool *pp = j->pp;
	held_worker *pw = j->held[h];
	hamr__wctl *c = hamr__wctl_of(pp, pw->w);
	/* relaxed: the caller acquired the death record (state), which the
	 * server wrote after the status, and the worker wrote the rest
	 * before it died */
	int status = atomic_load_explicit(&c->status, memory_order_relaxed);
	int pid = atomic_load_explicit(&c->pid, memory_order_relaxed);
	uint64_t cur = atomic_load_explicit(&c->cur_seq, memory_order_acquire);
	int oom = atomic_load_explicit(&c->oom, memory_order_relaxed);
	/* the timeout's kill is SIGKILL: a worker that died otherwise (it
	 * exited, or another signal) died of its own accord before the kill
	 * landed, and its crash is what happened */
	uint64_t timed_out = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? pw->timed_out : 0;
	int got = 0;
	/* requeue in order: the unfinished tasks after the one that ran */
	for (uint64_t q = pw->acked + 1; q <= pw->seq; q++) {
		queued_task s = pw->q[q % HAMR__RING];
		j->inflight--;
		/* a kill for a timeout that landed on the next task blames
		 * neither */
		if (q != cur || (timed_out && timed_out != cur)) {
			queue_push(j, &s); /* never attempted, or not to blame */
			continue;
		}
		if (pw->cancelled) { /* the run's cancel: it ends unrun */
			res->item = s.item;
			res->dropped = 1;
			res->n_out = 0;
			res->where = 0;
			res->t0 = res->t1 = 0;
			res->rc = HAMR_ECANCELED;
			owned_release(pp, &s.own);
			got = 1;
			continue;
		}
		/* relaxed: counts */
		atomic_fetch_add_explicit(timed_out ? &j->r->proc.timeouts : &j->r->proc.crashes, 1,
		                          memory_order_relaxed);
		if ((long)s.attempt <= j->retries) {
			atomic_fetch_add_explicit(&j->r->proc.retries, 1, memory_order_relaxed);
			s.attempt++;
			queue_push(j, &s);
			continue;
		}
		char *msg = NULL;
		int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
		int code = HAMR_ECRASH;
		int n;
		if (timed_out) {
			code = HAMR_ETIMEDOUT;
			n = asprintf(&msg, "ran past HAMR_TASK_TIMEOUT (%lld ms) in worker process %d, which was killed (attempt %u)",
			             (long long)(j->timeout_ns / 1000000), pid, s.attempt);
			sig = SIGKILL;
		} else if (sig) {
			n = asprintf(&msg, "worker process %d was killed by signal %d (SIG%s) on attempt %u%s", pid, sig,
			             sig_name(sig), s.attempt,
			             oom || pp->child_memory ? (oom ? ": it ran out of memory (HAMR_CHILD_MEMORY caps a worker)" :
			                                              " (HAMR_CHILD_MEMORY caps the worker's memory: it may have run out)") : "");
		} else {
			n = asprintf(&msg, "worker process %d exited with status %d on attempt %u%s", pid,
			             WIFEXITED(status) ? WEXITSTATUS(status) : status, s.attempt,
			             pp->child_memory ? " (HAMR_CHILD_MEMORY caps the worker's memory: it may have run out)" : "");
		}
		if (n < 0)
			msg = NULL;
		res->item = s.item;
		res->dropped = 0;
		res->n_out = 0;
		res->where = 0;
		res->t0 = res->t1 = 0;
		res->rc = task_fail(j, &s, 0, code, pid, sig, msg);
		owned_release(pp, &s.own);
		got = 1;
	}
	pw->timed_out = 0;
	pw->cancelled = 0;
	if (worker_replace(j, pw->w) == 0)
		pw->seq = pw->acked = 0;
	else
		worker_release(j, h); /* it stays dead; the next taker tries again */
	return got;
}

static int job_send(procjob *j, int64_t item, const hamr_value *v)
{
	queued_task s = {item, 1, {0, 0, 0, 0}, {HAMR_VALUE_EMPTY, 0}, 0};
	if (j->skip_all)
		return HAMR__SKIPPED;
	int rc = program_wval(j, v, &s.in, &s.own);
	if (rc) {
		char *msg = NULL;
		if (rc == HAMR_ECODEC &&
		    asprintf(&msg, "its item (type %s) would cross to a worker process, and the type has no codec (encode and decode)",
		             hamr_type_name(v->type)) < 0)
			msg = NULL;
		return task_fail(j, &s, 0, rc, (int)getpid(), 0, msg);
	}
	if ((rc = queue_push(j, &s))) {
		owned_release(j->pp, &s.own);
		return task_fail(j, &s, 0, rc, (int)getpid(), 0, NULL);
	}
	return 0;
}

/* A look at every held worker: a completion (1, in *res), a death (1
 * when it failed a task), timeouts to enforce. */
static int poll_once(procjob *j, hamr_backend_done *res)
{
	hamr_procpool *pp = j->pp;
	for (int h = 0; h < j->n_held; h++) {
		held_worker *pw = j->held[h];
		hamr__wctl *c = hamr__wctl_of(pp, pw->w);
		/* acquire: the completion's record */
		if (atomic_load_explicit(&c->done_head, memory_order_acquire) > pw->acked) {
			take_done(j, pw, res);
			return 1;
		}
		if (atomic_load_explicit(&c->state, memory_order_acquire) == HAMR__W_DEAD) {
			/* what it posted before it died is read above first */
			if (atomic_load_explicit(&c->done_head, memory_order_acquire) > pw->acked) {
				take_done(j, pw, res);
				return 1;
			}
			if (worker_died(j, h, res))
				return 1;
			continue;
		}
		if (j->timeout_ns && !pw->timed_out) {
			/* acquire: the start time the worker wrote before the
			 * task's seq (a stale pair only delays the check) */
			uint64_t cur = atomic_load_explicit(&c->cur_seq, memory_order_acquire);
			int64_t t0 = atomic_load_explicit(&c->cur_start, memory_order_relaxed);
			if (cur && cur > pw->acked && hamr__now_ns() - t0 > j->timeout_ns) {
				/* the server kills it only if the pid is still its
				 * worker and alive: one found dead is recorded dead,
				 * and read as a crash on the next look */
				if (hamr__procpool_kill(pp, pw->w, atomic_load_explicit(&c->pid, memory_order_relaxed)))
					pw->timed_out = cur;
			}
		}
	}
	/* workers with nothing left to do go back */
	if (!j->pend_len)
		for (int h = j->n_held; h-- > 0;)
			if (j->held[h]->seq == j->held[h]->acked)
				worker_release(j, h);
	return 0;
}

/* The fork server died, and every worker with it (PR_SET_PDEATHSIG), with
 * no one left to say so: what they ran goes back to the queue, to fail
 * from there, and the pool is empty for good. */
static void server_died(procjob *j)
{
	hamr_procpool *pp = j->pp;
	while (j->n_held) {
		held_worker *pw = j->held[j->n_held - 1];
		for (uint64_t q = pw->acked + 1; q <= pw->seq; q++) {
			j->inflight--;
			queue_push(j, &pw->q[q % HAMR__RING]);
		}
		pw->acked = pw->seq;
		worker_release(j, j->n_held - 1);
	}
	pthread_mutex_lock(&pp->lock);
	for (int w = 0; w < pp->n; w++) {
		pp->n_gone += !pp->gone[w];
		pp->gone[w] = 1;
		pp->gone_ns[w] = INT64_MAX / 2; /* never tried again */
		pp->fails[w] = 255;
	}
	pthread_mutex_unlock(&pp->lock);
	j->orphaned = "the fork server died, and its worker processes with it";
}

/* The run's cancel: the running tasks stop too, their workers killed (and
 * replaced), the tasks ending unrun. */
static void kill_running(procjob *j)
{
	for (int h = 0; h < j->n_held; h++) {
		held_worker *pw = j->held[h];
		hamr__wctl *c = hamr__wctl_of(j->pp, pw->w);
		if (!pw->cancelled && pw->seq > pw->acked &&
		    atomic_load_explicit(&c->state, memory_order_acquire) != HAMR__W_DEAD) {
			pw->cancelled = 1;
			hamr__procpool_kill(j->pp, pw->w, atomic_load_explicit(&c->pid, memory_order_relaxed));
		}
	}
}

static int job_next(procjob *j, hamr_backend_done *res, int wait)
{
	hamr_procpool *pp = j->pp;
	int slept = 0; /* a wait of this call ended with nothing to show */
	for (;;) {
		/* relaxed: hints, looked at on every round */
		int stopped = hamr_backend_stopped(j->r);
		int cancel = j->cancel_asked || stopped == HAMR_BACKEND_CANCEL;
		int stop = cancel || stopped == HAMR_BACKEND_STOP;
		queued_task s;
		if (stop && j->pend_len) {
			/* queued tasks are dropped, one per call; under fail_fast
			 * running ones end, a cancel stops them */
			queue_pop(j, &s);
			owned_release(pp, &s.own);
			*res = (hamr_backend_done){.item = s.item, .rc = HAMR_ECANCELED, .dropped = 1};
			return 1;
		}
		if (cancel)
			kill_running(j);
		else
			pump(j);
		if (poll_once(j, res)) {
			/* the queue drains in big steps once tasks prove short */
			j->depth = j->mean_ns && j->mean_ns < 50000 ? 64 : j->mean_ns > 2000000 ? 2 : 4;
			return 1;
		}
		if (!j->inflight && !j->pend_len)
			return 0;
		if (j->orphaned && j->pend_len) {
			/* no worker is left to run what is queued */
			queue_pop(j, &s);
			owned_release(pp, &s.own);
			*res = (hamr_backend_done){.item = s.item};
			res->rc = task_fail(j, &s, 0, HAMR_EIO, (int)getpid(), 0, strdup(j->orphaned));
			return 1;
		}
		if (!wait)
			return 0;
		/* a dead server rings no bell: asked after a wait that ended
		 * with nothing, not before every wait */
		if (slept && !hamr__procs_server_alive()) {
			server_died(j);
			continue;
		}
		/* sleep on the bell: seq_cst with the ringer (Dekker) */
		atomic_fetch_add_explicit(&pp->shm->bell_waiters, 1, memory_order_seq_cst);
		unsigned seq = atomic_load_explicit(&pp->shm->bell, memory_order_seq_cst);
		int ready = 0;
		for (int h = 0; h < j->n_held && !ready; h++) {
			hamr__wctl *c = hamr__wctl_of(pp, j->held[h]->w);
			ready = atomic_load_explicit(&c->done_head, memory_order_seq_cst) > j->held[h]->acked ||
			        atomic_load_explicit(&c->state, memory_order_seq_cst) == HAMR__W_DEAD;
		}
		if (!ready && j->n_held) {
			hamr__futex_wait(&pp->shm->bell, seq, j->timeout_ns || cancel ? 5000000 : 100000000);
			slept = 1;
		}
		/* relaxed: a ringer that still sees this waiter rings once too
		 * often, which costs a wake and nothing else */
		atomic_fetch_sub_explicit(&pp->shm->bell_waiters, 1, memory_order_relaxed);
	}
}

static void drop_queued(procjob *j)
{
	queued_task s;
	while (j->pend_len) {
		queue_pop(j, &s);
		owned_release(j->pp, &s.own);
	}
}

static void job_close(procjob *j)
{
	if (!j)
		return;
	hamr_backend_done res;
	/* running tasks end first: their workers read the program */
	while (j->inflight && job_next(j, &res, 1))
		for (uint32_t k = 0; k < res.n_out; k++)
			hamr_value_clear(&res.out[k]);
	drop_queued(j);
	while (j->n_held)
		worker_release(j, j->n_held - 1);
	for (uint32_t k = 0; k < j->n_outer_own; k++)
		owned_release(j->pp, &j->outer_own[k]);
	program_drop(j->pp, j->prog);
	free(j->outer_own);
	free(j->pend);
	free(j->held);
	free(j->nodes);
	free(j);
}


/* ---- the backend table -------------------------------------------------------- */

static int procs_check(void *self, const hamr_backend_program *prog)
{
	(void)self;
	return proc_check(prog->plan, prog->nodes, prog->n_nodes);
}

static int procs_open(void *self, hamr_run *r, const hamr_backend_program *prog,
                      hamr_backend_job **out)
{
	return job_open((procjob **)out, r, self, prog->nodes, prog->n_nodes, prog->item_slot,
	                prog->slots, prog->outs, prog->n_outs);
}

static int procs_send(hamr_backend_job *j, int64_t item, const hamr_value *v)
{
	return job_send((procjob *)j, item, v);
}

static int procs_next(hamr_backend_job *j, hamr_backend_done *d, int wait)
{
	int got = job_next((procjob *)j, d, wait);
	d->rank = -1; /* this process's worker processes */
	return got;
}

/* The running tasks' workers are killed in the next call of job_next,
 * which drops the queued ones too. */
static void procs_cancel(hamr_backend_job *j)
{
	((procjob *)j)->cancel_asked = 1;
}

static void procs_close(hamr_backend_job *j)
{
	job_close((procjob *)j);
}

const hamr_backend hamr__procs_backend = {
	HAMR_BACKEND_ABI, sizeof(hamr_backend), "processes", procs_check, procs_open, procs_send,
	procs_next, procs_cancel, procs_close};
