"""Processes that bench/compare starts, their CPU time, loopback ports and the disk's floor.

Every process started through Proc is registered; stop_all() ends them (SIGTERM, then SIGKILL),
and `run` calls it on every exit path: normal end, an exception, Ctrl-C, SIGTERM. Each child is
also started under `setpriv --pdeathsig SIGKILL`, so that it dies with the harness even if the
harness itself is killed with SIGKILL.
"""

import json
import mmap
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
_SETPRIV = shutil.which("setpriv")
_started = []  # every Proc ever started, in order


class Failure(Exception):
    """A system could not be started or measured; the message says why."""


class Proc:
    """One child process. Its stdout and stderr go to `log` unless `capture` is set, in which
    case stdout is collected and each stderr line is passed to `on_line` and written to `log`."""

    def __init__(self, name, argv, log, env=None, capture=False, on_line=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log = log
        self.last_cpu = 0.0
        self._out = []
        self._threads = []
        prefix = [_SETPRIV, "--pdeathsig", "SIGKILL", "--"] if _SETPRIV else []
        full_env = dict(os.environ, **(env or {}))
        self._log_file = open(log, "ab")
        self.popen = subprocess.Popen(
            prefix + self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture else self._log_file,
            stderr=subprocess.PIPE if capture else self._log_file,
            env=full_env,
            start_new_session=True,  # Ctrl-C in the terminal reaches the harness only
        )
        _started.append(self)
        if capture:
            self._threads = [
                threading.Thread(target=self._read_out, daemon=True),
                threading.Thread(target=self._read_err, args=(on_line,), daemon=True),
            ]
            for t in self._threads:
                t.start()

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def cpu_seconds(self):
        """utime + stime of the process (all its threads) so far; the last value read once it
        has exited."""
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
            # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
            self.last_cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
        return self.last_cpu

    def wait(self, timeout):
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"{self.name} did not finish within {timeout:.0f} s") from None
        for t in self._threads:
            t.join(5)
        return code

    def stdout(self):
        return b"".join(self._out).decode(errors="replace")

    def stop(self, timeout=20):
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        for t in self._threads:  # the rest of its output
            t.join(5)
        self._log_file.close()

    def log_tail(self, lines=15):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def _read_out(self):
        for chunk in iter(lambda: self.popen.stdout.read(65536), b""):
            self._out.append(chunk)

    def _read_err(self, on_line):
        for raw in self.popen.stderr:
            self._log_file.write(raw)
            self._log_file.flush()
            if on_line:
                on_line(raw.decode(errors="replace"))


def stop_all():
    """Stops every process started here that is still running, newest first."""
    for p in reversed(_started):
        try:
            p.stop()
        except Exception as e:  # keep stopping the others
            print(f"compare: stopping {p.name} (pid {p.pid}): {e}")


def run_to_end(name, argv, log, timeout, env=None):
    """Runs a short helper process to its end; raises Failure if it fails."""
    p = Proc(name, argv, log, env=env)
    code = p.wait(timeout)
    p.stop()
    if code != 0:
        raise Failure(f"{name} exited with status {code}; {log}:\n{p.log_tail()}")


def wait_until(what, ready, procs, timeout):
    """Polls ready() until true; fails at once if one of `procs` exits, or after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if not p.alive():
                raise Failure(f"{p.name} exited while waiting for {what}; {p.log}:\n{p.log_tail()}")
        if ready():
            return
        time.sleep(0.2)
    logs = "\n".join(f"--- {p.log}\n{p.log_tail(8)}" for p in procs)
    raise Failure(f"{what}: not ready after {timeout} s\n{logs}")


class Ports:
    """Hands out loopback ports, each checked to be free (nothing bound to it on 127.0.0.1 or on
    all addresses) just before it is given."""

    def __init__(self, first):
        self.next = first

    def take(self):
        while self.next < 65535:
            port = self.next
            self.next += 1
            if port_is_free(port):
                return port
        raise Failure("no free loopback port left")


def port_is_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def port_open(port):
    """True if something accepts connections on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def four_letter_word(port, word):
    """ZooKeeper's four-letter-word reply ('' if none)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(word.encode())
            out = b""
            while chunk := s.recv(4096):
                out += chunk
            return out.decode(errors="replace")
    except OSError:
        return ""


def disk_floor(directory, seconds=1.0):
    """p50 and p99 of fdatasync'd 4 KiB writes (O_DIRECT when the file system allows it) into a
    preallocated file in `directory`, in µs: what storage_bench calls the fdatasync floor."""
    path = os.path.join(directory, "floor.tmp")
    size = 64 << 20
    fd, direct = _create_for_direct_io(path)
    buf = mmap.mmap(-1, 4096)  # page-aligned, as O_DIRECT needs
    samples = []
    try:
        os.posix_fallocate(fd, 0, size)
        end = time.monotonic() + seconds
        offset = 0
        while time.monotonic() < end:
            buf[0] = (offset >> 12) & 0xFF
            t = time.perf_counter_ns()
            os.pwrite(fd, buf, offset)
            os.fdatasync(fd)
            samples.append(time.perf_counter_ns() - t)
            offset = (offset + 4096) % size
    finally:
        os.close(fd)
        os.unlink(path)
    return {**_p50_p99_us(samples), "writes": len(samples), "direct_io": direct}


def _create_for_direct_io(path):
    """(fd, True) for a new file opened with O_DIRECT; (fd, False) where the file system has no
    O_DIRECT (tmpfs)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    try:
        return os.open(path, flags | os.O_DIRECT, 0o644), True
    except OSError:
        return os.open(path, flags, 0o644), False


