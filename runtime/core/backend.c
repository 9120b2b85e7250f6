/* SPDX-License-Identifier: MIT */
/* The executor backend interface's hamr side (hamr/backend.h): the
 * services a backend calls on a run, the plan as it reads it, the serving
 * side, and a node outside blocks sent through a run's backend. Blocks
 * send their items through the table themselves (runtime/blocks/). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hamr/backend.h"
#include "runtime/core/run_internal.h"
#include "runtime/pool/env_internal.h"
#include "serialize/error_internal.h"

_Static_assert(HAMR__MAX_OUT == HAMR_BACKEND_MAX_OUT, "one bound on the values a task hands back");
_Static_assert(HAMR__SKIPPED == HAMR_BACKEND_SKIPPED, "one answer for a skipped item");

/* ---- run services ----------------------------------------------------------- */

int hamr_backend_fail(hamr_run *r, const hamr_backend_failure *f)
{
	if (!r || !f || f->code >= 0)
		return hamr__error_set(HAMR_EINVAL, "hamr_backend_fail: bad arguments");
	const char *name = f->node >= 0 && (uint32_t)f->node < r->plan->n_nodes ?
	                   r->plan->nodes[f->node].name : NULL;
	char *msg = f->message ? strdup(f->message) : NULL;
	return hamr__run_fail_at(r, f->code, name, msg, f->item, f->where, f->signal, f->attempt);
}

int hamr_backend_fail_rank(hamr_run *r, const hamr_backend_failure *f, int rank,
                           const char *host)
{
	if (!r || !f || f->code >= 0 || rank < 0)
		return hamr__error_set(HAMR_EINVAL, "hamr_backend_fail_rank: bad arguments");
	const char *name = f->node >= 0 && (uint32_t)f->node < r->plan->n_nodes ?
	                   r->plan->nodes[f->node].name : NULL;
	char *msg = f->message ? strdup(f->message) : NULL;
	return hamr__run_fail_rank(r, f->code, name, msg, f->item, f->where, f->signal, f->attempt,
	                           rank, host);
}

int hamr_backend_item_indices(hamr_run *r, const int64_t *index, size_t n)
{
	/* relaxed: the caller's own run, which only it could have started */
	if (!r || (!index && n) ||
	    atomic_load_explicit(&r->state, memory_order_relaxed) != RUN_CREATED)
		return hamr__error_set(HAMR_EINVAL,
		                       "hamr_backend_item_indices: %s",
		                       !r ? "no run" :
		                       !index && n ? "no indices" : "the run has started");
	int64_t *copy = NULL;
	if (n && !(copy = malloc(n * sizeof *copy)))
		return hamr__error_set(HAMR_ENOMEM, "hamr_backend_item_indices: out of memory");
	if (n)
		memcpy(copy, index, n * sizeof *copy);
	free(r->item_shown);
	r->item_shown = copy;
	r->n_item_shown = n;
	return 0;
}

int hamr_backend_stopped(const hamr_run *r)
{
	/* relaxed: a hint, looked at again on every round of a wait */
	if (atomic_load_explicit(&r->cancel, memory_order_relaxed))
		return HAMR_BACKEND_CANCEL;
	if (!r->keep_going && atomic_load_explicit(&r->stop, memory_order_relaxed))
		return HAMR_BACKEND_STOP;
	return HAMR_BACKEND_RUNNING;
}

void hamr_backend_node_ran(hamr_run *r, uint32_t node, int64_t item, int64_t t0, int64_t t1,
                           int rc, int where, int rank)
{
	if (!r->observe || node >= r->plan->n_nodes)
		return;
	hamr_event e = {.kind = HAMR_EV_NODE_START, .node = r->plan->nodes[node].name,
	                .node_index = (int)node, .item = item, .task = -1,
	                .t_ns = t0, .pid = where, .worker = -1, .rank = rank};
	hamr__event_at(r, &e);
	e.kind = HAMR_EV_NODE_END;
	e.start_ns = t0;
	e.t_ns = t1;
	e.rc = rc;
	hamr__event_at(r, &e);
	if (r->stats)
		hamr__stats_node(r, &e);
}

