// The static-file HTTP server: request parsing (RFC 9112), path resolution confined to --root, and the
// per-connection state machine (read head -> write head -> stream file -> next request or close).
#include "cli/http_server.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

namespace tapstack::cli {

namespace {

constexpr std::size_t kChunk = 256 * 1024;  // file bytes read per pread(): bounded memory per step
constexpr std::size_t kOutMax = 1024;       // a response head, or a whole error response

bool is_tchar(char c) noexcept {  // RFC 9110 §5.6.2 token characters
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view{"!#$%&'*+-.^_`|~"}.find(c) != std::string_view::npos;
}
bool is_token(std::string_view s) noexcept { return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar); }
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
  if (!is_token(method) || r.target.empty()) return {400, r};
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

// ---------------------------------------------------------------------------------------------------
// The server

struct HttpServer::Conn {
  explicit Conn(tcp::ConnHandle handle, std::size_t max_head) : h{handle}, in(new char[max_head]) {}
  ~Conn() {
    if (fd >= 0) ::close(fd);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  bool response_pending() const noexcept { return out_off < out_len || file_left > 0; }

  tcp::ConnHandle h;
  std::unique_ptr<char[]> in;  // received bytes of the next request head(s)
  std::size_t in_len = 0;
  bool rescan = false;              // `in` holds bytes not yet searched for a complete head
  std::array<char, kOutMax> out{};  // response head (and an error's body) not yet sent
  std::size_t out_len = 0, out_off = 0;
  int fd = -1;  // the file being streamed
  std::uint64_t file_off = 0, file_left = 0;
  std::uint64_t body_left = 0;  // request body bytes to skip before the next request
  bool close_after = false;     // close once the response is out
  bool closing = false;         // our FIN is queued: drain the peer's bytes until its FIN (RFC 9112 §9.6)
  Instant deadline;             // idle timeout, or the end of the lingering close
};

HttpServer::HttpServer(tcp::TcpLayer& tcp, tcp::ListenerHandle listener, HttpConfig cfg)
    : tcp_{tcp}, listener_{listener}, cfg_{std::move(cfg)}, scratch_(kChunk) {
  std::error_code ec;
  cfg_.root = std::filesystem::canonical(cfg_.root, ec);
  if (ec || !std::filesystem::is_directory(cfg_.root, ec))
    throw std::runtime_error(fmt::format("--root {}: not a directory", cfg_.root.string()));
  conns_.reserve(1024);
}

HttpServer::~HttpServer() = default;

std::optional<Instant> HttpServer::step(Instant now) noexcept {
  while (auto h = tcp_.accept(listener_)) {
    try {
      conns_.push_back(std::make_unique<Conn>(*h, cfg_.max_head));
      conns_.back()->deadline = now + cfg_.idle_timeout;
      ++counters_.accepted;
    } catch (...) {
      tcp_.abort(now, *h);  // out of memory: refuse this one
    }
  }
  std::optional<Instant> wake;
  for (std::size_t i = 0; i < conns_.size();) {
    Conn& c = *conns_[i];
    if (!drive(now, c)) {
      ++counters_.closed;
      conns_[i] = std::move(conns_.back());
      conns_.pop_back();
      continue;
    }
    if (!wake || c.deadline < *wake) wake = c.deadline;
    ++i;
  }
  return wake;
}

void HttpServer::count_status(int status) noexcept {
  switch (status) {
    case 200:
      ++counters_.status_200;
      break;
    case 400:
      ++counters_.status_400;
      break;
    case 404:
      ++counters_.status_404;
      break;
    case 405:
      ++counters_.status_405;
      break;
    case 414:
      ++counters_.status_414;
      break;
    case 431:
      ++counters_.status_431;
      break;
    case 501:
      ++counters_.status_501;
      break;
    case 505:
      ++counters_.status_505;
      break;
    default:
      break;
  }
}

void HttpServer::respond(Conn& c, std::string_view bytes) noexcept {
  const std::size_t n = std::min(bytes.size(), c.out.size());
  std::memcpy(c.out.data(), bytes.data(), n);
  c.out_len = n;
  c.out_off = 0;
}

void HttpServer::error_response(Conn& c, int status, bool head_only, bool keep_alive) noexcept {
  count_status(status);
  c.close_after = !keep_alive;
  const std::string_view reason = http_reason(status);
  const std::size_t body_len = 3 + 1 + reason.size() + 1;  // "404 Not Found\n"
  std::array<char, kOutMax> buf;
  auto r = fmt::format_to_n(buf.data(), buf.size(),
                            "HTTP/1.1 {} {}\r\nServer: tapstack\r\nContent-Type: text/plain; charset=utf-8\r\n"
                            "Content-Length: {}\r\n{}Connection: {}\r\n\r\n",
                            status, reason, body_len, status == 405 ? "Allow: GET, HEAD\r\n" : "",
                            keep_alive ? "keep-alive" : "close");
  if (!head_only) r = fmt::format_to_n(r.out, std::size_t(buf.data() + buf.size() - r.out), "{} {}\n", status, reason);
  respond(c, std::string_view{buf.data(), std::size_t(r.out - buf.data())});
}

void HttpServer::start_response(Instant, Conn& c, const HttpRequest& req) noexcept {
  ++counters_.requests;
  const bool head_only = req.method == HttpRequest::Method::kHead;
  if (req.method == HttpRequest::Method::kOther) {
    // RFC 9110 §15.5.6 with Allow. A request body we did not read makes the connection unusable.
    error_response(c, 405, false, req.keep_alive && req.content_length == 0);
    return;
  }
  HttpResolved res;
  try {
    res = resolve_http_target(cfg_.root, req.target);
  } catch (...) {
    res.status = 404;
  }
  if (res.status != 0) {
    error_response(c, res.status, head_only, req.keep_alive && res.status == 404);
    return;
  }
  const int fd = ::open(res.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (fd >= 0) ::close(fd);
    error_response(c, 404, head_only, req.keep_alive);
    return;
  }
  count_status(200);
  c.close_after = !req.keep_alive;
  std::array<char, kOutMax> buf;
  const auto r = fmt::format_to_n(buf.data(), buf.size(),
                                  "HTTP/1.1 200 OK\r\nServer: tapstack\r\nContent-Type: {}\r\nContent-Length: {}\r\n"
                                  "Connection: {}\r\n\r\n",
                                  http_content_type(res.path), st.st_size, req.keep_alive ? "keep-alive" : "close");
  respond(c, std::string_view{buf.data(), std::min(r.size, buf.size())});
  if (head_only || st.st_size == 0) {
    ::close(fd);
    return;
  }
  c.fd = fd;
  c.file_off = 0;
  c.file_left = std::uint64_t(st.st_size);
}

bool HttpServer::write_response(Instant now, Conn& c) noexcept {
  const tcp::Connection* p = tcp_.find(c.h);
  std::size_t room = p->send_free();
  if (room == 0) return true;
  tcp::Connection& m = *tcp_.connection(c.h);
  bool progress = false;
  if (c.out_off < c.out_len) {
    const std::size_t n =
        m.send(Bytes{reinterpret_cast<const std::byte*>(c.out.data()) + c.out_off, c.out_len - c.out_off});
    c.out_off += n;
    room -= n;
    progress = n > 0;
  }
  while (c.out_off == c.out_len && c.file_left > 0 && room > 0) {
    const std::size_t want = std::size_t(std::min<std::uint64_t>({room, c.file_left, scratch_.size()}));
    const ssize_t got = ::pread(c.fd, scratch_.data(), want, off_t(c.file_off));
    if (got <= 0) {
      // The file shrank or failed under us: the promised Content-Length cannot be kept, so the client must
      // see an aborted transfer, not a short body it could take as complete.
      ++counters_.aborted_file_error;
      tcp_.abort(now, c.h);
      return false;
    }
    const std::size_t sent = m.send(Bytes{scratch_.data(), std::size_t(got)});
    c.file_off += sent;
    c.file_left -= sent;
    counters_.body_bytes_sent += sent;
    room -= std::min(room, sent);
    progress = progress || sent > 0;
    if (sent < std::size_t(got)) break;  // cannot happen (got <= send_free); pread again from file_off later
  }
  if (progress) c.deadline = now + cfg_.idle_timeout;
  if (!c.response_pending() && c.fd >= 0) {
    ::close(c.fd);
    c.fd = -1;
  }
  return true;
}

void HttpServer::start_closing(Instant now, Conn& c) noexcept {
  // FIN after the queued response; keep the handle to drain what the peer still sends, so that its late
  // bytes do not meet a closed socket and a RST that could destroy the response in flight (RFC 9112 §9.6).
  if (tcp::Connection* m = tcp_.connection(c.h)) m->close();
  c.closing = true;
  c.deadline = now + cfg_.linger;
}

bool HttpServer::drive(Instant now, Conn& c) noexcept {
  const tcp::Connection* p = tcp_.find(c.h);
  if (p == nullptr) return false;
  if (p->state() == tcp::State::kClosed) {  // reset, timed out, or our lingering close completed
    if (p->error()) ++counters_.reset_by_peer;
    tcp_.close(now, c.h);
    return false;
  }
  if (c.closing) {
    if (p->can_recv()) {
      tcp::Connection& m = *tcp_.connection(c.h);
      while (m.recv(MutableBytes{scratch_}) > 0) {
      }
    }
    const bool draining = p->state() == tcp::State::kFinWait1 || p->state() == tcp::State::kFinWait2;
    if (!draining || p->recv_finished() || now >= c.deadline) {
      tcp_.close(now, c.h);  // the layer finishes the handshake (or TIME-WAIT) without us
      return false;
    }
    return true;
  }
  for (std::size_t round = 0; round < cfg_.max_requests_per_step; ++round) {
    if (c.response_pending()) {
      if (!write_response(now, c)) return false;
      if (c.response_pending()) break;  // waiting for send space: ACKs will wake the loop
      if (c.close_after) {
        start_closing(now, c);
        return true;
      }
    }
    // Skip a request body (only 405 keeps the connection after one; GET/HEAD bodies are ignored too).
    if (c.body_left > 0 && p->can_recv()) {
      tcp::Connection& m = *tcp_.connection(c.h);
      while (c.body_left > 0) {
        const std::size_t n =
            m.recv(MutableBytes{scratch_.data(), std::size_t(std::min<std::uint64_t>(c.body_left, scratch_.size()))});
        if (n == 0) break;
        c.body_left -= n;
        c.deadline = now + cfg_.idle_timeout;
      }
    }
    if (c.body_left > 0) {
      if (p->recv_finished()) {
        tcp_.close(now, c.h);
        return false;
      }
      break;
    }
    // Read what fits of the next request head.
    if (p->can_recv() && c.in_len < cfg_.max_head) {
      const std::size_t n = tcp_.connection(c.h)->recv(
          MutableBytes{reinterpret_cast<std::byte*>(c.in.get()) + c.in_len, cfg_.max_head - c.in_len});
      if (n > 0) {
        c.in_len += n;
        c.rescan = true;
        c.deadline = now + cfg_.idle_timeout;
      }
    }
    if (!c.rescan) {
      if (p->recv_finished()) {  // the peer closed between requests (or mid-request): so do we
        tcp_.close(now, c.h);
        return false;
      }
      break;
    }
    c.rescan = false;
    // RFC 9112 §2.2: ignore empty lines before a request-line.
    std::size_t skip = 0;
    while (skip < c.in_len && (c.in[skip] == '\r' || c.in[skip] == '\n')) ++skip;
    if (skip > 0) {
      std::memmove(c.in.get(), c.in.get() + skip, c.in_len - skip);
      c.in_len -= skip;
    }
    const std::string_view buf{c.in.get(), c.in_len};
    const auto end = find_http_head_end(buf);
    if (!end) {
      if (buf.find('\n') == std::string_view::npos && buf.size() > cfg_.max_target + 64) {
        ++counters_.requests;
        error_response(c, 414, false, false);
        continue;
      }
      if (c.in_len == cfg_.max_head) {
        ++counters_.requests;
        error_response(c, 431, false, false);
        continue;
      }
      if (p->recv_finished()) {
        tcp_.close(now, c.h);
        return false;
      }
      break;
    }
    const HttpParse parsed = parse_http_head(buf.substr(0, *end), cfg_.max_target);
    if (parsed.status != 0) {
      ++counters_.requests;
      error_response(c, parsed.status, parsed.request.method == HttpRequest::Method::kHead, false);
      c.in_len = 0;  // nothing after a malformed head can be trusted
    } else {
      start_response(now, c, parsed.request);  // `target` is read before `in` moves below
      c.body_left = parsed.request.content_length;
      std::memmove(c.in.get(), c.in.get() + *end, c.in_len - *end);
      c.in_len -= *end;
      c.rescan = c.in_len > 0;  // pipelined requests
    }
  }
  if (now >= c.deadline) {
    ++counters_.idle_timeouts;
    if (c.response_pending()) {  // the peer stopped reading: nothing graceful is possible
      tcp_.abort(now, c.h);
      return false;
    }
    start_closing(now, c);
  }
  return true;
}

}  // namespace tapstack::cli
