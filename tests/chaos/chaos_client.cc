// quire-chaos-client: the workload of the fault-injection suite (docs/reliability.md).
//
// One process plays one role against a cluster, through the public client library only, and
// logs every operation's invocation and outcome to a history file (JSON lines, format 1 of
// docs/reliability.md) for tools/chaos/check to judge:
//
//   writer     creates ledgers and appends uniquely named payloads to them, a few in flight, at
//              a bounded rate; closes each after a random number of entries, or moves on to a
//              new ledger once one fails (fenced, no bookies left, ...)
//   tailer     follows the newest open ledger with long polls until it ends
//   recoverer  recovers open ledgers while their writers may still be alive, reads them, and
//              deletes a third of them (the bookies' garbage collection then runs under faults)
//   reader     reads closed ledgers whole and logs a digest of what it read
//   final      (after the faults are healed) recovers every ledger and writes each one whole, one
//              JSON line per ledger, to --history: the "final reads" the checker compares with
//
// Roles run until SIGTERM or SIGINT (or --seconds); then they stop invoking, wait a bounded time
// for what is pending, log what never completed as `unknown`, and exit 0. Failures of the cluster
// are the point of the exercise: they are logged, never fatal. Exit 2 means bad arguments.
#include <openssl/evp.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "quire/client.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::atomic<bool> g_stop{false};

void OnStopSignal(int) { g_stop.store(true); }

