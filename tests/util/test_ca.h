// Throw-away certificate authorities for TLS tests, made at test time with the `openssl` command
// (no key is ever committed). Every file is PEM, under the directory given to Create().
//
//   auto ca = TestCa::Create(dir.Sub("ca"), "test-ca");
//   auto bookie = ca->Issue("bookie", "IP:127.0.0.1");                   // a server certificate
//   auto old = ca->Issue("client", "DNS:client", TestCa::Validity::kExpired);
#pragma once

#include <cstdint>
#include <string>

#include "common/tls.h"
#include "quire/status.h"

namespace quire::testing {

struct TestCertificate {
  std::string certificate_path;
  std::string key_path;
};

class TestCa {
 public:
  // A self-signed CA (EC P-256) named `name`, its certificate at <dir>/<name>.pem. kIOError when
  // openssl fails (its output is in <dir>/openssl.log).
  static Result<TestCa> Create(const std::string& dir, const std::string& name);

  const std::string& certificate_path() const { return certificate_path_; }

  enum class Validity { kCurrent, kExpired };
  // A certificate for `name` (its CN) signed by this CA, with the subject alt names `san`
  // ("IP:127.0.0.1", "DNS:a,DNS:b"). kExpired: its validity ended before it began (openssl's
  // -days -1), so every check finds it expired.
  Result<TestCertificate> Issue(const std::string& name, const std::string& san,
                                Validity validity = Validity::kCurrent) const;

 private:
  TestCa(std::string dir, std::string name);
  Status Run(const std::string& command) const;

  std::string dir_;
  std::string name_;
  std::string certificate_path_;
  std::string key_path_;
};

// A TLS client handshake with 127.0.0.1:`port`, as a client with `files` (a certificate and key,
// if any; the CA bundle that must sign the server's certificate, which must name 127.0.0.1), then
// the connection is closed. The server's certificate (DescribeCertificate: "/CN=bookie, serial
// ..."), or kUnauthenticated with OpenSSL's reason when the handshake fails.
Result<std::string> PresentedCertificate(uint16_t port, const TlsFiles& files);

}  // namespace quire::testing
