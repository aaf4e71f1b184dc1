/* POSIX backend: socket creation, waiting, addresses.
 *
 * Mode: connection sockets are blocking. A call with PS_FOREVER then waits
 * in the kernel (one system call per transfer, as a raw blocking socket);
 * calls with a deadline pass MSG_DONTWAIT and wait in poll() only when the
 * transfer would block. Listeners: see listener.c. */
#include "internal.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

int ps__sock_set_nonblocking(ps__sock_t s, int on)
{
    int v = on;
    if (ioctl(s, FIONBIO, &v) != 0)
        return ps__os_fail(errno);
    return PS_OK;
}

int ps__sock_open(int family, int type, int nonblocking, ps__sock_t *out)
{
    int af = ps__family_to_native(family);
    if (af == AF_UNSPEC)
        return ps__fail(PS_EAFNOSUPPORT);
#if defined(SOCK_CLOEXEC) && defined(SOCK_NONBLOCK)
    int s = socket(af, type | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0),
                   0);
    if (s < 0)
        return ps__os_fail(errno);
#else
    int s = socket(af, type, 0);
    if (s < 0)
        return ps__os_fail(errno);
    if (fcntl(s, F_SETFD, FD_CLOEXEC) != 0 ||
        (nonblocking && ps__sock_set_nonblocking(s, 1) != PS_OK)) {
        int e = errno;
        close(s);
        return ps__os_fail(e);
    }
#endif
#ifdef SO_NOSIGPIPE
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
    *out = s;
    return PS_OK;
}

int ps__sock_open_stream(int family, int nonblocking, ps__sock_t *out)
{
    return ps__sock_open(family, SOCK_STREAM, nonblocking, out);
}

void ps__sock_close(ps__sock_t s)
{
    /* On Linux the descriptor is released even when close() reports EINTR,
     * so it must not be retried. */
    close(s);
}

int ps__sock_wait(ps__sock_t s, int events, int timeout_ms)
{
    struct pollfd pfd;
    pfd.fd = s;
    pfd.events = (short)(((events & PS__WAIT_READ) ? POLLIN : 0) |
                         ((events & PS__WAIT_WRITE) ? POLLOUT : 0));
    pfd.revents = 0;
    int n = poll(&pfd, 1, timeout_ms);
    if (n < 0)
        return ps__os_fail(errno);
    if (n == 0)
        return PS_ETIMEDOUT;
    if (pfd.revents & POLLNVAL)
        return ps__fail(PS_EINVAL);
    return PS_OK;
}

static int ps__sock_name(ps__sock_t s, ps_addr *out, int peer)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int rc = peer ? getpeername(s, (struct sockaddr *)&ss, &len)
                  : getsockname(s, (struct sockaddr *)&ss, &len);
    if (rc != 0)
        return ps__os_fail(errno);
    return ps__addr_from_native(out, (struct sockaddr *)&ss, len);
}

int ps__sock_local_addr(ps__sock_t s, ps_addr *out)
{
    return ps__sock_name(s, out, 0);
}

int ps__sock_peer_addr(ps__sock_t s, ps_addr *out)
{
    return ps__sock_name(s, out, 1);
}

int ps__sock_setopt(ps__sock_t s, int level, int name, const void *val,
                    size_t len)
{
    if (setsockopt(s, level, name, val, (socklen_t)len) != 0)
        return ps__os_fail(errno);
    return PS_OK;
}
