// SPDX-License-Identifier: MIT
/* A program that closed stdin, stdout and stderr before
 * hamr_processes_init: no descriptor hamr opens takes their numbers (each
 * one it keeps is 3 or above and close-on-exec), so the program's printf
 * writes into none of them (not the fork server's socket, not a pool's
 * memfd, not the HAMR_TRACE file) and its pools keep working; the fork
 * server and its workers have /dev/null on 0, 1 and 2, so a node's output
 * and warnings go nowhere.
 *
 * The test closes its own 0, 1 and 2 first thing in main, keeping copies
 * above them for its report, does everything with them closed, and checks
 * once they are back. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hamr.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/check.h"
#include "tests/nodes.h"
#include "tests/procfs.h"

/* Squares its item, talking on stdout and stderr on the way. */
static int f_loud_square(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	printf("item %lld\n", (long long)x);
	fflush(stdout);
	fprintf(stderr, "warning: item %lld\n", (long long)x);
	return hamr_ret_i64(c, x * x);
}

static int f_pid(hamr_call *c)
{
	return hamr_ret_i64(c, (int64_t)getpid());
}

static const hamr_node_def defs[] = {
	{.name = "n", .type = HAMR_I64, .kind = HAMR_NODE_INPUT},
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "square", .fn = f_loud_square, .type = HAMR_I64,
	 .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("square", HAMR_I64))},
	{.name = "pid", .fn = f_pid, .type = HAMR_I64},
	{0}};

#define N 100
#define WANT ((int64_t)(N - 1) * N * (2 * N - 1) / 6)

/* One run of the graph on pool p: its rc, the total and the pid of the
 * worker that ran "pid". */
static int run_once(hamr_procpool *p, int64_t *total, int64_t *pid)
{
	hamr_module m = {"closed_fds", defs};
	hamr_graph *g = NULL;
	hamr_plan *plan = NULL;
	hamr_run *r = NULL;
	hamr_values *in = NULL;
	const char *outs[] = {"total", "pid"};
	int rc;
	*total = *pid = -1;
	if ((rc = hamr_graph_create(&g)) || (rc = hamr_graph_add_module(g, &m)) ||
	    (rc = hamr_values_create(&in)) || (rc = hamr_values_set_i64(in, "n", N)) ||
	    (rc = hamr_plan_create(&plan, g, outs, 2, in)))
		goto out;
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	o.executor = HAMR_EXEC_PROCESSES;
	o.remote = HAMR_REMOTE_PROCESSES;
	o.procpool = p;
	if ((rc = hamr_run_execute(&r, plan, in, &o)) || (rc = hamr_run_result_i64(r, "total", total)))
		goto out;
	rc = hamr_run_result_i64(r, "pid", pid);
out:
	hamr_run_destroy(r);
	hamr_plan_destroy(plan);
	hamr_values_destroy(in);
	hamr_graph_destroy(g);
	return rc;
}

/* What descriptor fd of process pid points to ("" when it is closed). */
static void link_of(pid_t pid, int fd, char *out, size_t cap)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, fd);
	ssize_t n = readlink(path, out, cap - 1);
	out[n > 0 ? n : 0] = '\0';
}

/* Whether descriptor fd of process pid is close-on-exec (its fdinfo's
 * flags), -1 when it cannot be read. */
static int cloexec_of(pid_t pid, int fd)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", (int)pid, fd);
	FILE *f = fopen(path, "r");
	int result = -1;
	while (f && fgets(line, sizeof line, f)) {
		unsigned flags;
		if (sscanf(line, "flags: %o", &flags) == 1)
			result = (flags & O_CLOEXEC) != 0;
	}
	if (f)
		fclose(f);
	return result;
}

#define MAX_FDS 64

/* The descriptors of process pid (the one reading them left out), in
 * fds; their number. */
static int fds_of(pid_t pid, int *fds)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	int n = 0, own = d ? dirfd(d) : -1;
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		int fd = atoi(e->d_name);
		if ((pid != getpid() || fd != own) && n < MAX_FDS)
			fds[n++] = fd;
	}
	if (d)
		closedir(d);
	return n;
}

static int in_list(int fd, const int *fds, int n)
{
	for (int k = 0; k < n; k++)
		if (fds[k] == fd)
			return 1;
	return 0;
}

