/* SPDX-License-Identifier: MIT */
/* Internal: the structures behind hamr_graph, hamr_values and hamr_plan,
 * shared by graph/ (which builds them) and runtime/ (which runs plans). */
#ifndef HAMR_GRAPH_GRAPH_INTERNAL_H
#define HAMR_GRAPH_GRAPH_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "graph/names_internal.h"
#include "hamr/graph.h"
#include "hamr/hooks.h"

/* ---- graphs ------------------------------------------------------------ */

typedef struct hamr__gdep {
	const char *name;
	hamr_type type;
	unsigned flags;
	int32_t target;  /* after build: node index, -1 when absent */
	hamr_value dflt; /* scalar or string default; empty when none */
} hamr__gdep;

typedef struct hamr__gcond {
	hamr_cond_op op;
	const char *key;
	const char **values; /* WHEN / WHEN_NOT: one value */
	uint32_t n_values;
} hamr__gcond;

/* A definition. The fields every pass of a build and a plan reads come
 * first, in 64 bytes, so that a pass over a big graph's definitions
 * reads one cache line of each, or two; the rest follows. */
typedef struct hamr__gnode {
	const char *name;
	hamr__gdep *deps;
	hamr_type type;
	hamr_fn fn;
	void *userdata;
	hamr_node_kind kind;
	uint32_t n_deps, n_tags, n_conds;
	int bad_cond; /* a condition that could not be copied as given */
	const char *module;
	const char *doc;
	hamr_tag *tags;
	hamr__gcond *conds;
	hamr_fold *fold; /* a fold collect's functions, in the graph's
	                  * memory; NULL for every other node */
	/* after the build: the map block the node runs in (0: none, run
	 * once), and for a parallelizable node the block it opens */
	int32_t scope;
	int32_t block;
} hamr__gnode;

/* Called with the path of each module hamr_graph_load_module loads, when
 * set: the process executor loads it in its fork server too, so that
 * workers forked later have it (runtime/procs/procs.c sets it). */
extern void (*hamr__module_loaded)(const char *path);

struct hamr_graph {
	atomic_int refs; /* the caller's hold, plus one per plan */
	int built;       /* 0: not yet; 1: built */
	int allow_extra_config; /* hamr_graph_opts */
	int build_rc;    /* result of the build, replayed on later calls */
	char *build_msg; /* its message */
	hamr__bump mem;  /* names, dependency arrays, tags, conditions */
	const char *last_module; /* the copy of the module name added last */
	/* every definition, in the order added (hamr__graph_def), in blocks
	 * of HAMR__DEF_BLOCK: adding to a big graph copies no block, and no
	 * block is big enough for malloc to map it apart (fresh pages,
	 * faulted in one by one, for every graph). The first block grows
	 * to that size, so a small graph stays small. */
	hamr__gnode **def_blocks;
	uint32_t n_defs, def_cap, n_def_blocks;
	uint32_t n_conditioned; /* definitions with config conditions */
	/* config, key -> value */
	const char **cfg_keys, **cfg_vals;
	uint32_t n_cfg, cap_cfg;
	/* modules loaded with dlopen, closed when the graph is freed */
	void **dl;
	uint32_t n_dl, cap_dl;
	/* after the build: the nodes config keeps, and their names */
	hamr__gnode **nodes;
	uint32_t n_nodes;
	hamr__names index;
	/* after the build, what plans read of every node, packed so that a
	 * walk over a big graph touches a few small arrays and not each
	 * node's record: node v's dependencies are dep_node[dep_start[v] ..
	 * dep_start[v + 1]), each the node it names when it is plain
	 * (required, and names a node), else -1 (its hamr__gdep says what it
	 * is); node_bits[v] is v's hamr_node_kind, with HAMR__NODE_PLAIN when
	 * all its dependencies are plain and it has no tags */
	uint32_t *dep_start;
	int32_t *dep_node;
	uint8_t *node_bits;
	int deps_earlier; /* every node reads only nodes added before it */
	/* map blocks: scope 0 is the graph itself; scope k > 0 is the block
	 * opened by parallelizable node owner[k], nested in parent[k] */
	uint32_t n_scopes;
	int32_t *scope_parent;
	int32_t *scope_owner;
	uint32_t *scope_depth;
};

