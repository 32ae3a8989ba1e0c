#include "client/bookie_calls.h"

#include <memory>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/mutex.h"
#include "protocol/protocol.h"

namespace quire::client {

using protocol::FromProtoStatus;

std::vector<Result<proto::Response>> CallAll(
    BookieClient& client, const std::vector<BookieId>& bookies,
    const std::function<proto::Request(size_t)>& make_request, std::chrono::milliseconds timeout) {
  std::vector<std::pair<BookieId, proto::Request>> requests;
  requests.reserve(bookies.size());
  for (size_t i = 0; i < bookies.size(); ++i) requests.emplace_back(bookies[i], make_request(i));
  return CallAll(client, std::move(requests), timeout);
}

bool CallUntil(BookieClient& client, std::vector<std::pair<BookieId, proto::Request>> requests,
               std::chrono::milliseconds timeout,
               const std::function<Enough(size_t i, const Result<proto::Response>& answer)>& answered,
               Grace grace) {
  using Clock = std::chrono::steady_clock;
  struct State {
    explicit State(const std::vector<std::pair<BookieId, proto::Request>>& requests)
        : got(requests.size(), false), remaining(requests.size()) {
      for (const auto& r : requests) bookies.push_back(r.first);
    }
    Mutex mu;
    CondVar cv;
    std::vector<BookieId> bookies;                 // by request; not changed once sent
    std::vector<bool> got QUIRE_GUARDED_BY(mu);    // by request: answered
    size_t remaining QUIRE_GUARDED_BY(mu);
    // `answered` is not called again: the caller may have returned.
    bool done QUIRE_GUARDED_BY(mu) = false;
    Enough enough QUIRE_GUARDED_BY(mu) = Enough::kNo;
    Clock::time_point grace_ends QUIRE_GUARDED_BY(mu){};  // while enough == kAfterGrace

    // Only bookies already known to be slow have not answered: no use waiting for them.
    bool OnlySlowLeft(const SlowBookies& slow, Clock::time_point now) const QUIRE_REQUIRES(mu) {
      for (size_t j = 0; j < got.size(); ++j) {
        if (!got[j] && !slow.IsSlow(bookies[j], now)) return false;
      }
      return true;
    }
  };
  auto state = std::make_shared<State>(requests);
  if (requests.empty()) return false;
  for (size_t i = 0; i < requests.size(); ++i) {
    client.Send(requests[i].first, std::move(requests[i].second), timeout,
                [state, i, &answered, grace](Result<proto::Response> r) {
                  if (grace.slow != nullptr && r.ok()) grace.slow->Answered(state->bookies[i]);
                  MutexLock lock(state->mu);
                  if (state->done) return;
                  state->got[i] = true;
                  Enough was = state->enough;
                  state->enough = answered(i, r);
                  const Clock::time_point now = Clock::now();
                  if (state->enough == Enough::kAfterGrace && was != Enough::kAfterGrace) {
                    state->grace_ends = now + grace.length;
                  }
                  if (--state->remaining == 0 || state->enough == Enough::kYes ||
                      (state->enough == Enough::kAfterGrace && grace.slow != nullptr &&
                       state->OnlySlowLeft(*grace.slow, now))) {
                    state->done = true;
                  }
                  if (state->done || state->enough != was) state->cv.NotifyAll();
                });
  }
  MutexLock lock(state->mu);
  // Every Send answers by its deadline (the connection's sweep), so this loop ends.
  while (!state->done) {
    if (state->enough != Enough::kAfterGrace) {
      state->cv.Wait(state->mu);
    } else if (!state->cv.WaitUntil(state->mu, state->grace_ends) &&
               state->enough == Enough::kAfterGrace && Clock::now() >= state->grace_ends) {
      state->done = true;
      // The bookies that let the grace pass: the next call does not wait for them.
      for (size_t j = 0; grace.slow != nullptr && j < state->got.size(); ++j) {
        if (!state->got[j]) grace.slow->Slow(state->bookies[j], Clock::now());
      }
    }
  }
  return state->enough != Enough::kNo;
}

std::vector<Result<proto::Response>> CallAll(
    BookieClient& client, std::vector<std::pair<BookieId, proto::Request>> requests,
    std::chrono::milliseconds timeout) {
  std::vector<std::optional<Result<proto::Response>>> answers(requests.size());
  CallUntil(client, std::move(requests), timeout,
            [&](size_t i, const Result<proto::Response>& r) {
              answers[i] = r;
              return Enough::kNo;
            });
  std::vector<Result<proto::Response>> out;
  out.reserve(answers.size());
  for (auto& a : answers) out.push_back(std::move(*a));
  return out;
}

std::vector<Result<proto::Response>> CallAllRetryingBusy(
    BookieClient& client, const std::vector<std::pair<BookieId, proto::Request>>& requests,
    std::chrono::milliseconds timeout, const BusyRetry& retry) {
  std::vector<Result<proto::Response>> answers = CallAll(client, requests, timeout);
  for (int attempt = 0; attempt < retry.max_retries; ++attempt) {
    std::vector<size_t> busy;
    for (size_t i = 0; i < answers.size(); ++i) {
      if (answers[i].ok() && answers[i]->status() == proto::TOO_MANY_REQUESTS) busy.push_back(i);
    }
    if (busy.empty()) break;
    auto pause = retry.PauseBefore(attempt);
    spdlog::debug("{} of {} requests answered TOO_MANY_REQUESTS (first: bookie {}); sending them "
                  "again in {} ms",
                  busy.size(), answers.size(), requests[busy[0]].first, pause.count());
    std::this_thread::sleep_for(pause);
    std::vector<std::pair<BookieId, proto::Request>> again;
    again.reserve(busy.size());
    for (size_t i : busy) again.push_back(requests[i]);
    std::vector<Result<proto::Response>> answered = CallAll(client, std::move(again), timeout);
    for (size_t k = 0; k < busy.size(); ++k) answers[busy[k]] = std::move(answered[k]);
  }
  return answers;
}

proto::Request ReadEntryRequest(LedgerId ledger, EntryId entry) {
  proto::Request r;
  r.mutable_header()->set_operation(proto::READ_ENTRY);
  r.mutable_read()->set_ledger_id(ledger);
  r.mutable_read()->set_entry_id(entry);
  return r;
}

proto::Request ReadLacRequest(LedgerId ledger) {
  proto::Request r;
  r.mutable_header()->set_operation(proto::READ_LAC);
  r.mutable_read_lac()->set_ledger_id(ledger);
  return r;
}

proto::Request RecoveryAddRequest(LedgerId ledger, EntryId entry, const std::string& master_key,
                                  const std::string& body) {
  proto::Request r;
  r.mutable_header()->set_operation(proto::ADD_ENTRY);
  proto::AddRequest* add = r.mutable_add();
  add->set_ledger_id(ledger);
  add->set_entry_id(entry);
  add->set_master_key(master_key);
  add->set_body(body);
  add->set_recovery(true);
  return r;
}

Status ResponseStatus(const BookieId& bookie, const Result<proto::Response>& response) {
  if (!response.ok()) return response.status();
  return AnswerStatus(bookie, response->status(), response->message());
}

}  // namespace quire::client
