// A bookie's identity on its disks (docs/semantics.md: a wiped disk must never answer "no such
// entry" for data it once held).
//
// Every journal and ledger directory holds, in <dir>/current:
//   VERSION  the directory layout version, as decimal text ("1")
//   cookie   who owns the directory (format in docs/formats.md, "Cookie")
//   LOCK     held (flock) while a process uses the directory
// At start-up all directories must carry the same cookie, equal to the expected one; if every
// directory is new they are all initialized; a mix of new and initialized directories (a replaced
// or wiped disk) is refused.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/file_system.h"
#include "quire/status.h"

namespace quire::storage {

inline constexpr uint32_t kDirectoryLayoutVersion = 1;
inline constexpr uint32_t kCookieFormatVersion = 1;

struct Cookie {
  std::string bookie_id;    // advertisedAddress:bookiePort
  std::string instance_id;  // the cluster's instance id, from the metadata store (may be empty)
  std::vector<std::string> journal_dirs;
  std::vector<std::string> ledger_dirs;

  // Text, one "key = value" per line, after a "quire-cookie <version>" line.
  std::string Encode() const;
  static Result<Cookie> Decode(std::string_view text, std::string_view what);
  // Empty if equal; otherwise what differs, for the error message.
  std::string Difference(const Cookie& other) const;
};

// The cookie found in the directories (the first initialized one), or nullopt if every directory
// is new. Reads only: locks and writes nothing. PrepareDirectories does the full check later.
Result<std::optional<Cookie>> ReadDirectoryCookie(FileSystem* fs,
                                                  const std::vector<std::string>& dirs);

// Checks (and on first use initializes) the directories for `expected`, and locks them. The locks
// are held for as long as the returned objects live.
Result<std::vector<std::unique_ptr<FileLock>>> PrepareDirectories(FileSystem* fs,
                                                                  const Cookie& expected);

}  // namespace quire::storage
