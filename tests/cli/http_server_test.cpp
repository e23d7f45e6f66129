// cli::HttpServer end to end in memory: a client connection on one stack (tests/tcp/two_stacks_harness.hpp)
// sends raw request bytes to the server on the other, and the whole response, byte for byte, is asserted:
// 200 with the file, 405 with Allow, 501 for Transfer-Encoding, 400 for traversal and NUL, 404, 431, 414.
#include "cli/http_server.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "two_stacks_harness.hpp"

namespace tapstack::cli {
namespace {

using tcp::testing::TwoStacks;
using namespace std::string_view_literals;

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tapstack-http-server-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    std::filesystem::create_directories(base_ / "root" / "dir");
    std::ofstream{base_ / "root" / "index.html"} << "<p>hello</p>\n";
    std::ofstream{base_ / "root" / "dir" / "a.txt"} << "abc";
    std::ofstream{base_ / "secret.txt"} << "outside";
    const auto l = stacks_.tcp_b.listen({TwoStacks::kAddrB, 80}, 16);
    ASSERT_TRUE(l);
    HttpConfig cfg;
    cfg.root = base_ / "root";
    cfg.max_head = 1024;
    cfg.max_target = 256;
    server_.emplace(stacks_.tcp_b, *l, cfg);
  }
  void TearDown() override {
    server_.reset();
    std::error_code ec;
    std::filesystem::remove_all(base_, ec);
  }

  // Connects, sends `request` (and half-closes when `half_close`), and returns every byte the server sent
  // until its FIN. Bounded in rounds and in virtual time.
  std::string exchange(std::string_view request, bool half_close = false) {
    const auto c = stacks_.tcp_a.connect(stacks_.now(), {TwoStacks::kAddrB, 80});
    EXPECT_TRUE(c);
    if (!c) return {};
    const Instant give_up = stacks_.now() + seconds{20};
    std::size_t sent = 0;
    std::string got;
    std::array<std::byte, 4096> buf{};
    for (int round = 0; round < 100000 && stacks_.now() < give_up; ++round) {
      stacks_.poll();
      server_->step(stacks_.now());
      const tcp::Connection* p = stacks_.tcp_a.find(*c);
      if (p == nullptr || p->state() == tcp::State::kClosed) break;
      tcp::Connection& m = *stacks_.tcp_a.connection(*c);
      if (m.is_established() && sent < request.size()) {
        sent += m.send(as_bytes(std::span{request}.subspan(sent)));
        if (sent == request.size() && half_close) m.close();
      }
      while (const std::size_t n = m.recv(buf)) got.append(reinterpret_cast<const char*>(buf.data()), n);
      if (m.recv_finished()) break;
      if (!stacks_.advance()) break;
    }
    stacks_.tcp_a.close(stacks_.now(), *c);
    return got;
  }

  static std::string error(int status, std::string_view reason, bool with_body = true) {
    const std::string body = std::to_string(status) + " " + std::string(reason) + "\n";
    std::string r = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
                    "\r\nServer: tapstack\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n" + (status == 405 ? "Allow: GET, HEAD\r\n" : "") +
                    "Connection: close\r\n\r\n";
    return with_body ? r + body : r;
  }

  std::filesystem::path base_;
  TwoStacks stacks_{TwoStacks::Options{}};
  std::optional<HttpServer> server_;
};

TEST_F(HttpServerTest, GetServesTheFileAndCloses) {
  EXPECT_EQ(exchange("GET /dir/a.txt HTTP/1.1\r\nHost: www.example.test\r\nConnection: close\r\n\r\n"),
            "HTTP/1.1 200 OK\r\nServer: tapstack\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 3\r\nConnection: close\r\n\r\nabc");
  EXPECT_EQ(server_->counters().status_200, 1u);
}

