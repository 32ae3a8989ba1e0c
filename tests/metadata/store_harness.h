// Test support for the metadata service: one place that knows how to open a store of each driver
// (mem://, file://, zk:// against a real ZooKeeper started for this test process), how to plant
// raw bytes in a record, and how to wait for a condition without sleeping.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "metadata/metadata_store.h"
#include "util/temp_dir.h"
#include "util/zookeeper_server.h"

namespace quire::metadata::testing {

enum class Driver { kMem, kFile, kZk };
std::string DriverName(Driver driver);

// Short timeouts so that expiry tests take seconds; every wait in the tests is bounded.
MetadataOptions TestOptions();

// The ZooKeeper server shared by the tests of this process, started on first use and killed at
// exit (each ctest case is its own process, hence its own server).
quire::testing::ZookeeperServer& SharedZookeeper();

// A fresh, empty store location of one driver for one test.
class StoreHarness {
 public:
  explicit StoreHarness(Driver driver);

  Driver driver() const { return driver_; }
  const std::string& uri() const { return uri_; }
  // Whether other processes can open uri() (false for mem://).
  bool shared_across_processes() const { return driver_ != Driver::kMem; }

  Result<std::unique_ptr<MetadataStore>> Open(const MetadataOptions& options = TestOptions());
  // Opens and initialises; aborts the test on failure.
  std::unique_ptr<MetadataStore> OpenInitialised(const MetadataOptions& options = TestOptions());

  // Replaces the stored bytes of ledger `id`'s record with `payload` (the record encoding, i.e.
  // what the ZooKeeper znode holds; the file driver wraps it in a valid envelope). The ledger
  // must exist.
  Status WriteRawLedgerRecord(LedgerId id, const std::string& payload);
  // Where the ledger's record lives, as error messages name it.
  std::string LedgerLocation(LedgerId id) const;

 private:
  Driver driver_;
  std::string uri_;
  std::string name_;  // mem name, or ZooKeeper root
  std::unique_ptr<quire::testing::TempDir> dir_;
};

// Sets a ZooKeeper znode's data with the plain C client (bypassing every check).
Status ZkSetRaw(const std::string& hosts, const std::string& path, const std::string& data);

// A value written by callbacks and awaited by the test, with a deadline.
template <typename T>
class Awaited {
 public:
  void Set(T value) {
    std::lock_guard<std::mutex> lock(mu_);
    value_ = std::move(value);
    ++updates_;
    cv_.notify_all();
  }
  // True once `pred(value)` holds, false if `timeout` passes first.
  bool WaitFor(const std::function<bool(const T&)>& pred,
               std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return updates_ > 0 && pred(value_); });
  }
  T Get() {
    std::lock_guard<std::mutex> lock(mu_);
    return value_;
  }
  int updates() {
    std::lock_guard<std::mutex> lock(mu_);
    return updates_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  T value_{};
  int updates_ = 0;
};

// A small valid ledger record: E=3, Qw=2, Qa=2, OPEN, one ensemble.
LedgerMetadata SampleLedger(std::string creator = "test");

// Path of the helper program (tests/metadata/metadata_test_helper.cc).
std::string HelperPath();

}  // namespace quire::metadata::testing
