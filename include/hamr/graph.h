/* SPDX-License-Identifier: MIT */
/* Graphs and plans.
 *
 * A node is a C function whose dependencies are named: a node called
 * "spend_mean" that depends on "spend" receives the value of the node (or
 * external input) "spend" as its argument 0. Nodes come in modules, static
 * tables of hamr_node_def, or are added one by one at run time. A graph
 * combines modules under a configuration (a node may exist only for some
 * config values), resolves every name, and validates. A plan is the part of
 * a graph that some requested outputs need, compiled to integer indices;
 * runs (hamr/runtime.h) execute plans.
 *
 * Lifetimes: a graph copies every definition handed to it (names, tags,
 * conditions, dependency lists), so those may be temporary; function and
 * user-data pointers are kept as given. A plan keeps its graph alive: the
 * graph's memory is released when hamr_graph_destroy has been called and the
 * last plan made from it is destroyed. */
#ifndef HAMR_GRAPH_H
#define HAMR_GRAPH_H

#include <stdio.h>

#include "hamr/export.h"
#include "hamr/value.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hamr_call hamr_call;   /* one execution of one node */
typedef struct hamr_graph hamr_graph; /* nodes resolved under a config */
typedef struct hamr_plan hamr_plan;   /* what some outputs need, compiled */

/* A node function: reads its arguments from `c` (hamr/runtime.h), sets its
 * result with a hamr_ret_* call, and returns 0, or a negative HAMR_E* (best
 * through hamr_fail, which also records a message). */
typedef int (*hamr_fn)(hamr_call *c);

typedef enum hamr_node_kind {
	HAMR_NODE_PLAIN = 0,
	HAMR_NODE_PARALLELIZABLE, /* emits items; its result type is the item's */
	HAMR_NODE_COLLECT,        /* gathers a block; see HAMR_DEP_COLLECT */
	HAMR_NODE_INPUT           /* declares an external input: no function */
} hamr_node_kind;

enum {
	/* The dependency may be missing: when no node or given input of that
	 * name exists, the node receives the default (if `dflt` has a type) or
	 * nothing (hamr_arg_present() is false). */
	HAMR_DEP_OPTIONAL = 1u << 0,
	/* A collect node's collected dependency: the node receives a list of
	 * the dependency's values, one per item of its block, in item order.
	 * `type` is then the type of one item. */
	HAMR_DEP_COLLECT = 1u << 1,
	/* With HAMR_DEP_COLLECT, under the keep_going policy: when items of
	 * the block failed, the node still runs and receives the values of the
	 * items that succeeded, in item order; hamr_arg_item_index() gives
	 * each one's item index. A collect that is not tolerant does not run
	 * when an item failed. */
	HAMR_DEP_TOLERANT = 1u << 2
};

/* A scalar default for an optional dependency (hamr_dep.dflt). */
typedef struct hamr_default {
	hamr_type type; /* NULL: no default; else HAMR_I64, F64, BOOL or STR */
	int64_t i64;
	double f64;
	bool b;
	const char *str;
} hamr_default;

#define HAMR_DEFAULT_I64(x) {HAMR_I64, (x), 0.0, false, NULL}
#define HAMR_DEFAULT_F64(x) {HAMR_F64, 0, (x), false, NULL}
#define HAMR_DEFAULT_BOOL(x) {HAMR_BOOL, 0, 0.0, (x), NULL}
#define HAMR_DEFAULT_STR(x) {HAMR_STR, 0, 0.0, false, (x)}

/* One dependency: the name of the node or input it reads, the type it
 * expects (NULL: any), HAMR_DEP_* flags and, for an optional one, a
 * default. Arrays of them end with an entry whose name is NULL. */
typedef struct hamr_dep {
	const char *name;
	hamr_type type;
	unsigned flags;
	hamr_default dflt;
} hamr_dep;

/* Complete initializers for the common cases, so that tables stay short and
 * compile cleanly under -Wextra:
 *   .deps = (const hamr_dep[]){HAMR_DEP("spend", HAMR_F64),
 *                              HAMR_DEP_OPT("weeks", HAMR_I64,
 *                                           HAMR_DEFAULT_I64(12)),
 *                              HAMR_DEPS_END} */
