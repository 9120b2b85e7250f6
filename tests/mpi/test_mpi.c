// SPDX-License-Identifier: MIT
/* The MPI executor (hamr/mpi.h), under `mpiexec -n 4`: rank 0 runs the
 * tests, ranks 1 to 3 serve. Map blocks whose items go to the ranks give
 * exactly the sequential executor's results, on fixed graphs and on
 * hundreds of random ones; every kind of value crosses both ways, small
 * and large; a node's failure on rank 2 comes back as the run's failure,
 * naming the rank, its host and pid, the node and the item, and under
 * keep_going the other items' results stay; what cannot cross (a type
 * without a codec, userdata on the heap) is refused before the run.
 *
 * `test_mpi --spread` (under HAMR_MPI_BATCH=1 HAMR_MPI_DEPTH=2) checks
 * that a slow rank gets no more than its two batches while the others
 * take the rest; `--one-rank` and `--twin` that init refuses a launch by
 * another MPI's launcher, and a rank that runs another build. */
#include <fcntl.h>
#include <hamr.h>
#include <signal.h>
#include <hamr/mpi.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/check.h"
#include "tests/fixture.h"
#include "tests/nodes.h"
#include "tests/sanitizers.h"
#include "tests/random_blocks.h"

static hamr_mpi *mpi;

#ifdef HAMR_TEST_TWIN
/* the twin's own bytes, so that its build-id differs */
__attribute__((used)) static const char twin_mark[] = "hamr test_mpi twin";
#endif

/* The rank of the process that runs a node: from the launcher's
 * environment, which a rank's worker processes inherit (they have no MPI
 * of their own); 0 alone. */
static int world_rank(void)
{
	const char *s = getenv("PMI_RANK");
	return s ? atoi(s) : 0;
}

static hamr_run_opts mpi_opts(hamr_executor_kind e)
{
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	o.executor = e;
	o.remote = HAMR_REMOTE_BACKEND;
	o.backend = hamr_mpi_backend();
	o.backend_self = mpi;
	return o;
}

/* ---- a fixed graph ------------------------------------------------------------ */

static int f_square(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	return hamr_ret_i64(c, x * x + hamr_arg_i64(c, 1));
}

/* The rank that runs the item. */
static int f_rank(hamr_call *c)
{
	(void)hamr_arg_i64(c, 0);
	return hamr_ret_i64(c, world_rank());
}

/* The item's index in its block, as its node sees it. */
static int f_item_index(hamr_call *c)
{
	(void)hamr_arg_i64(c, 0);
	return hamr_ret_i64(c, hamr_item_index(c));
}

/* 1 when element k of the collected list is k for every k, else 0. */
static int f_indices_in_order(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	for (size_t k = 0; k < l.len; k++)
		if (hamr_list_i64(l, k) != (int64_t)k)
			return hamr_ret_i64(c, 0);
	return hamr_ret_i64(c, 1);
}

static int f_ranks_seen(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	int64_t mask = 0;
	for (size_t i = 0; i < l.len; i++)
		mask |= (int64_t)1 << hamr_list_i64(l, i);
	return hamr_ret_i64(c, mask);
}

typedef struct fixed_result {
	int rc;
	int64_t total, chars, ranks, in_order;
} fixed_result;

static fixed_result run_fixed(int64_t n, const hamr_run_opts *o)
{
	hamr_node_def defs[] = {
		INPUT_N,
		{.name = "offset", .fn = f_twice, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
		 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		{.name = "square", .fn = f_square, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("items", HAMR_I64), HAMR_DEP("offset", HAMR_I64))},
		{.name = "label", .fn = f_sq_label, .type = HAMR_STR, .deps = DEPS(HAMR_DEP("square", HAMR_I64))},
		{.name = "where", .fn = f_rank, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("square", HAMR_I64))},
		{.name = "at", .fn = f_item_index, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("square", HAMR_I64))},
		{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("square", HAMR_I64))},
		{.name = "chars", .fn = f_total_chars, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("label", HAMR_STR))},
		{.name = "ranks", .fn = f_ranks_seen, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("where", HAMR_I64))},
		{.name = "in_order", .fn = f_indices_in_order, .type = HAMR_I64,
		 .kind = HAMR_NODE_COLLECT, .deps = DEPS(HAMR_DEP_COLLECTED("at", HAMR_I64))},
		{0}};
	const char *outs[] = {"total", "chars", "ranks", "in_order"};
	fixture f = run_with(defs, outs, 4, n, o);
	CHECK_OK(f.plan_rc);
	fixed_result res = {f.run_rc, 0, 0, 0, 0};
	if (!res.rc) {
		res.total = i64(&f, "total");
		res.chars = i64(&f, "chars");
		res.ranks = i64(&f, "ranks");
		res.in_order = i64(&f, "in_order");
	} else {
		fprintf(stderr, "run: %s\n", f.r ? hamr_run_error(f.r)->message : hamr_errmsg());
	}
	done(&f);
	return res;
}

