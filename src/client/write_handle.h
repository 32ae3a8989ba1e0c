// The writer of one ledger (SEMANTICS.md, "Writing"): quorum writes, in-order acknowledgements,
// ensemble changes, fencing, close. docs/client.md describes the design.
#pragma once

#include <memory>
#include <string>

#include "client/client_context.h"
#include "metadata/metadata_store.h"
#include "quire/client.h"

namespace quire::client {

// A writer for a ledger whose metadata (OPEN, created by this client) is `metadata`.
// The handle keeps the context alive: an application may drop its Client before its handles.
std::unique_ptr<WriteHandle> NewWriteHandle(std::shared_ptr<ClientContext> context, LedgerId id,
                                            metadata::Versioned<LedgerMetadata> metadata,
                                            std::string password);

}  // namespace quire::client
