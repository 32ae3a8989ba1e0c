#include "bookie/http/admin_http_server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/http.hpp>
#include <exception>
#include <nlohmann/json.hpp>  // complete for the handlers' Result<json>
#include <optional>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/logging.h"
#include "common/mutex.h"
#include "common/tls.h"
#include "common/tls_reload.h"

namespace quire::bookie {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
namespace ssl = asio::ssl;
using TlsStream = ssl::stream<beast::tcp_stream&>;

// Every I/O result comes back as (error_code, ...): errors are values here, never exceptions.
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// After refusing a request we read at most this much of what the client still sends.
constexpr size_t kMaxLingerBytes = 64 * 1024;

std::string FormatEndpoint(const asio::ip::address& addr, uint16_t port) {
  return addr.is_v6() ? fmt::format("[{}]:{}", addr.to_string(), port)
                      : fmt::format("{}:{}", addr.to_string(), port);
}

std::string PeerOf(const beast::tcp_stream& stream) {
  beast::error_code ec;
  tcp::endpoint ep = stream.socket().remote_endpoint(ec);
  return ec ? std::string("?") : FormatEndpoint(ep.address(), ep.port());
}

// What to answer a request that failed to parse, or nothing when the connection just ended
// (EOF, timeout, reset, Stop()).
std::optional<AdminResponse> RefusalFor(const beast::error_code& ec) {
  if (ec == http::error::header_limit) return AdminError(431, "request header fields too large");
  if (ec == http::error::body_limit) return AdminError(413, "request body too large");
  if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
      ec != http::error::end_of_stream && ec != http::error::partial_message) {
    return AdminError(400, fmt::format("malformed request: {}", ec.message()));
  }
  return std::nullopt;
}

}  // namespace

struct AdminHttpServer::Impl {
  Impl(AdminHttpOptions o, AdminHandlers h)
      : options(std::move(o)), handlers(std::move(h)), acceptor(asio::make_strand(ioc)) {}

  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> Serve(std::shared_ptr<beast::tcp_stream> stream, uint64_t id);
  // The plaintext connection `raw`'s TLS handshake (its first bytes already in `buffer`), its
  // requests, and TLS's closing.
  asio::awaitable<void> ServeTls(beast::tcp_stream& raw, beast::flat_buffer& buffer,
                                 const std::string& peer);
  // Requests on `stream` (`raw` or a TLS stream over it) while the client keeps the connection
  // alive; true when unread request bytes may follow (the answer was a refusal).
  template <typename Stream>
  asio::awaitable<bool> ServeRequests(Stream& stream, beast::tcp_stream& raw,
                                      beast::flat_buffer& buffer, const std::string& peer,
                                      bool verified_certificate);
  template <typename Stream>
  asio::awaitable<bool> Write(Stream& stream, beast::tcp_stream& raw, AdminResponse r,
                              unsigned version, bool keep_alive, bool head);
  asio::awaitable<void> Close(beast::tcp_stream& stream, bool linger);
  void Run();
  void Stop();

  const AdminHttpOptions options;
  const AdminHandlers handlers;
  asio::io_context ioc;
  tcp::acceptor acceptor;  // used on its own strand once the threads run
  std::string address;     // "0.0.0.0:8080", for logs
  uint16_t port = 0;
  std::vector<std::thread> threads;

  Mutex stop_mu;  // serialises Stop()
  bool stopped QUIRE_GUARDED_BY(stop_mu) = false;

  Mutex mu;
  bool stopping QUIRE_GUARDED_BY(mu) = false;  // no connection is registered once it is set
  uint64_t next_id QUIRE_GUARDED_BY(mu) = 0;
  // Open connections, so that Stop() can close them.
  std::unordered_map<uint64_t, std::weak_ptr<beast::tcp_stream>> connections QUIRE_GUARDED_BY(mu);
};

