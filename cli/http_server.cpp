// The static-file HTTP server: the per-connection state machine (read head -> write head -> stream file -> next
// request or close) around the pure request parser of cli/http_parse.
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

}  // namespace

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
    const HttpHeadScan scan = scan_http_input({c.in.get(), c.in_len}, cfg_.max_head, cfg_.max_target);
    if (scan.skip > 0) {  // RFC 9112 §2.2: empty lines before a request-line are ignored
      std::memmove(c.in.get(), c.in.get() + scan.skip, c.in_len - scan.skip);
      c.in_len -= scan.skip;
    }
    if (scan.status != 0) {
      ++counters_.requests;
      error_response(c, scan.status, false, false);
      continue;
    }
    if (scan.head_len == 0) {
      if (p->recv_finished()) {
        tcp_.close(now, c.h);
        return false;
      }
      break;
    }
    const std::size_t end = scan.head_len;
    const std::string_view buf{c.in.get(), c.in_len};
    const HttpParse parsed = parse_http_head(buf.substr(0, end), cfg_.max_target);
    if (parsed.status != 0) {
      ++counters_.requests;
      error_response(c, parsed.status, parsed.request.method == HttpRequest::Method::kHead, false);
      c.in_len = 0;  // nothing after a malformed head can be trusted
    } else {
      start_response(now, c, parsed.request);  // `target` is read before `in` moves below
      c.body_left = parsed.request.content_length;
      std::memmove(c.in.get(), c.in.get() + end, c.in_len - end);
      c.in_len -= end;
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
