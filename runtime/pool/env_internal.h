/* SPDX-License-Identifier: MIT */
/* Internal: reading HAMR_* tuning variables, strictly, and saying where
 * each knob's value came from. */
#ifndef HAMR_RUNTIME_ENV_INTERNAL_H
#define HAMR_RUNTIME_ENV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Reads environment variable `name` as a whole number in [min, max].
 * Returns 0 with *out unchanged when the variable is unset or empty, 1 with
 * *out set when it holds a valid number, and HAMR_EINVAL with a message
 * naming the variable, its value and the range when it is malformed. The
 * first call in the process also warns about HAMR_* variables hamr does
 * not know (hamr__env_check). */
int hamr__env_long(const char *name, long min, long max, long *out);

/* Where a knob's value came from. */
typedef enum hamr__source { HAMR__FROM_DEFAULT, HAMR__FROM_ENV, HAMR__FROM_API } hamr__source;

/* One knob's effective value, for HAMR_DISPLAY_ENV. */
typedef struct hamr__knob_value {
	const char *name; /* HAMR_WORKERS, ... */
	long value;
	const char *text; /* a value that is a word; NULL: `value` */
	hamr__source source;
} hamr__knob_value;

/* A knob's value: `api` unless it is `unset`, else environment variable
 * `env` (a whole number in [min, max]), else `dflt`; *from says which.
 * 0 or HAMR_EINVAL (a malformed variable). */
int hamr__knob_resolve(long api, long unset, const char *env, long min, long max, long dflt,
                       long *out, hamr__source *from);

/* hamr__env_long for a size in bytes: a whole number with an optional K,
 * M or G suffix (powers of 1024, as OMP_STACKSIZE takes them; a B may
 * follow), such as 256M. */
int hamr__env_size(const char *name, long min, long max, long *out);

/* hamr__knob_resolve for a size, read from the environment with
 * hamr__env_size. */
int hamr__knob_resolve_size(long api, long unset, const char *env, long min, long max,
                            long dflt, long *out, hamr__source *from);

/* Whether HAMR_DISPLAY_ENV is set to 1 (or true). */
int hamr__env_displaying(void);

/* With HAMR_DISPLAY_ENV set to 1 (or true), prints the knobs `what` (a
 * pool, a run) resolved to, each with its value and source, on stderr,
 * between lines as OpenMP's OMP_DISPLAY_ENV prints them. */
void hamr__env_display(const char *what, const hamr__knob_value *k, size_t n);

/* Once per process: warns on stderr about every HAMR_* variable that
 * names no knob, with the nearest known name. */
void hamr__env_check(void);

/* The runtime's one clock: CLOCK_MONOTONIC now, in nanoseconds. */
int64_t hamr__now_ns(void);

#endif