void AdminHttpServer::Impl::Run() {
  // Handlers catch their own errors; this only keeps a surprise from ending the thread silently.
  for (;;) {
    try {
      ioc.run();
      return;
    } catch (const std::exception& e) {
      spdlog::error("admin HTTP server {}: unexpected exception: {}", address, e.what());
    }
  }
}

asio::awaitable<void> AdminHttpServer::Impl::AcceptLoop() {
  for (;;) {
    // Each connection gets its own strand, so that Stop() can close it from any thread.
    auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), kNoThrow);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // E.g. EMFILE: the connection stays queued, so pause rather than spin on the same error.
      spdlog::warn("admin HTTP server {}: accept failed: {}", address, ec.message());
      asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(100));
      co_await pause.async_wait(kNoThrow);
      continue;
    }
    auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
    uint64_t id = 0;
    bool refused = false;
    {
      MutexLock lock(mu);
      refused = stopping;
      if (!refused) {
        id = next_id++;
        connections.emplace(id, stream);
      }
    }
    if (refused) co_return;  // Stop() began; dropping `stream` closes the socket
    asio::co_spawn(stream->get_executor(), Serve(stream, id), asio::detached);
  }
}

asio::awaitable<void> AdminHttpServer::Impl::Serve(std::shared_ptr<beast::tcp_stream> stream,
                                                   uint64_t id) {
  const std::string peer = PeerOf(*stream);
  beast::flat_buffer buffer;  // persists across requests: it may hold a pipelined next one
  bool linger = false;
  if (!options.tls) {
    linger = co_await ServeRequests(*stream, *stream, buffer, peer, false);
  } else {
    // The first bytes tell a TLS ClientHello from a plaintext request; they stay in `buffer`.
    stream->expires_after(options.read_timeout);
    auto [ec, is_tls] = co_await beast::async_detect_ssl(*stream, buffer, kNoThrow);
    if (ec) {
      spdlog::debug("admin HTTP {}: closing: {}", peer, ec.message());
    } else if (is_tls) {
      co_await ServeTls(*stream, buffer, peer);
    } else {
      spdlog::debug("admin HTTP {}: plaintext request on the HTTPS port refused", peer);
      co_await Write(*stream, *stream,
                     AdminError(400, "this admin endpoint speaks HTTPS only (the bookie has TLS "
                                     "configured): use https://"),
                     11, /*keep_alive=*/false, /*head=*/false);
      linger = true;
    }
  }
  co_await Close(*stream, linger);
  MutexLock lock(mu);
  connections.erase(id);
}

asio::awaitable<void> AdminHttpServer::Impl::ServeTls(beast::tcp_stream& raw,
                                                      beast::flat_buffer& buffer,
                                                      const std::string& peer) {
  // The context current now (rotated files included) serves this connection to its end.
  std::shared_ptr<ssl::context> context = options.tls->Current();
  TlsStream tls(raw, *context);
  raw.expires_after(options.read_timeout);
  auto [ec, used] =
      co_await tls.async_handshake(ssl::stream_base::server, buffer.data(), kNoThrow);
  if (ec) {
    spdlog::warn("admin HTTP {}: TLS handshake failed: {}", peer,
                 TlsErrorReason(ec, SSL_get_verify_result(tls.native_handle())));
    co_return;
  }
  buffer.consume(used);
  // With TlsPeerCheck::kIfSent a certificate that was sent has been verified, or the handshake
  // failed; the verify result is checked again so that no other peer check can slip through.
  X509* cert = SSL_get1_peer_certificate(tls.native_handle());
  bool verified = cert != nullptr && SSL_get_verify_result(tls.native_handle()) == X509_V_OK;
  X509_free(cert);
  co_await ServeRequests(tls, raw, buffer, peer, verified);
  // TLS's close_notify, bounded like every other step; a peer that does not answer is cut off.
  raw.expires_after(
      std::min<std::chrono::milliseconds>(options.read_timeout, std::chrono::seconds(2)));
  co_await tls.async_shutdown(kNoThrow);
}