#define HAMR_NO_DEFAULT {NULL, 0, 0.0, false, NULL}
#define HAMR_DEP(name, type) {(name), (type), 0u, HAMR_NO_DEFAULT}
#define HAMR_DEP_OPT(name, type, dflt) {(name), (type), HAMR_DEP_OPTIONAL, dflt}
#define HAMR_DEP_COLLECTED(name, type)                                       \
	{(name), (type), HAMR_DEP_COLLECT, HAMR_NO_DEFAULT}
#define HAMR_DEP_COLLECTED_TOLERANT(name, type)                              \
	{(name), (type), HAMR_DEP_COLLECT | HAMR_DEP_TOLERANT, HAMR_NO_DEFAULT}
#define HAMR_DEPS_END {NULL, NULL, 0u, HAMR_NO_DEFAULT}

/* A tag, key=value (Hamilton's @tag). Arrays end with a NULL key. */
typedef struct hamr_tag {
	const char *key;
	const char *value;
} hamr_tag;

typedef enum hamr_cond_op {
	HAMR_WHEN = 1,    /* config[key] == value        (@config.when) */
	HAMR_WHEN_NOT,    /* config[key] != value, or key absent (when_not) */
	HAMR_WHEN_IN,     /* config[key] is one of values (when_in) */
	HAMR_WHEN_NOT_IN  /* config[key] is none of values, or absent */
} hamr_cond_op;

/* A config condition. HAMR_WHEN and HAMR_WHEN_NOT use `value`;
 * HAMR_WHEN_IN and HAMR_WHEN_NOT_IN use `values`, an array ended by NULL.
 * A node exists only when all its conditions hold. Arrays of conditions end
 * with op 0. */
typedef struct hamr_cond {
	hamr_cond_op op;
	const char *key;
	const char *value;
	const char *const *values;
} hamr_cond;

/* Complete initializers for conditions:
 *   .conds = (const hamr_cond[]){HAMR_COND_WHEN("scaling", "zscore"),
 *                                HAMR_CONDS_END} */
#define HAMR_COND_WHEN(key, value) {HAMR_WHEN, (key), (value), NULL}
#define HAMR_COND_WHEN_NOT(key, value) {HAMR_WHEN_NOT, (key), (value), NULL}
#define HAMR_COND_WHEN_IN(key, ...)                                          \
	{HAMR_WHEN_IN, (key), NULL, (const char *const[]){__VA_ARGS__, NULL}}
#define HAMR_COND_WHEN_NOT_IN(key, ...)                                      \
	{HAMR_WHEN_NOT_IN, (key), NULL, (const char *const[]){__VA_ARGS__, NULL}}
#define HAMR_CONDS_END {(hamr_cond_op)0, NULL, NULL, NULL}

/* A fold collect: instead of a list, a collect node may consume its block's
 * values one at a time as items finish, so memory stays bounded however
 * many items pass. The accumulator starts as `init` (no type: empty, and
 * the first step sees an empty *acc). After the block, the node's function
 * receives the accumulator as its collected argument; with no function,
 * the accumulator is the node's result. Under the threads executor steps
 * run in the order items finish: a fold whose result must not depend on
 * order combines associatively and commutatively. With no initial value
 * and no items the accumulator is none, and a fold without a function
 * declared with another type fails, saying so. A step or merge that fails
 * records its error (naming the node, and the item for a step), and the
 * fold then gives no result, to tolerant readers neither. */
typedef struct hamr_fold {
	hamr_default init;
	/* folds one item's value *x (borrowed for the call) into *acc
	 * (replace *acc, clearing the old value, to change its type or box);
	 * 0 or a negative HAMR_E*. Called with the node's userdata; with a
	 * merge, on several workers at once (each on its own partial). */
	int (*step)(hamr_value *acc, const hamr_value *x, void *userdata);
	/* optional: folds the partial accumulator *part (it also started as
	 * `init`, which must then be an identity) into *acc, which is empty
	 * at the first merge when there is no initial value. With it each
	 * worker folds its own items without a lock and partials merge, one
	 * at a time, as workers finish; without it steps take turns. */
	int (*merge)(hamr_value *acc, const hamr_value *part, void *userdata);
} hamr_fold;

