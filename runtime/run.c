// SPDX-License-Identifier: MIT
/* Runs: one execution of a plan, from creation to its results.
 *
 * A run owns an array of value slots laid out by the plan: the results of
 * computed nodes, then the values the caller gave (its own references), then
 * the defaults of optional dependencies. Everything a run allocates is in
 * those slots and the run itself, so destroying a run, finished, failed or
 * never started, releases all of it.
 *
 * The lifecycle is a small state machine (created, started, running, done)
 * on one atomic. Which thread does the work depends on the executor: the
 * sequential one runs in hamr_run_wait, on the waiting thread, which is how
 * Hamilton's default executor runs in the caller's own thread. */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/pool/env_internal.h"
#include "hamr/backend.h"
#include "runtime/procs/procexec_internal.h"
#include "runtime/procs/procs_internal.h"
#include "runtime/core/run_internal.h"
#include "serialize/error_internal.h"
#include "serialize/value_internal.h"

static const char *const executor_names[] = {"default", "sequential", "threads", "processes",
                                             "backend", "mpi"};
#define N_EXECUTORS (sizeof executor_names / sizeof executor_names[0])

int hamr_executor_parse(const char *name, hamr_executor_kind *out)
{
	/* the executors a name alone picks: not the default (no choice) nor
	 * a backend (which needs hamr_run_opts.backend) */
	for (size_t i = HAMR_EXEC_SEQUENTIAL; name && out && i < N_EXECUTORS; i++) {
		if (i != HAMR_EXEC_BACKEND && !strcmp(name, executor_names[i])) {
			*out = (hamr_executor_kind)i;
			return 0;
		}
	}
	return hamr__error_set(HAMR_EINVAL,
	                       "unknown executor \"%s\" (known: sequential, threads, processes, mpi)",
	                       name ? name : "(null)");
}

const char *hamr_executor_name(hamr_executor_kind k)
{
	return (size_t)k < N_EXECUTORS ? executor_names[k] : "?";
}

/* ---- backends by name ---------------------------------------------------- */

/* The backend registered as "mpi", and its instance. */
static pthread_mutex_t named_lock = PTHREAD_MUTEX_INITIALIZER;
static const hamr_backend *mpi_be;
static void *mpi_self;

int hamr_backend_register(const char *name, const hamr_backend *be, void *self)
{
	if (!name || strcmp(name, "mpi"))
		return hamr__error_set(HAMR_EINVAL, "hamr_backend_register: no executor is named \"%s\" (known: mpi)",
		                       name ? name : "(null)");
	if (be && (be->abi != HAMR_BACKEND_ABI || be->size < sizeof(hamr_backend)))
		return hamr__error_set(HAMR_EINVAL, "hamr_backend_register: backend \"%s\" was built for backend interface %u; this hamr has %d",
		                       be->name ? be->name : "(unnamed)", be->abi, HAMR_BACKEND_ABI);
	pthread_mutex_lock(&named_lock);
	mpi_be = be;
	mpi_self = be ? self : NULL;
	pthread_mutex_unlock(&named_lock);
	return 0;
}

/* HAMR_EXEC_MPI, HAMR_REMOTE_MPI and blocks tagged executor=mpi are the
 * backend registered as "mpi": the run's options name it as their
 * backend (HAMR_EXEC_BACKEND, HAMR_REMOTE_BACKEND; hamr__block_remote
 * maps the tag). HAMR_ENOTSUP without one, naming the fix. */
static int mpi_as_backend(hamr_run_opts *o, const hamr_plan *plan)
{
	int wanted = o->executor == HAMR_EXEC_MPI || o->remote == HAMR_REMOTE_MPI;
	for (uint32_t sc = 1; !wanted && sc < plan->n_scopes; sc++)
		wanted = plan->scope_remote[sc] == HAMR_REMOTE_MPI;
	if (!wanted)
		return 0;
	pthread_mutex_lock(&named_lock);
	const hamr_backend *be = mpi_be;
	void *self = mpi_self;
	pthread_mutex_unlock(&named_lock);
	if (!be)
		return hamr__error_set(HAMR_ENOTSUP,
		                       "the MPI executor is not initialised: link libhamr_mpi and call hamr_mpi_init first (hamr/mpi.h)");
	if (o->backend && o->backend != be)
		return hamr__error_set(HAMR_EINVAL,
		                       "the MPI executor and backend \"%s\" in one run: hamr_run_opts.backend is the MPI executor's",
		                       o->backend->name ? o->backend->name : "(unnamed)");
	o->backend = be;
	o->backend_self = self;
	if (o->executor == HAMR_EXEC_MPI)
		o->executor = HAMR_EXEC_BACKEND;
	if (o->remote == HAMR_REMOTE_MPI)
		o->remote = HAMR_REMOTE_BACKEND;
	return 0;
}

