/* SPDX-License-Identifier: MIT */
/* Internal: what crosses between the program and its worker processes,
 * besides the rings of runtime/procs_internal.h: programs, the code they
 * name, and values (runtime/procwire.c).
 *
 * A program is what a worker runs per task: a map block's nodes for one
 * item (or one node outside blocks), written into the arena once per
 * block run, in one allocation whose offsets count from its start. It
 * names each node's function by the loaded object that holds it and the
 * offset there, never by a pointer: a module loaded after the fork server
 * started sits at another address in the workers. It lists the local
 * slots each node reads and writes, the outer values the nodes read
 * (converted once, read by every worker in place), and the values each
 * task hands back. */
#ifndef HAMR_RUNTIME_PROCWIRE_INTERNAL_H
#define HAMR_RUNTIME_PROCWIRE_INTERNAL_H

#include <stdint.h>

#include "runtime/procs/procs_internal.h"
#include "serialize/arena_internal.h"

/* A function or datum named by the loaded object holding it: the object's
 * name (in the program's strings; "" is the program itself) and the
 * offset from the object's base. */
enum {
	HAMR__WC_NULL = 0,  /* NULL */
	HAMR__WC_OBJECT,    /* in a loaded object: name and offset */
	HAMR__WC_ADDRESS    /* not in any object: an address as it is */
};

typedef struct hamr__wcode {
	uint32_t where; /* HAMR__WC_* */
	uint32_t name;  /* the object's name, in the program's strings */
	uint64_t off;
} hamr__wcode;

/* Node and value types: HAMR__WT_ANY, a built-in kind, or HAMR__WT_USER +
 * the index of a user type the program lists. */
#define HAMR__WT_ANY (-1)
#define HAMR__WT_USER 100
#define HAMR__WT_MAX_USER 64

typedef struct hamr__wnode {
	hamr__wcode fn, ud;
	uint32_t name;       /* the node's name, in the strings */
	uint32_t n_args, arg_start, result;
	int32_t type;
	uint32_t pad;
} hamr__wnode;

typedef struct hamr__wtype {
	uint32_t name;
	uint32_t pad;
	uint64_t size;
	hamr__wcode enc, dec, free_, eq;
} hamr__wtype;

typedef struct hamr__wouter {
	uint32_t local;
	uint32_t pad;
	hamr__wval v;
} hamr__wouter;

typedef struct hamr__wprog {
	uint64_t gen;        /* unique per program: a worker's cache key */
	uint32_t n_nodes, n_locals, n_outer, n_out, n_types;
	int32_t item_local;  /* -1: no item */
	uint64_t nodes, args, outer, outs, types, strings;
} hamr__wprog;

/* The loaded object holding addr: its name ("" for the program) and base
 * address. 0 when none does. */
int hamr__wire_locate(const void *addr, const char **name, uintptr_t *base);

/* The built-in type of kind code k (a built-in kind, below
 * HAMR__WT_USER); whether t is built in. */
hamr_type hamr__wire_builtin(int32_t k);
int hamr__wire_is_builtin(hamr_type t);

/* Where a value's bytes go when it is put on the wire: `alloc` gives raw
 * arena bytes for an encoding, `value` makes a string, bytes value or
 * packed list in the arena for a copy (hamr__arena_value); `copied` and `shared` count the value bytes
 * copied and those that crossed in place. */
typedef struct hamr__wire_sink {
	hamr__arena *a;
	uint64_t (*alloc)(void *ctx, size_t n);
	int (*value)(void *ctx, hamr_type t, hamr_type elem, size_t n, void **data,
	             hamr_value *out);
	void *ctx;
	uint64_t copied, shared;
} hamr__wire_sink;

/* Puts v on the wire into *out: scalars inline, a string, bytes value or
 * packed list that lives in the arena as its offset, another one copied into a new
 * arena value (*copy, the caller's), anything else encoded into raw arena
 * bytes (*raw, their offset). 0, HAMR_ECODEC (a user type without a
 * codec) or HAMR_ENOMEM (the arena is full). */
int hamr__wire_put(hamr__wire_sink *s, const hamr_value *v, hamr__wval *out, hamr_value *copy,
                   uint64_t *raw);

/* Takes a value off the wire into *out: scalars as they are, a string,
 * bytes value or packed list as its box in the arena (hamr__arena_value_at: *taken is 1
 * when the program took over a box a worker copy, whose chunk the caller
 * then holds), an encoding decoded into a new value the caller owns.
 * 0, or hamr_value_decode's error. */
int hamr__wire_get(const hamr__arena *a, const hamr__wval *w, hamr_value *out, int *taken);

#endif
