#include "bookie/request_processor.h"

#include <algorithm>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "protocol/protocol.h"
#include "common/check.h"
#include "common/coding.h"
#include "common/test_faults.h"

namespace quire::bookie {

// The wire protocol (src/protocol).
using protocol::MakeResponse;
using protocol::ParseEntryBodyHeader;
using protocol::ParseRequest;
using protocol::ToProtoStatus;

namespace {

// Stored explicit LAC: the LAC as a big-endian i64, then the writer's opaque body.
std::string EncodeExplicitLac(int64_t lac, const std::string& body) {
  std::string out;
  PutBigEndian64(&out, static_cast<uint64_t>(lac));
  out.append(body);
  return out;
}

std::optional<int64_t> ExplicitLacValue(const std::string& stored) {
  if (stored.size() < 8) return std::nullopt;
  return static_cast<int64_t>(DecodeBigEndian64(stored.data()));
}

// The LAC as reported to clients: as it is, except under the test fault of a lying bookie.
int64_t Reported(int64_t lac) {
  return TestFaultEnabled(TestFault::kInflateLac) ? lac + 1000 : lac;
}

}  // namespace

struct RequestProcessor::Waiter {
  proto::RequestHeader header;
  uint64_t ledger;
  int64_t previous_lac;
  Responder respond;
  std::shared_ptr<boost::asio::steady_timer> timer;
};

RequestProcessor::RequestProcessor(storage::StorageEngine* engine, boost::asio::io_context* io,
                                   BookieStatus* status, const RequestProcessorOptions& options)
    : engine_(engine),
      io_(io),
      status_(status),
      options_(options),
      writes_(std::make_unique<Executor>("q-write", std::max<size_t>(1, options.write_threads))),
      reads_(std::make_unique<Executor>("q-read", std::max<size_t>(1, options.read_threads))) {}

RequestProcessor::~RequestProcessor() {
  AbortLongPolls();
  // What the workers run may hand the engine more tracked callbacks; after Stop() the callbacks
  // that submit to them run on the engine's thread instead.
  writes_->Stop();
  reads_->Stop();
  MutexLock lock(engine_callbacks_mu_);
  engine_callbacks_cv_.Wait(engine_callbacks_mu_, [this] {
    return engine_callbacks_.load(std::memory_order_acquire) == 0;
  });
}

void RequestProcessor::EngineCallbackDone() {
  // Under the mutex: the destructor, once it sees zero, destroys it.
  MutexLock lock(engine_callbacks_mu_);
  if (engine_callbacks_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    engine_callbacks_cv_.NotifyAll();
  }
}

void RequestProcessor::AbortLongPolls() {
  for (auto& w : lacs_.TakeAllWaiters()) {
    boost::asio::post(*io_, [timer = w->timer] { timer->cancel(); });
    w->respond(MakeResponse(w->header, proto::READ_ONLY, "the bookie is shutting down"));
  }
}

size_t RequestProcessor::long_polls() const { return lacs_.waiters(); }

void RequestProcessor::Process(protocol::ParsedRequest parsed, Responder respond) {
  proto::Request& request = parsed.request;
  switch (request.header().operation()) {
    case proto::ADD_ENTRY: {
      proto::RequestHeader header = request.header();
      proto::AddRequest& add = *request.mutable_add();
      int64_t ledger = add.ledger_id(), entry = add.entry_id();
      Add(ledger, entry, add.master_key(), storage::MakePayload(std::move(*add.mutable_body())),
          add.recovery(), [header, ledger, entry, respond = std::move(respond)](Status s) {
            proto::Response r = MakeResponse(header, s);
            r.mutable_add()->set_ledger_id(ledger);
            r.mutable_add()->set_entry_id(entry);
            respond(std::move(r));
          });
      return;
    }
    case proto::BATCH_ADD: return BatchAdd(std::move(parsed), std::move(respond));
    case proto::READ_ENTRY:
      if (request.read().long_poll()) return LongPoll(std::move(request), std::move(respond));
      return Read(std::move(request), std::move(respond));
    case proto::READ_LAC: return ReadLac(std::move(request), std::move(respond));
    case proto::WRITE_LAC: return WriteLac(std::move(request), std::move(respond));
    case proto::FORCE_LEDGER: return ForceLedger(std::move(request), std::move(respond));
    case proto::BOOKIE_INFO: return BookieInfo(std::move(request), std::move(respond));
    case proto::LIST_ENTRIES: return ListEntries(std::move(request), std::move(respond));
    default:
      respond(MakeResponse(request.header(), proto::BAD_REQUEST, "unknown operation"));
  }
}

std::optional<Status> RequestProcessor::RefusesAdds(bool recovery) const {
  // A full disk still takes recovery adds (closing ledgers must stay possible); an I/O error
  // takes nothing.
  if (status_->writable() || (recovery && !status_->sticky())) return std::nullopt;
  return Status(StatusCode::kReadOnly,
                fmt::format("the bookie is read-only: {}", status_->read_only_reason()));
}

void RequestProcessor::Add(int64_t ledger_id, int64_t entry_id, std::string_view master_key,
                           storage::Payload body, bool recovery,
                           std::function<void(Status)> done) {
  if (auto refused = RefusesAdds(recovery)) return done(*refused);
  auto ledger = static_cast<uint64_t>(ledger_id);
  int64_t lac = ParseEntryBodyHeader(body.bytes())->lac;  // validated by ParseRequest
  Store(ledger, static_cast<uint64_t>(entry_id), master_key, std::move(body), recovery,
        Tracked([this, ledger, lac, done = std::move(done)](Status s) {
          if (s.ok()) AdvanceLac(ledger, lac);
          done(s);
        }));
}

void RequestProcessor::Store(uint64_t ledger, uint64_t entry, std::string_view master_key,
                             storage::Payload body, bool recovery,
                             storage::StorageEngine::Callback callback) {
  // Inline on the calling (I/O) thread when the write cache has room; when it has none the add
  // must wait, which only a worker thread may do.
  if (engine_->TryAddEntry(ledger, entry, master_key, body, recovery, callback)) return;
  writes_->Submit([this, ledger, entry, key = std::string(master_key), body = std::move(body),
                   recovery, callback = std::move(callback)]() mutable {
    engine_->AddEntry(ledger, entry, key, std::move(body), recovery, std::move(callback));
  });
}

// A BATCH_ADD in progress: one object for all its adds, answered when the last is decided. Each
// add's engine callback is this object and the add's index: small enough for std::function to
// hold in place, where a callback per add wrapping the next one allocated three and locked two
// mutexes per add (docs/performance.md, "A batch's adds decided through one object").
class RequestProcessor::Batch {
 public:
  Batch(RequestProcessor* processor, const protocol::ParsedRequest& parsed, Responder respond)
      : processor_(processor), respond_(std::move(respond)), remaining_(parsed.batch_adds.size()) {
    // ParseRequest refuses an empty batch; one here would never be answered.
    QUIRE_CHECK(!parsed.batch_adds.empty());
    response_ = MakeResponse(parsed.request.header(), proto::OK);
    results_ = response_.mutable_batch_add()->mutable_results();
    results_->Reserve(static_cast<int>(parsed.batch_adds.size()));
    lacs_.reserve(parsed.batch_adds.size());
    for (const protocol::AddView& add : parsed.batch_adds) {
      proto::AddResult* result = results_->Add();
      result->set_ledger_id(add.ledger_id);
      result->set_entry_id(add.entry_id);
      lacs_.push_back(add.lac);
    }
    processor_->engine_callbacks_.fetch_add(1, std::memory_order_relaxed);  // Tracked, once
  }

