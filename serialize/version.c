// SPDX-License-Identifier: MIT
/* The version of the loaded library, for programs that want to compare it
 * with the headers they were compiled against (HAMR_VERSION_STRING). */
#include "hamr/version.h"

const char *hamr_version(void)
{
	return HAMR_VERSION_STRING;
}
