// SPDX-License-Identifier: MIT
/* runtime/blocks/, white-box.
 *
 * Items a node waits for must not be stranded by a consumer that leaves
 * (hamr__blocks_linger_span_ns at 0: it waits for a batch once, then
 * leaves when it finds nothing to take): one leaving just as the node
 * publishes an item, and one past its lingering that finds fewer items
 * than a batch. Stranded, the node waits forever, and ctest's TIMEOUT
 * fails the test.
 *
 * Packed lists written in place (runtime/blocks/blocks.c's area): a
 * block's lists of i64 and f64 go from chunks to a mapping of their own
 * at segment hamr__blocks_area_from, and back to chunks past
 * hamr__blocks_area_items.
 * With the area from item 512 to item 8,192, lists that end before it, in
 * it and past it, with and without failed items, from a block of one node
 * and one of several, on both executors, must hold exactly what each item
 * computed; a bool list beside them keeps them in chunks. With the real
 * bounds, a list of 2^20 + 1000 items is the area itself, and the rest of
 * the reservation is gone once the run is (not checked under
 * ThreadSanitizer, which maps shadow for the area as it is used). */
#include <hamr.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "runtime/core/run_internal.h"
#include "serialize/value_internal.h"
#include "tests/check.h"
#include "tests/fixture.h"
#include "tests/nodes.h"
#include "tests/sanitizers.h"

static int failing; /* items that bad() names fail */
static int64_t items_n;

static int bad(int64_t x)
{
	return failing && (x % 97 == 3 || x % 89 == 5 || (x >= 700 && x < 760));
}

static int f_half(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	if (bad(x))
		return hamr_fail(c, "bad item %lld", (long long)x);
	return hamr_ret_f64(c, (double)x / 2.0);
}

static int f_square(hamr_call *c) /* (item, half) */
{
	int64_t x = hamr_arg_i64(c, 0);
	return hamr_ret_i64(c, x * x);
}

static int f_even(hamr_call *c) /* (item, half) */
{
	return hamr_ret_bool(c, hamr_arg_i64(c, 0) % 2 == 0);
}

/* A list checked against the items that did not fail, in order, each
 * value as its node computes it ('h' half, 's' square, 'e' even); its
 * length returned. */
static int f_check(hamr_call *c)
{
	return check_items_list(c, items_n, bad, (char)(uintptr_t)hamr_userdata(c));
}

#define CHECK_LIST(name_, of, type_, what)                                        \
	{.name = name_, .fn = f_check, .userdata = (void *)(uintptr_t)what,          \
	 .type = HAMR_I64, .kind = HAMR_NODE_COLLECT,                                \
	 .deps = DEPS(HAMR_DEP_COLLECTED_TOLERANT(of, type_))}

#define ITEMS                                                                      \
	INPUT_N, {.name = "items", .fn = f_items, .type = HAMR_I64,                  \
	          .kind = HAMR_NODE_PARALLELIZABLE, .deps = DEPS(HAMR_DEP("n", HAMR_I64))}
#define HALF {.name = "half", .fn = f_half, .type = HAMR_F64, .deps = DEPS(HAMR_DEP("items", HAMR_I64))}
#define SQUARE                                                                     \
	{.name = "square", .fn = f_square, .type = HAMR_I64,                         \
	 .deps = DEPS(HAMR_DEP("items", HAMR_I64), HAMR_DEP("half", HAMR_F64))}

/* f64 and i64 lists: two lists in one area */
static const hamr_node_def two_defs[] = {
	ITEMS, HALF, SQUARE,
	CHECK_LIST("halves", "half", HAMR_F64, 'h'),
	CHECK_LIST("squares", "square", HAMR_I64, 's'),
	{0}};

/* the same beside a bool list: chunks only */
static const hamr_node_def bool_defs[] = {
	ITEMS, HALF, SQUARE,
	{.name = "even", .fn = f_even, .type = HAMR_BOOL,
	 .deps = DEPS(HAMR_DEP("items", HAMR_I64), HAMR_DEP("half", HAMR_F64))},
	CHECK_LIST("halves", "half", HAMR_F64, 'h'),
	CHECK_LIST("squares", "square", HAMR_I64, 's'),
	CHECK_LIST("evens", "even", HAMR_BOOL, 'e'),
	{0}};

