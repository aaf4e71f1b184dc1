/* POSIX backend: connect, send, receive, shutdown, options. */
#include "internal.h"

#include <limits.h>
#include <stddef.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

int ps__conn_connect(ps__sock_t s, const ps_addr *addr, int nonblocking)
{
    (void)nonblocking; /* the socket was opened in the right mode */
    struct sockaddr_storage ss;
    socklen_t len;
    int rc = ps__addr_to_native(addr, &ss, &len);
    if (rc != PS_OK)
        return rc;
    if (connect(s, (struct sockaddr *)&ss, len) == 0)
        return nonblocking ? ps__sock_set_nonblocking(s, 0) : PS_OK;
    return ps__os_fail(errno);
}

int ps__conn_connect_result(ps__sock_t s)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return ps__os_fail(errno);
    if (err != 0)
        return ps__os_fail(err);
    return ps__sock_set_nonblocking(s, 0); /* back to connection mode */
}

/* poll() waits here (ps__sock_wait, from the common code): one try. */
int ps__conn_recv_until(ps__sock_t s, void *buf, size_t cap, size_t *got,
                        ps__deadline dl)
{
    (void)dl;
    return ps__conn_recv(s, buf, cap, got, 0);
}

/* Longest SO_RCVTIMEO set: one day. Linux takes a longer one as "no limit"
 * once it overflows its tick count (about 24.8 days on 32-bit systems at
 * 1000 ticks a second), and some BSDs refuse long ones (EDOM); a longer
 * deadline just waits out the rest in poll(). */
#define PS__RECV_TIMEO_MAX_MS (24 * 3600 * 1000)

/* A blocking recv() then fails with EAGAIN once the time passed, and with
 * EINTR on any signal (never restarted); MSG_DONTWAIT calls ignore it.
 * Linux counts it in timer ticks on its timer wheel, which rounds a
 * timeout up by up to an eighth of it plus a tick or two (measured at 250
 * ticks a second: 3 s ended 72 to 173 ms late, 300 ms 16 to 20 ms, 10 ms
 * 3 to 6 ms, where poll() is late by 0.1 to 3 ms). So the socket gets
 * that much less than the call's timeout: a receive whose data comes later
 * ends early with EAGAIN and the common code waits out the rest of the
 * deadline in poll(), precisely; one whose data comes in time (the common
 * case) is one recv(). */
#define PS__RECV_TIMEO_TICKS_MS 20 /* two ticks at 100 ticks a second */
_Static_assert(PS__CONN_RECV_TIMEO_MIN_MS - PS__CONN_RECV_TIMEO_MIN_MS / 8 -
                       PS__RECV_TIMEO_TICKS_MS >=
                   1,
               "PS__CONN_RECV_TIMEO_MIN_MS leaves no receive timeout");

