// What the client puts around each payload so that readers can trust what bookies return
// (docs/semantics.md, writing step 1; docs/protocol.md, "Entry body").
//
//   entry body  = ledger:i64 | entry:i64 | lac:i64 | length:u64 | digest | payload
//   LAC body    = ledger:i64 | lac:i64 | digest            (an explicit LAC, WRITE_LAC)
//
// The digest covers everything before it and the payload: CRC32C (4 bytes, big-endian) or
// HMAC-SHA256 (32 bytes) keyed by a key derived from the ledger password. Bookies never check it;
// readers always do.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "protocol/protocol.h"
#include "quire/ledger_metadata.h"
#include "quire/status.h"

struct evp_mac_st;

namespace quire::client {

// The master key sent to bookies with adds and fences: SHA-256 over a label and the password.
// Different from both the metadata's password hash and the HMAC key, so no one of them reveals
// another.
std::string MasterKey(std::string_view password);

// What a new ledger's metadata keeps of its password (empty for no password).
std::string StoredPasswordHash(std::string_view password);
// kUnauthorized unless `password` is the ledger's.
Status CheckPassword(LedgerId id, const LedgerMetadata& metadata, std::string_view password);

// The keys derived from a ledger's password, which its metadata also keeps (docs/security.md).
struct LedgerKeys {
  std::string master_key;  // MasterKey(password)
  std::string digest_key;  // keys the entries' HMAC; empty for CRC32C ledgers
};
LedgerKeys DeriveLedgerKeys(DigestType type, std::string_view password);
// The keys an operator's tool (decommission, check, autorecovery) acts on ledger `id` with, no
// password needed: the ones its metadata keeps, after checking `password` if one is given. A
// record written before metadata kept keys has none: then `password` must be the ledger's, and
// the error says so when it is not.
Result<LedgerKeys> RepairKeys(LedgerId id, const LedgerMetadata& metadata, std::string_view password);

class Digest {
 public:
  Digest(DigestType type, std::string_view password);
  Digest(DigestType type, const LedgerKeys& keys);

  size_t size() const { return type_ == DigestType::kCrc32c ? 4 : 32; }

  // The complete entry body for (ledger, entry) carrying `lac`, where `length` is the ledger's
  // length up to and including this entry.
  std::string EncodeEntry(LedgerId ledger, EntryId entry, EntryId lac, uint64_t length,
                          std::string_view payload) const;

  struct DecodedEntry {
    protocol::EntryBodyHeader header;
    std::string payload;
  };
  // Checks a body returned for (ledger, entry): its ids and its digest. kCorruption otherwise,
  // saying what did not match.
  Result<DecodedEntry> DecodeEntry(LedgerId ledger, EntryId entry, std::string_view body) const;

  // The highest LAC that what a bookie returned proves: the explicit LAC body and the LAC each
  // entry body carries in its header, each checked (empty ones are skipped). A bookie's LAC
  // number alone proves nothing: a faulty one could report a LAC past entries that fewer than Qa
  // bookies hold. An entry body that fails its check is reported to `bad` (entry id, why) and
  // proves nothing. kNoEntry when nothing verifies.
  using BadCopyFn = std::function<void(EntryId entry, const std::string& why)>;
  EntryId ProvenLac(LedgerId ledger, std::string_view explicit_lac_body,
                    std::initializer_list<std::string_view> entry_bodies,
                    const BadCopyFn& bad = {}) const;

  std::string EncodeLac(LedgerId ledger, EntryId lac) const;
  // The LAC in an explicit-LAC body, checked. kCorruption if it does not verify.
  Result<EntryId> DecodeLac(LedgerId ledger, std::string_view body) const;

 private:
  // The digest of `a` followed by `b`.
  std::string Compute(std::string_view a, std::string_view b) const;

  DigestType type_;
  std::string mac_key_;
  std::shared_ptr<evp_mac_st> mac_;  // OpenSSL's HMAC implementation, for kHmacSha256
};

}  // namespace quire::client
