#include "bookie/http/admin_http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace quire::bookie {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Response = http::response<http::string_body>;

// A bound on every wait of the client, far above anything the server should need: reaching it
// fails the test instead of hanging it.
constexpr std::chrono::seconds kBound{20};

constexpr std::string_view kMetricsText = "# HELP up Up.\n# TYPE up gauge\nup 1\n";

// A blocking HTTP/1.1 client on one connection; every read is bounded by kBound.
class Client {
 public:
  explicit Client(uint16_t port) : stream_(ioc_) {
    stream_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }

  // Sends a request and reads its answer; `error` is set when no complete answer came.
  Response Call(http::verb method, std::string target, bool keep_alive = true,
                beast::error_code* error = nullptr, std::string body = "") {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.keep_alive(keep_alive);
    if (!body.empty() || method == http::verb::put) {
      req.body() = std::move(body);
      req.prepare_payload();
    }
    http::write(stream_, req);
    return Read(method == http::verb::head, error);
  }
  Response Get(std::string target) { return Call(http::verb::get, std::move(target)); }
  Response Put(std::string target, std::string body) {
    return Call(http::verb::put, std::move(target), true, nullptr, std::move(body));
  }

  void SendRaw(std::string_view bytes) { asio::write(stream_.socket(), asio::buffer(bytes)); }

  Response Read(bool head = false, beast::error_code* error = nullptr) {
    http::response_parser<http::string_body> parser;
    parser.skip(head);  // a HEAD answer has a Content-Length but no body
    beast::error_code ec;
    Bounded([&](auto done) { http::async_read(stream_, buffer_, parser, done); }, &ec);
    if (error != nullptr) *error = ec;
    EXPECT_TRUE(ec == beast::error_code() || error != nullptr) << ec.message();
    return parser.release();
  }

  // Reads until the server closes the connection; returns how it ended: asio::error::eof when
  // the server closed it, beast::error::timeout when it did not within kBound.
  beast::error_code WaitForClose() {
    beast::error_code ec;
    while (!ec) {
      Bounded([&](auto done) { stream_.async_read_some(buffer_.prepare(4096), done); }, &ec);
    }
    return ec;
  }

 private:
  template <typename Start>
  void Bounded(Start start, beast::error_code* ec) {
    stream_.expires_after(kBound);
    start([ec](beast::error_code e, size_t) { *ec = e; });
    ioc_.restart();
    ioc_.run();
  }

  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

class AdminHttpServerTest : public ::testing::Test {
 protected:
  AdminHandlers Handlers() {
    AdminHandlers h;
    h.metrics_text = [] { return std::string(kMetricsText); };
    h.info = [] { return nlohmann::json{{"bookieId", "127.0.0.1:3181"}, {"version", "0.1.0"}}; };
    h.state = [this] {
      if (state_throws_) throw std::runtime_error("state is broken");
      return nlohmann::json{{"writable", writable_.load()}, {"ledgers", 3}};
    };
    h.ready = [this](std::string* reason) {
      if (!writable_) *reason = "disk full: /data/ledgers at 96%";
      return writable_.load();
    };
    h.read_only = [this]() -> Result<nlohmann::json> {
      return nlohmann::json{{"readOnly", !writable_.load()}};
    };
    h.set_read_only = [this](bool on) -> Result<nlohmann::json> {
      writable_ = !on;
      return nlohmann::json{{"readOnly", on}};
    };
    h.list_bookies = [](bool read_only, bool hostnames) -> Result<nlohmann::json> {
      std::string id = read_only ? "10.0.0.2:3181" : "10.0.0.1:3181";
      return nlohmann::json{
          {id, hostnames ? nlohmann::json(id.substr(0, id.find(':'))) : nlohmann::json()}};
    };
    h.list_ledgers = []() -> Result<nlohmann::json> {
      return nlohmann::json{{"1", nullptr}, {"7", nullptr}};
    };
    h.trigger_gc = [this](std::string_view compaction) -> Result<nlohmann::json> {
      if (!gc_error_.ok()) return gc_error_;
      std::lock_guard<std::mutex> lock(mu_);
      asked_.emplace_back(compaction);
      return nlohmann::json{{"passId", asked_.size()}, {"compaction", compaction}};
    };
    h.gc_state = [this]() -> Result<nlohmann::json> {
      if (!gc_error_.ok()) return gc_error_;
      return nlohmann::json{{"is_in_force_gc", "true"}, {"requestedPass", 2}};
    };
    h.gc_details = [this]() -> Result<nlohmann::json> {
      if (!gc_error_.ok()) return gc_error_;
      return nlohmann::json{{"passes", nlohmann::json::array({{{"id", 2}}})}};
    };
    h.suspend_compaction = [this](bool suspend, bool major, bool minor) -> Result<nlohmann::json> {
      if (!gc_error_.ok()) return gc_error_;
      std::lock_guard<std::mutex> lock(mu_);
      if (major) major_suspended_ = suspend;
      if (minor) minor_suspended_ = suspend;
      return SuspensionLocked();
    };
    h.compaction_suspension = [this]() -> Result<nlohmann::json> {
      if (!gc_error_.ok()) return gc_error_;
      std::lock_guard<std::mutex> lock(mu_);
      return SuspensionLocked();
    };
    return h;
  }

