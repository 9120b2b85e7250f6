/* SPDX-License-Identifier: MIT */
/* Nodes written as C functions, and modules without a table.
 *
 * A node is written like a C function whose parameter names are its
 * dependencies, and every node of a file is collected into that file's
 * module:
 *
 *   HAMR_MODULE(shop)
 *   HAMR_INPUT(double, price)
 *   HAMR_NODE(int64_t, units) { return 120; }
 *   HAMR_NODE(double, revenue, (double, price), (int64_t, units))
 *   {
 *           return price * (double)units;
 *   }
 *
 * Each HAMR_NODE makes the hamr_fn wrapper (it reads argument i with the
 * hamr_arg_* getter of the parameter's C type and sets the result with the
 * hamr_ret_* of the result's C type), the dependency list (the hamr type of
 * each parameter comes from its C type) and the node definition. The body
 * is a static function `hamr__body_<name>` that also receives
 * `hamr_call *call` (valid during the call only), so it can read its item
 * index, attempt and user data, and emit items; like any node function it
 * may run on any thread. A body fails with
 * `return HAMR_FAIL("bad row %d", i);`, which records the message
 * (hamr_fail), returns a zero result that the wrapper drops, and fails the
 * node with HAMR_EFAIL (calling hamr_fail alone would not fail it).
 *
 * C types and hamr types:
 *   C type               argument (borrowed for the call)  result
 *   int64_t              HAMR_I64                          HAMR_I64
 *   double               HAMR_F64                          HAMR_F64
 *   bool                 HAMR_BOOL                         HAMR_BOOL
 *   const char *         HAMR_STR                          HAMR_STR: copied,
 *                                                          stays the body's
 *   char *               (not an argument)                 HAMR_STR: the run
 *                        takes it, and frees it with free() once copied
 *   hamr_list            HAMR_LIST (a view of the list)    (not a result)
 *   hamr_bytes           HAMR_BYTES (a view)               HAMR_BYTES: copied
 *   const hamr_value *   any type (NULL when absent)       (not a result)
 *   hamr_value           (not an argument)                 moved into the
 *                        run, as hamr_ret_value does (a list, string, bytes
 *                        or user value the body made; an empty value fails
 *                        the node); declared type: any, or `.type` in
 *                        HAMR_NODE_EX
 *   const T *            a user type: give its hamr type   T *: the run takes
 *                        with HAMR_AS(type)                the object
 *                                                          (hamr_ret_user);
 *                                                          give `.type`
 * A NULL string or object result fails the node. A parameter of another C
 * type (int, float, char *, T * for a user type) is a constraint violation
 * that GCC and clang report (an error, or in GCC before 14 a warning that
 * -Werror makes one), and a result of a scalar type not in the table (int,
 * unsigned, float, uint64_t, hamr_list) fails a static assertion, so C
 * types and the hamr types read from them cannot disagree within a node.
 * A type the graph declares
 * differently elsewhere (a node returns double, another reads it as
 * int64_t) fails hamr_graph_build with HAMR_ETYPE, naming both nodes.
 *
 * A parameter is `(C type, name)`, or `(C type, name, how)` where how is
 *   HAMR_OR(x)                  optional, default x (int64_t, double, bool
 *                               or const char * parameters)
 *   HAMR_OPTIONAL               optional, no default (0, false, NULL, an
 *                               empty list when absent; hamr_arg_present)
 *   HAMR_COLLECTED(t)           a collect's collected dependency whose
 *                               items are of hamr type t (the parameter is
 *                               a hamr_list, or a fold's accumulator)
 *   HAMR_COLLECTED_TOLERANT(t)  the same, tolerant of failed items
 *   HAMR_AS(t)                  of hamr type t (user types, hamr_value;
 *                               ignored for a C type of the table)
 *
 * The other forms:
 *   HAMR_NODE_EX(T, name, (fields), params...)  HAMR_NODE, with fields of
 *       hamr_node_def set by designated initializers: (.tags = ...,
 *       .doc = "...", .conds = ..., .kind = HAMR_NODE_COLLECT, .fold = &f,
 *       .userdata = p, .type = ..., .name = "..."). A later field replaces
 *       what the macro set: `.name` gives the node another name than the C
 *       one (two definitions of one node under exclusive conditions).
 *   HAMR_NODE_RC(name, (fields), params...)  a body that returns int (0 or
 *       a negative HAMR_E*, best `return hamr_fail(call, ...)`) and sets
 *       its result itself with hamr_ret_* or emits items with hamr_emit_*:
 *       a parallelizable node is one with (.kind =
 *       HAMR_NODE_PARALLELIZABLE, .type = <item type>) (or a HAMR_NODE_EX
 *       returning a hamr_value list of the items).
 *   HAMR_INPUT(T, name), HAMR_INPUT_EX(T, name, (fields))  an external
 *       input declared in the module.
 * A node without dependencies is HAMR_NODE(T, name). At most 16
 * parameters.
 *
 * Modules. HAMR_MODULE(name), once per .c file and before its nodes,
 * defines the module `hamr_module_<name>` (a hamr_module); each node of the
 * file adds itself to it in a constructor, in the order of their lines, so
 * the table is complete before main() runs, or before dlopen returns in a
 * shared object. Add it with hamr_graph_add_module(g, HAMR_MODULE_REF(name))
 * (another file first says HAMR_MODULE_DECLARE(name)); a shared object for
 * hamr_graph_load_module exports it with
 * HAMR_MODULE_EXPORT(hamr_module_<name>). In a static archive, the
 * reference HAMR_MODULE_REF makes the linker take the module's object file,
 * and with it its constructors; -Wl,--gc-sections keeps them (init_array is
 * kept). The table (malloc'd, nodes copied by value) lives as long as the
 * process; when it could not be made the module's table is NULL and
 * hamr_graph_add_module fails with HAMR_EINVAL. The C names of a file's
 * nodes are unique (hence `.name` for two definitions of one node), and a
 * compiler without constructors (neither GCC nor clang) leaves the module
 * empty: use the table form there.
 *
 * This header is C only where its macros are expanded; C++ may include it
 * (through hamr.h) but not write nodes with it. */