int hamr_backend_error(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	code = hamr__error_vset(code, fmt, ap);
	va_end(ap);
	return code;
}

int64_t hamr_backend_now_ns(void)
{
	return hamr__now_ns();
}

/* ---- the plan ---------------------------------------------------------------- */

int hamr_backend_node_info(const hamr_plan *p, uint32_t i, hamr_backend_node *out)
{
	if (!p || !out)
		return hamr__error_set(HAMR_EINVAL, "hamr_backend_node_info: bad arguments");
	if (i >= p->n_nodes)
		return hamr__error_set(HAMR_ERANGE, "hamr_backend_node_info: no node %u", i);
	const hamr__pnode *pn = &p->nodes[i];
	*out = (hamr_backend_node){pn->name, pn->fn, pn->userdata, pn->type, pn->n_args,
	                           p->args + pn->arg_start};
	return 0;
}

int hamr_backend_slot_info(const hamr_plan *p, uint32_t s, const char **name, hamr_type *type)
{
	if (!p)
		return hamr__error_set(HAMR_EINVAL, "hamr_backend_slot_info: bad arguments");
	if (s >= p->n_slots)
		return hamr__error_set(HAMR_ERANGE, "hamr_backend_slot_info: no slot %u", s);
	if (name)
		*name = p->slot_name[s];
	if (type)
		*type = p->slot_type[s];
	return 0;
}

/* The plan, its node names and its slot names are one allocation, so that
 * hamr_plan_destroy's free of the plan frees the names too. */
int hamr_backend_plan_create(hamr_plan **out, const hamr_backend_node *nodes, uint32_t n_nodes,
                             uint32_t n_slots)
{
	if (!out || (!nodes && n_nodes) || n_slots < n_nodes)
		return hamr__error_set(HAMR_EINVAL, "hamr_backend_plan_create: bad arguments");
	*out = NULL;
	size_t n_args = 0, names = 0;
	for (uint32_t i = 0; i < n_nodes; i++) {
		const hamr_backend_node *n = &nodes[i];
		const char *name = n->name ? n->name : "";
		if (!n->fn)
			return hamr__error_set(HAMR_EINVAL, "hamr_backend_plan_create: node \"%s\" has no function", name);
		if (n->n_args && !n->args)
			return hamr__error_set(HAMR_EINVAL, "hamr_backend_plan_create: node \"%s\" has no argument slots", name);
		for (uint32_t a = 0; a < n->n_args; a++)
			if (n->args[a] < -1 || (n->args[a] >= 0 && (uint32_t)n->args[a] >= n_slots))
				return hamr__error_set(HAMR_EINVAL,
				                       "hamr_backend_plan_create: node \"%s\", argument %u: no slot %d of %u",
				                       name, a, n->args[a], n_slots);
		n_args += n->n_args;
		names += strlen(name) + 1;
	}
	hamr_plan *p = calloc(1, sizeof *p + names + 1);
	if (!p)
		return HAMR_ENOMEM;
	char *text = (char *)(p + 1);
	text[names] = '\0'; /* the other slots' "" */
	p->n_nodes = p->n_sched = n_nodes;
	p->n_slots = n_slots;
	p->n_scopes = 1;
	size_t ns = n_slots ? n_slots : 1;
	p->nodes = calloc(n_nodes ? n_nodes : 1, sizeof *p->nodes);
	p->args = malloc((n_args ? n_args : 1) * sizeof *p->args);
	p->slot_kind = calloc(ns, sizeof *p->slot_kind);
	p->slot_name = malloc(ns * sizeof *p->slot_name);
	p->slot_type = calloc(ns, sizeof *p->slot_type);
	if (!p->nodes || !p->args || !p->slot_kind || !p->slot_name || !p->slot_type) {
		hamr_plan_destroy(p);
		return HAMR_ENOMEM;
	}
	for (uint32_t s = 0; s < n_slots; s++)
		p->slot_name[s] = text + names;
	uint32_t at = 0;
	for (uint32_t i = 0; i < n_nodes; i++) {
		const hamr_backend_node *n = &nodes[i];
		size_t len = strlen(n->name ? n->name : "") + 1;
		memcpy(text, n->name ? n->name : "", len);
		p->nodes[i] = (hamr__pnode){.fn = n->fn, .userdata = n->userdata, .type = n->type,
		                            .name = text, .graph_index = i, .arg_start = at,
		                            .n_args = n->n_args};
		p->slot_name[i] = text;
		p->slot_type[i] = n->type;
		text += len;
		if (n->n_args)
			memcpy(p->args + at, n->args, n->n_args * sizeof *p->args);
		at += n->n_args;
	}
	*out = p;
	return 0;
}

