// SPDX-License-Identifier: MIT
/* Running map blocks, for both executors.
 *
 * graph/blocks.c laid a plan with blocks out by scope: each scope's units
 * in running order (a parallelizable node with its whole block is one
 * unit), list slots for collected values, the slots to reset and clear per
 * item, and the outer values each block reads. Here a unit runs: a plain
 * node, or a parallelizable node that emits its items and then its block
 * once per item.
 *
 * Sequentially, the items run in order in the run's own slots: each item
 * starts with the block's counters reset and ends with each collected
 * value put at its item's position in its list and the block's slots
 * cleared, so one item's values never outlive it.
 *
 * On the threads executor the items run under parallel_for, which batches
 * consecutive items into one task and splits only when a worker is
 * hungry. Each batch runs in a frame of its own: fresh slots for the
 * block's values, the outer values the block reads and the defaults copied
 * in (shallow: those stay valid and unchanged until the whole block is
 * done), so batches share nothing but the lists, where each writes only
 * its own items' positions. Values broadcast into a block are released by
 * the unit once every item is done. */
#include <stdlib.h>
#include <string.h>

#include "runtime/run_internal.h"
#include "serialize/error_internal.h"
#include "serialize/value_internal.h"

HAMR__TLS int64_t hamr__current_item = -1;

/* One reader of slot s in frame f is done with it. Collected values stay
 * until their item ends. acq_rel: in scope 0 on the threads executor,
 * other workers count the same slot (see threads.c); in a frame, only
 * this thread does, and the order costs nothing more there. */
static void release(const hamr_plan *p, const hamr__frame *f, int32_t s)
{
	if (p->slot_pinned[s] || ((uint32_t)s < p->n_nodes && p->list_slot[s] >= 0))
		return;
	if (atomic_fetch_sub_explicit(&f->remaining[s], 1, memory_order_acq_rel) == 1)
		hamr__value_drop(&f->slots[s]);
}

typedef struct block_run {
	hamr_run *r;
	uint32_t owner;
	const hamr__frame *outer; /* holds the lists */
	const hamr_list *items;
	int concurrent;
	atomic_int rc;            /* the first error */
} block_run;

static void fail_block(block_run *b, int rc)
{
	int none = 0;
	atomic_compare_exchange_strong(&b->rc, &none, rc);
	/* relaxed: fail fast is a hint; the run's error record has the error */
	atomic_store_explicit(&b->r->stop, true, memory_order_relaxed);
}

/* Items [lo, hi) of a block, in frame f. */
static void run_items(block_run *b, const hamr__frame *f, size_t lo, size_t hi)
{
	hamr_run *r = b->r;
	const hamr_plan *p = r->plan;
	int32_t blk = p->node_block[b->owner];
	const uint32_t *clear = p->clear + p->clear_start[blk];
	uint32_t n_clear = p->clear_start[blk + 1] - p->clear_start[blk];
	int64_t outer_item = hamr__current_item;
	for (size_t it = lo; it < hi; it++) {
		/* relaxed: fail fast and cancel are hints (running items end) */
		if (atomic_load_explicit(&r->stop, memory_order_relaxed))
			break;
		for (uint32_t k = 0; k < n_clear; k++)
			atomic_store_explicit(&f->remaining[clear[k]], p->consumers[clear[k]],
			                      memory_order_relaxed);
		f->slots[b->owner] = hamr_value_ref(&b->items->items[it]);
		hamr__current_item = (int64_t)it;
		int rc = hamr__run_scope(r, blk, f, b->concurrent);
		hamr__current_item = outer_item;
		for (uint32_t k = 0; k < n_clear; k++) {
			uint32_t s = clear[k];
			if (!rc && s < p->n_nodes && s != b->owner && p->list_slot[s] >= 0) {
				hamr_value v = hamr_value_ref(&f->slots[s]);
				hamr__list_put(&b->outer->slots[p->list_slot[s]], it, &v);
			}
			hamr__value_drop(&f->slots[clear[k]]);
		}
		if (rc) {
			fail_block(b, rc);
			break;
		}
	}
}

