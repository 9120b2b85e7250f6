/* SPDX-License-Identifier: MIT */
/* Internal: recording the message behind a failing call (hamr_errmsg). */
#ifndef HAMR_SERIALIZE_ERROR_INTERNAL_H
#define HAMR_SERIALIZE_ERROR_INTERNAL_H

#include <stdarg.h>

#include "hamr/errno.h"
#include "hamr/export.h"

/* Formats the calling thread's error message and returns `code`, so that
 * `return hamr__error_set(HAMR_EDEP, "node \"%s\" ...", name);` fails a call
 * with a message. */
int hamr__error_set(int code, const char *fmt, ...) HAMR_PRINTF(2, 3);
int hamr__error_vset(int code, const char *fmt, va_list ap);

/* The calling thread's message buffer, for code that composes a message in
 * several steps (hamr__error_set first, then hamr__error_append). */
int hamr__error_append(int code, const char *fmt, ...) HAMR_PRINTF(2, 3);

/* Whether rc is one of hamr's HAMR_E* codes. */
int hamr__error_is_code(int rc);

#endif
