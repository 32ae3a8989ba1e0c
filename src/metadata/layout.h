// Where records live in a metadata store (layout version 1; docs/metadata.md, "Layout").
//
// Ledger ids are spread over a hierarchy so that no directory (znode or file-system directory)
// has more than 10,000 children, whatever the number of ledgers: the id is written as 19 decimal
// digits and split 3/4/4/4/4, the last component prefixed with 'L':
//
//   id 1234567             -> 000/0000/0000/0123/L4567
//   id 9223372036854775807 -> 922/3372/0368/5477/L5807
//
// Lexical order of the components is numeric order, so a depth-first walk lists ids ascending
// and can start at any id without reading what lies before it.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "quire/ledger_metadata.h"
#include "quire/status.h"

namespace quire::metadata {

// Names of the top-level entries under a store's root.
inline constexpr std::string_view kClusterNode = "cluster";
inline constexpr std::string_view kLedgersDir = "ledgers";
inline constexpr std::string_view kIdGenNode = "idgen";
inline constexpr std::string_view kBookiesDir = "bookies";
inline constexpr std::string_view kCookiesDir = "cookies";
inline constexpr std::string_view kUnderReplicatedDir = "underreplicated";
inline constexpr std::string_view kLocksDir = "locks";
inline constexpr std::string_view kAutoRecoveryNode = "autorecovery";
inline constexpr std::string_view kSessionsDir = "sessions";  // file and mem stores

// "ddd/dddd/dddd/dddd/Ldddd" for `id` (0 <= id).
std::string LedgerIdPath(LedgerId id);

// Lists the children names of a directory; kNotFound if it does not exist.
using ListChildrenFn = std::function<Result<std::vector<std::string>>(const std::string& dir)>;

// Up to `max` ids >= `from` found in the hierarchy under `root` (which must exist: its kNotFound
// is returned as is), ascending. Names that are not part of the layout (temporary files) are
// skipped; a sub-directory that vanishes during the walk counts as empty.
Result<std::vector<LedgerId>> ListLedgerHierarchy(const ListChildrenFn& list,
                                                  const std::string& root, LedgerId from,
                                                  size_t max);

}  // namespace quire::metadata
