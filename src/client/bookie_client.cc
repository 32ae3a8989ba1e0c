#include "client/bookie_client.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <deque>
#include <optional>
#include <thread>
#include <unordered_map>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "protocol/add_frame.h"
#include "protocol/protocol.h"
#include "protocol/read_buffer.h"
#include "common/tls.h"

namespace quire::client {

// The wire protocol (src/protocol).
using protocol::DecodeFrameLength;
using protocol::EncodeFrame;
using protocol::FromProtoStatus;
using protocol::kFrameHeaderSize;
using protocol::kProtocolVersion;

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

Status AnswerStatus(const BookieId& bookie, proto::Status answer, std::string_view message) {
  if (answer == proto::OK) return Status::Ok();
  StatusCode code = FromProtoStatus(answer);
  return Status(code, fmt::format("bookie {}: {}", bookie,
                                  message.empty() ? StatusCodeName(code) : message));
}

Status AddOutcome::ToStatus(const BookieId& bookie) const {
  return answered() ? AnswerStatus(bookie, answer, message) : error;
}

namespace {

// What a request gets once the client is closing.
const Status& ClientClosing() {
  static const Status closing(StatusCode::kAborted, "the client is shutting down");
  return closing;
}

// Whom an add's outcome goes to: a sink (SendAdd: the writer), or, for an ADD_ENTRY sent with
// Send (recovery), its ResponseFn, which gets the answer as an ADD_ENTRY response.
struct AddTarget {
  EntryId entry = 0;
  std::shared_ptr<AddSink> sink;
  int tag = 0;
  BookieClient::ResponseFn done;  // when sink is null
};

// Hands outcomes[i] (its answer or error; the entry and tag are filled in here) to targets[i]: a
// sink once per run of consecutive adds that are its own.
void Deliver(const BookieId& bookie, std::vector<AddTarget>& targets,
             std::vector<AddOutcome>& outcomes) {
  for (size_t i = 0; i < targets.size(); ++i) {
    outcomes[i].entry = targets[i].entry;
    outcomes[i].tag = targets[i].tag;
  }
  for (size_t i = 0; i < targets.size();) {
    AddTarget& t = targets[i];
    if (t.sink == nullptr) {
      const AddOutcome& o = outcomes[i];
      if (!o.answered()) {
        t.done(o.error);
      } else {
        proto::Response r;
        r.mutable_header()->set_operation(proto::ADD_ENTRY);
        r.set_status(o.answer);
        if (!o.message.empty()) r.set_message(std::string(o.message));
        t.done(std::move(r));
      }
      ++i;
      continue;
    }
    size_t end = i + 1;
    while (end < targets.size() && targets[end].sink == t.sink) ++end;
    t.sink->OnAddOutcomes(bookie, std::span<const AddOutcome>(outcomes).subspan(i, end - i));
    i = end;
  }
}

// Every target gets `error` (no answer).
void DeliverError(const BookieId& bookie, std::vector<AddTarget>& targets, const Status& error) {
  std::vector<AddOutcome> outcomes(targets.size(), AddOutcome{.error = error});
  Deliver(bookie, targets, outcomes);
}

void DeliverError(const BookieId& bookie, AddTarget target, const Status& error) {
  std::vector<AddTarget> one;
  one.push_back(std::move(target));
  DeliverError(bookie, one, error);
}

// The answer `r` to a frame of the adds `targets`: one ADD_ENTRY (batch false), or a BATCH_ADD,
// whose results (ParseFrames checked there is one per add) or whole-request error each add gets.
void AnswerAdds(const BookieId& bookie, std::vector<AddTarget>& targets,
                const Result<proto::Response>& r, bool batch) {
  if (!r.ok()) return DeliverError(bookie, targets, r.status());
  std::vector<AddOutcome> outcomes(targets.size());
  const bool each = batch && r->status() == proto::OK;
  for (size_t i = 0; i < targets.size(); ++i) {
    AddOutcome& o = outcomes[i];
    if (each) {
      const proto::AddResult& result = r->batch_add().results(static_cast<int>(i));
      o.answer = result.status();
      o.message = result.message();
    } else {
      o.answer = r->status();
      o.message = r->message();
    }
  }
  Deliver(bookie, targets, outcomes);
}

}  // namespace

// One bookie's connection. The socket, the timers and the connection's state run on strand_;
// what queuing an add needs (the queues, the requests in flight, whether a write is on the
// wire) is guarded by mu_, so that an add that will leave with a write or an answer already
// coming is queued by the thread that makes it, without waking the I/O thread. `done`
// callbacks never run under mu_.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(asio::io_context& io, BookieId bookie, const BookieClientOptions& options)
      : strand_(asio::make_strand(io)),
        bookie_(std::move(bookie)),
        options_(options),
        socket_(strand_),
        resolver_(strand_),
        connect_timer_(strand_),
        sweep_timer_(strand_),
        backoff_(options.reconnect_backoff_min) {
    // A TLS stream is handed one contiguous buffer; a plaintext socket gathers the bodies.
    const size_t reference_from = options_.tls ? 0 : kReferenceBodiesFrom;
    MutexLock lock(mu_);
    out_.set_reference_from(reference_from);
    wire_.set_reference_from(reference_from);
  }

