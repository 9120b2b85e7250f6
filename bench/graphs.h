// SPDX-License-Identifier: MIT
// The graphs the benchmarks measure, shared by bench_plan.cc and
// bench_seq.cc: a wide graph, a long chain and a random DAG, each of N
// computed nodes fed by one i64 input "x".
//
//   wide:   node_k = x + k (k < N-1), and "total" = the sum of all of them
//   chain:  node_0 = x + 1, node_i = node_{i-1} + 1; the sink is node_{N-1}
//   random: n_i reads min(i, 3) distinct earlier nodes chosen at random
//           (n_0 reads x) and adds its index; "sink" reads every node that
//           no other reads, so a plan for "sink" keeps all N nodes.
//
// A shape is generated once per size (names formatted with snprintf,
// dependency indices drawn from a fixed-seed generator) and kept; adding it
// to a graph then passes hamr temporary hamr_dep arrays pointing into it,
// which the graph copies. So a timed construction is hamr's work plus
// filling those small arrays, not formatting names.
//
// Each shape also computes its sink's value in plain C++ (reference()), so
// main() of each benchmark checks that hamr's result agrees before anything
// is measured. Arithmetic is on uint64_t (wrapping), since random DAG sums
// outgrow int64_t.
#ifndef HAMR_BENCH_GRAPHS_H
#define HAMR_BENCH_GRAPHS_H

#include <hamr.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <time.h>
#include <utility>
#include <vector>

namespace hb {

constexpr int64_t kX = 1; // the value given for input "x"

// ---- node functions ---------------------------------------------------------
// hamr node functions and their plain-C twins (baseline in bench_seq.cc):
// the same arithmetic, one reading hamr's call API, one reading an array.

// x + k, with k in the node's user data
inline int node_add(hamr_call *c)
{
	uint64_t k = (uint64_t)(uintptr_t)hamr_userdata(c);
	return hamr_ret_i64(c, (int64_t)((uint64_t)hamr_arg_i64(c, 0) + k));
}

// the sum of all arguments, plus k from the user data
inline int node_sum(hamr_call *c)
{
	uint64_t s = (uint64_t)(uintptr_t)hamr_userdata(c);
	size_t n = hamr_arg_count(c);
	for (size_t i = 0; i < n; i++)
		s += (uint64_t)hamr_arg_i64(c, i);
	return hamr_ret_i64(c, (int64_t)s);
}

// ---- shapes ---------------------------------------------------------------

enum class Shape { wide, chain, random };

inline const char *shape_name(Shape s)
{
	return s == Shape::wide ? "wide" : s == Shape::chain ? "chain" : "random";
}

constexpr int32_t kInput = -1; // a dependency on "x"

struct Node {
	std::string name;
	hamr_fn fn;
	uint64_t k;                // user data
	std::vector<int32_t> deps; // indices of earlier nodes, or kInput
};

struct Spec {
	Shape shape;
	std::vector<Node> nodes; // in dependency order; the last is the sink
	size_t max_deps = 0;

	const char *sink() const { return nodes.back().name.c_str(); }
	size_t size() const { return nodes.size(); }

