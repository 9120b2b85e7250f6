// SPDX-License-Identifier: MIT
/* The MPI executor's life on every rank: init (the thread level, the
 * launcher, every rank's build checked against rank 0's), the serving
 * loop of the ranks other than 0, and finalize. Rank 0's side of a run is
 * the backend table (mpi/backend.c). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mpi/mpi_internal.h"

void hamr__mpi_backoff(int *round)
{
	/* a few rounds of yielding, then sleeps doubling from 2 us to 1 ms
	 * (longer yielding, or a timer slack of 1 us instead of Linux's 50,
	 * made an item's round trip slower on 2 cores, not faster:
	 * bench/RESULTS.md) */
	int k = (*round)++;
	if (k < 4) {
		sched_yield();
		return;
	}
	long ns = 2000L << (k - 4 < 9 ? k - 4 : 9);
	struct timespec ts = {0, ns};
	nanosleep(&ts, NULL);
}

/* ---- options ----------------------------------------------------------------- */

/* A knob: the option when set, else the variable, else dflt. */
static int knob(int opt, const char *env, int min, int max, int dflt, int *out)
{
	if (opt) {
		if (opt < min || opt > max)
			return hamr_backend_error(HAMR_EINVAL, "hamr_mpi_opts: %s %d is not in [%d, %d]",
			                          env, opt, min, max);
		*out = opt;
		return 0;
	}
	const char *s = getenv(env);
	if (!s || !*s) {
		*out = dflt;
		return 0;
	}
	char *end;
	errno = 0;
	long x = strtol(s, &end, 10);
	if (errno || *end || x < min || x > max)
		return hamr_backend_error(HAMR_EINVAL, "%s=\"%s\": not a whole number in [%d, %d]", env, s,
		                          min, max);
	*out = (int)x;
	return 0;
}

/* ---- init ---------------------------------------------------------------------- */

/* Where a serving rank runs items: its worker processes (made here) or
 * its pool's threads. The option, else HAMR_MPI_RANK_EXEC, else
 * processes. Rank 0 runs the items it takes on its block's thread. */
static int rank_exec(hamr_mpi *m, hamr_mpi_opts *o)
{
	if ((unsigned)o->rank_exec > HAMR_MPI_RANK_THREADS)
		return hamr_backend_error(HAMR_EINVAL, "hamr_mpi_opts: rank_exec %d is none of hamr_mpi_rank_exec",
		                          (int)o->rank_exec);
	if (o->rank_exec == HAMR_MPI_RANK_DEFAULT) {
		const char *s = getenv("HAMR_MPI_RANK_EXEC");
		if (!s || !*s || !strcmp(s, "processes"))
			o->rank_exec = HAMR_MPI_RANK_PROCESSES;
		else if (!strcmp(s, "threads"))
			o->rank_exec = HAMR_MPI_RANK_THREADS;
		else
			return hamr_backend_error(HAMR_EINVAL, "HAMR_MPI_RANK_EXEC=%s: expected processes or threads",
			                          s);
	}
	if (m->rank == 0 || o->rank_exec != HAMR_MPI_RANK_PROCESSES)
		return 0;
	int rc = hamr_procpool_create(&m->procs, NULL);
	if (rc)
		return hamr_backend_error(rc, "rank %d: its worker processes (HAMR_MPI_RANK_EXEC=processes, the default): %s; or HAMR_MPI_RANK_EXEC=threads",
		                          m->rank, hamr_errmsg());
	return 0;
}

static void mpi_free(hamr_mpi *m);

/* The size another launcher meant, when this process is a one-rank job
 * that a launcher of N ranks started (the other MPI's mpiexec): N and the
 * variable that says so, else 0. */
