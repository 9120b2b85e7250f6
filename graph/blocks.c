// SPDX-License-Identifier: MIT
/* Map blocks in a plan: where values live and when they can go.
 *
 * The build gave every node a scope: 0 for the plan itself, or the block
 * of the parallelizable node it runs under (graph/validate.c). A block runs
 * once per item its parallelizable node emits, so its values live for one
 * item; what a collect reads is a list slot that gathers a block node's
 * value at the end of each item, in item order.
 *
 * Release: a node in scope S reading a slot of the same scope releases it
 * when it has run (per item, inside a block). A node reading a slot of an
 * outer scope (a value broadcast into the block) does not: it runs once per
 * item, so the read is charged to the parallelizable node of that outer
 * scope whose block contains the reader, and released when that whole
 * block is done. Defaults are constants and never released.
 *
 * Order: within a scope, a parallelizable node and its whole block are one
 * unit; a unit runs after the units of its scope that its nodes read,
 * including whatever the block reads from outside, and before the collects
 * of its block. A topological order of units per scope is the running
 * order of the sequential executor; the threads executor schedules the
 * units of scope 0 by their edges, and runs blocks with parallel_for. */
#include <stdlib.h>
#include <string.h>

#include "graph/graph_internal.h"
#include "hamr/runtime.h"
#include "serialize/error_internal.h"

/* The scope a node's slot is read in: a parallelizable node's slot holds
 * the current item, read inside its block. */
static int32_t value_scope(const hamr_plan *p, uint32_t i)
{
	return p->node_block[i] ? p->node_block[i] : p->node_scope[i];
}

/* The scope of slot s, or -1 for constants (defaults). */
static int32_t slot_scope(const hamr_plan *p, const hamr_graph *g, uint32_t s,
                          const int32_t *list_of)
{
	if (s < p->n_nodes)
		return value_scope(p, s);
	switch (p->slot_kind[s]) {
	case HAMR__SLOT_GIVEN:
		return 0;
	case HAMR__SLOT_LIST:
	case HAMR__SLOT_FOLD:
		return g->scope_parent[value_scope(p, (uint32_t)list_of[s])];
	default:
		return -1;
	}
}

/* The unit of scope `in` that produces slot s, or -1 (given, constant,
 * or produced in another scope). */
static int32_t producer(const hamr_plan *p, const hamr_graph *g, uint32_t s,
                        int32_t in, const int32_t *list_of)
{
	int32_t x;
	if (s < p->n_nodes) {
		if (p->node_block[s] || p->node_scope[s] != in)
			return -1;
		return (int32_t)s;
	}
	if (p->slot_kind[s] != HAMR__SLOT_LIST && p->slot_kind[s] != HAMR__SLOT_FOLD)
		return -1;
	x = value_scope(p, (uint32_t)list_of[s]);
	while (x > 0 && g->scope_parent[x] != in)
		x = g->scope_parent[x];
	return x > 0 ? p->scope_owner[x] : -1;
}

/* Grouping names: a planning choice, parsed where plans are made. */
static const char *const grouping_names[] = {"default", "auto", "block", "node"};

int hamr_grouping_parse(const char *name, hamr_grouping *out)
{
	for (size_t i = 1; name && out && i < sizeof grouping_names / sizeof *grouping_names; i++) {
		if (!strcmp(name, grouping_names[i])) {
			*out = (hamr_grouping)i;
			return 0;
		}
	}
	return hamr__error_set(HAMR_EINVAL,
	                       "unknown grouping \"%s\" (known: auto, block, node)",
	                       name ? name : "(null)");
}

