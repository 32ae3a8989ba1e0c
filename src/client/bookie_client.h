// Connections from a client to bookies: one per bookie, shared by every ledger handle.
//
// Send() frames a request, gives it a request id and a deadline, and calls `done` exactly once:
// with the bookie's response (whatever its status), or with kTimeout (no answer by the deadline),
// kUnavailable (not connected: connection refused or lost, or waiting out a reconnect backoff),
// kUnauthenticated (the TLS handshake failed, or the bookie refused the connection, with the
// reason; docs/security.md) or kAborted (the client is shutting down). Many requests are in
// flight per connection; responses are matched by request id. Requests queued while one write
// is on the wire go out together in the next write, and adds among them as one BATCH_ADD
// (docs/protocol.md): its answer is handed to each add as its own.
//
// A connection that fails fails every request in flight on it, then stays down for a backoff
// (reconnect_backoff_min, doubling up to reconnect_backoff_max) during which requests fail fast;
// the next request after that reconnects. So a dead bookie costs callers one connect timeout,
// not one per request.
//
// Threads: each connection runs on a strand of the client's io_context; `done` runs there and
// must not block. An add that will leave with a write or an answer already under way is queued
// by the calling thread without waking the strand (bookie_client.cc, Connection::SendAdd).
//
// SendAdd's answers go to an AddSink (the writer) rather than to a callback per add: a
// BATCH_ADD's answer reaches each sink once for its adds in the batch, so a writer takes its lock
// and wakes its application's callback thread once for the batch, not once per add.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include "bookie.pb.h"
#include "common/mutex.h"
#include "common/tls_reload.h"
#include "client/add_coalescing.h"
#include "protocol/add_frame.h"
#include "quire/ledger_metadata.h"
#include "quire/status.h"

namespace quire::client {

struct BookieClientOptions {
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds reconnect_backoff_min{100};
  std::chrono::milliseconds reconnect_backoff_max{5'000};
  uint32_t max_frame_size = 64u << 20;  // largest response accepted
  // The bookies' maxFrameSizeBytes: adds batched into one BATCH_ADD stay within it.
  uint32_t max_request_frame_size = 5'242'880;
  // TLS to every bookie when set: the bookie's certificate must verify against the context's CAs
  // and name the host of the bookie id (a DNS or, for an address, an IP subject alt name). Each
  // new connection takes tls->Current(), so changed certificate files apply to new connections.
  std::shared_ptr<ReloadingTlsContext> tls;
  // When adds wait to leave together (add_coalescing.h).
  AddCoalescing coalescing;
};

class Connection;

// How an add sent with SendAdd ended.
struct AddOutcome {
  EntryId entry = 0;
  int tag = 0;  // the sender's, from SendAdd (the writer: the ensemble position)
  // The bookie's answer (OK, or why it refused the add, with its message)...
  proto::Status answer = proto::STATUS_UNSPECIFIED;
  std::string_view message;  // valid during the OnAddOutcomes call
  // ...or, when it did not answer (answer UNSPECIFIED), why: kTimeout, kUnavailable,
  // kUnauthenticated or kAborted, as for Send.
  Status error;

  bool answered() const { return answer != proto::STATUS_UNSPECIFIED; }
  // OK, or the refusal or error, naming the bookie.
  Status ToStatus(const BookieId& bookie) const;
};

// Receives the outcomes of the adds sent to it, each exactly once.
class AddSink {
 public:
  virtual ~AddSink() = default;
  // On a connection's strand; must not block. Consecutive adds of one write to this sink come
  // in one call, in the order they were sent.
  virtual void OnAddOutcomes(const BookieId& bookie, std::span<const AddOutcome> outcomes) = 0;
};

// The status of a bookie's answer, with its message and the bookie's id; OK for OK.
Status AnswerStatus(const BookieId& bookie, proto::Status answer, std::string_view message);

class BookieClient {
 public:
  using ResponseFn = std::function<void(Result<proto::Response>)>;

  BookieClient(boost::asio::io_context& io, BookieClientOptions options);
  // Fails every request in flight with kAborted and closes the connections. The io_context
  // must still be running (or be run afterwards) for that to complete.
  ~BookieClient();
  BookieClient(const BookieClient&) = delete;
  BookieClient& operator=(const BookieClient&) = delete;

  // Sends `request` (its header's operation must be set) to `bookie` ("host:port").
  void Send(const BookieId& bookie, proto::Request request, std::chrono::milliseconds timeout,
            ResponseFn done);
  // Sends an add, as Send would an ADD_ENTRY request, without copying its body or key: they are
  // written into the connection's buffer from the shared strings (the writer's add path). Its
  // outcome goes to `sink` with `tag`. `now` is the caller's reading of the clock, taken once for
  // all the bookies of an add (a clock read per bookie was 1 % of the writer's thread).
  void SendAdd(const BookieId& bookie, protocol::AddToSend add, std::chrono::milliseconds timeout,
               std::shared_ptr<AddSink> sink, int tag,
               std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

 private:
  // The bookie's connection, made on first use; nullptr once the client is closing.
  std::shared_ptr<Connection> ConnectionTo(const BookieId& bookie);

  boost::asio::io_context& io_;
  const BookieClientOptions options_;
  Mutex mu_;
  std::map<BookieId, std::shared_ptr<Connection>> connections_ QUIRE_GUARDED_BY(mu_);
  bool closed_ QUIRE_GUARDED_BY(mu_) = false;
};

}  // namespace quire::client
