"""The nemesis: faults chosen by the seed, one at a time, each held for a while and then healed.

Every fault is a class with `start()` and `heal()`; the schedule picks a kind and its targets
with the run's random generator, so a seed names one sequence of faults (what the processes do
meanwhile still depends on timing). Each fault is appended to <run dir>/nemesis.jsonl when it
starts and when it is healed, for the history excerpt of a violation to be read against.

A fault leaves the cluster as it found it: `heal()` restarts what it killed, resumes what it
paused, removes its partition rules and its filler files. A bookie that does not come back is a
Failure of the run (the cluster was not left able to finish), not a violation.
"""

import json
import os
import shutil
import signal
import time

from cluster import Failure, wait_until

# Seconds a fault is held: (min, max). The clients' metadata session is 4 s and the bookies' 6 s,
# so the longer cuts and pauses expire sessions.
HOLD = {
    "kill-bookie": (1, 8),
    "pause-bookie": (1, 12),
    "pause-writer": (1, 10),
    "pause-zookeeper": (2, 10),
    "isolate-bookie": (2, 12),
    "split-bookies": (2, 12),
    "cut-writer": (2, 12),
    "cut-zookeeper": (7, 12),
    "disk-full": (3, 10),
    "wipe-bookie": (0, 0),
}
KINDS = list(HOLD)


class Fault:
    def __init__(self, cluster, rng):
        self.cluster = cluster
        self.rng = rng
        self.targets = []

    def describe(self):
        return {"targets": self.targets}


class KillBookie(Fault):
    kind = "kill-bookie"

    def start(self):
        self.node = self.rng.choice(self.cluster.bookies)
        self.targets = [self.node.name]
        self.node.kill()

    def heal(self):
        self.cluster.start_bookie(self.node)
        self.cluster.wait_bookie_ready(self.node)


class Pause(Fault):
    """SIGSTOP, then SIGCONT: a GC pause, a frozen VM."""

    def pick(self):
        raise NotImplementedError

    def start(self):
        self.node = self.pick()
        self.targets = [self.node.name]
        self.node.signal(signal.SIGSTOP)

    def heal(self):
        self.node.signal(signal.SIGCONT)


class PauseBookie(Pause):
    kind = "pause-bookie"

    def pick(self):
        return self.rng.choice(self.cluster.bookies)


class PauseWriter(Pause):
    kind = "pause-writer"

    def pick(self):
        return self.rng.choice(self.cluster.writers)


class PauseZookeeper(Pause):
    kind = "pause-zookeeper"

    def pick(self):
        return self.rng.choice(self.cluster.zookeepers)


class Partition(Fault):
    """Cuts every pair of (side A, side B)."""

    def sides(self):
        raise NotImplementedError

    def start(self):
        a, b = self.sides()
        self.targets = [sorted(n.name for n in a), sorted(n.name for n in b)]
        for x in a:
            for y in b:
                self.cluster.cut(x.name, y.name)

    def heal(self):
        self.cluster.heal_network()


class IsolateBookie(Partition):
    kind = "isolate-bookie"

    def sides(self):
        node = self.rng.choice(self.cluster.bookies)
        return [node], [n for n in self.cluster.nodes.values() if n is not node]


class SplitBookies(Partition):
    """The bookies in two halves, each client with one of them; ZooKeeper reaches everyone."""
    kind = "split-bookies"

    def sides(self):
        bookies = list(self.cluster.bookies)
        self.rng.shuffle(bookies)
        half = len(bookies) // 2 + self.rng.randint(0, 1)
        a, b = bookies[:half], bookies[half:]
        for client in self.cluster.clients:
            (a if self.rng.random() < 0.5 else b).append(client)
        return a, b


class CutWriter(Partition):
    """A writer loses 1 to 3 bookies but keeps the others and ZooKeeper."""
    kind = "cut-writer"

    def sides(self):
        writer = self.rng.choice(self.cluster.writers)
        return [writer], self.rng.sample(self.cluster.bookies, self.rng.randint(1, 3))


class CutZookeeper(Partition):
    """A client or a bookie loses every ZooKeeper server long enough for its session to
    expire."""
    kind = "cut-zookeeper"

    def sides(self):
        node = self.rng.choice(self.cluster.clients + self.cluster.bookies)
        return [node], list(self.cluster.zookeepers)