/* A run's own backend (hamr/backend.h): given when asked for, and of a
 * version this hamr knows. */
static int backend_usable(const hamr_run_opts *o)
{
	const hamr_backend *be = o->backend;
	if (!be && (o->executor == HAMR_EXEC_BACKEND || o->remote == HAMR_REMOTE_BACKEND))
		return hamr__error_set(HAMR_EINVAL, "the %s executor is the backend in hamr_run_opts.backend, which is NULL",
		                       o->executor == HAMR_EXEC_BACKEND ? "local" : "remote");
	if (!be)
		return 0;
	const char *name = be->name ? be->name : "(unnamed)";
	if (be->abi != HAMR_BACKEND_ABI || be->size < sizeof(hamr_backend))
		return hamr__error_set(HAMR_ENOTSUP,
		                       "backend \"%s\" was built for backend interface %u (%u bytes); this hamr has %d (%zu bytes)",
		                       name, be->abi, be->size, HAMR_BACKEND_ABI, sizeof(hamr_backend));
	if (!be->open || !be->send || !be->next || !be->cancel || !be->close)
		return hamr__error_set(HAMR_EINVAL, "backend \"%s\" leaves an operation NULL (only check may be)",
		                       name);
	return 0;
}

/* A count knob: the API's *v when set, else k's variable, else k's value
 * (its default); *v and k get the result. 0 or HAMR_EINVAL. */
static int limit_knob(size_t *v, hamr__knob_value *k)
{
	int rc = hamr__knob_resolve(*v > LONG_MAX ? LONG_MAX : (long)*v, 0, k->name, 1, LONG_MAX,
	                            k->value, &k->value, &k->source);
	*v = (size_t)k->value;
	return rc;
}

/* The executor a run gets when neither its options nor HAMR_EXECUTOR
 * choose one: the one place that sets the built-in default (README's
 * "Environment variables" and include/hamr/runtime.h say which it is). */
static const hamr_executor_kind builtin_executor = HAMR_EXEC_SEQUENTIAL;

/* The local executor: the API's *e when set, else HAMR_EXECUTOR, else
 * builtin_executor; *e and k get the result (k for HAMR_DISPLAY_ENV).
 * The variable is read only when the API leaves the choice to it, as
 * every knob's is. 0 or HAMR_EINVAL (a malformed variable). */
static int resolve_executor(hamr_executor_kind *e, hamr__knob_value *k)
{
	*k = (hamr__knob_value){"HAMR_EXECUTOR", 0, NULL, HAMR__FROM_API};
	if (*e == HAMR_EXEC_DEFAULT) {
		hamr__env_check();
		const char *s = getenv(k->name);
		*e = builtin_executor;
		k->source = HAMR__FROM_DEFAULT;
		if (s && *s) {
			if (hamr_executor_parse(s, e))
				return hamr__error_set(HAMR_EINVAL,
				                       "%s=%s: expected sequential, threads, processes or mpi",
				                       k->name, s);
			k->source = HAMR__FROM_ENV;
		}
	}
	k->text = hamr_executor_name(*e);
	return 0;
}

/* The knobs a run shows under HAMR_DISPLAY_ENV: the executor, those
 * below, then the process executor's two. */
enum { EXEC_KNOBS = 1, RUN_KNOBS = 6, PROC_KNOBS = 2 };

/* The knobs every run resolves, whatever its plan, so that a malformed
 * variable is an error whether or not this plan has map blocks:
 * max_inflight, max_items and max_tasks from the API, else the environment,
 * else their defaults, into *o; with where each came from in k (grouping,
 * stats and trace too, whose variables the plan and the hooks read), for
 * HAMR_DISPLAY_ENV. */