// Sleeps up to `d`, waking early when asked to stop. Returns false if asked to stop.
bool Nap(std::chrono::milliseconds d) {
  const auto until = Clock::now() + d;
  while (!g_stop.load() && Clock::now() < until) {
    std::this_thread::sleep_for(std::min<Clock::duration>(20ms, until - Clock::now()));
  }
  return !g_stop.load();
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string ErrorText(const quire::Status& s) {
  return std::string(quire::StatusCodeName(s.code())) + ": " + s.message();
}

// History fields, as JSON text to pass to History::Log.
std::string LedgerField(quire::LedgerId id) { return "\"ledger\":" + std::to_string(id); }
std::string ErrorField(const quire::Status& s) {
  return ",\"error\":" + JsonString(ErrorText(s));
}

// The history file: one JSON object per line, flushed per line so that a paused or stopped
// process has logged everything it learned.
class History {
 public:
  History(std::FILE* f, std::string proc) : f_(f), proc_(std::move(proc)) {}

  // `fields` is the rest of the object, already JSON: `"ledger":3,"seq":4`.
  void Log(std::string_view op, std::string_view phase, const std::string& fields) {
    const double t = std::chrono::duration<double>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    std::lock_guard lock(mu_);
    std::fprintf(f_, "{\"v\":1,\"t\":%.6f,\"proc\":%s,\"op\":\"%.*s\",\"phase\":\"%.*s\"%s%s}\n",
                 t, JsonString(proc_).c_str(), static_cast<int>(op.size()), op.data(),
                 static_cast<int>(phase.size()), phase.data(), fields.empty() ? "" : ",",
                 fields.c_str());
    std::fflush(f_);
  }

 private:
  std::mutex mu_;
  std::FILE* f_;
  std::string proc_;
};

std::string Sha256Hex(const std::vector<quire::Entry>& entries) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  for (const quire::Entry& e : entries) {
    const std::string head = std::to_string(e.id) + ":" + std::to_string(e.payload.size()) + ":";
    EVP_DigestUpdate(ctx, head.data(), head.size());
    EVP_DigestUpdate(ctx, e.payload.data(), e.payload.size());
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  std::string hex;
  char buf[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", md[i]);
    hex += buf;
  }
  return hex;
}

struct Args {
  std::string role;
  std::string name;
  std::string metadata_uri;
  std::string history_path;
  std::string password = "chaos";
  uint64_t seed = 1;
  double rate = 200;  // adds/s per writer
  int in_flight = 8;
  int seconds = 0;  // 0: until SIGTERM
};

quire::ClientOptions Options(const Args& a) {
  quire::ClientOptions o;
  o.metadata_uri = a.metadata_uri;
  // Short timeouts so that a fault is noticed (and an ensemble change made) within a run of a
  // few minutes; the nemesis keeps its faults longer than these.
  o.metadata_timeout = 5s;
  o.metadata_session_timeout = 4s;
  o.connect_timeout = 2s;
  o.add_timeout = 4s;
  o.read_timeout = 4s;
  o.max_outstanding_adds = static_cast<size_t>(std::max(1, a.in_flight));
  o.long_poll_timeout = 1s;
  o.creator = a.name;
  return o;
}

// Client::Open needs the metadata store, which a partition may hide: retry until it answers or
// we are told to stop. Null when stopped.
std::unique_ptr<quire::Client> OpenClient(const Args& a) {
  for (int attempt = 0; !g_stop.load(); ++attempt) {
    auto client = quire::Client::Open(Options(a));
    if (client.ok()) return std::move(*client);
    std::fprintf(stderr, "%s: Client::Open: %s\n", a.name.c_str(),
                 client.status().ToString().c_str());
    Nap(std::chrono::milliseconds(std::min(200 * (attempt + 1), 2000)));
  }
  return nullptr;
}

// Every ledger id the metadata lists (pages of 1,000).
quire::Result<std::vector<quire::LedgerId>> AllLedgers(quire::Client& client) {
  std::vector<quire::LedgerId> all;
  quire::LedgerId from = 0;
  while (true) {
    auto page = client.ListLedgers(from, 1000);
    if (!page.ok()) return page.status();
    if (page->empty()) return all;
    all.insert(all.end(), page->begin(), page->end());
    from = page->back() + 1;
  }
}

// Reads entries 0..last in chunks.
quire::Result<std::vector<quire::Entry>> ReadWhole(quire::ReadHandle& h, quire::EntryId last) {
  std::vector<quire::Entry> all;
  for (quire::EntryId first = 0; first <= last; first += 500) {
    auto part = h.Read(first, std::min(last, first + 499));
    if (!part.ok()) return part.status();
    for (quire::Entry& e : *part) all.push_back(std::move(e));
  }
  return all;
}

std::string Filler(std::mt19937_64& rng) {
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s(std::uniform_int_distribution<int>(16, 200)(rng), 'x');
  for (char& c : s) c = kAlphabet[rng() % (sizeof kAlphabet - 1)];
  return s;
}

// Adds in flight on one ledger: the callbacks log outcomes and count down; Drain waits (bounded)
// and logs the rest as unknown.
class Pending {
 public:
  void Started(int64_t seq) {
    std::lock_guard lock(mu_);
    seqs_.insert(seq);
  }
  void Finished(int64_t seq) {
    std::lock_guard lock(mu_);
    seqs_.erase(seq);
    cv_.notify_all();
  }
  // Waits up to `limit` for every add to complete; returns the seqs still pending.
  std::vector<int64_t> Drain(std::chrono::milliseconds limit) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, limit, [&] { return seqs_.empty(); });
    return {seqs_.begin(), seqs_.end()};
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<int64_t> seqs_;
};

