// SPDX-License-Identifier: MIT
/* Lifecycle hooks and the Chrome trace: on both executors and every
 * grouping, a hook sees one run start and end, a start and an end for
 * every node execution (with its item), batches that cover the block's
 * items exactly once, a task start and end per batch, and the block's
 * final item count; the trace has one complete event per node execution,
 * through hamr_trace_open and through HAMR_TRACE. */
#include <hamr.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <unistd.h>

#include "tests/check.h"
#include "tests/nodes.h"

#define N 1000

static int f_square(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	return hamr_ret_i64(c, x * x);
}

static const hamr_node_def defs[] = {
	{.name = "n", .type = HAMR_I64, .kind = HAMR_NODE_INPUT},
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "square", .fn = f_square, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "total", .fn = f_sum_list, .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("square", HAMR_I64))},
	{0}};

typedef struct counts {
	pthread_mutex_t lock;
	int kinds[HAMR_EV_NODE_END + 1];
	int items_nodes, square_nodes, total_nodes, bad;
	unsigned char covered[N], squared[N];
	int64_t final_items;
	int final_seen;
	int64_t max_task;
	int stats_at_end;
} counts;

static void count_event(const hamr_event *e, void *ud)
{
	counts *c = ud;
	pthread_mutex_lock(&c->lock);
	c->kinds[e->kind]++;
	if (e->t_ns <= 0 || e->pid != getpid())
		c->bad++;
	switch (e->kind) {
	case HAMR_EV_NODE_END:
		if (e->start_ns > e->t_ns || e->rc)
			c->bad++;
		if (!strcmp(e->node, "items"))
			c->items_nodes++;
		else if (!strcmp(e->node, "total"))
			c->total_nodes++;
		else if (!strcmp(e->node, "square") && e->item >= 0 && e->item < N) {
			c->square_nodes++;
			c->squared[e->item]++;
		} else {
			c->bad++;
		}
		break;
	case HAMR_EV_BATCH:
		for (int64_t i = e->first; i < e->first + e->count; i++)
			if (i >= 0 && i < N)
				c->covered[i]++;
		if (e->task > c->max_task)
			c->max_task = e->task;
		if (strcmp(e->node, "items") || e->block_items < e->first + e->count)
			c->bad++;
		break;
	case HAMR_EV_BLOCK_END:
		c->final_items = e->block_items;
		c->final_seen = e->block_final;
		break;
	case HAMR_EV_RUN_END: {
		/* statistics are complete by the run's end event */
		hamr_run_stats st;
		c->stats_at_end = hamr_run_stats_get(e->run, &st) == 0 && st.n_nodes == 3;
		break;
	}
	default:
		break;
	}
	pthread_mutex_unlock(&c->lock);
}

static hamr_plan *plan;
static hamr_values *in;

static void make_plan(void)
{
	hamr_module m = {"hooks", defs};
	hamr_graph *g = NULL;
	const char *outs[] = {"total"};
	CHECK_OK(hamr_graph_create(&g));
	CHECK_OK(hamr_graph_add_module(g, &m));
	CHECK_OK(hamr_values_create(&in));
	CHECK_OK(hamr_values_set_i64(in, "n", N));
	CHECK_OK(hamr_plan_create(&plan, g, outs, 1, in));
	hamr_graph_destroy(g);
}