/* A node definition. `deps`, `tags` and `conds` may be NULL.
 *
 * Tags hamr reads:
 *   blocking=true       the node waits on I/O: it runs on the blocking pool;
 *                       in a map block, the block's items run there, one
 *                       per blocking worker, wherever they run on the pool
 *   concurrency=G:N     at most N threads run nodes of group G at once in a
 *                       run; a node waits (spinning, then sleeping) for a
 *                       place, so a node holding one must not wait for
 *                       another node of its group on another thread. Not
 *                       on parallelizable nodes, one group per node
 *   executor=E          on a parallelizable node: how its block's items
 *                       run, "sequential" (in item order), "threads" (on
 *                       the pool), "processes" (in worker processes;
 *                       a block that cannot run there runs on the pool)
 *                       or "mpi" (on the ranks of an MPI job, hamr/mpi.h,
 *                       with the same limits)
 *   grouping=S          on a parallelizable node: how its block's items
 *                       become tasks, "auto", "block" or "node" (see
 *                       hamr_grouping in hamr/runtime.h) */
typedef struct hamr_node_def {
	const char *name;
	hamr_fn fn;          /* NULL only for HAMR_NODE_INPUT */
	void *userdata;      /* hamr_userdata(c) in the function */
	hamr_type type;      /* result type (parallelizable: item type); NULL any */
	hamr_node_kind kind;
	const hamr_dep *deps;
	const hamr_tag *tags;
	const hamr_cond *conds;
	const char *doc;     /* one line, for --list and DOT tooltips */
	const hamr_fold *fold; /* a collect node that folds (copied); NULL */
} hamr_node_def;

/* A module: a named table of nodes ended by an entry whose name is NULL. */
typedef struct hamr_module {
	const char *name;
	const hamr_node_def *nodes;
} hamr_module;

/* A shared object made to be loaded by hamr_graph_load_module exports
 * `hamr_module_entry`; HAMR_MODULE_EXPORT(mod) defines it. */
typedef const hamr_module *(*hamr_module_entry_fn)(void);
#define HAMR_MODULE_ENTRY_SYMBOL "hamr_module_entry"
#define HAMR_MODULE_EXPORT(mod)                                              \
	HAMR_MODULE_API const hamr_module *hamr_module_entry(void);          \
	const hamr_module *hamr_module_entry(void) { return &(mod); }

/* ---- graphs ---------------------------------------------------------- */

/* Graph settings. Every field's zero is its default, so a struct set up
 * with HAMR_GRAPH_OPTS_INIT (or `= {0}`) stays valid as fields are added. */
typedef struct hamr_graph_opts {
	/* 0: a config key that no config condition of the graph reads fails
	 * hamr_graph_build with HAMR_ECONFIG, naming the key and the nearest
	 * key a condition reads (a misspelt key would otherwise pick the
	 * fallback definitions, silently). 1: such keys are accepted and
	 * ignored, for a config shared by several graphs. */
	int allow_extra_config;
} hamr_graph_opts;

#define HAMR_GRAPH_OPTS_INIT {0}

/* Makes an empty graph with default settings, owned by the caller
 * (hamr_graph_destroy). */
HAMR_API int hamr_graph_create(hamr_graph **out);

/* Makes an empty graph with the settings in `opts` (copied; NULL: the
 * defaults), owned by the caller (hamr_graph_destroy). */
HAMR_API int hamr_graph_create_with(hamr_graph **out, const hamr_graph_opts *opts);

/* Releases the caller's hold on `g`; plans made from it stay valid.
 * Accepts NULL. */
HAMR_API void hamr_graph_destroy(hamr_graph *g);

/* Sets config `key` to `value` (both copied); a later call for the same key
 * replaces it. Only before hamr_graph_build, which fails with HAMR_ECONFIG
 * when no config condition of the graph reads `key` (unless
 * hamr_graph_opts.allow_extra_config). */
HAMR_API int hamr_graph_set_config(hamr_graph *g, const char *key,
                                   const char *value);

/* Adds every node of `m` (copied), or none of them when one is invalid.
 * Only before hamr_graph_build. */
HAMR_API int hamr_graph_add_module(hamr_graph *g, const hamr_module *m);

/* Adds one node (copied): for graphs generated by code. `module` names it
 * in messages and may be NULL. */
HAMR_API int hamr_graph_add_node(hamr_graph *g, const char *module,
                                 const hamr_node_def *def);