int main(void)
{
	/* the test's own descriptors, before hamr opens any */
	int before[MAX_FDS], n_before = fds_of(getpid(), before);
	int saved[3];
	for (int k = 0; k < 3; k++)
		saved[k] = fcntl(k, F_DUPFD_CLOEXEC, 10);
	for (int k = 0; k < 3; k++)
		close(k);

	/* everything with 0, 1 and 2 closed (nothing is printed here) */
	char trace[PATH_MAX];
	if (!getcwd(trace, sizeof trace - 32))
		strcpy(trace, ".");
	strcat(trace, "/test_closed_fds.trace.json");
	setenv("HAMR_TRACE", trace, 1);
	hamr_procpool *pool = NULL;
	int rc_init = hamr_processes_init();
	int rc_pool = hamr_procpool_create(&pool, &(hamr_procpool_opts){.processes = 2});
	int64_t total1 = 0, total2 = 0, worker = 0, worker2 = 0;
	int rc1 = run_once(pool, &total1, &worker);
	/* the program's own printf goes nowhere, and breaks nothing */
	printf("the program prints into its closed stdout\n");
	int flushed = fflush(stdout);
	fprintf(stderr, "the program warns into its closed stderr\n");
	int rc2 = run_once(pool, &total2, &worker2);
	int low_open[3];
	for (int k = 0; k < 3; k++)
		low_open[k] = fcntl(k, F_GETFD) >= 0;
	int now[MAX_FDS], n_now = fds_of(getpid(), now);
	int now_cloexec[MAX_FDS];
	for (int k = 0; k < n_now; k++)
		now_cloexec[k] = (fcntl(now[k], F_GETFD) & FD_CLOEXEC) != 0;
	pid_t server = worker > 0 ? parent_of((pid_t)worker) : 0;
	char server_std[3][PATH_MAX], worker_std[3][PATH_MAX];
	for (int k = 0; k < 3; k++) {
		link_of(server, k, server_std[k], PATH_MAX);
		link_of((pid_t)worker, k, worker_std[k], PATH_MAX);
	}
	int server_fds[MAX_FDS], n_server = server ? fds_of(server, server_fds) : 0;
	int server_cloexec[MAX_FDS];
	for (int k = 0; k < n_server; k++)
		server_cloexec[k] = cloexec_of(server, server_fds[k]);

	/* back: the report */
	for (int k = 0; k < 3; k++) {
		dup2(saved[k], k);
		close(saved[k]);
	}
	clearerr(stdout);
	check_current = "closed_stdio";
	CHECK_OK(rc_init);
	CHECK_OK(rc_pool);
	CHECK_OK(rc1);
	CHECK_EQ_INT(total1, WANT);
	CHECK_OK(rc2);
	CHECK_EQ_INT(total2, WANT);
	CHECK(worker > 0 && worker != getpid());
	/* stdout was closed: the program's flush failed instead of landing
	 * in one of hamr's descriptors */
	CHECK_EQ_INT(flushed, EOF);
	/* hamr opened nothing at 0, 1 or 2 ... */
	for (int k = 0; k < 3; k++)
		CHECK_EQ_INT(low_open[k], 0);
	/* ... and what it keeps is close-on-exec */
	int hamrs = 0;
	for (int k = 0; k < n_now; k++) {
		int fd = now[k];
		if (in_list(fd, before, n_before) || fd == saved[0] || fd == saved[1] || fd == saved[2])
			continue;
		hamrs++;
		if (fd < 3 || !now_cloexec[k])
			fprintf(stderr, "descriptor %d: cloexec %d\n", fd, now_cloexec[k]);
		CHECK(fd >= 3);
		CHECK(now_cloexec[k]);
	}
	CHECK(hamrs >= 3); /* the server's socket, the pool's memfd, the trace */
	/* the server and its workers have /dev/null where the program had
	 * nothing; the server's own descriptors are above them */
	CHECK(server > 0 && server != getpid());
	for (int k = 0; k < 3; k++) {
		CHECK_EQ_STR(server_std[k], "/dev/null");
		CHECK_EQ_STR(worker_std[k], "/dev/null");
	}
	int server_own = 0;
	for (int k = 0; k < n_server; k++) {
		if (server_fds[k] < 3 || in_list(server_fds[k], before, n_before) ||
		    server_fds[k] == saved[0] || server_fds[k] == saved[1] || server_fds[k] == saved[2])
			continue;
		server_own++;
		CHECK_EQ_INT(server_cloexec[k], 1);
	}
	CHECK(server_own >= 2); /* its socket and its signalfd */
	/* nothing of the program's or its workers' output reached the trace */
	FILE *f = fopen(trace, "r");
	char buf[1 << 16];
	size_t len = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	buf[len] = '\0';
	if (f)
		fclose(f);
	CHECK(len > 0 && buf[0] == '[');
	CHECK(strstr(buf, "prints into") == NULL);
	CHECK(strstr(buf, "warns into") == NULL);
	CHECK(strstr(buf, "item ") == NULL);
	hamr_procpool_destroy(pool);
	unlink(trace);
	if (check_failures)
		fprintf(stderr, "FAIL closed_stdio (%d failed checks)\n", check_failures);
	else
		printf("ok   closed_stdio\n");
	return check_failures ? 1 : 0;
}
