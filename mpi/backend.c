// SPDX-License-Identifier: MIT
/* Rank 0's side of the MPI executor: the backend table (hamr/backend.h).
 *
 * A job keeps its items in a queue and hands them out in batches, each
 * rank holding at most `depth` batches (of every job) at once, so a slow
 * rank gets fewer; a batch grows from one item while batches come back in
 * under a millisecond. A job's program goes to a rank with its first
 * batch there. Rank 0 sends without blocking (MPI_Isend, the buffer kept
 * until the send completes) and polls for answers, so a serving rank that
 * sends a large answer never waits on a rank 0 that sends it a large
 * batch. While every rank is busy, the thread waiting on a job runs its
 * queued items itself. Every MPI call and every job's queues are under
 * m->lock: the thread of any job takes the answers of all of them. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpi/mpi_internal.h"

/* A send in flight: its buffer lives until MPI is done with it. */
typedef struct pending_send {
	mbuf b;
	int n_req;
	struct pending_send *next;
	MPI_Request *req; /* the message's, then its large values' */
} pending_send;

/* A batch stops growing past this many bytes of items (and a rank's
 * answer is sent in parts of about this size): MPI counts in int. */
#define BATCH_BYTES ((size_t)64 << 20)

typedef struct queued {
	int64_t item;
	hamr_value v;
} queued;

/* A completion, and what the job's own thread reports when it hands it
 * on, outside the lock (hooks may call anything, and are the run's, not
 * the thread's that took the answer): the failure to record, and how many
 * of the program's nodes ran (the last of them failed when f.code is
 * set). */
typedef struct pending {
	hamr_backend_done d;
	hamr_backend_failure f; /* f.code 0: none; f.message malloc'd */
	uint32_t n_ran;
} pending;

struct hamr_backend_job {
	hamr_mpi *m;
	hamr_run *r;
	uint64_t id;
	struct hamr_backend_job *next; /* in m->jobs */
	mbuf prog;                     /* the encoded program */
	int skip;                      /* an outside value is missing */
	/* the program as rank 0 serves it: arrays and values its own */
	hamr_backend_program local;
	uint32_t *nodes, *outs;
	hamr_value *slots;
	/* items not handed out yet */
	queued *q;
	size_t q_head, q_len, q_cap;
	/* completions not taken yet */
	pending *done;
	size_t d_head, d_len, d_cap;
	unsigned char *has_prog; /* per rank */
	int *held;               /* per rank: this job's batches there */
	size_t away;             /* items at ranks, not back */
	uint64_t next_batch;
	int batch;               /* items per batch now */
	int cancel_sent, dropping;
};

/* ---- sending ------------------------------------------------------------------- */

/* Sends b (taken: the caller's buffer is empty on return) to rank r. */
static int send_to(hamr_mpi *m, int r, int tag, mbuf *b)
{
	if (b->rc) {
		int rc = b->rc;
		hamr__mbuf_free(b);
		return rc;
	}
	size_t n_req = 1 + hamr__mbuf_big_messages(b);
	pending_send *s = calloc(1, sizeof *s);
	if (!s || !(s->req = calloc(n_req, sizeof *s->req))) {
		free(s);
		hamr__mbuf_free(b);
		return HAMR_ENOMEM;
	}
	s->b = *b;
	s->n_req = (int)n_req;
	*b = (mbuf){.eager = m->eager};
	for (size_t k = 0; k < n_req; k++)
		s->req[k] = MPI_REQUEST_NULL;
	if (s->b.len > INT_MAX ||
	    MPI_Isend(s->b.p, (int)s->b.len, MPI_BYTE, r, tag, m->comm, &s->req[0]) != MPI_SUCCESS) {
		hamr__mbuf_free(&s->b);
		free(s->req);
		free(s);
		return hamr_backend_error(HAMR_EIO, "a message to rank %d could not be sent", r);
	}
	/* from here MPI may read the buffer: it stays until every request
	 * that started is done */
	s->next = m->sends;
	m->sends = s;
	if (hamr__mbuf_send_bigs(&s->b, m->comm, r, &s->req[1]))
		return hamr_backend_error(HAMR_EIO, "a large value to rank %d could not be sent", r);
	return 0;
}

