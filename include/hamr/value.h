/* SPDX-License-Identifier: MIT */
/* Values: the typed data that flows between nodes.
 *
 * A hamr_value is 16 bytes: a type and either a scalar (i64, f64, bool) held
 * inline, or a reference to a heap box (string, bytes, list, user type). Boxes
 * are reference counted and immutable once published, so one result can feed
 * many consumers, and pass through a node, without a copy.
 *
 * Ownership, everywhere in hamr:
 *   - A hamr_value variable that holds a box owns one reference to it.
 *     hamr_value_clear() drops it; hamr_value_ref() takes another.
 *   - Functions that take `hamr_value *item` to "move" leave *item empty
 *     (type NULL) on return, success or not: the callee owns it from then on.
 *   - Pointers returned by the getters (strings, bytes, list items, user
 *     objects) are borrowed: valid while the value they came from is alive,
 *     and never to be written through or freed.
 *   - Inputs reach a node as `const hamr_value *`: read-only, owned by the run.
 *
 * The fields of hamr_value are public so that values can live in arrays and
 * scalars cost nothing to make; read them through the getters, which check
 * the type, and never touch `u.box` directly. */
#ifndef HAMR_VALUE_H
#define HAMR_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hamr/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hamr_kind {
	HAMR_KIND_USER = 0, /* a registered user type (zero, so a user's
	                     * descriptor needs not set it) */
	HAMR_KIND_NONE,     /* a unit value: a node run only for its effect */
	HAMR_KIND_I64,
	HAMR_KIND_F64,
	HAMR_KIND_BOOL,
	HAMR_KIND_STR,   /* UTF-8 or any bytes, always NUL-terminated */
	HAMR_KIND_BYTES, /* arbitrary bytes */
	HAMR_KIND_LIST   /* a list of values */
} hamr_kind;

/* A type descriptor. The built-in types have static descriptors (HAMR_I64,
 * ...); a user type is described once by its module and registered, by
 * hamr_type_register() or implicitly when a graph that names it is built.
 * Types are identified by `name`: two descriptors with one name (two shared
 * objects that each carry a copy) are one type if they agree on size and
 * kind, and a conflict otherwise. */
typedef struct hamr_type_desc {
	const char *name; /* unique name, e.g. "point" */
	hamr_kind kind;   /* user types: HAMR_KIND_USER (0) */
	size_t size;      /* bytes of one object (hamr_value_alloc_user) */
	/* Frees an object of this type; NULL means free(). */
	void (*free)(void *obj);
	/* Optional codec, used when a value must cross a process boundary.
	 * encode writes at most `cap` bytes to `buf` and returns the number
	 * of bytes the encoding needs (like snprintf; call again with a larger
	 * buffer when it exceeds cap). decode makes a new object from `len`
	 * bytes, owned by the caller, and returns 0 or a negative HAMR_E*. */
	size_t (*encode)(const void *obj, void *buf, size_t cap);
	int (*decode)(const void *buf, size_t len, void **obj);
	/* Optional equality for hamr_value_equal; NULL compares encodings when
	 * there is a codec, else object addresses. */
	bool (*equal)(const void *a, const void *b);
} hamr_type_desc;

/* A type is a pointer to its descriptor. NULL means "any". */
typedef const hamr_type_desc *hamr_type;

HAMR_API extern const hamr_type_desc hamr_type_none;
HAMR_API extern const hamr_type_desc hamr_type_i64;
HAMR_API extern const hamr_type_desc hamr_type_f64;
HAMR_API extern const hamr_type_desc hamr_type_bool;
HAMR_API extern const hamr_type_desc hamr_type_str;
HAMR_API extern const hamr_type_desc hamr_type_bytes;
HAMR_API extern const hamr_type_desc hamr_type_list;

#define HAMR_ANY ((hamr_type)0)
#define HAMR_NONE (&hamr_type_none)
#define HAMR_I64 (&hamr_type_i64)
#define HAMR_F64 (&hamr_type_f64)
#define HAMR_BOOL (&hamr_type_bool)
#define HAMR_STR (&hamr_type_str)
#define HAMR_BYTES (&hamr_type_bytes)
#define HAMR_LIST (&hamr_type_list)

/* Registers a user type and stores its canonical type in *out (may be
 * NULL). `desc` is copied, but desc->name and the callbacks must stay valid
 * while any value of the type exists (a static descriptor is the norm).
 * Registering the same name again returns the same type if size and kind
 * agree, HAMR_ETYPE if not. Thread-safe. */
