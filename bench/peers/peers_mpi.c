// SPDX-License-Identifier: MIT
/* The MPI executor's benchmarks (bench/run-mpi), in run-peers' CSV: impl
 * `hamr`, threads = the ranks of the job, every rank on this machine.
 * Started by mpiexec; rank 0 times and prints, the other ranks serve.
 *
 *   mpi_noop      mapreduce_noop's graph with 1e5 items (a fold), the map
 *                 block on the ranks: the cost of an item that crosses;
 *                 variant batched (batches grown while under a
 *                 millisecond) or unbatched (--batch 1: an item a batch,
 *                 its round trip; 2,000 items)
 *   mpi_cpu       64 items of about 10 ms of work each (proc_cpu's), one
 *                 item at a time on each rank (run under HAMR_WORKERS=1
 *                 and HAMR_PROCESSES=1: rank 0 runs items while the other
 *                 ranks' one worker process each runs theirs)
 *   mpi_result    one item whose node returns a 64 MiB bytes value, made on
 *                 rank 1 and handed back to rank 0; units = bytes
 *   mpi_pingpong  64 MiB sent from rank 0 to rank 1 and back with
 *                 MPI_Send/MPI_Recv, per way: MPI's own bandwidth on this
 *                 machine, for mpi_result's ratio; units = bytes */
#include <hamr.h>
#include <hamr/mpi.h>

#include "peers_common.h"

static hamr_mpi *mpi;

static void die(const char *what, int rc)
{
	fprintf(stderr, "peers_mpi: %s: %s (%s)\n", what, hamr_strerror(rc), hamr_errmsg());
	MPI_Abort(MPI_COMM_WORLD, 1);
	exit(1);
}

/* About 10 ms on the machine map_f takes 240 ns on (peers_hamr.c's). */
#define CPU_ROUNDS 7300000
#define RESULT_BYTES (64u << 20)

static int f_items(hamr_call *c)
{
	int64_t n = hamr_arg_i64(c, 0);
	for (int64_t i = 0; i < n; i++)
		if (hamr_emit_i64(c, i))
			return HAMR_ECANCELED;
	return 0;
}

static int f_noop(hamr_call *c)
{
	return hamr_ret_arg(c, 0);
}

static int f_cpu(hamr_call *c)
{
	return hamr_ret_i64(c, (int64_t)peers_mix((uint64_t)hamr_arg_i64(c, 0), CPU_ROUNDS));
}

/* RESULT_BYTES bytes through hamr_ret_alloc, one written per page, as
 * proc_result's node writes them (in a worker process: in its arena). */
static int f_big(hamr_call *c)
{
	(void)hamr_arg_i64(c, 0);
	unsigned char *p = hamr_ret_alloc(c, RESULT_BYTES);
	if (!p)
		return HAMR_ENOMEM;
	for (size_t k = 0; k < RESULT_BYTES; k += 4096)
		p[k] = (unsigned char)(k >> 12);
	return 0;
}

/* The sum of the sampled bytes of every item's value. */
static int f_bytes_sum(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	uint64_t s = 0;
	for (size_t i = 0; i < l.len; i++) {
		hamr_value v = hamr_list_get(l, i);
		size_t len = 0;
		const unsigned char *b = hamr_value_bytes(&v, &len);
		for (size_t k = 0; b && k < len; k += 4096)
			s += b[k];
	}
	return hamr_ret_i64(c, (int64_t)s);
}

static int add_step(hamr_value *acc, const hamr_value *x, void *ud)
{
	(void)ud;
	*acc = hamr_value_from_i64((int64_t)((uint64_t)hamr_value_i64(acc) +
	                                     (uint64_t)hamr_value_i64(x)));
	return 0;
}

static const hamr_fold sum = {HAMR_DEFAULT_I64(0), add_step, add_step};

typedef struct job {
	hamr_plan *plan;
	hamr_values *in;
} job;

/* items(n) -> work(x) -> total: a fold of i64, or a list that `collect`
 * reads when it is given. */
static job make(hamr_fn work, hamr_type type, hamr_fn collect, int64_t n)
{
	const hamr_dep d_n[] = {HAMR_DEP("n", HAMR_I64), HAMR_DEPS_END};
	const hamr_dep d_x[] = {HAMR_DEP("items", HAMR_I64), HAMR_DEPS_END};
	const hamr_dep d_w[] = {HAMR_DEP_COLLECTED("work", type), HAMR_DEPS_END};
	const hamr_node_def defs[] = {
		{.name = "n", .type = HAMR_I64, .kind = HAMR_NODE_INPUT},
		{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
		 .deps = d_n},
		{.name = "work", .fn = work, .type = type, .deps = d_x},
		{.name = "total", .fn = collect, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = d_w, .fold = collect ? NULL : &sum},
		{0}};
	hamr_module mod = {"mpi_bench", defs};
	hamr_graph *g = NULL;
	job j = {0};
	const char *outs[] = {"total"};
	int rc = hamr_graph_create(&g);
	if (!rc)
		rc = hamr_graph_add_module(g, &mod);
	if (!rc)
		rc = hamr_values_create(&j.in);
	if (!rc)
		rc = hamr_values_set_i64(j.in, "n", n);
	if (!rc)
		rc = hamr_plan_create(&j.plan, g, outs, 1, j.in);
	if (rc)
		die("plan", rc);
	hamr_graph_destroy(g);
	return j;
}

