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
 * Under keep_going a failed node does not stop the others; a node whose
 * input failed is skipped (hamr__run_node_in checks).
 *
 * Plans with map blocks run by scope (runtime/blocks/blocks.c), in item
 * order. */
#include "runtime/core/run_internal.h"
#include "serialize/value_internal.h"

int hamr__exec_sequential(hamr_run *r)
{
	const hamr_plan *p = r->plan;
	if (p->n_scopes > 1) {
		hamr__frame f = {r->slots, r->remaining, 0};
		int rc = hamr__run_scope(r, 0, &f);
		return rc == HAMR__SKIPPED ? 0 : rc;
	}
	for (uint32_t i = 0; i < p->n_nodes; i++) {
		/* relaxed: a stale read delays the stop by at most one node;
		 * a cancel from a node of this run is in program order */
		if (atomic_load_explicit(&r->cancel, memory_order_relaxed))
			return hamr__run_fail(r, HAMR_ECANCELED, NULL, NULL);
		int rc = hamr__run_node(r, i);
		if (rc && !r->keep_going)
			return rc;
		hamr__release_args_alone(p, r, i);
	}
	return 0;
}
