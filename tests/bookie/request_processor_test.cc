// The request processor against a real storage engine on real files: what it promises about its
// own lifetime (request_processor.h).
#include "bookie/request_processor.h"

#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "../storage/engine_test_util.h"
#include "protocol/protocol.h"
#include "util/forwarding_fs.h"
#include "util/temp_dir.h"

namespace quire::bookie {
namespace {

// Journal syncs wait while the gate is closed, so a test can hold an add between "handed to the
// engine" and "durable" for as long as it needs.
class GatedJournalSync : public testing::ForwardingFileSystem {
 public:
  explicit GatedJournalSync(FileSystem* base) : ForwardingFileSystem(base) {}

  void Hold() {
    std::lock_guard<std::mutex> lock(mu_);
    holding_ = true;
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    holding_ = false;
    cv_.notify_all();
  }
  // True once a journal sync waits at the closed gate (bounded: 60 s).
  bool WaitForHeldSync() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [this] { return waiting_ > 0; });
  }

 private:
  class GatedFile : public ForwardingFile {
   public:
    GatedFile(GatedJournalSync* gate, std::unique_ptr<File> f)
        : ForwardingFile(std::move(f)), gate_(gate) {}
    Status Sync() override {
      if (path().ends_with(".jnl")) gate_->Pass();
      return f_->Sync();
    }

   private:
    GatedJournalSync* gate_;
  };

  std::unique_ptr<File> Wrap(std::unique_ptr<File> f) override {
    return std::make_unique<GatedFile>(this, std::move(f));
  }
  void Pass() {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lock, [this] { return !holding_; });
    --waiting_;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool holding_ = false;
  int waiting_ = 0;  // syncs at the gate
};

proto::Request AddRequest(uint64_t ledger, uint64_t entry, const std::string& payload) {
  proto::Request r;
  r.mutable_header()->set_protocol_version(1);
  r.mutable_header()->set_operation(proto::ADD_ENTRY);
  r.mutable_header()->set_request_id(entry + 1);
  char header[protocol::kEntryBodyHeaderSize];
  protocol::EncodeEntryBodyHeader({static_cast<int64_t>(ledger), static_cast<int64_t>(entry), -1,
                         payload.size()},
                        header);
  proto::AddRequest* add = r.mutable_add();
  add->set_ledger_id(static_cast<int64_t>(ledger));
  add->set_entry_id(static_cast<int64_t>(entry));
  add->set_master_key("key");
  add->set_body(std::string(header, sizeof header) + payload);
  return r;
}

// The engine calls back on its own threads, after the journal's fdatasync, and those callbacks
// use the processor (the LAC they advance). A processor destroyed with an add in the journal must
// wait for it: in a rolling restart a group synced after the processor was gone (ASan, CI).
TEST(RequestProcessorTest, DestructionWaitsForTheEngineToCallBackWhatItWasGiven) {
  quire::testing::TempDir dir("quire-processor");
  std::unique_ptr<FileSystem> real = NewPosixFileSystem();
  GatedJournalSync fs(real.get());
  auto engine = storage::StorageEngine::Open(storage::testing::TestStorageOptions(dir.path(), &fs));
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  boost::asio::io_context io;
  BookieStatus status;
  auto processor = std::make_unique<RequestProcessor>(engine->get(), &io, &status,
                                                      RequestProcessorOptions{});

  fs.Hold();
  std::mutex mu;
  bool answered = false;
  proto::Status code = proto::OK;
  processor->Process({.request = AddRequest(1, 0, "payload")}, [&](proto::Response r) {
    std::lock_guard<std::mutex> lock(mu);
    answered = true;
    code = r.status();
  });
  ASSERT_TRUE(fs.WaitForHeldSync());

  // Destruction must not finish while the add waits at the gate. With the bug it finishes at
  // once; the bound only limits how long a correct processor is watched (it passes either way).
  std::promise<bool> destroyed;
  std::future<bool> answered_when_destroyed = destroyed.get_future();
  std::thread destroy([&] {
    processor.reset();
    std::lock_guard<std::mutex> lock(mu);
    destroyed.set_value(answered);
  });
  EXPECT_EQ(answered_when_destroyed.wait_for(std::chrono::milliseconds(200)),
            std::future_status::timeout)
      << "the processor was destroyed while an add it handed to the engine was not durable";
  fs.Release();
  destroy.join();
  EXPECT_TRUE(answered_when_destroyed.get());
  EXPECT_EQ(code, proto::OK);
}

}  // namespace
}  // namespace quire::bookie
