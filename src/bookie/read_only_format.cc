#include "bookie/read_only_format.h"

#include <charconv>

#include <fmt/format.h>

namespace quire::bookie {
namespace {

std::string CurrentDir(std::string_view ledger_dir) { return JoinPath(ledger_dir, "current"); }

}  // namespace

std::string ReadOnlyFlagPath(std::string_view ledger_dir) {
  return JoinPath(CurrentDir(ledger_dir), kReadOnlyFlagFile);
}

Result<std::optional<int64_t>> ReadReadOnlyFlag(FileSystem* fs, std::string_view ledger_dir) {
  const std::string path = ReadOnlyFlagPath(ledger_dir);
  QUIRE_ASSIGN_OR_RETURN(bool exists, fs->Exists(path));
  if (!exists) return std::optional<int64_t>();
  QUIRE_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(path));
  auto bad = [&](std::string_view what) {
    return Corruption(fmt::format("manual read-only flag {}: {}; remove it by hand to make the "
                                  "bookie writable, or leave it to keep it read-only",
                                  path, what));
  };
  // Line 1: "quire-readonly <version>"; then "key = value" lines, unknown keys ignored.
  std::string_view rest = text;
  auto next_line = [&rest] {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    return line;
  };
  std::string_view first = next_line();
  if (first.substr(0, kReadOnlyFlagMagic.size() + 1) != fmt::format("{} ", kReadOnlyFlagMagic)) {
    return bad("not a read-only flag file");
  }
  std::string_view version_text = first.substr(kReadOnlyFlagMagic.size() + 1);
  uint32_t version = 0;
  auto [end, ec] = std::from_chars(version_text.data(),
                                   version_text.data() + version_text.size(), version);
  if (ec != std::errc() || end != version_text.data() + version_text.size() || version == 0) {
    return bad(fmt::format("bad version \"{}\"", version_text));
  }
  if (version > kReadOnlyFlagFormatVersion) {
    return Status(StatusCode::kUnimplemented,
                  fmt::format("manual read-only flag {}: version {} is newer than this build "
                              "reads ({})",
                              path, version, kReadOnlyFlagFormatVersion));
  }
  int64_t since_ms = 0;
  while (!rest.empty()) {
    std::string_view line = next_line();
    constexpr std::string_view kSince = "sinceMs = ";
    if (line.substr(0, kSince.size()) != kSince) continue;
    std::string_view value = line.substr(kSince.size());
    auto [e, err] = std::from_chars(value.data(), value.data() + value.size(), since_ms);
    if (err != std::errc() || e != value.data() + value.size()) {
      return bad(fmt::format("bad sinceMs \"{}\"", value));
    }
  }
  return std::optional<int64_t>(since_ms);
}

Status WriteReadOnlyFlag(FileSystem* fs, std::string_view ledger_dir,
                         std::optional<int64_t> since_ms) {
  const std::string path = ReadOnlyFlagPath(ledger_dir);
  if (since_ms) {
    return fs->WriteFileAtomically(
        path, fmt::format("{} {}\nsinceMs = {}\n", kReadOnlyFlagMagic, kReadOnlyFlagFormatVersion,
                          *since_ms));
  }
  QUIRE_ASSIGN_OR_RETURN(bool exists, fs->Exists(path));
  if (!exists) return Status::Ok();
  QUIRE_RETURN_IF_ERROR(fs->Unlink(path));
  // The removal is durable only once the directory is.
  return fs->SyncDir(CurrentDir(ledger_dir));
}

}  // namespace quire::bookie
