// SPDX-License-Identifier: MIT
/* Plans: the part of a graph that some outputs need, with names compiled
 * away.
 *
 * A depth-first walk from the requested outputs visits what they need and
 * stops at every name the caller gives a value for (an override cuts off
 * everything upstream that only it needed). Its post-order is a topological
 * order; when the graph's own order is one too over the walked nodes (a
 * graph built in dependency order), the plan keeps the graph's order
 * instead (keep_graph_order). A graph whose every node reads only nodes
 * added before it is not walked but swept, from its last node to its
 * first (sweep), which finds the same nodes in graph order. The
 * sequential executor follows the plan's order as it is.
 *
 * Every value a run handles lives in a numbered slot: first the computed
 * nodes (slot i is plan node i's result), then the given values, then the
 * defaults of optional dependencies. A node's arguments are slot numbers,
 * so running a node reads an array and never a name. For the executors
 * that run nodes as their inputs arrive, the plan also lists each node's
 * dependents and how many distinct computed nodes it waits for; for
 * releasing values early, how many arguments read each slot. */
#include <stdlib.h>
#include <string.h>

#include "graph/graph_internal.h"
#include "serialize/error_internal.h"
#include "serialize/spelling_internal.h"

/* A graph node's role in the plan; a node a value is given for is
 * ROLE_OFFERED until the walk reaches it (if it does). */
enum { ROLE_NONE = 0, ROLE_COMPUTE, ROLE_GIVEN, ROLE_MISSING, ROLE_OFFERED };

typedef struct walk {
	const hamr_graph *g;
	const hamr_values *given;
	uint8_t *role;      /* per graph node */
	uint32_t *order;    /* computed graph nodes, post-order */
	uint32_t n_order;
	uint32_t n_given;
	uint32_t n_defaults;
	uint32_t n_missing;
} walk;

static int missing_input(walk *w, const char *input, const char *consumer)
{
	if (w->n_missing == 0)
		hamr__error_set(HAMR_EINPUT, "missing external input");
	if (w->n_missing < 8) {
		if (consumer)
			hamr__error_append(0, "%s \"%s\" (needed by \"%s\")",
			                   w->n_missing ? "," : "", input, consumer);
		else
			hamr__error_append(0, "%s \"%s\" (requested)",
			                   w->n_missing ? "," : "", input);
	} else if (w->n_missing == 8) {
		hamr__error_append(0, ", ...");
	}
	w->n_missing++;
	return 0;
}

int hamr__given_wrong_type(const hamr__gnode *n, hamr_type got)
{
	return hamr__error_set(HAMR_ETYPE,
	                       "the value given for %s \"%s\" is %s, but it is declared %s",
	                       n->kind == HAMR_NODE_INPUT ? "input" : "node", n->name,
	                       hamr_type_name(got), hamr_type_name(n->type));
}

/* Has the walk yet to reach graph node v? */
static int unreached(const walk *w, uint32_t v)
{
	return w->role[v] == ROLE_NONE || w->role[v] == ROLE_OFFERED;
}

/* Is a value given for graph node v? */
static int is_given(const walk *w, uint32_t v)
{
	return w->role[v] == ROLE_OFFERED || w->role[v] == ROLE_GIVEN;
}

/* Classifies graph node v reached from graph node `consumer` (UINT32_MAX:
 * an output). Reads v's record only when a value is given for it. */
static int reach(walk *w, uint32_t v, uint32_t consumer)
{
	const hamr_graph *g = w->g;
	if (w->role[v] == ROLE_OFFERED) {
		const hamr__gnode *n = g->nodes[v];
		const hamr_value *gv = hamr_values_get(w->given, n->name);
		if (n->type && gv->type != n->type)
			return hamr__given_wrong_type(n, gv->type);
		w->role[v] = ROLE_GIVEN;
		w->n_given++;
		return 0;
	}
	if ((g->node_bits[v] & HAMR__NODE_KIND) == HAMR_NODE_INPUT) {
		w->role[v] = ROLE_MISSING;
		return missing_input(w, g->nodes[v]->name,
		                     consumer == UINT32_MAX ? NULL : g->nodes[consumer]->name);
	}
	w->role[v] = ROLE_COMPUTE;
	return 1; /* to expand */
}

/* Does the dependency take its default instead of visiting its target? */
static int dep_defaults(const walk *w, const hamr__gdep *d)
{
	if (d->target < 0)
		return 1;
	if (!(d->flags & HAMR_DEP_OPTIONAL))
		return 0;
	return (w->g->node_bits[d->target] & HAMR__NODE_KIND) == HAMR_NODE_INPUT &&
	       !is_given(w, (uint32_t)d->target);
}

/* The graph node dependency e (a position in g->dep_node) of node v
 * reads, or -1 when it takes its default instead (*d: its record then). */
