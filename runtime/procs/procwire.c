// SPDX-License-Identifier: MIT
/* What crosses to worker processes: code found by the object that holds
 * it, built-in types by kind, and values put on the wire (see
 * runtime/procwire_internal.h). */
#include <link.h>
#include <string.h>

#include "runtime/procs/procwire_internal.h"
#include "serialize/error_internal.h"
#include "serialize/value_internal.h"

typedef struct locate_ctx {
	uintptr_t addr;
	const char *name;
	uintptr_t base;
	int found;
} locate_ctx;

static int locate_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	locate_ctx *l = arg;
	for (int k = 0; k < info->dlpi_phnum; k++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[k];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (l->addr >= lo && l->addr < lo + ph->p_memsz) {
			l->name = info->dlpi_name ? info->dlpi_name : "";
			l->base = info->dlpi_addr;
			l->found = 1;
			return 1;
		}
	}
	return 0;
}

int hamr__wire_locate(const void *addr, const char **name, uintptr_t *base)
{
	locate_ctx l = {(uintptr_t)addr, NULL, 0, 0};
	dl_iterate_phdr(locate_cb, &l);
	*name = l.name;
	*base = l.base;
	return l.found;
}

static const hamr_type builtin[] = {
	[HAMR_KIND_NONE] = HAMR_NONE, [HAMR_KIND_I64] = HAMR_I64, [HAMR_KIND_F64] = HAMR_F64,
	[HAMR_KIND_BOOL] = HAMR_BOOL, [HAMR_KIND_STR] = HAMR_STR, [HAMR_KIND_BYTES] = HAMR_BYTES,
	[HAMR_KIND_LIST] = HAMR_LIST};

hamr_type hamr__wire_builtin(int32_t k)
{
	return k > 0 && (size_t)k < sizeof builtin / sizeof builtin[0] ? builtin[k] : NULL;
}

int hamr__wire_is_builtin(hamr_type t)
{
	return t && t->kind != HAMR_KIND_USER;
}

int hamr__wire_get(const hamr__arena *a, const hamr__wval *w, hamr_value *out, int *taken)
{
	*out = (hamr_value)HAMR_VALUE_EMPTY;
	*taken = 0;
	switch (w->kind) {
	case HAMR__WV_NONE:
		*out = hamr_value_none();
		return 0;
	case HAMR__WV_I64:
		*out = hamr_value_from_i64((int64_t)w->a);
		return 0;
	case HAMR__WV_F64: {
		double x;
		memcpy(&x, &w->a, sizeof x);
		*out = hamr_value_from_f64(x);
		return 0;
	}
	case HAMR__WV_BOOL:
		*out = hamr_value_from_bool(w->a != 0);
		return 0;
	case HAMR__WV_STR:
	case HAMR__WV_BYTES:
		*taken = hamr__arena_value_at(a, w->kind == HAMR__WV_STR ? HAMR_STR : HAMR_BYTES, NULL,
		                              w->a, out);
		return 0;
	case HAMR__WV_LIST: {
		hamr_type elem = hamr__wire_builtin((int32_t)w->b);
		if (elem != HAMR_I64 && elem != HAMR_F64 && elem != HAMR_BOOL)
			return hamr__error_set(HAMR_ECODEC, "a packed list of kind %llu on the wire",
			                       (unsigned long long)w->b);
		*taken = hamr__arena_value_at(a, HAMR_LIST, elem, w->a, out);
		return 0;
	}
	case HAMR__WV_ENC:
		return hamr_value_decode(a->base + w->a, w->b, out);
	default: /* HAMR__WV_EMPTY */
		return 0;
	}
}

int hamr__wire_put(hamr__wire_sink *s, const hamr_value *v, hamr__wval *out, hamr_value *copy,
                   uint64_t *raw)
{
	memset(out, 0, sizeof *out);
	*copy = (hamr_value)HAMR_VALUE_EMPTY;
	*raw = 0;
	if (!v || !v->type)
		return 0;
	switch (v->type->kind) {
	case HAMR_KIND_NONE:
		out->kind = HAMR__WV_NONE;
		return 0;
	case HAMR_KIND_I64:
		out->kind = HAMR__WV_I64;
		out->a = (uint64_t)v->u.i64;
		return 0;
	case HAMR_KIND_F64:
		out->kind = HAMR__WV_F64;
		memcpy(&out->a, &v->u.f64, sizeof v->u.f64);
		return 0;
	case HAMR_KIND_BOOL:
		out->kind = HAMR__WV_BOOL;
		out->a = v->u.b;
		return 0;
	default:
		break;
	}
	size_t n;
	hamr_type elem;
	const void *data = hamr__value_flat(v, &n, &elem);
	if (data) { /* a string, bytes or a packed list: its box crosses */
		out->kind = v->type == HAMR_STR ? HAMR__WV_STR : v->type == HAMR_BYTES ? HAMR__WV_BYTES :
		                                                                      HAMR__WV_LIST;
		out->b = elem ? (uint64_t)elem->kind : 0;
		uint64_t off = hamr__arena_value_off(s->a, v);
		if (off) { /* in the arena already: it crosses in place */
			out->a = off;
			s->shared += n;
			return 0;
		}
		void *dst;
		if (s->value(s->ctx, v->type, elem, elem ? hamr_value_list(v).len : n, &dst, copy))
			return HAMR_ENOMEM;
		memcpy(dst, data, n);
		out->a = (uint64_t)((char *)copy->u.box - s->a->base);
		s->copied += n;
		return 0;
	}
	size_t need = 0;
	int rc = hamr_value_encode(v, NULL, 0, &need);
	if (rc)
		return rc; /* HAMR_ECODEC: a user type without a codec */
	uint64_t off = s->alloc(s->ctx, need);
	if (!off)
		return HAMR_ENOMEM;
	if ((rc = hamr_value_encode(v, s->a->base + off, need, &need)))
		return rc;
	out->kind = HAMR__WV_ENC;
	out->a = off;
	out->b = need;
	*raw = off;
	s->copied += need;
	return 0;
}