def _p50_p99_us(samples_ns):
    samples = sorted(samples_ns)

    def q(x):
        return round(samples[min(len(samples) - 1, int(x * len(samples)))] / 1e3, 1)

    return {"p50_us": q(0.50), "p99_us": q(0.99)}


def quorum_floor(directory, rounds=400, period_s=0.0025, writers=3, acks=2):
    """What the disk allows a quorum write: `writers` processes write and fdatasync 4 KiB at the
    same instants, `rounds` times, each into its own file in `directory` over blocks written
    before (the cheapest sync there is: no extent to convert, as the journal's zero ahead
    arranges); per round, the time from that instant until the `acks`-th of them is done, in µs
    (p50, p99). Three bookies on one disk sync at once and an add at Qa 2 waits for the second,
    so on a one-disk machine no add is acknowledged sooner than this (docs/performance.md)."""
    t0 = time.monotonic_ns() + 500_000_000  # every child is up and its file written by then
    children = []
    for k in range(writers):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: no return from here, whatever happens
            code = 1
            try:
                os.close(r)
                ends = _synced_writes(os.path.join(directory, f"quorum-floor-{k}.tmp"), t0,
                                      rounds, int(period_s * 1e9))
                os.write(w, b"".join(e.to_bytes(8, "little") for e in ends))
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        children.append((pid, r))
    per_writer = []
    for pid, r in children:
        data = b""
        while chunk := os.read(r, 1 << 16):
            data += chunk
        os.close(r)
        _, status = os.waitpid(pid, 0)
        if status != 0 or len(data) != 8 * rounds:
            raise Failure(f"quorum floor: a writer in {directory} failed (wait status {status})")
        per_writer.append([int.from_bytes(data[i:i + 8], "little") for i in range(0, len(data), 8)])
    nth_done = [sorted(ends)[acks - 1] for ends in zip(*per_writer)]
    return {**_p50_p99_us(nth_done), "rounds": rounds, "writers": writers, "acks": acks}


def _synced_writes(path, t0, rounds, period_ns):
    """One quorum_floor writer: a 4 KiB write + fdatasync at t0 + i * period_ns for each round,
    each timed from that instant (a short sleep, then a spin: a timer's wake-up would be late)."""
    size = rounds * 4096
    fd, _ = _create_for_direct_io(path)
    buf = mmap.mmap(-1, 4096)
    ends = []
    try:
        for offset in range(0, size, 4096):
            os.pwrite(fd, buf, offset)
        os.fdatasync(fd)
        for i in range(rounds):
            due = t0 + i * period_ns
            ahead = due - time.monotonic_ns() - 300_000
            if ahead > 0:
                time.sleep(ahead / 1e9)
            while time.monotonic_ns() < due:
                pass
            os.pwrite(fd, buf, i * 4096)
            os.fdatasync(fd)
            ends.append(time.monotonic_ns() - due)
    finally:
        os.close(fd)
        os.unlink(path)
    return ends


def _probe_json(argv, timeout):
    """Runs one of the harness's probes (a program that prints one JSON object): its JSON, or
    {"error": why}."""
    prefix = [_SETPRIV, "--pdeathsig", "SIGKILL", "--"] if _SETPRIV else []
    try:
        r = subprocess.run(prefix + [str(a) for a in argv], capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": "timed out"}
    if r.returncode != 0:
        return {"error": r.stderr.strip()[-500:] or f"exit {r.returncode}"}
    return json.loads(r.stdout)


def minimal_quorum_write(exe, directory, rates, seconds, warmup, size):
    """`quorum_probe` (bench/compare/quorum_probe.cc) at each rate: the CPU and latency of the
    simplest E3/Qa2 write over loopback with fdatasync, to read the systems' figures against.
    {rate: its JSON}, or {"skipped": why} when the probe is not built; an error is recorded."""
    if not os.access(exe, os.X_OK):
        return {"skipped": f"{exe} is not built"}
    return {str(rate): _probe_json([exe, "--dir", directory, "--rate", rate, "--seconds", seconds,
                                    "--warmup", warmup, "--size", size],
                                   timeout=warmup + seconds + 60)
            for rate in rates}


def wake_floor(exe, seconds, spin_seconds=5):
    """`wake_probe` (bench/compare/wake_probe.cc) on the idle machine: how late a thread sleeping
    until an add's due time wakes at 1,000/s ("sleep"), and the gaps a thread that never sleeps
    sees ("spin"). Every add at a low rate crosses several such wake-ups, so this is the floor
    under the p99 at 1,000/s. {"skipped": why} when the probe is not built."""
    if not os.access(exe, os.X_OK):
        return {"skipped": f"{exe} is not built"}
    return {"sleep": _probe_json([exe, "--rate", 1000, "--seconds", seconds], seconds + 30),
            "spin": _probe_json([exe, "--spin", "--seconds", spin_seconds], spin_seconds + 30)}


PROGRESS = re.compile(r"^\[\s*([0-9.]+)s (warm-up|measure|drain)\s*\]")


def load_average():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]
