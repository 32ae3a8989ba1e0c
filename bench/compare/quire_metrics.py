"""Reading quire-bookie's /metrics (Prometheus text) for the benchmarks: means, sums, and the
counts that say where a rare stall came from. Used by bench/cluster/probe and bench/compare/run."""

import urllib.request


def fetch(port, scheme="http", context=None):
    """The /metrics text of the bookie whose admin HTTP listens on 127.0.0.1:`port`."""
    with urllib.request.urlopen(f"{scheme}://127.0.0.1:{port}/metrics", timeout=30,
                                context=context) as resp:
        return resp.read().decode()


def metric_mean(text, name, labels, scale=1e6):
    """Mean of histogram `name` over its series whose labels contain `labels` (seconds are
    printed in µs: `scale`)."""
    total = count = 0.0
    for line in text.splitlines():
        if line.startswith(name + "_sum{") and labels in line:
            total += float(line.split()[-1])
        elif line.startswith(name + "_count{") and labels in line:
            count += float(line.split()[-1])
    return round(total / count * scale, 1) if count else None


def metric_sum(text, name, labels):
    """Sum of counter `name` over its series whose labels contain `labels`."""
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if (line.startswith(name + "{") or line.startswith(name + " ")) and labels in line)


def metric_over(text, name, labels, threshold):
    """How many observations of histogram `name` (series whose labels contain `labels`) were
    above the largest bucket bound <= `threshold`."""
    total, below = 0.0, {}
    for line in text.splitlines():
        if labels not in line:
            continue
        if line.startswith((name + "_count{", name + "_count ")):
            total += float(line.split()[-1])
        elif line.startswith(name + "_bucket{") and 'le="' in line:
            le = line.split('le="')[1].split('"')[0]
            if le != "+Inf" and float(le) <= threshold:
                below[float(le)] = below.get(float(le), 0.0) + float(line.split()[-1])
    return int(total - (below[max(below)] if below else 0.0))


# An add waits for the second of three bookies: a stall the client sees needs two slow bookies
# at once, or the client itself. Per bookie, since it started:
STALL_SIGNS = {
    # journal fdatasyncs slower than 10 ms (the disk)
    "journal_syncs_over_10ms": lambda m: metric_over(
        m, "quire_journal_sync_latency_seconds", "journal=", 0.010),
    # adds, from the request read to its answer queued, slower than 10 ms
    "adds_over_10ms": lambda m: (
        metric_over(m, "quire_bookie_request_latency_seconds", 'operation="add"', 0.010) +
        metric_over(m, "quire_bookie_request_latency_seconds", 'operation="batch-add"', 0.010)),
    # the same over 100 ms: a stall the writer sees as a tail of its own (the disk, or the
    # bookie), told apart from the VM pausing everything (then none of these moves)
    "journal_syncs_over_100ms": lambda m: metric_over(
        m, "quire_journal_sync_latency_seconds", "journal=", 0.100),
    "adds_over_100ms": lambda m: (
        metric_over(m, "quire_bookie_request_latency_seconds", 'operation="add"', 0.100) +
        metric_over(m, "quire_bookie_request_latency_seconds", 'operation="batch-add"', 0.100)),
    # write-cache flushes over 100 ms
    "flushes_over_100ms": lambda m: metric_over(
        m, "quire_storage_flush_latency_seconds", "", 0.100),
    # Requests are timed from when they are read: an I/O thread away for long (an inline
    # journal sync) delays the requests behind it unseen there.
    "io_turns_over_10ms": lambda m: metric_over(m, "quire_bookie_dispatch_seconds", "", 0.010),
    # Nor do they see a request that waits unread: connections paused by back-pressure (too
    # many bytes in flight), and adds that waited for write-cache room (the flush behind).
    "read_pauses": lambda m: int(metric_sum(m, "quire_bookie_read_pauses_total", "")),
    "write_cache_waits": lambda m: int(metric_sum(m, "quire_storage_write_cache_waits_total", "")),
}


def stall_signs(texts):
    """{sign: [count per bookie]} from the bookies' /metrics texts."""
    return {sign: [count(m) for m in texts] for sign, count in STALL_SIGNS.items()}


def stall_signs_between(before, after):
    """What stall_signs counted between two readings."""
    return {sign: [a - b for a, b in zip(after[sign], before[sign])] for sign in after}