const char *hamr_grouping_name(hamr_grouping g)
{
	return (unsigned)g < sizeof grouping_names / sizeof *grouping_names ? grouping_names[g] : "?";
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Tags grouping=... and executor=... on parallelizable nodes, and
 * HAMR_GROUPING, which overrides every block's tag. */
static int block_settings(hamr_plan *p, const hamr_graph *g)
{
	hamr_grouping env = HAMR_GROUPING_DEFAULT;
	const char *e = getenv("HAMR_GROUPING");
	if (e && *e && hamr_grouping_parse(e, &env))
		return hamr__error_set(HAMR_EINVAL,
		                       "HAMR_GROUPING=%s: expected auto, block or node", e);
	for (uint32_t sc = 1; sc < p->n_scopes; sc++) {
		int32_t o = p->scope_owner[sc];
		if (o < 0)
			continue;
		const hamr__gnode *gn = g->nodes[p->nodes[o].graph_index];
		for (uint32_t t = 0; t < gn->n_tags; t++) {
			const char *k = gn->tags[t].key, *v = gn->tags[t].value;
			if (!strcmp(k, "grouping")) {
				hamr_grouping gr = HAMR_GROUPING_DEFAULT;
				if (hamr_grouping_parse(v, &gr))
					return hamr__error_set(HAMR_EINVAL,
					                       "node \"%s\": tag grouping=\"%s\": expected auto, block or node",
					                       gn->name, v);
				p->scope_grouping[sc] = (uint8_t)gr;
			} else if (!strcmp(k, "executor")) {
				if (!strcmp(v, "sequential"))
					p->scope_remote[sc] = HAMR_REMOTE_SEQUENTIAL;
				else if (!strcmp(v, "threads"))
					p->scope_remote[sc] = HAMR_REMOTE_THREADS;
				else if (!strcmp(v, "processes"))
					p->scope_remote[sc] = HAMR_REMOTE_PROCESSES;
				else
					return hamr__error_set(HAMR_EINVAL,
					                       "node \"%s\": tag executor=\"%s\": expected sequential, threads or processes",
					                       gn->name, v);
			}
		}
		if (env != HAMR_GROUPING_DEFAULT)
			p->scope_grouping[sc] = (uint8_t)env;
	}
	return 0;
}

/* Marks the parallelizable node of each block that runs a node tagged
 * blocking, and of every block around it: their items wait, so they run
 * on the blocking pool. */
static void mark_blocking_blocks(hamr_plan *p)
{
	for (uint32_t i = 0; i < p->n_nodes; i++) {
		if (!(p->nodes[i].flags & HAMR__PNODE_BLOCKING))
			continue;
		for (int32_t sc = p->node_scope[i]; sc > 0;) {
			uint32_t o = (uint32_t)p->scope_owner[sc];
			p->nodes[o].flags |= HAMR__PNODE_BLOCKING_ITEMS;
			sc = p->node_scope[o];
		}
	}
}

static int grow_slots(hamr_plan *p, uint32_t extra)
{
	size_t ns = (size_t)p->n_slots + extra;
	uint32_t *consumers = realloc(p->consumers, ns * sizeof *consumers);
	if (consumers)
		p->consumers = consumers;
	uint8_t *kind = realloc(p->slot_kind, ns);
	if (kind)
		p->slot_kind = kind;
	uint8_t *pinned = realloc(p->slot_pinned, ns);
	if (pinned)
		p->slot_pinned = pinned;
	const char **name = realloc(p->slot_name, ns * sizeof *name);
	if (name)
		p->slot_name = name;
	hamr_type *type = realloc(p->slot_type, ns * sizeof *type);
	if (type)
		p->slot_type = type;
	return consumers && kind && pinned && name && type ? 0 : HAMR_ENOMEM;
}

/* A value given for a node inside a block, or for the node that opens one,
 * leaves a block without its items: refuse it. */
static int refuse_given_block_values(const hamr_plan *p, const hamr_graph *g)
{
	uint32_t n = p->n_nodes;
	for (uint32_t i = 0; i < n; i++) {
		const hamr__gnode *gn = g->nodes[p->nodes[i].graph_index];
		for (uint32_t k = 0; k < p->nodes[i].n_args; k++) {
			int32_t a = p->args[p->nodes[i].arg_start + k];
			if (a >= (int32_t)n && (gn->deps[k].flags & HAMR_DEP_COLLECT))
				return hamr__error_set(HAMR_EBLOCK,
				                       "cannot give a value for \"%s\": it is inside a map block (collected by \"%s\"); give one for the collect instead",
				                       gn->deps[k].name, gn->name);
		}
	}
	uint8_t *computed = NULL;
	for (uint32_t i = 0; i < n; i++) {
		const hamr__gnode *gn = g->nodes[p->nodes[i].graph_index];
		if (gn->scope <= 0)
			continue;
		if (!computed) {
			computed = calloc(g->n_nodes ? g->n_nodes : 1, 1);
			if (!computed)
				return hamr__error_set(HAMR_ENOMEM, "out of memory compiling a plan");
			for (uint32_t j = 0; j < n; j++)
				computed[p->nodes[j].graph_index] = 1;
		}
		int32_t owner = g->scope_owner[gn->scope];
		if (!computed[owner]) {
			free(computed);
			return hamr__error_set(HAMR_EBLOCK,
			                       "cannot give a value for \"%s\": \"%s\" runs in its map block; give one for a collect of the block instead",
			                       g->nodes[owner]->name, gn->name);
		}
	}
	free(computed);
	return 0;
}

/* What the phases of hamr__plan_blocks hand on to each other. The arrays
 * are scratch, freed when planning ends; what the plan keeps is in p. */
struct block_planning {
	hamr_plan *p;
	const hamr_graph *g;
	uint32_t n;          /* plan nodes */
	size_t nn, nsc;      /* nodes (at least 1) and scopes, for sizes */
	int32_t *list_of;    /* list or fold slot: the node it gathers */
	uint8_t *tolerant;   /* node: collected tolerantly into its list */
	uint32_t *dcount;    /* node: a counter per node, reused by phases */
	uint32_t *indeg, *estart, *edges, *queue; /* unit edges, Kahn's queue */
	uint32_t n_ordered;  /* units in queue, in running order */
};

/* The plan's block tables, with each node's scope and block, and each
 * block's parallelizable node, filled in. */
static int alloc_block_tables(struct block_planning *w)
{
	hamr_plan *p = w->p;
	const hamr_graph *g = w->g;
	uint32_t n = w->n;
	size_t nn = w->nn, nsc = w->nsc;
	uint32_t n_args = n ? p->nodes[n - 1].arg_start + p->nodes[n - 1].n_args : 0;
	p->n_scopes = g->n_scopes;
	p->node_scope = malloc(nn * sizeof *p->node_scope);
	p->node_block = malloc(nn * sizeof *p->node_block);
	p->scope_owner = malloc(nsc * sizeof *p->scope_owner);
	p->list_slot = malloc(nn * sizeof *p->list_slot);
	p->arg_direct = calloc(n_args ? n_args : 1, 1);
	p->arg_tolerant = calloc(n_args ? n_args : 1, 1);
	p->unit_start = calloc(nsc + 1, sizeof *p->unit_start);
	p->units = malloc(nn * sizeof *p->units);
	p->defer_start = calloc(nn + 1, sizeof *p->defer_start);
	p->clear_start = calloc(nsc + 1, sizeof *p->clear_start);
	if (!p->node_scope || !p->node_block || !p->scope_owner || !p->list_slot ||
	    !p->arg_direct || !p->arg_tolerant || !p->unit_start || !p->units || !p->defer_start ||
	    !p->clear_start)
		return HAMR_ENOMEM;
	for (uint32_t s = 0; s < nsc; s++)
		p->scope_owner[s] = -1;
	for (uint32_t i = 0; i < n; i++) {
		const hamr__gnode *gn = g->nodes[p->nodes[i].graph_index];
		p->node_scope[i] = gn->scope;
		p->node_block[i] = gn->kind == HAMR_NODE_PARALLELIZABLE ? gn->block : 0;
		p->list_slot[i] = -1;
		if (p->node_block[i])
			p->scope_owner[p->node_block[i]] = (int32_t)i;
	}
	mark_blocking_blocks(p);
	return 0;
}

/* 1. List slots: for collected nodes, and outputs inside a block; an
 * accumulator slot for each fold collect. */
static int make_list_slots(struct block_planning *w)
{
	hamr_plan *p = w->p;
	const hamr_graph *g = w->g;
	uint32_t n = w->n;
	uint32_t n_lists = 0, n_folds = 0;
	w->tolerant = calloc(w->nn, 1);
	if (!w->tolerant)
		return HAMR_ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		const hamr__pnode *pn = &p->nodes[i];
		const hamr__gnode *gn = g->nodes[pn->graph_index];
		for (uint32_t k = 0; k < pn->n_args; k++) {
			int32_t s = p->args[pn->arg_start + k];
			if (s < 0 || !(gn->deps[k].flags & HAMR_DEP_COLLECT))
				continue;
			if (gn->has_fold) {
				n_folds++;
				continue;
			}
			if (gn->deps[k].flags & HAMR_DEP_TOLERANT)
				w->tolerant[s] = 1;
			if (p->list_slot[s] < 0) {
				p->list_slot[s] = 0; /* numbered below */
				n_lists++;
			}
		}
	}
	for (uint32_t o = 0; o < p->n_outputs; o++) {
		uint32_t s = p->out_slots[o];
		if (s >= n || value_scope(p, s) == 0)
			continue;
		if (g->scope_depth[value_scope(p, s)] > 1)
			return hamr__error_set(HAMR_EBLOCK,
			                       "output \"%s\" is inside a nested map block: request a collect of it",
			                       p->out_names[o]);
		if (p->list_slot[s] < 0) {
			p->list_slot[s] = 0;
			n_lists++;
		}
	}
	if (grow_slots(p, n_lists + n_folds))
		return HAMR_ENOMEM;
	w->list_of = malloc(((size_t)p->n_slots + n_lists + n_folds) * sizeof *w->list_of);
	if (!w->list_of)
		return HAMR_ENOMEM;
	int32_t *list_of = w->list_of;
	for (uint32_t i = 0; i < n; i++) {
		if (p->list_slot[i] < 0)
			continue;
		uint32_t s = p->n_slots++;
		p->list_slot[i] = (int32_t)s;
		list_of[s] = (int32_t)i;
		p->slot_kind[s] = HAMR__SLOT_LIST;
		p->slot_pinned[s] = 0;
		p->slot_name[s] = p->nodes[i].name;
		p->slot_type[s] = HAMR_LIST;
	}
	for (uint32_t i = 0; i < n; i++) {
		hamr__pnode *pn = &p->nodes[i];
		const hamr__gnode *gn = g->nodes[pn->graph_index];
		for (uint32_t k = 0; k < pn->n_args; k++) {
			int32_t *a = &p->args[pn->arg_start + k];
			if (*a < 0 || !(gn->deps[k].flags & HAMR_DEP_COLLECT))
				continue;
			pn->flags |= HAMR__PNODE_COLLECTS;
			p->arg_tolerant[pn->arg_start + k] = (gn->deps[k].flags & HAMR_DEP_TOLERANT) != 0;
			if (!gn->has_fold) {
				*a = p->list_slot[*a];
				continue;
			}
			uint32_t s = p->n_slots++;
			list_of[s] = *a;
			p->slot_kind[s] = HAMR__SLOT_FOLD;
			p->slot_pinned[s] = 0;
			p->slot_name[s] = p->nodes[*a].name; /* what it folds */
			p->slot_type[s] = NULL;
			*a = (int32_t)s;
		}
	}
	for (uint32_t o = 0; o < p->n_outputs; o++) {
		uint32_t s = p->out_slots[o];
		if (s < n && value_scope(p, s) != 0) {
			p->slot_pinned[s] = 0;
			p->out_slots[o] = (uint32_t)p->list_slot[s];
			p->slot_pinned[p->list_slot[s]] = 1;
		}
	}
	return 0;
}

