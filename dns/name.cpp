// Domain names: the compression-pointer decoder (RFC 1035 §4.1.4 hardened per RFC 9267), text form and
// comparison. Every name in a received message goes through Name::parse.
#include "dns/name.hpp"

#include <algorithm>
#include <cstring>

namespace tapstack::dns {

namespace {

constexpr std::uint8_t kLabelTypeMask = 0xc0;
constexpr std::uint8_t kPointerType = 0xc0;  // RFC 1035 §4.1.4
// 0x40 (RFC 6891 §5: extended label types, none left in use) and 0x80 (reserved) are refused.

constexpr std::uint8_t ascii_lower(std::uint8_t c) noexcept {
  return (c >= 'A' && c <= 'Z') ? std::uint8_t(c + ('a' - 'A')) : c;
}

bool plain_text_octet(std::uint8_t c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

}  // namespace

std::string_view to_string(DropReason r) noexcept {
  switch (r) {
    case DropReason::kTruncated: return "drop_truncated";
    case DropReason::kBadName: return "drop_bad_name";
    case DropReason::kPointerLoop: return "drop_pointer_loop";
    case DropReason::kForwardPointer: return "drop_forward_pointer";
    case DropReason::kBadPointer: return "drop_bad_pointer";
    case DropReason::kBadRdlength: return "drop_bad_rdlength";
    case DropReason::kBadRdata: return "drop_bad_rdata";
  }
  return "drop_unknown";
}

std::ostream& operator<<(std::ostream& os, DropReason r) { return os << to_string(r); }

void count(WireCounters& c, DropReason r) noexcept {
  switch (r) {
    case DropReason::kTruncated: ++c.drop_truncated; return;
    case DropReason::kBadName: ++c.drop_bad_name; return;
    case DropReason::kPointerLoop: ++c.drop_pointer_loop; return;
    case DropReason::kForwardPointer: ++c.drop_forward_pointer; return;
    case DropReason::kBadPointer: ++c.drop_bad_pointer; return;
    case DropReason::kBadRdlength: ++c.drop_bad_rdlength; return;
    case DropReason::kBadRdata: ++c.drop_bad_rdata; return;
  }
}

std::optional<Name> Name::from_text(std::string_view text) noexcept {
  if (text.empty()) return std::nullopt;
  Name n;
  if (text == ".") return n;
  n.len_ = 0;
  std::size_t label_start = 0;  // index in wire_ of the open label's length octet
  std::size_t label_len = 0;
  bool open = false;
  const auto is_digit = [](char d) { return d >= '0' && d <= '9'; };
  for (std::size_t i = 0; i < text.size(); ++i) {
    std::uint8_t c = std::uint8_t(text[i]);
    if (c == '.') {
      if (!open) return std::nullopt;  // empty label: "a..b", ".a"
      n.wire_[label_start] = std::uint8_t(label_len);
      open = false;
      continue;
    }
    if (c == '\\') {
      if (i + 1 >= text.size()) return std::nullopt;
      if (is_digit(text[i + 1])) {
        if (i + 3 >= text.size() || !is_digit(text[i + 2]) || !is_digit(text[i + 3])) return std::nullopt;
        const unsigned v = unsigned(text[i + 1] - '0') * 100 + unsigned(text[i + 2] - '0') * 10 +
                           unsigned(text[i + 3] - '0');
        if (v > 255) return std::nullopt;
        c = std::uint8_t(v);
        i += 3;
      } else {
        c = std::uint8_t(text[i + 1]);
        i += 1;
      }
    }
    if (!open) {
      if (n.len_ >= kMaxNameLen) return std::nullopt;
      label_start = n.len_++;
      label_len = 0;
      open = true;
    }
    // Room for this octet and the root's zero octet (RFC 1035 §2.3.4).
    if (label_len + 1 > kMaxLabelLen || std::size_t(n.len_) + 2 > kMaxNameLen) return std::nullopt;
    n.wire_[n.len_++] = c;
    ++label_len;
  }
  if (open) n.wire_[label_start] = std::uint8_t(label_len);
  n.wire_[n.len_++] = 0;
  return n;
}

std::optional<Name::Parsed> Name::parse(Bytes msg, std::size_t offset, DropReason* why,
                                        std::size_t max_hops) noexcept {
  auto fail = [why](DropReason r) -> std::optional<Parsed> {
    if (why != nullptr) *why = r;
    return std::nullopt;
  };
  Parsed out;
  Name& n = out.name;
  n.len_ = 0;
  std::size_t pos = offset;
  std::size_t run_start = offset;  // first octet of the contiguous label run being read
  std::size_t read_end = offset;   // one past the last octet read for this name (over all runs)
  std::size_t hops = 0;
  bool jumped = false;
  for (;;) {
    if (pos >= msg.size()) return fail(DropReason::kTruncated);
    const std::uint8_t b = load_u8(msg, pos);
    const std::uint8_t type = b & kLabelTypeMask;
    if (type == 0) {
      const std::size_t len = b;
      if (len == 0) {
        n.wire_[n.len_++] = 0;
        if (!jumped) out.next = pos + 1;
        return out;
      }
      if (pos + 1 + len > msg.size()) return fail(DropReason::kTruncated);
      // This label plus the root's zero octet must fit in 255 (RFC 1035 §2.3.4, CVE-2020-11901).
      if (std::size_t(n.len_) + 1 + len + 1 > kMaxNameLen) return fail(DropReason::kBadName);
      n.wire_[n.len_] = std::uint8_t(len);
      std::memcpy(n.wire_.data() + n.len_ + 1, msg.data() + pos + 1, len);
      n.len_ = std::uint8_t(n.len_ + 1 + len);
      pos += 1 + len;
      read_end = std::max(read_end, pos);
      continue;
    }
    if (type != kPointerType) return fail(DropReason::kBadName);  // RFC 6891 §5 / RFC 1035 §4.1.4
    if (pos + 2 > msg.size()) return fail(DropReason::kTruncated);
    const std::size_t target = (std::size_t(b & ~kLabelTypeMask) << 8) | load_u8(msg, pos + 1);
    read_end = std::max(read_end, pos + 2);
    if (!jumped) out.next = pos + 2;
    jumped = true;
    // RFC 9267 §2: only strictly backwards, and each hop strictly before the run it came from, so the
    // walk can never revisit a byte.
    if (target < kHeaderLen) return fail(DropReason::kBadPointer);
    if (target >= run_start) {
      return fail(target < read_end ? DropReason::kPointerLoop : DropReason::kForwardPointer);
    }
    if (++hops > max_hops) return fail(DropReason::kPointerLoop);
    pos = run_start = target;
  }
}

std::string Name::to_string() const {
  if (is_root()) return ".";
  std::string s;
  s.reserve(len_);
  std::size_t i = 0;
  while (i < len_ && wire_[i] != 0) {
    const std::size_t len = wire_[i];
    if (!s.empty()) s += '.';
    for (std::size_t k = 1; k <= len; ++k) {
      const std::uint8_t c = wire_[i + k];
      if (plain_text_octet(c)) {
        s += char(c);
      } else if (c > 0x20 && c < 0x7f) {
        s += '\\';
        s += char(c);
      } else {
        const char digits[4] = {'\\', char('0' + c / 100), char('0' + (c / 10) % 10), char('0' + c % 10)};
        s.append(digits, 4);
      }
    }
    i += 1 + len;
  }
  return s;
}

std::size_t Name::label_count() const noexcept {
  std::size_t count = 0;
  for (std::size_t i = 0; i < len_ && wire_[i] != 0; i += 1 + wire_[i]) ++count;
  return count;
}

std::size_t Name::emit(MutableBytes out) const noexcept {
  if (out.size() < len_) return 0;
  return copy_bytes(out, wire());
}

bool operator==(const Name& a, const Name& b) noexcept {
  if (a.len_ != b.len_) return false;
  // Length octets are <= 63, below 'A', so folding the whole wire form only folds label text.
  for (std::size_t i = 0; i < a.len_; ++i) {
    if (ascii_lower(a.wire_[i]) != ascii_lower(b.wire_[i])) return false;
  }
  return true;
}

std::size_t Name::hash() const noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a over the case-folded wire form
  for (std::size_t i = 0; i < len_; ++i) {
    h ^= ascii_lower(wire_[i]);
    h *= 0x100000001b3ull;
  }
  return std::size_t(h);
}

}  // namespace tapstack::dns
