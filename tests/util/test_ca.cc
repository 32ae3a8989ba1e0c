#include "util/test_ca.h"

#include <chrono>
#include <cstdlib>
#include <functional>
#include <filesystem>
#include <fstream>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <fmt/format.h>

#include "common/tls_reload.h"

namespace quire::testing {

namespace {
constexpr const char* kNewKey = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
}  // namespace

TestCa::TestCa(std::string dir, std::string name)
    : dir_(std::move(dir)),
      name_(std::move(name)),
      certificate_path_(fmt::format("{}/{}.pem", dir_, name_)),
      key_path_(fmt::format("{}/{}.key", dir_, name_)) {}

Status TestCa::Run(const std::string& command) const {
  std::string line = fmt::format("{} >>'{}/openssl.log' 2>&1", command, dir_);
  int status = std::system(line.c_str());
  if (status != 0) {
    return IOError(fmt::format("`{}` failed (status {}); see {}/openssl.log", command, status, dir_));
  }
  return Status::Ok();
}

Result<TestCa> TestCa::Create(const std::string& dir, const std::string& name) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IOError(fmt::format("cannot create {}: {}", dir, ec.message()));
  TestCa ca(dir, name);
  QUIRE_RETURN_IF_ERROR(ca.Run(fmt::format(
      "openssl req -x509 {} -keyout '{}' -out '{}' -days 2 -subj '/CN={}' "
      "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign",
      kNewKey, ca.key_path_, ca.certificate_path_, name)));
  return ca;
}

Result<TestCertificate> TestCa::Issue(const std::string& name, const std::string& san,
                                      Validity validity) const {
  TestCertificate out{fmt::format("{}/{}.pem", dir_, name), fmt::format("{}/{}.key", dir_, name)};
  std::string csr = fmt::format("{}/{}.csr", dir_, name);
  std::string ext = fmt::format("{}/{}.ext", dir_, name);
  {
    std::ofstream f(ext);
    f << "subjectAltName=" << san << "\n";
    if (!f) return IOError("cannot write " + ext);
  }
  QUIRE_RETURN_IF_ERROR(Run(fmt::format("openssl req -new {} -keyout '{}' -out '{}' -subj '/CN={}'",
                                        kNewKey, out.key_path, csr, name)));
  const std::string sign = fmt::format(
      "openssl x509 -req -in '{}' -CA '{}' -CAkey '{}' -set_serial {} -out '{}' -extfile '{}'",
      csr, certificate_path_, key_path_, std::hash<std::string>()(name) >> 1,
      out.certificate_path, ext);
  if (validity != Validity::kExpired) {
    QUIRE_RETURN_IF_ERROR(Run(sign + " -days 2"));
    return out;
  }
  // Expired yesterday: OpenSSL 3.0 (Debian 12) takes -days -1; 3.4 and later refuse a negative
  // -days but take explicit dates, which 3.0 does not know.
  if (!Run(sign + " -days -1").ok()) {
    QUIRE_RETURN_IF_ERROR(Run(sign + " -not_before 20200101000000Z -not_after 20200102000000Z"));
  }
  return out;
}

Result<std::string> PresentedCertificate(uint16_t port, const TlsFiles& files) {
  namespace asio = boost::asio;
  QUIRE_ASSIGN_OR_RETURN(auto ctx,
                         MakeTlsContext(TlsSide::kClient, files, TlsPeerCheck::kRequired));
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return IOError(fmt::format("connecting to 127.0.0.1:{}: {}", port, ec.message()));
  asio::ssl::stream<asio::ip::tcp::socket&> tls(socket, *ctx);
  QUIRE_RETURN_IF_ERROR(ExpectPeerHost(tls.native_handle(), "127.0.0.1"));
  tls.async_handshake(asio::ssl::stream_base::client,
                      [&ec](boost::system::error_code e) { ec = e; });
  // Bounded: a server that never answers fails the probe instead of hanging the test.
  io.run_for(std::chrono::seconds(30));
  if (!io.stopped()) return Status(StatusCode::kTimeout, "the TLS handshake did not end in 30 s");
  if (ec) {
    return Status(StatusCode::kUnauthenticated,
                  TlsErrorReason(ec, SSL_get_verify_result(tls.native_handle())));
  }
  X509* cert = SSL_get1_peer_certificate(tls.native_handle());
  std::string presented = cert ? DescribeCertificate(cert) : "no certificate";
  X509_free(cert);
  return presented;
}

}  // namespace quire::testing
