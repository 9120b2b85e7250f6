/* SPDX-License-Identifier: MIT */
/* Internal: ending a thread's worker-local resources. */
#ifndef HAMR_RUNTIME_RESOURCE_INTERNAL_H
#define HAMR_RUNTIME_RESOURCE_INTERNAL_H

#include "hamr/pool.h"

/* Destroys every resource object the calling thread made. Pool workers
 * call it as they stop; other threads get it at exit. */
void hamr__resource_thread_end(void);

/* Whether any resource was registered in this process: then a run's nodes
 * run on its pool's own threads alone (hamr__pool_claim), so that each
 * worker's objects are made and destroyed by its thread, once. */
int hamr__resource_any(void);

#endif
