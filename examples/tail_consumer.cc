// tail_consumer: prints every entry of a ledger, following it while its writer appends, and
// exits once the ledger is closed and fully read.
//
//   tail_consumer [--metadata-uri URI] [--password PASSWORD] LEDGER_ID
//
// Output (standard output): one payload per line, in entry order. The metadata URI defaults to
// $QUIRE_METADATA_URI. Reading never disturbs the writer (it does not fence the ledger).
#include <quire/client.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace {

constexpr std::string_view kUsage =
    "usage: tail_consumer [--metadata-uri URI] [--password PASSWORD] LEDGER_ID\n"
    "Prints the payload of every entry of the ledger, one per line, waiting for new entries\n"
    "until the ledger is closed. The metadata URI defaults to $QUIRE_METADATA_URI.\n";

}  // namespace

int main(int argc, char** argv) {
  std::string metadata_uri;
  if (const char* uri = std::getenv("QUIRE_METADATA_URI")) metadata_uri = uri;
  std::string password;
  std::string ledger_arg;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--metadata-uri" && i + 1 < argc) {
      metadata_uri = argv[++i];
    } else if (arg == "--password" && i + 1 < argc) {
      password = argv[++i];
    } else if (ledger_arg.empty() && !arg.starts_with("-")) {
      ledger_arg = arg;
    } else {
      std::cerr << "tail_consumer: bad argument " << arg << "\n" << kUsage;
      return 2;
    }
  }
  char* end = nullptr;
  long long ledger_id = std::strtoll(ledger_arg.c_str(), &end, 10);
  if (ledger_arg.empty() || *end != '\0' || ledger_id < 0 || metadata_uri.empty()) {
    std::cerr << kUsage;
    return 2;
  }

  auto opened = quire::Client::Open({.metadata_uri = metadata_uri});
  if (!opened.ok()) {
    std::cerr << "tail_consumer: cannot open the client: " << opened.status().ToString() << "\n";
    return 1;
  }
  std::unique_ptr<quire::Client> client = std::move(opened).value();

  // OpenLedger reads an open or closed ledger without fencing it (RecoverLedger would fence it
  // and so end its writer). The handle must go before the client: it is declared after it.
  auto ledger = client->OpenLedger(ledger_id, password);
  if (!ledger.ok()) {
    std::cerr << "tail_consumer: cannot open ledger " << ledger_id << ": "
              << ledger.status().ToString() << "\n";
    return 1;
  }
  std::unique_ptr<quire::ReadHandle> reader = std::move(ledger).value();

  // ReadNext returns the next confirmed entries (up to 100 here), waiting up to a second for the
  // writer to confirm more; an empty batch just means "nothing new yet". end_of_ledger says the
  // ledger is closed and everything in it has been returned.
  quire::EntryId next = 0;
  while (true) {
    auto batch = reader->ReadNext(next, 100, std::chrono::seconds(1));
    if (!batch.ok()) {
      std::cerr << "tail_consumer: read failed at entry " << next << ": "
                << batch.status().ToString() << "\n";
      return 1;
    }
    for (const quire::Entry& entry : batch->entries) {
      std::cout << entry.payload << "\n";
      next = entry.id + 1;
    }
    std::cout.flush();
    if (batch->end_of_ledger) return 0;
  }
}
