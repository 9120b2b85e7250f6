// SPDX-License-Identifier: MIT
/* A module whose entry point returns a module without a node table:
 * loading it must fail with HAMR_EMODULE naming the module. */
#include <stddef.h>

#include <hamr.h>

static const hamr_module mod = {"hr_no_nodes", NULL};

HAMR_MODULE_EXPORT(mod)
