// The one read-modify-write loop on a metadata record (a ledger's metadata, the autorecovery
// record). Every caller that changes a record goes through it, so that "someone else changed it
// first" and "the outcome is unknown" are handled by one rule:
//
//   read (or start from what the caller already holds) -> ask `mutate` what the record should
//   become -> compare-and-set it. When the write fails with kBadVersion, kTimeout or kUnavailable,
//   re-read and ask `mutate` again.
//
// `mutate` is shown the record as it is now and answers with one of:
//   * the new record                    write it (against the version shown);
//   * kUnchanged (std::nullopt)         the record already says what the caller wants (its own
//                                       earlier write applied though the reply was lost, or
//                                       someone else's did): the loop returns it as is;
//   * an error                          stop: the loop returns that error.
// So `mutate` must recognise its own change already applied. That is what makes a lost reply
// safe: after kTimeout the write may or may not have applied, and the re-read decides.
// kBadVersion is treated like an unknown outcome rather than as a definite loss: the contract
// (metadata_store.h) says an applied write is never reported as kBadVersion, but re-reading costs
// one read and keeps every caller correct even if a driver got it wrong.
//
// The loop is bounded (kUpdateAttempts writes); each store call is bounded by the store's
// operation timeout.
#pragma once

#include <functional>
#include <optional>
#include <string_view>

#include <fmt/format.h>

#include "common/check.h"
#include "metadata/metadata_store.h"

namespace quire::metadata {

inline constexpr int kUpdateAttempts = 10;
inline constexpr std::nullopt_t kUnchanged = std::nullopt;

// What a mutation decided: `return next;`, `return kUnchanged;` or `return Status(...)` (an
// error; QUIRE_RETURN_IF_ERROR works too).
template <typename T>
struct Decision {
  Decision(T next_record) : next(std::move(next_record)) {}  // NOLINT(google-explicit-constructor)
  Decision(std::nullopt_t) {}                                // NOLINT(google-explicit-constructor)
  Decision(Status status) : error(std::move(status)) {       // NOLINT(google-explicit-constructor)
    QUIRE_CHECK_MSG(!error.ok(), "a mutation returned an OK Status: return the record instead");
  }
  std::optional<T> next;  // the record to write; none: unchanged (unless `error`)
  Status error;
};

template <typename T>
using Mutation = std::function<Decision<T>(const Versioned<T>& current)>;

// True for the write errors after which the loop re-reads: a lost compare-and-set, or an unknown
// outcome.
inline bool RetryAfterRead(const Status& s) {
  return s.Is(StatusCode::kBadVersion) || s.Is(StatusCode::kTimeout) ||
         s.Is(StatusCode::kUnavailable);
}

// The loop for any record type: `read` returns the record, `write(record, expected_version)`
// compare-and-sets it. `what` names the record in errors ("ledger 7"). `known`, when given, is
// used instead of the first read.
template <typename T>
Result<Versioned<T>> UpdateRecord(const std::function<Result<Versioned<T>>()>& read,
                                  const std::function<Result<Version>(const T&, Version)>& write,
                                  const Mutation<T>& mutate, std::string_view what,
                                  std::optional<Versioned<T>> known = std::nullopt) {
  Status last = Status::Ok();
  for (int attempt = 0; attempt < kUpdateAttempts; ++attempt) {
    Versioned<T> current;
    if (known) {
      current = std::move(*known);
      known.reset();
    } else {
      Result<Versioned<T>> r = read();
      if (!r.ok()) {
        // A read that timed out is worth another try within the budget; anything else is the
        // answer (kNoSuchLedger: deleted meanwhile).
        if (!r.status().Is(StatusCode::kTimeout) && !r.status().Is(StatusCode::kUnavailable)) {
          return r.status();
        }
        last = r.status();
        continue;
      }
      current = std::move(*r);
    }
    Decision<T> decision = mutate(current);
    if (!decision.error.ok()) return decision.error;
    if (!decision.next) return current;
    Result<Version> v = write(*decision.next, current.version);
    if (v.ok()) return Versioned<T>{std::move(*decision.next), *v};
    if (!RetryAfterRead(v.status())) return v.status();
    last = v.status();
  }
  return last.WithContext(
      fmt::format("{}: gave up updating its metadata after {} attempts", what, kUpdateAttempts));
}

// The loop on ledger `id`'s metadata. kNoSuchLedger when it is (or gets) deleted.
Result<Versioned<LedgerMetadata>> UpdateLedgerMetadata(
    MetadataStore& store, LedgerId id, const Mutation<LedgerMetadata>& mutate,
    std::optional<Versioned<LedgerMetadata>> known = std::nullopt);

// The loop on the cluster's autorecovery record (kAlreadyExists from a racing first write counts
// as a lost compare-and-set).
Result<Versioned<AutoRecoveryState>> UpdateAutoRecovery(MetadataStore& store,
                                                        const Mutation<AutoRecoveryState>& mutate);

}  // namespace quire::metadata
