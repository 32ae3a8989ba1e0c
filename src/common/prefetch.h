// Loading bytes into the cache ahead of a copy.
//
// The journal and the write-cache flush each copy thousands of entries, one after another, whose
// bodies arrived in frames a while before and are no longer in the cache: the copy of each 1 KiB
// body waited on memory (memmove was a third of the journal and flush threads' samples at the
// maximum, docs/performance.md). The CPU's own prefetcher follows a body once its copy has begun,
// not the jump to the next one; asking for the next body while copying this one overlaps them.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace quire {

// Starts loading the first `max` bytes of `bytes` into the cache; returns at once.
inline void PrefetchForRead(std::string_view bytes, size_t max = 2048) {
  const size_t n = std::min(bytes.size(), max);
  for (size_t i = 0; i < n; i += 64) {
    __builtin_prefetch(bytes.data() + i, /*rw=*/0, /*locality=*/3);
  }
}

}  // namespace quire
