// Fencing and recovery of a ledger that may still have a writer (docs/semantics.md, "Fencing and
// recovery"; docs/client.md, "Recovery").
#pragma once

#include <functional>
#include <optional>
#include <string_view>

#include "client/client_context.h"
#include "metadata/metadata_store.h"

namespace quire::client {

// Fences the ledger on its bookies, finds its last entry that may have been acknowledged,
// re-replicates the tail to its write sets and closes the ledger in the metadata. Returns the
// closed metadata. A ledger already CLOSED is returned as is. Fails (kUnavailable) without
// guessing when too many bookies are unreachable to decide; the ledger then stays IN_RECOVERY and
// a later call may finish the job.
// Test hooks: points where a test can change the world mid-recovery.
struct RecoveryHooks {
  std::function<void()> after_fencing;  // fencing is complete; the reads have not started
};

//
// `password` is the ledger's (checked against its metadata). nullopt: an operator's tool
// (autorecovery) recovering with the keys the metadata keeps (RepairKeys; kUnauthorized for an
// older record that keeps none).
Result<metadata::Versioned<LedgerMetadata>> RecoverLedger(ClientContext& context, LedgerId id,
                                                          std::optional<std::string_view> password,
                                                          const RecoveryHooks& hooks = {});

}  // namespace quire::client
