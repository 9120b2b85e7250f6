/* SPDX-License-Identifier: MIT */
/* Values: boxes, constructors, getters, lists, equality and formatting.
 *
 * A hamr_value is a (type, payload) pair of 16 bytes. Scalars (none, i64,
 * f64, bool) live in the payload and cost nothing to make or copy. Anything
 * with a size of its own (a string, bytes, a list, a user object) lives in a
 * box on the heap, and the payload points at it. A box is reference counted
 * and, once shared, never written again, so one node's result can feed any
 * number of consumers, or pass through a node unchanged, without a copy and
 * without a lock: readers only need the box to stay alive, which the count
 * guarantees.
 *
 * One box layout serves every boxed kind, so that a reference is dropped by
 * one code path: a header (count, seal flag, length, and the list or user
 * fields) followed by the bytes of a string or bytes value, aligned like
 * malloc's memory so bytes can hold any C object. A string carries its NUL
 * in the box, so hamr_value_str is a pointer read.
 *
 * A list of i64, f64 or bool is packed: its items are a C array of the
 * scalars (8, 8 and 1 bytes an element), not of 16-byte values, so a list
 * made from an array is one memcpy and reading it as an array is a view.
 * The element type decides the form, so two equal lists always have the
 * same one. A list made at its full size (from an array, by alloc, in an
 * arena) keeps its items in the box's data, one allocation; a list that
 * grows keeps them in an array of its own.
 *
 * Lists are the one box that changes after it is made: a producer appends
 * while it is the only owner. The first hamr_value_ref() (or the runtime's
 * hamr__value_seal() when it takes a result) seals the list for good; a later
 * append fails with HAMR_ESTATE instead of changing what a reader sees.
 *
 * The value's type is always canonical (serialize/type.c), so type checks
 * are pointer compares, and a user box is freed through the callbacks of the
 * canonical descriptor. */
#include <inttypes.h>
#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hamr/value.h"
#include "serialize/error_internal.h"
#include "serialize/arena_internal.h"
#include "serialize/value_internal.h"

#if defined(HAMR_WITH_JEMALLOC)
#include <jemalloc/jemalloc.h>
#include <sys/types.h>
#endif

struct hamr_box {
	atomic_size_t refs;
	atomic_bool sealed; /* lists: no more appends */
	uint8_t arena;      /* str, bytes: box and data in a process
	                     * pool's shared arena (arena_internal.h) */
	uint8_t big;        /* from box_mem_alloc's large path */
	uint8_t mapped;     /* lists: items in a mapping of their own, of
	                     * cap items (hamr__list_adopt_mapped) */
	size_t acct;        /* bytes counted live for this box */
	size_t len;         /* str: bytes without the NUL; bytes; list items */
	union {
		struct {
			void *items; /* hamr_value[], or a packed array;
			              * NULL: in data[] (see list_mem) */
			size_t cap;  /* items items has room for */
			hamr_type elem; /* canonical; NULL: any */
			int64_t *index; /* item indices (hamr__list_set_index) */
		} list;
		void *obj; /* user */
	} u;
	/* str, bytes; a packed list made at its full size */
	_Alignas(max_align_t) unsigned char data[];
};

static const hamr_value empty_value = HAMR_VALUE_EMPTY;

/* ---- live value bytes ------------------------------------------------------
 * What boxes hold: the box, string and bytes data, list arrays, user objects
 * hamr allocated. Each thread adds to a delta of its own and publishes it to
 * the process-wide count once it passes LIVE_STEP either way, so a value
 * made or freed costs no shared write; the count is exact to within
 * LIVE_STEP bytes per thread. The high-water mark is that of the published
 * count. */
#define LIVE_STEP 65536

static atomic_llong live_total;
static atomic_llong live_peak;
static _Thread_local long long live_delta __attribute__((tls_model("initial-exec")));

static void live_add(long long d)
{
	long long x = live_delta + d;
	if (x > LIVE_STEP || x < -LIVE_STEP) {
		/* relaxed: a statistic; no other memory hangs on it */
		long long now = atomic_fetch_add_explicit(&live_total, x, memory_order_relaxed) + x;
		long long pk = atomic_load_explicit(&live_peak, memory_order_relaxed);
		while (now > pk && !atomic_compare_exchange_weak_explicit(
		                       &live_peak, &pk, now, memory_order_relaxed,
		                       memory_order_relaxed))
			;
		x = 0;
	}
	live_delta = x;
}

size_t hamr_value_bytes_live(void)
{
	long long v = atomic_load_explicit(&live_total, memory_order_relaxed) + live_delta;
	return v > 0 ? (size_t)v : 0;
}

size_t hamr_value_bytes_peak(void)
{
	long long v = atomic_load_explicit(&live_peak, memory_order_relaxed);
	return v > 0 ? (size_t)v : 0;
}

void hamr_value_bytes_reset_peak(void)
{
	atomic_store_explicit(&live_peak, atomic_load_explicit(&live_total, memory_order_relaxed),
	                      memory_order_relaxed);
}

static void box_account(struct hamr_box *b, long long d)
{
	b->acct = (size_t)((long long)b->acct + d);
	live_add(d);
}

static bool is_boxed(hamr_type t)
{
	if (!t)
		return false;
	switch (t->kind) {
	case HAMR_KIND_USER:
	case HAMR_KIND_STR:
	case HAMR_KIND_BYTES:
	case HAMR_KIND_LIST:
		return true;
	default:
		return false;
	}
}

