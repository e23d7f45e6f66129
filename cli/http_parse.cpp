// HTTP/1.x request heads (RFC 9112 §2-§6) and request targets (RFC 3986 §2.1, RFC 9112 §3.2) parsed from
// network bytes, with no I/O but the root-confinement checks of resolve_http_target.
#include "cli/http_parse.hpp"

#include <algorithm>
#include <string>
#include <system_error>

namespace tapstack::cli {

namespace {

bool is_tchar(char c) noexcept {  // RFC 9110 §5.6.2 token characters
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view{"!#$%&'*+-.^_`|~"}.find(c) != std::string_view::npos;
}
bool is_token(std::string_view s) noexcept { return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar); }
// RFC 5234 CTL: %x00-1F / %x7F.
bool is_ctl(char c) noexcept { return (c >= 0 && c < 0x20) || c == 0x7f; }
bool has_ctl(std::string_view s) noexcept { return std::any_of(s.begin(), s.end(), is_ctl); }
char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }
bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}
std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}
// Splits off the next line (without its LF, and without a CR before it).
std::string_view next_line(std::string_view& rest) noexcept {
  const auto nl = rest.find('\n');
  std::string_view line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}
bool within(const std::filesystem::path& root, const std::filesystem::path& p) noexcept {
  return std::mismatch(root.begin(), root.end(), p.begin(), p.end()).first == root.end();
}
// A regular file inside `root` after resolving every symlink, or nullopt.
std::optional<std::filesystem::path> confined_file(const std::filesystem::path& root, const std::filesystem::path& p) {
  std::error_code ec;
  auto canon = std::filesystem::weakly_canonical(p, ec);
  if (ec || !within(root, canon)) return std::nullopt;
  if (std::filesystem::is_directory(canon, ec)) {
    canon = std::filesystem::weakly_canonical(canon / "index.html", ec);
    if (ec || !within(root, canon)) return std::nullopt;
  }
  if (!std::filesystem::is_regular_file(canon, ec) || ec) return std::nullopt;
  return canon;
}

}  // namespace

std::optional<std::size_t> find_http_head_end(std::string_view buf) noexcept {
  for (std::size_t i = buf.find('\n'); i != std::string_view::npos; i = buf.find('\n', i + 1)) {
    if (i + 1 < buf.size() && buf[i + 1] == '\n') return i + 2;
    if (i + 2 < buf.size() && buf[i + 1] == '\r' && buf[i + 2] == '\n') return i + 3;
  }
  return std::nullopt;
}

HttpHeadScan scan_http_input(std::string_view buf, std::size_t max_head, std::size_t max_target) noexcept {
  HttpHeadScan out;
  while (out.skip < buf.size() && (buf[out.skip] == '\r' || buf[out.skip] == '\n')) ++out.skip;
  const std::string_view rest = buf.substr(out.skip);
  if (const auto end = find_http_head_end(rest)) {
    out.head_len = *end;
  } else if (rest.find('\n') == std::string_view::npos && rest.size() > max_target + 64) {
    out.status = 414;  // the request-line alone is longer than any target we accept
  } else if (rest.size() >= max_head) {
    out.status = 431;
  }
  return out;
}