static uint64_t run_body(void *ctx, int64_t *ns)
{
	job *j = ctx;
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	o.executor = HAMR_EXEC_THREADS;
	o.remote = HAMR_REMOTE_MPI;
	hamr_run *r = NULL;
	int64_t v = 0, t0 = peers_now_ns();
	int rc = hamr_run_execute(&r, j->plan, j->in, &o);
	if (!rc)
		rc = hamr_run_result_i64(r, "total", &v);
	hamr_run_destroy(r);
	*ns = peers_now_ns() - t0;
	if (rc)
		die("run", rc);
	return (uint64_t)v;
}

/* On stderr: what each rank ran of the row's runs (hamr_mpi_stats). */
static void spread(const char *bench, int ranks)
{
	fprintf(stderr, "peers_mpi: %s, %d rank(s): items run per rank", bench, ranks);
	for (int r = 0; r < ranks; r++) {
		hamr_mpi_rank_stats st;
		if (!hamr_mpi_stats(mpi, r, &st))
			fprintf(stderr, " %lld (%lld batches, at most %d held)", (long long)st.items,
			        (long long)st.batches, st.held_max);
	}
	fprintf(stderr, "\n");
	hamr_mpi_stats_reset(mpi);
}

static void drop(job *j)
{
	hamr_plan_destroy(j->plan);
	hamr_values_destroy(j->in);
}

/* ---- MPI's own bandwidth --------------------------------------------------------- */

/* Rank 0 and rank 1 bounce RESULT_BYTES `reps + 1` times (the first
 * untimed); rank 0 prints the row, the time per way. Collective over
 * MPI_COMM_WORLD, before the other ranks serve. */
static void pingpong(const peers_opts *o, int ranks, int rank)
{
	char *buf = malloc(RESULT_BYTES);
	int64_t *ns = calloc((size_t)o->reps, sizeof *ns);
	if (!buf || !ns)
		die("pingpong", HAMR_ENOMEM);
	memset(buf, 1, RESULT_BYTES);
	for (int r = -1; r < o->reps; r++) {
		MPI_Barrier(MPI_COMM_WORLD);
		int64_t t0 = peers_now_ns();
		if (rank == 0) {
			MPI_Send(buf, (int)RESULT_BYTES, MPI_BYTE, 1, 7, MPI_COMM_WORLD);
			MPI_Recv(buf, (int)RESULT_BYTES, MPI_BYTE, 1, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		} else if (rank == 1) {
			MPI_Recv(buf, (int)RESULT_BYTES, MPI_BYTE, 0, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
			MPI_Send(buf, (int)RESULT_BYTES, MPI_BYTE, 0, 7, MPI_COMM_WORLD);
		}
		if (r >= 0)
			ns[r] = (peers_now_ns() - t0) / 2;
	}
	if (rank == 0)
		peers_row("mpi_pingpong", "hamr", "mpi", ranks, RESULT_BYTES, RESULT_BYTES, ns, o->reps,
		          buf[0] == 1);
	free(ns);
	free(buf);
}

int main(int argc, char **argv)
{
	/* --batch N before run-peers' own options: the variant */
	int batch = 0;
	if (argc > 2 && !strcmp(argv[1], "--batch")) {
		batch = atoi(argv[2]);
		argv[2] = argv[0];
		argv += 2;
		argc -= 2;
	}
	peers_opts o;
	/* first: the ranks' worker processes come from the fork server */
	hamr_processes_init();
	hamr_mpi_opts mo = HAMR_MPI_OPTS_INIT;
	mo.batch = batch;
	int rc = hamr_mpi_init(&mpi, &argc, &argv, &mo);
	if (rc)
		die("hamr_mpi_init", rc);
	peers_parse(argc, argv, &o);
	int rank = hamr_mpi_rank(mpi), ranks = hamr_mpi_size(mpi);
	if (ranks >= 2 && peers_wanted(&o, "mpi_pingpong"))
		pingpong(&o, ranks, rank);
	if (rank != 0) {
		rc = hamr_mpi_serve(mpi);
		hamr_mpi_finalize(mpi);
		return rc ? 1 : 0;
	}
	const char *variant = batch == 1 ? "unbatched" : "batched";
	if (peers_wanted(&o, "mpi_noop")) {
		/* an item a batch is a round trip each: fewer of them */
		uint64_t n = batch == 1 ? 2000 : 100000;
		job j = make(f_noop, HAMR_I64, NULL, (int64_t)n);
		peers_measure(&o, "mpi_noop", "hamr", variant, ranks, n, n, ref_noop(n), run_body, &j);
		spread("mpi_noop", ranks);
		drop(&j);
	}
	if (peers_wanted(&o, "mpi_cpu")) {
		uint64_t n = 64, want = 0;
		for (uint64_t i = 0; i < n; i++)
			want += peers_mix(i, CPU_ROUNDS);
		job j = make(f_cpu, HAMR_I64, NULL, (int64_t)n);
		peers_measure(&o, "mpi_cpu", "hamr", variant, ranks, n, n, want, run_body, &j);
		spread("mpi_cpu", ranks);
		drop(&j);
	}
	if (ranks >= 2 && peers_wanted(&o, "mpi_result")) {
		uint64_t want = 0;
		for (size_t k = 0; k < RESULT_BYTES; k += 4096)
			want += (unsigned char)(k >> 12);
		job j = make(f_big, HAMR_BYTES, f_bytes_sum, 1);
		peers_measure(&o, "mpi_result", "hamr", variant, ranks, RESULT_BYTES, RESULT_BYTES, want,
		              run_body, &j);
		spread("mpi_result", ranks);
		drop(&j);
	}
	hamr_mpi_finalize(mpi);
	return 0;
}