/* Boxes of BIG_BOX bytes or more come from an arena of jemalloc's of
 * their own when hamr has jemalloc, one that keeps a freed block's pages
 * for the next large value. glibc unmaps every block above 32 MiB at its
 * free, and jemalloc purges a freed block above 8 MiB at once
 * (opt.oversize_threshold) unless its arena never purges its lazily
 * freed ("muzzy") pages; the next value of that size (the next run's
 * result, the next large receive) then faults each page in again, zeroed
 * by the kernel: about 16,000 faults for 64 MiB. This arena's muzzy pages
 * are kept (muzzy_decay_ms -1): its freed pages stay as they are for
 * jemalloc's decay time (10 s unless the program sets another; pages go
 * gradually, as the arena allocates and frees), then are given back with
 * MADV_FREE, which the kernel takes back only when it needs the memory.
 * So that a program that made many large values once does not keep their
 * pages for good, at most BIG_KEEP bytes of freed blocks stay: when the
 * most the arena held since its last purge exceeds what it holds now by
 * more, the arena's free pages go back to the kernel at once (big_purge).
 * Smaller boxes stay with malloc. */
#define BIG_BOX ((size_t)1 << 20)
#define BIG_KEEP ((size_t)256 << 20)

#if defined(HAMR_WITH_JEMALLOC)
static unsigned big_arena; /* 0: none could be made; malloc's */
static pthread_once_t big_once = PTHREAD_ONCE_INIT;
static char big_purge_name[48]; /* "arena.<i>.purge" */
static char big_muzzy_name[48]; /* "arena.<i>.muzzy_decay_ms" */
/* relaxed: hints that decide when to purge; a stale one purges a little
 * early or late */
static atomic_size_t big_held; /* bytes of live large blocks */
static atomic_size_t big_high; /* the most held since the last purge */

static void big_arena_make(void)
{
	unsigned a = 0;
	size_t sz = sizeof a;
	if (mallctl("arenas.create", &a, &sz, NULL, 0))
		return;
	ssize_t never = -1;
	snprintf(big_muzzy_name, sizeof big_muzzy_name, "arena.%u.muzzy_decay_ms", a);
	snprintf(big_purge_name, sizeof big_purge_name, "arena.%u.purge", a);
	/* else: purged at each free */
	(void)mallctl(big_muzzy_name, NULL, NULL, &never, sizeof never);
	big_arena = a;
}

/* Gives the arena's free pages back to the kernel (MADV_DONTNEED): a
 * purge alone only marks them MADV_FREE while muzzy pages are kept, so
 * they are not kept for the purge's while. A block freed meanwhile by
 * another thread is given back too, as malloc's would be. */
static void big_purge(void)
{
	ssize_t now = 0, never = -1;
	(void)mallctl(big_muzzy_name, NULL, NULL, &now, sizeof now);
	(void)mallctl(big_purge_name, NULL, NULL, NULL, 0);
	(void)mallctl(big_muzzy_name, NULL, NULL, &never, sizeof never);
}
#endif

static struct hamr_box *box_mem_alloc(size_t size)
{
	struct hamr_box *b;
#if defined(HAMR_WITH_JEMALLOC)
	if (size >= BIG_BOX) {
		pthread_once(&big_once, big_arena_make);
		if (big_arena) {
			b = mallocx(size, MALLOCX_ARENA(big_arena) | MALLOCX_TCACHE_NONE);
			if (!b)
				return NULL;
			b->big = 1;
			size_t n = sallocx(b, 0);
			size_t held = atomic_fetch_add_explicit(&big_held, n, memory_order_relaxed) + n;
			size_t high = atomic_load_explicit(&big_high, memory_order_relaxed);
			while (held > high && !atomic_compare_exchange_weak_explicit(
			                              &big_high, &high, held, memory_order_relaxed,
			                              memory_order_relaxed))
				;
			return b;
		}
	}
#endif
	b = malloc(size);
	if (b)
		b->big = 0;
	return b;
}

static void box_mem_free(struct hamr_box *b)
{
#if defined(HAMR_WITH_JEMALLOC)
	if (b->big) {
		size_t n = sallocx(b, 0);
		dallocx(b, MALLOCX_TCACHE_NONE);
		size_t held = atomic_fetch_sub_explicit(&big_held, n, memory_order_relaxed) - n;
		if (atomic_load_explicit(&big_high, memory_order_relaxed) > held + BIG_KEEP) {
			atomic_store_explicit(&big_high, held, memory_order_relaxed);
			big_purge();
		}
		return;
	}
#endif
	free(b);
}

static struct hamr_box *box_new(size_t extra)
{
	struct hamr_box *b;

	if (extra > SIZE_MAX - sizeof *b)
		return NULL;
	b = box_mem_alloc(sizeof *b + extra);
	if (!b)
		return NULL;
	atomic_init(&b->refs, 1);
	atomic_init(&b->sealed, false);
	b->arena = 0;
	b->mapped = 0;
	b->acct = 0;
	box_account(b, (long long)(sizeof *b + extra));
	b->len = 0;
	memset(&b->u, 0, sizeof b->u);
	return b;
}

/* Bytes of one item of a packed list of `elem`; 0 when such a list holds
 * values. */
static size_t packed_size(hamr_type elem)
{
	if (elem == HAMR_I64)
		return sizeof(int64_t);
	if (elem == HAMR_F64)
		return sizeof(double);
	if (elem == HAMR_BOOL)
		return sizeof(bool);
	return 0;
}

