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
 * program reaps the server when it asks it to quit at exit. Stopping a
 * pool sets its `stop` word and wakes its workers, which exit; the server
 * kills those that do not within a second.
 *
 * Descriptors: a program may have closed stdin, stdout or stderr, and then
 * the next descriptor it opens takes that number, so its printf would land
 * in whatever hamr opened there. Every descriptor hamr keeps (the socket
 * pair, the signalfd, each pool's memfd) is moved to 3 or above, close-on-
 * exec; the server opens /dev/null on any of 0, 1, 2 the program had
 * closed, so that a worker's warning on stderr goes nowhere instead of
 * into a file the worker opened.
 *
 * Fork: a copy of the program made by fork() inherits its pools but not
 * their server or workers. Each pool remembers the process that made it;
 * in any other process it is refused (HAMR_ESTATE), and destroying it
 * there frees that process's memory and mapping only (the arena's fork
 * handler already made the mapping the copy's own: serialize/arena.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stddef.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hamr/pool.h"
#include "hamr/process.h"
#include "runtime/pool/env_internal.h"
#include "graph/graph_internal.h"
#include "runtime/procs/procs_internal.h"
#include "serialize/error_internal.h"

#define MAX_PROCESSES 1024

enum { OP_SPAWN = 1, OP_RESPAWN, OP_STOP, OP_LOAD, OP_KILL, OP_QUIT };

typedef struct request {
	int op;
	int pool;
	int n;            /* SPAWN: workers; RESPAWN, KILL: the slot */
	int pid;          /* KILL: the worker's pid */
	long child_memory;
	size_t size;      /* SPAWN: the mapping's size */
	char path[PATH_MAX]; /* LOAD */
} request;

typedef struct reply {
	int rc;  /* 0, or an errno value */
	int n;
	pid_t pids[MAX_PROCESSES];
} reply;

/* The one request and reply of each process: the program's, used under
 * `lock`, and the server's (4 KiB with a pid per worker: off the stack). */
static request req;
static reply rep;

/* fd moved to 3 or above, close-on-exec (the original closed); -1 with
 * errno when no descriptor is free. */
static int fd_above_stdio(int fd)
{
	if (fd < 0 || fd > 2)
		return fd;
	int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	int e = errno;
	close(fd);
	errno = e;
	return moved;
}

/* In the fork server: /dev/null on each of 0, 1, 2 that the program had
 * closed, so that nothing the server or a worker opens later takes its
 * number (a worker's stderr would write into it). */
static void fill_stdio(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		/* the lowest free number: this one, as the lower ones are open */
		int nul = open("/dev/null", O_RDWR);
		if (nul >= 0 && nul != fd) {
			dup2(nul, fd);
			close(nul);
		}
	}
}

/* ---- the server (a process of its own) ------------------------------------- */

typedef struct server_pool {
	hamr_procpool view; /* the mapping, as the server and its workers see it */
	int id, n;
	pid_t pids[MAX_PROCESSES]; /* 0 once reaped */
} server_pool;

static server_pool **pools;
static int n_pools;

/* A worker died: how, for the program, which is woken. */
static void mark_reaped(pid_t pid, int status)
{
	for (int p = 0; p < n_pools; p++)
		for (int i = 0; i < pools[p]->n; i++)
			if (pools[p]->pids[i] == pid) {
				pools[p]->pids[i] = 0;
				hamr__wctl *c = hamr__wctl_of(&pools[p]->view, i);
				atomic_store_explicit(&c->status, status, memory_order_relaxed);
				/* release: the status before the state */
				atomic_store_explicit(&c->state, HAMR__W_DEAD, memory_order_release);
				hamr__bell_ring(pools[p]->view.shm);
				return;
			}
}

static void reap_any(void)
{
	pid_t pid;
	int status;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		mark_reaped(pid, status);
}

/* Tells the pool's workers to stop, and waits for them, killing those that
 * do not exit within a second. */
