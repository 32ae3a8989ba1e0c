#include "metadata/store_harness.h"

#include <zookeeper/zookeeper.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/file_system.h"
#include "metadata/kv_backend.h"
#include "metadata/layout.h"

namespace quire::metadata::testing {

std::string DriverName(Driver driver) {
  switch (driver) {
    case Driver::kMem:
      return "mem";
    case Driver::kFile:
      return "file";
    case Driver::kZk:
      return "zk";
  }
  return "?";
}

MetadataOptions TestOptions() {
  MetadataOptions o;
  o.operation_timeout = std::chrono::seconds(20);
  o.session_timeout = std::chrono::milliseconds(2000);
  o.watch_poll_interval = std::chrono::milliseconds(20);
  return o;
}

quire::testing::ZookeeperServer& SharedZookeeper() {
  static std::unique_ptr<quire::testing::ZookeeperServer> server = [] {
    auto started = quire::testing::ZookeeperServer::Start();
    if (!started.ok()) {
      ADD_FAILURE() << "cannot start ZooKeeper: " << started.status().ToString();
      std::abort();
    }
    return std::move(started).value();
  }();
  return *server;
}

namespace {
std::atomic<int> next_store{0};
}  // namespace

StoreHarness::StoreHarness(Driver driver) : driver_(driver) {
  int n = next_store++;
  switch (driver) {
    case Driver::kMem:
      name_ = fmt::format("test-{}-{}", getpid(), n);
      uri_ = "mem://" + name_;
      break;
    case Driver::kFile:
      dir_ = std::make_unique<quire::testing::TempDir>("quire-md");
      uri_ = "file://" + dir_->Sub("store");
      break;
    case Driver::kZk:
      name_ = fmt::format("/test-{}", n);
      uri_ = fmt::format("zk://{}{}", SharedZookeeper().connect_string(), name_);
      break;
  }
}

Result<std::unique_ptr<MetadataStore>> StoreHarness::Open(const MetadataOptions& options) {
  return OpenMetadataStore(uri_, options);
}

std::unique_ptr<MetadataStore> StoreHarness::OpenInitialised(const MetadataOptions& options) {
  auto store = Open(options);
  if (!store.ok()) {
    ADD_FAILURE() << "open " << uri_ << ": " << store.status().ToString();
    std::abort();
  }
  auto info = (*store)->InitCluster();
  if (!info.ok()) {
    ADD_FAILURE() << "init " << uri_ << ": " << info.status().ToString();
    std::abort();
  }
  return std::move(store).value();
}

std::string StoreHarness::LedgerLocation(LedgerId id) const {
  std::string rel = fmt::format("{}/{}", kLedgersDir, LedgerIdPath(id));
  switch (driver_) {
    case Driver::kMem:
      return fmt::format("mem://{}/{}", name_, rel);
    case Driver::kFile:
      return dir_->Sub("store") + "/" + rel;
    case Driver::kZk:
      return fmt::format("{}/{}", name_, rel);
  }
  return "";
}

Status StoreHarness::WriteRawLedgerRecord(LedgerId id, const std::string& payload) {
  std::string rel = fmt::format("{}/{}", kLedgersDir, LedgerIdPath(id));
  switch (driver_) {
    case Driver::kMem:
      MemBackendWriteRawForTesting(name_, rel, payload);
      return Status::Ok();
    case Driver::kFile:
      return DefaultFileSystem()->WriteFileAtomically(LedgerLocation(id),
                                                      EncodeFileRecordForTesting(0, payload));
    case Driver::kZk:
      return ZkSetRaw(SharedZookeeper().connect_string(), LedgerLocation(id), payload);
  }
  return Internal("unknown driver");
}

namespace {

// The C client's synchronous calls need THREADED at compile time, which the imported target does
// not define; the asynchronous ones with a wait do the same.
struct RawCall {
  std::mutex mu;
  std::condition_variable cv;
  bool connected = false;
  bool done = false;
  int rc = ZOK;
};

void OnSession(zhandle_t*, int type, int state, const char*, void* ctx) {
  if (type != ZOO_SESSION_EVENT || state != ZOO_CONNECTED_STATE) return;
  auto* call = static_cast<RawCall*>(ctx);
  std::lock_guard<std::mutex> lock(call->mu);
  call->connected = true;
  call->cv.notify_all();
}

void OnSet(int rc, const Stat*, const void* data) {
  auto* call = static_cast<RawCall*>(const_cast<void*>(data));
  std::lock_guard<std::mutex> lock(call->mu);
  call->rc = rc;
  call->done = true;
  call->cv.notify_all();
}

void QuietLog(const char*) {}

}  // namespace

Status ZkSetRaw(const std::string& hosts, const std::string& path, const std::string& data) {
  RawCall call;
  zhandle_t* zh = zookeeper_init2(hosts.c_str(), &OnSession, 10'000, nullptr, &call, 0, &QuietLog);
  if (zh == nullptr) return ErrnoStatus("zookeeper_init2", errno);
  bool done = false;
  {
    std::unique_lock<std::mutex> lock(call.mu);
    if (call.cv.wait_for(lock, std::chrono::seconds(30), [&] { return call.connected; })) {
      lock.unlock();
      int rc =
          zoo_aset(zh, path.c_str(), data.data(), static_cast<int>(data.size()), -1, &OnSet, &call);
      lock.lock();
      if (rc != ZOK) {
        call.rc = rc;
        call.done = true;
      }
      done = call.cv.wait_for(lock, std::chrono::seconds(30), [&] { return call.done; });
    }
  }
  zookeeper_close(zh);
  if (!done) return Status(StatusCode::kTimeout, "zoo_aset " + path);
  if (call.rc != ZOK) return Internal(fmt::format("zoo_aset {}: {}", path, zerror(call.rc)));
  return Status::Ok();
}

LedgerMetadata SampleLedger(std::string creator) {
  LedgerMetadata md;
  md.ensemble_size = 3;
  md.write_quorum_size = 2;
  md.ack_quorum_size = 2;
  md.digest_type = DigestType::kCrc32c;
  md.password_hash = HashLedgerPassword("secret");
  md.ensembles = {Ensemble{0, {"bk1:3181", "bk2:3181", "bk3:3181"}}};
  md.creation_time_ms = 1'700'000'000'000;
  md.creator = std::move(creator);
  md.custom_metadata = {{"application", "test"}};
  return md;
}

std::string HelperPath() { return QUIRE_METADATA_TEST_HELPER; }

}  // namespace quire::metadata::testing

// The ZooKeeper C client (Debian's libzookeeper-mt2 3.8.0) sometimes leaks a handle's watcher
// table when a session expires and the handle is closed; the forced-expiry tests do exactly that.
// Only allocations made inside that library are exempted from the leak check.
extern "C" const char* __lsan_default_suppressions() { return "leak:libzookeeper_mt.so\n"; }
