// SPDX-License-Identifier: MIT
/* A serving rank's items in its own worker processes (HAMR_MPI_RANK_EXEC
 * =processes, the default): the program rank 0 sent becomes a graph of
 * this rank's, run once per batch by hamr's process executor, so a node
 * that crashes, hangs or runs out of memory fails its item alone, with
 * the process's pid and signal, and HAMR_TASK_TIMEOUT and HAMR_RETRIES
 * apply as they do in one process.
 *
 * The graph: an input per outside value, the batch's items as an input
 * list that a parallelizable node emits, the program's nodes reading
 * those by name, and per value handed back a tolerant collect that gives
 * the values and their item indices. A node outside blocks (a program without an
 * item) is a plain node of the graph, its result read as it is. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/mpi_internal.h"

#define NAME_ITEMS "__hamr_mpi_items"
#define NAME_EACH "__hamr_mpi_each"
#define NAME_ABSENT "__hamr_mpi_absent" /* no node: an absent optional */

struct rank_plan {
	const mpi_program *p;
	hamr_plan *plan;
	char **names;         /* per local: the graph's name for it */
	const char **outs;    /* the graph's outputs: per value handed back */
	char out_names[HAMR_BACKEND_MAX_OUT][32];
	int *out_outer;       /* per value handed back: 1 when it is an outside
	                       * value, handed back as it is */
};

/* The batch's items, one by one. */
static int f_each(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	for (size_t i = 0; i < l.len; i++) {
		hamr_value x = hamr_list_get(l, i);
		x = hamr_value_ref(&x);
		int rc = hamr_emit(c, &x);
		if (rc)
			return rc;
	}
	return 0;
}

/* A collected list and its items' indices: [indices, values], the items
 * that failed missing from both. The values are the collected list
 * itself, referenced, so that an item costs an index here. */
static int f_indexed(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	hamr_value out, index, values = hamr_value_ref(hamr_arg(c, 0));
	int64_t *at;
	int rc = hamr_value_alloc_list(&index, HAMR_I64, l.len, (void **)&at);
	if (rc) {
		hamr_value_clear(&values);
		return rc;
	}
	for (size_t i = 0; i < l.len; i++)
		at[i] = hamr_arg_item_index(c, 0, i);
	if ((rc = hamr_value_make_list(&out, NULL, 2))) {
		hamr_value_clear(&index);
		hamr_value_clear(&values);
		return rc;
	}
	if (!(rc = hamr_list_append(&out, &index)))
		rc = hamr_list_append(&out, &values);
	hamr_value_clear(&index);
	hamr_value_clear(&values);
	if (rc) {
		hamr_value_clear(&out);
		return rc;
	}
	return hamr_ret_value(c, &out);
}

void hamr__mpi_rank_plan_free(rank_plan *rp)
{
	if (!rp)
		return;
	hamr_plan_destroy(rp->plan);
	for (uint32_t l = 0; rp->names && l < rp->p->prog.n_slots; l++)
		free(rp->names[l]);
	free(rp->names);
	free(rp->outs);
	free(rp->out_outer);
	free(rp);
}

/* The graph's nodes: inputs, the items' emitter, the program's nodes and
 * the collects. */
static int add_nodes(rank_plan *rp, hamr_graph *g, int with_items)
{
	const mpi_program *p = rp->p;
	const hamr_backend_program *prog = &p->prog;
	int rc = 0;
	for (uint32_t l = prog->n_nodes; !rc && l < prog->n_slots; l++)
		if ((int32_t)l != prog->item_slot && p->slots[l].type)
			rc = hamr_graph_add_input(g, rp->names[l], NULL);
	if (!rc && with_items) {
		hamr_dep d[] = {HAMR_DEP(NAME_ITEMS, HAMR_LIST), HAMR_DEPS_END};
		hamr_node_def each = {.name = NAME_EACH, .fn = f_each,
		                      .kind = HAMR_NODE_PARALLELIZABLE, .deps = d};
		if (!(rc = hamr_graph_add_input(g, NAME_ITEMS, HAMR_LIST)))
			rc = hamr_graph_add_node(g, "mpi", &each);
	}
	for (uint32_t k = 0; !rc && k < prog->n_nodes; k++) {
		hamr_backend_node n;
		if ((rc = hamr_backend_node_info(p->plan, k, &n)))
			break;
		hamr_dep *deps = calloc(n.n_args + 1, sizeof *deps);
		if (!deps)
			return HAMR_ENOMEM;
		for (uint32_t a = 0; a < n.n_args; a++) {
			int32_t l = n.args[a];
			deps[a] = (hamr_dep)HAMR_DEP(l < 0 ? NAME_ABSENT : rp->names[l], NULL);
			if (l < 0)
				deps[a].flags = HAMR_DEP_OPTIONAL;
		}
		hamr_node_def def = {.name = n.name, .fn = n.fn, .userdata = n.userdata,
		                     .type = n.type, .deps = deps};
		rc = hamr_graph_add_node(g, "mpi", &def);
		free(deps);
	}
	for (uint32_t k = 0; !rc && with_items && k < prog->n_outs; k++) {
		if (rp->out_outer[k])
			continue;
		hamr_dep d[] = {HAMR_DEP_COLLECTED_TOLERANT(rp->names[prog->outs[k]], NULL),
		                HAMR_DEPS_END};
		hamr_node_def col = {.name = rp->outs[k], .fn = f_indexed, .kind = HAMR_NODE_COLLECT,
		                     .deps = d};
		rc = hamr_graph_add_node(g, "mpi", &col);
	}
	return rc;
}