static int resolve_run_knobs(hamr_run_opts *o, hamr__knob_value k[RUN_KNOBS])
{
	const hamr__knob_value init[RUN_KNOBS] = {
		{"HAMR_GROUPING", 0, NULL, HAMR__FROM_DEFAULT},
		{"HAMR_MAX_INFLIGHT", 65536, NULL, HAMR__FROM_API},
		{"HAMR_MAX_ITEMS", 0, NULL, HAMR__FROM_API},
		{"HAMR_MAX_TASKS", 0, NULL, HAMR__FROM_API},
		{"HAMR_STATS", 0, NULL, HAMR__FROM_DEFAULT},
		{"HAMR_TRACE", 0, "off", HAMR__FROM_DEFAULT}};
	memcpy(k, init, sizeof init);
	int rc;
	if ((rc = limit_knob(&o->max_inflight, &k[1])) || (rc = limit_knob(&o->max_items, &k[2])) ||
	    (rc = limit_knob(&o->max_tasks, &k[3])))
		return rc;
	if (!o->max_items)
		k[2].text = "none";
	if (!o->max_tasks)
		k[3].text = "none";
	if ((rc = hamr__knob_resolve(o->stats, 0, k[4].name, 0, 1, 0, &k[4].value, &k[4].source)))
		return rc;
	const char *tr = getenv(k[5].name);
	if (tr && *tr) {
		k[5].text = tr;
		k[5].source = HAMR__FROM_ENV;
	}
	const char *g = getenv(k[0].name);
	if (o->grouping != HAMR_GROUPING_DEFAULT) {
		k[0].text = hamr_grouping_name(o->grouping);
		k[0].source = HAMR__FROM_API;
	} else if (g && *g) {
		k[0].text = g; /* the plan checked it */
		k[0].source = HAMR__FROM_ENV;
	} else {
		k[0].text = "auto, or a block's tag";
	}
	return 0;
}

/* With HAMR_DISPLAY_ENV, the first run of each executor in the process
 * shows the knobs it resolved. */
static void display_run_knobs(hamr_executor_kind e, const hamr__knob_value *k, size_t n)
{
	static const char *const what[N_EXECUTORS] = {
		NULL, "the first run of the sequential executor", "the first run of the threads executor",
		"the first run of the processes executor", "the first run of a backend",
		"the first run of the MPI executor"};
	static atomic_bool shown[N_EXECUTORS];
	/* relaxed: the flag orders nothing; the exchange alone makes one run
	 * of each executor the one that prints */
	if (atomic_load_explicit(&shown[e], memory_order_relaxed) || !hamr__env_displaying() ||
	    atomic_exchange_explicit(&shown[e], true, memory_order_relaxed))
		return;
	hamr__env_display(what[e], k, n);
}

static int fill_slots(hamr_run *r, const hamr_values *given)
{
	const hamr_plan *p = r->plan;
	uint32_t first_default = p->n_nodes + p->n_given;
	for (uint32_t s = p->n_nodes; s < first_default; s++) {
		const hamr_value *v = hamr_values_get(given, p->slot_name[s]);
		if (!v || (p->slot_type[s] && v->type != p->slot_type[s])) {
			/* the node, looked up by name only to say what went wrong */
			const hamr__gnode *n =
				p->graph->nodes[hamr__graph_lookup(p->graph, p->slot_name[s])];
			if (v)
				return hamr__given_wrong_type(n, v->type);
			return hamr__error_set(HAMR_EINPUT,
			                       "missing %s \"%s\": the plan was made with a value for it",
			                       n->kind == HAMR_NODE_INPUT ? "external input" : "override",
			                       p->slot_name[s]);
		}
		r->slots[s] = hamr_value_ref(v);
	}
	for (uint32_t d = 0; d < p->n_defaults; d++)
		r->slots[first_default + d] = hamr_value_ref(&p->defaults[d]);
	return 0;
}

/* Whether backend be (the remote kind `what` names it in messages) can
 * run the nodes given: its check, with the run's slots as they are now. */
