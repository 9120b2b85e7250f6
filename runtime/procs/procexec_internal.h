/* SPDX-License-Identifier: MIT */
/* Internal: the process executor as run.c chooses it: a backend
 * (hamr/backend.h) whose instance is a pool of worker processes
 * (runtime/procs/procexec.c). Blocks and the node call reach it only
 * through the table. */
#ifndef HAMR_RUNTIME_PROCEXEC_INTERNAL_H
#define HAMR_RUNTIME_PROCEXEC_INTERNAL_H

#include "hamr/backend.h"

/* Its `self` is the hamr_procpool the run uses. A job runs a program per
 * task on the pool's workers: the outer values are written into the
 * arena once, at open; HAMR_ECODEC (naming node and type) when a value
 * cannot cross, HAMR_ENOMEM when the arena is full. */
extern const hamr_backend hamr__procs_backend;

#endif