#ifndef HAMR_NODE_H
#define HAMR_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hamr/graph.h"
#include "hamr/runtime.h"
#include "hamr/value.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A view of a bytes value (as an argument: borrowed for the call), or
 * bytes to copy into the result. */
typedef struct hamr_bytes {
	const void *data;
	size_t len;
} hamr_bytes;

/* ---- modules ------------------------------------------------------------ */

/* The growing table of a file's module; private to the macros below. */
typedef struct hamr__module_state {
	hamr_module *module;
	hamr_node_def *defs; /* n entries and a terminator */
	int *lines;          /* the line of each entry, ascending */
	size_t n;
} hamr__module_state;

/* Adds *def (copied) to the module, in line order. Runs in constructors,
 * before main() or inside dlopen, one at a time. */
static inline void hamr__module_add(hamr__module_state *s,
                                    const hamr_node_def *def, int line)
{
	size_t at = s->n;
	hamr_node_def *defs;
	int *lines;

	if (s->n && !s->defs)
		return; /* an earlier add failed: the module stays without a table */
	defs = (hamr_node_def *)realloc(s->defs, (s->n + 2) * sizeof *defs);
	if (defs)
		s->defs = defs;
	lines = defs ? (int *)realloc(s->lines, (s->n + 1) * sizeof *lines) : NULL;
	if (!lines) {
		free(s->defs);
		free(s->lines);
		s->defs = NULL;
		s->lines = NULL;
		s->n = 1;
		s->module->nodes = NULL;
		return;
	}
	s->lines = lines;
	while (at > 0 && lines[at - 1] > line)
		at--;
	memmove(&defs[at + 1], &defs[at], (s->n - at) * sizeof *defs);
	memmove(&lines[at + 1], &lines[at], (s->n - at) * sizeof *lines);
	defs[at] = *def;
	lines[at] = line;
	s->n++;
	memset(&defs[s->n], 0, sizeof *defs);
	s->module->nodes = defs;
}