/* Frees the sends MPI is done with; with `wait`, waits for all. */
static void reap_sends(hamr_mpi *m, int wait)
{
	for (pending_send **p = &m->sends; *p;) {
		/* one request at a time: a done one is MPI_REQUEST_NULL, which
		 * tests as done again */
		int flag = 1;
		for (int k = 0; k < (*p)->n_req && flag; k++) {
			if (wait)
				MPI_Wait(&(*p)->req[k], MPI_STATUS_IGNORE);
			else
				MPI_Test(&(*p)->req[k], &flag, MPI_STATUS_IGNORE);
		}
		if (!flag) {
			p = &(*p)->next;
			continue;
		}
		pending_send *s = *p;
		*p = s->next;
		hamr__mbuf_free(&s->b);
		free(s->req);
		free(s);
	}
}

void hamr__mpi_flush_sends(hamr_mpi *m)
{
	pthread_mutex_lock(&m->lock);
	reap_sends(m, 1);
	pthread_mutex_unlock(&m->lock);
}

static int send_short(hamr_mpi *m, int r, int tag, uint64_t id)
{
	mbuf b = {.eager = m->eager};
	hamr__mbuf_u64(&b, id);
	return send_to(m, r, tag, &b);
}

/* ---- completions ------------------------------------------------------------------ */

static pending *done_push(hamr_backend_job *j)
{
	if (j->d_len == j->d_cap) {
		size_t cap = j->d_cap ? 2 * j->d_cap : 16;
		pending *d = malloc(cap * sizeof *d);
		if (!d)
			return NULL;
		for (size_t k = 0; k < j->d_len; k++)
			d[k] = j->done[(j->d_head + k) % j->d_cap];
		free(j->done);
		j->done = d;
		j->d_head = 0;
		j->d_cap = cap;
	}
	pending *p = &j->done[(j->d_head + j->d_len++) % j->d_cap];
	memset(p, 0, sizeof *p);
	p->d.rank = -1;
	return p;
}

/* A completion of item that failed before it ran anywhere, with the
 * block's first node named. */
static void push_failure(hamr_backend_job *j, int64_t item, int code, char *msg)
{
	pending *p = done_push(j);
	if (!p) {
		free(msg);
		return;
	}
	p->d.item = item;
	p->d.where = (int)getpid();
	p->f = (hamr_backend_failure){code, j->local.n_nodes ? (int32_t)j->local.nodes[0] : -1,
	                              item, p->d.where, 0, 1, msg};
}

/* Queued items come back dropped: the run stopped. */
static void drop_queued(hamr_backend_job *j)
{
	for (; j->q_len; j->q_len--, j->q_head = (j->q_head + 1) % j->q_cap) {
		queued *q = &j->q[j->q_head];
		pending *p = done_push(j);
		if (p) {
			p->d.item = q->item;
			p->d.rc = HAMR_ECANCELED;
			p->d.dropped = 1;
		}
		hamr_value_clear(&q->v);
	}
}

/* The node of prog that local k names, -1 for none. */
static int32_t plan_node(const hamr_backend_job *j, int32_t k)
{
	return k >= 0 && (uint32_t)k < j->local.n_nodes ? (int32_t)j->local.nodes[k] : -1;
}

/* One item's outcome from rank src, read whole (every large value it
 * names received, so that the rank's next messages stay in step) into a
 * completion of j; of no job's when j is NULL (a closed one's). */