/* What each block hands on per item: a value into a list or a fold. */
static int plan_gathers(struct block_planning *w)
{
	hamr_plan *p = w->p;
	const hamr_graph *g = w->g;
	uint32_t n = w->n;
	size_t nsc = w->nsc;
	const int32_t *list_of = w->list_of;
	p->gathered = calloc(w->nn, 1);
	p->gather_start = calloc(nsc + 1, sizeof *p->gather_start);
	if (!p->gathered || !p->gather_start)
		return HAMR_ENOMEM;
	for (uint32_t s = n; s < p->n_slots; s++)
		if (p->slot_kind[s] == HAMR__SLOT_LIST || p->slot_kind[s] == HAMR__SLOT_FOLD)
			p->gather_start[value_scope(p, (uint32_t)list_of[s]) + 1]++;
	for (uint32_t sc = 0; sc < nsc; sc++)
		p->gather_start[sc + 1] += p->gather_start[sc];
	p->gather = calloc(p->gather_start[nsc] ? p->gather_start[nsc] : 1, sizeof *p->gather);
	if (!p->gather)
		return HAMR_ENOMEM;
	uint32_t *fill = calloc(nsc, sizeof *fill);
	if (!fill)
		return HAMR_ENOMEM;
	/* a fold's slot names its node; find it by the argument */
	for (uint32_t i = 0; i < n; i++) {
		const hamr__pnode *pn = &p->nodes[i];
		for (uint32_t k = 0; k < pn->n_args; k++) {
			int32_t a = p->args[pn->arg_start + k];
			if (a < 0 || p->slot_kind[a] != HAMR__SLOT_FOLD)
				continue;
			const hamr__gnode *gn = g->nodes[pn->graph_index];
			int32_t sc = value_scope(p, (uint32_t)list_of[a]);
			hamr__gather *ge = &p->gather[p->gather_start[sc] + fill[sc]++];
			ge->src = (uint32_t)list_of[a];
			ge->dst = (uint32_t)a;
			ge->node = i;
			ge->tolerant = (gn->deps[k].flags & HAMR_DEP_TOLERANT) != 0;
			ge->fold = &gn->fold;
			ge->userdata = gn->userdata;
			p->gathered[ge->src] = 1;
			if (hamr__default_value(&gn->fold.init, &ge->init)) {
				free(fill);
				return HAMR_ENOMEM;
			}
		}
	}
	for (uint32_t s = n; s < p->n_slots; s++) {
		if (p->slot_kind[s] != HAMR__SLOT_LIST)
			continue;
		int32_t sc = value_scope(p, (uint32_t)list_of[s]);
		hamr__gather *ge = &p->gather[p->gather_start[sc] + fill[sc]++];
		ge->src = (uint32_t)list_of[s];
		ge->dst = s;
		ge->node = ge->src;
		ge->tolerant = w->tolerant[ge->src];
		p->gathered[ge->src] = 1;
	}
	free(fill);
	return 0;
}

