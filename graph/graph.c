// SPDX-License-Identifier: MIT
/* Graphs: collecting node definitions, and reading a built graph.
 *
 * A graph is filled in two ways that end up the same: whole modules (static
 * tables, possibly from a shared object loaded with dlopen) and single nodes
 * added by code, such as the cells of a generated grid. Each definition is
 * copied into the graph's bump allocator at once, so callers may pass
 * temporary strings and arrays, and a graph of a quarter million generated
 * nodes costs a few hundred allocations of about 100 KiB rather than a
 * million small ones.
 *
 * Nothing is resolved while definitions arrive: two definitions of one name
 * may be legal (their config conditions exclude each other), and which one
 * exists depends on the config, which may be set after them. The build
 * (graph/validate.c) settles all of that at once. */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graph/graph_internal.h"
#include "serialize/error_internal.h"
#include "serialize/spelling_internal.h"

int hamr_graph_create(hamr_graph **out)
{
	return hamr_graph_create_with(out, NULL);
}

int hamr_graph_create_with(hamr_graph **out, const hamr_graph_opts *opts)
{
	if (!out)
		return hamr__error_set(HAMR_EINVAL, "hamr_graph_create: out is NULL");
	hamr_graph *g = calloc(1, sizeof *g);
	if (!g)
		return hamr__error_set(HAMR_ENOMEM, "out of memory creating a graph");
	g->allow_extra_config = opts && opts->allow_extra_config;
	atomic_init(&g->refs, 1);
	hamr__bump_init(&g->mem);
	hamr__names_init(&g->index);
	*out = g;
	return 0;
}

/* Clears the defaults of the first `count` dependencies of definition n:
 * a string default is a value of its own. */
static void clear_dep_defaults(hamr__gnode *n, uint32_t count)
{
	for (uint32_t k = 0; k < count; k++)
		hamr_value_clear(&n->deps[k].dflt);
}

static void graph_free(hamr_graph *g)
{
	for (uint32_t i = 0; i < g->n_defs; i++) {
		hamr__gnode *n = hamr__graph_def(g, i);
		clear_dep_defaults(n, n->n_deps);
	}
	for (uint32_t b = 0; b < g->n_def_blocks; b++)
		free(g->def_blocks[b]);
	free(g->def_blocks);
	free(g->cfg_keys);
	free(g->cfg_vals);
	free(g->nodes);
	free(g->dep_start);
	free(g->dep_node);
	free(g->node_bits);
	free(g->scope_parent);
	free(g->scope_owner);
	free(g->scope_depth);
	free(g->build_msg);
	hamr__names_free(&g->index);
	hamr__bump_free(&g->mem);
	for (uint32_t i = 0; i < g->n_dl; i++)
		dlclose(g->dl[i]);
	free(g->dl);
	free(g);
}

void hamr__graph_retain(hamr_graph *g)
{
	/* relaxed: taking a hold needs an existing one, which orders it */
	atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
}

void hamr__graph_release(hamr_graph *g)
{
	/* acq_rel: the release publishes this holder's last reads of g to
	 * whoever frees it; the acquire on the last decrement sees them all
	 * before graph_free runs. */
	if (atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1)
		graph_free(g);
}

void hamr_graph_destroy(hamr_graph *g)
{
	if (g)
		hamr__graph_release(g);
}

static int check_open(const hamr_graph *g, const char *what)
{
	if (!g)
		return hamr__error_set(HAMR_EINVAL, "%s: graph is NULL", what);
	if (g->built)
		return hamr__error_set(HAMR_ESTATE,
		                       "%s: the graph is already built", what);
	return 0;
}

static int grow(void **arr, uint32_t *cap, uint32_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	uint32_t new_cap = *cap ? *cap : 16;
	while (new_cap < need) {
		if (new_cap > UINT32_MAX / 2)
			return HAMR_ENOMEM;
		new_cap *= 2;
	}
	void *bigger = realloc(*arr, (size_t)new_cap * elem);
	if (!bigger)
		return HAMR_ENOMEM;
	*arr = bigger;
	*cap = new_cap;
	return 0;
}

