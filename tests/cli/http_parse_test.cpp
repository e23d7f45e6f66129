// cli/http_parse: the HTTP/1.x request head scanner and parser (RFC 9112) and the target resolver confined to
// the root, fed hostile bytes the way a client on the network can send them. Every case asserts the exact status.
#include "cli/http_parse.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace tapstack::cli {
namespace {

using namespace std::string_view_literals;
using Method = HttpRequest::Method;
constexpr std::size_t kMaxTarget = 2048;

HttpParse parse(std::string_view head) { return parse_http_head(head, kMaxTarget); }

// ---------------------------------------------------------------------------------------------------
// find_http_head_end / scan_http_input

TEST(HttpHeadEnd, CrlfAndBareLfTerminators) {
  EXPECT_EQ(find_http_head_end("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), std::optional<std::size_t>{27});
  EXPECT_EQ(find_http_head_end("GET / HTTP/1.0\n\n"), std::optional<std::size_t>{16});  // RFC 9112 §2.2
  EXPECT_EQ(find_http_head_end("GET / HTTP/1.0\r\n\nrest"), std::optional<std::size_t>{17});
  EXPECT_EQ(find_http_head_end("GET / HTTP/1.0\n\r\nbody"), std::optional<std::size_t>{17});
}

TEST(HttpHeadEnd, IncompleteHeads) {
  EXPECT_EQ(find_http_head_end(""), std::nullopt);
  EXPECT_EQ(find_http_head_end("GET / HTTP/1.1"), std::nullopt);
  EXPECT_EQ(find_http_head_end("GET / HTTP/1.1\r\nHost: a\r\n"), std::nullopt);  // no empty line yet
  EXPECT_EQ(find_http_head_end("GET / HTTP/1.1\r\n\r"), std::nullopt);
  EXPECT_EQ(find_http_head_end("GET / HTTP/1.1\r\r\n\r\r\n"), std::nullopt);  // bare CRs end no line
}

TEST(HttpScan, SkipsEmptyLinesBeforeTheRequestLine) {
  const auto s = scan_http_input("\r\n\r\n\nGET / HTTP/1.0\r\n\r\n", 8192, kMaxTarget);
  EXPECT_EQ(s.skip, 5u);
  EXPECT_EQ(s.head_len, 18u);
  EXPECT_EQ(s.status, 0);
  const auto only = scan_http_input("\r\n\r\n", 8192, kMaxTarget);
  EXPECT_EQ(only.skip, 4u);
  EXPECT_EQ(only.head_len, 0u);
  EXPECT_EQ(only.status, 0);
}

TEST(HttpScan, IncompleteWaitsForMore) {
  const auto s = scan_http_input("GET /index.html HTTP/1.1\r\nHost: x\r\n", 8192, kMaxTarget);
  EXPECT_EQ(s.skip, 0u);
  EXPECT_EQ(s.head_len, 0u);
  EXPECT_EQ(s.status, 0);
}

TEST(HttpScan, OverlongRequestLineWithoutLfIs414) {
  const std::string line = "GET /" + std::string(kMaxTarget + 59, 'a');  // max_target + 64 bytes, no LF
  EXPECT_EQ(line.size(), kMaxTarget + 64);
  EXPECT_EQ(scan_http_input(line, 8192, kMaxTarget).status, 0);  // still could end in time
  EXPECT_EQ(scan_http_input(line + "a", 8192, kMaxTarget).status, 414);
  // Once a line ended, the length is the header limit's business, not 414.
  EXPECT_EQ(scan_http_input("GET / HTTP/1.1\r\n" + std::string(3000, 'x'), 8192, kMaxTarget).status, 0);
}

TEST(HttpScan, FullBufferWithoutHeadIs431) {
  std::string head = "GET / HTTP/1.1\r\n";
  while (head.size() < 8192) head += "X-Filler: 0123456789abcdef\r\n";
  head.resize(8192);
  const auto s = scan_http_input(head, 8192, kMaxTarget);
  EXPECT_EQ(s.status, 431);
  EXPECT_EQ(s.head_len, 0u);
  EXPECT_EQ(scan_http_input(std::string_view{head}.substr(0, 8191), 8192, kMaxTarget).status, 0);
  // Skipped empty lines do not count against the limit.
  EXPECT_EQ(scan_http_input("\r\n" + head.substr(0, 8190), 8192, kMaxTarget).status, 0);
}

TEST(HttpScan, HeadThatFitsExactlyIsComplete) {
  std::string head = "GET / HTTP/1.0\r\nX-Pad: ";
  head += std::string(8192 - head.size() - 4, 'p');
  head += "\r\n\r\n";
  ASSERT_EQ(head.size(), 8192u);
  const auto s = scan_http_input(head, 8192, kMaxTarget);
  EXPECT_EQ(s.head_len, 8192u);
  EXPECT_EQ(s.status, 0);
  EXPECT_EQ(parse(head).status, 0);
}

// ---------------------------------------------------------------------------------------------------
// parse_http_head: the request line (RFC 9112 §3)

TEST(HttpParseHead, Http11GetWithHost) {
  const auto p = parse("GET /a/b.html?x=1 HTTP/1.1\r\nHost: www.example.test\r\n\r\n");
  EXPECT_EQ(p.status, 0);
  EXPECT_EQ(p.request.method, Method::kGet);
  EXPECT_EQ(p.request.target, "/a/b.html?x=1");
  EXPECT_EQ(p.request.minor_version, 1);
  EXPECT_TRUE(p.request.keep_alive);  // RFC 9112 §9.3: HTTP/1.1 persists by default
  EXPECT_EQ(p.request.content_length, 0u);
}

TEST(HttpParseHead, Http10HeadWithoutHostClosesByDefault) {
  const auto p = parse("HEAD / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(p.status, 0);
  EXPECT_EQ(p.request.method, Method::kHead);
  EXPECT_EQ(p.request.minor_version, 0);
  EXPECT_FALSE(p.request.keep_alive);
}

TEST(HttpParseHead, ConnectionOptions) {
  EXPECT_TRUE(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").request.keep_alive);
  EXPECT_FALSE(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").request.keep_alive);
  EXPECT_FALSE(parse("GET / HTTP/1.1\r\nHost: a\r\nconnection: TE, CLOSE\r\n\r\n").request.keep_alive);
  EXPECT_TRUE(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n").request.keep_alive);
  EXPECT_FALSE(parse("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").request.keep_alive);
}

TEST(HttpParseHead, BareLfLines) {
  const auto p = parse("GET /x HTTP/1.1\nHost: a\n\n");
  EXPECT_EQ(p.status, 0);
  EXPECT_EQ(p.request.target, "/x");
}

TEST(HttpParseHead, MethodsOtherThanGetAndHeadAreLeftToTheServer) {
  // RFC 9110 §9.1: methods are case-sensitive; the server answers kOther with 405 and Allow: GET, HEAD.
  for (const char* m : {"POST", "PUT", "DELETE", "OPTIONS", "get", "Head", "BREW"}) {
    const auto p = parse(std::string(m) + " / HTTP/1.0\r\n\r\n");
    EXPECT_EQ(p.status, 0) << m;
    EXPECT_EQ(p.request.method, Method::kOther) << m;
  }
  EXPECT_EQ(parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").request.method, Method::kOther);  // asterisk-form
}

TEST(HttpParseHead, MalformedRequestLinesAre400) {
  EXPECT_EQ(parse("GET\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET /\r\n\r\n").status, 400);                       // HTTP/0.9 simple request
  EXPECT_EQ(parse("GET  / HTTP/1.1\r\nHost: a\r\n\r\n").status, 400);  // two spaces: empty target
  EXPECT_EQ(parse("GET / HTTP/1.1 \r\nHost: a\r\n\r\n").status, 400);  // trailing space
  EXPECT_EQ(parse(" GET / HTTP/1.1\r\nHost: a\r\n\r\n").status, 400);  // empty method
  EXPECT_EQ(parse("G(T / HTTP/1.1\r\nHost: a\r\n\r\n").status, 400);   // not a token
  EXPECT_EQ(parse("GET / http/1.1\r\nHost: a\r\n\r\n").status, 400);   // the name is case-sensitive
  EXPECT_EQ(parse("GET / HTTP/1\r\nHost: a\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.10\r\nHost: a\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET / HTTP/x.1\r\nHost: a\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n").status, 400);
  EXPECT_EQ(parse("").status, 400);
}

TEST(HttpParseHead, OtherMajorVersionsAre505AndHigherMinorsAre11) {
  EXPECT_EQ(parse("GET / HTTP/2.0\r\n\r\n").status, 505);
  EXPECT_EQ(parse("GET / HTTP/0.9\r\n\r\n").status, 505);
  const auto p = parse("GET / HTTP/1.9\r\nHost: a\r\n\r\n");
  EXPECT_EQ(p.status, 0);
  EXPECT_EQ(p.request.minor_version, 1);  // RFC 9110 §6.2
}

TEST(HttpParseHead, TargetLengthLimitIs414) {
  const std::string at_limit = "/" + std::string(kMaxTarget - 1, 'a');
  EXPECT_EQ(parse("GET " + at_limit + " HTTP/1.0\r\n\r\n").status, 0);
  EXPECT_EQ(parse("GET " + at_limit + "a HTTP/1.0\r\n\r\n").status, 414);
}

TEST(HttpParseHead, ControlCharactersInTheRequestLineAre400) {
  EXPECT_EQ(parse("GET /a\0b HTTP/1.0\r\n\r\n"sv).status, 400);
  EXPECT_EQ(parse("GET /a\rb HTTP/1.0\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET /a\x7f HTTP/1.0\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.0\r\r\n\r\n").status, 400);  // a bare CR before the line's CRLF
  EXPECT_EQ(parse("GE\0T / HTTP/1.0\r\n\r\n"sv).status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.0\0\r\n\r\n"sv).status, 400);
}

// ---------------------------------------------------------------------------------------------------
// parse_http_head: header fields (RFC 9112 §5, §6; RFC 9110 §5.5)

TEST(HttpParseHead, Http11NeedsExactlyOneHost) {
  EXPECT_EQ(parse("GET / HTTP/1.1\r\n\r\n").status, 400);  // RFC 9112 §3.2
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nHOST: b\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nhost:a\r\n\r\n").status, 0);
}

TEST(HttpParseHead, FieldSyntaxErrorsAre400) {
  EXPECT_EQ(parse("GET / HTTP/1.0\r\nNoColon\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.0\r\nHost : a\r\n\r\n").status, 400);  // RFC 9112 §5.1: no space before ':'
  EXPECT_EQ(parse("GET / HTTP/1.0\r\n: empty-name\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.0\r\nX-A: 1\r\n folded\r\n\r\n").status, 400);  // obs-fold (RFC 9112 §5.2)
  EXPECT_EQ(parse("GET / HTTP/1.0\r\n\tX-A: 1\r\n\r\n").status, 400);
}

TEST(HttpParseHead, ControlCharactersInFieldsAre400) {
  EXPECT_EQ(parse("GET / HTTP/1.0\r\nX-A: a\0b\r\n\r\n"sv).status, 400);  // NUL (RFC 9110 §5.5)
  EXPECT_EQ(parse("GET / HTTP/1.0\r\nX-A: a\rb\r\n\r\n").status, 400);    // bare CR (RFC 9112 §2.2)
  EXPECT_EQ(parse("GET / HTTP/1.0\r\nX-A: a\x01\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.0\r\nX\0A: a\r\n\r\n"sv).status, 400);
  // HTAB and obs-text are legal in a value.
  EXPECT_EQ(parse("GET / HTTP/1.0\r\nX-A: a\tb \xe9\r\n\r\n").status, 0);
}

TEST(HttpParseHead, ContentLength) {
  EXPECT_EQ(parse("GET / HTTP/1.0\r\nContent-Length: 12\r\n\r\n").request.content_length, 12u);
  EXPECT_EQ(parse("GET / HTTP/1.0\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n").request.content_length, 5u);
  EXPECT_EQ(parse("GET / HTTP/1.0\r\nContent-Length: 999999999999999999\r\n\r\n").request.content_length,
            999999999999999999u);
  // RFC 9112 §6.3: invalid or conflicting lengths are unrecoverable.
  EXPECT_EQ(parse("GET / HTTP/1.0\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.0\r\nContent-Length: -1\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.0\r\nContent-Length: 1,1\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.0\r\nContent-Length:\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.0\r\nContent-Length: 0x10\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.0\r\nContent-Length: 1000000000000000000\r\n\r\n").status, 400);  // 19 digits
}

TEST(HttpParseHead, TransferEncodingIs501) {
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n").status, 501);
  EXPECT_EQ(parse("GET / HTTP/1.0\r\ntransfer-encoding: gzip\r\n\r\n").status, 501);
}

TEST(HttpParseHead, TargetBorrowsFromTheHead) {
  const std::string head = "GET /borrowed HTTP/1.0\r\n\r\n";
  const auto p = parse(head);
  ASSERT_EQ(p.status, 0);
  EXPECT_EQ(p.request.target.data(), head.data() + 4);
}

// ---------------------------------------------------------------------------------------------------
// resolve_http_target: a temporary root with files, a subdirectory and symlinks leading out of it

class HttpResolve : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tapstack-http-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    root_ = base_ / "root";
    namespace fs = std::filesystem;
    fs::create_directories(root_ / "dir");
    fs::create_directories(root_ / "noindex");
    write(root_ / "index.html", "top");
    write(root_ / "a b.txt", "space");
    write(root_ / "100%.txt", "percent");
    write(root_ / "dir" / "index.html", "dir");
    write(root_ / "dir" / "file.txt", "file");
    write(base_ / "secret.txt", "outside");
    fs::create_symlink(base_ / "secret.txt", root_ / "escape.txt");
    fs::create_symlink(base_, root_ / "up");
    fs::create_symlink(root_ / "dir" / "file.txt", root_ / "inside.txt");
    root_ = fs::canonical(root_);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(base_, ec);
  }
  static void write(const std::filesystem::path& p, std::string_view text) { std::ofstream{p} << text; }

  int status(std::string_view target) { return resolve_http_target(root_, target).status; }
  std::filesystem::path path(std::string_view target) {
    const auto r = resolve_http_target(root_, target);
    EXPECT_EQ(r.status, 0) << target;
    return r.path;
  }

  std::filesystem::path base_, root_;
};

TEST_F(HttpResolve, FilesAndDirectoryIndexes) {
  EXPECT_EQ(path("/"), root_ / "index.html");
  EXPECT_EQ(path("/dir"), root_ / "dir" / "index.html");
  EXPECT_EQ(path("/dir/"), root_ / "dir" / "index.html");
  EXPECT_EQ(path("/dir/file.txt"), root_ / "dir" / "file.txt");
  EXPECT_EQ(path("//dir///file.txt"), root_ / "dir" / "file.txt");  // empty segments
  EXPECT_EQ(path("/./dir/./file.txt"), root_ / "dir" / "file.txt");
  EXPECT_EQ(path("/dir/file.txt?x=../../etc/passwd#frag"), root_ / "dir" / "file.txt");  // query is not path
  EXPECT_EQ(path("/inside.txt"), root_ / "dir" / "file.txt");                            // a symlink that stays inside
}

TEST_F(HttpResolve, MissingAndNotRegularAre404) {
  EXPECT_EQ(status("/nope.html"), 404);
  EXPECT_EQ(status("/noindex/"), 404);  // a directory without index.html
  EXPECT_EQ(status("/dir/file.txt/x"), 404);
}

TEST_F(HttpResolve, PercentDecoding) {
  EXPECT_EQ(path("/a%20b.txt"), root_ / "a b.txt");
  EXPECT_EQ(path("/100%25.txt"), root_ / "100%.txt");
  EXPECT_EQ(path("/%64%69%72/%66ile.txt"), root_ / "dir" / "file.txt");
  EXPECT_EQ(path("/dir%2Ffile.txt"), root_ / "dir" / "file.txt");  // an encoded slash separates segments
  EXPECT_EQ(status("/DIR/file.txt"), 404);                         // names are case-sensitive
  // Malformed escapes are 400 (RFC 3986 §2.1).
  EXPECT_EQ(status("/a%2"), 400);
  EXPECT_EQ(status("/a%"), 400);
  EXPECT_EQ(status("/a%zz"), 400);
  EXPECT_EQ(status("/a%g0.txt"), 400);
}

TEST_F(HttpResolve, DotDotSegmentsAre400BeforeAndAfterDecoding) {
  EXPECT_EQ(status("/.."), 400);
  EXPECT_EQ(status("/../secret.txt"), 400);
  EXPECT_EQ(status("/dir/../index.html"), 400);  // refused even when it would stay inside
  EXPECT_EQ(status("/%2e%2e/secret.txt"), 400);
  EXPECT_EQ(status("/%2E%2E%2Fsecret.txt"), 400);
  EXPECT_EQ(status("/.%2e/secret.txt"), 400);
  EXPECT_EQ(status("/dir/..%2f..%2fsecret.txt"), 400);
  // "..." and "..x" are ordinary names.
  EXPECT_EQ(status("/..."), 404);
  EXPECT_EQ(status("/..x"), 404);
}

TEST_F(HttpResolve, SymlinksOutOfTheRootAre404) {
  EXPECT_EQ(status("/escape.txt"), 404);
  EXPECT_EQ(status("/up/secret.txt"), 404);
  // Judged by where the file really is: out through a link and back in is inside.
  EXPECT_EQ(path("/up/root/index.html"), root_ / "index.html");
}

TEST_F(HttpResolve, NulAndControlCharactersAre400) {
  EXPECT_EQ(status("/index.html%00.txt"), 400);
  EXPECT_EQ(status("/index.html\0.txt"sv), 400);
  EXPECT_EQ(status("/dir\r/file.txt"), 400);
  EXPECT_EQ(status("/dir/\x1b"), 400);
  // An escaped control character other than NUL is only an odd file name.
  EXPECT_EQ(status("/a%0Ab"), 404);
}

TEST_F(HttpResolve, AbsoluteFormKeepsThePath) {
  // RFC 9112 §3.2.2: a server must accept the absolute form.
  EXPECT_EQ(path("http://www.example.test/dir/file.txt"), root_ / "dir" / "file.txt");
  EXPECT_EQ(path("HTTP://www.example.test:8080/dir/"), root_ / "dir" / "index.html");
  EXPECT_EQ(path("https://www.example.test"), root_ / "index.html");
  EXPECT_EQ(path("http://www.example.test?q=1"), root_ / "index.html");
  EXPECT_EQ(status("http://www.example.test/../secret.txt"), 400);
  EXPECT_EQ(status("http://www.example.test/%2e%2e/secret.txt"), 400);
}

TEST_F(HttpResolve, OtherFormsAre400) {
  EXPECT_EQ(status(""), 400);
  EXPECT_EQ(status("*"), 400);                    // asterisk-form
  EXPECT_EQ(status("www.example.test:80"), 400);  // authority-form
  EXPECT_EQ(status("index.html"), 400);
  EXPECT_EQ(status("ftp://www.example.test/"), 400);
  EXPECT_EQ(status("http:/index.html"), 400);
}

TEST(HttpContentType, ByExtensionCaseInsensitive) {
  EXPECT_EQ(http_content_type("a/index.HTML"), "text/html; charset=utf-8");
  EXPECT_EQ(http_content_type("x.json"), "application/json");
  EXPECT_EQ(http_content_type("x.tar.gz"), "application/octet-stream");
  EXPECT_EQ(http_content_type("README"), "application/octet-stream");
}

TEST(HttpReason, KnownStatuses) {
  EXPECT_EQ(http_reason(405), "Method Not Allowed");
  EXPECT_EQ(http_reason(431), "Request Header Fields Too Large");
  EXPECT_EQ(http_reason(505), "HTTP Version Not Supported");
  EXPECT_EQ(http_reason(299), "Unknown");
}

}  // namespace
}  // namespace tapstack::cli
