// SPDX-License-Identifier: MIT
/* The sequential executor: Hamilton's default, one node after another on
 * the calling thread, in the plan's topological order.
 *
 * It is the reference every other executor is tested against, and the
 * baseline for what hamr itself costs per node: a cancel check, the call,
 * and releasing each argument whose last reader this node was. Counters
 * are read and written with relaxed loads and stores, no read-modify-write,
 * since only this thread touches them.
 *
 * Map blocks run in item order: a parallelizable node runs, then its block
 * once per item it emitted (graph/blocks.c laid out the order and the
 * slots). Each item starts with the block's counters reset; at its end,
 * each collected value is appended to its list and the block's slots are
 * cleared, so one item's values never outlive it. Values broadcast into a
 * block from outside are released once the whole block is done. */
#include "runtime/run_internal.h"
#include "serialize/value_internal.h"

int hamr__exec_blocks(hamr_run *r);

int hamr__exec_sequential(hamr_run *r)
{
	const hamr_plan *p = r->plan;
	if (p->n_scopes > 1)
		return hamr__exec_blocks(r);
	const int32_t *args = p->args;
	const uint8_t *pinned = p->slot_pinned;
	atomic_uint *remaining = r->remaining;
	hamr_value *slots = r->slots;

	for (uint32_t i = 0; i < p->n_nodes; i++) {
		/* relaxed: a stale read delays the stop by at most one node;
		 * a cancel from a node of this run is in program order */
		if (atomic_load_explicit(&r->cancel, memory_order_relaxed))
			return hamr__run_fail(r, HAMR_ECANCELED, NULL, NULL);
		int rc = hamr__run_node(r, i);
		if (rc)
			return rc;
		const hamr__pnode *pn = &p->nodes[i];
		for (uint32_t k = 0; k < pn->n_args; k++) {
			int32_t s = args[pn->arg_start + k];
			if (s < 0)
				continue;
			/* relaxed, load and store: only this thread counts */
			unsigned left = atomic_load_explicit(&remaining[s],
			                                     memory_order_relaxed) - 1;
			atomic_store_explicit(&remaining[s], left, memory_order_relaxed);
			if (left == 0 && !pinned[s])
				hamr__value_drop(&slots[s]);
		}
	}
	return 0;
}

/* ---- map blocks ---------------------------------------------------------- */

/* One reader of slot s is done with it. Collected values stay for the
 * item's end, which moves them into their list. */
static void release(hamr_run *r, int32_t s)
{
	const hamr_plan *p = r->plan;
	if ((uint32_t)s < p->n_nodes && p->list_slot[s] >= 0)
		return;
	unsigned left = atomic_load_explicit(&r->remaining[s], memory_order_relaxed) - 1;
	atomic_store_explicit(&r->remaining[s], left, memory_order_relaxed);
	if (left == 0 && !p->slot_pinned[s])
		hamr__value_drop(&r->slots[s]);
}

static int run_scope(hamr_run *r, int32_t sc);

/* A parallelizable node, then its block once per item. */
static int run_block(hamr_run *r, uint32_t owner)
{
	const hamr_plan *p = r->plan;
	int32_t b = p->node_block[owner];
	const uint32_t *clear = p->clear + p->clear_start[b];
	uint32_t n_clear = p->clear_start[b + 1] - p->clear_start[b];
	hamr_value items;
	int rc = hamr__run_emit(r, owner, &items);
	if (rc)
		return rc;
	hamr_list l = hamr_value_list(&items);
	/* the lists this block fills, empty to begin with */
	for (uint32_t k = 0; k < n_clear && !rc; k++) {
		uint32_t s = clear[k];
		if (s >= p->n_nodes || p->list_slot[s] < 0)
			continue;
		hamr_value *list = &r->slots[p->list_slot[s]];
		hamr__value_drop(list);
		if (s == owner)
			*list = hamr_value_ref(&items); /* the items themselves */
		else if ((rc = hamr_value_make_list(list, p->nodes[s].type, l.len)))
			rc = hamr__run_fail(r, rc, p->nodes[owner].name, NULL);
	}
	int64_t outer = r->item;
	for (size_t it = 0; it < l.len && !rc; it++) {
		for (uint32_t k = 0; k < n_clear; k++)
			atomic_store_explicit(&r->remaining[clear[k]],
			                      p->consumers[clear[k]], memory_order_relaxed);
		r->slots[owner] = hamr_value_ref(&l.items[it]);
		r->item = (int64_t)it;
		rc = run_scope(r, b);
		r->item = outer;
		for (uint32_t k = 0; k < n_clear; k++) {
			uint32_t s = clear[k];
			if (!rc && s < p->n_nodes && s != owner && p->list_slot[s] >= 0) {
				hamr_value v = hamr_value_ref(&r->slots[s]);
				int arc = hamr_list_append(&r->slots[p->list_slot[s]], &v);
				if (arc)
					rc = hamr__run_fail(r, arc, p->nodes[s].name, NULL);
			}
		}
		for (uint32_t k = 0; k < n_clear; k++)
			hamr__value_drop(&r->slots[clear[k]]);
	}
	hamr_value_clear(&items);
	/* values read into the block from outside: it is done with them */
	for (uint32_t k = p->defer_start[owner]; k < p->defer_start[owner + 1]; k++)
		release(r, (int32_t)p->defer[k]);
	return rc;
}

static int run_scope(hamr_run *r, int32_t sc)
{
	const hamr_plan *p = r->plan;
	for (uint32_t u = p->unit_start[sc]; u < p->unit_start[sc + 1]; u++) {
		uint32_t i = p->units[u];
		/* relaxed: as in the flat loop above */
		if (atomic_load_explicit(&r->cancel, memory_order_relaxed))
			return hamr__run_fail(r, HAMR_ECANCELED, NULL, NULL);
		int rc = p->node_block[i] ? run_block(r, i) : hamr__run_node(r, i);
		if (rc)
			return rc;
		const hamr__pnode *pn = &p->nodes[i];
		for (uint32_t k = 0; k < pn->n_args; k++) {
			int32_t s = p->args[pn->arg_start + k];
			if (s >= 0 && p->arg_direct[pn->arg_start + k])
				release(r, s);
		}
	}
	return 0;
}

int hamr__exec_blocks(hamr_run *r)
{
	return run_scope(r, 0);
}