  nlohmann::json SuspensionLocked() const {
    return {{"isMajorGcSuspended", major_suspended_ ? "true" : "false"},
            {"isMinorGcSuspended", minor_suspended_ ? "true" : "false"}};
  }

  // The compactions trigger_gc was asked for, in order.
  std::vector<std::string> Asked() {
    std::lock_guard<std::mutex> lock(mu_);
    return asked_;
  }

  std::unique_ptr<AdminHttpServer> Start(AdminHttpOptions options = {}) {
    options.bind_address = "127.0.0.1";
    options.port = 0;
    auto server = AdminHttpServer::Start(options, Handlers());
    if (!server.ok()) {
      ADD_FAILURE() << server.status().ToString();
      return nullptr;
    }
    return std::move(server).value();
  }

  std::atomic<bool> writable_{true};
  std::atomic<bool> state_throws_{false};
  Status gc_error_;  // set before the server starts: what the gc handlers fail with
  std::mutex mu_;
  std::vector<std::string> asked_;  // guarded by mu_
  bool major_suspended_ = false;     // guarded by mu_
  bool minor_suspended_ = false;     // guarded by mu_
};

TEST_F(AdminHttpServerTest, ServesMetricsAsPrometheusText) {
  auto server = Start();
  ASSERT_NE(server, nullptr);
  EXPECT_NE(server->port(), 0);
  Client c(server->port());
  Response r = c.Get("/metrics");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.body(), kMetricsText);
  // A query string does not change the route.
  EXPECT_EQ(c.Get("/metrics?name[]=up").result_int(), 200);
}

TEST_F(AdminHttpServerTest, ServesInfoAndStateAsJson) {
  auto server = Start();
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  Response info = c.Get("/api/v1/bookie/info");
  EXPECT_EQ(info.result_int(), 200);
  EXPECT_EQ(info[http::field::content_type], "application/json");
  EXPECT_EQ(nlohmann::json::parse(info.body()),
            (nlohmann::json{{"bookieId", "127.0.0.1:3181"}, {"version", "0.1.0"}}));
  Response state = c.Get("/api/v1/bookie/state");
  EXPECT_EQ(state.result_int(), 200);
  EXPECT_EQ(nlohmann::json::parse(state.body()),
            (nlohmann::json{{"writable", true}, {"ledgers", 3}}));
}

TEST_F(AdminHttpServerTest, ReadyIs503WithTheReasonWhileLiveStays200) {
  auto server = Start();
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  for (const char* ready : {"/health/ready", "/health"}) {  // /health is the older name of ready
    Response ok = c.Get(ready);
    EXPECT_EQ(ok.result_int(), 200) << ready;
    EXPECT_EQ(nlohmann::json::parse(ok.body())["status"], "ready") << ready;
  }
  EXPECT_EQ(c.Get("/health/live").result_int(), 200);
  writable_ = false;
  for (const char* ready : {"/health/ready", "/health"}) {
    Response down = c.Get(ready);
    EXPECT_EQ(down.result_int(), 503) << ready;
    EXPECT_EQ(down[http::field::content_type], "application/json");
    nlohmann::json body = nlohmann::json::parse(down.body());
    EXPECT_EQ(body["status"], "not-ready");
    EXPECT_EQ(body["reason"], "disk full: /data/ledgers at 96%");
  }
  Response live = c.Get("/health/live");
  EXPECT_EQ(live.result_int(), 200) << "a read-only bookie still serves reads: it is alive";
  EXPECT_EQ(nlohmann::json::parse(live.body())["status"], "live");
  // BookKeeper's liveness URL answers as BookKeeper's does.
  Response heartbeat = c.Get("/heartbeat");
  EXPECT_EQ(heartbeat.result_int(), 200);
  EXPECT_EQ(heartbeat.body(), "OK\n");
}

