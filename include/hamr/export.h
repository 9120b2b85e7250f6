/* SPDX-License-Identifier: MIT */
/* Symbol visibility for hamr's public API: everything is hidden by default
 * (-fvisibility=hidden) and exported with HAMR_API. Also the conventions
 * every public header shares (HAMR_OFF). */
#ifndef HAMR_EXPORT_H
#define HAMR_EXPORT_H

#if defined(HAMR_STATIC)
#define HAMR_API
#elif defined(__GNUC__) || defined(__clang__)
#define HAMR_API __attribute__((visibility("default")))
#else
#define HAMR_API
#endif

/* The entry point of a module built as a shared object (graph.h's
 * HAMR_MODULE_EXPORT): exported even where HAMR_STATIC hides HAMR_API,
 * since the loader finds it in the module's .so with dlsym. */
#if defined(__GNUC__) || defined(__clang__)
#define HAMR_MODULE_API __attribute__((visibility("default")))
#else
#define HAMR_MODULE_API
#endif

#if defined(__GNUC__) || defined(__clang__)
#define HAMR_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define HAMR_PRINTF(fmt, args)
#endif

/* An int option set to HAMR_OFF is an explicit zero/off, where 0 means
 * unset: the environment variable, else the default. So `{.workers = 4}`
 * leaves every other field to the environment, and `.spin_us = HAMR_OFF`
 * asks for no spinning at all (hamr_pool_opts in hamr/pool.h). */
#define HAMR_OFF (-1)

#endif /* HAMR_EXPORT_H */