/* a block of one node (run_one) */
static const hamr_node_def one_defs[] = {
	ITEMS, HALF,
	CHECK_LIST("halves", "half", HAMR_F64, 'h'),
	{0}};

static void test_lists_across_the_area(void)
{
	const int64_t sizes[] = {1, 511, 512, 513, 1500, 8192, 8193, 9000};
	const size_t bounds[] = {0, 300};
	const char *outs[] = {"halves", "squares", "evens"};
	const hamr_node_def *shapes[] = {two_defs, bool_defs, one_defs};
	const size_t n_outs[] = {2, 3, 1};
	hamr_pool *pools[2];
	hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
	po.workers = 2;
	CHECK_OK(hamr_pool_create(&pools[0], &po));
	po.workers = 4;
	CHECK_OK(hamr_pool_create(&pools[1], &po));
	hamr__blocks_area_from = 2;     /* item 512 */
	hamr__blocks_area_items = 8192; /* to item 8,192: 64 KiB a list, pages
	                                 * of up to 64 KiB */
	for (size_t ni = 0; ni < sizeof sizes / sizeof *sizes; ni++) {
		items_n = sizes[ni];
		for (failing = 0; failing < 2; failing++) {
			int64_t good = 0;
			for (int64_t x = 0; x < items_n; x++)
				good += !bad(x);
			for (int ex = 0; ex < 3; ex++)
				for (size_t b = 0; b < sizeof bounds / sizeof *bounds; b++)
					for (size_t sh = 0; sh < 3; sh++) {
						hamr_run_opts o = HAMR_RUN_OPTS_INIT;
						o.executor = ex ? HAMR_EXEC_THREADS : HAMR_EXEC_SEQUENTIAL;
						o.pool = ex ? pools[ex - 1] : NULL;
						o.policy = HAMR_KEEP_GOING;
						o.max_inflight = bounds[b];
						fixture f = run_with(shapes[sh], outs, n_outs[sh], items_n, &o);
						CHECK_EQ_INT(f.run_rc, good < items_n ? HAMR_EFAIL : 0);
						for (size_t q = 0; q < n_outs[sh]; q++)
							CHECK_EQ_INT(i64(&f, outs[q]), good);
						done(&f);
					}
		}
	}
	failing = 0;
	hamr__blocks_area_from = 4096;
	hamr__blocks_area_items = (size_t)1 << 30;
	hamr_pool_destroy(pools[0]);
	hamr_pool_destroy(pools[1]);
}

/* Mappings of 1 GiB or more in this process (a sanitizer's shadow among
 * them). */
static int big_mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi;
	char line[512];
	int n = 0;
	CHECK(f != NULL);
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && hi - lo >= (1ul << 30))
			n++;
	if (f)
		fclose(f);
	return n;
}

static int f_keep(hamr_call *c)
{
	return hamr_ret_arg(c, 0);
}

static const hamr_node_def keep_defs[] = {
	ITEMS, HALF, SQUARE,
	{.name = "kept", .fn = f_keep, .type = HAMR_LIST, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("square", HAMR_I64))},
	{.name = "halves", .fn = f_keep, .type = HAMR_LIST, .kind = HAMR_NODE_COLLECT,
	 .deps = DEPS(HAMR_DEP_COLLECTED("half", HAMR_F64))},
	{0}};

/* With the real bounds: the lists of a block past 2^20 items are the
 * area's pages, and nothing of the reservation stays after the run. */
