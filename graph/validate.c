// SPDX-License-Identifier: MIT
/* Building a graph: config, names, and every check a graph must pass.
 *
 * The build runs once, in this order, and stops at the first error so the
 * message can be precise:
 *   1. conditions are well formed, and some condition reads each config
 *      key set (HAMR_ECONFIG, with the nearest key read: a misspelt key
 *      would otherwise pick the fallback definitions without a word);
 *   2. function nodes that share a name exclude each other: for some
 *      config key their conditions allow disjoint sets of values
 *      (HAMR_EDUP), whatever the config set now, so that a module's
 *      mistake shows under every config;
 *   3. the config picks the definitions that exist: at most one node per
 *      name, or else the inputs of that name, which are one input. Inputs
 *      are declarations, not definitions: an input and a node of one name
 *      are a HAMR_EDUP only when the config keeps both (an input stands
 *      for the name where the config removes its nodes);
 *   4. every dependency names an existing node or input (HAMR_EDEP, with
 *      the nearest name as a hint), unless it is optional;
 *   5. every dependency's expected type is what its producer makes
 *      (HAMR_ETYPE);
 *   6. the dependencies form no cycle (HAMR_ECYCLE, with the path);
 *   7. every collected dependency has a parallelizable node upstream
 *      (HAMR_ECOLLECT);
 *   8. map blocks nest: no node reads two unrelated blocks, and a collect
 *      sits exactly around the block it collects (HAMR_EBLOCK).
 * Steps 4 to 7 are linear in nodes plus edges, with no recursion, so a
 * chain of a million nodes is as safe as a wide graph. hamr_graph_build
 * itself is here too, at the end: it runs the build once and replays its
 * result, and graph.c, which collects the definitions, never calls in. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_internal.h"
#include "serialize/error_internal.h"
#include "serialize/spelling_internal.h"

/* ---- conditions ---------------------------------------------------------- */

static const char *op_name(hamr_cond_op op)
{
	switch (op) {
	case HAMR_WHEN:
		return "when";
	case HAMR_WHEN_NOT:
		return "when_not";
	case HAMR_WHEN_IN:
		return "when_in";
	case HAMR_WHEN_NOT_IN:
		return "when_not_in";
	}
	return "?";
}

static int check_conds(const hamr__gnode *n)
{
	for (uint32_t i = 0; i < n->n_conds; i++) {
		const hamr__gcond *c = &n->conds[i];
		if (c->op < HAMR_WHEN || c->op > HAMR_WHEN_NOT_IN)
			return hamr__error_set(HAMR_ECONFIG,
			                       "node \"%s\": config condition %u has unknown operator %d",
			                       n->name, i, (int)c->op);
		if (!c->key || !*c->key)
			return hamr__error_set(HAMR_ECONFIG,
			                       "node \"%s\": config condition %u (%s) has no key",
			                       n->name, i, op_name(c->op));
		if (!c->n_values)
			return hamr__error_set(HAMR_ECONFIG,
			                       "node \"%s\": config condition %s(%s) has no %s",
			                       n->name, op_name(c->op), c->key,
			                       c->op == HAMR_WHEN || c->op == HAMR_WHEN_NOT ?
			                               "value" : "values");
	}
	if (n->bad_cond)
		return hamr__error_set(HAMR_ECONFIG,
		                       "node \"%s\": a config condition is malformed", n->name);
	return 0;
}

/* Does a condition of some definition, kept or not, read config `key`? */
static int key_read(const hamr_graph *g, const char *key)
{
	for (uint32_t i = 0; i < g->n_defs; i++)
		for (uint32_t c = 0; c < hamr__graph_def(g, i)->n_conds; c++)
			if (!strcmp(hamr__graph_def(g, i)->conds[c].key, key))
				return 1;
	return 0;
}

static const char *nearest_key(const hamr_graph *g, const char *key)
{
	hamr__nearest near;
	hamr__nearest_init(&near, key);
	for (uint32_t i = 0; i < g->n_defs; i++)
		for (uint32_t c = 0; c < hamr__graph_def(g, i)->n_conds; c++)
			hamr__nearest_try(&near, hamr__graph_def(g, i)->conds[c].key);
	return near.best;
}

/* Step 1, the config's part: every key set is read by some condition. */
static int check_config_keys(const hamr_graph *g)
{
	if (g->allow_extra_config)
		return 0;
	uint32_t n_unread = 0, first = 0;
	for (uint32_t k = 0; k < g->n_cfg; k++)
		if (!key_read(g, g->cfg_keys[k]) && !n_unread++)
			first = k;
	if (!n_unread)
		return 0;
	if (n_unread == 1) {
		const char *key = g->cfg_keys[first], *near = nearest_key(g, key);
		hamr__error_set(HAMR_ECONFIG, "config key \"%s\" is read by no config condition of the graph",
		                key);
		if (near)
			hamr__error_append(0, "; did you mean \"%s\"?", near);
	} else {
		hamr__error_set(HAMR_ECONFIG, "config keys read by no config condition of the graph:");
		uint32_t shown = 0;
		for (uint32_t k = first; k < g->n_cfg; k++) {
			const char *key = g->cfg_keys[k];
			if (key_read(g, key))
				continue;
			if (shown++ == 8) {
				hamr__error_append(0, ", ...");
				break;
			}
			const char *near = nearest_key(g, key);
			hamr__error_append(0, "%s \"%s\"", shown > 1 ? "," : "", key);
			if (near)
				hamr__error_append(0, " (did you mean \"%s\"?)", near);
		}
	}
	if (!g->n_conditioned)
		hamr__error_append(0, " (the graph has no config conditions)");
	return HAMR_ECONFIG;
}