int hamr__mpi_rank_plan_make(const mpi_program *p, rank_plan **out)
{
	const hamr_backend_program *prog = &p->prog;
	int with_items = prog->item_slot >= 0;
	rank_plan *rp = calloc(1, sizeof *rp);
	int rc = rp ? 0 : HAMR_ENOMEM;
	if (!rc) {
		rp->p = p;
		rp->names = calloc(prog->n_slots ? prog->n_slots : 1, sizeof *rp->names);
		rp->p = p;
		rp->outs = calloc(prog->n_outs ? prog->n_outs : 1, sizeof *rp->outs);
		rp->out_outer = calloc(prog->n_outs ? prog->n_outs : 1, sizeof *rp->out_outer);
		if (!rp->names || !rp->outs || !rp->out_outer)
			rc = HAMR_ENOMEM;
	}
	/* the program's nodes by their names; the item and the outside
	 * values by names of hamr's */
	for (uint32_t l = 0; !rc && l < prog->n_slots; l++) {
		const char *name = NULL;
		char own[32];
		if (l < prog->n_nodes)
			hamr_backend_slot_info(p->plan, l, &name, NULL);
		else if ((int32_t)l == prog->item_slot)
			name = NAME_EACH;
		else
			snprintf(own, sizeof own, "__hamr_mpi_v%u", l);
		if (!(rp->names[l] = strdup(name ? name : own)))
			rc = HAMR_ENOMEM;
	}
	for (uint32_t k = 0; !rc && k < prog->n_outs; k++) {
		uint32_t l = prog->outs[k];
		rp->out_outer[k] = l >= prog->n_nodes && (int32_t)l != prog->item_slot;
		if (!with_items) {
			rp->outs[k] = rp->names[l];
		} else {
			snprintf(rp->out_names[k], sizeof rp->out_names[k], "__hamr_mpi_out%u", k);
			rp->outs[k] = rp->out_names[k];
		}
	}
	hamr_graph *g = NULL;
	if (!rc)
		rc = hamr_graph_create(&g);
	if (!rc)
		rc = add_nodes(rp, g, with_items);
	/* the plan, with every input it will be given (an empty item list) */
	hamr_values *in = NULL;
	if (!rc)
		rc = hamr_values_create(&in);
	for (uint32_t l = prog->n_nodes; !rc && l < prog->n_slots; l++)
		if ((int32_t)l != prog->item_slot && p->slots[l].type) {
			hamr_value v = hamr_value_ref(&p->slots[l]);
			rc = hamr_values_set(in, rp->names[l], &v);
		}
	if (!rc && with_items) {
		hamr_value none;
		if (!(rc = hamr_value_make_list(&none, NULL, 0)))
			rc = hamr_values_set(in, NAME_ITEMS, &none);
	}
	const char *outs[HAMR_BACKEND_MAX_OUT + 1];
	size_t n_outs = 0;
	for (uint32_t k = 0; !rc && k < prog->n_outs; k++)
		if (!rp->out_outer[k])
			outs[n_outs++] = rp->outs[k];
	if (!rc && !n_outs && prog->n_nodes) /* nothing handed back: the last
	                                      * node, to run them all */
		outs[n_outs++] = rp->names[prog->n_nodes - 1];
	if (!rc && n_outs) /* else there is nothing to run: no plan */
		rc = hamr_plan_create(&rp->plan, g, outs, n_outs, in);
	hamr_values_destroy(in);
	hamr_graph_destroy(g);
	if (rc) {
		hamr__mpi_rank_plan_free(rp);
		return rc;
	}
	*out = rp;
	return 0;
}