template <typename Stream>
asio::awaitable<bool> AdminHttpServer::Impl::ServeRequests(Stream& stream, beast::tcp_stream& raw,
                                                           beast::flat_buffer& buffer,
                                                           const std::string& peer,
                                                           bool verified_certificate) {
  for (bool keep_alive = true; keep_alive;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(options.max_header_bytes));
    parser.body_limit(options.max_body_bytes);
    raw.expires_after(options.read_timeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, kNoThrow);
    if (ec) {
      std::optional<AdminResponse> refusal = RefusalFor(ec);
      if (!refusal) {
        spdlog::debug("admin HTTP {}: closing: {}", peer, ec.message());
        co_return false;
      }
      spdlog::debug("admin HTTP {}: refused ({}): {}", peer, refusal->status, ec.message());
      co_await Write(stream, raw, std::move(*refusal), 11, /*keep_alive=*/false, /*head=*/false);
      co_return true;  // unread request bytes may follow
    }
    const auto& req = parser.get();
    AdminCaller caller{verified_certificate, req[http::field::authorization]};
    std::optional<AdminResponse> refused =
        RefuseUnauthenticated(options.auth, req.method_string(), req.target(), caller);
    AdminResponse r = refused ? std::move(*refused)
                              : RouteAdminRequest(req.method_string(), req.target(), req.body(),
                                                  handlers);
    if (refused) {
      spdlog::warn("admin HTTP {}: {} {} refused: not authenticated", peer,
                   std::string_view(req.method_string()), std::string_view(req.target()));
    }
    spdlog::debug("admin HTTP {} {} {} -> {}", peer, std::string_view(req.method_string()),
                  std::string_view(req.target()), r.status);
    keep_alive = req.keep_alive();
    bool head = req.method() == http::verb::head;
    if (!co_await Write(stream, raw, std::move(r), req.version(), keep_alive, head)) break;
  }
  co_return false;
}

template <typename Stream>
asio::awaitable<bool> AdminHttpServer::Impl::Write(Stream& stream, beast::tcp_stream& raw,
                                                   AdminResponse r, unsigned version,
                                                   bool keep_alive, bool head) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "quire-bookie");
  res.set(http::field::content_type, r.content_type);
  if (!r.allow.empty()) res.set(http::field::allow, r.allow);
  if (!r.www_authenticate.empty()) res.set(http::field::www_authenticate, r.www_authenticate);
  res.keep_alive(keep_alive);
  // A HEAD answer announces the GET body's length but carries no body.
  res.content_length(r.body.size());
  if (!head) res.body() = std::move(r.body);
  raw.expires_after(options.read_timeout);  // a client that does not read is dropped, too
  auto [ec, n] = co_await http::async_write(stream, res, kNoThrow);
  co_return !ec;
}

asio::awaitable<void> AdminHttpServer::Impl::Close(beast::tcp_stream& stream, bool linger) {
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  if (linger) {
    // Closing with unread input makes the kernel send a reset, which can destroy our answer
    // before the client reads it; drain first, bounded in bytes and time.
    stream.expires_after(
        std::min<std::chrono::milliseconds>(options.read_timeout, std::chrono::seconds(2)));
    std::array<char, 4096> sink;
    for (size_t drained = 0; drained < kMaxLingerBytes;) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), kNoThrow);
      if (ec) break;
      drained += n;
    }
  }
  stream.close();
}

