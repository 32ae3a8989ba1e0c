package quire.compare;

import java.util.Arrays;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * The load driver of bench/compare for the Java systems (BookKeeper, ZooKeeper, etcd). It
 * measures what quire-bench write measures, the same way (src/cli/bench_writer.h), so that the
 * figures of the systems compare:
 *
 * <ul>
 *   <li>One writer thread. Closed loop (no --rate): it keeps --outstanding adds in flight;
 *       latency counts from the send. Open loop (--rate R): add i is due at t0 + i/R; the thread
 *       sleeps until then, takes one of the --outstanding slots (waiting while the system pushes
 *       back) and sends; latency counts from the due time, so a stall shows in every add it
 *       delayed (no coordinated omission).
 *   <li>Adds due (open) or sent (closed) during --warmup are not measured; those of the next
 *       --duration seconds are. Throughput = measured adds that succeeded / --duration.
 *   <li>An add that starts more than 1 ms after it was due is counted as started late; one due in
 *       the window that had not started 1 s after its end, as missed.
 *   <li>The first failed add ends the run (a BookKeeper ledger handle is unusable after one).
 * </ul>
 *
 * Progress lines on stderr have quire-bench's shape, "[   1.0s warm-up] ...", which bench/compare
 * reads to learn when the load started. The JSON on stdout (one line) has quire-bench's
 * "results" keys.
 */
public final class Driver {
  static final long LATE_NANOS = 1_000_000L;
  static final long MISSED_NANOS = 1_000_000_000L;
  static final long DRAIN_NANOS = 30_000_000_000L;

  private final Options o;
  private final Target target;
  private final Semaphore slots;
  private final Histogram latency = new ConcurrentHistogram(3); // measured adds, ns
  private final Recorder interval = new Recorder(3); // every success, for the progress line
  private final AtomicLong acked = new AtomicLong();
  private final AtomicLong measuredOk = new AtomicLong();
  private final AtomicLong errors = new AtomicLong();
  private final AtomicLong late = new AtomicLong();
  private final AtomicReference<String> firstError = new AtomicReference<>();
  private volatile boolean failed = false;
  private long missed = 0;
  private long t0;
  private long measureFrom;
  private long end;

  private Driver(Options o, Target target) {
    this.o = o;
    this.target = target;
    this.slots = new Semaphore(o.outstanding);
  }

  public static void main(String[] args) {
    Options o = Options.parse(args);
    int code;
    try (Target target = open(o)) {
      Driver d = new Driver(o, target);
      d.run();
      System.out.println(d.toJson());
      code = d.errors.get() > 0 ? 1 : 0;
    } catch (Exception e) {
      System.err.println("driver: " + o.system + " at " + o.target + ": " + e);
      e.printStackTrace();
      code = 1;
    }
    System.out.flush();
    // Client libraries leave non-daemon threads behind.
    Runtime.getRuntime().halt(code);
  }

  private static Target open(Options o) throws Exception {
    return switch (o.system) {
      case "bookkeeper" -> BookKeeperTarget.open(o);
      case "zookeeper" -> ZooKeeperTarget.open(o);
      default -> EtcdTarget.open(o);
    };
  }

  private void run() throws InterruptedException {
    byte[] payload = new byte[o.size];
    Arrays.fill(payload, (byte) 'q');
    boolean open = o.rate > 0;
    double periodNanos = open ? 1e9 / o.rate : 0;
    t0 = System.nanoTime();
    measureFrom = t0 + (long) (o.warmup * 1e9);
    end = measureFrom + (long) (o.duration * 1e9);
    Thread progress = new Thread(this::reportProgress, "progress");
    progress.setDaemon(true);
    progress.start();

    long seq = 0;
    for (; ; seq++) {
      long due = 0;
      if (open) {
        due = t0 + (long) (seq * periodNanos);
        if (due >= end) break;
        sleepUntil(due);
      }
      if (!takeSlot()) break;
      long start = System.nanoTime();
      // Closed loop: the window is over. Open loop: this add could not start within 1 s of the
      // end; it and the rest of the schedule are missed.
      if (start >= (open ? end + MISSED_NANOS : end)) {
        slots.release();
        break;
      }
      if (!open) due = start;
      final long intended = due;
      final boolean measured = intended >= measureFrom;
      if (measured && start > intended + LATE_NANOS) late.incrementAndGet();
      target.append(payload, error -> completed(intended, measured, error));
    }
    if (open && !failed) {
      for (; t0 + (long) (seq * periodNanos) < end; seq++) {
        if (t0 + (long) (seq * periodNanos) >= measureFrom) missed++;
      }
    }
    // Wait for the adds in flight; any still out after 30 s count as failed.
    if (!slots.tryAcquire(o.outstanding, DRAIN_NANOS, TimeUnit.NANOSECONDS)) {
      int stuck = o.outstanding - slots.availablePermits();
      errors.addAndGet(stuck);
      firstError.compareAndSet(null, stuck + " adds not acknowledged 30 s after the run");
    }
  }

