#!/usr/bin/env python3
"""bench/compare's driver for `quire ledger write`: the command line fed from a pipe.

Starts `quire ledger write --new` (E3/Qw3/Qa2, ClientOptions' default of 1,000 adds in flight,
as quire-bench's closed loop), writes lines of --size bytes (newline included) to its standard
input as fast as it takes them, and counts the acknowledgement lines it prints. Prints progress
lines to stderr as quire-bench does ("[   1.0s warm-up] ...", which the harness uses to find the
measured window) and, at the end, one JSON document {"results": {...}} on stdout with adds_per_s
over the measured window. Per-add latency is not measured (the command prints no times). Exit status 0 only if
the command closed its ledger cleanly.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time


def cpu_seconds(pid):
    """utime + stime of a process so far (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError):
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quire", required=True, help="the quire binary")
    ap.add_argument("--metadata", required=True, help="metadata service URI")
    ap.add_argument("--size", type=int, default=1024, help="bytes per line, newline included")
    ap.add_argument("--warmup", type=float, default=10)
    ap.add_argument("--seconds", type=float, default=20)
    a = ap.parse_args()

    env = dict(os.environ, QUIRE_LEDGER_PASSWORD="compare")
    cmd = [a.quire, "--metadata", a.metadata, "ledger", "write", "--new",
           "--ensemble", "3", "--write-quorum", "3", "--ack-quorum", "2"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    stop = threading.Event()
    fed = [0]

    def feed():
        line = b"q" * (a.size - 1) + b"\n"
        chunk = line * max(1, (256 * 1024) // a.size)
        per_chunk = chunk.count(b"\n")
        try:
            while not stop.is_set():
                proc.stdin.write(chunk)
                fed[0] += per_chunk
        except BrokenPipeError:
            pass
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass

    err = []
    threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True).start()
    feeder = threading.Thread(target=feed, daemon=True)
    t0 = time.monotonic()
    feeder.start()

    acks = 0
    cpu_start = cpu_end = (None, None)
    window_start = t0 + a.warmup
    window_end = window_start + a.seconds
    at_start = at_end = None
    next_report = t0 + 1
    out = proc.stdout.fileno()
    while True:
        data = os.read(out, 1 << 20)
        now = time.monotonic()
        if at_start is None and now >= window_start:
            at_start, cpu_start = acks, (now, cpu_seconds(proc.pid))
        if at_end is None and now >= window_end:
            at_end, cpu_end = acks, (now, cpu_seconds(proc.pid))
            stop.set()
        if not data:
            break
        acks += data.count(b"\n")
        if now >= next_report:
            phase = "warm-up" if now < window_start else "measure" if now < window_end else "drain"
            print(f"[{now - t0:6.1f}s {phase}] acknowledged {acks:,}", file=sys.stderr,
                  flush=True)
            next_report += 1
    code = proc.wait()
    feeder.join(10)
    stderr = (err[0] if err else b"").decode(errors="replace").strip().splitlines()
    for line in stderr:  # the command's own messages, for the driver's log
        print(f"quire: {line}", file=sys.stderr)
    measured = (at_end if at_end is not None else acks) - (at_start or 0)
    results = {
        "adds": measured,
        "adds_per_s": measured / a.seconds if at_end is not None else None,
        "acknowledged_total": acks,
        "fed_total": fed[0],
        "errors": 0 if code == 0 else 1,
        "first_error": None if code == 0 else (stderr[-1] if stderr else f"exit {code}"),
        "latency_us": {},
    }
    # The command's own CPU time over the measured window: the harness samples only its direct
    # child (this script), so it adds this to the row's CPU.
    if None not in (cpu_start[1], cpu_end[1]):
        results["child_cpu_s"] = round(cpu_end[1] - cpu_start[1], 3)
        results["child_cpu_window_s"] = round(cpu_end[0] - cpu_start[0], 3)
    print(json.dumps({"results": results}), flush=True)
    return 0 if code == 0 and at_end is not None else 1


if __name__ == "__main__":
    sys.exit(main())
