/* Connection: argument checks, connect with a deadline, the send / receive
 * retry loops and the local shutdown state. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static int ps__conn_wrap(ps__sock_t s, ps_conn **out)
{
    ps_conn *c = malloc(sizeof *c);
    if (!c) {
        ps__sock_close(s);
        return ps__fail(PS_ENOMEM);
    }
    c->sock = s;
    atomic_init(&c->shut, 0);
    *out = c;
    return PS_OK;
}

/* Connect within deadline `dl`, the socket already open. */
static int ps__connect_deadline(ps__sock_t s, const ps_addr *addr,
                                int nonblocking, ps__deadline dl)
{
    int rc;
    do
        rc = ps__conn_connect(s, addr, nonblocking);
    while (rc == PS__EINTR && !nonblocking && ps__deadline_left_ms(dl) != 0);
    if (rc == PS__EINTR)
        rc = PS_EINPROGRESS; /* an interrupted connect goes on in the kernel */
    /* A wait may end before the connect does (a backend reports a
     * canceled wait as ready): ask the result until it is final. */
    while (rc == PS_EINPROGRESS) {
        rc = ps__wait_until(s, PS__WAIT_WRITE, dl);
        if (rc == PS_OK)
            rc = ps__conn_connect_result(s);
    }
    return rc;
}

static int ps__connect_one(ps_conn **out, const ps_addr *addr,
                           ps__deadline dl)
{
    /* Without a deadline the kernel may wait in connect() itself. */
    int nonblocking = dl != PS__DL_FOREVER;
    ps__sock_t s;
    int rc = ps__sock_open_stream(addr->family, nonblocking, &s);
    if (rc != PS_OK)
        return rc;
    rc = ps__connect_deadline(s, addr, nonblocking, dl);
    if (rc != PS_OK) {
        ps__sock_close(s);
        return rc;
    }
    return ps__conn_wrap(s, out);
}

int ps_connect(ps_conn **out, const ps_addr *addr, int timeout_ms)
{
    ps__deadline dl;
    if (!out || !addr)
        return ps__fail(PS_EINVAL);
    if (addr->family == PS_AF_UNIX)
        return ps__fail(PS_EAFNOSUPPORT); /* local sockets: not yet */
    if (addr->family != PS_AF_INET && addr->family != PS_AF_INET6)
        return ps__fail(PS_EINVAL);
    if (addr->port == 0)
        return ps__fail(PS_EINVAL); /* no service listens on port 0 */
    int rc = ps__deadline_make(timeout_ms, &dl);
    if (rc != PS_OK)
        return rc;
    return ps__connect_one(out, addr, dl);
}

#define PS__DIAL_MAX 16

int ps_dial(ps_conn **out, const char *host, const char *service,
            int timeout_ms)
{
    ps__deadline dl;
    if (!out || !host || !service)
        return ps__fail(PS_EINVAL);
    int rc = ps__deadline_make(timeout_ms, &dl);
    if (rc != PS_OK)
        return rc;
    ps_addr addrs[PS__DIAL_MAX];
    size_t n = 0;
    rc = ps_resolve(host, service, PS_AF_UNSPEC, addrs, PS__DIAL_MAX, &n);
    if (rc != PS_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && dl != PS__DL_FOREVER && ps__deadline_left_ms(dl) == 0)
            return ps__fail(dl == PS__DL_NOWAIT ? PS_EWOULDBLOCK
                                                : PS_ETIMEDOUT);
        rc = ps__connect_one(out, &addrs[i], dl);
        if (rc == PS_OK || rc == PS_ETIMEDOUT || rc == PS_EWOULDBLOCK)
            return rc;
    }
    return rc;
}

/* One transfer of at least one byte within `dl`: try first, wait only if
 * the call would block (the common path is one system call). */
static int ps__transfer(ps_conn *c, int sending, void *buf, size_t len,
                        size_t *moved, ps__deadline dl)
{
    int may_block = dl == PS__DL_FOREVER;
    for (;;) {
        int rc = sending ? ps__conn_send(c->sock, buf, len, moved, may_block)
                         : ps__conn_recv(c->sock, buf, len, moved, may_block);
        if (rc == PS_OK)
            return PS_OK;
        if (rc == PS__EINTR)
            continue;
        if (rc == PS_EWOULDBLOCK)
            rc = ps__wait_until(c->sock,
                                sending ? PS__WAIT_WRITE : PS__WAIT_READ, dl);
        if (rc != PS_OK) {
            /* What a local ps_shutdown caused is reported as such. */
            int shut = atomic_load(&c->shut);
            if (!sending && (shut & PS_SHUT_RD))
                return ps__fail(PS_ECANCELED);
            if (sending && (shut & PS_SHUT_WR))
                return ps__fail(PS_EPIPE);
            return rc;
        }
    }
}