HAMR_API int hamr_type_register(const hamr_type_desc *desc, hamr_type *out);

/* Returns the canonical type registered under `name` (built-ins included:
 * "i64", "f64", "bool", "str", "bytes", "list", "none"), or NULL. */
HAMR_API hamr_type hamr_type_find(const char *name);

/* Returns the type's name, "any" for NULL. Never NULL. */
HAMR_API const char *hamr_type_name(hamr_type t);

/* Returns the canonical type for `t`: itself for a built-in or a canonical
 * type, the registered type for a user descriptor (registering it if it is
 * new). NULL (with hamr_errmsg set) when it conflicts with a registration. */
HAMR_API hamr_type hamr_type_canonical(hamr_type t);

struct hamr_box; /* private */

typedef struct hamr_value {
	hamr_type type; /* NULL: empty, holds nothing */
	union {
		int64_t i64;
		double f64;
		bool b;
		struct hamr_box *box;
	} u;
} hamr_value;

#define HAMR_VALUE_EMPTY {0, {0}}

/* A read-only view of a list value's items, borrowed from the value.
 *
 * A list keeps its items in one of two forms, fixed by its element type:
 *   - packed, when the element type is HAMR_I64, HAMR_F64 or HAMR_BOOL:
 *     `data` is a C array of int64_t, double or bool (8, 8 and 1 bytes an
 *     element) and `values` is NULL;
 *   - values otherwise (strings, bytes, nested lists, user types, or any
 *     type, elem NULL): `values` is an array of hamr_value and `data` is
 *     NULL.
 * hamr_list_get() and the typed getters below read either form; the
 * hamr_list_*_array() views return the packed array itself, no copy. */
typedef struct hamr_list {
	const hamr_value *values; /* the items of a list of values; NULL when packed */
	size_t len;
	hamr_type elem; /* element type; NULL when items may differ */
	const void *data; /* the items of a packed list; NULL for a list of values */
} hamr_list;

/* ---- making values ---------------------------------------------------- */

static inline hamr_value hamr_value_from_i64(int64_t x)
{
	hamr_value v;
	v.type = HAMR_I64;
	v.u.i64 = x;
	return v;
}

static inline hamr_value hamr_value_from_f64(double x)
{
	hamr_value v;
	v.type = HAMR_F64;
	v.u.f64 = x;
	return v;
}

static inline hamr_value hamr_value_from_bool(bool x)
{
	hamr_value v;
	v.type = HAMR_BOOL;
	v.u.i64 = 0;
	v.u.b = x;
	return v;
}

static inline hamr_value hamr_value_none(void)
{
	hamr_value v;
	v.type = HAMR_NONE;
	v.u.i64 = 0;
	return v;
}

/* Each of these makes a new value in *out, which the caller owns (release
 * it with hamr_value_clear or hand it on with a moving call). On failure
 * *out is left empty and a negative HAMR_E* is returned. */

/* Copies the NUL-terminated string `s`. */
HAMR_API int hamr_value_make_str(hamr_value *out, const char *s);
/* Copies `n` bytes of `s` and adds a NUL. */
HAMR_API int hamr_value_make_strn(hamr_value *out, const char *s, size_t n);
/* Copies `n` bytes from `p` (p may be NULL when n is 0). */
HAMR_API int hamr_value_make_bytes(hamr_value *out, const void *p, size_t n);
/* Makes a bytes value of `n` bytes, zeroed, and stores a pointer to them in
 * *data: the caller fills them before handing the value on, never after. */
HAMR_API int hamr_value_alloc_bytes(hamr_value *out, size_t n, void **data);
/* The same for a string of `n` bytes, zeroed, with its NUL after them
 * (hamr's): the caller fills data[0 .. n). */
HAMR_API int hamr_value_alloc_str(hamr_value *out, size_t n, char **data);
/* Either of those without the zeroing, for a caller that writes every one
 * of the n bytes (a read, a receive) before handing the value on: t is
 * HAMR_STR (hamr writes the NUL after them) or HAMR_BYTES, any other
 * type HAMR_ETYPE; *data receives their address (a NULL data is
 * HAMR_EINVAL). */
HAMR_API int hamr_value_alloc_uninit(hamr_value *out, hamr_type t, size_t n, void **data);
/* Makes an empty list whose items must be of type `elem` (NULL: any),
 * with room for `cap` items before it grows. */