/* Bytes of one item of a list of `elem`, in either form. */
static size_t item_size(hamr_type elem)
{
	size_t n = packed_size(elem);
	return n ? n : sizeof(hamr_value);
}

/* Where a list box keeps its items. */
static void *list_mem(const struct hamr_box *b)
{
	return b->u.list.items ? b->u.list.items : (void *)b->data;
}

/* Frees a list box's own array of items. */
static void items_free(struct hamr_box *b)
{
	if (b->mapped)
		munmap(b->u.list.items, b->u.list.cap * item_size(b->u.list.elem));
	else
		free(b->u.list.items);
}

static void user_obj_free(hamr_type t, void *obj)
{
	if (t && t->free)
		t->free(obj);
	else
		free(obj);
}

static void box_free(hamr_type t, struct hamr_box *b)
{
	switch (t->kind) {
	case HAMR_KIND_LIST:
		if (!packed_size(b->u.list.elem)) {
			hamr_value *items = list_mem(b);
			for (size_t i = 0; i < b->len; i++)
				hamr_value_clear(&items[i]);
		}
		items_free(b);
		free(b->u.list.index);
		break;
	case HAMR_KIND_USER:
		user_obj_free(t, b->u.obj);
		break;
	default:
		break;
	}
	live_add(-(long long)b->acct);
	if (b->arena)
		hamr__arena_box_free(b);
	else
		box_mem_free(b);
}

static void box_release(hamr_type t, struct hamr_box *b)
{
	if (__builtin_expect(b->arena && hamr__arena_worker, 0))
		return; /* a view: a worker's space comes back by chunks */
	/* acq_rel: the release half orders everything this holder did with
	 * the box before the decrement; the acquire half, in the holder that
	 * takes the count to zero, pairs with the release of every earlier
	 * decrement, so the free below comes after all their uses. (A
	 * release decrement plus an acquire fence on the last one would do
	 * the same, but ThreadSanitizer does not model fences.) */
	if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
		box_free(t, b);
}

hamr_value hamr_value_ref(const hamr_value *v)
{
	if (!v || !v->type)
		return empty_value;
	if (is_boxed(v->type)) {
		struct hamr_box *b = v->u.box;
		if (__builtin_expect(b->arena && hamr__arena_worker, 0))
			return *v; /* a view, not counted: see box_release */
		/* relaxed: the caller's reference keeps the box alive during the
		 * increment, and whoever receives the new reference on another
		 * thread gets it through synchronization of its own, which
		 * orders its reads after everything before it. */
		atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
		if (v->type->kind == HAMR_KIND_LIST)
			/* relaxed: only the list's sole owner may append, and it
			 * made this reference or received the list after it
			 * (synchronized), so it sees the flag; a concurrent append
			 * is the caller's race, which no order would make safe. */
			atomic_store_explicit(&b->sealed, true,
			                      memory_order_relaxed);
	}
	return *v;
}

void hamr_value_clear(hamr_value *v)
{
	if (!v)
		return;
	if (is_boxed(v->type))
		box_release(v->type, v->u.box);
	*v = empty_value;
}

void hamr__value_seal(const hamr_value *v)
{
	if (v && v->type == HAMR_LIST)
		/* relaxed: see hamr_value_ref(). */
		atomic_store_explicit(&v->u.box->sealed, true,
		                      memory_order_relaxed);
}

/* ---- making values ---------------------------------------------------- */

static int out_of_memory(const char *what, size_t n)
{
	return hamr__error_set(HAMR_ENOMEM, "%s: cannot allocate %zu bytes",
	                       what, n);
}

/* make_flat's `p` for data the caller fills: left as it comes */
static const char uninit_[1];
#define UNINIT ((const void *)uninit_)

/* A str or bytes value of n bytes (plus `extra` zero bytes) in *out: a
 * copy of p, zeroes when p is NULL, as it comes for UNINIT. */
static int make_flat(hamr_value *out, hamr_type t, const void *p, size_t n,
                     size_t extra, const char *what)
{
	struct hamr_box *b;

	if (!out)
		return hamr__error_set(HAMR_EINVAL, "%s: NULL out", what);
	*out = empty_value;
	if (n > SIZE_MAX - extra || !(b = box_new(n + extra)))
		return out_of_memory(what, n);
	if (p == NULL)
		memset(b->data, 0, n);
	else if (p != UNINIT)
		memcpy(b->data, p, n);
	memset(b->data + n, 0, extra);
	b->len = n;
	out->type = t;
	out->u.box = b;
	return 0;
}

int hamr_value_make_str(hamr_value *out, const char *s)
{
	if (!s) {
		if (out)
			*out = empty_value;
		return hamr__error_set(HAMR_EINVAL,
		                       "hamr_value_make_str: NULL string");
	}
	return make_flat(out, HAMR_STR, s, strlen(s), 1, "hamr_value_make_str");
}

int hamr_value_make_strn(hamr_value *out, const char *s, size_t n)
{
	if (!s && n) {
		if (out)
			*out = empty_value;
		return hamr__error_set(HAMR_EINVAL,
		                       "hamr_value_make_strn: NULL string of "
		                       "%zu bytes",
		                       n);
	}
	return make_flat(out, HAMR_STR, s, n, 1, "hamr_value_make_strn");
}

