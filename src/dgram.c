/* Datagram sockets (UDP): argument checks, deadlines and the retry loops.
 * The backend (src/<backend>/dgram.c) does the system calls only. */
#include "internal.h"

#include <string.h>

#include <limits.h>
#include <stdlib.h>

#define PS__DGRAM_FLAGS                                                        \
    ((unsigned)(PS_DGRAM_DUALSTACK | PS_DGRAM_BROADCAST | PS_DGRAM_REUSEADDR))

/* An IPv4 or IPv6 address: the only families a datagram socket takes.
 * Local sockets are a family portsock knows but does not carry datagrams
 * for (PS_EAFNOSUPPORT); anything else is a bad argument. */
static int ps__dgram_check_family(const ps_addr *a)
{
    if (a->family == PS_AF_INET || a->family == PS_AF_INET6)
        return PS_OK;
    return ps__fail(a->family == PS_AF_UNIX ? PS_EAFNOSUPPORT : PS_EINVAL);
}

/* A destination of `d`: its family, and a real port (nothing listens on
 * port 0; the systems disagree on how to say so). */
static int ps__dgram_check_dest(const ps_dgram *d, const ps_addr *to)
{
    if (to->family != d->family || to->port == 0)
        return ps__fail(PS_EINVAL);
    return PS_OK;
}

/* 224.0.0.0/4 or ff00::/8. */
static int ps__is_multicast(const ps_addr *a)
{
    if (a->family == PS_AF_INET)
        return (a->u.v4[0] & 0xf0) == 0xe0;
    if (a->family == PS_AF_INET6)
        return a->u.v6[0] == 0xff;
    return 0;
}

int ps_dgram_open(ps_dgram **out, const ps_addr *bind_addr, unsigned flags)
{
    if (!out || (flags & ~PS__DGRAM_FLAGS))
        return ps__fail(PS_EINVAL);
    int family = PS_AF_INET; /* NULL: an unbound IPv4 socket */
    if (bind_addr) {
        int rc = ps__dgram_check_family(bind_addr);
        if (rc != PS_OK)
            return rc;
        family = bind_addr->family;
    }
    int rc = ps__os_lazy_init();
    if (rc != PS_OK)
        return rc;
    ps_dgram *d = malloc(sizeof *d);
    if (!d)
        return ps__fail(PS_ENOMEM);
    ps__sock_t s;
    rc = ps__dgram_open(family, bind_addr, flags, &s);
    if (rc != PS_OK) {
        free(d);
        return rc;
    }
    ps__handle_init(&d->h, s);
    d->family = family;
    d->connected = 0;
    *out = d;
    return PS_OK;
}

/* One datagram either way within `dl`: try first, wait only if the call
 * would block (the common path is one system call). `to` NULL sends to the
 * connected peer. */
static int ps__dgram_io(ps_dgram *d, int sending, void *buf, size_t len,
                        const ps_addr *to, size_t *got, size_t *full_len,
                        ps_addr *from, ps__deadline dl)
{
    int may_block = dl == PS__DL_FOREVER;
    for (;;) {
        int rc = sending ? ps__dgram_sendto(d->h.sock, buf, len, to, may_block)
                         : ps__dgram_recvfrom(d->h.sock, buf, len, got,
                                              full_len, from, may_block);
        if (rc == PS__EINTR)
            continue;
        /* A port-unreachable report belongs to a connected socket only: on
         * an unconnected one it would say nothing about the next datagram
         * (Windows reports one there unless SIO_UDP_CONNRESET is off, and
         * the backend turns it off). Drop it and receive again. */
        if (rc == PS_ECONNREFUSED && !sending && !d->connected)
            continue;
        if (rc != PS_EWOULDBLOCK)
            return rc;
        rc = ps__wait_until(d->h.sock,
                            sending ? PS__WAIT_WRITE : PS__WAIT_READ, dl);
        if (rc != PS_OK)
            return rc;
    }
}

static int ps__dgram_send_common(ps_dgram *d, const void *buf, size_t len,
                                 const ps_addr *to, int timeout_ms)
{
    ps__deadline dl;
    if (!d || (!buf && len > 0))
        return ps__fail(PS_EINVAL);
    if (to) {
        int rc = ps__dgram_check_dest(d, to);
        if (rc != PS_OK)
            return rc;
        if (d->connected) {
            /* A connected socket talks to its peer only, and the systems
             * disagree on what a `to` means for it: the peer's address is
             * accepted, any other is refused. */
            ps_addr peer;
            rc = ps__sock_peer_addr(d->h.sock, &peer);
            if (rc != PS_OK)
                return rc;
            if (!ps_addr_equal(&peer, to))
                return ps__fail(PS_EINVAL);
            to = NULL;
        }
    } else if (!d->connected) {
        return ps__fail(PS_EINVAL); /* no peer to send to */
    }
    int rc = ps__deadline_make(timeout_ms, &dl);
    if (rc != PS_OK)
        return rc;
    /* No system sends a datagram this large (UDP stops at 64 KiB), and
     * Winsock counts lengths in an int: refuse rather than cut it. */
    if (len > INT_MAX)
        return ps__fail(PS_EMSGSIZE);
    return ps__dgram_io(d, 1, (void *)buf, len, to, NULL, NULL, NULL, dl);
}

