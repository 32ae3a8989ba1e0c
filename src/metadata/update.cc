#include "metadata/update.h"

namespace quire::metadata {

Result<Versioned<LedgerMetadata>> UpdateLedgerMetadata(
    MetadataStore& store, LedgerId id, const Mutation<LedgerMetadata>& mutate,
    std::optional<Versioned<LedgerMetadata>> known) {
  return UpdateRecord<LedgerMetadata>(
      [&] { return store.ReadLedger(id); },
      [&](const LedgerMetadata& md, Version expected) {
        return store.UpdateLedger(id, md, expected);
      },
      mutate, fmt::format("ledger {}", id), std::move(known));
}

Result<Versioned<AutoRecoveryState>> UpdateAutoRecovery(
    MetadataStore& store, const Mutation<AutoRecoveryState>& mutate) {
  return UpdateRecord<AutoRecoveryState>(
      [&] { return store.ReadAutoRecovery(); },
      [&](const AutoRecoveryState& state, Version expected) -> Result<Version> {
        Result<Version> v = store.WriteAutoRecovery(state, expected);
        // Two first writes of a record that did not exist: the loser sees kAlreadyExists.
        if (v.status().Is(StatusCode::kAlreadyExists)) {
          return Status(StatusCode::kBadVersion, v.status().message());
        }
        return v;
      },
      mutate, "the autorecovery record");
}

}  // namespace quire::metadata