static int launcher_size(const char **var)
{
	static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE",
	                                   "MPI_LOCALNRANKS"};
	for (size_t k = 0; k < sizeof vars / sizeof vars[0]; k++) {
		const char *s = getenv(vars[k]);
		int n = s ? atoi(s) : 0;
		if (n > 1) {
			*var = vars[k];
			return n;
		}
	}
	return 0;
}

/* The codec's version: the first byte of any encoding. */
static int codec_version(void)
{
	hamr_value v = hamr_value_from_i64(0);
	unsigned char buf[32];
	size_t need;
	return hamr_value_encode(&v, buf, sizeof buf, &need) ? -1 : buf[0];
}

/* This rank's report: host, pid, hamr and codec versions, its clock just
 * after a barrier, then its objects; one line each. */
static char *make_report(int64_t clock)
{
	char host[64] = "";
	gethostname(host, sizeof host - 1);
	char *objs = hamr__mpi_objects_report();
	if (!objs)
		return NULL;
	char *s = NULL;
	if (asprintf(&s, "%s\n%d\n%s\n%d\n%lld\n%s", host, (int)getpid(), hamr_version(),
	             codec_version(), (long long)clock, objs) < 0)
		s = NULL;
	free(objs);
	return s;
}

/* Reads report line k (from 0) into buf. */
static void report_line(const char *s, int k, char *buf, size_t cap)
{
	for (; k > 0 && s; k--)
		if ((s = strchr(s, '\n')))
			s++;
	size_t n = s ? strcspn(s, "\n") : 0;
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, s ? s : "", n);
	buf[n] = '\0';
}

/* The objects part of a report: after its fifth line. */
static const char *report_objects(const char *s)
{
	for (int k = 0; k < 5 && s; k++)
		if ((s = strchr(s, '\n')))
			s++;
	return s ? s : "";
}

/* Whether rank r's objects agree with rank 0's: an object both have under
 * one path must be one build. 0, or HAMR_EMODULE naming the object. */
static int compare_objects(const char *mine, const char *theirs, int r, const char *host)
{
	for (const char *t = theirs; *t;) {
		size_t len = strcspn(t, "\n");
		const char *tab = memchr(t, '\t', len);
		if (tab) {
			size_t plen = (size_t)(tab - t);
			for (const char *o = mine; *o;) {
				size_t olen = strcspn(o, "\n");
				const char *otab = memchr(o, '\t', olen);
				if (otab && (size_t)(otab - o) == plen && !memcmp(o, t, plen)) {
					size_t ilen = len - plen - 1, oid = olen - plen - 1;
					if (ilen != oid || memcmp(otab + 1, tab + 1, ilen))
						return hamr_backend_error(
							HAMR_EMODULE,
							"rank %d (host %s): %s%.*s%s is another build there (build-id %.*s, rank 0 has %.*s)",
							r, host, plen ? "\"" : "the program", (int)plen, t,
							plen ? "\"" : "", (int)ilen, tab + 1, (int)oid, otab + 1);
					break;
				}
				o += olen + (o[olen] == '\n');
			}
		}
		t += len + (t[len] == '\n');
	}
	return 0;
}

/* Rank 0: every rank's report checked against its own; the ranks' hosts,
 * pids and clocks noted. */
static int check_reports(hamr_mpi *m, const char *all, const int *off)
{
	const char *mine = all + off[0];
	char v0[64], c0[16], t0[32];
	report_line(mine, 2, v0, sizeof v0);
	report_line(mine, 3, c0, sizeof c0);
	report_line(mine, 4, t0, sizeof t0);
	for (int r = 0; r < m->size; r++) {
		const char *s = all + off[r];
		char pid[16], v[64], c[16], t[32];
		report_line(s, 0, m->ranks[r].host, sizeof m->ranks[r].host);
		report_line(s, 1, pid, sizeof pid);
		report_line(s, 2, v, sizeof v);
		report_line(s, 3, c, sizeof c);
		report_line(s, 4, t, sizeof t);
		m->ranks[r].pid = atoi(pid);
		m->ranks[r].clock_off = atoll(t) - atoll(t0);
		const char *host = m->ranks[r].host;
		if (strcmp(v, v0))
			return hamr_backend_error(HAMR_EMODULE,
			                          "rank %d (host %s) runs hamr %s, rank 0 hamr %s", r,
			                          host, v, v0);
		if (strcmp(c, c0))
			return hamr_backend_error(HAMR_EMODULE,
			                          "rank %d (host %s) has value codec %s, rank 0 codec %s",
			                          r, host, c, c0);
		int rc = compare_objects(report_objects(mine), report_objects(s), r, host);
		if (rc)
			return rc;
	}
	return 0;
}