static int backend_check(hamr_run *r, const hamr_backend *be, void *self, const uint32_t *nodes,
                         uint32_t n_nodes, int32_t item_slot, const uint32_t *outs,
                         uint32_t n_outs)
{
	if (!be->check)
		return 0;
	hamr_backend_program prog = {r->plan, nodes, n_nodes, item_slot, r->slots, r->plan->n_slots,
	                             outs, n_outs};
	return be->check(self, &prog);
}

/* The backends' part of a run: which backend nodes outside blocks and
 * each block's items go to, each one's check that it can run them, and
 * for worker processes, the pool and knobs. The process knobs are
 * resolved, into k (with *n_k set to PROC_KNOBS), for a run that uses
 * processes or runs on the process executor. */
static int backends_prepare(hamr_run *r, hamr__knob_value k[PROC_KNOBS], size_t *n_k)
{
	const hamr_plan *p = r->plan;
	int used = 0, rc;
	hamr_executor_kind e = r->opts.executor;
	const hamr_backend *node_be = e == HAMR_EXEC_PROCESSES ? &hamr__procs_backend :
	                              e == HAMR_EXEC_BACKEND   ? r->opts.backend :
	                                                         NULL;
	void *node_self = e == HAMR_EXEC_BACKEND ? r->opts.backend_self : r->opts.procpool;
	for (uint32_t i = 0; node_be && i < p->n_nodes; i++) {
		if ((p->node_scope && p->node_scope[i] != 0) || !hamr__node_procable(p, i))
			continue;
		used |= node_be == &hamr__procs_backend;
		if ((rc = backend_check(r, node_be, node_self, &i, 1, -1, &i, 1)))
			return rc;
	}
	for (int32_t sc = 1; sc < (int32_t)p->n_scopes; sc++) {
		int remote = hamr__block_remote(r, sc);
		const hamr_backend *be = remote == HAMR_REMOTE_PROCESSES ? &hamr__procs_backend :
		                         remote == HAMR_REMOTE_BACKEND   ? r->opts.backend :
		                                                           NULL;
		void *self = remote == HAMR_REMOTE_BACKEND ? r->opts.backend_self : r->opts.procpool;
		if (!be || !hamr__block_procable(p, sc))
			continue;
		used |= be == &hamr__procs_backend;
		uint32_t outs[HAMR__MAX_OUT];
		uint32_t n_outs = hamr__block_outs(p, sc, outs, HAMR__MAX_OUT);
		if ((rc = backend_check(r, be, self, p->units + p->unit_start[sc],
		                        p->unit_start[sc + 1] - p->unit_start[sc], p->scope_owner[sc],
		                        outs, n_outs)))
			return rc;
	}
	r->node_backend = node_be;
	r->node_backend_self = node_self;
	if (!used && e != HAMR_EXEC_PROCESSES)
		return 0;
	const hamr__knob_value init[PROC_KNOBS] = {{"HAMR_TASK_TIMEOUT", 0, NULL, HAMR__FROM_DEFAULT},
	                                           {"HAMR_RETRIES", 0, NULL, HAMR__FROM_DEFAULT}};
	memcpy(k, init, sizeof init);
	if (r->opts.task_timeout_ms < 0)
		return hamr__error_set(HAMR_EINVAL, "task_timeout_ms = %ld: expected 0 or more",
		                       r->opts.task_timeout_ms);
	if (r->opts.retries < HAMR_OFF || r->opts.retries > 1000)
		return hamr__error_set(HAMR_EINVAL, "retries = %d: expected 1 to 1000, 0 (unset) or HAMR_OFF",
		                       r->opts.retries);
	if ((rc = hamr__knob_resolve(r->opts.task_timeout_ms, 0, k[0].name, 1, LONG_MAX / 1000000, 0,
	                             &k[0].value, &k[0].source)) ||
	    (rc = hamr__knob_resolve(r->opts.retries == HAMR_OFF ? 0 : r->opts.retries ? r->opts.retries : -1,
	                             -1, k[1].name, 0, 1000, 0, &k[1].value, &k[1].source)))
		return rc;
	r->proc_timeout_ms = k[0].value;
	r->proc_retries = k[1].value;
	if (!k[0].value)
		k[0].text = "none";
	*n_k = PROC_KNOBS;
	if (!used)
		return 0;
	if (!(r->procpool = r->opts.procpool) && !(r->procpool = hamr__procpool_default(&rc)))
		return rc;
	if ((rc = hamr__procpool_usable(r->procpool))) /* one inherited through fork() */
		return rc;
	r->procs_backend = &hamr__procs_backend;
	r->procs_self = r->procpool;
	if (e == HAMR_EXEC_PROCESSES)
		r->node_backend_self = r->procpool;
	return 0;
}

