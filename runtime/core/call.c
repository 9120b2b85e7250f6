// SPDX-License-Identifier: MIT
/* Node calls: what a node function sees, and running one node.
 *
 * This is the hot path. A call is a few words on the executor's stack: the
 * run, the plan node, the node's argument slots and room for the result.
 * Reading argument i is two array loads and a type check; setting the
 * result is a type check and a store. Nothing here allocates, locks or
 * looks a name up, except to make a value that is itself heap data (a
 * string result) and on failure. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/core/run_internal.h"
#include "serialize/value_internal.h"
#include "serialize/error_internal.h"

static inline const hamr_value *arg_at(const hamr_call *c, size_t i)
{
	if (i >= c->n_args)
		return NULL;
	int32_t s = c->args[i];
	return s >= 0 ? &c->slots[s] : NULL;
}

size_t hamr_arg_count(const hamr_call *c)
{
	return c->n_args;
}

const hamr_value *hamr_arg(const hamr_call *c, size_t i)
{
	return arg_at(c, i);
}

bool hamr_arg_present(const hamr_call *c, size_t i)
{
	const hamr_value *v = arg_at(c, i);
	return v && v->type;
}

int64_t hamr_arg_i64(const hamr_call *c, size_t i)
{
	const hamr_value *v = arg_at(c, i);
	return v && v->type == HAMR_I64 ? v->u.i64 : 0;
}

double hamr_arg_f64(const hamr_call *c, size_t i)
{
	const hamr_value *v = arg_at(c, i);
	return v && v->type == HAMR_F64 ? v->u.f64 : 0.0;
}

bool hamr_arg_bool(const hamr_call *c, size_t i)
{
	const hamr_value *v = arg_at(c, i);
	return v && v->type == HAMR_BOOL ? v->u.b : false;
}

const char *hamr_arg_str(const hamr_call *c, size_t i)
{
	return hamr_value_str(arg_at(c, i), NULL);
}

const void *hamr_arg_bytes(const hamr_call *c, size_t i, size_t *len)
{
	return hamr_value_bytes(arg_at(c, i), len);
}

hamr_list hamr_arg_list(const hamr_call *c, size_t i)
{
	return hamr_value_list(arg_at(c, i));
}

const void *hamr_arg_user(const hamr_call *c, size_t i)
{
	return hamr_value_user(arg_at(c, i));
}

/* ---- results -------------------------------------------------------------- */

static int wrong_type(hamr_call *c, hamr_type got)
{
	hamr_fail(c, "returned %s, but the node is declared %s",
	          hamr_type_name(got), hamr_type_name(c->type));
	return HAMR_ETYPE;
}

/* Stores v (moved) as the result if its type fits the declaration. */
static inline int set_result(hamr_call *c, hamr_value *v)
{
	/* a parallelizable node may return a list of its items */
	if (c->type && v->type != c->type &&
	    !(c->stream && v->type == HAMR_LIST)) {
		hamr_type got = v->type;
		hamr_value_clear(v);
		return wrong_type(c, got);
	}
	hamr__value_seal(v); /* a copy the node kept must not change it */
	if (c->result.type)
		hamr_value_clear(&c->result);
	c->result = *v;
	v->type = NULL;
	return 0;
}

/* A scalar result v, checked against the declared type and replacing a
 * result set before; stored field by field (no value copy through
 * memory). The library's hamr_ret_i64, _f64 and _bool, and the slow path
 * of the inline ones (hamr__ret_scalar). */
static inline int store_scalar(hamr_call *c, hamr_value v)
{
	if (__builtin_expect(c->type && c->type != v.type, 0))
		return wrong_type(c, v.type);
	if (__builtin_expect(c->result.type != NULL, 0))
		hamr_value_clear(&c->result);
	c->result.u = v.u;
	c->result.type = v.type;
	return 0;
}

int hamr__ret_scalar(hamr_call *c, hamr_value v)
{
	if (v.type != HAMR_I64 && v.type != HAMR_F64 && v.type != HAMR_BOOL)
		return hamr_fail(c, "hamr__ret_scalar was given %s, not a scalar",
		                 hamr_type_name(v.type));
	return store_scalar(c, v);
}