static const char *config_get(const hamr_graph *g, const char *key)
{
	for (uint32_t i = 0; i < g->n_cfg; i++)
		if (!strcmp(g->cfg_keys[i], key))
			return g->cfg_vals[i];
	return NULL;
}

static int cond_has(const hamr__gcond *c, const char *v)
{
	for (uint32_t i = 0; i < c->n_values; i++)
		if (!strcmp(c->values[i], v))
			return 1;
	return 0;
}

/* Does the config value v (NULL: key absent) satisfy c? */
static int cond_allows(const hamr__gcond *c, const char *v)
{
	int listed = v && cond_has(c, v);
	return c->op == HAMR_WHEN || c->op == HAMR_WHEN_IN ? listed : !listed;
}

static int node_active(const hamr_graph *g, const hamr__gnode *n)
{
	for (uint32_t i = 0; i < n->n_conds; i++)
		if (!cond_allows(&n->conds[i], config_get(g, n->conds[i].key)))
			return 0;
	return 1;
}

/* Can some config value of `key` (absent included) satisfy every condition
 * on `key` of a and of b? Values worth trying: absent, each value either
 * names, and one value that none names. */
static int key_compatible(const hamr__gnode *a, const hamr__gnode *b,
                          const char *key)
{
	const hamr__gnode *both[2] = {a, b};
	/* a value named nowhere: satisfies exactly the negative conditions */
	int fresh_ok = 1, absent_ok = 1;
	for (int s = 0; s < 2; s++)
		for (uint32_t i = 0; i < both[s]->n_conds; i++) {
			const hamr__gcond *c = &both[s]->conds[i];
			if (strcmp(c->key, key))
				continue;
			if (c->op == HAMR_WHEN || c->op == HAMR_WHEN_IN)
				fresh_ok = absent_ok = 0;
		}
	if (fresh_ok || absent_ok)
		return 1;
	for (int s = 0; s < 2; s++)
		for (uint32_t i = 0; i < both[s]->n_conds; i++) {
			const hamr__gcond *c = &both[s]->conds[i];
			if (strcmp(c->key, key))
				continue;
			for (uint32_t v = 0; v < c->n_values; v++) {
				const char *val = c->values[v];
				int ok = 1;
				for (int t = 0; t < 2 && ok; t++)
					for (uint32_t j = 0; j < both[t]->n_conds && ok; j++) {
						const hamr__gcond *d = &both[t]->conds[j];
						if (!strcmp(d->key, key) && !cond_allows(d, val))
							ok = 0;
					}
				if (ok)
					return 1;
			}
		}
	return 0;
}

/* Two definitions exclude each other when, for some key, no value of that
 * key satisfies both; conditions on different keys can always hold
 * together. */
static int defs_exclusive(const hamr__gnode *a, const hamr__gnode *b)
{
	for (uint32_t i = 0; i < a->n_conds; i++)
		if (!key_compatible(a, b, a->conds[i].key))
			return 1;
	for (uint32_t i = 0; i < b->n_conds; i++)
		if (!key_compatible(a, b, b->conds[i].key))
			return 1;
	return 0;
}

static const char *kind_word(const hamr__gnode *n)
{
	return n->kind == HAMR_NODE_INPUT ? "input" : "node";
}

/* Where definition n came from, for messages, as the three strings of
 * FROM_FMT: `in module "m"`, or `without a module` for a definition added
 * with none (hamr_graph_add_input, hamr_graph_add_node with NULL). */
#define FROM_FMT "%s%s%s"
#define FROM(n) \
	*(n)->module ? "in module \"" : "without a module", (n)->module, *(n)->module ? "\"" : ""

/* Step 3: an input and a node of one name that the config keeps. */
static int dup_input_error(const hamr__gnode *input, const hamr__gnode *node)
{
	return hamr__error_set(HAMR_EDUP,
	                       "duplicate name \"%s\": input declared " FROM_FMT
	                       " and node defined " FROM_FMT
	                       " both exist under this config (a config condition on either can keep one)",
	                       node->name, FROM(input), FROM(node));
}

/* Step 2: two function nodes whose conditions can both hold. */
static int dup_error(const hamr__gnode *a, const hamr__gnode *b)
{
	return hamr__error_set(HAMR_EDUP,
	                       "duplicate node \"%s\": defined " FROM_FMT " and " FROM_FMT
	                       ", and their config conditions can both hold",
	                       a->name, FROM(a), FROM(b));
}

/* Step 3: the definition the config keeps for the name whose definitions
 * are chained from `first` through `next`, in *keep (NULL: none). */