int hamr_run_process_stats(const hamr_run *r, hamr_process_stats *out)
{
	if (!r || !out)
		return hamr__error_set(HAMR_EINVAL, "hamr_run_process_stats: bad arguments");
	/* relaxed: counts, exact once the run has ended (its end orders them) */
	hamr_run *m = (hamr_run *)r;
	out->tasks = atomic_load_explicit(&m->proc.tasks, memory_order_relaxed);
	out->bytes_copied = atomic_load_explicit(&m->proc.copied, memory_order_relaxed);
	out->bytes_shared = atomic_load_explicit(&m->proc.shared, memory_order_relaxed);
	out->crashes = atomic_load_explicit(&m->proc.crashes, memory_order_relaxed);
	out->timeouts = atomic_load_explicit(&m->proc.timeouts, memory_order_relaxed);
	out->retries = atomic_load_explicit(&m->proc.retries, memory_order_relaxed);
	return 0;
}

int hamr_run_create(hamr_run **out, const hamr_plan *plan,
                    const hamr_values *given, const hamr_run_opts *opts)
{
	if (!out || !plan)
		return hamr__error_set(HAMR_EINVAL, "hamr_run_create: bad arguments");
	*out = NULL;
	int rc;
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	if (opts)
		o = *opts;
	if ((size_t)o.executor >= N_EXECUTORS)
		return hamr__error_set(HAMR_EINVAL, "unknown executor %d", (int)o.executor);
	if ((unsigned)o.remote > HAMR_REMOTE_MPI)
		return hamr__error_set(HAMR_EINVAL, "unknown remote executor %d", (int)o.remote);
	hamr__knob_value knobs[EXEC_KNOBS + RUN_KNOBS + PROC_KNOBS];
	if ((rc = resolve_executor(&o.executor, knobs)))
		return rc;
	hamr_executor_kind shown = o.executor;
	if ((rc = mpi_as_backend(&o, plan)))
		return rc;
	if ((rc = backend_usable(&o)))
		return rc;
	if ((unsigned)o.grouping > HAMR_GROUPING_NODE)
		return hamr__error_set(HAMR_EINVAL, "unknown grouping %d", (int)o.grouping);
	if ((unsigned)o.policy > HAMR_KEEP_GOING)
		return hamr__error_set(HAMR_EINVAL, "unknown policy %d", (int)o.policy);
	int pool_needed = o.executor != HAMR_EXEC_SEQUENTIAL;
	if ((rc = resolve_run_knobs(&o, knobs + EXEC_KNOBS)))
		return rc;
	if (plan->n_scopes > 1) {
		pool_needed |= o.remote == HAMR_REMOTE_THREADS;
		for (uint32_t sc = 1; sc < plan->n_scopes; sc++)
			pool_needed |= plan->scope_remote[sc] == HAMR_REMOTE_THREADS;
	}
	if (pool_needed && !o.pool && !(o.pool = hamr__pool_default(&rc)))
		return rc; /* with hamr_pool_default's message */
	if (pool_needed && (rc = hamr__pool_usable(o.pool)))
		return rc; /* a pool inherited through fork() */

	hamr_run *r = calloc(1, sizeof *r);
	if (!r)
		return hamr__error_set(HAMR_ENOMEM, "out of memory creating a run");
	r->plan = plan;
	r->opts = o;
	/* slots, remaining, pending, tasks in one block: the last finished
	 * run's if the plan kept it, else a new one */
	size_t ns = plan->n_slots, n = plan->n_nodes;
	size_t off_rem = ns * sizeof(hamr_value);
	size_t off_pend = off_rem + ((ns * sizeof(atomic_uint) + 15) & ~(size_t)15);
	size_t off_tasks = off_pend + ((n * sizeof(atomic_uint) + 63) & ~(size_t)63);
	size_t size = off_tasks + n * sizeof(hamr__node_task) + 64;
	hamr_plan *mut = (hamr_plan *)plan; /* spare_mem is atomic */
	/* acquire: pairs with the release exchange in hamr_run_destroy */
	r->mem = atomic_exchange_explicit(&mut->spare_mem, NULL, memory_order_acquire);
	if (!r->mem && !(r->mem = aligned_alloc(64, (size + 63) & ~(size_t)63))) {
		free(r);
		return hamr__error_set(HAMR_ENOMEM, "out of memory creating a run");
	}
	char *base = r->mem;
	r->slots = (hamr_value *)base;
	r->remaining = (atomic_uint *)(base + off_rem);
	r->pending = (atomic_uint *)(base + off_pend);
	r->tasks = (hamr__node_task *)(base + off_tasks);
	memset(r->slots, 0, ns * sizeof *r->slots);
	for (uint32_t i = 0; i < plan->n_slots; i++)
		atomic_init(&r->remaining[i], plan->consumers[i]);
	r->pool = o.pool;
	atomic_init(&r->state, RUN_CREATED);
	atomic_init(&r->stop, false);
	atomic_init(&r->left, plan->n_sched + 1); /* + 1: the starting job */
	atomic_init(&r->cancel, false);
	atomic_init(&r->halt, false);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->done, NULL);
	r->err.message = "";
	r->err.item = -1;
	r->err.rank = -1;
	r->keep_going = o.policy == HAMR_KEEP_GOING;
	rc = 0;
	if (plan->n_groups &&
	    !(r->group_used = calloc(plan->n_groups, sizeof *r->group_used)))
		rc = hamr__error_set(HAMR_ENOMEM, "out of memory creating a run");
	if (!rc)
		rc = hamr__hooks_init(r);
	if (!rc)
		rc = fill_slots(r, given);
	size_t n_proc = 0;
	if (!rc && (rc = backends_prepare(r, knobs + EXEC_KNOBS + RUN_KNOBS, &n_proc)) &&
	    knobs[0].source == HAMR__FROM_ENV && o.executor == HAMR_EXEC_PROCESSES)
		/* a program that never asked for worker processes learns why
		 * it needs them (hamr_processes_init, most often) */
		hamr__error_append(rc, " (the processes executor, from HAMR_EXECUTOR)");
	r->slow_path = r->observe | (r->node_backend != NULL);
	if (!rc && o.executor != HAMR_EXEC_SEQUENTIAL)
		rc = hamr__threads_prepare(r);
	if (rc) {
		hamr_run_destroy(r);
		return rc;
	}
	display_run_knobs(shown, knobs, EXEC_KNOBS + RUN_KNOBS + n_proc);
	*out = r;
	return 0;
}