/* After a run that failed or was cancelled, the ranks serve the next one:
 * the fixed graph of n items gives the sequential executor's results. */
static void check_ranks_serve_on(int64_t n)
{
	hamr_run_opts seq = {.executor = HAMR_EXEC_SEQUENTIAL};
	fixed_result ref = run_fixed(n, &seq);
	hamr_run_opts again = mpi_opts(HAMR_EXEC_THREADS);
	fixed_result res = run_fixed(n, &again);
	CHECK_OK(res.rc);
	CHECK_EQ_INT(res.total, ref.total);
	CHECK_EQ_INT(res.ranks & 0xe, 0xe);
}

/* A block's items go to the ranks: the sequential executor's results, on
 * both local executors and for nodes outside blocks too; with 3 items or
 * more every serving rank runs some (batches go to the least busy rank,
 * and among equally busy ones to the next in turn); each item's node sees
 * the item's own index in the block (hamr_item_index), on every rank, in
 * its worker processes as in its threads. */
static void test_fixed_graph(void)
{
	static const int64_t sizes[] = {0, 1, 3, 7, 300, 5000};
	hamr_executor_kind kinds[] = {HAMR_EXEC_SEQUENTIAL, HAMR_EXEC_THREADS, HAMR_EXEC_BACKEND};
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		hamr_run_opts seq = {.executor = HAMR_EXEC_SEQUENTIAL};
		fixed_result ref = run_fixed(sizes[k], &seq);
		CHECK_OK(ref.rc);
		CHECK_EQ_INT(ref.ranks, sizes[k] ? 1 : 0);
		CHECK_EQ_INT(ref.in_order, 1);
		for (size_t e = 0; e < 3; e++) {
			hamr_run_opts o = mpi_opts(kinds[e]);
			fixed_result res = run_fixed(sizes[k], &o);
			CHECK_OK(res.rc);
			CHECK_EQ_INT(res.total, ref.total);
			CHECK_EQ_INT(res.chars, ref.chars);
			CHECK_EQ_INT(res.in_order, 1);
			if (sizes[k] >= 3)
				CHECK_EQ_INT(res.ranks & 0xe, 0xe);
		}
	}
}

/* ---- random graphs ---------------------------------------------------------------- */

static agreement agreed;

static void one_random_graph(int seed)
{
	random_plan rp;
	if (random_plan_make(&rp)) {
		/* a block reading its own collect: refused by the planner,
		 * as test_random_blocks checks */
		random_plan_free(&rp);
		return;
	}
	hamr_plan *p = rp.p;
	hamr_values *in = rp.in;
	const char **outs = rp.outs;
	int n_out = rp.n_out;
	for (int keep = 0; keep < 2; keep++) {
		hamr_run_opts seq = {.executor = HAMR_EXEC_SEQUENTIAL};
		hamr_run_opts o = mpi_opts(rnd() % 2 ? HAMR_EXEC_THREADS : HAMR_EXEC_SEQUENTIAL);
		seq.policy = o.policy = keep ? HAMR_KEEP_GOING : HAMR_FAIL_FAST;
		hamr_run *rs = NULL, *rm = NULL;
		int rc_s = hamr_run_execute(&rs, p, in, &seq);
		int rc_m = hamr_run_execute(&rm, p, in, &o);
		compare_runs("mpi", &agreed, seed, keep, rs, rm, rc_s, rc_m, outs, n_out);
		hamr_run_destroy(rs);
		hamr_run_destroy(rm);
	}
	random_plan_free(&rp);
}

static void test_random_graphs(void)
{
	random_seeds(300, 3000, one_random_graph);
	printf("%d graphs agreed on every output, %d failed on both, %d kept going alike\n",
	       agreed.same, agreed.both_failed, agreed.kept);
	CHECK(agreed.same >= 100);
	CHECK(agreed.both_failed > 0);
	CHECK(agreed.kept > 0);
}

/* ---- values of every kind ----------------------------------------------------------- */

#define BIG (16 << 20)

/* The length of item x's string: around the 64 KiB mark, and 16 MiB. */
static size_t length_of(int64_t x)
{
	static const size_t lens[] = {0, 1, 65535, 65536, 65537, BIG};
	return lens[x % 6];
}

/* Whether p lies in a process pool's shared arena (the memfd
 * procs.c names "hamr-arena"), by this process's maps. */
static int in_arena(const void *p)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096];
	int in = 0;
	while (f && !in && fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && (uintptr_t)p >= lo && (uintptr_t)p < hi)
			in = strstr(line, "hamr-arena") != NULL;
	}
	if (f)
		fclose(f);
	return in;
}

