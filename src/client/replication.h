// Re-replication: moving a bookie's copies of a closed ledger to other bookies
// (Client::ReplaceBookie; `quire bookie decommission`).
#pragma once

#include <string_view>

#include "client/client_context.h"

namespace quire::client {

Result<CopiedEntries> ReplaceBookie(ClientContext& context, LedgerId id, const BookieId& bookie,
                              std::string_view password);

}  // namespace quire::client