/* hamr_run_start; `here`: the calling thread will only wait for r, and
 * runs it itself when a worker of r's pool is idle
 * (hamr__threads_start_here). */
static int run_start(hamr_run *r, int here)
{
	if (!r)
		return hamr__error_set(HAMR_EINVAL, "hamr_run_start: run is NULL");
	int threads = r->opts.executor != HAMR_EXEC_SEQUENTIAL;
	int expect = RUN_CREATED;
	/* before the run is published as started: from then on another
	 * thread's hamr_run_wait may be running it */
	if (r->observe && atomic_load_explicit(&r->state, memory_order_acquire) == RUN_CREATED) {
		if (r->stats)
			hamr__stats_start(r);
		hamr_event e = {.kind = HAMR_EV_RUN_START, .node_index = -1, .item = -1, .task = -1};
		hamr__event(r, &e);
		r->start_ns = e.t_ns;
	}
	/* acq_rel: pairs with the acquire in hamr_run_wait, so the thread that
	 * runs the plan sees everything the creating thread wrote. The threads
	 * executor goes straight to running, so no wait can take the run for
	 * the sequential path. */
	if (!atomic_compare_exchange_strong_explicit(&r->state, &expect,
	                                             threads ? RUN_RUNNING : RUN_STARTED,
	                                             memory_order_acq_rel,
	                                             memory_order_acquire))
		return hamr__error_set(HAMR_ESTATE, "the run was already started");
	if (threads && here)
		hamr__threads_start_here(r);
	else if (threads)
		hamr__threads_start(r);
	return 0;
}

