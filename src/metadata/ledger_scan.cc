#include "metadata/ledger_scan.h"

#include <algorithm>

namespace quire::metadata {

Result<std::vector<LedgerOfBookie>> LedgersUsingBookie(MetadataStore& store, const BookieId& bookie,
                                                       int64_t* listed) {
  std::vector<LedgerOfBookie> found;
  constexpr size_t kPage = 1'000;
  for (LedgerId next = 0;;) {
    QUIRE_ASSIGN_OR_RETURN(std::vector<LedgerId> page, store.ListLedgers(next, kPage));
    if (page.empty()) return found;
    next = page.back() + 1;
    for (LedgerId id : page) {
      if (listed != nullptr) ++*listed;
      Result<Versioned<LedgerMetadata>> md = store.ReadLedger(id);
      if (!md.ok()) {
        if (md.status().Is(StatusCode::kNoSuchLedger)) continue;  // deleted meanwhile
        return md.status();
      }
      if (md->value.UsesBookie(bookie)) found.push_back({id, std::move(md->value)});
    }
  }
}

}  // namespace quire::metadata
