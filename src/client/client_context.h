// What every handle of one Client shares: options, the metadata store, bookie connections, and
// the threads that run I/O, application callbacks and blocking background work.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "client/bookie_calls.h"
#include "client/bookie_client.h"
#include "client/client_metrics.h"
#include "client/slow_bookies.h"
#include "common/executor.h"
#include "metadata/metadata_store.h"
#include "quire/client.h"

namespace quire::client {

class ClientContext {
 public:
  // Starts options.io_threads I/O threads. `tls` (null: plaintext) is made from the options'
  // TLS files by Client::Open (TlsContextFor), where a bad file can still fail.
  ClientContext(const ClientOptions& options, std::unique_ptr<metadata::MetadataStore> store,
                std::shared_ptr<ReloadingTlsContext> tls = nullptr);
  // Stops the threads; every request in flight fails with kAborted first.
  ~ClientContext();

  const ClientOptions& options() const { return options_; }
  metadata::MetadataStore& store() { return *store_; }
  boost::asio::io_context& io() { return io_; }
  BookieClient& bookies() { return *bookies_; }
  // How every path that writes retries adds a busy bookie refused (TOO_MANY_REQUESTS).
  BusyRetry busy_retry() const {
    return {options_.reconnect_backoff_min, options_.reconnect_backoff_max};
  }
  // Application callbacks, one at a time, in submission order.
  Executor& callbacks() { return *callbacks_; }
  // Blocking background work (metadata updates of ensemble changes), off the I/O threads.
  Executor& workers() { return *workers_; }

  // Reports a bad replica: logs it, counts it and calls options.on_bad_copy on the callback
  // thread.
  void ReportBadCopy(BadCopy bad);
  // The same, as a Digest::BadCopyFn for what `bookie` returned for ledger `id`.
  std::function<void(EntryId, const std::string&)> BadCopyReporter(LedgerId id, BookieId bookie) {
    return [this, id, bookie = std::move(bookie)](EntryId entry, const std::string& why) {
      ReportBadCopy({id, entry, bookie, why});
    };
  }

  ClientMetrics& metrics() { return metrics_; }
  // Bookies that kept reads waiting lately: readers ask them last.
  SlowBookies& slow_bookies() { return slow_bookies_; }

 private:
  const ClientOptions options_;
  ClientMetrics metrics_;  // before the threads below: they record into it until they stop
  SlowBookies slow_bookies_;
  std::unique_ptr<metadata::MetadataStore> store_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::unique_ptr<BookieClient> bookies_;
  std::unique_ptr<Executor> callbacks_;
  std::unique_ptr<Executor> workers_;
  std::vector<std::thread> io_threads_;
};

// Opens the metadata store of options.metadata_uri, checks that the cluster is initialised and
// builds a context (TLS from the options' files): what Client::Open and autorecovery share.
Result<std::shared_ptr<ClientContext>> OpenClientContext(const ClientOptions& options);

}  // namespace quire::client