  private void completed(long intended, boolean measured, Throwable error) {
    long now = System.nanoTime();
    if (error == null) {
      acked.incrementAndGet();
      interval.recordValue(Math.max(0, now - intended));
      if (measured) {
        latency.recordValue(Math.max(0, now - intended));
        measuredOk.incrementAndGet();
      }
    } else {
      errors.incrementAndGet();
      firstError.compareAndSet(null, error.toString());
      failed = true;
    }
    slots.release();
  }

  private boolean takeSlot() throws InterruptedException {
    while (!failed) {
      if (slots.tryAcquire(100, TimeUnit.MILLISECONDS)) return true;
    }
    return false;
  }

  // A due add goes out without a system call; otherwise park (about 50-100 µs of slack here).
  private static void sleepUntil(long due) {
    long wait;
    while ((wait = due - System.nanoTime()) > 0) LockSupport.parkNanos(wait);
  }

  private void reportProgress() {
    long step = (long) (o.reportInterval * 1e9);
    long last = t0;
    long lastAcked = 0;
    for (long next = t0 + step; ; next += step) {
      long wait;
      while ((wait = next - System.nanoTime()) > 0) LockSupport.parkNanos(wait);
      long now = System.nanoTime();
      String phase = now < measureFrom ? "warm-up" : now < end ? "measure" : "drain";
      long a = acked.get();
      Histogram h = interval.getIntervalHistogram();
      double perS = (a - lastAcked) / ((now - last) / 1e9);
      System.err.printf(
          "[%7.1fs %-7s] adds/s %9.0f  p50 %7.2f ms  p99 %7.2f ms  in flight %5d  errors %d%n",
          (now - t0) / 1e9, phase, perS, h.getValueAtPercentile(50) / 1e6,
          h.getValueAtPercentile(99) / 1e6, o.outstanding - slots.availablePermits(), errors.get());
      last = now;
      lastAcked = a;
    }
  }

  private String toJson() {
    double seconds = (end - measureFrom) / 1e9;
    long ok = measuredOk.get();
    double perS = ok / seconds;
    Histogram h = latency;
    String lat =
        String.format(
            "{\"count\": %d, \"mean\": %.1f, \"p50\": %.1f, \"p95\": %.1f, \"p99\": %.1f, "
                + "\"p999\": %.1f, \"max\": %.1f}",
            h.getTotalCount(), h.getMean() / 1e3, h.getValueAtPercentile(50) / 1e3,
            h.getValueAtPercentile(95) / 1e3, h.getValueAtPercentile(99) / 1e3,
            h.getValueAtPercentile(99.9) / 1e3, h.getMaxValue() / 1e3);
    String error = firstError.get();
    return String.format(
        "{\"system\": %s, \"target\": %s, \"written_to\": %s, "
            + "\"parameters\": {\"mode\": %s, \"rate\": %s, \"outstanding\": %d, "
            + "\"entry_size\": %d, \"duration_s\": %s, \"warmup_s\": %s, \"ensemble\": %d, "
            + "\"write_quorum\": %d, \"ack_quorum\": %d}, "
            + "\"results\": {\"adds\": %d, \"adds_total\": %d, \"seconds\": %.3f, "
            + "\"adds_per_s\": %.1f, \"mb_per_s\": %.3f, \"errors\": %d, \"late_starts\": %d, "
            + "\"missed\": %d, \"latency_us\": %s, \"latency_from\": %s, \"first_error\": %s}}",
        quote(o.system), quote(o.target), quote(target.describe()),
        quote(o.rate > 0 ? "fixed-rate" : "max-throughput"),
        o.rate > 0 ? String.valueOf(o.rate) : "null", o.outstanding, o.size,
        String.valueOf(o.duration), String.valueOf(o.warmup), o.ensemble, o.writeQuorum,
        o.ackQuorum, ok, acked.get(), seconds, perS, perS * o.size / 1e6, errors.get(),
        late.get(), missed, lat, quote(o.rate > 0 ? "intended start" : "send"),
        error == null ? "null" : quote(error));
  }

  private static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        default -> {
          if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
          else b.append(c);
        }
      }
    }
    return b.append('"').toString();
  }
}