/* The program node the graph's node `name` is, -1 for none of them. */
static int32_t program_node(const rank_plan *rp, const char *name)
{
	for (uint32_t k = 0; name && k < rp->p->prog.n_nodes; k++)
		if (!strcmp(rp->names[k], name))
			return (int32_t)k;
	return -1;
}

static void item_failed(served_item *it, int code, int32_t node, const char *msg, int pid,
                        int sig, int attempt)
{
	if (it->rc)
		return;
	it->rc = code;
	it->node = node;
	it->msg = msg ? strdup(msg) : NULL;
	it->pid = pid;
	it->signal = sig;
	if (attempt > 0)
		it->attempt = (uint32_t)attempt;
	for (uint32_t o = 0; o < HAMR_BACKEND_MAX_OUT; o++)
		hamr_value_clear(&it->out[o]);
}

/* What the run gave: each item's values by their indices, each failure on
 * its item, and items with neither failed. */
static void take_results(const rank_plan *rp, const hamr_run *r, served_item *items, uint32_t n)
{
	const hamr_backend_program *prog = &rp->p->prog;
	for (size_t e = 0; e < hamr_run_error_count(r); e++) {
		const hamr_error_info *x = hamr_run_error_at(r, e);
		if (prog->item_slot < 0 && n == 1)
			item_failed(&items[0], x->code, program_node(rp, x->node), x->message, x->pid,
			            x->signal, x->attempt);
		else if (x->item >= 0 && (uint64_t)x->item < n)
			item_failed(&items[x->item], x->code, program_node(rp, x->node), x->message,
			            x->pid, x->signal, x->attempt);
	}
	uint8_t *has = calloc((size_t)n * (prog->n_outs ? prog->n_outs : 1), 1);
	for (uint32_t k = 0; has && k < prog->n_outs; k++) {
		if (rp->out_outer[k]) {
			for (uint32_t i = 0; i < n; i++) {
				items[i].out[k] = hamr_value_ref(&rp->p->slots[prog->outs[k]]);
				has[(size_t)i * prog->n_outs + k] = 1;
			}
			continue;
		}
		const hamr_value *res = hamr_run_result(r, rp->outs[k]);
		if (!res)
			continue;
		if (prog->item_slot < 0) { /* a node outside blocks: its value */
			items[0].out[k] = hamr_value_ref(res);
			has[k] = 1;
			continue;
		}
		hamr_list both = hamr_value_list(res);
		hamr_value iv = hamr_list_get(both, 0), vv = hamr_list_get(both, 1);
		hamr_list index = hamr_value_list(&iv), values = hamr_value_list(&vv);
		for (size_t j = 0; both.len == 2 && j < index.len && j < values.len; j++) {
			int64_t i = hamr_list_i64(index, j);
			if (i < 0 || (uint64_t)i >= n || items[i].rc)
				continue;
			hamr_value x = hamr_list_get(values, j);
			items[i].out[k] = hamr_value_ref(&x);
			has[(size_t)i * prog->n_outs + k] = 1;
		}
	}
	const hamr_error_info *first = hamr_run_error(r);
	for (uint32_t i = 0; i < n; i++) {
		int whole = has != NULL;
		for (uint32_t k = 0; whole && k < prog->n_outs; k++)
			whole = has[(size_t)i * prog->n_outs + k];
		if (!whole)
			item_failed(&items[i], first->code ? first->code : HAMR_EFAIL,
			            program_node(rp, first->node),
			            first->code ? first->message : "its values were lost in this rank's run",
			            first->pid, first->signal, first->attempt);
	}
	free(has);
}

/* Each item's span: from its first node's start to its last node's end,
 * as the rank's run reports them (item events carry the item's place in
 * the batch). */
typedef struct spans {
	served_item *items;
	uint32_t n;
	_Atomic int ended; /* the run's end event came */
} spans;

static void on_node(const hamr_event *e, void *ud)
{
	spans *s = ud;
	if (e->kind == HAMR_EV_RUN_END) {
		atomic_store(&s->ended, 1);
		return;
	}
	int64_t i = e->item < 0 && s->n == 1 ? 0 : e->item;
	if (i < 0 || (uint64_t)i >= s->n)
		return;
	served_item *it = &s->items[i];
	if (e->kind == HAMR_EV_NODE_START && (!it->t0 || e->t_ns < it->t0))
		it->t0 = e->t_ns;
	else if (e->kind == HAMR_EV_NODE_END && e->t_ns > it->t1)
		it->t1 = e->t_ns;
}

