package quire.compare;

/**
 * One system under test, as the load loop sees it: a durable replicated write of one payload.
 *
 * <p>{@link #append} is called from the load loop's single thread; {@code done} runs once per
 * append, on the client library's own thread, when the write is acknowledged as durable (error
 * null) or has failed.
 */
interface Target extends AutoCloseable {
  interface Completion {
    void done(Throwable error);
  }

  void append(byte[] payload, Completion done);

  /** What was written to, for the report: "ledger 7", "1024 znodes under /compare". */
  String describe();

  @Override
  void close() throws Exception;
}
