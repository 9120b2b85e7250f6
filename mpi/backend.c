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

typedef struct queued {
	int64_t item;
	hamr_value v;
} queued;

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
	hamr_backend_done *done;
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
		mbuf_free(b);
		return rc;
	}
	size_t n_req = 1 + mbuf_big_messages(b);
	pending_send *s = calloc(1, sizeof *s);
	if (!s || !(s->req = calloc(n_req, sizeof *s->req))) {
		free(s);
		mbuf_free(b);
		return HAMR_ENOMEM;
	}
	s->b = *b;
	s->n_req = (int)n_req;
	*b = (mbuf){.eager = m->eager};
	if (MPI_Isend(s->b.p, (int)s->b.len, MPI_BYTE, r, tag, m->comm, &s->req[0]) != MPI_SUCCESS ||
	    mbuf_send_bigs(&s->b, m->comm, r, &s->req[1])) {
		/* MPI's default error handler has ended the job before this */
		mbuf_free(&s->b);
		free(s->req);
		free(s);
		return hamr_backend_error(HAMR_EIO, "MPI_Isend to rank %d failed", r);
	}
	s->next = m->sends;
	m->sends = s;
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
		mbuf_free(&s->b);
		free(s->req);
		free(s);
	}
}

void mpi_flush_sends(hamr_mpi *m)
{
	pthread_mutex_lock(&m->lock);
	reap_sends(m, 1);
	pthread_mutex_unlock(&m->lock);
}

static int send_short(hamr_mpi *m, int r, int tag, uint64_t id)
{
	mbuf b = {.eager = m->eager};
	mbuf_u64(&b, id);
	return send_to(m, r, tag, &b);
}

/* ---- completions ------------------------------------------------------------------ */

static hamr_backend_done *done_push(hamr_backend_job *j)
{
	if (j->d_len == j->d_cap) {
		size_t cap = j->d_cap ? 2 * j->d_cap : 16;
		hamr_backend_done *d = malloc(cap * sizeof *d);
		if (!d)
			return NULL;
		for (size_t k = 0; k < j->d_len; k++)
			d[k] = j->done[(j->d_head + k) % j->d_cap];
		free(j->done);
		j->done = d;
		j->d_head = 0;
		j->d_cap = cap;
	}
	hamr_backend_done *d = &j->done[(j->d_head + j->d_len++) % j->d_cap];
	memset(d, 0, sizeof *d);
	return d;
}

/* Queued items come back dropped: the run stopped. */
static void drop_queued(hamr_backend_job *j)
{
	for (; j->q_len; j->q_len--, j->q_head = (j->q_head + 1) % j->q_cap) {
		queued *q = &j->q[j->q_head];
		hamr_backend_done *d = done_push(j);
		if (d) {
			d->item = q->item;
			d->rc = HAMR_ECANCELED;
			d->dropped = 1;
		}
		hamr_value_clear(&q->v);
	}
}

/* The node of prog that local k names, -1 for none. */
static int32_t plan_node(const hamr_backend_job *j, int32_t k)
{
	return k >= 0 && (uint32_t)k < j->local.n_nodes ? (int32_t)j->local.nodes[k] : -1;
}

