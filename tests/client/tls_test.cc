// TLS on the bookie protocol, end to end: real quire-bookie processes with certificates from a
// throw-away CA (util/test_ca.h), the real client library, and a raw socket for what a client
// library would never send. Every refused connection leaves the bookie serving.
#include <filesystem>
#include <random>

#include "bookie/raw_client.h"
#include "client/client_test_util.h"
#include "util/prometheus.h"
#include "util/test_ca.h"

namespace quire::client::testing {
namespace {

using quire::testing::TestCa;
using quire::testing::TestCertificate;

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = TestCa::Create(dir_.Sub("ca"), "quire-test-ca");
    ASSERT_TRUE(ca.ok()) << ca.status().ToString();
    ca_ = std::make_unique<TestCa>(std::move(*ca));
    auto other = TestCa::Create(dir_.Sub("other-ca"), "other-ca");
    ASSERT_TRUE(other.ok()) << other.status().ToString();
    other_ca_ = std::make_unique<TestCa>(std::move(*other));
    bookie_cert_ = Issue(*ca_, "bookie", "IP:127.0.0.1");
    client_cert_ = Issue(*ca_, "client", "DNS:client");
  }

  static TestCertificate Issue(const TestCa& ca, const std::string& name, const std::string& san,
                               TestCa::Validity validity = TestCa::Validity::kCurrent) {
    auto cert = ca.Issue(name, san, validity);
    EXPECT_TRUE(cert.ok()) << cert.status().ToString();
    return cert.ok() ? *cert : TestCertificate{};
  }

  // `bookies` bookies with the CA's bookie certificate and `extra` settings.
  void StartCluster(int bookies, std::vector<std::string> extra,
                    const TestCertificate* bookie_cert = nullptr) {
    const TestCertificate& cert = bookie_cert ? *bookie_cert : bookie_cert_;
    std::vector<std::string> settings = {"tlsCertificatePath = " + cert.certificate_path,
                                         "tlsKeyPath = " + cert.key_path,
                                         "tlsTrustStorePath = " + ca_->certificate_path()};
    settings.insert(settings.end(), extra.begin(), extra.end());
    auto c = TestCluster::Start({.bookies = bookies, .bookie_settings = settings});
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    cluster_ = std::move(*c);
  }

  ClientOptions TlsOptions(const TestCertificate* cert) const {
    ClientOptions o = TestClientOptions(cluster_->metadata_uri());
    o.use_tls = true;
    o.tls_ca_path = ca_->certificate_path();
    if (cert) {
      o.tls_certificate_path = cert->certificate_path;
      o.tls_key_path = cert->key_path;
    }
    return o;
  }

  // Writes `n` entries to a new ledger on `ensemble` bookies and reads them back.
  static void RoundTrip(Client& client, int ensemble, int n) {
    auto writer = client.CreateLedger({.ensemble_size = ensemble,
                                       .write_quorum_size = ensemble,
                                       .ack_quorum_size = std::min(ensemble, 2),
                                       .password = "pw"});
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    for (EntryId e = 0; e < n; ++e) {
      auto id = (*writer)->Append(Payload(e));
      ASSERT_TRUE(id.ok()) << id.status().ToString();
    }
    ASSERT_TRUE((*writer)->Close().ok());
    auto reader = client.OpenLedger((*writer)->id(), "pw");
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    auto got = (*reader)->Read(0, n - 1);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->size(), static_cast<size_t>(n));
    for (const Entry& entry : *got) EXPECT_EQ(entry.payload, Payload(entry.id));
  }

  // The first append of a one-bookie ledger fails; returns its status.
  static Status FirstAppendFails(Client& client) {
    auto writer = client.CreateLedger(
        {.ensemble_size = 1, .write_quorum_size = 1, .ack_quorum_size = 1, .password = "pw"});
    if (!writer.ok()) return writer.status();
    auto id = (*writer)->Append("refused");
    EXPECT_FALSE(id.ok());
    return id.ok() ? Status::Ok() : id.status();
  }

  // A bookie with TLS serves its admin endpoint (and /metrics) over HTTPS only, with its
  // certificate: signed by `ca` (default: ca_).
  double BookieCounter(int i, const std::string& name, const TestCa* ca = nullptr) {
    std::string body;
    auto code = bookie::testing::HttpsGet(cluster_->bookie(i).http_port(), "/metrics",
                                          (ca ? ca : ca_.get())->certificate_path(), &body);
    EXPECT_TRUE(code.ok() && *code == 200) << code.status().ToString();
    return quire::testing::SampleValue(body, name).value_or(-1);
  }

  // A refused client leaves the bookie serving TLS clients that it accepts.
  void ExpectBookieServes() {
    ASSERT_TRUE(cluster_->bookie(0).running());
    auto client = Client::Open(TlsOptions(&client_cert_));
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    RoundTrip(**client, 1, 3);
  }

  void ExpectClientRefused(const TestCertificate* cert, const std::string& reason);

  quire::testing::TempDir dir_{"quire-tls-test"};
  std::unique_ptr<TestCa> ca_;
  std::unique_ptr<TestCa> other_ca_;
  TestCertificate bookie_cert_;
  TestCertificate client_cert_;
  std::unique_ptr<TestCluster> cluster_;
};

