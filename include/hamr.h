/* SPDX-License-Identifier: MIT */
/* hamr: dataflow graphs of C functions, Apache Hamilton's model in C.
 * One include for the whole public API. */
#ifndef HAMR_H
#define HAMR_H

#include "hamr/export.h"
#include "hamr/version.h"
#include "hamr/errno.h"
#include "hamr/value.h"
#include "hamr/graph.h"
#include "hamr/pool.h"
#include "hamr/runtime.h"
#include "hamr/hooks.h"
#include "hamr/process.h"
#include "hamr/backend.h"
#include "hamr/node.h"

#endif /* HAMR_H */
