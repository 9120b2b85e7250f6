// SPDX-License-Identifier: MIT
/* The round trip of one cache line between CPUs 0 and 1: each thread, pinned
 * to its CPU, waits for the other's store and answers it, 200,000 times.
 * Prints the mean in ns. bench/run-peers logs it around each workload: on a
 * shared VM it moves between phases (about 60 ns, or about 330 ns for
 * seconds at a time, as if the two virtual CPUs sat on different sockets),
 * and every row whose threads hand work to each other is slower while it is
 * high, hamr's and its peers' alike. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#define TRIPS 200000L

static _Alignas(64) atomic_long line;

static int pin(int cpu)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	return pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}

static void *answer(void *arg)
{
	(void)arg;
	for (long i = 1; i <= TRIPS; i++) {
		while (atomic_load_explicit(&line, memory_order_acquire) != 2 * i - 1)
			;
		atomic_store_explicit(&line, 2 * i, memory_order_release);
	}
	return NULL;
}

int main(void)
{
	pthread_t t;
	pthread_attr_t attr;
	struct timespec a, b;
	cpu_set_t s, one;
	CPU_ZERO(&s);
	CPU_ZERO(&one);
	CPU_SET(1, &one);
	/* the answering thread starts on CPU 1, or not at all */
	if (sched_getaffinity(0, sizeof s, &s) || !CPU_ISSET(0, &s) || !CPU_ISSET(1, &s) ||
	    pin(0) || pthread_attr_init(&attr) ||
	    pthread_attr_setaffinity_np(&attr, sizeof one, &one) ||
	    pthread_create(&t, &attr, answer, NULL)) {
		puts("-");
		return 0; /* not CPUs 0 and 1: nothing to measure */
	}
	pthread_attr_destroy(&attr);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 1; i <= TRIPS; i++) {
		atomic_store_explicit(&line, 2 * i - 1, memory_order_release);
		while (atomic_load_explicit(&line, memory_order_acquire) != 2 * i)
			;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	pthread_join(t, NULL);
	printf("%.0f\n", ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / TRIPS);
	return 0;
}