TEST_F(TlsTest, MutualTlsRoundTripOnThreeBookies) {
  ASSERT_NO_FATAL_FAILURE(
      StartCluster(3, {"tlsRequired = true", "tlsClientAuthentication = true"}));
  auto client = Client::Open(TlsOptions(&client_cert_));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  RoundTrip(**client, 3, 100);
  EXPECT_EQ(BookieCounter(0, "quire_bookie_tls_handshake_failures_total"), 0);
}

// tlsRequired = false: plaintext and TLS clients share the port (the first byte tells them apart).
TEST_F(TlsTest, PlaintextAndTlsOnOnePort) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(1, {}));
  auto plain = Client::Open(TestClientOptions(cluster_->metadata_uri()));
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  RoundTrip(**plain, 1, 10);
  auto tls = Client::Open(TlsOptions(nullptr));  // the CA alone: TLS without a certificate
  ASSERT_TRUE(tls.ok()) << tls.status().ToString();
  RoundTrip(**tls, 1, 10);
}

TEST_F(TlsTest, PlaintextClientIsRefusedWhenTlsIsRequired) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(1, {"tlsRequired = true"}));
  auto plain = Client::Open(TestClientOptions(cluster_->metadata_uri()));
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  Status refused = FirstAppendFails(**plain);
  EXPECT_EQ(refused.code(), StatusCode::kUnauthenticated) << refused.ToString();
  EXPECT_NE(refused.message().find("requires TLS"), std::string::npos) << refused.ToString();

  // The raw answer: one UNAUTHENTICATED response with request id 0, then the bookie closes.
  auto raw = bookie::testing::RawClient::Connect("127.0.0.1", cluster_->bookie(0).port());
  ASSERT_TRUE(raw.ok()) << raw.status().ToString();
  ASSERT_TRUE(raw->Send(bookie::testing::BookieInfoRequest(7)).ok());
  auto answer = raw->Receive();
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(answer->status(), proto::UNAUTHENTICATED);
  EXPECT_EQ(answer->header().request_id(), 0u);
  EXPECT_NE(answer->message().find("tlsRequired"), std::string::npos) << answer->message();
  EXPECT_TRUE(raw->WaitForClose(std::chrono::seconds(30)));
  EXPECT_GE(BookieCounter(0, "quire_bookie_plaintext_refused_total"), 2);
  ExpectBookieServes();
}

// With tlsClientAuthentication, a client whose certificate (`cert`; nullptr: none) the bookie
// refuses gets kUnauthenticated with `reason` (OpenSSL's words) in the message.
void TlsTest::ExpectClientRefused(const TestCertificate* cert, const std::string& reason) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(1, {"tlsClientAuthentication = true"}));
  auto client = Client::Open(TlsOptions(cert));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Status refused = FirstAppendFails(**client);
  EXPECT_EQ(refused.code(), StatusCode::kUnauthenticated) << refused.ToString();
  EXPECT_NE(refused.message().find(reason), std::string::npos) << refused.ToString();
  EXPECT_GE(BookieCounter(0, "quire_bookie_tls_handshake_failures_total"), 1);
  ExpectBookieServes();
}

TEST_F(TlsTest, ClientWithoutCertificateIsRefusedWithClientAuthentication) {
  ExpectClientRefused(nullptr, "certificate required");
}

