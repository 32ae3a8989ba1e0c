#include "cli/admin_http_client.h"

#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <optional>

#include "common/secret_file.h"

namespace quire::cli {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
namespace ssl = asio::ssl;

// Answers bigger than this are not the admin endpoint's (gc_details is a few KiB).
constexpr uint64_t kMaxAnswerBytes = 4 << 20;

// One connection's request and answer. Beast's synchronous calls cannot time out, so each step is
// started asynchronously with the stream's deadline and the context is run to its end: the
// deadline guarantees that end comes.
class Exchange {
 public:
  Exchange(const AdminEndpoint& endpoint, std::chrono::milliseconds timeout)
      : endpoint_(endpoint), stream_(ioc_) {
    stream_.expires_after(timeout);
  }

  Result<http::response<http::string_body>> Run(http::request<http::string_body>& request) {
    beast::error_code ec;
    tcp::resolver resolver(ioc_);
    auto addresses = resolver.resolve(endpoint_.host, std::to_string(endpoint_.port), ec);
    if (ec) return Failed("resolving the host", ec);
    stream_.async_connect(addresses, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    Drive();
    if (ec) return Failed("connecting", ec);
    if (endpoint_.access.https) {
      QUIRE_RETURN_IF_ERROR(Handshake());
      return Exchange1(*tls_, request);
    }
    return Exchange1(stream_, request);
  }

 private:
  // TLS over the connection: the bookie's certificate must be signed by the CA and name the host.
  Status Handshake() {
    const TlsFiles& files = endpoint_.access.tls;
    QUIRE_ASSIGN_OR_RETURN(context_,
                           MakeTlsContext(TlsSide::kClient, files, TlsPeerCheck::kRequired));
    tls_.emplace(stream_, *context_);
    QUIRE_RETURN_IF_ERROR(ExpectPeerHost(tls_->native_handle(), endpoint_.host));
    beast::error_code ec;
    tls_->async_handshake(ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
    Drive();
    if (!ec) return Status::Ok();
    return Failed("the TLS handshake", ec);
  }

  template <typename Stream>
  Result<http::response<http::string_body>> Exchange1(Stream& stream,
                                                      http::request<http::string_body>& request) {
    beast::error_code ec;
    http::async_write(stream, request, [&](beast::error_code e, size_t) { ec = e; });
    Drive();
    if (ec) return Failed("sending the request", ec);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxAnswerBytes);
    http::async_read(stream, buffer, parser, [&](beast::error_code e, size_t) { ec = e; });
    Drive();
    if (ec) return Failed("reading the answer", ec);
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    return parser.release();
  }

  void Drive() {
    ioc_.restart();
    ioc_.run();
  }

  Status Failed(std::string_view step, const beast::error_code& ec) {
    if (IsTlsError(ec)) {
      // With TLS 1.3 a bookie refuses a client certificate after the client's handshake ended:
      // the refusal comes as an alert on the first read.
      return Status(StatusCode::kUnauthenticated,
                    fmt::format("admin HTTP endpoint {}: {}: TLS: {}", endpoint_.ToString(), step,
                                TlsErrorReason(ec, tls_ ? SSL_get_verify_result(
                                                              tls_->native_handle())
                                                        : 0)));
    }
    StatusCode code = ec == beast::error::timeout ? StatusCode::kTimeout : StatusCode::kUnavailable;
    return Status(code, fmt::format("admin HTTP endpoint {}: {}: {}", endpoint_.ToString(), step,
                                    ec == beast::error::timeout ? "timed out" : ec.message()));
  }

  const AdminEndpoint& endpoint_;
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  std::shared_ptr<ssl::context> context_;
  std::optional<ssl::stream<beast::tcp_stream&>> tls_;
};

}  // namespace

void AdminAccessFlags::AddTo(CLI::App* cmd) {
  cmd->add_option("--admin-token-file", token_file,
                  "File whose first line is the bookies' admin HTTP bearer token "
                  "(httpServerAuthTokenFile). Default: $QUIRE_ADMIN_TOKEN_FILE");
}

Result<AdminAccess> AdminAccessFlags::Resolve(const GlobalOptions& g) const {
  ClientOptions tls;
  g.tls.ApplyTo(&tls);
  AdminAccess access;
  access.https = !tls.tls_ca_path.empty();
  access.tls = TlsFiles{tls.tls_certificate_path, tls.tls_key_path, tls.tls_ca_path};
  std::string file = token_file;
  if (file.empty()) {
    const char* env = std::getenv("QUIRE_ADMIN_TOKEN_FILE");
    file = env ? env : "";
  }
  if (file.empty()) return access;
  QUIRE_ASSIGN_OR_RETURN(access.token, ReadSecretLine(file, "the admin token file"));
  if (access.token.empty()) {
    return InvalidArgument(fmt::format("the admin token file {}: its first line is empty", file));
  }
  return access;
}

std::string AdminEndpoint::ToString() const {
  bool v6 = host.find(':') != std::string::npos;
  std::string_view scheme = access.https ? "https" : "http";
  return v6 ? fmt::format("{}://[{}]:{}", scheme, host, port)
            : fmt::format("{}://{}:{}", scheme, host, port);
}

AdminEndpoint AdminEndpointOf(std::string_view bookie_id, uint16_t http_port,
                              AdminAccess access) {
  std::string_view host = bookie_id.substr(0, bookie_id.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return AdminEndpoint{std::string(host), http_port, std::move(access)};
}

Result<AdminEndpoint> FindAdminEndpoint(Client& client, const BookieId& bookie_id,
                                        const AdminAccess& access) {
  auto info = client.GetBookieInfo(bookie_id);
  if (!info.ok()) return info.status().WithContext("asking for its admin HTTP port");
  if (info->http_port == 0) {
    return FailedPrecondition(
        "it reports no admin HTTP port: its admin endpoint is off (httpServerEnabled), or it is "
        "older than this command");
  }
  return AdminEndpointOf(bookie_id, info->http_port, access);
}

Result<nlohmann::json> CallAdminJson(const AdminEndpoint& endpoint, std::string_view method,
                                     std::string_view target, std::string_view body,
                                     std::chrono::milliseconds timeout) {
  http::request<http::string_body> request{http::string_to_verb(method), target, 11};
  request.set(http::field::host, endpoint.host);
  request.set(http::field::user_agent, "quire-cli");
  request.keep_alive(false);
  if (!endpoint.access.token.empty()) {
    request.set(http::field::authorization, "Bearer " + endpoint.access.token);
  }
  if (!body.empty()) {
    request.set(http::field::content_type, "application/json");
    request.body() = std::string(body);
    request.prepare_payload();
  }
  // An exception from Asio or Beast (out of memory, a bad verb) must not leave this module.
  try {
    Exchange exchange(endpoint, timeout);
    QUIRE_ASSIGN_OR_RETURN(auto answer, exchange.Run(request));
    auto where = fmt::format("{} {}{}", method, endpoint.ToString(), target);
    nlohmann::json j = nlohmann::json::parse(answer.body(), nullptr, /*allow_exceptions=*/false);
    if (answer.result_int() == 200) {
      if (j.is_discarded()) return Status(StatusCode::kBadRequest, where + ": the answer is not JSON");
      return j;
    }
    std::string why = j.is_object() && j.contains("error") && j["error"].is_string()
                          ? j["error"].get<std::string>()
                          : answer.body().substr(0, 200);
    StatusCode code = answer.result_int() == 503   ? StatusCode::kUnavailable
                      : answer.result_int() == 401 ? StatusCode::kUnauthenticated
                                                   : StatusCode::kBadRequest;
    return Status(code, fmt::format("{}: HTTP {}: {}", where, answer.result_int(), why));
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal,
                  fmt::format("admin HTTP endpoint {}: {}", endpoint.ToString(), e.what()));
  }
}

}  // namespace quire::cli