/* A batch of items on a worker: a frame of its own. */
static void run_batch(size_t lo, size_t hi, void *arg)
{
	block_run *b = arg;
	const hamr_plan *p = b->r->plan;
	size_t ns = p->n_slots;
	hamr__frame f;
	f.slots = calloc(ns ? ns : 1, sizeof *f.slots);
	f.remaining = malloc((ns ? ns : 1) * sizeof *f.remaining);
	if (!f.slots || !f.remaining) {
		free(f.slots);
		free(f.remaining);
		fail_block(b, hamr__run_fail(b->r, HAMR_ENOMEM, p->nodes[b->owner].name,
		                             NULL));
		return;
	}
	/* shallow copies: the outer frames keep these alive and unchanged.
	 * A nested block reads what its own owner holds and what every
	 * enclosing owner holds (a value broadcast from further out). */
	for (int32_t x = p->node_block[b->owner]; x > 0;
	     x = p->node_scope[p->scope_owner[x]]) {
		uint32_t o = (uint32_t)p->scope_owner[x];
		for (uint32_t k = p->defer_start[o]; k < p->defer_start[o + 1]; k++)
			f.slots[p->defer[k]] = b->outer->slots[p->defer[k]];
	}
	for (uint32_t d = 0; d < p->n_defaults; d++)
		f.slots[p->n_nodes + p->n_given + d] = b->outer->slots[p->n_nodes + p->n_given + d];
	run_items(b, &f, lo, hi);
	free(f.slots); /* the block's own values are cleared per item */
	free(f.remaining);
}

static int run_block(hamr_run *r, uint32_t owner, const hamr__frame *f, int concurrent)
{
	const hamr_plan *p = r->plan;
	int32_t blk = p->node_block[owner];
	const uint32_t *clear = p->clear + p->clear_start[blk];
	uint32_t n_clear = p->clear_start[blk + 1] - p->clear_start[blk];
	hamr_value items;
	int rc = hamr__run_emit(r, owner, f->slots, &items);
	if (rc)
		return rc;
	hamr_list l = hamr_value_list(&items);
	/* the lists this block fills: one position per item */
	for (uint32_t k = 0; k < n_clear && !rc; k++) {
		uint32_t s = clear[k];
		if (s >= p->n_nodes || p->list_slot[s] < 0)
			continue;
		hamr_value *list = &f->slots[p->list_slot[s]];
		hamr__value_drop(list);
		if (s == owner) {
			*list = hamr_value_ref(&items); /* the items themselves */
			continue;
		}
		rc = hamr_value_make_list(list, p->nodes[s].type, l.len);
		if (!rc)
			rc = hamr__list_resize(list, l.len);
		if (rc)
			rc = hamr__run_fail(r, rc, p->nodes[owner].name, NULL);
	}
	block_run b = {r, owner, f, &l, concurrent, 0};
	if (!rc && l.len) {
		if (concurrent)
			hamr_parallel_for(0, l.len, run_batch, &b);
		else
			run_items(&b, f, 0, l.len);
		rc = atomic_load(&b.rc);
	}
	if (rc) {
		/* a failed block gives no lists: half-filled ones would look
		 * like results */
		for (uint32_t k = 0; k < n_clear; k++)
			if (clear[k] < p->n_nodes && p->list_slot[clear[k]] >= 0)
				hamr__value_drop(&f->slots[p->list_slot[clear[k]]]);
	}
	hamr_value_clear(&items);
	/* the outer values the block read: it is done with them */
	for (uint32_t k = p->defer_start[owner]; k < p->defer_start[owner + 1]; k++)
		release(p, f, (int32_t)p->defer[k]);
	return rc;
}

int hamr__run_unit(hamr_run *r, uint32_t i, const hamr__frame *f, int concurrent)
{
	return r->plan->node_block[i] ? run_block(r, i, f, concurrent)
	                              : hamr__run_node_in(r, i, f->slots);
}

int hamr__run_scope(hamr_run *r, int32_t sc, const hamr__frame *f, int concurrent)
{
	const hamr_plan *p = r->plan;
	for (uint32_t u = p->unit_start[sc]; u < p->unit_start[sc + 1]; u++) {
		uint32_t i = p->units[u];
		/* relaxed: a stale view runs one more node (see sequential.c) */
		if (atomic_load_explicit(&r->cancel, memory_order_relaxed))
			return hamr__run_fail(r, HAMR_ECANCELED, NULL, NULL);
		if (atomic_load_explicit(&r->stop, memory_order_relaxed))
			return HAMR_ECANCELED; /* another item failed first */
		int rc = hamr__run_unit(r, i, f, concurrent);
		if (rc)
			return rc;
		const hamr__pnode *pn = &p->nodes[i];
		for (uint32_t k = 0; k < pn->n_args; k++) {
			int32_t s = p->args[pn->arg_start + k];
			if (s >= 0 && p->arg_direct[pn->arg_start + k])
				release(p, f, s);
		}
	}
	return 0;
}
