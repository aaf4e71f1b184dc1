/* POSIX backend: bind + listen, one accept attempt, the wake-up, removing
 * a unix socket file. */
#include "internal.h"

#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ps__listener_open(const ps_addr *addr, int backlog, unsigned flags,
                      ps__sock_t *out)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int rc = ps__addr_to_native(addr, &ss, &len);
    if (rc != PS_OK)
        return rc;
    ps__sock_t s;
    rc = ps__sock_open(addr->family, SOCK_STREAM, PS__LISTENER_NONBLOCKING,
                       &s);
    if (rc != PS_OK)
        return rc;

    int one = 1, e = 0;
    /* SO_REUSEADDR on POSIX only allows binding over TIME_WAIT leftovers;
     * it never lets two live listeners share a port. */
    if (addr->family != PS_AF_UNIX &&
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        e = errno;
    if (!e && addr->family == PS_AF_INET6) {
        int v6only = !(flags & PS_LISTEN_DUALSTACK);
        if (setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only))
            e = errno;
    }
    if (!e && bind(s, (struct sockaddr *)&ss, len) != 0)
        e = errno;
    if (!e && listen(s, backlog > 0 ? backlog : SOMAXCONN) != 0)
        e = errno;
    if (e) {
        close(s);
        if (e == ENOENT || e == ENOTDIR) {
            /* A unix path in a directory that does not exist. */
            ps__os_fail(e);
            return PS_EADDRNOTAVAIL;
        }
        return ps__os_fail(e);
    }
    *out = s;
    return PS_OK;
}

int ps__listener_accept(ps__sock_t l, ps__sock_t *out, ps_addr *peer,
                        int may_block)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    /* No address asked for: none copied out by the system either. */
    struct sockaddr *sa = peer ? (struct sockaddr *)&ss : NULL;
    socklen_t *sa_len = peer ? &len : NULL;
    if (!may_block && !PS__LISTENER_NONBLOCKING) {
        /* A blocking listener: look before accepting, so that this call
         * does not wait. Only this thread accepts on it (portsock.h), so
         * what poll() saw is still there. */
        struct pollfd pfd = {l, POLLIN, 0};
        int n = poll(&pfd, 1, 0);
        if (n < 0)
            return ps__os_fail(errno);
        if (n == 0)
            return ps__fail(PS_EWOULDBLOCK);
    }
#if defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__) || \
    defined(__OpenBSD__)
    /* accept4 without SOCK_NONBLOCK: the new socket is blocking whatever
     * the listener's mode, as every connection is here. */
    int s = accept4(l, sa, sa_len, SOCK_CLOEXEC);
#else
    int s = accept(l, sa, sa_len);
#endif
    if (s < 0)
        return ps__os_fail(errno);
#if !(defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__) || \
      defined(__OpenBSD__))
    /* BSD-derived systems copy O_NONBLOCK from the listener: clear it. */
    if (fcntl(s, F_SETFD, FD_CLOEXEC) != 0 ||
        ps__sock_set_nonblocking(s, 0) != PS_OK) {
        int e = errno;
        close(s);
        return ps__os_fail(e);
    }
#endif
#ifdef SO_NOSIGPIPE
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
    if (peer && ps__addr_from_native(peer, (struct sockaddr *)&ss, len) !=
                    PS_OK)
        memset(peer, 0, sizeof *peer); /* a family portsock does not know */
    *out = s;
    return PS_OK;
}

int ps__listener_wake(ps__sock_t l)
{
    /* On Linux, shutdown() of a listening socket makes poll() report it
     * and accept() fail with EINVAL from then on, in every thread. */
    if (shutdown(l, SHUT_RDWR) != 0)
        return ps__os_fail(errno);
    return PS_OK;
}

int ps__unix_path_remove(const char *path)
{
    /* Only a socket: a connect to a regular file or a directory is refused
     * just like one to a stale socket (Linux), and such a file must never
     * be deleted for it. */
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? PS_OK : ps__os_fail(errno); /* gone */
    if (!S_ISSOCK(st.st_mode))
        return ps__fail(PS_EADDRINUSE);
    if (unlink(path) != 0 && errno != ENOENT)
        return ps__os_fail(errno);
    return PS_OK;
}