HAMR_API int hamr_value_make_list(hamr_value *out, hamr_type elem, size_t cap);
/* Makes a list of n items copied from a C array: a packed list of i64, f64
 * or bool (one memcpy), or a list of strings, each copied (NULL entries
 * are HAMR_EINVAL naming the index). p may be NULL when n is 0. */
HAMR_API int hamr_value_make_list_i64(hamr_value *out, const int64_t *p, size_t n);
HAMR_API int hamr_value_make_list_f64(hamr_value *out, const double *p, size_t n);
HAMR_API int hamr_value_make_list_bool(hamr_value *out, const bool *p, size_t n);
HAMR_API int hamr_value_make_list_str(hamr_value *out, const char *const *p, size_t n);
/* Makes a packed list of n items of type `elem` (HAMR_I64, HAMR_F64 or
 * HAMR_BOOL; else HAMR_ETYPE), zeroed, and stores its array (int64_t,
 * double or bool) in *data: the caller fills it before handing the value
 * on, never after. *data is valid until the list is appended to (an
 * append may move the items). */
HAMR_API int hamr_value_alloc_list(hamr_value *out, hamr_type elem, size_t n, void **data);
/* Wraps `obj`, an object of user type `type`; the value owns obj from now
 * on and frees it with the type's free callback, also when this call fails. */
HAMR_API int hamr_value_make_user(hamr_value *out, hamr_type type, void *obj);
/* Allocates a zeroed object of type->size bytes wrapped in a new value, and
 * stores it in *obj for the caller to fill before handing the value on. */
HAMR_API int hamr_value_alloc_user(hamr_value *out, hamr_type type, void **obj);

/* Appends `*item` to the list value `list`, moving it (it is left empty).
 * The list must not have been shared yet (handed to hamr or referenced).
 * HAMR_ETYPE when the item's type is not the list's element type. */
HAMR_API int hamr_list_append(hamr_value *list, hamr_value *item);
HAMR_API int hamr_list_append_i64(hamr_value *list, int64_t x);
HAMR_API int hamr_list_append_f64(hamr_value *list, double x);
HAMR_API int hamr_list_append_str(hamr_value *list, const char *s);

/* Returns a new reference to the same value (scalars are copied). */
HAMR_API hamr_value hamr_value_ref(const hamr_value *v);

/* Drops the reference `v` holds and leaves it empty. Accepts NULL and empty
 * values. */
HAMR_API void hamr_value_clear(hamr_value *v);

/* ---- reading values ----------------------------------------------------
 * Each getter checks the type: on a value of another type it returns 0,
 * false or NULL (and an empty list). */

static inline hamr_type hamr_value_type(const hamr_value *v)
{
	return v ? v->type : (hamr_type)0;
}

/* The scalar getters compile inline (a fold's step calls them per item),
 * unless HAMR_NO_INLINE is defined, as the node call's accessors do
 * (hamr/runtime.h); both behave the same. */
#if defined(HAMR__BUILDING) || defined(HAMR_NO_INLINE)
HAMR_API int64_t hamr_value_i64(const hamr_value *v);
HAMR_API double hamr_value_f64(const hamr_value *v);
HAMR_API bool hamr_value_bool(const hamr_value *v);
#else
static inline int64_t hamr_value_i64(const hamr_value *v)
{
	return v && v->type == HAMR_I64 ? v->u.i64 : 0;
}

static inline double hamr_value_f64(const hamr_value *v)
{
	return v && v->type == HAMR_F64 ? v->u.f64 : 0.0;
}

static inline bool hamr_value_bool(const hamr_value *v)
{
	return v && v->type == HAMR_BOOL ? v->u.b : false;
}
#endif
/* The string, NUL-terminated; its length without the NUL in *len (len may
 * be NULL). */
HAMR_API const char *hamr_value_str(const hamr_value *v, size_t *len);
HAMR_API const void *hamr_value_bytes(const hamr_value *v, size_t *len);
HAMR_API hamr_list hamr_value_list(const hamr_value *v);
/* The object of a user-typed value. */
HAMR_API const void *hamr_value_user(const hamr_value *v);

/* Item i of the list as a value, or an empty value when i is out of range.
 * Borrowed like the view: a scalar is a copy, a string, bytes, list or
 * user value refers to the list's own box (hamr_value_ref() it to keep
 * it beyond the list). */