/* How each block's items run, from its owner's tags and the environment. */
static int choose_block_runs(struct block_planning *w)
{
	hamr_plan *p = w->p;
	p->scope_grouping = calloc(w->nsc, 1);
	p->scope_remote = calloc(w->nsc, 1);
	if (!p->scope_grouping || !p->scope_remote)
		return HAMR_ENOMEM;
	return block_settings(p, w->g);
}

/* 2. Who releases what: direct readers count per item; outer slots are
 * charged to the block's owner, released when the block is done. */
static int assign_releases(struct block_planning *w)
{
	hamr_plan *p = w->p;
	const hamr_graph *g = w->g;
	uint32_t n = w->n;
	memset(p->consumers, 0, p->n_slots * sizeof *p->consumers);
	w->dcount = calloc(w->nn, sizeof *w->dcount);
	if (!w->dcount)
		return HAMR_ENOMEM;
	uint32_t *dcount = w->dcount;
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < n; i++) {
			const hamr__pnode *pn = &p->nodes[i];
			for (uint32_t k = 0; k < pn->n_args; k++) {
				int32_t a = p->args[pn->arg_start + k];
				if (a < 0)
					continue;
				int32_t ss = slot_scope(p, g, (uint32_t)a, w->list_of);
				if (ss < 0) { /* a default: a constant, kept */
					p->slot_pinned[a] = 1;
					continue;
				}
				int32_t x = p->node_scope[i];
				if (ss == x) {
					if (pass == 0) {
						p->arg_direct[pn->arg_start + k] = 1;
						p->consumers[a]++;
					}
					continue;
				}
				while (g->scope_parent[x] != ss)
					x = g->scope_parent[x];
				int32_t holder = p->scope_owner[x];
				if (pass == 0) {
					dcount[holder]++;
					p->consumers[a]++;
				} else {
					p->defer[p->defer_start[holder] + dcount[holder]++] = (uint32_t)a;
				}
			}
		}
		if (pass == 0) {
			for (uint32_t i = 0; i < n; i++) {
				p->defer_start[i + 1] = p->defer_start[i] + dcount[i];
				dcount[i] = 0;
			}
			p->defer = malloc((p->defer_start[n] ? p->defer_start[n] : 1) *
			                  sizeof *p->defer);
			if (!p->defer)
				return HAMR_ENOMEM;
		}
	}
	return 0;
}

