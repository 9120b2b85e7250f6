// SPDX-License-Identifier: MIT
/* The process executor runs a map block's items in worker processes: the
 * items' results are the sequential executor's, they ran in the pool's
 * workers (their pids are not the program's), the task and node events
 * come from there, timed there, and the run's statistics count them. A
 * resource registered before the fork server starts is made once in each
 * worker process, and again in the worker that replaces one that crashed.
 * A module loaded after the server started runs in workers, and the
 * server has it loaded too, for the workers it forks later. The indices a
 * serving end gives a run's items (hamr_backend_item_indices) are what
 * hamr_item_index says in the workers and in threads, while the error
 * record keeps the run's own. */
#include <hamr.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/check.h"
#include "tests/nodes.h"
#include "tests/procexec.h"
#include "tests/procfs.h"

static void test_a_block_in_processes(void)
{
	const char *outs[] = {"total", "pids"};
	int64_t n = 2000, want = squares(n);
	hamr_run_opts o = on_processes();
	fixture f = run_with(square_defs, outs, 2, n, &o);
	CHECK_OK(f.create_rc);
	CHECK_OK(f.run_rc);
	int64_t total = 0, pids = 0;
	CHECK_OK(hamr_run_result_i64(f.r, "total", &total));
	CHECK_OK(hamr_run_result_i64(f.r, "pids", &pids));
	CHECK_EQ_INT(total, want);
	/* the items ran in the pool's workers, not here */
	CHECK(pids >= 2 && pids <= hamr_procpool_size(pp));
	hamr_process_stats st;
	CHECK_OK(hamr_run_process_stats(f.r, &st));
	CHECK_EQ_INT(st.tasks, n);
	CHECK_EQ_INT(st.bytes_copied, 0); /* scalars only */
	CHECK_EQ_INT(st.crashes, 0);
	done(&f);
	/* the same on the sequential executor */
	hamr_run_opts seq = {.executor = HAMR_EXEC_SEQUENTIAL};
	f = run_with(square_defs, outs, 1, n, &seq);
	CHECK_OK(hamr_run_result_i64(f.r, "total", &total));
	CHECK_EQ_INT(total, want);
	done(&f);
}

typedef struct task_seen {
	atomic_int task_ends, from_workers, node_ends;
	atomic_llong items;
	int self;
} task_seen;

static void task_hook(const hamr_event *e, void *ud)
{
	task_seen *t = ud;
	if (e->kind == HAMR_EV_TASK_END) {
		atomic_fetch_add(&t->task_ends, 1);
		atomic_fetch_add(&t->items, e->count);
		if (e->pid != t->self && e->start_ns <= e->t_ns && e->t_ns > 0)
			atomic_fetch_add(&t->from_workers, 1);
	}
	if (e->kind == HAMR_EV_NODE_END && !strcmp(e->node, "square"))
		atomic_fetch_add(&t->node_ends, 1);
}

static void test_block_events_come_from_workers(void)
{
	const char *outs[] = {"total"};
	task_seen t = {.self = (int)getpid()};
	hamr_hook hook = {task_hook, &t};
	hamr_run_opts o = on_processes();
	o.hooks = &hook;
	o.n_hooks = 1;
	o.stats = 1;
	fixture f = run_with(square_defs, outs, 1, 500, &o);
	CHECK_OK(f.run_rc);
	CHECK_EQ_INT(atomic_load(&t.task_ends), 500);
	CHECK_EQ_INT(atomic_load(&t.items), 500);
	CHECK_EQ_INT(atomic_load(&t.from_workers), 500);
	CHECK_EQ_INT(atomic_load(&t.node_ends), 500);
	hamr_run_stats st;
	CHECK_OK(hamr_run_stats_get(f.r, &st));
	CHECK_EQ_INT(st.n_blocks, 1);
	CHECK_EQ_INT(st.blocks[0].items, 500);
	CHECK_EQ_INT(st.blocks[0].tasks, 500);
	done(&f);
}

static atomic_int made_here; /* per process: each worker has its own */
static hamr_resource *conn;  /* registered before the fork server starts */

static void *conn_create(void *ctx)
{
	(void)ctx;
	int *n = malloc(sizeof *n);
	if (n)
		*n = atomic_fetch_add(&made_here, 1) + 1;
	return n;
}

static void conn_destroy(void *obj, void *ctx)
{
	(void)ctx;
	free(obj);
}

static int f_use_conn(hamr_call *c)
{
	int *made = hamr_resource_get(conn);
	if (!made)
		return hamr_fail(c, "no connection");
	if (hamr_arg_i64(c, 0) == 17 && hamr_attempt(c) == 1)
		kill(getpid(), SIGKILL); /* its replacement makes its own */
	/* how many this process made: one, whatever it ran before */
	return hamr_ret_i64(c, *made * 1000000 + (int64_t)getpid() % 1000000);
}

static const hamr_node_def conn_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "use", .fn = f_use_conn, .type = HAMR_I64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "uses", .fn = f_list, .type = HAMR_LIST, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("use", HAMR_I64))},
	{0}};