/* One item's outcome from rank src, into a completion. */
static int take_outcome(hamr_backend_job *j, mread *rd, int src, int64_t *t_lo, int64_t *t_hi)
{
	hamr_mpi *m = j->m;
	int64_t item = (int64_t)mread_u64(rd);
	int attempt = (int)mread_u32(rd);
	int rc = (int)mread_u32(rd), dropped = (int)mread_u32(rd);
	int32_t node = (int32_t)mread_u32(rd);
	int pid = (int)mread_u32(rd), sig = (int)mread_u32(rd);
	int64_t off = m->ranks[src].clock_off;
	int64_t t0 = (int64_t)mread_u64(rd) - off, t1 = (int64_t)mread_u64(rd) - off;
	hamr_backend_done *d = done_push(j);
	if (!d || rd->bad)
		return rd->bad ? HAMR_EIO : HAMR_ENOMEM;
	d->item = item;
	d->where = pid ? pid : m->ranks[src].pid; /* a worker process of the rank's */
	d->t0 = t0;
	d->t1 = t1;
	if (dropped) {
		d->rc = HAMR_ECANCELED;
		d->dropped = 1;
		return 0;
	}
	if (t0 < *t_lo)
		*t_lo = t0;
	if (t1 > *t_hi)
		*t_hi = t1;
	if (rc) {
		const char *msg = mread_str(rd);
		char *text = NULL;
		if (asprintf(&text, "rank %d (host %s): %s", src, m->ranks[src].host, msg) < 0)
			text = NULL;
		hamr_backend_failure f = {rc, plan_node(j, node), item, d->where, sig,
		                          attempt > 0 ? attempt : 1, text};
		d->rc = hamr_backend_fail_rank(j->r, &f, src, m->ranks[src].host);
		free(text);
	} else {
		for (uint32_t k = 0; k < j->local.n_outs; k++) {
			int vrc = mread_value(rd, &d->out[k]);
			if (vrc) {
				for (uint32_t e = 0; e < k; e++)
					hamr_value_clear(&d->out[e]);
				char *text = NULL;
				if (asprintf(&text, "rank %d (host %s): a value it handed back could not be decoded: %s",
				             src, m->ranks[src].host, hamr_errmsg()) < 0)
					text = NULL;
				hamr_backend_failure f = {vrc, -1, item, d->where, 0, 1, text};
				d->rc = hamr_backend_fail_rank(j->r, &f, src, m->ranks[src].host);
				free(text);
				return 0;
			}
		}
		d->n_out = j->local.n_outs;
	}
	for (uint32_t k = 0; k < j->local.n_nodes; k++)
		hamr_backend_node_ran(j->r, j->local.nodes[k], item, t0, t1, rc, d->where);
	return 0;
}

/* A batch's answer from rank src. */
static int take_answer(hamr_mpi *m, int src, const char *buf, size_t len)
{
	mread rd = {buf, len, 0, 0, m->comm, src};
	uint64_t id = mread_u64(&rd);
	(void)mread_u64(&rd); /* the batch's number */
	uint32_t n = mread_u32(&rd);
	hamr_backend_job *j = m->jobs;
	while (j && j->id != id)
		j = j->next;
	if (src > 0 && src < m->size && m->ranks[src].held > 0)
		m->ranks[src].held--;
	if (!j)
		return 0; /* a closed job's: nobody waits for it */
	if (j->held[src] > 0)
		j->held[src]--;
	int64_t lo = INT64_MAX, hi = INT64_MIN;
	int rc = 0;
	for (uint32_t k = 0; k < n && !rc; k++)
		rc = take_outcome(j, &rd, src, &lo, &hi);
	j->away -= n <= j->away ? n : j->away;
	/* the next batches grow while one takes under a millisecond there,
	 * and shrink past four */
	if (!m->batch && hi > lo) {
		if (hi - lo < 1000000 && j->batch < (1 << 16))
			j->batch *= 2;
		else if (hi - lo > 4000000 && j->batch > 1)
			j->batch /= 2;
	}
	return rc;
}

int mpi_progress(hamr_mpi *m)
{
	reap_sends(m, 0);
	for (;;) {
		int flag = 0, count = 0;
		MPI_Status st;
		if (MPI_Iprobe(MPI_ANY_SOURCE, MPI_TAG_DONE, m->comm, &flag, &st) != MPI_SUCCESS)
			return hamr_backend_error(HAMR_EIO, "MPI_Iprobe failed");
		if (!flag)
			return 0;
		MPI_Get_count(&st, MPI_BYTE, &count);
		char *buf = malloc(count ? (size_t)count : 1);
		if (!buf)
			return HAMR_ENOMEM;
		MPI_Recv(buf, count, MPI_BYTE, st.MPI_SOURCE, MPI_TAG_DONE, m->comm, MPI_STATUS_IGNORE);
		int rc = take_answer(m, st.MPI_SOURCE, buf, (size_t)count);
		free(buf);
		if (rc)
			return rc;
	}
}

/* Hands out queued items while some rank holds fewer than `depth`
 * batches: the least busy rank first. */