TEST_F(HttpServerTest, Http10HeadOfTheIndexHasNoBody) {
  EXPECT_EQ(exchange("HEAD / HTTP/1.0\r\n\r\n"),
            "HTTP/1.1 200 OK\r\nServer: tapstack\r\nContent-Type: text/html; charset=utf-8\r\n"
            "Content-Length: 13\r\nConnection: close\r\n\r\n");
}

TEST_F(HttpServerTest, KeepAlivePipelinedRequestsThenClose) {
  EXPECT_EQ(exchange("GET /dir/a.txt HTTP/1.1\r\nHost: a\r\n\r\nGET /dir/a.txt HTTP/1.1\r\nHost: a\r\n"
                     "Connection: close\r\n\r\n"),
            "HTTP/1.1 200 OK\r\nServer: tapstack\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 3\r\nConnection: keep-alive\r\n\r\nabc"
            "HTTP/1.1 200 OK\r\nServer: tapstack\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 3\r\nConnection: close\r\n\r\nabc");
  EXPECT_EQ(server_->counters().requests, 2u);
}

TEST_F(HttpServerTest, OtherMethodsAre405WithAllow) {
  EXPECT_EQ(exchange("DELETE /index.html HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"),
            error(405, "Method Not Allowed"));
  EXPECT_EQ(exchange("get / HTTP/1.0\r\n\r\n"), error(405, "Method Not Allowed"));  // methods are case-sensitive
  EXPECT_EQ(server_->counters().status_405, 2u);
}

TEST_F(HttpServerTest, TransferEncodingIs501) {
  EXPECT_EQ(exchange("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            error(501, "Not Implemented"));
}

TEST_F(HttpServerTest, TraversalAndNulAre400) {
  EXPECT_EQ(exchange("GET /../secret.txt HTTP/1.0\r\n\r\n"), error(400, "Bad Request"));
  EXPECT_EQ(exchange("GET /%2e%2e/secret.txt HTTP/1.0\r\n\r\n"), error(400, "Bad Request"));
  EXPECT_EQ(exchange("GET /index.html%00.txt HTTP/1.0\r\n\r\n"), error(400, "Bad Request"));
  EXPECT_EQ(exchange("GET /index.html\0.txt HTTP/1.0\r\n\r\n"sv), error(400, "Bad Request"));
  EXPECT_EQ(exchange("HEAD / HTTP/1.0\r\nX-A: a\0b\r\n\r\n"sv), error(400, "Bad Request", false));
  EXPECT_EQ(server_->counters().status_400, 5u);
}

TEST_F(HttpServerTest, MissingFileIs404) { EXPECT_EQ(exchange("GET /nope HTTP/1.0\r\n\r\n"), error(404, "Not Found")); }

TEST_F(HttpServerTest, OtherVersionIs505) {
  EXPECT_EQ(exchange("GET / HTTP/2.0\r\n\r\n"), error(505, "HTTP Version Not Supported"));
}

TEST_F(HttpServerTest, HeaderFieldsBeyondMaxHeadAre431) {
  std::string req = "GET / HTTP/1.0\r\n";
  while (req.size() < 1100) req += "X-Filler: 0123456789abcdef\r\n";
  EXPECT_EQ(exchange(req), error(431, "Request Header Fields Too Large"));
}

TEST_F(HttpServerTest, RequestLineBeyondMaxTargetIs414) {
  EXPECT_EQ(exchange("GET /" + std::string(400, 'a') + " HTTP/1.0\r\n\r\n"), error(414, "URI Too Long"));
  EXPECT_EQ(exchange("GET /" + std::string(400, 'a')), error(414, "URI Too Long"));  // no line end at all
}

TEST_F(HttpServerTest, IncompleteHeadThenPeerCloseGetsNoResponse) {
  EXPECT_EQ(exchange("GET / HTTP/1.1\r\nHost: a\r\n", /*half_close=*/true), "");
  EXPECT_EQ(server_->counters().requests, 0u);
}

}  // namespace
}  // namespace tapstack::cli