/* Whether a large value (above HAMR_MPI_EAGER) that reached this node
 * must be in the arena: on a serving rank (the launcher's PMI_RANK or
 * OMPI_COMM_WORLD_RANK, which worker processes inherit), whose items run
 * in its worker processes (HAMR_MPI_RANK_EXEC is not threads), the rank
 * received it there, and the worker reads it in place. */
static int rank_threads(void)
{
	const char *exec = getenv("HAMR_MPI_RANK_EXEC");
	return exec && !strcmp(exec, "threads");
}

static size_t eager_bytes(void)
{
	const char *s = getenv("HAMR_MPI_EAGER");
	return s && *s ? (size_t)strtoull(s, NULL, 10) : 65536;
}

static int arena_expected(size_t n)
{
	const char *rank = getenv("PMI_RANK");
	if (!rank)
		rank = getenv("OMPI_COMM_WORLD_RANK");
	return n > eager_bytes() && rank && strcmp(rank, "0") && !rank_threads();
}

static char pattern(size_t i, int64_t x)
{
	return (char)('a' + (i * 7 + (size_t)x) % 26);
}

static int f_text(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	size_t n = length_of(x);
	char *s = malloc(n + 1);
	if (!s)
		return HAMR_ENOMEM;
	for (size_t i = 0; i < n; i++)
		s[i] = pattern(i, x);
	s[n] = '\0';
	int rc = hamr_ret_strn(c, s, n);
	free(s);
	return rc;
}

/* Checks a string that crossed to a rank and back: 1 when it is item x's;
 * the bytes it read are the string's, passed on as bytes. */
static int f_echo_bytes(hamr_call *c)
{
	const char *s = hamr_arg_str(c, 0);
	return hamr_ret_bytes(c, s, strlen(s));
}

/* [[x], [x, x + 1.5 as text]]: a nested list of mixed values. */
static int f_nested(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	hamr_value outer, inner, more, item;
	char buf[32];
	snprintf(buf, sizeof buf, "%g", (double)x + 1.5);
	if (hamr_value_make_list(&outer, NULL, 2) || hamr_value_make_list(&inner, NULL, 1) ||
	    hamr_value_make_list(&more, NULL, 2))
		return HAMR_ENOMEM;
	hamr_list_append_i64(&inner, x);
	hamr_list_append_i64(&more, x);
	hamr_list_append_str(&more, buf);
	hamr_list_append(&outer, &inner);
	hamr_list_append(&outer, &more);
	(void)item;
	return hamr_ret_value(c, &outer);
}

typedef struct point {
	int64_t x, y;
} point;

static size_t point_encode(const void *obj, void *buf, size_t cap)
{
	if (cap >= sizeof(point))
		memcpy(buf, obj, sizeof(point));
	return sizeof(point);
}

static int point_decode(const void *buf, size_t len, void **obj)
{
	if (len != sizeof(point))
		return HAMR_ECODEC;
	point *p = malloc(sizeof *p);
	if (!p)
		return HAMR_ENOMEM;
	memcpy(p, buf, sizeof *p);
	*obj = p;
	return 0;
}

static const hamr_type_desc point_type = {"mpi_point", HAMR_KIND_USER, sizeof(point), NULL,
                                          point_encode, point_decode, NULL};
static const hamr_type_desc opaque_type = {"mpi_opaque", HAMR_KIND_USER, sizeof(point), NULL,
                                           NULL, NULL, NULL};

static int f_point(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	point *p = malloc(sizeof *p);
	if (!p)
		return HAMR_ENOMEM;
	p->x = x;
	const char *pad = hamr_arg_str(c, 1);
	p->y = -3 * x + (int64_t)strlen(pad);
	if (arena_expected(strlen(pad)) && !in_arena(pad)) {
		free(p);
		return hamr_fail(c, "item %lld: the outside string is not in the rank's arena",
		                 (long long)x);
	}
	return hamr_ret_user(c, p);
}

/* Every item's string (checked by length and content), bytes, nested
 * list and point, gathered; an outside string of 100,000 bytes read by
 * every item. */