#define HAMR_MODULE(name)                                                    \
	HAMR_MODULE_DECLARE(name);                                           \
	static const hamr_node_def hamr__no_nodes[1];                        \
	hamr_module hamr_module_##name = {#name, hamr__no_nodes};           \
	static hamr__module_state hamr__this_module HAMR__UNUSED = {         \
		&hamr_module_##name, NULL, NULL, 0};

/* The module defined by HAMR_MODULE(name), a `hamr_module *`. */
#define HAMR_MODULE_REF(name) (&hamr_module_##name)
/* Declares it in another file of the same program or shared object (the
 * module object is hidden: a shared object's module stays its own, also
 * when the program has a module of the same name). */
#define HAMR_MODULE_DECLARE(name)                                            \
	extern HAMR__HIDDEN hamr_module hamr_module_##name

/* ---- nodes ---------------------------------------------------------------- */

#define HAMR_NODE(T, ...) HAMR__NODE(T, __VA_ARGS__, )
#define HAMR__NODE(T, name, ...) HAMR__VALUE_NODE(T, name, (), __VA_ARGS__)
#define HAMR_NODE_EX(T, name, ...) HAMR__NODE_EX(T, name, __VA_ARGS__, )
#define HAMR__NODE_EX(T, name, fields, ...)                                  \
	HAMR__VALUE_NODE(T, name, fields, __VA_ARGS__)

/* In a HAMR_NODE body: fails the node with the message (printf format). */
#define HAMR_FAIL(...)                                                       \
	(*hamr__rc_ = hamr_fail(call, __VA_ARGS__), *hamr__zero_)

#define HAMR__VALUE_NODE(T, name, fields, ...)                               \
	_Static_assert(HAMR__RESULT_OK(T), "HAMR_NODE " #name                \
	               ": the result's C type has no hamr type");            \
	typedef T hamr__type_##name;                                         \
	static hamr__type_##name hamr__body_##name(                          \
		hamr_call *call HAMR__UNUSED, int *hamr__rc_ HAMR__UNUSED,   \
		const hamr__type_##name *hamr__zero_ HAMR__UNUSED            \
		HAMR__MAP(HAMR__PARAM, __VA_ARGS__));                        \
	static int hamr__fn_##name(hamr_call *c)                             \
	{                                                                    \
		static const hamr__type_##name zero;                         \
		int rc = 0;                                                  \
		hamr__type_##name r = hamr__body_##name(                     \
			c, &rc, &zero HAMR__MAP(HAMR__ARGV, __VA_ARGS__));   \
		return rc ? rc : HAMR__RET(T)(c, &r);                        \
	}                                                                    \
	HAMR__DEF(name, hamr__fn_##name, HAMR__HTYPE(T), HAMR_NODE_PLAIN,     \
	          fields, __VA_ARGS__)                                       \
	static hamr__type_##name hamr__body_##name(                          \
		hamr_call *call HAMR__UNUSED, int *hamr__rc_ HAMR__UNUSED,   \
		const hamr__type_##name *hamr__zero_ HAMR__UNUSED            \
		HAMR__MAP(HAMR__PARAM, __VA_ARGS__))

#define HAMR_NODE_RC(name, ...) HAMR__NODE_RC(name, __VA_ARGS__, )
#define HAMR__NODE_RC(name, fields, ...)                                     \
	static int hamr__body_##name(hamr_call *call HAMR__UNUSED           \
	                             HAMR__MAP(HAMR__PARAM, __VA_ARGS__));   \
	static int hamr__fn_##name(hamr_call *c)                             \
	{                                                                    \
		return hamr__body_##name(c HAMR__MAP(HAMR__ARGV, __VA_ARGS__)); \
	}                                                                    \
	HAMR__DEF(name, hamr__fn_##name, HAMR_ANY, HAMR_NODE_PLAIN, fields,   \
	          __VA_ARGS__)                                               \
	static int hamr__body_##name(hamr_call *call HAMR__UNUSED           \
	                             HAMR__MAP(HAMR__PARAM, __VA_ARGS__))

#define HAMR_INPUT(T, name) HAMR_INPUT_EX(T, name, ())
#define HAMR_INPUT_EX(T, name, fields)                                       \
	HAMR__DEF(name, NULL, HAMR__HTYPE(T), HAMR_NODE_INPUT, fields, )

/* How a parameter is read (the third element of its group). */
#define HAMR_OR(x) (hamr__or, x)
#define HAMR_OPTIONAL (hamr__opt, ~)
#define HAMR_COLLECTED(t) (hamr__coll, t)
#define HAMR_COLLECTED_TOLERANT(t) (hamr__collt, t)
#define HAMR_AS(t) (hamr__as, t)

