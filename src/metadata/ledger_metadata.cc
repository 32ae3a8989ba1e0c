#include "quire/ledger_metadata.h"
#include "common/check.h"

#include <openssl/evp.h>

#include <algorithm>
#include <set>

#include <fmt/format.h>

namespace quire {

std::string_view LedgerStateName(LedgerState state) {
  switch (state) {
    case LedgerState::kOpen:
      return "OPEN";
    case LedgerState::kInRecovery:
      return "IN_RECOVERY";
    case LedgerState::kClosed:
      return "CLOSED";
  }
  return "UNKNOWN";
}

std::string_view DigestTypeName(DigestType type) {
  switch (type) {
    case DigestType::kCrc32c:
      return "CRC32C";
    case DigestType::kHmacSha256:
      return "HMAC_SHA256";
  }
  return "UNKNOWN";
}

namespace {

// Bounds that keep arithmetic on sizes trivially safe; no real ensemble comes near them.
constexpr int kMaxEnsembleSize = 1000;

Status Invalid(std::string message) { return InvalidArgument("ledger metadata: " + message); }

}  // namespace

Status LedgerMetadata::Validate() const {
  if (state != LedgerState::kOpen && state != LedgerState::kInRecovery &&
      state != LedgerState::kClosed) {
    return Invalid(fmt::format("unknown state {}", static_cast<int>(state)));
  }
  if (digest_type != DigestType::kCrc32c && digest_type != DigestType::kHmacSha256) {
    return Invalid(fmt::format("unknown digest type {}", static_cast<int>(digest_type)));
  }
  if (!(ensemble_size >= write_quorum_size && write_quorum_size >= ack_quorum_size &&
        ack_quorum_size >= 1)) {
    return Invalid(fmt::format("need E >= Qw >= Qa >= 1, got E={} Qw={} Qa={}", ensemble_size,
                               write_quorum_size, ack_quorum_size));
  }
  if (ensemble_size > kMaxEnsembleSize) {
    return Invalid(fmt::format("E={} is larger than {}", ensemble_size, kMaxEnsembleSize));
  }
  if (ensembles.empty()) return Invalid("no ensemble");
  if (ensembles.front().first_entry_id != 0) {
    return Invalid(fmt::format("the first ensemble starts at entry {}, not 0",
                               ensembles.front().first_entry_id));
  }
  for (size_t i = 0; i < ensembles.size(); ++i) {
    const Ensemble& ens = ensembles[i];
    if (i > 0 && ens.first_entry_id <= ensembles[i - 1].first_entry_id) {
      return Invalid(fmt::format("ensemble {} starts at entry {}, not after the previous one ({})",
                                 i, ens.first_entry_id, ensembles[i - 1].first_entry_id));
    }
    if (ens.bookies.size() != static_cast<size_t>(ensemble_size)) {
      return Invalid(
          fmt::format("ensemble {} has {} bookies, E is {}", i, ens.bookies.size(), ensemble_size));
    }
    std::set<std::string_view> seen;
    for (const BookieId& b : ens.bookies) {
      if (b.empty()) return Invalid(fmt::format("ensemble {} has an empty bookie id", i));
      if (!seen.insert(b).second) {
        return Invalid(fmt::format("ensemble {} lists bookie {} twice", i, b));
      }
    }
  }
  if (closed()) {
    if (last_entry_id < kNoEntry) {
      return Invalid(fmt::format("closed with lastEntryId {}", last_entry_id));
    }
    if (last_entry_id == kNoEntry && length != 0) {
      return Invalid(fmt::format("closed empty (lastEntryId -1) with length {}", length));
    }
  } else if (last_entry_id != kNoEntry || length != 0) {
    return Invalid(
        fmt::format("{} ledger with lastEntryId {} and length {} (both are set only "
                    "when CLOSED)",
                    LedgerStateName(state), last_entry_id, length));
  }
  if (creation_time_ms < 0) return Invalid(fmt::format("creation time {}", creation_time_ms));
  for (const auto& [key, value] : custom_metadata) {
    if (key.empty()) return Invalid("custom metadata with an empty key");
  }
  return Status::Ok();
}

const Ensemble& LedgerMetadata::EnsembleFor(EntryId e) const {
  // Validate() guarantees a first ensemble from entry 0 in every metadata read or written.
  QUIRE_CHECK(!ensembles.empty());
  QUIRE_CHECK_GE(e, 0);
  // The last ensemble whose first entry is <= e.
  auto it = std::upper_bound(
      ensembles.begin(), ensembles.end(), e,
      [](EntryId entry, const Ensemble& ens) { return entry < ens.first_entry_id; });
  QUIRE_CHECK(it != ensembles.begin());
  return *(it - 1);
}

std::vector<int> LedgerMetadata::WriteSetPositions(EntryId e) const {
  QUIRE_CHECK_GE(e, 0);
  QUIRE_CHECK_GT(ensemble_size, 0);
  QUIRE_CHECK_LE(write_quorum_size, ensemble_size);
  std::vector<int> positions;
  positions.reserve(static_cast<size_t>(write_quorum_size));
  const auto base = static_cast<int>(e % ensemble_size);
  for (int i = 0; i < write_quorum_size; ++i) positions.push_back((base + i) % ensemble_size);
  return positions;
}

std::vector<BookieId> LedgerMetadata::WriteSet(EntryId e) const {
  const Ensemble& ens = EnsembleFor(e);
  std::vector<BookieId> out;
  for (int pos : WriteSetPositions(e)) out.push_back(ens.bookies[static_cast<size_t>(pos)]);
  return out;
}

bool LedgerMetadata::UsesBookie(const BookieId& bookie) const {
  return std::any_of(ensembles.begin(), ensembles.end(), [&](const Ensemble& e) {
    return std::find(e.bookies.begin(), e.bookies.end(), bookie) != e.bookies.end();
  });
}

std::string LedgerMetadata::Summary() const {
  return fmt::format("state={} E/Qw/Qa={}/{}/{} lastEntryId={} length={} ensembles={}",
                     LedgerStateName(state), ensemble_size, write_quorum_size, ack_quorum_size,
                     last_entry_id, length, ensembles.size());
}

std::string HashLedgerPassword(std::string_view password) {
  // The label keeps this hash distinct from any other use of SHA-256 over the password (in
  // particular from the master key a client derives for bookies).
  static constexpr std::string_view kLabel = "quire-ledger-password-hash-v1";
  std::string input;
  input.reserve(kLabel.size() + 1 + password.size());
  input.append(kLabel);
  input.push_back('\0');
  input.append(password);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  int ok = EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha256(), nullptr);
  // OpenSSL cannot fail SHA-256 over memory short of a broken installation.
  QUIRE_CHECK(ok == 1 && len == 32);
  return std::string(reinterpret_cast<const char*>(digest), len);
}

}  // namespace quire