static int f_check_all(hamr_call *c)
{
	hamr_list texts = hamr_arg_list(c, 0), bytes = hamr_arg_list(c, 1);
	hamr_list nested = hamr_arg_list(c, 2), points = hamr_arg_list(c, 3);
	int64_t n = hamr_arg_i64(c, 4);
	if ((int64_t)texts.len != n || (int64_t)bytes.len != n || (int64_t)nested.len != n ||
	    (int64_t)points.len != n)
		return hamr_fail(c, "lists of %zu %zu %zu %zu items for %lld", texts.len, bytes.len,
		                 nested.len, points.len, (long long)n);
	for (int64_t x = 0; x < n; x++) {
		const char *s = hamr_list_str(texts, (size_t)x);
		size_t len = strlen(s), blen = 0;
		if (len != length_of(x))
			return hamr_fail(c, "item %lld: a string of %zu bytes, not %zu", (long long)x, len,
			                 length_of(x));
		for (size_t i = 0; i < len; i++)
			if (s[i] != pattern(i, x))
				return hamr_fail(c, "item %lld: byte %zu differs", (long long)x, i);
		hamr_value b = hamr_list_get(bytes, (size_t)x);
		const void *bp = hamr_value_bytes(&b, &blen);
		if (blen != len || (len && memcmp(bp, s, len)))
			return hamr_fail(c, "item %lld: its bytes differ", (long long)x);
		hamr_value nv = hamr_list_get(nested, (size_t)x);
		hamr_list l = hamr_value_list(&nv);
		char want[32];
		snprintf(want, sizeof want, "%g", (double)x + 1.5);
		hamr_value iv = hamr_list_get(l, 0), mv = hamr_list_get(l, 1);
		hamr_list inner = hamr_value_list(&iv), more = hamr_value_list(&mv);
		if (l.len != 2 || inner.len != 1 || hamr_list_i64(inner, 0) != x || more.len != 2 ||
		    hamr_list_i64(more, 0) != x || strcmp(hamr_list_str(more, 1), want))
			return hamr_fail(c, "item %lld: its nested list differs", (long long)x);
		hamr_value pv = hamr_list_get(points, (size_t)x);
		const point *p = hamr_value_user(&pv);
		if (!p || p->x != x || p->y != -3 * x + 100000)
			return hamr_fail(c, "item %lld: its point differs", (long long)x);
	}
	return hamr_ret_i64(c, n);
}

static void test_values(void)
{
	hamr_type pt;
	CHECK_OK(hamr_type_register(&point_type, &pt));
	hamr_node_def defs[] = {
		INPUT_N,
		{.name = "pad", .type = HAMR_STR, .kind = HAMR_NODE_INPUT},
		{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
		 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		{.name = "text", .fn = f_text, .type = HAMR_STR, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
		{.name = "raw", .fn = f_echo_bytes, .type = HAMR_BYTES,
		 .deps = DEPS(HAMR_DEP("text", HAMR_STR))},
		{.name = "nested", .fn = f_nested, .type = HAMR_LIST,
		 .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
		{.name = "pt", .fn = f_point, .type = &point_type,
		 .deps = DEPS(HAMR_DEP("items", HAMR_I64), HAMR_DEP("pad", HAMR_STR))},
		{.name = "texts", .fn = f_check_all, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("text", HAMR_STR), HAMR_DEP_COLLECTED("raw", HAMR_BYTES),
		              HAMR_DEP_COLLECTED("nested", HAMR_LIST),
		              HAMR_DEP_COLLECTED("pt", &point_type), HAMR_DEP("n", HAMR_I64))},
		{0}};
	hamr_module m = {"mpi_values", defs};
	hamr_graph *g;
	hamr_plan *p;
	hamr_values *in;
	const char *outs[] = {"texts"};
	char *pad = malloc(100001);
	CHECK(pad != NULL);
	memset(pad, 'p', 100000);
	pad[100000] = '\0';
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	CHECK_OK(hamr_values_create(&in));
	CHECK_OK(hamr_values_set_i64(in, "n", 12));
	CHECK_OK(hamr_values_set_str(in, "pad", pad));
	CHECK_OK(hamr_plan_create(&p, g, outs, 1, in));
	for (int e = 0; e < 2; e++) {
		hamr_run_opts o = mpi_opts(e ? HAMR_EXEC_THREADS : HAMR_EXEC_SEQUENTIAL);
		hamr_run *r = NULL;
		int64_t n = 0;
		int rc = hamr_run_execute(&r, p, in, &o);
		CHECK_OK(rc);
		if (rc)
			fprintf(stderr, "values: %s\n", r ? hamr_run_error(r)->message : hamr_errmsg());
		CHECK_OK(hamr_run_result_i64(r, "texts", &n));
		CHECK_EQ_INT(n, 12);
		hamr_run_destroy(r);
	}
	free(pad);
	hamr_values_destroy(in);
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
}

/* Emits strings of 0, 70,000 and 1 MiB bytes (item k of the pattern of
 * item k), twice over: items that cross to the ranks on their own. */
static int f_big_items(hamr_call *c)
{
	static const size_t lens[] = {0, 70000, 1 << 20};
	for (int64_t k = 0; k < 6; k++) {
		size_t n = lens[k % 3];
		hamr_value v;
		char *p;
		int rc = hamr_value_alloc_str(&v, n, &p);
		if (rc)
			return rc;
		for (size_t i = 0; i < n; i++)
			p[i] = pattern(i, k);
		if ((rc = hamr_emit(c, &v)))
			return rc;
	}
	return 0;
}

/* The length of an item's string, when every byte is its item's (which
 * its first byte says) and it lies where it should (arena_expected). */
static int f_checked_len(hamr_call *c)
{
	const char *s = hamr_arg_str(c, 0);
	size_t n = strlen(s);
	int64_t k = n ? s[0] - 'a' : 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] != pattern(i, k))
			return hamr_fail(c, "item %lld: byte %zu differs", (long long)k, i);
	if (arena_expected(n) && !in_arena(s))
		return hamr_fail(c, "item %lld: its %zu bytes are not in the rank's arena (pid %d)",
		                 (long long)k, n, (int)getpid());
	return hamr_ret_i64(c, (int64_t)n);
}