	// The sink's value for x = kX, computed in plain C++.
	int64_t reference() const
	{
		std::vector<uint64_t> v(nodes.size());
		for (size_t i = 0; i < nodes.size(); i++) {
			uint64_t s = nodes[i].k;
			for (int32_t d : nodes[i].deps)
				s += d == kInput ? (uint64_t)kX : v[(size_t)d];
			v[i] = s;
		}
		return (int64_t)v.back();
	}
};

// splitmix64: a fixed seed, so every run measures the same random DAG
inline uint64_t next_random(uint64_t &state)
{
	uint64_t z = (state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

inline std::string fmt_name(const char *prefix, size_t i)
{
	char buf[32];
	std::snprintf(buf, sizeof buf, "%s%zu", prefix, i);
	return buf;
}

inline Spec make_spec(Shape shape, size_t n)
{
	Spec s;
	s.shape = shape;
	s.nodes.reserve(n);
	switch (shape) {
	case Shape::wide: {
		Node total{"total", node_sum, 0, {}};
		for (size_t k = 0; k + 1 < n; k++) {
			s.nodes.push_back({fmt_name("node_", k), node_add, k, {kInput}});
			total.deps.push_back((int32_t)k);
		}
		s.nodes.push_back(std::move(total));
		break;
	}
	case Shape::chain:
		for (size_t i = 0; i < n; i++)
			s.nodes.push_back({fmt_name("node_", i), node_add, 1,
			                   {i ? (int32_t)(i - 1) : kInput}});
		break;
	case Shape::random: {
		uint64_t rng = 0x68616d72u; // "hamr"
		std::vector<char> read(n, 0);
		for (size_t i = 0; i + 1 < n; i++) {
			Node nd{fmt_name("n", i), node_sum, i, {}};
			if (i == 0)
				nd.deps.push_back(kInput);
			while (nd.deps.size() < (i < 3 ? i : 3)) {
				int32_t d = (int32_t)(next_random(rng) % i);
				bool dup = false;
				for (int32_t e : nd.deps)
					dup |= e == d;
				if (!dup) {
					nd.deps.push_back(d);
					read[(size_t)d] = 1;
				}
			}
			s.nodes.push_back(std::move(nd));
		}
		Node sink{"sink", node_sum, 0, {}};
		for (size_t i = 0; i + 1 < n; i++)
			if (!read[i])
				sink.deps.push_back((int32_t)i);
		s.nodes.push_back(std::move(sink));
		break;
	}
	}
	for (const Node &nd : s.nodes)
		if (nd.deps.size() > s.max_deps)
			s.max_deps = nd.deps.size();
	return s;
}

// Generated once per (shape, size) and kept for the process's lifetime.
inline const Spec &spec(Shape shape, size_t n)
{
	static std::map<std::pair<int, size_t>, Spec> cache;
	auto key = std::make_pair((int)shape, n);
	auto it = cache.find(key);
	if (it == cache.end())
		it = cache.emplace(key, make_spec(shape, n)).first;
	return it->second;
}

// ---- hamr objects -----------------------------------------------------------

// Adds input "x" and every node of `s` to g. `scratch` holds the dependency
// array of one node at a time (the graph copies it); it is sized once, so
// the timed part does not allocate on the caller's side.
inline int add_spec(hamr_graph *g, const Spec &s, std::vector<hamr_dep> &scratch)
{
	int rc = hamr_graph_add_input(g, "x", HAMR_I64);
	if (rc)
		return rc;
	scratch.resize(s.max_deps + 1);
	for (const Node &nd : s.nodes) {
		size_t j = 0;
		for (int32_t d : nd.deps) {
			hamr_dep &dep = scratch[j++];
			dep = hamr_dep{};
			dep.name = d == kInput ? "x" : s.nodes[(size_t)d].name.c_str();
			dep.type = HAMR_I64;
		}
		scratch[j] = hamr_dep{}; // name NULL ends the array
		hamr_node_def def{};
		def.name = nd.name.c_str();
		def.fn = nd.fn;
		def.userdata = (void *)(uintptr_t)nd.k;
		def.type = HAMR_I64;
		def.kind = HAMR_NODE_PLAIN;
		def.deps = scratch.data();
		if ((rc = hamr_graph_add_node(g, "bench", &def)))
			return rc;
	}
	return 0;
}

[[noreturn]] inline void die(const char *what, int rc)
{
	std::fprintf(stderr, "%s: %s (%s)\n", what, hamr_strerror(rc),
	             hamr_errmsg());
	std::exit(1);
}

// The given values every plan and run here uses: x = kX.
inline hamr_values *given_x()
{
	hamr_values *vs = nullptr;
	int rc = hamr_values_create(&vs);
	if (!rc)
		rc = hamr_values_set_i64(vs, "x", kX);
	if (rc)
		die("hamr_values", rc);
	return vs;
}

// A built graph of `s` and a plan for its sink; exits on any error.
inline hamr_plan *make_plan(const Spec &s, const hamr_values *given)
{
	std::vector<hamr_dep> scratch;
	hamr_graph *g = nullptr;
	hamr_plan *p = nullptr;
	int rc = hamr_graph_create(&g);
	if (rc)
		die("hamr_graph_create", rc);
	if ((rc = add_spec(g, s, scratch)))
		die("hamr_graph_add_node", rc);
	if ((rc = hamr_graph_build(g)))
		die("hamr_graph_build", rc);
	const char *sink = s.sink();
	if ((rc = hamr_plan_create(&p, g, &sink, 1, given)))
		die("hamr_plan_create", rc);
	hamr_graph_destroy(g); // the plan keeps it alive
	return p;
}

// Runs `p` once and checks that it computed every node and the sink's
// reference value; exits with a message if not.
inline void check_plan(const Spec &s, const hamr_plan *p, const hamr_values *given)
{
	if (hamr_plan_node_count(p) != s.size()) {
		std::fprintf(stderr, "%s/%zu: the plan has %zu nodes, expected %zu\n",
		             shape_name(s.shape), s.size(), hamr_plan_node_count(p),
		             s.size());
		std::exit(1);
	}
	hamr_run *r = nullptr;
	int rc = hamr_run_execute(&r, p, given, nullptr);
	if (rc)
		die("hamr_run_execute", rc);
	int64_t got = 0;
	if ((rc = hamr_run_result_i64(r, s.sink(), &got)))
		die("hamr_run_result_i64", rc);
	hamr_run_destroy(r);
	if (got != s.reference()) {
		std::fprintf(stderr, "%s/%zu: %s = %lld, expected %lld\n",
		             shape_name(s.shape), s.size(), s.sink(), (long long)got,
		             (long long)s.reference());
		std::exit(1);
	}
}

// ---- timing -----------------------------------------------------------------
// The benchmarks time the part they measure themselves with CLOCK_MONOTONIC,
// read through the vDSO (about 20 ns), and hand it to Google Benchmark with
// SetIterationTime (UseManualTime). The thread's CPU clock costs a system
// call (about 200 ns), too much around parts of a few microseconds, so it
// is read only around a whole timing loop (LoopClock), to tell how much of
// the wall time this thread actually ran: on a shared machine a cpu_util
// below about 0.97 means other processes preempted the benchmark, and its
// wall times are inflated.

inline int64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

inline int64_t now_ns() { return clock_ns(CLOCK_MONOTONIC); }

struct LoopClock {
	int64_t wall = 0, cpu = 0;

	void start()
	{
		wall = -now_ns();
		cpu = -clock_ns(CLOCK_THREAD_CPUTIME_ID);
	}
	void stop()
	{
		cpu += clock_ns(CLOCK_THREAD_CPUTIME_ID);
		wall += now_ns();
	}
	// CPU time over wall time of the loop: 1.0 when nothing preempted it.
	double util() const { return wall > 0 ? (double)cpu / (double)wall : 0.0; }
};

} // namespace hb

#endif