static void stop_pool(server_pool *sp)
{
	atomic_store(&sp->view.shm->stop, 1);
	for (int i = 0; i < sp->n; i++) {
		hamr__wctl *c = hamr__wctl_of(&sp->view, i);
		atomic_store(&c->wsleep, 0);
		hamr__futex_wake(&c->wsleep, INT_MAX);
	}
	/* a second for all of them together, then the rest are killed */
	for (int t = 0, left = 1; left && t < 1000; t++) {
		left = 0;
		for (int i = 0; i < sp->n; i++) {
			pid_t r = sp->pids[i] ? waitpid(sp->pids[i], NULL, WNOHANG) : 0;
			if (r == sp->pids[i] || (r < 0 && errno == ECHILD))
				sp->pids[i] = 0;
			left |= sp->pids[i] != 0;
		}
		struct timespec ms = {0, 1000000};
		if (left)
			nanosleep(&ms, NULL);
	}
	for (int i = 0; i < sp->n; i++)
		if (sp->pids[i]) {
			kill(sp->pids[i], SIGKILL);
			waitpid(sp->pids[i], NULL, 0);
			sp->pids[i] = 0;
		}
	munmap(sp->view.base, sp->view.size);
}

static int ctl_fd = -1, sig_fd = -1;

/* Forks the worker for slot w of sp; its pid, or -1 with errno. */
static pid_t fork_worker(server_pool *sp, int w)
{
	hamr__wctl *c = hamr__wctl_of(&sp->view, w);
	memset(c, 0, sizeof *c);
	pid_t self = getpid();
	pid_t pid = fork();
	if (pid != 0) {
		if (pid > 0) {
			atomic_store(&c->pid, pid);
			sp->pids[w] = pid;
		} else { /* no process in the slot: it reads as dead */
			atomic_store_explicit(&c->state, HAMR__W_DEAD, memory_order_release);
		}
		return pid;
	}
	/* the worker: none of the server's descriptors */
	close(ctl_fd);
	close(sig_fd);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != self)
		_exit(0); /* the server died before the prctl */
	if (sp->view.child_memory > 0) {
		/* the cap is on what the worker maps beyond what it has now */
		long pages = 0;
		FILE *f = fopen("/proc/self/statm", "r");
		if (f) {
			if (fscanf(f, "%ld", &pages) != 1)
				pages = 0;
			fclose(f);
		}
		rlim_t lim = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (rlim_t)sp->view.child_memory;
		struct rlimit rl = {lim, lim};
		setrlimit(RLIMIT_AS, &rl);
	}
	atomic_store(&c->pid, getpid());
	/* release: its pid before it counts as alive */
	atomic_store_explicit(&c->state, HAMR__W_ALIVE, memory_order_release);
	hamr__procworker_main(&sp->view, w);
}

