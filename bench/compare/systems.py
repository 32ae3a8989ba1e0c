"""The four systems bench/compare measures: how each is configured, started, driven and stopped.

Each System starts its servers under <data dir>/<name>/ (one file system for all), and gives the
command line of its load driver for one load: quire-bench for Quire, the Java driver of this
directory (Driver.java) for the others. Logs go to <data dir>/<name>/logs/.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request

from procs import Failure, Proc, four_letter_word, port_open, run_to_end, wait_until
import quire_metrics

ZOOKEEPER_CLASSPATH = "/usr/share/java/zookeeper.jar"  # Debian's zookeeper package (3.8)
ZOOKEEPER_LOGGING = "/usr/share/java/slf4j-simple.jar"

# BookKeeper's bin/common.sh for a bookie on JDK 17: heap and direct memory at its defaults
# (bkenv.sh), G1 with a 10 ms pause goal, Netty's and the journal's --add-opens. Three bookies
# take 3 x (1 GiB + 2 GiB) of this machine's 24 GiB.
BOOKIE_JVM = [
    "-Xms1g", "-Xmx1g", "-XX:MaxDirectMemorySize=2g",
    "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=10", "-XX:+ParallelRefProcEnabled",
    "-XX:+DisableExplicitGC",
    "-Dio.netty.leakDetectionLevel=disabled", "-Dio.netty.tryReflectionSetAccessible=true",
    "--add-opens", "java.base/java.nio=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED",
    "-Djava.net.preferIPv4Stack=true",
    "--add-opens", "java.base/java.io=ALL-UNNAMED",
    "--add-opens", "java.base/java.util.zip=ALL-UNNAMED",
]
# The Java load driver (every Java system), sized like a client application.
DRIVER_JVM = [
    "-Xms1g", "-Xmx1g", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=10",
    "-Dio.netty.leakDetectionLevel=disabled", "-Dio.netty.tryReflectionSetAccessible=true",
    "--add-opens", "java.base/java.nio=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED",
    "-Djava.net.preferIPv4Stack=true",
]
ZOOKEEPER_JVM = ["-Xms1g", "-Xmx1g", "-Dzookeeper.jmx.log4j.disable=true"]


def write_file(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


class System:
    """Servers of one system. Subclasses set `name` and implement start() and driver()."""

    extra_loads = ()  # (kind, label) measured after the closed loop, before the rates

    name = ""

    def __init__(self, ctx):
        self.ctx = ctx
        self.dir = os.path.join(ctx.data_dir, self.name)
        self.logs = os.path.join(self.dir, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.procs = []
        self.config = {}  # what the report says about the setup

    def spawn(self, name, argv, env=None):
        p = Proc(name, argv, os.path.join(self.logs, name + ".log"), env=env)
        self.procs.append(p)
        return p

    def stop(self):
        for p in reversed(self.procs):
            p.stop()

    def dead(self):
        """Servers that exited while they should be serving."""
        return [p for p in self.procs if not p.alive()]

    def free_space(self):
        """Between two loads: gives back the space the last one wrote, where the system can and
        must (None if it does nothing; else what it did, for the report)."""
        return None

    def stall_signs(self):
        """Per server, counts that say where a stall came from (quire_metrics.STALL_SIGNS), since
        it started; None for a system that does not export them."""
        return None

    def java_driver(self, system, target, load):
        c = self.ctx
        log4j = os.path.join(self.dir, "driver-log4j2.properties")
        write_file(log4j, DRIVER_LOG4J2)
        argv = ["java", *DRIVER_JVM, f"-Dlog4j.configurationFile={log4j}", "-cp",
                c.driver_classpath, "quire.compare.Driver", "--system", system, "--target", target]
        return argv + common_load_flags(load, c)

    # Helpers for the systems that keep metadata in a ZooKeeper of their own.
    def start_metadata_zookeeper(self):
        """A standalone ZooKeeper (forceSync=yes), as the tests start one; returns its port."""
        port = self.ctx.ports.take()
        d = os.path.join(self.dir, "metadata-zk")
        cfg = os.path.join(d, "zoo.cfg")
        write_file(cfg, zoo_cfg(os.path.join(d, "data"), port))
        p = self.spawn("metadata-zk", ["java", "-Xms512m", "-Xmx512m",
                                       "-Dzookeeper.jmx.log4j.disable=true", "-cp",
                                       f"{ZOOKEEPER_CLASSPATH}:{ZOOKEEPER_LOGGING}",
                                       "org.apache.zookeeper.server.ZooKeeperServerMain", cfg])
        wait_until("the metadata ZooKeeper", lambda: "Mode:" in four_letter_word(port, "srvr"),
                   [p], 60)
        return port


# The bookies' disk monitors, for Quire and BookKeeper alike: read-only above 99 % used, writable
# again below 98 %. At their defaults (0.95; BookKeeper warns above 0.90) a machine whose shared
# disk reports little space to spare turned BookKeeper's bookies read-only in the middle of runs
# (2026-12-06: "Not enough non-faulty bookies available"; f_bavail 63 of 252 GiB). The monitor is
# not what the comparison measures; a disk that really fills still stops both.
DISK_USAGE = {"diskUsageThreshold": "0.99", "diskUsageLwmThreshold": "0.98"}


def common_load_flags(load, c):
    flags = ["--outstanding", load.outstanding, "--size", c.size, "--duration", c.seconds,
             "--warmup", c.warmup, "--report-interval", 1,
             "--ensemble", 3, "--write-quorum", 3, "--ack-quorum", 2]
    if load.rate:
        flags += ["--rate", load.rate]
    return [str(f) for f in flags]


def zoo_cfg(data_dir, client_port, servers=None):
    lines = [
        "tickTime=2000", "initLimit=10", "syncLimit=5",
        f"dataDir={data_dir}", f"clientPort={client_port}", "clientPortAddress=127.0.0.1",
        "maxClientCnxns=0", "admin.enableServer=false", "4lw.commands.whitelist=srvr,ruok",
        "forceSync=yes",  # the default, stated: every transaction is fsync'd before its ack
    ]
    for i, (quorum, election) in enumerate(servers or [], start=1):
        lines.append(f"server.{i}=127.0.0.1:{quorum}:{election}")
    return "\n".join(lines) + "\n"


class Quire(System):
    """Three quire-bookie processes configured by conf/cluster/bookie-N.conf (journal and ledger
    directories apart, ZooKeeper metadata), on loopback; quire-bench drives them."""

    name = "quire"

    def start(self):
        c = self.ctx
        zk = self.start_metadata_zookeeper()
        self.uri = f"zk://127.0.0.1:{zk}/quire"
        bookie = os.path.join(c.quire_build, "src/bookie/quire-bookie")
        bookies = []
        self.http_ports = []  # admin HTTP, for /metrics
        for n in (1, 2, 3):
            d = os.path.join(self.dir, f"bookie-{n}")
            self.http_ports.append(c.ports.take())
            argv = [bookie, "--conf", os.path.join(c.repo, f"conf/cluster/bookie-{n}.conf")]
            if n == 1:
                argv.append("--init-cluster")
            for key, value in {
                "advertisedAddress": "127.0.0.1", "bookieBindAddress": "127.0.0.1",
                "bookiePort": c.ports.take(), "httpServerEnabled": "true",
                "httpServerAddress": "127.0.0.1", "httpServerPort": self.http_ports[-1],
                "metadataServiceUri": self.uri,
                "journalDirectories": os.path.join(d, "journal"),
                "ledgerDirectories": os.path.join(d, "ledgers"),
                **DISK_USAGE,
            }.items():
                argv += ["--set", f"{key}={value}"]
            bookies.append(self.spawn(f"bookie-{n}", argv))
            if n == 1:  # it initializes the cluster, which the others need
                wait_until("quire-bookie 1", lambda: quire_ready(bookies[0]), bookies, 60)
        for p in bookies[1:]:
            wait_until(p.name, lambda p=p: quire_ready(p), bookies, 60)
        self.config = {
            "bookies": "3 x quire-bookie, conf/cluster/bookie-N.conf + loopback ports, "
                       "directories under the data dir, disk usage thresholds 0.99/0.98 and "
                       "admin HTTP on loopback (read for /metrics between loads); "
                       "defaults of conf/bookie.conf otherwise",
            "metadata": "standalone ZooKeeper 3.8 (Debian), forceSync=yes",
            "driver": "quire-bench write (one ledger, CRC32C)",
            "binaries": c.quire_build,
        }

    def stall_signs(self):
        return quire_metrics.stall_signs([quire_metrics.fetch(p) for p in self.http_ports])

    keeper = None  # the ledger free_space() keeps

    def ledgers(self, quire):
        listing = subprocess.run([quire, "--metadata", self.uri, "ledger", "list"],
                                 capture_output=True, text=True, timeout=60)
        if listing.returncode != 0:
            raise Failure(f"quire ledger list: exit {listing.returncode}: {listing.stderr}")
        return listing.stdout.split()

    def free_space(self):
        """Deletes every ledger but one and runs a garbage-collection pass on each bookie until
        it is done. At Quire's maximum a load writes 10-16 GB of entry logs (three bookies,
        30 s), and the loads of one run together more than a 70 GiB disk holds; BookKeeper's, at
        a third of the rate, fit. The pass ends before the next load starts: it is not measured.
        """
        quire = os.path.join(self.ctx.quire_build, "src/cli/quire")
        log = os.path.join(self.logs, "free-space.log")
        if self.keeper is None:
            # A bookie's pass deletes nothing when the metadata store lists no ledger at all (an
            # empty listing is not trusted: docs/operations.md, "Safety rules"): one ledger stays.
            before = self.ledgers(quire)
            with open(log, "ab") as out:
                subprocess.run([quire, "--metadata", self.uri, "ledger", "write", "--new"],
                               input=b"kept\n", stdout=out, stderr=out, timeout=60, check=True)
            self.keeper = (set(self.ledgers(quire)) - set(before)).pop()
        ledgers = [ledger for ledger in self.ledgers(quire) if ledger != self.keeper]
        for ledger in ledgers:
            run_to_end("quire ledger delete", [quire, "--metadata", self.uri, "ledger", "delete",
                                               ledger], log, 60)
        start = time.monotonic()
        # With compaction: the kept ledger's entry shares an entry log with a deleted one's.
        run_to_end("quire bookie gc", [quire, "--metadata", self.uri, "bookie", "gc", "--all",
                                       "--wait"], log, 900)
        st = os.statvfs(self.dir)
        return {"ledgers_deleted": len(ledgers), "gc_s": round(time.monotonic() - start, 1),
                "disk_free_gib": round(st.f_bavail * st.f_frsize / 2**30, 1)}

    # After the closed loop: the command line fed from a pipe (cli_write.py), against the same
    # cluster, to compare with quire-bench's maximum in the same run.
    extra_loads = (("cli", "ledger write, pipe"),)

    def driver(self, load):
        c = self.ctx
        if load.kind == "cli":
            return [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                 "cli_write.py"),
                    "--quire", os.path.join(c.quire_build, "src/cli/quire"),
                    "--metadata", self.uri, "--size", str(c.size),
                    "--warmup", str(c.warmup), "--seconds", str(c.seconds)]
        bench = os.path.join(c.quire_build, "src/cli/quire-bench")
        return [bench, "write", "--metadata", self.uri, "--json"] + common_load_flags(load, c)


class BookKeeper(System):
    """Three Apache BookKeeper 4.18.2 bookies from Maven Central's jars (DbLedgerStorage, journal
    group commit at its defaults, journalSyncData=true), metadata in a standalone ZooKeeper; the
    Java driver writes one ledger through the BookKeeper client API."""

    name = "bookkeeper"

    SERVER_CONF = {
        "ledgerStorageClass": "org.apache.bookkeeper.bookie.storage.ldb.DbLedgerStorage",
        "journalSyncData": "true",  # fsync each group before acknowledging (the default)
        "allowLoopback": "true",
        "listeningInterface": "lo",
        "advertisedAddress": "127.0.0.1",
        "httpServerEnabled": "false",
        "autoRecoveryDaemonEnabled": "false",
        "zkTimeout": "10000",
        # Both systems' disk monitors at 0.99 (DISK_USAGE): see there.
        "diskUsageThreshold": DISK_USAGE["diskUsageThreshold"],
        "diskUsageWarnThreshold": DISK_USAGE["diskUsageThreshold"],
        "diskUsageLwmThreshold": DISK_USAGE["diskUsageLwmThreshold"],
    }

    def start(self):
        c = self.ctx
        zk = self.start_metadata_zookeeper()
        self.uri = f"zk://127.0.0.1:{zk}/ledgers"
        log4j = os.path.join(self.dir, "log4j2.properties")
        write_file(log4j, LOG4J2)
        confs = []
        for n in (1, 2, 3):
            d = os.path.join(self.dir, f"bookie-{n}")
            conf = dict(self.SERVER_CONF, bookiePort=c.ports.take(), metadataServiceUri=self.uri,
                        journalDirectories=os.path.join(d, "journal"),
                        ledgerDirectories=os.path.join(d, "ledgers"))
            path = os.path.join(d, "bk_server.conf")
            write_file(path, "".join(f"{k}={v}\n" for k, v in conf.items()))
            confs.append((path, conf["bookiePort"]))
        java = ["java", *BOOKIE_JVM, f"-Dlog4j.configurationFile={log4j}", "-cp",
                c.driver_classpath]
        # `bookkeeper shell initnewcluster`: the cluster's metadata in ZooKeeper.
        run_to_end("initnewcluster", java + ["org.apache.bookkeeper.bookie.BookieShell", "-conf",
                                             confs[0][0], "initnewcluster"],
                   os.path.join(self.logs, "initnewcluster.log"), 120)
        bookies = []
        for n, (path, port) in enumerate(confs, start=1):
            bookies.append((self.spawn(f"bookie-{n}", java + [
                "org.apache.bookkeeper.server.Main", "--conf", path]), port))
        for p, port in bookies:
            wait_until(p.name, lambda port=port: port_open(port), [p], 120)
        self.config = {
            "bookies": "3 x BookKeeper 4.18.2 (org.apache.bookkeeper.server.Main), "
                       + ", ".join(f"{k}={v}" for k, v in self.SERVER_CONF.items())
                       + "; every other key at its default (journal group commit: "
                         "journalAdaptiveGroupWrites, journalMaxGroupWaitMSec, "
                         "journalBufferedWritesThreshold)",
            "bookie_jvm": " ".join(BOOKIE_JVM),
            "metadata": "standalone ZooKeeper 3.8 (Debian), forceSync=yes",
            "driver": "Driver.java on the BookKeeper client API: one ledger, CRC32C, "
                      "v2 wire protocol, throttle=0 (no 5,000 adds/s rate limit), "
                      "delayEnsembleChange=true, asyncAddEntry",
        }

    def driver(self, load):
        return self.java_driver("bookkeeper", self.uri, load)


class ZooKeeper(System):
    """A three-server ZooKeeper 3.8 ensemble (Debian), forceSync=yes; the Java driver does
    asynchronous setData of 1 KiB on 1,024 znodes."""

    name = "zookeeper"

    def start(self):
        c = self.ctx
        servers = [(c.ports.take(), c.ports.take()) for _ in range(3)]
        clients = [c.ports.take() for _ in range(3)]
        procs = []
        for n in (1, 2, 3):
            d = os.path.join(self.dir, f"zk-{n}")
            write_file(os.path.join(d, "data", "myid"), f"{n}\n")
            cfg = os.path.join(d, "zoo.cfg")
            write_file(cfg, zoo_cfg(os.path.join(d, "data"), clients[n - 1], servers))
            procs.append(self.spawn(f"zk-{n}", ["java", *ZOOKEEPER_JVM, "-cp",
                                                f"{ZOOKEEPER_CLASSPATH}:{ZOOKEEPER_LOGGING}",
                                                "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                                                cfg]))
        for p, port in zip(procs, clients):
            wait_until(f"{p.name} in a quorum",
                       lambda port=port: any(f"Mode: {m}" in four_letter_word(port, "srvr")
                                             for m in ("leader", "follower")), procs, 120)
        self.target = ",".join(f"127.0.0.1:{p}" for p in clients)
        self.config = {
            "servers": "3 x ZooKeeper 3.8 (Debian, QuorumPeerMain), forceSync=yes, "
                       "dataDir holds the transaction log, " + " ".join(ZOOKEEPER_JVM),
            "driver": "Driver.java on the ZooKeeper client: async setData of the entry on "
                      "1,024 znodes in turn, one session",
        }

    def driver(self, load):
        return self.java_driver("zookeeper", self.target, load)


class Etcd(System):
    """A three-member etcd 3.4 cluster (Debian's etcd-server); the Java driver does asynchronous
    Puts of 1 KiB on 1,024 keys over gRPC to member 1."""

    name = "etcd"

    def start(self):
        c = self.ctx
        peers = [c.ports.take() for _ in range(3)]
        clients = [c.ports.take() for _ in range(3)]
        cluster = ",".join(f"e{n}=http://127.0.0.1:{p}" for n, p in enumerate(peers, start=1))
        procs = []
        for n in (1, 2, 3):
            peer, client = peers[n - 1], clients[n - 1]
            procs.append(self.spawn(f"etcd-{n}", [
                c.etcd, "--name", f"e{n}", "--data-dir", os.path.join(self.dir, f"etcd-{n}"),
                "--listen-client-urls", f"http://127.0.0.1:{client}",
                "--advertise-client-urls", f"http://127.0.0.1:{client}",
                "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-cluster", cluster, "--initial-cluster-token", "quire-compare",
                "--initial-cluster-state", "new",
                "--quota-backend-bytes", str(8 << 30),  # a full run writes ~1 GB of revisions
                "--logger", "zap", "--log-level", "warn"]))
        for p, port in zip(procs, clients):
            wait_until(f"{p.name} healthy", lambda port=port: etcd_healthy(port), procs, 60)
        self.target = ",".join(f"127.0.0.1:{p}" for p in clients)
        self.config = {
            "servers": "3 x etcd 3.4 (Debian etcd-server), defaults (WAL fsync'd per batch, "
                       "snapshot-count 100000) but --quota-backend-bytes 8 GiB",
            "driver": "Driver.java on etcd's gRPC KV API (jetcd's stubs): async Put of the "
                      "entry on 1,024 keys in turn, one channel to member 1",
        }

    def driver(self, load):
        return self.java_driver("etcd", self.target, load)


def quire_ready(bookie):
    """quire-bookie prints "... ready: port N http M" once it serves."""
    with open(bookie.log, errors="replace") as f:
        return "ready: port" in f.read()


def etcd_healthy(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
            return json.loads(r.read()).get("health") == "true"
    except (OSError, ValueError):
        return False


LOG4J2 = """\
# bench/compare: the bookies log INFO and above to stdout (their log file).
rootLogger.level = info
rootLogger.appenderRef.console.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{ISO8601} %-5p [%t] %c{1} - %m%n
"""

# The driver's client libraries log warnings to stderr: stdout carries only its JSON.
DRIVER_LOG4J2 = """\
rootLogger.level = warn
rootLogger.appenderRef.console.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{ISO8601} %-5p [%t] %c{1} - %m%n
"""

SYSTEMS = {cls.name: cls for cls in (Quire, BookKeeper, ZooKeeper, Etcd)}