/* ---- the serving side -------------------------------------------------------- */

int hamr__backend_serve_node(hamr_run *stand_in, const hamr__pnode *pn, const int32_t *args,
                     hamr_value *slots, hamr_value *out, char **msg, int *oom)
{
	hamr_call c = {.args = args, .slots = slots, .type = pn->type, .n_args = pn->n_args,
	               .run = stand_in, .node = pn};
	*msg = NULL;
	errno = 0;
	int rc = pn->fn(&c);
	if (oom)
		*oom = errno == ENOMEM; /* an allocation failed in it */
	if (rc) {
		hamr_value_clear(&c.result);
		*msg = c.fail_msg;
		if (!*msg && asprintf(msg, "returned %d (%s)", rc,
		                      hamr__error_is_code(rc) ? hamr_err_name(rc) : "not a HAMR_E* code") < 0)
			*msg = NULL;
		return hamr__error_is_code(rc) ? rc : HAMR_EFAIL;
	}
	free(c.fail_msg);
	if (!c.result.type) {
		if (pn->type && pn->type != HAMR_NONE) {
			if (asprintf(msg, "returned no value, but the node is declared %s",
			             hamr_type_name(pn->type)) < 0)
				*msg = NULL;
			return HAMR_ETYPE;
		}
		c.result = hamr_value_none();
	}
	*out = c.result;
	return 0;
}

/* Whether prog can be served: 0, or HAMR_EINVAL with the reason. */
static int serve_check(const hamr_backend_program *prog, const hamr_value *v, const hamr_value *out)
{
	if (!prog || !prog->plan || !prog->slots || prog->n_slots != prog->plan->n_slots ||
	    (!prog->nodes && prog->n_nodes) || (!prog->outs && prog->n_outs) || !out ||
	    prog->n_outs > HAMR_BACKEND_MAX_OUT || (prog->item_slot >= 0 && !v) ||
	    (prog->item_slot >= 0 && (uint32_t)prog->item_slot >= prog->plan->n_slots))
		return hamr__error_set(HAMR_EINVAL, "hamr_backend_serve: bad arguments");
	const hamr_plan *p = prog->plan;
	for (uint32_t k = 0; k < prog->n_nodes; k++) {
		uint32_t i = prog->nodes[k];
		if (i >= p->n_nodes || !p->nodes[i].fn)
			return hamr__error_set(HAMR_EINVAL, "hamr_backend_serve: node %u cannot be served", i);
		for (uint32_t e = 0; e < k; e++)
			if (prog->nodes[e] == i)
				return hamr__error_set(HAMR_EINVAL,
				                       "hamr_backend_serve: node \"%s\" is listed twice",
				                       p->nodes[i].name);
	}
	for (uint32_t k = 0; k < prog->n_outs; k++)
		if (prog->outs[k] >= p->n_slots)
			return hamr__error_set(HAMR_EINVAL, "hamr_backend_serve: no slot %u", prog->outs[k]);
	return 0;
}

