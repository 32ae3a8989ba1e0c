// Client: ledgers' life cycle (create, open, recover, delete, list) over one ClientContext.
#include <unistd.h>

#include <optional>

#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "client/client_context.h"
#include "client/digest.h"
#include "client/metadata_changes.h"
#include "client/placement.h"
#include "client/quorum.h"
#include "client/read_handle.h"
#include "client/recovery.h"
#include "client/replication.h"
#include "client/write_handle.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/tls.h"
#include "metadata/records.h"

namespace quire::client {

ClientContext::ClientContext(const ClientOptions& options,
                             std::unique_ptr<metadata::MetadataStore> store,
                             std::shared_ptr<ReloadingTlsContext> tls)
    : options_(options), store_(std::move(store)), work_(io_.get_executor()) {
  BookieClientOptions b;
  b.tls = std::move(tls);
  b.connect_timeout = options.connect_timeout;
  b.reconnect_backoff_min = options.reconnect_backoff_min;
  b.reconnect_backoff_max = options.reconnect_backoff_max;
  b.max_request_frame_size = options.bookie_max_frame_size;
  b.coalescing.window = options.add_coalescing_window;
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
  metrics_.bad_copies.fetch_add(1, std::memory_order_relaxed);
  spdlog::error("ledger {}: bookie {} returned a bad copy of entry {}: {}", bad.ledger_id,
                bad.bookie_id, bad.entry_id, bad.what);
  if (options_.on_bad_copy) {
    callbacks_->Submit([fn = options_.on_bad_copy, bad = std::move(bad)] { fn(bad); });
  }
}

namespace {

// The TLS context of the options (null without TLS): the bookie's certificate must verify
// against tls_ca_path; tls_certificate_path and tls_key_path, when set, are this client's.
Result<std::shared_ptr<ReloadingTlsContext>> TlsContextFor(const ClientOptions& o) {
  if (!o.use_tls) {
    if (o.tls_ca_path.empty() && o.tls_certificate_path.empty() && o.tls_key_path.empty()) {
      return std::shared_ptr<ReloadingTlsContext>();
    }
    return InvalidArgument("ClientOptions: TLS files are set but use_tls is false");
  }
  if (o.tls_ca_path.empty()) {
    return InvalidArgument("ClientOptions.use_tls needs tls_ca_path: the CA bundle that signs the "
                           "bookies' certificates");
  }
  if (o.tls_files_refresh_interval.count() < 0) {
    return InvalidArgument("ClientOptions.tls_files_refresh_interval must not be negative");
  }
  return ReloadingTlsContext::Make(TlsSide::kClient,
                                   {.certificate_path = o.tls_certificate_path,
                                    .key_path = o.tls_key_path,
                                    .trust_store_path = o.tls_ca_path},
                                   TlsPeerCheck::kRequired, o.tls_files_refresh_interval,
                                   "client");
}

std::string DefaultCreator() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "unknown");
  return fmt::format("{}:{}", host, getpid());
}

class ClientImpl : public Client {
 public:
  explicit ClientImpl(std::shared_ptr<ClientContext> ctx) : ctx_(std::move(ctx)) {}

  Result<std::unique_ptr<WriteHandle>> CreateLedger(const CreateLedgerOptions& o) override {
    QUIRE_ASSIGN_OR_RETURN(auto created, Create(o, /*claim=*/true));
    return NewWriteHandle(ctx_, created.first, std::move(created.second), o.password);
  }

  Result<LedgerId> CreateEmptyLedger(const CreateLedgerOptions& o) override {
    QUIRE_ASSIGN_OR_RETURN(auto created, Create(o, /*claim=*/false));
    return created.first;
  }

  Result<std::unique_ptr<WriteHandle>> OpenLedgerForWriting(LedgerId id,
                                                            std::string_view password) override {
    // The claim names this call, not only this process, so that a re-read after a reply was lost
    // recognises our own claim (and two handles in one process still exclude each other).
    const std::string claim = fmt::format("{}#{}", Creator(), metadata::RandomHex(8));
    Result<metadata::Versioned<LedgerMetadata>> claimed =
        metadata::UpdateLedgerMetadata(ctx_->store(), id, ClaimWriter(id, password, claim));
    if (!claimed.ok()) {
      return claimed.status().WithContext(fmt::format("claiming ledger {}", id));
    }
    if (claimed->value.state != LedgerState::kOpen) {  // claimed, then fenced at once
      return Status(StatusCode::kLedgerClosed,
                    fmt::format("ledger {} is {}", id, LedgerStateName(claimed->value.state)));
    }
    // Nothing may have been written before us (a writer that never claimed is a bug, but a
    // bookie with entries would make entry 0 ambiguous).
    QUIRE_RETURN_IF_ERROR(CheckNoEntries(id, claimed->value));
    return NewWriteHandle(ctx_, id, std::move(*claimed), std::string(password));
  }

