#include "metadata/layout.h"
#include "common/check.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace quire::metadata {
namespace {

constexpr int kDigits = 19;
constexpr int kLevels = 5;
constexpr int kWidth[kLevels] = {3, 4, 4, 4, 4};
constexpr int kOffset[kLevels] = {0, 3, 7, 11, 15};

std::string Digits(LedgerId id) { return fmt::format("{:019d}", id); }

// The digits a directory entry at `level` stands for, or nullopt if it is not a layout name.
std::optional<std::string_view> ComponentDigits(int level, std::string_view name) {
  if (level == kLevels - 1) {
    if (name.empty() || name.front() != 'L') return std::nullopt;
    name.remove_prefix(1);
  }
  if (name.size() != static_cast<size_t>(kWidth[level])) return std::nullopt;
  for (char c : name) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  return name;
}

struct Walk {
  const ListChildrenFn& list;
  std::string from_digits;
  size_t max;
  std::vector<LedgerId> out;

  // `bounded`: every id under `dir` shares its prefix with `from`, so entries below from's
  // component at this level are skipped.
  Status Visit(int level, const std::string& dir, std::string& prefix, bool bounded) {
    Result<std::vector<std::string>> names = list(dir);
    if (!names.ok()) {
      if (level > 0 && names.status().Is(StatusCode::kNotFound)) return Status::Ok();
      return names.status();
    }
    std::vector<std::pair<std::string_view, const std::string*>> entries;
    for (const std::string& name : *names) {
      if (auto digits = ComponentDigits(level, name)) entries.emplace_back(*digits, &name);
    }
    std::sort(entries.begin(), entries.end());
    std::string_view bound = std::string_view(from_digits).substr(kOffset[level], kWidth[level]);
    for (const auto& [digits, name] : entries) {
      if (out.size() >= max) return Status::Ok();
      if (bounded && digits < bound) continue;
      size_t keep = prefix.size();
      prefix.append(digits);
      if (level == kLevels - 1) {
        // 19 digits may exceed INT64_MAX (e.g. 999/...): not a valid id, so not ours.
        static const std::string kMaxDigits = Digits(kMaxLedgerId);
        if (prefix <= kMaxDigits) out.push_back(std::stoll(prefix));
      } else {
        QUIRE_RETURN_IF_ERROR(
            Visit(level + 1, dir + "/" + *name, prefix, bounded && digits == bound));
      }
      prefix.resize(keep);
    }
    return Status::Ok();
  }
};

}  // namespace

std::string LedgerIdPath(LedgerId id) {
  QUIRE_CHECK_GE(id, 0);
  std::string d = Digits(id);
  return fmt::format("{}/{}/{}/{}/L{}", d.substr(0, 3), d.substr(3, 4), d.substr(7, 4),
                     d.substr(11, 4), d.substr(15, 4));
}

Result<std::vector<LedgerId>> ListLedgerHierarchy(const ListChildrenFn& list,
                                                  const std::string& root, LedgerId from,
                                                  size_t max) {
  if (from < 0) from = 0;
  Walk walk{list, Digits(from), max, {}};
  if (max == 0) return walk.out;
  std::string prefix;
  QUIRE_RETURN_IF_ERROR(walk.Visit(0, root, prefix, true));
  static_assert(kOffset[kLevels - 1] + kWidth[kLevels - 1] == kDigits);
  return std::move(walk.out);
}

}  // namespace quire::metadata