TEST_F(AdminHttpServerTest, PutReadOnlyTakesBookKeepersBodyAndAnswersTheNewState) {
  auto server = Start();
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  EXPECT_EQ(nlohmann::json::parse(c.Get("/api/v1/bookie/state/readonly").body()),
            (nlohmann::json{{"readOnly", false}}));
  Response on = c.Put("/api/v1/bookie/state/readonly", R"({"readOnly": true})");
  EXPECT_EQ(on.result_int(), 200);
  EXPECT_EQ(nlohmann::json::parse(on.body())["readOnly"], true);
  EXPECT_FALSE(writable_.load());
  EXPECT_EQ(nlohmann::json::parse(c.Get("/api/v1/bookie/state/readonly").body())["readOnly"],
            true);
  for (const char* bad : {"", "[]", R"({"readOnly": "yes"})", R"({"readonly": false})",
                          R"({"readOnly": false, "other": 1})", "not json"}) {
    Response r = c.Put("/api/v1/bookie/state/readonly", bad);
    EXPECT_EQ(r.result_int(), 400) << bad;
    EXPECT_TRUE(nlohmann::json::parse(r.body()).contains("error")) << bad;
  }
  EXPECT_FALSE(writable_.load()) << "a refused body changed nothing";
  Response off = c.Put("/api/v1/bookie/state/readonly", R"({"readOnly": false})");
  EXPECT_EQ(off.result_int(), 200);
  EXPECT_TRUE(writable_.load());
}

TEST_F(AdminHttpServerTest, ListBookiesAndLedgersInBookKeepersShape) {
  auto server = Start();
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  auto get = [&](const std::string& target) {
    Response r = c.Get(target);
    EXPECT_EQ(r.result_int(), 200) << target;
    return nlohmann::json::parse(r.body());
  };
  EXPECT_EQ(get("/api/v1/bookie/list_bookies"), (nlohmann::json{{"10.0.0.1:3181", nullptr}}));
  EXPECT_EQ(get("/api/v1/bookie/list_bookies?type=rw"),
            (nlohmann::json{{"10.0.0.1:3181", nullptr}}));
  EXPECT_EQ(get("/api/v1/bookie/list_bookies?type=ro&print_hostnames=true"),
            (nlohmann::json{{"10.0.0.2:3181", "10.0.0.2"}}));
  EXPECT_EQ(c.Get("/api/v1/bookie/list_bookies?type=all").result_int(), 400);
  EXPECT_EQ(c.Get("/api/v1/bookie/list_bookies?print_hostnames=1").result_int(), 400);
  nlohmann::json ledgers{{"1", nullptr}, {"7", nullptr}};
  EXPECT_EQ(get("/api/v1/bookie/list_ledger"), ledgers);
  EXPECT_EQ(get("/api/v1/ledger/list"), ledgers);  // BookKeeper's path
  EXPECT_EQ(c.Get("/api/v1/bookie/list_ledger?print_metadata=true").result_int(), 400);
}

TEST_F(AdminHttpServerTest, UnknownPathIs404AndOtherMethodsAre405) {
  auto server = Start();
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  Response missing = c.Get("/api/v1/nope");
  EXPECT_EQ(missing.result_int(), 404);
  EXPECT_EQ(missing[http::field::content_type], "application/json");
  EXPECT_EQ(nlohmann::json::parse(missing.body())["error"], "not found");
  for (http::verb method : {http::verb::post, http::verb::delete_, http::verb::put}) {
    Response r = c.Call(method, "/health");
    EXPECT_EQ(r.result_int(), 405) << method;
    EXPECT_EQ(r[http::field::allow], "GET, HEAD");
    EXPECT_EQ(nlohmann::json::parse(r.body())["error"], "method not allowed");
  }
}

TEST_F(AdminHttpServerTest, GcRoutesAnswerTheHandlersJson) {
  auto server = Start();
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  Response state = c.Get("/api/v1/bookie/gc");
  EXPECT_EQ(state.result_int(), 200);
  EXPECT_EQ(state[http::field::content_type], "application/json");
  EXPECT_EQ(nlohmann::json::parse(state.body())["is_in_force_gc"], "true");
  Response details = c.Get("/api/v1/bookie/gc_details");
  EXPECT_EQ(details.result_int(), 200);
  EXPECT_EQ(nlohmann::json::parse(details.body())["passes"][0]["id"], 2);
  Response head = c.Call(http::verb::head, "/api/v1/bookie/gc");
  EXPECT_EQ(head.result_int(), 200);
  EXPECT_EQ(head.body(), "");
  EXPECT_TRUE(Asked().empty());  // GET and HEAD never trigger a pass
}