int hamr_value_make_bytes(hamr_value *out, const void *p, size_t n)
{
	if (!p && n) {
		if (out)
			*out = empty_value;
		return hamr__error_set(HAMR_EINVAL,
		                       "hamr_value_make_bytes: NULL pointer to "
		                       "%zu bytes",
		                       n);
	}
	return make_flat(out, HAMR_BYTES, p, n, 0, "hamr_value_make_bytes");
}

int hamr_value_alloc_uninit(hamr_value *out, hamr_type t, size_t n, void **data)
{
	const char *what = "hamr_value_alloc_uninit";
	if (!data) {
		if (out)
			*out = empty_value;
		return hamr__error_set(HAMR_EINVAL, "%s: NULL data", what);
	}
	*data = NULL;
	if (t != HAMR_STR && t != HAMR_BYTES) {
		if (out)
			*out = empty_value;
		return hamr__error_set(HAMR_ETYPE, "%s: type %s; only str and bytes values are made uninitialised",
		                       what, t ? hamr_type_name(t) : "NULL");
	}
	int rc = make_flat(out, t, UNINIT, n, t == HAMR_STR, what);
	if (!rc)
		*data = out->u.box->data;
	return rc;
}

int hamr__value_alloc_bytes_uninit(hamr_value *out, size_t n, void **data)
{
	int rc = make_flat(out, HAMR_BYTES, UNINIT, n, 0, "hamr_ret_alloc");
	*data = rc ? NULL : out->u.box->data;
	return rc;
}

int hamr_value_alloc_bytes(hamr_value *out, size_t n, void **data)
{
	int rc = make_flat(out, HAMR_BYTES, NULL, n, 0,
	                   "hamr_value_alloc_bytes");
	if (data)
		*data = rc ? NULL : out->u.box->data;
	return rc;
}

int hamr_value_alloc_str(hamr_value *out, size_t n, char **data)
{
	int rc = make_flat(out, HAMR_STR, NULL, n, 1, "hamr_value_alloc_str");
	if (data)
		*data = rc ? NULL : (char *)out->u.box->data;
	return rc;
}

/* The canonical element type for a new list: 0, or the registry's error. */
static int list_elem(hamr_type elem, hamr_type *e)
{
	*e = NULL;
	return elem ? hamr_type_register(elem, e) : 0;
}

int hamr_value_make_list(hamr_value *out, hamr_type elem, size_t cap)
{
	const char *what = "hamr_value_make_list";
	struct hamr_box *b;
	hamr_type e;
	size_t esz;
	int rc;

	if (!out)
		return hamr__error_set(HAMR_EINVAL, "%s: NULL out", what);
	*out = empty_value;
	if ((rc = list_elem(elem, &e)))
		return rc;
	esz = item_size(e);
	if (cap > SIZE_MAX / esz)
		return out_of_memory(what, SIZE_MAX);
	b = box_new(0);
	if (!b)
		return out_of_memory(what, sizeof *b);
	if (cap) {
		b->u.list.items = malloc(cap * esz);
		if (!b->u.list.items) {
			live_add(-(long long)b->acct);
			box_mem_free(b);
			return out_of_memory(what, cap * esz);
		}
	}
	b->u.list.cap = cap;
	box_account(b, (long long)(cap * esz));
	b->u.list.elem = e;
	out->type = HAMR_LIST;
	out->u.box = b;
	return 0;
}

/* A packed list of n items of `elem` in *out, its items in the box: a
 * copy of p, zeroes when p is NULL; their array in *data (may be NULL). */
static int make_packed(hamr_value *out, hamr_type elem, const void *p, size_t n,
                       void **data, const char *what)
{
	size_t esz = packed_size(elem);
	struct hamr_box *b;

	if (data)
		*data = NULL;
	if (!out)
		return hamr__error_set(HAMR_EINVAL, "%s: NULL out", what);
	*out = empty_value;
	if (n > SIZE_MAX / esz || !(b = box_new(n * esz)))
		return out_of_memory(what, n > SIZE_MAX / esz ? SIZE_MAX : n * esz);
	if (p)
		memcpy(b->data, p, n * esz);
	else
		memset(b->data, 0, n * esz);
	b->len = n;
	b->u.list.cap = n;
	b->u.list.elem = elem;
	out->type = HAMR_LIST;
	out->u.box = b;
	if (data)
		*data = b->data;
	return 0;
}

/* make_packed from a caller's array, which may be NULL only when n is 0. */
static int packed_from(hamr_value *out, hamr_type elem, const void *p, size_t n, const char *what)
{
	if (out && !p && n) {
		*out = empty_value;
		return hamr__error_set(HAMR_EINVAL, "%s: NULL array of %zu items", what, n);
	}
	return make_packed(out, elem, p, n, NULL, what);
}

int hamr_value_make_list_i64(hamr_value *out, const int64_t *p, size_t n)
{
	return packed_from(out, HAMR_I64, p, n, "hamr_value_make_list_i64");
}

int hamr_value_make_list_f64(hamr_value *out, const double *p, size_t n)
{
	return packed_from(out, HAMR_F64, p, n, "hamr_value_make_list_f64");
}

int hamr_value_make_list_bool(hamr_value *out, const bool *p, size_t n)
{
	return packed_from(out, HAMR_BOOL, p, n, "hamr_value_make_list_bool");
}