enum {
	HAMR__NODE_KIND = 0x7,   /* node_bits: the hamr_node_kind */
	HAMR__NODE_PLAIN = 0x8   /* node_bits: plain dependencies, no tags */
};

/* Definitions per block of hamr_graph.def_blocks: 1024 x 112 bytes, under
 * glibc's smallest mmap threshold (128 KiB). */
#define HAMR__DEF_SHIFT 10u
#define HAMR__DEF_BLOCK (1u << HAMR__DEF_SHIFT)

/* Definition i of g, i < n_defs. */
static inline hamr__gnode *hamr__graph_def(const hamr_graph *g, uint32_t i)
{
	return &g->def_blocks[i >> HAMR__DEF_SHIFT][i & (HAMR__DEF_BLOCK - 1)];
}

/* Takes a hold on g (a plan does, for its lifetime). */
void hamr__graph_retain(hamr_graph *g);
/* Drops a hold; frees g with the last. */
void hamr__graph_release(hamr_graph *g);

/* Node index of the name, -1 if none; only after the build. */
int32_t hamr__graph_lookup(const hamr_graph *g, const char *name);

/* Appends to the calling thread's message the nearest node names to
 * `name`, as "; did you mean \"x\"?", or nothing. */
void hamr__graph_hint(const hamr_graph *g, const char *name);

/* Whether some definition added to g is called `name`, whether or not the
 * config keeps it. Linear in the definitions: for error paths. */
int hamr__graph_defines(const hamr_graph *g, const char *name);

/* A default as a value (a string default becomes a string value of its
 * own); HAMR_ETYPE for a type defaults cannot have. */
int hamr__default_value(const hamr_default *d, hamr_value *out);

/* HAMR_ETYPE for a value of type `got` given for node or input n, whose
 * declared type is another; the message names both. Shared by planning
 * and by runs, which check the values given again. */
int hamr__given_wrong_type(const hamr__gnode *n, hamr_type got);

/* Kahn's topological order of vertices 0 .. n-1, whose edges out of v are
 * edges[start[v] .. start[v + 1]) and whose counts of edges in are indeg
 * (used up: each ends 0 if ordered): writes the order, ties in index
 * order, to order (room for n) and returns its length, less than n when
 * some vertices wait for each other. In graph/validate.c. */
uint32_t hamr__graph_topo_order(uint32_t n, const uint32_t *start, const uint32_t *edges,
                                uint32_t *indeg, uint32_t *order);

/* Lays out the map blocks of a compiled plan p of graph g
 * (graph/plan_blocks.c): list slots for collected nodes, running order per
 * scope, and when each value can be released. 0 or a negative HAMR_E*. */
int hamr__plan_blocks(hamr_plan *p, const hamr_graph *g);

/* hamr_plan_write_dot, with each computed node labelled with its time,
 * share of the node time and count from st (per plan node; NULL: none)
 * and filled from white to red by that share. */
int hamr__plan_write_dot_timed(const hamr_plan *p, const hamr_node_stats *st, FILE *f);

/* Escapes s for a DOT string and writes it, quoted. */
void hamr__dot_quote(FILE *f, const char *s);

/* ---- given values ------------------------------------------------------ */

struct hamr_values {
	hamr__bump mem; /* names */
	const char **names;
	hamr_value *vals;
	uint32_t n, cap;
	hamr__names index;
};

/* ---- plans ------------------------------------------------------------- */

/* Slot kinds: where the value a slot holds comes from. */
enum {
	HAMR__SLOT_NODE = 0, /* a computed node's result */
	HAMR__SLOT_GIVEN,    /* an input or override given to the run */
	HAMR__SLOT_DEFAULT,  /* an optional dependency's default */
	HAMR__SLOT_LIST,     /* a collected node's values, one per item */
	HAMR__SLOT_FOLD      /* a fold collect's accumulator */
};

