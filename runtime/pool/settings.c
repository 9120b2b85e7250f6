// SPDX-License-Identifier: MIT
/* Pool settings: how many CPUs the process may use, and every knob's value
 * from the API, the environment (HAMR_WORKERS, HAMR_SPIN, HAMR_PIN,
 * HAMR_BLOCKING_WORKERS, HAMR_GRAIN, HAMR_STACK) or the default, in that
 * order of precedence. A field at 0 is unset (environment, else default);
 * spin_us and pin take HAMR_OFF for an explicit zero, which is what the
 * resolved settings then hold (0: no spinning, not pinned). A malformed
 * environment value is an error naming it.
 *
 * The CPU count is what the scheduler will really give: the affinity mask,
 * capped by a cgroup CPU quota (v2 cpu.max, or v1 cfs quota/period) rounded
 * up, since a container limited to 2 CPUs on a 64-core host gains nothing
 * from 64 workers. */
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/pool/env_internal.h"
#include "runtime/pool/pool_internal.h"
#include "serialize/error_internal.h"

/* The cgroup v2 (cpu.max) or v1 (cfs quota) limit, in whole CPUs rounded
 * up; 0 when there is none. */
static int cgroup_cpus(void)
{
	long quota = -1, period = 0;
	FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
	if (f) {
		char q[32] = "";
		if (fscanf(f, "%31s %ld", q, &period) == 2 && strcmp(q, "max"))
			quota = strtol(q, NULL, 10);
		fclose(f);
	} else if ((f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "r"))) {
		if (fscanf(f, "%ld", &quota) != 1)
			quota = -1;
		fclose(f);
		if ((f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "r"))) {
			if (fscanf(f, "%ld", &period) != 1)
				period = 0;
			fclose(f);
		}
	}
	if (quota <= 0 || period <= 0)
		return 0;
	return (int)((quota + period - 1) / period);
}

int hamr_cpu_count(void)
{
	cpu_set_t set;
	int n = 0;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		n = CPU_COUNT(&set);
	if (n <= 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		n = c > 0 ? (int)c : 1;
	}
	int q = cgroup_cpus();
	return q > 0 && q < n ? q : n;
}

/* The stack size a thread gets when nobody asks for one: glibc takes it
 * from RLIMIT_STACK (`ulimit -s`) at startup. */
static size_t default_stack(void)
{
	pthread_attr_t a;
	size_t sz = 0;
	if (pthread_attr_init(&a) == 0) {
		pthread_attr_getstacksize(&a, &sz);
		pthread_attr_destroy(&a);
	}
	if (sz < HAMR__MIN_STACK || sz > HAMR__MAX_STACK)
		sz = (size_t)8 << 20;
	return sz;
}

/* An int option that takes HAMR_OFF, as hamr__knob_resolve wants it: 0
 * (unset) becomes KNOB_UNSET, HAMR_OFF the explicit zero that wins over
 * the environment, any other value itself. */
#define KNOB_UNSET LONG_MIN

static long off_knob(int v)
{
	return v == 0 ? KNOB_UNSET : v == HAMR_OFF ? 0 : v;
}

int hamr__pool_resolve_opts(const hamr_pool_opts *in, hamr_pool_opts *o)
{
	hamr_pool_opts def = HAMR_POOL_OPTS_INIT;
	*o = in ? *in : def;
	if (o->workers < 0 || o->workers > HAMR__MAX_WORKERS)
		return hamr__error_set(HAMR_EINVAL, "workers = %d: expected 1 to %d (0: default)",
		                       o->workers, HAMR__MAX_WORKERS);
	if (o->spin_us < 0 && o->spin_us != HAMR_OFF)
		return hamr__error_set(HAMR_EINVAL,
		                       "spin_us = %d: expected 1 or more, or HAMR_OFF (0: default)",
		                       o->spin_us);
	if (o->pin != 0 && o->pin != 1 && o->pin != HAMR_OFF)
		return hamr__error_set(HAMR_EINVAL, "pin = %d: expected 1 or HAMR_OFF (0: default)",
		                       o->pin);
	if (o->blocking_workers < 0 || o->blocking_workers > HAMR__MAX_BLOCKING)
		return hamr__error_set(HAMR_EINVAL,
		                       "blocking_workers = %d: expected 1 to %d (0: default)",
		                       o->blocking_workers, HAMR__MAX_BLOCKING);
	if (o->stack_size && (o->stack_size < HAMR__MIN_STACK || o->stack_size > HAMR__MAX_STACK))
		return hamr__error_set(HAMR_EINVAL,
		                       "stack_size = %zu: expected %zu to %zu bytes (0: default)",
		                       o->stack_size, HAMR__MIN_STACK, HAMR__MAX_STACK);
	hamr__knob_value k[] = {{"HAMR_WORKERS", 0, NULL, 0}, {"HAMR_SPIN", 0, NULL, 0},
	                        {"HAMR_PIN", 0, NULL, 0}, {"HAMR_BLOCKING_WORKERS", 0, NULL, 0},
	                        {"HAMR_GRAIN", 0, NULL, 0}, {"HAMR_STACK", 0, NULL, 0}};
	int rc;
	if ((rc = hamr__knob_resolve(o->workers, 0, k[0].name, 1, HAMR__MAX_WORKERS, hamr_cpu_count(),
	                  &k[0].value, &k[0].source)) ||
	    (rc = hamr__knob_resolve(off_knob(o->spin_us), KNOB_UNSET, k[1].name, 0, 10000000,
	                  HAMR__DEFAULT_SPIN_US, &k[1].value, &k[1].source)) ||
	    (rc = hamr__knob_resolve(off_knob(o->pin), KNOB_UNSET, k[2].name, 0, 1, 0, &k[2].value,
	                  &k[2].source)) ||
	    (rc = hamr__knob_resolve(o->blocking_workers, 0, k[3].name, 1, HAMR__MAX_BLOCKING,
	                  HAMR__DEFAULT_BLOCKING, &k[3].value, &k[3].source)) ||
	    (rc = hamr__knob_resolve(o->grain > LONG_MAX ? LONG_MAX : (long)o->grain, 0, k[4].name, 1,
	                  LONG_MAX, 0, &k[4].value, &k[4].source)) ||
	    (rc = hamr__knob_resolve_size((long)o->stack_size, 0, k[5].name, (long)HAMR__MIN_STACK,
	                  (long)HAMR__MAX_STACK, (long)default_stack(), &k[5].value,
	                  &k[5].source)))
		return rc;
	o->workers = (int)k[0].value;
	o->spin_us = (int)k[1].value;
	o->pin = (int)k[2].value;
	o->blocking_workers = (int)k[3].value;
	o->grain = (size_t)k[4].value;
	o->stack_size = (size_t)k[5].value;
	if (!o->grain)
		k[4].text = "lazy"; /* no grain: lazy splitting */
	hamr__env_display("pool", k, sizeof k / sizeof *k);
	return 0;
}

void hamr_pool_settings(const hamr_pool *p, hamr_pool_opts *out)
{
	if (p && out)
		*out = p->opts;
}

