"""The table bench/compare prints, and Quire's ratios to BookKeeper against issue 19's targets.

Ratios are computed only between systems whose every load ended without errors: a run that
failed, or lost or failed adds, says nothing comparable.
"""


def fmt_ms(us):
    return "-" if us is None else f"{us / 1e3:.2f}"


def fmt_num(x, digits=0):
    return "-" if x is None else f"{x:,.{digits}f}"


HEADER = (f"{'system':<11} {'load':<22} {'adds/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'p99.9 ms':>9} {'max ms':>8} {'late %':>7} {'missed':>7} {'CPU s/1k':>9} "
          f"{'cores':>6} {'errors':>7}")


def row(system, load):
    r = load.get("results") or {}
    lat = r.get("latency_us") or {}
    if not lat.get("count"):
        lat = {}  # nothing measured: no percentiles
    cpu = load.get("cpu") or {}
    adds = r.get("adds")
    late = None
    if load["rate"] and adds:
        late = 100.0 * r.get("late_starts", 0) / max(1, adds)
    status = "" if not load["problems"] else "  FAILED: " + "; ".join(load["problems"])
    return (f"{system:<11} {load['label']:<22} {fmt_num(r.get('adds_per_s')):>9} "
            f"{fmt_ms(lat.get('p50')):>8} {fmt_ms(lat.get('p99')):>8} "
            f"{fmt_ms(lat.get('p999')):>9} {fmt_ms(lat.get('max')):>8} "
            f"{fmt_num(late, 1) if load['rate'] else '-':>7} "
            f"{fmt_num(r.get('missed')) if load['rate'] else '-':>7} "
            f"{fmt_num(cpu.get('per_1000_adds'), 3):>9} {fmt_num(cpu.get('cores'), 2):>6} "
            f"{fmt_num(r.get('errors')):>7}{status}")


def table(doc):
    lines = [HEADER]
    for name, s in doc["systems"].items():
        if s["status"] == "not run":
            lines.append(f"{name:<11} not run: {'; '.join(s['problems'])}")
            continue
        for load in s["loads"]:
            lines.append(row(name, load))
            signs = load.get("stall_signs") or {}
            if any(any(counts) for counts in signs.values()):
                lines.append(f"{'':<11}   ↳ servers 1/2/3: " + ", ".join(
                    f"{sign.replace('_', ' ')} {'/'.join(map(str, counts))}"
                    for sign, counts in signs.items()))
        if s["problems"]:  # the system's own, not a load's
            lines.append(f"{name:<11} FAILED: {'; '.join(s['problems'])}")
    lines.append("")
    for name, s in doc["systems"].items():
        floor = s.get("disk_floor") or {}
        quorum = s.get("quorum_floor") or {}
        la = s.get("load_average") or {}
        if s["status"] != "not run":
            lines.append(
                f"{name}: disk floor (fdatasync'd 4 KiB) p50 {floor.get('p50_us', '-')} µs, "
                f"p99 {floor.get('p99_us', '-')} µs; the 2nd of 3 at once p50 "
                f"{quorum.get('p50_us', '-')} µs; load average before {la.get('before')}, "
                f"after {la.get('after')}; status {s['status']}")
    for text in (minimal_text(doc), wake_text(doc)):
        if text:
            lines.append(text)
    return "\n".join(lines)


def find(system, kind):
    """The load of `system` named `kind`: 'max' (the closed loop with the most adds/s), a rate
    (int) or 'half'."""
    loads = [load for load in system.get("loads", []) if load["kind"] == kind]
    if kind == "max" and loads:
        return max(loads, key=lambda l: (l.get("results") or {}).get("adds_per_s") or 0)
    return loads[0] if loads else None


def latency(load, q):
    return ((load or {}).get("results") or {}).get("latency_us", {}).get(q)


