// The writer of one ledger (docs/semantics.md, "Writing"): quorum writes, in-order
// acknowledgements, ensemble changes, fencing, close. docs/client.md describes the design.
#pragma once

#include <cstddef>
#include <cstdint>
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

// The room an add request takes besides its payload: the request's header, ids and master key,
// and the entry body's header and digest (oversize_append_test checks that it is enough).
inline constexpr size_t kAddRequestOverhead = 256;

// The largest payload an append may carry to bookies that accept requests of up to
// `max_frame_size` bytes (ClientOptions::bookie_max_frame_size).
inline size_t MaxAppendPayload(uint32_t max_frame_size) {
  return max_frame_size > kAddRequestOverhead ? max_frame_size - kAddRequestOverhead : 0;
}

}  // namespace quire::client
