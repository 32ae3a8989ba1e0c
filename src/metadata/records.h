// Encoding of the records the metadata store keeps (proto/metadata.proto), and their versions.
//
// Every Decode* parses the whole record, checks its format version (0 or newer than this build:
// kCorruption before any other field is looked at) and validates every field; only then does it
// return a value. A record is never half-parsed. `where` names the record in errors, e.g.
// "znode /quire/ledgers/000/0000/0000/0000/L0042".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/build_info.h"
#include "metadata/metadata_store.h"
#include "quire/ledger_metadata.h"
#include "quire/status.h"

namespace quire::metadata {

// Format versions written by this build (and the newest it reads). docs/metadata.md has their
// history.
inline constexpr uint32_t kLedgerMetadataFormatVersion = 1;
inline constexpr uint32_t kCookieFormatVersion = 1;
inline constexpr uint32_t kClusterFormatVersion = 1;
inline constexpr uint32_t kUnderReplicatedFormatVersion = 1;
inline constexpr uint32_t kRegistrationFormatVersion = 1;
inline constexpr uint32_t kLockFormatVersion = 1;
inline constexpr uint32_t kSessionFormatVersion = 1;
inline constexpr uint32_t kIdCounterFormatVersion = 1;
inline constexpr uint32_t kAutoRecoveryFormatVersion = 1;
// The layout of paths in the store (docs/metadata.md, "Layout").
inline constexpr uint32_t kLayoutVersion = 1;

std::string EncodeLedgerMetadata(const LedgerMetadata& metadata);
Result<LedgerMetadata> DecodeLedgerMetadata(std::string_view bytes, std::string_view where);

std::string EncodeCookie(const Cookie& cookie);
Result<Cookie> DecodeCookie(std::string_view bytes, std::string_view where);

// Only instance_id, layout_version and creation_time_ms are stored.
std::string EncodeClusterInfo(const ClusterInfo& info);
Result<ClusterInfo> DecodeClusterInfo(std::string_view bytes, std::string_view where);

// ledger_id is not stored (it is in the path).
std::string EncodeUnderReplicated(const UnderReplicatedLedger& marker);
Result<UnderReplicatedLedger> DecodeUnderReplicated(std::string_view bytes, std::string_view where);

std::string EncodeAutoRecovery(const AutoRecoveryState& state);
Result<AutoRecoveryState> DecodeAutoRecovery(std::string_view bytes, std::string_view where);

struct RegistrationInfo {
  BookieId bookie_id;
  BookieMode mode = BookieMode::kWritable;
  std::string session_id;  // file/mem stores
  std::string owner;       // "host:pid"
  // The registering process's Quire version: this build's when it registers; as stored (empty
  // from a bookie older than the field) when read.
  std::string version{QuireVersion()};
  std::string takeover_key;  // empty: none (RegisterBookie)
};
std::string EncodeRegistration(const RegistrationInfo& info);
Result<RegistrationInfo> DecodeRegistration(std::string_view bytes, std::string_view where);

struct LockInfo {
  std::string owner;
  std::string session_id;  // file/mem stores
};
std::string EncodeLock(const LockInfo& info);
Result<LockInfo> DecodeLock(std::string_view bytes, std::string_view where);

struct SessionInfo {
  std::string session_id;
  std::string owner;
  int64_t lease_expiry_ms = 0;
  int64_t lease_timeout_ms = 0;
};
std::string EncodeSession(const SessionInfo& info);
Result<SessionInfo> DecodeSession(std::string_view bytes, std::string_view where);

std::string EncodeIdCounter(LedgerId next);
Result<LedgerId> DecodeIdCounter(std::string_view bytes, std::string_view where);

// Cookie checks for a bookie starting up: kFailedPrecondition naming the first difference
// between the cookie found (`stored`) and the one the bookie expects (`expected`).
Status CheckCookieMatches(const Cookie& stored, const Cookie& expected);

// "host:pid" of this process, for the owner fields.
std::string ProcessOwnerString();

// Unix time in milliseconds (CLOCK_REALTIME).
int64_t NowUnixMillis();

// 16 random hex digits (session ids) or a random UUID-like instance id.
std::string RandomHex(size_t digits);

}  // namespace quire::metadata