HttpParse parse_http_head(std::string_view head, std::size_t max_target) noexcept {
  HttpParse out;
  HttpRequest& r = out.request;
  std::string_view rest = head;
  // RFC 9112 §3: request-line = method SP request-target SP HTTP-version
  const std::string_view line = next_line(rest);
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return {400, r};
  const std::string_view method = line.substr(0, sp1);
  r.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method) || r.target.empty() || has_ctl(r.target)) return {400, r};
  if (r.target.size() > max_target) return {414, r};
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' || version[5] < '0' ||
      version[5] > '9' || version[7] < '0' || version[7] > '9')
    return {400, r};
  if (version[5] != '1') return {505, r};       // RFC 9110 §15.6.6
  r.minor_version = version[7] == '0' ? 0 : 1;  // RFC 9110 §6.2: a higher 1.x minor is treated as 1.1
  r.method = method == "GET"    ? HttpRequest::Method::kGet
             : method == "HEAD" ? HttpRequest::Method::kHead
                                : HttpRequest::Method::kOther;  // RFC 9110 §9.1: methods are case-sensitive

  bool conn_close = false, conn_keep_alive = false, have_length = false;
  int hosts = 0;
  for (;;) {
    const std::string_view field = next_line(rest);
    if (field.empty()) break;  // the empty line ending the head
    // RFC 9112 §5.2: obsolete line folding may be rejected with 400.
    if (field.front() == ' ' || field.front() == '\t') return {400, r};
    // RFC 9110 §5.5: a field value with CR, LF or NUL is invalid (we reject, not repair), as is any other
    // CTL but HTAB; a bare CR anywhere is invalid too (RFC 9112 §2.2).
    if (std::any_of(field.begin(), field.end(), [](char c) { return is_ctl(c) && c != '\t'; })) return {400, r};
    const auto colon = field.find(':');
    if (colon == std::string_view::npos) return {400, r};
    const std::string_view name = field.substr(0, colon);
    const std::string_view value = trim_ows(field.substr(colon + 1));
    if (!is_token(name)) return {400, r};  // RFC 9112 §5.1: no whitespace before the colon
    if (iequals(name, "host")) {
      ++hosts;
    } else if (iequals(name, "connection")) {
      std::string_view v = value;
      while (!v.empty()) {
        const auto comma = v.find(',');
        const std::string_view opt = trim_ows(v.substr(0, comma));
        v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
        if (iequals(opt, "close")) conn_close = true;
        if (iequals(opt, "keep-alive")) conn_keep_alive = true;
      }
    } else if (iequals(name, "content-length")) {
      // RFC 9112 §6.3: an invalid or conflicting Content-Length is unrecoverable.
      if (value.empty() || value.size() > 18 ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return {400, r};
      std::uint64_t n = 0;
      for (char c : value) n = n * 10 + std::uint64_t(c - '0');
      if (have_length && n != r.content_length) return {400, r};
      r.content_length = n;
      have_length = true;
    } else if (iequals(name, "transfer-encoding")) {
      return {501, r};  // RFC 9112 §6.1: a transfer coding we do not implement (no request bodies here)
    }
  }
  if (r.minor_version == 1 && hosts != 1) return {400, r};  // RFC 9112 §3.2: exactly one Host in HTTP/1.1
  if (hosts > 1) return {400, r};
  // RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive".
  r.keep_alive = !conn_close && (r.minor_version == 1 || conn_keep_alive);
  return out;
}

HttpResolved resolve_http_target(const std::filesystem::path& root, std::string_view target) {
  // RFC 9112 §3.2.2 absolute-form: keep the path of "http://authority/path".
  if (target.size() >= 7 &&
      (iequals(target.substr(0, 7), "http://") || (target.size() >= 8 && iequals(target.substr(0, 8), "https://")))) {
    const auto slash = target.find('/', target.find("//") + 2);
    target = slash == std::string_view::npos ? std::string_view{"/"} : target.substr(slash);
  }
  if (target.empty() || target.front() != '/') return {400, {}};  // origin-form only (RFC 9112 §3.2.1)
  if (has_ctl(target)) return {400, {}};                          // not a URI character (RFC 3986 §2)
  target = target.substr(0, target.find_first_of("?#"));
  // RFC 3986 §2.1 percent-decoding; a decoded NUL or a malformed escape is refused.
  std::string decoded;
  decoded.reserve(target.size());
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] != '%') {
      decoded.push_back(target[i]);
      continue;
    }
    if (i + 2 >= target.size()) return {400, {}};
    const int hi = hex_value(target[i + 1]), lo = hex_value(target[i + 2]);
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return {400, {}};
    decoded.push_back(char(hi * 16 + lo));
    i += 2;
  }
  // No ".." segment, before or after decoding: a traversal attempt is refused outright, not normalised.
  std::filesystem::path rel;
  std::string_view rest = decoded;
  while (!rest.empty()) {
    const auto slash = rest.find('/');
    const std::string_view seg = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (seg == "..") return {400, {}};
    if (seg.empty() || seg == ".") continue;
    rel /= std::string{seg};
  }
  // Symlinks inside the root may point anywhere: resolve them and check the prefix again.
  auto file = confined_file(root, root / rel);
  if (!file) return {404, {}};
  return {0, std::move(*file)};
}

std::string_view http_content_type(const std::filesystem::path& p) noexcept {
  struct Entry {
    std::string_view ext, type;
  };
  static constexpr Entry kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".txt", "text/plain; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".ico", "image/x-icon"},
      {".pdf", "application/pdf"},
      {".wasm", "application/wasm"},
  };
  const std::string ext = p.extension().string();
  for (const auto& e : kTypes)
    if (iequals(ext, e.ext)) return e.type;
  return "application/octet-stream";
}

std::string_view http_reason(int status) noexcept {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

}  // namespace tapstack::cli
