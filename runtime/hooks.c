// SPDX-License-Identifier: MIT
/* Lifecycle hooks: handing events to a run's hooks, and the Chrome trace
 * writer behind hamr_trace_open and HAMR_TRACE.
 *
 * A run copies its hooks at creation (the caller's, then the process's
 * trace hook when HAMR_TRACE is set); executors call hamr__event only when
 * the run has hooks, so a run without costs one test per node. The trace
 * writer formats each event into a buffer of its own and appends it under
 * a lock: one line per event, written whole. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime/run_internal.h"
#include "serialize/error_internal.h"

int64_t hamr__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void hamr__event(const hamr_run *r, hamr_event *e)
{
	e->run = r;
	e->t_ns = hamr__now_ns();
	e->worker = hamr_worker_index();
	e->pid = (int)getpid();
	for (size_t k = 0; k < r->n_hooks; k++)
		r->hooks[k].fn(e, r->hooks[k].userdata);
}

/* ---- the Chrome trace ----------------------------------------------------- */

typedef struct trace {
	FILE *f;
	pthread_mutex_t lock;
	int any; /* an event was written: the next one needs a comma */
} trace;

/* Writes s as a JSON string's contents into buf (at most cap bytes with
 * the NUL); returns the length written. */
static size_t json_escape(char *buf, size_t cap, const char *s)
{
	size_t n = 0;
	for (; s && *s && n + 7 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)ch;
		} else if (ch < 0x20) {
			n += (size_t)snprintf(buf + n, cap - n, "\\u%04x", ch);
		} else {
			buf[n++] = (char)ch;
		}
	}
	buf[n] = '\0';
	return n;
}

static void trace_event(const hamr_event *e, void *userdata)
{
	trace *t = userdata;
	const char *cat;
	char name[512], line[1024];
	switch (e->kind) {
	case HAMR_EV_NODE_END:
		cat = "node";
		break;
	case HAMR_EV_TASK_END:
		cat = "task";
		break;
	case HAMR_EV_BLOCK_END:
		cat = "block";
		break;
	case HAMR_EV_RUN_END:
		pthread_mutex_lock(&t->lock);
		fflush(t->f); /* a run's events are on disk when it ends */
		pthread_mutex_unlock(&t->lock);
		return;
	default:
		return;
	}
	json_escape(name, sizeof name, e->node);
	int tid = (int)gettid();
	double ts = (double)e->start_ns / 1e3, dur = (double)(e->t_ns - e->start_ns) / 1e3;
	int n;
	if (e->kind == HAMR_EV_NODE_END)
		n = snprintf(line, sizeof line,
		             "{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,"
		             "\"pid\":%d,\"tid\":%d,\"args\":{\"item\":%" PRId64 ",\"worker\":%d,\"rc\":%d}}",
		             name, cat, ts, dur, e->pid, tid, e->item, e->worker, e->rc);
	else if (e->kind == HAMR_EV_TASK_END)
		n = snprintf(line, sizeof line,
		             "{\"name\":\"%s batch %" PRId64 "\",\"cat\":\"%s\",\"ph\":\"X\",\"ts\":%.3f,"
		             "\"dur\":%.3f,\"pid\":%d,\"tid\":%d,\"args\":{\"first\":%" PRId64
		             ",\"count\":%" PRId64 ",\"worker\":%d}}",
		             name, e->task, cat, ts, dur, e->pid, tid, e->first, e->count, e->worker);
	else
		n = snprintf(line, sizeof line,
		             "{\"name\":\"%s block\",\"cat\":\"%s\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,"
		             "\"pid\":%d,\"tid\":%d,\"args\":{\"items\":%" PRId64 ",\"rc\":%d}}",
		             name, cat, ts, dur, e->pid, tid, e->block_items, e->rc);
	if (n <= 0 || (size_t)n >= sizeof line)
		return;
	pthread_mutex_lock(&t->lock);
	fputs(t->any ? ",\n" : "", t->f);
	fputs(line, t->f);
	t->any = 1;
	pthread_mutex_unlock(&t->lock);
}

int hamr_trace_open(hamr_hook *out, const char *path)
{
	if (!out || !path)
		return hamr__error_set(HAMR_EINVAL, "hamr_trace_open: bad arguments");
	trace *t = calloc(1, sizeof *t);
	if (!t)
		return hamr__error_set(HAMR_ENOMEM, "out of memory opening a trace");
	if (!(t->f = fopen(path, "w"))) {
		free(t);
		return hamr__error_set(HAMR_EIO, "cannot write the trace \"%s\": %m", path);
	}
	pthread_mutex_init(&t->lock, NULL);
	fputs("[\n", t->f);
	out->fn = trace_event;
	out->userdata = t;
	return 0;
}

void hamr_trace_close(hamr_hook *h)
{
	if (!h || h->fn != trace_event)
		return;
	trace *t = h->userdata;
	fputs("\n]\n", t->f);
	fclose(t->f);
	pthread_mutex_destroy(&t->lock);
	free(t);
	h->fn = NULL;
	h->userdata = NULL;
}

/* HAMR_TRACE: one trace for the process, opened at the first run, closed
 * at exit. */
static hamr_hook env_trace;
static int env_trace_rc;

static void env_trace_close(void)
{
	hamr_trace_close(&env_trace);
}

static void env_trace_open(void)
{
	const char *path = getenv("HAMR_TRACE");
	if (!path || !*path)
		return;
	env_trace_rc = hamr_trace_open(&env_trace, path);
	if (!env_trace_rc)
		atexit(env_trace_close);
}

int hamr__hooks_init(hamr_run *r)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, env_trace_open);
	if (env_trace_rc)
		return hamr__error_set(env_trace_rc, "HAMR_TRACE=%s: the trace cannot be written",
		                       getenv("HAMR_TRACE"));
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
	return 0;
}