int hamr_ret_i64(hamr_call *c, int64_t x)
{
	return store_scalar(c, hamr_value_from_i64(x));
}

int hamr_ret_f64(hamr_call *c, double x)
{
	return store_scalar(c, hamr_value_from_f64(x));
}

int hamr_ret_bool(hamr_call *c, bool x)
{
	return store_scalar(c, hamr_value_from_bool(x)); /* zeroes the bytes past it */
}

static int made(hamr_call *c, int rc, hamr_value *v)
{
	if (rc)
		return hamr_fail(c, "cannot make its result: %s", hamr_strerror(rc));
	return set_result(c, v);
}

int hamr_ret_str(hamr_call *c, const char *s)
{
	hamr_value v;
	return made(c, hamr_value_make_str(&v, s ? s : ""), &v);
}

int hamr_ret_strn(hamr_call *c, const char *s, size_t n)
{
	hamr_value v;
	return made(c, hamr_value_make_strn(&v, s, n), &v);
}

int hamr_ret_bytes(hamr_call *c, const void *p, size_t n)
{
	hamr_value v;
	return made(c, hamr_value_make_bytes(&v, p, n), &v);
}

void *hamr_ret_alloc(hamr_call *c, size_t n)
{
	hamr_value v;
	void *data = NULL;
	if (c->type && c->type != HAMR_BYTES) {
		wrong_type(c, HAMR_BYTES);
		return NULL;
	}
	if (hamr__ret_alloc_hook) /* a worker process: in its arena */
		return hamr__ret_alloc_hook(c, n);
	if (made(c, hamr__value_alloc_bytes_uninit(&v, n, &data), &v))
		return NULL;
	return data;
}

int hamr_ret_value(hamr_call *c, hamr_value *v)
{
	if (!v || !v->type)
		return hamr_fail(c, "returned an empty value");
	return set_result(c, v);
}

/* hamr_ret_arg's other cases: an absent argument, a boxed value, a
 * type to check or a result already set. */
static __attribute__((noinline)) int ret_arg_rest(hamr_call *c, size_t i, const hamr_value *a)
{
	if (!a || !a->type)
		return hamr_fail(c, "passed on argument %zu, which is absent", i);
	hamr_value v = hamr_value_ref(a);
	return set_result(c, &v);
}

int hamr_ret_arg(hamr_call *c, size_t i)
{
	const hamr_value *a = arg_at(c, i);
	/* the common case, a scalar of the node's type as its first result:
	 * a copy is the value, and nothing here needs a register saved */
	if (__builtin_expect(a && a->type && !hamr__type_boxed(a->type) &&
	                     (!c->type || c->type == a->type) && !c->result.type, 1)) {
		c->result.u = a->u; /* field by field, as node_done reads it */
		c->result.type = a->type;
		return 0;
	}
	return ret_arg_rest(c, i, a);
}

int hamr_ret_user(hamr_call *c, void *obj)
{
	hamr_value v;
	if (!c->type || c->type->kind != HAMR_KIND_USER) {
		hamr_fail(c, "returned a user object, but the node is declared %s",
		          hamr_type_name(c->type));
		return HAMR_ETYPE; /* obj stays the caller's */
	}
	return made(c, hamr_value_make_user(&v, c->type, obj), &v);
}

int hamr_fail(hamr_call *c, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (!fmt)
		msg = strdup("failed");
	else if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	free(c->fail_msg);
	c->fail_msg = msg;
	return HAMR_EFAIL;
}

int64_t hamr_item_index(const hamr_call *c)
{
	return hamr__item_shown(c ? c->run : NULL, hamr__current_item);
}

int hamr_attempt(const hamr_call *c)
{
	(void)c;
	return hamr__proc_attempt;
}

