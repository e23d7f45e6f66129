// Listener queue policy: SYN admission, SYN queue -> accept queue promotion, FIFO accept (RFC 9293 §3.10.7.2,
// RFC 4987 §3.1-3.6).
#include "tcp/listener.hpp"

namespace tapstack::tcp {

Listener::SynVerdict Listener::on_syn(bool cookies_enabled) const noexcept {
  if (accept_queue_full()) return SynVerdict::kDropAcceptQueueFull;
  if (half_open_ + waiting_.size() >= syn_queue_max_)
    return cookies_enabled ? SynVerdict::kCookie : SynVerdict::kDropSynQueueFull;
  return SynVerdict::kQueue;
}

bool Listener::on_established(ConnHandle h) noexcept {
  try {
    if (accept_.size() < backlog_)
      accept_.push_back(h);
    else
      waiting_.push_back(h);
  } catch (...) {
    return false;
  }
  remove_half_open();
  return true;
}

bool Listener::add_established(ConnHandle h) noexcept {
  if (accept_queue_full()) return false;
  try {
    accept_.push_back(h);
  } catch (...) {
    return false;
  }
  return true;
}

std::optional<ConnHandle> Listener::pop_accept() noexcept {
  if (accept_.empty()) return std::nullopt;
  const ConnHandle h = accept_.front();
  accept_.pop_front();
  if (!waiting_.empty()) {
    // Cannot throw: accept_ just gave up an element, and deque::push_back after pop_front may still
    // allocate a block; treat failure as "stay in waiting_".
    try {
      accept_.push_back(waiting_.front());
      waiting_.pop_front();
    } catch (...) {
    }
  }
  return h;
}

}  // namespace tapstack::tcp