int hamr_graph_set_config(hamr_graph *g, const char *key, const char *value)
{
	int rc = check_open(g, "hamr_graph_set_config");
	if (rc)
		return rc;
	if (!key || !*key || !value)
		return hamr__error_set(HAMR_EINVAL,
		                       "hamr_graph_set_config: key and value are required");
	for (uint32_t i = 0; i < g->n_cfg; i++) {
		if (!strcmp(g->cfg_keys[i], key)) {
			const char *value_copy = hamr__bump_strdup(&g->mem, value);
			if (!value_copy)
				return hamr__error_set(HAMR_ENOMEM, "out of memory");
			g->cfg_vals[i] = value_copy;
			return 0;
		}
	}
	uint32_t cap = g->cap_cfg;
	if (grow((void **)&g->cfg_keys, &cap, g->n_cfg + 1, sizeof *g->cfg_keys) ||
	    grow((void **)&g->cfg_vals, &g->cap_cfg, g->n_cfg + 1,
	         sizeof *g->cfg_vals))
		return hamr__error_set(HAMR_ENOMEM, "out of memory");
	const char *key_copy = hamr__bump_strdup(&g->mem, key);
	const char *value_copy = hamr__bump_strdup(&g->mem, value);
	if (!key_copy || !value_copy)
		return hamr__error_set(HAMR_ENOMEM, "out of memory");
	g->cfg_keys[g->n_cfg] = key_copy;
	g->cfg_vals[g->n_cfg] = value_copy;
	g->n_cfg++;
	return 0;
}

/* Copies a default into a value; a string default becomes a string value
 * owned by the graph. */
int hamr__default_value(const hamr_default *d, hamr_value *out)
{
	*out = (hamr_value)HAMR_VALUE_EMPTY;
	if (!d->type)
		return 0;
	if (d->type == HAMR_I64)
		*out = hamr_value_from_i64(d->i64);
	else if (d->type == HAMR_F64)
		*out = hamr_value_from_f64(d->f64);
	else if (d->type == HAMR_BOOL)
		*out = hamr_value_from_bool(d->b);
	else if (d->type == HAMR_STR)
		return hamr_value_make_str(out, d->str ? d->str : "");
	else
		return HAMR_ETYPE;
	return 0;
}

static int copy_conds(hamr_graph *g, hamr__gnode *n, const hamr_cond *conds)
{
	uint32_t n_conds = 0;
	while (conds && conds[n_conds].op)
		n_conds++;
	if (!n_conds)
		return 0;
	n->conds = hamr__bump_alloc(&g->mem, n_conds * sizeof *n->conds);
	if (!n->conds)
		return HAMR_ENOMEM;
	n->n_conds = n_conds;
	for (uint32_t i = 0; i < n_conds; i++) {
		const hamr_cond *c = &conds[i];
		hamr__gcond *gc = &n->conds[i];
		gc->op = c->op;
		gc->key = c->key ? hamr__bump_strdup(&g->mem, c->key) : NULL;
		if (c->key && !gc->key)
			return HAMR_ENOMEM;
		gc->values = NULL;
		gc->n_values = 0;
		if (c->op == HAMR_WHEN || c->op == HAMR_WHEN_NOT) {
			if (!c->value) {
				n->bad_cond = 1;
				continue;
			}
			gc->values = hamr__bump_alloc(&g->mem, sizeof *gc->values);
			if (!gc->values)
				return HAMR_ENOMEM;
			gc->values[0] = hamr__bump_strdup(&g->mem, c->value);
			if (!gc->values[0])
				return HAMR_ENOMEM;
			gc->n_values = 1;
		} else if (c->op == HAMR_WHEN_IN || c->op == HAMR_WHEN_NOT_IN) {
			uint32_t n_values = 0;
			while (c->values && c->values[n_values])
				n_values++;
			if (!n_values) {
				n->bad_cond = 1;
				continue;
			}
			gc->values = hamr__bump_alloc(&g->mem, n_values * sizeof *gc->values);
			if (!gc->values)
				return HAMR_ENOMEM;
			for (uint32_t v = 0; v < n_values; v++)
				if (!(gc->values[v] = hamr__bump_strdup(&g->mem, c->values[v])))
					return HAMR_ENOMEM;
			gc->n_values = n_values;
		} else {
			n->bad_cond = 1;
		}
	}
	return 0;
}

