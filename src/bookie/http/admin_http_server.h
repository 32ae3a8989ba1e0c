// The bookie's admin HTTP endpoint (httpServerPort): /metrics, /health/{live,ready},
// /api/v1/bookie/... (info, state, state/readonly, list_bookies, list_ledger, gc, gc_details);
// routes and bodies are in admin_http_routes.h.
//
// The server owns its io_context and runs it on its own threads ("q-http-N"), so a slow scrape
// never delays the bookie protocol's I/O threads. Each connection is one coroutine: read a
// request, answer it, repeat while the client keeps the connection alive.
//
// HTTPS and authentication (docs/security.md, "Admin HTTP"): with options.tls the port speaks
// HTTPS only (TLS 1.2+, the bookie's certificate, the context following rotated files); a
// plaintext request there gets one 400 answer saying so, then the connection closes. Who may call
// what is in admin_http_auth.h.
//
// Defences, since the port may be reachable from outside: request headers are capped at
// max_header_bytes (larger: 431) and bodies at max_body_bytes (larger: 413); after either, or a
// malformed request (400), the connection is closed. A connection that does not complete a
// request within read_timeout (idle keep-alive, or a slowloris trickle) is closed without an
// answer; the same timeout bounds writing an answer to a client that does not read.
//
// Threads: Start(), port() and Stop() may be called from any thread except a "q-http-N" thread
// (Stop() joins them). Handlers run on the "q-http-N" threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "bookie/http/admin_http_auth.h"
#include "bookie/http/admin_http_routes.h"
#include "quire/status.h"

namespace quire {
class ReloadingTlsContext;
}

namespace quire::bookie {

struct AdminHttpOptions {
  std::string bind_address = "0.0.0.0";           // numeric IPv4 or IPv6 address
  uint16_t port = 8080;                           // httpServerPort; 0: any free port (tests)
  size_t threads = 1;                             // "q-http-N" threads
  std::chrono::milliseconds read_timeout{10000};  // to receive a whole request / send an answer
  size_t max_header_bytes = 8 * 1024;             // request line and headers
  size_t max_body_bytes = 8 * 1024;               // PUT /api/v1/bookie/gc takes ~40 bytes
  // HTTPS with this server-side context (TlsSide::kServer, TlsPeerCheck::kIfSent when client
  // certificates count); null: plain HTTP.
  std::shared_ptr<ReloadingTlsContext> tls;
  AdminAuthOptions auth;  // who may call what; default: everyone everything
};

class AdminHttpServer {
 public:
  // Binds, listens and starts the threads. A bind failure is an IOError whose message names the
  // address ("admin HTTP server: cannot listen on 0.0.0.0:8080: Address already in use"); a bad
  // address, thread count or missing handler is InvalidArgument.
  static Result<std::unique_ptr<AdminHttpServer>> Start(const AdminHttpOptions& options,
                                                        AdminHandlers handlers);

  // Stops the server (see Stop()).
  ~AdminHttpServer();
  AdminHttpServer(const AdminHttpServer&) = delete;
  AdminHttpServer& operator=(const AdminHttpServer&) = delete;

  // The bound port (the chosen one when options.port was 0).
  uint16_t port() const;

  // Closes the listening socket and every open connection (an answer being written is cut off),
  // then joins the threads. Returns once no handler runs any more. Idempotent.
  void Stop();

 private:
  struct Impl;  // holds the Asio objects, so that this header does not include Boost
  explicit AdminHttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace quire::bookie
