#include "client/digest.h"

#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include <algorithm>
#include <fmt/format.h>

#include "common/coding.h"
#include "common/crc32c.h"
#include "common/check.h"

namespace quire::client {
namespace {

std::string Sha256(std::string_view label, std::string_view password) {
  std::string input(label);
  input.push_back('\0');
  input.append(password);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // OpenSSL cannot fail SHA-256 over memory short of a broken installation.
  QUIRE_CHECK(EVP_Digest(input.data(), input.size(), out, &len, EVP_sha256(), nullptr) == 1);
  return std::string(reinterpret_cast<const char*>(out), len);
}

constexpr size_t kLacHeaderSize = 16;

}  // namespace

std::string MasterKey(std::string_view password) { return Sha256("quire-master-key", password); }

std::string StoredPasswordHash(std::string_view password) {
  return password.empty() ? std::string() : HashLedgerPassword(password);
}

Status CheckPassword(LedgerId id, const LedgerMetadata& metadata, std::string_view password) {
  if (StoredPasswordHash(password) == metadata.password_hash) return Status::Ok();
  return Status(StatusCode::kUnauthorized, fmt::format("wrong password for ledger {}", id));
}

LedgerKeys DeriveLedgerKeys(DigestType type, std::string_view password) {
  LedgerKeys keys{MasterKey(password), {}};
  if (type == DigestType::kHmacSha256) keys.digest_key = Sha256("quire-entry-mac", password);
  return keys;
}

Result<LedgerKeys> RepairKeys(LedgerId id, const LedgerMetadata& metadata,
                              std::string_view password) {
  if (!metadata.master_key.empty()) {
    if (!password.empty()) QUIRE_RETURN_IF_ERROR(CheckPassword(id, metadata, password));
    return LedgerKeys{metadata.master_key, metadata.digest_key};
  }
  if (Status s = CheckPassword(id, metadata, password); !s.ok()) {
    return Status(StatusCode::kUnauthorized,
                  fmt::format("ledger {} was created before ledger metadata kept its keys: {}", id,
                              password.empty() ? "give its password" : "wrong password"));
  }
  return DeriveLedgerKeys(metadata.digest_type, password);
}

Digest::Digest(DigestType type, std::string_view password)
    : Digest(type, DeriveLedgerKeys(type, password)) {}

Digest::Digest(DigestType type, const LedgerKeys& keys) : type_(type) {
  if (type_ == DigestType::kHmacSha256) {
    QUIRE_CHECK_MSG(!keys.digest_key.empty(), "an HMAC digest needs its key");
    mac_key_ = keys.digest_key;
    mac_ = std::shared_ptr<EVP_MAC>(EVP_MAC_fetch(nullptr, "HMAC", nullptr), EVP_MAC_free);
    QUIRE_CHECK_MSG(mac_ != nullptr, "OpenSSL has no HMAC: a broken installation");
  }
}

std::string Digest::Compute(std::string_view a, std::string_view b) const {
  std::string out;
  if (type_ == DigestType::kCrc32c) {
    uint32_t crc = crc32c::Extend(crc32c::Value(a), b.data(), b.size());
    out.resize(4);
    for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(crc >> (24 - 8 * i));
    return out;
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t len = 0;
  char digest_name[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end()};
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac_.get());
  bool ok = ctx != nullptr &&
            EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(mac_key_.data()),
                         mac_key_.size(), params) == 1 &&
            EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(a.data()), a.size()) == 1 &&
            EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(b.data()), b.size()) == 1 &&
            EVP_MAC_final(ctx, mac, &len, sizeof(mac)) == 1;
  EVP_MAC_CTX_free(ctx);
  QUIRE_CHECK_MSG(ok, "HMAC-SHA256 failed: a broken OpenSSL installation");
  return std::string(reinterpret_cast<const char*>(mac), len);
}

std::string Digest::EncodeEntry(LedgerId ledger, EntryId entry, EntryId lac, uint64_t length,
                                std::string_view payload) const {
  char header[protocol::kEntryBodyHeaderSize];
  protocol::EncodeEntryBodyHeader({ledger, entry, lac, length}, header);
  std::string_view h(header, sizeof(header));
  std::string body;
  body.reserve(sizeof(header) + size() + payload.size());
  body.append(h);
  body.append(Compute(h, payload));
  body.append(payload);
  return body;
}

Result<Digest::DecodedEntry> Digest::DecodeEntry(LedgerId ledger, EntryId entry,
                                                 std::string_view body) const {
  if (body.size() < protocol::kEntryBodyHeaderSize + size()) {
    return Corruption(fmt::format("entry {}:{} body of {} bytes is shorter than its header",
                                  ledger, entry, body.size()));
  }
  QUIRE_ASSIGN_OR_RETURN(protocol::EntryBodyHeader header, protocol::ParseEntryBodyHeader(body));
  if (header.ledger_id != ledger || header.entry_id != entry) {
    return Corruption(fmt::format("asked for entry {}:{}, got a body for {}:{}", ledger, entry,
                                  header.ledger_id, header.entry_id));
  }
  std::string_view h = body.substr(0, protocol::kEntryBodyHeaderSize);
  std::string_view digest = body.substr(protocol::kEntryBodyHeaderSize, size());
  std::string_view payload = body.substr(protocol::kEntryBodyHeaderSize + size());
  if (Compute(h, payload) != digest) {
    return Corruption(fmt::format("entry {}:{} failed its {} digest", ledger, entry,
                                  DigestTypeName(type_)));
  }
  return DecodedEntry{header, std::string(payload)};
}

std::string Digest::EncodeLac(LedgerId ledger, EntryId lac) const {
  std::string body;
  PutBigEndian64(&body, static_cast<uint64_t>(ledger));
  PutBigEndian64(&body, static_cast<uint64_t>(lac));
  body.append(Compute(body, {}));
  return body;
}

EntryId Digest::ProvenLac(LedgerId ledger, std::string_view explicit_lac_body,
                          std::initializer_list<std::string_view> entry_bodies,
                          const BadCopyFn& bad) const {
  EntryId best = kNoEntry;
  if (!explicit_lac_body.empty()) {
    Result<EntryId> lac = DecodeLac(ledger, explicit_lac_body);
    if (lac.ok()) best = std::max(best, *lac);
  }
  for (std::string_view body : entry_bodies) {
    if (body.empty()) continue;
    Result<protocol::EntryBodyHeader> h = protocol::ParseEntryBodyHeader(body);
    if (!h.ok()) continue;
    Result<DecodedEntry> e = DecodeEntry(ledger, h->entry_id, body);
    if (e.ok()) {
      best = std::max(best, e->header.lac);
    } else if (bad) {
      bad(h->entry_id, e.status().message());
    }
  }
  return best;
}

Result<EntryId> Digest::DecodeLac(LedgerId ledger, std::string_view body) const {
  if (body.size() != kLacHeaderSize + size()) {
    return Corruption(fmt::format("explicit LAC of ledger {} has {} bytes", ledger, body.size()));
  }
  std::string_view h = body.substr(0, kLacHeaderSize);
  if (Compute(h, {}) != body.substr(kLacHeaderSize)) {
    return Corruption(fmt::format("explicit LAC of ledger {} failed its digest", ledger));
  }
  auto got = static_cast<LedgerId>(DecodeBigEndian64(h.data()));
  if (got != ledger) {
    return Corruption(fmt::format("explicit LAC of ledger {} names ledger {}", ledger, got));
  }
  return static_cast<EntryId>(DecodeBigEndian64(h.data() + 8));
}

}  // namespace quire::client