int hamr_value_alloc_list(hamr_value *out, hamr_type elem, size_t n, void **data)
{
	const char *what = "hamr_value_alloc_list";
	hamr_type e;
	int rc;

	if (data)
		*data = NULL;
	if (out)
		*out = empty_value;
	if ((rc = list_elem(elem, &e)))
		return rc;
	if (!packed_size(e))
		return hamr__error_set(HAMR_ETYPE,
		                       "%s: a list of %s is not packed (i64, f64 and bool lists are)",
		                       what, hamr_type_name(e));
	return make_packed(out, e, NULL, n, data, what);
}

int hamr_value_make_list_str(hamr_value *out, const char *const *p, size_t n)
{
	const char *what = "hamr_value_make_list_str";
	hamr_value *items;
	int rc;

	if (!out)
		return hamr__error_set(HAMR_EINVAL, "%s: NULL out", what);
	if (!p && n) {
		*out = empty_value;
		return hamr__error_set(HAMR_EINVAL, "%s: NULL array of %zu items", what, n);
	}
	if ((rc = hamr_value_make_list(out, HAMR_STR, n)))
		return rc;
	items = out->u.box->u.list.items;
	for (size_t i = 0; i < n && !rc; i++) {
		if (!p[i])
			rc = hamr__error_set(HAMR_EINVAL, "%s: item %zu is NULL", what, i);
		else if ((rc = make_flat(&items[i], HAMR_STR, p[i], strlen(p[i]), 1, what)) == 0)
			out->u.box->len = i + 1;
	}
	if (rc)
		hamr_value_clear(out);
	return rc;
}

/* Resolves a user type for make_user/alloc_user: 0 and the canonical type
 * in *c, or a negative code with the message set. */
static int user_type(hamr_type type, hamr_type *c, const char *what)
{
	int rc;

	if (!type)
		return hamr__error_set(HAMR_EINVAL, "%s: no type", what);
	rc = hamr_type_register(type, c);
	if (rc)
		return rc;
	if ((*c)->kind != HAMR_KIND_USER)
		return hamr__error_set(HAMR_ETYPE,
		                       "%s: \"%s\" is a built-in type, not a "
		                       "user type",
		                       what, hamr_type_name(*c));
	return 0;
}

static int wrap_user(hamr_value *out, hamr_type c, void *obj)
{
	struct hamr_box *b = box_new(0);
	if (!b)
		return out_of_memory("hamr_value_make_user", sizeof *b);
	b->u.obj = obj;
	out->type = c;
	out->u.box = b;
	return 0;
}

int hamr_value_make_user(hamr_value *out, hamr_type type, void *obj)
{
	const char *what = "hamr_value_make_user";
	hamr_type c = NULL;
	int rc;

	if (out)
		*out = empty_value;
	if (!obj)
		return hamr__error_set(HAMR_EINVAL, "%s: NULL object of type "
		                       "\"%s\"", what, hamr_type_name(type));
	if (!out) {
		user_obj_free(type, obj);
		return hamr__error_set(HAMR_EINVAL, "%s: NULL out", what);
	}
	rc = user_type(type, &c, what);
	if (!rc)
		rc = wrap_user(out, c, obj);
	if (rc) {
		/* The object is ours from the call on; free it the way its
		 * type says, keeping the message that says why we failed. */
		user_obj_free(type, obj);
	}
	return rc;
}

int hamr_value_alloc_user(hamr_value *out, hamr_type type, void **obj)
{
	const char *what = "hamr_value_alloc_user";
	hamr_type c = NULL;
	void *o;
	int rc;

	if (obj)
		*obj = NULL;
	if (!out)
		return hamr__error_set(HAMR_EINVAL, "%s: NULL out", what);
	*out = empty_value;
	rc = user_type(type, &c, what);
	if (rc)
		return rc;
	o = calloc(1, c->size ? c->size : 1);
	if (!o)
		return out_of_memory(what, c->size);
	rc = wrap_user(out, c, o);
	if (rc) {
		free(o); /* a bare calloc, never seen by the type's callbacks */
		return rc;
	}
	box_account(out->u.box, (long long)c->size);
	if (obj)
		*obj = o;
	return 0;
}

/* ---- lists ------------------------------------------------------------ */

/* Gives b's items room for at least n: an array of their own, grown by
 * realloc, or made and copied when they were in the box. 0 or
 * HAMR_ENOMEM. */
static int list_reserve(struct hamr_box *b, size_t n)
{
	size_t esz = item_size(b->u.list.elem), cap = b->u.list.cap;
	void *items;

	if (n <= cap)
		return 0;
	if (n > SIZE_MAX / esz)
		return HAMR_ENOMEM;
	if (b->mapped) {
		/* a mapping is not malloc's to grow: copied out of it */
		if ((items = malloc(n * esz))) {
			memcpy(items, b->u.list.items, b->len * esz);
			items_free(b);
			b->mapped = 0;
		}
	} else if (b->u.list.items) {
		items = realloc(b->u.list.items, n * esz);
	} else {
		/* in the box until now: the box's bytes stay counted, unused */
		items = malloc(n * esz);
		if (items && b->len)
			memcpy(items, b->data, b->len * esz);
		cap = 0;
	}
	if (!items)
		return HAMR_ENOMEM;
	box_account(b, (long long)((n - cap) * esz));
	b->u.list.items = items;
	b->u.list.cap = n;
	return 0;
}

static int list_grow(struct hamr_box *b)
{
	size_t cap = b->u.list.cap ? 2 * b->u.list.cap : 4;
	return cap < b->u.list.cap ? HAMR_ENOMEM : list_reserve(b, cap);
}

void hamr__list_set_index(hamr_value *list, int64_t *index)
{
	struct hamr_box *b = list->u.box;
	free(b->u.list.index);
	b->u.list.index = index;
}

