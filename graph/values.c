// SPDX-License-Identifier: MIT
/* Given values: what a caller hands a plan or a run for its external inputs
 * and overrides, by name. A small map that keeps the order of first setting
 * (so tools print in the order the user gave) and owns one reference to
 * each value. */
#include <stdlib.h>
#include <string.h>

#include "graph/graph_internal.h"
#include "serialize/error_internal.h"
#include "serialize/value_internal.h"

int hamr_values_create(hamr_values **out)
{
	if (!out)
		return hamr__error_set(HAMR_EINVAL, "hamr_values_create: out is NULL");
	hamr_values *vs = calloc(1, sizeof *vs);
	if (!vs)
		return hamr__error_set(HAMR_ENOMEM, "out of memory");
	hamr__bump_init(&vs->mem);
	hamr__names_init(&vs->index);
	*out = vs;
	return 0;
}

void hamr_values_destroy(hamr_values *vs)
{
	if (!vs)
		return;
	for (uint32_t i = 0; i < vs->n; i++)
		hamr_value_clear(&vs->vals[i]);
	free(vs->names);
	free(vs->vals);
	hamr__names_free(&vs->index);
	hamr__bump_free(&vs->mem);
	free(vs);
}

int hamr_values_set(hamr_values *vs, const char *name, hamr_value *v)
{
	if (!vs || !name || !*name || !v || !v->type) {
		hamr_value_clear(v);
		return hamr__error_set(HAMR_EINVAL,
		                       "hamr_values_set: a name and a value are required");
	}
	hamr__value_seal(v); /* given values are shared with every run */
	int32_t i = hamr__names_get(&vs->index, name);
	if (i >= 0) {
		hamr_value_clear(&vs->vals[i]);
		vs->vals[i] = *v;
		*v = (hamr_value)HAMR_VALUE_EMPTY;
		return 0;
	}
	if (vs->n == vs->cap) {
		uint32_t cap = vs->cap ? 2 * vs->cap : 8;
		const char **names = realloc(vs->names, cap * sizeof *names);
		if (names)
			vs->names = names;
		hamr_value *vals = names ? realloc(vs->vals, cap * sizeof *vals) : NULL;
		if (!vals) {
			hamr_value_clear(v);
			return hamr__error_set(HAMR_ENOMEM, "out of memory");
		}
		vs->vals = vals;
		vs->cap = cap;
	}
	char *copy = hamr__bump_strdup(&vs->mem, name);
	if (!copy || hamr__names_put(&vs->index, copy, (int32_t)vs->n)) {
		hamr_value_clear(v);
		return hamr__error_set(HAMR_ENOMEM, "out of memory");
	}
	vs->names[vs->n] = copy;
	vs->vals[vs->n] = *v;
	vs->n++;
	*v = (hamr_value)HAMR_VALUE_EMPTY;
	return 0;
}

int hamr_values_set_i64(hamr_values *vs, const char *name, int64_t x)
{
	hamr_value v = hamr_value_from_i64(x);
	return hamr_values_set(vs, name, &v);
}

int hamr_values_set_f64(hamr_values *vs, const char *name, double x)
{
	hamr_value v = hamr_value_from_f64(x);
	return hamr_values_set(vs, name, &v);
}

int hamr_values_set_bool(hamr_values *vs, const char *name, bool x)
{
	hamr_value v = hamr_value_from_bool(x);
	return hamr_values_set(vs, name, &v);
}

int hamr_values_set_str(hamr_values *vs, const char *name, const char *s)
{
	hamr_value v;
	int rc = hamr_value_make_str(&v, s ? s : "");
	if (rc)
		return rc;
	return hamr_values_set(vs, name, &v);
}

const hamr_value *hamr_values_get(const hamr_values *vs, const char *name)
{
	if (!vs || !name)
		return NULL;
	int32_t i = hamr__names_get(&vs->index, name);
	return i >= 0 ? &vs->vals[i] : NULL;
}

size_t hamr_values_count(const hamr_values *vs)
{
	return vs ? vs->n : 0;
}

const char *hamr_values_at(const hamr_values *vs, size_t i, const hamr_value **v)
{
	if (!vs || i >= vs->n)
		return NULL;
	if (v)
		*v = &vs->vals[i];
	return vs->names[i];
}
