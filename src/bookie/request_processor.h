// Executes validated requests against the storage engine (docs/semantics.md, bookie side).
//
// - Adds, fences and LAC writes are answered only once durable (the engine's callbacks fire after
//   the journal's fdatasync). A fencing read fences first, then reads.
// - The bookie's LAC of a ledger is the highest LAC carried by an entry body it acknowledged or by
//   an explicit LAC write; after a restart it is read back from the last stored entry and the
//   stored explicit LAC. Long-poll reads wait on it.
// - Storage calls that may block run on worker threads, never on an I/O thread. An add runs inline
//   on the I/O thread when the write cache has room (StorageEngine::TryAddEntry never waits) and
//   on "q-write-N" when it must wait for room; LAC writes and forces run on "q-write-N"; reads,
//   fencing reads included, on "q-read-N" (preads, index lookups), so that a full write cache
//   never stalls reads.
//
// Thread safety: Process() may be called from any thread. `respond` runs exactly once per request,
// on a storage, callback or I/O thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "bookie.pb.h"
#include "bookie/bookie_status.h"
#include "bookie/lac_table.h"
#include "common/executor.h"
#include "common/mutex.h"
#include "protocol/protocol.h"
#include "storage/payload.h"
#include "storage/storage_engine.h"

namespace quire::bookie {

struct RequestProcessorOptions {
  size_t write_threads = 1;                         // numAddWorkerThreads
  size_t read_threads = 4;                          // numReadWorkerThreads
  std::chrono::milliseconds max_long_poll{60000};  // longPollMaxTimeoutMs
  // Fills bookie id and disk space into BOOKIE_INFO answers (the processor adds the state).
  std::function<void(proto::BookieInfoResponse*)> fill_info;
};

class RequestProcessor {
 public:
  using Responder = std::function<void(proto::Response)>;

  // `io` runs the long-poll timers. The engine, io context and status outlive the processor.
  RequestProcessor(storage::StorageEngine* engine, boost::asio::io_context* io,
                   BookieStatus* status, const RequestProcessorOptions& options);
  // Answers the long polls still waiting (READ_ONLY: shutting down), runs what the worker
  // threads have queued, and waits for the engine to call back every operation it was given
  // (those callbacks use the processor, and the engine outlives it).
  ~RequestProcessor();

  // A request that passed protocol::ParseRequest.
  void Process(protocol::ParsedRequest parsed, Responder respond);

  // Answers every waiting long poll now (READ_ONLY: shutting down), so shutdown need not wait.
  void AbortLongPolls();

  // Long polls waiting now (a metric).
  size_t long_polls() const;

  // Memory follows the ledgers in use: the LACs known of ledgers without waiting long polls are
  // forgotten when garbage collection deleted the ledgers, and by SweepIdle() when they were not
  // used since the previous sweep (the next read loads them from storage again).
  void ForgetLedgers(const std::vector<uint64_t>& ledgers);
  void SweepIdle();
  size_t known_lacs() const;

 private:
  struct Waiter;
  class Batch;

  // An ADD_ENTRY's add: `master_key` is only read during the call.
  void Add(int64_t ledger_id, int64_t entry_id, std::string_view master_key,
           storage::Payload body, bool recovery, std::function<void(Status)> done);
  void BatchAdd(protocol::ParsedRequest parsed, Responder respond);
  // Why adds are refused now (the bookie is read-only), if they are.
  std::optional<Status> RefusesAdds(bool recovery) const;
  // Gives one add to the engine: on this thread if the write cache has room, else on a write
  // thread. `callback` is tracked (Tracked, or a batch's).
  void Store(uint64_t ledger, uint64_t entry, std::string_view master_key, storage::Payload body,
             bool recovery, storage::StorageEngine::Callback callback);
  void Read(proto::Request request, Responder respond);
  void LongPoll(proto::Request request, Responder respond);
  void ReadLac(proto::Request request, Responder respond);
  void WriteLac(proto::Request request, Responder respond);
  void ForceLedger(proto::Request request, Responder respond);
  void BookieInfo(proto::Request request, Responder respond);
  void ListEntries(proto::Request request, Responder respond);

  // The bookie's LAC for the ledger (-1 if it has entries but none carries a LAC); loads it from
  // storage the first time. Storage thread only.
  Result<int64_t> CurrentLac(uint64_t ledger);
  // The LAC that storage holds: the stored explicit LAC and the one the last stored entry carries.
  Result<int64_t> StoredLac(uint64_t ledger);
  // Raises the known LAC and wakes the long polls it satisfies.
  void AdvanceLac(uint64_t ledger, int64_t lac);
  // Wraps a callback given to the engine that uses `this`: the destructor waits until every such
  // callback has run. A template, so that an add's callback is one std::function, not two.
  template <typename F>
  storage::StorageEngine::Callback Tracked(F callback) {
    engine_callbacks_.fetch_add(1, std::memory_order_relaxed);
    return [this, callback = std::move(callback)](Status s) mutable {
      callback(std::move(s));
      EngineCallbackDone();
    };
  }
  void EngineCallbackDone();
  // What the writer signed that carries the ledger's LAC: its explicit LAC body and the body of
  // its last entry, unless that entry is `in_body` (already in the response). Clients trust a LAC
  // only as far as these verify (docs/protocol.md).
  struct LacProof {
    std::string explicit_lac_body;
    std::string last_entry_body;
  };
  LacProof ReadLacProof(uint64_t ledger, int64_t in_body = -1);
  // The answer to a long poll that waited its whole timeout.
  static proto::Response LongPollTimeout(const proto::RequestHeader& header, uint64_t ledger,
                                         int64_t previous_lac, int64_t lac);
  // Answers a long poll whose condition holds (reads the next entry if the bookie has it).
  void AnswerLongPoll(const proto::RequestHeader& header, uint64_t ledger, int64_t previous_lac,
                      int64_t lac, Responder respond);

  storage::StorageEngine* engine_;
  boost::asio::io_context* io_;
  BookieStatus* status_;
  const RequestProcessorOptions options_;

  LacTable<Waiter> lacs_;

  // Tracked callbacks not yet run. Raised without the mutex (adds are the hot path), lowered
  // under it.
  std::atomic<uint64_t> engine_callbacks_{0};
  Mutex engine_callbacks_mu_;
  CondVar engine_callbacks_cv_;

  // Last members: drained first on destruction.
  std::unique_ptr<Executor> writes_;
  std::unique_ptr<Executor> reads_;
};

}  // namespace quire::bookie
