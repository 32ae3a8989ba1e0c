// The metadata of one ledger, as the client library, bookies and tools see it.
//
// This is the plain C++ form of the record kept in the metadata store (docs/metadata.md, "The
// ledger record"): no protobuf or other third-party type appears here. The metadata store converts
// it to and from its stored encoding and refuses (kCorruption) any record that fails Validate().
//
// Vocabulary (docs/semantics.md): a ledger has an ensemble of E bookies, a write quorum Qw and an
// ack quorum Qa, E >= Qw >= Qa >= 1. `ensembles` lists every ensemble the ledger has had, each with
// the first entry id from which it applies; an ensemble change appends one. The write set of
// entry e is the Qw bookies at positions (e + i) mod E, i = 0..Qw-1, of the ensemble in force
// for e.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "quire/status.h"

namespace quire {

using LedgerId = int64_t;  // 0 .. kMaxLedgerId (63 bits)
using EntryId = int64_t;   // 0, 1, 2, ...; kNoEntry (-1) means "none"
using BookieId = std::string;

inline constexpr LedgerId kMaxLedgerId = INT64_MAX;
inline constexpr EntryId kNoEntry = -1;

// OPEN -> IN_RECOVERY (someone else is closing it) -> CLOSED. A CLOSED ledger is immutable.
enum class LedgerState : uint8_t { kOpen = 1, kInRecovery = 2, kClosed = 3 };

// How entries are protected: CRC32C (default) or HMAC-SHA256 keyed by the ledger password.
enum class DigestType : uint8_t { kCrc32c = 1, kHmacSha256 = 2 };

// "OPEN", "IN_RECOVERY", "CLOSED"
QUIRE_EXPORT std::string_view LedgerStateName(LedgerState state);
// "CRC32C", "HMAC_SHA256"
QUIRE_EXPORT std::string_view DigestTypeName(DigestType type);

struct Ensemble {
  EntryId first_entry_id = 0;     // the ensemble applies to entries >= this id
  std::vector<BookieId> bookies;  // exactly E bookie ids, all different

  friend bool operator==(const Ensemble&, const Ensemble&) = default;
};

struct QUIRE_EXPORT LedgerMetadata {
  LedgerState state = LedgerState::kOpen;
  int ensemble_size = 0;      // E
  int write_quorum_size = 0;  // Qw
  int ack_quorum_size = 0;    // Qa
  DigestType digest_type = DigestType::kCrc32c;
  // HashLedgerPassword(password): lets a client check a password without the metadata ever
  // holding it. Empty when the ledger has no password.
  std::string password_hash;
  // The keys derived from the password that repairing the ledger needs, kept so that operators'
  // tools (`quire bookie decommission`, `quire ledger check`) work without the password: the
  // master key bookies check on adds and fences, and for HMAC ledgers the entries' digest key.
  // Whoever reads the metadata can therefore write to the ledger, as in BookKeeper, which keeps
  // the password itself (docs/security.md). Empty in records written before they were kept
  // (docs/metadata.md); repairing such a ledger needs its password. Never printed.
  std::string master_key;
  std::string digest_key;
  // In order of first_entry_id, strictly increasing, the first one starting at entry 0.
  std::vector<Ensemble> ensembles;
  EntryId last_entry_id = kNoEntry;  // fixed when CLOSED; kNoEntry while OPEN or IN_RECOVERY
  uint64_t length = 0;               // payload bytes of entries 0..last_entry_id; 0 until CLOSED
  int64_t creation_time_ms = 0;      // Unix time in milliseconds
  std::string creator;               // free text naming the creating client, e.g. "host:pid"
  std::map<std::string, std::string> custom_metadata;  // application key/value pairs

  bool closed() const { return state == LedgerState::kClosed; }

  // Checks the invariants above and E >= Qw >= Qa >= 1. kInvalidArgument names the first
  // violation. The metadata store refuses to store metadata that fails this check.
  Status Validate() const;

  // The ensemble in force for entry `e` (the last one whose first_entry_id <= e).
  // Requires Validate() to pass and e >= 0.
  const Ensemble& EnsembleFor(EntryId e) const;
  // The most recent ensemble: the one a writer sends new entries to.
  const Ensemble& LastEnsemble() const { return ensembles.back(); }

  // Positions in EnsembleFor(e) of the write set of entry `e`: (e + i) mod E, i = 0..Qw-1.
  std::vector<int> WriteSetPositions(EntryId e) const;
  // The bookies of the write set of entry `e`, in write-set order.
  std::vector<BookieId> WriteSet(EntryId e) const;
  // Whether any ensemble names `bookie`.
  bool UsesBookie(const BookieId& bookie) const;

  // One line for logs: "state=CLOSED E/Qw/Qa=3/2/2 lastEntryId=41 length=4096 ensembles=2".
  std::string Summary() const;

  friend bool operator==(const LedgerMetadata&, const LedgerMetadata&) = default;
};

// SHA-256 of a domain-separation label followed by the password: what LedgerMetadata keeps in
// `password_hash`. Different from the keys derived from the password, so that it reveals none of
// them (the metadata keeps those too, see LedgerMetadata::master_key).
QUIRE_EXPORT std::string HashLedgerPassword(std::string_view password);

}  // namespace quire
