#include "cli/admin_http_client.h"

#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace quire::cli {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

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
    http::async_write(stream_, request, [&](beast::error_code e, size_t) { ec = e; });
    Drive();
    if (ec) return Failed("sending the request", ec);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxAnswerBytes);
    http::async_read(stream_, buffer, parser, [&](beast::error_code e, size_t) { ec = e; });
    Drive();
    if (ec) return Failed("reading the answer", ec);
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    return parser.release();
  }

 private:
  void Drive() {
    ioc_.restart();
    ioc_.run();
  }

  Status Failed(std::string_view step, const beast::error_code& ec) const {
    StatusCode code = ec == beast::error::timeout ? StatusCode::kTimeout : StatusCode::kUnavailable;
    return Status(code, fmt::format("admin HTTP endpoint {}: {}: {}", endpoint_.ToString(), step,
                                    ec == beast::error::timeout ? "timed out" : ec.message()));
  }

  const AdminEndpoint& endpoint_;
  asio::io_context ioc_;
  beast::tcp_stream stream_;
};

}  // namespace

std::string AdminEndpoint::ToString() const {
  bool v6 = host.find(':') != std::string::npos;
  return v6 ? fmt::format("http://[{}]:{}", host, port) : fmt::format("http://{}:{}", host, port);
}

AdminEndpoint AdminEndpointOf(std::string_view bookie_id, uint16_t http_port) {
  std::string_view host = bookie_id.substr(0, bookie_id.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return AdminEndpoint{std::string(host), http_port};
}

Result<AdminEndpoint> FindAdminEndpoint(Client& client, const BookieId& bookie_id) {
  auto info = client.GetBookieInfo(bookie_id);
  if (!info.ok()) return info.status().WithContext("asking for its admin HTTP port");
  if (info->http_port == 0) {
    return FailedPrecondition(
        "it reports no admin HTTP port: its admin endpoint is off (httpServerEnabled), or it is "
        "older than this command");
  }
  return AdminEndpointOf(bookie_id, info->http_port);
}

Result<nlohmann::json> CallAdminJson(const AdminEndpoint& endpoint, std::string_view method,
                                     std::string_view target, std::string_view body,
                                     std::chrono::milliseconds timeout) {
  http::request<http::string_body> request{http::string_to_verb(method), target, 11};
  request.set(http::field::host, endpoint.host);
  request.set(http::field::user_agent, "quire-cli");
  request.keep_alive(false);
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
    StatusCode code =
        answer.result_int() == 503 ? StatusCode::kUnavailable : StatusCode::kBadRequest;
    return Status(code, fmt::format("{}: HTTP {}: {}", where, answer.result_int(), why));
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal,
                  fmt::format("admin HTTP endpoint {}: {}", endpoint.ToString(), e.what()));
  }
}

}  // namespace quire::cli