  // The engine's callback for add `i`.
  storage::StorageEngine::Callback CallbackFor(size_t i) {
    return [batch = this, i](Status s) { batch->Decided(i, std::move(s)); };
  }

  // Add `i` is decided. Adds are decided on several threads at once (each journal's callbacks,
  // a write thread, the I/O thread that read the batch): each writes only its own result, and
  // the last one, which sees all of them through the counter, answers and frees the batch.
  void Decided(size_t i, Status s) {
    proto::AddResult* result = results_->Mutable(static_cast<int>(i));  // writes nothing shared
    if (s.ok()) {
      processor_->AdvanceLac(static_cast<uint64_t>(result->ledger_id()), lacs_[i]);
    } else {
      result->set_message(s.message());
    }
    result->set_status(ToProtoStatus(s.code()));
    if (remaining_.fetch_sub(1, std::memory_order_acq_rel) > 1) return;
    respond_(std::move(response_));
    RequestProcessor* processor = processor_;
    delete this;
    processor->EngineCallbackDone();  // last: the processor may be destroyed from here on
  }

 private:
  RequestProcessor* const processor_;
  const Responder respond_;
  proto::Response response_;
  google::protobuf::RepeatedPtrField<proto::AddResult>* results_;  // response_'s, one per add
  std::vector<int64_t> lacs_;  // the LAC each add's body carries
  std::atomic<size_t> remaining_;
};

void RequestProcessor::BatchAdd(protocol::ParsedRequest parsed, Responder respond) {
  const std::vector<protocol::AddView>& adds = parsed.batch_adds;
  auto* batch = new Batch(this, parsed, std::move(respond));
  // From the first call on, the batch may be answered and freed on another thread.
  for (size_t i = 0; i < adds.size(); ++i) {
    const protocol::AddView& add = adds[i];
    if (auto refused = RefusesAdds(add.recovery)) {
      batch->Decided(i, *refused);
      continue;
    }
    // The body stays a view into the frame, which the payload keeps alive: no copy per entry.
    Store(static_cast<uint64_t>(add.ledger_id), static_cast<uint64_t>(add.entry_id),
          add.master_key, storage::Payload(parsed.adds_owner, add.body), add.recovery,
          batch->CallbackFor(i));
  }
}

void RequestProcessor::Read(proto::Request request, Responder respond) {
  reads_->Submit([this, request = std::move(request), respond = std::move(respond)]() mutable {
    const proto::ReadRequest& read = request.read();
    auto ledger = static_cast<uint64_t>(read.ledger_id());
    auto finish = [this, request, ledger, respond](Status fenced) mutable {
      proto::Response r;
      if (!fenced.ok()) {
        r = MakeResponse(request.header(), fenced);
        r.mutable_read()->set_lac(-1);
      } else {
        Result<std::string> body =
            engine_->ReadEntry(ledger, static_cast<uint64_t>(request.read().entry_id()));
        r = MakeResponse(request.header(), body.ok() ? Status::Ok() : body.status());
        if (body.ok()) r.mutable_read()->set_body(std::move(*body));
        Result<int64_t> lac = CurrentLac(ledger);
        r.mutable_read()->set_lac(Reported(lac.ok() ? *lac : -1));
        // Recovery's first, fence-only read asks for an entry that cannot exist and starts from
        // the LAC it gets back: show what carries it. (Its per-entry reads need no proof.)
        if (request.read().fence() && !body.ok()) {
          LacProof proof = ReadLacProof(ledger);
          r.mutable_read()->set_explicit_lac_body(std::move(proof.explicit_lac_body));
          r.mutable_read()->set_last_entry_body(std::move(proof.last_entry_body));
        }
      }
      r.mutable_read()->set_ledger_id(request.read().ledger_id());
      r.mutable_read()->set_entry_id(request.read().entry_id());
      respond(std::move(r));
    };
    if (!read.fence()) return finish(Status::Ok());
    if (TestFaultEnabled(TestFault::kSkipFence)) return finish(Status::Ok());  // a test-only bug
    // Fence first (durably), then read: a recovery read must never be served by a bookie that
    // could still accept the old writer's adds (docs/semantics.md, recovery step 3).
    engine_->Fence(ledger, read.master_key(), Tracked([this, finish](Status s) mutable {
      reads_->Submit([finish, s]() mutable { finish(s); });
    }));
  });
}

void RequestProcessor::LongPoll(proto::Request request, Responder respond) {
  reads_->Submit([this, request = std::move(request), respond = std::move(respond)]() mutable {
    const proto::ReadRequest& read = request.read();
    auto ledger = static_cast<uint64_t>(read.ledger_id());
    Result<int64_t> lac = CurrentLac(ledger);
    // Answers at once when the LAC is already past previous_lac, or could not be loaded.
    auto answered_now = [&] {
      if (!lac.ok()) {
        respond(MakeResponse(request.header(), lac.status()));
      } else if (*lac > read.previous_lac()) {
        AnswerLongPoll(request.header(), ledger, read.previous_lac(), *lac, std::move(respond));
      } else {
        return false;
      }
      return true;
    };
    if (answered_now()) return;
    auto waiter = std::make_shared<Waiter>();
    waiter->header = request.header();
    waiter->ledger = ledger;
    waiter->previous_lac = read.previous_lac();
    waiter->respond = std::move(respond);
    waiter->timer = std::make_shared<boost::asio::steady_timer>(*io_);
    auto timeout = std::min(options_.max_long_poll, std::chrono::milliseconds(read.timeout_ms()));
    auto arm_timeout = [this, timeout](const std::shared_ptr<Waiter>& w) {
      w->timer->expires_after(timeout);
      w->timer->async_wait([this, w](const boost::system::error_code& ec) {
        if (ec) return;  // cancelled: answered elsewhere
        std::optional<int64_t> current = lacs_.Cancel(w->ledger, w);
        if (!current) return;  // an advance took it as the timer fired
        w->respond(LongPollTimeout(w->header, w->ledger, w->previous_lac, *current));
      });
    };
    // A waiter registers only while the ledger's LAC is known (advances wake waiters through it).
    // If a sweep forgot it since the load, load it again (a sweep runs every 30 s, and a LAC
    // used since the previous sweep survives the next: once is nearly always enough).
    using Registration = LacTable<Waiter>::Registration;
    Registration registration{Registration::kUnknown};
    for (int attempt = 1; attempt <= 3; ++attempt) {
      registration = lacs_.Wait(ledger, waiter, arm_timeout);
      if (registration.state != Registration::kUnknown) break;
      lac = CurrentLac(ledger);
      if (!lac.ok()) break;
      if (*lac > waiter->previous_lac) {
        registration = {Registration::kPassed, *lac};
        break;
      }
    }
    if (registration.state == Registration::kWaiting) return;
    if (registration.state == Registration::kPassed) {  // advanced while we looked
      return AnswerLongPoll(waiter->header, ledger, waiter->previous_lac, registration.lac,
                            std::move(waiter->respond));
    }
    if (!lac.ok()) return waiter->respond(MakeResponse(waiter->header, lac.status()));
    // Forgotten after each of three loads: answered as a timeout (the reader polls again).
    waiter->respond(LongPollTimeout(waiter->header, ledger, waiter->previous_lac, *lac));
  });
}

proto::Response RequestProcessor::LongPollTimeout(const proto::RequestHeader& header,
                                                  uint64_t ledger, int64_t previous_lac,
                                                  int64_t lac) {
  proto::Response r = MakeResponse(header, proto::TIMEOUT,
                                   "the LAC did not advance within the long-poll timeout");
  r.mutable_read()->set_ledger_id(static_cast<int64_t>(ledger));
  r.mutable_read()->set_entry_id(previous_lac + 1);
  r.mutable_read()->set_lac(Reported(lac));
  return r;
}

void RequestProcessor::AnswerLongPoll(const proto::RequestHeader& header, uint64_t ledger,
                                      int64_t previous_lac, int64_t lac, Responder respond) {
  proto::Response r = MakeResponse(header, proto::OK);
  proto::ReadResponse* read = r.mutable_read();
  read->set_ledger_id(static_cast<int64_t>(ledger));
  read->set_entry_id(previous_lac + 1);
  read->set_lac(Reported(lac));
  // Piggyback the next entry when this bookie has it: a tailing reader then needs no second trip.
  Result<std::string> body = engine_->ReadEntry(ledger, static_cast<uint64_t>(previous_lac + 1));
  if (body.ok()) read->set_body(std::move(*body));
  LacProof proof = ReadLacProof(ledger, body.ok() ? previous_lac + 1 : -1);
  read->set_explicit_lac_body(std::move(proof.explicit_lac_body));
  read->set_last_entry_body(std::move(proof.last_entry_body));
  respond(std::move(r));
}

RequestProcessor::LacProof RequestProcessor::ReadLacProof(uint64_t ledger, int64_t in_body) {
  LacProof proof;
  Result<storage::LedgerInfo> info = engine_->GetLedgerInfo(ledger);
  // The stored explicit LAC is lac:i64 followed by the writer's signed body.
  if (info.ok() && info->explicit_lac.size() >= 8) {
    proof.explicit_lac_body = info->explicit_lac.substr(8);
  }
  Result<uint64_t> last = engine_->LastEntryId(ledger);
  if (last.ok() && static_cast<int64_t>(*last) != in_body) {
    Result<std::string> body = engine_->ReadEntry(ledger, *last);
    if (body.ok()) proof.last_entry_body = std::move(*body);
  }
  return proof;
}

Result<int64_t> RequestProcessor::CurrentLac(uint64_t ledger) {
  if (std::optional<int64_t> known = lacs_.FindOrStartLoad(ledger)) return *known;
  return lacs_.FinishLoad(ledger, StoredLac(ledger));
}

Result<int64_t> RequestProcessor::StoredLac(uint64_t ledger) {
  QUIRE_ASSIGN_OR_RETURN(storage::LedgerInfo info, engine_->GetLedgerInfo(ledger));
  int64_t lac = ExplicitLacValue(info.explicit_lac).value_or(-1);
  Result<uint64_t> last = engine_->LastEntryId(ledger);
  if (last.ok()) {
    QUIRE_ASSIGN_OR_RETURN(std::string body, engine_->ReadEntry(ledger, *last));
    auto header = ParseEntryBodyHeader(body);
    if (header.ok()) lac = std::max(lac, header->lac);
  } else if (!last.status().Is(StatusCode::kNoSuchEntry)) {
    return last.status();
  }
  return lac;
}

void RequestProcessor::AdvanceLac(uint64_t ledger, int64_t lac) {
  for (auto& w : lacs_.Advance(ledger, lac)) {
    boost::asio::post(*io_, [timer = w->timer] { timer->cancel(); });
    reads_->Submit([this, w, lac] {
      AnswerLongPoll(w->header, w->ledger, w->previous_lac, lac, std::move(w->respond));
    });
  }
}

void RequestProcessor::ForgetLedgers(const std::vector<uint64_t>& ledgers) {
  lacs_.Forget(ledgers);
}

void RequestProcessor::SweepIdle() { lacs_.SweepIdle(); }

size_t RequestProcessor::known_lacs() const { return lacs_.known(); }

void RequestProcessor::ReadLac(proto::Request request, Responder respond) {
  reads_->Submit([this, request = std::move(request), respond = std::move(respond)]() mutable {
    auto ledger = static_cast<uint64_t>(request.read_lac().ledger_id());
    Result<int64_t> lac = CurrentLac(ledger);
    if (!lac.ok()) return respond(MakeResponse(request.header(), lac.status()));
    proto::Response r = MakeResponse(request.header(), proto::OK);
    proto::ReadLacResponse* out = r.mutable_read_lac();
    out->set_ledger_id(request.read_lac().ledger_id());
    out->set_lac(Reported(*lac));
    LacProof proof = ReadLacProof(ledger);
    out->set_explicit_lac_body(std::move(proof.explicit_lac_body));
    out->set_last_entry_body(std::move(proof.last_entry_body));
    respond(std::move(r));
  });
}

void RequestProcessor::WriteLac(proto::Request request, Responder respond) {
  if (!status_->writable()) {
    return respond(MakeResponse(request.header(), proto::READ_ONLY, status_->read_only_reason()));
  }
  writes_->Submit([this, request = std::move(request), respond = std::move(respond)]() mutable {
    const proto::WriteLacRequest& w = request.write_lac();
    auto ledger = static_cast<uint64_t>(w.ledger_id());
    int64_t lac = w.lac();
    proto::RequestHeader header = request.header();
    // The stored explicit LAC never goes back: a LAC at or below what the bookie knows (durably,
    // from entries or an earlier write) is already true here.
    Result<int64_t> known = CurrentLac(ledger);
    if (known.ok() && lac <= *known) {
      Result<storage::LedgerInfo> info = engine_->GetLedgerInfo(ledger);
      if (info.ok() && info->master_key != w.master_key()) {
        return respond(MakeResponse(header, proto::UNAUTHORIZED,
                                    fmt::format("ledger {}: wrong master key", ledger)));
      }
      proto::Response r = MakeResponse(header, proto::OK);
      r.mutable_write_lac()->set_ledger_id(static_cast<int64_t>(ledger));
      return respond(std::move(r));
    }
    engine_->SetExplicitLac(ledger, w.master_key(), EncodeExplicitLac(lac, w.body()),
                            Tracked([this, header, ledger, lac, respond](Status s) {
                              if (s.ok()) AdvanceLac(ledger, lac);
                              proto::Response r = MakeResponse(header, s);
                              r.mutable_write_lac()->set_ledger_id(static_cast<int64_t>(ledger));
                              respond(std::move(r));
                            }));
  });
}

void RequestProcessor::ForceLedger(proto::Request request, Responder respond) {
  writes_->Submit([this, request = std::move(request), respond = std::move(respond)]() mutable {
    auto ledger = static_cast<uint64_t>(request.force_ledger().ledger_id());
    Result<storage::LedgerInfo> info = engine_->GetLedgerInfo(ledger);
    if (!info.ok()) return respond(MakeResponse(request.header(), info.status()));
    if (info->master_key != request.force_ledger().master_key()) {
      return respond(MakeResponse(request.header(), proto::UNAUTHORIZED,
                                  fmt::format("ledger {}: wrong master key", ledger)));
    }
    proto::RequestHeader header = request.header();
    engine_->ForceLedger(ledger, [header, ledger, respond](Status s) {
      proto::Response r = MakeResponse(header, s);
      r.mutable_force_ledger()->set_ledger_id(static_cast<int64_t>(ledger));
      respond(std::move(r));
    });
  });
}

void RequestProcessor::BookieInfo(proto::Request request, Responder respond) {
  reads_->Submit([this, request = std::move(request), respond = std::move(respond)]() mutable {
    proto::Response r = MakeResponse(request.header(), proto::OK);
    if (options_.fill_info) options_.fill_info(r.mutable_bookie_info());
    proto::BookieInfoResponse* info = r.mutable_bookie_info();
    info->set_state(status_->writable() ? proto::BookieInfoResponse::WRITABLE
                                        : proto::BookieInfoResponse::READ_ONLY);
    if (!status_->writable()) info->set_read_only_reason(status_->read_only_reason());
    respond(std::move(r));
  });
}

void RequestProcessor::ListEntries(proto::Request request, Responder respond) {
  reads_->Submit([this, request = std::move(request), respond = std::move(respond)]() mutable {
    auto ledger = static_cast<uint64_t>(request.list_entries().ledger_id());
    Result<std::vector<uint64_t>> ids = engine_->ListEntries(ledger);
    if (!ids.ok()) return respond(MakeResponse(request.header(), ids.status()));
    proto::Response r = MakeResponse(request.header(), proto::OK);
    r.mutable_list_entries()->set_ledger_id(static_cast<int64_t>(ledger));
    for (uint64_t id : *ids) r.mutable_list_entries()->add_entry_ids(static_cast<int64_t>(id));
    respond(std::move(r));
  });
}

}  // namespace quire::bookie
