#include "bookie/raw_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <memory>

#include <fmt/format.h>
#include <openssl/ssl.h>

#include "protocol/protocol.h"

namespace quire::bookie::testing {

// The wire protocol (src/protocol).
using protocol::DecodeFrameLength;
using protocol::EncodeEntryBodyHeader;
using protocol::EncodeFrame;
using protocol::kEntryBodyHeaderSize;
using protocol::kFrameHeaderSize;
using protocol::kProtocolVersion;

Result<RawClient> RawClient::Connect(const std::string& host, uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("socket", errno);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    close(fd);
    return InvalidArgument("bad IPv4 address " + host);
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int e = errno;
    close(fd);
    return Status(StatusCode::kUnavailable, fmt::format("connect {}:{}: {}", host, port,
                                                        std::strerror(e)), e);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return RawClient(fd);
}

RawClient::RawClient(RawClient&& o) noexcept : fd_(o.fd_), buffer_(std::move(o.buffer_)) {
  o.fd_ = -1;
}

RawClient& RawClient::operator=(RawClient&& o) noexcept {
  if (this != &o) {
    Close();
    fd_ = o.fd_;
    buffer_ = std::move(o.buffer_);
    o.fd_ = -1;
  }
  return *this;
}

RawClient::~RawClient() { Close(); }

void RawClient::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

void RawClient::SetReceiveBuffer(int bytes) {
  setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

void RawClient::SetSendTimeout(std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

Status RawClient::SendRaw(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return Status(StatusCode::kTimeout, "the bookie stopped reading (send timed out)");
      }
      return ErrnoStatus("send", errno);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status RawClient::Send(proto::Request request) {
  if (request.header().protocol_version() == 0) {
    request.mutable_header()->set_protocol_version(kProtocolVersion);
  }
  return SendRaw(EncodeFrame(request));
}

Result<proto::Response> RawClient::Receive(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (buffer_.size() >= kFrameHeaderSize) {
      auto len = DecodeFrameLength(buffer_.data(), UINT32_MAX);
      if (!len.ok()) return len.status();
      if (buffer_.size() >= kFrameHeaderSize + *len) {
        proto::Response r;
        if (!r.ParseFromArray(buffer_.data() + kFrameHeaderSize, static_cast<int>(*len))) {
          return Corruption("a response frame that does not parse");
        }
        buffer_.erase(0, kFrameHeaderSize + *len);
        return r;
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Status(StatusCode::kTimeout, "no response in time");
    pollfd p{fd_, POLLIN, 0};
    int rc = poll(&p, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno != EINTR) return ErrnoStatus("poll", errno);
    if (rc <= 0) continue;
    char buf[65536];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status(StatusCode::kUnavailable, fmt::format("recv: {}", std::strerror(errno)));
    if (n == 0) return Status(StatusCode::kUnavailable, "the bookie closed the connection");
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

bool RawClient::WaitForClose(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(std::max<int64_t>(1, left.count()))) <= 0) continue;
    char buf[65536];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) return true;
  }
  return false;
}

std::string EntryBody(int64_t ledger, int64_t entry, int64_t lac, std::string_view payload) {
  std::string body(kEntryBodyHeaderSize, '\0');
  EncodeEntryBodyHeader({ledger, entry, lac, payload.size()}, body.data());
  body.append(payload);
  return body;
}

namespace {
proto::Request WithHeader(uint64_t id, proto::Operation op) {
  proto::Request r;
  r.mutable_header()->set_protocol_version(kProtocolVersion);
  r.mutable_header()->set_operation(op);
  r.mutable_header()->set_request_id(id);
  return r;
}
}  // namespace

proto::Request AddRequest(uint64_t id, int64_t ledger, int64_t entry, std::string_view key,
                          std::string_view payload, int64_t lac, bool recovery) {
  proto::Request r = WithHeader(id, proto::ADD_ENTRY);
  proto::AddRequest* a = r.mutable_add();
  a->set_ledger_id(ledger);
  a->set_entry_id(entry);
  a->set_master_key(std::string(key));
  a->set_body(EntryBody(ledger, entry, lac, payload));
  a->set_recovery(recovery);
  return r;
}

proto::Request ReadRequest(uint64_t id, int64_t ledger, int64_t entry, bool fence,
                           std::string_view key) {
  proto::Request r = WithHeader(id, proto::READ_ENTRY);
  r.mutable_read()->set_ledger_id(ledger);
  r.mutable_read()->set_entry_id(entry);
  r.mutable_read()->set_fence(fence);
  r.mutable_read()->set_master_key(std::string(key));
  return r;
}

proto::Request LongPollRequest(uint64_t id, int64_t ledger, int64_t previous_lac,
                               uint32_t timeout_ms) {
  proto::Request r = WithHeader(id, proto::READ_ENTRY);
  r.mutable_read()->set_ledger_id(ledger);
  r.mutable_read()->set_long_poll(true);
  r.mutable_read()->set_previous_lac(previous_lac);
  r.mutable_read()->set_timeout_ms(timeout_ms);
  return r;
}

proto::Request ReadLacRequest(uint64_t id, int64_t ledger) {
  proto::Request r = WithHeader(id, proto::READ_LAC);
  r.mutable_read_lac()->set_ledger_id(ledger);
  return r;
}

proto::Request WriteLacRequest(uint64_t id, int64_t ledger, std::string_view key, int64_t lac,
                               std::string_view body) {
  proto::Request r = WithHeader(id, proto::WRITE_LAC);
  r.mutable_write_lac()->set_ledger_id(ledger);
  r.mutable_write_lac()->set_master_key(std::string(key));
  r.mutable_write_lac()->set_lac(lac);
  r.mutable_write_lac()->set_body(std::string(body));
  return r;
}

proto::Request ForceLedgerRequest(uint64_t id, int64_t ledger, std::string_view key) {
  proto::Request r = WithHeader(id, proto::FORCE_LEDGER);
  r.mutable_force_ledger()->set_ledger_id(ledger);
  r.mutable_force_ledger()->set_master_key(std::string(key));
  return r;
}

proto::Request BookieInfoRequest(uint64_t id) {
  proto::Request r = WithHeader(id, proto::BOOKIE_INFO);
  r.mutable_bookie_info();
  return r;
}

proto::Request ListEntriesRequest(uint64_t id, int64_t ledger) {
  proto::Request r = WithHeader(id, proto::LIST_ENTRIES);
  r.mutable_list_entries()->set_ledger_id(ledger);
  return r;
}

Result<int> HttpGet(uint16_t port, const std::string& path, std::string* body) {
  return HttpCall(port, "GET", path, "", body);
}

namespace {

// "HTTP/1.1 NNN ..." headers, blank line, body: the status, and the body into *body.
Result<int> ParseHttpResponse(const std::string& response, std::string* body) {
  if (response.rfind("HTTP/1.1 ", 0) != 0) return Corruption("not an HTTP response: " + response);
  int status = std::stoi(response.substr(9, 3));
  size_t sep = response.find("\r\n\r\n");
  *body = sep == std::string::npos ? "" : response.substr(sep + 4);
  return status;
}

}  // namespace

Result<int> HttpCall(uint16_t port, std::string_view method, const std::string& path,
                     std::string_view request_body, std::string* body) {
  QUIRE_ASSIGN_OR_RETURN(RawClient c, RawClient::Connect("127.0.0.1", port));
  QUIRE_RETURN_IF_ERROR(c.SendRaw(fmt::format(
      "{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{}",
      method, path, request_body.size(), request_body)));
  std::string response;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{c.fd_, POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0) continue;
    char buf[65536];
    ssize_t n = recv(c.fd_, buf, sizeof(buf), 0);
    if (n <= 0) break;
    response.append(buf, static_cast<size_t>(n));
  }
  return ParseHttpResponse(response, body);
}


Result<int> HttpsGet(uint16_t port, const std::string& path, const std::string& ca_path,
                     std::string* body) {
  QUIRE_ASSIGN_OR_RETURN(RawClient c, RawClient::Connect("127.0.0.1", port));
  timeval tv{30, 0};  // every blocking read and write below is bounded
  setsockopt(c.fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(c.fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  if (!ctx || SSL_CTX_load_verify_locations(ctx.get(), ca_path.c_str(), nullptr) != 1) {
    return IOError("cannot load the CA " + ca_path);
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  SSL_set_fd(ssl.get(), c.fd_);
  if (SSL_connect(ssl.get()) != 1) {
    return Status(StatusCode::kUnauthenticated,
                  fmt::format("TLS handshake with 127.0.0.1:{} failed", port));
  }
  std::string request =
      fmt::format("GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
  if (SSL_write(ssl.get(), request.data(), static_cast<int>(request.size())) <= 0) {
    return IOError("cannot send the HTTPS request");
  }
  std::string response;
  char buf[65536];
  for (int n; (n = SSL_read(ssl.get(), buf, sizeof(buf))) > 0;) {
    response.append(buf, static_cast<size_t>(n));
  }
  return ParseHttpResponse(response, body);
}

}  // namespace quire::bookie::testing