/* 3. Slots to reset and clear per item, by scope. */
static int list_item_clears(struct block_planning *w)
{
	hamr_plan *p = w->p;
	size_t nsc = w->nsc;
	for (uint32_t s = 0; s < p->n_slots; s++) {
		int32_t sc = slot_scope(p, w->g, s, w->list_of);
		if (sc > 0)
			p->clear_start[sc + 1]++;
	}
	for (uint32_t sc = 0; sc < nsc; sc++)
		p->clear_start[sc + 1] += p->clear_start[sc];
	p->clear = malloc((p->clear_start[nsc] ? p->clear_start[nsc] : 1) *
	                  sizeof *p->clear);
	if (!p->clear)
		return HAMR_ENOMEM;
	uint32_t *fill = calloc(nsc, sizeof *fill);
	if (!fill)
		return HAMR_ENOMEM;
	for (uint32_t s = 0; s < p->n_slots; s++) {
		int32_t sc = slot_scope(p, w->g, s, w->list_of);
		if (sc > 0)
			p->clear[p->clear_start[sc] + fill[sc]++] = s;
	}
	free(fill);
	return 0;
}

/* The edges between units of one scope, as lists per producer (estart,
 * edges), and each unit's count of producers (indeg). A unit reads its
 * arguments and the outer slots it holds for its block. */