/* Every rank's report to rank 0, and rank 0's verdict to every rank: the
 * same code and message everywhere. rc is this rank's own answer so far:
 * a rank that failed sends its message instead of its report, and the
 * first failure (by rank) is the verdict. */
static int agree(hamr_mpi *m, int rc)
{
	MPI_Barrier(m->comm);
	char *rep = rc ? NULL : make_report(hamr_backend_now_ns());
	if (!rc && !rep)
		rc = HAMR_ENOMEM;
	char own[512] = "";
	if (rc) {
		snprintf(own, sizeof own, "rank %d: %s", m->rank, hamr_errmsg());
		free(rep);
		rep = strdup(own);
	}
	int len = rep ? (int)strlen(rep) + 1 : 1;
	int *lens = NULL, *off = NULL;
	char *all = NULL;
	if (m->rank == 0) {
		lens = calloc((size_t)m->size, sizeof *lens);
		off = calloc((size_t)m->size, sizeof *off);
	}
	MPI_Gather(&len, 1, MPI_INT, lens, 1, MPI_INT, 0, m->comm);
	/* every rank's own failure, or 0 */
	int worst = 0, *codes = m->rank == 0 ? calloc((size_t)m->size, sizeof *codes) : NULL;
	MPI_Gather(&rc, 1, MPI_INT, codes, 1, MPI_INT, 0, m->comm);
	long total = 0;
	if (m->rank == 0 && lens && off)
		for (int r = 0; r < m->size; r++) {
			off[r] = (int)total;
			total += lens[r];
		}
	if (m->rank == 0)
		all = malloc(total ? (size_t)total : 1);
	MPI_Gatherv(rep ? rep : "", len, MPI_CHAR, all, lens, off, MPI_CHAR, 0, m->comm);
	char verdict[1024] = "";
	if (m->rank == 0) {
		if (!lens || !off || !all || !codes) {
			worst = HAMR_ENOMEM;
		} else {
			for (int r = 0; r < m->size && !worst; r++)
				if (codes[r]) {
					worst = codes[r];
					snprintf(verdict, sizeof verdict, "%s", all + off[r]);
				}
			if (!worst && (worst = check_reports(m, all, off)))
				snprintf(verdict, sizeof verdict, "%s", hamr_errmsg());
		}
		if (worst && !verdict[0])
			snprintf(verdict, sizeof verdict, "%s", hamr_strerror(worst));
	}
	MPI_Bcast(&worst, 1, MPI_INT, 0, m->comm);
	MPI_Bcast(verdict, sizeof verdict, MPI_CHAR, 0, m->comm);
	free(rep);
	free(lens);
	free(off);
	free(all);
	free(codes);
	if (worst)
		return hamr_backend_error(worst, "%s", verdict);
	return 0;
}

/* HAMR_DISPLAY_ENV=1: rank 0 prints the MPI executor's knobs, as libhamr
 * prints a pool's and a run's. */
