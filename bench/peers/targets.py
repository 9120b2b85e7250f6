#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The peer targets, from one CSV of bench/run-peers, as a Markdown table.

    bench/run-peers > peers.csv
    python3 bench/peers/targets.py < peers.csv

Every ratio divides medians of ns_per_unit from the same CSV (the same run),
so the machine's state is shared by both sides. "best tbb" is the faster of
TBB's variants for that row (task_group or invoke for fib). Exits 1 if a
row the targets need is missing; prints "missed" rows but exits 0 for them.
"""
import csv
import sys


def main():
    rows = {}
    for r in csv.DictReader(sys.stdin):
        key = (r["bench"], r["impl"], r["variant"], int(r["threads"]))
        rows[key] = float(r["ns_per_unit_median"])

    def get(bench, impl, variant, threads):
        key = (bench, impl, variant, threads)
        if key not in rows:
            sys.exit("targets.py: no row %s/%s/%s at %d threads" % key)
        return rows[key]

    def best(bench, impl, variants, threads):
        return min(get(bench, impl, v, threads) for v in variants)

    out = []

    def target(name, value, ok, detail):
        out.append("| %s | %s | %s | %s |" % (name, value, "**met**" if ok else "**missed**", detail))

    for t in (1, 2):
        h = get("fib", "hamr", "spawn", t)
        b = best("fib", "tbb", ("task_group", "invoke"), t)
        target("fib: hamr <= 0.25x tbb, %d thread%s" % (t, "s" if t > 1 else ""),
               "%.3fx" % (h / b), h / b <= 0.25,
               "hamr %.2f ns/call, tbb %.2f" % (h, b))
    s = get("map", "serial", "plain", 1)
    h1 = get("map", "hamr", "untuned", 1)
    target("map untuned: hamr <= 1.03x serial, 1 thread", "%.3fx" % (h1 / s),
           h1 / s <= 1.03, "hamr %.1f ns/item, serial %.1f" % (h1, s))
    h2 = get("map", "hamr", "untuned", 2)
    target("map untuned: hamr >= 1.9x faster than serial, 2 threads",
           "%.3fx" % (s / h2), s / h2 >= 1.9,
           "hamr %.1f ns/item, serial %.1f" % (h2, s))
    for t in (1, 2):
        h = get("wavefront", "hamr", "rerun", t)
        b = get("wavefront", "tbb", "rerun", t)
        target("wavefront rerun: hamr <= 0.7x tbb, %d thread%s" % (t, "s" if t > 1 else ""),
               "%.3fx" % (h / b), h / b <= 0.7, "hamr %.1f ns/node, tbb %.1f" % (h, b))
    w1 = get("wavefront", "hamr", "rerun", 1)
    w2 = get("wavefront", "hamr", "rerun", 2)
    target("wavefront rerun: hamr at 2 threads not slower than at 1",
           "%.3fx the 1-thread time" % (w2 / w1), w2 <= w1,
           "%.1f ns/node at 2 threads, %.1f at 1" % (w2, w1))
    for t in (1, 2):
        h = get("chain", "hamr", "rerun", t)
        b = get("chain", "tbb", "rerun", t)
        target("chain rerun: hamr <= 0.6x tbb, %d thread%s" % (t, "s" if t > 1 else ""),
               "%.3fx" % (h / b), h / b <= 0.6, "hamr %.1f ns/node, tbb %.1f" % (h, b))
    a = get("wavefront_work", "hamr", "rerun", 1)
    c = get("wavefront_work", "hamr", "rerun", 2)
    target("wavefront_work: hamr >= 1.85x from 1 to 2 threads", "%.3fx" % (a / c),
           a / c >= 1.85, "%.1f ns/node at 1 thread, %.1f at 2" % (a, c))

    print("| target | ratio (medians, same run) | verdict | numbers |")
    print("|--------|---------------------------|---------|---------|")
    print("\n".join(out))


if __name__ == "__main__":
    main()