int ps__conn_set_recv_timeout(ps__sock_t s, int timeout_ms)
{
    if (timeout_ms > PS__RECV_TIMEO_MAX_MS)
        timeout_ms = PS__RECV_TIMEO_MAX_MS;
    if (timeout_ms > 0) {
        timeout_ms -= timeout_ms / 8 + PS__RECV_TIMEO_TICKS_MS;
        if (timeout_ms < 1) /* below PS__CONN_RECV_TIMEO_MIN_MS */
            timeout_ms = 1;
    }
    struct timeval tv;
    tv.tv_sec = (time_t)(timeout_ms / 1000);
    tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
    if (setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
        return ps__os_fail(errno);
    return PS_OK;
}

/* ---- vectored I/O -------------------------------------------------------
 * ps_iovec has struct iovec's layout on every POSIX system we know of (as
 * libuv's uv_buf_t relies on): the array goes to sendmsg / recvmsg as it
 * is, checked here at compile time. */
_Static_assert(sizeof(ps_iovec) == sizeof(struct iovec) &&
                   offsetof(ps_iovec, base) == offsetof(struct iovec,
                                                        iov_base) &&
                   offsetof(ps_iovec, len) == offsetof(struct iovec, iov_len),
               "ps_iovec must match struct iovec");

/* How many of iov[0..count) one call takes: at most IOV_MAX buffers (more
 * fail with EMSGSIZE), and no more bytes in all than a ssize_t result can
 * report (more fail with EINVAL); always the first buffer. */
static size_t ps__iov_take(const ps_iovec *iov, size_t count)
{
#ifdef IOV_MAX
    size_t max = IOV_MAX;
#else
    long sys = sysconf(_SC_IOV_MAX);
    size_t max = sys > 0 ? (size_t)sys : 16; /* POSIX's minimum */
#endif
    if (count > max)
        count = max;
    size_t total = iov[0].len, n = 1;
    for (; n < count && iov[n].len <= (size_t)SSIZE_MAX - total; n++)
        total += iov[n].len;
    return n;
}

static void ps__msg_init(struct msghdr *m, const ps_iovec *iov, size_t count)
{
    memset(m, 0, sizeof *m);
    m->msg_iov = (struct iovec *)(void *)iov; /* only read by the system */
    m->msg_iovlen = ps__iov_take(iov, count);
}

int ps__conn_sendv(ps__sock_t s, const ps_iovec *iov, size_t count,
                   size_t *sent, int may_block)
{
    struct msghdr m;
    ps__msg_init(&m, iov, count);
    ssize_t n =
        sendmsg(s, &m, MSG_NOSIGNAL | (may_block ? 0 : MSG_DONTWAIT));
    if (n < 0)
        return ps__os_fail(errno);
    *sent = (size_t)n;
    return PS_OK;
}

int ps__conn_recvv(ps__sock_t s, const ps_iovec *iov, size_t count,
                   size_t *got, int may_block)
{
    struct msghdr m;
    ps__msg_init(&m, iov, count);
    ssize_t n = recvmsg(s, &m, may_block ? 0 : MSG_DONTWAIT);
    if (n < 0)
        return ps__os_fail(errno);
    if (n == 0)
        return ps__fail(PS_ECLOSED);
    *got = (size_t)n;
    return PS_OK;
}

int ps__conn_shutdown(ps__sock_t s, int how)
{
    int native = how == PS_SHUT_RD   ? SHUT_RD
                 : how == PS_SHUT_WR ? SHUT_WR
                                     : SHUT_RDWR;
    /* ENOTCONN: the connection is already gone, so the direction is shut. */
    if (shutdown(s, native) != 0 && errno != ENOTCONN)
        return ps__os_fail(errno);
    return PS_OK;
}

void ps__conn_abort(ps__sock_t s)
{
    struct linger lg;
    lg.l_onoff = 1;
    lg.l_linger = 0;
    setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(s);
}

int ps__conn_set_nodelay(ps__sock_t s, int on)
{
    if (setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0)
        return ps__os_fail(errno);
    return PS_OK;
}

int ps__conn_set_keepalive(ps__sock_t s, int on, int idle_s, int interval_s)
{
    if (setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) != 0)
        return ps__os_fail(errno);
    if (!on)
        return PS_OK;
#if defined(TCP_KEEPIDLE)
    if (idle_s > 0 &&
        setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s) != 0)
        return ps__os_fail(errno);
#elif defined(TCP_KEEPALIVE)
    if (idle_s > 0 &&
        setsockopt(s, IPPROTO_TCP, TCP_KEEPALIVE, &idle_s, sizeof idle_s) != 0)
        return ps__os_fail(errno);
#else
    if (idle_s > 0)
        return ps__fail(PS_ENOTSUP);
#endif
#if defined(TCP_KEEPINTVL)
    if (interval_s > 0 && setsockopt(s, IPPROTO_TCP, TCP_KEEPINTVL,
                                     &interval_s, sizeof interval_s) != 0)
        return ps__os_fail(errno);
#else
    if (interval_s > 0)
        return ps__fail(PS_ENOTSUP);
#endif
    return PS_OK;
}
