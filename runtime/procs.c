// SPDX-License-Identifier: MIT
/* The fork server and its pools of worker processes.
 *
 * hamr_processes_init forks the server while the program is still
 * single-threaded; from then on the program never forks itself: it asks
 * the server, over a SOCK_SEQPACKET socket (one request, one reply, each a
 * whole message), to fork workers. The server has no threads, so its forks
 * copy no lock another thread held.
 *
 * Lifetimes: the server asks the kernel to kill it when the program dies
 * (PR_SET_PDEATHSIG), and each worker likewise when the server dies; each
 * checks after the prctl that its parent is still the one it was forked
 * from, since the parent may have died before the prctl. The server reaps
 * its workers (waitpid after every request, and every 100 ms), and the
 * program reaps the server when it asks it to quit at exit. A pool's
 * workers wait on the read end of a pipe whose write end only the server
 * holds: stopping a pool closes it, and they exit. Pools are the first
 * step of the process executor, whose tasks will flow through them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hamr/pool.h"
#include "hamr/process.h"
#include "runtime/env_internal.h"
#include "serialize/error_internal.h"

#define MAX_PROCESSES 1024

enum { OP_SPAWN = 1, OP_STOP, OP_QUIT };

typedef struct request {
	int op;
	int pool;
	int n;
} request;

typedef struct reply {
	int rc;  /* 0, or an errno value */
	int n;
	pid_t pids[MAX_PROCESSES];
} reply;

struct hamr_procpool {
	int id;
	int n;
	pid_t pids[];
};

/* ---- the server (a process of its own) ------------------------------------- */

typedef struct server_pool {
	int id, n, wfd;
	pid_t pids[MAX_PROCESSES]; /* 0 once reaped */
} server_pool;

static server_pool **pools;
static int n_pools;

static void mark_reaped(pid_t pid)
{
	for (int p = 0; p < n_pools; p++)
		for (int i = 0; i < pools[p]->n; i++)
			if (pools[p]->pids[i] == pid)
				pools[p]->pids[i] = 0;
}

static void reap_any(void)
{
	pid_t pid;
	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
		mark_reaped(pid);
}

/* Waits for the pool's workers to exit (they read EOF), killing those that
 * do not within a second. */
static void stop_pool(server_pool *sp)
{
	close(sp->wfd);
	for (int i = 0; i < sp->n; i++) {
		for (int t = 0; sp->pids[i] && t < 1000; t++) {
			pid_t r = waitpid(sp->pids[i], NULL, WNOHANG);
			if (r == sp->pids[i] || (r < 0 && errno == ECHILD)) {
				sp->pids[i] = 0;
				break;
			}
			struct timespec ms = {0, 1000000};
			nanosleep(&ms, NULL);
		}
		if (sp->pids[i]) {
			kill(sp->pids[i], SIGKILL);
			waitpid(sp->pids[i], NULL, 0);
			sp->pids[i] = 0;
		}
	}
}

static _Noreturn void worker_main(int rfd, pid_t server)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != server)
		_exit(0); /* the server died before the prctl */
	char b;
	while (read(rfd, &b, 1) > 0 || errno == EINTR)
		;
	_exit(0);
}

static void spawn(int ctl, const request *q, reply *rep)
{
	server_pool *sp = calloc(1, sizeof *sp);
	server_pool **grown = realloc(pools, (size_t)(n_pools + 1) * sizeof *pools);
	int pp[2];
	rep->rc = 0;
	rep->n = 0;
	if (!sp || !grown) {
		free(sp);
		rep->rc = ENOMEM;
		return;
	}
	pools = grown;
	if (pipe2(pp, O_CLOEXEC)) {
		free(sp);
		rep->rc = errno;
		return;
	}
	sp->id = q->pool;
	sp->wfd = pp[1];
	pid_t self = getpid();
	for (int i = 0; i < q->n; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			/* the worker keeps only its pipe's read end */
			close(ctl);
			close(pp[1]);
			for (int p = 0; p < n_pools; p++)
				close(pools[p]->wfd);
			worker_main(pp[0], self);
		}
		if (pid < 0) {
			rep->rc = errno;
			break;
		}
		sp->pids[sp->n++] = pid;
	}
	close(pp[0]);
	pools[n_pools++] = sp;
	rep->n = sp->n;
	memcpy(rep->pids, sp->pids, (size_t)sp->n * sizeof *sp->pids);
	if (rep->rc) { /* some were not made: none are kept */
		stop_pool(sp);
		n_pools--;
		free(sp);
		rep->n = 0;
	}
}

static _Noreturn void server_main(int ctl, pid_t program)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != program)
		_exit(0);
	static reply rep;
	for (;;) {
		struct pollfd pfd = {ctl, POLLIN, 0};
		int r = poll(&pfd, 1, 100);
		reap_any();
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		request q;
		ssize_t k = recv(ctl, &q, sizeof q, 0);
		if (k != (ssize_t)sizeof q)
			break; /* the program closed the socket, or is gone */
		memset(&rep, 0, offsetof(reply, pids));
		if (q.op == OP_SPAWN) {
			spawn(ctl, &q, &rep);
		} else if (q.op == OP_STOP) {
			for (int p = 0; p < n_pools; p++)
				if (pools[p]->id == q.pool) {
					stop_pool(pools[p]);
					free(pools[p]);
					pools[p] = pools[--n_pools];
					break;
				}
		} else {
			break; /* OP_QUIT */
		}
		size_t len = offsetof(reply, pids) + (size_t)rep.n * sizeof rep.pids[0];
		if (send(ctl, &rep, len, MSG_NOSIGNAL) < 0)
			break;
	}
	for (int p = 0; p < n_pools; p++)
		stop_pool(pools[p]);
	_exit(0);
}

