#include "storage/cookie.h"

#include <algorithm>
#include <charconv>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

namespace quire::storage {
namespace {

constexpr char kVersionFile[] = "VERSION";
constexpr char kCookieFile[] = "cookie";
constexpr char kLockFile[] = "LOCK";

std::string_view Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::vector<std::string> SplitCommas(std::string_view v) {
  std::vector<std::string> out;
  while (!v.empty()) {
    size_t c = v.find(',');
    std::string_view item = Trim(v.substr(0, c));
    if (!item.empty()) out.emplace_back(item);
    if (c == std::string_view::npos) break;
    v.remove_prefix(c + 1);
  }
  return out;
}

std::set<std::string> AsSet(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

struct DirState {
  std::string dir;
  bool initialized = false;  // has a cookie
  bool has_other_files = false;
  Cookie cookie;
};

Result<DirState> Inspect(FileSystem* fs, const std::string& dir) {
  DirState st;
  st.dir = dir;
  std::string current = JoinPath(dir, "current");
  auto listed = fs->List(current);
  if (!listed.ok() && listed.status().Is(StatusCode::kNotFound)) return st;  // new
  QUIRE_ASSIGN_OR_RETURN(auto names, std::move(listed));
  bool has_cookie = false;
  for (const std::string& n : names) {
    if (n == kCookieFile) {
      has_cookie = true;
    } else if (n != kLockFile && n != kVersionFile && n.find(".tmp") == std::string::npos) {
      st.has_other_files = true;
    }
  }
  if (has_cookie) {
    std::string path = JoinPath(current, kVersionFile);
    QUIRE_ASSIGN_OR_RETURN(std::string version, fs->ReadFile(path));
    uint32_t v = 0;
    std::string_view t = Trim(version);
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc() || p != t.data() + t.size()) {
      return Corruption(fmt::format("{}: not a layout version: '{}'", path, t));
    }
    if (v > kDirectoryLayoutVersion) {
      return Status(StatusCode::kUnimplemented,
                    fmt::format("{}: directory layout version {} is newer than this Quire's {}",
                                path, v, kDirectoryLayoutVersion));
    }
    std::string cookie_path = JoinPath(current, kCookieFile);
    QUIRE_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(cookie_path));
    QUIRE_ASSIGN_OR_RETURN(st.cookie, Cookie::Decode(text, cookie_path));
    st.initialized = true;
  }
  return st;
}

}  // namespace

std::string Cookie::Encode() const {
  return fmt::format(
      "quire-cookie {}\nbookieId = {}\ninstanceId = {}\njournalDirectories = {}\n"
      "ledgerDirectories = {}\n",
      kCookieFormatVersion, bookie_id, instance_id, fmt::join(journal_dirs, ","),
      fmt::join(ledger_dirs, ","));
}

Result<Cookie> Cookie::Decode(std::string_view text, std::string_view what) {
  Cookie c;
  bool header = false;
  std::set<std::string> seen;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = Trim(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.empty()) continue;
    if (!header) {
      if (line.substr(0, 13) != "quire-cookie ") {
        return Corruption(fmt::format("{}: not a Quire cookie", what));
      }
      uint32_t v = 0;
      std::string_view num = line.substr(13);
      auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
      if (ec != std::errc() || p != num.data() + num.size()) {
        return Corruption(fmt::format("{}: bad cookie version line '{}'", what, line));
      }
      if (v > kCookieFormatVersion) {
        return Status(StatusCode::kUnimplemented,
                      fmt::format("{}: cookie format {} is newer than this Quire's", what, v));
      }
      header = true;
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return Corruption(fmt::format("{}: bad cookie line '{}'", what, line));
    }
    std::string key(Trim(line.substr(0, eq)));
    std::string_view value = Trim(line.substr(eq + 1));
    seen.insert(key);
    if (key == "bookieId") {
      c.bookie_id = value;
    } else if (key == "instanceId") {
      c.instance_id = value;
    } else if (key == "journalDirectories") {
      c.journal_dirs = SplitCommas(value);
    } else if (key == "ledgerDirectories") {
      c.ledger_dirs = SplitCommas(value);
    }  // unknown keys: written by a newer minor version; ignored
  }
  for (const char* k : {"bookieId", "instanceId", "journalDirectories", "ledgerDirectories"}) {
    if (!header || seen.count(k) == 0) {
      return Corruption(fmt::format("{}: cookie lacks '{}'", what, header ? k : "its header"));
    }
  }
  return c;
}