static int keep_one(const hamr_graph *g, int32_t first, const int32_t *next,
                    hamr__gnode **keep)
{
	hamr__gnode *node = NULL, *input = NULL;
	for (int32_t j = first; j >= 0; j = next[j]) {
		hamr__gnode *d = hamr__graph_def(g, (uint32_t)j);
		if (!node_active(g, d))
			continue;
		if (d->kind != HAMR_NODE_INPUT) {
			node = d; /* one at most: step 2 made sure */
			continue;
		}
		if (input && input->type && d->type && input->type != d->type)
			return hamr__error_set(HAMR_ETYPE,
			                       "input \"%s\" is declared as %s " FROM_FMT
			                       " and as %s " FROM_FMT,
			                       d->name, hamr_type_name(input->type), FROM(input),
			                       hamr_type_name(d->type), FROM(d));
		if (!input || !input->type)
			input = d; /* an input declared twice: keep the typed one */
	}
	if (node && input)
		return dup_input_error(input, node);
	*keep = node ? node : input;
	return 0;
}

/* Definition n's result and dependency types made canonical (so that
 * types compare as pointers); HAMR_ETYPE, naming the node, for one that
 * cannot be. */
static int canonical_def(hamr__gnode *n)
{
	if (n->type && !(n->type = hamr_type_canonical(n->type)))
		return hamr__error_append(HAMR_ETYPE, " (result of node \"%s\")", n->name);
	for (uint32_t k = 0; k < n->n_deps; k++) {
		hamr__gdep *d = &n->deps[k];
		if (d->type && !(d->type = hamr_type_canonical(d->type)))
			return hamr__error_append(HAMR_ETYPE,
			                          " (dependency \"%s\" of node \"%s\")",
			                          d->name, n->name);
	}
	return 0;
}

/* How many look-ups ahead a name's digest is taken and its slot in
 * g->index fetched; in resolve_deps, its slot's key is fetched half as
 * far ahead. */
#define RESOLVE_AHEAD 16u

/* Steps 2 and 3, and every definition's types made canonical first
 * (canonical_def: a type error is reported before any step 2 error, in
 * definition order). Definitions of one name are chained through `next`;
 * *n_def_deps counts the dependencies of all definitions. One pass over
 * the definitions does both, since a big graph's definitions are read
 * from memory, not cache: a step 2 error waits until every later
 * definition's types have been made canonical.
 * One map serves both steps: while definitions are grouped it maps each
 * distinct name to its number k, and once the config has picked, its
 * values are renumbered to node indices (-1, read as absent, for a name
 * the config removes), so it becomes g->index without a second table. */
static int select_defs(hamr_graph *g, size_t *n_def_deps)
{
	int rc = 0;
	int32_t *first = NULL, *next = NULL;
	hamr__names_key key[2 * RESOLVE_AHEAD]; /* of definitions i to i + RESOLVE_AHEAD */
	uint8_t *bare = NULL; /* per definition: it has no condition */
	uint32_t n_defs = g->n_defs;
	if (hamr__names_reserve(&g->index, n_defs))
		goto nomem;
	next = malloc((n_defs + 1) * sizeof *next);
	first = malloc((n_defs + 1) * sizeof *first);
	bare = malloc(n_defs + 1);
	g->nodes = malloc((n_defs + 1) * sizeof *g->nodes);
	if (!next || !first || !bare || !g->nodes)
		goto nomem;

	/* group: first[k] is the k-th distinct name's first definition;
	 * each name's digest is taken, and its slot fetched, RESOLVE_AHEAD
	 * names early (see resolve_deps) */
	uint32_t n_names = 0;
	*n_def_deps = 0;
	for (uint32_t i = 0; i < n_defs && i < RESOLVE_AHEAD; i++)
		hamr__names_digest_padded(hamr__graph_def(g, i)->name, &key[i % (2 * RESOLVE_AHEAD)]);
	const hamr__gnode *dup_a = NULL, *dup_b = NULL; /* the first step 2 error */
	for (uint32_t i = 0; i < n_defs; i++) {
		hamr__gnode *d = hamr__graph_def(g, i);
		if ((rc = canonical_def(d)))
			goto out;
		if (dup_a)
			continue;
		if (i + RESOLVE_AHEAD < n_defs) {
			hamr__names_key *ahead = &key[(i + RESOLVE_AHEAD) % (2 * RESOLVE_AHEAD)];
			hamr__names_digest_padded(hamr__graph_def(g, i + RESOLVE_AHEAD)->name, ahead);
			hamr__names_prefetch(&g->index, ahead->hash);
		}
		*n_def_deps += d->n_deps;
		bare[i] = !d->n_conds;
		int32_t k = hamr__names_get_or_put_key(&g->index, d->name,
		                                       &key[i % (2 * RESOLVE_AHEAD)],
		                                       (int32_t)n_names);
		next[i] = -1;
		if (k < 0) {
			first[n_names++] = (int32_t)i;
			continue;
		}
		/* append to the chain, checking against each earlier node;
		 * inputs are settled under the config, in step 3 */
		int32_t j = first[k], last = -1;
		for (; j >= 0; last = j, j = next[j]) {
			const hamr__gnode *earlier = hamr__graph_def(g, (uint32_t)j);
			if (earlier->kind == HAMR_NODE_INPUT || d->kind == HAMR_NODE_INPUT)
				continue;
			if (!defs_exclusive(earlier, d)) {
				dup_a = earlier;
				dup_b = d;
				break;
			}
		}
		if (!dup_a)
			next[last] = (int32_t)i;
	}
	if (dup_a) {
		rc = dup_error(dup_a, dup_b);
		goto out;
	}

	/* pick the definition the config keeps, in order of first
	 * definition (the only one, without conditions, needs no look);
	 * first[k] becomes name k's node index, or -1 */
	g->n_nodes = 0;
	for (uint32_t k = 0; k < n_names; k++) {
		hamr__gnode *keep = NULL;
		if (next[first[k]] < 0 && bare[first[k]])
			keep = hamr__graph_def(g, (uint32_t)first[k]);
		else if ((rc = keep_one(g, first[k], next, &keep)))
			goto out;
		first[k] = keep ? (int32_t)g->n_nodes : -1;
		if (keep)
			g->nodes[g->n_nodes++] = keep;
	}
	/* with every name kept, name k is node k: the values stand */
	if (g->n_nodes < n_names)
		hamr__names_map_values(&g->index, first);
	goto out;
nomem:
	rc = hamr__error_set(HAMR_ENOMEM, "out of memory building the graph");
out:
	free(first);
	free(next);
	free(bare);
	return rc;
}

