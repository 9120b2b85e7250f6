/* SPDX-License-Identifier: MIT */
/* hamr's version, as numbers for the preprocessor and as a call for the
 * library that is actually loaded. */
#ifndef HAMR_VERSION_H
#define HAMR_VERSION_H

#include "hamr/export.h"

#define HAMR_VERSION_MAJOR 0
#define HAMR_VERSION_MINOR 11
#define HAMR_VERSION_PATCH 0
#define HAMR_VERSION_STRING "0.11.0"

#ifdef __cplusplus
extern "C" {
#endif

/* Returns the version of the loaded library as a static string. */
HAMR_API const char *hamr_version(void);

#ifdef __cplusplus
}
#endif

#endif /* HAMR_VERSION_H */