TEST_F(TlsTest, ClientCertificateFromAnotherCaIsRefused) {
  TestCertificate stranger = Issue(*other_ca_, "stranger", "DNS:stranger");
  ExpectClientRefused(&stranger, "unknown ca");
}

TEST_F(TlsTest, ExpiredClientCertificateIsRefused) {
  TestCertificate expired = Issue(*ca_, "expired", "DNS:expired", TestCa::Validity::kExpired);
  ExpectClientRefused(&expired, "expired");
}

// The client checks the bookie: its certificate must name the bookie id's host, and be valid.
TEST_F(TlsTest, ClientRefusesABookieCertificateForAnotherHostOrExpired) {
  TestCertificate elsewhere = Issue(*ca_, "elsewhere", "IP:10.9.9.9,DNS:elsewhere");
  ASSERT_NO_FATAL_FAILURE(StartCluster(1, {}, &elsewhere));
  auto client = Client::Open(TlsOptions(nullptr));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Status refused = FirstAppendFails(**client);
  EXPECT_EQ(refused.code(), StatusCode::kUnauthenticated) << refused.ToString();
  EXPECT_NE(refused.message().find("IP address mismatch"), std::string::npos)
      << refused.ToString();

  cluster_.reset();
  TestCertificate expired = Issue(*ca_, "old-bookie", "IP:127.0.0.1", TestCa::Validity::kExpired);
  ASSERT_NO_FATAL_FAILURE(StartCluster(1, {}, &expired));
  client = Client::Open(TlsOptions(nullptr));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  refused = FirstAppendFails(**client);
  EXPECT_EQ(refused.code(), StatusCode::kUnauthenticated) << refused.ToString();
  EXPECT_NE(refused.message().find("certificate has expired"), std::string::npos)
      << refused.ToString();
}

// Bad bytes where a TLS handshake belongs: random bytes after the handshake record type, and a
// ClientHello cut short before the client hangs up. The bookie closes them and serves on.
TEST_F(TlsTest, RandomBytesAndTruncatedHandshakesOnTheTlsPort) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(1, {"tlsRequired = true"}));
  uint16_t port = cluster_->bookie(0).port();
  std::mt19937_64 rng(18);
  for (int round = 0; round < 5; ++round) {
    auto raw = bookie::testing::RawClient::Connect("127.0.0.1", port);
    ASSERT_TRUE(raw.ok()) << raw.status().ToString();
    std::string junk(64 << 10, '\0');
    for (char& ch : junk) ch = static_cast<char>(rng());
    junk[0] = '\x16';
    raw->SetSendTimeout(std::chrono::seconds(5));
    raw->SendRaw(junk).IgnoreError();  // the bookie may close before taking it all
    EXPECT_TRUE(raw->WaitForClose(std::chrono::seconds(30)));
  }
  // A TLS 1.2 record header that promises a 512-byte ClientHello, and the first bytes of it.
  const std::string hello_start("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
  for (size_t cut = 1; cut <= hello_start.size(); cut += 3) {
    auto raw = bookie::testing::RawClient::Connect("127.0.0.1", port);
    ASSERT_TRUE(raw.ok()) << raw.status().ToString();
    ASSERT_TRUE(raw->SendRaw(hello_start.substr(0, cut)).ok());
    raw->Close();
  }
  EXPECT_GE(BookieCounter(0, "quire_bookie_tls_handshake_failures_total"), 5);
  ExpectBookieServes();
}

