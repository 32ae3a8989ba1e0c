// A separate process that recovers a ledger, for the fencing race test: prints the recovered
// lastEntryId on stdout, or the error on stderr (exit 1).
#include <cstdio>
#include <string>

#include "common/logging.h"
#include "quire/client.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s METADATA_URI LEDGER_ID PASSWORD\n", argv[0]);
    return 2;
  }
  quire::InitLogging({.level = "warn"}).IgnoreError();
  quire::ClientOptions options;
  options.metadata_uri = argv[1];
  options.add_timeout = std::chrono::milliseconds(3'000);
  options.read_timeout = std::chrono::milliseconds(3'000);
  auto client = quire::Client::Open(options);
  if (!client.ok()) {
    std::fprintf(stderr, "%s\n", client.status().ToString().c_str());
    return 1;
  }
  auto reader = (*client)->RecoverLedger(std::stoll(argv[2]), argv[3]);
  if (!reader.ok()) {
    std::fprintf(stderr, "%s\n", reader.status().ToString().c_str());
    return 1;
  }
  std::printf("%lld\n", static_cast<long long>((*reader)->last_add_confirmed()));
  std::fflush(stdout);
  return 0;
}
