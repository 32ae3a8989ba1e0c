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
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
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
  // written into the connection's buffer from the shared strings (the writer's add path).
  void SendAdd(const BookieId& bookie, protocol::AddToSend add, std::chrono::milliseconds timeout,
               ResponseFn done);

 private:
  // The bookie's connection, made on first use; once the client is closing, nullptr, with
  // `done` answered kAborted (on the io_context).
  std::shared_ptr<Connection> ConnectionTo(const BookieId& bookie, ResponseFn& done);

  boost::asio::io_context& io_;
  const BookieClientOptions options_;
  Mutex mu_;
  std::map<BookieId, std::shared_ptr<Connection>> connections_ QUIRE_GUARDED_BY(mu_);
  bool closed_ QUIRE_GUARDED_BY(mu_) = false;
};

}  // namespace quire::client
