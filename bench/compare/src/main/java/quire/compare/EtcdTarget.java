package quire.compare;

import com.google.protobuf.ByteString;
import io.etcd.jetcd.api.KVGrpc;
import io.etcd.jetcd.api.PutRequest;
import io.etcd.jetcd.api.PutResponse;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.TimeUnit;

/**
 * etcd as a reference for a durable replicated write: asynchronous Put of the payload on 1,024
 * keys in turn, over one gRPC channel to the first endpoint given (a follower forwards the
 * proposal to the leader; each Put is committed by a quorum's fsync'd WAL before it is
 * acknowledged).
 */
final class EtcdTarget implements Target {
  static final int KEYS = 1024;
  private final ManagedChannel channel;
  private final KVGrpc.KVStub kv;
  private final ByteString[] keys = new ByteString[KEYS];
  private byte[] lastPayload; // the loop sends one array over and over: convert it once
  private ByteString value;
  private long next = 0; // only the load loop's thread appends

  private EtcdTarget(ManagedChannel channel) {
    this.channel = channel;
    this.kv = KVGrpc.newStub(channel);
    for (int i = 0; i < KEYS; i++) keys[i] = ByteString.copyFromUtf8("compare/k" + i);
  }

  /** endpoints: host:port[,host:port...]; the first one is used. */
  static EtcdTarget open(Options o) {
    String endpoint = o.target.split(",")[0];
    // directExecutor: completions run on the transport's thread, as gRPC's performance guide
    // recommends for cheap callbacks, instead of one thread hand-off per call.
    return new EtcdTarget(
        NettyChannelBuilder.forTarget(endpoint).usePlaintext().directExecutor().build());
  }

  @Override
  public void append(byte[] payload, Completion done) {
    if (payload != lastPayload) {
      lastPayload = payload;
      value = ByteString.copyFrom(payload);
    }
    PutRequest request =
        PutRequest.newBuilder().setKey(keys[(int) (next++ % KEYS)]).setValue(value).build();
    kv.put(
        request,
        new StreamObserver<PutResponse>() {
          @Override
          public void onNext(PutResponse response) {}

          @Override
          public void onError(Throwable t) {
            done.done(t);
          }

          @Override
          public void onCompleted() {
            done.done(null);
          }
        });
  }

  @Override
  public String describe() {
    return KEYS + " keys under compare/";
  }

  @Override
  public void close() throws Exception {
    channel.shutdown().awaitTermination(10, TimeUnit.SECONDS);
  }
}