int hamr_run_start(hamr_run *r)
{
	return run_start(r, 0);
}

/* Sets the calling thread's message from the run's error record; rc. */
static int replay(const hamr_run *r, int rc)
{
	if (!rc)
		return 0;
	if (r->err.node && r->err.item >= 0)
		return hamr__error_set(rc, "node \"%s\" failed on item %lld: %s",
		                       r->err.node, (long long)r->err.item,
		                       r->err.message);
	if (r->err.node)
		return hamr__error_set(rc, "node \"%s\" failed: %s", r->err.node,
		                       r->err.message);
	return hamr__error_set(rc, "%s", r->err.message);
}

/* Returns once r is done and its finisher has let go of it: taking the lock
 * after the finisher's unlock is what makes freeing r safe afterwards. */
static void await_done(hamr_run *r)
{
	/* acquire: pairs with the release store in hamr__run_finish. A run
	 * not done yet is in flight, so its pool is still there to look at
	 * (hamr_pool_destroy waits for runs in flight); a done one may have
	 * outlived its pool. */
	if (atomic_load_explicit(&r->state, memory_order_acquire) != RUN_DONE) {
		hamr__worker *w = hamr__worker_self();
		if (w && r->pool && hamr__worker_pool(w) == r->pool)
			/* a worker of the run's own pool (a run started inside
			 * a node) must keep working, or a pool whose every
			 * worker waits would deadlock */
			hamr__worker_help(w, &r->state, RUN_DONE);
		/* a short run is done before sleeping would pay off, when the
		 * pool's workers are awake to run it (see hamr_pool_call) */
		else if (r->pool)
			hamr__pool_await_briefly(r->pool, &r->state, RUN_DONE);
	}
	/* taking the lock after the finisher's unlock is what makes freeing
	 * r safe afterwards */
	pthread_mutex_lock(&r->lock);
	while (atomic_load_explicit(&r->state, memory_order_acquire) != RUN_DONE)
		pthread_cond_wait(&r->done, &r->lock);
	pthread_mutex_unlock(&r->lock);
}

int hamr_run_wait(hamr_run *r)
{
	if (!r)
		return hamr__error_set(HAMR_EINVAL, "hamr_run_wait: run is NULL");
	int expect = RUN_STARTED;
	if (atomic_compare_exchange_strong_explicit(&r->state, &expect, RUN_RUNNING,
	                                            memory_order_acq_rel,
	                                            memory_order_acquire)) {
		int rc = atomic_load_explicit(&r->cancel, memory_order_acquire) ?
		                 hamr__run_fail(r, HAMR_ECANCELED, NULL, NULL) :
		                 hamr__exec_sequential(r);
		if (r->err.code)
			rc = r->err.code; /* the first failure is the run's */
		replay(r, rc); /* before finish: r may be freed right after it */
		hamr__run_finish(r, rc);
		return rc;
	}
	if (expect == RUN_CREATED)
		return hamr__error_set(HAMR_ESTATE, "the run was not started");
	await_done(r);
	return replay(r, r->rc);
}

void hamr_run_cancel(hamr_run *r)
{
	if (r) {
		atomic_store_explicit(&r->cancel, true, memory_order_seq_cst);
		atomic_store_explicit(&r->halt, true, memory_order_seq_cst);
	}
}

