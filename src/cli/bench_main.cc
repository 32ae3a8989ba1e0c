// quire-bench: measures a running Quire cluster through the public client library.
//
//   quire-bench write  appends to --ledgers ledgers, at maximum throughput (each ledger keeps
//                      --outstanding adds in flight) or at a fixed open-loop --rate
//   quire-bench read   catch-up reads of a closed ledger (--ledger ID, or one it writes first)
//   quire-bench tail   one writer at --rate and a tailing reader: end-to-end latency
//
// Latency without coordinated omission. With --rate, add i of the run is meant to start at
// t0 + i/rate (the adds of all ledgers interleave; each ledger's writer thread owns every
// --ledgers-th instant). The thread sleeps until that instant, takes one of the ledger's
// --outstanding slots (waiting while the cluster pushes back) and appends. The add's latency is
// counted from its intended start, not from when it was sent, so a stall shows in every add it
// delayed (as in wrk2 or the OpenMessaging benchmark). An add that starts more than 1 ms after
// its intended start is counted as started late; one whose intended start falls inside the run
// but that had not started 1 s after the run's end is counted as missed. Without --rate (closed
// loop) each writer keeps --outstanding adds in flight and latency counts from the send.
//
// Measurement window. Adds intended to start during --warmup are sent but not measured; those
// intended to start in the following --duration seconds are. Throughput is the measured adds that
// succeeded divided by --duration; MB/s counts payload bytes (1 MB = 10^6 bytes).
//
// Every payload starts with a 16-byte stamp, when the entry is at least that long: the intended
// start (steady clock, ns) and the entry's sequence number in its ledger (= its entry id),
// little-endian. Tailing readers measure end-to-end latency from the stamp; catch-up reads check
// the sequence number of ledgers this tool wrote.
//
// Output: a summary table on stdout, or with --json one JSON document (parameters, machine,
// results); a progress line on stderr every --report-interval seconds; logs on stderr.
// SIGINT/SIGTERM end the run early: what was measured is reported, and the exit code is 1.
// Exit codes: 0 ok; 1 error (a failed add or read, a lost entry, an interrupted run; with
#include "cli/bench_support.h"
#include "cli/bench_writer.h"
#include "common/build_info.h"

