// libFuzzer target for cli/http_parse: arbitrary bytes as what a client sent to `tapstack serve --http`. They go
// through the server's own sequence (scan the buffered bytes, parse each complete head, resolve GET/HEAD targets
// against a temporary root holding symlinks that lead out of it), and the whole input is also resolved as a
// target. Statuses must be ones the server knows; a resolved path must be a regular file inside the root.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "cli/http_parse.hpp"

namespace {

namespace fs = std::filesystem;
using tapstack::cli::HttpRequest;

constexpr std::size_t kMaxHead = 1024;   // small limits, so the fuzzer reaches 414 and 431 quickly
constexpr std::size_t kMaxTarget = 256;
constexpr int kMaxRequests = 16;          // pipelined requests per input

fs::path g_base, g_root;

void remove_root() {
  std::error_code ec;
  fs::remove_all(g_base, ec);
}

void make_root() {
  char tmpl[] = "/tmp/tapstack-http-fuzz-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) std::abort();
  g_base = tmpl;
  fs::create_directories(g_base / "root" / "dir");
  std::ofstream{g_base / "root" / "index.html"} << "top";
  std::ofstream{g_base / "root" / "dir" / "file.txt"} << "file";
  std::ofstream{g_base / "secret.txt"} << "outside";
  fs::create_symlink(g_base / "secret.txt", g_base / "root" / "escape.txt");
  fs::create_symlink(g_base, g_base / "root" / "up");
  g_root = fs::canonical(g_base / "root");
  std::atexit(remove_root);
}

bool inside_root(const fs::path& p) {
  return std::mismatch(g_root.begin(), g_root.end(), p.begin(), p.end()).first == g_root.end();
}

void check_resolve(std::string_view target) {
  const auto r = tapstack::cli::resolve_http_target(g_root, target);
  if (r.status != 0 && r.status != 400 && r.status != 404) std::abort();
  if (r.status != 0) return;
  std::error_code ec;
  if (!inside_root(r.path) || !fs::is_regular_file(r.path, ec)) std::abort();
  const fs::path canon = fs::canonical(r.path, ec);
  if (ec || canon != r.path || !inside_root(canon)) std::abort();  // returned paths are already canonical
}

bool has_ctl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return (c >= 0 && c < 0x20) || c == 0x7f; });
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  make_root();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input{reinterpret_cast<const char*>(data), size};
  std::size_t pos = 0;
  for (int n = 0; n < kMaxRequests && pos < input.size(); ++n) {
    // The server's buffer holds at most max_head bytes of the next request.
    const std::string_view buf = input.substr(pos, kMaxHead);
    const auto scan = tapstack::cli::scan_http_input(buf, kMaxHead, kMaxTarget);
    if (scan.skip > buf.size() || scan.head_len > buf.size() - scan.skip) std::abort();
    if (scan.status != 0 && scan.status != 414 && scan.status != 431) std::abort();
    if (scan.status != 0 && scan.head_len != 0) std::abort();
    if (scan.head_len == 0) break;
    const std::string_view head = buf.substr(scan.skip, scan.head_len);
    const auto p = tapstack::cli::parse_http_head(head, kMaxTarget);
    switch (p.status) {
      case 0: {
        const std::string_view t = p.request.target;
        if (t.empty() || t.size() > kMaxTarget || has_ctl(t)) std::abort();
        if (t.data() < head.data() || t.data() + t.size() > head.data() + head.size()) std::abort();
        if (p.request.minor_version != 0 && p.request.minor_version != 1) std::abort();
        if (p.request.method != HttpRequest::Method::kOther) check_resolve(t);
        break;
      }
      case 400:
      case 414:
      case 501:
      case 505:
        break;
      default:
        std::abort();
    }
    pos += scan.skip + scan.head_len;
  }
  if (size <= 2 * kMaxTarget) check_resolve(input);
  return 0;
}