/* Receives the pool's memfd with the request, and maps it. */
static void spawn(const request *q, int fd)
{
	server_pool *sp = calloc(1, sizeof *sp);
	server_pool **grown = realloc(pools, (size_t)(n_pools + 1) * sizeof *pools);
	rep.rc = 0;
	rep.n = 0;
	if (!sp || !grown || fd < 0) {
		free(sp);
		if (fd >= 0)
			close(fd);
		rep.rc = fd < 0 ? EBADF : ENOMEM;
		return;
	}
	pools = grown;
	void *base = mmap(NULL, q->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (base == MAP_FAILED) {
		rep.rc = errno;
		free(sp);
		return;
	}
	sp->id = q->pool;
	sp->view.base = base;
	sp->view.size = q->size;
	sp->view.shm = base;
	sp->view.child_memory = q->child_memory;
	sp->view.arena.base = base;
	sp->view.arena.size = q->size;
	sp->view.arena.fd = -1; /* the server closed it: the mapping stays */
	sp->view.arena.h = (hamr__arena_head *)((char *)base + sp->view.shm->arena_off);
	for (int i = 0; i < q->n; i++) {
		if (fork_worker(sp, i) < 0) {
			rep.rc = errno;
			break;
		}
		sp->n++;
	}
	pools[n_pools++] = sp;
	rep.n = sp->n;
	memcpy(rep.pids, sp->pids, (size_t)sp->n * sizeof *sp->pids);
	if (rep.rc) { /* some were not made: none are kept */
		stop_pool(sp);
		n_pools--;
		free(sp);
		rep.n = 0;
	}
}

static server_pool *find_pool(int id)
{
	for (int p = 0; p < n_pools; p++)
		if (pools[p]->id == id)
			return pools[p];
	return NULL;
}

static void respawn(const request *q)
{
	server_pool *sp = find_pool(q->pool);
	rep.n = 0;
	if (!sp || q->n < 0 || q->n >= sp->n) {
		rep.rc = EINVAL;
		return;
	}
	if (sp->pids[q->n]) { /* killed and not yet reaped */
		int status;
		if (waitpid(sp->pids[q->n], &status, 0) > 0)
			mark_reaped(sp->pids[q->n], status);
	}
	pid_t pid = fork_worker(sp, q->n);
	if (pid < 0) {
		rep.rc = errno;
		return;
	}
	rep.rc = 0;
	rep.n = 1;
	rep.pids[0] = pid;
}

/* Kills a worker, only if it is not yet reaped (its pid is still its
 * own) and still alive: one that died already (a zombie) is reaped and
 * its death recorded instead, so that the program reads how it died
 * rather than a kill of its own. rep.rc: 0 killed, ESRCH already dead or
 * not this worker. */
static void kill_worker(const request *q)
{
	server_pool *sp = find_pool(q->pool);
	rep.rc = ESRCH;
	if (!sp || q->n < 0 || q->n >= sp->n || q->pid <= 0 || sp->pids[q->n] != q->pid)
		return;
	int status;
	if (waitpid(q->pid, &status, WNOHANG) == q->pid) {
		mark_reaped(q->pid, status);
		return;
	}
	kill(q->pid, SIGKILL);
	rep.rc = 0;
}

/* One request, with a descriptor when it carries one. */
static ssize_t recv_request(int fd, request *q, int *passed)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {q, sizeof *q};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
	                   .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	*passed = -1;
	ssize_t k = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); k > 0 && c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(passed, CMSG_DATA(c), sizeof(int));
	return k;
}