const int64_t *hamr__list_index(const hamr_value *list)
{
	return list->type == HAMR_LIST ? list->u.box->u.list.index : NULL;
}

void hamr__list_adopt_mapped(hamr_value *list, void *items, size_t n, size_t bytes)
{
	struct hamr_box *b = list->u.box;
	size_t esz = item_size(b->u.list.elem);
	assert(esz == sizeof(uint64_t) && !b->u.list.items && bytes % esz == 0 && n <= bytes / esz);
	b->u.list.items = items;
	b->u.list.cap = bytes / esz;
	b->mapped = 1;
	b->len = n;
	box_account(b, (long long)bytes);
}

int hamr__list_mapped(const hamr_value *list)
{
	return list->type == HAMR_LIST && list->u.box->mapped;
}

void *hamr__list_fill(hamr_value *list, size_t n)
{
	struct hamr_box *b = list->u.box;
	if (b->len || list_reserve(b, n))
		return NULL;
	b->len = n;
	return list_mem(b);
}

int hamr_list_append(hamr_value *list, hamr_value *item)
{
	const char *what = "hamr_list_append";
	hamr_value it = empty_value;
	struct hamr_box *b;
	hamr_type t;

	if (item) {
		it = *item;
		*item = empty_value;
	}
	t = it.type; /* canonical: its name outlives the item */
	if (!list || list->type != HAMR_LIST) {
		hamr_value_clear(&it);
		if (!list)
			return hamr__error_set(HAMR_EINVAL, "%s: NULL list",
			                       what);
		return hamr__error_set(HAMR_ETYPE,
		                       "%s: value of type %s is not a list",
		                       what, hamr_type_name(list->type));
	}
	if (!t)
		return hamr__error_set(HAMR_EINVAL, "%s: empty item", what);
	b = list->u.box;
	/* relaxed: see hamr_value_ref(). */
	if (atomic_load_explicit(&b->sealed, memory_order_relaxed)) {
		hamr_value_clear(&it);
		return hamr__error_set(HAMR_ESTATE,
		                       "%s: the list is shared and can no "
		                       "longer change",
		                       what);
	}
	if (b->u.list.elem && t != b->u.list.elem) {
		hamr_type e = b->u.list.elem;
		hamr_value_clear(&it);
		return hamr__error_set(HAMR_ETYPE,
		                       "%s: a list of %s cannot take an item "
		                       "of type %s",
		                       what, hamr_type_name(e),
		                       hamr_type_name(t));
	}
	if (b->len == b->u.list.cap && list_grow(b)) {
		hamr_value_clear(&it);
		return hamr__error_set(HAMR_ENOMEM,
		                       "%s: cannot grow a list of %zu items",
		                       what, b->len);
	}
	void *mem = list_mem(b);
	size_t i = b->len++;
	if (packed_size(b->u.list.elem)) /* then the item is of that type */
		hamr__packed_put(mem, t, i, &it, 1);
	else
		((hamr_value *)mem)[i] = it;
	return 0;
}

int hamr_list_append_i64(hamr_value *list, int64_t x)
{
	hamr_value v = hamr_value_from_i64(x);
	return hamr_list_append(list, &v);
}

int hamr_list_append_f64(hamr_value *list, double x)
{
	hamr_value v = hamr_value_from_f64(x);
	return hamr_list_append(list, &v);
}

int hamr_list_append_str(hamr_value *list, const char *s)
{
	hamr_value v;
	int rc = hamr_value_make_str(&v, s);
	return rc ? rc : hamr_list_append(list, &v);
}

void hamr__packed_put(void *items, hamr_type elem, size_t at, const hamr_value *src, size_t m)
{
	if (elem == HAMR_BOOL) {
		bool *b = (bool *)items + at;
		for (size_t k = 0; k < m; k++)
			b[k] = src[k].u.b;
	} else if (elem == HAMR_F64) {
		double *x = (double *)items + at;
		for (size_t k = 0; k < m; k++)
			x[k] = src[k].u.f64;
	} else {
		int64_t *x = (int64_t *)items + at;
		for (size_t k = 0; k < m; k++)
			x[k] = src[k].u.i64;
	}
}

/* ---- reading values --------------------------------------------------- */

int64_t hamr_value_i64(const hamr_value *v)
{
	return v && v->type == HAMR_I64 ? v->u.i64 : 0;
}

double hamr_value_f64(const hamr_value *v)
{
	return v && v->type == HAMR_F64 ? v->u.f64 : 0.0;
}

bool hamr_value_bool(const hamr_value *v)
{
	return v && v->type == HAMR_BOOL ? v->u.b : false;
}

const char *hamr_value_str(const hamr_value *v, size_t *len)
{
	if (!v || v->type != HAMR_STR) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = v->u.box->len;
	return (const char *)v->u.box->data;
}

const void *hamr_value_bytes(const hamr_value *v, size_t *len)
{
	if (!v || v->type != HAMR_BYTES) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = v->u.box->len;
	return v->u.box->data;
}

hamr_list hamr_value_list(const hamr_value *v)
{
	hamr_list l = {NULL, 0, NULL, NULL};
	if (v && v->type == HAMR_LIST) {
		const struct hamr_box *b = v->u.box;
		l.len = b->len;
		l.elem = b->u.list.elem;
		if (packed_size(l.elem))
			l.data = list_mem(b);
		else
			l.values = list_mem(b);
	}
	return l;
}

