/* SPDX-License-Identifier: MIT */
/* Symbol visibility for hamr's public API: everything is hidden by default
 * (-fvisibility=hidden) and exported with HAMR_API. */
#ifndef HAMR_EXPORT_H
#define HAMR_EXPORT_H

#if defined(HAMR_STATIC)
#define HAMR_API
#elif defined(__GNUC__) || defined(__clang__)
#define HAMR_API __attribute__((visibility("default")))
#else
#define HAMR_API
#endif

#if defined(__GNUC__) || defined(__clang__)
#define HAMR_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define HAMR_PRINTF(fmt, args)
#endif

#endif /* HAMR_EXPORT_H */
