/* SPDX-License-Identifier: MIT */
/* What a test's own calls write to stderr, captured in a file and read
 * back: capture_begin(&c), the calls, then capture_end(&c) returns the
 * text (a static buffer, valid until the next capture_end). For warnings
 * and HAMR_DISPLAY_ENV's lines, which hamr writes to stderr. */
#ifndef HAMR_TESTS_CAPTURE_H
#define HAMR_TESTS_CAPTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/check.h"

typedef struct capture {
	char path[40];
	int fd, saved;
} capture;

static inline void capture_begin(capture *c)
{
	snprintf(c->path, sizeof c->path, "/tmp/hamr-test-stderr-XXXXXX");
	c->fd = mkstemp(c->path);
	c->saved = dup(2);
	CHECK(c->fd >= 0 && c->saved >= 0);
	fflush(stderr);
	dup2(c->fd, 2);
}

static inline const char *capture_end(capture *c)
{
	static char buf[16384];
	fflush(stderr);
	dup2(c->saved, 2);
	close(c->saved);
	close(c->fd);
	FILE *f = fopen(c->path, "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		fclose(f);
	unlink(c->path);
	return buf;
}

#endif
