/* Winsock datagram (UDP) sockets. Non-blocking for their whole life, as
 * every socket of this backend (socket.c): `may_block` changes nothing and
 * the common code waits in ps__sock_wait on PS_EWOULDBLOCK.
 *
 * Port-unreachable reports: Winsock makes an ICMP port-unreachable (caused
 * by an earlier send) fail the next recvfrom with WSAECONNRESET, even on an
 * unconnected socket where it says nothing about the datagram being
 * received. SIO_UDP_CONNRESET is turned off at open; a connected socket
 * talks to one peer only, so there the report is wanted and ps__dgram_connect
 * turns it back on. On a UDP socket WSAECONNRESET means exactly that report,
 * and it is returned as PS_ECONNREFUSED, as POSIX does. */
#include "internal.h"

#include <limits.h>
#include <mswsock.h>

/* The error of a failed send / receive on a UDP socket. */
static int ps__dgram_os_fail(int err)
{
    if (err == WSAECONNRESET) {
        ps__os_fail(err);
        return PS_ECONNREFUSED;
    }
    return ps__os_fail(err);
}

static int ps__dgram_setopt(SOCKET s, int level, int name, DWORD v)
{
    if (setsockopt(s, level, name, (const char *)&v, (int)sizeof v) != 0)
        return ps__os_fail(WSAGetLastError());
    return PS_OK;
}

static int ps__dgram_connreset(SOCKET s, BOOL on)
{
    DWORD bytes = 0;
    if (WSAIoctl(s, SIO_UDP_CONNRESET, &on, (DWORD)sizeof on, NULL, 0, &bytes,
                 NULL, NULL) != 0)
        return ps__os_fail(WSAGetLastError());
    return PS_OK;
}

int ps__dgram_open(int family, const ps_addr *bind_addr, unsigned flags,
                   ps__sock_t *out)
{
    if (family != PS_AF_INET && family != PS_AF_INET6)
        return ps__fail(PS_EAFNOSUPPORT);
    int af = ps__family_to_native(family);
    SOCKET s;
    int rc = ps__sock_open(family, SOCK_DGRAM, 1, &s);
    if (rc != PS_OK)
        return rc;
    rc = ps__dgram_connreset(s, FALSE);
    if (rc == PS_OK && af == AF_INET6) /* explicit: defaults differ */
        rc = ps__dgram_setopt(s, IPPROTO_IPV6, IPV6_V6ONLY,
                              (flags & PS_DGRAM_DUALSTACK) ? 0 : 1);
    if (rc == PS_OK && (flags & PS_DGRAM_BROADCAST))
        rc = ps__dgram_setopt(s, SOL_SOCKET, SO_BROADCAST, 1);
    /* Asked for, SO_REUSEADDR lets sockets share the port; otherwise
     * SO_EXCLUSIVEADDRUSE keeps another program from binding over ours
     * (Windows' default would let a SO_REUSEADDR socket take its
     * datagrams). */
    if (rc == PS_OK)
        rc = ps__dgram_setopt(s, SOL_SOCKET,
                              (flags & PS_DGRAM_REUSEADDR)
                                  ? SO_REUSEADDR
                                  : SO_EXCLUSIVEADDRUSE,
                              1);
    if (rc == PS_OK && bind_addr) {
        struct sockaddr_storage ss;
        ps__socklen_t len;
        rc = ps__addr_to_native(bind_addr, &ss, &len);
        if (rc == PS_OK && bind(s, (const struct sockaddr *)&ss, len) != 0)
            rc = ps__os_fail(WSAGetLastError());
    }
    if (rc != PS_OK) {
        closesocket(s); /* the error is saved already */
        return rc;
    }
    *out = s;
    return PS_OK;
}

int ps__dgram_sendto(ps__sock_t s, const void *buf, size_t len,
                     const ps_addr *to, int may_block)
{
    (void)may_block;
    if (len > INT_MAX) /* never cut a length to fit an int */
        return ps__fail(PS_EMSGSIZE);
    struct sockaddr_storage ss;
    ps__socklen_t sslen = 0;
    if (to) {
        int rc = ps__addr_to_native(to, &ss, &sslen);
        if (rc != PS_OK)
            return rc;
    }
    int n = sendto(s, (const char *)buf, (int)len, 0,
                   to ? (const struct sockaddr *)&ss : NULL, sslen);
    if (n == SOCKET_ERROR)
        return ps__dgram_os_fail(WSAGetLastError());
    if ((size_t)n != len)
        return ps__fail(PS_EMSGSIZE); /* never on UDP; never silently */
    return PS_OK;
}

int ps__dgram_recvfrom(ps__sock_t s, void *buf, size_t cap, size_t *got,
                       size_t *full_len, ps_addr *from, int may_block)
{
    (void)may_block;
    /* No datagram is larger than an int: a larger buffer is never cut. */
    int icap = cap > INT_MAX ? INT_MAX : (int)cap;
    struct sockaddr_storage ss;
    int sslen = (int)sizeof ss;
    int err = 0;
    ss.ss_family = AF_UNSPEC; /* never read unset, whatever Winsock fills */
    int n = recvfrom(s, (char *)buf, icap, 0, (struct sockaddr *)&ss, &sslen);
    if (n == SOCKET_ERROR) {
        err = WSAGetLastError();
        /* Cut: the first `cap` bytes are filled, the rest is gone and
         * Winsock does not say how large the datagram was. */
        if (err != WSAEMSGSIZE)
            return ps__dgram_os_fail(err);
        n = icap;
    }
    *got = (size_t)n;
    *full_len = 0;
    if (from) {
        int rc = ps__addr_from_native(from, (const struct sockaddr *)&ss,
                                      (size_t)sslen);
        if (rc != PS_OK)
            return rc;
    }
    return err ? ps__os_fail(err) : PS_OK;
}

int ps__dgram_connect(ps__sock_t s, const ps_addr *peer)
{
    struct sockaddr_storage ss;
    ps__socklen_t len;
    int rc = ps__addr_to_native(peer, &ss, &len);
    if (rc != PS_OK)
        return rc;
    if (connect(s, (const struct sockaddr *)&ss, len) != 0)
        return ps__os_fail(WSAGetLastError());
    /* One peer: its port being closed is worth reporting (see the top). */
    return ps__dgram_connreset(s, TRUE);
}

int ps__dgram_set_multicast(ps__sock_t s, int family, const ps_addr *iface,
                            int ttl, int loop)
{
    int v4 = family == PS_AF_INET;
    int level = v4 ? IPPROTO_IP : IPPROTO_IPV6;
    int rc = PS_OK;
    if (iface) {
        /* IPv4: the interface's address (network order, as in_addr);
         * IPv6: its index. */
        DWORD v;
        if (v4)
            memcpy(&v, iface->u.v4, 4);
        else
            v = iface->scope_id;
        rc = ps__dgram_setopt(s, level,
                              v4 ? IP_MULTICAST_IF : IPV6_MULTICAST_IF, v);
    }
    if (rc == PS_OK && ttl > 0)
        rc = ps__dgram_setopt(s, level,
                              v4 ? IP_MULTICAST_TTL : IPV6_MULTICAST_HOPS,
                              (DWORD)ttl);
    if (rc == PS_OK && loop >= 0)
        rc = ps__dgram_setopt(s, level,
                              v4 ? IP_MULTICAST_LOOP : IPV6_MULTICAST_LOOP,
                              (DWORD)loop);
    return rc;
}