int ps_dgram_sendto(ps_dgram *d, const void *buf, size_t len,
                    const ps_addr *to, int timeout_ms)
{
    if (!to)
        return ps__fail(PS_EINVAL);
    return ps__dgram_send_common(d, buf, len, to, timeout_ms);
}

int ps_dgram_send(ps_dgram *d, const void *buf, size_t len, int timeout_ms)
{
    return ps__dgram_send_common(d, buf, len, NULL, timeout_ms);
}

static int ps__dgram_recv_common(ps_dgram *d, void *buf, size_t cap,
                                 size_t *got, size_t *full_len, ps_addr *from,
                                 int timeout_ms, int need_peer)
{
    ps__deadline dl;
    size_t n = 0, full = 0;
    if (got)
        *got = 0;
    if (full_len)
        *full_len = 0;
    if (!d || (!buf && cap > 0) || (need_peer && !d->connected))
        return ps__fail(PS_EINVAL);
    int rc = ps__deadline_make(timeout_ms, &dl);
    if (rc != PS_OK)
        return rc;
    rc = ps__dgram_io(d, 0, buf, cap, NULL, &n, &full, from, dl);
    if (rc != PS_OK && rc != PS_EMSGSIZE)
        return rc;
    if (got)
        *got = n;
    if (full_len)
        *full_len = full;
    return rc;
}

int ps_dgram_recvfrom(ps_dgram *d, void *buf, size_t cap, size_t *got,
                      size_t *full_len, ps_addr *from, int timeout_ms)
{
    return ps__dgram_recv_common(d, buf, cap, got, full_len, from, timeout_ms,
                                 0);
}

int ps_dgram_recv(ps_dgram *d, void *buf, size_t cap, size_t *got,
                  size_t *full_len, int timeout_ms)
{
    return ps__dgram_recv_common(d, buf, cap, got, full_len, NULL, timeout_ms,
                                 1);
}

int ps_dgram_connect(ps_dgram *d, const ps_addr *peer)
{
    if (!d || !peer)
        return ps__fail(PS_EINVAL);
    int rc = ps__dgram_check_dest(d, peer);
    if (rc != PS_OK)
        return rc;
    rc = ps__dgram_connect(d->h.sock, peer);
    if (rc == PS_OK)
        d->connected = 1;
    return rc;
}


/* Join or leave: the request structures are the same on both systems. */
static int ps__dgram_membership(ps__sock_t s, const ps_addr *group,
                                const ps_addr *iface, int join)
{
    if (group->family == PS_AF_INET) {
        struct ip_mreq m;
        memset(&m, 0, sizeof m);
        memcpy(&m.imr_multiaddr, group->u.v4, 4);
        if (iface)
            memcpy(&m.imr_interface, iface->u.v4, 4);
        return ps__sock_setopt(s, IPPROTO_IP,
                               join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP,
                               &m, sizeof m);
    }
    struct ipv6_mreq m;
    memset(&m, 0, sizeof m);
    memcpy(&m.ipv6mr_multiaddr, group->u.v6, 16);
    m.ipv6mr_interface = iface ? iface->scope_id : 0;
    return ps__sock_setopt(s, IPPROTO_IPV6,
                           join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP, &m,
                           sizeof m);
}

static int ps__dgram_member(ps_dgram *d, const ps_addr *group,
                            const ps_addr *iface, int join)
{
    if (!d || !group)
        return ps__fail(PS_EINVAL);
    if (group->family != d->family || !ps__is_multicast(group) ||
        (iface && iface->family != group->family))
        return ps__fail(PS_EINVAL);
    return ps__dgram_membership(d->h.sock, group, iface, join);
}

int ps_dgram_join(ps_dgram *d, const ps_addr *group, const ps_addr *iface)
{
    return ps__dgram_member(d, group, iface, 1);
}

int ps_dgram_leave(ps_dgram *d, const ps_addr *group, const ps_addr *iface)
{
    return ps__dgram_member(d, group, iface, 0);
}

int ps_dgram_set_multicast(ps_dgram *d, const ps_addr *iface, int ttl,
                           int loop)
{
    if (!d || (iface && iface->family != d->family) || ttl < 0 || ttl > 255 ||
        loop < -1 || loop > 1)
        return ps__fail(PS_EINVAL);
    return ps__dgram_set_multicast(d->h.sock, d->family, iface, ttl, loop);
}

int ps_dgram_local_addr(const ps_dgram *d, ps_addr *out)
{
    if (!d || !out)
        return ps__fail(PS_EINVAL);
    int rc = ps__sock_local_addr(d->h.sock, out);
    /* Not bound yet (opened with NULL and nothing sent): POSIX reports the
     * wildcard address with port 0, Winsock fails with WSAEINVAL. Report
     * what POSIX does on every system. */
    if (rc == PS_EINVAL)
        rc = ps_addr_any(out, d->family, 0);
    return rc;
}

int ps_dgram_close(ps_dgram *d)
{
    if (!d)
        return ps__fail(PS_EINVAL);
    ps__handle_detach(&d->h); /* leave a poller before the socket goes */
    ps__sock_close(d->h.sock);
    free(d);
    return PS_OK;
}

ps_socket_t ps_dgram_native(const ps_dgram *d)
{
    return d ? (ps_socket_t)d->h.sock : PS_INVALID_SOCKET;
}
