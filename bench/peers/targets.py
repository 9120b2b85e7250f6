#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The peer targets, from one CSV of bench/run-peers, as a Markdown table.

    bench/run-peers > peers.csv
    python3 bench/peers/targets.py < peers.csv

Rows are keyed by (bench, impl, variant, threads, n), so one workload's rows
at several sizes (wavefront oneshot at sides 32, 100, 512; mapreduce_noop at
1e3 .. 1e7 items) stay apart. Every ratio divides medians of ns_per_unit
from the same CSV (the same run), so the machine's state is shared by both
sides. "best tbb" is the faster of TBB's variants for that row (task_group
or invoke for fib). The map-reduce targets are checked for both ways of
emitting the items: one hamr_emit_range call (variants auto, auto-fold)
and one hamr_emit_i64 per item (auto-each, auto-fold-each).

A run of several rounds (ROUNDS=N, the round column) has each target
checked in every round, from that round's rows alone, and reported from
the round whose value is the median (the verdict of most rounds; of two
middle rounds that disagree, the one that missed), with the range over
rounds and how many met it. A CSV without the round column is one round.

A target whose workload has no row at all in the CSV (a run with ONLY=...)
is listed as skipped. Exits 1 if the CSV is malformed, a row failed its
check, or a workload that is there lacks a row a target needs (in any
round); prints "missed" targets but exits 0 for them: it is a report.
"""
import csv
import sys

COLUMNS = ("bench", "impl", "variant", "threads", "n", "units", "reps", "median_ms",
           "min_ms", "max_ms", "ns_per_unit_median", "ns_per_unit_min",
           "ns_per_unit_max", "check", "round")
# a CSV from before rounds: every row is round 1
COLUMNS_ONE_ROUND = COLUMNS[:-1]
NOOP_SIZES = (10**3, 10**4, 10**5, 10**6, 10**7)
WAVE_ONESHOT_SIZES = (32, 100, 512)


def fail(msg):
    sys.exit("targets.py: " + msg)


def read_rows(f):
    """{round: {key: median ns/unit}}, rounds numbered from 1."""
    reader = csv.DictReader(f)
    header = tuple(reader.fieldnames or ())
    if header not in (COLUMNS, COLUMNS_ONE_ROUND):
        fail("not a run-peers CSV: header %s" % (reader.fieldnames,))
    rounds = {}
    for line, r in enumerate(reader, start=2):
        try:
            if None in r or None in r.values():
                raise ValueError("not %d columns" % len(header))
            key = (r["bench"], r["impl"], r["variant"], int(r["threads"]), int(r["n"]))
            value = float(r["ns_per_unit_median"])
            rnd = int(r.get("round", 1))
            if rnd < 1:
                raise ValueError("round %d" % rnd)
        except (TypeError, ValueError) as e:
            fail("line %d is malformed (%s): %s" % (line, e, r))
        if r["check"] != "ok":
            fail("line %d failed its check: %s/%s/%s at %d threads, n = %d" % ((line,) + key))
        rows = rounds.setdefault(rnd, {})
        if key in rows:
            fail("line %d repeats %s/%s/%s at %d threads, n = %d in round %d" %
                 ((line,) + key + (rnd,)))
        rows[key] = value
    if not rounds:
        fail("no rows")
    return rounds


def plural(t):
    return "%d thread%s" % (t, "s" if t > 1 else "")


def check(rows, rnd):
    """Every target against one round's rows: a list of (name, number,
    shown value, met, detail) in a fixed order, and the workloads
    skipped. The number is what the target bounds (a ratio or ns/item):
    for each target a smaller or a larger one is better throughout, so
    the median round's verdict is the verdict of most rounds."""
    benches = {k[0] for k in rows}

    def get(bench, impl, variant, threads, n=None):
        """The row's median ns/unit; n None: the workload's only size."""
        if n is not None:
            key = (bench, impl, variant, threads, n)
            if key not in rows:
                fail("no row %s/%s/%s at %d threads, n = %d in round %d" % (key + (rnd,)))
            return rows[key]
        found = [v for k, v in rows.items() if k[:4] == (bench, impl, variant, threads)]
        if len(found) != 1:
            fail("%s row %s/%s/%s at %d threads in round %d" %
                 ("no" if not found else "more than one (give n)", bench, impl, variant,
                  threads, rnd))
        return found[0]

    def best(bench, impl, variants, threads):
        return min(get(bench, impl, v, threads) for v in variants)

    out = []
    skipped = []

    def target(name, value, ok, detail):
        """value: (format, number), the number the target bounds."""
        fmt, num = value
        out.append((name, num, fmt, ok, detail))

    def have(bench):
        if bench in benches:
            return True
        skipped.append(bench)
        return False

    if have("fib"):
        for t in (1, 2):
            h = get("fib", "hamr", "spawn", t)
            b = best("fib", "tbb", ("task_group", "invoke"), t)
            target("fib: hamr <= 0.25x tbb, %s" % plural(t), ("%.3fx", h / b), h / b <= 0.25,
                   "hamr %.2f ns/call, tbb %.2f" % (h, b))
    if have("map"):
        s = get("map", "serial", "plain", 1)
        h1 = get("map", "hamr", "untuned", 1)
        target("map untuned: hamr <= 1.03x serial, 1 thread", ("%.3fx", h1 / s),
               h1 / s <= 1.03, "hamr %.1f ns/item, serial %.1f" % (h1, s))
        h2 = get("map", "hamr", "untuned", 2)
        target("map untuned: hamr >= 1.9x faster than serial, 2 threads",
               ("%.3fx", s / h2), s / h2 >= 1.9,
               "hamr %.1f ns/item, serial %.1f" % (h2, s))
    # the rerun graphs: against tbb, against hamr's sequential executor, and
    # 2 threads against 1
    for bench, n in (("wavefront", 512), ("wide", None)):
        if not have(bench):
            continue
        at = "" if n is None else " n=%d" % n
        if bench == "wavefront":
            for t in (1, 2):
                h = get(bench, "hamr", "rerun", t, n)
                b = get(bench, "tbb", "rerun", t, n)
                target("wavefront rerun%s: hamr <= 0.7x tbb, %s" % (at, plural(t)),
                       ("%.3fx", h / b), h / b <= 0.7, "hamr %.1f ns/node, tbb %.1f" % (h, b))
        w1 = get(bench, "hamr", "rerun", 1, n)
        q = get(bench, "hamr_seq", "rerun", 1, n)
        target("%s rerun%s: hamr <= 1.15x hamr_seq, 1 thread" % (bench, at),
               ("%.3fx", w1 / q), w1 / q <= 1.15,
               "hamr %.1f ns/node, hamr_seq %.1f" % (w1, q))
        w2 = get(bench, "hamr", "rerun", 2, n)
        target("%s rerun%s: hamr at 2 threads not slower than at 1" % (bench, at),
               ("%.3fx the 1-thread time", w2 / w1), w2 <= w1,
               "%.1f ns/node at 2 threads, %.1f at 1" % (w2, w1))
    if have("wavefront"):
        for n in WAVE_ONESHOT_SIZES:
            for t in (1, 2):
                h = get("wavefront", "hamr", "oneshot", t, n)
                b = get("wavefront", "tbb", "oneshot", t, n)
                target("wavefront oneshot n=%d: hamr <= tbb, %s" % (n, plural(t)),
                       ("%.3fx", h / b), h <= b, "hamr %.1f ns/node, tbb %.1f" % (h, b))
    if have("chain"):
        for t in (1, 2):
            h = get("chain", "hamr", "rerun", t)
            b = get("chain", "tbb", "rerun", t)
            target("chain rerun: hamr <= 0.6x tbb, %s" % plural(t),
                   ("%.3fx", h / b), h / b <= 0.6, "hamr %.1f ns/node, tbb %.1f" % (h, b))
    if have("wavefront_work"):
        a = get("wavefront_work", "hamr", "rerun", 1)
        c = get("wavefront_work", "hamr", "rerun", 2)
        target("wavefront_work: hamr >= 1.85x from 1 to 2 threads", ("%.3fx", a / c),
               a / c >= 1.85, "%.1f ns/node at 1 thread, %.1f at 2" % (a, c))
    if have("mapreduce"):
        s = get("mapreduce", "serial", "plain", 1)
        b2 = get("mapreduce", "tbb", "parallel_reduce", 2)
        for v in ("auto", "auto-fold", "auto-each", "auto-fold-each"):
            h1 = get("mapreduce", "hamr", v, 1)
            target("mapreduce %s: hamr <= 1.05x serial, 1 thread" % v, ("%.3fx", h1 / s),
                   h1 / s <= 1.05, "hamr %.1f ns/item, serial %.1f" % (h1, s))
            h2 = get("mapreduce", "hamr", v, 2)
            target("mapreduce %s: hamr <= 1.0x tbb, 2 threads" % v, ("%.3fx", h2 / b2),
                   h2 <= b2, "hamr %.1f ns/item, tbb %.1f" % (h2, b2))
    if have("mapreduce_noop"):
        # the items emitted by one hamr_emit_range (auto), and one at a
        # time (auto-each), each list against the fold emitted the same way
        for n in NOOP_SIZES:
            for lv, fv in (("auto", "auto-fold"), ("auto-each", "auto-fold-each")):
                a1 = get("mapreduce_noop", "hamr", lv, 1, n)
                target("mapreduce_noop %s n=%d: <= 30 ns/item, 1 thread" % (lv, n),
                       ("%.1f ns/item", a1), a1 <= 30.0, "limit 30 ns/item")
                for t in (1, 2):
                    a = get("mapreduce_noop", "hamr", lv, t, n)
                    f = get("mapreduce_noop", "hamr", fv, t, n)
                    target("mapreduce_noop %s n=%d: <= 1.25x %s, %s" % (lv, n, fv, plural(t)),
                           ("%.3fx", a / f), a / f <= 1.25,
                           "%s %.1f ns/item, %s %.1f" % (lv, a, fv, f))
                if n >= 10**5:
                    a2 = get("mapreduce_noop", "hamr", lv, 2, n)
                    target("mapreduce_noop %s n=%d: 2 threads faster than 1" % (lv, n),
                           ("%.3fx the 1-thread time", a2 / a1), a2 < a1,
                           "%.1f ns/item at 2 threads, %.1f at 1" % (a2, a1))

    return out, skipped


