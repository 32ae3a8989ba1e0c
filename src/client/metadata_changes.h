// The client's changes to a ledger's metadata, as mutations for metadata::UpdateLedgerMetadata
// (metadata/update.h): each looks at the record as it is now and says what it should become, that
// the change is already there, or why it cannot be made. They decide only; the loop does the I/O,
// so each rule can be tested on its own (tests/client/metadata_changes_test.cc).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "metadata/update.h"
#include "quire/ledger_metadata.h"

namespace quire::client {

using LedgerMutation = metadata::Mutation<LedgerMetadata>;

// OpenLedgerForWriting: records `claim` (unique to this call) as the ledger's writer. Already
// there: done (our reply was lost). Another writer's claim: kAlreadyExists. Not OPEN:
// kLedgerClosed. A wrong password: kUnauthorized.
LedgerMutation ClaimWriter(LedgerId id, std::string_view password, std::string claim);

// Recovery, step 1: OPEN -> IN_RECOVERY; any other state is left as it is. `check` (the password
// or the operator's keys) runs on each record seen.
LedgerMutation MarkInRecovery(std::function<Status(const LedgerMetadata&)> check);

// Recovery, last step: IN_RECOVERY -> CLOSED at `last` (`length` bytes). Already closed (by
// another recovery, which found the same end): left as it is.
LedgerMutation CloseRecovered(EntryId last, uint64_t length);

// The writer's close at its LAC `last`. Closed at `last` by anyone: done. Closed elsewhere or
// being recovered: kFenced.
LedgerMutation CloseByWriter(LedgerId id, EntryId last, uint64_t length);

// Replaces the ensemble list `was` by `next` (a writer's ensemble change, a bookie's entries
// copied elsewhere). Already `next`: done. Changed by someone else meanwhile: `lost` (kFenced for
// a writer, kBadVersion for a copy). For a writer, `must_be_open`: a ledger no longer OPEN means
// the writer was fenced (kFenced).
LedgerMutation ReplaceEnsembles(LedgerId id, std::vector<Ensemble> was, std::vector<Ensemble> next,
                                StatusCode lost, bool must_be_open);

}  // namespace quire::client
