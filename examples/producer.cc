// producer: writes lines to a new Quire ledger and prints each entry as it is acknowledged.
//
//   producer [--metadata-uri URI] [--ensemble E] [--write-quorum QW] [--ack-quorum QA]
//            [--password PASSWORD] [--count N] < lines
//
// Each line of standard input becomes one entry; with --count N, N generated entries ("entry 0",
// "entry 1", ...) are written instead. Output (standard output):
//
//   ledger <ledger id>
//   <entry id> <payload>        one line per entry, in entry order, once it is durable
//
// The metadata URI defaults to $QUIRE_METADATA_URI, e.g. zk://127.0.0.1:2181/quire or
// file:///var/lib/quire/metadata (the cluster's own setting, metadataServiceUri).
#include <quire/client.h>

#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace {

constexpr std::string_view kUsage =
    "usage: producer [--metadata-uri URI] [--ensemble E] [--write-quorum QW] [--ack-quorum QA]\n"
    "                [--password PASSWORD] [--count N] < lines\n"
    "Writes each line of stdin (or N generated entries) to a new ledger; prints \"ledger <id>\",\n"
    "then \"<entry id> <payload>\" for each entry once it is acknowledged.\n"
    "The metadata URI defaults to $QUIRE_METADATA_URI. Defaults: E/QW/QA = 3/3/2.\n";

struct Flags {
  std::string metadata_uri;
  quire::CreateLedgerOptions ledger;  // E/Qw/Qa default to 3/3/2
  long count = -1;                    // -1: read stdin
};

// Parses "--name value" pairs by hand (an application has only Quire to link). Returns false
// (after printing why) on a bad command line.
bool ParseFlags(int argc, char** argv, Flags* flags) {
  if (const char* uri = std::getenv("QUIRE_METADATA_URI")) flags->metadata_uri = uri;
  for (int i = 1; i < argc; i += 2) {
    std::string_view name = argv[i];
    if (i + 1 >= argc) {
      std::cerr << "producer: " << name << " needs a value\n" << kUsage;
      return false;
    }
    const char* value = argv[i + 1];
    char* end = nullptr;
    long number = std::strtol(value, &end, 10);
    bool is_number = *value != '\0' && *end == '\0';
    if (name == "--metadata-uri") {
      flags->metadata_uri = value;
    } else if (name == "--password") {
      flags->ledger.password = value;
    } else if (name == "--ensemble" && is_number) {
      flags->ledger.ensemble_size = static_cast<int>(number);
    } else if (name == "--write-quorum" && is_number) {
      flags->ledger.write_quorum_size = static_cast<int>(number);
    } else if (name == "--ack-quorum" && is_number) {
      flags->ledger.ack_quorum_size = static_cast<int>(number);
    } else if (name == "--count" && is_number && number >= 0) {
      flags->count = number;
    } else {
      std::cerr << "producer: bad argument " << name << " " << value << "\n" << kUsage;
      return false;
    }
  }
  if (flags->metadata_uri.empty()) {
    std::cerr << "producer: no metadata URI (--metadata-uri or QUIRE_METADATA_URI)\n";
    return false;
  }
  return true;
}

// Appends that are sent but whose callback has not run yet, and the first error any of them
// reported. Callbacks run on the client's callback thread; main waits here for the last one.
class InFlight {
 public:
  void Add() {
    std::lock_guard lock(mu_);
    ++pending_;
  }
  void Done(const quire::Status& status) {
    std::lock_guard lock(mu_);
    if (!status.ok() && error_.ok()) error_ = status;
    if (--pending_ == 0) all_done_.notify_all();
  }
  bool failed() {
    std::lock_guard lock(mu_);
    return !error_.ok();
  }
  // Waits for every callback; returns the first error.
  quire::Status Wait() {
    std::unique_lock lock(mu_);
    all_done_.wait(lock, [this] { return pending_ == 0; });
    return error_;
  }

 private:
  std::mutex mu_;
  std::condition_variable all_done_;
  long pending_ = 0;
  quire::Status error_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h")) {
    std::cout << kUsage;
    return 0;
  }
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) return 2;

  InFlight in_flight;  // outlives the client, whose callback thread uses it

  // One Client per process: it holds the metadata session and the bookie connections.
  auto opened = quire::Client::Open({.metadata_uri = flags.metadata_uri});
  if (!opened.ok()) {
    std::cerr << "producer: cannot open the client: " << opened.status().ToString() << "\n";
    return 1;
  }
  std::unique_ptr<quire::Client> client = std::move(opened).value();

  // The new ledger's one writer. (Declared after the client, so destroyed before it.)
  auto created = client->CreateLedger(flags.ledger);
  if (!created.ok()) {
    std::cerr << "producer: cannot create a ledger: " << created.status().ToString() << "\n";
    return 1;
  }
  std::unique_ptr<quire::WriteHandle> writer = std::move(created).value();
  std::cout << "ledger " << writer->id() << std::endl;

  // Appends are pipelined: AppendAsync returns at once (it blocks only while
  // ClientOptions::max_outstanding_adds are in flight) and the callback runs once the entry is
  // durable on an ack quorum. Callbacks of one ledger run in entry order, one at a time, so the
  // output below is in entry order too. Once an append fails every later one fails the same way.
  auto append = [&](std::string payload) {
    in_flight.Add();
    std::string copy = payload;  // for the callback to print; AppendAsync takes the original
    writer->AppendAsync(std::move(payload),
                        [&in_flight, copy = std::move(copy)](quire::Result<quire::EntryId> id) {
                          if (id.ok()) std::cout << *id << " " << copy << "\n";
                          in_flight.Done(id.status());
                        });
  };
  if (flags.count >= 0) {
    for (long i = 0; i < flags.count && !in_flight.failed(); ++i) {
      append("entry " + std::to_string(i));
    }
  } else {
    std::string line;
    while (!in_flight.failed() && std::getline(std::cin, line)) append(line);
  }
  quire::Status status = in_flight.Wait();
  std::cout.flush();
  if (!status.ok()) {
    std::cerr << "producer: an append failed: " << status.ToString() << "\n";
    return 1;
  }

  // Close records the ledger's last entry in the metadata: readers then know where it ends.
  status = writer->Close();
  if (!status.ok()) {
    std::cerr << "producer: cannot close the ledger: " << status.ToString() << "\n";
    return 1;
  }
  return 0;
}