static int out_of_memory_adding(const hamr_node_def *def)
{
	return hamr__error_set(HAMR_ENOMEM, "out of memory adding node \"%s\"",
	                       def->name);
}

/* Refuses a definition without a name, of an unknown kind, without a
 * function, or with a fold where it cannot have one. */
static int check_def(const char *module, const hamr_node_def *def)
{
	if (!def || !def->name || !*def->name)
		return module ? hamr__error_set(HAMR_EINVAL, "a node of module \"%s\" has no name",
		                                module) :
		                hamr__error_set(HAMR_EINVAL, "a node added without a module has no name");
	if (def->kind > HAMR_NODE_INPUT)
		return hamr__error_set(HAMR_EINVAL, "node \"%s\" has an unknown kind %d",
		                       def->name, (int)def->kind);
	if (!def->fn && def->kind != HAMR_NODE_INPUT && !def->fold)
		return hamr__error_set(HAMR_EINVAL, "node \"%s\" has no function",
		                       def->name);
	if (def->fold && (def->kind != HAMR_NODE_COLLECT || !def->fold->step))
		return hamr__error_set(HAMR_EINVAL,
		                       def->kind != HAMR_NODE_COLLECT ?
		                       "node \"%s\" folds, but only a collect node can" :
		                       "fold collect \"%s\" has no step function",
		                       def->name);
	return 0;
}

/* Copies the definition's name, module, doc, function, type, kind and
 * fold into n, the strings into the graph's memory. */
static int copy_fields(hamr_graph *g, hamr__gnode *n, const char *module,
                       const hamr_node_def *def)
{
	n->name = hamr__bump_strdup(&g->mem, def->name);
	/* nodes come a module at a time: one copy of its name serves all */
	if (!module)
		module = "";
	if (!g->last_module || strcmp(g->last_module, module))
		g->last_module = hamr__bump_strdup(&g->mem, module);
	n->module = g->last_module;
	n->doc = def->doc ? hamr__bump_strdup(&g->mem, def->doc) : NULL;
	n->fn = def->fn;
	n->userdata = def->userdata;
	n->type = def->type;
	n->kind = def->kind;
	if (def->fold) {
		hamr_type init_type = def->fold->init.type;
		if (init_type && init_type != HAMR_I64 && init_type != HAMR_F64 &&
		    init_type != HAMR_BOOL && init_type != HAMR_STR)
			return hamr__error_set(HAMR_ETYPE,
			                       "fold collect \"%s\": its initial value is a %s; it can be i64, f64, bool, str or none",
			                       def->name, hamr_type_name(init_type));
		n->fold = hamr__bump_alloc(&g->mem, sizeof *n->fold);
		if (!n->fold)
			return out_of_memory_adding(def);
		*n->fold = *def->fold;
		if (n->fold->init.type == HAMR_STR) {
			n->fold->init.str = hamr__bump_strdup(&g->mem,
			                                      n->fold->init.str ? n->fold->init.str : "");
			if (!n->fold->init.str)
				return out_of_memory_adding(def);
		}
	}
	if (!n->name || !n->module || (def->doc && !n->doc))
		return out_of_memory_adding(def);
	return 0;
}

/* Each dependency's default as a value of n's (a string one owned by the
 * graph); on failure, those copied before it are cleared again. */
static int copy_dep_defaults(hamr__gnode *n, const hamr_node_def *def)
{
	for (uint32_t i = 0; i < n->n_deps; i++) {
		int rc = hamr__default_value(&def->deps[i].dflt, &n->deps[i].dflt);
		if (rc == HAMR_ETYPE) {
			clear_dep_defaults(n, i);
			return hamr__error_set(
				HAMR_ETYPE,
				"node \"%s\": the default of dependency \"%s\" is a %s; defaults are i64, f64, bool or str",
				def->name, def->deps[i].name,
				hamr_type_name(def->deps[i].dflt.type));
		}
		if (rc) {
			clear_dep_defaults(n, i);
			return out_of_memory_adding(def);
		}
	}
	return 0;
}

/* Copies the definition's dependencies into n, unresolved (target -1);
 * an input has none. */
