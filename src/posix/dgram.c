/* POSIX backend: datagram (UDP) sockets. Blocking sockets, as connections
 * are (socket.c): MSG_DONTWAIT per call unless the caller waits forever. */
#include "internal.h"

#include <string.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* SO_NOSIGPIPE is set on the socket instead */
#endif

/* Linux: MSG_TRUNC on a receive makes it return the datagram's real
 * length. Elsewhere only msg_flags tells that it was cut. */
#ifdef __linux__
#define PS__RECV_TRUNC MSG_TRUNC
#else
#define PS__RECV_TRUNC 0
#endif

static int ps__setopt_int(int s, int level, int name, int v)
{
    if (setsockopt(s, level, name, &v, sizeof v) != 0)
        return ps__os_fail(errno);
    return PS_OK;
}

/* The options `flags` asks for, then the bind. */
static int ps__dgram_setup(int s, int family, const ps_addr *bind_addr,
                           unsigned flags)
{
    int rc = PS_OK;
    if (family == PS_AF_INET6) /* explicit: the default differs by system */
        rc = ps__setopt_int(s, IPPROTO_IPV6, IPV6_V6ONLY,
                            !(flags & PS_DGRAM_DUALSTACK));
    if (rc == PS_OK && (flags & PS_DGRAM_BROADCAST))
        rc = ps__setopt_int(s, SOL_SOCKET, SO_BROADCAST, 1);
    if (rc == PS_OK && (flags & PS_DGRAM_REUSEADDR)) {
        rc = ps__setopt_int(s, SOL_SOCKET, SO_REUSEADDR, 1);
#ifdef SO_REUSEPORT
        if (rc == PS_OK)
            rc = ps__setopt_int(s, SOL_SOCKET, SO_REUSEPORT, 1);
#endif
    }
    if (rc == PS_OK && bind_addr) {
        struct sockaddr_storage ss;
        socklen_t len;
        rc = ps__addr_to_native(bind_addr, &ss, &len);
        if (rc == PS_OK && bind(s, (struct sockaddr *)&ss, len) != 0)
            rc = ps__os_fail(errno);
    }
    return rc;
}

int ps__dgram_open(int family, const ps_addr *bind_addr, unsigned flags,
                   ps__sock_t *out)
{
    ps__sock_t s;
    int rc = ps__sock_open(family, SOCK_DGRAM, 0, &s);
    if (rc != PS_OK)
        return rc;
    rc = ps__dgram_setup(s, family, bind_addr, flags);
    if (rc != PS_OK) {
        close(s); /* the error is saved already */
        return rc;
    }
    *out = s;
    return PS_OK;
}

int ps__dgram_sendto(ps__sock_t s, const void *buf, size_t len,
                     const ps_addr *to, int may_block)
{
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    if (to) {
        int rc = ps__addr_to_native(to, &ss, &sslen);
        if (rc != PS_OK)
            return rc;
    }
    ssize_t n = sendto(s, buf, len,
                       MSG_NOSIGNAL | (may_block ? 0 : MSG_DONTWAIT),
                       to ? (struct sockaddr *)&ss : NULL, sslen);
    if (n < 0)
        return ps__os_fail(errno);
    if ((size_t)n != len)
        return ps__fail(PS_EMSGSIZE); /* never on UDP; never silently */
    return PS_OK;
}

int ps__dgram_recvfrom(ps__sock_t s, void *buf, size_t cap, size_t *got,
                       size_t *full_len, ps_addr *from, int may_block)
{
    struct sockaddr_storage ss;
    struct iovec iov;
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    iov.iov_base = buf;
    iov.iov_len = cap;
    mh.msg_name = &ss;
    mh.msg_namelen = sizeof ss;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    ssize_t n =
        recvmsg(s, &mh, PS__RECV_TRUNC | (may_block ? 0 : MSG_DONTWAIT));
    if (n < 0)
        return ps__os_fail(errno);
    int truncated = (mh.msg_flags & MSG_TRUNC) || (size_t)n > cap;
    *got = truncated ? cap : (size_t)n;
    *full_len = truncated && (size_t)n > cap ? (size_t)n : 0;
    if (from) {
        /* A connected socket may not say who sent (the peer did). */
        int rc = mh.msg_namelen > 0
                     ? ps__addr_from_native(from, (struct sockaddr *)&ss,
                                            mh.msg_namelen)
                     : ps__sock_peer_addr(s, from);
        if (rc != PS_OK)
            return rc;
    }
    return truncated ? ps__fail(PS_EMSGSIZE) : PS_OK;
}

int ps__dgram_connect(ps__sock_t s, const ps_addr *peer)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int rc = ps__addr_to_native(peer, &ss, &len);
    if (rc != PS_OK)
        return rc;
    if (connect(s, (struct sockaddr *)&ss, len) != 0)
        return ps__os_fail(errno);
    return PS_OK;
}

int ps__dgram_set_multicast(ps__sock_t s, int family, const ps_addr *iface,
                            int ttl, int loop)
{
    int rc = PS_OK;
    if (family == PS_AF_INET) {
        if (iface) {
            struct in_addr a;
            memcpy(&a, iface->u.v4, 4);
            if (setsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &a, sizeof a) != 0)
                rc = ps__os_fail(errno);
        }
        /* One byte each: BSD takes nothing else, Linux takes both. */
        unsigned char ttl8 = (unsigned char)ttl, loop8 = (unsigned char)loop;
        if (rc == PS_OK && ttl > 0 &&
            setsockopt(s, IPPROTO_IP, IP_MULTICAST_TTL, &ttl8, 1) != 0)
            rc = ps__os_fail(errno);
        if (rc == PS_OK && loop >= 0 &&
            setsockopt(s, IPPROTO_IP, IP_MULTICAST_LOOP, &loop8, 1) != 0)
            rc = ps__os_fail(errno);
    } else {
        if (iface)
            rc = ps__setopt_int(s, IPPROTO_IPV6, IPV6_MULTICAST_IF,
                                (int)iface->scope_id);
        if (rc == PS_OK && ttl > 0)
            rc = ps__setopt_int(s, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ttl);
        if (rc == PS_OK && loop >= 0)
            rc = ps__setopt_int(s, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, loop);
    }
    return rc;
}
