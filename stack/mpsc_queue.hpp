// MpscQueue: a lock-free intrusive multi-producer single-consumer queue (Dmitry Vyukov's design). Any thread
// pushes with one atomic exchange (wait-free); one thread pops. The socket runtime uses it to carry commands
// (connect, bind, listen, close...) from application threads to the stack loop.
#pragma once
#include <atomic>

#include "stack/spsc_ring.hpp"  // kCacheLine

namespace tapstack {

// Embed (derive from) one of these in every item the queue carries; the queue never owns or allocates items.
struct MpscNode {
  std::atomic<MpscNode*> mpsc_next{nullptr};
};

// T must derive from MpscNode. An item must stay alive, and must not be pushed again, until it is popped.
//
// Memory ordering: push exchanges the head (acq_rel) and then release-stores the link from the previous node;
// the consumer acquire-loads links, so everything the producer wrote into an item before push() is visible to
// the thread that pops it.
template <class T>
class MpscQueue {
 public:
  MpscQueue() noexcept : head_{&stub_}, tail_{&stub_} {}
  MpscQueue(const MpscQueue&) = delete;
  MpscQueue& operator=(const MpscQueue&) = delete;

  // Any thread.
  void push(T* item) noexcept { push_node(static_cast<MpscNode*>(item)); }

  // The consumer thread only. nullptr when the queue is empty, and also, briefly, while a producer is between
  // its exchange and its link store: that item is returned by a later call (the producer's wake-up, which
  // follows its push, brings the consumer back).
  T* try_pop() noexcept {
    MpscNode* tail = tail_;
    MpscNode* next = tail->mpsc_next.load(std::memory_order_acquire);
    if (tail == &stub_) {
      if (next == nullptr) return nullptr;
      tail_ = next;
      tail = next;
      next = next->mpsc_next.load(std::memory_order_acquire);
    }
    if (next != nullptr) {
      tail_ = next;
      return static_cast<T*>(tail);
    }
    if (tail != head_.load(std::memory_order_acquire)) return nullptr;  // a push is in progress
    push_node(&stub_);
    next = tail->mpsc_next.load(std::memory_order_acquire);
    if (next != nullptr) {
      tail_ = next;
      return static_cast<T*>(tail);
    }
    return nullptr;
  }

  // The consumer thread only: false when an item is ready or a push is in progress.
  bool empty() const noexcept {
    return tail_ == &stub_ && stub_.mpsc_next.load(std::memory_order_acquire) == nullptr &&
           head_.load(std::memory_order_acquire) == &stub_;
  }

 private:
  void push_node(MpscNode* n) noexcept {
    n->mpsc_next.store(nullptr, std::memory_order_relaxed);
    MpscNode* prev = head_.exchange(n, std::memory_order_acq_rel);
    prev->mpsc_next.store(n, std::memory_order_release);
  }

  alignas(kCacheLine) std::atomic<MpscNode*> head_;  // the most recently pushed node; producers exchange it
  alignas(kCacheLine) MpscNode* tail_;               // the next node to pop; the consumer's alone
  MpscNode stub_;
};

}  // namespace tapstack