static int copy_deps(hamr_graph *g, hamr__gnode *n, const hamr_node_def *def)
{
	uint32_t n_deps = 0;
	while (def->deps && def->deps[n_deps].name)
		n_deps++;
	if (n_deps && def->kind == HAMR_NODE_INPUT)
		return hamr__error_set(HAMR_EINVAL,
		                       "input \"%s\" cannot have dependencies", def->name);
	if (!n_deps)
		return 0;
	n->deps = hamr__bump_alloc(&g->mem, n_deps * sizeof *n->deps);
	if (!n->deps)
		return out_of_memory_adding(def);
	for (uint32_t i = 0; i < n_deps; i++) {
		const hamr_dep *d = &def->deps[i];
		hamr__gdep *gd = &n->deps[i];
		gd->name = hamr__bump_strdup(&g->mem, d->name);
		gd->type = d->type;
		gd->flags = d->flags;
		gd->target = -1;
		gd->dflt = (hamr_value)HAMR_VALUE_EMPTY;
		if (!gd->name)
			return out_of_memory_adding(def);
	}
	n->n_deps = n_deps;
	return copy_dep_defaults(n, def);
}

/* Copies the definition's tags into n; a tag without a value gets "". */
static int copy_tags(hamr_graph *g, hamr__gnode *n, const hamr_tag *tags)
{
	uint32_t n_tags = 0;
	while (tags && tags[n_tags].key)
		n_tags++;
	if (n_tags && !(n->tags = hamr__bump_alloc(&g->mem, n_tags * sizeof *n->tags)))
		return HAMR_ENOMEM;
	for (uint32_t i = 0; i < n_tags; i++) {
		n->tags[i].key = hamr__bump_strdup(&g->mem, tags[i].key);
		n->tags[i].value = hamr__bump_strdup(&g->mem, tags[i].value ? tags[i].value : "");
		if (!n->tags[i].key || !n->tags[i].value)
			return HAMR_ENOMEM;
	}
	n->n_tags = n_tags;
	return 0;
}

/* Room for one more definition: the first block doubles, from 16
 * definitions up to HAMR__DEF_BLOCK; later blocks come whole. */
static int def_room(hamr_graph *g)
{
	if (g->n_defs < g->def_cap)
		return 0;
	if (g->n_defs >= UINT32_MAX - HAMR__DEF_BLOCK)
		return HAMR_ENOMEM;
	if (g->def_cap < HAMR__DEF_BLOCK) {
		uint32_t cap = g->def_cap ? 2 * g->def_cap : 16;
		if (cap > HAMR__DEF_BLOCK)
			cap = HAMR__DEF_BLOCK;
		if (!g->def_blocks) {
			if (!(g->def_blocks = calloc(1, sizeof *g->def_blocks)))
				return HAMR_ENOMEM;
			g->n_def_blocks = 1;
		}
		hamr__gnode *first = realloc(g->def_blocks[0], cap * sizeof *first);
		if (!first)
			return HAMR_ENOMEM;
		g->def_blocks[0] = first;
		g->def_cap = cap;
		return 0;
	}
	hamr__gnode **blocks = realloc(g->def_blocks,
	                               (g->n_def_blocks + 1) * sizeof *blocks);
	if (!blocks)
		return HAMR_ENOMEM;
	g->def_blocks = blocks;
	if (!(blocks[g->n_def_blocks] = malloc(HAMR__DEF_BLOCK * sizeof **blocks)))
		return HAMR_ENOMEM;
	g->n_def_blocks++;
	g->def_cap += HAMR__DEF_BLOCK;
	return 0;
}

int hamr_graph_add_node(hamr_graph *g, const char *module,
                        const hamr_node_def *def)
{
	int rc = check_open(g, "hamr_graph_add_node");
	if (rc)
		return rc;
	if ((rc = check_def(module, def)))
		return rc;
	if (def_room(g))
		return out_of_memory_adding(def);

	hamr__gnode *n = hamr__graph_def(g, g->n_defs);
	memset(n, 0, sizeof *n);
	if ((rc = copy_fields(g, n, module, def)) || (rc = copy_deps(g, n, def)))
		return rc;
	if (copy_tags(g, n, def->tags) || copy_conds(g, n, def->conds)) {
		clear_dep_defaults(n, n->n_deps);
		return out_of_memory_adding(def);
	}
	g->n_conditioned += n->n_conds != 0;
	g->n_defs++;
	return 0;
}

