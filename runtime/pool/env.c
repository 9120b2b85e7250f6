// SPDX-License-Identifier: MIT
/* HAMR_* tuning variables. A knob's value comes from the API when the caller
 * set it, else from the environment, else from its default; a malformed
 * environment value is an error when the object it tunes is created, never
 * silently replaced by the default.
 *
 * The list below is every variable hamr reads. The first time one is read,
 * hamr warns about any other HAMR_* variable in the environment (a typo
 * such as HAMR_WORKER=4 would otherwise do nothing, silently), naming the
 * nearest known one. HAMR_DISPLAY_ENV=1 prints what each pool, and the
 * first run of each executor in the process, resolved its knobs to, and
 * from where, as OpenMP's OMP_DISPLAY_ENV does. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hamr/version.h"
#include "runtime/pool/env_internal.h"
#include "serialize/error_internal.h"
#include "serialize/spelling_internal.h"

extern char **environ;

static const char *const known[] = {
	"HAMR_WORKERS", "HAMR_SPIN", "HAMR_PIN", "HAMR_BLOCKING_WORKERS", "HAMR_GRAIN", "HAMR_STACK",
	"HAMR_EXECUTOR", "HAMR_GROUPING", "HAMR_MAX_INFLIGHT", "HAMR_MAX_ITEMS", "HAMR_MAX_TASKS",
	"HAMR_PROCESSES", "HAMR_ARENA_SIZE", "HAMR_TASK_TIMEOUT", "HAMR_RETRIES", "HAMR_CHILD_MEMORY",
	"HAMR_DISPLAY_ENV", "HAMR_TRACE", "HAMR_STATS",
	/* read by libhamr_mpi (include/hamr/mpi.h) */
	"HAMR_MPI_DEPTH", "HAMR_MPI_BATCH", "HAMR_MPI_EAGER",
	"HAMR_MPI_RANK_EXEC", "HAMR_MPI_ROOT_ITEMS",
	/* read by the tests and tools/check.sh, not by the library */
	"HAMR_TEST_LONG", "HAMR_CHECK_SETARCH"};

static void check_environment(void)
{
	for (char **e = environ; e && *e; e++) {
		if (strncmp(*e, "HAMR_", 5))
			continue;
		const char *eq = strchr(*e, '=');
		size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
		char name[64];
		if (len >= sizeof name)
			len = sizeof name - 1;
		memcpy(name, *e, len);
		name[len] = '\0';
		const char *best = NULL;
		size_t best_d = 4; /* nearer than this, or no hint */
		int found = 0;
		for (size_t k = 0; k < sizeof known / sizeof *known && !found; k++) {
			if (!strcmp(name, known[k])) {
				found = 1;
				break;
			}
			size_t d = hamr__edit_distance(name, known[k], best_d - 1);
			if (d < best_d) {
				best_d = d;
				best = known[k];
			}
		}
		if (found)
			continue;
		if (best)
			fprintf(stderr, "hamr: warning: unknown variable %s; did you mean %s?\n", name,
			        best);
		else
			fprintf(stderr, "hamr: warning: unknown variable %s (hamr reads none of that name)\n",
			        name);
	}
}

static void check_display(void)
{
	const char *d = getenv("HAMR_DISPLAY_ENV");
	if (d && *d && strcmp(d, "0") && strcmp(d, "1") && strcmp(d, "true") && strcmp(d, "false"))
		fprintf(stderr, "hamr: warning: HAMR_DISPLAY_ENV=%s: expected 1 or 0 (true or false); ignored\n",
		        d);
}

void hamr__env_check(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, check_environment);
	static pthread_once_t display = PTHREAD_ONCE_INIT;
	pthread_once(&display, check_display);
}

/* Variable `name` read as a number in [min, max]: with `sizes`, one that
 * may end in K, M or G (then B), which multiply it by 1024 each; else a
 * whole number. 0 when unset or empty, 1 with *out, or HAMR_EINVAL. */
static int env_number(const char *name, long min, long max, int sizes, long *out)
{
	hamr__env_check();
	const char *s = getenv(name);
	if (!s || !*s)
		return 0;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	int shift = 0;
	if (sizes) {
		switch (*end) {
		case 'k': case 'K': shift = 10; end++; break;
		case 'm': case 'M': shift = 20; end++; break;
		case 'g': case 'G': shift = 30; end++; break;
		default: break;
		}
		if (*end == 'b' || *end == 'B')
			end++;
	}
	while (*end == ' ' || *end == '\t')
		end++;
	/* v > max >> shift first: the product below cannot overflow */
	if (errno || end == s || *end || v > (max >> shift) || v * (1L << shift) < min) {
		if (sizes)
			return hamr__error_set(HAMR_EINVAL,
			                       "%s=%s: expected a size in bytes from %ld to %ld, with "
			                       "an optional K, M or G suffix (e.g. 64M)",
			                       name, s, min, max);
		return hamr__error_set(HAMR_EINVAL, "%s=%s: expected a whole number from %ld to %ld",
		                       name, s, min, max);
	}
	*out = v * (1L << shift);
	return 1;
}

int hamr__env_long(const char *name, long min, long max, long *out)
{
	return env_number(name, min, max, 0, out);
}

int hamr__env_size(const char *name, long min, long max, long *out)
{
	return env_number(name, min, max, 1, out);
}

static int resolve(long api, long unset, const char *env, long min, long max, long dflt,
                   long *out, hamr__source *from,
                   int (*read)(const char *, long, long, long *))
{
	if (api != unset) {
		*out = api;
		*from = HAMR__FROM_API;
		return 0;
	}
	*out = dflt;
	int rc = read(env, min, max, out);
	if (rc < 0)
		return rc;
	*from = rc ? HAMR__FROM_ENV : HAMR__FROM_DEFAULT;
	return 0;
}

int hamr__knob_resolve(long api, long unset, const char *env, long min, long max, long dflt,
                       long *out, hamr__source *from)
{
	return resolve(api, unset, env, min, max, dflt, out, from, hamr__env_long);
}

int hamr__knob_resolve_size(long api, long unset, const char *env, long min, long max,
                            long dflt, long *out, hamr__source *from)
{
	return resolve(api, unset, env, min, max, dflt, out, from, hamr__env_size);
}

int hamr__env_displaying(void)
{
	const char *d = getenv("HAMR_DISPLAY_ENV");
	return d && (!strcmp(d, "1") || !strcmp(d, "true"));
}

void hamr__env_display(const char *what, const hamr__knob_value *k, size_t n)
{
	if (!hamr__env_displaying())
		return;
	static const char *const from[] = {"default", "environment", "API"};
	/* one block at a time, whole, even from several threads */
	flockfile(stderr);
	fprintf(stderr, "HAMR DISPLAY ENVIRONMENT BEGIN (%s)\n", what);
	fprintf(stderr, "  _HAMR_VERSION = '%s'\n", HAMR_VERSION_STRING);
	for (size_t i = 0; i < n; i++) {
		if (k[i].text)
			fprintf(stderr, "  %s = '%s' (%s)\n", k[i].name, k[i].text, from[k[i].source]);
		else
			fprintf(stderr, "  %s = '%ld' (%s)\n", k[i].name, k[i].value, from[k[i].source]);
	}
	fprintf(stderr, "HAMR DISPLAY ENVIRONMENT END\n");
	funlockfile(stderr);
}

int64_t hamr__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
