// SPDX-License-Identifier: MIT
/* Worker-local resources.
 *
 * Each resource gets a process-wide index when it is registered; each
 * thread keeps an array of its objects by index. Asking is an array load
 * on the calling thread, with no lock and no sharing; the first ask on a
 * thread calls create. Pool workers destroy their objects on the way out
 * (hamr__resource_thread_end from the worker loop), any other thread through
 * a pthread key destructor at thread exit. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/pool/resource_internal.h"
#include "serialize/error_internal.h"

struct hamr_resource {
	hamr_resource_desc desc;
	char *name;
	uint32_t index;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static hamr_resource **registry; /* by index; grows, entries never move */
static uint32_t n_registered, cap_registered;
static atomic_bool any_registered;

typedef struct thread_objs {
	void **obj;
	hamr_resource **res; /* which resource made obj[i] */
	uint32_t cap;
} thread_objs;

static _Thread_local thread_objs tls_objs;
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void end_thread(void *unused)
{
	(void)unused;
	hamr__resource_thread_end();
}

static void make_key(void)
{
	pthread_key_create(&exit_key, end_thread);
}

int hamr_resource_register(hamr_resource **out, const hamr_resource_desc *desc)
{
	if (!out || !desc || !desc->create)
		return hamr__error_set(HAMR_EINVAL,
		                       "hamr_resource_register: a create callback is required");
	hamr_resource *r = calloc(1, sizeof *r);
	char *name = strdup(desc->name ? desc->name : "resource");
	if (!r || !name) {
		free(r);
		free(name);
		return hamr__error_set(HAMR_ENOMEM, "out of memory");
	}
	r->desc = *desc;
	r->name = name;
	r->desc.name = name;
	pthread_mutex_lock(&reg_lock);
	if (n_registered == cap_registered) {
		uint32_t cap = cap_registered ? 2 * cap_registered : 8;
		hamr_resource **reg = realloc(registry, cap * sizeof *reg);
		if (!reg) {
			pthread_mutex_unlock(&reg_lock);
			free(name);
			free(r);
			return hamr__error_set(HAMR_ENOMEM, "out of memory");
		}
		registry = reg;
		cap_registered = cap;
	}
	r->index = n_registered;
	registry[n_registered++] = r;
	/* relaxed: runs started after the registration returned see it */
	atomic_store_explicit(&any_registered, true, memory_order_relaxed);
	pthread_mutex_unlock(&reg_lock);
	*out = r;
	return 0;
}

int hamr__resource_any(void)
{
	return atomic_load_explicit(&any_registered, memory_order_relaxed);
}

static __attribute__((noinline)) void *make(hamr_resource *res)
{
	thread_objs *t = &tls_objs;
	if (res->index >= t->cap) {
		uint32_t cap = t->cap ? t->cap : 8;
		while (cap <= res->index)
			cap *= 2;
		void **obj = realloc(t->obj, cap * sizeof *obj);
		if (obj)
			t->obj = obj;
		hamr_resource **owner = obj ? realloc(t->res, cap * sizeof *owner) : NULL;
		if (!owner) {
			hamr__error_set(HAMR_ENOMEM, "out of memory for resource \"%s\"",
			                res->name);
			return NULL;
		}
		t->res = owner;
		memset(t->obj + t->cap, 0, (cap - t->cap) * sizeof *t->obj);
		memset(t->res + t->cap, 0, (cap - t->cap) * sizeof *t->res);
		t->cap = cap;
		pthread_once(&exit_once, make_key);
		pthread_setspecific(exit_key, t); /* any non-NULL: run at exit */
	}
	void *obj = res->desc.create(res->desc.ctx);
	if (!obj) {
		hamr__error_set(HAMR_EINVAL, "resource \"%s\": create failed", res->name);
		return NULL;
	}
	t->obj[res->index] = obj;
	t->res[res->index] = res;
	return obj;
}

void *hamr_resource_get(hamr_resource *res)
{
	if (!res)
		return NULL;
	thread_objs *t = &tls_objs;
	if (__builtin_expect(res->index < t->cap && t->obj[res->index] != NULL, 1))
		return t->obj[res->index];
	return make(res);
}

void hamr__resource_thread_end(void)
{
	thread_objs *t = &tls_objs;
	for (uint32_t i = 0; i < t->cap; i++) {
		if (!t->obj[i])
			continue;
		hamr_resource *res = t->res[i];
		if (res->desc.destroy)
			res->desc.destroy(t->obj[i], res->desc.ctx);
		t->obj[i] = NULL;
	}
	free(t->obj);
	free(t->res);
	t->obj = NULL;
	t->res = NULL;
	t->cap = 0;
}