static _Noreturn void server_main(int ctl, pid_t program)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != program)
		_exit(0);
	fill_stdio();
	ctl_fd = ctl;
	/* the program may ignore SIGCHLD, which would reap the workers
	 * before the server could say how they died */
	signal(SIGCHLD, SIG_DFL);
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sig_fd = fd_above_stdio(signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK));
	for (;;) {
		struct pollfd pfd[2] = {{ctl, POLLIN, 0}, {sig_fd, POLLIN, 0}};
		int r = poll(pfd, sig_fd >= 0 ? 2 : 1, 100);
		if (sig_fd >= 0 && r > 0 && (pfd[1].revents & POLLIN)) {
			struct signalfd_siginfo si;
			while (read(sig_fd, &si, sizeof si) > 0)
				;
		}
		reap_any();
		if (r <= 0 || !(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		int fd;
		ssize_t k = recv_request(ctl, &req, &fd);
		if (k != (ssize_t)sizeof req)
			break; /* the program closed the socket, or is gone */
		memset(&rep, 0, offsetof(reply, pids));
		if (req.op == OP_SPAWN) {
			spawn(&req, fd);
		} else if (req.op == OP_RESPAWN) {
			respawn(&req);
		} else if (req.op == OP_STOP) {
			for (int p = 0; p < n_pools; p++)
				if (pools[p]->id == req.pool) {
					stop_pool(pools[p]);
					free(pools[p]);
					pools[p] = pools[--n_pools];
					break;
				}
		} else if (req.op == OP_KILL) {
			kill_worker(&req);
		} else if (req.op == OP_LOAD) {
			req.path[sizeof req.path - 1] = 0;
			rep.rc = dlopen(req.path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) ? 0 : ENOENT;
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

static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;

/* In a forked copy: a lock another thread of the parent held at the fork
 * is held by no thread here. */
static void locks_after_fork(void)
{
	pthread_mutex_init(&lock, NULL);
	pthread_mutex_init(&default_lock, NULL);
}


/* Takes `lock` and says whether this process has a fork server to ask. */
static int server_lock(void)
{
	pthread_mutex_lock(&lock);
	forget_inherited();
	return server_pid != 0;
}

/* Under `lock`: request `op` about pool `pool`, the rest zero, to fill in
 * and send with ask(). */
static request *request_for(int op, int pool)
{
	memset(&req, 0, sizeof req);
	req.op = op;
	req.pool = pool;
	return &req;
}

static void quit_server(void)
{
	pthread_mutex_lock(&lock);
	if (server_pid && owner == getpid()) {
		send(ctl, request_for(OP_QUIT, 0), sizeof req, MSG_NOSIGNAL);
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
	/* never 0, 1 or 2, which a program that closed them would write to */
	sv[0] = fd_above_stdio(sv[0]);
	sv[1] = fd_above_stdio(sv[1]);
	if (sv[0] < 0 || sv[1] < 0) {
		int e = errno;
		if (sv[0] >= 0)
			close(sv[0]);
		if (sv[1] >= 0)
			close(sv[1]);
		rc = hamr__error_set(HAMR_EIO, "hamr_processes_init: a descriptor for the fork server: %s",
		                     strerror(e));
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
	hamr__module_loaded = hamr__procs_load;
	static int registered;
	if (!registered++) {
		atexit(quit_server);
		pthread_atfork(NULL, NULL, locks_after_fork);
	}
out:
	pthread_mutex_unlock(&lock);
	return rc;
}

/* One request (with descriptor fd, or -1) and its reply, under the lock.
 * 0 or an errno value. */
static int ask(const request *q, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {(void *)q, sizeof *q};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	if (fd >= 0) {
		memset(cbuf, 0, sizeof cbuf);
		m.msg_control = cbuf;
		m.msg_controllen = sizeof cbuf;
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof fd);
	}
	if (sendmsg(ctl, &m, MSG_NOSIGNAL) != (ssize_t)sizeof *q)
		return errno ? errno : EIO;
	ssize_t k = recv(ctl, &rep, sizeof rep, 0);
	if (k < (ssize_t)offsetof(reply, pids))
		return k < 0 ? errno : EIO;
	return rep.rc;
}

/* The pool's shared mapping: header, control blocks, arena. The memfd
 * stays open with the arena (p->arena.fd): a forked copy of the program
 * maps it again as a private copy (serialize/arena.c). */
static int map_pool(hamr_procpool *p, int n, size_t arena)
{
	size_t ctl_off = (sizeof(hamr__shm) + 4095) & ~(size_t)4095;
	size_t arena_off = ctl_off + (((size_t)n * sizeof(hamr__wctl) + 4095) & ~(size_t)4095);
	uint32_t chunks = (uint32_t)(arena / HAMR__CHUNK);
	size_t data_off = (arena_off + hamr__arena_head_size(chunks) + HAMR__CHUNK - 1) &
	                  ~(HAMR__CHUNK - 1);
	size_t size = data_off + (size_t)chunks * HAMR__CHUNK;
	int fd = fd_above_stdio(memfd_create("hamr-arena", MFD_CLOEXEC));
	if (fd < 0)
		return hamr__error_set(HAMR_EIO, "hamr_procpool_create: memfd_create: %s", strerror(errno));
	if (ftruncate(fd, (off_t)size)) {
		int e = errno;
		close(fd);
		return hamr__error_set(HAMR_EIO, "hamr_procpool_create: a %zu-byte arena: %s", size,
		                       strerror(e));
	}
	void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED) {
		int e = errno;
		close(fd);
		return hamr__error_set(HAMR_EIO, "hamr_procpool_create: mapping the arena: %s", strerror(e));
	}
	p->base = base;
	p->size = size;
	p->shm = base;
	p->shm->ctl_off = ctl_off;
	p->shm->arena_off = arena_off;
	int rc = hamr__arena_format(&p->arena, base, size, arena_off, data_off);
	if (rc) {
		munmap(base, size);
		close(fd);
		return rc;
	}
	struct stat st;
	p->arena.fd = fd;
	p->arena.fd_ino = fstat(fd, &st) ? 0 : (uint64_t)st.st_ino;
	return 0;
}

static void pool_free(hamr_procpool *p)
{
	int foreign = p->owner != getpid();
	if (p->base && foreign) {
		/* a forked copy of the program: the pool is its parent's, and
		 * only the mapping (its own copy by now) is this process's */
		if (p->registered)
			hamr__arena_unregister(&p->arena);
		munmap(p->base, p->size);
		if (p->arena.fd >= 0) /* the fork handler closed it, if it saw it */
			close(p->arena.fd);
	} else if (p->base) {
		/* the workers are gone: their chunks and the program's own go
		 * back, and what the program still holds keeps the mapping */
		for (int w = 0; w < p->n; w++)
			hamr__arena_reclaim(&p->arena, (uint32_t)w + 1);
		hamr__arena_retire(&p->arena, &p->cur);
		hamr__arena *keep = NULL;
		if (p->registered && hamr__arena_used(&p->arena) && (keep = malloc(sizeof *keep))) {
			/* values the program still holds free into it: the copy
			 * is registered before the pool's own goes, so that no
			 * release misses both, and the last one unmaps it (and
			 * closes the memfd, which it now holds) */
			*keep = p->arena;
			keep->orphan = 1;
			if (hamr__arena_register(keep)) {
				free(keep);
				keep = NULL;
			}
		}
		if (p->registered)
			hamr__arena_unregister(&p->arena);
		if (!keep && !hamr__arena_used(&p->arena))
			munmap(p->base, p->size);
		if (!keep && p->arena.fd >= 0)
			close(p->arena.fd);
	}
	if (!foreign) {
		/* in a forked copy a thread of the parent may have held them:
		 * they are left as they are */
		pthread_mutex_destroy(&p->alloc_lock);
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->idle);
	}
	free(p->busy);
	free(p->gone);
	free(p->gone_ns);
	free(p->fails);
	free(p->pids);
	free(p);
}

int hamr_procpool_create(hamr_procpool **out, const hamr_procpool_opts *opts)
{
	if (!out)
		return hamr__error_set(HAMR_EINVAL, "hamr_procpool_create: out is NULL");
	*out = NULL;
	hamr_procpool_opts o = HAMR_PROCPOOL_OPTS_INIT;
	if (opts)
		o = *opts;
	if (o.processes < 0 || o.processes > MAX_PROCESSES)
		return hamr__error_set(HAMR_EINVAL,
		                       "hamr_procpool_create: processes = %d: expected 1 to %d (0: default)",
		                       o.processes, MAX_PROCESSES);
	if ((o.arena_size && (o.arena_size < 4 * HAMR__CHUNK || o.arena_size > (size_t)1 << 46)) ||
	    (o.child_memory && (o.child_memory < (1u << 20) || o.child_memory > LONG_MAX)))
		return hamr__error_set(HAMR_EINVAL,
		                       "hamr_procpool_create: arena_size = %zu, child_memory = %zu: expected 1 MiB or more (0: default)",
		                       o.arena_size, o.child_memory);
	int rc;
	hamr__knob_value k[] = {{"HAMR_PROCESSES", 0, NULL, HAMR__FROM_DEFAULT},
	                        {"HAMR_ARENA_SIZE", 0, NULL, HAMR__FROM_DEFAULT},
	                        {"HAMR_CHILD_MEMORY", 0, NULL, HAMR__FROM_DEFAULT}};
	if ((rc = hamr__knob_resolve(o.processes, 0, k[0].name, 1, MAX_PROCESSES, hamr_cpu_count(),
	                             &k[0].value, &k[0].source)) ||
	    (rc = hamr__knob_resolve((long)o.arena_size, 0, k[1].name, (long)(4 * HAMR__CHUNK), 1L << 46,
	                             1L << 30, &k[1].value, &k[1].source)) ||
	    (rc = hamr__knob_resolve((long)o.child_memory, 0, k[2].name, 1L << 20, LONG_MAX, 0,
	                             &k[2].value, &k[2].source)))
		return rc;
	int n = (int)k[0].value;
	long arena = k[1].value, child_mem = k[2].value;
	if (!child_mem)
		k[2].text = "none";
	hamr__env_display("a pool of worker processes", k, sizeof k / sizeof *k);
	hamr_procpool *p = calloc(1, sizeof *p);
	if (!p || !(p->busy = calloc((size_t)n, 1)) || !(p->gone = calloc((size_t)n, 1)) ||
	    !(p->gone_ns = calloc((size_t)n, sizeof *p->gone_ns)) || !(p->fails = calloc((size_t)n, 1)) ||
	    !(p->pids = calloc((size_t)n, sizeof *p->pids))) {
		if (p) {
			free(p->busy);
			free(p->gone);
			free(p->gone_ns);
			free(p->fails);
		}
		free(p);
		return hamr__error_set(HAMR_ENOMEM, "hamr_procpool_create: out of memory");
	}
	pthread_mutex_init(&p->alloc_lock, NULL);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->idle, NULL);
	p->cur = (hamr__arena_cursor){0, HAMR__NO_CHUNK, NULL, NULL};
	p->child_memory = child_mem;
	p->owner = getpid();
	p->arena.fd = -1;
	if ((rc = map_pool(p, n, (size_t)arena))) {
		pool_free(p);
		return rc;
	}
	if (!server_lock()) {
		/* a forked copy of the program that started one has none */
		pid_t parent = owner;
		pthread_mutex_unlock(&lock);
		pool_free(p);
		if (parent && parent != getpid())
			return hamr__error_set(HAMR_ESTATE,
			                       "hamr_procpool_create: no fork server in this process (%d): the one of process %d serves that process only; call hamr_processes_init() in this one, before it starts any thread",
			                       (int)getpid(), (int)parent);
		return hamr__error_set(HAMR_ESTATE,
		                       "hamr_procpool_create: no fork server: call hamr_processes_init() at the start of main");
	}
	request *q = request_for(OP_SPAWN, ++next_pool);
	q->n = n;
	q->child_memory = child_mem;
	q->size = p->size;
	int err = ask(q, p->arena.fd);
	if (!err) {
		p->id = q->pool;
		p->n = rep.n;
		memcpy(p->pids, rep.pids, (size_t)rep.n * sizeof(pid_t));
	}
	pthread_mutex_unlock(&lock);
	if (err) {
		pool_free(p);
		return hamr__error_set(err == ENOMEM ? HAMR_ENOMEM : HAMR_EIO,
		                       "hamr_procpool_create: %d workers: %s", n, strerror(err));
	}
	if ((rc = hamr__arena_register(&p->arena))) {
		hamr_procpool_destroy(p);
		return rc;
	}
	p->registered = 1;
	*out = p;
	return 0;
}

int hamr__procpool_respawn(hamr_procpool *p, int w)
{
	int err = ESRCH;
	if (server_lock()) {
		request *q = request_for(OP_RESPAWN, p->id);
		q->n = w;
		err = ask(q, -1);
		if (!err)
			p->pids[w] = rep.pids[0];
	}
	pthread_mutex_unlock(&lock);
	if (err)
		return hamr__error_set(HAMR_EIO, "replacing worker process %d: %s", w, strerror(err));
	return 0;
}

int hamr__procpool_kill(hamr_procpool *p, int w, pid_t pid)
{
	int killed = 0;
	if (server_lock() && pid > 0) {
		request *q = request_for(OP_KILL, p->id);
		q->n = w;
		q->pid = pid;
		killed = ask(q, -1) == 0;
	}
	pthread_mutex_unlock(&lock);
	return killed;
}

int hamr__procs_server_alive(void)
{
	int status;
	if (server_lock()) {
		/* the server alone holds the socket's other end: a hang-up is
		 * its death, whoever reaped it (the program may ignore SIGCHLD
		 * or reap children itself) */
		struct pollfd pfd = {ctl, 0, 0};
		pid_t r = waitpid(server_pid, &status, WNOHANG);
		if (r == server_pid || (r < 0 && errno == ECHILD) ||
		    (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLERR))))
			server_pid = 0;
	}
	int alive = server_pid != 0;
	pthread_mutex_unlock(&lock);
	return alive;
}

