// A second process for the metadata tests, driven by its arguments; it reports on stdout.
//
//   metadata_test_helper register <uri> <bookie id> <session timeout ms> [<takeover key> <lock>]
//       registers the bookie as writable (with the takeover key, if given, and then takes the
//       lock: a witness of its session), prints "registered <bookie id>", then waits to be
//       killed (the test kills it with SIGKILL, or stops it with SIGSTOP)
//   metadata_test_helper allocate <uri> <count>
//       allocates <count> ledger ids, printing one per line, then "done"
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/logging.h"
#include "metadata/metadata_store.h"

namespace {

int Fail(const std::string& what, const quire::Status& s) {
  std::fprintf(stderr, "metadata_test_helper: %s: %s\n", what.c_str(), s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using quire::metadata::MetadataOptions;
  if (argc != 7 && argc != 5 && argc != 4) {
    std::fprintf(stderr,
                 "usage: %s register <uri> <bookie> <ms> [<takeover key> <lock>] | allocate <uri> "
                 "<n>\n",
                 argv[0]);
    return 2;
  }
  // stdout is the report channel; logs go to stderr.
  if (!quire::InitLogging({.level = "warn", .file = ""}).ok()) return 1;
  const std::string mode = argv[1];
  MetadataOptions options;
  options.operation_timeout = std::chrono::seconds(20);
  if (mode == "register" && (argc == 5 || argc == 7)) {
    options.session_timeout = std::chrono::milliseconds(std::atoi(argv[4]));
    auto store = quire::metadata::OpenMetadataStore(argv[2], options);
    if (!store.ok()) return Fail("open", store.status());
    const std::string key = argc == 7 ? argv[5] : "";
    auto reg = (*store)->RegisterBookie(argv[3], quire::metadata::BookieMode::kWritable, key);
    if (!reg.ok()) return Fail("register", reg.status());
    std::unique_ptr<quire::metadata::OwnershipLock> witness;
    if (argc == 7) {
      auto lock = (*store)->TryLock(argv[6], "helper", nullptr);
      if (!lock.ok()) return Fail("lock", lock.status());
      witness = std::move(*lock);
    }
    std::printf("registered %s\n", argv[3]);
    std::fflush(stdout);
    while (true) pause();
  }
  if (mode == "allocate" && argc == 4) {
    auto store = quire::metadata::OpenMetadataStore(argv[2], options);
    if (!store.ok()) return Fail("open", store.status());
    int n = std::atoi(argv[3]);
    for (int i = 0; i < n; ++i) {
      auto id = (*store)->AllocateLedgerId();
      if (!id.ok()) return Fail("allocate", id.status());
      std::printf("%lld\n", static_cast<long long>(*id));
    }
    std::printf("done\n");
    std::fflush(stdout);
    return 0;
  }
  std::fprintf(stderr, "metadata_test_helper: bad arguments\n");
  return 2;
}