  void Send(proto::Request request, std::chrono::milliseconds timeout,
            BookieClient::ResponseFn done) {
    asio::post(strand_, [self = shared_from_this(), request = std::move(request), timeout,
                         done = std::move(done)]() mutable {
      self->SendOnStrand(std::move(request), timeout, std::move(done));
    });
  }

  // From any thread. On a connected connection an add joins the queue without waking the
  // strand when the write on the wire, or the answer coalescing waits for, will take it along
  // (Flush runs after each): under load, most adds. Otherwise the strand is asked to flush
  // (once for the adds that queue before it runs), or, when not connected, to send it.
  // A lone add on a quiet connection is written by this thread (AddCoalescing::SendFromCaller).
  void SendAdd(protocol::AddToSend add, std::chrono::milliseconds timeout, AddTarget target,
               Clock::time_point now) {
    const size_t bytes = protocol::EncodedAddSize(add);  // outside the lock
    bool arm_sweep = false;
    bool flush = false;
    {
      MutexLock lock(mu_);
      // An add posted to the strand before the connection opened goes first: adds leave in the
      // order they were sent.
      if (open_ && posted_adds_ == 0) {
        arm_sweep = StartSweep();
        flush = !writing_ && out_.empty() && adds_.empty() &&
                !options_.coalescing.Hold(add_frames_in_flight_, queued_add_bytes_ + bytes);
        queued_add_bytes_ += bytes;
        adds_.push_back({std::move(add), bytes, now + timeout, std::move(target)});
        if (flush && fd_ >= 0 && options_.coalescing.SendFromCaller(now - last_add_frame_)) {
          SealAdds();
          SendFromCaller();
          flush = !out_.empty();  // what the socket did not take, the strand writes
        }
        if (!arm_sweep && !flush) return;
      } else {
        ++posted_adds_;
      }
    }
    if (arm_sweep || flush) {
      asio::post(strand_, [self = shared_from_this(), arm_sweep] {
        if (arm_sweep) self->ArmSweepTimer();
        MutexLock lock(self->mu_);
        self->Flush();
      });
      return;
    }
    asio::post(strand_, [self = shared_from_this(), add = std::move(add), timeout,
                         target = std::move(target)]() mutable {
      self->SendAddOnStrand(std::move(add), timeout, std::move(target), /*posted=*/true);
    });
  }

  void Close() {
    asio::post(strand_, [self = shared_from_this()] {
      self->closed_ = true;
      self->Shut();
      boost::system::error_code ignored;
      self->socket_.close(ignored);
      self->resolver_.cancel();
      self->connect_timer_.cancel();
      self->sweep_timer_.cancel();
      ++self->generation_;
      self->Fail(ClientClosing());
    });
  }

 private:
  enum class State { kIdle, kConnecting, kConnected, kDown };

