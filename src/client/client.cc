// Client: ledgers' life cycle (create, open, recover, delete, list) over one ClientContext.
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "client/client_context.h"
#include "client/digest.h"
#include "client/placement.h"
#include "client/read_handle.h"
#include "client/recovery.h"
#include "client/write_handle.h"
#include "common/clock.h"
#include "common/logging.h"

namespace quire::client {

ClientContext::ClientContext(const ClientOptions& options,
                             std::unique_ptr<metadata::MetadataStore> store)
    : options_(options), store_(std::move(store)), work_(io_.get_executor()) {
  BookieClientOptions b;
  b.connect_timeout = options.connect_timeout;
  b.reconnect_backoff_min = options.reconnect_backoff_min;
  b.reconnect_backoff_max = options.reconnect_backoff_max;
  bookies_ = std::make_unique<BookieClient>(io_, b);
  callbacks_ = std::make_unique<Executor>("quire-cb", 1);
  workers_ = std::make_unique<Executor>("quire-work", 1);
  int threads = std::max(1, options.io_threads);
  for (int i = 0; i < threads; ++i) {
    io_threads_.emplace_back([this, i] {
      SetThreadName(fmt::format("quire-io-{}", i));
      io_.run();
    });
  }
}

ClientContext::~ClientContext() {
  // Background work first (it may send requests), then the connections, whose last callbacks
  // (kAborted) run on the I/O threads and may post application callbacks.
  workers_.reset();
  bookies_.reset();
  work_.reset();
  for (auto& t : io_threads_) t.join();
  callbacks_.reset();
}

void ClientContext::ReportBadCopy(BadCopy bad) {
  spdlog::error("ledger {}: bookie {} returned a bad copy of entry {}: {}", bad.ledger_id,
                bad.bookie_id, bad.entry_id, bad.what);
  if (options_.on_bad_copy) {
    callbacks_->Submit([fn = options_.on_bad_copy, bad = std::move(bad)] { fn(bad); });
  }
}

namespace {

std::string DefaultCreator() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "unknown");
  return fmt::format("{}:{}", host, getpid());
}

class ClientImpl : public Client {
 public:
  explicit ClientImpl(std::shared_ptr<ClientContext> ctx) : ctx_(std::move(ctx)) {}

  Result<std::unique_ptr<WriteHandle>> CreateLedger(const CreateLedgerOptions& o) override {
    LedgerMetadata md;
    md.state = LedgerState::kOpen;
    md.ensemble_size = o.ensemble_size;
    md.write_quorum_size = o.write_quorum_size;
    md.ack_quorum_size = o.ack_quorum_size;
    md.digest_type = o.digest_type;
    md.password_hash = StoredPasswordHash(o.password);
    md.creation_time_ms = static_cast<int64_t>(UnixMillis());
    md.creator = ctx_->options().creator.empty() ? DefaultCreator() : ctx_->options().creator;
    md.custom_metadata = o.custom_metadata;
    if (!(o.ensemble_size >= o.write_quorum_size && o.write_quorum_size >= o.ack_quorum_size &&
          o.ack_quorum_size >= 1)) {
      return InvalidArgument(fmt::format("need E >= Qw >= Qa >= 1, got E={} Qw={} Qa={}",
                                         o.ensemble_size, o.write_quorum_size,
                                         o.ack_quorum_size));
    }
    std::vector<BookieId> bookies = o.bookies;
    if (bookies.empty()) {
      QUIRE_ASSIGN_OR_RETURN(BookieList live, WritableBookies(ctx_->store()));
      QUIRE_ASSIGN_OR_RETURN(bookies, PickBookies(live, o.ensemble_size, {}));
      if (static_cast<int>(bookies.size()) < o.ensemble_size) {
        return Status(StatusCode::kUnavailable,
                      fmt::format("an ensemble of {} needs {} writable bookies; the cluster has "
                                  "{} writable ({}) and {} read-only",
                                  o.ensemble_size, o.ensemble_size, live.writable.size(),
                                  fmt::join(live.writable, ","), live.read_only.size()));
      }
    } else if (static_cast<int>(bookies.size()) != o.ensemble_size) {
      return InvalidArgument(fmt::format("{} bookies given for an ensemble of {}", bookies.size(),
                                         o.ensemble_size));
    }
    md.ensembles.push_back({0, bookies});
    QUIRE_RETURN_IF_ERROR(md.Validate());
    QUIRE_ASSIGN_OR_RETURN(LedgerId id, ctx_->store().AllocateLedgerId());
    QUIRE_ASSIGN_OR_RETURN(metadata::Version v, ctx_->store().CreateLedger(id, md));
    spdlog::debug("created ledger {} ({})", id, md.Summary());
    return NewWriteHandle(ctx_, id, {md, v}, o.password);
  }

  Result<std::unique_ptr<ReadHandle>> OpenLedger(LedgerId id, std::string_view password) override {
    QUIRE_ASSIGN_OR_RETURN(metadata::Versioned<LedgerMetadata> md, ctx_->store().ReadLedger(id));
    QUIRE_RETURN_IF_ERROR(CheckPassword(id, md.value, password));
    return NewReadHandle(ctx_, id, std::move(md), std::string(password));
  }

  Result<std::unique_ptr<ReadHandle>> RecoverLedger(LedgerId id,
                                                    std::string_view password) override {
    QUIRE_ASSIGN_OR_RETURN(metadata::Versioned<LedgerMetadata> md,
                           client::RecoverLedger(*ctx_, id, password));
    return NewReadHandle(ctx_, id, std::move(md), std::string(password));
  }

  Status DeleteLedger(LedgerId id) override {
    return ctx_->store().DeleteLedger(id, metadata::kAnyVersion);
  }

  Result<std::vector<LedgerId>> ListLedgers(LedgerId from, size_t max) override {
    return ctx_->store().ListLedgers(from, max);
  }

  Result<LedgerMetadata> ReadLedgerMetadata(LedgerId id) override {
    QUIRE_ASSIGN_OR_RETURN(metadata::Versioned<LedgerMetadata> md, ctx_->store().ReadLedger(id));
    return md.value;
  }

 private:
  std::shared_ptr<ClientContext> ctx_;  // shared with every handle
};

}  // namespace
}  // namespace quire::client

namespace quire {

Result<std::unique_ptr<Client>> Client::Open(const ClientOptions& options) {
  if (options.metadata_uri.empty()) {
    return InvalidArgument("ClientOptions.metadata_uri is empty (e.g. zk://127.0.0.1:2181/quire)");
  }
  metadata::MetadataOptions mo;
  mo.operation_timeout = options.metadata_timeout;
  mo.session_timeout = options.metadata_session_timeout;
  QUIRE_ASSIGN_OR_RETURN(std::unique_ptr<metadata::MetadataStore> store,
                         metadata::OpenMetadataStore(options.metadata_uri, mo));
  Result<metadata::ClusterInfo> info = store->GetClusterInfo();
  if (!info.ok()) {
    return info.status().WithContext(
        fmt::format("metadata service {} (is the cluster initialised?)", options.metadata_uri));
  }
  auto ctx = std::make_shared<client::ClientContext>(options, std::move(store));
  return std::unique_ptr<Client>(std::make_unique<client::ClientImpl>(std::move(ctx)));
}

}  // namespace quire
