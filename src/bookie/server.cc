#include "bookie/server.h"

#include <deque>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "protocol/protocol.h"
#include "protocol/read_buffer.h"
#include "storage/journal.h"

namespace quire::bookie {

// The wire protocol (src/protocol).
using protocol::DecodeFrameLength;
using protocol::EncodeFrame;
using protocol::FromProtoStatus;
using protocol::MakeResponse;
using protocol::OperationName;
using protocol::ParseRequest;
using protocol::ParsedRequest;
using protocol::kFrameHeaderSize;

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {
// Bytes charged per request on top of its frame, for the objects it keeps alive while in flight.
constexpr uint64_t kRequestOverhead = 512;
// Reads whose answers may be large. A long poll waits without holding an answer, so it does not
// count (64 tailing readers on one connection must not stop its adds).
bool IsRead(const proto::Request& r) {
  proto::Operation op = r.header().operation();
  return (op == proto::READ_ENTRY && !r.read().long_poll()) || op == proto::READ_LAC ||
         op == proto::LIST_ENTRIES;
}
constexpr size_t kMaxFramesPerWrite = 64;

// The request metrics' operation index (ServerMetrics::RequestMetricsOperations): operation N of
// the protocol at N - 1, then long polls; anything else is past them ("unknown").
constexpr size_t kLongPollMetricsIndex = static_cast<size_t>(proto::Operation_MAX);
size_t MetricsOperation(const proto::Request& r) {
  proto::Operation op = r.header().operation();
  if (op == proto::READ_ENTRY && r.read().long_poll()) return kLongPollMetricsIndex;
  if (op < 1 || op > proto::Operation_MAX) return kLongPollMetricsIndex + 1;
  return static_cast<size_t>(op) - 1;
}

}  // namespace

std::vector<std::string> ServerMetrics::RequestMetricsOperations() {
  std::vector<std::string> names;
  for (int op = 1; op <= proto::Operation_MAX; ++op) {
    names.emplace_back(OperationName(static_cast<proto::Operation>(op)));
  }
  names.emplace_back("long-poll");  // at kLongPollMetricsIndex
  return names;
}

// One client connection. All its state is touched only on its strand (the socket's executor).
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(BookieServer* server, tcp::socket socket)
      : server_(server),
        socket_(std::move(socket)),
        resume_(socket_.get_executor()),
        idle_(socket_.get_executor()) {
    boost::system::error_code ec;
    tcp::endpoint remote = socket_.remote_endpoint(ec);
    peer_ = ec ? std::string("?") : fmt::format("{}:{}", remote.address().to_string(), remote.port());
  }

  void Start() {
    auto self = shared_from_this();
    last_activity_ = Clock::now();
    ArmIdleTimer();
    asio::co_spawn(socket_.get_executor(), [self]() { return self->ReadLoop(); }, asio::detached);
  }

