// A small, blocking client of the bookie protocol over a plain socket, for tests: it sends exactly
// the bytes a test asks for (valid frames, or garbage) and reads frames back with a deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "bookie.pb.h"
#include "quire/status.h"

namespace quire::bookie::testing {

class RawClient {
 public:
  static Result<RawClient> Connect(const std::string& host, uint16_t port);
  RawClient(RawClient&& other) noexcept;
  RawClient& operator=(RawClient&& other) noexcept;
  RawClient(const RawClient&) = delete;
  ~RawClient();

  // Writes all of `bytes`.
  Status SendRaw(std::string_view bytes);
  // Frames and sends a request; fills in protocol version 1 if the header has none.
  Status Send(proto::Request request);
  // The next response frame, or an error (kTimeout; kUnavailable when the bookie closed).
  Result<proto::Response> Receive(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Waits until the bookie closes the connection (true) or `timeout` passes (false).
  bool WaitForClose(std::chrono::milliseconds timeout);
  void Close();
  // Shrinks the socket's receive buffer (for the never-reading client).
  void SetReceiveBuffer(int bytes);
  // Bounds each send: SendRaw fails with kTimeout when the bookie stops reading for this long.
  void SetSendTimeout(std::chrono::milliseconds timeout);

 private:
  friend Result<int> HttpCall(uint16_t port, std::string_view method, const std::string& path,
                              std::string_view request_body, std::string* body);
  friend Result<int> HttpsGet(uint16_t port, const std::string& path, const std::string& ca_path,
                              std::string* body);
  explicit RawClient(int fd) : fd_(fd) {}
  int fd_ = -1;
  std::string buffer_;
};

// Request builders. Ids are int64 so tests can send invalid ones.
std::string EntryBody(int64_t ledger, int64_t entry, int64_t lac, std::string_view payload);
proto::Request AddRequest(uint64_t request_id, int64_t ledger, int64_t entry,
                          std::string_view master_key, std::string_view payload,
                          int64_t lac = -1, bool recovery = false);
proto::Request ReadRequest(uint64_t request_id, int64_t ledger, int64_t entry, bool fence = false,
                           std::string_view master_key = {});
proto::Request LongPollRequest(uint64_t request_id, int64_t ledger, int64_t previous_lac,
                               uint32_t timeout_ms);
proto::Request ReadLacRequest(uint64_t request_id, int64_t ledger);
proto::Request WriteLacRequest(uint64_t request_id, int64_t ledger, std::string_view master_key,
                               int64_t lac, std::string_view body);
proto::Request ForceLedgerRequest(uint64_t request_id, int64_t ledger, std::string_view master_key);
proto::Request BookieInfoRequest(uint64_t request_id);
proto::Request ListEntriesRequest(uint64_t request_id, int64_t ledger);

// GET http://127.0.0.1:port/path; returns the status code and fills *body (bounded: 30 s).
Result<int> HttpGet(uint16_t port, const std::string& path, std::string* body);
// GET https://127.0.0.1:port/path, the server's certificate verified against `ca_path` (a bookie
// with TLS serves its admin endpoint over HTTPS only). Bounded by the socket's timeouts (30 s).
Result<int> HttpsGet(uint16_t port, const std::string& path, const std::string& ca_path,
                     std::string* body);
// `method` (PUT, ...) with `request_body`, likewise.
Result<int> HttpCall(uint16_t port, std::string_view method, const std::string& path,
                     std::string_view request_body, std::string* body);

}  // namespace quire::bookie::testing
