// ThreadLink: an Ethernet cable between two stack loops running on their own threads (MemoryLink is
// single-threaded). Each direction is an SpscRing of frames — the transmitting loop produces, the receiving loop
// consumes — plus an eventfd that the receiving runtime polls as the link's wait_fd().
#pragma once
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "stack/link.hpp"
#include "stack/spsc_ring.hpp"

namespace tapstack::socket::testing {

class ThreadLink final : public Link {
 public:
  struct Queue {
    explicit Queue(std::size_t frames) : ring{frames}, efd{::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)} {
      if (efd < 0) throw std::runtime_error("eventfd");
    }
    ~Queue() { ::close(efd); }
    SpscRing<std::vector<std::byte>> ring;
    int efd;
  };

  static std::pair<std::unique_ptr<ThreadLink>, std::unique_ptr<ThreadLink>> pair(std::size_t frames = 4096) {
    auto ab = std::make_shared<Queue>(frames);
    auto ba = std::make_shared<Queue>(frames);
    return {std::unique_ptr<ThreadLink>(new ThreadLink(ba, ab)), std::unique_ptr<ThreadLink>(new ThreadLink(ab, ba))};
  }

  std::size_t mtu() const noexcept override { return 1500; }

  bool transmit(Instant, Bytes frame) noexcept override {
    try {
      if (!out_->ring.try_push(std::vector<std::byte>(frame.begin(), frame.end()))) {
        ++drops;
        return false;
      }
    } catch (...) {
      ++drops;
      return false;
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(out_->efd, &one, sizeof one);
    return true;
  }

  std::optional<std::size_t> receive(Instant, MutableBytes buf) noexcept override {
    std::vector<std::byte>* f = in_->ring.front();
    if (f == nullptr) {
      // Clear the signal, then look again: a frame pushed before the clear is seen now, one pushed after
      // signals again.
      std::uint64_t v = 0;
      [[maybe_unused]] const ssize_t n = ::read(in_->efd, &v, sizeof v);
      f = in_->ring.front();
      if (f == nullptr) return std::nullopt;
    }
    const std::size_t n = f->size();
    const bool fits = n <= buf.size();
    if (fits && n != 0) std::memcpy(buf.data(), f->data(), n);
    in_->ring.pop_front();
    if (!fits) return std::nullopt;
    return n;
  }

  int wait_fd() const noexcept override { return in_->efd; }

  std::uint64_t drops = 0;  // transmit side only

 private:
  ThreadLink(std::shared_ptr<Queue> in, std::shared_ptr<Queue> out) : in_{std::move(in)}, out_{std::move(out)} {}
  std::shared_ptr<Queue> in_, out_;
};

}  // namespace tapstack::socket::testing
