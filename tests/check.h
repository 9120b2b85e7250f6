/* SPDX-License-Identifier: MIT */
/* A minimal test harness: CHECK* macros that report file, line and the
 * values involved, count failures, and keep going; TEST_MAIN runs the
 * listed tests and exits non-zero if any check failed. */
#ifndef HAMR_TESTS_CHECK_H
#define HAMR_TESTS_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hamr/errno.h"

static int check_failures;
static const char *check_current = "";

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n",     \
			        __FILE__, __LINE__, check_current, #cond);   \
			check_failures++;                                    \
		}                                                            \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                   \
	do {                                                                 \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b); \
		if (check_a_ != check_b_) {                                  \
			fprintf(stderr, "%s:%d: %s: %s == %s failed: %lld vs %lld\n", \
			        __FILE__, __LINE__, check_current, #a, #b,   \
			        check_a_, check_b_);                         \
			check_failures++;                                    \
		}                                                            \
	} while (0)

#define CHECK_EQ_STR(a, b)                                                   \
	do {                                                                 \
		const char *check_a_ = (a), *check_b_ = (b);                 \
		if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_)) {  \
			fprintf(stderr, "%s:%d: %s: %s == %s failed: \"%s\" vs \"%s\"\n", \
			        __FILE__, __LINE__, check_current, #a, #b,   \
			        check_a_ ? check_a_ : "(null)",              \
			        check_b_ ? check_b_ : "(null)");             \
			check_failures++;                                    \
		}                                                            \
	} while (0)

/* The string `hay` contains `needle`. */
#define CHECK_CONTAINS(hay, needle)                                          \
	do {                                                                 \
		const char *check_h_ = (hay), *check_n_ = (needle);          \
		if (!check_h_ || !strstr(check_h_, check_n_)) {              \
			fprintf(stderr, "%s:%d: %s: \"%s\" does not contain \"%s\"\n", \
			        __FILE__, __LINE__, check_current,           \
			        check_h_ ? check_h_ : "(null)", check_n_);   \
			check_failures++;                                    \
		}                                                            \
	} while (0)

/* A hamr call returned `code` (0 or a negative HAMR_E*). */
#define CHECK_RC(call, code)                                                 \
	do {                                                                 \
		int check_rc_ = (call);                                      \
		if (check_rc_ != (code)) {                                   \
			fprintf(stderr, "%s:%d: %s: %s returned %s (%d), want %s: %s\n", \
			        __FILE__, __LINE__, check_current, #call,    \
			        hamr_err_name(check_rc_), check_rc_,         \
			        hamr_err_name(code), hamr_errmsg());         \
			check_failures++;                                    \
		}                                                            \
	} while (0)

#define CHECK_OK(call) CHECK_RC(call, 0)

#define RUN_TEST(fn)                                                         \
	do {                                                                 \
		int check_before_ = check_failures;                          \
		check_current = #fn;                                         \
		fn();                                                        \
		printf("%s %s\n", check_failures == check_before_ ? "ok  " : "FAIL", #fn); \
	} while (0)

/* RUN_TEST(fn) with *pool a pool of 3 workers (more than the cores CI
 * has: more interleavings), then of 1 (the calling thread runs each
 * hamr_run_execute in the worker's place). */
#define RUN_TEST_ON_3_AND_1_WORKERS(pool, fn)                                \
	for (int workers_ = 3; workers_ >= 1; workers_ -= 2) {               \
		hamr_pool_opts po_ = HAMR_POOL_OPTS_INIT;                    \
		po_.workers = workers_;                                      \
		CHECK_OK(hamr_pool_create((pool), &po_));                    \
		printf("  on %d worker(s)\n", workers_);                     \
		RUN_TEST(fn);                                                \
		hamr_pool_destroy(*(pool));                                  \
	}

#define TEST_EXIT()                                                          \
	do {                                                                 \
		if (check_failures)                                          \
			fprintf(stderr, "%d check(s) failed\n", check_failures); \
		return check_failures ? 1 : 0;                               \
	} while (0)

#endif
