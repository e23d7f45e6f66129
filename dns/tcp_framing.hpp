// DNS over TCP framing (RFC 1035 §4.2.2, RFC 7766 §8): each message is preceded by a 2-byte length. The
// decoder turns a TCP byte stream, fed in whatever chunks the connection delivers, back into messages;
// the encoder writes the prefix. The resolver's TCP path (after TC=1) sits between tcp/ and Message::parse.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "stack/bytes.hpp"
#include "stack/function_ref.hpp"

namespace tapstack::dns {

inline constexpr std::size_t kTcpLengthPrefix = 2;

// Writes the 2-byte length and `message` into `out`; returns the octets written (message.size() + 2), or 0
// if `out` is too small or the message is over 65535 octets.
std::size_t emit_tcp_frame(Bytes message, MutableBytes out) noexcept;

// Stream decoder. The length prefix may be split across chunks or share one with the message, and one
// chunk may complete several messages (RFC 7766 §8: "MUST NOT assume" any alignment). A message that sits
// whole inside one chunk is delivered straight from the chunk; otherwise it is assembled in an internal
// buffer that never grows past max_message octets.
class TcpFramer {
 public:
  enum class Status : std::uint8_t {
    kOk,        // all input consumed; a message may be in progress
    kTooLarge,  // a length prefix over max_message: the stream cannot be resynchronized, close it
  };

  // 65535 (the prefix's own limit) unless the caller knows better; at least 1.
  explicit TcpFramer(std::size_t max_message = 65535) noexcept;

  // Consumes `chunk` and calls `on_message` with each complete message, in order. The span is valid only
  // during the call. Once kTooLarge has been returned, every later call returns it without reading input.
  // A zero-length frame is delivered as an empty message (Message::parse rejects it as kTruncated).
  Status feed(Bytes chunk, FunctionRef<void(Bytes)> on_message) noexcept;

  bool failed() const noexcept { return failed_; }
  // Octets held for the message in progress (prefix octets included).
  std::size_t buffered() const noexcept { return have_prefix_ + buf_.size(); }
  std::size_t max_message() const noexcept { return max_message_; }
  void reset() noexcept;  // drops any partial message and a failure (a new connection)

 private:
  std::size_t max_message_;
  std::uint8_t prefix_[kTcpLengthPrefix] = {};
  std::size_t have_prefix_ = 0;           // prefix octets seen for the message in progress
  std::size_t need_ = 0;                  // its length, once have_prefix_ == 2
  std::vector<std::byte> buf_;            // its octets so far (when it spans chunks)
  bool failed_ = false;
};

}  // namespace tapstack::dns
