// Calls to several bookies at once, for the paths that wait for answers (recovery, LAC reads,
// re-replication), and the requests and answers more than one place builds or reads.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "bookie.pb.h"
#include "client/bookie_client.h"
#include "client/slow_bookies.h"
#include "quire/ledger_metadata.h"
#include "quire/status.h"

namespace quire::client {

// What a caller of CallUntil makes of the answers so far.
enum class Enough {
  kNo,          // wait for more answers
  kYes,         // stop waiting
  kAfterGrace,  // enough, but answers that come within the grace may still change the outcome:
                // wait that long for them (a later kNo cancels the grace, a kYes ends it)
};

// How long CallUntil waits for the remaining answers once its caller said kAfterGrace.
struct Grace {
  std::chrono::milliseconds length{0};
  // When set: a grace that ends with requests unanswered marks their bookies slow, and no grace
  // is spent waiting only for bookies already slow (a hung bookie costs one grace, not one per
  // call); every answer clears its bookie.
  SlowBookies* slow = nullptr;
};

// Sends requests[i] for every i at once and waits until `answered(i, answer)`, called for each
// answer as it arrives (one at a time, on an I/O thread; it must not block), says enough, or
// every request has been answered (each is bounded by `timeout`). Answers after that are dropped,
// so a bookie that does not answer costs at most the grace once the others said enough. Returns
// whether the last verdict was enough (kYes or kAfterGrace).
bool CallUntil(BookieClient& client, std::vector<std::pair<BookieId, proto::Request>> requests,
               std::chrono::milliseconds timeout,
               const std::function<Enough(size_t i, const Result<proto::Response>& answer)>& answered,
               Grace grace = {});

// Sends make_request(i) to bookies[i] for every i at once and waits for all the answers (each
// bounded by `timeout`): answers[i] is bookies[i]'s. For the slow paths (LAC reads).
std::vector<Result<proto::Response>> CallAll(
    BookieClient& client, const std::vector<BookieId>& bookies,
    const std::function<proto::Request(size_t)>& make_request, std::chrono::milliseconds timeout);

// The same for requests to any bookies: answers[i] answers requests[i].
std::vector<Result<proto::Response>> CallAll(
    BookieClient& client, std::vector<std::pair<BookieId, proto::Request>> requests,
    std::chrono::milliseconds timeout);

// How adds that a bookie answers TOO_MANY_REQUESTS are sent again: after a pause that doubles
// from `pause` up to `max_pause`, at most `max_retries` times.
struct BusyRetry {
  std::chrono::milliseconds pause;
  std::chrono::milliseconds max_pause;
  int max_retries = 6;

  // The pause before retry number `retry` (0 for the first).
  std::chrono::milliseconds PauseBefore(int retry) const {
    return std::min(pause * (1 << retry), max_pause);
  }
};

// CallAll for the adds of the slow paths (recovery, re-replication). TOO_MANY_REQUESTS is
// back-pressure from a live bookie whose write cache stayed full, not a failure: such requests
// are sent again as `retry` says, as the writer does; every other answer is final. Blocks the
// calling thread for the pauses.
std::vector<Result<proto::Response>> CallAllRetryingBusy(
    BookieClient& client, const std::vector<std::pair<BookieId, proto::Request>>& requests,
    std::chrono::milliseconds timeout, const BusyRetry& retry);

// The requests the client sends in more than one place.
proto::Request ReadEntryRequest(LedgerId ledger, EntryId entry);
proto::Request ReadLacRequest(LedgerId ledger);

// A recovery add of `body` (an entry body exactly as its writer built it): accepted by bookies
// that fenced the ledger. Used by recovery and re-replication.
proto::Request RecoveryAddRequest(LedgerId ledger, EntryId entry, const std::string& master_key,
                                  const std::string& body);

// The status a response carries, with its message; a transport error as is.
Status ResponseStatus(const BookieId& bookie, const Result<proto::Response>& response);

}  // namespace quire::client
