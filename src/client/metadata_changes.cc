#include "client/metadata_changes.h"

#include <fmt/format.h>

#include "client/digest.h"
#include "quire/client.h"

namespace quire::client {

using Current = metadata::Versioned<LedgerMetadata>;
using Next = metadata::Decision<LedgerMetadata>;

LedgerMutation ClaimWriter(LedgerId id, std::string_view password, std::string claim) {
  return [id, password = std::string(password),
          claim = std::move(claim)](const Current& md) -> Next {
    QUIRE_RETURN_IF_ERROR(CheckPassword(id, md.value, password));
    auto claimed = md.value.custom_metadata.find(kWriterMetadataKey);
    if (claimed != md.value.custom_metadata.end() && claimed->second == claim) {
      return metadata::kUnchanged;  // our claim applied, though its reply was lost
    }
    if (md.value.state != LedgerState::kOpen) {
      return Status(StatusCode::kLedgerClosed,
                    fmt::format("ledger {} is {}", id, LedgerStateName(md.value.state)));
    }
    if (claimed != md.value.custom_metadata.end()) {
      return Status(StatusCode::kAlreadyExists,
                    fmt::format("ledger {} already has a writer ({})", id, claimed->second));
    }
    LedgerMetadata next = md.value;
    next.custom_metadata[kWriterMetadataKey] = claim;
    return next;
  };
}

LedgerMutation MarkInRecovery(std::function<Status(const LedgerMetadata&)> check) {
  return [check = std::move(check)](const Current& md) -> Next {
    QUIRE_RETURN_IF_ERROR(check(md.value));
    if (md.value.state != LedgerState::kOpen) return metadata::kUnchanged;
    LedgerMetadata next = md.value;
    next.state = LedgerState::kInRecovery;
    return next;
  };
}

LedgerMutation CloseRecovered(EntryId last, uint64_t length) {
  return [last, length](const Current& md) -> Next {
    if (md.value.closed()) return metadata::kUnchanged;
    LedgerMetadata next = md.value;
    next.state = LedgerState::kClosed;
    next.last_entry_id = last;
    next.length = length;
    return next;
  };
}

LedgerMutation CloseByWriter(LedgerId id, EntryId last, uint64_t length) {
  return [id, last, length](const Current& md) -> Next {
    if (md.value.state == LedgerState::kClosed) {
      if (md.value.last_entry_id == last) return metadata::kUnchanged;
      return Status(StatusCode::kFenced,
                    fmt::format("ledger {} was closed by another client at entry {}, not at "
                                "this writer's LAC {}",
                                id, md.value.last_entry_id, last));
    }
    if (md.value.state == LedgerState::kInRecovery) {
      return Status(StatusCode::kFenced,
                    fmt::format("ledger {} is being recovered by another client", id));
    }
    LedgerMetadata next = md.value;
    next.state = LedgerState::kClosed;
    next.last_entry_id = last;
    next.length = length;
    return next;
  };
}

LedgerMutation ReplaceEnsembles(LedgerId id, std::vector<Ensemble> was, std::vector<Ensemble> next,
                                StatusCode lost, bool must_be_open) {
  return [=, was = std::move(was), next = std::move(next)](const Current& md) -> Next {
    if (must_be_open && md.value.state != LedgerState::kOpen) {
      return Status(StatusCode::kFenced,
                    fmt::format("ledger {} is {}: another client is recovering or closed it", id,
                                LedgerStateName(md.value.state)));
    }
    if (md.value.ensembles == next) return metadata::kUnchanged;  // ours applied
    if (md.value.ensembles != was) {
      return Status(lost, fmt::format("ledger {}: its ensembles changed meanwhile", id));
    }
    LedgerMetadata updated = md.value;
    updated.ensembles = next;
    return updated;
  };
}

}  // namespace quire::client