namespace quire::bench {
namespace {

int WriteCommand(const Options& o) {
  const std::string started_at = UtcNow();
  RunControl run;
  SignalWatcher signals(run);
  auto client = OpenClient(o);
  if (!client.ok()) return Fail("write", client.status());
  WriteRun writes(o, {.rate = o.rate, .outstanding = o.outstanding, .size = o.size});
  if (Status s = writes.CreateLedgers(**client, o.ledgers); !s.ok()) {
    return Fail("write", s);
  }
  run.Plan(MonotonicNanos(), o.warmup, o.duration);
  writes.Start(run);
  Monitor(
      o, run, [&] { return writes.finished(); }, [&](double s) { return writes.Progress(s); });
  writes.Join();

  Report r;
  r.doc = Header("write", started_at);
  json params = ClusterParameters(o);
  params.update({{"ledgers", o.ledgers},
                 {"entry_size", o.size},
                 {"mode", o.rate > 0 ? "fixed-rate" : "max-throughput"},
                 {"rate", o.rate > 0 ? json(o.rate) : json(nullptr)},
                 {"outstanding", o.outstanding},
                 {"duration_s", o.duration},
                 {"warmup_s", o.warmup}});
  r.doc["parameters"] = params;
  Row row;
  r.doc["results"] = writes.Results(run, &row);
  r.rows.push_back(row);
  r.doc["summary"] = fmt::format(
      "quire-bench write: {} ledger(s) {}, {}-byte entries, {}; {:.1f} s measured after {:.1f} s "
      "warm-up; latency from {}",
      o.ledgers, o.Quorum(), o.size, LoadText(o), r.doc["results"]["seconds"].get<double>(),
      o.warmup, o.rate > 0 ? "intended start" : "send");
  const WriteMetrics& m = writes.metrics();
  r.notes.push_back(fmt::format("ledgers: {}", IdList(writes.ids())));
  if (o.rate > 0) {
    r.notes.push_back(fmt::format("started late (> 1 ms): {}   missed (never started): {}",
                                  m.late.load(), m.missed.load()));
  }
  if (json e = r.doc["results"]["first_error"]; !e.is_null()) {
    r.notes.push_back("first error: " + e.get<std::string>());
  }
  if (o.delete_ledgers) writes.DeleteLedgers(**client);
  return Finish(o, r, writes.errors(), false, run);
}

int ReadCommand(const Options& o) {
  const std::string started_at = UtcNow();
  RunControl run;
  SignalWatcher signals(run);
  Report r;
  r.doc = Header("read", started_at);
  json params = ClusterParameters(o);
  params.update({{"batch", o.batch}, {"concurrency", o.concurrency}});

  // The ledger: given, or written now (closed loop, as fast as the cluster takes it).
  LedgerId id = o.ledger;
  std::unique_ptr<Client> writer_client;
  bool own_ledger = id < 0;
  if (own_ledger) {
    auto client = OpenClient(o);
    if (!client.ok()) return Fail("read", client.status());
    writer_client = std::move(*client);
    WriteRun writes(o, {.outstanding = o.outstanding, .size = o.size, .limit = o.entries});
    if (Status s = writes.CreateLedgers(*writer_client, 1); !s.ok()) {
      return Fail("read", s);
    }
    id = writes.ids()[0];
    if (!o.json)
      fmt::print(stderr, "quire-bench read: writing {} entries to ledger {}\n", o.entries, id);
    run.Plan(MonotonicNanos(), 0, 0);
    writes.Start(run);
    Monitor(
        o, run, [&] { return writes.finished(); }, [&](double s) { return writes.Progress(s); });
    writes.Join();
    run.EndAt(writes.metrics().last_completion.load());
    Row row;
    json prepared = writes.Results(run, &row);
    row.what = "write (preparation)";
    r.rows.push_back(row);
    r.doc["prepare"] = prepared;
    params.update({{"entries", o.entries}, {"entry_size", o.size}, {"outstanding", o.outstanding}});
    if (writes.errors() > 0 || run.interrupted() || writes.acked() != o.entries) {
      if (!run.interrupted()) {
        Fail("read", Status(StatusCode::kAborted, fmt::format("writing ledger {} failed: {}", id,
                                                              prepared["first_error"].dump())));
      }
      r.doc["parameters"] = params;
      r.doc["summary"] = "quire-bench read: preparing the ledger failed";
      return Finish(o, r, writes.errors(), true, run);
    }
  }
  params["ledger"] = id;
  r.doc["parameters"] = params;

  // A client of its own, as a separate consumer would have.
  auto client = OpenClient(o);
  if (!client.ok()) return Fail("read", client.status());
  auto reader = (*client)->OpenLedger(id, o.password);
  if (!reader.ok())
    return Fail("read", reader.status().WithContext(fmt::format("opening ledger {}", id)));
  LedgerMetadata md = (*reader)->metadata();
  EntryId last = (*reader)->last_add_confirmed();
  if (!md.closed()) {
    auto lac = (*reader)->ReadLac();
    if (!lac.ok()) return Fail("read", lac.status());
    last = *lac;
    fmt::print(stderr, "quire-bench read: ledger {} is not closed; reading up to its LAC {}\n", id,
               last);
  }
  if (last < 0) return Fail("read", InvalidArgument(fmt::format("ledger {} has no entries", id)));
  auto app = md.custom_metadata.find("application");
  bool verify = own_ledger || (app != md.custom_metadata.end() && app->second == "quire-bench");

  Histogram batch_latency, entry_latency;
  std::atomic<uint64_t> entries{0}, bytes{0}, errors{0}, next_batch{0}, running{0};
  FirstError first_error;
  const uint64_t batches = (static_cast<uint64_t>(last) + o.batch) / o.batch;
  run.Plan(MonotonicNanos(), 0, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < o.concurrency; ++t) {
    ++running;
    threads.emplace_back([&, t] {
      SetThreadName(fmt::format("q-bench-r{}", t));
      while (!run.interrupted()) {
        uint64_t b = next_batch++;
        if (b >= batches) break;
        EntryId first = static_cast<EntryId>(b * o.batch);
        EntryId to = std::min<EntryId>(last, first + static_cast<EntryId>(o.batch) - 1);
        uint64_t start = MonotonicNanos();
        auto got = (*reader)->Read(first, to);
        uint64_t took = MonotonicNanos() - start;
        if (!got.ok()) {
          errors += static_cast<uint64_t>(to - first + 1);
          first_error.Set(got.status().WithContext(
              fmt::format("reading entries {}..{} of ledger {}", first, to, id)));
          if (!o.allow_errors) break;
          continue;
        }
        batch_latency.Record(took);
        entry_latency.Record(took / std::max<uint64_t>(1, got->size()));
        uint64_t n = 0;
        for (const Entry& e : *got) {
          n += e.payload.size();
          auto stamp = ReadStamp(e.payload);
          if (verify && stamp && stamp->seq != static_cast<uint64_t>(e.id)) {
            ++errors;
            first_error.Set(Corruption(fmt::format("entry {} of ledger {} holds sequence number {}",
                                                   e.id, id, stamp->seq)));
          }
        }
        bytes += n;
        entries += got->size();
      }
      --running;
      run.Wake();
    });
  }
  uint64_t last_count = 0;
  Monitor(
      o, run, [&] { return running == 0; },
      [&](double s) {
        uint64_t n = entries.load();
        double per_s = static_cast<double>(n - last_count) / s;
        last_count = n;
        return fmt::format("entries/s {:9.0f}  read {:10}/{}  errors {}", per_s, n, last + 1,
                           errors.load());
      });
  for (std::thread& t : threads) t.join();
  uint64_t end = MonotonicNanos();

  double seconds = Seconds(end - run.t0());
  uint64_t n = entries.load();
  double per_s = seconds > 0 ? static_cast<double>(n) / seconds : 0;
  double mb_s = seconds > 0 ? static_cast<double>(bytes.load()) / seconds / 1e6 : 0;
  Histogram::Snapshot bl = batch_latency.Take(), el = entry_latency.Take();
  bool complete = n == static_cast<uint64_t>(last + 1);
  r.doc["results"] = {{"ledger", id},
                      {"entries", n},
                      {"expected_entries", last + 1},
                      {"bytes", bytes.load()},
                      {"seconds", Round3(seconds)},
                      {"entries_per_s", Round1(per_s)},
                      {"mb_per_s", Round3(mb_s)},
                      {"errors", errors.load()},
                      {"verified", verify},
                      {"batch_latency_us", LatencyJson(bl)},
                      {"entry_latency_us", LatencyJson(el)},
                      {"first_error", first_error.ToJson()}};
  r.rows.push_back({"read (per batch)", bl.count, static_cast<double>(bl.count) / seconds, mb_s, bl,
                    errors.load()});
  r.rows.push_back({"read (per entry)", n, per_s, mb_s, el, errors.load()});
  r.doc["summary"] = fmt::format(
      "quire-bench read: catch-up reads of ledger {} ({} entries, {}), {} entries per Read, {} "
      "reader(s); entry latency = batch latency / entries in it",
      id, last + 1, md.closed() ? "closed" : "open", o.batch, o.concurrency);
  if (!complete && !run.interrupted()) {
    r.notes.push_back(fmt::format("read {} of {} entries", n, last + 1));
  }
  if (json e = r.doc["results"]["first_error"]; !e.is_null()) {
    r.notes.push_back("first error: " + e.get<std::string>());
  }
  if (own_ledger && o.delete_ledgers) {
    if (Status s = (*client)->DeleteLedger(id); !s.ok()) Fail("read", s);
  }
  return Finish(o, r, errors.load(), !complete && !o.allow_errors, run);
}

int TailCommand(const Options& o) {
  const std::string started_at = UtcNow();
  RunControl run;
  SignalWatcher signals(run);
  auto writer_client = OpenClient(o);
  if (!writer_client.ok()) return Fail("tail", writer_client.status());
  auto reader_client = OpenClient(o);
  if (!reader_client.ok()) return Fail("tail", reader_client.status());
  WriteRun writes(o, {.rate = o.rate, .outstanding = o.outstanding, .size = o.size});
  if (Status s = writes.CreateLedgers(**writer_client, 1); !s.ok()) return Fail("tail", s);
  LedgerId id = writes.ids()[0];
  auto reader = (*reader_client)->OpenLedger(id, o.password);
  if (!reader.ok()) return Fail("tail", reader.status());

  // The tailing reader: ReadNext from entry 0 until the end of the ledger.
  Histogram e2e, interval;
  std::atomic<uint64_t> seen{0}, measured{0}, errors{0};
  std::atomic<bool> reached_end{false}, reader_done{false};
  std::atomic<uint64_t> deadline{kNever};  // set once the writer has closed the ledger
  FirstError first_error;
  run.Plan(MonotonicNanos(), o.warmup, o.duration);
  std::thread tail([&] {
    SetThreadName("q-bench-tail");
    EntryId next = 0;
    while (MonotonicNanos() < deadline.load()) {
      auto got = (*reader)->ReadNext(next, o.batch, std::chrono::milliseconds(200));
      uint64_t now = MonotonicNanos();
      if (!got.ok()) {
        ++errors;
        first_error.Set(
            got.status().WithContext(fmt::format("tailing ledger {} at entry {}", id, next)));
        if (!o.allow_errors) break;
        continue;
      }
      for (const Entry& e : got->entries) {
        auto stamp = ReadStamp(e.payload);
        if (!stamp || stamp->seq != static_cast<uint64_t>(e.id) || e.id != next) {
          ++errors;
          first_error.Set(Corruption(
              fmt::format("ledger {}: expected entry {}, got entry {}", id, next, e.id)));
        } else {
          interval.Record(now - stamp->intended);
          if (stamp->intended >= run.measure_from() && stamp->intended < run.end()) {
            e2e.Record(now - stamp->intended);
            ++measured;
          }
        }
        next = e.id + 1;
        ++seen;
      }
      if (got->end_of_ledger) {
        reached_end = true;
        break;
      }
    }
    reader_done = true;
    run.Wake();
  });
  writes.Start(run);
  uint64_t last_seen = 0;
  Monitor(
      o, run, [&] { return writes.finished(); },
      [&](double s) {
        uint64_t n = seen.load();
        double per_s = static_cast<double>(n - last_seen) / s;
        last_seen = n;
        Histogram::Snapshot h = interval.Take();
        interval.Reset();
        return fmt::format("{} | tail entries/s {:8.0f} e2e p99 {:7.2f} ms", writes.Progress(s),
                           per_s, static_cast<double>(h.Quantile(0.99)) / 1e6);
      });
  writes.Join();
  deadline = MonotonicNanos() + kDrainNanos;
  run.WaitFor(kDrainNanos, [&] { return reader_done.load(); });
  tail.join();

  Report r;
  r.doc = Header("tail", started_at);
  json params = ClusterParameters(o);
  params.update({{"entry_size", o.size},
                 {"mode", o.rate > 0 ? "fixed-rate" : "max-throughput"},
                 {"rate", o.rate > 0 ? json(o.rate) : json(nullptr)},
                 {"outstanding", o.outstanding},
                 {"batch", o.batch},
                 {"duration_s", o.duration},
                 {"warmup_s", o.warmup}});
  r.doc["parameters"] = params;
  Row write_row;
  json write_results = writes.Results(run, &write_row);
  r.rows.push_back(write_row);
  uint64_t end = run.end();
  double seconds = end > run.measure_from() ? Seconds(end - run.measure_from()) : 0;
  Histogram::Snapshot h = e2e.Take();
  double per_s = seconds > 0 ? static_cast<double>(measured.load()) / seconds : 0;
  double mb_s = per_s * static_cast<double>(o.size) / 1e6;
  uint64_t written = writes.acked();
  bool complete = reached_end && seen.load() == written;
  r.rows.push_back({"tail (end to end)", measured.load(), per_s, mb_s, h, errors.load()});
  r.doc["results"] = {{"write", write_results},
                      {"tail",
                       {{"entries", measured.load()},
                        {"entries_total", seen.load()},
                        {"entries_per_s", Round1(per_s)},
                        {"mb_per_s", Round3(mb_s)},
                        {"seconds", Round3(seconds)},
                        {"errors", errors.load()},
                        {"reached_end", reached_end.load()},
                        {"e2e_latency_us", LatencyJson(h)},
                        {"first_error", first_error.ToJson()}}}};
  r.doc["summary"] = fmt::format(
      "quire-bench tail: ledger {} {}, {}-byte entries, {}; a tailing reader (ReadNext, {} per "
      "call) on its own client; end-to-end latency from the add's {} to the reader having it; "
      "{:.1f} s measured after {:.1f} s warm-up",
      id, o.Quorum(), o.size, LoadText(o), o.batch, o.rate > 0 ? "intended start" : "send", seconds,
      o.warmup);
  if (!complete) {
    r.notes.push_back(fmt::format("the reader saw {} of {} entries{}", seen.load(), written,
                                  reached_end ? "" : " and did not reach the end of the ledger"));
  }
  if (o.rate > 0) {
    r.notes.push_back(fmt::format("started late (> 1 ms): {}   missed (never started): {}",
                                  writes.metrics().late.load(), writes.metrics().missed.load()));
  }
  if (json e = write_results["first_error"]; !e.is_null())
    r.notes.push_back("first write error: " + e.get<std::string>());
  if (json e = first_error.ToJson(); !e.is_null())
    r.notes.push_back("first read error: " + e.get<std::string>());
  if (o.delete_ledgers) writes.DeleteLedgers(**writer_client);
  return Finish(o, r, writes.errors() + errors.load(), !complete && !run.interrupted(), run);
}

// ---------------------------------------------------------------------------------------------
// Command line.

void AddCommonOptions(CLI::App& c, Options& o) {
  c.add_option("--metadata", o.metadata,
               "Metadata service URI: zk://host:port[,host:port]/path or file:///path. Default: "
               "$QUIRE_METADATA_URI, else the standalone cluster's "
               "(file://$HOME/.quire/standalone/metadata)");
  o.password_flags.AddTo(&c, "Ledger password (needed to read an HMAC ledger)");
  o.tls.AddTo(c);
  c.add_option("--io-threads", o.io_threads, "Client I/O threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  c.add_flag("--json", o.json, "Print one JSON document (parameters, machine, results) on stdout");
  c.add_option("--report-interval", o.report_interval,
               "Seconds between progress lines on stderr; 0: none")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  c.add_option("--log-level", o.log_level, "trace, debug, info, warn, error, off")
      ->capture_default_str();
  c.add_flag("--allow-errors", o.allow_errors,
             "Exit 0 even if adds or reads failed (they are still reported)");
}

void AddLedgerOptions(CLI::App& c, Options& o) {
  c.add_option("-e,--ensemble", o.ensemble, "E: bookies per ledger ensemble")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  c.add_option("-w,--write-quorum", o.write_quorum, "Qw: copies written of each entry")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  c.add_option("-a,--ack-quorum", o.ack_quorum, "Qa: acknowledgements that complete an add")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  c.add_option("--digest", o.digest,
               "Entry digest: crc32c or hmac (HMAC-SHA256 keyed by --password)")
      ->check(CLI::IsMember({"crc32c", "hmac"}))
      ->capture_default_str();
  c.add_option("-s,--size", o.size, "Entry size in bytes")
      ->check(CLI::Range(size_t{1}, size_t{4} << 20))
      ->capture_default_str();
  c.add_flag("--delete", o.delete_ledgers, "Delete the ledgers this run created when it ends");
}

void AddLoadOptions(CLI::App& c, Options& o, const std::string& rate_default) {
  c.add_option("-r,--rate", o.rate,
               "Open loop: adds per second over all ledgers, each latency counted from its "
               "intended start (default: " +
                   rate_default + ")")
      ->check(CLI::NonNegativeNumber);
  c.add_option("-o,--outstanding", o.outstanding,
               "Adds in flight per ledger: the load without --rate; with --rate the bound past "
               "which adds wait (they start late, their latency still counts from the schedule)")
      ->check(CLI::Range(size_t{1}, size_t{1'000'000}))
      ->capture_default_str();
  c.add_option("-d,--duration", o.duration, "Measured seconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  c.add_option("--warmup", o.warmup, "Seconds of load before measuring")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

std::optional<std::string> Validate(const Options& o, const std::string& command) {
  if (o.write_quorum > o.ensemble) return "--write-quorum must not exceed --ensemble";
  if (o.ack_quorum > o.write_quorum) return "--ack-quorum must not exceed --write-quorum";
  if (command == "tail" && o.size < kStampBytes) {
    return fmt::format("--size must be at least {} (each entry carries its send time)",
                       kStampBytes);
  }
  if (command == "read" && o.ledger < 0 && o.entries == 0) return "--entries must be positive";
  return std::nullopt;
}

int Main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "quire-bench: measures a running Quire cluster through the client library.\n"
      "Writes at maximum throughput or at a fixed open-loop rate (latency from each add's\n"
      "intended start: no coordinated omission), catch-up reads of a closed ledger, tailing\n"
      "reads. Prints a summary table, or one JSON document with --json; progress on stderr.\n"
      "Exit codes: 0 ok, 1 error (a failed add or read unless --allow-errors, an interrupted\n"
      "run), 2 usage."};
  app.name("quire-bench");  // in usage lines, whatever the path it was started by
  app.require_subcommand(1, 1);
  app.set_version_flag("--version", VersionLine("quire-bench"),
                       "Print the version and the git commit it was built from, then exit");
  app.footer("Run `quire-bench <command> --help` for a command's options.");

  CLI::App* write = app.add_subcommand(
      "write", "Append to one or more ledgers at maximum throughput or at a fixed rate");
  write->footer(
      "Appends to --ledgers ledgers (one writer thread each) for --warmup + --duration seconds\n"
      "and reports adds/s, MB/s, latency percentiles and errors over the --duration window.\n"
      "Without --rate each ledger keeps --outstanding adds in flight (maximum throughput;\n"
      "latency from the send). With --rate adds follow a fixed schedule, t0 + i/rate over all\n"
      "ledgers (open loop): latency counts from the scheduled start, an add that had to wait\n"
      "more than 1 ms for its slot or its thread is reported as started late, one that had not\n"
      "started 1 s after the end as missed.\n\n"
      "Examples:\n"
      "  quire-bench write -e 3 -w 3 -a 2 --size 1024 --outstanding 1000 --duration 10\n"
      "  quire-bench write --ledgers 4 --rate 20000 --duration 30 --json");
  AddCommonOptions(*write, o);
  AddLedgerOptions(*write, o);
  AddLoadOptions(*write, o, "none: maximum throughput");
  write->add_option("-l,--ledgers", o.ledgers, "Ledgers written at once, one thread each")
      ->check(CLI::Range(1, 10'000))
      ->capture_default_str();

  CLI::App* read = app.add_subcommand("read", "Catch-up reads of a closed ledger");
  read->footer(
      "Reads --ledger ID, or else first writes a ledger of --entries entries of --size bytes\n"
      "(E/Qw/Qa as given, --outstanding adds in flight) and closes it. Reads the whole ledger\n"
      "once, in Read calls of --batch entries, --concurrency calls at a time, on a client of its\n"
      "own; reports entries/s, MB/s and the latency of each Read call and per entry (the call's\n"
      "latency divided by its entries; --batch 1 measures single-entry reads). Entries written\n"
      "by quire-bench are checked (sequence number = entry id). An open ledger is read up to\n"
      "its LAC, without fencing its writer.\n\n"
      "Examples:\n"
      "  quire-bench read --entries 200000 --size 1024 --batch 100\n"
      "  quire-bench read --ledger 42 --password-file ./password --concurrency 4 --json");
  AddCommonOptions(*read, o);
  AddLedgerOptions(*read, o);
  read->add_option("--ledger", o.ledger,
                   "An existing ledger to read (not closed: read up to its LAC)")
      ->check(CLI::NonNegativeNumber);
  read->add_option("-n,--entries", o.entries, "Entries to write first when no --ledger is given")
      ->capture_default_str();
  read->add_option("-o,--outstanding", o.outstanding, "Adds in flight while writing it")
      ->check(CLI::Range(size_t{1}, size_t{1'000'000}))
      ->capture_default_str();
  read->add_option("-b,--batch", o.batch, "Entries per Read call")
      ->check(CLI::Range(size_t{1}, size_t{1'000'000}))
      ->capture_default_str();
  read->add_option("-c,--concurrency", o.concurrency, "Read calls in flight (one thread each)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();

  CLI::App* tail = app.add_subcommand(
      "tail", "One writer at a fixed rate and a tailing reader: end-to-end latency");
  tail->footer(
      "One writer appends to a new ledger at --rate (default 1000 adds/s; --rate 0: maximum\n"
      "throughput with --outstanding in flight) while a tailing reader on a client of its own\n"
      "follows it with ReadHandle::ReadNext. Reports the write side as `write` does, and the\n"
      "reader's entries/s and end-to-end latency: from the add's intended start (stamped in the\n"
      "payload) to the reader holding the entry. A reader learns of entry N from the LAC that a\n"
      "later entry carries (or from the writer's explicit LAC after an idle second), so at low\n"
      "rates the latency includes the gap to the next add. The run fails if the reader misses\n"
      "an entry or does not reach the end of the ledger.\n\n"
      "Example:\n"
      "  quire-bench tail --rate 10000 --size 1024 --duration 10 --json");
  AddCommonOptions(*tail, o);
  AddLedgerOptions(*tail, o);
  AddLoadOptions(*tail, o, "1000");
  tail->add_option("-b,--batch", o.batch, "Most entries per ReadNext call")
      ->check(CLI::Range(size_t{1}, size_t{1'000'000}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  std::string command = app.get_subcommands().front()->get_name();
  if (command == "tail") {
    if (tail->count("--rate") == 0) o.rate = 1000;
    if (tail->count("--batch") == 0) o.batch = 1000;
  }
  if (auto problem = Validate(o, command)) {
    fmt::print(stderr, "quire-bench {}: {}\n", command, *problem);
    return kExitUsage;
  }
  if (Status s = InitLogging({.level = o.log_level}); !s.ok()) {
    fmt::print(stderr, "quire-bench: --log-level: {}\n", s.ToString());
    return kExitUsage;
  }
  auto password = o.password_flags.Resolve("quire-bench " + command);
  if (!password.ok()) return Fail(command.c_str(), password.status());
  o.password = std::move(*password);
  signal(SIGPIPE, SIG_IGN);
  if (command == "write") return WriteCommand(o);
  if (command == "read") return ReadCommand(o);
  return TailCommand(o);
}

}  // namespace
}  // namespace quire::bench

int main(int argc, char** argv) { return quire::bench::Main(argc, argv); }
