// SPDX-License-Identifier: MIT
// oneTBB's side of the peer benchmarks (impl `tbb`; Debian libtbb-dev,
// oneTBB 2021.8). Threads: tbb::global_control caps the parallelism at
// --threads; the main thread joins the arena as one of them.
//
//   fib/task_group       tbb::task_group per call: run(fib(n-1)), fib(n-2)
//                        inline, wait
//   fib/invoke           tbb::parallel_invoke(fib(n-1), fib(n-2))
//   map/untuned          parallel_reduce, default (auto) partitioner
//   map/fine             parallel_reduce, simple_partitioner, grain 1
//   map/flat             one task_group, run() once per item, then wait
//   wavefront/oneshot    flow::graph of continue_nodes (one per cell, heap
//                        allocated, edges from up and left), try_put to the
//                        corner, wait_for_all, destroyed: all timed; at
//                        sides 32, 100 and 512
//   wavefront/rerun      the same graph built once (512); each rep try_put +
//                        wait_for_all
//   wide/rerun           a broadcast_node feeding 1000 continue_nodes
//                        (v[k] = x + k), all feeding one continue_node that
//                        sums them; built once, try_put + wait_for_all
//   chain/rerun          2^20 continue_nodes in a line, built once
//   wavefront_work/rerun 256 x 256, ~1 us per node
//
// Node bodies read and write a plain array of uint64_t, the same
// arithmetic as hamr's node functions (peers_common.h); the array is
// cleared between reps (untimed), so a rerun that did not run every node
// fails its check.
#include <tbb/blocked_range.h>
#include <tbb/flow_graph.h>
#include <tbb/global_control.h>
#include <tbb/parallel_invoke.h>
#include <tbb/parallel_reduce.h>
#include <tbb/partitioner.h>
#include <tbb/task_group.h>

#include <memory>
#include <vector>

#include "peers_common.h"

namespace {

namespace flow = tbb::flow;

// ---- fib ---------------------------------------------------------------------

uint64_t fib_tg(int n)
{
	if (n < 2)
		return (uint64_t)n;
	uint64_t x = 0, y = 0;
	tbb::task_group g;
	g.run([&] { x = fib_tg(n - 1); });
	y = fib_tg(n - 2);
	g.wait();
	return x + y;
}

uint64_t fib_inv(int n)
{
	if (n < 2)
		return (uint64_t)n;
	uint64_t x = 0, y = 0;
	tbb::parallel_invoke([&] { x = fib_inv(n - 1); }, [&] { y = fib_inv(n - 2); });
	return x + y;
}

uint64_t fib_tg_body(void *, int64_t *ns)
{
	int64_t t0 = peers_now_ns();
	uint64_t r = fib_tg(FIB_N);
	*ns = peers_now_ns() - t0;
	return r;
}

uint64_t fib_inv_body(void *, int64_t *ns)
{
	int64_t t0 = peers_now_ns();
	uint64_t r = fib_inv(FIB_N);
	*ns = peers_now_ns() - t0;
	return r;
}

// ---- map -------------------------------------------------------------------------

template <class Partitioner>
uint64_t map_reduce(size_t grain, Partitioner &part)
{
	return tbb::parallel_reduce(
		tbb::blocked_range<size_t>(0, MAP_N, grain), (uint64_t)0,
		[](const tbb::blocked_range<size_t> &r, uint64_t s) {
			for (size_t i = r.begin(); i != r.end(); ++i)
				s += map_f(i);
			return s;
		},
		[](uint64_t a, uint64_t b) { return a + b; }, part);
}

uint64_t map_untuned_body(void *, int64_t *ns)
{
	tbb::auto_partitioner part;
	int64_t t0 = peers_now_ns();
	uint64_t s = map_reduce(1, part);
	*ns = peers_now_ns() - t0;
	return s;
}

uint64_t noop_body(void *ctx, int64_t *ns)
{
	uint64_t n = *static_cast<const uint64_t *>(ctx);
	tbb::auto_partitioner part;
	int64_t t0 = peers_now_ns();
	uint64_t s = tbb::parallel_reduce(
		tbb::blocked_range<uint64_t>(0, n, 1), (uint64_t)0,
		[](const tbb::blocked_range<uint64_t> &r, uint64_t acc) {
			for (uint64_t i = r.begin(); i != r.end(); ++i) {
				uint64_t x = i;
				__asm__ volatile("" : "+r"(x));
				acc += x;
			}
			return acc;
		},
		[](uint64_t a, uint64_t b) { return a + b; }, part);
	*ns = peers_now_ns() - t0;
	return s;
}

uint64_t map_fine_body(void *, int64_t *ns)
{
	tbb::simple_partitioner part;
	int64_t t0 = peers_now_ns();
	uint64_t s = map_reduce(1, part);
	*ns = peers_now_ns() - t0;
	return s;
}

uint64_t map_flat_body(void *ctx, int64_t *ns)
{
	uint64_t *res = static_cast<uint64_t *>(ctx);
	int64_t t0 = peers_now_ns();
	tbb::task_group g;
	for (uint64_t i = 0; i < MAP_N; i++)
		g.run([res, i] { res[i] = map_f(i); });
	g.wait();
	uint64_t s = 0;
	for (uint64_t i = 0; i < MAP_N; i++)
		s += res[i];
	*ns = peers_now_ns() - t0;
	return s;
}

// ---- graphs ----------------------------------------------------------------------

using cnode = flow::continue_node<flow::continue_msg>;

// A grid of continue_nodes over v (n x n), or a chain (n nodes, v[k] from
// v[k-1]) when chain is set, or wide's n nodes (v[k] = x + k) and their sum
// in v[n] when wide is set.
struct Flow {
	int n = 0;
	bool chain = false, work = false, wide = false;
	std::vector<uint64_t> v;
	std::unique_ptr<flow::graph> g;
	std::unique_ptr<flow::broadcast_node<flow::continue_msg>> start; // wide
	std::vector<std::unique_ptr<cnode>> nodes;

