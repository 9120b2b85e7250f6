// SPDX-License-Identifier: MIT
/* Lifecycle hooks: handing events to a run's hooks, and setting a run's up.
 *
 * A run copies its hooks at creation (the caller's, then the process's
 * trace hook when HAMR_TRACE is set, runtime/trace.c) and makes its
 * statistics when asked (runtime/stats.c); executors make events only for
 * a run that observes (r->observe), so a run without costs one test per
 * node. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/pool/env_internal.h"
#include "runtime/core/run_internal.h"
#include "serialize/error_internal.h"

void hamr__event(const hamr_run *r, hamr_event *e)
{
	e->run = r;
	e->t_ns = hamr__now_ns();
	e->worker = hamr_worker_index();
	e->pid = r->pid;
	e->rank = -1;
	for (size_t k = 0; k < r->n_hooks; k++)
		r->hooks[k].fn(e, r->hooks[k].userdata);
}

void hamr__event_at(const hamr_run *r, hamr_event *e)
{
	e->run = r;
	for (size_t k = 0; k < r->n_hooks; k++)
		r->hooks[k].fn(e, r->hooks[k].userdata);
}

int hamr__hooks_init(hamr_run *r)
{
	hamr__env_check(); /* typos in HAMR_* names, once per process */
	r->pid = (int)getpid();
	hamr_hook env_trace = {NULL, NULL};
	int rc = hamr__trace_env(&env_trace);
	if (rc)
		return rc;
	long print = 0;
	if (!r->opts.stats) {
		if ((rc = hamr__env_long("HAMR_STATS", 0, 1, &print)) < 0)
			return rc;
	}
	if ((r->opts.stats || print) && hamr__stats_init(r, print))
		return hamr__error_set(HAMR_ENOMEM, "out of memory creating a run");
	r->observe = r->stats != NULL;
	size_t n = r->opts.n_hooks + (env_trace.fn != NULL);
	if (!n)
		return 0;
	if (r->opts.n_hooks && !r->opts.hooks)
		return hamr__error_set(HAMR_EINVAL, "hamr_run_opts: n_hooks = %zu but no hooks",
		                       r->opts.n_hooks);
	hamr_hook *h = malloc(n * sizeof *h);
	if (!h)
		return hamr__error_set(HAMR_ENOMEM, "out of memory creating a run");
	for (size_t k = 0; k < r->opts.n_hooks; k++) {
		if (!r->opts.hooks[k].fn) {
			free(h);
			return hamr__error_set(HAMR_EINVAL, "hook %zu has no function", k);
		}
		h[k] = r->opts.hooks[k];
	}
	if (env_trace.fn)
		h[n - 1] = env_trace;
	r->hooks = h;
	r->n_hooks = n;
	r->observe = 1;
	return 0;
}


void hamr__hooks_free(hamr_run *r)
{
	free(r->hooks);
	hamr__stats_free(r->stats);
}
