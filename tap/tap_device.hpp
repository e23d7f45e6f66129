// TapDevice: a Linux TAP interface (/dev/net/tun, IFF_TAP | IFF_NO_PI) as a non-blocking file descriptor.
// The lowest layer of the real link: tap::TapLink adapts it to tapstack::Link for the stack loop.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stack/bytes.hpp"
#include "stack/function_ref.hpp"
#include "tap/gso.hpp"

namespace tapstack::tap {

class TapDevice {
 public:
  // Attaches to the TAP `name` (a persistent one made by `ip tuntap add`, say) or creates it. A device this
  // call created is brought up (IFF_UP); an existing one is left as its owner configured it.
  // Throws std::system_error naming the device and the errno text, plus "needs CAP_NET_ADMIN" on EPERM/EACCES.
  // With `vnet_hdr`, the device is opened with IFF_VNET_HDR: a VnetHeader comes before each frame both ways
  // (read() and write() take it off and put it on), so writes may hand the kernel merged TCP segments; and the
  // device offers the kernel checksum and TCP segmentation offload (TUNSETOFFLOAD TUN_F_CSUM, TSO4, TSO6), so
  // reads may bring a TCP segment of up to 64 KiB with its checksum left partial (see last_read_header()).
  explicit TapDevice(std::string_view name, bool vnet_hdr = false);
  ~TapDevice();
  TapDevice(TapDevice&& other) noexcept;
  TapDevice& operator=(TapDevice&& other) noexcept;
  TapDevice(const TapDevice&) = delete;
  TapDevice& operator=(const TapDevice&) = delete;

  // Reads one frame into `buf` and returns its full length; nullopt when none is waiting (EAGAIN) or on a
  // read error. A frame longer than `buf` is consumed whole (its tail goes to a spill buffer, so the next read
  // starts at a frame boundary) and the returned length is > buf.size(): the caller drops it.
  std::optional<std::size_t> read(MutableBytes buf) noexcept;
  // Writes one whole frame; false when the kernel refused it (EAGAIN, ENOBUFS, EIO while the link is down...).
  // With vnet_hdr, behind an all-zero header (no offload asked).
  bool write(Bytes frame) noexcept { return write(VnetHeader{}, frame); }
  // Writes one frame behind `h`; without vnet_hdr the header is not written, so only a zero one makes sense.
  bool write(const VnetHeader& h, Bytes frame) noexcept;
  // Reads up to `max_frames` frames, stopping at the first EAGAIN; calls on_frame(frame) for each one that fits
  // `scratch` (`frame` is a prefix of it, valid only during the call; with vnet_hdr, last_read_header() is its
  // header during the call). Returns how many frames were consumed, including oversized ones that were skipped.
  std::size_t read_batch(MutableBytes scratch, std::size_t max_frames, FunctionRef<void(Bytes)> on_frame) noexcept;

  int fd() const noexcept { return fd_; }
  bool vnet_hdr() const noexcept { return vnet_hdr_; }
  // With vnet_hdr: the header that came with the frame read() returned last.
  const VnetHeader& last_read_header() const noexcept { return rx_header_; }
  const std::string& name() const noexcept { return name_; }
  // The IP MTU read from the device (SIOCGIFMTU) when it was opened.
  std::size_t mtu() const noexcept { return mtu_; }
  // True when the device did not exist before this object opened it.
  bool created() const noexcept { return created_; }
  // Last errno seen by write() (0 after a successful write); TapLink maps it to a counter.
  int last_write_errno() const noexcept { return last_write_errno_; }

 private:
  int fd_ = -1;
  std::string name_;
  std::size_t mtu_ = 0;
  bool created_ = false;
  bool vnet_hdr_ = false;
  int last_write_errno_ = 0;
  VnetHeader rx_header_;
  std::vector<std::byte> spill_;  // catches the tail of a frame longer than the caller's buffer
};

}  // namespace tapstack::tap
