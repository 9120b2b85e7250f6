/* SPDX-License-Identifier: MIT */
/* Types: the built-in descriptors and the registry of user types.
 *
 * A type is a pointer to a descriptor, and two values have the same type
 * exactly when their pointers are equal. That makes every type check one
 * compare, but it needs one pointer per type name in the whole process,
 * while a user type is usually described by a static descriptor in a module,
 * and two modules (or a module and the program) may each carry a copy. The
 * registry therefore hands out a canonical descriptor per name: a heap copy
 * made at the first registration, which lives for the rest of the process.
 * Later descriptors with the same name are checked against it (same size and
 * kind, else HAMR_ETYPE) and mapped to it. The built-in descriptors are their
 * own canonical types; a user descriptor may claim a built-in name only if it
 * agrees with the built-in one.
 *
 * Values are made far more often than types are registered, and making a
 * user value resolves its descriptor (hamr_type_canonical). So there are two
 * structures:
 *
 *   - `names`: every canonical user type, by name. Read and written only
 *     under `reg_lock`. Few entries (one per user type), so a linear scan.
 *   - `ptrs`: descriptor pointer -> canonical type, an open-addressing hash
 *     table with linear probing, read without a lock and written under
 *     `reg_lock`. It holds every descriptor registered so far, canonical
 *     copies included (mapped to themselves).
 *
 * Invariants of `ptrs` (the lock-free read path relies on them):
 *   1. A slot's key goes from NULL to a descriptor once and never changes.
 *      Its value, a canonical type, may be replaced (under reg_lock) when
 *      the address is reused by another descriptor.
 *   2. A hit is believed only if the descriptor agrees with the cached type
 *      (name, kind, size). `desc` is copied at registration, so a caller may
 *      register a temporary descriptor, and its address may later hold
 *      another type's; a hit that disagrees, or a slot whose value is not yet
 *      visible, sends the caller to the locked path, which remaps the slot.
 *   3. At most half the slots are used, so a probe always ends at an empty
 *      slot.
 *   4. Only the newest table is written. Old ones are never freed: they stay
 *      linked from the new one (`older`), so a reader still probing one is
 *      safe, and nothing is lost to leak checkers. Growth doubles, so old
 *      tables together cost less than the live one.
 *
 * Canonical copies are never freed either: a value of the type may live
 * until the process ends. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hamr/value.h"
#include "serialize/error_internal.h"

const hamr_type_desc hamr_type_none = {.name = "none", .kind = HAMR_KIND_NONE};
const hamr_type_desc hamr_type_i64 = {
	.name = "i64", .kind = HAMR_KIND_I64, .size = sizeof(int64_t)};
const hamr_type_desc hamr_type_f64 = {
	.name = "f64", .kind = HAMR_KIND_F64, .size = sizeof(double)};
const hamr_type_desc hamr_type_bool = {
	.name = "bool", .kind = HAMR_KIND_BOOL, .size = sizeof(bool)};
const hamr_type_desc hamr_type_str = {.name = "str", .kind = HAMR_KIND_STR};
const hamr_type_desc hamr_type_bytes = {.name = "bytes",
                                        .kind = HAMR_KIND_BYTES};
const hamr_type_desc hamr_type_list = {.name = "list", .kind = HAMR_KIND_LIST};

/* The built-in descriptor of each kind; NULL for HAMR_KIND_USER. */
static const hamr_type_desc *const builtins[] = {
	[HAMR_KIND_USER] = NULL,
	[HAMR_KIND_NONE] = &hamr_type_none,
	[HAMR_KIND_I64] = &hamr_type_i64,
	[HAMR_KIND_F64] = &hamr_type_f64,
	[HAMR_KIND_BOOL] = &hamr_type_bool,
	[HAMR_KIND_STR] = &hamr_type_str,
	[HAMR_KIND_BYTES] = &hamr_type_bytes,
	[HAMR_KIND_LIST] = &hamr_type_list,
};
#define NBUILTINS (sizeof builtins / sizeof builtins[0])

static bool is_builtin(hamr_type t)
{
	unsigned k = (unsigned)t->kind;
	return k < NBUILTINS && builtins[k] == t;
}

static hamr_type builtin_named(const char *name)
{
	for (size_t k = 1; k < NBUILTINS; k++)
		if (strcmp(builtins[k]->name, name) == 0)
			return builtins[k];
	return NULL;
}

/* ---- descriptor pointer -> canonical type, lock-free reads ------------ */

struct ptr_slot {
	_Atomic(hamr_type) key;
	_Atomic(hamr_type) val;
};

