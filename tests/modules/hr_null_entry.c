// SPDX-License-Identifier: MIT
/* A module whose hamr_module_entry() returns NULL, as one that failed to
 * set itself up would: loading it must fail with HAMR_EMODULE saying that
 * the entry point returned NULL, not that there is none. */
#include <stddef.h>

#include <hamr.h>

__attribute__((visibility("default"))) const hamr_module *hamr_module_entry(void);
const hamr_module *hamr_module_entry(void)
{
	return NULL;
}
