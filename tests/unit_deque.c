// SPDX-License-Identifier: MIT
/* The Chase-Lev deque conserves tasks: one owner pushing and popping, 1 to 8
 * thieves stealing, a buffer that starts at 2 slots and grows many times;
 * every item pushed is taken exactly once, by the owner or by one thief. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "runtime/pool/deque_internal.h"
#include "tests/check.h"

typedef struct conserve {
	hamr__deque q;
	atomic_int done;
	atomic_uchar *taken; /* per item: how many times it was taken */
	long n_items;
	atomic_long stolen;
	atomic_int started;
} conserve;

static long total_stolen;

static void take(conserve *s, void *x)
{
	long item = (long)(intptr_t)x - 2; /* items are 2.. so none is NULL/ABORT */
	if (item < 0 || item >= s->n_items) {
		check_failures++;
		return;
	}
	atomic_fetch_add_explicit(&s->taken[item], 1, memory_order_relaxed);
}

static void *thief(void *arg)
{
	conserve *s = arg;
	long mine = 0;
	atomic_fetch_add(&s->started, 1);
	while (!atomic_load_explicit(&s->done, memory_order_acquire) ||
	       hamr__deque_size(&s->q) > 0) {
		void *x = hamr__deque_steal(&s->q);
		if (x == HAMR__DEQUE_EMPTY || x == HAMR__DEQUE_ABORT)
			continue;
		take(s, x);
		mine++;
	}
	atomic_fetch_add(&s->stolen, mine);
	return NULL;
}

static void run_conservation(int thieves, long n_items, unsigned seed)
{
	conserve s;
	CHECK_OK(hamr__deque_init(&s.q, 1, 0));
	atomic_init(&s.done, 0);
	atomic_init(&s.stolen, 0);
	atomic_init(&s.started, 0);
	s.n_items = n_items;
	s.taken = calloc((size_t)n_items, sizeof *s.taken);
	pthread_t t[8];
	for (int i = 0; i < thieves; i++)
		pthread_create(&t[i], NULL, thief, &s);
	while (atomic_load(&s.started) < thieves)
		;
	/* owner: pushes in bursts of random length, works a little (so
	 * thieves get their turn), pops some back */
	long next = 0, popped = 0;
	for (long round = 0; next < n_items; round++) {
		for (volatile int spin = 0; spin < 200; spin++)
			;
		if (round % 8 == 0)
			sched_yield(); /* on a busy machine, let thieves run */
		seed = seed * 1103515245u + 12345u;
		long burst = 1 + (seed >> 16) % 64;
		for (long k = 0; k < burst && next < n_items; k++, next++)
			CHECK_OK(hamr__deque_push(&s.q, (void *)(intptr_t)(next + 2)));
		long pops = (seed >> 8) % (burst + 1);
		for (long k = 0; k < pops; k++) {
			void *x = hamr__deque_pop(&s.q);
			if (!x)
				break;
			take(&s, x);
			popped++;
		}
	}
	void *x;
	while ((x = hamr__deque_pop(&s.q))) {
		take(&s, x);
		popped++;
	}
	atomic_store_explicit(&s.done, 1, memory_order_release);
	for (int i = 0; i < thieves; i++)
		pthread_join(t[i], NULL);
	long wrong = 0;
	for (long i = 0; i < n_items; i++)
		wrong += atomic_load(&s.taken[i]) != 1;
	CHECK_EQ_INT(wrong, 0);
	CHECK_EQ_INT(popped + atomic_load(&s.stolen), n_items);
	total_stolen += atomic_load(&s.stolen);
	printf("  %d thieves: %ld of %ld items stolen\n", thieves,
	       (long)atomic_load(&s.stolen), n_items);
	hamr__deque_destroy(&s.q);
	free(s.taken);
}

static void test_every_item_taken_exactly_once(void)
{
	long n = getenv("HAMR_TEST_LONG") ? 2000000 : 30000;
	for (int thieves = 1; thieves <= 8; thieves *= 2)
		run_conservation(thieves, n, 17u * (unsigned)thieves);
	CHECK(total_stolen > 0); /* the thieves really raced the owner */
}

static void test_lifo_for_owner_fifo_for_thief(void)
{
	hamr__deque q;
	CHECK_OK(hamr__deque_init(&q, 1, 0));
	for (intptr_t i = 2; i < 12; i++)
		CHECK_OK(hamr__deque_push(&q, (void *)i)); /* grows 2 -> 16 */
	CHECK(hamr__deque_steal(&q) == (void *)2);
	CHECK(hamr__deque_pop(&q) == (void *)11);
	CHECK(hamr__deque_steal(&q) == (void *)3);
	CHECK(hamr__deque_pop(&q) == (void *)10);
	CHECK_EQ_INT(hamr__deque_size(&q), 6);
	for (intptr_t i = 9; i >= 4; i--)
		CHECK(hamr__deque_pop(&q) == (void *)i);
	CHECK(hamr__deque_pop(&q) == NULL);
	CHECK(hamr__deque_steal(&q) == HAMR__DEQUE_EMPTY);
	hamr__deque_destroy(&q);
}

int main(void)
{
	RUN_TEST(test_lifo_for_owner_fifo_for_thief);
	RUN_TEST(test_every_item_taken_exactly_once);
	TEST_EXIT();
}
