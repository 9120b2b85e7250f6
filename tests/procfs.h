/* SPDX-License-Identifier: MIT */
/* What /proc says of a process, for the tests of the fork server and its
 * workers: whether it is there, in what state, and whose child it is. */
#ifndef HAMR_TESTS_PROCFS_H
#define HAMR_TESTS_PROCFS_H

#include <stdio.h>
#include <string.h>
#include <sys/types.h>

/* The state of process pid from /proc ('R', 'S', 'T', 'Z', ...), or 0
 * when it is gone; *ppid gets its parent, when ppid is not NULL. */
static inline char proc_state(pid_t pid, pid_t *ppid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *close_paren = strrchr(buf, ')');
	char state = 0;
	int pp = 0;
	if (close_paren && sscanf(close_paren + 1, " %c %d", &state, &pp) == 2 && ppid)
		*ppid = pp;
	return state;
}

/* The parent of process pid, 0 when it is gone. */
static inline pid_t parent_of(pid_t pid)
{
	pid_t ppid = 0;
	proc_state(pid, &ppid);
	return ppid;
}

#endif