  struct Pending {
    Clock::time_point deadline;
    BookieClient::ResponseFn done;
    size_t batch_size = 0;  // a BATCH_ADD's number of adds (0: any other request)
    bool add = false;       // an ADD_ENTRY or BATCH_ADD: counted in add_frames_in_flight_
  };

  // An add waiting for the next write. Adds queue while a write is on the wire, while the
  // connection is being made, or while options_.coalescing holds them (add_coalescing.h); those
  // queued together go out as one BATCH_ADD, answered with one response: under load, one frame
  // and one response for many adds instead of one each.
  struct QueuedAdd {
    protocol::AddToSend add;
    size_t bytes;  // protocol::EncodedAddSize(add), computed once
    Clock::time_point deadline;
    AddTarget target;
  };

  void SendOnStrand(proto::Request request, std::chrono::milliseconds timeout,
                    BookieClient::ResponseFn done) {
    if (request.header().operation() == proto::ADD_ENTRY) {
      proto::AddRequest& a = *request.mutable_add();
      return SendAddOnStrand(
          {a.ledger_id(), a.entry_id(),
           std::make_shared<const std::string>(std::move(*a.mutable_master_key())),
           std::make_shared<const std::string>(std::move(*a.mutable_body())), a.recovery()},
          timeout, AddTarget{.entry = a.entry_id(), .done = std::move(done)});
    }
    if (Status refused = Refusal(); !refused.ok()) return done(refused);
    {
      MutexLock lock(mu_);
      // The adds queued before it go first: FORCE_LEDGER, say, answers for the adds sent before.
      SealAdds();
      Frame(request, Pending{Clock::now() + timeout, std::move(done)});
    }
    Go();
  }

  // A posted add (SendAdd), or one sent as a request (SendOnStrand: not counted in posted_adds_).
  void SendAddOnStrand(protocol::AddToSend add, std::chrono::milliseconds timeout,
                       AddTarget target, bool posted = false) {
    Status refused = Refusal();
    const size_t bytes = protocol::EncodedAddSize(add);
    {
      MutexLock lock(mu_);
      if (posted) --posted_adds_;
      if (refused.ok()) {
        queued_add_bytes_ += bytes;
        adds_.push_back({std::move(add), bytes, Clock::now() + timeout, std::move(target)});
      }
    }
    if (!refused.ok()) return DeliverError(bookie_, std::move(target), refused);
    Go();
  }

  // Why no request can be sent now (the client is closing, or the connection is down and
  // waiting out its backoff), or OK.
  Status Refusal() {
    if (closed_) return ClientClosing();
    if (state_ == State::kDown) {
      if (Clock::now() < retry_at_) {
        return Status(last_code_, fmt::format("bookie {} is unreachable ({}); next attempt in {} ms",
                                              bookie_, last_error_, MillisUntil(retry_at_)));
      }
      state_ = State::kIdle;
    }
    return Status::Ok();
  }

  // A request was queued: connect, or write it if no write is on the wire.
  void Go() {
    {
      MutexLock lock(mu_);
      if (StartSweep()) ArmSweepTimer();
      if (state_ == State::kConnected) return Flush();
    }
    if (state_ == State::kIdle) Connect();
  }

  // Gives `request` a request id, appends its frame to out_ and waits for its answer.
  void Frame(proto::Request& request, Pending pending) QUIRE_REQUIRES(mu_) {
    proto::RequestHeader* header = request.mutable_header();
    header->set_protocol_version(kProtocolVersion);
    header->set_request_id(Expect(std::move(pending)));
    out_.Append(EncodeFrame(request));
  }

  // The next request id, waiting for its answer with `pending`.
  uint64_t Expect(Pending pending) QUIRE_REQUIRES(mu_) {
    uint64_t id = next_request_id_++;
    pending_.emplace(id, std::move(pending));
    return id;
  }