int hamr_backend_serve(const hamr_backend_program *prog, int64_t item, const hamr_value *v,
                       int attempt, hamr_value *out, hamr_backend_failure *f)
{
	if (!f)
		return hamr__error_set(HAMR_EINVAL, "hamr_backend_serve: bad arguments");
	attempt = attempt > 0 ? attempt : 1;
	*f = (hamr_backend_failure){0, -1, item, 0, 0, attempt, NULL};
	int rc = serve_check(prog, v, out);
	if (rc) {
		f->code = rc;
		f->message = strdup(hamr_errmsg());
		return rc;
	}
	const hamr_plan *p = prog->plan;
	size_t n = p->n_slots ? p->n_slots : 1;
	hamr_value local[64], *slots = n <= 64 ? local : malloc(n * sizeof *slots);
	if (!slots) {
		f->code = hamr__error_set(HAMR_ENOMEM, "out of memory serving a task");
		return f->code;
	}
	/* borrowed: the program's values, and the item's */
	memcpy(slots, prog->slots, p->n_slots * sizeof *slots);
	if (prog->item_slot >= 0)
		slots[prog->item_slot] = *v;
	/* the node call's stand-in run: its plan is what the call's accessors
	 * read */
	hamr_run stand_in;
	memset(&stand_in, 0, sizeof stand_in);
	stand_in.plan = p;
	int64_t saved_item = hamr__current_item;
	int saved_attempt = hamr__proc_attempt;
	hamr__current_item = item;
	hamr__proc_attempt = attempt;
	uint32_t ran = 0;
	for (; ran < prog->n_nodes; ran++) {
		uint32_t i = prog->nodes[ran];
		const hamr__pnode *pn = &p->nodes[i];
		char *msg;
		rc = hamr__backend_serve_node(&stand_in, pn, p->args + pn->arg_start, slots, &slots[i],
		                              &msg, NULL);
		if (rc) {
			f->code = rc;
			f->node = (int32_t)i;
			f->message = msg;
			break;
		}
	}
	for (uint32_t k = 0; !rc && k < prog->n_outs; k++)
		out[k] = hamr_value_ref(&slots[prog->outs[k]]);
	/* the task's own values die here; borrowed ones stay */
	for (uint32_t k = 0; k < ran; k++)
		hamr_value_clear(&slots[prog->nodes[k]]);
	hamr__current_item = saved_item;
	hamr__proc_attempt = saved_attempt;
	if (slots != local)
		free(slots);
	return rc;
}

/* ---- a node outside blocks ---------------------------------------------------- */

int hamr__backend_refuse(hamr_run *r, const hamr_backend *be, const char *node, int64_t item,
                         const char *what)
{
	char *msg = NULL;
	if (asprintf(&msg, "backend \"%s\" gave back %s", be->name ? be->name : "(unnamed)", what) < 0)
		msg = NULL;
	return hamr__run_fail_at(r, HAMR_EINVAL, node, msg, item, 0, 0, 1);
}

int hamr__backend_run_node(hamr_run *r, uint32_t i, hamr_value *slots)
{
	const hamr_backend *be = r->node_backend;
	const char *name = r->plan->nodes[i].name;
	hamr_backend_program prog = {r->plan, &i, 1, -1, slots, r->plan->n_slots, &i, 1};
	hamr_backend_job *j = NULL;
	int rc = be->open(r->node_backend_self, r, &prog, &j);
	if (rc)
		return hamr__run_fail(r, rc, name, rc == HAMR_ENOMEM ? NULL : strdup(hamr_errmsg()));
	if ((rc = be->send(j, -1, NULL))) {
		be->close(j);
		return rc;
	}
	hamr_backend_done d;
	rc = HAMR_ECANCELED;
	for (d.rank = -1; be->next(j, &d, 1); d.rank = -1) {
		if (!d.rc && !d.dropped && (d.n_out != 1 || d.item != -1 || slots[i].type)) {
			for (uint32_t k = 0; k < d.n_out && k < HAMR_BACKEND_MAX_OUT; k++)
				hamr_value_clear(&d.out[k]);
			rc = hamr__backend_refuse(r, be, name, -1,
			                          "a completion that is not the node's one task with its one value");
			continue;
		}
		rc = d.rc;
		if (!rc) {
			slots[i] = d.out[0];
			hamr__value_seal(&slots[i]);
		}
	}
	be->close(j);
	if (rc == HAMR_ECANCELED)
		return hamr__run_fail(r, rc, NULL, NULL);
	return rc;
}
