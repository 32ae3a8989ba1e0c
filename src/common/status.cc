#include "quire/status.h"

#include <cstring>

#include <fmt/format.h>

namespace quire {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid-argument";
    case StatusCode::kNotFound: return "not-found";
    case StatusCode::kNoSuchLedger: return "no-such-ledger";
    case StatusCode::kNoSuchEntry: return "no-such-entry";
    case StatusCode::kCorruption: return "corruption";
    case StatusCode::kIOError: return "io-error";
    case StatusCode::kUnauthorized: return "unauthorized";
    case StatusCode::kFenced: return "fenced";
    case StatusCode::kBadVersion: return "bad-version";
    case StatusCode::kAlreadyExists: return "already-exists";
    case StatusCode::kReadOnly: return "read-only";
    case StatusCode::kTooManyRequests: return "too-many-requests";
    case StatusCode::kTimeout: return "timeout";
    case StatusCode::kUnavailable: return "unavailable";
    case StatusCode::kAborted: return "aborted";
    case StatusCode::kFailedPrecondition: return "failed-precondition";
    case StatusCode::kUnimplemented: return "unimplemented";
    case StatusCode::kInternal: return "internal";
    case StatusCode::kBadRequest: return "bad-request";
    case StatusCode::kLedgerClosed: return "ledger-closed";
    case StatusCode::kUnauthenticated: return "unauthenticated";
  }
  return "unknown";
}

Status::Status(StatusCode code, std::string message, int sys_errno) {
  if (code != StatusCode::kOk) {
    state_ = std::make_shared<const State>(State{code, std::move(message), sys_errno});
  }
}

const std::string& Status::message() const {
  static const std::string kEmpty;
  return state_ ? state_->message : kEmpty;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  return Status(state_->code, fmt::format("{}: {}", context, state_->message), state_->sys_errno);
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return fmt::format("{}: {}", StatusCodeName(state_->code), state_->message);
}

Status ErrnoStatus(std::string_view what, int e) {
  return Status(StatusCode::kIOError, fmt::format("{}: {}", what, std::strerror(e)), e);
}

}  // namespace quire
