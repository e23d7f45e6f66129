// PcapReplayLink: pcap_open_offline (pcap and pcapng), link-type conversion to Ethernet, virtual-time release.
#include "tap/pcap_replay.hpp"

#include <pcap/pcap.h>

#include <cstring>
#include <memory>
#include <stdexcept>

namespace tapstack::tap {
namespace {

constexpr std::size_t kEthHeader = 14;
constexpr std::uint16_t kEthIpv4 = 0x0800;
constexpr std::uint16_t kEthIpv6 = 0x86dd;
constexpr std::size_t kSllHeader = 16;   // Linux cooked v1
constexpr std::size_t kSll2Header = 20;  // Linux cooked v2
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif
#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif

struct PcapCloser {
  void operator()(pcap_t* p) const noexcept { pcap_close(p); }
};

std::vector<std::byte> with_ethernet(const MacBytes& dst, const MacBytes& src, std::uint16_t ethertype, Bytes payload) {
  std::vector<std::byte> f(kEthHeader + payload.size());
  MutableBytes out{f};
  for (std::size_t i = 0; i < 6; ++i) {
    store_u8(out, i, dst[i]);
    store_u8(out, 6 + i, src[i]);
  }
  store_be16(out, 12, ethertype);
  copy_bytes(out.subspan(kEthHeader), payload);
  return f;
}

std::optional<std::uint16_t> ethertype_from_version(Bytes ip) {
  if (ip.empty()) return std::nullopt;
  switch (load_u8(ip, 0) >> 4) {
    case 4:
      return kEthIpv4;
    case 6:
      return kEthIpv6;
    default:
      return std::nullopt;
  }
}

struct Loaded {
  int link_type = 0;
  std::vector<TimedFrame> frames;   // capture times (Unix epoch, us)
  std::optional<Instant> first_ts;  // first record in the file, filtered or not
  std::uint64_t filtered = 0, bad_l3 = 0, snapped = 0;
};

Loaded load(const std::string& path, const PcapReplayOptions& opts) {
  char err[PCAP_ERRBUF_SIZE] = {};
  std::unique_ptr<pcap_t, PcapCloser> p{
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO, err)};
  if (!p) throw std::runtime_error("pcap replay: cannot read '" + path + "': " + err);

  Loaded out;
  out.link_type = pcap_datalink(p.get());
  switch (out.link_type) {
    case DLT_EN10MB:
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
    case DLT_LINUX_SLL:
    case DLT_LINUX_SLL2:
      break;
    default: {
      const char* n = pcap_datalink_val_to_name(out.link_type);
      throw std::runtime_error("pcap replay: '" + path + "' has unsupported link type " +
                               std::to_string(out.link_type) + " (" + (n ? n : "unknown") +
                               "); supported: EN10MB, RAW, IPV4, IPV6, LINUX_SLL, LINUX_SLL2");
    }
  }