static inline hamr_value hamr_list_get(hamr_list l, size_t i)
{
	hamr_value v = HAMR_VALUE_EMPTY;
	if (i >= l.len)
		return v;
	if (l.values)
		return l.values[i];
	if (l.elem == HAMR_I64)
		v = hamr_value_from_i64(((const int64_t *)l.data)[i]);
	else if (l.elem == HAMR_F64)
		v = hamr_value_from_f64(((const double *)l.data)[i]);
	else if (l.elem == HAMR_BOOL)
		v = hamr_value_from_bool(((const bool *)l.data)[i]);
	return v;
}

/* Item i as a C scalar: 0, false or NULL when i is out of range or the
 * item has another type. */
static inline int64_t hamr_list_i64(hamr_list l, size_t i)
{
	hamr_value v = hamr_list_get(l, i);
	return v.type == HAMR_I64 ? v.u.i64 : 0;
}

static inline double hamr_list_f64(hamr_list l, size_t i)
{
	hamr_value v = hamr_list_get(l, i);
	return v.type == HAMR_F64 ? v.u.f64 : 0.0;
}

static inline bool hamr_list_bool(hamr_list l, size_t i)
{
	hamr_value v = hamr_list_get(l, i);
	return v.type == HAMR_BOOL ? v.u.b : false;
}

/* Item i as a double when it is an i64 or an f64 (lists of numbers read
 * from a command line or a file mix them), else 0. */
static inline double hamr_list_num(hamr_list l, size_t i)
{
	hamr_value v = hamr_list_get(l, i);
	return v.type == HAMR_F64 ? v.u.f64 : v.type == HAMR_I64 ? (double)v.u.i64 : 0.0;
}

static inline const char *hamr_list_str(hamr_list l, size_t i)
{
	return i < l.len && l.values ? hamr_value_str(&l.values[i], (size_t *)0)
	                             : (const char *)0;
}

/* A packed list's items as a C array of l.len elements, borrowed (no
 * copy); NULL when the list's element type is another. */
static inline const int64_t *hamr_list_i64_array(hamr_list l)
{
	return l.elem == HAMR_I64 ? (const int64_t *)l.data : (const int64_t *)0;
}

static inline const double *hamr_list_f64_array(hamr_list l)
{
	return l.elem == HAMR_F64 ? (const double *)l.data : (const double *)0;
}

static inline const bool *hamr_list_bool_array(hamr_list l)
{
	return l.elem == HAMR_BOOL ? (const bool *)l.data : (const bool *)0;
}

/* hamr's own count of live value bytes, process-wide: the heap that values
 * hold (strings, bytes, list arrays, user objects hamr allocated, and the
 * boxes around them). Each thread publishes its changes in steps of 64 KiB,
 * so the count is exact to within 64 KiB per running thread (a thread that
 * ends takes its unpublished part with it). The peak is the highest
 * published count since the start or the last reset; a reset while other
 * threads make values may miss a peak they publish at that moment. */
HAMR_API size_t hamr_value_bytes_live(void);
HAMR_API size_t hamr_value_bytes_peak(void);
HAMR_API void hamr_value_bytes_reset_peak(void);

/* Deep equality: same type and same contents (f64 compares bit patterns, so
 * NaN equals itself). User types use their `equal` callback, else their
 * encodings, else object identity. */
HAMR_API bool hamr_value_equal(const hamr_value *a, const hamr_value *b);

/* Writes a readable form of `v` (42, 2.5, true, "text", [1, 2], <point>)
 * into buf like snprintf: at most cap bytes with the NUL, returns the length
 * the whole text needs. */
HAMR_API size_t hamr_value_format(const hamr_value *v, char *buf, size_t cap);

/* ---- codec -------------------------------------------------------------
 * A self-describing encoding of any value whose types can be encoded
 * (built-ins always; user types through their descriptor's codec). */

/* Encodes `v` into buf (at most cap bytes) and stores the size the whole
 * encoding needs in *needed; retry with a buffer that large if it exceeds
 * cap. HAMR_ECODEC (message names the type) if a user type has no codec. */
HAMR_API int hamr_value_encode(const hamr_value *v, void *buf, size_t cap,
                               size_t *needed);

/* Decodes `len` bytes made by hamr_value_encode into a new value *out,
 * owned by the caller. User types are found by name among registered
 * types. HAMR_ECODEC on malformed or truncated input. */
HAMR_API int hamr_value_decode(const void *buf, size_t len, hamr_value *out);

#ifdef __cplusplus
}
#endif

#endif /* HAMR_VALUE_H */