/* Step 4's and 5's checks of dependency d of node n (node i), whose
 * target is resolved. producer_type is the target's result type: a
 * dependency on a node of any type, or that expects none, needs no look
 * at the producer's record. Clears *plain for a dependency that is not
 * plain (see hamr_graph.dep_node). */
static int check_dep(const hamr_graph *g, const hamr__gnode *n, const hamr__gdep *d,
                     hamr_type producer_type, int *plain)
{
	*plain &= d->target >= 0 && !(d->flags & HAMR_DEP_OPTIONAL);
	if (d->target < 0) {
		if (d->flags & HAMR_DEP_OPTIONAL)
			return 0;
		if (hamr__graph_defines(g, d->name))
			return hamr__error_set(HAMR_EDEP,
			                       "node \"%s\" depends on \"%s\", which the config removes (check its config conditions)",
			                       n->name, d->name);
		hamr__error_set(HAMR_EDEP,
		                "node \"%s\" depends on unknown \"%s\"",
		                n->name, d->name);
		hamr__graph_hint(g, d->name);
		return HAMR_EDEP;
	}
	if ((d->flags & HAMR_DEP_TOLERANT) && !(d->flags & HAMR_DEP_COLLECT))
		return hamr__error_set(HAMR_ECOLLECT,
		                       "node \"%s\" reads \"%s\" tolerantly, but HAMR_DEP_TOLERANT goes with HAMR_DEP_COLLECT",
		                       n->name, d->name);
	if ((d->flags & HAMR_DEP_COLLECT) && n->kind != HAMR_NODE_COLLECT)
		return hamr__error_set(HAMR_ECOLLECT,
		                       "node \"%s\" collects \"%s\" but is not a collect node",
		                       n->name, d->name);
	hamr_type made = producer_type;
	if (!made || ((!d->type || d->type == made) &&
	              (!d->dflt.type || d->dflt.type == made)))
		return 0;
	const hamr__gnode *producer = g->nodes[d->target];
	if (d->type && producer->type && d->type != producer->type)
		return hamr__error_set(HAMR_ETYPE,
		                       "node \"%s\" expects \"%s\" to be %s, but %s \"%s\" is %s",
		                       n->name, d->name, hamr_type_name(d->type),
		                       kind_word(producer), producer->name,
		                       hamr_type_name(producer->type));
	if (d->dflt.type && producer->type && d->dflt.type != producer->type)
		return hamr__error_set(HAMR_ETYPE,
		                       "node \"%s\": the default of \"%s\" is %s, but %s \"%s\" is %s",
		                       n->name, d->name, hamr_type_name(d->dflt.type),
		                       kind_word(producer), producer->name,
		                       hamr_type_name(producer->type));
	return 0;
}

/* Step 4's checks of a collect node n, once its dependencies are. */
static int check_collect_deps(const hamr__gnode *n)
{
	uint32_t nc = 0;
	for (uint32_t k = 0; k < n->n_deps; k++)
		nc += (n->deps[k].flags & HAMR_DEP_COLLECT) != 0;
	if (!nc)
		return hamr__error_set(HAMR_ECOLLECT,
		                       "collect node \"%s\" has no dependency marked HAMR_DEP_COLLECT",
		                       n->name);
	if (n->fold && nc > 1)
		return hamr__error_set(HAMR_ECOLLECT,
		                       "fold collect \"%s\" collects %u dependencies; a fold consumes one",
		                       n->name, nc);
	return 0;
}