  // Frames the queued adds: a lone add as ADD_ENTRY, more as BATCH_ADDs, each within the
  // bookies' frame size and kMaxBatchAdds.
  void SealAdds() QUIRE_REQUIRES(mu_) {
    for (size_t first = 0; first < adds_.size();) {
      size_t end = first;
      size_t bytes = kBatchFrameOverhead;
      while (end < adds_.size() && end - first < static_cast<size_t>(protocol::kMaxBatchAdds)) {
        size_t more = adds_[end].bytes + kBatchedAddOverhead;
        if (end > first && bytes + more > options_.max_request_frame_size) break;
        bytes += more;
        ++end;
      }
      const size_t n = end - first;
      std::vector<AddTarget> targets;
      targets.reserve(n);
      Clock::time_point deadline = Clock::time_point::max();
      for (size_t i = first; i < end; ++i) {
        targets.push_back(std::move(adds_[i].target));
        deadline = std::min(deadline, adds_[i].deadline);
      }
      const bool batch = n > 1;
      uint64_t id = Expect(Pending{.deadline = deadline,
                                   .done = [bookie = bookie_, targets = std::move(targets),
                                            batch](Result<proto::Response> r) mutable {
                                     AnswerAdds(bookie, targets, r, batch);
                                   },
                                   .batch_size = batch ? n : 0,
                                   .add = true});
      if (!batch) {
        protocol::AppendAddFrame(&out_, id, adds_[first].add);
      } else {
        std::vector<protocol::AddToSend> adds;
        adds.reserve(n);
        for (size_t i = first; i < end; ++i) adds.push_back(std::move(adds_[i].add));
        protocol::AppendBatchAddFrame(&out_, id, adds);
      }
      ++add_frames_in_flight_;
      first = end;
    }
    if (!adds_.empty()) last_add_frame_ = Clock::now();
    adds_.clear();
    queued_add_bytes_ = 0;
  }

  // Writes what out_ holds to the socket from the calling thread, as much as it takes without
  // waiting. Only while no write is on the wire and nothing else is queued (so frames keep their
  // order), and under mu_ with open_ set, which the strand clears under mu_ before it closes the
  // socket (Shut): fd_ is then still this connection's. An error is left to the strand's next
  // write, which reports it.
  void SendFromCaller() QUIRE_REQUIRES(mu_) {
    std::array<iovec, kMaxPiecesPerSend> pieces;
    ssize_t n = SendPieces(fd_, pieces.data(), out_.Gather(pieces.data(), pieces.size()));
    if (n > 0) out_.Consume(static_cast<size_t>(n));
  }

  // One sendmsg, without waiting: what send(2) returns.
  static ssize_t SendPieces(int fd, iovec* pieces, size_t count) {
    msghdr message{};
    message.msg_iov = pieces;
    message.msg_iovlen = count;
    return ::sendmsg(fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
  }

  static long long MillisUntil(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()).count();
  }