/* ---- the program's side ------------------------------------------------------ */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t server_pid; /* 0: no server */
static pid_t owner;      /* the process that started it */
static int ctl = -1;
static int next_pool;

/* A forked copy of the program inherits the state, not the server. */
static void forget_inherited(void)
{
	if (server_pid && owner != getpid()) {
		close(ctl);
		ctl = -1;
		server_pid = 0;
	}
}

static void quit_server(void)
{
	pthread_mutex_lock(&lock);
	if (server_pid && owner == getpid()) {
		request q = {OP_QUIT, 0, 0};
		send(ctl, &q, sizeof q, MSG_NOSIGNAL);
		close(ctl);
		ctl = -1;
		waitpid(server_pid, NULL, 0);
		server_pid = 0;
	}
	pthread_mutex_unlock(&lock);
}

static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return 1; /* no /proc: nothing to say */
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

int hamr_processes_init(void)
{
	pthread_mutex_lock(&lock);
	forget_inherited();
	int rc = 0;
	if (server_pid)
		goto out;
	int threads = count_threads();
	if (threads > 1) {
		rc = hamr__error_set(HAMR_ESTATE,
		                     "hamr_processes_init: the process has %d threads already; call it at the start of main, before any thread starts (a hamr pool's too), since forking a process with threads can deadlock its children",
		                     threads);
		goto out;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		rc = hamr__error_set(HAMR_EIO, "hamr_processes_init: socketpair: %s", strerror(errno));
		goto out;
	}
	pid_t program = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		server_main(sv[1], program);
	}
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		rc = hamr__error_set(HAMR_EIO, "hamr_processes_init: fork: %s", strerror(errno));
		goto out;
	}
	server_pid = pid;
	owner = program;
	ctl = sv[0];
	static int registered;
	if (!registered++)
		atexit(quit_server);
out:
	pthread_mutex_unlock(&lock);
	return rc;
}

/* One request and its reply, under the lock. 0 or an errno value. */
static int ask(const request *q, reply *rep)
{
	if (send(ctl, q, sizeof *q, MSG_NOSIGNAL) != (ssize_t)sizeof *q)
		return errno ? errno : EIO;
	ssize_t k = recv(ctl, rep, sizeof *rep, 0);
	if (k < (ssize_t)offsetof(reply, pids))
		return k < 0 ? errno : EIO;
	return rep->rc;
}

int hamr_procpool_create(hamr_procpool **out, int n)
{
	if (!out)
		return hamr__error_set(HAMR_EINVAL, "hamr_procpool_create: out is NULL");
	*out = NULL;
	if (n < 0 || n > MAX_PROCESSES)
		return hamr__error_set(HAMR_EINVAL, "hamr_procpool_create: n = %d: expected 1 to %d (0: default)",
		                       n, MAX_PROCESSES);
	if (n == 0) {
		long v = hamr_cpu_count();
		int rc = hamr__env_long("HAMR_PROCESSES", 1, MAX_PROCESSES, &v);
		if (rc < 0)
			return rc;
		n = (int)v;
	}
	static reply rep; /* under the lock: 4 KiB off the stack */
	pthread_mutex_lock(&lock);
	forget_inherited();
	if (!server_pid) {
		pthread_mutex_unlock(&lock);
		return hamr__error_set(HAMR_ESTATE,
		                       "hamr_procpool_create: no fork server: call hamr_processes_init() at the start of main");
	}
	request q = {OP_SPAWN, ++next_pool, n};
	int err = ask(&q, &rep);
	hamr_procpool *p = NULL;
	if (!err && !(p = malloc(sizeof *p + (size_t)rep.n * sizeof(pid_t))))
		err = ENOMEM;
	if (p) {
		p->id = q.pool;
		p->n = rep.n;
		memcpy(p->pids, rep.pids, (size_t)rep.n * sizeof(pid_t));
	} else if (!err) {
		err = ENOMEM;
	}
	pthread_mutex_unlock(&lock);
	if (err)
		return hamr__error_set(err == ENOMEM ? HAMR_ENOMEM : HAMR_EIO,
		                       "hamr_procpool_create: %d workers: %s", n, strerror(err));
	*out = p;
	return 0;
}

void hamr_procpool_destroy(hamr_procpool *p)
{
	if (!p)
		return;
	static reply rep;
	pthread_mutex_lock(&lock);
	forget_inherited();
	if (server_pid) {
		request q = {OP_STOP, p->id, 0};
		ask(&q, &rep);
	}
	pthread_mutex_unlock(&lock);
	free(p);
}

int hamr_procpool_size(const hamr_procpool *p)
{
	return p ? p->n : 0;
}

pid_t hamr_procpool_pid(const hamr_procpool *p, int i)
{
	return p && i >= 0 && i < p->n ? p->pids[i] : -1;
}