void hamr__procs_load(const char *path)
{
	char full[PATH_MAX];
	/* the server's working directory is the program's at its start */
	if (!realpath(path, full) || strlen(full) >= sizeof req.path)
		return;
	if (server_lock()) {
		request *q = request_for(OP_LOAD, 0);
		strcpy(q->path, full);
		ask(q, -1);
	}
	pthread_mutex_unlock(&lock);
}

void hamr_procpool_destroy(hamr_procpool *p)
{
	if (!p)
		return;
	/* a forked copy asks nothing: the server and the workers are its
	 * parent's */
	if (p->owner == getpid()) {
		if (server_lock())
			ask(request_for(OP_STOP, p->id), -1);
		pthread_mutex_unlock(&lock);
	}
	pool_free(p);
}

int hamr__procpool_usable(const hamr_procpool *p)
{
	if (p->owner == getpid())
		return 0;
	return hamr__error_set(HAMR_ESTATE,
	                       "this process pool belongs to process %d; make a new pool in the child (process %d, after hamr_processes_init() there)",
	                       (int)p->owner, (int)getpid());
}

size_t hamr_procpool_arena_used(hamr_procpool *p)
{
	if (!p || p->owner != getpid())
		return 0;
	return (size_t)hamr__arena_used(&p->arena) * HAMR__CHUNK;
}

