// The manual read-only flag on disk: an operator's "keep this bookie read-only" (PUT
// /api/v1/bookie/state/readonly, `quire bookie readonly --on`) survives restarts until the
// operator lifts it. docs/formats.md, "Manual read-only flag", describes the file.
//
// The flag is the file `current/readonly` of the first ledger directory: present means on. Its
// text says who asked and when, for the operator who finds it:
//
//   quire-readonly 1
//   sinceMs = 1712345678901
//
// Written atomically (temp file, fsync, rename, fsync of the directory) before the bookie reports
// the change, and removed (then the directory synced) before it reports the flag lifted, so an
// answered request survives a crash. A reader refuses a newer version (kUnimplemented) or a file it
// cannot parse (kCorruption), naming the file; the bookie then starts read-only anyway
// (Bookie::LoadManualReadOnly): a bookie must not come up writable by mistake.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/file_system.h"
#include "quire/status.h"

namespace quire::bookie {

inline constexpr std::string_view kReadOnlyFlagFile = "readonly";  // in <ledger dir>/current
inline constexpr std::string_view kReadOnlyFlagMagic = "quire-readonly";
inline constexpr uint32_t kReadOnlyFlagFormatVersion = 1;

// <ledger_dir>/current/readonly.
std::string ReadOnlyFlagPath(std::string_view ledger_dir);

// The time the flag was set (Unix milliseconds), or nullopt when there is no flag.
Result<std::optional<int64_t>> ReadReadOnlyFlag(FileSystem* fs, std::string_view ledger_dir);
// Sets the flag (`since_ms`: now) or, with nullopt, removes it; durable when this returns OK.
Status WriteReadOnlyFlag(FileSystem* fs, std::string_view ledger_dir,
                         std::optional<int64_t> since_ms);

}  // namespace quire::bookie
