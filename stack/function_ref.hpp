// FunctionRef: a non-owning reference to a callable, for callbacks on the packet path (no allocation,
// unlike std::function). The referenced callable must outlive the call it is passed to.
// Plain functions and function pointers are stored by value, so `FunctionRef<int(int)> f = &fn;` is safe
// to keep.
#pragma once
#include <functional>
#include <memory>
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
  FunctionRef(F&& f) noexcept {  // NOLINT(google-explicit-constructor): used like a function parameter
    using Fn = std::remove_reference_t<F>;
    if constexpr (std::is_function_v<Fn> || std::is_function_v<std::remove_pointer_t<std::decay_t<F>>>) {
      // A function or function pointer: keep the pointer itself (a void* cannot portably hold it).
      using Ptr = std::decay_t<F>;
      target_.fn = reinterpret_cast<void (*)()>(static_cast<Ptr>(f));
      call_ = [](Target t, Args... a) -> R {
        return std::invoke(reinterpret_cast<Ptr>(t.fn), std::forward<Args>(a)...);
      };
    } else {
      target_.obj = const_cast<void*>(static_cast<const void*>(std::addressof(f)));
      call_ = [](Target t, Args... a) -> R { return std::invoke(*static_cast<Fn*>(t.obj), std::forward<Args>(a)...); };
    }
  }
  R operator()(Args... a) const { return call_(target_, std::forward<Args>(a)...); }

 private:
  union Target {
    void* obj;
    void (*fn)();
  };
  Target target_;
  R (*call_)(Target, Args...);
};

}  // namespace tapstack
