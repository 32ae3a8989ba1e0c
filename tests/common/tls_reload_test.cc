// ReloadingTlsContext (common/tls_reload.h): certificate files rotated under a bookie's and a
// client's contexts, checked with real TLS handshakes over loopback (certificates from a
// throw-away CA, util/test_ca.h) and a clock the test moves.
#include "common/tls_reload.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <fmt/format.h>

#include "util/temp_dir.h"
#include "util/test_ca.h"

namespace quire {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using quire::testing::TestCa;
using quire::testing::TestCertificate;
using std::chrono::seconds;

// What each side of one handshake saw of the other's certificate.
struct Seen {
  std::string bookie;  // the server's certificate, as the client saw it
  std::string client;  // the client's, as the server saw it
};

std::string PeerCertificate(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return "none";
  std::string d = DescribeCertificate(cert);
  X509_free(cert);
  return d;
}

// A mutual-TLS handshake between a server and a client context over loopback.
Result<Seen> Handshake(ssl::context& server_ctx, ssl::context& client_ctx) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket server_socket(io), client_socket(io);
  client_socket.connect(acceptor.local_endpoint());
  acceptor.accept(server_socket);
  ssl::stream<tcp::socket&> server(server_socket, server_ctx), client(client_socket, client_ctx);
  QUIRE_RETURN_IF_ERROR(ExpectPeerHost(client.native_handle(), "127.0.0.1"));
  boost::system::error_code server_ec, client_ec;
  server.async_handshake(ssl::stream_base::server,
                         [&](boost::system::error_code ec) { server_ec = ec; });
  client.async_handshake(ssl::stream_base::client,
                         [&](boost::system::error_code ec) { client_ec = ec; });
  io.run_for(std::chrono::seconds(60));  // a bound, not a wait: loopback handshakes end at once
  if (!io.stopped()) return Status(StatusCode::kTimeout, "handshake did not end");
  if (server_ec || client_ec) {
    return Status(StatusCode::kUnauthenticated,
                  fmt::format("server: {}; client: {}", server_ec.message(), client_ec.message()));
  }
  return Seen{PeerCertificate(client.native_handle()), PeerCertificate(server.native_handle())};
}

class TlsReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = TestCa::Create(dir_.Sub("ca"), "reload-ca");
    ASSERT_TRUE(ca.ok()) << ca.status().ToString();
    ca_ = std::make_unique<TestCa>(std::move(*ca));
    std::filesystem::create_directories(dir_.Sub("live"));
    bookie_files_ = {dir_.Sub("live/bookie.pem"), dir_.Sub("live/bookie.key"),
                     ca_->certificate_path()};
    client_files_ = {dir_.Sub("live/client.pem"), dir_.Sub("live/client.key"),
                     ca_->certificate_path()};
  }

  TestCertificate Issue(const std::string& name, const std::string& san) {
    auto cert = ca_->Issue(name, san);
    EXPECT_TRUE(cert.ok()) << cert.status().ToString();
    return cert.ok() ? *cert : TestCertificate{};
  }

  // Copies `cert` over `files`' certificate and key, as an operator's rotation does.
  static void Install(const TestCertificate& cert, const TlsFiles& files) {
    auto over = std::filesystem::copy_options::overwrite_existing;
    std::filesystem::copy_file(cert.certificate_path, files.certificate_path, over);
    std::filesystem::copy_file(cert.key_path, files.key_path, over);
  }

  std::shared_ptr<ReloadingTlsContext> Make(TlsSide side, const TlsFiles& files,
                                            seconds refresh) {
    auto r = ReloadingTlsContext::Make(side, files, TlsPeerCheck::kRequired, refresh, "test",
                                       [this] { return now_; });
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : nullptr;
  }

  // The certificates a handshake between the current contexts shows.
  Seen HandshakeNow(ReloadingTlsContext& bookie, ReloadingTlsContext& client) {
    auto seen = Handshake(*bookie.Current(), *client.Current());
    EXPECT_TRUE(seen.ok()) << seen.status().ToString();
    return seen.ok() ? *seen : Seen{};
  }

  quire::testing::TempDir dir_{"quire-tls-reload-test"};
  std::unique_ptr<TestCa> ca_;
  TlsFiles bookie_files_, client_files_;
  std::chrono::steady_clock::time_point now_ = std::chrono::steady_clock::now();
};