static void display(const hamr_mpi *m, const hamr_mpi_opts *o, int provided)
{
	const char *d = getenv("HAMR_DISPLAY_ENV");
	if (!d || (strcmp(d, "1") && strcmp(d, "true")))
		return;
	char lib[MPI_MAX_LIBRARY_VERSION_STRING] = "";
	int len = 0;
	MPI_Get_library_version(lib, &len);
	lib[strcspn(lib, "\n")] = '\0';
	const char *dd = getenv("HAMR_MPI_DEPTH");
	flockfile(stderr);
	fprintf(stderr, "HAMR DISPLAY ENVIRONMENT BEGIN (the MPI executor)\n");
	fprintf(stderr, "  _HAMR_VERSION = '%s'\n", hamr_version());
	fprintf(stderr, "  _MPI_LIBRARY = '%s'\n", lib);
	fprintf(stderr, "  _MPI_RANKS = '%d'\n", m->size);
	fprintf(stderr, "  _MPI_THREAD_LEVEL = '%d'\n", provided);
	fprintf(stderr, "  HAMR_MPI_DEPTH = '%d' (%s)\n", m->depth,
	        o->depth ? "API" : dd && *dd ? "environment" : "default");
	fprintf(stderr, "  HAMR_MPI_EAGER = '%zu' (%s)\n", m->eager,
	        o->eager ? "API" : getenv("HAMR_MPI_EAGER") && *getenv("HAMR_MPI_EAGER") ? "environment" : "default");
	fprintf(stderr, "  HAMR_MPI_ROOT_ITEMS = '%d'\n", m->root_items);
	if (m->batch)
		fprintf(stderr, "  HAMR_MPI_BATCH = '%d' (%s)\n", m->batch,
		        o->batch ? "API" : "environment");
	else
		fprintf(stderr, "  HAMR_MPI_BATCH = 'grown from 1' (default)\n");
	fprintf(stderr, "HAMR DISPLAY ENVIRONMENT END\n");
	funlockfile(stderr);
}

static int init_on(hamr_mpi **out, MPI_Comm comm, int owns, const hamr_mpi_opts *opts)
{
	*out = NULL;
	hamr_mpi *m = calloc(1, sizeof *m);
	if (!m)
		return HAMR_ENOMEM;
	m->owns_mpi = owns;
	if (MPI_Comm_dup(comm, &m->comm) != MPI_SUCCESS) {
		free(m);
		return hamr_backend_error(HAMR_EIO, "MPI_Comm_dup failed");
	}
	MPI_Comm_rank(m->comm, &m->rank);
	MPI_Comm_size(m->comm, &m->size);
	pthread_mutex_init(&m->lock, NULL);
	m->next_job = 1;
	m->next_rank = 1;
	int rc = 0;
	if (!(m->ranks = calloc((size_t)m->size, sizeof *m->ranks)))
		rc = HAMR_ENOMEM;
	hamr_mpi_opts o = opts ? *opts : (hamr_mpi_opts)HAMR_MPI_OPTS_INIT;
	if (!rc)
		rc = knob(o.depth, "HAMR_MPI_DEPTH", 1, 64, 2, &m->depth);
	if (!rc)
		rc = knob(o.batch, "HAMR_MPI_BATCH", 1, 1 << 20, 0, &m->batch);
	int eager = 0;
	if (!rc)
		rc = knob(o.eager, "HAMR_MPI_EAGER", 1, 1 << 30, 65536, &eager);
	m->eager = (size_t)eager;
	if (!rc)
		rc = knob(o.root_items == HAMR_OFF ? 0 : o.root_items ? 1 : 0, "HAMR_MPI_ROOT_ITEMS", 0,
		          1, 1, &m->root_items);
	if (o.root_items == HAMR_OFF)
		m->root_items = 0;
	if (!rc)
		rc = rank_exec(m, &o);
	int provided = 0;
	MPI_Query_thread(&provided);
	if (!rc && provided < HAMR_MPI_THREAD_LEVEL)
		rc = hamr_backend_error(HAMR_ENOTSUP,
		                        "MPI gives thread level %d; hamr needs MPI_THREAD_SERIALIZED (%d) or more",
		                        provided, HAMR_MPI_THREAD_LEVEL);
	const char *var = NULL;
	int meant = m->size == 1 ? launcher_size(&var) : 0;
	if (!rc && meant)
		rc = hamr_backend_error(HAMR_ENOTSUP,
		                        "a job of one rank, but its launcher started %d (%s=%d): the program was launched by another MPI's mpiexec than the MPI it is linked with (for MPICH, launch it with mpiexec.mpich)",
		                        meant, var, meant);
	if ((rc = agree(m, rc))) {
		m->owns_mpi = 0; /* the caller decides; MPI stays initialised */
		mpi_free(m);
		return rc;
	}
	if (m->rank == 0) {
		display(m, &o, provided);
		hamr_backend_register("mpi", hamr_mpi_backend(), m);
	}
	*out = m;
	return 0;
}