int64_t hamr_arg_item_index(const hamr_call *c, size_t i, size_t k)
{
	const hamr_value *v = arg_at(c, i);
	if (!v || c->run->plan->slot_kind[c->args[i]] != HAMR__SLOT_LIST ||
	    k >= hamr_value_list(v).len)
		return -1;
	const int64_t *index = hamr__list_index(v);
	return index ? index[k] : (int64_t)k;
}

void *hamr_userdata(const hamr_call *c)
{
	return c->node->userdata;
}

const char *hamr_node_name(const hamr_call *c)
{
	return c->node->name;
}

hamr_run *hamr_call_run(const hamr_call *c)
{
	return c->run;
}

/* ---- running one node ------------------------------------------------------ */

static inline void call_init(hamr_call *c, hamr_run *r, uint32_t i,
                             hamr_value *slots, struct hamr__stream *stream)
{
	const hamr_plan *p = r->plan;
	c->run = r;
	c->node = &p->nodes[i];
	c->args = p->args + c->node->arg_start;
	c->slots = slots;
	c->result.type = NULL;
	c->type = c->node->type;
	c->n_args = c->node->n_args;
	c->stream = stream;
	c->fail_msg = NULL;
}

void hamr__call_init(hamr_call *c, hamr_run *r, uint32_t i, hamr_value *slots,
                     struct hamr__stream *stream)
{
	call_init(c, r, i, slots, stream);
}

int hamr__node_failed(hamr_run *r, const hamr__pnode *pn, int rc, char *msg)
{
	if (!msg && asprintf(&msg, "returned %d (%s)", rc,
	                     hamr__error_is_code(rc) ? hamr_err_name(rc) : "not a HAMR_E* code") < 0)
		msg = NULL;
	return hamr__run_fail(r, hamr__error_is_code(rc) ? rc : HAMR_EFAIL, pn->name, msg);
}

int hamr__missing_input(const hamr_run *r, uint32_t i, const hamr_value *slots)
{
	const hamr_plan *p = r->plan;
	const hamr__pnode *pn = &p->nodes[i];
	for (uint32_t k = 0; k < pn->n_args; k++) {
		int32_t s = p->args[pn->arg_start + k];
		if (s < 0)
			continue;
		if (!slots[s].type && p->slot_kind[s] != HAMR__SLOT_DEFAULT)
			return 1;
		/* a list that lost failed items is for tolerant readers only */
		if ((pn->flags & HAMR__PNODE_COLLECTS) && p->slot_kind[s] == HAMR__SLOT_LIST &&
		    !p->arg_tolerant[pn->arg_start + k] && hamr__list_index(&slots[s]))
			return 1;
	}
	return 0;
}

/* A fold collect declared with no function: its result is the
 * accumulator. */
static int fold_result(hamr_call *c)
{
	for (uint32_t k = 0; k < c->n_args; k++)
		if (c->args[k] >= 0 &&
		    c->run->plan->slot_kind[c->args[k]] == HAMR__SLOT_FOLD) {
			const hamr_value *acc = hamr_arg(c, k);
			if (acc && acc->type == HAMR_NONE && c->type && c->type != HAMR_NONE)
				return hamr_fail(c, "folded no items, and its fold has no initial value");
			return hamr_ret_arg(c, k);
		}
	return hamr_fail(c, "a fold collect without its accumulator");
}

/* What follows a node's call: the result checked and stored, or the
 * failure recorded. */
static inline __attribute__((always_inline)) int node_done(hamr_run *r, uint32_t i, hamr_value *slots, hamr_call *c, int rc)
{
	const hamr__pnode *pn = &r->plan->nodes[i];
	if (__builtin_expect(rc == 0 && c->result.type != NULL, 1)) {
		/* field by field: hamr_ret_* just stored the result that way,
		 * and one 16-byte load of it would stall store forwarding */
		slots[i].u = c->result.u;
		slots[i].type = c->result.type;
		if (__builtin_expect(c->fail_msg != NULL, 0))
			free(c->fail_msg); /* it failed, then recovered */
		return 0;
	}
	hamr_value_clear(&c->result);
	if (rc == 0) {
		if (!pn->type || pn->type == HAMR_NONE) {
			free(c->fail_msg);
			slots[i] = hamr_value_none();
			return 0;
		}
		free(c->fail_msg);
		char *msg = NULL;
		if (asprintf(&msg, "returned no value, but the node is declared %s",
		             hamr_type_name(pn->type)) < 0)
			msg = NULL;
		return hamr__run_fail(r, HAMR_ETYPE, pn->name, msg);
	}
	return hamr__node_failed(r, pn, rc, c->fail_msg);
}

