// Re-replication: moving a bookie's copies of a closed ledger to other bookies
// (Client::ReplaceBookie; `quire bookie decommission`).
#pragma once

#include <functional>
#include <string_view>

#include "client/client_context.h"

namespace quire::client {

struct ReplicationOptions {
  // Entries read and written per round trip (rereplicationEntryBatchSize).
  size_t batch_entries = 64;
  // Read each batch back from the replacement (digest checked, bytes compared) before the next:
  // what the ensemble swap then points at was verified. One more read per entry copied.
  bool verify = true;
  // Called after each batch with what it copied; may block to hold a rate
  // (replicationRateByBytes), or answer false to stop the copy (kAborted: a worker stopping).
  std::function<bool(const CopiedEntries& batch)> after_batch;
};

// Client::ReplaceBookie: copies what `bookie` holds (or should hold) of a closed ledger to
// replacements and swaps them into its ensembles by compare-and-set.
Result<CopiedEntries> ReplaceBookie(ClientContext& context, LedgerId id, const BookieId& bookie,
                                    std::string_view password,
                                    const ReplicationOptions& options = {});

}  // namespace quire::client