static int link_units(struct block_planning *w)
{
	const hamr_plan *p = w->p;
	uint32_t n = w->n;
	uint32_t *dcount = w->dcount, *indeg = w->indeg, *estart = w->estart;
	for (int pass = 0; pass < 2; pass++) {
		memset(dcount, 0, w->nn * sizeof *dcount);
		for (uint32_t i = 0; i < n; i++) {
			const hamr__pnode *pn = &p->nodes[i];
			int32_t in = p->node_scope[i];
			uint32_t nd = pn->n_args + p->defer_start[i + 1] - p->defer_start[i];
			for (uint32_t k = 0; k < nd; k++) {
				int32_t a = k < pn->n_args ? p->args[pn->arg_start + k] :
				                             (int32_t)p->defer[p->defer_start[i] + k - pn->n_args];
				if (a < 0)
					continue;
				int32_t u = producer(p, w->g, (uint32_t)a, in, w->list_of);
				if (u < 0 || (uint32_t)u == i)
					continue;
				if (pass == 0) {
					estart[u + 1]++;
					indeg[i]++;
				} else {
					w->edges[estart[u] + dcount[u]++] = i;
				}
			}
		}
		if (pass == 0) {
			for (uint32_t i = 0; i < n; i++)
				estart[i + 1] += estart[i];
			w->edges = malloc((estart[n] ? estart[n] : 1) * sizeof *w->edges);
			if (!w->edges)
				return HAMR_ENOMEM;
		}
	}
	return 0;
}

