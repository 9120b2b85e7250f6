/* SPDX-License-Identifier: MIT */
/* Internal: ending a thread's worker-local resources. */
#ifndef HAMR_RUNTIME_RESOURCE_INTERNAL_H
#define HAMR_RUNTIME_RESOURCE_INTERNAL_H

#include "hamr/pool.h"

/* Destroys every resource object the calling thread made. Pool workers
 * call it as they stop; other threads get it at exit. */
void hamr__resource_thread_end(void);

#endif
