// Shared pieces of the client tests: a cluster per test, parameterized by metadata driver, and
// deterministic payloads.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "client/test_cluster.h"
#include "quire/client.h"

namespace quire::client::testing {

// The payload of entry `e` of a test ledger: its id and a pseudo-random tail of 0..`max_extra`
// bytes, so that a misplaced or damaged entry shows.
inline std::string Payload(EntryId e, int max_extra = 200) {
  std::string p = "entry-" + std::to_string(e) + ":";
  uint64_t x = static_cast<uint64_t>(e) * 0x9E3779B97F4A7C15ull + 1;
  size_t extra = static_cast<size_t>(x % static_cast<uint64_t>(max_extra + 1));
  for (size_t i = 0; i < extra; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    p.push_back(static_cast<char>('a' + x % 26));
  }
  return p;
}

inline std::string MetadataName(const ::testing::TestParamInfo<ClusterOptions::Metadata>& info) {
  return info.param == ClusterOptions::Metadata::kFile ? "File" : "ZooKeeper";
}

// Client options for tests: short timeouts so that failures are detected quickly.
inline ClientOptions TestClientOptions(const std::string& uri) {
  ClientOptions o;
  o.metadata_uri = uri;
  o.add_timeout = std::chrono::milliseconds(3'000);
  o.read_timeout = std::chrono::milliseconds(3'000);
  o.connect_timeout = std::chrono::milliseconds(2'000);
  o.reconnect_backoff_min = std::chrono::milliseconds(5);
  o.reconnect_backoff_max = std::chrono::milliseconds(200);
  o.explicit_lac_interval = std::chrono::milliseconds(100);
  o.long_poll_timeout = std::chrono::milliseconds(1'000);
  o.metadata_session_timeout = std::chrono::milliseconds(4'000);
  return o;
}

// A cluster of real bookies per test, for each metadata driver.
class ClusterTest : public ::testing::TestWithParam<ClusterOptions::Metadata> {
 protected:
  void StartCluster(int bookies, std::vector<std::string> settings = {}) {
    ClusterOptions o;
    o.metadata = GetParam();
    o.bookies = bookies;
    o.bookie_settings = std::move(settings);
    auto c = TestCluster::Start(o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    cluster_ = std::move(*c);
  }

  // StartCluster with a test fault (src/common/test_faults.h) switched on in the bookies it starts
  // and in no other process. False in builds without test faults: the caller decides whether its
  // test still means something.
  bool StartClusterWithFault(const char* fault_variable, int bookies,
                             std::vector<std::string> settings = {}) {
#ifndef QUIRE_TEST_FAULTS
    (void)fault_variable;
    StartCluster(bookies, std::move(settings));
    return false;
#else
    struct Unset {  // however this ends
      const char* name;
      ~Unset() { unsetenv(name); }
    } unset{fault_variable};
    EXPECT_EQ(setenv(fault_variable, "1", 1), 0);
    StartCluster(bookies, std::move(settings));
    return true;
#endif
  }

  std::unique_ptr<Client> NewClient(ClientOptions options) {
    auto c = Client::Open(options);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }
  std::unique_ptr<Client> NewClient() { return NewClient(TestClientOptions(cluster_->metadata_uri())); }

  std::unique_ptr<TestCluster> cluster_;
};

// Counts completions and remembers the first error; waits with a bound.
class Completions {
 public:
  WriteHandle::AddCallback Callback() {
    return [this](Result<EntryId> r) {
      std::lock_guard<std::mutex> lock(mu_);
      if (r.ok()) {
        EXPECT_EQ(*r, last_ + 1) << "acknowledgements out of order";
        last_ = *r;
        ++acked_;
      } else {
        ++failed_;
        if (error_.ok()) error_ = r.status();
      }
      cv_.notify_all();
    };
  }
  // Waits until `n` appends have ended (OK or not), at most `timeout`.
  bool WaitForEnded(int64_t n, std::chrono::seconds timeout = std::chrono::seconds(120)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return acked_ + failed_ >= n; });
  }
  bool WaitForAcked(int64_t n, std::chrono::seconds timeout = std::chrono::seconds(120)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return acked_ >= n || failed_ > 0; }) && acked_ >= n;
  }
  int64_t acked() const {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_;
  }
  int64_t failed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return failed_;
  }
  EntryId last() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_;
  }
  Status error() const {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int64_t acked_ = 0, failed_ = 0;
  EntryId last_ = kNoEntry;
  Status error_;
};

}  // namespace quire::client::testing