static void take_outcome(hamr_backend_job *j, mread *rd, int src, int64_t *t_lo, int64_t *t_hi)
{
	hamr_mpi *m = j ? j->m : NULL;
	int64_t item = (int64_t)hamr__mread_u64(rd);
	int attempt = (int)hamr__mread_u32(rd);
	int rc = (int)hamr__mread_u32(rd), dropped = (int)hamr__mread_u32(rd);
	int32_t node = (int32_t)hamr__mread_u32(rd);
	int pid = (int)hamr__mread_u32(rd), sig = (int)hamr__mread_u32(rd);
	int64_t t0 = (int64_t)hamr__mread_u64(rd), t1 = (int64_t)hamr__mread_u64(rd);
	uint32_t n_vals = hamr__mread_u32(rd);
	const char *msg = rc && !dropped ? hamr__mread_str(rd) : "";
	hamr_value out[HAMR_BACKEND_MAX_OUT] = {HAMR_VALUE_EMPTY};
	int vrc = 0;
	char why[256] = "";
	for (uint32_t k = 0; k < n_vals && !rd->bad; k++) {
		hamr_value v;
		int e = hamr__mread_value(rd, &v);
		if (e && !vrc) {
			vrc = e;
			snprintf(why, sizeof why, "a value it handed back could not be decoded: %s",
			         hamr_errmsg());
		}
		if (!e && k < HAMR_BACKEND_MAX_OUT)
			out[k] = v;
		else
			hamr_value_clear(&v);
	}
	pending *p = j && !rd->bad ? done_push(j) : NULL;
	if (!p) { /* a closed job's, a malformed answer, or no memory */
		for (uint32_t k = 0; k < HAMR_BACKEND_MAX_OUT; k++)
			hamr_value_clear(&out[k]);
		return;
	}
	int64_t off = m->ranks[src].clock_off;
	p->d.item = item;
	p->d.where = pid ? pid : m->ranks[src].pid; /* a worker process of the rank's */
	p->d.t0 = t0 - off;
	p->d.t1 = t1 - off;
	p->d.rank = src;
	if (dropped) {
		p->d.rc = HAMR_ECANCELED;
		p->d.dropped = 1;
		return;
	}
	if (p->d.t0 < *t_lo)
		*t_lo = p->d.t0;
	if (p->d.t1 > *t_hi)
		*t_hi = p->d.t1;
	if (!rc && !vrc && n_vals != j->local.n_outs) {
		vrc = HAMR_EIO;
		snprintf(why, sizeof why, "it handed back %u values, not %u", n_vals, j->local.n_outs);
	}
	if (!rc && !vrc) {
		memcpy(p->d.out, out, sizeof out);
		p->d.n_out = n_vals;
		p->n_ran = j->local.n_nodes;
		return;
	}
	for (uint32_t k = 0; k < HAMR_BACKEND_MAX_OUT; k++)
		hamr_value_clear(&out[k]);
	int32_t failed = plan_node(j, node);
	char *text = NULL;
	if (asprintf(&text, "rank %d (host %s): %s", src, m->ranks[src].host, rc ? msg : why) < 0)
		text = NULL;
	p->f = (hamr_backend_failure){rc ? rc : vrc, failed, item, p->d.where, sig,
	                              attempt > 0 ? attempt : 1, text};
	p->n_ran = rc && node >= 0 ? (uint32_t)node + 1 : 0;
}

/* An answer from rank src: outcomes of a batch, the batch's last part
 * when `last` says so (a rank splits a big one). */
static void take_answer(hamr_mpi *m, int src, const char *buf, size_t len)
{
	mread rd = {buf, len, 0, 0, m->comm, src, NULL};
	uint64_t id = hamr__mread_u64(&rd);
	(void)hamr__mread_u64(&rd); /* the batch's number */
	uint32_t n = hamr__mread_u32(&rd), last = hamr__mread_u32(&rd);
	uint64_t copied = hamr__mread_u64(&rd), shared = hamr__mread_u64(&rd);
	hamr_backend_job *j = m->jobs;
	while (j && j->id != id)
		j = j->next;
	if (last && src > 0 && src < m->size) {
		m->ranks[src].stats.bytes_copied += copied;
		m->ranks[src].stats.bytes_shared += shared;
		if (m->ranks[src].held > 0)
			m->ranks[src].held--;
	}
	if (j && last && j->held[src] > 0)
		j->held[src]--;
	int64_t lo = INT64_MAX, hi = INT64_MIN;
	for (uint32_t k = 0; k < n && !rd.bad; k++)
		take_outcome(j, &rd, src, &lo, &hi);
	if (!j)
		return; /* a closed job's: read, so its large values are too */
	j->away -= n <= j->away ? n : j->away;
	/* the next batches grow while one takes under a millisecond there,
	 * and shrink past four */
	if (last && !m->batch && hi > lo) {
		if (hi - lo < 1000000 && j->batch < (1 << 16))
			j->batch *= 2;
		else if (hi - lo > 4000000 && j->batch > 1)
			j->batch /= 2;
	}
}