static int32_t dep_target(const walk *w, uint32_t v, uint32_t e, const hamr__gdep **d)
{
	int32_t t = w->g->dep_node[e];
	if (t >= 0)
		return t; /* plain: required, and names a node */
	*d = &w->g->nodes[v]->deps[e - w->g->dep_start[v]];
	return dep_defaults(w, *d) ? -1 : (*d)->target;
}

/* Dependency e (a position in g->dep_node) of computed node v, met by a
 * walk: a default counted, a missing input recorded, or its target
 * reached. 1 when the target (*t) is newly computed and its own
 * dependencies are to be visited, else 0 or reach's error. */
static int visit_dep(walk *w, uint32_t v, uint32_t e, int32_t *t)
{
	const hamr_graph *g = w->g;
	const hamr__gdep *dflt = NULL;
	if ((*t = dep_target(w, v, e, &dflt)) < 0) {
		w->n_defaults += dflt->dflt.type != NULL;
		return 0;
	}
	if (w->role[*t] == ROLE_MISSING)
		return missing_input(w, g->nodes[*t]->name, g->nodes[v]->name);
	if (!unreached(w, (uint32_t)*t))
		return 0;
	return reach(w, (uint32_t)*t, v);
}

/* Depth-first from root over the packed dependencies (g->dep_node);
 * edge[] holds each stacked node's next dependency, as a position in
 * g->dep_node. A dependency that is not plain is read from its record. */
static int walk_from(walk *w, uint32_t root, uint32_t *stack, uint32_t *edge)
{
	const hamr_graph *g = w->g;
	int rc = reach(w, root, UINT32_MAX);
	if (rc <= 0)
		return rc;
	uint32_t sp = 0;
	stack[sp] = root;
	edge[sp++] = g->dep_start[root];
	while (sp) {
		uint32_t v = stack[sp - 1];
		uint32_t e = edge[sp - 1];
		if (e == g->dep_start[v + 1]) {
			w->order[w->n_order++] = v;
			sp--;
			continue;
		}
		edge[sp - 1] = e + 1;
		int32_t t;
		rc = visit_dep(w, v, e, &t);
		if (rc < 0)
			return rc;
		if (rc > 0) {
			stack[sp] = (uint32_t)t;
			edge[sp++] = g->dep_start[t];
		}
	}
	return 0;
}

/* The walk of a graph whose nodes each read only nodes added before it
 * (g->deps_earlier), from the requested outputs: one sweep from the last
 * node to the first, where a node's readers have all been seen by the
 * time it is reached, so whether it is needed is known; w->order is then
 * the needed nodes in graph order, with the roles and counts the walk
 * gives. The sweep reads the packed dependencies in one pass, back to
 * front (a node's own in order), where the walk jumps between nodes. 0, or a negative error, or missing
 * inputs: the caller walks again then, for the walk's messages. */
static int sweep(walk *w, const uint32_t *outs, size_t n_outputs)
{
	const hamr_graph *g = w->g;
	int rc;
	for (size_t i = 0; i < n_outputs; i++) {
		uint32_t v = outs[i];
		if (w->role[v] == ROLE_MISSING)
			return missing_input(w, g->nodes[v]->name, NULL);
		if (unreached(w, v) && (rc = reach(w, v, UINT32_MAX)) < 0)
			return rc;
	}
	for (uint32_t v = g->n_nodes; v-- > 0;) {
		if (w->role[v] != ROLE_COMPUTE)
			continue;
		for (uint32_t e = g->dep_start[v]; e < g->dep_start[v + 1]; e++) {
			int32_t t;
			if ((rc = visit_dep(w, v, e, &t)) < 0)
				return rc;
		}
		if (w->n_missing)
			return 0;
	}
	for (uint32_t v = 0; v < g->n_nodes; v++)
		if (w->role[v] == ROLE_COMPUTE)
			w->order[w->n_order++] = v;
	return 0;
}

/* The nodes the caller gives values for: looked up once, not per node
 * reached. */
static void mark_given(walk *w)
{
	for (size_t i = 0; i < hamr_values_count(w->given); i++) {
		int32_t v = hamr__graph_lookup(w->g, hamr_values_at(w->given, i, NULL));
		if (v >= 0)
			w->role[v] = ROLE_OFFERED;
	}
}

/* When the graph's own order is a topological order of the walked nodes
 * (each reads only computed nodes added before it, as in a graph built in
 * dependency order), puts w->order in graph order: the layout and the
 * dependents then fill the plan's tables front to back, where the walk's
 * post-order, on a big graph, jumps between records (a cache miss each).
 * Otherwise the walk's order stays. One pass over the packed dependencies,
 * in graph order, unless the walk's order is the graph's already. */
