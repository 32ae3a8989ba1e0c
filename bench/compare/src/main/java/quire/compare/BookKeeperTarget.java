package quire.compare;

import java.nio.charset.StandardCharsets;
import org.apache.bookkeeper.client.BKException;
import org.apache.bookkeeper.client.BookKeeper;
import org.apache.bookkeeper.client.BookKeeper.DigestType;
import org.apache.bookkeeper.client.LedgerHandle;
import org.apache.bookkeeper.conf.ClientConfiguration;

/**
 * Apache BookKeeper: one ledger (E/Qw/Qa as given, CRC32C digests), written with asyncAddEntry.
 * The client uses the v2 wire protocol, as Pulsar's brokers do by default
 * (bookkeeperUseV2WireProtocol=true), and its throttle is off: by default (throttle=5000) every
 * ledger handle passes its adds through a 5,000 adds/s rate limiter, which would cap the maximum
 * at 5,000 whatever the bookies can do; the driver bounds adds in flight itself, as quire-bench
 * does. And delayEnsembleChange is on: when a write to one bookie fails after the add already has
 * its ack quorum (here when a bookie holds adds back while its write cache flushes), the client
 * by default replaces that bookie at once; with E equal to the number of bookies there is none to
 * replace it with, so the ledger fails (measured: BKNotEnoughBookiesException 26 s into the
 * closed loop, twice). With the option the change waits until the ack quorum itself is broken;
 * every add is still acknowledged by Qa fsync'd journals. Every other client setting is
 * BookKeeper's default.
 */
final class BookKeeperTarget implements Target {
  private final BookKeeper bk;
  private final LedgerHandle ledger;

  private BookKeeperTarget(BookKeeper bk, LedgerHandle ledger) {
    this.bk = bk;
    this.ledger = ledger;
  }

  /** metadataServiceUri: zk://host:port/ledgers. Waits up to 60 s for enough bookies. */
  static BookKeeperTarget open(Options o) throws Exception {
    ClientConfiguration conf = new ClientConfiguration();
    conf.setMetadataServiceUri(o.target);
    conf.setUseV2WireProtocol(true);
    conf.setThrottleValue(0);
    conf.setDelayEnsembleChange(true);
    BookKeeper bk = new BookKeeper(conf);
    byte[] password = "compare".getBytes(StandardCharsets.UTF_8);
    long deadline = System.nanoTime() + 60_000_000_000L;
    while (true) {
      try {
        LedgerHandle ledger =
            bk.createLedger(o.ensemble, o.writeQuorum, o.ackQuorum, DigestType.CRC32C, password);
        return new BookKeeperTarget(bk, ledger);
      } catch (BKException.BKNotEnoughBookiesException e) {
        // The bookies register in ZooKeeper a moment after they listen.
        if (System.nanoTime() > deadline) {
          bk.close();
          throw e;
        }
        Thread.sleep(200);
      }
    }
  }

  @Override
  public void append(byte[] payload, Completion done) {
    ledger.asyncAddEntry(
        payload,
        (rc, lh, entryId, ctx) -> done.done(rc == BKException.Code.OK ? null : BKException.create(rc)),
        null);
  }

  @Override
  public String describe() {
    return "ledger " + ledger.getId();
  }

  @Override
  public void close() throws Exception {
    try {
      ledger.close();
    } finally {
      bk.close();
    }
  }
}