// Certificate rotation without a restart, under a live writer: the bookies' and the client's
// certificates and CA bundles all move to a new CA while a writer appends. The writer's open
// connection keeps going (no add fails); new connections present the new certificates on both
// sides: a probe sees the bookies' new one, and a new connection of the same client is accepted
// by a bookie that now trusts only the new CA.
TEST_F(TlsTest, CertificatesRotateUnderALiveWriter) {
  auto copy = [](const std::string& from, const std::string& to) {
    std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
  };
  auto install = [&](const TestCertificate& cert, const TestCa& ca, const std::string& prefix) {
    copy(cert.certificate_path, dir_.Sub(prefix + ".pem"));
    copy(cert.key_path, dir_.Sub(prefix + ".key"));
    copy(ca.certificate_path(), dir_.Sub(prefix + "-ca.pem"));
  };
  TestCertificate new_bookie = Issue(*other_ca_, "bookie-rotated", "IP:127.0.0.1");
  TestCertificate new_client = Issue(*other_ca_, "client-rotated", "DNS:client");
  install(bookie_cert_, *ca_, "bookie");
  install(client_cert_, *ca_, "client");
  TestCertificate live_bookie{dir_.Sub("bookie.pem"), dir_.Sub("bookie.key")};
  ASSERT_NO_FATAL_FAILURE(StartCluster(
      2,
      {"tlsTrustStorePath = " + dir_.Sub("bookie-ca.pem"), "tlsRequired = true",
       "tlsClientAuthentication = true", "tlsCertFilesRefreshDurationSeconds = 1"},
      &live_bookie));
  ClientOptions o = TestClientOptions(cluster_->metadata_uri());
  o.use_tls = true;
  o.tls_certificate_path = dir_.Sub("client.pem");
  o.tls_key_path = dir_.Sub("client.key");
  o.tls_ca_path = dir_.Sub("client-ca.pem");
  o.tls_files_refresh_interval = std::chrono::seconds(1);
  auto client = Client::Open(o);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto writer = (*client)->CreateLedger(
      {.ensemble_size = 1, .write_quorum_size = 1, .ack_quorum_size = 1, .password = "pw"});
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  EntryId next = 0;
  auto append = [&] {
    auto id = (*writer)->Append(Payload(next));
    ASSERT_TRUE(id.ok()) << "entry " << next << ": " << id.status().ToString();
    ASSERT_EQ(*id, next++);
  };
  for (int i = 0; i < 20; ++i) ASSERT_NO_FATAL_FAILURE(append());
  BookieId writers_bookie = (*writer)->metadata().ensembles.front().bookies.front();
  int other = cluster_->bookie_id(0) == writers_bookie ? 1 : 0;
  const TlsFiles new_files{new_client.certificate_path, new_client.key_path,
                           other_ca_->certificate_path()};
  auto old = quire::testing::PresentedCertificate(cluster_->bookie(0).port(),
                                                  {client_cert_.certificate_path,
                                                   client_cert_.key_path, ca_->certificate_path()});
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_NE(old->find("CN=bookie,"), std::string::npos) << *old;

  // Rotate every file at once, then keep writing until both bookies present the new
  // certificate to a new connection (each reloads within a second of a connection's asking).
  auto rotated_at = std::chrono::steady_clock::now();
  install(new_bookie, *other_ca_, "bookie");
  install(new_client, *other_ca_, "client");
  bool both = false;
  for (int round = 0; round < 100'000 && !both; ++round) {
    ASSERT_LT(std::chrono::steady_clock::now() - rotated_at, std::chrono::seconds(120))
        << "the bookies did not present the new certificate";
    ASSERT_NO_FATAL_FAILURE(append());
    both = std::chrono::steady_clock::now() - rotated_at > std::chrono::milliseconds(1'100);
    for (int i = 0; i < 2; ++i) {
      auto seen = quire::testing::PresentedCertificate(cluster_->bookie(i).port(), new_files);
      both = both && seen.ok() && seen->find("CN=bookie-rotated,") != std::string::npos;
    }
  }
  // The old client certificate is refused now (the bookies trust only the new CA)...
  ClientOptions old_files = o;
  old_files.tls_certificate_path = client_cert_.certificate_path;
  old_files.tls_key_path = client_cert_.key_path;
  auto old_client = Client::Open(old_files);
  ASSERT_TRUE(old_client.ok()) << old_client.status().ToString();
  Status refused = FirstAppendFails(**old_client);
  EXPECT_EQ(refused.code(), StatusCode::kUnauthenticated) << refused.ToString();
  // ...yet the same client's first connection to the other bookie is accepted: it presents its
  // new certificate, and accepts the bookie's new one.
  double accepted =
      BookieCounter(other, "quire_bookie_connections_accepted_total", other_ca_.get());
  RoundTrip(**client, 2, 10);
  EXPECT_EQ(BookieCounter(other, "quire_bookie_connections_accepted_total", other_ca_.get()),
            accepted + 1);

  // The writer's connection, made before the rotation, kept going: every add succeeded.
  for (int i = 0; i < 20; ++i) ASSERT_NO_FATAL_FAILURE(append());
  ASSERT_TRUE((*writer)->Close().ok());
  auto reader = (*client)->OpenLedger((*writer)->id(), "pw");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto got = (*reader)->Read(0, next - 1);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->size(), static_cast<size_t>(next));
}