static void test_a_list_is_the_area(void)
{
	const int64_t n = ((int64_t)1 << 20) + 1000;
	const char *outs[] = {"kept", "halves"};
	hamr_pool *pool;
	hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
	po.workers = 2;
	CHECK_OK(hamr_pool_create(&pool, &po));
	int before = big_mappings();
	(void)before;
	for (int ex = 0; ex < 2; ex++) {
		hamr_run_opts o = HAMR_RUN_OPTS_INIT;
		o.executor = ex ? HAMR_EXEC_THREADS : HAMR_EXEC_SEQUENTIAL;
		o.pool = ex ? pool : NULL;
		fixture f = run_with(keep_defs, outs, 2, n, &o);
		CHECK_OK(f.run_rc);
		const hamr_value *kept = hamr_run_result(f.r, "kept");
		const hamr_value *halves = hamr_run_result(f.r, "halves");
		CHECK(kept && hamr__list_mapped(kept));
		CHECK(halves && hamr__list_mapped(halves));
		if (kept && halves) {
			hamr_list l = hamr_value_list(kept), h = hamr_value_list(halves);
			CHECK_EQ_INT(l.len, n);
			CHECK_EQ_INT(h.len, n);
			int64_t wrong = 0;
			for (int64_t x = 0; x < n && x < (int64_t)l.len && x < (int64_t)h.len; x++)
				wrong += hamr_list_i64(l, (size_t)x) != x * x ||
				         hamr_list_f64(h, (size_t)x) != (double)x / 2.0;
			CHECK_EQ_INT(wrong, 0);
		}
		done(&f);
#if !defined(TSAN) /* whose shadow of the area is mapped as it is used */
		CHECK_EQ_INT(big_mappings(), before);
#endif
	}
	hamr_pool_destroy(pool);
}

/* A list that took a mapping grows by leaving it: its items copied to
 * an array of malloc's, the mapping unmapped. */
static void test_a_mapped_list_grows(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), cap = page / sizeof(int64_t);
	int64_t *items = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(items != MAP_FAILED);
	if (items == MAP_FAILED)
		return;
	for (size_t k = 0; k < cap; k++)
		items[k] = (int64_t)k * 3;
	hamr_value v;
	CHECK_OK(hamr_value_make_list(&v, HAMR_I64, 0));
	hamr__list_adopt_mapped(&v, items, cap, page);
	CHECK(hamr__list_mapped(&v));
	for (int64_t k = 0; k < 10; k++)
		CHECK_OK(hamr_list_append_i64(&v, -k));
	CHECK(!hamr__list_mapped(&v));
	hamr_list l = hamr_value_list(&v);
	CHECK_EQ_INT(l.len, cap + 10);
	int wrong = 0;
	for (size_t k = 0; k < l.len; k++)
		wrong += hamr_list_i64(l, k) != (k < cap ? (int64_t)k * 3 : -(int64_t)(k - cap));
	CHECK_EQ_INT(wrong, 0);
	hamr_value_clear(&v);
}

/* ---- a consumer past its lingering ------------------------------------------------ */

#define BURSTS 10
#define FIRST 40 /* items a burst emits at once, more than a batch (32) */
#define LATE 5   /* and once 33 have run, fewer than a batch */

static atomic_long n_marked;
static atomic_long late_out; /* bursts whose LATE items are emitted */

/* Busy for about us microseconds: an item that works a while. */
static void spin_us(long us)
{
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	do
		clock_gettime(CLOCK_MONOTONIC, &b);
	while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < us * 1000L);
}

static void wait_marked(long n)
{
	while (atomic_load(&n_marked) < n)
		usleep(20);
}

/* Bursts: FIRST items at once, LATE more once FIRST - 7 have run, then a
 * wait until all have (as long as that takes). The one consumer has
 * waited for a batch by the time it runs the burst's item FIRST - 1,
 * which (f_count_mark) returns only once the LATE items are out: the
 * consumer then finds them, fewer than a batch, past its time for
 * lingering (hamr__blocks_linger_span_ns 0), and must run them: its
 * claim of what is there (consume), or its look back as it leaves
 * (offer_run). */
static int f_bursts(hamr_call *c)
{
	for (int64_t b = 0, i = 0; b < hamr_arg_i64(c, 0); b++) {
		long base = (long)b * (FIRST + LATE);
		for (int k = 0; k < FIRST + LATE; k++, i++) {
			if (k == FIRST)
				wait_marked(base + FIRST - 7);
			if (hamr_emit_i64(c, i))
				return HAMR_ECANCELED;
		}
		atomic_store(&late_out, b + 1);
		wait_marked(base + FIRST + LATE);
	}
	return 0;
}