  for (;;) {
    pcap_pkthdr* hdr = nullptr;
    const u_char* data = nullptr;
    const int rc = pcap_next_ex(p.get(), &hdr, &data);
    if (rc == PCAP_ERROR_BREAK) break;  // end of file
    if (rc != 1) throw std::runtime_error("pcap replay: '" + path + "' is corrupt: " + pcap_geterr(p.get()));

    const Instant ts = Instant::from_micros(std::int64_t(hdr->ts.tv_sec) * 1'000'000 + hdr->ts.tv_usec);
    if (!out.first_ts) out.first_ts = ts;
    if (hdr->caplen < hdr->len) ++out.snapped;  // replayed as captured (short)
    const Bytes rec{reinterpret_cast<const std::byte*>(data), hdr->caplen};

    std::vector<std::byte> frame;
    switch (out.link_type) {
      case DLT_EN10MB:
        frame.assign(rec.begin(), rec.end());
        break;
      case DLT_RAW:
      case DLT_IPV4:
      case DLT_IPV6: {
        // The version nibble decides even for IPV4/IPV6 files: a mismatched record is skipped as bad L3.
        const auto et = ethertype_from_version(rec);
        if (!et || (out.link_type == DLT_IPV4 && *et != kEthIpv4) || (out.link_type == DLT_IPV6 && *et != kEthIpv6)) {
          ++out.bad_l3;
          continue;
        }
        frame = with_ethernet(opts.synth_dst, opts.synth_src, *et, rec);
        break;
      }
      case DLT_LINUX_SLL:
      case DLT_LINUX_SLL2: {
        // SLL: type(2) arphrd(2) addrlen(2) addr(8) proto(2); SLL2: proto(2) rsvd(2) ifindex(4) arphrd(2)
        // pkttype(1) addrlen(1) addr(8). The sender's address becomes the Ethernet source when it is a MAC.
        const bool v2 = out.link_type == DLT_LINUX_SLL2;
        const std::size_t hlen = v2 ? kSll2Header : kSllHeader;
        if (rec.size() < hlen) {
          ++out.bad_l3;
          continue;
        }
        const std::uint16_t proto = load_be16(rec, v2 ? 0 : 14);
        const std::size_t addr_len = v2 ? load_u8(rec, 11) : load_be16(rec, 4);
        const std::size_t addr_off = v2 ? 12 : 6;
        MacBytes src = opts.synth_src;
        if (addr_len == 6) {
          for (std::size_t i = 0; i < 6; ++i) src[i] = load_u8(rec, addr_off + i);
        }
        frame = with_ethernet(opts.synth_dst, src, proto, rec.subspan(hlen));
        break;
      }
    }
    if (opts.keep && !opts.keep(Bytes{frame})) {
      ++out.filtered;
      continue;
    }
    out.frames.push_back(TimedFrame{ts, std::move(frame)});
  }
  return out;
}

}  // namespace

std::function<bool(Bytes)> PcapReplayOptions::from_source_mac(MacBytes mac) {
  return [mac](Bytes f) {
    if (f.size() < kEthHeader) return false;
    for (std::size_t i = 0; i < 6; ++i) {
      if (load_u8(f, 6 + i) != mac[i]) return false;
    }
    return true;
  };
}

std::vector<TimedFrame> PcapReplayLink::read_all(const std::string& path, const PcapReplayOptions& opts) {
  return load(path, opts).frames;
}

PcapReplayLink::PcapReplayLink(const std::string& path, PcapReplayOptions opts) : opts_{std::move(opts)} {
  Loaded l = load(path, opts_);
  link_type_ = l.link_type;
  counters_.load_filtered = l.filtered;
  counters_.load_bad_l3 = l.bad_l3;
  counters_.load_snapped = l.snapped;
  frames_ = std::move(l.frames);
  // Virtual clock: the file's first record maps to opts.start. A capture whose clock stepped backwards
  // releases the out-of-order frame as soon as its predecessor (release times never decrease).
  Instant prev = opts_.start;
  for (TimedFrame& f : frames_) {
    Instant t = opts_.start + (f.at - *l.first_ts);
    if (t < prev) t = prev;
    f.at = prev = t;
  }
}

bool PcapReplayLink::transmit(Instant now, Bytes frame) noexcept {
  try {
    sent_.push_back(TimedFrame{now, std::vector<std::byte>(frame.begin(), frame.end())});
  } catch (...) {
    ++counters_.drop_tx_alloc;
    return false;
  }
  ++counters_.tx_frames;
  return true;
}

std::optional<std::size_t> PcapReplayLink::receive(Instant now, MutableBytes buf) noexcept {
  while (next_ < frames_.size() && frames_[next_].at <= now) {
    const TimedFrame& f = frames_[next_++];
    if (f.bytes.size() > buf.size()) {
      ++counters_.drop_rx_too_big;
      continue;
    }
    ++counters_.rx_frames;
    return copy_bytes(buf, Bytes{f.bytes});
  }
  return std::nullopt;
}

std::optional<Instant> PcapReplayLink::next_arrival() const noexcept {
  if (next_ < frames_.size()) return frames_[next_].at;
  return std::nullopt;
}

}  // namespace tapstack::tap