class DiskFull(Fault):
    """Fills a bookie's ledger disk past diskUsageThreshold (0.95): it must turn read-only and
    keep every entry it acknowledged."""
    kind = "disk-full"

    def start(self):
        self.node = self.rng.choice(self.cluster.bookies)
        self.targets = [self.node.name]
        st = os.statvfs(self.node.disk)
        total, free = st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize
        want_free = int(total * 0.03)
        self.filler = os.path.join(self.node.disk, "chaos-filler")
        with open(self.filler, "wb") as f:
            if free > want_free:
                os.posix_fallocate(f.fileno(), 0, free - want_free)

    def heal(self):
        os.unlink(self.filler)


class WipeBookie(Fault):
    """Kills a bookie and starts it on empty directories: its cookie check must refuse to start
    (it would answer 'no such entry' for what it acknowledged). Then its disks come back and it
    must serve again."""
    kind = "wipe-bookie"

    def start(self):
        self.node = self.rng.choice(self.cluster.bookies)
        self.targets = [self.node.name]
        self.node.kill()
        self.moved = []
        for d in ("journal", "ledgers"):
            path = os.path.join(self.node.disk, d)
            os.rename(path, path + ".wiped")
            os.makedirs(path)
            self.moved.append(path)
        self.cluster.start_bookie(self.node)
        wait_until(f"wiped bookie {self.node.name} to exit or serve",
                   lambda: not self.node.alive() or self.cluster.bookie_ready(self.node), 90)
        self.refused = not self.node.alive() and self.node.proc.returncode != 0
        if not self.refused:
            self.cluster.findings.append(
                f"wipe-bookie: {self.node.name} served on empty directories "
                "(its cookie check should have refused to start)")
        self.node.kill()

    def heal(self):
        for path in self.moved:
            shutil.rmtree(path)
            os.rename(path + ".wiped", path)
        self.cluster.start_bookie(self.node)
        self.cluster.wait_bookie_ready(self.node)

    def describe(self):
        return {"targets": self.targets, "refused": self.refused}


FAULTS = {cls.kind: cls for cls in (KillBookie, PauseBookie, PauseWriter, PauseZookeeper,
                                    IsolateBookie, SplitBookies, CutWriter, CutZookeeper,
                                    DiskFull, WipeBookie)}
assert set(FAULTS) == set(KINDS)


class Nemesis:
    def __init__(self, cluster, rng, kinds, log_path):
        self.cluster = cluster
        self.rng = rng
        self.kinds = kinds
        self.log = open(log_path, "a")
        self.counts = {k: 0 for k in kinds}
        self.active = None

    def record(self, fault, phase):
        self.log.write(json.dumps({"t": round(time.time(), 6), "fault": fault.kind,
                                   "phase": phase, **fault.describe()}) + "\n")
        self.log.flush()

    def run(self, until, should_stop):
        """Faults one after another until the monotonic time `until`, with 1-4 s of calm
        between them."""
        while time.monotonic() < until and not should_stop():
            kind = self.rng.choice(self.kinds)
            fault = FAULTS[kind](self.cluster, self.rng)
            lo, hi = HOLD[kind]
            hold = self.rng.uniform(lo, hi)
            self.active = fault
            fault.start()
            self.counts[kind] += 1
            self.record(fault, "start")
            end = min(time.monotonic() + hold, until)
            while time.monotonic() < end and not should_stop():
                time.sleep(0.05)
            fault.heal()
            self.active = None
            self.record(fault, "healed")
            calm = time.monotonic() + self.rng.uniform(1, 4)
            while time.monotonic() < min(calm, until) and not should_stop():
                time.sleep(0.05)

    def heal_all(self):
        """Leaves nothing broken: the active fault healed, every process resumed, every bookie
        serving."""
        if self.active is not None:
            try:
                self.active.heal()
            finally:
                self.record(self.active, "healed")
                self.active = None
        self.cluster.heal_network()
        for node in self.cluster.nodes.values():
            if node.paused:
                node.signal(signal.SIGCONT)
        for node in self.cluster.bookies:
            if not node.alive():
                raise Failure(f"bookie {node.name} is not running after the faults were healed")