int hamr_graph_add_module(hamr_graph *g, const hamr_module *m)
{
	int rc = check_open(g, "hamr_graph_add_module");
	if (rc)
		return rc;
	if (!m || !m->nodes)
		return hamr__error_set(HAMR_EINVAL, "hamr_graph_add_module: no module");
	uint32_t before = g->n_defs;
	for (const hamr_node_def *d = m->nodes; d->name; d++) {
		rc = hamr_graph_add_node(g, m->name, d);
		if (rc) {
			/* all of the module or none of it */
			for (uint32_t i = before; i < g->n_defs; i++) {
				hamr__gnode *n = hamr__graph_def(g, i);
				clear_dep_defaults(n, n->n_deps);
			}
			g->n_defs = before;
			return rc;
		}
	}
	return 0;
}

int hamr_graph_add_input(hamr_graph *g, const char *name, hamr_type type)
{
	hamr_node_def def = {0};
	def.name = name;
	def.type = type;
	def.kind = HAMR_NODE_INPUT;
	return hamr_graph_add_node(g, NULL, &def);
}

int hamr_graph_load_module(hamr_graph *g, const char *path)
{
	int rc = check_open(g, "hamr_graph_load_module");
	if (rc)
		return rc;
	if (!path)
		return hamr__error_set(HAMR_EINVAL, "hamr_graph_load_module: no path");
	if (grow((void **)&g->dl, &g->cap_dl, g->n_dl + 1, sizeof *g->dl))
		return hamr__error_set(HAMR_ENOMEM, "out of memory");
	/* a path without a slash names a file in the working directory, to
	 * the caller as to any program, but dlopen would search the library
	 * path for it: when that file exists it is loaded as "./name" (also
	 * by the fork server, which resolves it against the same directory) */
	char here[PATH_MAX];
	const char *file = path;
	if (!strchr(path, '/') && !access(path, F_OK) &&
	    snprintf(here, sizeof here, "./%s", path) < (int)sizeof here)
		file = here;
	/* RTLD_NODELETE: types a module registers are process-wide, and their
	 * names and callbacks live in the module, so it is never unmapped */
	void *handle = dlopen(file, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!handle)
		return hamr__error_set(HAMR_EMODULE, "cannot load module %s: %s",
		                       path, dlerror());
	hamr_module_entry_fn entry;
	/* POSIX allows converting dlsym's result to a function pointer */
	*(void **)&entry = dlsym(handle, HAMR_MODULE_ENTRY_SYMBOL);
	const hamr_module *m = entry ? entry() : NULL;
	if (!m || !m->nodes) {
		dlclose(handle);
		if (!entry)
			return hamr__error_set(HAMR_EMODULE,
			                       "cannot load module %s: it has no %s (define it with HAMR_MODULE_EXPORT)",
			                       path, HAMR_MODULE_ENTRY_SYMBOL);
		if (!m)
			return hamr__error_set(HAMR_EMODULE,
			                       "cannot load module %s: its %s() returned NULL instead of a module",
			                       path, HAMR_MODULE_ENTRY_SYMBOL);
		return hamr__error_set(HAMR_EMODULE,
		                       "cannot load module %s: its %s() returned module \"%s\", which has no node table",
		                       path, HAMR_MODULE_ENTRY_SYMBOL, m->name ? m->name : "(unnamed)");
	}
	g->dl[g->n_dl++] = handle; /* closed with the graph, also on error below */
	if (hamr__module_loaded)
		hamr__module_loaded(file);
	return hamr_graph_add_module(g, m);
}

void (*hamr__module_loaded)(const char *path);

/* ---- reading a built graph ---------------------------------------------- */

int32_t hamr__graph_lookup(const hamr_graph *g, const char *name)
{
	return hamr__names_get(&g->index, name);
}