/* The dependencies of the kept nodes, in node order, digested some way
 * ahead of their look-ups: the look-up of dependency e runs while
 * dependency e + RESOLVE_AHEAD is digested and its slot fetched, and the
 * key of dependency e + RESOLVE_AHEAD / 2 fetched. Only the digests of
 * those in between are kept (key[], a ring). */
typedef struct dep_ahead {
	const hamr_graph *g;
	uint32_t node;               /* the next node whose dependencies come */
	const hamr__gdep *dep, *end; /* the next dependency to digest, and the
	                              * end of its node's */
	uint32_t n_digested; /* dependencies digested so far */
	hamr__names_key key[2 * RESOLVE_AHEAD];
} dep_ahead;

/* Digests the next dependency, if any, and fetches its slot. */
static void digest_next_dep(dep_ahead *a)
{
	while (a->dep == a->end) {
		if (a->node == a->g->n_nodes)
			return;
		const hamr__gnode *n = a->g->nodes[a->node++];
		a->dep = n->deps;
		a->end = n->deps + n->n_deps;
	}
	hamr__names_key *k = &a->key[a->n_digested++ % (2 * RESOLVE_AHEAD)];
	hamr__names_digest_padded((a->dep++)->name, k);
	hamr__names_prefetch(&a->g->index, k->hash);
}

/* The digest of dependency e (e < a->n_digested), after digesting the one
 * RESOLVE_AHEAD on and fetching the key half as far on. */
static const hamr__names_key *dep_key(dep_ahead *a, uint32_t e)
{
	digest_next_dep(a);
	if (e + RESOLVE_AHEAD / 2 < a->n_digested)
		hamr__names_prefetch_key(&a->g->index,
		                         a->key[(e + RESOLVE_AHEAD / 2) % (2 * RESOLVE_AHEAD)].hash);
	return &a->key[e % (2 * RESOLVE_AHEAD)];
}

/* Steps 4 and 5, in one pass over the kept nodes in order: every
 * dependency's target (-1 when no kept node or input has its name), then
 * its checks, so the first error met in node order is reported; fills in
 * g->dep_start, g->dep_node and g->node_bits, and *earlier: whether every
 * node depends only on nodes before it. A big graph's names are spread
 * over a table bigger than the caches, and a dependency can name any of
 * them, so each name is digested, and its slot and key fetched, some
 * look-ups ahead (dep_ahead): the misses of many look-ups overlap instead
 * of being waited for one after another. A dependency's producer's type
 * comes from types[], filled in node by node: the producer's record is
 * read only for a node named before it is reached. */
static int resolve_deps(hamr_graph *g, hamr_type *types, int *earlier)
{
	const hamr__names *m = &g->index;
	dep_ahead ahead = {.g = g};
	uint32_t e = 0;
	*earlier = 1;
	for (uint32_t k = 0; k < RESOLVE_AHEAD; k++)
		digest_next_dep(&ahead);
	for (uint32_t i = 0; i < g->n_nodes; i++) {
		const hamr__gnode *n = g->nodes[i];
		int plain = !n->n_tags, rc;
		types[i] = n->type;
		g->dep_start[i] = e;
		for (uint32_t k = 0; k < n->n_deps; k++, e++) {
			hamr__gdep *d = &n->deps[k];
			int32_t t = hamr__names_get_key(m, d->name, dep_key(&ahead, e));
			d->target = t;
			g->dep_node[e] = d->flags & HAMR_DEP_OPTIONAL ? -1 : t;
			*earlier &= t < (int32_t)i;
			hamr_type made = t < 0 ? NULL : t <= (int32_t)i ? types[t] : g->nodes[t]->type;
			if ((rc = check_dep(g, n, d, made, &plain)))
				return rc;
		}
		if (n->kind == HAMR_NODE_COLLECT && (rc = check_collect_deps(n)))
			return rc;
		g->node_bits[i] = (uint8_t)(n->kind | (plain ? HAMR__NODE_PLAIN : 0));
	}
	g->dep_start[g->n_nodes] = e;
	return 0;
}

/* Steps 4 and 5, for the kept nodes, whose definitions have n_def_deps
 * dependencies in all (kept or not); *earlier as resolve_deps says. */
static int resolve(hamr_graph *g, size_t n_def_deps, int *earlier)
{
	size_t nn = g->n_nodes ? g->n_nodes : 1, ne = n_def_deps ? n_def_deps : 1;
	hamr_type *types = NULL;
	int rc;
	if (n_def_deps < UINT32_MAX) {
		types = malloc(nn * sizeof *types);
		g->dep_start = malloc((nn + 1) * sizeof *g->dep_start);
		g->dep_node = malloc(ne * sizeof *g->dep_node);
		g->node_bits = malloc(nn);
	}
	if (!types || !g->dep_start || !g->dep_node || !g->node_bits)
		rc = hamr__error_set(HAMR_ENOMEM, "out of memory building the graph");
	else
		rc = resolve_deps(g, types, earlier);
	free(types);
	return rc;
}

/* Step 6: iterative depth-first search; a dependency on a node still on
 * the stack closes a cycle, printed from that node around to itself. */