	void build()
	{
		g = std::make_unique<flow::graph>();
		uint64_t *p = v.data();
		const int m = n;
		if (wide) {
			start = std::make_unique<flow::broadcast_node<flow::continue_msg>>(*g);
			nodes.reserve((size_t)n + 1);
			const uint64_t x = WIDE_X;
			for (int k = 0; k < n; k++) {
				nodes.emplace_back(new cnode(*g, [p, k, x](flow::continue_msg) {
					p[k] = x + (uint64_t)k;
				}));
				flow::make_edge(*start, *nodes[(size_t)k]);
			}
			nodes.emplace_back(new cnode(*g, [p, m](flow::continue_msg) {
				uint64_t s = 0;
				for (int k = 0; k < m; k++)
					s += p[k];
				p[m] = s;
			}));
			for (int k = 0; k < n; k++)
				flow::make_edge(*nodes[(size_t)k], *nodes.back());
			return;
		}
		if (chain) {
			nodes.reserve((size_t)n);
			for (int k = 0; k < n; k++) {
				nodes.emplace_back(new cnode(*g, [p, k](flow::continue_msg) {
					p[k] = wave_cell(k ? p[k - 1] : 0, 0);
				}));
				if (k)
					flow::make_edge(*nodes[(size_t)k - 1], *nodes[(size_t)k]);
			}
			return;
		}
		nodes.reserve((size_t)n * (size_t)n);
		const bool w = work;
		for (int i = 0; i < n; i++)
			for (int j = 0; j < n; j++) {
				size_t at = (size_t)i * (size_t)m + (size_t)j;
				nodes.emplace_back(new cnode(*g, [p, i, j, m, at, w](flow::continue_msg) {
					uint64_t up = i ? p[at - (size_t)m] : 0;
					uint64_t left = j ? p[at - 1] : 0;
					p[at] = w ? work_cell(up, left) : wave_cell(up, left);
				}));
				if (i)
					flow::make_edge(*nodes[at - (size_t)m], *nodes[at]);
				if (j)
					flow::make_edge(*nodes[at - 1], *nodes[at]);
			}
	}

	uint64_t run()
	{
		if (start)
			start->try_put(flow::continue_msg());
		else
			nodes[0]->try_put(flow::continue_msg());
		g->wait_for_all();
		return v.back();
	}