static void test_hooks_see_every_event(hamr_pool *pool)
{
	for (int exec = 0; exec < 2; exec++)
		for (int gr = HAMR_GROUPING_AUTO; gr <= HAMR_GROUPING_NODE; gr++) {
			counts *c = calloc(1, sizeof *c);
			pthread_mutex_init(&c->lock, NULL);
			c->max_task = -1;
			hamr_hook hooks[2] = {{count_event, c}, {count_event, c}};
			hamr_run_opts o = HAMR_RUN_OPTS_INIT;
			o.executor = exec ? HAMR_EXEC_THREADS : HAMR_EXEC_SEQUENTIAL;
			o.pool = pool;
			o.grouping = (hamr_grouping)gr;
			o.hooks = hooks;
			o.n_hooks = 1;
			o.stats = 1;
			hamr_run *r = NULL;
			CHECK_OK(hamr_run_execute(&r, plan, in, &o));
			CHECK(c->stats_at_end);
			int64_t total = 0;
			CHECK_OK(hamr_run_result_i64(r, "total", &total));
			CHECK_EQ_INT(total, (int64_t)(N - 1) * N * (2 * N - 1) / 6);
			hamr_run_destroy(r);
			CHECK_EQ_INT(c->kinds[HAMR_EV_RUN_START], 1);
			CHECK_EQ_INT(c->kinds[HAMR_EV_RUN_END], 1);
			CHECK_EQ_INT(c->kinds[HAMR_EV_NODE_START], c->kinds[HAMR_EV_NODE_END]);
			CHECK_EQ_INT(c->kinds[HAMR_EV_NODE_END], N + 2);
			CHECK_EQ_INT(c->items_nodes, 1);
			CHECK_EQ_INT(c->total_nodes, 1);
			CHECK_EQ_INT(c->square_nodes, N);
			CHECK_EQ_INT(c->kinds[HAMR_EV_BLOCK_START], 1);
			CHECK_EQ_INT(c->kinds[HAMR_EV_BLOCK_END], 1);
			CHECK_EQ_INT(c->final_items, N);
			CHECK(c->final_seen);
			CHECK(c->kinds[HAMR_EV_BATCH] >= 1);
			CHECK_EQ_INT(c->kinds[HAMR_EV_TASK_START], c->kinds[HAMR_EV_BATCH]);
			CHECK_EQ_INT(c->kinds[HAMR_EV_TASK_END], c->kinds[HAMR_EV_BATCH]);
			CHECK_EQ_INT(c->max_task + 1, c->kinds[HAMR_EV_BATCH]);
			if (gr != HAMR_GROUPING_AUTO)
				CHECK_EQ_INT(c->kinds[HAMR_EV_BATCH], N); /* an item a task */
			int once = 1;
			for (int i = 0; i < N; i++)
				once &= c->covered[i] == 1 && c->squared[i] == 1;
			CHECK(once);
			CHECK_EQ_INT(c->bad, 0);
			pthread_mutex_destroy(&c->lock);
			free(c);
		}
	/* a hook without a function is refused */
	hamr_hook none = {NULL, NULL};
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	o.hooks = &none;
	o.n_hooks = 1;
	hamr_run *r = NULL;
	CHECK_RC(hamr_run_create(&r, plan, in, &o), HAMR_EINVAL);
}

/* Node events of a trace file, by name; -1 when it is not well formed. */
static int trace_nodes(const char *path, int *items, int *square, int *total)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	int events = 0, ok = f && fgets(line, sizeof line, f) && !strcmp(line, "[\n");
	*items = *square = *total = 0;
	while (ok && fgets(line, sizeof line, f)) {
		if (!strcmp(line, "]\n"))
			break;
		if (strncmp(line, "{\"name\":\"", 9)) {
			ok = 0;
			break;
		}
		events++;
		if (!strstr(line, "\"cat\":\"node\""))
			continue;
		/* rank -1: run by this process, not through the MPI executor */
		if (!strstr(line, "\"ph\":\"X\"") || !strstr(line, "\"dur\":") ||
		    !strstr(line, "\"item\":") || !strstr(line, "\"rank\":-1,"))
			ok = 0;
		*items += !strncmp(line + 9, "items\"", 6);
		*square += !strncmp(line + 9, "square\"", 7);
		*total += !strncmp(line + 9, "total\"", 6);
	}
	if (f)
		fclose(f);
	return ok ? events : -1;
}

static void test_trace(hamr_pool *pool)
{
	char path[] = "/tmp/hamr-trace-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	hamr_hook t;
	CHECK_OK(hamr_trace_open(&t, path));
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	o.executor = HAMR_EXEC_THREADS;
	o.pool = pool;
	o.hooks = &t;
	o.n_hooks = 1;
	hamr_run *r = NULL;
	CHECK_OK(hamr_run_execute(&r, plan, in, &o));
	hamr_run_destroy(r);
	hamr_trace_close(&t);
	int items, square, total;
	int events = trace_nodes(path, &items, &square, &total);
	CHECK(events > N + 2); /* the nodes, and batches and the block */
	CHECK_EQ_INT(items, 1);
	CHECK_EQ_INT(square, N);
	CHECK_EQ_INT(total, 1);
	unlink(path);
	CHECK_RC(hamr_trace_open(&t, "/nonexistent-dir/trace.json"), HAMR_EIO);
	CHECK_CONTAINS(hamr_errmsg(), "/nonexistent-dir/trace.json");
}