  // Any thread: closes the connection on its strand.
  void CloseSoon() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->Close(); });
  }

  // Any thread: the request that cost `cost` bytes is answered; `operation` is its request
  // metrics' index (MetricsOperation).
  void Complete(uint64_t cost, bool read, proto::Response response, size_t operation,
                uint64_t start_ns) {
    server_->metrics_.requests.Record(operation, FromProtoStatus(protocol::Outcome(response)),
                                      MonotonicNanos() - start_ns);
    std::string frame = EncodeFrame(response);
    // Completions arrive in bursts (one fdatasync acknowledges many adds): gather them and hand
    // them to the strand with one post, so a burst costs one wake-up and one write.
    bool post;
    {
      MutexLock lock(ready_mu_);
      ready_.push_back({cost, read, std::move(frame)});
      post = !drain_posted_;
      drain_posted_ = true;
    }
    if (post) {
      asio::post(socket_.get_executor(), [self = shared_from_this()] { self->DrainReady(); });
    }
  }

  // Any thread: re-check the limits on the strand (the server's total went down).
  void ResumeSoon() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->MaybeResume(); });
  }

  // Strand: resumes reading if the limits allow it.
  void MaybeResume() {
    if (paused_ && !closed_ && !OverLimit()) {
      paused_ = false;
      resume_.cancel();
    }
  }

 private:
  // The connection's byte stream: the socket, or the TLS stream over it.
  template <typename Fn>
  auto OnStream(Fn&& fn) {
    if (tls_) return fn(*tls_);
    return fn(socket_);
  }

  // Strand: tells TLS from plaintext by the connection's first byte, peeked and left in the
  // socket (docs/protocol.md, "TLS"), and does the TLS handshake. False when the connection is
  // to be closed, or closes once its refusal is written (close_after_write_).
  asio::awaitable<bool> Greet() {
    // Without TLS nothing is sniffed: the connection is what it always was.
    if (!server_->tls_context_) co_return true;
    auto [wait_ec] = co_await socket_.async_wait(tcp::socket::wait_read,
                                                 asio::as_tuple(asio::use_awaitable));
    if (wait_ec) co_return false;
    uint8_t first = 0;
    boost::system::error_code ec;
    size_t n = socket_.receive(asio::buffer(&first, 1), tcp::socket::message_peek, ec);
    if (ec || n == 0) co_return false;  // closed before saying anything
    if (first != kTlsHandshakeRecordType) {
      if (!server_->options_.tls.required) co_return true;
      RefusePlaintext();
      co_return false;
    }
    tls_context_ = server_->tls_context_->Current();
    tls_.emplace(socket_, *tls_context_);
    auto [handshake_ec] = co_await tls_->async_handshake(ssl::stream_base::server,
                                                         asio::as_tuple(asio::use_awaitable));
    if (handshake_ec) {
      if (!closed_) {
        server_->metrics_.tls_handshake_failures.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("connection {}: TLS handshake failed: {}", peer_,
                     TlsErrorReason(handshake_ec, SSL_get_verify_result(tls_->native_handle())));
      }
      co_return false;
    }
    X509* cert = SSL_get1_peer_certificate(tls_->native_handle());
    principal_ = Principal::FromCertificate(cert);
    X509_free(cert);
    co_return true;
  }

  // Strand: a plaintext connection to a bookie with tlsRequired: one UNAUTHENTICATED answer
  // (request id 0) that says why, then the connection closes.
  void RefusePlaintext() {
    server_->metrics_.plaintext_refused.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("connection {}: plaintext connection refused: this bookie requires TLS "
                 "(tlsRequired = true)",
                 peer_);
    // Drop what the client sent already: closing a socket with unread bytes resets the
    // connection, and the client could lose the answer. Bytes are waiting, so this cannot block.
    std::string discard(kReadChunk, '\0');
    boost::system::error_code ignored;
    socket_.receive(asio::buffer(discard), 0, ignored);
    close_after_write_ = true;
    Queue(0, EncodeFrame(MakeResponse(proto::RequestHeader(), proto::UNAUTHENTICATED,
                                      "this bookie requires TLS (tlsRequired = true): connect "
                                      "with TLS (--tls-ca)")));
  }

  static constexpr size_t kReadChunk = 64 << 10;

  // Reads whatever the socket has (one system call for many pipelined frames) and dispatches
  // every complete frame in it.
  asio::awaitable<void> ReadLoop() {
    auto self = shared_from_this();
    if (!co_await Greet()) {
      if (!close_after_write_) Close();
      co_return;
    }
    protocol::ReadBuffer buf;  // bytes read and not yet consumed
    while (!closed_) {
      while (paused_ && !closed_) {
        resume_.expires_at(Clock::time_point::max());
        co_await resume_.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      if (closed_) break;
      uint64_t turn_start = MonotonicNanos();
      Scan scan = DispatchComplete(buf);
      if (scan.dispatched > 0) {
        server_->metrics_.dispatch_ns.Record(MonotonicNanos() - turn_start);
      }
      if (scan.bad_frame) co_return;  // answered; the connection closes once that is written
      if (closed_) break;
      if (paused_) continue;
      size_t avail = buf.size();
      size_t needed = scan.needed;
      // As much as the socket has, up to what the buffer holds (ReadBuffer gives back a buffer a
      // big frame grew); but a large frame gets a buffer of its own size, lent whole to its adds:
      // reading stops at its end, and after it the next frame's length is read alone to size
      // the next buffer, so that nothing is copied out of a buffer left to its adds.
      size_t min_room = std::max(kReadChunk, needed - avail);
      bool exact = false;
      if (needed > kReadChunk) {
        min_room = needed - avail;
        exact = true;
      } else if (avail == 0 && scan.lent_last) {
        min_room = kFrameHeaderSize;
        exact = true;
      }
      std::pair<char*, size_t> room = buf.Room(min_room);
      size_t want = exact ? min_room : room.second;
      auto [ec, n] = co_await OnStream([&](auto& stream) {
        return stream.async_read_some(asio::buffer(room.first, want),
                                      asio::as_tuple(asio::use_awaitable));
      });
      buf.Commit(n);
      if (ec) break;
      last_activity_ = Clock::now();
    }
    if (!close_after_write_) Close();
  }

  // What DispatchComplete stopped at.
  struct Scan {
    bool bad_frame = false;  // a length that cannot be trusted: answered, closing
    size_t needed = 0;       // bytes the next frame needs in the buffer (header included)
    size_t dispatched = 0;   // frames dispatched
    bool lent_last = false;  // the last one was lent the buffer's bytes (ReadBuffer::Share)
  };

  // Strand, never suspends: dispatches every complete frame in `buf`, until the connection goes
  // over its limits (paused_). The adds among them reach the journal when it returns, written on
  // this thread if the journal is idle (JournalLeadScope): an idle bookie's add then needs no
  // other thread. The scope must end before the caller's next co_await.
  Scan DispatchComplete(protocol::ReadBuffer& buf) {
    storage::JournalLeadScope lead;
    size_t dispatched = 0;
    bool lent_last = false;
    while (!paused_ && !closed_) {
      size_t avail = buf.size();
      if (avail < kFrameHeaderSize) {
        return {.needed = kFrameHeaderSize, .dispatched = dispatched, .lent_last = lent_last};
      }
      Result<uint32_t> length =
          DecodeFrameLength(buf.data().data(), server_->options_.max_frame_size);
      if (!length.ok()) {
        // The stream cannot be trusted past a bad length: answer, then close.
        server_->metrics_.bad_frames.fetch_add(1, std::memory_order_relaxed);
        if (uint64_t left_out = 0; server_->bad_frame_log_.Allow(Clock::now(), &left_out)) {
          spdlog::warn("connection {}: {}; answered BAD_REQUEST and closing the connection "
                       "(a request larger than this bookie accepts, or not the protocol){}",
                       peer_, length.status().message(),
                       left_out == 0 ? std::string()
                                     : fmt::format(" ({} more closed so since the last line)",
                                                   left_out));
        }
        close_after_write_ = true;
        Queue(0, EncodeFrame(MakeResponse(proto::RequestHeader(), proto::BAD_REQUEST,
                                          length.status().message())));
        return {.bad_frame = true, .dispatched = dispatched};
      }
      size_t needed = kFrameHeaderSize + *length;
      if (avail < needed) {
        return {.needed = needed, .dispatched = dispatched, .lent_last = lent_last};
      }
      server_->metrics_.bytes_read.fetch_add(needed, std::memory_order_relaxed);
      std::string_view frame = buf.data().substr(kFrameHeaderSize, *length);
      // A frame that fills most of the buffer lends its bytes to its adds, which the journal and
      // the write cache keep until the entries are flushed, instead of a copy; a smaller one is
      // copied, so that a lent buffer is never more than a third larger than its frame.
      lent_last = frame.size() >= buf.capacity() / 4 * 3;
      Dispatch(frame, lent_last ? buf.Share() : nullptr);
      buf.Consume(needed);
      ++dispatched;
      if (OverLimit()) {
        paused_ = true;
        server_->metrics_.paused_reads.fetch_add(1, std::memory_order_relaxed);
        if (server_->OverGlobalLimit()) server_->Park(shared_from_this());
      }
    }
    return {.dispatched = dispatched, .lent_last = lent_last};
  }

  void Dispatch(std::string_view frame, std::shared_ptr<const void> frame_owner) {
    uint64_t start = MonotonicNanos();
    ParsedRequest parsed = ParseRequest(frame, std::move(frame_owner));
    uint64_t cost = frame.size() + kRequestOverhead;
    bool read = parsed.ok() && IsRead(parsed.request);
    if (read) ++reads_in_flight_;
    Charge(cost);
    ++requests_in_flight_;
    size_t operation = MetricsOperation(parsed.request);
    if (!parsed.ok()) {
      spdlog::debug("connection {}: request {}: {}", peer_, parsed.request.header().request_id(),
                    parsed.error_message);
      Complete(cost, false, MakeResponse(parsed.request.header(), parsed.error,
                                         parsed.error_message),
               operation, start);
      return;
    }
    if (std::string refusal = server_->authorizer_.Refusal(principal_, parsed.request);
        !refusal.empty()) {
      if (uint64_t left_out = 0; server_->unauthorized_log_.Allow(Clock::now(), &left_out)) {
        spdlog::warn("connection {}: request refused: {}{}", peer_, refusal,
                     left_out == 0 ? std::string()
                                   : fmt::format(" ({} more refused since the last line)",
                                                 left_out));
      }
      // Counted in the request metrics as the operation's UNAUTHORIZED answers.
      Complete(cost, read, MakeResponse(parsed.request.header(), proto::UNAUTHORIZED, refusal),
               operation, start);
      return;
    }
    server_->processor_->Process(
        std::move(parsed),
        [self = shared_from_this(), cost, read, operation, start](proto::Response r) {
          self->Complete(cost, read, std::move(r), operation, start);
        });
  }

  // Strand: takes the gathered completions.
  void DrainReady() {
    std::vector<Ready> ready;
    {
      MutexLock lock(ready_mu_);
      ready.swap(ready_);
      drain_posted_ = false;
    }
    for (Ready& r : ready) {
      if (r.read) --reads_in_flight_;
      Queue(r.cost, std::move(r.frame));
    }
  }

  // Strand: a response is ready; its request no longer counts, its bytes do until written.
  void Queue(uint64_t request_cost, std::string frame) {
    if (request_cost > 0) {
      --requests_in_flight_;
      Release(request_cost);
    }
    if (closed_) return;
    Charge(frame.size());
    out_.push_back(std::move(frame));
    if (!writing_) StartWrite();
    MaybeResume();
  }

  void StartWrite() {
    writing_ = true;
    std::vector<asio::const_buffer> buffers;
    for (size_t i = 0; i < out_.size() && i < kMaxFramesPerWrite; ++i) {
      buffers.emplace_back(asio::buffer(out_[i]));
    }
    size_t frames = buffers.size();
    OnStream([&](auto& stream) {
      asio::async_write(stream, buffers,
                        [self = shared_from_this(), frames](boost::system::error_code ec,
                                                           size_t n) {
                          self->WriteDone(ec, n, frames);
                        });
    });
  }

  void WriteDone(boost::system::error_code ec, size_t n, size_t frames) {
    server_->metrics_.bytes_written.fetch_add(n, std::memory_order_relaxed);
    uint64_t freed = 0;
    for (size_t i = 0; i < frames && !out_.empty(); ++i) {
      freed += out_.front().size();
      out_.pop_front();
    }
    Release(freed);
    writing_ = false;
    if (ec || closed_) {
      if (ec) spdlog::debug("connection {}: write failed: {}", peer_, ec.message());
      DropQueued();
      Close();
      return;
    }
    if (!out_.empty()) {
      StartWrite();
    } else if (close_after_write_) {
      Close();
      return;
    }
    MaybeResume();
  }

  void Charge(uint64_t bytes) {
    inflight_ += bytes;
    server_->metrics_.inflight_bytes.fetch_add(bytes, std::memory_order_relaxed);
  }
  void Release(uint64_t bytes) {
    inflight_ -= bytes;
    bool was_over = server_->OverGlobalLimit();
    server_->metrics_.inflight_bytes.fetch_sub(bytes, std::memory_order_relaxed);
    if (was_over && !server_->OverGlobalLimit()) server_->ResumeParked();
  }

  bool OverLimit() const {
    return inflight_ > server_->options_.max_inflight_bytes_per_connection ||
           reads_in_flight_ >= server_->options_.max_reads_in_flight_per_connection ||
           server_->OverGlobalLimit();
  }

  void ArmIdleTimer() {
    idle_.expires_after(server_->options_.idle_timeout);
    idle_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->closed_) return;
      bool idle = self->requests_in_flight_ == 0 && self->out_.empty() &&
                  Clock::now() - self->last_activity_ >= self->server_->options_.idle_timeout;
      if (idle || self->close_after_write_) {
        spdlog::debug("connection {}: idle, closing", self->peer_);
        self->Close();
        return;
      }
      self->ArmIdleTimer();
    });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    resume_.cancel();
    idle_.cancel();
    // A write in flight still points into out_; WriteDone drops the rest when it completes.
    if (!writing_) DropQueued();
    server_->Forget(this);
  }

  // Responses that will never be written; requests in flight release their own cost later.
  void DropQueued() {
    uint64_t queued = 0;
    for (const std::string& f : out_) queued += f.size();
    out_.clear();
    Release(queued);
  }

  BookieServer* server_;
  tcp::socket socket_;
  // Set by Greet() when the client speaks TLS; reads and writes then go through it. The context
  // it was made with stays this connection's when the files are reloaded.
  std::shared_ptr<ssl::context> tls_context_;
  std::optional<ssl::stream<tcp::socket&>> tls_;
  // Who the client is: the names of its verified certificate (authorization.h); anonymous
  // without one.
  Principal principal_;
  asio::steady_timer resume_;
  asio::steady_timer idle_;
  std::string peer_;
  std::deque<std::string> out_;
  bool writing_ = false;
  bool closed_ = false;
  bool paused_ = false;
  bool close_after_write_ = false;
  uint64_t inflight_ = 0;  // requests in flight + responses not yet written, in bytes
  uint64_t requests_in_flight_ = 0;
  uint64_t reads_in_flight_ = 0;
  Clock::time_point last_activity_;

  // Completions waiting for the strand (filled on any thread).
  struct Ready {
    uint64_t cost;
    bool read;
    std::string frame;
  };
  Mutex ready_mu_;
  std::vector<Ready> ready_ QUIRE_GUARDED_BY(ready_mu_);
  bool drain_posted_ QUIRE_GUARDED_BY(ready_mu_) = false;
};