def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def compare(doc):
    """Quire's figures against BookKeeper's, each with issue 19's target and whether it is met."""
    systems = doc["systems"]
    q, bk = systems.get("quire"), systems.get("bookkeeper")
    if not q or not bk:
        return {"refused": "Quire and BookKeeper are not both in this run"}
    bad = [n for n, s in (("quire", q), ("bookkeeper", bk)) if s["status"] != "ok"]
    if bad:
        return {"refused": f"{' and '.join(bad)} did not end cleanly: runs that ended with "
                           "errors are not compared"}

    def adds_per_s(load):
        return ((load or {}).get("results") or {}).get("adds_per_s")

    def cpu(load):
        return ((load or {}).get("cpu") or {}).get("per_1000_adds")

    qmax, bmax = find(q, "max"), find(bk, "max")
    q1k, b1k, q10k, b10k = find(q, 1000), find(bk, 1000), find(q, 10000), find(bk, 10000)
    qhalf = find(q, "half")
    targets = [
        ("max adds/s, Quire / BookKeeper", [qmax, bmax],
         ratio(adds_per_s(qmax), adds_per_s(bmax)), ">=", 3, "rate"),
        ("p99 at 1,000/s, Quire / BookKeeper", [q1k, b1k],
         ratio(latency(q1k, "p99"), latency(b1k, "p99")), "<=", 1 / 3, "latency"),
        ("p99 at 10,000/s, Quire / BookKeeper", [q10k, b10k],
         ratio(latency(q10k, "p99"), latency(b10k, "p99")), "<=", 1 / 3, "latency"),
        ("p50 at 1,000/s, Quire / disk fdatasync'd 4 KiB p50", [q1k],
         ratio(latency(q1k, "p50"), (q.get("disk_floor") or {}).get("p50_us")), "<=", 1.5,
         "latency"),
        ("CPU s per 1,000 adds at max, Quire / BookKeeper", [qmax, bmax],
         ratio(cpu(qmax), cpu(bmax)), "<=", 1 / 3, "cpu"),
        ("CPU s per 1,000 adds at 10,000/s, Quire / BookKeeper", [q10k, b10k],
         ratio(cpu(q10k), cpu(b10k)), "<=", 1 / 3, "cpu"),
        ("Quire at 50% of its max: p99 / p50", [qhalf],
         ratio(latency(qhalf, "p99"), latency(qhalf, "p50")), "<=", 10, "latency"),
    ]
    rows = []
    # kind: "latency" rows name a stall of the shared disk in Quire's load; "cpu" rows compare
    # nothing for a load a system fell behind on.
    for what, loads, value, op, goal, kind in targets:
        behind = [f"{who} did not sustain {load['label']} ({load['results']['missed']:,} adds "
                  "missed)" for who, load in zip(("Quire", "BookKeeper"), loads)
                  if load and load["rate"] and (load.get("results") or {}).get("missed")]
        if kind == "latency" and disk_stall(loads[0]):
            behind.append(disk_stall(loads[0]))
        if behind and kind == "cpu":
            value = None  # CPU per add of a load the system fell behind on compares nothing
        met = None if value is None else (value >= goal if op == ">=" else value <= goal)
        rows.append({"what": what, "value": None if value is None else round(value, 3),
                     "target": f"{op} {goal:.3g}", "met": met, "note": "; ".join(behind)})
    # Not targets, to read two of them against: what the disk itself allows an add at Qa 2 when
    # the three bookies share it (procs.quorum_floor), and what the simplest implementation of
    # the write spends (procs.minimal_quorum_write).
    quorum = (q.get("quorum_floor") or {}).get("p50_us")
    references = [
        ("2nd of 3 fdatasyncs at once p50 / disk floor p50",
         ratio(quorum, (q.get("disk_floor") or {}).get("p50_us")),
         "for reference: the disk alone, for a write at Qa 2"),
        ("p50 at 1,000/s, Quire / 2nd of 3 fdatasyncs at once p50",
         ratio(latency(q1k, "p50"), quorum), "for reference: Quire over what the disk allows"),
    ] + minimal_rows(doc, {1000: (q1k, b1k), 10000: (q10k, b10k)}, cpu)
    for what, value, note in references:
        rows.append({"what": what, "value": None if value is None else round(value, 3),
                     "target": None, "met": None, "note": note})
    sustained = None
    if qhalf:
        sustained = (qhalf.get("results") or {}).get("missed", 1) == 0
    return {"targets": rows, "quire_half_max_sustained": sustained,
            "max_loads": {"quire": (qmax or {}).get("label"),
                          "bookkeeper": (bmax or {}).get("label")}}


def disk_stall(load):
    """A note when the journals of two or more of Quire's bookies had an fdatasync over 100 ms
    during `load` (its stall signs): an add waits for two, and on one shared disk no quorum
    outvotes such a stall, so a tail from it is the disk's."""
    counts = ((load or {}).get("stall_signs") or {}).get("journal_syncs_over_100ms") or []
    slow = sum(1 for c in counts if c > 0)
    if slow < 2:
        return ""
    return (f"journal fdatasyncs over 100 ms on {slow} of {len(counts)} bookies during the "
            "load: the shared disk")


