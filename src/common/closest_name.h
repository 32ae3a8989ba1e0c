// "Did you mean ...?" hints: the known name nearest to a misspelt one, for unknown configuration
// keys and unknown commands.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace quire {

// Edits (insert, delete, substitute one character; case ignored) that turn `a` into `b`.
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate nearest to `name` by EditDistance, or empty when none is close: more than
// max(3, |name| / 3) edits away is not a typo. The first of equally near ones wins.
std::string ClosestName(std::string_view name, const std::vector<std::string_view>& candidates);

}  // namespace quire