/* What a block hands on at the end of each item: the value of node `src`
 * goes into list slot `dst` at the item's position, or (`fold` set) is
 * folded into accumulator slot `dst` for fold collect node `node`. */
typedef struct hamr__gather {
	uint32_t src;
	uint32_t dst;
	uint32_t node;
	uint32_t tolerant;     /* a list some tolerant collect reads */
	const hamr_fold *fold; /* the graph's copy; NULL: a list */
	void *userdata;
	hamr_value init;       /* the fold's first accumulator, the plan's */
} hamr__gather;

/* One computed node. Slot i is the result of plan node i. */
/* A plan node of at most this many arguments is checked pair by pair for
 * reading one node twice when its dependents are linked (graph/plan.c);
 * a bigger one through a mark per node. */
#define HAMR__PAIRWISE_ARGS 8u

typedef struct hamr__pnode {
	hamr_fn fn;
	void *userdata;
	hamr_type type;       /* declared result type, NULL any */
	const char *name;
	uint32_t graph_index;
	uint32_t kind;        /* hamr_node_kind */
	uint32_t arg_start;   /* into plan->args */
	uint32_t n_args;
	uint32_t dep_start;   /* into plan->dependents */
	uint32_t n_dependents;
	uint32_t n_pending;   /* distinct computed nodes it waits for */
	uint32_t flags;       /* HAMR__PNODE_* */
} hamr__pnode;

enum {
	/* tagged blocking=true (or 1, yes): I/O, runs on the blocking pool */
	HAMR__PNODE_BLOCKING = 1u << 0,
	/* tagged concurrency=G:N: takes a place of group node_group[i] */
	HAMR__PNODE_LIMITED = 1u << 1,
	/* reads a list or accumulator slot: checks that its block gave one */
	HAMR__PNODE_COLLECTS = 1u << 2,
	/* a parallelizable node whose block, or a block nested in it, runs a
	 * node tagged blocking: the block runs on the blocking pool, an item
	 * per blocking worker (runtime/blocks/blocks.c) */
	HAMR__PNODE_BLOCKING_ITEMS = 1u << 3
};

