#!/usr/bin/env python3
"""Reads a `storage_bench --gc --gc-timeline FILE` timeline and shows where the slow adds fall.

For each measured window: its kind, adds, p99, and the p99 of each 200 ms slice after the
window's start (and of the settle time before it), so that a cost paid once per window (a pass
starting, a suspension stopping one) can be told from one paid per byte copied.
"""
import json
import sys

SETTLE_NS = 1_200_000_000  # gc_bench.cc kSettle: the measured part of a window starts here


def p99(values):
    if not values:
        return 0
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * 0.99))]


def main(path):
    events, adds = [], []
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if "event" in r:
                events.append((r["ns"], r["event"]))
            else:
                adds.append((r["ns"], r["add_us"]))
    adds.sort()
    events.sort()
    slices = {"with": [[] for _ in range(9)], "without": [[] for _ in range(9)]}
    totals = {"with": [], "without": []}
    import bisect
    times = [a[0] for a in adds]
    for i, (ns, what) in enumerate(events):
        if what not in ("resume", "suspend"):
            continue
        kind = "with" if what == "resume" else "without"
        end = next((e for e, w in events[i + 1:] if w == "measure_end"), None)
        if end is None:
            continue
        lo, hi = bisect.bisect_left(times, ns), bisect.bisect_left(times, end)
        for t, lat in adds[lo:hi]:
            k = min(8, (t - ns) // 200_000_000)
            slices[kind][k].append(lat)
            if t - ns >= SETTLE_NS:
                totals[kind].append(lat)
    for kind in ("without", "with"):
        cells = " ".join(f"{p99(v):6d}" for v in slices[kind])
        print(f"{kind:8s} p99 (us) per 200 ms after the switch: {cells}   measured p99 {p99(totals[kind])}")


if __name__ == "__main__":
    main(sys.argv[1])
