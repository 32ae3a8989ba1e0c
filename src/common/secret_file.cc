#include "common/secret_file.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace quire {

Result<std::vector<std::string>> ReadSecretLines(const std::string& path, std::string_view what) {
  std::ifstream in(path);
  if (!in) return IOError(fmt::format("cannot read {} {}: {}", what, path, std::strerror(errno)));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // a file written on Windows
    lines.push_back(std::move(line));
  }
  if (in.bad()) return IOError(fmt::format("cannot read {} {}", what, path));
  return lines;
}

Result<std::string> ReadSecretLine(const std::string& path, std::string_view what) {
  QUIRE_ASSIGN_OR_RETURN(std::vector<std::string> lines, ReadSecretLines(path, what));
  return lines.empty() ? std::string() : std::move(lines.front());
}

}  // namespace quire