/* The four transfer calls in one: `all` loops until `len` bytes moved. */
static int ps__io(ps_conn *c, int sending, void *buf, size_t len,
                  size_t *moved, int timeout_ms, int all)
{
    ps__deadline dl;
    size_t done = 0;
    if (moved)
        *moved = 0;
    if (!c || !buf || (!sending && !all && len == 0))
        return ps__fail(PS_EINVAL);
    int rc = ps__deadline_make(timeout_ms, &dl);
    if (rc != PS_OK)
        return rc;
    int shut = atomic_load(&c->shut);
    if (sending && (shut & PS_SHUT_WR))
        return ps__fail(PS_EPIPE);
    if (!sending && (shut & PS_SHUT_RD))
        return ps__fail(PS_ECANCELED);
    while (done < len) {
        size_t n = 0;
        rc = ps__transfer(c, sending, (char *)buf + done, len - done, &n, dl);
        if (rc != PS_OK)
            break;
        done += n;
        if (moved)
            *moved = done; /* exact even when a later round fails */
        if (!all)
            break;
    }
    return rc;
}

int ps_send(ps_conn *c, const void *buf, size_t len, size_t *sent,
            int timeout_ms)
{
    return ps__io(c, 1, (void *)buf, len, sent, timeout_ms, 0);
}

int ps_recv(ps_conn *c, void *buf, size_t cap, size_t *got, int timeout_ms)
{
    return ps__io(c, 0, buf, cap, got, timeout_ms, 0);
}

int ps_send_all(ps_conn *c, const void *buf, size_t len, size_t *sent,
                int timeout_ms)
{
    return ps__io(c, 1, (void *)buf, len, sent, timeout_ms, 1);
}

int ps_recv_exact(ps_conn *c, void *buf, size_t len, size_t *got,
                  int timeout_ms)
{
    return ps__io(c, 0, buf, len, got, timeout_ms, 1);
}

int ps_shutdown(ps_conn *c, int how)
{
    if (!c || how < PS_SHUT_RD || how > PS_SHUT_RDWR)
        return ps__fail(PS_EINVAL);
    /* The flag goes first so that a thread the shutdown wakes reports it. */
    atomic_fetch_or(&c->shut, how);
    return ps__conn_shutdown(c->sock, how);
}

int ps_close(ps_conn *c)
{
    if (!c)
        return ps__fail(PS_EINVAL);
    ps__sock_close(c->sock);
    free(c);
    return PS_OK;
}

int ps_abort(ps_conn *c)
{
    if (!c)
        return ps__fail(PS_EINVAL);
    ps__conn_abort(c->sock);
    free(c);
    return PS_OK;
}

int ps_conn_local_addr(const ps_conn *c, ps_addr *out)
{
    if (!c || !out)
        return ps__fail(PS_EINVAL);
    return ps__sock_local_addr(c->sock, out);
}

int ps_conn_peer_addr(const ps_conn *c, ps_addr *out)
{
    if (!c || !out)
        return ps__fail(PS_EINVAL);
    return ps__sock_peer_addr(c->sock, out);
}

int ps_conn_set_nodelay(ps_conn *c, int on)
{
    if (!c || (on != 0 && on != 1))
        return ps__fail(PS_EINVAL);
    return ps__conn_set_nodelay(c->sock, on);
}

int ps_conn_set_keepalive(ps_conn *c, int on, int idle_s, int interval_s)
{
    if (!c || (on != 0 && on != 1) || idle_s < 0 || interval_s < 0)
        return ps__fail(PS_EINVAL);
    return ps__conn_set_keepalive(c->sock, on, idle_s, interval_s);
}

ps_socket_t ps_conn_native(const ps_conn *c)
{
    return c ? (ps_socket_t)c->sock : PS_INVALID_SOCKET;
}

int ps_conn_pair(ps_conn *pair[2])
{
    if (!pair)
        return ps__fail(PS_EINVAL);
    ps_addr loop, bound, client_local, peer;
    ps_listener *l = NULL;
    ps_conn *a = NULL, *b = NULL;
    int rc = ps_addr_loopback(&loop, PS_AF_INET, 0);
    if (rc == PS_OK)
        rc = ps_listen(&l, &loop, NULL);
    if (rc == PS_OK)
        rc = ps_listener_addr(l, &bound);
    if (rc == PS_OK)
        rc = ps_connect(&a, &bound, PS_FOREVER);
    if (rc == PS_OK)
        rc = ps_conn_local_addr(a, &client_local);
    /* Accept until the peer is our own client: another local process could
     * race a connection onto the short-lived listener. */
    for (int tries = 0; rc == PS_OK && tries < 16; tries++) {
        rc = ps_accept(l, &b, &peer, 5000);
        if (rc != PS_OK || ps_addr_equal(&peer, &client_local))
            break;
        ps_close(b);
        b = NULL;
    }
    if (rc == PS_OK && !b)
        rc = ps__fail(PS_ECONNABORTED);
    if (l)
        ps_listener_close(l);
    if (rc != PS_OK) {
        if (a)
            ps_close(a);
        if (b)
            ps_close(b);
        return rc;
    }
    pair[0] = a;
    pair[1] = b;
    return PS_OK;
}