void hamr__mpi_rank_plan_run(rank_plan *rp, hamr_procpool *pp, served_item *items, uint32_t n,
                             int (*stop)(void *), void *ctx, hamr_process_stats *ps)
{
	*ps = (hamr_process_stats){0};
	const mpi_program *p = rp->p;
	const hamr_backend_program *prog = &p->prog;
	hamr_values *in = NULL;
	int rc = hamr_values_create(&in);
	for (uint32_t l = prog->n_nodes; !rc && l < prog->n_slots; l++)
		if ((int32_t)l != prog->item_slot && p->slots[l].type) {
			hamr_value v = hamr_value_ref(&p->slots[l]);
			rc = hamr_values_set(in, rp->names[l], &v);
		}
	if (!rc && prog->item_slot >= 0) {
		hamr_value list;
		if (!(rc = hamr_value_make_list(&list, NULL, n))) {
			for (uint32_t i = 0; !rc && i < n; i++) {
				hamr_value x = hamr_value_ref(&items[i].v);
				rc = hamr_list_append(&list, &x);
				hamr_value_clear(&x);
			}
			if (!rc)
				rc = hamr_values_set(in, NAME_ITEMS, &list);
			hamr_value_clear(&list);
		}
	}
	/* started on the pool, so that this thread can watch for a cancel */
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	o.executor = prog->item_slot >= 0 ? HAMR_EXEC_THREADS : HAMR_EXEC_PROCESSES;
	o.remote = HAMR_REMOTE_PROCESSES;
	o.procpool = pp;
	o.policy = HAMR_KEEP_GOING;
	spans sp = {items, n, 0};
	hamr_hook hook = {on_node, &sp};
	o.hooks = &hook;
	o.n_hooks = 1;
	hamr_run *r = NULL;
	for (uint32_t i = 0; i < n; i++)
		items[i].t0 = items[i].t1 = 0;
	/* the items' own indices in their block on rank 0, for
	 * hamr_item_index in the nodes (the rank's run numbers them from 0) */
	int64_t *index = prog->item_slot >= 0 ? malloc((n ? n : 1) * sizeof *index) : NULL;
	if (prog->item_slot >= 0 && !index && !rc)
		rc = hamr_backend_error(HAMR_ENOMEM, "out of memory for a batch's item indices");
	for (uint32_t i = 0; index && i < n; i++)
		index[i] = items[i].item;
	int64_t t0 = hamr_backend_now_ns();
	if (!rc && rp->plan && !(rc = hamr_run_create(&r, rp->plan, in, &o)) && index &&
	    (rc = hamr_backend_item_indices(r, index, n))) {
		hamr_run_destroy(r); /* never started: every item fails with rc */
		r = NULL;
	}
	free(index); /* copied by the run */
	index = NULL;
	if (!rc && r && !(rc = hamr_run_start(r))) {
		for (int round = 0, cancelled = 0; !atomic_load(&sp.ended);) {
			if (!cancelled && stop(ctx)) {
				hamr_run_cancel(r);
				cancelled = 1;
			}
			hamr__mpi_backoff(&round);
		}
		rc = hamr_run_wait(r);
	}
	int64_t t1 = hamr_backend_now_ns();
	for (uint32_t i = 0; i < n; i++) /* items no node ran for: the run's span */
		if (!items[i].t0 || items[i].t1 < items[i].t0) {
			items[i].t0 = t0;
			items[i].t1 = t1;
		}
	if (!rc && !rp->plan)
		; /* nothing to run: every item is done */
	else if (rc == HAMR_ECANCELED)
		for (uint32_t i = 0; i < n; i++) { /* what the cancel stopped: dropped */
			items[i].rc = HAMR_ECANCELED;
			items[i].dropped = 1;
			for (uint32_t o2 = 0; o2 < HAMR_BACKEND_MAX_OUT; o2++)
				hamr_value_clear(&items[i].out[o2]);
		}
	else if (r)
		take_results(rp, r, items, n);
	else
		for (uint32_t i = 0; i < n; i++)
			item_failed(&items[i], rc, -1, hamr_errmsg(), 0, 0, 0);
	if (r)
		hamr_run_process_stats(r, ps);
	hamr_run_destroy(r);
	hamr_values_destroy(in);
}