void AdminHttpServer::Impl::Stop() {
  MutexLock stop_lock(stop_mu);
  if (stopped) return;
  stopped = true;
  std::vector<std::shared_ptr<beast::tcp_stream>> open;
  {
    MutexLock lock(mu);
    stopping = true;
    for (auto& [id, weak] : connections) {
      if (auto s = weak.lock()) open.push_back(std::move(s));
    }
  }
  // Closing on each object's own strand: the coroutines use them there. Their pending reads and
  // writes then fail, the coroutines end, and run() returns on every thread for lack of work.
  asio::post(acceptor.get_executor(), [this] {
    beast::error_code ignored;
    acceptor.close(ignored);
  });
  for (auto& s : open) {
    asio::post(s->get_executor(), [s] {
      beast::error_code ignored;
      s->socket().shutdown(tcp::socket::shutdown_both, ignored);
      s->close();
    });
  }
  open.clear();
  for (std::thread& t : threads) t.join();
  spdlog::info("admin HTTP server {} stopped", address);
}

Result<std::unique_ptr<AdminHttpServer>> AdminHttpServer::Start(const AdminHttpOptions& options,
                                                                AdminHandlers handlers) {
  if (!handlers.metrics_text || !handlers.info || !handlers.state || !handlers.ready ||
      !handlers.read_only || !handlers.set_read_only || !handlers.list_bookies ||
      !handlers.list_ledgers || !handlers.trigger_gc || !handlers.gc_state ||
      !handlers.gc_details || !handlers.suspend_compaction || !handlers.compaction_suspension) {
    return InvalidArgument(
        "admin HTTP server: every handler (metrics_text, info, state, ready, read_only, "
        "set_read_only, list_bookies, list_ledgers, trigger_gc, gc_state, gc_details, "
        "suspend_compaction, compaction_suspension) is required");
  }
  if (options.threads == 0) return InvalidArgument("admin HTTP server: threads must be >= 1");
  beast::error_code ec;
  asio::ip::address addr = asio::ip::make_address(options.bind_address, ec);
  if (ec) {
    return InvalidArgument(fmt::format("admin HTTP server: invalid bind address '{}': {}",
                                       options.bind_address, ec.message()));
  }
  auto impl = std::make_unique<Impl>(options, std::move(handlers));
  tcp::endpoint endpoint(addr, options.port);
  tcp::acceptor& a = impl->acceptor;
  a.open(endpoint.protocol(), ec);
  // SO_REUSEADDR: a restart may bind while old connections sit in TIME_WAIT. On Linux it does
  // not let two servers listen on one port, so "in use" is still reported.
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) impl->port = a.local_endpoint(ec).port();
  if (ec) {
    int sys_errno = ec.category() == boost::system::system_category() ? ec.value() : 0;
    return Status(StatusCode::kIOError,
                  fmt::format("admin HTTP server: cannot listen on {}: {}",
                              FormatEndpoint(addr, options.port), ec.message()),
                  sys_errno);
  }
  impl->address = FormatEndpoint(addr, impl->port);
  asio::co_spawn(a.get_executor(), impl->AcceptLoop(), asio::detached);
  for (size_t i = 0; i < options.threads; ++i) {
    try {
      impl->threads.emplace_back([p = impl.get(), i] {
        SetThreadName(fmt::format("q-http-{}", i));
        p->Run();
      });
    } catch (const std::system_error& e) {
      impl->Stop();  // joins the threads already started
      return Status(StatusCode::kIOError,
                    fmt::format("admin HTTP server: cannot start a thread: {}", e.what()),
                    e.code().value());
    }
  }
  spdlog::info("admin HTTP server listening on {}://{}{}", options.tls ? "https" : "http",
               impl->address,
               !options.auth.enabled()        ? ""
               : options.auth.read_endpoints ? " (authentication on every endpoint but the probes)"
                                             : " (authentication on changes)");
  return std::unique_ptr<AdminHttpServer>(new AdminHttpServer(std::move(impl)));
}

AdminHttpServer::AdminHttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AdminHttpServer::~AdminHttpServer() { Stop(); }

uint16_t AdminHttpServer::port() const { return impl_->port; }

void AdminHttpServer::Stop() { impl_->Stop(); }

}  // namespace quire::bookie