  void Connect() {
    state_ = State::kConnecting;
    auto colon = bookie_.rfind(':');
    if (colon == std::string::npos) {
      return Down(fmt::format("bookie id {} is not host:port", bookie_));
    }
    host_ = bookie_.substr(0, colon);
    std::string port = bookie_.substr(colon + 1);
    connect_timer_.expires_after(options_.connect_timeout);
    connect_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->state_ != State::kConnecting) return;
      self->resolver_.cancel();
      self->socket_.close(ec);  // the pending connect fails with operation_aborted
      self->timed_out_ = true;
    });
    timed_out_ = false;
    resolver_.async_resolve(
        host_, port,
        [self = shared_from_this()](boost::system::error_code ec,
                                    tcp::resolver::results_type endpoints) {
          if (ec) return self->ConnectFailed(ec);
          asio::async_connect(self->socket_, endpoints,
                              [self](boost::system::error_code error, const tcp::endpoint&) {
                                if (error) return self->ConnectFailed(error);
                                self->Handshake();
                              });
        });
  }

  void ConnectFailed(boost::system::error_code ec) {
    connect_timer_.cancel();
    Down(timed_out_ ? fmt::format("connect timed out after {} ms", options_.connect_timeout.count())
                    : fmt::format("connect failed: {}", ec.message()));
  }

  // With TLS, the handshake is part of connecting (under the connect timeout); its failure is
  // kUnauthenticated with OpenSSL's reason, so a bad certificate never looks like a dead bookie.
  void Handshake() {
    if (!options_.tls) return Connected();
    // The stream's SSL object holds a reference to its context's SSL_CTX: a context replaced
    // by a reload stays alive for the connections made with it.
    tls_ = std::make_shared<ssl::stream<tcp::socket&>>(socket_, *options_.tls->Current());
    if (Status s = ExpectPeerHost(tls_->native_handle(), host_); !s.ok()) {
      connect_timer_.cancel();
      return Down(s.message(), StatusCode::kUnauthenticated);
    }
    tls_->async_handshake(
        ssl::stream_base::client,
        [self = shared_from_this(), tls = tls_, gen = generation_](boost::system::error_code ec) {
          if (gen != self->generation_) return;
          if (!ec) return self->Connected();
          if (self->timed_out_) return self->ConnectFailed(ec);
          self->connect_timer_.cancel();
          self->Down(fmt::format("TLS handshake failed: {}",
                                 TlsErrorReason(ec, SSL_get_verify_result(tls->native_handle()))),
                     StatusCode::kUnauthenticated);
        });
  }

  void Connected() {
    connect_timer_.cancel();
    if (closed_) return;
    boost::system::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    state_ = State::kConnected;
    backoff_ = options_.reconnect_backoff_min;
    spdlog::debug("connected to bookie {}", bookie_);
    ReadMore();
    MutexLock lock(mu_);
    open_ = true;
    fd_ = tls_ ? -1 : socket_.native_handle();  // TLS records are the strand's to write
    Flush();
  }

  // No add is queued from other threads from now on.
  void Shut() {
    MutexLock lock(mu_);
    open_ = false;
    fd_ = -1;
  }

  // The connection is gone: everything in flight fails, and requests fail fast until retry_at_.
  void Down(std::string why, StatusCode code = StatusCode::kUnavailable) {
    if (state_ == State::kDown) return;
    Shut();
    boost::system::error_code ignored;
    socket_.close(ignored);
    tls_.reset();  // its operations in flight keep it alive until they end
    if (!closed_) spdlog::warn("bookie {}: {}; retrying in {} ms", bookie_, why, backoff_.count());
    last_error_ = why;
    last_code_ = code;
    state_ = State::kDown;
    retry_at_ = Clock::now() + backoff_;
    backoff_ = std::min(backoff_ * 2, options_.reconnect_backoff_max);
    in_.Clear();
    ++generation_;
    Fail(Status(code, fmt::format("bookie {}: {}", bookie_, why)));
  }

  void Fail(const Status& status) {
    std::unordered_map<uint64_t, Pending> pending;
    std::vector<QueuedAdd> adds;
    {
      MutexLock lock(mu_);
      pending = std::move(pending_);
      pending_.clear();
      adds = std::move(adds_);
      adds_.clear();
      queued_add_bytes_ = 0;
      add_frames_in_flight_ = 0;
      out_.Clear();
    }
    for (auto& [id, p] : pending) p.done(status);
    std::vector<AddTarget> targets;
    targets.reserve(adds.size());
    for (QueuedAdd& q : adds) targets.push_back(std::move(q.target));
    DeliverError(bookie_, targets, status);
  }

  void Flush() QUIRE_REQUIRES(mu_) {
    if (writing_ || state_ != State::kConnected) return;
    if (!options_.coalescing.Hold(add_frames_in_flight_, queued_add_bytes_)) SealAdds();
    if (out_.empty()) return;
    writing_ = true;
    wire_.swap(out_);
    out_.Clear();
    if (!tls_) {
      // Not under mu_: only the strand touches wire_ while writing_.
      asio::post(strand_, [self = shared_from_this(), gen = generation_] {
        self->WritePlain(gen);
      });
      return;
    }
    const std::string_view bytes = wire_.contiguous();
    asio::async_write(*tls_, asio::buffer(bytes.data(), bytes.size()),
                      [self = shared_from_this(), gen = generation_, tls = tls_](
                          boost::system::error_code ec, size_t) { self->Written(gen, ec); });
  }

  // Writes wire_ to the plaintext socket by sendmsg, the bodies from where they lie
  // (WriteBuffer::Gather), for as long as the socket takes them. When it is full, Asio's
  // async_write_some waits for room (its reactor, not a wait of ours: no readiness edge is
  // missed between our EAGAIN and the wait) and sends the next pieces; then this goes on.
  void WritePlain(uint64_t gen) {
    if (gen != generation_) return Written(gen, asio::error::operation_aborted);
    const int fd = socket_.native_handle();
    std::array<iovec, kMaxPiecesPerSend> pieces;
    for (;;) {
      size_t count;
      {
        MutexLock lock(mu_);
        count = wire_.Gather(pieces.data(), pieces.size());
      }
      if (count == 0) break;  // all written
      // Outside mu_: a thread queuing an add does not wait for the send (which, on loopback,
      // also runs the bookie's TCP input).
      const ssize_t n = SendPieces(fd, pieces.data(), count);
      if (n > 0) {
        MutexLock lock(mu_);
        wire_.Consume(static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        return Written(gen, boost::system::error_code(errno, boost::system::system_category()));
      }
      std::vector<asio::const_buffer> next;
      for (size_t i = 0; i < std::min(count, kMaxPiecesPerAsioSend); ++i) {
        next.emplace_back(pieces[i].iov_base, pieces[i].iov_len);
      }
      socket_.async_write_some(next, [self = shared_from_this(), gen](
                                         boost::system::error_code ec, size_t written) {
        if (ec || gen != self->generation_) return self->Written(gen, ec);
        {
          MutexLock lock(self->mu_);
          self->wire_.Consume(written);
        }
        self->WritePlain(gen);
      });
      return;
    }
    Written(gen, {});
  }

  // The write of wire_ ended: the next one starts, or the connection fails.
  void Written(uint64_t gen, boost::system::error_code ec) {
    {
      MutexLock lock(mu_);
      writing_ = false;
      wire_.Clear();
      if (gen != generation_ || !ec) return Flush();
    }
    StreamFailed("write", ec);
  }

  // A read or write failed. A TLS error after the handshake is the bookie refusing this client
  // (with TLS 1.3 a client learns that its certificate was refused only then).
  void StreamFailed(std::string_view op, boost::system::error_code ec) {
    if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
      return Down("the bookie closed the connection");
    }
    if (IsTlsError(ec)) {
      return Down(fmt::format("TLS: {}", TlsErrorReason(ec, 0)), StatusCode::kUnauthenticated);
    }
    Down(fmt::format("{} failed: {}", op, ec.message()));
  }

  void ReadMore() {
    auto [room, room_size] = in_.Room(kReadChunk);
    auto read = [self = shared_from_this(), gen = generation_, tls = tls_](
                    boost::system::error_code ec, size_t n) {
      if (gen != self->generation_) return;
      self->in_.Commit(n);
      if (ec) return self->StreamFailed("read", ec);
      if (!self->ParseFrames()) return;
      self->ReadMore();
    };
    asio::mutable_buffer into(room, room_size);
    if (tls_) {
      tls_->async_read_some(into, std::move(read));
    } else {
      socket_.async_read_some(into, std::move(read));
    }
  }

  // Hands every complete frame in in_ to its request. False if the stream is broken.
  bool ParseFrames() {
    const std::string_view in = in_.data();
    size_t pos = 0;
    while (in.size() - pos >= kFrameHeaderSize) {
      Result<uint32_t> length = DecodeFrameLength(in.data() + pos, options_.max_frame_size);
      if (!length.ok()) {
        Down(fmt::format("bad response frame: {}", length.status().message()));
        return false;
      }
      if (in.size() - pos - kFrameHeaderSize < *length) break;
      proto::Response response;
      if (!response.ParseFromArray(in.data() + pos + kFrameHeaderSize,
                                   static_cast<int>(*length))) {
        Down("a response frame that is not a Response");
        return false;
      }
      pos += kFrameHeaderSize + *length;
      // Request id 0 is never sent: an error with it is about the connection (e.g. "this bookie
      // requires TLS"), and the bookie closes it after this answer.
      if (response.header().request_id() == 0 && response.status() != proto::OK) {
        Down(fmt::format("the bookie refused the connection: {}", response.message()),
             FromProtoStatus(response.status()));
        return false;
      }
      BookieClient::ResponseFn done;
      {
        MutexLock lock(mu_);
        auto it = pending_.find(response.header().request_id());
        if (it == pending_.end()) continue;  // it timed out already
        const size_t batch = it->second.batch_size;
        if (batch > 0 && response.status() == proto::OK &&
            static_cast<size_t>(response.batch_add().results_size()) != batch) {
          lock.Unlock();
          Down(fmt::format("a batch of {} adds answered with {} results", batch,
                           response.batch_add().results_size()));
          return false;
        }
        done = std::move(it->second.done);
        if (it->second.add) --add_frames_in_flight_;
        pending_.erase(it);
      }
      done(std::move(response));
    }
    in_.Consume(pos);
    MutexLock lock(mu_);
    if (!adds_.empty()) Flush();  // an answer may release adds that coalescing held
    return true;
  }

  // Whether the caller must arm the sweep timer (on the strand): requests are pending and it is
  // not armed yet.
  bool StartSweep() QUIRE_REQUIRES(mu_) {
    if (sweeping_) return false;
    sweeping_ = true;
    return true;
  }

  // Times out requests past their deadline; runs while any request is pending.
  void ArmSweepTimer() {
    sweep_timer_.expires_after(kSweepInterval);
    sweep_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->closed_) {
        MutexLock lock(self->mu_);
        self->sweeping_ = false;
        return;
      }
      auto now = Clock::now();
      std::vector<BookieClient::ResponseFn> expired;
      std::vector<AddTarget> expired_adds;
      bool again = false;
      {
        MutexLock lock(self->mu_);
        for (auto it = self->pending_.begin(); it != self->pending_.end();) {
          if (it->second.deadline <= now) {
            if (it->second.add) --self->add_frames_in_flight_;
            expired.push_back(std::move(it->second.done));
            it = self->pending_.erase(it);
          } else {
            ++it;
          }
        }
        // Adds still queued (a connect under way) time out too.
        auto& adds = self->adds_;
        auto late = std::stable_partition(adds.begin(), adds.end(),
                                          [now](const QueuedAdd& q) { return q.deadline > now; });
        for (auto it = late; it != adds.end(); ++it) {
          self->queued_add_bytes_ -= it->bytes;
          expired_adds.push_back(std::move(it->target));
        }
        adds.erase(late, adds.end());
        again = !self->pending_.empty() || !self->adds_.empty();
        self->sweeping_ = again;
      }
      Status timeout(StatusCode::kTimeout,
                     fmt::format("bookie {} did not answer in time", self->bookie_));
      for (auto& done : expired) done(timeout);
      DeliverError(self->bookie_, expired_adds, timeout);
      if (again) self->ArmSweepTimer();
      MutexLock lock(self->mu_);
      self->Flush();  // an add frame timed out: adds held behind it may go
    });
  }

  static constexpr size_t kReadChunk = 64 << 10;
  // Bodies this large are sent from where they lie, not copied into their frames: below it an
  // iovec costs more than the copy it saves.
  static constexpr size_t kReferenceBodiesFrom = 512;
  // Pieces per sendmsg (Linux's UIO_MAXIOV), and per Asio write (it sends at most 64).
  static constexpr size_t kMaxPiecesPerSend = 1024;
  static constexpr size_t kMaxPiecesPerAsioSend = 64;
  // Bytes a BATCH_ADD frame adds to its adds' own: the frame header and the request's header
  // and fields (bounded generously), and per add its field tag and length.
  static constexpr size_t kBatchFrameOverhead = 64;
  static constexpr size_t kBatchedAddOverhead = 8;
  static constexpr std::chrono::milliseconds kSweepInterval{20};

  asio::strand<asio::io_context::executor_type> strand_;
  const BookieId bookie_;
  const BookieClientOptions options_;
  // On the strand only: the socket, timers and connection state.
  tcp::socket socket_;
  // The TLS stream over socket_ for the current connection (null without TLS). Shared with the
  // operations in flight on it, which may end after a reconnect replaced it.
  std::shared_ptr<ssl::stream<tcp::socket&>> tls_;
  std::string host_;  // of bookie_, checked against the bookie's certificate
  tcp::resolver resolver_;
  asio::steady_timer connect_timer_;
  asio::steady_timer sweep_timer_;
  State state_ = State::kIdle;
  bool closed_ = false;
  bool timed_out_ = false;
  uint64_t generation_ = 0;  // bumped when the socket is dropped, so old handlers stand down
  protocol::ReadBuffer in_;  // bytes read, not yet parsed
  std::chrono::milliseconds backoff_;
  Clock::time_point retry_at_;
  std::string last_error_;
  StatusCode last_code_ = StatusCode::kUnavailable;

  // What sending an add needs, from any thread.
  Mutex mu_;
  bool open_ QUIRE_GUARDED_BY(mu_) = false;  // connected, not closing: adds may skip the strand
  bool writing_ QUIRE_GUARDED_BY(mu_) = false;   // the strand has a write on the wire
  bool sweeping_ QUIRE_GUARDED_BY(mu_) = false;  // the sweep timer is armed (or about to be)
  uint64_t next_request_id_ QUIRE_GUARDED_BY(mu_) = 1;
  std::unordered_map<uint64_t, Pending> pending_ QUIRE_GUARDED_BY(mu_);
  std::vector<QueuedAdd> adds_ QUIRE_GUARDED_BY(mu_);  // adds not framed yet, in order sent
  size_t queued_add_bytes_ QUIRE_GUARDED_BY(mu_) = 0;  // their encoded size
  // ADD_ENTRY and BATCH_ADD frames sent and not answered.
  size_t add_frames_in_flight_ QUIRE_GUARDED_BY(mu_) = 0;
  protocol::WriteBuffer out_ QUIRE_GUARDED_BY(mu_);   // frames waiting for the next write
  // The frames of the write in progress: swapped with out_ under mu_, read and consumed by the
  // strand's write (under mu_, but sent from outside it: nothing else touches wire_ meanwhile).
  protocol::WriteBuffer wire_ QUIRE_GUARDED_BY(mu_);
  size_t posted_adds_ QUIRE_GUARDED_BY(mu_) = 0;  // adds posted to the strand, not queued yet
  // The open plaintext socket, for SendFromCaller; -1 otherwise.
  int fd_ QUIRE_GUARDED_BY(mu_) = -1;
  Clock::time_point last_add_frame_ QUIRE_GUARDED_BY(mu_);  // when adds were last framed
};

