/* POSIX backend: OS headers and the native socket type for src/internal.h. */
#ifndef PS_PLATFORM_H
#define PS_PLATFORM_H

/* CMake defines _GNU_SOURCE for this backend (accept4, MSG_NOSIGNAL,
 * SOCK_CLOEXEC on glibc): it must be set before the first system header. */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <errno.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* SO_NOSIGPIPE is set on the socket instead */
#endif

typedef int ps__sock_t;
typedef socklen_t ps__socklen_t;
#define PS__BAD_SOCK (-1)

/* Linux listeners are blocking: ps_accept with PS_FOREVER is then one
 * accept4() call, as with a raw socket, and ps_listener_shutdown still
 * wakes it (shutdown() makes a blocked accept fail with EINVAL). Other
 * systems do not promise that wake-up, so there the listener is
 * non-blocking and every wait happens in poll(). src/listener.c reads it
 * too: a blocking accept needs no wait first. */
#ifdef __linux__
#define PS__LISTENER_NONBLOCKING 0
#else
#define PS__LISTENER_NONBLOCKING 1
#endif

/* Shared by the POSIX backend's files (socket.c). */
int ps__sock_open(int family, int type, int nonblocking, ps__sock_t *out);
int ps__sock_set_nonblocking(ps__sock_t s, int on);

/* ps__conn_send and ps__conn_recv (contract in src/internal.h) are inline
 * here: each is one system call, and the public calls in src/conn.c that
 * make it on their fast path would otherwise pay a second call layer on
 * every transfer (bench/, instructions per round trip). */
#define PS__CONN_IO_INLINE 1
int ps__os_fail(int os_code);
int ps__fail(int err);

static inline int ps__conn_send(ps__sock_t s, const void *buf, size_t len,
                                size_t *sent, int may_block)
{
    ssize_t n =
        send(s, buf, len, MSG_NOSIGNAL | (may_block ? 0 : MSG_DONTWAIT));
    if (n < 0)
        return ps__os_fail(errno);
    *sent = (size_t)n;
    return PS_OK;
}

static inline int ps__conn_recv(ps__sock_t s, void *buf, size_t cap,
                                size_t *got, int may_block)
{
    ssize_t n = recv(s, buf, cap, may_block ? 0 : MSG_DONTWAIT);
    if (n < 0)
        return ps__os_fail(errno);
    if (n == 0)
        return ps__fail(PS_ECLOSED);
    *got = (size_t)n;
    return PS_OK;
}

/* A receive with a deadline waits in the kernel, with SO_RCVTIMEO set
 * from its timeout (src/internal.h): one recv, as without deadline.
 * Retries go through ps__conn_recv_until (one MSG_DONTWAIT try, which
 * SO_RCVTIMEO does not affect) and poll. Timeouts below
 * PS__CONN_RECV_TIMEO_MIN_MS leave nothing for SO_RCVTIMEO once the
 * system timer's coarseness is allowed for (conn.c): they use poll only. */
#define PS__CONN_RECV_TIMEO 1
#define PS__CONN_RECV_TIMEO_MIN_MS 24

#endif