/* ---- the machinery ------------------------------------------------------ */

#if defined(__GNUC__) || defined(__clang__)
#define HAMR__UNUSED __attribute__((unused))
#define HAMR__HIDDEN __attribute__((visibility("hidden")))
#define HAMR__CTOR __attribute__((constructor))
#else
#define HAMR__UNUSED
#define HAMR__HIDDEN
#define HAMR__CTOR /* needs a compiler with constructors */
#endif

/* A node's fields may replace what the macro set (.type, .name): the
 * override warning is silenced for the definition only. */
#if defined(__clang__)
#define HAMR__OVERRIDE_BEGIN                                                 \
	_Pragma("clang diagnostic push")                                     \
	_Pragma("clang diagnostic ignored \"-Winitializer-overrides\"")
#define HAMR__OVERRIDE_END _Pragma("clang diagnostic pop")
#elif defined(__GNUC__)
#define HAMR__OVERRIDE_BEGIN                                                 \
	_Pragma("GCC diagnostic push")                                       \
	_Pragma("GCC diagnostic ignored \"-Woverride-init\"")
#define HAMR__OVERRIDE_END _Pragma("GCC diagnostic pop")
#else
#define HAMR__OVERRIDE_BEGIN
#define HAMR__OVERRIDE_END
#endif

#define HAMR__DEF(nm, fn_, htype, kind_, fields, ...)                        \
	static const hamr_dep hamr__deps_##nm[] = {                          \
		HAMR__MAP(HAMR__DEP, __VA_ARGS__) HAMR_DEPS_END};            \
	HAMR__OVERRIDE_BEGIN                                                 \
	static const hamr_node_def hamr__def_##nm = {                        \
		.name = #nm, .fn = fn_, .type = htype, .kind = kind_,        \
		.deps = hamr__deps_##nm, HAMR__UNPAREN fields};              \
	HAMR__OVERRIDE_END                                                   \
	static void hamr__add_##nm(void) HAMR__CTOR;                        \
	static void hamr__add_##nm(void)                                     \
	{                                                                    \
		hamr__module_add(&hamr__this_module, &hamr__def_##nm,        \
		                 __LINE__);                                  \
	}

#define HAMR__UNPAREN(...) __VA_ARGS__
#define HAMR__EXPAND(x) x
#define HAMR__APPLY(m, args) m args
#define HAMR__CAT(a, b) HAMR__CAT_(a, b)
#define HAMR__CAT_(a, b) a##b
#define HAMR__FIRST(a, ...) a
#define HAMR__SECOND(a, b, ...) b

/* The C type -> hamr type map: `(T *)0` names T in an expression without
 * making a value of it. */
#define HAMR__HTYPE(T)                                                       \
	_Generic((T *)0, int64_t *: HAMR_I64, double *: HAMR_F64,             \
	         bool *: HAMR_BOOL, const char **: HAMR_STR,                  \
	         char **: HAMR_STR, hamr_list *: HAMR_LIST,                   \
	         hamr_bytes *: HAMR_BYTES, default: HAMR_ANY)

/* A result type is one of the table's, or a pointer (a user object). */
#define HAMR__RESULT_OK(T)                                                   \
	_Generic((T *)0, int64_t *: 1, double *: 1, bool *: 1,                \
	         const char **: 1, char **: 1, hamr_value *: 1,               \
	         hamr_bytes *: 1, hamr_list *: 0, uint64_t *: 0, int *: 0,    \
	         unsigned *: 0, float *: 0, default: sizeof(T) == sizeof(void *))

#define HAMR__RET(T)                                                         \
	_Generic((T *)0, int64_t *: hamr__ret_i64, double *: hamr__ret_f64,   \
	         bool *: hamr__ret_bool, const char **: hamr__ret_cstr,       \
	         char **: hamr__ret_ownstr, hamr_value *: hamr__ret_value,    \
	         hamr_bytes *: hamr__ret_bytes, default: hamr__ret_user)