struct ptr_table {
	size_t mask; /* slots - 1; slots is a power of two */
	size_t used; /* written under reg_lock only */
	struct ptr_table *older;
	struct ptr_slot slots[];
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(struct ptr_table *) ptrs;

/* Under reg_lock: */
static hamr_type_desc **names;
static size_t names_len, names_cap;

static size_t ptr_hash(hamr_type t)
{
	uint64_t x = (uint64_t)(uintptr_t)t;
	x ^= x >> 31;
	x *= UINT64_C(0x9e3779b97f4a7c15);
	return (size_t)(x >> 17);
}

/* Whether descriptor t describes canonical type c: same name, kind, size.
 * The cache is keyed by address, and `desc` is copied at registration, so a
 * caller may register a temporary descriptor whose address is later reused
 * by another type: a hit is only believed if it agrees. */
static bool agrees(hamr_type t, hamr_type c)
{
	return t == c || (t->kind == c->kind && t->size == c->size && t->name &&
	                  strcmp(t->name, c->name) == 0);
}

/* The canonical type cached for descriptor t, or NULL. */
static hamr_type ptr_find(hamr_type t)
{
	/* acquire: pairs with the release store of a new table in ptr_put(),
	 * so the slots copied into it before publication are visible. */
	struct ptr_table *tab = atomic_load_explicit(&ptrs, memory_order_acquire);
	if (!tab)
		return NULL;
	for (size_t i = ptr_hash(t) & tab->mask;; i = (i + 1) & tab->mask) {
		/* relaxed: a key is only compared; what it maps to is read
		 * with acquire below. */
		hamr_type k = atomic_load_explicit(&tab->slots[i].key,
		                                   memory_order_relaxed);
		if (k == t) {
			/* acquire: pairs with the release store of the value
			 * in slot_put(), so the canonical copy it points to
			 * (written before) is visible. */
			hamr_type c = atomic_load_explicit(
				&tab->slots[i].val, memory_order_acquire);
			return c && agrees(t, c) ? c : NULL;
		}
		if (!k)
			return NULL;
	}
}

/* Maps key to val in a table with a free slot, or remaps a key it holds;
 * under reg_lock. */
static void slot_put(struct ptr_table *tab, hamr_type key, hamr_type val)
{
	size_t i = ptr_hash(key) & tab->mask;
	hamr_type k;

	/* relaxed: keys are only written under reg_lock, which we hold. */
	while ((k = atomic_load_explicit(&tab->slots[i].key,
	                                 memory_order_relaxed)) != NULL &&
	       k != key)
		i = (i + 1) & tab->mask;
	/* release: publishes the canonical copy `val` points to; pairs with
	 * the acquire load of the value in ptr_find(). A reader that sees the
	 * key but still the old value (or none) checks it with agrees() and
	 * falls back to the locked path. */
	atomic_store_explicit(&tab->slots[i].val, val, memory_order_release);
	if (!k) {
		/* relaxed: a reader that sees the key before the value reads
		 * NULL or the value above, both handled. */
		atomic_store_explicit(&tab->slots[i].key, key,
		                      memory_order_relaxed);
		tab->used++;
	}
}

/* Maps `key` to `val`; under reg_lock. Returns 0 or HAMR_ENOMEM. */
static int ptr_put(hamr_type key, hamr_type val)
{
	/* relaxed: only writers store `ptrs`, and they hold reg_lock. */
	struct ptr_table *tab = atomic_load_explicit(&ptrs, memory_order_relaxed);
	if (!tab || 2 * (tab->used + 1) > tab->mask + 1) {
		size_t n = tab ? 2 * (tab->mask + 1) : 32;
		struct ptr_table *grown =
			calloc(1, sizeof *grown + n * sizeof grown->slots[0]);
		if (!grown)
			return HAMR_ENOMEM;
		grown->mask = n - 1;
		grown->older = tab;
		for (size_t i = 0; tab && i <= tab->mask; i++) {
			hamr_type k = atomic_load_explicit(&tab->slots[i].key,
			                                   memory_order_relaxed);
			if (k)
				slot_put(grown, k,
				         atomic_load_explicit(&tab->slots[i].val,
				                              memory_order_relaxed));
		}
		/* release: publishes the slots copied above; pairs with the
		 * acquire load of `ptrs` in ptr_find(). */
		atomic_store_explicit(&ptrs, grown, memory_order_release);
		tab = grown;
	}
	slot_put(tab, key, val);
	return 0;
}

/* ---- the registry ----------------------------------------------------- */

static hamr_type_desc *name_find(const char *name)
{
	for (size_t i = 0; i < names_len; i++)
		if (strcmp(names[i]->name, name) == 0)
			return names[i];
	return NULL;
}

/* Makes the canonical copy of `desc` and records it; under reg_lock. */
static int canon_new(const hamr_type_desc *desc, hamr_type *out)
{
	if (names_len == names_cap) {
		size_t n = names_cap ? 2 * names_cap : 16;
		hamr_type_desc **grown = realloc(names, n * sizeof *grown);
		if (!grown)
			return HAMR_ENOMEM;
		names = grown;
		names_cap = n;
	}
	size_t size = strlen(desc->name) + 1;
	hamr_type_desc *c = malloc(sizeof *c);
	char *name = malloc(size);
	if (!c || !name) {
		free(c);
		free(name);
		return HAMR_ENOMEM;
	}
	memcpy(name, desc->name, size);
	*c = *desc;
	c->name = name;
	/* The copy maps to itself, then the descriptor to the copy. A failure
	 * of the second put leaves a valid registration behind. */
	if (ptr_put(c, c)) {
		free(c);
		free(name);
		return HAMR_ENOMEM;
	}
	names[names_len++] = c;
	if (desc != c && ptr_put(desc, c))
		return HAMR_ENOMEM;
	*out = c;
	return 0;
}

static const char *kind_name(hamr_kind k)
{
	unsigned i = (unsigned)k;
	if (i == HAMR_KIND_USER)
		return "user";
	return i < NBUILTINS ? builtins[i]->name : "unknown";
}

static int conflict(const hamr_type_desc *desc, hamr_type have)
{
	if (have->kind != desc->kind)
		return hamr__error_set(HAMR_ETYPE,
		                       "type \"%s\" is already registered with "
		                       "kind %s, not %s",
		                       desc->name, kind_name(have->kind),
		                       kind_name(desc->kind));
	return hamr__error_set(HAMR_ETYPE,
	                       "type \"%s\" is already registered with size "
	                       "%zu, not %zu",
	                       desc->name, have->size, desc->size);
}

/* Under reg_lock. */
static int register_locked(const hamr_type_desc *desc, hamr_type *out)
{
	hamr_type have = ptr_find(desc);
	if (have) {
		*out = have;
		return 0;
	}
	/* Unknown address, or one now holding another descriptor. */
	have = builtin_named(desc->name);
	if (!have)
		have = name_find(desc->name);
	if (have) {
		if (have->kind != desc->kind || have->size != desc->size)
			return conflict(desc, have);
		if (ptr_put(desc, have))
			return hamr__error_set(HAMR_ENOMEM,
			                       "registering type \"%s\": out of "
			                       "memory",
			                       desc->name);
		*out = have;
		return 0;
	}
	if (desc->kind != HAMR_KIND_USER)
		return hamr__error_set(HAMR_EINVAL,
		                       "type \"%s\" has kind %s: only the "
		                       "built-in types may have a kind other "
		                       "than HAMR_KIND_USER",
		                       desc->name, kind_name(desc->kind));
	if (canon_new(desc, out))
		return hamr__error_set(HAMR_ENOMEM,
		                       "registering type \"%s\": out of memory",
		                       desc->name);
	return 0;
}

int hamr_type_register(const hamr_type_desc *desc, hamr_type *out)
{
	hamr_type t = NULL;
	int rc;

	if (out)
		*out = NULL;
	if (!desc || !desc->name || !desc->name[0])
		return hamr__error_set(HAMR_EINVAL,
		                       "hamr_type_register: %s",
		                       desc ? "type without a name"
		                            : "NULL descriptor");
	if (is_builtin(desc) || (t = ptr_find(desc)) != NULL) {
		if (out)
			*out = t ? t : desc;
		return 0;
	}
	pthread_mutex_lock(&reg_lock);
	rc = register_locked(desc, &t);
	pthread_mutex_unlock(&reg_lock);
	if (rc == 0 && out)
		*out = t;
	return rc;
}

hamr_type hamr_type_find(const char *name)
{
	hamr_type t;

	if (!name)
		return NULL;
	t = builtin_named(name);
	if (t)
		return t;
	pthread_mutex_lock(&reg_lock);
	t = name_find(name);
	pthread_mutex_unlock(&reg_lock);
	return t;
}

const char *hamr_type_name(hamr_type t)
{
	if (!t)
		return "any";
	return t->name ? t->name : "(unnamed)";
}

hamr_type hamr_type_canonical(hamr_type t)
{
	hamr_type c;

	if (!t || is_builtin(t))
		return t;
	c = ptr_find(t);
	if (c)
		return c;
	return hamr_type_register(t, &c) ? NULL : c;
}
