#include "common/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <fmt/format.h>

namespace quire {

namespace ssl = boost::asio::ssl;

namespace {

Status FileError(std::string_view what, const std::string& path,
                 const boost::system::error_code& ec) {
  return InvalidArgument(fmt::format("TLS {} {}: {}", what, path, ec.message()));
}

}  // namespace

Result<std::shared_ptr<ssl::context>> MakeTlsContext(TlsSide side, const TlsFiles& files,
                                                     TlsPeerCheck peer_check) {
  if (files.certificate_path.empty() != files.key_path.empty()) {
    return InvalidArgument(files.certificate_path.empty()
                               ? "a TLS key needs its certificate: no certificate file given"
                               : "a TLS certificate needs its key: no key file given");
  }
  if (side == TlsSide::kServer && files.certificate_path.empty()) {
    return InvalidArgument("the TLS server side needs a certificate and a key");
  }
  if (peer_check != TlsPeerCheck::kNone && files.trust_store_path.empty()) {
    return InvalidArgument("checking the peer's TLS certificate needs a trust store (CA bundle)");
  }
  auto ctx = std::make_shared<ssl::context>(side == TlsSide::kServer ? ssl::context::tls_server
                                                                     : ssl::context::tls_client);
  // TLS 1.2 is the oldest version without known breaks; nothing older is offered or accepted.
  if (SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1) {
    return Status(StatusCode::kInternal, "cannot set TLS 1.2 as the minimum version");
  }
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression, ec);
  if (ec) return Status(StatusCode::kInternal, "TLS options: " + ec.message());
  if (!files.certificate_path.empty()) {
    ctx->use_certificate_chain_file(files.certificate_path, ec);
    if (ec) return FileError("certificate", files.certificate_path, ec);
    ctx->use_private_key_file(files.key_path, ssl::context::pem, ec);
    if (ec) return FileError("key", files.key_path, ec);
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
      ERR_clear_error();
      return InvalidArgument(fmt::format("TLS key {} does not match the certificate {}",
                                         files.key_path, files.certificate_path));
    }
  }
  if (!files.trust_store_path.empty()) {
    ctx->load_verify_file(files.trust_store_path, ec);
    if (ec) return FileError("trust store", files.trust_store_path, ec);
  }
  ssl::verify_mode mode = ssl::verify_none;
  if (peer_check == TlsPeerCheck::kIfSent) mode = ssl::verify_peer;
  if (peer_check == TlsPeerCheck::kRequired) {
    mode = ssl::verify_peer | ssl::verify_fail_if_no_peer_cert;
  }
  ctx->set_verify_mode(mode, ec);
  if (ec) return Status(StatusCode::kInternal, "TLS verify mode: " + ec.message());
  return ctx;
}

Status ExpectPeerHost(SSL* ssl, const std::string& host) {
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  boost::system::error_code not_an_address;
  boost::asio::ip::make_address(host, not_an_address);
  int ok = not_an_address ? X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size())
                          : X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  if (ok != 1) return InvalidArgument(fmt::format("cannot check TLS certificates for host {}", host));
  return Status::Ok();
}

std::string TlsErrorReason(const boost::system::error_code& ec, long verify_result) {
  if (verify_result != X509_V_OK) {
    return fmt::format("{}: {}", ec.message(), X509_verify_cert_error_string(verify_result));
  }
  return ec.message();
}

bool IsTlsError(const boost::system::error_code& ec) {
  return ec.category() == boost::asio::error::get_ssl_category() ||
         ec.category() == ssl::error::get_stream_category();
}

}  // namespace quire