BookieClient::BookieClient(asio::io_context& io, BookieClientOptions options)
    : io_(io), options_(options) {}

BookieClient::~BookieClient() {
  MutexLock lock(mu_);
  closed_ = true;
  for (auto& [id, c] : connections_) c->Close();
}

std::shared_ptr<Connection> BookieClient::ConnectionTo(const BookieId& bookie) {
  MutexLock lock(mu_);
  if (closed_) return nullptr;
  auto& c = connections_[bookie];
  if (!c) c = std::make_shared<Connection>(io_, bookie, options_);
  return c;
}

void BookieClient::SendAdd(const BookieId& bookie, protocol::AddToSend add,
                           std::chrono::milliseconds timeout, std::shared_ptr<AddSink> sink,
                           int tag, Clock::time_point now) {
  AddTarget target{.entry = add.entry_id, .sink = std::move(sink), .tag = tag};
  if (auto c = ConnectionTo(bookie)) {
    return c->SendAdd(std::move(add), timeout, std::move(target), now);
  }
  asio::post(io_, [bookie, target = std::move(target)]() mutable {
    DeliverError(bookie, std::move(target), ClientClosing());
  });
}

void BookieClient::Send(const BookieId& bookie, proto::Request request,
                        std::chrono::milliseconds timeout, ResponseFn done) {
  if (auto c = ConnectionTo(bookie)) return c->Send(std::move(request), timeout, std::move(done));
  asio::post(io_, [done = std::move(done)] { done(ClientClosing()); });
}

}  // namespace quire::client
