/* Winsock2 backend: OS headers and the native socket type for src/internal.h. */
#ifndef PS_PLATFORM_H
#define PS_PLATFORM_H

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00 /* Windows 10: AF_UNIX, WSA_FLAG_NO_HANDLE_INHERIT */
#endif

#include <winsock2.h>
#include <ws2tcpip.h>
#include <afunix.h>
#include <windows.h>

typedef SOCKET ps__sock_t;
typedef int ps__socklen_t;
#define PS__BAD_SOCK INVALID_SOCKET

/* Shared by the Winsock backend's files (socket.c): a new overlapped,
 * non-inheritable socket of PS_AF_* `family` and SOCK_* `type`, in
 * non-blocking mode if `nonblocking`. */
int ps__sock_open(int family, int type, int nonblocking, ps__sock_t *out);

/* Before a DLL build is unloaded (init.c's DllMain): release what conn.c
 * keeps per thread, so that no thread calls into the unloaded code. */
void ps__conn_os_unload(void);

/* Listeners are non-blocking (socket.c): every ps_accept tries, and waits
 * in select() if nothing is queued. */
#define PS__LISTENER_NONBLOCKING 1

/* No socket receive timeouts (src/internal.h): ps__conn_recv_until is an
 * overlapped receive and a timed wait. */
#define PS__CONN_RECV_TIMEO 0

#endif