	void destroy()
	{
		nodes.clear();
		start.reset();
		g.reset();
	}
};

uint64_t flow_oneshot_body(void *ctx, int64_t *ns)
{
	Flow *f = static_cast<Flow *>(ctx);
	std::fill(f->v.begin(), f->v.end(), 0);
	int64_t t0 = peers_now_ns();
	f->build();
	uint64_t r = f->run();
	f->destroy();
	*ns = peers_now_ns() - t0;
	return r;
}

uint64_t flow_rerun_body(void *ctx, int64_t *ns)
{
	Flow *f = static_cast<Flow *>(ctx);
	std::fill(f->v.begin(), f->v.end(), 0);
	int64_t t0 = peers_now_ns();
	uint64_t r = f->run();
	*ns = peers_now_ns() - t0;
	return r;
}

} // namespace

int main(int argc, char **argv)
{
	peers_opts o;
	peers_parse(argc, argv, &o);
	const int T = o.threads;
	tbb::global_control gc(tbb::global_control::max_allowed_parallelism, (size_t)T);

	if (peers_wanted(&o, "fib")) {
		peers_measure(&o, "fib", "tbb", "task_group", T, FIB_N, FIB_CALLS,
		              FIB_RESULT, fib_tg_body, nullptr);
		peers_measure(&o, "fib", "tbb", "invoke", T, FIB_N, FIB_CALLS, FIB_RESULT,
		              fib_inv_body, nullptr);
	}
	if (peers_wanted(&o, "map")) {
		uint64_t want = ref_map();
		std::vector<uint64_t> res(MAP_N);
		peers_measure(&o, "map", "tbb", "untuned", T, MAP_N, MAP_N, want,
		              map_untuned_body, nullptr);
		peers_measure(&o, "map", "tbb", "fine", T, MAP_N, MAP_N, want,
		              map_fine_body, nullptr);
		peers_measure(&o, "map", "tbb", "flat", T, MAP_N, MAP_N, want,
		              map_flat_body, res.data());
	}
	if (peers_wanted(&o, "mapreduce"))
		peers_measure(&o, "mapreduce", "tbb", "parallel_reduce", T, MAPRED_N, MAPRED_N,
		              ref_map(), map_untuned_body, nullptr);
	if (peers_wanted(&o, "mapreduce_noop"))
		for (int k = 0; k < NOOP_COUNT; k++) {
			uint64_t n = NOOP_SIZES[k];
			peers_measure(&o, "mapreduce_noop", "tbb", "parallel_reduce", T, n, n,
			              ref_noop(n), noop_body, &n);
		}
	if (peers_wanted(&o, "wavefront")) {
		uint64_t want = ref_grid(WAVE_N, 0), units = (uint64_t)WAVE_N * WAVE_N;
		Flow f;
		for (int k = 0; k < WAVE_ONESHOT_COUNT; k++) {
			f.n = WAVE_ONESHOT_SIZES[k];
			f.v.assign((size_t)f.n * (size_t)f.n, 0);
			peers_measure(&o, "wavefront", "tbb", "oneshot", T, f.n,
			              (uint64_t)f.n * (uint64_t)f.n, ref_grid(f.n, 0),
			              flow_oneshot_body, &f);
		}
		f.n = WAVE_N;
		f.v.assign(units, 0);
		f.build();
		peers_measure(&o, "wavefront", "tbb", "rerun", T, WAVE_N, units, want,
		              flow_rerun_body, &f);
		f.destroy();
	}
	if (peers_wanted(&o, "wide")) {
		Flow f;
		f.n = WIDE_N;
		f.wide = true;
		f.v.assign(WIDE_N + 1, 0);
		f.build();
		peers_measure(&o, "wide", "tbb", "rerun", T, WIDE_N, WIDE_N + 1, ref_wide(),
		              flow_rerun_body, &f);
		f.destroy();
	}
	if (peers_wanted(&o, "chain")) {
		Flow f;
		f.n = (int)CHAIN_N;
		f.chain = true;
		f.v.assign(CHAIN_N, 0);
		f.build();
		peers_measure(&o, "chain", "tbb", "rerun", T, CHAIN_N, CHAIN_N, ref_chain(),
		              flow_rerun_body, &f);
		f.destroy();
	}
	if (peers_wanted(&o, "wavefront_work")) {
		uint64_t want = ref_grid(WORKW_N, 1), units = (uint64_t)WORKW_N * WORKW_N;
		Flow f;
		f.n = WORKW_N;
		f.work = true;
		f.v.assign(units, 0);
		f.build();
		peers_measure(&o, "wavefront_work", "tbb", "rerun", T, WORKW_N, units, want,
		              flow_rerun_body, &f);
		f.destroy();
	}
	return 0;
}