/* Declares an external input `name` of type `type` (NULL: any), with no
 * config condition: it stands for `name` under every config that keeps no
 * node of that name (an input and a node of one name that the config both
 * keeps are HAMR_EDUP). Same as hamr_graph_add_node with a NULL module and
 * kind HAMR_NODE_INPUT, which also takes conditions. */
HAMR_API int hamr_graph_add_input(hamr_graph *g, const char *name,
                                  hamr_type type);

/* Loads the shared object at `path` with dlopen, and adds the module its
 * hamr_module_entry returns. A path without a slash that names a file in
 * the working directory loads that file (dlopen alone would search the
 * library path for it); any other name without a slash is dlopen's to find. The object stays loaded for the life of the
 * process, since the user types it registers are process-wide: loading it
 * again is cheap and gives the same code. HAMR_EMODULE when it cannot be
 * loaded (the message has dlerror's words), has no entry point, or its
 * entry point returns NULL or a module without a node table (the message
 * says which). */
HAMR_API int hamr_graph_load_module(hamr_graph *g, const char *path);

/* Applies the config, resolves every dependency name and validates the
 * graph: unknown dependency (HAMR_EDEP), duplicate name (HAMR_EDUP), cycle
 * (HAMR_ECYCLE), type mismatch (HAMR_ETYPE), bad config condition or a
 * config key no condition reads (HAMR_ECONFIG, with the nearest key read),
 * collect without a parallelizable upstream (HAMR_ECOLLECT).
 *
 * Conditions apply to every definition, inputs included. Two function
 * nodes of one name must exclude each other under every config (their
 * conditions are checked against each other, whatever the config set now);
 * an input conflicts with a node of its name only when the config keeps
 * both, since an input stands for the name where no node computes it.
 * Inputs of one name that the config keeps are one input (they must not
 * declare two types).
 *
 * The message of hamr_errmsg() names the nodes. After a successful build
 * the graph is read-only and can be shared by threads; calling it again
 * returns the first result. */
HAMR_API int hamr_graph_build(hamr_graph *g);

/* Information about a node of a built graph (nodes removed by config are
 * not there). Strings are owned by the graph. */
typedef struct hamr_node_info {
	const char *name;
	const char *module;
	const char *doc;
	hamr_type type;
	hamr_node_kind kind;
	size_t n_deps;
	size_t n_tags;
} hamr_node_info;

/* Number of nodes (inputs included) of a built graph; 0 before the build. */
HAMR_API size_t hamr_graph_node_count(const hamr_graph *g);
/* Index of node `name`, or HAMR_ENOENT. */
HAMR_API int hamr_graph_find(const hamr_graph *g, const char *name);
/* Fills *info for node index `i`; HAMR_ERANGE past the end. */
HAMR_API int hamr_graph_node_info(const hamr_graph *g, size_t i,
                                  hamr_node_info *info);
/* Dependency `d` of node `i`: its name, and the node index it resolved to
 * in *target (-1 when it is an absent optional dependency). */
HAMR_API const char *hamr_graph_node_dep(const hamr_graph *g, size_t i,
                                         size_t d, int *target);
/* Tag `t` of node `i` in *key and *value. */
HAMR_API int hamr_graph_node_tag(const hamr_graph *g, size_t i, size_t t,
                                 const char **key, const char **value);
/* The value of tag `key` on node `i`, or NULL. */
HAMR_API const char *hamr_graph_tag_value(const hamr_graph *g, size_t i,
                                          const char *key);

/* Names of the nodes of built graph `g` (inputs included) that carry every
 * tag of `filter`, in node index order: Hamilton's tag_filter. `filter` is
 * an array ended by an entry whose key is NULL (NULL or empty: every node
 * matches); an entry matches a node that has tag `key` with value `value`,
 * or with any value when `value` is NULL (a tag given without a value has
 * the value ""). The first `cap` matching names are stored in `names` (NULL
 * when cap is 0); *n gets the number of matching nodes, which may exceed
 * cap: call again with an array that large. The names are owned by the
 * graph and stay valid while it or a plan made from it lives; `filter` is
 * read during the call only. HAMR_EINVAL before the build or with a NULL
 * `g` or `n`. */
HAMR_API int hamr_graph_nodes_tagged(const hamr_graph *g, const hamr_tag *filter,
                                     const char **names, size_t cap, size_t *n);

