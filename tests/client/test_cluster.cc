#include "client/test_cluster.h"

#include <fmt/format.h>

#include <cassert>
#include <charconv>
#include <utility>

#include "protocol/protocol.h"
#include "bookie/raw_client.h"
#include "common/file_system.h"
#include "storage/entry_log.h"
#include "storage/entry_log_format.h"

namespace quire::client::testing {
namespace {

using bookie::testing::BookieProcess;

// Settings for every test bookie, over bookie_process.cc's (small caches and journal
// preallocation, a 2 s metadata session). A short drain keeps Stop() quick when a client still
// has requests in flight.
const std::vector<std::string> kClusterDefaults = {
    "shutdownDrainTimeoutMs = 2000",
};

}  // namespace

TestCluster::TestCluster(const ClusterOptions& options)
    : options_(options), dir_("quire-cluster") {}

TestCluster::~TestCluster() {
  bookies_.clear();    // SIGKILL each bookie still running
  zookeeper_.reset();  // then the metadata service
}

Result<std::unique_ptr<TestCluster>> TestCluster::Start(const ClusterOptions& options) {
  std::unique_ptr<TestCluster> c(new TestCluster(options));
  switch (options.metadata) {
    case ClusterOptions::Metadata::kFile:
      c->metadata_uri_ = "file://" + c->dir_.Sub("metadata");
      break;
    case ClusterOptions::Metadata::kZooKeeper: {
      auto zk = quire::testing::ZookeeperServer::Start();
      if (!zk.ok()) return zk.status().WithContext("starting ZooKeeper");
      c->zookeeper_ = std::move(*zk);
      c->metadata_uri_ = "zk://" + c->zookeeper_->connect_string() + "/quire";
      break;
    }
  }
  QUIRE_RETURN_IF_ERROR(bookie::testing::InitCluster(c->metadata_uri_)
                            .WithContext("initialising the cluster at " + c->metadata_uri_));
  for (int i = 0; i < options.bookies; ++i) {
    QUIRE_RETURN_IF_ERROR(c->AddBookie().status());
  }
  return c;
}

Result<int> TestCluster::AddBookie(const std::vector<std::string>& extra_settings) {
  int index = size();
  bookie::testing::BookieProcessOptions o;
  o.root = dir_.Sub(fmt::format("bookie-{}", index));
  o.metadata_uri = metadata_uri_;
  o.settings = kClusterDefaults;
  o.settings.insert(o.settings.end(), options_.bookie_settings.begin(),
                    options_.bookie_settings.end());
  o.settings.insert(o.settings.end(), extra_settings.begin(), extra_settings.end());
  auto b = BookieProcess::Start(o);
  if (!b.ok()) return b.status().WithContext(fmt::format("starting bookie {}", index));
  bookies_.push_back(std::move(*b));
  return index;
}

std::vector<BookieId> TestCluster::bookie_ids() const {
  std::vector<BookieId> ids;
  for (const auto& b : bookies_) ids.push_back(b->bookie_id());
  return ids;
}

int TestCluster::IndexOf(const BookieId& bookie_id) const {
  for (int i = 0; i < size(); ++i) {
    if (bookies_[static_cast<size_t>(i)]->bookie_id() == bookie_id) return i;
  }
  return -1;
}

BookieProcess& TestCluster::bookie(int i) {
  assert(i >= 0 && i < size());
  return *bookies_[static_cast<size_t>(i)];
}

const BookieProcess& TestCluster::bookie(int i) const {
  assert(i >= 0 && i < size());
  return *bookies_[static_cast<size_t>(i)];
}

std::string TestCluster::root(int i) const {
  assert(i >= 0 && i < size());
  return dir_.Sub(fmt::format("bookie-{}", i));
}

int TestCluster::Kill(int i) { return bookie(i).Kill(); }

int TestCluster::Stop(int i) { return bookie(i).Stop(); }

Status TestCluster::Restart(int i) {
  return bookie(i).Restart().WithContext(fmt::format("restarting bookie {}", i));
}

// Does the bookie check its own record CRC on reads? Yes: every read from an entry log decodes
// the record and checks its CRC32C and its (ledger, entry) (docs/formats.md, "Entry log"), and a
// mismatch is answered CORRUPTION. So flipping a payload byte alone is caught by the bookie
// (kDetectedByBookie); to hand the client bad bytes with an OK answer (kSilent), the record is
// re-encoded with the damaged payload, which recomputes its CRC. The record keeps its size and
// place, so the index still points at it.
Status CorruptEntry(const std::string& bookie_root, LedgerId ledger, EntryId entry,
                    CorruptionKind kind) {
  FileSystem* fs = DefaultFileSystem();
  const std::string current = JoinPath(JoinPath(bookie_root, "ledgers"), "current");
  // The bookie holds this lock (storage/cookie.cc, kLockFile) while it runs.
  auto lock = fs->Lock(JoinPath(current, "LOCK"));
  if (!lock.ok()) {
    return lock.status().WithContext("CorruptEntry on " + bookie_root +
                                     " (the bookie must be stopped)");
  }
  QUIRE_ASSIGN_OR_RETURN(std::vector<uint64_t> logs, storage::EntryLogger::ListLogs(fs, current));
  int damaged = 0;
  for (uint64_t log_id : logs) {
    const std::string path = JoinPath(current, storage::EntryLogFileName(log_id));
    QUIRE_ASSIGN_OR_RETURN(std::string bytes, fs->ReadFile(path));
    QUIRE_RETURN_IF_ERROR(storage::DecodeEntryLogHeader(bytes, path).status());
    QUIRE_ASSIGN_OR_RETURN(auto file, fs->Open(path, OpenOptions{}));
    size_t offset = storage::kEntryLogHeaderSize;
    // Bounded: every record advances by at least its header.
    while (offset < bytes.size()) {
      storage::EntryLogRecord record;
      std::string detail;
      auto decoded =
          storage::DecodeEntryLogRecord(std::string_view(bytes).substr(offset), &record, &detail);
      if (decoded == storage::EntryLogDecode::kEndOfData ||
          decoded == storage::EntryLogDecode::kTruncated) {
        break;  // the end of what was written (a torn tail is never indexed)
      }
      if (decoded == storage::EntryLogDecode::kBad) {
        return Corruption(fmt::format("{} at offset {}: {}", path, offset, detail));
      }
      if (!record.padding() && record.ledger_id == static_cast<uint64_t>(ledger) &&
          record.entry_id == static_cast<uint64_t>(entry)) {
        if (record.payload.empty()) {
          return FailedPrecondition(
              fmt::format("{} at offset {}: the entry is empty", path, offset));
        }
        std::string damaged_record(std::string_view(bytes).substr(offset, record.size));
        damaged_record.back() = static_cast<char>(~damaged_record.back());  // the body's last byte
        if (kind == CorruptionKind::kSilent) {
          AlignedBuffer rewritten(record.size);
          storage::AppendEntryLogRecord(
              &rewritten, record.ledger_id, record.entry_id,
              std::string_view(damaged_record).substr(storage::kEntryLogRecordHeader));
          if (rewritten.size() != record.size) {
            return Internal(fmt::format("re-encoded record of {} bytes, not {}", rewritten.size(),
                                        record.size));
          }
          damaged_record.assign(rewritten.view());
        }
        QUIRE_RETURN_IF_ERROR(file->Write(offset, damaged_record));
        ++damaged;
      }
      offset += record.size;
    }
    QUIRE_RETURN_IF_ERROR(file->Sync());
  }
  if (damaged == 0) {
    return NotFound(
        fmt::format("ledger {} entry {} is in no entry log under {} (was the bookie "
                    "stopped cleanly?)",
                    ledger, entry, current));
  }
  return Status::Ok();
}

Result<std::vector<int64_t>> ListEntriesOn(const std::string& bookie_id, LedgerId ledger) {
  size_t colon = bookie_id.rfind(':');
  if (colon == std::string::npos) return InvalidArgument("bookie id without a port: " + bookie_id);
  uint16_t port = 0;
  const char* end = bookie_id.data() + bookie_id.size();
  if (std::from_chars(bookie_id.data() + colon + 1, end, port).ptr != end || port == 0) {
    return InvalidArgument("bad port in bookie id " + bookie_id);
  }
  QUIRE_ASSIGN_OR_RETURN(auto c,
                         bookie::testing::RawClient::Connect(bookie_id.substr(0, colon), port));
  QUIRE_RETURN_IF_ERROR(c.Send(bookie::testing::ListEntriesRequest(1, ledger)));
  QUIRE_ASSIGN_OR_RETURN(proto::Response r, c.Receive());
  if (r.status() != proto::OK) {
    return Status(
        protocol::FromProtoStatus(r.status()),
        fmt::format("LIST_ENTRIES of ledger {} on {}: {}", ledger, bookie_id, r.message()));
  }
  return std::vector<int64_t>(r.list_entries().entry_ids().begin(),
                              r.list_entries().entry_ids().end());
}

}  // namespace quire::client::testing
