// Connections from a client to bookies: one per bookie, shared by every ledger handle.
//
// Send() frames a request, gives it a request id and a deadline, and calls `done` exactly once:
// with the bookie's response (whatever its status), or with kTimeout (no answer by the deadline),
// kUnavailable (not connected: connection refused or lost, or waiting out a reconnect backoff),
// kUnauthenticated (the TLS handshake failed, or the bookie refused the connection, with the
// reason; docs/security.md) or kAborted (the client is shutting down). Many requests are in flight per connection;
// responses are matched by request id. Requests queued while one write is on the wire go out
// together in the next write.
//
// A connection that fails fails every request in flight on it, then stays down for a backoff
// (reconnect_backoff_min, doubling up to reconnect_backoff_max) during which requests fail fast;
// the next request after that reconnects. So a dead bookie costs callers one connect timeout,
// not one per request.
//
// Threads: each connection runs on a strand of the client's io_context; `done` runs there and
// must not block.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include "bookie.pb.h"
#include "common/tls_reload.h"
#include "quire/ledger_metadata.h"
#include "quire/status.h"

namespace quire::client {

struct BookieClientOptions {
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds reconnect_backoff_min{100};
  std::chrono::milliseconds reconnect_backoff_max{5'000};
  uint32_t max_frame_size = 64u << 20;  // largest response accepted
  // TLS to every bookie when set: the bookie's certificate must verify against the context's CAs
  // and name the host of the bookie id (a DNS or, for an address, an IP subject alt name). Each
  // new connection takes tls->Current(), so changed certificate files apply to new connections.
  std::shared_ptr<ReloadingTlsContext> tls;
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

 private:
  std::shared_ptr<Connection> ConnectionTo(const BookieId& bookie);

  boost::asio::io_context& io_;
  const BookieClientOptions options_;
  std::mutex mu_;
  std::map<BookieId, std::shared_ptr<Connection>> connections_;  // guarded by mu_
  bool closed_ = false;                                          // guarded by mu_
};

// Sends make_request(i) to bookies[i] for every i at once and waits for all the answers (each
// bounded by `timeout`): answers[i] is bookies[i]'s. For the slow paths (recovery, LAC reads).
std::vector<Result<proto::Response>> CallAll(
    BookieClient& client, const std::vector<BookieId>& bookies,
    const std::function<proto::Request(size_t)>& make_request, std::chrono::milliseconds timeout);

// The same for requests to any bookies: answers[i] answers requests[i].
std::vector<Result<proto::Response>> CallAll(
    BookieClient& client, std::vector<std::pair<BookieId, proto::Request>> requests,
    std::chrono::milliseconds timeout);

// How adds that a bookie answers TOO_MANY_REQUESTS are sent again: after a pause that doubles
// from `pause` up to `max_pause`, at most `max_retries` times.
struct BusyRetry {
  std::chrono::milliseconds pause;
  std::chrono::milliseconds max_pause;
  int max_retries = 6;

  // The pause before retry number `retry` (0 for the first).
  std::chrono::milliseconds PauseBefore(int retry) const {
    return std::min(pause * (1 << retry), max_pause);
  }
};

// CallAll for the adds of the slow paths (recovery, re-replication). TOO_MANY_REQUESTS is
// back-pressure from a live bookie whose write cache stayed full, not a failure: such requests
// are sent again as `retry` says, as the writer does; every other answer is final. Blocks the
// calling thread for the pauses.
std::vector<Result<proto::Response>> CallAllRetryingBusy(
    BookieClient& client, const std::vector<std::pair<BookieId, proto::Request>>& requests,
    std::chrono::milliseconds timeout, const BusyRetry& retry);

// The requests the client sends in more than one place.
proto::Request ReadEntryRequest(LedgerId ledger, EntryId entry);
proto::Request ReadLacRequest(LedgerId ledger);

// A recovery add of `body` (an entry body exactly as its writer built it): accepted by bookies
// that fenced the ledger. Used by recovery and re-replication.
proto::Request RecoveryAddRequest(LedgerId ledger, EntryId entry, const std::string& master_key,
                                  const std::string& body);

// The status a response carries, with its message; a transport error as is.
Status ResponseStatus(const BookieId& bookie, const Result<proto::Response>& response);

}  // namespace quire::client
