// SPDX-License-Identifier: MIT
// Hamilton's mapreduce shape, shared by bench_dynamic.cc and
// bench_procs.cc: items(n), a parallelizable node that emits 0 .. n-1;
// work(x), a node of its block; total, a collect (a list summed by its
// function, or a fold). The arithmetic is on uint64_t (wrapping), so every
// sum is exact whatever order a fold takes.
#ifndef HAMR_BENCH_MAPREDUCE_H
#define HAMR_BENCH_MAPREDUCE_H

#include <hamr.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <time.h>

namespace mr {

inline int64_t now_ns()
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// Stops the benchmark program with hamr's message; `who` names it.
[[noreturn]] inline void die(const char *who, const char *what, int rc)
{
	std::fprintf(stderr, "%s: %s: %s (%s)\n", who, what, hamr_strerror(rc), hamr_errmsg());
	std::exit(1);
}

// `rounds` dependent multiply-xorshift steps (noinline: no compiler
// vectorizes across items).
__attribute__((noinline)) inline uint64_t mix(uint64_t x, int rounds)
{
	for (int r = 0; r < rounds; r++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		x ^= x >> 29;
	}
	return x;
}

inline int f_items(hamr_call *c)
{
	int64_t n = hamr_arg_i64(c, 0);
	for (int64_t i = 0; i < n; i++)
		if (hamr_emit_i64(c, i))
			return HAMR_ECANCELED;
	return 0;
}

inline int f_noop(hamr_call *c)
{
	return hamr_ret_arg(c, 0);
}

inline int f_total(hamr_call *c)
{
	hamr_list l = hamr_arg_list(c, 0);
	uint64_t s = 0;
	for (size_t i = 0; i < l.len; i++)
		s += (uint64_t)hamr_list_i64(l, i);
	return hamr_ret_i64(c, (int64_t)s);
}

inline int add_step(hamr_value *acc, const hamr_value *x, void *)
{
	*acc = hamr_value_from_i64((int64_t)((uint64_t)hamr_value_i64(acc) +
	                                     (uint64_t)hamr_value_i64(x)));
	return 0;
}

inline const hamr_fold kSum = {HAMR_DEFAULT_I64(0), add_step, add_step};

// The plan for output `out` of module `defs`, whose input "n" is given n,
// and that given value in *in; 0 or hamr's error.
inline int plan_of(const hamr_node_def *defs, const char *out, int64_t n, hamr_plan **plan,
                   hamr_values **in)
{
	hamr_module mod = {"bench", defs};
	hamr_graph *g = nullptr;
	const char *outs[] = {out};
	int rc = hamr_graph_create(&g);
	if (!rc)
		rc = hamr_graph_add_module(g, &mod);
	if (!rc)
		rc = hamr_values_create(in);
	if (!rc)
		rc = hamr_values_set_i64(*in, "n", n);
	if (!rc)
		rc = hamr_plan_create(plan, g, outs, 1, *in);
	hamr_graph_destroy(g);
	return rc;
}

// The plan of the shape for n items of `work`, with "total" a fold (fold)
// or a list collect, and the given value of "n"; 0 or hamr's error.
inline int plan(hamr_fn work, bool fold, int64_t n, hamr_plan **out, hamr_values **in)
{
	const hamr_dep d_n[] = {HAMR_DEP("n", HAMR_I64), HAMR_DEPS_END};
	const hamr_dep d_x[] = {HAMR_DEP("items", HAMR_I64), HAMR_DEPS_END};
	const hamr_dep d_w[] = {HAMR_DEP_COLLECTED("work", HAMR_I64), HAMR_DEPS_END};
	hamr_node_def defs[5] = {};
	defs[0].name = "n";
	defs[0].type = HAMR_I64;
	defs[0].kind = HAMR_NODE_INPUT;
	defs[1].name = "items";
	defs[1].fn = f_items;
	defs[1].type = HAMR_I64;
	defs[1].kind = HAMR_NODE_PARALLELIZABLE;
	defs[1].deps = d_n;
	defs[2].name = "work";
	defs[2].fn = work;
	defs[2].type = HAMR_I64;
	defs[2].deps = d_x;
	defs[3].name = "total";
	defs[3].fn = fold ? nullptr : f_total;
	defs[3].type = HAMR_I64;
	defs[3].kind = HAMR_NODE_COLLECT;
	defs[3].deps = d_w;
	defs[3].fold = fold ? &kSum : nullptr;
	return plan_of(defs, "total", n, out, in);
}

} // namespace mr

#endif