#define HAMR__ARG(T, c, i)                                                   \
	_Generic((T *)0, int64_t *: hamr_arg_i64(c, i),                      \
	         double *: hamr_arg_f64(c, i), bool *: hamr_arg_bool(c, i),   \
	         const char **: hamr_arg_str(c, i),                           \
	         hamr_list *: hamr_arg_list(c, i),                            \
	         hamr_bytes *: hamr__arg_bytes(c, i),                         \
	         const hamr_value **: hamr_arg(c, i),                         \
	         default: hamr_arg_user(c, i))

static inline hamr_bytes hamr__arg_bytes(const hamr_call *c, size_t i)
{
	hamr_bytes b;
	b.data = hamr_arg_bytes(c, i, &b.len);
	return b;
}

static inline int hamr__ret_i64(hamr_call *c, const int64_t *x) { return hamr_ret_i64(c, *x); }
static inline int hamr__ret_f64(hamr_call *c, const double *x) { return hamr_ret_f64(c, *x); }
static inline int hamr__ret_bool(hamr_call *c, const bool *x) { return hamr_ret_bool(c, *x); }
static inline int hamr__ret_value(hamr_call *c, hamr_value *v) { return hamr_ret_value(c, v); }

static inline int hamr__ret_cstr(hamr_call *c, const char *const *s)
{
	return *s ? hamr_ret_str(c, *s) : hamr_fail(c, "returned no string");
}

static inline int hamr__ret_ownstr(hamr_call *c, char *const *s)
{
	int rc = hamr__ret_cstr(c, (const char *const *)s);
	free(*s);
	return rc;
}

static inline int hamr__ret_bytes(hamr_call *c, const hamr_bytes *b)
{
	return hamr_ret_bytes(c, b->data, b->len);
}

static inline int hamr__ret_user(hamr_call *c, void *obj_ptr)
{
	void *obj;
	memcpy(&obj, obj_ptr, sizeof obj);
	if (!obj)
		return hamr_fail(c, "returned no object");
	return hamr_ret_user(c, obj);
}

/* Parameter groups: (T, name) or (T, name, how). */
#define HAMR__GTYPE(T, ...) T
#define HAMR__GNAME(T, ...) HAMR__FIRST(__VA_ARGS__, ~)
#define HAMR__PARAM(i, g) , HAMR__GTYPE g HAMR__GNAME g
#define HAMR__ARGV(i, g) , HAMR__ARG(HAMR__GTYPE g, c, i)
#define HAMR__DEP(i, g) HAMR__DEP_ g,
#define HAMR__DEP_(...)                                                      \
	HAMR__EXPAND(HAMR__CAT(HAMR__DEP_, HAMR__GLEN(__VA_ARGS__))(__VA_ARGS__))