void hamr_run_destroy(hamr_run *r)
{
	if (!r)
		return;
	int state = atomic_load_explicit(&r->state, memory_order_acquire);
	if (state == RUN_RUNNING || state == RUN_DONE) {
		await_done(r); /* never free what a worker still uses */
		state = RUN_DONE;
	}
	/* A plain plan's run that ended with every node run and none failed
	 * left values only in the slots no reader releases (outputs,
	 * defaults, values nobody reads): every other one was dropped by
	 * its last reader. Reading those again would pull every line the
	 * workers wrote over to this thread's cache, some microseconds on
	 * a plan of a thousand nodes. */
	const hamr_plan *p = r->plan;
	int clean = p->n_scopes == 1 && state == RUN_DONE && !r->rc && !r->err.code &&
	            !r->n_errs_seen && !atomic_load_explicit(&r->cancel, memory_order_relaxed);
	for (uint32_t s = 0; s < p->n_slots; s++)
		if (!clean || p->slot_pinned[s] || !p->consumers[s])
			hamr__value_drop(&r->slots[s]);
	/* keep the memory for the plan's next run, unless it keeps one
	 * already. release: pairs with the acquire exchange in create */
	void *none = NULL;
	hamr_plan *mut = (hamr_plan *)r->plan;
	if (!atomic_compare_exchange_strong_explicit(&mut->spare_mem, &none, r->mem,
	                                             memory_order_release,
	                                             memory_order_relaxed))
		free(r->mem);
	if (r->err.code)
		hamr__error_info_free(&r->err);
	for (size_t k = 0; k < r->n_errs; k++)
		hamr__error_info_free(&r->errs[k]);
	free(r->errs);
	free(r->group_used);
	free(r->item_shown);
	hamr__hooks_free(r);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->done);
	free(r);
}

int hamr_run_execute(hamr_run **out, const hamr_plan *plan,
                     const hamr_values *given, const hamr_run_opts *opts)
{
	int rc = hamr_run_create(out, plan, given, opts);
	if (rc)
		return rc;
	if ((rc = run_start(*out, 1)))
		return rc;
	return hamr_run_wait(*out);
}

const hamr_error_info *hamr_run_error(const hamr_run *r)
{
	return r ? &r->err : NULL;
}

size_t hamr_run_error_count(const hamr_run *r)
{
	return r ? r->n_errs_seen : 0;
}

const hamr_error_info *hamr_run_error_at(const hamr_run *r, size_t i)
{
	return r && i < r->n_errs ? &r->errs[i] : NULL;
}

/* ---- results ------------------------------------------------------------ */

const hamr_value *hamr_run_result(const hamr_run *r, const char *name)
{
	if (!r || !name)
		return NULL;
	int32_t i = hamr__names_get(&r->plan->out_index, name);
	if (i < 0)
		return NULL;
	const hamr_value *v = &r->slots[r->plan->out_slots[i]];
	return v->type ? v : NULL;
}

static int typed_result(const hamr_run *r, const char *name, hamr_type want,
                        const hamr_value **v)
{
	*v = hamr_run_result(r, name);
	if (!*v) {
		if (r && name && hamr__names_get(&r->plan->out_index, name) >= 0)
			return hamr__error_set(HAMR_ENOENT,
			                       "output \"%s\" was not computed (the run failed first)",
			                       name);
		return hamr__error_set(HAMR_ENOENT, "\"%s\" is not an output of the run",
		                       name ? name : "(null)");
	}
	if ((*v)->type != want)
		return hamr__error_set(HAMR_ETYPE, "output \"%s\" is %s, not %s", name,
		                       hamr_type_name((*v)->type), hamr_type_name(want));
	return 0;
}

int hamr_run_result_i64(const hamr_run *r, const char *name, int64_t *out)
{
	const hamr_value *v;
	int rc = typed_result(r, name, HAMR_I64, &v);
	if (!rc && out)
		*out = v->u.i64;
	return rc;
}

int hamr_run_result_f64(const hamr_run *r, const char *name, double *out)
{
	const hamr_value *v;
	int rc = typed_result(r, name, HAMR_F64, &v);
	if (!rc && out)
		*out = v->u.f64;
	return rc;
}

int hamr_run_result_bool(const hamr_run *r, const char *name, bool *out)
{
	const hamr_value *v;
	int rc = typed_result(r, name, HAMR_BOOL, &v);
	if (!rc && out)
		*out = v->u.b;
	return rc;
}

int hamr_run_result_str(const hamr_run *r, const char *name, const char **out)
{
	const hamr_value *v;
	int rc = typed_result(r, name, HAMR_STR, &v);
	if (!rc && out)
		*out = hamr_value_str(v, NULL);
	return rc;
}
