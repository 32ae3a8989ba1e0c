// The bookie's network server: Boost.Asio, frames in, frames out.
//
// Each connection reads frames in a loop (a coroutine on the connection's strand), hands each
// validated request to the RequestProcessor and writes responses as they complete, in any order.
// Many requests may be in flight per connection.
//
// Memory is bounded: a connection stops reading its socket while the bytes of its requests in
// flight plus its responses not yet written exceed maxInflightBytesPerConnection, and every
// connection stops while the server's total exceeds maxInflightBytes; they resume as responses
// drain. A read's answer is far larger than its request and of unknown size until the entry is
// read, so a connection also stops while it has maxReadsInFlightPerConnection reads in flight: its
// memory stays below maxInflightBytesPerConnection plus that many entries. A client that never
// reads its responses therefore only fills its own budget, and its reads cannot crowd the read
// workers' queue for everyone else. A frame
// larger than maxFrameSizeBytes gets a BAD_REQUEST answer and the connection is closed (its
// stream can no longer be trusted), with a warning in the log (rate-limited). Connections idle (nothing read, nothing in flight) for
// connectionIdleTimeoutMs are closed.
//
// Threads: the pool's threads ("q-io-N", run by the owner) do all socket work; nothing here
// blocks them. Each connection stays on one of them (IoContextPool::Next at accept).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "bookie/authorization.h"
#include "bookie/request_processor.h"
#include "common/histogram.h"
#include "common/io_context_pool.h"
#include "common/logging.h"
#include "common/mutex.h"
#include "common/request_metrics.h"
#include "common/tls.h"
#include "common/tls_reload.h"

namespace quire::bookie {

// TLS on the bookie port (docs/security.md); the files are read when the server starts listening,
// and again when they change (ReloadingTlsContext, common/tls_reload.h).
struct ServerTlsOptions {
  bool enabled = false;  // tlsCertificatePath and tlsKeyPath are set
  TlsFiles files;        // tlsCertificatePath, tlsKeyPath, tlsTrustStorePath
  bool required = false;               // tlsRequired: plaintext connections are refused
  bool client_authentication = false;  // tlsClientAuthentication
  std::chrono::seconds refresh{300};   // tlsCertFilesRefreshDurationSeconds; 0: never
};

struct ServerOptions {
  std::string bind_address = "0.0.0.0";
  uint16_t port = 3181;                                     // bookiePort (0: any free port)
  uint32_t max_frame_size = 5u << 20;                       // maxFrameSizeBytes
  uint64_t max_inflight_bytes_per_connection = 64ull << 20; // maxInflightBytesPerConnection
  uint64_t max_inflight_bytes = 512ull << 20;               // maxInflightBytes
  uint64_t max_reads_in_flight_per_connection = 64;         // maxReadsInFlightPerConnection
  std::chrono::milliseconds idle_timeout{600000};           // connectionIdleTimeoutMs
  ServerTlsOptions tls;
  AuthorizationOptions authorization;  // authorized{Write,Read,Admin}Roles
};

// Counters and latencies for /metrics.
struct ServerMetrics {
  std::atomic<uint64_t> connections_open{0}, connections_accepted{0};
  std::atomic<uint64_t> bad_frames{0};
  std::atomic<uint64_t> bytes_read{0}, bytes_written{0};
  std::atomic<uint64_t> inflight_bytes{0};  // requests in flight + responses not yet written
  std::atomic<uint64_t> paused_reads{0};    // times a connection stopped reading (back-pressure)
  std::atomic<uint64_t> tls_handshake_failures{0};
  std::atomic<uint64_t> plaintext_refused{0};  // plaintext connections refused by tlsRequired
  // One read's frames dispatched by a connection, the journal group it may write and sync
  // inline included: the I/O thread's other connections wait that long. Request latency starts
  // when a request is read, so a long turn shows here, not there (nanoseconds).
  Histogram dispatch_ns;
  // Requests answered, by operation and status, with their latency: from the request's last byte
  // read to its response queued for writing. The operations are the protocol's (OperationName),
  // with long polls apart from reads: they wait for the writer by design, and would otherwise
  // hide the reads' latency.
  RequestMetrics requests{RequestMetricsOperations()};
  static std::vector<std::string> RequestMetricsOperations();
};

class Connection;

class BookieServer {
 public:
  // Binds and listens on the pool's first context (the caller runs the pool's threads);
  // connections wait in the backlog until StartAccepting(). Listening first tells the port
  // (bookiePort 0) and finds a port in use before anything else is done.
  static Result<std::unique_ptr<BookieServer>> Listen(IoContextPool* io,
                                                      const ServerOptions& options);
  ~BookieServer();

  // Starts serving connections with `processor` (which must outlive the server).
  void StartAccepting(RequestProcessor* processor);
  uint16_t port() const { return port_; }
  // Closes the listening socket; open connections go on.
  void StopAccepting();
  // Waits up to `drain` for every in-flight request to be answered and written, then closes all
  // connections. Call after StopAccepting().
  void Shutdown(std::chrono::milliseconds drain);

  ServerMetrics& metrics() { return metrics_; }
  const ServerOptions& options() const { return options_; }

 private:
  friend class Connection;
  BookieServer(IoContextPool* io, const ServerOptions& options);
  void Accept();
  void Forget(Connection* c);
  // Global back-pressure bookkeeping, called by connections.
  bool OverGlobalLimit() const;
  void Park(const std::shared_ptr<Connection>& c);
  void ResumeParked();

  IoContextPool* io_;
  const ServerOptions options_;
  RequestProcessor* processor_ = nullptr;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<ReloadingTlsContext> tls_context_;  // null: no TLS
  const Authorizer authorizer_;
  uint16_t port_ = 0;
  ServerMetrics metrics_;
  // Why a connection was closed on a bad frame goes to the log, but at most every 10 s: a client
  // can send such frames as fast as it can connect.
  LogLimiter bad_frame_log_{std::chrono::seconds(10)};
  LogLimiter unauthorized_log_{std::chrono::seconds(10)};  // refused requests, the same way

  Mutex mu_;
  std::set<std::shared_ptr<Connection>> connections_ QUIRE_GUARDED_BY(mu_);
  std::set<std::shared_ptr<Connection>> parked_ QUIRE_GUARDED_BY(mu_);  // waiting for room
};

}  // namespace quire::bookie
