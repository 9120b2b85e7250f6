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
	int32_t scope;
	if (s < p->n_nodes) {
		if (p->node_block[s] || p->node_scope[s] != in)
			return -1;
		return (int32_t)s;
	}
	if (p->slot_kind[s] != HAMR__SLOT_LIST && p->slot_kind[s] != HAMR__SLOT_FOLD)
		return -1;
	scope = value_scope(p, (uint32_t)list_of[s]);
	while (scope > 0 && g->scope_parent[scope] != in)
		scope = g->scope_parent[scope];
	return scope > 0 ? p->scope_owner[scope] : -1;
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
	hamr_grouping env_grouping = HAMR_GROUPING_DEFAULT;
	const char *env_value = getenv("HAMR_GROUPING");
	if (env_value && *env_value && hamr_grouping_parse(env_value, &env_grouping))
		return hamr__error_set(HAMR_EINVAL,
		                       "HAMR_GROUPING=%s: expected auto, block or node", env_value);
	for (uint32_t sc = 1; sc < p->n_scopes; sc++) {
		int32_t owner = p->scope_owner[sc];
		if (owner < 0)
			continue;
		const hamr__gnode *gn = g->nodes[p->nodes[owner].graph_index];
		for (uint32_t t = 0; t < gn->n_tags; t++) {
			const char *k = gn->tags[t].key, *v = gn->tags[t].value;
			if (!strcmp(k, "grouping")) {
				hamr_grouping grouping = HAMR_GROUPING_DEFAULT;
				if (hamr_grouping_parse(v, &grouping))
					return hamr__error_set(HAMR_EINVAL,
					                       "node \"%s\": tag grouping=\"%s\": expected auto, block or node",
					                       gn->name, v);
				p->scope_grouping[sc] = (uint8_t)grouping;
			} else if (!strcmp(k, "executor")) {
				if (!strcmp(v, "sequential"))
					p->scope_remote[sc] = HAMR_REMOTE_SEQUENTIAL;
				else if (!strcmp(v, "threads"))
					p->scope_remote[sc] = HAMR_REMOTE_THREADS;
				else if (!strcmp(v, "processes"))
					p->scope_remote[sc] = HAMR_REMOTE_PROCESSES;
				else if (!strcmp(v, "mpi"))
					p->scope_remote[sc] = HAMR_REMOTE_MPI;
				else
					return hamr__error_set(HAMR_EINVAL,
					                       "node \"%s\": tag executor=\"%s\": expected sequential, threads, processes or mpi",
					                       gn->name, v);
			}
		}
		if (env_grouping != HAMR_GROUPING_DEFAULT)
			p->scope_grouping[sc] = (uint8_t)env_grouping;
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
			uint32_t owner = (uint32_t)p->scope_owner[sc];
			p->nodes[owner].flags |= HAMR__PNODE_BLOCKING_ITEMS;
			sc = p->node_scope[owner];
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
 * leaves a block without its items: refuse it. Only a collect node has
 * collected dependencies, and only a graph with a parallelizable node has
 * blocks, so most plans skip both passes (each a look at every node's
 * graph record, in plan order). */
static int refuse_given_block_values(const hamr_plan *p, const hamr_graph *g)
{
	uint32_t n = p->n_nodes;
	uint32_t n_collects = 0;
	for (uint32_t i = 0; i < n; i++)
		n_collects += p->nodes[i].kind == HAMR_NODE_COLLECT;
	for (uint32_t i = 0; i < n && n_collects; i++) {
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
	for (uint32_t i = 0; i < n && g->n_scopes > 1; i++) {
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
	uint32_t *per_node;  /* a number per node, reused by phases: reads
	                      * deferred, edges placed, level */
	uint32_t *indeg, *estart, *edges, *queue; /* unit edges, Kahn's queue */
	uint32_t n_ordered;  /* units in queue, in running order */
};

/* The plan's block tables, with each node's scope and block, and each
 * block's parallelizable node, filled in. */
static int alloc_block_tables(struct block_planning *bp)
{
	hamr_plan *p = bp->p;
	const hamr_graph *g = bp->g;
	uint32_t n = bp->n;
	size_t nn = bp->nn, nsc = bp->nsc;
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

/* Marks, with list_slot 0, each node whose values need a list slot: a
 * node collected into a list, and an output inside a block; counts them
 * in *n_lists, and the fold collects' reads, which each get an
 * accumulator slot, in *n_folds. */
static int mark_list_slots(struct block_planning *bp, uint32_t *n_lists, uint32_t *n_folds)
{
	hamr_plan *p = bp->p;
	const hamr_graph *g = bp->g;
	uint32_t n = bp->n;
	for (uint32_t i = 0; i < n; i++) {
		const hamr__pnode *pn = &p->nodes[i];
		const hamr__gnode *gn = g->nodes[pn->graph_index];
		for (uint32_t k = 0; k < pn->n_args; k++) {
			int32_t s = p->args[pn->arg_start + k];
			if (s < 0 || !(gn->deps[k].flags & HAMR_DEP_COLLECT))
				continue;
			if (gn->fold) {
				(*n_folds)++;
				continue;
			}
			if (gn->deps[k].flags & HAMR_DEP_TOLERANT)
				bp->tolerant[s] = 1;
			if (p->list_slot[s] < 0) {
				p->list_slot[s] = 0; /* numbered below */
				(*n_lists)++;
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
			(*n_lists)++;
		}
	}
	return 0;
}

/* Points each collected argument at the list slot of the node it
 * collects, or for a fold collect at a new accumulator slot. */
static void point_collects_at_slots(struct block_planning *bp)
{
	hamr_plan *p = bp->p;
	int32_t *list_of = bp->list_of;
	for (uint32_t i = 0; i < bp->n; i++) {
		hamr__pnode *pn = &p->nodes[i];
		const hamr__gnode *gn = bp->g->nodes[pn->graph_index];
		for (uint32_t k = 0; k < pn->n_args; k++) {
			int32_t *a = &p->args[pn->arg_start + k];
			if (*a < 0 || !(gn->deps[k].flags & HAMR_DEP_COLLECT))
				continue;
			pn->flags |= HAMR__PNODE_COLLECTS;
			p->arg_tolerant[pn->arg_start + k] = (gn->deps[k].flags & HAMR_DEP_TOLERANT) != 0;
			if (!gn->fold) {
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
}

/* 1. List slots: for collected nodes, and outputs inside a block (an
 * output there is read from its list); an accumulator slot for each fold
 * collect. */
static int make_list_slots(struct block_planning *bp)
{
	hamr_plan *p = bp->p;
	uint32_t n = bp->n;
	uint32_t n_lists = 0, n_folds = 0;
	int rc;
	bp->tolerant = calloc(bp->nn, 1);
	if (!bp->tolerant)
		return HAMR_ENOMEM;
	if ((rc = mark_list_slots(bp, &n_lists, &n_folds)))
		return rc;
	if (grow_slots(p, n_lists + n_folds))
		return HAMR_ENOMEM;
	bp->list_of = malloc(((size_t)p->n_slots + n_lists + n_folds) * sizeof *bp->list_of);
	if (!bp->list_of)
		return HAMR_ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		if (p->list_slot[i] < 0)
			continue;
		uint32_t s = p->n_slots++;
		p->list_slot[i] = (int32_t)s;
		bp->list_of[s] = (int32_t)i;
		p->slot_kind[s] = HAMR__SLOT_LIST;
		p->slot_pinned[s] = 0;
		p->slot_name[s] = p->nodes[i].name;
		p->slot_type[s] = HAMR_LIST;
	}
	point_collects_at_slots(bp);
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
static int plan_gathers(struct block_planning *bp)
{
	hamr_plan *p = bp->p;
	const hamr_graph *g = bp->g;
	uint32_t n = bp->n;
	size_t nsc = bp->nsc;
	const int32_t *list_of = bp->list_of;
	p->gathered = calloc(bp->nn, 1);
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
			ge->fold = gn->fold;
			ge->userdata = gn->userdata;
			p->gathered[ge->src] = 1;
			if (hamr__default_value(&gn->fold->init, &ge->init)) {
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
		ge->tolerant = bp->tolerant[ge->src];
		p->gathered[ge->src] = 1;
	}
	free(fill);
	return 0;
}

/* How each block's items run, from its owner's tags and the environment. */
static int choose_block_runs(struct block_planning *bp)
{
	hamr_plan *p = bp->p;
	p->scope_grouping = calloc(bp->nsc, 1);
	p->scope_remote = calloc(bp->nsc, 1);
	if (!p->scope_grouping || !p->scope_remote)
		return HAMR_ENOMEM;
	return block_settings(p, bp->g);
}

/* 2. Who releases what: direct readers count per item; outer slots are
 * charged to the block's owner, released when the block is done. */
static int assign_releases(struct block_planning *bp)
{
	hamr_plan *p = bp->p;
	const hamr_graph *g = bp->g;
	uint32_t n = bp->n;
	memset(p->consumers, 0, p->n_slots * sizeof *p->consumers);
	bp->per_node = calloc(bp->nn, sizeof *bp->per_node);
	if (!bp->per_node)
		return HAMR_ENOMEM;
	uint32_t *n_deferred = bp->per_node;
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < n; i++) {
			const hamr__pnode *pn = &p->nodes[i];
			for (uint32_t k = 0; k < pn->n_args; k++) {
				int32_t a = p->args[pn->arg_start + k];
				if (a < 0)
					continue;
				int32_t read_scope = slot_scope(p, g, (uint32_t)a, bp->list_of);
				if (read_scope < 0) { /* a default: a constant, kept */
					p->slot_pinned[a] = 1;
					continue;
				}
				int32_t scope = p->node_scope[i];
				if (read_scope == scope) {
					if (pass == 0) {
						p->arg_direct[pn->arg_start + k] = 1;
						p->consumers[a]++;
					}
					continue;
				}
				while (g->scope_parent[scope] != read_scope)
					scope = g->scope_parent[scope];
				int32_t holder = p->scope_owner[scope];
				if (pass == 0) {
					n_deferred[holder]++;
					p->consumers[a]++;
				} else {
					uint32_t at = p->defer_start[holder] + n_deferred[holder]++;
					p->defer[at] = (uint32_t)a;
				}
			}
		}
		if (pass == 0) {
			for (uint32_t i = 0; i < n; i++) {
				p->defer_start[i + 1] = p->defer_start[i] + n_deferred[i];
				n_deferred[i] = 0;
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
static int list_item_clears(struct block_planning *bp)
{
	hamr_plan *p = bp->p;
	size_t nsc = bp->nsc;
	for (uint32_t s = 0; s < p->n_slots; s++) {
		int32_t sc = slot_scope(p, bp->g, s, bp->list_of);
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
		int32_t sc = slot_scope(p, bp->g, s, bp->list_of);
		if (sc > 0)
			p->clear[p->clear_start[sc] + fill[sc]++] = s;
	}
	free(fill);
	return 0;
}

/* The edges between units of one scope, as lists per producer (estart,
 * edges), and each unit's count of producers (indeg). A unit reads its
 * arguments and the outer slots it holds for its block. */
static int link_units(struct block_planning *bp)
{
	const hamr_plan *p = bp->p;
	uint32_t n = bp->n;
	uint32_t *n_placed = bp->per_node, *indeg = bp->indeg, *estart = bp->estart;
	for (int pass = 0; pass < 2; pass++) {
		memset(n_placed, 0, bp->nn * sizeof *n_placed);
		for (uint32_t i = 0; i < n; i++) {
			const hamr__pnode *pn = &p->nodes[i];
			int32_t in = p->node_scope[i];
			uint32_t n_reads = pn->n_args + p->defer_start[i + 1] - p->defer_start[i];
			for (uint32_t k = 0; k < n_reads; k++) {
				int32_t a = k < pn->n_args ? p->args[pn->arg_start + k] :
				                             (int32_t)p->defer[p->defer_start[i] + k - pn->n_args];
				if (a < 0)
					continue;
				int32_t u = producer(p, bp->g, (uint32_t)a, in, bp->list_of);
				if (u < 0 || (uint32_t)u == i)
					continue;
				if (pass == 0) {
					estart[u + 1]++;
					indeg[i]++;
				} else {
					bp->edges[estart[u] + n_placed[u]++] = i;
				}
			}
		}
		if (pass == 0) {
			for (uint32_t i = 0; i < n; i++)
				estart[i + 1] += estart[i];
			bp->edges = malloc((estart[n] ? estart[n] : 1) * sizeof *bp->edges);
			if (!bp->edges)
				return HAMR_ENOMEM;
		}
	}
	return 0;
}

/* Units left over by the ordering wait for each other: names a block that
 * reads a value computed from its own collect, where there is one. */
static int report_waiting_units(const struct block_planning *bp)
{
	const hamr_plan *p = bp->p;
	uint32_t n = bp->n;
	const uint32_t *indeg = bp->indeg, *estart = bp->estart, *edges = bp->edges;
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
static int order_units(struct block_planning *bp)
{
	uint32_t n = bp->n;
	int rc;
	bp->indeg = calloc(bp->nn, sizeof *bp->indeg);
	bp->estart = calloc(bp->nn + 1, sizeof *bp->estart);
	bp->queue = malloc(bp->nn * sizeof *bp->queue);
	if (!bp->indeg || !bp->estart || !bp->queue)
		return HAMR_ENOMEM;
	if ((rc = link_units(bp)))
		return rc;
	bp->n_ordered = hamr__graph_topo_order(n, bp->estart, bp->edges, bp->indeg, bp->queue);
	if (bp->n_ordered < n)
		return report_waiting_units(bp);
	return 0;
}

/* Buckets the order by scope, keeping it within each; inside a block,
 * units are sorted by level (a unit's level is one more than the deepest
 * unit of its scope it reads), so that the units of one level, which
 * never read each other, sit together: per-node grouping runs each
 * level's units at once. */
static int sort_units_by_level(struct block_planning *bp)
{
	hamr_plan *p = bp->p;
	uint32_t n = bp->n;
	size_t nn = bp->nn, nsc = bp->nsc;
	const uint32_t *estart = bp->estart, *edges = bp->edges, *queue = bp->queue;
	uint32_t *level = bp->per_node, tail = bp->n_ordered;
	p->unit_level = malloc(nn * sizeof *p->unit_level);
	if (!p->unit_level)
		return HAMR_ENOMEM;
	memset(level, 0, nn * sizeof *level);
	for (uint32_t k = 0; k < tail; k++) {
		uint32_t u = queue[k];
		for (uint32_t e = estart[u]; e < estart[u + 1]; e++)
			if (level[edges[e]] < level[u] + 1)
				level[edges[e]] = level[u] + 1;
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
		uint64_t key_level = sc > 0 ? level[i] : 0; /* scope 0: not sorted */
		key[p->unit_start[sc] + fill[sc]++] = key_level << 32 | k;
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
static int schedule_top_units(struct block_planning *bp)
{
	hamr_plan *p = bp->p;
	uint32_t n = bp->n;
	const uint32_t *estart = bp->estart, *edges = bp->edges;
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
	uint32_t n = p->n_nodes, n_parallel = 0;
	int rc;
	p->n_scopes = 1;
	for (uint32_t i = 0; i < n; i++)
		n_parallel += p->nodes[i].kind == HAMR_NODE_PARALLELIZABLE;
	if ((rc = refuse_given_block_values(p, g)))
		return rc;
	if (!n_parallel)
		return 0;

	struct block_planning bp = {.p = p, .g = g, .n = n, .nn = n ? n : 1, .nsc = g->n_scopes};
	rc = 0;
	for (size_t i = 0; !rc && i < sizeof phases / sizeof *phases; i++)
		rc = phases[i](&bp);
	if (rc == HAMR_ENOMEM && !strstr(hamr_errmsg(), "out of memory"))
		hamr__error_set(HAMR_ENOMEM, "out of memory compiling a plan");
	free(bp.list_of);
	free(bp.tolerant);
	free(bp.indeg);
	free(bp.estart);
	free(bp.edges);
	free(bp.queue);
	free(bp.per_node);
	return rc;
}