int hamr__mpi_progress(hamr_mpi *m)
{
	reap_sends(m, 0);
	for (;;) {
		int flag = 0, count = 0;
		MPI_Status st;
		if (MPI_Iprobe(MPI_ANY_SOURCE, TAG_DONE, m->comm, &flag, &st) != MPI_SUCCESS)
			return hamr_backend_error(HAMR_EIO, "MPI_Iprobe failed");
		if (!flag)
			return 0;
		MPI_Get_count(&st, MPI_BYTE, &count);
		if (count < 0)
			return hamr_backend_error(HAMR_EIO, "an answer from rank %d of no byte count",
			                          st.MPI_SOURCE);
		char *buf = malloc(count ? (size_t)count : 1);
		if (!buf)
			return HAMR_ENOMEM; /* tried again next round */
		if (MPI_Recv(buf, count, MPI_BYTE, st.MPI_SOURCE, TAG_DONE, m->comm,
		             MPI_STATUS_IGNORE) != MPI_SUCCESS) {
			free(buf);
			return hamr_backend_error(HAMR_EIO, "MPI_Recv of an answer from rank %d failed",
			                          st.MPI_SOURCE);
		}
		take_answer(m, st.MPI_SOURCE, buf, (size_t)count);
		free(buf);
	}
}

/* Hands out queued items while some rank holds fewer than `depth`
 * batches: the least busy rank first, and among equally busy ones the
 * next after the last one served, so that work spreads over every rank
 * even when each answers before the next batch forms. */
static int dispatch(hamr_backend_job *j)
{
	hamr_mpi *m = j->m;
	while (j->q_len) {
		int best = -1;
		for (int k = 0; k < m->size - 1; k++) {
			int r = 1 + (m->next_rank - 1 + k) % (m->size - 1);
			if (m->ranks[r].held < m->depth && (best < 0 || m->ranks[r].held < m->ranks[best].held))
				best = r;
		}
		if (best < 0)
			return 0;
		m->next_rank = best % (m->size - 1) + 1;
		int rc;
		if (!j->has_prog[best]) {
			mbuf p = {.eager = m->eager};
			hamr__mbuf_u64(&p, j->id);
			hamr__mbuf_cat(&p, &j->prog);
			if ((rc = send_to(m, best, TAG_PROG, &p)))
				return rc;
			j->has_prog[best] = 1;
		}
		/* each item written where the batch is built, and taken back
		 * when it cannot be encoded: that one fails alone, through next;
		 * a batch stops growing at BATCH_BYTES */
		size_t want = j->q_len < (size_t)j->batch ? j->q_len : (size_t)j->batch;
		uint32_t n = 0;
		mbuf b = {.eager = m->eager};
		hamr__mbuf_u64(&b, j->id);
		hamr__mbuf_u64(&b, j->next_batch);
		hamr__mbuf_u32(&b, 0); /* the count, once known */
		for (size_t k = 0; k < want && b.len < BATCH_BYTES && !b.rc; k++) {
			queued *q = &j->q[j->q_head];
			size_t len = b.len, n_bigs = b.n_bigs;
			hamr__mbuf_u64(&b, (uint64_t)q->item);
			hamr__mbuf_u32(&b, 1);
			int vrc = hamr__mbuf_value(&b, &q->v);
			if (vrc) {
				char *msg = NULL;
				if (asprintf(&msg, "its item (type %s) cannot cross to another rank: %s",
				             hamr_type_name(q->v.type), hamr_errmsg()) < 0)
					msg = NULL;
				push_failure(j, q->item, vrc, msg);
				hamr__mbuf_rewind(&b, len, n_bigs);
			} else {
				n++;
			}
			hamr_value_clear(&q->v);
			j->q_head = (j->q_head + 1) % j->q_cap;
			j->q_len--;
		}
		if (!n) {
			hamr__mbuf_free(&b);
			continue;
		}
		j->next_batch++;
		memcpy(b.p + 16, &n, sizeof n);
		if ((rc = send_to(m, best, TAG_BATCH, &b)))
			return rc;
		mpi_rank *rk = &m->ranks[best];
		rk->stats.batches++;
		rk->stats.items += (int64_t)n;
		if (++rk->held > rk->stats.held_max)
			rk->stats.held_max = rk->held;
		j->held[best]++;
		j->away += n;
	}
	return 0;
}

/* ---- the table ------------------------------------------------------------------------ */

/* Hands completion p on as *d, from the job's own thread with the lock
 * released: the failure recorded, the nodes that ran told to hooks and
 * statistics. */