static void keep_graph_order(walk *w)
{
	const hamr_graph *g = w->g;
	uint32_t i = 1;
	while (i < w->n_order && w->order[i - 1] < w->order[i])
		i++;
	if (i >= w->n_order)
		return; /* in graph order already (a chain, a wide graph) */
	for (uint32_t v = 0; v < g->n_nodes; v++) {
		if (w->role[v] != ROLE_COMPUTE)
			continue;
		for (uint32_t e = g->dep_start[v]; e < g->dep_start[v + 1]; e++) {
			const hamr__gdep *d;
			int32_t t = dep_target(w, v, e, &d);
			if (t >= 0 && (uint32_t)t >= v && w->role[t] == ROLE_COMPUTE)
				return; /* read before it is added: the walk's order */
		}
	}
	uint32_t k = 0;
	for (uint32_t v = 0; v < g->n_nodes && k < w->n_order; v++)
		if (w->role[v] == ROLE_COMPUTE)
			w->order[k++] = v;
}

void hamr_plan_destroy(hamr_plan *p)
{
	if (!p)
		return;
	if (p->defaults)
		for (uint32_t d = 0; d < p->n_defaults; d++)
			hamr_value_clear(&p->defaults[d]);
	free(p->nodes);
	free(p->args);
	free(p->pending_init);
	free(p->roots);
	free(p->wide);
	free(p->dependents);
	free(p->consumers);
	free(p->slot_kind);
	free(p->slot_pinned);
	free(p->slot_name);
	free(p->slot_type);
	free(p->defaults);
	free(p->out_names);
	free(p->out_slots);
	free(p->node_scope);
	free(p->node_block);
	free(p->scope_owner);
	free(p->unit_start);
	free(p->units);
	free(p->clear_start);
	free(p->clear);
	free(p->defer_start);
	free(p->defer);
	free(p->list_slot);
	free(p->arg_direct);
	free(p->arg_tolerant);
	free(p->gathered);
	if (p->gather)
		for (uint32_t k = 0; k < p->gather_start[p->n_scopes]; k++)
			hamr_value_clear(&p->gather[k].init);
	free(p->gather);
	free(p->gather_start);
	free(p->unit_level);
	free(p->scope_grouping);
	free(p->scope_remote);
	for (uint32_t k = 0; k < p->n_groups; k++)
		free((char *)p->group_name[k]);
	free(p->group_name);
	free(p->group_cap);
	free(p->node_group);
	hamr__names_free(&p->out_index);
	free(atomic_load_explicit(&p->spare_mem, memory_order_acquire));
	if (p->graph)
		hamr__graph_release(p->graph);
	free(p);
}

/* Tag concurrency=G:N on plan node i: it joins group G, whose nodes run
 * at most N at once. */
static int add_to_group(hamr_plan *p, uint32_t i, const char *node, const char *value)
{
	const char *colon = strrchr(value, ':');
	char *end = NULL;
	long cap = colon ? strtol(colon + 1, &end, 10) : 0;
	if (!colon || colon == value || !end || end == colon + 1 || *end || cap < 1 ||
	    cap > 1000000)
		return hamr__error_set(HAMR_EINVAL,
		                       "node \"%s\": tag concurrency=\"%s\": expected GROUP:N, N from 1 to 1000000 (db:4, say)",
		                       node, value);
	if (p->nodes[i].kind == HAMR_NODE_PARALLELIZABLE)
		return hamr__error_set(HAMR_EINVAL,
		                       "node \"%s\": tag concurrency=\"%s\" on a parallelizable node: its items run while it emits, and would wait for its place; tag the nodes of its block instead",
		                       node, value);
	if (p->node_group && p->node_group[i] >= 0)
		return hamr__error_set(HAMR_EINVAL,
		                       "node \"%s\": a second tag concurrency=\"%s\"; a node belongs to one group",
		                       node, value);
	size_t len = (size_t)(colon - value);
	uint32_t group = 0;
	while (group < p->n_groups &&
	       (strlen(p->group_name[group]) != len || strncmp(p->group_name[group], value, len)))
		group++;
	if (group == p->n_groups) {
		const char **names = realloc(p->group_name, (group + 1) * sizeof *names);
		if (names)
			p->group_name = names;
		uint32_t *caps = realloc(p->group_cap, (group + 1) * sizeof *caps);
		if (caps)
			p->group_cap = caps;
		char *name = strndup(value, len);
		if (!names || !caps || !name) {
			free(name);
			return hamr__error_set(HAMR_ENOMEM, "out of memory compiling a plan");
		}
		names[group] = name;
		caps[group] = (uint32_t)cap;
		p->n_groups++;
	} else if (p->group_cap[group] != (uint32_t)cap) {
		return hamr__error_set(HAMR_EINVAL,
		                       "node \"%s\": tag concurrency=\"%s\" caps group \"%s\" at %ld, but another node caps it at %u",
		                       node, value, p->group_name[group], cap, p->group_cap[group]);
	}
	if (!p->node_group) {
		p->node_group = malloc((p->n_nodes ? p->n_nodes : 1) * sizeof *p->node_group);
		if (!p->node_group)
			return hamr__error_set(HAMR_ENOMEM, "out of memory compiling a plan");
		for (uint32_t k = 0; k < p->n_nodes; k++)
			p->node_group[k] = -1;
	}
	p->node_group[i] = (int32_t)group;
	p->nodes[i].flags |= HAMR__PNODE_LIMITED;
	return 0;
}