static int find_cycle(const hamr_graph *g)
{
	enum { WHITE = 0, GREY, BLACK };
	uint32_t n = g->n_nodes;
	uint8_t *color = calloc(n ? n : 1, 1);
	uint32_t *stack = malloc((n ? n : 1) * sizeof *stack);
	uint32_t *edge = malloc((n ? n : 1) * sizeof *edge);
	int rc = 0;
	if (!color || !stack || !edge) {
		rc = hamr__error_set(HAMR_ENOMEM, "out of memory building the graph");
		goto out;
	}
	for (uint32_t root = 0; root < n && !rc; root++) {
		if (color[root] != WHITE)
			continue;
		uint32_t sp = 0;
		stack[sp] = root;
		edge[sp] = 0;
		color[root] = GREY;
		sp++;
		while (sp && !rc) {
			uint32_t v = stack[sp - 1];
			const hamr__gnode *node = g->nodes[v];
			if (edge[sp - 1] == node->n_deps) {
				color[v] = BLACK;
				sp--;
				continue;
			}
			int32_t target = node->deps[edge[sp - 1]++].target;
			if (target < 0 || color[target] == BLACK)
				continue;
			if (color[target] == WHITE) {
				color[target] = GREY;
				stack[sp] = (uint32_t)target;
				edge[sp] = 0;
				sp++;
				continue;
			}
			/* grey: target is on the stack; the cycle is target .. v, target */
			uint32_t from = sp - 1;
			while (stack[from] != (uint32_t)target)
				from--;
			hamr__error_set(HAMR_ECYCLE, "dependency cycle: ");
			for (uint32_t s = from; s < sp; s++)
				hamr__error_append(0, "\"%s\" needs ", g->nodes[stack[s]]->name);
			hamr__error_append(0, "\"%s\"", g->nodes[target]->name);
			rc = HAMR_ECYCLE;
		}
	}
out:
	free(color);
	free(stack);
	free(edge);
	return rc;
}

/* Step 7: from each collected dependency, search upstream for a
 * parallelizable node. */
static int check_collects(const hamr_graph *g)
{
	uint32_t n = g->n_nodes;
	uint32_t *seen = NULL, *queue = NULL;
	uint32_t mark = 0;
	int rc = 0;
	for (uint32_t i = 0; i < n && !rc; i++) {
		if ((g->node_bits[i] & HAMR__NODE_KIND) != HAMR_NODE_COLLECT)
			continue;
		const hamr__gnode *collect = g->nodes[i];
		if (!seen) {
			seen = calloc(n, sizeof *seen);
			queue = malloc(n * sizeof *queue);
			if (!seen || !queue) {
				rc = hamr__error_set(HAMR_ENOMEM, "out of memory");
				break;
			}
		}
		for (uint32_t k = 0; k < collect->n_deps && !rc; k++) {
			const hamr__gdep *d = &collect->deps[k];
			if (!(d->flags & HAMR_DEP_COLLECT) || d->target < 0)
				continue;
			int found = 0;
			uint32_t head = 0, tail = 0;
			mark++;
			queue[tail++] = (uint32_t)d->target;
			seen[d->target] = mark;
			while (head < tail && !found) {
				const hamr__gnode *node = g->nodes[queue[head++]];
				if (node->kind == HAMR_NODE_PARALLELIZABLE) {
					found = 1;
					break;
				}
				for (uint32_t e = 0; e < node->n_deps; e++) {
					int32_t up = node->deps[e].target;
					if (up >= 0 && seen[up] != mark) {
						seen[up] = mark;
						queue[tail++] = (uint32_t)up;
					}
				}
			}
			if (!found)
				rc = hamr__error_set(HAMR_ECOLLECT,
				                     "collect node \"%s\" collects \"%s\", which has no parallelizable node upstream",
				                     collect->name, d->name);
		}
	}
	free(seen);
	free(queue);
	return rc;
}

/* Step 8: map blocks. In a topological order, each node's scope is the
 * deepest scope among its inputs: a node's own scope, or for a
 * parallelizable input the block it opens, or for a collected input the
 * scope around that input's block (collecting closes one block). Those
 * scopes must lie on one chain of nesting; a collect must sit exactly in
 * the scope around the block it collects. */
static int is_within(const hamr_graph *g, int32_t outer, int32_t inner)
{
	while (g->scope_depth[inner] > g->scope_depth[outer])
		inner = g->scope_parent[inner];
	return inner == outer;
}

static const char *scope_name(const hamr_graph *g, int32_t s)
{
	return s ? g->nodes[g->scope_owner[s]]->name : "";
}

/* The scope that node t's value is seen in by a consumer through dep d. */
static int input_scope(const hamr_graph *g, const hamr__gnode *t,
                       const hamr__gdep *d, int32_t *inner)
{
	int32_t s = t->kind == HAMR_NODE_PARALLELIZABLE ? t->block : t->scope;
	*inner = s;
	if (!(d->flags & HAMR_DEP_COLLECT))
		return s;
	return s ? g->scope_parent[s] : -1;
}

/* The dependents of g's nodes in CSR form: node t's dependents are
 * (*dependents)[start[t] .. start[t + 1]), and indeg[v] counts the
 * dependencies of v that name a node. start has room for n_nodes + 2,
 * indeg for n_nodes, both zeroed. */