/* Units left over by the ordering wait for each other: names a block that
 * reads a value computed from its own collect, where there is one. */
static int report_waiting_units(const struct block_planning *w)
{
	const hamr_plan *p = w->p;
	uint32_t n = w->n;
	const uint32_t *indeg = w->indeg, *estart = w->estart, *edges = w->edges;
	for (uint32_t u = 0; u < n; u++) {
		if (!indeg[u] || !p->node_block[u])
			continue;
		for (uint32_t v = 0; v < n; v++)
			for (uint32_t e = estart[v]; e < estart[v + 1]; e++)
				if (edges[e] == u && indeg[v])
					return hamr__error_set(HAMR_EBLOCK,
					                       "the block of \"%s\" reads \"%s\", which waits for that block's own results: it would wait for itself",
					                       p->nodes[u].name, p->nodes[v].name);
	}
	return hamr__error_set(HAMR_EBLOCK, "map blocks that wait for each other");
}

/* 4. Running order of units, per scope (Kahn, ties in plan order): the
 * order is left in queue, n_ordered long. */
static int order_units(struct block_planning *w)
{
	uint32_t n = w->n;
	int rc;
	w->indeg = calloc(w->nn, sizeof *w->indeg);
	w->estart = calloc(w->nn + 1, sizeof *w->estart);
	w->queue = malloc(w->nn * sizeof *w->queue);
	if (!w->indeg || !w->estart || !w->queue)
		return HAMR_ENOMEM;
	if ((rc = link_units(w)))
		return rc;
	uint32_t *indeg = w->indeg, *estart = w->estart, *edges = w->edges, *queue = w->queue;
	uint32_t head = 0, tail = 0;
	for (uint32_t i = 0; i < n; i++)
		if (!indeg[i])
			queue[tail++] = i;
	while (head < tail) {
		uint32_t u = queue[head++];
		for (uint32_t e = estart[u]; e < estart[u + 1]; e++)
			if (--indeg[edges[e]] == 0)
				queue[tail++] = edges[e];
	}
	w->n_ordered = tail;
	if (tail < n)
		return report_waiting_units(w);
	return 0;
}

/* Buckets the order by scope, keeping it within each; inside a block,
 * units are sorted by level (a unit's level is one more than the deepest
 * unit of its scope it reads), so that the units of one level, which
 * never read each other, sit together: per-node grouping runs each
 * level's units at once. */
static int sort_units_by_level(struct block_planning *w)
{
	hamr_plan *p = w->p;
	uint32_t n = w->n;
	size_t nn = w->nn, nsc = w->nsc;
	const uint32_t *estart = w->estart, *edges = w->edges, *queue = w->queue;
	uint32_t *dcount = w->dcount, tail = w->n_ordered;
	p->unit_level = malloc(nn * sizeof *p->unit_level);
	if (!p->unit_level)
		return HAMR_ENOMEM;
	memset(dcount, 0, nn * sizeof *dcount); /* level per node */
	for (uint32_t k = 0; k < tail; k++) {
		uint32_t u = queue[k];
		for (uint32_t e = estart[u]; e < estart[u + 1]; e++)
			if (dcount[edges[e]] < dcount[u] + 1)
				dcount[edges[e]] = dcount[u] + 1;
	}
	for (uint32_t i = 0; i < n; i++)
		p->unit_start[p->node_scope[i] + 1]++;
	for (uint32_t sc = 0; sc < nsc; sc++)
		p->unit_start[sc + 1] += p->unit_start[sc];
	uint32_t *fill = calloc(nsc, sizeof *fill);
	uint64_t *key = malloc(nn * sizeof *key);
	if (!fill || !key) {
		free(fill);
		free(key);
		return HAMR_ENOMEM;
	}
	for (uint32_t k = 0; k < tail; k++) {
		uint32_t i = queue[k];
		int32_t sc = p->node_scope[i];
		uint64_t lv = sc > 0 ? dcount[i] : 0;
		key[p->unit_start[sc] + fill[sc]++] = lv << 32 | k;
	}
	for (uint32_t sc = 1; sc < nsc; sc++)
		qsort(key + p->unit_start[sc], p->unit_start[sc + 1] - p->unit_start[sc],
		      sizeof *key, cmp_u64);
	for (uint32_t k = 0; k < n; k++) {
		p->units[k] = queue[(uint32_t)key[k]];
		p->unit_level[k] = (uint32_t)(key[k] >> 32);
	}
	free(fill);
	free(key);
	return 0;
}

