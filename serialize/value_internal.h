/* SPDX-License-Identifier: MIT */
/* Internal: what graph/ and runtime/ (and white-box tests) may know about
 * values beyond include/hamr/value.h. Kept small on purpose: the box stays
 * private to serialize/value.c. */
#ifndef HAMR_SERIALIZE_VALUE_INTERNAL_H
#define HAMR_SERIALIZE_VALUE_INTERNAL_H

#include "hamr/value.h"

/* First byte of every encoding made by hamr_value_encode; decode rejects any
 * other. Bump it when the layout in serialize/codec.c changes. */
#define HAMR__CODEC_VERSION 2

/* Lists nested deeper than this are rejected by hamr_value_decode, so that
 * hostile input cannot exhaust the stack. */
#define HAMR__CODEC_MAX_DEPTH 100

/* Longest type name the codec writes or accepts, in bytes. */
#define HAMR__CODEC_MAX_NAME 4096

/* Marks `v` as published: a list can no longer be appended to
 * (hamr_list_append then fails with HAMR_ESTATE). hamr_value_ref() seals a
 * list by itself; the runtime calls this when it takes a result by move, so
 * that a stale copy of the value struct kept by a node cannot change what
 * consumers read. No-op for other values. The caller must own `v`. */
void hamr__value_seal(const hamr_value *v);

/* Makes `list` (empty, owned by the caller and not shared) n items long
 * and returns its items, whose n entries the caller must all set before
 * the list is read or freed: an array of hamr_value, or of the packed
 * scalars for a list of i64, f64 or bool (hamr_value_list's `data`). NULL
 * when out of memory. For filling a list in bulk. */
void *hamr__list_fill(hamr_value *list, size_t n);

/* Gives `list`, an empty packed list of i64 or f64 owned by the caller,
 * the n items at `items`: the start of an anonymous mapping of `bytes`
 * (a multiple of the page size, at least n items), which the list takes
 * over and unmaps when it is freed. */
void hamr__list_adopt_mapped(hamr_value *list, void *items, size_t n, size_t bytes);
/* Whether a list's items are such a mapping. */
int hamr__list_mapped(const hamr_value *list);
/* Gives `list` (owned by the caller, not yet shared) the item index of
 * each of its elements, `index` (malloc'd, one per element, taken over):
 * a tolerant collect's list, which lacks the items that failed. */
void hamr__list_set_index(hamr_value *list, int64_t *index);
/* That index, or NULL for a list without one (element k is item k). */
const int64_t *hamr__list_index(const hamr_value *list);

/* Stores the scalars of m values of type elem (HAMR_I64, HAMR_F64 or
 * HAMR_BOOL) as items [at, at + m) of a packed list's array (`data`, or
 * hamr__list_fill's). */
void hamr__packed_put(void *items, hamr_type elem, size_t at, const hamr_value *src, size_t m);

/* The bytes a string, bytes value or packed list keeps in one piece:
 * returns them, their size in *n and a list's element type in *elem (NULL
 * for a string or bytes); NULL for any other value. */
const void *hamr__value_flat(const hamr_value *v, size_t *n, hamr_type *elem);

/* hamr_value_alloc_bytes without zeroing: the caller writes all n bytes
 * (hamr_ret_alloc). */
int hamr__value_alloc_bytes_uninit(hamr_value *out, size_t n, void **data);

/* Whether a value of type t holds a box: a string, bytes, list or user
 * value. False for the scalars and for NULL (an empty value). */
static inline int hamr__type_boxed(hamr_type t)
{
	/* every kind holds a box but NONE, I64, F64 and BOOL, 1 to 4: one
	 * unsigned compare */
	_Static_assert(HAMR_KIND_USER == 0 && HAMR_KIND_NONE == 1 && HAMR_KIND_I64 == 2 &&
	               HAMR_KIND_F64 == 3 && HAMR_KIND_BOOL == 4 && HAMR_KIND_STR == 5 &&
	               HAMR_KIND_BYTES == 6 && HAMR_KIND_LIST == 7,
	               "the kinds without a box are 1 to 4");
	return t && (unsigned)t->kind - HAMR_KIND_NONE > HAMR_KIND_BOOL - HAMR_KIND_NONE;
}

/* hamr_value_clear, with scalars (the common case on executors' hot paths)
 * handled inline. */
static inline void hamr__value_drop(hamr_value *v)
{
	if (hamr__type_boxed(v->type))
		hamr_value_clear(v);
	v->type = NULL;
}

/* hamr_value_ref, with scalars handled inline. */
static inline hamr_value hamr__value_share(const hamr_value *v)
{
	return hamr__type_boxed(v->type) ? hamr_value_ref(v) : *v;
}

#endif