int RunWriter(const Args& a, History& h, std::mt19937_64& rng) {
  auto client = OpenClient(a);
  if (!client) return 0;
  const auto interval = std::chrono::duration<double>(1.0 / std::max(1.0, a.rate));
  while (!g_stop.load()) {
    auto writer = client->CreateLedger({.ensemble_size = 3, .write_quorum_size = 3,
                                        .ack_quorum_size = 2, .password = a.password});
    if (!writer.ok()) {
      h.Log("create", "fail", "\"error\":" + JsonString(ErrorText(writer.status())));
      Nap(500ms);
      continue;
    }
    const quire::LedgerId id = (*writer)->id();
    h.Log("create", "ok", LedgerField(id));
    const int64_t target = std::uniform_int_distribution<int64_t>(20, 3000)(rng);
    auto pending = std::make_shared<Pending>();
    auto failed = std::make_shared<std::atomic<bool>>(false);
    auto next = Clock::now();
    for (int64_t seq = 0; seq < target && !g_stop.load() && !failed->load(); ++seq) {
      next += std::chrono::duration_cast<Clock::duration>(interval);
      std::this_thread::sleep_until(next);
      std::string payload = a.name + ":" + std::to_string(id) + ":" + std::to_string(seq) + ":" +
                            Filler(rng);
      const std::string key = LedgerField(id) + ",\"seq\":" + std::to_string(seq);
      h.Log("add", "invoke", key + ",\"payload\":" + JsonString(payload));
      pending->Started(seq);
      (*writer)->AppendAsync(std::move(payload), [&h, key, seq, pending,
                                                  failed](quire::Result<quire::EntryId> r) {
        if (r.ok()) {
          h.Log("add", "ok", key + ",\"entry\":" + std::to_string(*r));
        } else {
          failed->store(true);
          h.Log("add", "fail", key + ErrorField(r.status()));
        }
        pending->Finished(seq);
      });
    }
    // Close waits for the pending adds; the wait below covers their callbacks, which run on
    // the library's callback thread.
    h.Log("close", "invoke", LedgerField(id));
    quire::Status closed = (*writer)->Close();
    for (int64_t seq : pending->Drain(30s)) {
      h.Log("add", "unknown",
            LedgerField(id) + ",\"seq\":" + std::to_string(seq) +
                ",\"error\":\"no completion within 30 s of close\"");
    }
    if (closed.ok()) {
      const quire::LedgerMetadata md = (*writer)->metadata();
      h.Log("close", "ok", LedgerField(id) + ",\"last\":" +
                               std::to_string(md.closed() ? md.last_entry_id
                                                          : (*writer)->last_add_confirmed()));
    } else {
      h.Log("close", "fail", LedgerField(id) + ErrorField(closed));
    }
  }
  return 0;
}

// The open ledgers, newest first.
std::vector<quire::LedgerId> OpenLedgers(quire::Client& client,
                                         std::set<quire::LedgerId>& known_closed) {
  std::vector<quire::LedgerId> open;
  auto all = AllLedgers(client);
  if (!all.ok()) return open;
  for (quire::LedgerId id : *all) {
    if (known_closed.count(id)) continue;
    auto md = client.ReadLedgerMetadata(id);
    if (!md.ok()) continue;
    if (md->closed()) {
      known_closed.insert(id);
    } else {
      open.push_back(id);
    }
  }
  std::reverse(open.begin(), open.end());
  return open;
}

void ReadClosed(quire::Client& client, const Args& a, History& h, quire::LedgerId id) {
  const std::string key = LedgerField(id);
  auto reader = client.OpenLedger(id, a.password);
  if (!reader.ok()) {
    h.Log("read_closed", "fail", key + ErrorField(reader.status()));
    return;
  }
  const quire::LedgerMetadata md = (*reader)->metadata();
  if (!md.closed()) return;  // not for this reader
  auto entries = ReadWhole(**reader, md.last_entry_id);
  if (!entries.ok()) {
    h.Log("read_closed", "fail", key + ErrorField(entries.status()));
    return;
  }
  h.Log("read_closed", "ok", key + ",\"last\":" + std::to_string(md.last_entry_id) +
                                 ",\"sha256\":\"" + Sha256Hex(*entries) + "\"");
}