// Principals and permissions: a client whose certificate the write list does not name is refused
// its adds (UNAUTHORIZED, naming it and the operation) and served its reads, on the same
// connection; admin requests follow their own list, matched here by a URI alt name.
TEST_F(TlsTest, APrincipalWithoutWritePermissionIsRefusedOnAddAndAllowedOnRead) {
  TestCertificate reader_cert = Issue(*ca_, "reader", "DNS:reader.example");
  TestCertificate ops_cert = Issue(*ca_, "ops", "URI:spiffe://quire/ops");
  ASSERT_NO_FATAL_FAILURE(StartCluster(
      1, {"tlsRequired = true", "tlsClientAuthentication = true", "authorizedWriteRoles = client",
          "authorizedReadRoles = client, reader.example",
          "authorizedAdminRoles = spiffe://quire/ops"}));
  // CN=client may write (and read).
  auto writer_client = Client::Open(TlsOptions(&client_cert_));
  ASSERT_TRUE(writer_client.ok()) << writer_client.status().ToString();
  auto writer = (*writer_client)->CreateLedger(
      {.ensemble_size = 1, .write_quorum_size = 1, .ack_quorum_size = 1, .password = "pw"});
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  for (EntryId e = 0; e < 5; ++e) ASSERT_TRUE((*writer)->Append(Payload(e)).ok());
  ASSERT_TRUE((*writer)->Close().ok());
  LedgerId ledger = (*writer)->id();

  auto reader = Client::Open(TlsOptions(&reader_cert));
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto read_all = [&] {
    auto handle = (*reader)->OpenLedger(ledger, "pw");
    ASSERT_TRUE(handle.ok()) << handle.status().ToString();
    auto got = (*handle)->Read(0, 4);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->size(), 5u);
    for (const Entry& entry : *got) EXPECT_EQ(entry.payload, Payload(entry.id));
  };
  ASSERT_NO_FATAL_FAILURE(read_all());  // allowed by its DNS alt name
  double accepted = BookieCounter(0, "quire_bookie_connections_accepted_total");

  Status refused = FirstAppendFails(**reader);
  EXPECT_EQ(refused.code(), StatusCode::kUnauthorized) << refused.ToString();
  for (const char* words : {"principal 'reader'", "add requests", "write permission",
                            "authorizedWriteRoles"}) {
    EXPECT_NE(refused.message().find(words), std::string::npos) << refused.ToString();
  }
  auto info = (*reader)->GetBookieInfo(cluster_->bookie_id(0));
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kUnauthorized) << info.status().ToString();
  EXPECT_NE(info.status().message().find("authorizedAdminRoles"), std::string::npos)
      << info.status().ToString();

  // The refusals left the reader's connection open and serving its reads.
  ASSERT_NO_FATAL_FAILURE(read_all());
  EXPECT_EQ(BookieCounter(0, "quire_bookie_connections_accepted_total"), accepted);
  EXPECT_GE(BookieCounter(
                0, R"(quire_bookie_requests_total{operation="add",status="unauthorized"})"),
            1);

  auto ops = Client::Open(TlsOptions(&ops_cert));
  ASSERT_TRUE(ops.ok()) << ops.status().ToString();
  auto ops_info = (*ops)->GetBookieInfo(cluster_->bookie_id(0));
  EXPECT_TRUE(ops_info.ok()) << ops_info.status().ToString();
}

TEST_F(TlsTest, BadClientTlsFilesFailClientOpen) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(1, {}));
  ClientOptions o = TlsOptions(nullptr);
  o.tls_ca_path = dir_.Sub("no-such-ca.pem");
  auto client = Client::Open(o);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(client.status().message().find("no-such-ca.pem"), std::string::npos)
      << client.status().ToString();
  o = TlsOptions(&client_cert_);
  o.tls_key_path.clear();
  EXPECT_EQ(Client::Open(o).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace quire::client::testing