TEST_F(AdminHttpServerTest, PutGcTriggersAPassWithTheCompactionTheBodyAsksFor) {
  auto server = Start();
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  // BookKeeper's clients send no body, or {"forceMajor": ..., "forceMinor": ...}.
  Response r = c.Put("/api/v1/bookie/gc", "");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(nlohmann::json::parse(r.body()),
            (nlohmann::json{{"passId", 1}, {"compaction", "major"}}));
  EXPECT_EQ(c.Put("/api/v1/bookie/gc", R"({"forceMinor": true})").result_int(), 200);
  EXPECT_EQ(c.Put("/api/v1/bookie/gc", R"({"forceMajor": true, "forceMinor": true})")
                .result_int(), 200);
  EXPECT_EQ(c.Put("/api/v1/bookie/gc", R"({"forceMajor": false, "forceMinor": false})")
                .result_int(), 200);
  EXPECT_EQ(c.Put("/api/v1/bookie/gc", R"({"compaction": "minor"})").result_int(), 200);
  EXPECT_EQ(c.Put("/api/v1/bookie/gc", " {} \n").result_int(), 200);
  EXPECT_EQ(Asked(), (std::vector<std::string>{"major", "minor", "major", "none", "minor", "major"}));
}

TEST_F(AdminHttpServerTest, ABadGcBodyIs400WithAClearMessageAndTriggersNothing) {
  auto server = Start();
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  const std::pair<std::string, std::string> cases[] = {
      {"{forceMajor: true}", "the body is not JSON: "},
      {"[true]", "the body must be a JSON object"},
      {R"({"forceMajor": "yes"})", "forceMajor must be true or false"},
      {R"({"forcemajor": true})", "unknown key \"forcemajor\""},
      {R"({"compaction": "full"})", "compaction must be \"none\", \"minor\" or \"major\", not \"full\""},
      {R"({"compaction": 2})", "compaction must be"},
      {R"({"compaction": "minor", "forceMajor": true})", "give either compaction or forceMajor"},
  };
  for (const auto& [body, message] : cases) {
    Response r = c.Put("/api/v1/bookie/gc", body);
    EXPECT_EQ(r.result_int(), 400) << body;
    std::string error = nlohmann::json::parse(r.body())["error"];
    EXPECT_EQ(error.rfind(message, 0), 0u) << body << " -> " << error;
  }
  EXPECT_TRUE(Asked().empty());
  EXPECT_EQ(c.Get("/health").result_int(), 200);  // the connection is still usable
}

TEST_F(AdminHttpServerTest, CompactionIsSuspendedAndResumedWithBookKeepersBodies) {
  auto server = Start();
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  auto suspended = [](const Response& r) {
    nlohmann::json j = nlohmann::json::parse(r.body());
    return std::pair<std::string, std::string>(j["isMajorGcSuspended"], j["isMinorGcSuspended"]);
  };
  using Pair = std::pair<std::string, std::string>;
  Response r = c.Get("/api/v1/bookie/gc/suspend_compaction");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(suspended(r), Pair("false", "false"));
  r = c.Put("/api/v1/bookie/gc/suspend_compaction", R"({"suspendMajor": "true"})");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(suspended(r), Pair("true", "false"));
  r = c.Put("/api/v1/bookie/gc/suspend_compaction", "");  // no body: both
  EXPECT_EQ(suspended(r), Pair("true", "true"));
  r = c.Put("/api/v1/bookie/gc/resume_compaction", R"({"resumeMajor": true, "resumeMinor": false})");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(suspended(r), Pair("false", "true"));
  EXPECT_EQ(suspended(c.Get("/api/v1/bookie/gc/resume_compaction")), Pair("false", "true"));
  for (const char* body : {R"({"resumeMajor": "yes"})", R"({"suspendMajor": "true"})", "[1]",
                           "{"}) {
    r = c.Put("/api/v1/bookie/gc/resume_compaction", body);
    EXPECT_EQ(r.result_int(), 400) << body;
  }
  r = c.Put("/api/v1/bookie/gc/resume_compaction", R"({"suspendMajor": "true"})");
  EXPECT_EQ(nlohmann::json::parse(r.body())["error"],
            "unknown key \"suspendMajor\" (known: resumeMajor, resumeMinor)");
  EXPECT_EQ(suspended(c.Put("/api/v1/bookie/gc/resume_compaction", "")), Pair("false", "false"));
}

