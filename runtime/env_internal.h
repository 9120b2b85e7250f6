/* SPDX-License-Identifier: MIT */
/* Internal: reading HAMR_* tuning variables, strictly. */
#ifndef HAMR_RUNTIME_ENV_INTERNAL_H
#define HAMR_RUNTIME_ENV_INTERNAL_H

/* Reads environment variable `name` as a whole number in [min, max].
 * Returns 0 with *out unchanged when the variable is unset or empty, 1 with
 * *out set when it holds a valid number, and HAMR_EINVAL with a message
 * naming the variable, its value and the range when it is malformed. */
int hamr__env_long(const char *name, long min, long max, long *out);

#endif
