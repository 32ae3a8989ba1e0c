#include "util/temp_dir.h"

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <vector>

namespace quire::testing {

TempDir::TempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    std::cerr << "cannot create a temporary directory from " << tmpl << "\n";
    std::abort();
  }
  path_ = buf.data();
}

TempDir::~TempDir() {
  if (std::getenv("QUIRE_KEEP_TEST_DATA") != nullptr) {
    std::cerr << "keeping test data in " << path_ << "\n";
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace quire::testing
