// DNS over TCP framing: the 2-byte length prefix decoder and encoder (RFC 1035 §4.2.2, RFC 7766 §8).
// See tcp_framing.hpp for the contract.
#include "dns/tcp_framing.hpp"

#include <algorithm>

namespace tapstack::dns {

std::size_t emit_tcp_frame(Bytes message, MutableBytes out) noexcept {
  if (message.size() > 0xffff || out.size() < message.size() + kTcpLengthPrefix) return 0;
  store_be16(out, 0, std::uint16_t(message.size()));
  copy_bytes(out.subspan(kTcpLengthPrefix), message);
  return message.size() + kTcpLengthPrefix;
}

TcpFramer::TcpFramer(std::size_t max_message) noexcept : max_message_{std::max<std::size_t>(max_message, 1)} {}

void TcpFramer::reset() noexcept {
  have_prefix_ = 0;
  need_ = 0;
  buf_.clear();
  failed_ = false;
}

TcpFramer::Status TcpFramer::feed(Bytes chunk, FunctionRef<void(Bytes)> on_message) noexcept {
  if (failed_) return Status::kTooLarge;
  while (!chunk.empty()) {
    if (have_prefix_ < kTcpLengthPrefix) {
      prefix_[have_prefix_++] = std::uint8_t(chunk[0]);
      chunk = chunk.subspan(1);
      if (have_prefix_ < kTcpLengthPrefix) continue;
      need_ = (std::size_t(prefix_[0]) << 8) | prefix_[1];
      if (need_ > max_message_) {
        failed_ = true;
        have_prefix_ = 0;
        buf_.clear();
        buf_.shrink_to_fit();
        return Status::kTooLarge;
      }
      // Whole message inside this chunk and nothing buffered: deliver without copying.
      if (chunk.size() >= need_) {
        const Bytes msg = chunk.first(need_);
        chunk = chunk.subspan(need_);
        have_prefix_ = 0;
        on_message(msg);
        continue;
      }
    }
    // Assemble across chunks; reserve once, bounded by max_message_.
    if (buf_.capacity() < need_) buf_.reserve(need_);
    const std::size_t take = std::min(chunk.size(), need_ - buf_.size());
    buf_.insert(buf_.end(), chunk.begin(), chunk.begin() + std::ptrdiff_t(take));
    chunk = chunk.subspan(take);
    if (buf_.size() == need_) {
      have_prefix_ = 0;
      on_message(Bytes{buf_});
      buf_.clear();
    }
  }
  return Status::kOk;
}

}  // namespace tapstack::dns
