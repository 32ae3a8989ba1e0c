// The offline tools (quire journal|entrylog|index) on files written by a real quire-bookie: the
// test writes entries through the bookie protocol, stops the bookie cleanly, then runs the built
// `quire` binary on its directories and checks what it prints.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "bookie/bookie_test_fixture.h"
#include "util/subprocess.h"

namespace quire::bookie::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

struct CommandResult {
  int exit_code = -1;
  std::vector<std::string> out;  // standard output, line by line
  std::string err;               // standard error
  std::string Out() const {
    std::string all;
    for (const std::string& l : out) all += l + "\n";
    return all;
  }
  std::vector<json> Json() const {
    std::vector<json> docs;
    for (const std::string& l : out) docs.push_back(json::parse(l));
    return docs;
  }
};

std::string Hex(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

struct Written {
  int64_t ledger;
  int64_t entry;
  std::string body;  // what the bookie stores and returns
};

class OfflineTest : public BookieTest {
 protected:
  std::string root() const { return dir_.Sub("bookie"); }
  std::string ledger_dir() const { return root() + "/ledgers"; }
  std::string journal_current() const { return root() + "/journal/current"; }
  std::string index_dir() const { return ledger_dir() + "/current/index"; }

  // Runs `quire args...` with standard input from /dev/null; bounded.
  CommandResult Quire(const std::vector<std::string>& args) {
    CommandResult r;
    std::string err_file = dir_.Sub(fmt::format("stderr-{}", runs_++));
    std::vector<std::string> argv = {
        "/bin/sh", "-c",     "f=$1; shift; exec \"$@\" 2>\"$f\" </dev/null",
        "sh",      err_file, QUIRE_CLI_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    auto p = quire::testing::Subprocess::Start(argv);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    if (!p.ok()) return r;
    while (auto line = p->ReadLine(std::chrono::seconds(120))) r.out.push_back(*line);
    EXPECT_FALSE(p->timed_out()) << "quire " << fmt::format("{}", fmt::join(args, " "));
    int status = p->Wait(std::chrono::seconds(60));
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::ifstream in(err_file);
    r.err.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return r;
  }

  std::string Key(int64_t ledger) const { return fmt::format("master-key-{}", ledger); }

  // Adds entries 0..count-1 to each ledger, `payload_bytes` each; returns what was written.
  std::vector<Written> Write(const std::vector<int64_t>& ledgers, int64_t count,
                             size_t payload_bytes = 40) {
    RawClient c = Connect();
    std::vector<Written> written;
    for (int64_t ledger : ledgers) {
      for (int64_t e = 0; e < count; ++e) {
        std::string payload = fmt::format("L{}E{}:", ledger, e);
        payload.resize(std::max(payload.size(), payload_bytes), static_cast<char>('a' + e % 26));
        proto::Response r = Call(c, AddRequest(next_id_++, ledger, e, Key(ledger), payload, e - 1));
        EXPECT_EQ(r.status(), proto::OK) << "ledger " << ledger << " entry " << e;
        written.push_back({ledger, e, EntryBody(ledger, e, e - 1, payload)});
      }
    }
    return written;
  }

  void StopBookie() {
    int status = bookie_->Stop();
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }

  std::vector<std::string> Files(const std::string& dir, const std::string& suffix) {
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().string().ends_with(suffix)) files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    return files;
  }

  // index.rebuild-* and index.old-* directories.
  size_t IndexSideDirectories() {
    size_t n = 0;
    for (const std::string& f : Files(ledger_dir() + "/current", "")) {
      if (f.find("/index.") != std::string::npos) ++n;
    }
    return n;
  }

  // Every record of every entry log, by (ledger, entry): the last copy.
  std::map<std::pair<int64_t, int64_t>, json> EntryLogRecords() {
    std::map<std::pair<int64_t, int64_t>, json> records;
    for (const std::string& log : Files(ledger_dir() + "/current", ".log")) {
      CommandResult r = Quire({"entrylog", "dump", log, "--json", "--payload", "hex"});
      EXPECT_EQ(r.exit_code, 0) << r.err;
      for (json& j : r.Json()) {
        if (j["kind"] == "record" && !j["padding"].get<bool>()) {
          j["file"] = log;
          records[{j["ledger"].get<int64_t>(), j["entry"].get<int64_t>()}] = j;
        }
      }
    }
    return records;
  }

  void ExpectReadsBack(const std::vector<Written>& written) {
    RawClient c = Connect();
    for (const Written& w : written) {
      proto::Response r = Call(c, ReadRequest(next_id_++, w.ledger, w.entry));
      ASSERT_EQ(r.status(), proto::OK) << "ledger " << w.ledger << " entry " << w.entry;
      ASSERT_EQ(r.read().body(), w.body) << "ledger " << w.ledger << " entry " << w.entry;
    }
  }

  uint64_t next_id_ = 1;
  int runs_ = 0;
};

TEST_F(OfflineTest, JournalDumpShowsEveryRecordTheBookieJournaled) {
  std::vector<Written> written = Write({1, 2, 3}, 20);
  RawClient c = Connect();
  ASSERT_EQ(Call(c, WriteLacRequest(next_id_++, 2, Key(2), 19, "signed-lac")).status(), proto::OK);
  ASSERT_EQ(Call(c, ReadRequest(next_id_++, 3, 0, /*fence=*/true, Key(3))).status(), proto::OK);
  c.Close();
  StopBookie();

  std::set<std::pair<int64_t, int64_t>> adds;
  std::map<int64_t, size_t> key_bytes;
  std::set<int64_t> fences;
  std::map<int64_t, int64_t> lacs;
  std::vector<std::string> files = Files(journal_current(), ".jnl");
  ASSERT_FALSE(files.empty());
  for (const std::string& file : files) {
    CommandResult r = Quire({"journal", "dump", file, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::vector<json> lines = r.Json();
    ASSERT_GE(lines.size(), 2u);
    EXPECT_EQ(lines.front()["kind"], "header");
    EXPECT_EQ(lines.front()["version"], 1);
    EXPECT_EQ(lines.back()["kind"], "end");
    EXPECT_FALSE(lines.back()["torn_tail"].get<bool>());
    uint64_t groups = 0;
    for (const json& j : lines) {
      if (j["kind"] == "group") ++groups;
      if (j["kind"] != "record") continue;
      EXPECT_EQ(j["crc"], "ok");
      int64_t ledger = j["ledger"].get<int64_t>();
      if (j["type"] == "add") {
        adds.insert({ledger, j["entry"].get<int64_t>()});
      } else if (j["type"] == "master-key") {
        key_bytes[ledger] = j["data_bytes"].get<size_t>();
      } else if (j["type"] == "fence") {
        fences.insert(ledger);
      } else if (j["type"] == "explicit-lac") {
        lacs[ledger] = j["lac"].get<int64_t>();
      }
    }
    EXPECT_GT(groups, 0u);
    EXPECT_EQ(lines.back()["groups"].get<uint64_t>(), groups);

    CommandResult human = Quire({"journal", "dump", file});
    ASSERT_EQ(human.exit_code, 0) << human.err;
    EXPECT_THAT(human.Out(), HasSubstr("format version 1"));
    EXPECT_THAT(human.Out(), HasSubstr("master-key"));
    EXPECT_THAT(human.Out(), HasSubstr(" end: "));
  }
  for (const Written& w : written) EXPECT_TRUE(adds.count({w.ledger, w.entry})) << w.entry;
  for (int64_t ledger : {1, 2, 3}) EXPECT_EQ(key_bytes[ledger], Key(ledger).size()) << ledger;
  EXPECT_EQ(fences, std::set<int64_t>({3}));
  EXPECT_EQ(lacs[2], 19);

  // A copy (taken as the newest file of its journal) whose last group is damaged ends in a torn
  // tail, which is no error; damage in an earlier group, which a later group says was synced,
  // is corruption named with the file and offset.
  std::string copy = dir_.Sub("copy.jnl");
  fs::copy_file(files.back(), copy);
  std::vector<json> records;
  for (const json& j : Quire({"journal", "dump", copy, "--json"}).Json()) {
    if (j["kind"] == "record") records.push_back(j);
  }
  ASSERT_GE(records.size(), 3u);
  auto damage = [&](const json& record) {
    std::fstream f(copy, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(record["offset"].get<uint64_t>() + 10));
    f.put('\x5a');
    ASSERT_TRUE(f.good());
  };
  damage(records.back());
  CommandResult torn = Quire({"journal", "dump", copy, "--json"});
  EXPECT_EQ(torn.exit_code, 0) << torn.err;
  EXPECT_TRUE(torn.Json().back()["torn_tail"].get<bool>());
  const json& middle = records[records.size() / 2];
  damage(middle);
  CommandResult corrupt = Quire({"journal", "dump", copy});
  EXPECT_EQ(corrupt.exit_code, 1);
  EXPECT_THAT(corrupt.err, HasSubstr(fmt::format("journal {}: damaged data at offset {}", copy,
                                                 middle["offset"].get<uint64_t>())));
}

TEST_F(OfflineTest, EntryLogAndIndexDumpsShowWhatTheBookieStored) {
  std::vector<Written> written = Write({4, 5}, 30);
  RawClient c = Connect();
  ASSERT_EQ(Call(c, ReadRequest(next_id_++, 5, 0, /*fence=*/true, Key(5))).status(), proto::OK);
  c.Close();
  StopBookie();

  auto records = EntryLogRecords();
  for (const Written& w : written) {
    auto it = records.find({w.ledger, w.entry});
    ASSERT_NE(it, records.end()) << "ledger " << w.ledger << " entry " << w.entry;
    EXPECT_EQ(it->second["crc"], "ok");
    EXPECT_EQ(it->second["payload_hex"], Hex(w.body));
    EXPECT_EQ(it->second["payload_bytes"].get<size_t>(), w.body.size());
  }

  CommandResult dump = Quire({"index", "dump", ledger_dir(), "--json"});
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  std::map<int64_t, json> ledgers;
  size_t entries = 0;
  for (const json& j : dump.Json()) {
    if (j["kind"] == "ledger") ledgers[j["ledger"].get<int64_t>()] = j;
    if (j["kind"] != "entry") continue;
    ++entries;
    // The index points exactly where the entry log holds the record.
    const json& rec = records.at({j["ledger"].get<int64_t>(), j["entry"].get<int64_t>()});
    EXPECT_EQ(j["offset"], rec["offset"]);
    EXPECT_EQ(j["bytes"], rec["bytes"]);
  }
  EXPECT_EQ(entries, written.size());
  ASSERT_EQ(ledgers.size(), 2u);
  EXPECT_TRUE(ledgers[4]["exists"].get<bool>());
  EXPECT_FALSE(ledgers[4]["fenced"].get<bool>());
  EXPECT_TRUE(ledgers[5]["fenced"].get<bool>());
  EXPECT_EQ(ledgers[4]["master_key_bytes"].get<size_t>(), Key(4).size());

  CommandResult one = Quire({"index", "dump", ledger_dir(), "--ledger", "5"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_THAT(one.Out(), HasSubstr("ledger 5: exists, fenced yes, master key 12 bytes"));
  EXPECT_THAT(one.Out(), ::testing::Not(HasSubstr("ledger 4")));
  EXPECT_THAT(one.Out(), HasSubstr("1 ledgers, 30 entries"));
  CommandResult missing = Quire({"index", "dump", ledger_dir(), "--ledger", "77"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("no ledger 77"));
}

TEST_F(OfflineTest, RebuildRestoresReadsAfterTheIndexIsDeleted) {
  std::vector<Written> written = Write({6, 7, 8}, 25);
  RawClient c = Connect();
  ASSERT_EQ(Call(c, WriteLacRequest(next_id_++, 7, Key(7), 24, "lac-body")).status(), proto::OK);
  c.Close();
  StopBookie();

  // Without --yes and with no terminal to ask on, nothing happens.
  CommandResult unconfirmed = Quire({"index", "rebuild", ledger_dir()});
  EXPECT_EQ(unconfirmed.exit_code, 2) << unconfirmed.err;
  EXPECT_THAT(unconfirmed.err, HasSubstr("--yes"));

  // With the old index still there: it is kept aside, and the master keys come from it.
  CommandResult again = Quire({"index", "rebuild", ledger_dir(), "--yes", "--json"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  json report = json::parse(again.out.at(0));
  EXPECT_EQ(report["entries"].get<size_t>(), written.size());
  EXPECT_EQ(report["fenced"].get<size_t>(), 3u);
  EXPECT_EQ(report["master_keys"]["from_old_index"].get<size_t>(), 3u);
  // Progress and the scan's totals go to standard error, by entry log.
  const size_t logs = Files(ledger_dir() + "/current", ".log").size();
  EXPECT_THAT(again.err, HasSubstr(fmt::format("index rebuild of {}/current: done: {}/{} entry "
                                               "logs, {} entries",
                                               ledger_dir(), logs, logs, written.size())));
  std::string old = report["old_index"].get<std::string>();
  EXPECT_TRUE(fs::is_directory(old)) << old;
  EXPECT_THAT(old, HasSubstr("/current/index.old-"));

  // Now without any index: master keys and the explicit LAC come from the journal.
  fs::remove_all(index_dir());
  fs::remove_all(old);
  CommandResult rebuilt = Quire({"index", "rebuild", ledger_dir(), "--yes"});
  ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.err;
  EXPECT_THAT(rebuilt.Out(),
              HasSubstr(fmt::format("indexed {} entry records of 3 ledgers", written.size())));
  EXPECT_THAT(rebuilt.Out(),
              HasSubstr("master key: 0 from the old index, 3 from the journals, 0 lost"));
  EXPECT_THAT(rebuilt.Out(), HasSubstr("explicit LAC: 1 from the journals"));
  EXPECT_THAT(rebuilt.Out(), HasSubstr("there was no old index"));
  ASSERT_TRUE(fs::is_directory(index_dir()));

  CommandResult dump = Quire({"index", "dump", ledger_dir(), "--ledger", "7"});
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  EXPECT_THAT(dump.Out(),
              HasSubstr(fmt::format("ledger 7: exists, fenced yes, master key {} bytes, "
                                    "explicit LAC 24",
                                    Key(7).size())));

  ASSERT_TRUE(bookie_->Restart().ok());
  ExpectReadsBack(written);
  // Every rebuilt ledger is fenced: an old writer's add is refused; the key still checks.
  RawClient w = Connect();
  EXPECT_EQ(Call(w, AddRequest(next_id_++, 6, 25, Key(6), "late", 24)).status(), proto::FENCED);
  EXPECT_EQ(Call(w, AddRequest(next_id_++, 6, 25, "wrong-key", "late", 24)).status(),
            proto::UNAUTHORIZED);
}

TEST_F(OfflineTest, RebuildWithoutASurvivingMasterKeyLocksTheLedger) {
  std::vector<Written> written = Write({11}, 5);
  StopBookie();
  fs::remove_all(index_dir());
  fs::create_directories(dir_.Sub("no-journal/current"));
  CommandResult r =
      Quire({"index", "rebuild", ledger_dir(), "--yes", "--journal-dir", dir_.Sub("no-journal")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.Out(), HasSubstr("0 from the journals, 1 lost"));
  EXPECT_THAT(r.Out(), HasSubstr("lost for ledgers 11:"));

  ASSERT_TRUE(bookie_->Restart().ok());
  ExpectReadsBack(written);
  RawClient c = Connect();
  EXPECT_EQ(Call(c, AddRequest(next_id_++, 11, 5, Key(11), "late", 4)).status(),
            proto::UNAUTHORIZED);
  EXPECT_EQ(Call(c, ReadRequest(next_id_++, 11, 0, /*fence=*/true, Key(11))).status(),
            proto::UNAUTHORIZED);
}

TEST_F(OfflineTest, RebuildRefusesWhileTheBookieRuns) {
  Write({9}, 3);
  CommandResult r = Quire({"index", "rebuild", ledger_dir(), "--yes"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("in use by a running bookie"));
  EXPECT_EQ(IndexSideDirectories(), 0u);
  // The bookie is untouched.
  RawClient c = Connect();
  EXPECT_EQ(Call(c, ReadRequest(next_id_++, 9, 2)).status(), proto::OK);
}

// A small write cache: many flushes land in one entry log, so damage in an early flush is
// followed by later ones and cannot pass for a crash-interrupted tail.
class OfflineDamageTest : public OfflineTest {
 protected:
  OfflineDamageTest() { settings_ = {"writeCacheMaxSizeMB = 2"}; }
};

TEST_F(OfflineDamageTest, CorruptEntryLogByteIsReportedWithFileAndOffset) {
  std::vector<Written> written = Write({10}, 64, 64 << 10);
  StopBookie();
  auto records = EntryLogRecords();
  ASSERT_EQ(records.size(), written.size());
  // Damage the payload of entry 0's record.
  const json& victim = records.at({10, 0});
  std::string log = victim["file"].get<std::string>();
  uint64_t offset = victim["offset"].get<uint64_t>();
  {
    std::fstream f(log, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset + 24 + 100));
    f.put('\xff');
    ASSERT_TRUE(f.good());
  }

  CommandResult dump = Quire({"entrylog", "dump", log});
  EXPECT_EQ(dump.exit_code, 1);
  EXPECT_THAT(dump.err,
              HasSubstr(fmt::format("entry log {} offset {}: CRC mismatch", log, offset)));
  EXPECT_THAT(dump.Out(), HasSubstr("BAD"));
  // The records after the damage are still listed.
  CommandResult json_dump = Quire({"entrylog", "dump", log, "--json"});
  EXPECT_EQ(json_dump.exit_code, 1);
  size_t ok = 0, bad = 0;
  for (const json& j : json_dump.Json()) {
    if (j["kind"] != "record" || j["padding"].get<bool>()) continue;
    (j["crc"] == "ok" ? ok : bad) += 1;
    if (j["crc"] == "bad") {
      EXPECT_EQ(j["offset"].get<uint64_t>(), offset);
    }
  }
  EXPECT_EQ(bad, 1u);
  EXPECT_EQ(ok, written.size() - 1);

  // The rebuild refuses, naming the same place, and leaves the index as it was.
  CommandResult rebuild = Quire({"index", "rebuild", ledger_dir(), "--yes"});
  EXPECT_EQ(rebuild.exit_code, 1);
  EXPECT_THAT(rebuild.err, HasSubstr(fmt::format("entry log {} offset {}", log, offset)));
  EXPECT_EQ(IndexSideDirectories(), 0u);
  CommandResult around = Quire({"index", "rebuild", ledger_dir(), "--dry-run", "--skip-damaged"});
  EXPECT_EQ(around.exit_code, 0) << around.err;
  EXPECT_THAT(around.Out(), HasSubstr("1 damaged record(s) skipped"));
}

}  // namespace
}  // namespace quire::bookie::testing
