// SPDX-License-Identifier: MIT
/* Error codes and messages.
 *
 * The codes live in one X-macro table (include/hamr/errno.h); the two lookup
 * functions are generated from it. Messages are per thread, like dlerror():
 * a failing call formats what went wrong, naming nodes and dependencies,
 * into a thread-local buffer that hamr_errmsg() returns. No allocation, so a
 * message can be recorded even when memory ran out. */
#include <stdio.h>
#include <string.h>

#include "serialize/error_internal.h"

#define MSG_CAP 1024

static _Thread_local char msg_buf[MSG_CAP];

const char *hamr_strerror(int code)
{
	switch (code) {
	case 0:
		return "success";
#define HAMR_ERRNO_STR_(name, value, msg)                                    \
	case HAMR_##name:                                                    \
		return msg;
		HAMR_ERRNO_MAP(HAMR_ERRNO_STR_)
#undef HAMR_ERRNO_STR_
	default:
		return "unknown error";
	}
}

int hamr__error_is_code(int rc)
{
	return rc < 0 && strcmp(hamr_err_name(rc), "HAMR_E?") != 0;
}

const char *hamr_err_name(int code)
{
	switch (code) {
	case 0:
		return "HAMR_OK";
#define HAMR_ERRNO_NAME_(name, value, msg)                                   \
	case HAMR_##name:                                                    \
		return "HAMR_" #name;
		HAMR_ERRNO_MAP(HAMR_ERRNO_NAME_)
#undef HAMR_ERRNO_NAME_
	default:
		return "HAMR_E?";
	}
}

const char *hamr_errmsg(void)
{
	return msg_buf;
}

int hamr__error_vset(int code, const char *fmt, va_list ap)
{
	vsnprintf(msg_buf, sizeof msg_buf, fmt, ap);
	return code;
}

int hamr__error_set(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	hamr__error_vset(code, fmt, ap);
	va_end(ap);
	return code;
}

int hamr__error_append(int code, const char *fmt, ...)
{
	size_t len = strlen(msg_buf);
	va_list ap;
	if (len + 1 >= sizeof msg_buf)
		return code;
	va_start(ap, fmt);
	vsnprintf(msg_buf + len, sizeof msg_buf - len, fmt, ap);
	va_end(ap);
	return code;
}