def minimal_rows(doc, loads, cpu):
    """Reference rows against the minimal quorum write (procs.minimal_quorum_write): how far the
    CPU target is from what the simplest implementation spends on this machine. `loads`: rate ->
    (Quire's load, BookKeeper's)."""
    minimal = doc.get("minimal_quorum_write") or {}
    rows = []
    for rate, (ql, bl) in loads.items():
        probe = minimal.get(str(rate)) or {}
        m = probe.get("cpu_s_per_1000_adds")
        if rate == 1000:
            rows.append((f"p99 at {rate:,}/s, Quire / minimal quorum write",
                         ratio(latency(ql, "p99"), probe.get("p99_us")),
                         "for reference: Quire's tail over the simplest design's"))
        rows += [(f"CPU/add at {rate:,}/s, minimal quorum write / BookKeeper", ratio(m, cpu(bl)),
                  "for reference: the simplest design, against the 1/3 target"),
                 (f"CPU/add at {rate:,}/s, Quire / minimal quorum write", ratio(cpu(ql), m),
                  "for reference: what Quire spends over the simplest design")]
    return rows


def probe_text(title, results, describe):
    """One line for a probe's results ({name: its JSON}, or {"skipped": why}): `describe(name,
    result)` for each that did not fail."""
    if not results:
        return ""
    if "skipped" in results:
        return f"{title}: skipped ({results['skipped']})"
    parts = [f"{name} failed: {r['error']}" if "error" in r else describe(name, r)
             for name, r in results.items()]
    return f"{title}: " + "; ".join(parts)


def minimal_text(doc):
    return probe_text(
        "minimal quorum write (bench/compare/quorum_probe.cc)", doc.get("minimal_quorum_write"),
        lambda rate, r: f"{int(rate):,}/s p50 {r['p50_us']} µs, p99 {r['p99_us']} µs, p99.9 "
                        f"{r.get('p999_us', '-')} µs, {r['cpu_s_per_1000_adds']:.3f} CPU s per "
                        "1,000 adds")


def wake_text(doc):
    def describe(mode, r):
        if mode == "sleep":
            return (f"a thread sleeping until each due time at 1,000/s woke p50 {r['p50_us']} "
                    f"µs, p99 {r['p99_us']} µs, p99.9 {r['p999_us']} µs late, {r['over_1ms']} "
                    f"of {r['samples']} over 1 ms (worst {r['max_us']} µs)")
        return (f"a thread that never sleeps lost the CPU for over 1 ms {r['over_1ms']} times in "
                f"{r['seconds']} s (worst {r['max_us']} µs)")
    return probe_text("the machine's wake-ups (bench/compare/wake_probe.cc)",
                      doc.get("wake_floor"), describe)


def cli_target(doc):
    """`quire ledger write` fed from a pipe against quire-bench's max in the same run (issue 19:
    at least half)."""
    q = doc["systems"].get("quire")
    if not q or q.get("status") != "ok":
        return None
    qmax, cli = find(q, "max"), find(q, "cli")
    value = ratio(((cli or {}).get("results") or {}).get("adds_per_s"),
                  ((qmax or {}).get("results") or {}).get("adds_per_s"))
    return {"what": "quire ledger write (pipe) / quire-bench max adds/s",
            "value": None if value is None else round(value, 3), "target": ">= 0.5",
            "met": None if value is None else value >= 0.5}


def comparison_text(c):
    if "refused" in c:
        return f"Quire vs BookKeeper: not compared: {c['refused']}."
    lines = ["Quire vs BookKeeper (issue 19's targets, ratios within this run):"]
    at = c.get("max_loads") or {}
    if at.get("quire") and at.get("bookkeeper"):
        lines.append(f"  each system's max is its best closed loop: Quire's {at['quire']}, "
                     f"BookKeeper's {at['bookkeeper']}")
    for t in c["targets"]:
        value = "-" if t["value"] is None else f"{t['value']:.3f}"
        if t["target"] is None:  # for reference
            lines.append(f"  {t['what']:<56} {value:>8}  ({t['note']})")
            continue
        met = {True: "met", False: "NOT met", None: "not compared"}[t["met"]]
        note = f"; {t['note']}" if t.get("note") else ""
        lines.append(f"  {t['what']:<56} {value:>8}  (target {t['target']}: {met}{note})")
    if c.get("quire_half_max_sustained") is not None:
        lines.append(f"  Quire's open loop at 50% of its max sustained (no missed adds): "
                     f"{'yes' if c['quire_half_max_sustained'] else 'NO'}")
    return "\n".join(lines)