/* Node i of the first n_order reads computed node t, counted once per
 * pair: the dependents' first pass counts (in ndep, which then gives each
 * producer's n_dependents), the second fills them in (ndep: then each
 * producer's next free place). */
typedef void (*dependent_fn)(hamr_plan *p, uint32_t t, uint32_t i, uint32_t *ndep);

static void count_dependent(hamr_plan *p, uint32_t t, uint32_t i, uint32_t *ndep)
{
	ndep[t]++;
	p->nodes[i].n_pending++;
}

static void add_dependent(hamr_plan *p, uint32_t t, uint32_t i, uint32_t *ndep)
{
	p->dependents[ndep[t]++] = i;
}

/* Calls visit once for each computed node t that node i reads, for every
 * node i of the first n_order; seen needs room for p->n_nodes entries. */
static void each_producer(hamr_plan *p, uint32_t n_order, uint32_t *seen, uint32_t *ndep,
                          dependent_fn visit)
{
	for (uint32_t i = 0; i < p->n_nodes; i++)
		seen[i] = UINT32_MAX;
	for (uint32_t i = 0; i < n_order; i++) {
		const hamr__pnode *pn = &p->nodes[i];
		for (uint32_t k = 0; k < pn->n_args; k++) {
			int32_t t = p->args[pn->arg_start + k];
			if (t < 0 || (uint32_t)t >= p->n_nodes || seen[t] == i)
				continue;
			seen[t] = i;
			visit(p, (uint32_t)t, i, ndep);
		}
	}
}

/* Sizes the plan for the walked nodes (computed nodes, then given values,
 * then defaults) and allocates its node, argument and slot tables. */
static int alloc_plan_tables(hamr_plan *p, const walk *w)
{
	uint32_t n_args = 0;
	for (uint32_t i = 0; i < w->n_order; i++)
		n_args += w->g->dep_start[w->order[i] + 1] - w->g->dep_start[w->order[i]];

	p->n_nodes = w->n_order;
	p->n_given = w->n_given;
	p->n_defaults = w->n_defaults;
	p->n_slots = w->n_order + w->n_given + w->n_defaults;
	size_t ns = p->n_slots ? p->n_slots : 1;
	p->nodes = calloc(w->n_order ? w->n_order : 1, sizeof *p->nodes);
	p->args = malloc((n_args ? n_args : 1) * sizeof *p->args);
	p->dependents = malloc((n_args ? n_args : 1) * sizeof *p->dependents);
	p->consumers = calloc(ns, sizeof *p->consumers);
	p->slot_kind = calloc(ns, 1);
	p->slot_pinned = calloc(ns, 1);
	p->slot_name = calloc(ns, sizeof *p->slot_name);
	p->slot_type = calloc(ns, sizeof *p->slot_type);
	p->defaults = calloc(w->n_defaults ? w->n_defaults : 1, sizeof *p->defaults);
	if (!p->nodes || !p->args || !p->dependents || !p->consumers ||
	    !p->slot_kind || !p->slot_pinned || !p->slot_name || !p->slot_type ||
	    !p->defaults)
		return hamr__error_set(HAMR_ENOMEM, "out of memory compiling a plan");
	return 0;
}

/* Numbers the slots of the given values, in graph order, into slot_of
 * (per graph node), after the computed nodes' (numbered by
 * lay_out_nodes). Returns the first slot after them, where the defaults
 * begin. */
static uint32_t number_given_slots(hamr_plan *p, const walk *w, uint32_t *slot_of)
{
	const hamr_graph *g = w->g;
	uint32_t s = w->n_order;
	for (uint32_t v = 0; v < g->n_nodes; v++) {
		if (w->role[v] != ROLE_GIVEN)
			continue;
		slot_of[v] = s;
		p->slot_kind[s] = HAMR__SLOT_GIVEN;
		p->slot_name[s] = g->nodes[v]->name;
		p->slot_type[s] = g->nodes[v]->type;
		s++;
	}
	return s;
}

/* Plan node i from graph node n: what it calls, its name and kind, and
 * where its arguments start in p->args. */
static void copy_node(hamr_plan *p, uint32_t i, const hamr__gnode *n,
                      uint32_t graph_index, uint32_t arg_start)
{
	hamr__pnode *pn = &p->nodes[i];
	pn->fn = n->fn;
	pn->userdata = n->userdata;
	pn->type = n->type;
	pn->name = n->name;
	pn->graph_index = graph_index;
	pn->kind = n->kind;
	pn->arg_start = arg_start;
	pn->n_args = n->n_deps;
}

/* Tags blocking=true (or 1, yes) and concurrency=G:N on plan node i,
 * whose graph node is n. */
