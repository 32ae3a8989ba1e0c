#include "metadata/records.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <random>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "metadata.pb.h"
#include "common/check.h"

namespace quire::metadata {
namespace {

namespace pb = ::quire::proto;

// Parses `bytes` into `msg` and checks its format version; nothing else is trusted yet.
template <typename Msg>
Status ParseRecord(std::string_view bytes, std::string_view where, std::string_view what,
                   uint32_t newest, Msg* msg) {
  if (bytes.size() > static_cast<size_t>(INT_MAX) ||
      !msg->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Corruption(
        fmt::format("{}: not a valid {} record ({} bytes)", where, what, bytes.size()));
  }
  if (msg->format_version() == 0) {
    return Corruption(fmt::format("{}: {} record without a format version ({} bytes)", where, what,
                                  bytes.size()));
  }
  if (msg->format_version() > newest) {
    return Corruption(
        fmt::format("{}: {} record has format version {}, newer than this build reads (<= {}); "
                    "upgrade Quire to read it",
                    where, what, msg->format_version(), newest));
  }
  return Status::Ok();
}

Status Bad(std::string_view where, std::string_view what, std::string_view problem) {
  return Corruption(fmt::format("{}: invalid {} record: {}", where, what, problem));
}

template <typename Msg>
std::string Serialize(const Msg& msg) {
  std::string out;
  bool ok = msg.SerializeToString(&out);
  QUIRE_CHECK_MSG(ok, "serializing a metadata record cannot fail");
  return out;
}

pb::RegistrationRecord::Mode ToProto(BookieMode mode) {
  return mode == BookieMode::kWritable ? pb::RegistrationRecord::WRITABLE
                                       : pb::RegistrationRecord::READ_ONLY;
}

}  // namespace

std::string EncodeLedgerMetadata(const LedgerMetadata& md) {
  pb::LedgerMetadataRecord r;
  r.set_format_version(kLedgerMetadataFormatVersion);
  switch (md.state) {
    case LedgerState::kOpen:
      r.set_state(pb::LedgerMetadataRecord::OPEN);
      break;
    case LedgerState::kInRecovery:
      r.set_state(pb::LedgerMetadataRecord::IN_RECOVERY);
      break;
    case LedgerState::kClosed:
      r.set_state(pb::LedgerMetadataRecord::CLOSED);
      break;
  }
  r.set_ensemble_size(static_cast<uint32_t>(md.ensemble_size));
  r.set_write_quorum_size(static_cast<uint32_t>(md.write_quorum_size));
  r.set_ack_quorum_size(static_cast<uint32_t>(md.ack_quorum_size));
  r.set_digest_type(md.digest_type == DigestType::kHmacSha256
                        ? pb::LedgerMetadataRecord::HMAC_SHA256
                        : pb::LedgerMetadataRecord::CRC32C);
  r.set_password_hash(md.password_hash);
  r.set_master_key(md.master_key);
  r.set_digest_key(md.digest_key);
  for (const Ensemble& ens : md.ensembles) {
    auto* e = r.add_ensembles();
    e->set_first_entry_id(ens.first_entry_id);
    for (const BookieId& b : ens.bookies) e->add_bookies(b);
  }
  r.set_last_entry_id(md.last_entry_id);
  r.set_length(md.length);
  r.set_creation_time_ms(md.creation_time_ms);
  r.set_creator(md.creator);
  for (const auto& [k, v] : md.custom_metadata) (*r.mutable_custom_metadata())[k] = v;
  return Serialize(r);
}

Result<LedgerMetadata> DecodeLedgerMetadata(std::string_view bytes, std::string_view where) {
  static constexpr std::string_view kWhat = "ledger metadata";
  pb::LedgerMetadataRecord r;
  QUIRE_RETURN_IF_ERROR(ParseRecord(bytes, where, kWhat, kLedgerMetadataFormatVersion, &r));
  LedgerMetadata md;
  switch (r.state()) {
    case pb::LedgerMetadataRecord::OPEN:
      md.state = LedgerState::kOpen;
      break;
    case pb::LedgerMetadataRecord::IN_RECOVERY:
      md.state = LedgerState::kInRecovery;
      break;
    case pb::LedgerMetadataRecord::CLOSED:
      md.state = LedgerState::kClosed;
      break;
    default:
      return Bad(where, kWhat, fmt::format("unknown state {}", static_cast<int>(r.state())));
  }
  switch (r.digest_type()) {
    case pb::LedgerMetadataRecord::CRC32C:
      md.digest_type = DigestType::kCrc32c;
      break;
    case pb::LedgerMetadataRecord::HMAC_SHA256:
      md.digest_type = DigestType::kHmacSha256;
      break;
    default:
      return Bad(where, kWhat,
                 fmt::format("unknown digest type {}", static_cast<int>(r.digest_type())));
  }
  // Bound the sizes before narrowing them; Validate() checks the rest.
  constexpr uint32_t kMaxSize = 1'000'000;
  if (r.ensemble_size() > kMaxSize || r.write_quorum_size() > kMaxSize ||
      r.ack_quorum_size() > kMaxSize) {
    return Bad(where, kWhat, "quorum sizes out of range");
  }
  md.ensemble_size = static_cast<int>(r.ensemble_size());
  md.write_quorum_size = static_cast<int>(r.write_quorum_size());
  md.ack_quorum_size = static_cast<int>(r.ack_quorum_size());
  md.password_hash = r.password_hash();
  md.master_key = r.master_key();
  md.digest_key = r.digest_key();
  md.ensembles.reserve(static_cast<size_t>(r.ensembles_size()));
  for (const auto& e : r.ensembles()) {
    Ensemble ens;
    ens.first_entry_id = e.first_entry_id();
    ens.bookies.assign(e.bookies().begin(), e.bookies().end());
    md.ensembles.push_back(std::move(ens));
  }
  md.last_entry_id = r.last_entry_id();
  md.length = r.length();
  md.creation_time_ms = r.creation_time_ms();
  md.creator = r.creator();
  for (const auto& [k, v] : r.custom_metadata()) md.custom_metadata.emplace(k, v);
  Status valid = md.Validate();
  if (!valid.ok()) return Bad(where, kWhat, valid.message());
  return md;
}

std::string EncodeCookie(const Cookie& c) {
  pb::CookieRecord r;
  r.set_format_version(kCookieFormatVersion);
  r.set_bookie_id(c.bookie_id);
  r.set_instance_id(c.instance_id);
  for (const auto& d : c.journal_dirs) r.add_journal_dirs(d);
  for (const auto& d : c.ledger_dirs) r.add_ledger_dirs(d);
  for (const auto& d : c.index_dirs) r.add_index_dirs(d);
  r.set_creation_time_ms(c.creation_time_ms);
  return Serialize(r);
}

Result<Cookie> DecodeCookie(std::string_view bytes, std::string_view where) {
  static constexpr std::string_view kWhat = "cookie";
  pb::CookieRecord r;
  QUIRE_RETURN_IF_ERROR(ParseRecord(bytes, where, kWhat, kCookieFormatVersion, &r));
  Status name = ValidateName("bookie id", r.bookie_id());
  if (!name.ok()) return Bad(where, kWhat, name.message());
  if (r.instance_id().empty()) return Bad(where, kWhat, "no instance id");
  Cookie c;
  c.bookie_id = r.bookie_id();
  c.instance_id = r.instance_id();
  c.journal_dirs.assign(r.journal_dirs().begin(), r.journal_dirs().end());
  c.ledger_dirs.assign(r.ledger_dirs().begin(), r.ledger_dirs().end());
  c.index_dirs.assign(r.index_dirs().begin(), r.index_dirs().end());
  c.creation_time_ms = r.creation_time_ms();
  return c;
}

std::string EncodeClusterInfo(const ClusterInfo& info) {
  pb::ClusterRecord r;
  r.set_format_version(kClusterFormatVersion);
  r.set_instance_id(info.instance_id);
  r.set_layout_version(info.layout_version);
  r.set_creation_time_ms(info.creation_time_ms);
  return Serialize(r);
}

Result<ClusterInfo> DecodeClusterInfo(std::string_view bytes, std::string_view where) {
  static constexpr std::string_view kWhat = "cluster";
  pb::ClusterRecord r;
  QUIRE_RETURN_IF_ERROR(ParseRecord(bytes, where, kWhat, kClusterFormatVersion, &r));
  if (r.instance_id().empty()) return Bad(where, kWhat, "no instance id");
  if (r.layout_version() == 0 || r.layout_version() > kLayoutVersion) {
    return Corruption(fmt::format("{}: layout version {} is not one this build knows (<= {})",
                                  where, r.layout_version(), kLayoutVersion));
  }
  ClusterInfo info;
  info.instance_id = r.instance_id();
  info.layout_version = r.layout_version();
  info.creation_time_ms = r.creation_time_ms();
  return info;
}

std::string EncodeUnderReplicated(const UnderReplicatedLedger& m) {
  pb::UnderReplicatedRecord r;
  r.set_format_version(kUnderReplicatedFormatVersion);
  for (const auto& b : m.lost_bookies) r.add_lost_bookies(b);
  r.set_marked_time_ms(m.marked_time_ms);
  return Serialize(r);
}

Result<UnderReplicatedLedger> DecodeUnderReplicated(std::string_view bytes,
                                                    std::string_view where) {
  static constexpr std::string_view kWhat = "under-replication marker";
  pb::UnderReplicatedRecord r;
  QUIRE_RETURN_IF_ERROR(ParseRecord(bytes, where, kWhat, kUnderReplicatedFormatVersion, &r));
  if (r.lost_bookies().empty()) return Bad(where, kWhat, "no lost bookie");
  UnderReplicatedLedger m;
  for (const auto& b : r.lost_bookies()) {
    Status name = ValidateName("bookie id", b);
    if (!name.ok()) return Bad(where, kWhat, name.message());
    m.lost_bookies.push_back(b);
  }
  std::sort(m.lost_bookies.begin(), m.lost_bookies.end());
  m.marked_time_ms = r.marked_time_ms();
  return m;
}

std::string EncodeAutoRecovery(const AutoRecoveryState& state) {
  pb::AutoRecoveryRecord r;
  r.set_format_version(kAutoRecoveryFormatVersion);
  r.set_disabled(!state.enabled);
  for (const MissingBookie& m : state.missing_bookies) {
    auto* b = r.add_missing_bookies();
    b->set_bookie_id(m.bookie_id);
    b->set_missing_since_ms(m.missing_since_ms);
  }
  r.set_audit_time_ms(state.audit_time_ms);
  r.set_auditor(state.auditor);
  r.set_last_check_time_ms(state.last_check_time_ms);
  return Serialize(r);
}

Result<AutoRecoveryState> DecodeAutoRecovery(std::string_view bytes, std::string_view where) {
  static constexpr std::string_view kWhat = "autorecovery record";
  pb::AutoRecoveryRecord r;
  QUIRE_RETURN_IF_ERROR(ParseRecord(bytes, where, kWhat, kAutoRecoveryFormatVersion, &r));
  AutoRecoveryState state;
  state.enabled = !r.disabled();
  for (const auto& b : r.missing_bookies()) {
    Status name = ValidateName("bookie id", b.bookie_id());
    if (!name.ok()) return Bad(where, kWhat, name.message());
    state.missing_bookies.push_back({b.bookie_id(), b.missing_since_ms()});
  }
  std::sort(state.missing_bookies.begin(), state.missing_bookies.end(),
            [](const MissingBookie& a, const MissingBookie& b) { return a.bookie_id < b.bookie_id; });
  state.audit_time_ms = r.audit_time_ms();
  state.auditor = r.auditor();
  state.last_check_time_ms = r.last_check_time_ms();
  return state;
}

std::string EncodeRegistration(const RegistrationInfo& info) {
  pb::RegistrationRecord r;
  r.set_format_version(kRegistrationFormatVersion);
  r.set_bookie_id(info.bookie_id);
  r.set_mode(ToProto(info.mode));
  r.set_session_id(info.session_id);
  r.set_owner(info.owner);
  r.set_version(info.version);
  r.set_takeover_key(info.takeover_key);
  return Serialize(r);
}

Result<RegistrationInfo> DecodeRegistration(std::string_view bytes, std::string_view where) {
  static constexpr std::string_view kWhat = "bookie registration";
  pb::RegistrationRecord r;
  QUIRE_RETURN_IF_ERROR(ParseRecord(bytes, where, kWhat, kRegistrationFormatVersion, &r));
  Status name = ValidateName("bookie id", r.bookie_id());
  if (!name.ok()) return Bad(where, kWhat, name.message());
  RegistrationInfo info;
  switch (r.mode()) {
    case pb::RegistrationRecord::WRITABLE:
      info.mode = BookieMode::kWritable;
      break;
    case pb::RegistrationRecord::READ_ONLY:
      info.mode = BookieMode::kReadOnly;
      break;
    default:
      return Bad(where, kWhat, fmt::format("unknown mode {}", static_cast<int>(r.mode())));
  }
  info.bookie_id = r.bookie_id();
  info.session_id = r.session_id();
  info.owner = r.owner();
  info.version = r.version();
  info.takeover_key = r.takeover_key();
  return info;
}

std::string EncodeLock(const LockInfo& info) {
  pb::LockRecord r;
  r.set_format_version(kLockFormatVersion);
  r.set_owner(info.owner);
  r.set_session_id(info.session_id);
  return Serialize(r);
}

Result<LockInfo> DecodeLock(std::string_view bytes, std::string_view where) {
  pb::LockRecord r;
  QUIRE_RETURN_IF_ERROR(ParseRecord(bytes, where, "lock", kLockFormatVersion, &r));
  return LockInfo{r.owner(), r.session_id()};
}

std::string EncodeSession(const SessionInfo& info) {
  pb::SessionRecord r;
  r.set_format_version(kSessionFormatVersion);
  r.set_session_id(info.session_id);
  r.set_owner(info.owner);
  r.set_lease_expiry_ms(info.lease_expiry_ms);
  r.set_lease_timeout_ms(info.lease_timeout_ms);
  return Serialize(r);
}

Result<SessionInfo> DecodeSession(std::string_view bytes, std::string_view where) {
  static constexpr std::string_view kWhat = "session";
  pb::SessionRecord r;
  QUIRE_RETURN_IF_ERROR(ParseRecord(bytes, where, kWhat, kSessionFormatVersion, &r));
  if (r.session_id().empty()) return Bad(where, kWhat, "no session id");
  return SessionInfo{r.session_id(), r.owner(), r.lease_expiry_ms(), r.lease_timeout_ms()};
}

std::string EncodeIdCounter(LedgerId next) {
  pb::IdCounterRecord r;
  r.set_format_version(kIdCounterFormatVersion);
  r.set_next_ledger_id(next);
  return Serialize(r);
}

Result<LedgerId> DecodeIdCounter(std::string_view bytes, std::string_view where) {
  pb::IdCounterRecord r;
  QUIRE_RETURN_IF_ERROR(
      ParseRecord(bytes, where, "ledger id counter", kIdCounterFormatVersion, &r));
  if (r.next_ledger_id() < 0) {
    return Bad(where, "ledger id counter", fmt::format("negative id {}", r.next_ledger_id()));
  }
  return LedgerId{r.next_ledger_id()};
}

Status CheckCookieMatches(const Cookie& stored, const Cookie& expected) {
  auto differ = [](std::string_view field, const auto& a, const auto& b) {
    return FailedPrecondition(fmt::format("cookie mismatch in {}: stored {}, expected {}", field,
                                          fmt::join(a, ","), fmt::join(b, ",")));
  };
  if (stored.bookie_id != expected.bookie_id) {
    return FailedPrecondition(fmt::format("cookie mismatch: stored bookie id {}, expected {}",
                                          stored.bookie_id, expected.bookie_id));
  }
  if (stored.instance_id != expected.instance_id) {
    return FailedPrecondition(fmt::format("cookie mismatch: stored instance id {}, expected {}",
                                          stored.instance_id, expected.instance_id));
  }
  if (stored.journal_dirs != expected.journal_dirs) {
    return differ("journal dirs", stored.journal_dirs, expected.journal_dirs);
  }
  if (stored.ledger_dirs != expected.ledger_dirs) {
    return differ("ledger dirs", stored.ledger_dirs, expected.ledger_dirs);
  }
  if (stored.index_dirs != expected.index_dirs) {
    return differ("index dirs", stored.index_dirs, expected.index_dirs);
  }
  return Status::Ok();
}

std::string ProcessOwnerString() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "unknown");
  return fmt::format("{}:{}", host, getpid());
}

int64_t NowUnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string RandomHex(size_t digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::random_device rd;
  std::string out;
  out.reserve(digits);
  while (out.size() < digits) {
    uint32_t v = rd();
    for (int i = 0; i < 8 && out.size() < digits; ++i, v >>= 4) out.push_back(kHex[v & 0xf]);
  }
  return out;
}

}  // namespace quire::metadata