/* 5. The threads executor schedules the units of scope 0: their
 * dependents and pending counts become the unit edges. */
static int schedule_top_units(struct block_planning *w)
{
	hamr_plan *p = w->p;
	uint32_t n = w->n;
	const uint32_t *estart = w->estart, *edges = w->edges;
	uint32_t n_edges = 0;
	for (uint32_t i = 0; i < n; i++)
		if (p->node_scope[i] == 0)
			n_edges += estart[i + 1] - estart[i];
	uint32_t *deps = malloc((n_edges ? n_edges : 1) * sizeof *deps);
	if (!deps)
		return HAMR_ENOMEM;
	free(p->dependents);
	p->dependents = deps;
	for (uint32_t i = 0; i < n; i++) {
		p->nodes[i].n_pending = 0;
		p->nodes[i].n_dependents = 0;
	}
	uint32_t off = 0;
	p->n_sched = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (p->node_scope[i] != 0)
			continue;
		p->n_sched++;
		p->nodes[i].dep_start = off;
		for (uint32_t e = estart[i]; e < estart[i + 1]; e++) {
			deps[off++] = edges[e];
			p->nodes[edges[e]].n_pending++;
		}
		p->nodes[i].n_dependents = estart[i + 1] - estart[i];
	}
	p->n_roots = 0;
	for (uint32_t i = 0; i < n; i++) {
		p->pending_init[i] = p->nodes[i].n_pending;
		if (p->node_scope[i] == 0 && !p->nodes[i].n_pending)
			p->roots[p->n_roots++] = i;
	}
	return 0;
}

int hamr__plan_blocks(hamr_plan *p, const hamr_graph *g)
{
	static int (*const phases[])(struct block_planning *) = {
		alloc_block_tables, make_list_slots, plan_gathers, choose_block_runs,
		assign_releases, list_item_clears, order_units, sort_units_by_level,
		schedule_top_units,
	};
	uint32_t n = p->n_nodes, np = 0;
	int rc;
	p->n_scopes = 1;
	for (uint32_t i = 0; i < n; i++)
		np += p->nodes[i].kind == HAMR_NODE_PARALLELIZABLE;
	if ((rc = refuse_given_block_values(p, g)))
		return rc;
	if (!np)
		return 0;

	struct block_planning w = {.p = p, .g = g, .n = n, .nn = n ? n : 1, .nsc = g->n_scopes};
	rc = 0;
	for (size_t i = 0; !rc && i < sizeof phases / sizeof *phases; i++)
		rc = phases[i](&w);
	if (rc == HAMR_ENOMEM && !strstr(hamr_errmsg(), "out of memory"))
		hamr__error_set(HAMR_ENOMEM, "out of memory compiling a plan");
	free(w.list_of);
	free(w.tolerant);
	free(w.indeg);
	free(w.estart);
	free(w.edges);
	free(w.queue);
	free(w.dcount);
	return rc;
}
