// The HTTP/1.x request side of `tapstack serve --http`, as pure functions over network bytes: finding and
// parsing a request head (RFC 9112) and mapping its target to a file confined to the root. cli/http_server.cpp
// drives them per connection; tests/cli and fuzz/http_fuzz.cpp drive them directly.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>

namespace tapstack::cli {

// A parsed request head. `target` borrows from the head passed to parse_http_head().
struct HttpRequest {
  enum class Method : std::uint8_t { kGet, kHead, kOther };
  Method method = Method::kOther;
  std::string_view target;
  int minor_version = 1;  // HTTP/1.<minor>
  bool keep_alive = true;
  std::uint64_t content_length = 0;  // a request body to skip
};

// `status` 0: `request` is valid; otherwise the error status to answer with (400, 414, 501, 505).
struct HttpParse {
  int status = 0;
  HttpRequest request;
};

// The length of the request head at the front of `buf` (through the empty line), or nullopt while incomplete.
// RFC 9112 §2.2: a bare LF is accepted as a line terminator.
std::optional<std::size_t> find_http_head_end(std::string_view buf) noexcept;
// Parses one complete request head (RFC 9112 §3, §5). Does not judge the method: kOther is the caller's 405.
// A NUL, a bare CR or another control character (HTAB aside) anywhere in the head is a 400 (RFC 9112 §2.2,
// RFC 9110 §5.5): the request is refused rather than repaired.
HttpParse parse_http_head(std::string_view head, std::size_t max_target) noexcept;

// What the server does with the bytes it buffered for the next request (at most max_head of them).
struct HttpHeadScan {
  std::size_t skip = 0;      // empty lines before the request-line, to drop first (RFC 9112 §2.2)
  std::size_t head_len = 0;  // > 0: a complete head of this length follows the skipped bytes
  int status = 0;            // 414 or 431: the head cannot complete within the limits; answer it and close
};
// head_len 0 and status 0: wait for more bytes. 414 when the first line has no end after max_target + 64 bytes
// (RFC 9110 §15.5.15); 431 when max_head bytes hold no complete head (RFC 6585 §5).
HttpHeadScan scan_http_input(std::string_view buf, std::size_t max_head, std::size_t max_target) noexcept;

// `status` 0: `path` is a regular file inside the root; otherwise 400 (not origin- or absolute-form, a control
// character, a malformed or NUL escape, or a ".." segment before or after percent-decoding) or 404 (absent,
// not a regular file, or outside the root once symlinks are resolved).
struct HttpResolved {
  int status = 0;
  std::filesystem::path path;
};
// `root` must be canonical (std::filesystem::canonical). A directory maps to its index.html.
HttpResolved resolve_http_target(const std::filesystem::path& root, std::string_view target);

// Content-Type by file name extension; application/octet-stream for the rest.
std::string_view http_content_type(const std::filesystem::path& p) noexcept;
std::string_view http_reason(int status) noexcept;

}  // namespace tapstack::cli
