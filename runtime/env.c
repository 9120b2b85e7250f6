// SPDX-License-Identifier: MIT
/* HAMR_* tuning variables. A knob's value comes from the API when the caller
 * set it, else from the environment, else from its default; a malformed
 * environment value is an error when the object it tunes is created, never
 * silently replaced by the default. */
#include <errno.h>
#include <stdlib.h>

#include "runtime/env_internal.h"
#include "serialize/error_internal.h"

int hamr__env_long(const char *name, long min, long max, long *out)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return 0;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	while (*end == ' ' || *end == '\t')
		end++;
	if (errno || end == s || *end || v < min || v > max)
		return hamr__error_set(HAMR_EINVAL,
		                       "%s=%s: expected a whole number from %ld to %ld",
		                       name, s, min, max);
	*out = v;
	return 1;
}