/* Large items cross from rank 0 to the ranks whole; on ranks whose items
 * run in worker processes they are received into the arena and cross to
 * the worker in place (f_checked_len looks, and the ranks' process
 * statistics say so: no large item copied). */
static void test_big_items(void)
{
	hamr_node_def defs[] = {
		{.name = "strings", .fn = f_big_items, .type = HAMR_STR, .kind = HAMR_NODE_PARALLELIZABLE},
		{.name = "len", .fn = f_checked_len, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("strings", HAMR_STR))},
		{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("len", HAMR_I64))},
		{0}};
	hamr_module m = {"mpi_big_items", defs};
	hamr_graph *g;
	hamr_plan *p;
	hamr_run *r = NULL;
	const char *outs[] = {"total"};
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	CHECK_OK(hamr_plan_create(&p, g, outs, 1, NULL));
	hamr_run_opts o = mpi_opts(HAMR_EXEC_SEQUENTIAL);
	int64_t total = 0;
	hamr_mpi_stats_reset(mpi);
	CHECK_OK(hamr_run_execute(&r, p, NULL, &o));
	CHECK_OK(hamr_run_result_i64(r, "total", &total));
	CHECK_EQ_INT(total, 2 * (70000 + (1 << 20)));
	int64_t far_items = 0;
	uint64_t shared = 0;
	for (int rank = 1; rank < hamr_mpi_size(mpi); rank++) {
		hamr_mpi_rank_stats st;
		CHECK_OK(hamr_mpi_stats(mpi, rank, &st));
		far_items += st.items;
		shared += st.bytes_shared;
		CHECK(st.bytes_copied < eager_bytes()); /* small values only */
	}
	if (rank_threads())
		CHECK_EQ_INT(shared, 0);
	else if (far_items >= 5) /* 3 or more of the 4 large items */
		CHECK(shared >= 3 * 70000);
	hamr_run_destroy(r);
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
}

/* ---- refused before the run ------------------------------------------------------------- */

static int f_opaque(hamr_call *c)
{
	point *p = calloc(1, sizeof *p);
	if (!p)
		return HAMR_ENOMEM;
	p->x = hamr_arg_i64(c, 0);
	return hamr_ret_user(c, p);
}

static int f_count(hamr_call *c)
{
	return hamr_ret_i64(c, (int64_t)hamr_arg_list(c, 0).len);
}

/* Runs items -> work (fn, type, userdata) -> count for 4 items on the
 * ranks: its code, and the message in msg. */