static void hand_on(hamr_backend_job *j, pending *p, hamr_backend_done *d)
{
	hamr_mpi *m = j->m;
	if (p->f.code) {
		p->d.rc = p->d.rank >= 0 ?
		          hamr_backend_fail_rank(j->r, &p->f, p->d.rank, m->ranks[p->d.rank].host) :
		          hamr_backend_fail(j->r, &p->f);
		free(p->f.message);
	}
	for (uint32_t k = 0; !p->d.dropped && k < p->n_ran; k++)
		hamr_backend_node_ran(j->r, j->local.nodes[k], p->d.item, p->d.t0, p->d.t1,
		                      k + 1 == p->n_ran ? p->d.rc : 0, p->d.where, p->d.rank);
	*d = p->d;
}

/* A user type that would cross without a codec: refused before the run. */
static int no_codec(hamr_type t)
{
	return t && t->kind == HAMR_KIND_USER && (!t->encode || !t->decode);
}

static int mpi_check(void *self, const hamr_backend_program *prog)
{
	hamr_mpi *m = self;
	if (!m || m->rank != 0)
		return hamr_backend_error(HAMR_ESTATE, "the MPI executor runs plans on rank 0 only");
	const char *name = "";
	hamr_type t = NULL;
	for (uint32_t k = 0; k < prog->n_outs; k++) {
		hamr_backend_slot_info(prog->plan, prog->outs[k], &name, &t);
		if (no_codec(t))
			return hamr_backend_error(HAMR_ECODEC,
			                          "node \"%s\": its result (type %s) would cross back from another rank, and the type has no codec (encode and decode)",
			                          name, hamr_type_name(t));
	}
	if (prog->item_slot >= 0) {
		hamr_backend_slot_info(prog->plan, (uint32_t)prog->item_slot, &name, &t);
		if (no_codec(t))
			return hamr_backend_error(HAMR_ECODEC,
			                          "node \"%s\": its items (type %s) would cross to other ranks, and the type has no codec (encode and decode)",
			                          name, hamr_type_name(t));
	}
	/* code that no other rank can find, and outside values known so far */
	mbuf b = {0};
	int skip;
	int rc = hamr__mpi_program_encode(prog, &b, &skip);
	hamr__mbuf_free(&b);
	return rc;
}

static void job_free(hamr_backend_job *j)
{
	for (; j->q_len; j->q_len--, j->q_head = (j->q_head + 1) % j->q_cap)
		hamr_value_clear(&j->q[j->q_head].v);
	for (; j->d_len; j->d_len--, j->d_head = (j->d_head + 1) % j->d_cap) {
		pending *p = &j->done[j->d_head];
		for (uint32_t k = 0; k < p->d.n_out; k++)
			hamr_value_clear(&p->d.out[k]);
		free(p->f.message);
	}
	if (j->slots)
		for (uint32_t s = 0; s < j->local.n_slots; s++)
			hamr_value_clear(&j->slots[s]);
	hamr__mbuf_free(&j->prog);
	free(j->q);
	free(j->done);
	free(j->has_prog);
	free(j->held);
	free(j->nodes);
	free(j->outs);
	free(j->slots);
	free(j);
}

static int mpi_open(void *self, hamr_run *r, const hamr_backend_program *prog,
                    hamr_backend_job **out)
{
	hamr_mpi *m = self;
	if (!m || m->rank != 0)
		return hamr_backend_error(HAMR_ESTATE, "the MPI executor runs plans on rank 0 only");
	hamr_backend_job *j = calloc(1, sizeof *j);
	if (!j)
		return HAMR_ENOMEM;
	j->m = m;
	j->r = r;
	j->batch = m->batch ? m->batch : 1;
	j->has_prog = calloc((size_t)m->size, 1);
	j->held = calloc((size_t)m->size, sizeof *j->held);
	j->nodes = malloc((prog->n_nodes ? prog->n_nodes : 1) * sizeof *j->nodes);
	j->outs = malloc((prog->n_outs ? prog->n_outs : 1) * sizeof *j->outs);
	j->slots = calloc(prog->n_slots ? prog->n_slots : 1, sizeof *j->slots);
	if (!j->has_prog || !j->held || !j->nodes || !j->outs || !j->slots) {
		job_free(j);
		return HAMR_ENOMEM;
	}
	/* the outside values are borrowed during open: the job keeps its own
	 * references, to run items here */
	memcpy(j->nodes, prog->nodes, prog->n_nodes * sizeof *j->nodes);
	memcpy(j->outs, prog->outs, prog->n_outs * sizeof *j->outs);
	for (uint32_t s = 0; s < prog->n_slots; s++)
		if (prog->slots[s].type)
			j->slots[s] = hamr_value_ref(&prog->slots[s]);
	j->local = *prog;
	j->local.nodes = j->nodes;
	j->local.outs = j->outs;
	j->local.slots = j->slots;
	j->prog.eager = m->eager;
	int rc = m->size > 1 ? hamr__mpi_program_encode(prog, &j->prog, &j->skip) : 0;
	if (rc) {
		job_free(j);
		return rc;
	}
	pthread_mutex_lock(&m->lock);
	j->id = m->next_job++;
	j->next = m->jobs;
	m->jobs = j;
	pthread_mutex_unlock(&m->lock);
	*out = j;
	return 0;
}