static int f_count_mark(hamr_call *c)
{
	int64_t x = hamr_arg_i64(c, 0);
	spin_us(20);
	if (x % (FIRST + LATE) == FIRST - 1)
		while (atomic_load(&late_out) <= x / (FIRST + LATE))
			usleep(20);
	atomic_fetch_add(&n_marked, 1);
	return hamr_ret_i64(c, x);
}

/* items(n) emitting through `emit`, a node `mark` counting each item in
 * n_marked with `mark`, and their list's sum */
#define MARKED_BLOCK(emit, mark)                                                   \
	{INPUT_N,                                                                  \
	 {.name = "items", .fn = emit, .type = HAMR_I64,                           \
	  .kind = HAMR_NODE_PARALLELIZABLE, .deps = DEPS(HAMR_DEP("n", HAMR_I64))}, \
	 {.name = "mark", .fn = mark, .type = HAMR_I64,                            \
	  .deps = DEPS(HAMR_DEP("items", HAMR_I64))},                              \
	 {.name = "total", .fn = f_sum_list, .type = HAMR_I64,                     \
	  .kind = HAMR_NODE_COLLECT, .deps = DEPS(HAMR_DEP_COLLECTED("mark", HAMR_I64))}, \
	 {0}}

static const hamr_node_def burst_defs[] = MARKED_BLOCK(f_bursts, f_count_mark);

/* Runs defs with input n on a pool of 2 workers, lingering cut to one
 * wait, and checks that all of its `items` items, 0 .. items - 1, ran. */
static void run_lingering_once(const hamr_node_def *defs, int64_t n, int64_t items)
{
	const char *outs[] = {"total"};
	hamr_pool *pool;
	hamr_pool_opts po = HAMR_POOL_OPTS_INIT;
	po.workers = 2;
	CHECK_OK(hamr_pool_create(&pool, &po));
	hamr_run_opts o = HAMR_RUN_OPTS_INIT;
	o.executor = HAMR_EXEC_THREADS;
	o.pool = pool;
	int64_t span = hamr__blocks_linger_span_ns;
	hamr__blocks_linger_span_ns = 0;
	atomic_store(&n_marked, 0);
	atomic_store(&late_out, 0);
	fixture f = run_with(defs, outs, 1, n, &o);
	CHECK_OK(f.run_rc);
	CHECK_EQ_INT(i64(&f, "total"), items * (items - 1) / 2);
	done(&f);
	hamr__blocks_linger_span_ns = span;
	hamr_pool_destroy(pool);
}

static void test_a_burst_s_tail_runs(void)
{
	run_lingering_once(burst_defs, BURSTS, BURSTS * (FIRST + LATE));
}

/* ---- a consumer leaving as an item comes ------------------------------------------ */

#define ONE_BY_ONE 5000

/* Emits its items one at a time, each once the one before has run: every
 * item comes about when the consumer that ran the last one leaves. */
static int f_one_by_one(hamr_call *c)
{
	for (int64_t i = 0; i < hamr_arg_i64(c, 0); i++) {
		if (hamr_emit_i64(c, i))
			return HAMR_ECANCELED;
		while (atomic_load(&n_marked) <= i)
			sched_yield();
	}
	return 0;
}

static int f_mark_only(hamr_call *c)
{
	atomic_fetch_add(&n_marked, 1);
	return hamr_ret_i64(c, hamr_arg_i64(c, 0));
}

static const hamr_node_def one_by_one_defs[] = MARKED_BLOCK(f_one_by_one, f_mark_only);

/* A consumer that leaves while the node publishes the item it will wait
 * for, and still counts the consumer, must not strand it: either the node
 * offers a consumer or the leaving one comes back (offer_run). Stranded,
 * the node waits forever and ctest's TIMEOUT fails the test. Lingering cut
 * to one wait, so that consumers leave after nearly every item. */
static void test_a_leaving_consumer_strands_nothing(void)
{
	run_lingering_once(one_by_one_defs, ONE_BY_ONE, ONE_BY_ONE);
}

int main(void)
{
	RUN_TEST(test_a_leaving_consumer_strands_nothing);
	RUN_TEST(test_a_burst_s_tail_runs);
	RUN_TEST(test_lists_across_the_area);
	RUN_TEST(test_a_list_is_the_area);
	RUN_TEST(test_a_mapped_list_grows);
	TEST_EXIT();
}
