// FunctionRef: a non-owning reference to a callable, for callbacks on the packet path (no allocation,
// unlike std::function). The referenced callable must outlive the call it is passed to.
#pragma once
#include <functional>
#include <type_traits>
#include <utility>

namespace tapstack {

template <class Sig>
class FunctionRef;

template <class R, class... Args>
class FunctionRef<R(Args...)> {
 public:
  template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, FunctionRef> && std::is_invocable_r_v<R, F&, Args...>)
  FunctionRef(F&& f) noexcept  // NOLINT(google-explicit-constructor): used like a function parameter
      : obj_{const_cast<void*>(static_cast<const void*>(std::addressof(f)))},
        call_{[](void* o, Args... a) -> R { return std::invoke(*static_cast<std::remove_reference_t<F>*>(o), std::forward<Args>(a)...); }} {}
  R operator()(Args... a) const { return call_(obj_, std::forward<Args>(a)...); }

 private:
  void* obj_;
  R (*call_)(void*, Args...);
};

}  // namespace tapstack