static int dispatch(hamr_backend_job *j)
{
	hamr_mpi *m = j->m;
	while (j->q_len) {
		int best = -1;
		for (int r = 1; r < m->size; r++)
			if (m->ranks[r].held < m->depth && (best < 0 || m->ranks[r].held < m->ranks[best].held))
				best = r;
		if (best < 0)
			return 0;
		int rc;
		if (!j->has_prog[best]) {
			mbuf p = {.eager = m->eager};
			mbuf_u64(&p, j->id);
			mbuf_cat(&p, &j->prog);
			if ((rc = send_to(m, best, MPI_TAG_PROG, &p)))
				return rc;
			j->has_prog[best] = 1;
		}
		size_t n = j->q_len < (size_t)j->batch ? j->q_len : (size_t)j->batch;
		mbuf b = {.eager = m->eager};
		mbuf_u64(&b, j->id);
		mbuf_u64(&b, j->next_batch++);
		mbuf_u32(&b, (uint32_t)n);
		for (size_t k = 0; k < n; k++) {
			queued *q = &j->q[j->q_head];
			mbuf_u64(&b, (uint64_t)q->item);
			mbuf_u32(&b, 1);
			mbuf_value(&b, &q->v); /* its codec was checked at send */
			hamr_value_clear(&q->v);
			j->q_head = (j->q_head + 1) % j->q_cap;
			j->q_len--;
		}
		if ((rc = send_to(m, best, MPI_TAG_BATCH, &b)))
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
	int rc = mpi_program_encode(prog, &b, &skip);
	mbuf_free(&b);
	return rc;
}

static void job_free(hamr_backend_job *j)
{
	for (; j->q_len; j->q_len--, j->q_head = (j->q_head + 1) % j->q_cap)
		hamr_value_clear(&j->q[j->q_head].v);
	for (; j->d_len; j->d_len--, j->d_head = (j->d_head + 1) % j->d_cap) {
		hamr_backend_done *d = &j->done[j->d_head];
		for (uint32_t k = 0; k < d->n_out; k++)
			hamr_value_clear(&d->out[k]);
	}
	if (j->slots)
		for (uint32_t s = 0; s < j->local.n_slots; s++)
			hamr_value_clear(&j->slots[s]);
	mbuf_free(&j->prog);
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
	int rc = m->size > 1 ? mpi_program_encode(prog, &j->prog, &j->skip) : 0;
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
		hamr_backend_failure f = {HAMR_ECODEC, -1, item, getpid(), 0, 1, msg};
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
	int rc = dispatch(j);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

/* Runs one queued item here, outside the lock, into a completion. */
static void serve_here(hamr_backend_job *j, queued q)
{
	hamr_backend_done d;
	memset(&d, 0, sizeof d);
	d.item = q.item;
	d.where = (int)getpid();
	hamr_backend_failure f;
	d.t0 = hamr_backend_now_ns();
	int rc = hamr_backend_serve(&j->local, q.item, q.v.type ? &q.v : NULL, 1, d.out, &f);
	d.t1 = hamr_backend_now_ns();
	hamr_value_clear(&q.v);
	for (uint32_t k = 0; k < j->local.n_nodes; k++)
		hamr_backend_node_ran(j->r, j->local.nodes[k], q.item, d.t0, d.t1, rc, d.where);
	if (rc) {
		f.where = d.where;
		d.rc = hamr_backend_fail_rank(j->r, &f, 0, j->m->ranks[0].host);
		free(f.message);
	} else {
		d.n_out = j->local.n_outs;
	}
	pthread_mutex_lock(&j->m->lock);
	j->m->ranks[0].stats.items++;
	hamr_backend_done *slot = done_push(j);
	if (slot)
		*slot = d;
	pthread_mutex_unlock(&j->m->lock);
}

static void send_cancel(hamr_backend_job *j)
{
	if (j->cancel_sent)
		return;
	j->cancel_sent = 1;
	for (int r = 1; r < j->m->size; r++)
		if (j->held[r])
			send_short(j->m, r, MPI_TAG_CANCEL, j->id);
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
		mpi_progress(m);
		dispatch(j);
		if (j->d_len) {
			*d = j->done[j->d_head];
			j->d_head = (j->d_head + 1) % j->d_cap;
			j->d_len--;
			pthread_mutex_unlock(&m->lock);
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
		mpi_backoff(&round);
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
		if (mpi_progress(m))
			break;
		pthread_mutex_unlock(&m->lock);
		mpi_backoff(&round);
		pthread_mutex_lock(&m->lock);
	}
	for (int r = 1; r < m->size; r++)
		if (j->has_prog[r])
			send_short(m, r, MPI_TAG_CLOSE, j->id);
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
		m->ranks[r].stats = (hamr_mpi_rank_stats){0, 0, m->ranks[r].held};
	pthread_mutex_unlock(&m->lock);
}