 private:
  std::string Creator() const {
    return ctx_->options().creator.empty() ? DefaultCreator() : ctx_->options().creator;
  }

  // Whether a writer that never claimed the ledger left entries. Decided like ReadLac: once
  // every write set has Qw - Qa + 1 bookies holding none (one of them would hold any
  // acknowledged entry) and the rest answered or let a grace pass, so that a hung bookie costs
  // the grace, not the read timeout. A bookie that shows an entry ends it at once.
  Status CheckNoEntries(LedgerId id, const LedgerMetadata& md) {
    const std::vector<BookieId>& bookies = md.LastEnsemble().bookies;
    const Quorums quorums = QuorumsOf(md);
    std::vector<std::pair<BookieId, proto::Request>> requests;
    for (const BookieId& b : bookies) requests.emplace_back(b, ReadLacRequest(id));
    std::vector<bool> empty(bookies.size(), false);
    std::optional<BookieId> holder;
    std::vector<Status> errors;
    bool covered = false;
    CallUntil(
        ctx_->bookies(), std::move(requests), ctx_->options().read_timeout,
        [&](size_t i, const Result<proto::Response>& answer) {
          Status s = ResponseStatus(bookies[i], answer);
          if (s.ok() && !answer->read_lac().last_entry_body().empty()) {
            holder = bookies[i];
            return Enough::kYes;
          }
          if (s.ok() || s.Is(StatusCode::kNoSuchLedger)) {
            empty[i] = true;
          } else {
            errors.push_back(std::move(s));
          }
          covered = quorums.AnswersReachEveryAcknowledged(
              [&](int pos) { return empty[static_cast<size_t>(pos)]; });
          return covered ? Enough::kAfterGrace : Enough::kNo;
        },
        Grace{ctx_->options().speculative_read_timeout, &ctx_->slow_bookies()});
    if (holder) {
      return FailedPrecondition(
          fmt::format("ledger {} already has entries on bookie {}", id, *holder));
    }
    if (!covered) {
      Status first = errors.empty() ? Status(StatusCode::kUnavailable, "no bookie answered")
                                    : errors.front();
      return first.WithContext(fmt::format("checking that ledger {} is empty", id));
    }
    return Status::Ok();
  }

  Result<std::pair<LedgerId, metadata::Versioned<LedgerMetadata>>> Create(
      const CreateLedgerOptions& o, bool claim) {
    LedgerMetadata md;
    md.state = LedgerState::kOpen;
    md.ensemble_size = o.ensemble_size;
    md.write_quorum_size = o.write_quorum_size;
    md.ack_quorum_size = o.ack_quorum_size;
    md.digest_type = o.digest_type;
    md.password_hash = StoredPasswordHash(o.password);
    LedgerKeys keys = DeriveLedgerKeys(o.digest_type, o.password);
    md.master_key = std::move(keys.master_key);
    md.digest_key = std::move(keys.digest_key);
    md.creation_time_ms = static_cast<int64_t>(UnixMillis());
    md.creator = Creator();
    md.custom_metadata = o.custom_metadata;
    md.custom_metadata.erase(kWriterMetadataKey);
    if (claim) md.custom_metadata[kWriterMetadataKey] = md.creator;
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
    return std::make_pair(id, metadata::Versioned<LedgerMetadata>{md, v});
  }

 public:

  Result<std::unique_ptr<ReadHandle>> OpenLedger(LedgerId id, std::string_view password) override {
    QUIRE_ASSIGN_OR_RETURN(metadata::Versioned<LedgerMetadata> md, ctx_->store().ReadLedger(id));
    QUIRE_RETURN_IF_ERROR(CheckPassword(id, md.value, password));
    LedgerKeys keys = DeriveLedgerKeys(md.value.digest_type, password);
    return NewReadHandle(ctx_, id, std::move(md), keys);
  }

