"""The cluster of the fault-injection suite: network namespaces, ZooKeeper, bookies, clients.

Every node (a ZooKeeper server, a bookie, a client process) lives in its own network namespace
with one interface, `eth0`, a veth whose other end is on a bridge in a hub namespace; nothing is
added to the host's own namespace. Partitions are nftables rules in the nodes' namespaces that
drop packets silently, in both directions, as a cut cable or a dead switch port would.

Everything this module creates is recorded in the Cluster and removed by Cluster.close(), which
the runner calls on every exit path; processes are also started under `setpriv --pdeathsig
SIGKILL`, so they die with the runner even if it is killed with SIGKILL (the namespaces and loop
mounts of such a run are removed by `tools/chaos/run --cleanup`).
"""

import os
import re
import shutil
import signal
import subprocess
import time

ZOOKEEPER_CLASSPATH = os.environ.get("QUIRE_ZOOKEEPER_CLASSPATH", "/usr/share/java/zookeeper.jar")
PREFIX = "qc"  # every namespace of every run starts with it (see cleanup_leftovers)


class Failure(Exception):
    """The cluster could not be set up or brought back; not a finding of the checker."""


def sh(*argv, check=True, input=None):
    """Runs a command, returns its stdout; raises Failure with its stderr if it fails."""
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True, input=input)
    if check and r.returncode != 0:
        raise Failure(f"{' '.join(map(str, argv))}: exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def wait_until(what, predicate, timeout, interval=0.1):
    """Polls `predicate` until it is true; Failure after `timeout` seconds. The only way this
    module waits for anything."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise Failure(f"{what}: not within {timeout} s")
        time.sleep(interval)


class Node:
    """One namespace with one address, and at most one process in it at a time."""

    def __init__(self, cluster, name, address):
        self.cluster = cluster
        self.name = name
        self.ns = f"{cluster.tag}-{name}"
        self.address = address
        self.proc = None
        self.log_path = os.path.join(cluster.run_dir, "logs", f"{name}.log")
        self.paused = False
        # Bookies only: their file system, configuration, binary, and where in the log the
        # current process's output starts (bookie_ready looks only after it).
        self.disk = self.conf = self.bin = None
        self.ready_offset = 0

    def start(self, argv, env=None):
        """Starts `argv` in this node's namespace, its output appended to the node's log.
        Returns the Popen."""
        prefix = ["ip", "netns", "exec", self.ns]
        if shutil.which("setpriv"):
            prefix += ["setpriv", "--pdeathsig", "SIGKILL", "--"]
        # `ip netns exec` and setpriv exec the program: the Popen's pid is the program's. The
        # child has its own copy of the log's descriptor; ours is closed at once.
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(prefix + [str(a) for a in argv],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         env=dict(os.environ, **(env or {})),
                                         start_new_session=True)
        self.paused = False
        return self.proc

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.proc.pid, sig)
            if sig == signal.SIGSTOP:
                self.paused = True
            elif sig == signal.SIGCONT:
                self.paused = False

    def kill(self):
        """SIGKILL and reap (a paused process dies too)."""
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()
        self.paused = False

    def log_tail(self, lines=5):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except FileNotFoundError:
            return ""


class Cluster:
    """The namespaces, the 3 ZooKeeper servers, the bookies and their disks of one run."""

    def __init__(self, run_dir, build_dir, bookies=5, disk_mb=512, test_fault=None):
        self.run_dir = run_dir
        self.build_dir = build_dir
        self.tag = f"{PREFIX}{os.getpid()}"
        # A /24 of 10.213.0.0/16 per run, so that two runs on one host stay apart.
        self.net = f"10.213.{os.getpid() % 250 + 1}"
        self.hub = f"{self.tag}-hub"
        self.namespaces = []
        self.mounts = []
        self.nodes = {}
        self.zookeepers = []
        self.bookies = []
        self.bookie_count = bookies
        self.disk_mb = disk_mb
        self.test_fault = test_fault
        self.cut_pairs = set()  # (a, b) node names with a partition rule between them
        for d in ("logs", "history", "conf", "disks", "zk"):
            os.makedirs(os.path.join(run_dir, d), exist_ok=True)

    # ---- network ------------------------------------------------------------------------

    def add_node(self, name, host):
        """A namespace `name` with address <net>.<host>, plugged into the hub's bridge, with an
        empty nftables table `chaos` whose chains drop nothing yet."""
        node = Node(self, name, f"{self.net}.{host}")
        sh("ip", "netns", "add", node.ns)
        self.namespaces.append(node.ns)
        peer = f"v-{name}"  # the hub namespace is this run's own: no clash with other runs
        sh("ip", "-n", self.hub, "link", "add", peer, "type", "veth", "peer", "name", "eth0",
           "netns", node.ns)
        sh("ip", "-n", self.hub, "link", "set", peer, "master", "br0", "up")
        sh("ip", "-n", node.ns, "addr", "add", f"{node.address}/24", "dev", "eth0")
        sh("ip", "-n", node.ns, "link", "set", "eth0", "up")
        sh("ip", "-n", node.ns, "link", "set", "lo", "up")
        sh("ip", "netns", "exec", node.ns, "nft", "-f", "-", input=(
            "table inet chaos {\n"
            "  chain input { type filter hook input priority 0; policy accept; }\n"
            "  chain output { type filter hook output priority 0; policy accept; }\n"
            "}\n"))
        self.nodes[name] = node
        return node

    def setup_network(self):
        sh("ip", "netns", "add", self.hub)
        self.namespaces.append(self.hub)
        sh("ip", "-n", self.hub, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.hub, "link", "set", "br0", "up")

    def cut(self, a, b):
        """Drops every packet between nodes a and b (both directions, at both ends)."""
        if (a, b) in self.cut_pairs or (b, a) in self.cut_pairs:
            return
        for x, y in ((a, b), (b, a)):
            ns, other = self.nodes[x].ns, self.nodes[y].address
            sh("ip", "netns", "exec", ns, "nft", "add", "rule", "inet", "chaos", "input",
               "ip", "saddr", other, "drop")
            sh("ip", "netns", "exec", ns, "nft", "add", "rule", "inet", "chaos", "output",
               "ip", "daddr", other, "drop")
        self.cut_pairs.add((a, b))

    def heal_network(self):
        for name in {n for pair in self.cut_pairs for n in pair}:
            ns = self.nodes[name].ns
            sh("ip", "netns", "exec", ns, "nft", "flush", "chain", "inet", "chaos", "input")
            sh("ip", "netns", "exec", ns, "nft", "flush", "chain", "inet", "chaos", "output")
        self.cut_pairs.clear()

    # ---- ZooKeeper ------------------------------------------------------------------------

    def start_zookeeper(self):
        servers = "".join(f"server.{i}={self.net}.{10 + i}:2888:3888\n" for i in (1, 2, 3))
        for i in (1, 2, 3):
            node = self.add_node(f"zk{i}", 10 + i)
            data = os.path.join(self.run_dir, "zk", f"zk{i}")
            os.makedirs(data, exist_ok=True)
            with open(os.path.join(data, "myid"), "w") as f:
                f.write(f"{i}\n")
            cfg = os.path.join(data, "zoo.cfg")
            with open(cfg, "w") as f:
                # tickTime 500 ms: sessions of 1 to 20 s; the clients ask for 4 s, bookies 6 s.
                f.write(f"tickTime=500\ninitLimit=20\nsyncLimit=5\ndataDir={data}\n"
                        "clientPort=2181\nmaxClientCnxns=0\nadmin.enableServer=false\n"
                        "4lw.commands.whitelist=srvr,ruok\nforceSync=yes\npreAllocSize=4096\n"
                        + servers)
            self.zookeepers.append(node)
            self.start_zookeeper_server(node)
        for node in self.zookeepers:
            wait_until(f"{node.name} in a quorum", lambda n=node: self.zk_mode(n) is not None,
                       120, 0.5)

    def start_zookeeper_server(self, node):
        cfg = os.path.join(self.run_dir, "zk", node.name, "zoo.cfg")
        classpath = ZOOKEEPER_CLASSPATH
        if os.access("/usr/share/java/slf4j-simple.jar", os.R_OK):
            classpath += ":/usr/share/java/slf4j-simple.jar"
        node.start([os.environ.get("QUIRE_JAVA", "java"), "-Xmx256m", "-XX:+UseSerialGC",
                    "-XX:TieredStopAtLevel=1", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                    "-Dzookeeper.jmx.log4j.disable=true", "-cp", classpath,
                    "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg])

    def zk_mode(self, node):
        """'leader' or 'follower' from the server's srvr command, None if it does not answer."""
        probe = ("import socket,sys\n"
                 "s=socket.create_connection(('127.0.0.1',2181),1); s.sendall(b'srvr')\n"
                 "s.settimeout(1); print(s.recv(4096).decode(errors='replace'))\n")
        try:
            r = subprocess.run(["ip", "netns", "exec", node.ns, "python3", "-c", probe],
                               capture_output=True, text=True, timeout=5)
        except subprocess.TimeoutExpired:
            return None
        m = re.search(r"Mode: (leader|follower)", r.stdout)
        return m.group(1) if m else None

    def metadata_uri(self):
        return "zk://" + ",".join(f"{n.address}:2181" for n in self.zookeepers) + "/quire"

    # ---- bookies --------------------------------------------------------------------------

    def binary(self, *parts):
        path = os.path.join(self.build_dir, *parts)
        if not os.access(path, os.X_OK):
            raise Failure(f"{path} is not built (tools/chaos/run uses a build, it does not build)")
        return path

    def make_disk(self, name):
        """A small ext4 file system of its own (a loop device over a sparse file): a full disk
        fills this one, not the host's."""
        image = os.path.join(self.run_dir, "disks", f"{name}.img")
        mnt = os.path.join(self.run_dir, "disks", name)
        with open(image, "wb") as f:
            f.truncate(self.disk_mb << 20)
        sh("mkfs.ext4", "-q", "-F", "-m", "0", image)
        os.makedirs(mnt, exist_ok=True)
        sh("mount", "-o", "loop", image, mnt)
        self.mounts.append(mnt)
        for d in ("journal", "ledgers"):
            os.makedirs(os.path.join(mnt, d), exist_ok=True)
        return mnt

    def start_bookies(self):
        bookie_bin = self.binary("src", "bookie", "quire-bookie")
        for i in range(1, self.bookie_count + 1):
            node = self.add_node(f"b{i}", 20 + i)
            node.disk = self.make_disk(node.name)
            node.conf = os.path.join(self.run_dir, "conf", f"{node.name}.conf")
            node.bin = bookie_bin
            with open(node.conf, "w") as f:
                f.write(self.bookie_conf(node))
            self.bookies.append(node)
        # The first one initializes the cluster; the others start together once it serves.
        self.start_bookie(self.bookies[0], init_cluster=True)
        self.wait_bookie_ready(self.bookies[0])
        for node in self.bookies[1:]:
            self.start_bookie(node)
        for node in self.bookies[1:]:
            self.wait_bookie_ready(node)

    def bookie_conf(self, node):
        return "\n".join([
            f"advertisedAddress = {node.address}",
            "bookiePort = 3181",
            "httpServerPort = 8080",
            f"metadataServiceUri = {self.metadata_uri()}",
            f"journalDirectories = {node.disk}/journal",
            f"ledgerDirectories = {node.disk}/ledgers",
            # Faults must be noticed within a run of minutes: short sessions and disk checks.
            "metadataSessionTimeoutMs = 6000",
            "metadataOperationTimeoutMs = 5000",
            "diskCheckIntervalMs = 500",
            # Sized for a 512 MB disk.
            "journalPreAllocSizeMB = 4",
            "journalMaxSizeMB = 64",
            "entryLogSizeLimitMB = 1",  # many entry logs: compaction has work
            "writeCacheMaxSizeMB = 16",
            "readAheadCacheMaxSizeMB = 16",
            "ledgerDirReservedSpaceMB = 8",
            # Garbage collection and compaction every few seconds: the recoverer deletes ledgers,
            # and what a bookie reclaims must never be a live ledger's entry.
            "gcWaitTime = 5000",
            "minorCompactionIntervalMs = 20000",
            "majorCompactionIntervalMs = 60000",
            # Autorecovery runs in every bookie, as in production, racing the workload.
            "autoRecoveryDaemonEnabled = true",
            "lostBookieRecoveryDelay = 10",
            "logLevel = info",
            "",
        ])

    def start_bookie(self, node, init_cluster=False):
        node.ready_offset = os.path.getsize(node.log_path) if os.path.exists(node.log_path) else 0
        argv = [node.bin, "--conf", node.conf] + (["--init-cluster"] if init_cluster else [])
        env = {"QUIRE_TEST_FAULT_SKIP_FENCE": "1"} if self.test_fault == "skip-fence" else None
        node.start(argv, env=env)

    def bookie_ready(self, node):
        """Whether the process started last printed its "ready" line."""
        with open(node.log_path, "rb") as f:
            f.seek(node.ready_offset)
            return b" ready: port " in f.read()

    def wait_bookie_ready(self, node, timeout=90):
        def ready():
            if not node.alive():
                raise Failure(f"bookie {node.name} exited ({node.proc.returncode}): "
                              f"{node.log_tail()}")
            return self.bookie_ready(node)
        wait_until(f"bookie {node.name} serving", ready, timeout)

    # ---- clients ----------------------------------------------------------------------------

    def start_client(self, name, host, role, seed, extra=()):
        node = self.add_node(name, host)
        history = os.path.join(self.run_dir, "history", f"{name}.jsonl")
        node.start([self.binary("tests", "chaos", "quire-chaos-client"), "--role", role,
                    "--name", name, "--metadata", self.metadata_uri(), "--history", history,
                    "--seed", seed, *extra])
        return node

    # ---- teardown -----------------------------------------------------------------------------

    def close(self):
        for node in self.nodes.values():
            try:
                node.kill()
            except Exception:  # noqa: BLE001 - go on removing the rest
                pass
        for mnt in reversed(self.mounts):
            subprocess.run(["umount", "-l", mnt], capture_output=True)
        self.mounts.clear()
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.namespaces.clear()


def cleanup_leftovers():
    """Removes the namespaces and loop mounts of runs that were killed before they could clean
    up (their processes died with them). Only for when no other run is going on."""
    removed = 0
    for line in sh("ip", "netns", "list").splitlines():
        ns = line.split()[0] if line.split() else ""
        if re.fullmatch(rf"{PREFIX}\d+-\w+", ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            removed += 1
    with open("/proc/mounts") as f:
        mounts = [line.split()[1] for line in f]
    for mnt in mounts:
        if re.search(r"/disks/b\d+$", mnt) and os.path.exists(mnt + ".img"):
            subprocess.run(["umount", "-l", mnt], capture_output=True)
            removed += 1
    return removed