int RunRecoverer(const Args& a, History& h, std::mt19937_64& rng) {
  auto client = OpenClient(a);
  if (!client) return 0;
  std::set<quire::LedgerId> known_closed;
  while (Nap(std::chrono::milliseconds(std::uniform_int_distribution<int>(1000, 5000)(rng)))) {
    std::vector<quire::LedgerId> open = OpenLedgers(*client, known_closed);
    if (open.empty()) continue;
    // Mostly the newest (most likely still being written), sometimes an older one.
    const size_t pick = rng() % 4 == 0 ? rng() % open.size() : 0;
    const quire::LedgerId id = open[pick];
    const std::string key = LedgerField(id);
    h.Log("recover", "invoke", key);
    auto recovered = client->RecoverLedger(id, a.password);
    if (!recovered.ok()) {
      h.Log("recover", "fail", key + ErrorField(recovered.status()));
      continue;
    }
    h.Log("recover", "ok",
          key + ",\"last\":" + std::to_string((*recovered)->metadata().last_entry_id));
    ReadClosed(*client, a, h, id);
    // Delete a third of them, so that the bookies' garbage collection and compaction run
    // during the faults: what they remove must never be an entry of a ledger that lives.
    if (rng() % 3 == 0) {
      h.Log("delete", "invoke", key);
      quire::Status deleted = client->DeleteLedger(id);
      h.Log("delete", deleted.ok() ? "ok" : "fail",
            deleted.ok() ? key : key + ErrorField(deleted));
      known_closed.erase(id);
    }
  }
  return 0;
}

int RunReader(const Args& a, History& h, std::mt19937_64& rng) {
  auto client = OpenClient(a);
  if (!client) return 0;
  while (Nap(std::chrono::milliseconds(std::uniform_int_distribution<int>(500, 2000)(rng)))) {
    auto all = AllLedgers(*client);
    if (!all.ok() || all->empty()) continue;
    const quire::LedgerId id = (*all)[rng() % all->size()];
    auto md = client->ReadLedgerMetadata(id);
    if (md.ok() && md->closed()) ReadClosed(*client, a, h, id);
  }
  return 0;
}

int RunTailer(const Args& a, History& h, std::mt19937_64& rng) {
  auto client = OpenClient(a);
  if (!client) return 0;
  std::set<quire::LedgerId> known_closed;
  while (Nap(std::chrono::milliseconds(std::uniform_int_distribution<int>(100, 1000)(rng)))) {
    std::vector<quire::LedgerId> open = OpenLedgers(*client, known_closed);
    if (open.empty()) continue;
    const quire::LedgerId id = open.front();
    const std::string key = LedgerField(id);
    auto reader = client->OpenLedger(id, a.password);
    if (!reader.ok()) continue;
    // Follow it for at most 30 s: a ledger whose writer is paused or cut off may not end soon.
    const auto until = Clock::now() + 30s;
    quire::EntryId next = 0;
    while (!g_stop.load() && Clock::now() < until) {
      auto batch = (*reader)->ReadNext(next, 100, 1s);
      if (!batch.ok()) {
        h.Log("tail", "fail", key + ErrorField(batch.status()));
        break;
      }
      for (const quire::Entry& e : batch->entries) {
        h.Log("tail", "ok", key + ",\"entry\":" + std::to_string(e.id) +
                                ",\"payload\":" + JsonString(e.payload));
        next = e.id + 1;
      }
      if (batch->end_of_ledger) {
        h.Log("tail_end", "ok", key + ",\"last\":" + std::to_string(next - 1));
        break;
      }
    }
  }
  return 0;
}

