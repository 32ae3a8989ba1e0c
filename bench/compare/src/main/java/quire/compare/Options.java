package quire.compare;

/** The driver's command line; the same options, defaults and meaning as quire-bench write's. */
final class Options {
  String system; // bookkeeper, zookeeper or etcd
  String target; // what to connect to (see each Target's open)
  double rate = 0; // adds/s; 0: closed loop
  int outstanding = 1000;
  int size = 1024;
  double duration = 10;
  double warmup = 2;
  double reportInterval = 1;
  int ensemble = 3;
  int writeQuorum = 3;
  int ackQuorum = 2;

  static final String USAGE =
      "usage: java quire.compare.Driver --system bookkeeper|zookeeper|etcd --target WHERE\n"
          + "         [--rate ADDS_PER_S] [--outstanding N] [--size BYTES] [--duration S]\n"
          + "         [--warmup S] [--report-interval S] [--ensemble E] [--write-quorum QW]\n"
          + "         [--ack-quorum QA]\n"
          + "  --target: bookkeeper: zk://host:port/ledgers; zookeeper: host:port,...;\n"
          + "            etcd: host:port (of one member)\n"
          + "  Without --rate: closed loop, --outstanding adds in flight, latency from the send.\n"
          + "  With --rate: open loop, add i due at t0 + i/rate, latency from when it was due.\n"
          + "  Prints progress on stderr and one JSON document on stdout.\n"
          + "  Exit codes: 0 ok, 1 errors (a failed add, a failed start), 2 usage.";

  static Options parse(String[] args) {
    Options o = new Options();
    for (int i = 0; i < args.length; i++) {
      String flag = args[i];
      if (flag.equals("--help") || flag.equals("-h")) {
        System.out.println(USAGE);
        System.exit(0);
      }
      if (i + 1 >= args.length) usage("missing value for " + flag);
      String v = args[++i];
      try {
        switch (flag) {
          case "--system" -> o.system = v;
          case "--target" -> o.target = v;
          case "--rate" -> o.rate = Double.parseDouble(v);
          case "--outstanding" -> o.outstanding = Integer.parseInt(v);
          case "--size" -> o.size = Integer.parseInt(v);
          case "--duration" -> o.duration = Double.parseDouble(v);
          case "--warmup" -> o.warmup = Double.parseDouble(v);
          case "--report-interval" -> o.reportInterval = Double.parseDouble(v);
          case "--ensemble" -> o.ensemble = Integer.parseInt(v);
          case "--write-quorum" -> o.writeQuorum = Integer.parseInt(v);
          case "--ack-quorum" -> o.ackQuorum = Integer.parseInt(v);
          default -> usage("unknown option " + flag);
        }
      } catch (NumberFormatException e) {
        usage("bad number for " + flag + ": " + v);
      }
    }
    if (o.system == null || o.target == null) usage("--system and --target are required");
    if (!o.system.matches("bookkeeper|zookeeper|etcd")) usage("unknown system " + o.system);
    if (o.rate < 0 || o.outstanding < 1 || o.size < 1 || o.duration <= 0 || o.warmup < 0
        || o.reportInterval <= 0) {
      usage("--rate and --warmup must be >= 0; --outstanding, --size, --duration and "
          + "--report-interval > 0");
    }
    return o;
  }

  private static void usage(String problem) {
    System.err.println("driver: " + problem + "\n" + USAGE);
    System.exit(2);
  }
}
