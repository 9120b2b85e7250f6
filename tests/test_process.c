// SPDX-License-Identifier: MIT
/* The fork server and pools of worker processes: started before any thread
 * (and refused after, with the fix in the message), workers forked by the
 * server (not by the program), stopped and reaped on destroy, gone with
 * the program when it dies, HAMR_PROCESSES read strictly.
 *
 * The test makes itself a child subreaper, so that workers orphaned by a
 * dying fork server come back to it to be reaped, wherever it runs. */
#include <hamr.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/check.h"
#include "tests/procfs.h"
#include "tests/sanitizers.h"

/* Waits until pid is gone, reaping it here when it comes back to this
 * subreaper as an orphan: however long that takes (a process that never
 * goes fails the test by its timeout, not by a guess at how long dying
 * takes on a loaded machine). */
static int gone(pid_t pid)
{
	for (;;) {
		while (waitpid(-1, NULL, WNOHANG) > 0) /* orphans that came back */
			;
		if (!proc_state(pid, NULL))
			return 1;
		struct timespec ms = {0, 1000000};
		nanosleep(&ms, NULL);
	}
}

static void test_pools_of_workers(void)
{
	hamr_procpool *a = NULL, *b = NULL;
	CHECK_OK(hamr_procpool_create(&a, &(hamr_procpool_opts){.processes = 2}));
	CHECK_OK(hamr_procpool_create(&b, &(hamr_procpool_opts){.processes = 3}));
	CHECK_EQ_INT(hamr_procpool_size(a), 2);
	CHECK_EQ_INT(hamr_procpool_size(b), 3);
	CHECK_EQ_INT(hamr_procpool_pid(a, 2), -1);
	pid_t server = 0;
	for (int i = 0; i < 2; i++) {
		pid_t pid = hamr_procpool_pid(a, i), parent = 0;
		CHECK(pid > 0 && pid != getpid());
		CHECK(proc_state(pid, &parent) != 0);
		/* forked by the server, not by this program */
		CHECK(parent != getpid() && parent > 0);
		if (!server)
			server = parent;
		CHECK_EQ_INT(parent, server);
		pid_t sp = 0;
		proc_state(server, &sp);
		CHECK_EQ_INT(sp, getpid()); /* and the server by this program */
	}
	pid_t a0 = hamr_procpool_pid(a, 0), a1 = hamr_procpool_pid(a, 1);
	hamr_procpool_destroy(a);
	/* stopped and reaped by the server: not even zombies */
	CHECK(!proc_state(a0, NULL) && !proc_state(a1, NULL));
	/* the other pool is untouched */
	for (int i = 0; i < 3; i++)
		CHECK(proc_state(hamr_procpool_pid(b, i), NULL) != 0);
	hamr_procpool_destroy(b);
	hamr_procpool_destroy(NULL);
	CHECK_RC(hamr_procpool_create(&a, &(hamr_procpool_opts){.processes = 2000}), HAMR_EINVAL);
	CHECK_RC(hamr_procpool_create(&a, &(hamr_procpool_opts){.arena_size = 4096}), HAMR_EINVAL);
	CHECK_CONTAINS(hamr_errmsg(), "arena_size = 4096");
	/* HAMR_ARENA_SIZE and HAMR_CHILD_MEMORY, strictly */
	setenv("HAMR_ARENA_SIZE", "big", 1);
	CHECK_RC(hamr_procpool_create(&a, NULL), HAMR_EINVAL);
	CHECK_CONTAINS(hamr_errmsg(), "HAMR_ARENA_SIZE=big");
	unsetenv("HAMR_ARENA_SIZE");
	setenv("HAMR_CHILD_MEMORY", "12", 1); /* below 1 MiB */
	CHECK_RC(hamr_procpool_create(&a, NULL), HAMR_EINVAL);
	CHECK_CONTAINS(hamr_errmsg(), "HAMR_CHILD_MEMORY");
	unsetenv("HAMR_CHILD_MEMORY");
	/* HAMR_PROCESSES sizes a pool of 0, strictly */
	setenv("HAMR_PROCESSES", "3", 1);
	CHECK_OK(hamr_procpool_create(&a, &(hamr_procpool_opts){.processes = 0}));
	CHECK_EQ_INT(hamr_procpool_size(a), 3);
	hamr_procpool_destroy(a);
	setenv("HAMR_PROCESSES", "many", 1);
	CHECK_RC(hamr_procpool_create(&a, &(hamr_procpool_opts){.processes = 0}), HAMR_EINVAL);
	CHECK_CONTAINS(hamr_errmsg(), "HAMR_PROCESSES=many");
	unsetenv("HAMR_PROCESSES");
}