static int apply_node_tags(hamr_plan *p, uint32_t i, const hamr__gnode *n)
{
	for (uint32_t t = 0; t < n->n_tags; t++) {
		const char *value = n->tags[t].value;
		if (!strcmp(n->tags[t].key, "blocking") &&
		    (!strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "yes"))) {
			p->nodes[i].flags |= HAMR__PNODE_BLOCKING;
			p->n_blocking++;
		}
		if (!strcmp(n->tags[t].key, "concurrency")) {
			int rc = add_to_group(p, i, n->name, value);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* Where defaults go while arguments are laid out: each default, as it
 * appears, takes the next free slot and the next place in p->defaults. */
typedef struct default_cursor {
	uint32_t slot;
	uint32_t value;
} default_cursor;

/* The slot each argument of plan node i reads (graph node n): its
 * producer's or given value's slot, a new default slot, or -1 for an
 * absent optional dependency with no default. Counts each slot's
 * readers in p->consumers. */
static void assign_arg_slots(hamr_plan *p, const walk *w, uint32_t i, const hamr__gnode *n,
                             const uint32_t *slot_of, default_cursor *next)
{
	uint32_t a = p->nodes[i].arg_start;
	for (uint32_t k = 0; k < n->n_deps; k++, a++) {
		const hamr__gdep *d = &n->deps[k];
		if (dep_defaults(w, d)) {
			if (!d->dflt.type) {
				p->args[a] = -1;
				continue;
			}
			uint32_t s = next->slot++;
			p->slot_kind[s] = HAMR__SLOT_DEFAULT;
			p->slot_name[s] = d->name;
			p->slot_type[s] = d->dflt.type;
			p->defaults[next->value++] = hamr_value_ref(&d->dflt);
			p->consumers[s] = 1;
			p->args[a] = (int32_t)s;
			continue;
		}
		uint32_t t = slot_of[d->target];
		p->args[a] = (int32_t)t;
		p->consumers[t]++;
	}
}

/* The slots that plain node v's arguments read (plan node i, graph node
 * v: its dependencies are all in g->dep_node), counted in p->consumers. */
static void assign_plain_arg_slots(hamr_plan *p, const hamr_graph *g, uint32_t i,
                                   uint32_t v, const uint32_t *slot_of)
{
	uint32_t a = p->nodes[i].arg_start;
	for (uint32_t e = g->dep_start[v]; e < g->dep_start[v + 1]; e++, a++) {
		uint32_t t = slot_of[g->dep_node[e]];
		p->args[a] = (int32_t)t;
		p->consumers[t]++;
	}
}

/* Every plan node: its slot (plan node i's result is slot i) numbered
 * into slot_of (per graph node), copied from its graph node, tagged, and
 * its arguments laid out, in walk order, where defaults get slots from
 * first_default on, and tags (a concurrency group is numbered where first
 * met) and their errors are met in the order the nodes run. A node's
 * producers come before it in walk order, so their slots are numbered
 * when its arguments read them. A plain node (no tags, no default) does
 * not depend on that order: plain nodes are laid out in a second pass in
 * graph order, which reads the graph's records one after another where
 * walk order, on a big graph, jumps between them (a cache miss each). */
static int lay_out_nodes(hamr_plan *p, const walk *w, uint32_t *slot_of,
                         uint32_t first_default)
{
	const hamr_graph *g = w->g;
	default_cursor next = {.slot = first_default, .value = 0};
	uint32_t arg_start = 0;
	for (uint32_t i = 0; i < w->n_order; i++) {
		uint32_t v = w->order[i];
		uint32_t bits = g->node_bits[v], kind = bits & HAMR__NODE_KIND;
		slot_of[v] = i;
		p->slot_kind[i] = HAMR__SLOT_NODE;
		if (!p->block_node && (kind == HAMR_NODE_PARALLELIZABLE ||
		                       kind == HAMR_NODE_COLLECT))
			p->block_node = g->nodes[v]->name;
		p->nodes[i].arg_start = arg_start;
		arg_start += g->dep_start[v + 1] - g->dep_start[v];
		if (bits & HAMR__NODE_PLAIN)
			continue;
		const hamr__gnode *n = g->nodes[v];
		copy_node(p, i, n, v, p->nodes[i].arg_start);
		int rc = apply_node_tags(p, i, n);
		if (rc)
			return rc;
		assign_arg_slots(p, w, i, n, slot_of, &next);
	}
	for (uint32_t v = 0; v < g->n_nodes; v++) {
		if (w->role[v] != ROLE_COMPUTE)
			continue;
		const hamr__gnode *n = g->nodes[v];
		uint32_t i = slot_of[v];
		p->slot_name[i] = n->name;
		p->slot_type[i] = n->type;
		if (!(g->node_bits[v] & HAMR__NODE_PLAIN))
			continue;
		copy_node(p, i, n, v, p->nodes[i].arg_start);
		assign_plain_arg_slots(p, g, i, v, slot_of);
	}
	return 0;
}

/* Each node's first pending count, and the roots: the nodes that wait
 * for no computed node. */
static int list_roots(hamr_plan *p)
{
	uint32_t n = p->n_nodes;
	p->pending_init = malloc((n ? n : 1) * sizeof *p->pending_init);
	p->roots = malloc((n ? n : 1) * sizeof *p->roots);
	if (!p->pending_init || !p->roots)
		return hamr__error_set(HAMR_ENOMEM, "out of memory compiling a plan");
	p->n_sched = n;
	for (uint32_t i = 0; i < n; i++) {
		p->pending_init[i] = p->nodes[i].n_pending;
		if (!p->nodes[i].n_pending)
			p->roots[p->n_roots++] = i;
	}
	return 0;
}

/* Whether no node reads a computed node through two of its arguments,
 * and when so every node's pending count set; when not, every pending
 * count is left 0, for each_producer's counting pass. A node of at most
 * HAMR__PAIRWISE_ARGS arguments is checked pair by pair, in cache; a
 * bigger one through `seen` (room for p->n_nodes entries). Without such
 * a node, each argument that reads a computed node is a dependent of its
 * own, so p->consumers, which counts each slot's arguments (map blocks'
 * own are counted later, by hamr__plan_blocks, which counts them all
 * again), counts each computed node's dependents. */
static int count_pending_if_distinct(hamr_plan *p, uint32_t *seen)
{
	int seen_set = 0;
	for (uint32_t i = 0; i < p->n_nodes; i++) {
		hamr__pnode *pn = &p->nodes[i];
		const int32_t *a = &p->args[pn->arg_start];
		int pairwise = pn->n_args <= HAMR__PAIRWISE_ARGS;
		uint32_t pending = 0;
		if (!pairwise && !seen_set) {
			for (uint32_t k = 0; k < p->n_nodes; k++)
				seen[k] = UINT32_MAX;
			seen_set = 1;
		}
		for (uint32_t k = 0; k < pn->n_args; k++) {
			int32_t t = a[k];
			if (t < 0 || (uint32_t)t >= p->n_nodes)
				continue;
			int twice = 0;
			if (pairwise) {
				for (uint32_t j = 0; j < k && !twice; j++)
					twice = a[j] == t;
			} else {
				twice = seen[t] == i;
				seen[t] = i;
			}
			if (twice) {
				for (uint32_t j = 0; j < i; j++)
					p->nodes[j].n_pending = 0;
				return 0;
			}
			pending++;
		}
		pn->n_pending = pending;
	}
	return 1;
}

/* Dependents: each computed node's list of the computed nodes that read
 * it, with every node's pending count and the roots. Where no node reads
 * another twice (count_pending_if_distinct), the counts come from
 * p->consumers and one pass over the arguments fills the lists: no
 * counting pass, and no `seen` for nodes of few arguments, which on a
 * big graph of nodes that read random others cost a cache miss or two
 * an argument each. */
static int link_dependents(hamr_plan *p)
{
	size_t ns = p->n_slots ? p->n_slots : 1;
	uint32_t *ndep = malloc(ns * sizeof *ndep);
	uint32_t *seen = malloc(ns * sizeof *seen);
	int rc = 0;
	if (!ndep || !seen) {
		rc = hamr__error_set(HAMR_ENOMEM, "out of memory compiling a plan");
		goto out;
	}
	int distinct = count_pending_if_distinct(p, seen);
	if (distinct) {
		memcpy(ndep, p->consumers, p->n_nodes * sizeof *ndep);
	} else {
		memset(ndep, 0, ns * sizeof *ndep);
		each_producer(p, p->n_nodes, seen, ndep, count_dependent);
	}
	if ((rc = list_roots(p)))
		goto out;
	uint32_t off = 0;
	for (uint32_t i = 0; i < p->n_nodes; i++) {
		p->nodes[i].dep_start = off;
		p->nodes[i].n_dependents = ndep[i];
		off += ndep[i];
		ndep[i] = p->nodes[i].dep_start; /* now: next free position */
	}
	if (!distinct) {
		each_producer(p, p->n_nodes, seen, ndep, add_dependent);
		goto out;
	}
	for (uint32_t i = 0; i < p->n_nodes; i++) {
		const hamr__pnode *pn = &p->nodes[i];
		for (uint32_t k = 0; k < pn->n_args; k++) {
			int32_t t = p->args[pn->arg_start + k];
			if (t >= 0 && (uint32_t)t < p->n_nodes)
				p->dependents[ndep[t]++] = i;
		}
	}
out:
	free(ndep);
	free(seen);
	return rc;
}

/* The wide and broad records of a plain plan (hamr_plan.wide, .broad). A
 * node v is ready at positions from one past its last computed
 * argument's (0 for a root) through v itself; the count of ready nodes
 * at each position is then a running sum of +1 where v turns ready and
 * -1 past v. One pass over each node's arguments, in order. */
static int mark_wide(hamr_plan *p)
{
	uint32_t n = p->n_nodes;
	if (p->n_scopes != 1 || p->n_blocking || !n)
		return 0;
	int32_t *delta = calloc((size_t)n + 1, sizeof *delta);
	size_t words = ((size_t)n + 63) / 64;
	p->wide = calloc(2 * words, sizeof *p->wide);
	if (!delta || !p->wide) {
		free(delta);
		return hamr__error_set(HAMR_ENOMEM, "out of memory compiling a plan");
	}
	p->broad = p->wide + words;
	for (uint32_t v = 0; v < n; v++) {
		const hamr__pnode *pn = &p->nodes[v];
		uint32_t first = 0; /* computed nodes are slots 0 .. n-1 */
		for (uint32_t k = 0; k < pn->n_args; k++) {
			int32_t slot = p->args[pn->arg_start + k];
			if (slot >= 0 && (uint32_t)slot < n && (uint32_t)slot + 1 > first)
				first = (uint32_t)slot + 1;
		}
		delta[first]++;
		delta[v + 1]--;
	}
	int32_t ready = 0;
	for (uint32_t t = 0; t < n; t++) {
		ready += delta[t];
		if (ready > 1)
			p->wide[t / 64] |= (uint64_t)1 << (t % 64);
		if (ready >= HAMR__BROAD)
			p->broad[t / 64] |= (uint64_t)1 << (t % 64);
	}
	free(delta);
	return 0;
}

/* Compiles the walked nodes: their slots, each node's arguments as slot
 * numbers, and the dependents the executors schedule by. */
static int compile(hamr_plan *p, const walk *w, uint32_t *slot_of)
{
	int rc = alloc_plan_tables(p, w);
	if (rc)
		return rc;
	uint32_t first_default = number_given_slots(p, w, slot_of);
	if ((rc = lay_out_nodes(p, w, slot_of, first_default)))
		return rc;
	return link_dependents(p);
}

/* A kept node that reads `name` as an optional dependency which no node
 * or input of the graph provides, or NULL. */
static const char *optional_reader(const hamr_graph *g, const char *name)
{
	for (uint32_t i = 0; i < g->n_nodes; i++)
		for (uint32_t k = 0; k < g->nodes[i]->n_deps; k++)
			if (g->nodes[i]->deps[k].target < 0 && !strcmp(g->nodes[i]->deps[k].name, name))
				return g->nodes[i]->name;
	return NULL;
}

/* The nearest name any definition of g has to `name`, kept or not. */
static const char *nearest_def(const hamr_graph *g, const char *name)
{
	hamr__nearest near;
	hamr__nearest_init(&near, name);
	for (uint32_t i = 0; i < g->n_defs && near.best_d; i++)
		hamr__nearest_try(&near, hamr__graph_def(g, i)->name);
	return near.best;
}

/* Says why given value `name` names nothing: what is near it, or that an
 * optional dependency of that name takes its default whatever is given. */
static void explain_unknown(const hamr_graph *g, const char *name, int alone)
{
	const char *reader = optional_reader(g, name), *near = nearest_def(g, name);
	if (reader)
		hamr__error_append(0, "%snode \"%s\" reads it as an optional dependency, which takes its default unless an input \"%s\" is declared%s",
		                   alone ? "; " : " (", reader, name, alone ? "" : ")");
	else if (near)
		hamr__error_append(0, alone ? "; did you mean \"%s\"?" : " (did you mean \"%s\"?)", near);
}

/* Every given value names a node or input of g, kept by the config or not,
 * needed by the outputs or not. HAMR_ENOENT names those that do not. */
static int check_given_names(const hamr_graph *g, const hamr_values *given)
{
	size_t n = hamr_values_count(given), n_unknown = 0, first = 0;
	for (size_t i = 0; i < n; i++) {
		const char *name = hamr_values_at(given, i, NULL);
		if (hamr__graph_lookup(g, name) < 0 && !hamr__graph_defines(g, name) && !n_unknown++)
			first = i;
	}
	if (!n_unknown)
		return 0;
	if (n_unknown == 1) {
		const char *name = hamr_values_at(given, first, NULL);
		hamr__error_set(HAMR_ENOENT, "given value \"%s\" names no node or input of the graph",
		                name);
		explain_unknown(g, name, 1);
		return HAMR_ENOENT;
	}
	hamr__error_set(HAMR_ENOENT, "given values name no node or input of the graph:");
	size_t shown = 0;
	for (size_t i = first; i < n; i++) {
		const char *name = hamr_values_at(given, i, NULL);
		if (hamr__graph_lookup(g, name) >= 0 || hamr__graph_defines(g, name))
			continue;
		if (shown++ == 8) {
			hamr__error_append(0, ", ...");
			break;
		}
		hamr__error_append(0, "%s \"%s\"", shown > 1 ? "," : "", name);
		explain_unknown(g, name, 0);
	}
	return HAMR_ENOENT;
}

int hamr_plan_create(hamr_plan **out, hamr_graph *g, const char *const *outputs,
                     size_t n_outputs, const hamr_values *given)
{
	return hamr_plan_create_with(out, g, outputs, n_outputs, given, NULL);
}

int hamr_plan_create_with(hamr_plan **out, hamr_graph *g, const char *const *outputs,
                          size_t n_outputs, const hamr_values *given,
                          const hamr_plan_opts *opts)
{
	if (!out || !g || (!outputs && n_outputs))
		return hamr__error_set(HAMR_EINVAL, "hamr_plan_create: bad arguments");
	*out = NULL;
	int rc = hamr_graph_build(g);
	if (rc)
		return rc;
	if (n_outputs > UINT32_MAX / 2)
		return hamr__error_set(HAMR_EINVAL, "too many outputs");
	if (!(opts && opts->allow_extra_given) && (rc = check_given_names(g, given)))
		return rc;

	uint32_t nn = g->n_nodes ? g->n_nodes : 1;
	walk w = {0};
	w.g = g;
	w.given = given;
	w.role = calloc(nn, 1);
	w.order = malloc(nn * sizeof *w.order);
	uint32_t *stack = malloc(nn * sizeof *stack);
	uint32_t *edge = malloc(nn * sizeof *edge);
	uint32_t *out_nodes = malloc((n_outputs ? n_outputs : 1) * sizeof *out_nodes);
	hamr_plan *p = calloc(1, sizeof *p);
	if (!w.role || !w.order || !stack || !edge || !out_nodes || !p) {
		rc = hamr__error_set(HAMR_ENOMEM, "out of memory compiling a plan");
		goto out;
	}
	hamr__graph_retain(g);
	p->graph = g;
	atomic_init(&p->spare_mem, NULL);
	hamr__names_init(&p->out_index);

	mark_given(&w);
	for (size_t i = 0; i < n_outputs; i++) {
		const char *name = outputs[i];
		int32_t v = name ? hamr__graph_lookup(g, name) : -1;
		if (v < 0) {
			hamr__error_set(HAMR_ENOENT, "unknown output \"%s\"",
			                name ? name : "(null)");
			if (name)
				hamr__graph_hint(g, name);
			rc = HAMR_ENOENT;
			goto out;
		}
		out_nodes[i] = (uint32_t)v;
	}
	if (!g->deps_earlier || sweep(&w, out_nodes, n_outputs) < 0 || w.n_missing) {
		if (g->deps_earlier) { /* from the start, for the walk's messages */
			memset(w.role, 0, nn);
			w.n_order = w.n_given = w.n_defaults = w.n_missing = 0;
			mark_given(&w);
		}
		for (size_t i = 0; i < n_outputs; i++) {
			if (w.role[out_nodes[i]] == ROLE_MISSING) {
				missing_input(&w, g->nodes[out_nodes[i]]->name, NULL);
				continue;
			}
			if (!unreached(&w, out_nodes[i]))
				continue;
			if ((rc = walk_from(&w, out_nodes[i], stack, edge)) < 0)
				goto out;
		}
		if (w.n_missing) {
			rc = HAMR_EINPUT;
			goto out;
		}
		keep_graph_order(&w);
	}
	/* reuse `stack` as the graph-node -> slot map */
	uint32_t *slot_of = stack;
	if ((rc = compile(p, &w, slot_of)))
		goto out;

	p->out_names = malloc((n_outputs ? n_outputs : 1) * sizeof *p->out_names);
	p->out_slots = malloc((n_outputs ? n_outputs : 1) * sizeof *p->out_slots);
	if (!p->out_names || !p->out_slots) {
		rc = hamr__error_set(HAMR_ENOMEM, "out of memory compiling a plan");
		goto out;
	}
	for (size_t i = 0; i < n_outputs; i++) {
		const char *name = g->nodes[out_nodes[i]]->name;
		if (hamr__names_get(&p->out_index, name) >= 0)
			continue; /* asked twice */
		if (hamr__names_put(&p->out_index, name, (int32_t)p->n_outputs)) {
			rc = hamr__error_set(HAMR_ENOMEM, "out of memory");
			goto out;
		}
		uint32_t s = slot_of[out_nodes[i]];
		p->out_names[p->n_outputs] = name;
		p->out_slots[p->n_outputs++] = s;
		p->slot_pinned[s] = 1;
	}
	if ((rc = hamr__plan_blocks(p, g)) || (rc = mark_wide(p)))
		goto out;
	*out = p;
	p = NULL;
out:
	hamr_plan_destroy(p);
	free(w.role);
	free(w.order);
	free(stack);
	free(edge);
	free(out_nodes);
	return rc;
}

size_t hamr_plan_node_count(const hamr_plan *p)
{
	return p ? p->n_nodes : 0;
}

const char *hamr_plan_node_name(const hamr_plan *p, size_t i)
{
	return p && i < p->n_nodes ? p->nodes[i].name : NULL;
}