const void *hamr_value_user(const hamr_value *v)
{
	if (!v || !v->type || v->type->kind != HAMR_KIND_USER)
		return NULL;
	return v->u.box->u.obj;
}

/* ---- equality --------------------------------------------------------- */

/* Compares two objects of user type t by their encodings. */
static bool encodings_equal(hamr_type t, const void *a, const void *b)
{
	unsigned char sa[256], sb[256];
	unsigned char *pa = sa, *pb = sb;
	size_t na = t->encode(a, sa, sizeof sa);
	size_t nb = t->encode(b, sb, sizeof sb);
	bool eq;

	if (na != nb)
		return false;
	if (na > sizeof sa) {
		pa = malloc(na);
		pb = malloc(nb);
		eq = pa && pb && t->encode(a, pa, na) == na &&
		     t->encode(b, pb, nb) == nb && memcmp(pa, pb, na) == 0;
		free(pa);
		free(pb);
		return eq;
	}
	return memcmp(sa, sb, na) == 0;
}

bool hamr_value_equal(const hamr_value *a, const hamr_value *b)
{
	hamr_type t;

	if (!a || !b)
		return (!a || !a->type) && (!b || !b->type);
	t = a->type;
	if (t != b->type)
		return false;
	if (!t)
		return true;
	if (is_boxed(t) && a->u.box == b->u.box)
		return true;
	switch (t->kind) {
	case HAMR_KIND_NONE:
		return true;
	case HAMR_KIND_I64:
		return a->u.i64 == b->u.i64;
	case HAMR_KIND_F64:
		return memcmp(&a->u.f64, &b->u.f64, sizeof(double)) == 0;
	case HAMR_KIND_BOOL:
		return a->u.b == b->u.b;
	case HAMR_KIND_STR:
	case HAMR_KIND_BYTES:
		return a->u.box->len == b->u.box->len &&
		       memcmp(a->u.box->data, b->u.box->data, a->u.box->len) == 0;
	case HAMR_KIND_LIST: {
		const struct hamr_box *x = a->u.box, *y = b->u.box;
		size_t esz = packed_size(x->u.list.elem);
		if (x->len != y->len || x->u.list.elem != y->u.list.elem)
			return false;
		if (esz) /* f64 by bit pattern, as for scalars */
			return memcmp(list_mem(x), list_mem(y), x->len * esz) == 0;
		const hamr_value *xs = list_mem(x), *ys = list_mem(y);
		for (size_t i = 0; i < x->len; i++)
			if (!hamr_value_equal(&xs[i], &ys[i]))
				return false;
		return true;
	}
	case HAMR_KIND_USER: {
		const void *x = a->u.box->u.obj, *y = b->u.box->u.obj;
		if (x == y)
			return true;
		if (t->equal)
			return t->equal(x, y);
		if (t->encode)
			return encodings_equal(t, x, y);
		return false;
	}
	}
	return false;
}

/* ---- formatting ------------------------------------------------------- */

/* An snprintf-like sink: keeps what fits in buf (leaving room for the NUL)
 * and counts everything. */
struct sink {
	char *buf;
	size_t cap;
	size_t len;
};

static void put(struct sink *s, const char *p, size_t n)
{
	if (s->cap && s->len < s->cap - 1) {
		size_t room = s->cap - 1 - s->len;
		memcpy(s->buf + s->len, p, n < room ? n : room);
	}
	s->len = n > SIZE_MAX - s->len ? SIZE_MAX : s->len + n;
}

static void puts_(struct sink *s, const char *p)
{
	put(s, p, strlen(p));
}