static int mpi_send(hamr_backend_job *j, int64_t item, const hamr_value *v)
{
	if (j->skip)
		return HAMR_BACKEND_SKIPPED;
	if (v && no_codec(v->type)) {
		char *msg = NULL;
		if (asprintf(&msg, "its item (type %s) would cross to another rank, and the type has no codec (encode and decode)",
		             hamr_type_name(v->type)) < 0)
			msg = NULL;
		hamr_backend_failure f = {HAMR_ECODEC, j->local.n_nodes ? (int32_t)j->local.nodes[0] : -1,
		                          item, getpid(), 0, 1, msg};
		int rc = hamr_backend_fail(j->r, &f);
		free(msg);
		return rc;
	}
	hamr_mpi *m = j->m;
	pthread_mutex_lock(&m->lock);
	if (j->q_len == j->q_cap) {
		size_t cap = j->q_cap ? 2 * j->q_cap : 64;
		queued *q = malloc(cap * sizeof *q);
		if (!q) {
			pthread_mutex_unlock(&m->lock);
			return HAMR_ENOMEM;
		}
		for (size_t k = 0; k < j->q_len; k++)
			q[k] = j->q[(j->q_head + k) % j->q_cap];
		free(j->q);
		j->q = q;
		j->q_head = 0;
		j->q_cap = cap;
	}
	queued *q = &j->q[(j->q_head + j->q_len++) % j->q_cap];
	q->item = item;
	q->v = v ? hamr_value_ref(v) : (hamr_value)HAMR_VALUE_EMPTY;
	/* queued: it comes back through next, whatever dispatch meets (a
	 * failed MPI call ends the job under MPI's default error handler) */
	dispatch(j);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

/* Runs one queued item here, outside the lock, into a completion. */
static void serve_here(hamr_backend_job *j, queued q)
{
	pending p;
	memset(&p, 0, sizeof p);
	p.d.item = q.item;
	p.d.where = (int)getpid();
	p.d.rank = 0;
	p.d.t0 = hamr_backend_now_ns();
	int rc = hamr_backend_serve(&j->local, q.item, q.v.type ? &q.v : NULL, 1, p.d.out, &p.f);
	p.d.t1 = hamr_backend_now_ns();
	hamr_value_clear(&q.v);
	if (rc) {
		p.f.where = p.d.where;
		p.n_ran = 0; /* the nodes up to the failed one ran */
		for (uint32_t k = 0; k < j->local.n_nodes; k++)
			if ((int32_t)j->local.nodes[k] == p.f.node)
				p.n_ran = k + 1;
	} else {
		p.f.code = 0;
		p.d.n_out = j->local.n_outs;
		p.n_ran = j->local.n_nodes;
	}
	pthread_mutex_lock(&j->m->lock);
	j->m->ranks[0].stats.items++;
	pending *slot = done_push(j);
	if (slot)
		*slot = p;
	pthread_mutex_unlock(&j->m->lock);
	if (!slot) { /* no memory for it: its values go, the failure is lost */
		for (uint32_t k = 0; k < p.d.n_out; k++)
			hamr_value_clear(&p.d.out[k]);
		free(p.f.message);
	}
}

static void send_cancel(hamr_backend_job *j)
{
	if (j->cancel_sent)
		return;
	j->cancel_sent = 1;
	for (int r = 1; r < j->m->size; r++)
		if (j->held[r])
			send_short(j->m, r, TAG_CANCEL, j->id);
}

static int mpi_next(hamr_backend_job *j, hamr_backend_done *d, int wait)
{
	hamr_mpi *m = j->m;
	int round = 0;
	pthread_mutex_lock(&m->lock);
	for (;;) {
		int stopped = hamr_backend_stopped(j->r);
		if (stopped != HAMR_BACKEND_RUNNING)
			drop_queued(j);
		if (stopped == HAMR_BACKEND_CANCEL)
			send_cancel(j);
		/* answers first, so that the ranks that gave them get new
		 * batches at once, before this thread hands a completion on or
		 * runs an item itself. A failed MPI call ends the job under
		 * MPI's default error handler; out of memory is tried again
		 * next round. */
		hamr__mpi_progress(m);
		dispatch(j);
		if (j->d_len) {
			pending p = j->done[j->d_head];
			j->d_head = (j->d_head + 1) % j->d_cap;
			j->d_len--;
			pthread_mutex_unlock(&m->lock);
			hand_on(j, &p, d);
			return 1;
		}
		if (!j->q_len && !j->away) {
			pthread_mutex_unlock(&m->lock);
			return 0;
		}
		if (!wait) {
			pthread_mutex_unlock(&m->lock);
			return 0;
		}
		if (j->q_len && (m->root_items || m->size == 1)) {
			/* every rank is busy: run one here */
			queued q = j->q[j->q_head];
			j->q_head = (j->q_head + 1) % j->q_cap;
			j->q_len--;
			pthread_mutex_unlock(&m->lock);
			serve_here(j, q);
			pthread_mutex_lock(&m->lock);
			round = 0;
			continue;
		}
		pthread_mutex_unlock(&m->lock);
		hamr__mpi_backoff(&round);
		pthread_mutex_lock(&m->lock);
	}
}

static void mpi_cancel(hamr_backend_job *j)
{
	pthread_mutex_lock(&j->m->lock);
	drop_queued(j);
	send_cancel(j);
	pthread_mutex_unlock(&j->m->lock);
}

static void mpi_close(hamr_backend_job *j)
{
	if (!j)
		return;
	hamr_mpi *m = j->m;
	int round = 0;
	pthread_mutex_lock(&m->lock);
	for (; j->q_len; j->q_len--, j->q_head = (j->q_head + 1) % j->q_cap)
		hamr_value_clear(&j->q[j->q_head].v);
	if (j->away)
		send_cancel(j);
	/* what the ranks still hold comes back; its values are dropped */
	while (j->away) {
		if (hamr__mpi_progress(m))
			break;
		pthread_mutex_unlock(&m->lock);
		hamr__mpi_backoff(&round);
		pthread_mutex_lock(&m->lock);
	}
	for (int r = 1; r < m->size; r++)
		if (j->has_prog[r])
			send_short(m, r, TAG_CLOSE, j->id);
	for (hamr_backend_job **p = &m->jobs; *p; p = &(*p)->next)
		if (*p == j) {
			*p = j->next;
			break;
		}
	reap_sends(m, 0);
	pthread_mutex_unlock(&m->lock);
	job_free(j);
}

static const hamr_backend mpi_backend = {HAMR_BACKEND_ABI, sizeof(hamr_backend), "mpi",
                                         mpi_check, mpi_open, mpi_send, mpi_next,
                                         mpi_cancel, mpi_close};

const hamr_backend *hamr_mpi_backend(void)
{
	return &mpi_backend;
}

int hamr_mpi_stats(hamr_mpi *m, int rank, hamr_mpi_rank_stats *out)
{
	if (!m || !out || m->rank != 0)
		return hamr_backend_error(HAMR_EINVAL, "hamr_mpi_stats: rank 0 keeps the counts");
	if (rank < 0 || rank >= m->size)
		return hamr_backend_error(HAMR_ERANGE, "hamr_mpi_stats: no rank %d of %d", rank, m->size);
	pthread_mutex_lock(&m->lock);
	*out = m->ranks[rank].stats;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

void hamr_mpi_stats_reset(hamr_mpi *m)
{
	if (!m || m->rank != 0)
		return;
	pthread_mutex_lock(&m->lock);
	for (int r = 0; r < m->size; r++)
		m->ranks[r].stats = (hamr_mpi_rank_stats){.held_max = m->ranks[r].held};
	pthread_mutex_unlock(&m->lock);
}