static int try_block(hamr_fn fn, hamr_type type, void *ud, char *msg, size_t cap)
{
	hamr_node_def defs[] = {
		INPUT_N,
		{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
		 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		{.name = "work", .fn = fn, .type = type, .userdata = ud,
		 .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
		{.name = "count", .fn = f_count, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("work", type))},
		{0}};
	const char *outs[] = {"count"};
	hamr_run_opts o = mpi_opts(HAMR_EXEC_SEQUENTIAL);
	fixture f = run_with(defs, outs, 1, 4, &o);
	CHECK_OK(f.plan_rc);
	snprintf(msg, cap, "%s", hamr_errmsg());
	if (!f.run_rc)
		CHECK_EQ_INT(i64(&f, "count"), 4);
	done(&f);
	return f.run_rc;
}

static int f_ud_number(hamr_call *c)
{
	return hamr_ret_i64(c, hamr_arg_i64(c, 0) + (int64_t)(intptr_t)hamr_userdata(c));
}

/* A result type without a codec and userdata on the heap cannot cross:
 * the run is refused before anything runs, naming the node and why; a
 * number in the userdata crosses as it is. */
static void test_refused(void)
{
	char msg[512];
	CHECK_RC(try_block(f_opaque, &opaque_type, NULL, msg, sizeof msg), HAMR_ECODEC);
	CHECK_CONTAINS(msg, "\"work\"");
	CHECK_CONTAINS(msg, "mpi_opaque");
	CHECK_CONTAINS(msg, "no codec");
	int *heap = malloc(sizeof *heap);
	CHECK_RC(try_block(f_ud_number, HAMR_I64, heap, msg, sizeof msg), HAMR_ENOTSUP);
	CHECK_CONTAINS(msg, "\"work\"");
	CHECK_CONTAINS(msg, "userdata");
	free(heap);
	CHECK_OK(try_block(f_ud_number, HAMR_I64, (void *)(intptr_t)12345, msg, sizeof msg));
}

/* ---- failures on a rank ------------------------------------------------------------------- */

/* Fails on rank 2, saying its pid. */
static int f_fails_on_2(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	if (world_rank() == 2)
		return hamr_fail(c, "refused item %lld in pid %d", (long long)x, (int)getpid());
	return hamr_ret_i64(c, x);
}

/* Items that rank 2 runs fail: under fail_fast the run fails with the
 * node, the item, rank 2's host and pid; under keep_going every failure
 * is recorded so, and the tolerant list keeps every other item, each
 * with its own index. */
static void test_failure_on_rank(void)
{
	hamr_node_def defs[] = {
		INPUT_N,
		{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
		 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		{.name = "picky", .fn = f_fails_on_2, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
		{.name = "kept", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED_TOLERANT("picky", HAMR_I64))},
		{0}};
	const char *outs[] = {"kept"};
	char host[64] = "";
	gethostname(host, sizeof host - 1);
	for (int keep = 0; keep < 2; keep++) {
		hamr_run_opts o = mpi_opts(HAMR_EXEC_SEQUENTIAL);
		o.policy = keep ? HAMR_KEEP_GOING : HAMR_FAIL_FAST;
		fixture f = run_with(defs, outs, 1, 200, &o);
		const hamr_run *r = f.r;
		CHECK_RC(f.run_rc, HAMR_EFAIL);
		size_t n_err = hamr_run_error_count(r);
		CHECK(n_err >= 1);
		int64_t failed_sum = 0;
		for (size_t k = 0; k < n_err; k++) {
			const hamr_error_info *e = hamr_run_error_at(r, k);
			char want[160];
			CHECK_EQ_STR(e->node, "picky");
			CHECK_EQ_INT(e->code, HAMR_EFAIL);
			snprintf(want, sizeof want, "rank 2 (host %s): refused item %lld in pid %d", host,
			         (long long)e->item, e->pid);
			CHECK_CONTAINS(e->message, want);
			CHECK(e->pid != getpid());
			CHECK_EQ_INT(e->rank, 2);
			CHECK_EQ_STR(e->host, host);
			failed_sum += e->item;
		}
		if (keep) {
			CHECK_EQ_INT(i64(&f, "kept") + failed_sum, 199 * 200 / 2);
			CHECK(n_err < 200);
		}
		done(&f);
	}
}

/* ---- dynamic distribution ------------------------------------------------------------- */

#define SPREAD_N 40

/* A counter every rank shares (the ranks run on one machine): a file in
 * /dev/shm, mapped. */
static _Atomic int64_t *shared_counter(const char *path)
{
	int fd = open(path, O_RDWR);
	if (fd < 0)
		return NULL;
	void *p = mmap(NULL, sizeof(int64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

/* On rank 2 an item waits until every item but two has run elsewhere
 * (at most 20 seconds, then fails saying so); elsewhere it counts itself. */
static int f_spread(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	_Atomic int64_t *n = shared_counter(hamr_arg_str(c, 1));
	if (!n)
		return hamr_fail(c, "cannot map the shared counter");
	int rc = 0;
	if (world_rank() != 2) {
		atomic_fetch_add(n, 1);
	} else {
		/* 20,000 waits of a millisecond: a bound for a broken
		 * distribution (rank 2 holding more than two items), which
		 * would otherwise wait forever, not a timing of the work */
		int k = 0;
		while (atomic_load(n) < SPREAD_N - 2 && k++ < 20000)
			usleep(1000);
		if (atomic_load(n) < SPREAD_N - 2)
			rc = hamr_fail(c, "only %lld items ran elsewhere", (long long)atomic_load(n));
	}
	munmap((void *)n, sizeof(int64_t));
	return rc ? rc : hamr_ret_i64(c, x);
}

/* Run under HAMR_MPI_BATCH=1 HAMR_MPI_DEPTH=2 (`test_mpi --spread`): rank
 * 2's items block until every other item has run elsewhere; the run
 * completes, so rank 0 handed the other items to the other ranks (and
 * ran some itself) while rank 2 held its two, and rank 2 never held more
 * than two batches. */
static void test_spread(void)
{
	char path[64];
	snprintf(path, sizeof path, "/dev/shm/hamr_test_mpi_%d", (int)getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && ftruncate(fd, sizeof(int64_t)) == 0);
	close(fd);
	hamr_node_def defs[] = {
		INPUT_N,
		{.name = "counter", .type = HAMR_STR, .kind = HAMR_NODE_INPUT},
		{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
		 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		{.name = "spread", .fn = f_spread, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("items", HAMR_I64), HAMR_DEP("counter", HAMR_STR))},
		{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("spread", HAMR_I64))},
		{0}};
	hamr_module m = {"mpi_spread", defs};
	hamr_graph *g;
	hamr_plan *p;
	hamr_values *in;
	hamr_run *r = NULL;
	const char *outs[] = {"total"};
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	CHECK_OK(hamr_values_create(&in));
	CHECK_OK(hamr_values_set_i64(in, "n", SPREAD_N));
	CHECK_OK(hamr_values_set_str(in, "counter", path));
	CHECK_OK(hamr_plan_create(&p, g, outs, 1, in));
	hamr_mpi_stats_reset(mpi);
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	o.remote = HAMR_REMOTE_MPI; /* the registered backend, by name */
	int64_t total = -1;
	CHECK_OK(hamr_run_execute(&r, p, in, &o));
	CHECK_OK(hamr_run_result_i64(r, "total", &total));
	CHECK_EQ_INT(total, SPREAD_N * (SPREAD_N - 1) / 2);
	int64_t items = 0;
	for (int k = 0; k < 4; k++) {
		hamr_mpi_rank_stats st;
		CHECK_OK(hamr_mpi_stats(mpi, k, &st));
		items += st.items;
		if (k == 2) {
			CHECK(st.items >= 1 && st.items <= 2);
			CHECK(st.held_max <= 2);
		}
		if (k > 0)
			CHECK_EQ_INT(st.items, st.batches); /* HAMR_MPI_BATCH=1 */
	}
	CHECK_EQ_INT(items, SPREAD_N);
	hamr_run_destroy(r);
	unlink(path);
	hamr_values_destroy(in);
	hamr_plan_destroy(p);
	hamr_graph_destroy(g);
}

/* ---- launches refused ----------------------------------------------------------------- */

/* `test_mpi --one-rank`, without mpiexec under a variable that says 4
 * ranks: refused. `test_mpi --twin` on rank 0 and its twin (the same
 * source built again, another build-id) on rank 1: refused on both,
 * naming rank 1 and the program. */
static int refused_launch(const char *mode, int rc)
{
	check_current = mode;
	if (!strcmp(mode, "--one-rank")) {
		CHECK_RC(rc, HAMR_ENOTSUP);
		CHECK_CONTAINS(hamr_errmsg(), "another MPI's mpiexec");
	} else {
		CHECK_RC(rc, HAMR_EMODULE);
		CHECK_CONTAINS(hamr_errmsg(), "rank 1 (host ");
		CHECK_CONTAINS(hamr_errmsg(), "the program is another build there");
	}
	printf("%s %s refused\n", check_failures ? "FAIL" : "ok  ", mode);
	MPI_Finalize();
	TEST_EXIT();
}

/* Crashes on rank 2, in the worker process that runs it. */
static int f_crashes_on_2(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	if (world_rank() == 2)
		raise(SIGSEGV);
	return hamr_ret_i64(c, x);
}

/* Items whose node crashes its worker process on rank 2 fail alone
 * (HAMR_ECRASH), each naming the rank, its host, the item, the worker's
 * pid and the signal (under AddressSanitizer, which turns the crash into
 * an exit, its status); every other item's value is kept (keep_going), and
 * the rank goes on serving: a run after it succeeds. */
static void test_crash_on_rank(void)
{
	hamr_node_def defs[] = {
		INPUT_N,
		{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
		 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		{.name = "fragile", .fn = f_crashes_on_2, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
		{.name = "kept", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED_TOLERANT("fragile", HAMR_I64))},
		{0}};
	const char *outs[] = {"kept"};
	char host[64] = "";
	gethostname(host, sizeof host - 1);
	hamr_run_opts o = mpi_opts(HAMR_EXEC_SEQUENTIAL);
	o.policy = HAMR_KEEP_GOING;
	fixture f = run_with(defs, outs, 1, 60, &o);
	const hamr_run *r = f.r;
	CHECK_RC(f.run_rc, HAMR_ECRASH);
	size_t n_err = hamr_run_error_count(r);
	int64_t failed_sum = 0;
	for (size_t k = 0; k < n_err; k++) {
		const hamr_error_info *e = hamr_run_error_at(r, k);
		CHECK_EQ_INT(e->code, HAMR_ECRASH);
		CHECK_EQ_STR(e->node, "fragile");
		CHECK_EQ_INT(e->rank, 2);
		CHECK_EQ_STR(e->host, host);
		CHECK(e->pid > 0 && e->pid != getpid());
		CHECK_CONTAINS(e->message, "rank 2 (host ");
		/* AddressSanitizer catches SIGSEGV, reports, and exits */
#ifdef SANITIZED
		CHECK_CONTAINS(e->message, "exited with status");
#else
		CHECK_EQ_INT(e->signal, SIGSEGV);
		CHECK_CONTAINS(e->message, "signal 11");
#endif
		failed_sum += e->item;
	}
	CHECK(n_err >= 1);
	CHECK_EQ_INT(i64(&f, "kept") + failed_sum, 59 * 60 / 2);
	done(&f);
	check_ranks_serve_on(40); /* rank 2 too */
}

/* ---- cancel, and the ranks' events ------------------------------------------------------ */

#define MAX_RANKS 16

typedef struct seen {
	_Atomic int ends;     /* node ends of "picky" seen */
	_Atomic int far;      /* of them, run in another process than this */
	_Atomic int by_rank[MAX_RANKS]; /* of them, by the rank they name */
	_Atomic int odd;      /* a rank outside the job, or rank 0 with
	                       * another process's pid, or another rank with
	                       * this one's */
	int cancel_at;        /* cancels the run at this end; 0: never */
} seen;

static void on_event(const hamr_event *e, void *ud)
{
	seen *s = ud;
	if (e->kind != HAMR_EV_NODE_END || !e->node || strcmp(e->node, "picky"))
		return;
	int n = atomic_fetch_add(&s->ends, 1) + 1;
	if (e->pid != getpid())
		atomic_fetch_add(&s->far, 1);
	if (e->rank < 0 || e->rank >= MAX_RANKS || e->rank >= hamr_mpi_size(mpi) ||
	    (e->rank == 0) != (e->pid == getpid()))
		atomic_fetch_add(&s->odd, 1);
	else
		atomic_fetch_add(&s->by_rank[e->rank], 1);
	if (n == s->cancel_at)
		hamr_run_cancel((hamr_run *)e->run);
}

/* Hooks hear of every item a rank ran, with the rank and the pid that ran
 * it, as many per rank as hamr_mpi_stats counts; a run cancelled from a
 * hook at its first item's end returns HAMR_ECANCELED without running the
 * rest (dropped on rank 0 and on the ranks), and the ranks serve the next
 * run. */
static void test_cancel_and_events(void)
{
	hamr_node_def defs[] = {
		INPUT_N,
		{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
		 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
		{.name = "picky", .fn = f_twice, .type = HAMR_I64,
		 .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
		{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
		 .deps = DEPS(HAMR_DEP_COLLECTED("picky", HAMR_I64))},
		{0}};
	const char *outs[] = {"total"};
	for (int cancel = 0; cancel < 2; cancel++) {
		seen s = {.cancel_at = cancel};
		hamr_hook hook = {on_event, &s};
		hamr_run_opts o = mpi_opts(HAMR_EXEC_THREADS);
		o.hooks = &hook;
		o.n_hooks = 1;
		hamr_mpi_stats_reset(mpi);
		fixture f = run_with(defs, outs, 1, 3000, &o);
		if (cancel) {
			CHECK_RC(f.run_rc, HAMR_ECANCELED);
			CHECK(atomic_load(&s.ends) < 3000);
		} else {
			CHECK_OK(f.run_rc);
			CHECK_EQ_INT(i64(&f, "total"), 3000 * 2999);
			CHECK_EQ_INT(atomic_load(&s.ends), 3000);
			CHECK(atomic_load(&s.far) > 0);
			CHECK_EQ_INT(atomic_load(&s.odd), 0);
			for (int rank = 0; rank < hamr_mpi_size(mpi) && rank < MAX_RANKS; rank++) {
				hamr_mpi_rank_stats st;
				CHECK_OK(hamr_mpi_stats(mpi, rank, &st));
				CHECK_EQ_INT(atomic_load(&s.by_rank[rank]), st.items);
			}
		}
		done(&f);
	}
	check_ranks_serve_on(100);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	/* first: each rank's worker processes come from its fork server */
	hamr_processes_init();
	int rc = hamr_mpi_init(&mpi, &argc, &argv, NULL);
	if (!strcmp(mode, "--one-rank") || !strcmp(mode, "--twin"))
		return refused_launch(mode, rc);
	if (rc) {
		fprintf(stderr, "hamr_mpi_init: %s\n", hamr_errmsg());
		return 1;
	}
	if (hamr_mpi_rank(mpi) != 0) {
		rc = hamr_mpi_serve(mpi);
		if (rc)
			fprintf(stderr, "rank %d: hamr_mpi_serve: %s\n", hamr_mpi_rank(mpi), hamr_errmsg());
		hamr_mpi_finalize(mpi);
		return rc ? 1 : 0;
	}
	check_current = "init";
	CHECK_EQ_INT(hamr_mpi_size(mpi), 4);
	if (!strcmp(mode, "--spread")) {
		RUN_TEST(test_spread);
		hamr_mpi_finalize(mpi);
		TEST_EXIT();
	}
	RUN_TEST(test_fixed_graph);
	RUN_TEST(test_values);
	RUN_TEST(test_big_items);
	RUN_TEST(test_refused);
	RUN_TEST(test_failure_on_rank);
	if (strcmp(mode, "--threads")) /* on threads a crash ends the job */
		RUN_TEST(test_crash_on_rank);
	RUN_TEST(test_cancel_and_events);
	RUN_TEST(test_random_graphs);
	hamr_mpi_finalize(mpi);
	TEST_EXIT();
}