BookieServer::BookieServer(IoContextPool* io, const ServerOptions& options)
    : io_(io), options_(options), acceptor_(io->first()), authorizer_(options.authorization) {}

Result<std::unique_ptr<BookieServer>> BookieServer::Listen(IoContextPool* io,
                                                           const ServerOptions& options) {
  std::unique_ptr<BookieServer> server(new BookieServer(io, options));
  boost::system::error_code ec;
  auto address = asio::ip::make_address(options.bind_address, ec);
  if (ec) {
    return InvalidArgument(fmt::format("bookie server: bad bind address '{}': {}",
                                       options.bind_address, ec.message()));
  }
  if (options.tls.enabled) {
    TlsPeerCheck check = options.tls.client_authentication ? TlsPeerCheck::kRequired
                         : options.tls.files.trust_store_path.empty() ? TlsPeerCheck::kNone
                                                                      : TlsPeerCheck::kIfSent;
    QUIRE_ASSIGN_OR_RETURN(server->tls_context_,
                           ReloadingTlsContext::Make(TlsSide::kServer, options.tls.files, check,
                                                     options.tls.refresh, "bookie"));
  }
  tcp::endpoint endpoint(address, options.port);
  auto fail = [&](std::string_view step) {
    return Status(StatusCode::kIOError,
                  fmt::format("bookie server: cannot {} {}:{}: {}", step, options.bind_address,
                              options.port, ec.message()));
  };
  server->acceptor_.open(endpoint.protocol(), ec);
  if (ec) return fail("open a socket for");
  server->acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  server->acceptor_.bind(endpoint, ec);
  if (ec) return fail("listen on");
  server->acceptor_.listen(1024, ec);
  if (ec) return fail("listen on");
  server->port_ = server->acceptor_.local_endpoint(ec).port();
  return server;
}