TEST_F(AdminHttpServerTest, GcRoutesAre503WhileTheBookieStartsOrStopsAnd500OnOtherErrors) {
  gc_error_ = FailedPrecondition("the bookie is starting or stopping");
  auto server = Start();
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  for (Response r : {c.Put("/api/v1/bookie/gc", ""), c.Get("/api/v1/bookie/gc"),
                     c.Get("/api/v1/bookie/gc_details")}) {
    EXPECT_EQ(r.result_int(), 503);
    EXPECT_EQ(nlohmann::json::parse(r.body())["error"], "the bookie is starting or stopping");
  }
  server.reset();
  gc_error_ = Status(StatusCode::kIOError, "index: EIO");
  server = Start();
  ASSERT_NE(server, nullptr);
  Client d(server->port());
  Response r = d.Get("/api/v1/bookie/gc_details");
  EXPECT_EQ(r.result_int(), 500);
  EXPECT_EQ(nlohmann::json::parse(r.body())["error"], "index: EIO");
}

TEST_F(AdminHttpServerTest, OtherMethodsOnTheGcRoutesAre405WithTheirAllowHeader) {
  auto server = Start();
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  for (http::verb method : {http::verb::post, http::verb::delete_, http::verb::patch}) {
    Response r = c.Call(method, "/api/v1/bookie/gc");
    EXPECT_EQ(r.result_int(), 405) << method;
    EXPECT_EQ(r[http::field::allow], "GET, HEAD, PUT");
  }
  Response details = c.Put("/api/v1/bookie/gc_details", "");
  EXPECT_EQ(details.result_int(), 405);
  EXPECT_EQ(details[http::field::allow], "GET, HEAD");
  EXPECT_TRUE(Asked().empty());
}

TEST_F(AdminHttpServerTest, HeadAnswersTheHeadersWithoutTheBody) {
  auto server = Start();
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  Response r = c.Call(http::verb::head, "/metrics");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r[http::field::content_length], std::to_string(kMetricsText.size()));
  EXPECT_EQ(r.body(), "");
  // The connection is still in step: the next answer parses.
  EXPECT_EQ(c.Get("/health").result_int(), 200);
}

TEST_F(AdminHttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  auto server = Start();
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  for (int i = 0; i < 3; ++i) {
    Response r = c.Get(i % 2 ? "/health" : "/metrics");
    EXPECT_EQ(r.result_int(), 200);
    EXPECT_TRUE(r.keep_alive());
  }
  // Connection: close is honoured: the answer comes, then the server closes.
  Response last = c.Call(http::verb::get, "/health", /*keep_alive=*/false);
  EXPECT_EQ(last.result_int(), 200);
  EXPECT_FALSE(last.keep_alive());
  EXPECT_EQ(c.WaitForClose(), asio::error::eof);
}

