// SPDX-License-Identifier: MIT
/* Pool settings: how many CPUs the process may use, and every knob's value
 * from the API, the environment (HAMR_WORKERS, HAMR_SPIN, HAMR_PIN,
 * HAMR_BLOCKING_WORKERS, HAMR_GRAIN) or the default, in that order of
 * precedence. A malformed environment value is an error naming it.
 *
 * The CPU count is what the scheduler will really give: the affinity mask,
 * capped by a cgroup CPU quota (v2 cpu.max, or v1 cfs quota/period) rounded
 * up, since a container limited to 2 CPUs on a 64-core host gains nothing
 * from 64 workers. */
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/env_internal.h"
#include "runtime/pool_internal.h"
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

int hamr__pool_resolve_opts(const hamr_pool_opts *in, hamr_pool_opts *o)
{
	hamr_pool_opts def = HAMR_POOL_OPTS_INIT;
	*o = in ? *in : def;
	long v;
	int rc;
	if (o->workers < 0 || o->workers > HAMR__MAX_WORKERS)
		return hamr__error_set(HAMR_EINVAL, "workers = %d: expected 1 to %d (0: default)",
		                       o->workers, HAMR__MAX_WORKERS);
	if (o->workers == 0) {
		v = hamr_cpu_count();
		if ((rc = hamr__env_long("HAMR_WORKERS", 1, HAMR__MAX_WORKERS, &v)) < 0)
			return rc;
		o->workers = (int)v;
	}
	if (o->spin_us < -1)
		return hamr__error_set(HAMR_EINVAL, "spin_us = %d: expected 0 or more (-1: default)",
		                       o->spin_us);
	if (o->spin_us == -1) {
		v = HAMR__DEFAULT_SPIN_US;
		if ((rc = hamr__env_long("HAMR_SPIN", 0, 10000000, &v)) < 0)
			return rc;
		o->spin_us = (int)v;
	}
	if (o->pin < -1 || o->pin > 1)
		return hamr__error_set(HAMR_EINVAL, "pin = %d: expected 0 or 1 (-1: default)", o->pin);
	if (o->pin == -1) {
		v = 0;
		if ((rc = hamr__env_long("HAMR_PIN", 0, 1, &v)) < 0)
			return rc;
		o->pin = (int)v;
	}
	if (o->blocking_workers < 0 || o->blocking_workers > HAMR__MAX_BLOCKING)
		return hamr__error_set(HAMR_EINVAL,
		                       "blocking_workers = %d: expected 1 to %d (0: default)",
		                       o->blocking_workers, HAMR__MAX_BLOCKING);
	if (o->blocking_workers == 0) {
		v = HAMR__DEFAULT_BLOCKING;
		if ((rc = hamr__env_long("HAMR_BLOCKING_WORKERS", 1, HAMR__MAX_BLOCKING, &v)) < 0)
			return rc;
		o->blocking_workers = (int)v;
	}
	if (o->grain == 0) {
		v = 0;
		if ((rc = hamr__env_long("HAMR_GRAIN", 1, LONG_MAX, &v)) < 0)
			return rc;
		o->grain = (size_t)v;
	}
	return 0;
}

void hamr_pool_settings(const hamr_pool *p, hamr_pool_opts *out)
{
	if (p && out)
		*out = p->opts;
}

