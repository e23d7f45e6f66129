// The e2e tests' oracle for the `tapstack send` stream and its FNV-1a hash, and the socket loops that write and
// read it (tests/support/stream_pattern.hpp).
#include "stream_pattern.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <vector>

namespace tapstack::test {
namespace {

std::uint64_t splitmix(std::uint64_t word_index) {
  std::uint64_t z = (word_index + 1) * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

void fill_pattern(std::uint64_t offset, char* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t pos = offset + i;
    out[i] = char(splitmix(pos / 8) >> (8 * (pos % 8)));
  }
}

void Fnv1a::add(const char* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) h = (h ^ std::uint8_t(p[i])) * 0x100000001b3ull;
}

std::string Fnv1a::hex() const {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string pattern_hash(std::uint64_t n) {
  Fnv1a f;
  std::vector<char> buf(1 << 20);
  for (std::uint64_t off = 0; off < n; off += buf.size()) {
    const std::size_t k = std::size_t(std::min<std::uint64_t>(buf.size(), n - off));
    fill_pattern(off, buf.data(), k);
    f.add(buf.data(), k);
  }
  return f.hex();
}

std::uint64_t write_pattern(int fd, std::uint64_t n) {
  std::vector<char> buf(1 << 20);
  std::uint64_t off = 0;
  while (off < n) {
    const std::size_t k = std::size_t(std::min<std::uint64_t>(buf.size(), n - off));
    fill_pattern(off, buf.data(), k);
    std::size_t done = 0;
    while (done < k) {
      const ssize_t w = send(fd, buf.data() + done, k - done, MSG_NOSIGNAL);
      if (w <= 0) return off + done;
      done += std::size_t(w);
    }
    off += k;
  }
  shutdown(fd, SHUT_WR);
  return off;
}

ReadResult read_all(int fd) {
  ReadResult r;
  Fnv1a f;
  std::vector<char> buf(1 << 20);
  for (;;) {
    const ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) {
      r.last = n;
      r.err = n < 0 ? errno : 0;
      break;
    }
    f.add(buf.data(), std::size_t(n));
    r.bytes += std::uint64_t(n);
  }
  r.hash = f.hex();
  return r;
}

void set_io_timeouts(int fd, std::chrono::seconds timeout) {
  timeval tv{time_t(timeout.count()), 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace tapstack::test
