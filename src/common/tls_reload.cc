#include "common/tls_reload.h"

#include <cerrno>
#include <fstream>
#include <sstream>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace quire {

ReloadingTlsContext::ReloadingTlsContext(TlsSide side, TlsFiles files, TlsPeerCheck peer_check,
                                         std::chrono::seconds refresh, std::string what,
                                         Clock clock)
    : side_(side),
      files_(std::move(files)),
      peer_check_(peer_check),
      refresh_(refresh),
      what_(std::move(what)),
      clock_(std::move(clock)) {}

Result<std::shared_ptr<ReloadingTlsContext>> ReloadingTlsContext::Make(
    TlsSide side, const TlsFiles& files, TlsPeerCheck peer_check, std::chrono::seconds refresh,
    std::string what, Clock clock) {
  std::shared_ptr<ReloadingTlsContext> r(new ReloadingTlsContext(
      side, files, peer_check, refresh, std::move(what), std::move(clock)));
  {
    MutexLock lock(r->mu_);  // not shared yet: uncontended, for the analysis
    // Stamped before reading: a file that changes while it is read is read again at the next
    // check.
    r->tried_ = r->StampFiles();
    QUIRE_ASSIGN_OR_RETURN(r->current_, MakeTlsContext(side, files, peer_check));
    r->next_check_ = r->clock_() + refresh;
  }
  return r;
}

ReloadingTlsContext::Stamp ReloadingTlsContext::StampFiles() const {
  Stamp stamp;
  for (const std::string* path :
       {&files_.certificate_path, &files_.key_path, &files_.trust_store_path}) {
    if (path->empty()) continue;
    std::ifstream in(*path, std::ios::binary);
    std::ostringstream bytes;
    if (in) bytes << in.rdbuf();
    if (!in || in.bad()) {
      stamp += fmt::format("error {};", errno);
      continue;
    }
    stamp += fmt::format("{}:", bytes.view().size());
    stamp += bytes.view();
  }
  return stamp;
}

std::shared_ptr<boost::asio::ssl::context> ReloadingTlsContext::Current() {
  MutexLock lock(mu_);
  if (refresh_.count() <= 0) return current_;
  auto now = clock_();
  if (now < next_check_) return current_;
  next_check_ = now + refresh_;
  Stamp stamp = StampFiles();
  if (stamp == tried_) return current_;
  tried_ = std::move(stamp);
  auto fresh = MakeTlsContext(side_, files_, peer_check_);
  if (!fresh.ok()) {
    ++failed_reloads_;
    spdlog::warn("TLS ({}): the certificate files changed but cannot be used: {}; new "
                 "connections keep the certificate loaded before ({}); trying again when the "
                 "files change",
                 what_, fresh.status().ToString(), DescribeCertificate(*current_));
    return current_;
  }
  ++reloads_;
  current_ = std::move(*fresh);
  spdlog::info("TLS ({}): reloaded the changed certificate files; new connections use {}", what_,
               DescribeCertificate(*current_));
  return current_;
}

uint64_t ReloadingTlsContext::reloads() const {
  MutexLock lock(mu_);
  return reloads_;
}

uint64_t ReloadingTlsContext::failed_reloads() const {
  MutexLock lock(mu_);
  return failed_reloads_;
}

std::string DescribeCertificate(const boost::asio::ssl::context& ctx) {
  // SSL_CTX_get0_certificate takes a non-const context but changes nothing.
  auto& mutable_ctx = const_cast<boost::asio::ssl::context&>(ctx);
  X509* cert = SSL_CTX_get0_certificate(mutable_ctx.native_handle());
  if (cert == nullptr) return "no certificate";
  return DescribeCertificate(cert);
}

std::string DescribeCertificate(X509* cert) {
  char name[256] = {};
  X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof(name));
  std::string serial = "?";
  if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), nullptr)) {
    if (char* hex = BN_bn2hex(bn)) {
      serial = hex;
      OPENSSL_free(hex);
    }
    BN_free(bn);
  }
  return fmt::format("{}, serial {}", name, serial);
}

}  // namespace quire