int hamr_procpool_size(const hamr_procpool *p)
{
	return p ? p->n : 0;
}

pid_t hamr_procpool_pid(const hamr_procpool *p, int i)
{
	return p && i >= 0 && i < p->n ? p->pids[i] : -1;
}

static hamr_procpool *default_pool;

static void default_destroy(void)
{
	pthread_mutex_lock(&default_lock);
	hamr_procpool *p = default_pool;
	default_pool = NULL;
	pthread_mutex_unlock(&default_lock);
	hamr_procpool_destroy(p);
}

/* A forked copy's inherited default pools: its parent's (and theirs, one
 * per generation of forks), kept (values this process holds may still
 * point into their mappings, and the program may hold the pools) and
 * never used. */
static hamr_procpool *inherited_defaults;

hamr_procpool *hamr__procpool_default(int *rc)
{
	pthread_mutex_lock(&default_lock);
	if (default_pool && default_pool->owner != getpid()) {
		/* a forked copy: its default pool starts afresh */
		default_pool->inherited_next = inherited_defaults;
		inherited_defaults = default_pool;
		default_pool = NULL;
	}
	if (!default_pool) {
		*rc = hamr_procpool_create(&default_pool, NULL);
		static int registered;
		if (!*rc && !registered++)
			atexit(default_destroy);
	}
	hamr_procpool *p = default_pool;
	pthread_mutex_unlock(&default_lock);
	return p;
}