#define HAMR__GLEN(...) HAMR__EXPAND(HAMR__GLEN_(__VA_ARGS__, 3, 2, ~))
#define HAMR__GLEN_(a, b, c, n, ...) n
#define HAMR__DEP_2(T, n) {#n, HAMR__HTYPE(T), 0u, HAMR_NO_DEFAULT}
#define HAMR__DEP_3(T, n, how) HAMR__APPLY(HAMR__HOW, (T, n, HAMR__UNPAREN how))
#define HAMR__HOW(T, n, sel, x) HAMR__CAT(HAMR__HOW_, sel)(T, n, x)
#define HAMR__HOW_hamr__or(T, n, x)                                          \
	{#n, HAMR__HTYPE(T), HAMR_DEP_OPTIONAL, HAMR__DFLT(T, x)}
#define HAMR__HOW_hamr__opt(T, n, x)                                         \
	{#n, HAMR__HTYPE(T), HAMR_DEP_OPTIONAL, HAMR_NO_DEFAULT}
#define HAMR__HOW_hamr__coll(T, n, t) {#n, t, HAMR_DEP_COLLECT, HAMR_NO_DEFAULT}
#define HAMR__HOW_hamr__collt(T, n, t)                                       \
	{#n, t, HAMR_DEP_COLLECT | HAMR_DEP_TOLERANT, HAMR_NO_DEFAULT}
/* HAMR_AS names the type of a parameter whose C type has none in the map;
 * for one that has, the C type's stays (they cannot disagree). */
#define HAMR__HOW_hamr__as(T, n, t)                                          \
	{#n, _Generic((T *)0, int64_t *: HAMR__HTYPE(T), double *: HAMR__HTYPE(T), \
	              bool *: HAMR__HTYPE(T), const char **: HAMR__HTYPE(T),  \
	              hamr_list *: HAMR__HTYPE(T), hamr_bytes *: HAMR__HTYPE(T), \
	              default: t),                                           \
	 0u, HAMR_NO_DEFAULT}
#define HAMR__DFLT(T, x)                                                     \
	{HAMR__HTYPE(T), _Generic((T *)0, int64_t *: (x), default: 0),       \
	 _Generic((T *)0, double *: (x), default: 0.0),                       \
	 _Generic((T *)0, bool *: (x), default: false),                       \
	 _Generic((T *)0, const char **: (x), default: (const char *)0)}

/* HAMR__MAP(M, g0, g1, ..., ) -> M(0, g0) M(1, g1) ...; the list ends with
 * an empty element, so that an empty list is one empty element. */
#define HAMR__MAP(M, ...)                                                    \
	HAMR__EXPAND(HAMR__CAT(HAMR__MAP_, HAMR__COUNT(__VA_ARGS__))(M, __VA_ARGS__))
#define HAMR__COUNT(...)                                                     \
	HAMR__EXPAND(HAMR__COUNT_(__VA_ARGS__, 16, 15, 14, 13, 12, 11, 10, 9, 8, \
	                          7, 6, 5, 4, 3, 2, 1, 0, ~))
#define HAMR__COUNT_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, \
                     _14, _15, _16, _17, n, ...) n
#define HAMR__MAP_0(M, ...)
#define HAMR__MAP_1(M, a, ...) M(0, a)
#define HAMR__MAP_2(M, a, b, ...) M(0, a) M(1, b)
#define HAMR__MAP_3(M, a, b, c, ...) M(0, a) M(1, b) M(2, c)
#define HAMR__MAP_4(M, a, b, c, d, ...) M(0, a) M(1, b) M(2, c) M(3, d)
#define HAMR__MAP_5(M, a, b, c, d, e, ...)                                   \
	HAMR__MAP_4(M, a, b, c, d, ) M(4, e)
#define HAMR__MAP_6(M, a, b, c, d, e, f, ...)                                \
	HAMR__MAP_5(M, a, b, c, d, e, ) M(5, f)
#define HAMR__MAP_7(M, a, b, c, d, e, f, g, ...)                             \
	HAMR__MAP_6(M, a, b, c, d, e, f, ) M(6, g)
#define HAMR__MAP_8(M, a, b, c, d, e, f, g, h, ...)                          \
	HAMR__MAP_7(M, a, b, c, d, e, f, g, ) M(7, h)
#define HAMR__MAP_9(M, a, b, c, d, e, f, g, h, i, ...)                       \
	HAMR__MAP_8(M, a, b, c, d, e, f, g, h, ) M(8, i)
#define HAMR__MAP_10(M, a, b, c, d, e, f, g, h, i, j, ...)                   \
	HAMR__MAP_9(M, a, b, c, d, e, f, g, h, i, ) M(9, j)
#define HAMR__MAP_11(M, a, b, c, d, e, f, g, h, i, j, k, ...)                \
	HAMR__MAP_10(M, a, b, c, d, e, f, g, h, i, j, ) M(10, k)
#define HAMR__MAP_12(M, a, b, c, d, e, f, g, h, i, j, k, l, ...)             \
	HAMR__MAP_11(M, a, b, c, d, e, f, g, h, i, j, k, ) M(11, l)
#define HAMR__MAP_13(M, a, b, c, d, e, f, g, h, i, j, k, l, m, ...)          \
	HAMR__MAP_12(M, a, b, c, d, e, f, g, h, i, j, k, l, ) M(12, m)
#define HAMR__MAP_14(M, a, b, c, d, e, f, g, h, i, j, k, l, m, n, ...)       \
	HAMR__MAP_13(M, a, b, c, d, e, f, g, h, i, j, k, l, m, ) M(13, n)
#define HAMR__MAP_15(M, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, ...)    \
	HAMR__MAP_14(M, a, b, c, d, e, f, g, h, i, j, k, l, m, n, ) M(14, o)
#define HAMR__MAP_16(M, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, ...) \
	HAMR__MAP_15(M, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, ) M(15, p)

#ifdef __cplusplus
}
#endif

#endif /* HAMR_NODE_H */
