// Readers (docs/semantics.md, "Reading"): range reads with speculative retries, LAC reads, tailing.
#pragma once

#include <memory>
#include <string>

#include "client/client_context.h"
#include "client/digest.h"
#include "metadata/metadata_store.h"
#include "quire/client.h"

namespace quire::client {

// The handle keeps the context alive: an application may drop its Client before its handles.
std::unique_ptr<ReadHandle> NewReadHandle(std::shared_ptr<ClientContext> context, LedgerId id,
                                          metadata::Versioned<LedgerMetadata> metadata,
                                          const LedgerKeys& keys);

// Reads one entry from its write set: the first replica first, the next one on an error, a bad
// copy or after speculative_read_timeout; the first good copy wins. kNoSuchEntry only if every
// replica said so. Bad copies are reported through the context. `done` runs on an I/O thread.
void ReadEntryAsync(ClientContext& context, const LedgerMetadata& metadata, LedgerId id,
                    const Digest& digest, EntryId entry,
                    std::function<void(Result<Digest::DecodedEntry>)> done);

}  // namespace quire::client