static void putf(struct sink *s, const char *fmt, ...) HAMR_PRINTF(2, 3);
static void putf(struct sink *s, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		put(s, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* The shortest %g form that reads back as the same double. */
static void put_f64(struct sink *s, double x)
{
	char tmp[40];

	if (isnan(x)) {
		puts_(s, "nan");
		return;
	}
	if (isinf(x)) {
		puts_(s, x < 0 ? "-inf" : "inf");
		return;
	}
	int prec = 1;
	for (; prec <= 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*g", prec, x);
		if (strtod(tmp, NULL) == x)
			break;
	}
	/* %g switches to an exponent when it is at least the precision, so
	 * the shortest form of 1000 is "1e+03": below 1e17, print whole
	 * digits instead, as people write numbers */
	const char *e = strchr(tmp, 'e');
	if (e) {
		int exp10 = atoi(e + 1);
		if (exp10 >= prec && exp10 < 17)
			snprintf(tmp, sizeof tmp, "%.*g", exp10 + 1, x);
	}
	puts_(s, tmp);
}

static void put_quoted(struct sink *s, const unsigned char *p, size_t n)
{
	size_t run = 0; /* start of the bytes not yet written */

	put(s, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		const char *esc = NULL;
		char oct[5];
		switch (p[i]) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\a': esc = "\\a"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\v': esc = "\\v"; break;
		default:
			if (p[i] < 0x20 || p[i] == 0x7f) {
				/* three octal digits: never merges with what
				 * follows, unlike \x */
				snprintf(oct, sizeof oct, "\\%03o", p[i]);
				esc = oct;
			}
		}
		if (esc) {
			put(s, (const char *)p + run, i - run);
			puts_(s, esc);
			run = i + 1;
		}
	}
	put(s, (const char *)p + run, n - run);
	put(s, "\"", 1);
}

static void format(struct sink *s, const hamr_value *v)
{
	hamr_type t = v ? v->type : NULL;

	if (!t) {
		puts_(s, "<empty>");
		return;
	}
	switch (t->kind) {
	case HAMR_KIND_NONE:
		puts_(s, "none");
		return;
	case HAMR_KIND_I64:
		putf(s, "%" PRId64, v->u.i64);
		return;
	case HAMR_KIND_F64:
		put_f64(s, v->u.f64);
		return;
	case HAMR_KIND_BOOL:
		puts_(s, v->u.b ? "true" : "false");
		return;
	case HAMR_KIND_STR:
		put_quoted(s, v->u.box->data, v->u.box->len);
		return;
	case HAMR_KIND_BYTES:
		putf(s, "<%zu bytes>", v->u.box->len);
		return;
	case HAMR_KIND_LIST: {
		hamr_list l = hamr_value_list(v);
		put(s, "[", 1);
		for (size_t i = 0; i < l.len; i++) {
			hamr_value it = hamr_list_get(l, i);
			if (i)
				put(s, ", ", 2);
			format(s, &it);
		}
		put(s, "]", 1);
		return;
	}
	case HAMR_KIND_USER:
		put(s, "<", 1);
		puts_(s, hamr_type_name(t));
		put(s, ">", 1);
		return;
	}
	puts_(s, "<?>");
}

size_t hamr_value_format(const hamr_value *v, char *buf, size_t cap)
{
	struct sink s = {buf, buf ? cap : 0, 0};

	format(&s, v);
	if (s.cap)
		s.buf[s.len < s.cap ? s.len : s.cap - 1] = '\0';
	return s.len;
}

/* ---- flat values ------------------------------------------------------- */

const void *hamr__value_flat(const hamr_value *v, size_t *n, hamr_type *elem)
{
	*n = 0;
	*elem = NULL;
	if (!v || !v->type)
		return NULL;
	switch (v->type->kind) {
	case HAMR_KIND_STR:
	case HAMR_KIND_BYTES:
		*n = v->u.box->len;
		return v->u.box->data;
	case HAMR_KIND_LIST: {
		size_t esz = packed_size(v->u.box->u.list.elem);
		if (!esz)
			return NULL;
		*elem = v->u.box->u.list.elem;
		*n = v->u.box->len * esz;
		return list_mem(v->u.box);
	}
	default:
		return NULL;
	}
}

/* ---- values in a process pool's arena ---------------------------------- */

/* Bytes of an arena box's data: a string's with its NUL, a packed list's
 * items. */
static size_t arena_data_size(hamr_type t, hamr_type elem, size_t len)
{
	return t == HAMR_LIST ? len * packed_size(elem) : len + (t == HAMR_STR);
}

int hamr__arena_value(hamr__arena *a, hamr__arena_cursor *cur, hamr_type t, hamr_type elem,
                      size_t n, void **data, hamr_value *out)
{
	struct hamr_box *b;
	size_t esz = t == HAMR_LIST ? packed_size(elem) : 1;
	*out = empty_value;
	if (!esz || n > (SIZE_MAX - sizeof *b - 1) / esz)
		return HAMR_ENOMEM;
	size_t size = arena_data_size(t, elem, n);
	uint64_t off = hamr__arena_alloc(a, cur, sizeof *b + size);
	if (!off)
		return HAMR_ENOMEM;
	b = (struct hamr_box *)(a->base + off);
	atomic_init(&b->refs, 1);
	/* a list in the arena never grows: its items are in the box */
	atomic_init(&b->sealed, t == HAMR_LIST);
	b->arena = 1;
	b->big = 0;
	b->mapped = 0;
	b->acct = 0;
	if (!hamr__arena_worker) {
		/* the program's own: counted live, which also marks it as
		 * the program's (hamr__arena_value_at) */
		b->acct = sizeof *b + size;
		live_add((long long)b->acct);
	}
	b->len = n;
	memset(&b->u, 0, sizeof b->u);
	if (t == HAMR_LIST) {
		b->u.list.cap = n;
		b->u.list.elem = elem;
	} else if (t == HAMR_STR) {
		b->data[n] = 0;
	}
	*data = b->data;
	out->type = t;
	out->u.box = b;
	return 0;
}

uint64_t hamr__arena_value_off(const hamr__arena *a, const hamr_value *v)
{
	size_t n;
	hamr_type elem;
	if (!hamr__value_flat(v, &n, &elem))
		return 0;
	struct hamr_box *b = v->u.box;
	char *p = (char *)b;
	if (!b->arena || p < a->base || p >= a->base + a->size)
		return 0;
	return (uint64_t)(p - a->base);
}

int hamr__arena_value_at(const hamr__arena *a, hamr_type t, hamr_type elem, uint64_t off,
                         hamr_value *out)
{
	struct hamr_box *b = (struct hamr_box *)(a->base + off);
	out->type = t;
	out->u.box = b;
	if (hamr__arena_worker)
		return 0;
	if (b->acct) {
		/* relaxed: as in hamr_value_ref; the program's other holder
		 * keeps it alive meanwhile */
		atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
		return 0;
	}
	/* the program now holds what a worker made: counted live, which
	 * also marks it as the program's. A list's element type is the
	 * program's own descriptor, whatever the worker wrote. */
	if (t == HAMR_LIST)
		b->u.list.elem = elem;
	b->acct = sizeof *b + arena_data_size(t, elem, b->len);
	live_add((long long)b->acct);
	return 1;
}