/* In a child of the test: starts a server and 2 workers, writes their pids
 * to `fd`, and waits to be killed. */
__attribute__((unused)) static void doomed_program(int fd)
{
	hamr_procpool *p = NULL;
	if (hamr_processes_init() || hamr_procpool_create(&p, &(hamr_procpool_opts){.processes = 2}))
		_exit(3);
	pid_t pids[2] = {hamr_procpool_pid(p, 0), hamr_procpool_pid(p, 1)};
	if (write(fd, pids, sizeof pids) != (ssize_t)sizeof pids)
		_exit(4);
	pause();
	_exit(0);
}

__attribute__((unused)) static void test_workers_die_with_the_program(void)
{
	int fd[2];
	CHECK_OK(pipe(fd));
	fflush(stdout); /* the child must not print what this process buffered */
	pid_t child = fork();
	if (child == 0) {
		close(fd[0]);
		doomed_program(fd[1]);
	}
	close(fd[1]);
	pid_t pids[2] = {0, 0};
	CHECK_EQ_INT(read(fd[0], pids, sizeof pids), (ssize_t)sizeof pids);
	close(fd[0]);
	CHECK(pids[0] > 0 && pids[1] > 0 && proc_state(pids[0], NULL));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	/* the server dies with the program, its workers with it */
	CHECK(gone(pids[0]));
	CHECK(gone(pids[1]));
}

static void *sleeper(void *arg)
{
	(void)arg;
	pause();
	return NULL;
}

/* In a child: with a thread running, the server is refused, naming the
 * fix; and without a server no pool can be made. */
static void test_refused_with_threads(void)
{
	int fd[2];
	CHECK_OK(pipe(fd));
	fflush(stdout); /* the child must not print what this process buffered */
	pid_t child = fork();
	if (child == 0) {
		close(fd[0]);
		char msg[1024] = "";
		hamr_procpool *p = NULL;
		int rc0 = hamr_procpool_create(&p, &(hamr_procpool_opts){.processes = 1}); /* inherited server: not ours */
		pthread_t t;
		pthread_create(&t, NULL, sleeper, NULL);
		int rc = hamr_processes_init();
		snprintf(msg, sizeof msg, "%d %d %s", rc0, rc, hamr_errmsg());
		if (write(fd[1], msg, sizeof msg) < 0)
			_exit(4);
		_exit(0);
	}
	close(fd[1]);
	char msg[1024] = "";
	CHECK(read(fd[0], msg, sizeof msg) > 0);
	close(fd[0]);
	waitpid(child, NULL, 0);
	int rc0 = 0, rc = 0, off = 0;
	CHECK(sscanf(msg, "%d %d %n", &rc0, &rc, &off) == 2);
	CHECK_EQ_INT(rc0, HAMR_ESTATE);
	CHECK_EQ_INT(rc, HAMR_ESTATE);
	CHECK_CONTAINS(msg + off, "threads already");
	CHECK_CONTAINS(msg + off, "at the start of main");
}

int main(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* first thing: no thread exists yet */
	CHECK_OK(hamr_processes_init());
	CHECK_OK(hamr_processes_init()); /* again: it runs already */
	RUN_TEST(test_pools_of_workers);
#ifndef TSAN
	/* ThreadSanitizer starts threads of its own once the program runs,
	 * so a forked copy of the test is never single-threaded there */
	RUN_TEST(test_workers_die_with_the_program);
#endif
	RUN_TEST(test_refused_with_threads);
	/* the program's threads now exist; a pool still comes from the server */
	hamr_pool *pool = NULL;
	CHECK_OK(hamr_pool_create(&pool, NULL));
	hamr_procpool *p = NULL;
	CHECK_OK(hamr_procpool_create(&p, &(hamr_procpool_opts){.processes = 2}));
	hamr_procpool_destroy(p);
	hamr_pool_destroy(pool);
	TEST_EXIT();
}