struct hamr_plan {
	hamr_graph *graph;
	/* the one mutable part of a plan: a finished run's memory, kept for
	 * the next run of the plan (fresh pages fault on first touch, which
	 * costs more per node than the run itself on big plans) */
	_Atomic(void *) spare_mem;
	uint32_t n_nodes;  /* computed nodes, slots [0, n_nodes) */
	uint32_t n_slots;  /* nodes, then given values, then defaults */
	uint32_t n_outputs;
	uint32_t n_given;  /* slots [n_nodes, n_nodes + n_given) */
	uint32_t n_defaults; /* the next n_defaults slots; list slots follow */
	hamr__pnode *nodes;
	int32_t *args;          /* slot of each argument; -1 absent */
	uint32_t *pending_init; /* per node: n_pending, contiguous */
	uint32_t *roots;        /* nodes waiting for no computed node */
	uint32_t n_roots;
	uint32_t n_sched;       /* nodes the threads executor schedules: all,
	                         * or with map blocks the units of scope 0
	                         * (dependents and pending then count units) */
	uint32_t *dependents;   /* plan nodes reading each node */
	uint32_t *consumers;    /* per slot: arguments that read it */
	uint8_t *slot_kind;     /* per slot: HAMR__SLOT_* */
	uint8_t *slot_pinned;   /* per slot: kept to the end of a run */
	const char **slot_name; /* per slot: the node, input or dep name */
	hamr_type *slot_type;   /* per slot: expected type, NULL any */
	hamr_value *defaults;   /* per default slot, owned by the plan */
	const char **out_names; /* requested outputs, in order */
	uint32_t *out_slots;
	hamr__names out_index;  /* output name -> position in out_names */
	const char *block_node; /* a parallelizable or collect node, or NULL */
	uint32_t n_blocking;    /* nodes tagged blocking */
	/* a plain plan's (one scope, no blocking node) positions in its
	 * order where, the nodes before having run, more than the next one
	 * is ready: bit t % 64 of wide[t / 64]. Where only the next is, the
	 * threads executor running in order has nothing to give another
	 * worker (hamr__plan_next_wide). Roots count as ready from position
	 * 0, so a plan is wide up to its last root: a line that also reads
	 * roots placed along it is wide nearly everywhere. NULL: not known
	 * (other plans, and plans made by hamr_backend_plan_create): every
	 * position counts */
	uint64_t *wide;
	/* the same where at least HAMR__BROAD nodes are ready (a part of the
	 * same allocation, past wide's words; NULL with wide) */
	uint64_t *broad;
	/* concurrency groups (tag concurrency=G:N) */
	uint32_t n_groups;
	const char **group_name;
	uint32_t *group_cap;
	int32_t *node_group;    /* per node: its group, -1 */
	/* Map blocks (graph/plan_blocks.c), when the plan has parallelizable
	 * nodes; n_scopes is 1 (the plan itself) otherwise. A scope's units
	 * run in order; a unit that is a parallelizable node runs the node,
	 * then its block once per item. */
	uint32_t n_scopes;
	int32_t *node_scope;    /* per node: the scope it runs in */
	int32_t *node_block;    /* per node: the scope it opens, 0 if none */
	int32_t *scope_owner;   /* per scope: the node that opens it, -1 */
	uint32_t *unit_start;   /* per scope, n_scopes + 1: into units */
	uint32_t *units;        /* nodes of each scope, in running order */
	uint32_t *clear_start;  /* per scope, n_scopes + 1: into clear */
	uint32_t *clear;        /* slots of each scope: reset per item */
	uint32_t *defer_start;  /* per node, n_nodes + 1: into defer */
	uint32_t *defer;        /* outer slots its block read: released
	                         * once the whole block is done */
	int32_t *list_slot;     /* per node: the slot of its collected list */
	uint8_t *arg_direct;    /* per argument: released by its own node */
	uint8_t *arg_tolerant;  /* per argument: collected tolerantly */
	uint8_t *gathered;      /* per node: a gather source, kept to the end
	                         * of its item */
	uint32_t *gather_start; /* per scope, n_scopes + 1: into gather */
	hamr__gather *gather;
	uint32_t *unit_level;   /* per units entry: 0 for units reading no
	                         * unit of their scope, else 1 + the deepest
	                         * they read; units are sorted by it */
	uint8_t *scope_grouping; /* per scope: hamr_grouping from the owner's
	                          * tag or HAMR_GROUPING (DEFAULT: none) */
	uint8_t *scope_remote;   /* per scope: hamr_remote_kind from the
	                          * owner's tag (LOCAL: none) */
};

/* Ready nodes from which a plain plan's position is broad. */
#define HAMR__BROAD 4

/* The first position from t on of a record of n positions (p->wide or
 * p->broad) whose bit is set, or UINT32_MAX: none. */
static inline uint32_t hamr__plan_next_set(const uint64_t *bits, uint32_t n, uint32_t t)
{
	if (t >= n)
		return UINT32_MAX;
	uint32_t k = t / 64;
	uint64_t w = bits[k] & (~(uint64_t)0 << (t % 64));
	for (uint32_t last = (n - 1) / 64; !w && k < last;)
		w = bits[++k];
	if (!w)
		return UINT32_MAX;
	uint32_t at = k * 64 + (uint32_t)__builtin_ctzll(w);
	return at < n ? at : UINT32_MAX;
}

/* The first position from t on in p's order where more than one node is
 * ready (see hamr_plan.wide), or UINT32_MAX: none. t itself when p has
 * no such record. */
static inline uint32_t hamr__plan_next_wide(const hamr_plan *p, uint32_t t)
{
	return p->wide ? hamr__plan_next_set(p->wide, p->n_nodes, t) : t;
}

/* The same where at least HAMR__BROAD nodes are ready. */
static inline uint32_t hamr__plan_next_broad(const hamr_plan *p, uint32_t t)
{
	return p->broad ? hamr__plan_next_set(p->broad, p->n_nodes, t) : t;
}

#endif
