// The byte stream `tapstack send` writes and the hash `send`/`recv` print, written out again for the e2e tests
// as an independent oracle (deliberately not cli/pattern.hpp, so the command is never its own judge), plus the
// kernel-socket helpers that push the stream through a socket and hash what comes back.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace tapstack::test {

// Byte i of the stream is byte i % 8 (little-endian) of SplitMix64's output for state
// (i / 8 + 1) * 0x9e3779b97f4a7c15.
void fill_pattern(std::uint64_t offset, char* out, std::size_t n);

// 64-bit FNV-1a, fed in chunks; hex() is the 16-digit lower-case form the command prints.
struct Fnv1a {
  std::uint64_t h = 0xcbf29ce484222325ull;
  void add(const char* p, std::size_t n);
  std::string hex() const;
};

// The FNV-1a hash (hex) of the stream's first `n` bytes.
std::string pattern_hash(std::uint64_t n);

// Writes the stream [0, n) to the connected socket `fd`, then half-closes it (SHUT_WR). Returns the bytes
// written (less than `n` when a send failed).
std::uint64_t write_pattern(int fd, std::uint64_t n);

struct ReadResult {
  std::uint64_t bytes = 0;
  std::string hash;  // Fnv1a::hex() of the bytes read
  ssize_t last = 0;  // 0: EOF; -1: error in `err`
  int err = 0;
};
// Reads `fd` until EOF or an error (the socket's SO_RCVTIMEO bounds each wait).
ReadResult read_all(int fd);

// Sets SO_RCVTIMEO and SO_SNDTIMEO: every blocking call on `fd` gives up after `timeout`, so no test can hang.
void set_io_timeouts(int fd, std::chrono::seconds timeout);

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace tapstack::test