// Recovers every ledger and prints it whole. Transient failures (a bookie still restarting) are
// retried for a while; a ledger that still cannot be recovered is printed with state "error",
// which the checker reports.
int RunFinal(const Args& a, std::FILE* out) {
  auto client = OpenClient(a);
  if (!client) return 1;
  quire::Result<std::vector<quire::LedgerId>> all = quire::Status(quire::StatusCode::kUnavailable,
                                                                  "not listed");
  for (int attempt = 0; attempt < 30 && !all.ok(); ++attempt) {
    all = AllLedgers(*client);
    if (!all.ok()) Nap(1s);
  }
  if (!all.ok()) {
    std::fprintf(stderr, "final: cannot list ledgers: %s\n", all.status().ToString().c_str());
    return 1;
  }
  for (quire::LedgerId id : *all) {
    quire::Status last_error;
    bool done = false;
    for (int attempt = 0; attempt < 20 && !done; ++attempt) {
      if (attempt > 0) Nap(1s);
      auto recovered = client->RecoverLedger(id, a.password);
      if (!recovered.ok()) {
        last_error = recovered.status();
        continue;
      }
      const quire::LedgerMetadata md = (*recovered)->metadata();
      auto entries = ReadWhole(**recovered, md.last_entry_id);
      if (!entries.ok()) {
        last_error = entries.status();
        continue;
      }
      std::string line = "{\"v\":1,\"ledger\":" + std::to_string(id) +
                         ",\"state\":\"closed\",\"last\":" + std::to_string(md.last_entry_id) +
                         ",\"entries\":[";
      for (size_t i = 0; i < entries->size(); ++i) {
        if (i > 0) line += ",";
        line += JsonString((*entries)[i].payload);
      }
      std::fprintf(out, "%s]}\n", line.c_str());
      done = true;
    }
    if (!done) {
      std::fprintf(out, "{\"v\":1,\"ledger\":%lld,\"state\":\"error\",\"error\":%s}\n",
                   static_cast<long long>(id), JsonString(ErrorText(last_error)).c_str());
    }
    std::fflush(out);
  }
  return 0;
}

constexpr const char* kUsage =
    "usage: quire-chaos-client --role writer|tailer|recoverer|reader|final --name NAME\n"
    "         --metadata URI [--history FILE] [--seed N] [--rate ADDS_PER_S] [--in-flight N]\n"
    "         [--seconds N] [--password P]\n"
    "The workload of tools/chaos/run (docs/reliability.md). Appends a history of JSON lines\n"
    "to FILE (--role final: writes the final reads there). Runs until SIGTERM/SIGINT or\n"
    "--seconds.\n";

bool Parse(int argc, char** argv, Args& a) {
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--help" || k == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) return false;
    const std::string v = argv[++i];
    if (k == "--role") a.role = v;
    else if (k == "--name") a.name = v;
    else if (k == "--metadata") a.metadata_uri = v;
    else if (k == "--history") a.history_path = v;
    else if (k == "--password") a.password = v;
    else if (k == "--seed") a.seed = std::stoull(v);
    else if (k == "--rate") a.rate = std::stod(v);
    else if (k == "--in-flight") a.in_flight = std::stoi(v);
    else if (k == "--seconds") a.seconds = std::stoi(v);
    else return false;
  }
  static const std::set<std::string> kRoles = {"writer", "tailer", "recoverer", "reader",
                                               "final"};
  return kRoles.count(a.role) && !a.name.empty() && !a.metadata_uri.empty() &&
         !a.history_path.empty();
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  bool parsed = false;
  try {
    parsed = Parse(argc, argv, a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "quire-chaos-client: bad number: %s\n", e.what());
  }
  if (!parsed) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  if (a.seconds > 0) {
    std::thread([s = a.seconds] {
      std::this_thread::sleep_for(std::chrono::seconds(s));
      g_stop.store(true);
    }).detach();
  }
  std::FILE* f = std::fopen(a.history_path.c_str(), a.role == "final" ? "w" : "a");
  if (f == nullptr) {
    std::fprintf(stderr, "quire-chaos-client: cannot open %s: %s\n", a.history_path.c_str(),
                 std::strerror(errno));
    return 2;
  }
  History h(f, a.name);
  std::mt19937_64 rng(a.seed * 1'000'003 + std::hash<std::string>{}(a.name));
  int rc = 0;
  if (a.role == "final") rc = RunFinal(a, f);
  else if (a.role == "writer") rc = RunWriter(a, h, rng);
  else if (a.role == "tailer") rc = RunTailer(a, h, rng);
  else if (a.role == "recoverer") rc = RunRecoverer(a, h, rng);
  else rc = RunReader(a, h, rng);
  std::fclose(f);
  return rc;
}
