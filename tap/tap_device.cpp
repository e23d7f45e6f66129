// TapDevice: open /dev/net/tun, TUNSETIFF, MTU and IFF_UP through ioctls. The only file with /dev/net/tun.
#include "tap/tap_device.hpp"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>

#include "stack/link.hpp"

namespace tapstack::tap {
namespace {

// Setup-time failure: "TAP device 'tap0': <step> [(needs CAP_NET_ADMIN)]: <errno text>".
[[noreturn]] void throw_for(int err, std::string_view name, std::string_view step) {
  std::string what = "TAP device '" + std::string{name} + "': " + std::string{step};
  if (err == EPERM || err == EACCES) what += " (needs CAP_NET_ADMIN)";
  throw std::system_error(err, std::generic_category(), what);
}

class FdGuard {
 public:
  explicit FdGuard(int fd) noexcept : fd_{fd} {}
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

ifreq make_ifreq(std::string_view name) noexcept {
  ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::memcpy(ifr.ifr_name, name.data(), name.size());  // the caller checked name.size() < IFNAMSIZ
  return ifr;
}

// An ioctl socket for interface queries: AF_INET is always there; AF_PACKET if IPv4 is compiled out.
int control_socket() noexcept {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) s = ::socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  return s;
}

}  // namespace

TapDevice::TapDevice(std::string_view name, bool vnet_hdr) : name_{name}, vnet_hdr_{vnet_hdr} {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    throw_for(name.empty() ? EINVAL : ENAMETOOLONG, name,
              "invalid interface name (1 to " + std::to_string(IFNAMSIZ - 1) + " characters)");
  }
  // Attach-or-create: TUNSETIFF does both, so ask first whether the interface already exists.
  const bool existed = ::if_nametoindex(name_.c_str()) != 0;

  FdGuard fd{::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC)};
  if (fd.get() < 0) throw_for(errno, name, "open /dev/net/tun");

  ifreq ifr = make_ifreq(name);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;  // whole Ethernet frames, no 4-byte packet-info prefix
  if (vnet_hdr) ifr.ifr_flags |= IFF_VNET_HDR;
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0) throw_for(errno, name, "TUNSETIFF");
  if (vnet_hdr) {
    // The 10-byte legacy header (the default size, said explicitly).
    int size = int(VnetHeader::kLen);
    if (::ioctl(fd.get(), TUNSETVNETHDRSZ, &size) < 0) throw_for(errno, name, "TUNSETVNETHDRSZ");
  }
  // What the kernel may send us. With the header: partial checksums and TCP segmentation offload over IPv4 and
  // IPv6 (a TCP segment of up to 64 KiB, as a virtio NIC with those features receives); not ECN-marked TSO, not
  // UDP segmentation: the kernel segments those itself. Without it: nothing, said explicitly, because a
  // persistent device keeps the offloads its last user set, and a reader without the header could not tell a
  // partial checksum from a bad one.
  const unsigned long offloads = vnet_hdr ? (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) : 0;
  if (::ioctl(fd.get(), TUNSETOFFLOAD, offloads) < 0) throw_for(errno, name, "TUNSETOFFLOAD");
  name_ = ifr.ifr_name;  // the kernel's spelling (it would expand a "tap%d" pattern)

  FdGuard ctl{control_socket()};
  if (ctl.get() < 0) throw_for(errno, name_, "control socket");
  ifreq q = make_ifreq(name_);
  if (::ioctl(ctl.get(), SIOCGIFMTU, &q) < 0) throw_for(errno, name_, "SIOCGIFMTU");
  mtu_ = q.ifr_mtu > 0 ? std::size_t(q.ifr_mtu) : 0;

  created_ = !existed;
  if (created_) {
    q = make_ifreq(name_);
    if (::ioctl(ctl.get(), SIOCGIFFLAGS, &q) < 0) throw_for(errno, name_, "SIOCGIFFLAGS");
    if (!(q.ifr_flags & IFF_UP)) {
      q.ifr_flags = short(q.ifr_flags | IFF_UP);
      if (::ioctl(ctl.get(), SIOCSIFFLAGS, &q) < 0) throw_for(errno, name_, "SIOCSIFFLAGS IFF_UP");
    }
  }
  spill_.resize(kMaxFrameSize);
  fd_ = fd.release();
}

TapDevice::~TapDevice() {
  if (fd_ >= 0) ::close(fd_);
}

TapDevice::TapDevice(TapDevice&& other) noexcept
    : fd_{std::exchange(other.fd_, -1)},
      name_{std::move(other.name_)},
      mtu_{other.mtu_},
      created_{other.created_},
      vnet_hdr_{other.vnet_hdr_},
      last_write_errno_{other.last_write_errno_},
      rx_header_{other.rx_header_},
      spill_{std::move(other.spill_)} {}

TapDevice& TapDevice::operator=(TapDevice&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    name_ = std::move(other.name_);
    mtu_ = other.mtu_;
    created_ = other.created_;
    vnet_hdr_ = other.vnet_hdr_;
    last_write_errno_ = other.last_write_errno_;
    rx_header_ = other.rx_header_;
    spill_ = std::move(other.spill_);
  }
  return *this;
}

std::optional<std::size_t> TapDevice::read(MutableBytes buf) noexcept {
  std::array<std::byte, VnetHeader::kLen> hdr;
  for (int attempt = 0; attempt < 4; ++attempt) {  // bounded retry on EINTR
    iovec iov[3] = {{hdr.data(), hdr.size()}, {buf.data(), buf.size()}, {spill_.data(), spill_.size()}};
    const ssize_t n = vnet_hdr_ ? ::readv(fd_, iov, 3) : ::readv(fd_, iov + 1, 2);
    if (n >= 0) {
      if (!vnet_hdr_) return std::size_t(n);
      if (std::size_t(n) < hdr.size()) return std::nullopt;  // the kernel always writes the whole header
      rx_header_ = VnetHeader::read(Bytes{hdr});
      return std::size_t(n) - hdr.size();
    }
    if (errno != EINTR) return std::nullopt;  // EAGAIN: nothing waiting; anything else: treat as nothing
  }
  return std::nullopt;
}

bool TapDevice::write(const VnetHeader& h, Bytes frame) noexcept {
  std::array<std::byte, VnetHeader::kLen> hdr;
  h.write(MutableBytes{hdr});
  iovec iov[2] = {{hdr.data(), hdr.size()}, {const_cast<std::byte*>(frame.data()), frame.size()}};
  const std::size_t total = vnet_hdr_ ? hdr.size() + frame.size() : frame.size();
  for (int attempt = 0; attempt < 4; ++attempt) {
    const ssize_t n = vnet_hdr_ ? ::writev(fd_, iov, 2) : ::write(fd_, frame.data(), frame.size());
    if (n >= 0) {
      last_write_errno_ = 0;
      return std::size_t(n) == total;  // a TAP write is all or nothing
    }
    last_write_errno_ = errno;
    if (errno != EINTR) return false;
  }
  return false;
}

std::size_t TapDevice::read_batch(MutableBytes scratch, std::size_t max_frames,
                                  FunctionRef<void(Bytes)> on_frame) noexcept {
  std::size_t count = 0;
  while (count < max_frames) {
    const auto n = read(scratch);
    if (!n) break;
    ++count;
    if (*n <= scratch.size()) on_frame(Bytes{scratch.data(), *n});
  }
  return count;
}

}  // namespace tapstack::tap