int hamr_mpi_init(hamr_mpi **out, int *argc, char ***argv, const hamr_mpi_opts *opts)
{
	if (!out)
		return hamr_backend_error(HAMR_EINVAL, "hamr_mpi_init: bad arguments");
	int done = 0, provided = 0;
	MPI_Initialized(&done);
	if (done)
		return init_on(out, MPI_COMM_WORLD, 0, opts);
	if (MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
		return hamr_backend_error(HAMR_EIO, "MPI_Init_thread failed");
	return init_on(out, MPI_COMM_WORLD, 1, opts);
}

int hamr_mpi_init_comm(hamr_mpi **out, MPI_Comm comm, const hamr_mpi_opts *opts)
{
	int done = 0;
	if (!out || (MPI_Initialized(&done), !done))
		return hamr_backend_error(HAMR_EINVAL,
		                          "hamr_mpi_init_comm: MPI is not initialised (call hamr_mpi_init)");
	return init_on(out, comm, 0, opts);
}

int hamr_mpi_rank(const hamr_mpi *m)
{
	return m ? m->rank : -1;
}

int hamr_mpi_size(const hamr_mpi *m)
{
	return m ? m->size : 0;
}

/* Frees m, and finalizes MPI where m initialised it. */
static void mpi_free(hamr_mpi *m)
{
	hamr_procpool_destroy(m->procs);
	MPI_Comm_free(&m->comm);
	pthread_mutex_destroy(&m->lock);
	int owns = m->owns_mpi;
	free(m->ranks);
	free(m);
	if (owns)
		MPI_Finalize();
}

void hamr_mpi_finalize(hamr_mpi *m)
{
	if (!m)
		return;
	if (m->rank == 0) {
		hamr_backend_register("mpi", NULL, NULL);
		hamr__mpi_flush_sends(m);
		/* the serving ranks return from hamr_mpi_serve */
		for (int r = 1; r < m->size; r++)
			MPI_Send(NULL, 0, MPI_BYTE, r, TAG_STOP, m->comm);
	}
	mpi_free(m);
}

/* ---- serving ------------------------------------------------------------------- */

/* An answer is sent in parts past this many bytes. */
#define ANSWER_BYTES ((size_t)64 << 20)

typedef struct served_job {
	uint64_t id;
	mpi_program *p;  /* its own allocation: the rank plan points at it */
	rank_plan *rp;   /* in worker processes: the program as a graph, made
	                  * with the first batch */
	int rc;          /* the program could not be made here: every item
	                  * fails with this */
	char *why;
	int cancelled;
} served_job;

typedef struct serving {
	hamr_mpi *m;
	served_job *jobs;
	size_t n_jobs, cap;
} serving;

static served_job *job_find(serving *s, uint64_t id)
{
	for (size_t k = 0; k < s->n_jobs; k++)
		if (s->jobs[k].id == id)
			return &s->jobs[k];
	return NULL;
}

static void job_forget(serving *s, served_job *j)
{
	hamr__mpi_rank_plan_free(j->rp);
	if (j->p)
		hamr__mpi_program_free(j->p);
	free(j->p);
	free(j->why);
	*j = s->jobs[--s->n_jobs];
}

static int take_program(serving *s, mread *r, uint64_t id)
{
	if (s->n_jobs == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 8;
		served_job *jobs = realloc(s->jobs, cap * sizeof *jobs);
		if (!jobs)
			return HAMR_ENOMEM;
		s->jobs = jobs;
		s->cap = cap;
	}
	served_job *j = &s->jobs[s->n_jobs++];
	*j = (served_job){.id = id};
	if (!(j->p = calloc(1, sizeof *j->p)))
		j->rc = HAMR_ENOMEM;
	else if ((j->rc = hamr__mpi_program_decode(r, j->p)))
		j->why = strdup(hamr_errmsg());
	else if (s->m->procs && (j->rc = hamr__mpi_rank_plan_make(j->p, &j->rp)))
		j->why = strdup(hamr_errmsg());
	return 0;
}


typedef struct batch_ctx {
	served_job *j;
	served_item *items;
} batch_ctx;

static void serve_range(size_t lo, size_t hi, void *arg)
{
	batch_ctx *b = arg;
	for (size_t k = lo; k < hi; k++) {
		served_item *it = &b->items[k];
		if (it->rc) /* its item could not be decoded */
			continue;
		if (b->j->cancelled) {
			it->dropped = 1;
			it->rc = HAMR_ECANCELED;
			continue;
		}
		if (b->j->rc) {
			it->rc = b->j->rc;
			it->msg = b->j->why ? strdup(b->j->why) : NULL;
			continue;
		}
		hamr_backend_failure f;
		it->t0 = hamr_backend_now_ns();
		it->rc = hamr_backend_serve(&b->j->p->prog, it->item, it->v.type ? &it->v : NULL,
		                            (int)it->attempt, it->out, &f);
		it->t1 = hamr_backend_now_ns();
		if (it->rc) {
			it->node = f.node;
			it->msg = f.message;
		}
	}
}

/* An item's outcome on the wire: item, attempt, rc, dropped, node, pid,
 * signal, t0, t1, the count of values, then the message (a failure) or
 * the values it hands back. A value that cannot be encoded fails the item
 * instead: what was written of it is taken back. */
static void put_fields(mbuf *b, const served_item *it, uint32_t n_vals)
{
	hamr__mbuf_u64(b, (uint64_t)it->item);
	hamr__mbuf_u32(b, it->attempt);
	hamr__mbuf_u32(b, (uint32_t)it->rc);
	hamr__mbuf_u32(b, (uint32_t)it->dropped);
	hamr__mbuf_u32(b, (uint32_t)it->node);
	hamr__mbuf_u32(b, (uint32_t)it->pid);
	hamr__mbuf_u32(b, (uint32_t)it->signal);
	hamr__mbuf_u64(b, (uint64_t)it->t0);
	hamr__mbuf_u64(b, (uint64_t)it->t1);
	hamr__mbuf_u32(b, n_vals);
}

static void put_outcome(mbuf *b, served_item *it, uint32_t n_outs)
{
	size_t len = b->len, n_bigs = b->n_bigs;
	if (!it->rc) {
		put_fields(b, it, n_outs);
		for (uint32_t k = 0; k < n_outs; k++)
			if (hamr__mbuf_value(b, &it->out[k])) {
				it->rc = b->rc;
				it->node = -1;
				free(it->msg);
				if (asprintf(&it->msg, "the value it hands back (type %s) cannot cross to rank 0: %s",
				             hamr_type_name(it->out[k].type), hamr_errmsg()) < 0)
					it->msg = NULL;
				hamr__mbuf_rewind(b, len, n_bigs);
				break;
			}
		if (!it->rc)
			return;
	}
	put_fields(b, it, 0);
	if (!it->dropped)
		hamr__mbuf_str(b, it->msg ? it->msg : "");
}

/* An answer to rank 0, then the large values it names. 0 or HAMR_EIO. */
static int send_answer(serving *s, mbuf *out)
{
	int rc = out->rc;
	if (!rc && out->len > INT_MAX)
		rc = hamr_backend_error(HAMR_EIO, "an answer of %zu bytes", out->len);
	if (!rc && MPI_Send(out->p, (int)out->len, MPI_BYTE, 0, TAG_DONE, s->m->comm) != MPI_SUCCESS)
		rc = hamr_backend_error(HAMR_EIO, "rank %d: MPI_Send of an answer failed", s->m->rank);
	if (!rc)
		rc = hamr__mbuf_send_bigs(out, s->m->comm, 0, NULL);
	hamr__mbuf_free(out);
	return rc;
}

/* The head of an answer (mpi_internal.h's ANSWER_*), its counts written
 * when it is sent. */
static void answer_head(mbuf *out, uint64_t id, uint64_t batch)
{
	hamr__mbuf_u64(out, id);
	hamr__mbuf_u64(out, batch);
	hamr__mbuf_u32(out, 0);
	hamr__mbuf_u32(out, 0);
	hamr__mbuf_u64(out, 0);
	hamr__mbuf_u64(out, 0);
}

static void answer_seal(mbuf *out, uint32_t n, const hamr_process_stats *last)
{
	uint32_t l = last != NULL;
	if (out->len >= ANSWER_HEAD) {
		memcpy(out->p + ANSWER_AT_COUNT, &n, sizeof n);
		memcpy(out->p + ANSWER_AT_LAST, &l, sizeof l);
		if (last) {
			memcpy(out->p + ANSWER_AT_COPIED, &last->bytes_copied,
			       sizeof last->bytes_copied);
			memcpy(out->p + ANSWER_AT_SHARED, &last->bytes_shared,
			       sizeof last->bytes_shared);
		}
	}
}

/* Takes the cancels that have arrived (MPI lets a cancel pass the
 * batches sent before it, as a probe for its tag alone finds it), and says
 * whether the job is cancelled. */
typedef struct stop_ctx {
	serving *s;
	served_job *j;
} stop_ctx;

static int job_stopped(void *arg)
{
	stop_ctx *c = arg;
	hamr_mpi *m = c->s->m;
	for (;;) {
		int flag = 0;
		MPI_Status st;
		if (MPI_Iprobe(0, TAG_CANCEL, m->comm, &flag, &st) != MPI_SUCCESS || !flag)
			break;
		uint64_t id = 0;
		MPI_Recv(&id, (int)sizeof id, MPI_BYTE, 0, TAG_CANCEL, m->comm, MPI_STATUS_IGNORE);
		served_job *j = job_find(c->s, id);
		if (j)
			j->cancelled = 1;
	}
	return c->j->cancelled;
}

static int serve_batch(serving *s, mread *r, uint64_t id)
{
	uint64_t batch = hamr__mread_u64(r);
	uint32_t n = hamr__mread_u32(r);
	served_job *j = job_find(s, id);
	if (r->bad || !j || n > r->len)
		return hamr_backend_error(HAMR_EIO, "a malformed batch from rank 0");
	served_item *items = calloc(n ? n : 1, sizeof *items);
	if (!items)
		return HAMR_ENOMEM;
	for (uint32_t k = 0; k < n; k++) {
		items[k].item = (int64_t)hamr__mread_u64(r);
		items[k].attempt = hamr__mread_u32(r);
		items[k].node = -1;
		int rc = hamr__mread_value(r, &items[k].v);
		if (rc) {
			items[k].rc = rc;
			if (asprintf(&items[k].msg, "its item could not be decoded here: %s",
			             hamr_errmsg()) < 0)
				items[k].msg = NULL;
		}
	}
	batch_ctx b = {j, items};
	stop_ctx stop = {s, j};
	hamr_process_stats ps = {0};
	if (j->rp && !j->rc && !j->cancelled) {
		hamr__mpi_rank_plan_run(j->rp, s->m->procs, items, n, job_stopped, &stop, &ps);
	} else {
		/* in parts, looking for a cancel between them */
		uint32_t part = n / 16 + 1;
		for (uint32_t lo = 0; lo < n; lo += part) {
			hamr_pool_parallel_for(hamr_pool_default(), lo, lo + part < n ? lo + part : n,
			                       serve_range, &b);
			job_stopped(&stop);
		}
	}
	/* the answer, in parts of about ANSWER_BYTES: MPI counts in int */
	mbuf out = {.eager = s->m->eager};
	answer_head(&out, id, batch);
	uint32_t in_part = 0;
	int rc = 0;
	for (uint32_t k = 0; k < n; k++) {
		put_outcome(&out, &items[k], j->p ? j->p->prog.n_outs : 0);
		in_part++;
		hamr_value_clear(&items[k].v);
		for (uint32_t o = 0; o < HAMR_BACKEND_MAX_OUT; o++)
			hamr_value_clear(&items[k].out[o]);
		free(items[k].msg);
		if (!rc && out.len > ANSWER_BYTES && k + 1 < n) {
			answer_seal(&out, in_part, NULL);
			rc = send_answer(s, &out);
			out = (mbuf){.eager = s->m->eager};
			answer_head(&out, id, batch);
			in_part = 0;
		}
	}
	free(items);
	answer_seal(&out, in_part, &ps);
	return rc ? (hamr__mbuf_free(&out), rc) : send_answer(s, &out);
}

int hamr_mpi_serve(hamr_mpi *m)
{
	if (!m || m->rank == 0)
		return hamr_backend_error(HAMR_EINVAL, "hamr_mpi_serve: rank 0 runs the plan, it does not serve");
	serving s = {m, NULL, 0, 0};
	int rc = 0, round = 0;
	char *buf = NULL;
	size_t cap = 0;
	for (;;) {
		int flag = 0, count = 0;
		MPI_Status st;
		if (MPI_Iprobe(0, MPI_ANY_TAG, m->comm, &flag, &st) != MPI_SUCCESS) {
			rc = hamr_backend_error(HAMR_EIO, "MPI_Iprobe failed");
			break;
		}
		if (!flag) {
			hamr__mpi_backoff(&round);
			continue;
		}
		round = 0;
		MPI_Get_count(&st, MPI_BYTE, &count);
		if ((size_t)count > cap) {
			char *nb = realloc(buf, (size_t)count);
			if (!nb) {
				rc = HAMR_ENOMEM;
				break;
			}
			buf = nb;
			cap = (size_t)count;
		}
		MPI_Recv(buf, count, MPI_BYTE, 0, st.MPI_TAG, m->comm, MPI_STATUS_IGNORE);
		if (st.MPI_TAG == TAG_STOP)
			break;
		if (st.MPI_TAG == TAG_BIG)
			continue; /* of a message that could not be read whole */
		mread r = {buf, (size_t)count, 0, 0, m->comm, 0, m->procs};
		uint64_t id = hamr__mread_u64(&r);
		served_job *j = job_find(&s, id);
		switch (st.MPI_TAG) {
		case TAG_PROG:
			rc = j ? 0 : take_program(&s, &r, id);
			break;
		case TAG_BATCH:
			rc = serve_batch(&s, &r, id);
			break;
		case TAG_CANCEL:
			if (j)
				j->cancelled = 1;
			break;
		case TAG_CLOSE:
			if (j)
				job_forget(&s, j);
			break;
		default:
			break;
		}
		if (rc)
			break;
	}
	while (s.n_jobs)
		job_forget(&s, &s.jobs[0]);
	free(s.jobs);
	free(buf);
	return rc;
}
