// Quire's one error type.
//
// Every fallible operation returns a Status (success or an error with a code and a message) or a
// Result<T> (a value or an error Status). Both are [[nodiscard]]: an error cannot be dropped by
// accident. Messages carry context ("journal /data/j0/current/0000000000000003.jnl at offset 4096:
// CRC mismatch"); WithContext() prepends more as an error travels up.
//
// Exceptions never cross a module boundary; bugs (broken invariants) abort instead.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

// What libquire.so exports: it is built with hidden visibility, and only the declarations marked
// QUIRE_EXPORT in include/quire/ are its interface (tests/client/install_test.sh checks).
#define QUIRE_EXPORT [[gnu::visibility("default")]]

namespace quire {

// The codes, listed once with their meaning. The numeric values are part of the wire protocol
// (docs/protocol.md): append new codes, never renumber.
enum class StatusCode : uint8_t {
  kOk = 0,
  kInvalidArgument = 1,   // the caller asked for something malformed (bad config, bad id)
  kNotFound = 2,          // a named thing (file, key, znode, bookie) does not exist
  kNoSuchLedger = 3,      // the bookie or metadata store has no such ledger
  kNoSuchEntry = 4,       // the ledger exists but this entry is not stored
  kCorruption = 5,        // bytes from disk or network failed validation (CRC, framing, version)
  kIOError = 6,           // an I/O call failed (EIO, ENOSPC, ...); see the message
  kUnauthorized = 7,      // wrong master key / password, or a bookie refused the permission
  kFenced = 8,            // the ledger is fenced: normal adds are refused
  kBadVersion = 9,        // compare-and-set lost: the stored version differs
  kAlreadyExists = 10,    // create of something that exists
  kReadOnly = 11,         // the bookie or journal refuses writes
  kTooManyRequests = 12,  // back-pressure: try again later
  kTimeout = 13,          // no answer in time
  kUnavailable = 14,      // a peer or service cannot be reached
  kAborted = 15,          // the operation was cancelled (shutdown, session expiry)
  kFailedPrecondition = 16,  // the system is not in a state where this can run
  kUnimplemented = 17,    // not supported by this version
  kInternal = 18,         // a bug; the message says where
  kBadRequest = 19,       // a peer sent a request that cannot be honoured
  kLedgerClosed = 20,     // the ledger is closed: no more adds
  kUnauthenticated = 21,  // the peer could not be authenticated (TLS handshake, TLS required)
};

// Stable, lower-case name of a code, e.g. "io-error".
QUIRE_EXPORT std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] QUIRE_EXPORT Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message, int sys_errno = 0);

  static Status Ok() { return Status(); }

  bool ok() const { return state_ == nullptr; }
  StatusCode code() const { return state_ ? state_->code : StatusCode::kOk; }
  const std::string& message() const;
  // The errno behind an I/O error, or 0.
  int sys_errno() const { return state_ ? state_->sys_errno : 0; }

  bool Is(StatusCode c) const { return code() == c; }

  // "<context>: <message>", same code. A no-op on OK.
  Status WithContext(std::string_view context) const;

  // "io-error: <message>", or "ok".
  std::string ToString() const;

  // Explicitly drops a status that is known not to matter (e.g. best-effort cleanup).
  void IgnoreError() const {}

 private:
  struct State {
    StatusCode code;
    std::string message;
    int sys_errno;
  };
  std::shared_ptr<const State> state_;  // null means OK; shared so copies are cheap
};

inline bool operator==(const Status& a, StatusCode c) { return a.code() == c; }

// Convenience constructors, one per code that callers create often.
inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
inline Status IOError(std::string m, int e = 0) { return {StatusCode::kIOError, std::move(m), e}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}

// An I/O error from errno: "<what>: <strerror(e)>".
QUIRE_EXPORT Status ErrnoStatus(std::string_view what, int e);

namespace detail {
// A Result used against its contract is a bug in the caller: it stops the process in every build
// (undefined behaviour otherwise).
[[noreturn]] inline void ResultMisuse(const char* what, const std::string& status) {
  std::fprintf(stderr, "quire::Result: %s%s%s\n", what, status.empty() ? "" : ": ", status.c_str());
  std::abort();
}
}  // namespace detail

// A value or an error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (status_.ok()) detail::ResultMisuse("built from an OK Status: it must carry an error", {});
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & { return *checked(); }
  const T& value() const& { return *checked(); }
  T&& value() && { return std::move(*checked()); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return checked(); }
  const T* operator->() const { return checked(); }

 private:
  T* checked() {
    if (!value_.has_value()) detail::ResultMisuse("value() on an error Result", status_.ToString());
    return &*value_;
  }
  const T* checked() const {
    if (!value_.has_value()) detail::ResultMisuse("value() on an error Result", status_.ToString());
    return &*value_;
  }

  std::optional<T> value_;
  Status status_;
};

}  // namespace quire

#define QUIRE_CONCAT_INNER(a, b) a##b
#define QUIRE_CONCAT(a, b) QUIRE_CONCAT_INNER(a, b)

// Returns the Status of `expr` from the enclosing function if it is an error.
#define QUIRE_RETURN_IF_ERROR(expr)                 \
  do {                                              \
    ::quire::Status quire_status_ = (expr);         \
    if (!quire_status_.ok()) return quire_status_;  \
  } while (0)

// `lhs = value of expr` or return its error. `lhs` may declare a variable: `auto x`.
#define QUIRE_ASSIGN_OR_RETURN(lhs, expr) \
  QUIRE_ASSIGN_OR_RETURN_IMPL(QUIRE_CONCAT(quire_result_, __LINE__), lhs, expr)
#define QUIRE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
