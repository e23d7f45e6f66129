// The TCP connection states of RFC 9293 §3.3.2 (figure 5), as the connection state machine
// (tcp/connection) and the layer's demux see them.
#pragma once
#include <cstdint>
#include <ostream>
#include <string_view>

namespace tapstack::tcp {

enum class State : std::uint8_t {
  kClosed,
  kListen,
  kSynSent,
  kSynReceived,
  kEstablished,
  kFinWait1,
  kFinWait2,
  kCloseWait,
  kClosing,
  kLastAck,
  kTimeWait,
};

// RFC 9293's names: "CLOSED", "SYN-SENT", "TIME-WAIT", ...
constexpr std::string_view to_string(State s) noexcept {
  switch (s) {
    case State::kClosed:
      return "CLOSED";
    case State::kListen:
      return "LISTEN";
    case State::kSynSent:
      return "SYN-SENT";
    case State::kSynReceived:
      return "SYN-RECEIVED";
    case State::kEstablished:
      return "ESTABLISHED";
    case State::kFinWait1:
      return "FIN-WAIT-1";
    case State::kFinWait2:
      return "FIN-WAIT-2";
    case State::kCloseWait:
      return "CLOSE-WAIT";
    case State::kClosing:
      return "CLOSING";
    case State::kLastAck:
      return "LAST-ACK";
    case State::kTimeWait:
      return "TIME-WAIT";
  }
  return "?";
}
inline std::ostream& operator<<(std::ostream& os, State s) { return os << to_string(s); }

// RFC 9293 §3.3.2: the states after the handshake completed (SYN-RECEIVED is not one of them).
constexpr bool is_synchronized(State s) noexcept {
  return s != State::kClosed && s != State::kListen && s != State::kSynSent && s != State::kSynReceived;
}

}  // namespace tapstack::tcp