def main():
    rounds = read_rows(sys.stdin)
    results = {}  # target name -> [(number, shown, met, detail, round)]
    order = []
    skipped = set()
    for rnd in sorted(rounds):
        out, skip = check(rounds[rnd], rnd)
        skipped.update(skip)
        for name, num, fmt, ok, detail in out:
            if name not in results:
                results[name] = []
                order.append(name)
            results[name].append((num, fmt, ok, detail, rnd))
    n = len(rounds)
    if n == 1:
        table = ["| target | ratio (medians, same run) | verdict | numbers |",
                 "|--------|---------------------------|---------|---------|"]
    else:
        table = ["| target | ratio (median round of %d) | verdict | numbers | rounds: range, met |" % n,
                 "|--------|------------------------------|---------|---------|--------------------|"]
    for name in order:
        got = results[name]
        if len(got) != n:
            fail("target %s checked in %d of %d rounds (a round lacks its workload)" %
                 (name, len(got), n))
        # the median round; of two middle rounds that disagree, the one
        # that missed
        by_value = sorted(got, key=lambda g: g[0])
        low, high = by_value[(n - 1) // 2], by_value[n // 2]
        num, fmt, ok, detail, rnd = high if low[2] and not high[2] else low
        row = "| %s | %s | %s | %s |" % (name, fmt % num, "**met**" if ok else "**missed**",
                                         detail)
        if n > 1:
            met = sum(1 for g in got if g[2])
            bare = fmt[:fmt.index("f") + 1]  # the number alone, as precise
            row += " %s to %s (round %d the median), %d of %d |" % (
                bare % by_value[0][0], bare % by_value[-1][0], rnd, met, n)
        table.append(row)
    print("\n".join(table))
    if skipped:
        print("\nskipped (no rows in this CSV): %s" % ", ".join(sorted(skipped)))


if __name__ == "__main__":
    main()
