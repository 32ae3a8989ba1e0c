package quire.compare;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;

/**
 * ZooKeeper as a reference for a durable replicated write: asynchronous setData of the payload on
 * 1,024 znodes in turn (bounded memory, unlike one znode per write; each setData is one
 * transaction, logged and fsync'd by a quorum before it is acknowledged), on one session.
 */
final class ZooKeeperTarget implements Target {
  static final int KEYS = 1024;
  private final ZooKeeper zk;
  private final String[] paths = new String[KEYS];
  private long next = 0; // only the load loop's thread appends

  private ZooKeeperTarget(ZooKeeper zk) {
    this.zk = zk;
  }

  /** connectString: host:port,host:port,... */
  static ZooKeeperTarget open(Options o) throws Exception {
    CountDownLatch connected = new CountDownLatch(1);
    ZooKeeper zk =
        new ZooKeeper(
            o.target,
            30_000,
            event -> {
              if (event.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
              }
            });
    if (!connected.await(60, TimeUnit.SECONDS)) {
      zk.close();
      throw new IllegalStateException("no ZooKeeper session with " + o.target + " within 60 s");
    }
    ZooKeeperTarget t = new ZooKeeperTarget(zk);
    t.createIfMissing("/compare");
    for (int i = 0; i < KEYS; i++) {
      t.paths[i] = "/compare/k" + i;
      t.createIfMissing(t.paths[i]);
    }
    return t;
  }

  private void createIfMissing(String path) throws Exception {
    try {
      zk.create(path, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
    } catch (KeeperException.NodeExistsException e) {
      // from an earlier run on the same ensemble
    }
  }

  @Override
  public void append(byte[] payload, Completion done) {
    String path = paths[(int) (next++ % KEYS)];
    zk.setData(
        path,
        payload,
        -1,
        (rc, p, ctx, stat) ->
            done.done(
                rc == KeeperException.Code.OK.intValue()
                    ? null
                    : KeeperException.create(KeeperException.Code.get(rc), p)),
        null);
  }

  @Override
  public String describe() {
    return KEYS + " znodes under /compare";
  }

  @Override
  public void close() throws Exception {
    zk.close();
  }
}
