/* SPDX-License-Identifier: MIT */
/* Error codes. Every hamr call that can fail returns 0 or one of these
 * negative codes. They come from one X-macro table, so hamr_strerror() and
 * hamr_err_name() can never drift from the codes themselves. The details a
 * code cannot carry (which node, which dependency, which item) are in the
 * message of hamr_errmsg(), or in a failed run's error record. */
#ifndef HAMR_ERRNO_H
#define HAMR_ERRNO_H

#include "hamr/export.h"

/* X(NAME, value, message) */
#define HAMR_ERRNO_MAP(X)                                                    \
	X(EINVAL, -1, "invalid argument")                                    \
	X(ENOMEM, -2, "out of memory")                                       \
	X(ENOENT, -3, "no such node, output or value")                       \
	X(EDEP, -4, "unknown dependency")                                    \
	X(EDUP, -5, "duplicate node name")                                   \
	X(ECYCLE, -6, "dependency cycle")                                    \
	X(ETYPE, -7, "type mismatch")                                        \
	X(EINPUT, -8, "missing external input")                              \
	X(ECONFIG, -9, "bad config condition")                               \
	X(ECOLLECT, -10, "collect without a parallelizable upstream")        \
	X(EFAIL, -11, "node failed")                                         \
	X(ECANCELED, -12, "run cancelled")                                   \
	X(EMODULE, -13, "cannot load module")                                \
	X(ESTATE, -14, "call not valid in this state")                       \
	X(ENOTSUP, -15, "not supported by this executor")                    \
	X(ECODEC, -16, "cannot encode or decode value")                      \
	X(ERANGE, -17, "index or value out of range")                        \
	X(EBLOCK, -18, "map blocks that do not nest")                        \
	X(EIO, -19, "cannot read or write a file")                           \
	X(ECRASH, -20, "a worker process died running the node")            \
	X(ETIMEDOUT, -21, "the node ran past its time limit")

enum {
#define HAMR_ERRNO_ENUM_(name, value, msg) HAMR_##name = (value),
	HAMR_ERRNO_MAP(HAMR_ERRNO_ENUM_)
#undef HAMR_ERRNO_ENUM_
};

#ifdef __cplusplus
extern "C" {
#endif

/* Returns a static description of `code` ("unknown dependency"), or
 * "unknown error" for a code not in the table. Never NULL. */
HAMR_API const char *hamr_strerror(int code);

/* Returns the static name of `code` ("HAMR_EDEP"), or "HAMR_E?" for a code
 * not in the table; "HAMR_OK" for 0. Never NULL. */
HAMR_API const char *hamr_err_name(int code);

/* Returns the message of the last hamr call that failed on this thread
 * ("node \"total\" depends on unknown \"totl\"; did you mean \"total\"?").
 * The string is owned by hamr and stays valid until the next failing hamr
 * call on the same thread. Never NULL; "" when nothing failed yet. */
HAMR_API const char *hamr_errmsg(void);

#ifdef __cplusplus
}
#endif

#endif /* HAMR_ERRNO_H */