std::string Cookie::Difference(const Cookie& o) const {
  std::vector<std::string> diffs;
  if (bookie_id != o.bookie_id) {
    diffs.push_back(fmt::format("bookie id '{}' vs '{}'", bookie_id, o.bookie_id));
  }
  if (instance_id != o.instance_id) {
    diffs.push_back(fmt::format("instance id '{}' vs '{}'", instance_id, o.instance_id));
  }
  if (AsSet(journal_dirs) != AsSet(o.journal_dirs)) {
    diffs.push_back(fmt::format("journal directories [{}] vs [{}]", fmt::join(journal_dirs, ","),
                                fmt::join(o.journal_dirs, ",")));
  }
  if (AsSet(ledger_dirs) != AsSet(o.ledger_dirs)) {
    diffs.push_back(fmt::format("ledger directories [{}] vs [{}]", fmt::join(ledger_dirs, ","),
                                fmt::join(o.ledger_dirs, ",")));
  }
  return fmt::format("{}", fmt::join(diffs, "; "));
}

Result<std::optional<Cookie>> ReadDirectoryCookie(FileSystem* fs,
                                                  const std::vector<std::string>& dirs) {
  for (const std::string& dir : dirs) {
    QUIRE_ASSIGN_OR_RETURN(DirState st, Inspect(fs, dir));
    if (st.initialized) return std::optional<Cookie>(st.cookie);
  }
  return std::optional<Cookie>();
}

Result<std::vector<std::unique_ptr<FileLock>>> PrepareDirectories(FileSystem* fs,
                                                                  const Cookie& expected) {
  std::vector<std::string> dirs = expected.journal_dirs;
  dirs.insert(dirs.end(), expected.ledger_dirs.begin(), expected.ledger_dirs.end());
  if (expected.journal_dirs.empty() || expected.ledger_dirs.empty()) {
    return InvalidArgument("at least one journal directory and one ledger directory are needed");
  }
  if (AsSet(dirs).size() != dirs.size()) {
    return InvalidArgument(fmt::format("a directory is listed twice in [{}]", fmt::join(dirs, ",")));
  }

  std::vector<std::unique_ptr<FileLock>> locks;
  std::vector<DirState> states;
  for (const std::string& dir : dirs) {
    std::string current = JoinPath(dir, "current");
    QUIRE_RETURN_IF_ERROR(fs->CreateDirs(current));
    auto lock = fs->Lock(JoinPath(current, kLockFile));
    if (!lock.ok()) {
      return lock.status().WithContext(
          fmt::format("directory {} is in use by another bookie process", dir));
    }
    locks.push_back(std::move(*lock));
    QUIRE_ASSIGN_OR_RETURN(DirState st, Inspect(fs, dir));
    if (!st.initialized && st.has_other_files) {
      return FailedPrecondition(fmt::format(
          "directory {} holds files but no cookie: it was not made by this bookie (or its cookie "
          "was deleted); refusing to start",
          dir));
    }
    states.push_back(std::move(st));
  }

  std::vector<std::string> fresh, initialized;
  for (const DirState& st : states) (st.initialized ? initialized : fresh).push_back(st.dir);

  if (initialized.empty()) {
    std::string cookie = expected.Encode();
    for (const std::string& dir : dirs) {
      std::string current = JoinPath(dir, "current");
      QUIRE_RETURN_IF_ERROR(fs->WriteFileAtomically(JoinPath(current, kVersionFile),
                                                    fmt::format("{}\n", kDirectoryLayoutVersion)));
      QUIRE_RETURN_IF_ERROR(fs->WriteFileAtomically(JoinPath(current, kCookieFile), cookie));
    }
    spdlog::info("initialized {} directories for bookie {}", dirs.size(), expected.bookie_id);
    return locks;
  }
  if (!fresh.empty()) {
    const std::string& owner =
        std::find_if(states.begin(), states.end(), [](const DirState& s) { return s.initialized; })
            ->cookie.bookie_id;
    return FailedPrecondition(fmt::format(
        "directories [{}] are empty but [{}] belong to bookie {}: a disk was replaced or wiped. "
        "Starting would let this bookie answer 'no such entry' for entries it once stored, so it "
        "refuses. Format the bookie (quire bookie format) and let its ledgers be re-replicated, or "
        "restore the missing directory.",
        fmt::join(fresh, ","), fmt::join(initialized, ","), owner));
  }
  for (const DirState& st : states) {
    std::string diff = st.cookie.Difference(expected);
    if (!diff.empty()) {
      return FailedPrecondition(fmt::format(
          "directory {} belongs to another bookie or configuration (on disk vs configured: {}); "
          "refusing to start",
          st.dir, diff));
    }
  }
  return locks;
}

}  // namespace quire::storage