TEST_F(TlsReloadTest, NewConnectionsPresentRotatedCertificatesOnBothSides) {
  Install(Issue("bookie-1", "IP:127.0.0.1"), bookie_files_);
  Install(Issue("client-1", "DNS:client"), client_files_);
  auto bookie = Make(TlsSide::kServer, bookie_files_, seconds(300));
  auto client = Make(TlsSide::kClient, client_files_, seconds(300));
  ASSERT_TRUE(bookie && client);
  Seen first = HandshakeNow(*bookie, *client);
  EXPECT_NE(first.bookie.find("CN=bookie-1"), std::string::npos) << first.bookie;
  EXPECT_NE(first.client.find("CN=client-1"), std::string::npos) << first.client;
  std::shared_ptr<ssl::context> old_bookie = bookie->Current();

  // Rotated: nothing changes before the refresh interval is over...
  Install(Issue("bookie-2", "IP:127.0.0.1"), bookie_files_);
  Install(Issue("client-2", "DNS:client"), client_files_);
  now_ += seconds(299);
  EXPECT_EQ(bookie->Current(), old_bookie);
  // ...then new connections present the new certificates (new serials too).
  now_ += seconds(1);
  Seen second = HandshakeNow(*bookie, *client);
  EXPECT_NE(second.bookie.find("CN=bookie-2"), std::string::npos) << second.bookie;
  EXPECT_NE(second.client.find("CN=client-2"), std::string::npos) << second.client;
  EXPECT_NE(second.bookie.substr(second.bookie.find("serial")),
            first.bookie.substr(first.bookie.find("serial")));
  EXPECT_EQ(bookie->reloads(), 1u);
  EXPECT_EQ(client->reloads(), 1u);
  // A context taken before (an open connection's) still works.
  auto with_old = Handshake(*old_bookie, *client->Current());
  ASSERT_TRUE(with_old.ok()) << with_old.status().ToString();
  EXPECT_NE(with_old->bookie.find("CN=bookie-1"), std::string::npos) << with_old->bookie;

  // Unchanged files are not loaded again.
  now_ += seconds(300);
  EXPECT_EQ(bookie->Current(), bookie->Current());
  EXPECT_EQ(bookie->reloads(), 1u);
}

TEST_F(TlsReloadTest, FilesThatCannotBeUsedKeepTheOldCertificate) {
  TestCertificate two = Issue("bookie-2", "IP:127.0.0.1");
  TestCertificate three = Issue("bookie-3", "IP:127.0.0.1");
  Install(two, bookie_files_);
  Install(Issue("client-1", "DNS:client"), client_files_);
  auto bookie = Make(TlsSide::kServer, bookie_files_, seconds(300));
  auto client = Make(TlsSide::kClient, client_files_, seconds(300));
  ASSERT_TRUE(bookie && client);
  std::shared_ptr<ssl::context> good = bookie->Current();

  // A half-written key.
  std::string key;
  {
    std::ifstream in(two.key_path);
    key.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::ofstream(bookie_files_.key_path, std::ios::trunc) << key.substr(0, key.size() / 2);
  now_ += seconds(300);
  EXPECT_EQ(bookie->Current(), good);
  EXPECT_EQ(bookie->failed_reloads(), 1u);
  EXPECT_NE(HandshakeNow(*bookie, *client).bookie.find("CN=bookie-2"), std::string::npos);

  // A certificate whose key is not (yet) there: the key of another one.
  std::filesystem::copy_file(two.key_path, bookie_files_.key_path,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(three.certificate_path, bookie_files_.certificate_path,
                             std::filesystem::copy_options::overwrite_existing);
  now_ += seconds(300);
  EXPECT_EQ(bookie->Current(), good);
  EXPECT_EQ(bookie->failed_reloads(), 2u);
  // The same bad files are not tried (nor warned about) again.
  now_ += seconds(300);
  EXPECT_EQ(bookie->Current(), good);
  EXPECT_EQ(bookie->failed_reloads(), 2u);

  // Its key arrives: the rotation completes.
  Install(three, bookie_files_);
  now_ += seconds(300);
  EXPECT_NE(HandshakeNow(*bookie, *client).bookie.find("CN=bookie-3"), std::string::npos);
  EXPECT_EQ(bookie->reloads(), 1u);
}

TEST_F(TlsReloadTest, ZeroRefreshReadsTheFilesOnce) {
  Install(Issue("bookie-1", "IP:127.0.0.1"), bookie_files_);
  auto bookie = Make(TlsSide::kServer, bookie_files_, seconds(0));
  ASSERT_TRUE(bookie);
  std::shared_ptr<ssl::context> first = bookie->Current();
  Install(Issue("bookie-2", "IP:127.0.0.1"), bookie_files_);
  now_ += seconds(100'000);
  EXPECT_EQ(bookie->Current(), first);
  EXPECT_EQ(bookie->reloads(), 0u);
}

}  // namespace
}  // namespace quire