static int list_dependents(const hamr_graph *g, uint32_t *indeg, uint32_t *start,
                           uint32_t **dependents)
{
	uint32_t n = g->n_nodes;
	size_t edges = 0;
	for (uint32_t v = 0; v < n; v++)
		for (uint32_t k = 0; k < g->nodes[v]->n_deps; k++)
			if (g->nodes[v]->deps[k].target >= 0) {
				start[g->nodes[v]->deps[k].target + 1]++;
				indeg[v]++;
				edges++;
			}
	for (uint32_t v = 0; v < n; v++)
		start[v + 1] += start[v];
	uint32_t *list = malloc((edges + 1) * sizeof *list);
	if (!list)
		return hamr__error_set(HAMR_ENOMEM, "out of memory building the graph");
	for (uint32_t v = 0; v < n; v++)
		for (uint32_t k = 0; k < g->nodes[v]->n_deps; k++) {
			int32_t t = g->nodes[v]->deps[k].target;
			if (t >= 0)
				list[start[t]++] = v;
		}
	for (uint32_t v = n; v > 0; v--) /* start[t] moved to t's end */
		start[v] = start[v - 1];
	start[0] = 0;
	*dependents = list;
	return 0;
}

uint32_t hamr__graph_topo_order(uint32_t n, const uint32_t *start, const uint32_t *edges,
                                uint32_t *indeg, uint32_t *order)
{
	uint32_t head = 0, tail = 0;
	for (uint32_t v = 0; v < n; v++)
		if (!indeg[v])
			order[tail++] = v;
	while (head < tail) {
		uint32_t v = order[head++];
		for (uint32_t e = start[v]; e < start[v + 1]; e++)
			if (--indeg[edges[e]] == 0)
				order[tail++] = edges[e];
	}
	return tail;
}

/* g's nodes in a topological order (Kahn's), producers first, into order
 * (room for n_nodes); *n_ordered says how many it holds. */
static int topological_order(const hamr_graph *g, uint32_t *order, uint32_t *n_ordered)
{
	uint32_t n = g->n_nodes;
	uint32_t *indeg = calloc(n + 1, sizeof *indeg);
	uint32_t *start = calloc(n + 2, sizeof *start);
	uint32_t *dependents = NULL;
	int rc = 0;
	if (!indeg || !start)
		rc = hamr__error_set(HAMR_ENOMEM, "out of memory building the graph");
	else
		rc = list_dependents(g, indeg, start, &dependents);
	if (!rc)
		*n_ordered = hamr__graph_topo_order(n, start, dependents, indeg, order);
	free(indeg);
	free(start);
	free(dependents);
	return rc;
}

/* Node v's scope: the deepest scope among its inputs, in *deepest, and
 * the input seen in it in *deepest_input (NULL: v reads none in a block).
 * HAMR_EBLOCK for a collected input outside every block, or for two
 * inputs in blocks that do not nest. */
static int deepest_input_scope(const hamr_graph *g, const hamr__gnode *v,
                               int32_t *deepest, const hamr__gnode **deepest_input)
{
	int32_t best = 0, inner;
	const hamr__gnode *from = NULL;
	for (uint32_t k = 0; k < v->n_deps; k++) {
		const hamr__gdep *d = &v->deps[k];
		if (d->target < 0)
			continue;
		const hamr__gnode *t = g->nodes[d->target];
		int32_t s = input_scope(g, t, d, &inner);
		if (s < 0)
			return hamr__error_set(HAMR_EBLOCK,
			                       "collect node \"%s\" collects \"%s\", which is not inside a map block",
			                       v->name, t->name);
		if (is_within(g, s, best))
			continue;
		if (is_within(g, best, s)) {
			best = s;
			from = t;
			continue;
		}
		return hamr__error_set(HAMR_EBLOCK,
		                       "node \"%s\" reads \"%s\" (in the block of \"%s\") and \"%s\" (in the block of \"%s\"), two blocks that do not nest",
		                       v->name, from->name, scope_name(g, best), t->name,
		                       scope_name(g, s));
	}
	*deepest = best;
	*deepest_input = from;
	return 0;
}

/* A collect sits exactly around the block it collects: each collected
 * input of v is seen in v's own scope. */
static int check_collect_nesting(const hamr_graph *g, const hamr__gnode *v,
                                 const hamr__gnode *deepest_input)
{
	int32_t inner;
	for (uint32_t k = 0; k < v->n_deps; k++) {
		const hamr__gdep *d = &v->deps[k];
		if (d->target < 0 || !(d->flags & HAMR_DEP_COLLECT))
			continue;
		const hamr__gnode *t = g->nodes[d->target];
		if (input_scope(g, t, d, &inner) != v->scope)
			return hamr__error_set(HAMR_EBLOCK,
			                       "collect node \"%s\" collects \"%s\" out of the block of \"%s\", but also reads \"%s\" inside it: mismatched nesting",
			                       v->name, t->name, scope_name(g, inner),
			                       deepest_input ? deepest_input->name : "?");
	}
	return 0;
}

