// SPDX-License-Identifier: MIT
/* The Chrome trace writer: a hook that appends node, batch and block spans
 * to a file in the trace event format (hamr_trace_open), and HAMR_TRACE's
 * one trace for the whole process. Each event is formatted into a buffer
 * of its own and appended under a lock: one line per event, written
 * whole. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/pool/pool_internal.h"
#include "runtime/core/run_internal.h"
#include "serialize/error_internal.h"

typedef struct trace {
	FILE *f;
	pthread_mutex_t lock;
	int any;    /* an event was written: the next one needs a comma */
	int closed; /* finished: later events are dropped (HAMR_TRACE's at exit) */
} trace;

static HAMR__TLS int tls_tid;

/* s as the contents of a JSON string, malloc'd; NULL when out of memory. */
static char *json_escape(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	char *buf = malloc(6 * n + 1), *o = buf;
	if (!buf)
		return NULL;
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			*o++ = '\\';
			*o++ = (char)ch;
		} else if (ch < 0x20) {
			o += sprintf(o, "\\u%04x", ch);
		} else {
			*o++ = (char)ch;
		}
	}
	*o = '\0';
	return buf;
}

static void trace_event(const hamr_event *e, void *userdata)
{
	trace *t = userdata;
	const char *cat;
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
		if (!t->closed)
			fflush(t->f); /* a run's events are on disk when it ends */
		pthread_mutex_unlock(&t->lock);
		return;
	default:
		return;
	}
	char *name = json_escape(e->node), *line = NULL;
	if (!name)
		return;
	if (!tls_tid)
		tls_tid = (int)gettid(); /* once per thread */
	double ts = (double)e->start_ns / 1e3, dur = (double)(e->t_ns - e->start_ns) / 1e3;
	int n;
	if (e->kind == HAMR_EV_NODE_END)
		n = asprintf(&line,
		             "{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,"
		             "\"pid\":%d,\"tid\":%d,\"args\":{\"item\":%" PRId64
		             ",\"worker\":%d,\"rank\":%d,\"rc\":%d}}",
		             name, cat, ts, dur, e->pid, tls_tid, e->item, e->worker, e->rank, e->rc);
	else if (e->kind == HAMR_EV_TASK_END)
		n = asprintf(&line,
		             "{\"name\":\"%s batch %" PRId64 "\",\"cat\":\"%s\",\"ph\":\"X\",\"ts\":%.3f,"
		             "\"dur\":%.3f,\"pid\":%d,\"tid\":%d,\"args\":{\"first\":%" PRId64
		             ",\"count\":%" PRId64 ",\"worker\":%d,\"rank\":%d}}",
		             name, e->task, cat, ts, dur, e->pid, tls_tid, e->first, e->count, e->worker,
		             e->rank);
	else
		n = asprintf(&line,
		             "{\"name\":\"%s block\",\"cat\":\"%s\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,"
		             "\"pid\":%d,\"tid\":%d,\"args\":{\"items\":%" PRId64 ",\"rc\":%d}}",
		             name, cat, ts, dur, e->pid, tls_tid, e->block_items, e->rc);
	free(name);
	if (n < 0)
		return;
	pthread_mutex_lock(&t->lock);
	if (!t->closed) {
		fputs(t->any ? ",\n" : "", t->f);
		fputs(line, t->f);
		t->any = 1;
	}
	pthread_mutex_unlock(&t->lock);
	free(line);
}

/* path opened for writing, at descriptor 3 or above and close-on-exec: a
 * program that closed stdout must not print into its trace. */
static FILE *open_trace_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd >= 0 && fd <= 2) {
		int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		int e = errno;
		close(fd);
		errno = e;
		fd = moved;
	}
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f && fd >= 0) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return f;
}

int hamr_trace_open(hamr_hook *out, const char *path)
{
	if (!out || !path)
		return hamr__error_set(HAMR_EINVAL, "hamr_trace_open: bad arguments");
	trace *t = calloc(1, sizeof *t);
	if (!t)
		return hamr__error_set(HAMR_ENOMEM, "out of memory opening a trace");
	if (!(t->f = open_trace_file(path))) {
		free(t);
		return hamr__error_set(HAMR_EIO, "cannot write the trace \"%s\": %m", path);
	}
	pthread_mutex_init(&t->lock, NULL);
	fputs("[\n", t->f);
	out->fn = trace_event;
	out->userdata = t;
	return 0;
}

/* Ends the JSON array and closes the file; events after it are dropped. */
static void trace_finish(trace *t)
{
	pthread_mutex_lock(&t->lock);
	if (!t->closed) {
		fputs("\n]\n", t->f);
		fclose(t->f);
		t->closed = 1;
	}
	pthread_mutex_unlock(&t->lock);
}

void hamr_trace_close(hamr_hook *h)
{
	if (!h || h->fn != trace_event)
		return;
	trace *t = h->userdata;
	trace_finish(t);
	pthread_mutex_destroy(&t->lock);
	free(t);
	h->fn = NULL;
	h->userdata = NULL;
}

/* HAMR_TRACE: one trace for the process, opened at the first run, closed
 * at exit. */
static hamr_hook env_trace;
static int env_trace_rc;

/* At exit, runs may still be going (a worker of the default pool): the
 * trace is finished and closed, and later events dropped, but its memory
 * stays, since those runs hold the hook. */
static void env_trace_close(void)
{
	trace_finish(env_trace.userdata);
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

int hamr__trace_env(hamr_hook *out)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, env_trace_open);
	if (env_trace_rc)
		return hamr__error_set(env_trace_rc, "HAMR_TRACE=%s: the trace cannot be written",
		                       getenv("HAMR_TRACE"));
	*out = env_trace;
	return 0;
}