/* The node's call between its start and end events. */
static inline __attribute__((always_inline)) int call_node(hamr_run *r, uint32_t i, hamr_call *c)
{
	const hamr__pnode *pn = &r->plan->nodes[i];
	return pn->fn ? pn->fn(c) : fold_result(c);
}

void hamr__node_started(hamr_run *r, uint32_t i, hamr_event *e)
{
	*e = (hamr_event){.kind = HAMR_EV_NODE_START, .node = r->plan->nodes[i].name,
	                  .node_index = (int)i, .item = hamr__current_item, .task = -1};
	hamr__event(r, e);
}

void hamr__node_ended(hamr_run *r, hamr_event *e, int rc)
{
	e->kind = HAMR_EV_NODE_END;
	e->start_ns = e->t_ns;
	e->rc = rc;
	hamr__event(r, e);
	if (r->stats)
		hamr__stats_node(r, e);
}

static int run_node_hooked(hamr_run *r, uint32_t i, hamr_value *slots, hamr_call *c)
{
	hamr_event e;
	hamr__node_started(r, i, &e);
	int rc = call_node(r, i, c);
	hamr__node_ended(r, &e, rc);
	return node_done(r, i, slots, c, rc);
}

/* A node of a concurrency group: its place taken around the call, the
 * wait neither the node's time nor its failure (a cancel during it is
 * the run's). */
static int run_node_limited(hamr_run *r, uint32_t i, hamr_value *slots, hamr_call *c)
{
	hamr__held h;
	int rc = hamr__group_enter(r, i, &h);
	if (rc)
		return hamr__run_fail(r, rc, NULL, NULL);
	rc = r->observe ? run_node_hooked(r, i, slots, c) :
	                  node_done(r, i, slots, c, call_node(r, i, c));
	hamr__group_leave(r, &h);
	return rc;
}

/* The rarer cases: a node for a backend, in a concurrency group,
 * or observed. */
static int run_node_slow(hamr_run *r, uint32_t i, hamr_value *slots, hamr_call *c)
{
	const hamr_plan *p = r->plan;
	if (r->node_backend && (!p->node_scope || p->node_scope[i] == 0) &&
	    hamr__node_procable(p, i))
		return hamr__backend_run_node(r, i, slots);
	return c->node->flags & HAMR__PNODE_LIMITED ? run_node_limited(r, i, slots, c) :
	                                               run_node_hooked(r, i, slots, c);
}

int hamr__node_repeat_init(hamr_call *c, hamr_run *r, uint32_t i, hamr_value *slots)
{
	call_init(c, r, i, slots, NULL);
	return !r->keep_going && !r->slow_path && !(c->node->flags & HAMR__PNODE_LIMITED) &&
	       c->node->fn != NULL;
}

int hamr__node_repeat_slow(hamr_call *c, hamr_value *slots, uint32_t i, int rc)
{
	rc = node_done(c->run, i, slots, c, rc); /* takes fail_msg over */
	c->fail_msg = NULL;
	return rc;
}

int hamr__run_node_in(hamr_run *r, uint32_t i, hamr_value *slots)
{
	hamr_call c;
	if (__builtin_expect(r->keep_going, 0) && hamr__missing_input(r, i, slots))
		return HAMR__SKIPPED;
	call_init(&c, r, i, slots, NULL);
	/* one test on the hot path for the rarer cases */
	if (__builtin_expect(r->slow_path | (int)(c.node->flags & HAMR__PNODE_LIMITED), 0))
		return run_node_slow(r, i, slots, &c);
	return node_done(r, i, slots, &c, call_node(r, i, &c));
}