void hamr__graph_hint(const hamr_graph *g, const char *name)
{
	hamr__nearest near;
	hamr__nearest_init(&near, name);
	for (uint32_t i = 0; i < g->n_nodes && near.best_d; i++)
		hamr__nearest_try(&near, g->nodes[i]->name);
	if (near.best)
		hamr__error_append(0, "; did you mean \"%s\"?", near.best);
}

int hamr__graph_defines(const hamr_graph *g, const char *name)
{
	for (uint32_t i = 0; i < g->n_defs; i++)
		if (!strcmp(hamr__graph_def(g, i)->name, name))
			return 1;
	return 0;
}

size_t hamr_graph_node_count(const hamr_graph *g)
{
	return g && g->built ? g->n_nodes : 0;
}

int hamr_graph_find(const hamr_graph *g, const char *name)
{
	if (!g || !name || !g->built)
		return hamr__error_set(HAMR_EINVAL, "hamr_graph_find: graph not built");
	int32_t i = hamr__graph_lookup(g, name);
	if (i < 0) {
		hamr__error_set(HAMR_ENOENT, "no node \"%s\"", name);
		hamr__graph_hint(g, name);
		return HAMR_ENOENT;
	}
	return i;
}

int hamr_graph_node_info(const hamr_graph *g, size_t i, hamr_node_info *info)
{
	if (!g || !info || i >= hamr_graph_node_count(g))
		return hamr__error_set(HAMR_ERANGE, "no node at index %zu", i);
	const hamr__gnode *n = g->nodes[i];
	info->name = n->name;
	info->module = n->module;
	info->doc = n->doc;
	info->type = n->type;
	info->kind = n->kind;
	info->n_deps = n->n_deps;
	info->n_tags = n->n_tags;
	return 0;
}

const char *hamr_graph_node_dep(const hamr_graph *g, size_t i, size_t d,
                                int *target)
{
	if (!g || i >= hamr_graph_node_count(g) || d >= g->nodes[i]->n_deps)
		return NULL;
	if (target)
		*target = g->nodes[i]->deps[d].target;
	return g->nodes[i]->deps[d].name;
}

int hamr_graph_node_tag(const hamr_graph *g, size_t i, size_t t,
                        const char **key, const char **value)
{
	if (!g || i >= hamr_graph_node_count(g) || t >= g->nodes[i]->n_tags)
		return hamr__error_set(HAMR_ERANGE, "no tag %zu on node %zu", t, i);
	if (key)
		*key = g->nodes[i]->tags[t].key;
	if (value)
		*value = g->nodes[i]->tags[t].value;
	return 0;
}

const char *hamr_graph_tag_value(const hamr_graph *g, size_t i, const char *key)
{
	if (!g || !key || i >= hamr_graph_node_count(g))
		return NULL;
	const hamr__gnode *n = g->nodes[i];
	for (uint32_t t = 0; t < n->n_tags; t++)
		if (!strcmp(n->tags[t].key, key))
			return n->tags[t].value;
	return NULL;
}

/* Whether node `n` has every tag of `filter` (a NULL value: any value). */
static bool has_tags(const hamr__gnode *n, const hamr_tag *filter)
{
	for (const hamr_tag *f = filter; f && f->key; f++) {
		bool found = false;
		for (uint32_t t = 0; t < n->n_tags && !found; t++)
			found = !strcmp(n->tags[t].key, f->key) &&
			        (!f->value || !strcmp(n->tags[t].value, f->value));
		if (!found)
			return false;
	}
	return true;
}

int hamr_graph_nodes_tagged(const hamr_graph *g, const hamr_tag *filter,
                            const char **names, size_t cap, size_t *n)
{
	if (n)
		*n = 0;
	if (!g || !n || !g->built)
		return hamr__error_set(HAMR_EINVAL, "hamr_graph_nodes_tagged: graph not built");
	if (cap && !names)
		return hamr__error_set(HAMR_EINVAL, "hamr_graph_nodes_tagged: no array for %zu names", cap);
	size_t found = 0;
	for (uint32_t i = 0; i < g->n_nodes; i++) {
		if (!has_tags(g->nodes[i], filter))
			continue;
		if (found < cap)
			names[found] = g->nodes[i]->name;
		found++;
	}
	*n = found;
	return 0;
}