static void test_resources_per_worker_process(void)
{
	const char *outs[] = {"uses"};
	hamr_run_opts o = on_processes();
	o.retries = 1;
	fixture f = run_with(conn_defs, outs, 1, 200, &o);
	CHECK_OK(f.run_rc);
	hamr_list l = hamr_value_list(hamr_run_result(f.r, "uses"));
	CHECK_EQ_INT(l.len, 200);
	for (size_t k = 0; k < l.len; k++)
		CHECK_EQ_INT(hamr_list_i64(l, k) / 1000000, 1);
	hamr_process_stats st;
	CHECK_OK(hamr_run_process_stats(f.r, &st));
	CHECK_EQ_INT(st.crashes, 1);
	done(&f);
}

static void test_a_module_loaded_later(void)
{
	fixture f = graph_with_n(NULL, 100);
	CHECK_OK(hamr_graph_load_module(f.g, HAMR_TEST_MODULE_DIR "/hr_blocks.so"));
	const char *outs[] = {"total"};
	plan(&f, outs, 1);
	hamr_run_opts o = on_processes();
	o.policy = HAMR_KEEP_GOING;
	CHECK_RC(hamr_run_execute(&f.r, f.p, f.in, &o), HAMR_EFAIL);
	int64_t total = 0;
	CHECK_OK(hamr_run_result_i64(f.r, "total", &total));
	CHECK_EQ_INT(total, 10 * (99 * 100 / 2 - 3));
	const hamr_error_info *e = hamr_run_error(f.r);
	CHECK_EQ_STR(e->node, "checked");
	CHECK_EQ_INT(e->item, 3);
	CHECK(e->pid != getpid());
	CHECK_CONTAINS(e->message, "item 3 is bad");
	/* the fork server loaded it too, for workers forked from now on */
	pid_t server = parent_of(hamr_procpool_pid(pp, 0));
	char path[64], line[512];
	CHECK(server > 0 && server != getpid());
	snprintf(path, sizeof path, "/proc/%d/maps", (int)server);
	FILE *maps = fopen(path, "r");
	int loaded = 0;
	while (maps && fgets(line, sizeof line, maps))
		loaded |= strstr(line, "hr_blocks.so") != NULL;
	if (maps)
		fclose(maps);
	CHECK(loaded);
	done(&f);
}

/* item's index as its node sees it; item 5 fails */
static int f_seen_index(hamr_call *c)
{
	if (hamr_arg_i64(c, 0) == 5)
		return hamr_fail(c, "item five");
	return hamr_ret_i64(c, hamr_item_index(c));
}

static int f_the_list(hamr_call *c)
{
	return hamr_ret_arg(c, 0);
}

static const hamr_node_def index_defs[] = {
	INPUT_N,
	{.name = "items", .fn = f_items, .type = HAMR_I64, .kind = HAMR_NODE_PARALLELIZABLE,
	 .deps = DEPS(HAMR_DEP("n", HAMR_I64))},
	{.name = "seen", .fn = f_seen_index, .type = HAMR_I64,
	 .deps = DEPS(HAMR_DEP("items", HAMR_I64))},
	{.name = "all", .fn = f_the_list, .type = HAMR_LIST, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED_TOLERANT("seen", HAMR_I64))},
	{0}};

static void test_item_indices_shown(void)
{
	const char *outs[] = {"all"};
	/* items 0 .. 9 show 1000 + 7k for k < 8, then their own index */
	int64_t index[8];
	for (int k = 0; k < 8; k++)
		index[k] = 1000 + 7 * k;
	for (int where = 0; where < 2; where++) {
		hamr_run_opts o = where ? on_processes() : (hamr_run_opts)HAMR_RUN_OPTS_INIT;
		if (!where)
			o.executor = HAMR_EXEC_THREADS;
		o.policy = HAMR_KEEP_GOING;
		fixture f = planned(index_defs, outs, 1, 10);
		CHECK_OK(hamr_run_create(&f.r, f.p, f.in, &o));
		CHECK_EQ_INT(hamr_backend_item_indices(f.r, NULL, 3), HAMR_EINVAL);
		CHECK_OK(hamr_backend_item_indices(f.r, index, 8));
		CHECK_OK(hamr_run_start(f.r));
		CHECK_EQ_INT(hamr_backend_item_indices(f.r, index, 8), HAMR_EINVAL);
		CHECK_EQ_INT(hamr_run_wait(f.r), HAMR_EFAIL);
		/* the error record numbers the run's own items */
		CHECK_EQ_INT(hamr_run_error(f.r)->item, 5);
		hamr_list l = hamr_value_list(hamr_run_result(f.r, "all"));
		CHECK_EQ_INT(l.len, 9);
		for (size_t j = 0; j < l.len; j++) {
			int64_t k = (int64_t)j + (j >= 5); /* item 5 failed */
			CHECK_EQ_INT(hamr_list_i64(l, j), k < 8 ? 1000 + 7 * k : k);
		}
		done(&f);
	}
}

int main(void)
{
	/* a resource registered before the fork server starts is there in
	 * every worker */
	hamr_resource_desc rd = {"conn", conn_create, conn_destroy, NULL};
	CHECK_OK(hamr_resource_register(&conn, &rd));
	if (procexec_start())
		return 1;
	RUN_TEST(test_a_block_in_processes);
	RUN_TEST(test_block_events_come_from_workers);
	RUN_TEST(test_resources_per_worker_process);
	RUN_TEST(test_a_module_loaded_later);
	RUN_TEST(test_item_indices_shown);
	hamr_procpool_destroy(pp);
	TEST_EXIT();
}