TEST_F(AdminHttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  auto server = Start();
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  c.SendRaw(
      "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.Read().result_int(), 200);
  EXPECT_EQ(c.Read().result_int(), 404);
}

TEST_F(AdminHttpServerTest, OversizedHeadersAreRefusedWith431AndClosed) {
  auto server = Start();  // max_header_bytes 8 KiB
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  c.SendRaw("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(16 * 1024, 'a') +
            "\r\n\r\n");
  Response r = c.Read();
  EXPECT_EQ(r.result_int(), 431);
  EXPECT_FALSE(r.keep_alive());
  EXPECT_EQ(c.WaitForClose(), asio::error::eof);
}

TEST_F(AdminHttpServerTest, OversizedBodyIsRefusedWith413AndClosed) {
  auto server = Start();  // max_body_bytes 8 KiB
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  c.SendRaw("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n" +
            std::string(1024, 'b'));
  Response r = c.Read();
  EXPECT_EQ(r.result_int(), 413);
  EXPECT_EQ(c.WaitForClose(), asio::error::eof);
}

TEST_F(AdminHttpServerTest, MalformedRequestIs400AndClosed) {
  auto server = Start();
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  c.SendRaw("GET /metrics HTTP/9\r\n\r\n");
  EXPECT_EQ(c.Read().result_int(), 400);
  EXPECT_EQ(c.WaitForClose(), asio::error::eof);
}

TEST_F(AdminHttpServerTest, HandlerExceptionIs500AndTheServerKeepsServing) {
  auto server = Start();
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  state_throws_ = true;
  Response r = c.Get("/api/v1/bookie/state");
  EXPECT_EQ(r.result_int(), 500);
  EXPECT_EQ(nlohmann::json::parse(r.body())["error"], "state is broken");
  EXPECT_EQ(c.Get("/health").result_int(), 200);
}

TEST_F(AdminHttpServerTest, SilentClientIsClosedAfterTheReadTimeout) {
  AdminHttpOptions options;
  options.read_timeout = std::chrono::milliseconds(200);
  auto server = Start(options);
  ASSERT_NE(server, nullptr);
  Client silent(server->port());
  EXPECT_EQ(silent.WaitForClose(), asio::error::eof);
  // A request that never completes (a slowloris trickle) is closed the same way, unanswered.
  Client trickle(server->port());
  trickle.SendRaw("GET /metrics HTTP/1.1\r\nHost:");
  EXPECT_EQ(trickle.WaitForClose(), asio::error::eof);
  // An idle keep-alive connection too, after its answered request.
  Client idle(server->port());
  EXPECT_EQ(idle.Get("/health").result_int(), 200);
  EXPECT_EQ(idle.WaitForClose(), asio::error::eof);
}

TEST_F(AdminHttpServerTest, StopClosesOpenConnectionsAndIsIdempotent) {
  auto server = Start();  // read timeout 10 s: only Stop() can close these in time
  ASSERT_NE(server, nullptr);
  Client idle(server->port());
  Client partial(server->port());
  partial.SendRaw("GET /metr");
  // Connections are accepted in order, so this answer means all three are open on the server.
  Client served(server->port());
  EXPECT_EQ(served.Get("/health").result_int(), 200);
  server->Stop();
  EXPECT_EQ(idle.WaitForClose(), asio::error::eof);
  EXPECT_EQ(served.WaitForClose(), asio::error::eof);
  // If the server had not read the partial request yet, closing with unread input is a reset.
  beast::error_code partial_end = partial.WaitForClose();
  EXPECT_TRUE(partial_end == asio::error::eof || partial_end == asio::error::connection_reset)
      << partial_end.message();
  server->Stop();
  // The port is closed: a new connection is refused.
  EXPECT_THROW(Client late(server->port()), boost::system::system_error);
  server.reset();  // the destructor after Stop() is a no-op
}

TEST_F(AdminHttpServerTest, SeveralThreadsServeConcurrentClients) {
  AdminHttpOptions options;
  options.threads = 3;
  auto server = Start(options);
  ASSERT_NE(server, nullptr);
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&] {
      Client c(server->port());
      for (int j = 0; j < 20; ++j) ok += c.Get("/metrics").result_int() == 200 ? 1 : 0;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok, 80);
}

TEST_F(AdminHttpServerTest, PortInUseIsAClearError) {
  auto first = Start();
  ASSERT_NE(first, nullptr);
  AdminHttpOptions options;
  options.bind_address = "127.0.0.1";
  options.port = first->port();
  auto second = AdminHttpServer::Start(options, Handlers());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kIOError);
  EXPECT_EQ(second.status().sys_errno(), EADDRINUSE);
  EXPECT_EQ(second.status().message(),
            "admin HTTP server: cannot listen on 127.0.0.1:" + std::to_string(first->port()) +
                ": Address already in use");
}

TEST_F(AdminHttpServerTest, BadOptionsAreInvalidArguments) {
  AdminHttpOptions bad_address;
  bad_address.bind_address = "not-an-address";
  auto r1 = AdminHttpServer::Start(bad_address, Handlers());
  ASSERT_FALSE(r1.ok());
  EXPECT_EQ(r1.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r1.status().message().find("'not-an-address'"), std::string::npos);

  AdminHttpOptions no_threads;
  no_threads.port = 0;
  no_threads.threads = 0;
  EXPECT_EQ(AdminHttpServer::Start(no_threads, Handlers()).status().code(),
            StatusCode::kInvalidArgument);

  AdminHttpOptions any_port;
  any_port.port = 0;
  AdminHandlers missing = Handlers();
  missing.state = nullptr;
  EXPECT_EQ(AdminHttpServer::Start(any_port, missing).status().code(),
            StatusCode::kInvalidArgument);
  AdminHandlers no_gc = Handlers();
  no_gc.gc_details = nullptr;
  EXPECT_EQ(AdminHttpServer::Start(any_port, no_gc).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace quire::bookie