/* Parallelizable node `owner`, which runs in scope `outer`, opens a new
 * block nested in it. */
static void open_block(hamr_graph *g, uint32_t owner, int32_t outer)
{
	uint32_t block = g->n_scopes++;
	g->scope_parent[block] = outer;
	g->scope_owner[block] = (int32_t)owner;
	g->scope_depth[block] = g->scope_depth[outer] + 1;
	g->nodes[owner]->block = (int32_t)block;
}

static uint32_t count_parallel(const hamr_graph *g)
{
	uint32_t n_parallel = 0;
	for (uint32_t i = 0; i < g->n_nodes; i++)
		n_parallel += (g->node_bits[i] & HAMR__NODE_KIND) == HAMR_NODE_PARALLELIZABLE;
	return n_parallel;
}

/* Step 6: g's nodes in a topological order, producers first, into
 * *order (the caller frees it); HAMR_ECYCLE when there is none, with the
 * path of a cycle found by find_cycle. Kahn's order needs no look at a
 * node's record beyond its own dependencies, read in node order, where a
 * depth-first search jumps from record to record; so the search runs only
 * to name a cycle that Kahn's order has shown to exist. Step 8 needs the
 * order only when the graph has blocks: without them, a graph whose
 * nodes each read only nodes added before them (`earlier`: every graph
 * built in dependency order, a generated grid say) is known to have no
 * cycle without computing one, and *order stays NULL. */
static int order_nodes(const hamr_graph *g, int earlier, uint32_t **order)
{
	uint32_t n = g->n_nodes, n_ordered = 0;
	int rc;
	*order = NULL;
	if (earlier && !count_parallel(g))
		return 0;
	*order = malloc((n + 1) * sizeof **order);
	if (!*order)
		return hamr__error_set(HAMR_ENOMEM, "out of memory building the graph");
	if ((rc = topological_order(g, *order, &n_ordered)))
		return rc;
	if (n_ordered == n)
		return 0;
	rc = find_cycle(g);
	assert(rc); /* some nodes wait for each other: a cycle */
	return rc;
}

/* Step 8, in the topological order of step 6 (NULL only for a graph
 * without a parallelizable node). A graph without one has no block: each
 * node's scope and block stay 0, as hamr_graph_add_node left them, and
 * step 7 has refused every collected dependency, so no node need be
 * looked at again. */
static int assign_scopes(hamr_graph *g, const uint32_t *order)
{
	uint32_t n = g->n_nodes, n_parallel = count_parallel(g);
	int rc = 0;
	g->scope_parent = malloc((n_parallel + 1) * sizeof *g->scope_parent);
	g->scope_owner = malloc((n_parallel + 1) * sizeof *g->scope_owner);
	g->scope_depth = malloc((n_parallel + 1) * sizeof *g->scope_depth);
	if (!g->scope_parent || !g->scope_owner || !g->scope_depth)
		return hamr__error_set(HAMR_ENOMEM, "out of memory building the graph");
	g->n_scopes = 1;
	g->scope_parent[0] = -1;
	g->scope_owner[0] = -1;
	g->scope_depth[0] = 0;
	if (!n_parallel)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		hamr__gnode *v = g->nodes[order[i]];
		const hamr__gnode *deepest_input = NULL;
		int32_t scope = 0;
		if ((rc = deepest_input_scope(g, v, &scope, &deepest_input)))
			break;
		v->scope = scope;
		rc = check_collect_nesting(g, v, deepest_input);
		v->block = 0;
		if (rc)
			break;
		if (v->kind == HAMR_NODE_PARALLELIZABLE)
			open_block(g, order[i], v->scope);
	}
	return rc;
}

static int validate(hamr_graph *g)
{
	int rc;
	/* only a definition with conditions can fail step 1 */
	for (uint32_t i = 0; i < g->n_defs && g->n_conditioned; i++)
		if ((rc = check_conds(hamr__graph_def(g, i))))
			return rc;
	if ((rc = check_config_keys(g)))
		return rc;
	size_t n_def_deps = 0;
	if ((rc = select_defs(g, &n_def_deps)))
		return rc;
	int earlier = 0;
	if ((rc = resolve(g, n_def_deps, &earlier)))
		return rc;
	g->deps_earlier = earlier;
	uint32_t *order = NULL;
	if (!(rc = order_nodes(g, earlier, &order)) && !(rc = check_collects(g)))
		rc = assign_scopes(g, order);
	free(order);
	return rc;
}

int hamr_graph_build(hamr_graph *g)
{
	if (!g)
		return hamr__error_set(HAMR_EINVAL, "hamr_graph_build: graph is NULL");
	if (g->built) {
		if (g->build_rc)
			hamr__error_set(g->build_rc, "%s", g->build_msg ? g->build_msg : "");
		return g->build_rc;
	}
	int rc = validate(g);
	g->built = 1;
	g->build_rc = rc;
	if (rc) {
		g->build_msg = strdup(hamr_errmsg());
		g->n_nodes = 0; /* a failed graph shows no nodes */
		hamr__names_free(&g->index); /* and finds none */
	}
	return rc;
}
