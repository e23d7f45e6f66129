// errno_of(f): runs f and returns the errno of the socket::OSError it threw (0 when it threw nothing), for tests
// that check which error a facade call raises.
#pragma once
#include "socket/error.hpp"

namespace tapstack::socket::testing {

template <class F>
int errno_of(F&& f) {
  try {
    f();
  } catch (const OSError& e) {
    return e.errno_value();
  }
  return 0;
}

}  // namespace tapstack::socket::testing