  Result<std::unique_ptr<ReadHandle>> OpenLedgerForRepair(LedgerId id) override {
    QUIRE_ASSIGN_OR_RETURN(metadata::Versioned<LedgerMetadata> md, ctx_->store().ReadLedger(id));
    QUIRE_ASSIGN_OR_RETURN(LedgerKeys keys, RepairKeys(id, md.value, {}));
    return NewReadHandle(ctx_, id, std::move(md), keys);
  }

  Result<std::unique_ptr<ReadHandle>> RecoverLedger(LedgerId id,
                                                    std::string_view password) override {
    QUIRE_ASSIGN_OR_RETURN(metadata::Versioned<LedgerMetadata> md,
                           client::RecoverLedger(*ctx_, id, password));
    LedgerKeys keys = DeriveLedgerKeys(md.value.digest_type, password);
    return NewReadHandle(ctx_, id, std::move(md), keys);
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

  Result<CopiedEntries> ReplaceBookie(LedgerId id, const BookieId& bookie,
                                      std::string_view password) override {
    return client::ReplaceBookie(*ctx_, id, bookie, password);
  }

  std::string MetricsText() const override { return ctx_->metrics().Text(); }

  Result<BookieListing> ListBookies() override {
    QUIRE_ASSIGN_OR_RETURN(BookieList list, ctx_->store().ListBookies());
    return BookieListing{std::move(list.writable), std::move(list.read_only)};
  }

  Result<BookieInfo> GetBookieInfo(const BookieId& bookie) override {
    auto answers = CallAll(
        ctx_->bookies(), {bookie},
        [](size_t) {
          proto::Request r;
          r.mutable_header()->set_operation(proto::BOOKIE_INFO);
          r.mutable_bookie_info();
          return r;
        },
        ctx_->options().read_timeout);
    QUIRE_RETURN_IF_ERROR(ResponseStatus(bookie, answers[0]));
    const proto::BookieInfoResponse& r = answers[0]->bookie_info();
    BookieInfo info;
    info.bookie_id = r.bookie_id();
    info.total_bytes = r.total_bytes();
    info.free_bytes = r.free_bytes();
    info.writable = r.state() == proto::BookieInfoResponse::WRITABLE;
    info.read_only_reason = r.read_only_reason();
    if (r.http_port() > UINT16_MAX) {
      return Status(StatusCode::kCorruption,
                    fmt::format("bookie {} reported admin HTTP port {}", bookie, r.http_port()));
    }
    info.http_port = static_cast<uint16_t>(r.http_port());
    return info;
  }

 private:
  std::shared_ptr<ClientContext> ctx_;  // shared with every handle
};

}  // namespace
}  // namespace quire::client

namespace quire {

namespace client {

Result<std::shared_ptr<ClientContext>> OpenClientContext(const ClientOptions& options) {
  if (options.metadata_uri.empty()) {
    return InvalidArgument("ClientOptions.metadata_uri is empty (e.g. zk://127.0.0.1:2181/quire)");
  }
  metadata::MetadataOptions mo;
  mo.operation_timeout = options.metadata_timeout;
  mo.session_timeout = options.metadata_session_timeout;
  mo.zk_acl_credentials_file = options.metadata_credentials_file;
  QUIRE_ASSIGN_OR_RETURN(std::unique_ptr<metadata::MetadataStore> store,
                         metadata::OpenMetadataStore(options.metadata_uri, mo));
  Result<metadata::ClusterInfo> info = store->GetClusterInfo();
  if (!info.ok()) {
    return info.status().WithContext(
        fmt::format("metadata service {} (is the cluster initialised?)", options.metadata_uri));
  }
  QUIRE_ASSIGN_OR_RETURN(auto tls, TlsContextFor(options));
  return std::make_shared<ClientContext>(options, std::move(store), std::move(tls));
}

}  // namespace client

Result<std::unique_ptr<Client>> Client::Open(const ClientOptions& options) {
  QUIRE_ASSIGN_OR_RETURN(std::shared_ptr<client::ClientContext> ctx,
                         client::OpenClientContext(options));
  return std::unique_ptr<Client>(std::make_unique<client::ClientImpl>(std::move(ctx)));
}

}  // namespace quire
