/* SPDX-License-Identifier: MIT */
/* Which sanitizer a test is built with, for the tests that size or skip
 * cases by it: TSAN under ThreadSanitizer, SANITIZED under
 * ThreadSanitizer or AddressSanitizer. gcc says so with __SANITIZE_*__,
 * clang with __has_feature. */
#ifndef HAMR_TESTS_SANITIZERS_H
#define HAMR_TESTS_SANITIZERS_H

#if defined(__SANITIZE_THREAD__)
#define TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN 1
#endif
#endif

#if defined(TSAN) || defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

#endif