void BookieServer::StartAccepting(RequestProcessor* processor) {
  processor_ = processor;
  asio::post(io_->first(), [this] { Accept(); });
  spdlog::info("bookie server accepting on {}:{} ({})", options_.bind_address, port_,
               !tls_context_          ? "plaintext"
               : options_.tls.required ? "TLS only"
                                       : "plaintext and TLS");
}

BookieServer::~BookieServer() { Shutdown(std::chrono::milliseconds(0)); }

void BookieServer::Accept() {
  acceptor_.async_accept(asio::make_strand(io_->Next()), [this](boost::system::error_code ec,
                                                                 tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // Out of descriptors, or a connection reset while queued: keep accepting.
      spdlog::warn("bookie server: accept failed: {}", ec.message());
    } else {
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto c = std::make_shared<Connection>(this, std::move(socket));
      {
        MutexLock lock(mu_);
        connections_.insert(c);
      }
      metrics_.connections_open.fetch_add(1, std::memory_order_relaxed);
      metrics_.connections_accepted.fetch_add(1, std::memory_order_relaxed);
      c->Start();
    }
    Accept();
  });
}

void BookieServer::Forget(Connection* c) {
  MutexLock lock(mu_);
  for (auto it = connections_.begin(); it != connections_.end(); ++it) {
    if (it->get() == c) {
      parked_.erase(*it);
      connections_.erase(it);
      metrics_.connections_open.fetch_sub(1, std::memory_order_relaxed);
      return;
    }
  }
}

bool BookieServer::OverGlobalLimit() const {
  return metrics_.inflight_bytes.load(std::memory_order_relaxed) > options_.max_inflight_bytes;
}

void BookieServer::Park(const std::shared_ptr<Connection>& c) {
  MutexLock lock(mu_);
  parked_.insert(c);
}

void BookieServer::ResumeParked() {
  std::set<std::shared_ptr<Connection>> parked;
  {
    MutexLock lock(mu_);
    parked.swap(parked_);
  }
  for (const auto& c : parked) {
    c->ResumeSoon();
  }
}

void BookieServer::StopAccepting() {
  asio::post(io_->first(), [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  });
}

void BookieServer::Shutdown(std::chrono::milliseconds drain) {
  auto deadline = Clock::now() + drain;
  // Bounded wait for in-flight requests: this is shutdown, not a test.
  while (metrics_.inflight_bytes.load() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::set<std::shared_ptr<Connection>> all;
  {
    MutexLock lock(mu_);
    all = connections_;
  }
  for (const auto& c : all) c->CloseSoon();
}

}  // namespace quire::bookie
