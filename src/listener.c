/* Listener: argument checks, the accept loop and the wake-up flag. */
#include "internal.h"

#include <stdlib.h>

int ps_listen(ps_listener **out, const ps_addr *addr,
              const ps_listen_opts *opts)
{
    if (!out || !addr)
        return ps__fail(PS_EINVAL);
    if (addr->family == PS_AF_UNIX)
        return ps__fail(PS_EAFNOSUPPORT); /* local sockets: not yet */
    if (addr->family != PS_AF_INET && addr->family != PS_AF_INET6)
        return ps__fail(PS_EINVAL);
    int backlog = opts ? opts->backlog : 0;
    unsigned flags = opts ? opts->flags : 0;
    if (backlog < 0 || (flags & ~(unsigned)PS_LISTEN_DUALSTACK))
        return ps__fail(PS_EINVAL);

    ps_listener *l = malloc(sizeof *l);
    if (!l)
        return ps__fail(PS_ENOMEM);
    int rc = ps__listener_open(addr, backlog, flags, &l->sock);
    if (rc != PS_OK) {
        free(l);
        return rc;
    }
    atomic_init(&l->shut, 0);
    *out = l;
    return PS_OK;
}

int ps_listener_addr(const ps_listener *l, ps_addr *out)
{
    if (!l || !out)
        return ps__fail(PS_EINVAL);
    return ps__sock_local_addr(l->sock, out);
}

int ps_accept(ps_listener *l, ps_conn **out, ps_addr *peer, int timeout_ms)
{
    ps__deadline dl;
    if (!l || !out)
        return ps__fail(PS_EINVAL);
    int rc = ps__deadline_make(timeout_ms, &dl);
    if (rc != PS_OK)
        return rc;

    ps_conn *c = malloc(sizeof *c);
    if (!c)
        return ps__fail(PS_ENOMEM);
    ps__sock_t s;
    for (;;) {
        if (atomic_load(&l->shut)) {
            rc = ps__fail(PS_ECANCELED);
            break;
        }
        rc = ps__listener_accept(l->sock, &s, peer);
        if (rc == PS_OK)
            break;
        /* A connection reset while still queued is not the listener's
         * failure: go on to the next one. */
        if (rc == PS__EINTR || rc == PS_ECONNABORTED)
            continue;
        if (rc != PS_EWOULDBLOCK)
            break;
        rc = ps__wait_until(l->sock, PS__WAIT_READ, dl);
        if (rc != PS_OK)
            break;
    }
    if (rc == PS_OK && atomic_load(&l->shut)) {
        /* Accepted after a shutdown: honour the shutdown. */
        ps__sock_close(s);
        rc = ps__fail(PS_ECANCELED);
    }
    if (rc != PS_OK) {
        /* A failure caused by the shutdown's wake-up is the cancel. */
        if (atomic_load(&l->shut))
            rc = ps__fail(PS_ECANCELED);
        free(c);
        return rc;
    }
    c->sock = s;
    atomic_init(&c->shut, 0);
    *out = c;
    return PS_OK;
}

int ps_listener_shutdown(ps_listener *l)
{
    if (!l)
        return ps__fail(PS_EINVAL);
    if (atomic_exchange(&l->shut, 1))
        return PS_OK;
    return ps__listener_wake(l->sock);
}

int ps_listener_close(ps_listener *l)
{
    if (!l)
        return ps__fail(PS_EINVAL);
    ps__sock_close(l->sock);
    free(l);
    return PS_OK;
}

ps_socket_t ps_listener_native(const ps_listener *l)
{
    return l ? (ps_socket_t)l->sock : PS_INVALID_SOCKET;
}
