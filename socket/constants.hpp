// The socket module's constants with MicroPython's names and Linux's values (MicroPython's unix port passes
// them to the kernel unchanged), plus select.poll's event bits. Part of the tapstack::socket facade.
//
// These names are macros in <sys/socket.h>, <netinet/in.h>, <netinet/tcp.h>, <netdb.h> and <poll.h>. The header defines
// them as constants even when those macros exist (push/pop_macro), so it can be included in any order; in a
// translation unit that also includes the system headers, the unqualified macros expand to the same values.
#pragma once

#pragma push_macro("AF_UNSPEC")
#pragma push_macro("AF_INET")
#pragma push_macro("AF_INET6")
#pragma push_macro("SOCK_STREAM")
#pragma push_macro("SOCK_DGRAM")
#pragma push_macro("IPPROTO_TCP")
#pragma push_macro("IPPROTO_UDP")
#pragma push_macro("SOL_SOCKET")
#pragma push_macro("SO_REUSEADDR")
#pragma push_macro("SO_KEEPALIVE")
#pragma push_macro("SO_LINGER")
#pragma push_macro("SO_SNDBUF")
#pragma push_macro("SO_RCVBUF")
#pragma push_macro("SO_ERROR")
#pragma push_macro("TCP_NODELAY")
#pragma push_macro("MSG_PEEK")
#pragma push_macro("MSG_DONTWAIT")
#pragma push_macro("POLLIN")
#pragma push_macro("POLLOUT")
#pragma push_macro("POLLERR")
#pragma push_macro("POLLHUP")
#pragma push_macro("POLLNVAL")
#pragma push_macro("EAI_NONAME")
#pragma push_macro("EAI_AGAIN")
#pragma push_macro("EAI_FAIL")
#pragma push_macro("EAI_FAMILY")
#pragma push_macro("EAI_SOCKTYPE")
#pragma push_macro("EAI_SERVICE")
#pragma push_macro("AI_CANONNAME")
#undef AF_UNSPEC
#undef AF_INET
#undef AF_INET6
#undef SOCK_STREAM
#undef SOCK_DGRAM
#undef IPPROTO_TCP
#undef IPPROTO_UDP
#undef SOL_SOCKET
#undef SO_REUSEADDR
#undef SO_KEEPALIVE
#undef SO_LINGER
#undef SO_SNDBUF
#undef SO_RCVBUF
#undef SO_ERROR
#undef TCP_NODELAY
#undef MSG_PEEK
#undef MSG_DONTWAIT
#undef POLLIN
#undef POLLOUT
#undef POLLERR
#undef POLLHUP
#undef POLLNVAL
#undef EAI_NONAME
#undef EAI_AGAIN
#undef EAI_FAIL
#undef EAI_FAMILY
#undef EAI_SOCKTYPE
#undef EAI_SERVICE
#undef AI_CANONNAME

namespace tapstack::socket {

// Address families (getaddrinfo's af 0 means "any").
inline constexpr int AF_UNSPEC = 0;
inline constexpr int AF_INET = 2;
inline constexpr int AF_INET6 = 10;
// Socket types.
inline constexpr int SOCK_STREAM = 1;
inline constexpr int SOCK_DGRAM = 2;
// Protocols.
inline constexpr int IPPROTO_TCP = 6;
inline constexpr int IPPROTO_UDP = 17;
// setsockopt levels and names.
inline constexpr int SOL_SOCKET = 1;
inline constexpr int SO_REUSEADDR = 2;
inline constexpr int SO_ERROR = 4;
inline constexpr int SO_SNDBUF = 7;
inline constexpr int SO_RCVBUF = 8;
inline constexpr int SO_KEEPALIVE = 9;
inline constexpr int SO_LINGER = 13;
inline constexpr int TCP_NODELAY = 1;  // level IPPROTO_TCP
// recv flags.
inline constexpr int MSG_PEEK = 0x02;
inline constexpr int MSG_DONTWAIT = 0x40;
// select.poll event bits (MicroPython's values, which are Linux's).
inline constexpr int POLLIN = 0x01;
inline constexpr int POLLOUT = 0x04;
inline constexpr int POLLERR = 0x08;
inline constexpr int POLLHUP = 0x10;
inline constexpr int POLLNVAL = 0x20;
// ipoll(timeout, flags): report an object once, then disarm it (event mask 0) until modify() re-arms it.
inline constexpr int IPOLL_ONESHOT = 1;

// getaddrinfo() errors: negative numbers in their own namespace (MicroPython passes the C library's EAI_*
// values through; these are glibc's).
inline constexpr int EAI_NONAME = -2;
inline constexpr int EAI_AGAIN = -3;
inline constexpr int EAI_FAIL = -4;
inline constexpr int EAI_FAMILY = -6;
inline constexpr int EAI_SOCKTYPE = -7;
inline constexpr int EAI_SERVICE = -8;
// getaddrinfo() flags (glibc's values).
inline constexpr int AI_CANONNAME = 0x0002;

}  // namespace tapstack::socket

#pragma pop_macro("AF_UNSPEC")
#pragma pop_macro("AF_INET")
#pragma pop_macro("AF_INET6")
#pragma pop_macro("SOCK_STREAM")
#pragma pop_macro("SOCK_DGRAM")
#pragma pop_macro("IPPROTO_TCP")
#pragma pop_macro("IPPROTO_UDP")
#pragma pop_macro("SOL_SOCKET")
#pragma pop_macro("SO_REUSEADDR")
#pragma pop_macro("SO_KEEPALIVE")
#pragma pop_macro("SO_LINGER")
#pragma pop_macro("SO_SNDBUF")
#pragma pop_macro("SO_RCVBUF")
#pragma pop_macro("SO_ERROR")
#pragma pop_macro("TCP_NODELAY")
#pragma pop_macro("MSG_PEEK")
#pragma pop_macro("MSG_DONTWAIT")
#pragma pop_macro("POLLIN")
#pragma pop_macro("POLLOUT")
#pragma pop_macro("POLLERR")
#pragma pop_macro("POLLHUP")
#pragma pop_macro("POLLNVAL")
#pragma pop_macro("EAI_NONAME")
#pragma pop_macro("EAI_AGAIN")
#pragma pop_macro("EAI_FAIL")
#pragma pop_macro("EAI_FAMILY")
#pragma pop_macro("EAI_SOCKTYPE")
#pragma pop_macro("EAI_SERVICE")
#pragma pop_macro("AI_CANONNAME")