/* Writes the built graph in Graphviz DOT: inputs as ellipses, nodes as
 * boxes, parallelizable and collect nodes marked. */
HAMR_API int hamr_graph_write_dot(const hamr_graph *g, FILE *f);

/* ---- given values ------------------------------------------------------
 * A name -> value map for what a caller gives a plan or run: values for
 * external inputs and overrides (a value for a node's name replaces
 * computing that node, and whatever upstream only it needed). */

typedef struct hamr_values hamr_values;

HAMR_API int hamr_values_create(hamr_values **out);
HAMR_API void hamr_values_destroy(hamr_values *vs); /* accepts NULL */
/* Sets `name` (copied) to `*v`, moving it (it is left empty). */
HAMR_API int hamr_values_set(hamr_values *vs, const char *name, hamr_value *v);
HAMR_API int hamr_values_set_i64(hamr_values *vs, const char *name, int64_t x);
HAMR_API int hamr_values_set_f64(hamr_values *vs, const char *name, double x);
HAMR_API int hamr_values_set_bool(hamr_values *vs, const char *name, bool x);
HAMR_API int hamr_values_set_str(hamr_values *vs, const char *name,
                                 const char *s);
/* The value set for `name`, borrowed from vs, or NULL. */
HAMR_API const hamr_value *hamr_values_get(const hamr_values *vs,
                                           const char *name);
HAMR_API size_t hamr_values_count(const hamr_values *vs);
/* Entry `i` (in order of first setting): its name, and value in *v. */
HAMR_API const char *hamr_values_at(const hamr_values *vs, size_t i,
                                    const hamr_value **v);

/* ---- plans ----------------------------------------------------------- */

/* Plan settings. Every field's zero is its default, so a struct set up
 * with HAMR_PLAN_OPTS_INIT (or `= {0}`) stays valid as fields are added. */
typedef struct hamr_plan_opts {
	/* 0: a given value whose name is no node or input of the graph
	 * fails hamr_plan_create with HAMR_ENOENT, naming it and the nearest
	 * name. Names the plan prunes, and names of definitions the config
	 * removes, are names of the graph. 1: such values are ignored, for
	 * one set of values given to several plans or graphs. */
	int allow_extra_given;
} hamr_plan_opts;

#define HAMR_PLAN_OPTS_INIT {0}

/* Compiles a plan for `outputs` (n_outputs names) of graph `g`, building
 * it first if needed. `given` names what runs will supply (values are
 * checked for type; runs may supply other values of the same names): an
 * input's name is an input, a node's name an override. Only the nodes the
 * outputs need are kept; every name becomes an integer index. Errors:
 * HAMR_ENOENT (unknown output, or a given value that names nothing in the
 * graph, each with the nearest name), HAMR_EINPUT (a needed external input
 * not given), HAMR_ETYPE (a given value of the wrong type), or the graph's
 * own build error. The plan is immutable, and may be run by many threads
 * at once. `given` may be NULL. The plan borrows nothing from the
 * arguments but `g`, which it keeps alive. */
HAMR_API int hamr_plan_create(hamr_plan **out, hamr_graph *g,
                              const char *const *outputs, size_t n_outputs,
                              const hamr_values *given);

/* hamr_plan_create with the settings in `opts` (read during the call;
 * NULL: the defaults). */
HAMR_API int hamr_plan_create_with(hamr_plan **out, hamr_graph *g,
                                   const char *const *outputs, size_t n_outputs,
                                   const hamr_values *given,
                                   const hamr_plan_opts *opts);

/* Destroys a plan no run uses any more. Accepts NULL. */
HAMR_API void hamr_plan_destroy(hamr_plan *p);

/* Number of nodes the plan computes (inputs, overrides and defaults not
 * counted). */
HAMR_API size_t hamr_plan_node_count(const hamr_plan *p);
/* Name of the i-th computed node in execution order of the sequential
 * executor, or NULL past the end. */
HAMR_API const char *hamr_plan_node_name(const hamr_plan *p, size_t i);

/* Writes the plan in Graphviz DOT: requested outputs, external inputs and
 * overrides marked, pruned nodes left out. */
HAMR_API int hamr_plan_write_dot(const hamr_plan *p, FILE *f);

#ifdef __cplusplus
}
#endif

#endif /* HAMR_GRAPH_H */