static void test_stats(hamr_pool *pool)
{
	for (int gr = HAMR_GROUPING_AUTO; gr <= HAMR_GROUPING_NODE; gr++) {
		hamr_run_opts o = HAMR_RUN_OPTS_INIT;
		o.executor = HAMR_EXEC_THREADS;
		o.pool = pool;
		o.grouping = (hamr_grouping)gr;
		o.stats = 1;
		hamr_run *r = NULL;
		CHECK_OK(hamr_run_execute(&r, plan, in, &o));
		hamr_run_stats st;
		CHECK_OK(hamr_run_stats_get(r, &st));
		CHECK_EQ_INT(st.n_nodes, 3);
		uint64_t nodes = 0;
		for (size_t i = 0; i < st.n_nodes; i++) {
			const hamr_node_stats *n = &st.nodes[i];
			CHECK_EQ_STR(n->node, hamr_plan_node_name(plan, i));
			CHECK_EQ_INT(n->count, strcmp(n->node, "square") ? 1 : N);
			CHECK(n->max_ns > 0 && n->total_ns >= n->max_ns);
			nodes += n->count;
		}
		CHECK(st.wall_ns > 0);
		CHECK_EQ_INT(st.n_blocks, 1);
		CHECK_EQ_STR(st.blocks[0].node, "items");
		CHECK_EQ_INT(st.blocks[0].items, N);
		CHECK(st.blocks[0].tasks >= 1 && st.blocks[0].task_ns > 0);
		CHECK(st.blocks[0].max_inflight >= 1 && st.blocks[0].max_inflight <= N);
		if (gr != HAMR_GROUPING_AUTO)
			CHECK_EQ_INT(st.blocks[0].tasks, N);
		/* short: per-item tasks of under 5 us on average (a busy machine
		 * can stretch the mean, so the test checks the rule, not the
		 * clock) */
		const hamr_block_stats *b = &st.blocks[0];
		CHECK_EQ_INT(b->short_tasks, gr != HAMR_GROUPING_AUTO && b->tasks >= 100 &&
		                                 b->task_ns / (int64_t)b->tasks < 5000);
		CHECK_EQ_INT(st.n_workers, 4); /* 3 workers, and other threads */
		uint64_t on_workers = 0;
		for (size_t w = 0; w < st.n_workers; w++) {
			on_workers += st.workers[w].nodes;
			CHECK(st.workers[w].busy_share >= 0.0 && st.workers[w].busy_share <= 1.0);
		}
		CHECK_EQ_INT(on_workers, nodes);
		/* printed, readably */
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		CHECK_OK(hamr_run_stats_print(r, f));
		fclose(f);
		CHECK_CONTAINS(buf, "square");
		CHECK_CONTAINS(buf, "block of \"items\": 1000 items");
		CHECK_CONTAINS(buf, "worker 0:");
		if (st.blocks[0].short_tasks)
			CHECK_CONTAINS(buf, "warning: the batches of the block of \"items\"");
		free(buf);
		/* the plan in DOT, with times, shares and counts */
		buf = NULL;
		f = open_memstream(&buf, &len);
		CHECK_OK(hamr_run_write_dot(r, f));
		fclose(f);
		CHECK_CONTAINS(buf, "\"square\" [shape=box, label=\"square\\ni64\\n");
		CHECK_CONTAINS(buf, "%, 1000x\"");
		CHECK_CONTAINS(buf, "fillcolor=\"#ff");
		free(buf);
		hamr_run_destroy(r);
	}
	/* no stats asked for: none to read */
	hamr_run *r = NULL;
	hamr_run_stats st;
	CHECK_OK(hamr_run_execute(&r, plan, in, NULL));
	CHECK_RC(hamr_run_stats_get(r, &st), HAMR_ESTATE);
	CHECK_RC(hamr_run_write_dot(r, stdout), HAMR_ESTATE);
	hamr_run_destroy(r);
}

static char env_path[] = "/tmp/hamr-envtrace-XXXXXX";

static void test_hamr_trace_variable(hamr_pool *pool)
{
	/* HAMR_TRACE was set before the first run: every run writes to it,
	 * and a finished run's events are on disk */
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	o.executor = HAMR_EXEC_THREADS;
	o.pool = pool;
	hamr_run *r = NULL;
	CHECK_OK(hamr_run_execute(&r, plan, in, &o));
	hamr_run_destroy(r);
	int items, square, total;
	CHECK(trace_nodes(env_path, &items, &square, &total) > 0);
	CHECK(items >= 2); /* the earlier runs' too */
	CHECK_EQ_INT(square % N, 0);
	CHECK(square >= 2 * N);
}

int main(void)
{
	int fd = mkstemp(env_path);
	CHECK(fd >= 0);
	close(fd);
	setenv("HAMR_TRACE", env_path, 1);
	hamr_pool *pool = NULL;
	hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
	po.workers = 3;
	CHECK_OK(hamr_pool_create(&pool, &po));
	make_plan();
	printf("-- hooks\n");
	test_hooks_see_every_event(pool);
	printf("-- trace\n");
	test_trace(pool);
	printf("-- stats\n");
	test_stats(pool);
	printf("-- HAMR_TRACE\n");
	test_hamr_trace_variable(pool);
	hamr_plan_destroy(plan);
	hamr_values_destroy(in);
	hamr_pool_destroy(pool);
	unlink(env_path);
	TEST_EXIT();
}
