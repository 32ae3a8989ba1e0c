// A fresh directory for one test, removed with everything in it when the test ends (unless
// QUIRE_KEEP_TEST_DATA is set in the environment, for a post-mortem).
#pragma once

#include <string>

namespace quire::testing {

class TempDir {
 public:
  // Created under $TMPDIR (default /tmp) with `prefix` in its name.
  explicit TempDir(const std::string& prefix = "quire-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace quire::testing
