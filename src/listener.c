/* Listener: argument checks, the accept loop, the wake-up flag, and the
 * socket file of a unix listener (stale files reclaimed, removed at close). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Bound for the probe of an existing unix socket path: a live listener
 * answers a local connect at once. */
#define PS__UNIX_PROBE_MS 2000

/* Binding `addr` (a unix path) failed because the path exists. Is it a
 * stale socket left by a server that died? A connect says: a live
 * listener accepts it (or, Linux, reports its queue full: PS_EWOULDBLOCK).
 * Only PS_ECONNREFUSED means nobody listens there, but Linux also gives it
 * for a path that is not a socket at all, so the backend's removal checks
 * the file type and refuses anything but a socket (PS_EADDRINUSE). PS_OK
 * when the stale file is gone and the bind can be tried again. (BSD
 * systems refuse a connect to a live listener whose queue is full with
 * ECONNREFUSED too; the probe cannot tell that case from a dead one.) */
static int ps__unix_reclaim(const ps_addr *addr)
{
    ps_conn *probe;
    int rc = ps_connect(&probe, addr, PS__UNIX_PROBE_MS);
    if (rc == PS_OK)
        ps_close(probe);
    if (rc != PS_ECONNREFUSED)
        return ps__fail(PS_EADDRINUSE);
    return ps__unix_path_remove(addr->u.path);
}

/* A malloc'd copy of the unix path of `addr` for the listener to remove
 * when it closes; PS_EINVAL for an empty or unterminated path. */
static int ps__unix_path_copy(const ps_addr *addr, char **out)
{
    size_t len = ps__strnlen(addr->u.path, sizeof addr->u.path);
    if (len == 0 || len > PS_UNIX_PATH_MAX)
        return ps__fail(PS_EINVAL);
    char *copy = malloc(len + 1);
    if (!copy)
        return ps__fail(PS_ENOMEM);
    memcpy(copy, addr->u.path, len + 1);
    *out = copy;
    return PS_OK;
}

int ps_listen(ps_listener **out, const ps_addr *addr,
              const ps_listen_opts *opts)
{
    if (!out || !addr)
        return ps__fail(PS_EINVAL);
    int is_unix = addr->family == PS_AF_UNIX;
    if (!is_unix && addr->family != PS_AF_INET &&
        addr->family != PS_AF_INET6)
        return ps__fail(PS_EINVAL);
    int backlog = opts ? opts->backlog : 0;
    unsigned flags = opts ? opts->flags : 0;
    if (backlog < 0 || (flags & ~(unsigned)PS_LISTEN_DUALSTACK))
        return ps__fail(PS_EINVAL);

    char *path = NULL;
    if (is_unix) {
        int rc = ps__unix_path_copy(addr, &path);
        if (rc != PS_OK)
            return rc;
    }
    ps_listener *l = malloc(sizeof *l);
    if (!l) {
        free(path);
        return ps__fail(PS_ENOMEM);
    }
    ps__sock_t s;
    int rc = ps__listener_open(addr, backlog, flags, &s);
    if (rc == PS_EADDRINUSE && is_unix) {
        rc = ps__unix_reclaim(addr);
        if (rc == PS_OK)
            rc = ps__listener_open(addr, backlog, flags, &s);
    }
    if (rc != PS_OK) {
        free(path);
        free(l);
        return rc;
    }
    ps__handle_init(&l->h, s);
    atomic_init(&l->shut, 0);
    l->unix_path = path;
    *out = l;
    return PS_OK;
}

int ps_listener_addr(const ps_listener *l, ps_addr *out)
{
    if (!l || !out)
        return ps__fail(PS_EINVAL);
    return ps__sock_local_addr(l->h.sock, out);
}

int ps_accept(ps_listener *l, ps_conn **out, ps_addr *peer, int timeout_ms)
{
    ps__deadline dl;
    if (!l || !out)
        return ps__fail(PS_EINVAL);
    int rc = ps__deadline_make(timeout_ms, &dl);
    if (rc != PS_OK)
        return rc;

    ps_conn *c = ps__conn_alloc();
    if (!c)
        return ps__fail(PS_ENOMEM);
    ps__sock_t s;
    /* A server that had to wait for one client usually waits for the next
     * as well: once an accept on this listener found nothing queued, later
     * ones that may wait do so first, which saves the try that would fail
     * (a system call; under Wine a wineserver round trip). A blocking
     * listener's PS_FOREVER accept waits in the system and needs none. */
    int wait_first = l->accept_waited && dl != PS__DL_NOWAIT &&
                     (PS__LISTENER_NONBLOCKING || dl != PS__DL_FOREVER);
    for (;;) {
        if (atomic_load(&l->shut)) {
            rc = ps__fail(PS_ECANCELED);
            break;
        }
        if (wait_first) {
            wait_first = 0;
        } else {
            rc = ps__listener_accept(l->h.sock, &s, peer,
                                     dl == PS__DL_FOREVER);
            if (rc == PS_OK)
                break;
            /* A connection reset while still queued is not the listener's
             * failure: go on to the next one. */
            if (rc == PS__EINTR || rc == PS_ECONNABORTED)
                continue;
            if (rc != PS_EWOULDBLOCK)
                break;
            if (dl != PS__DL_NOWAIT)
                l->accept_waited = 1;
        }
        rc = ps__wait_until(l->h.sock, PS__WAIT_READ, dl);
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
        ps__conn_free(c);
        return rc;
    }
    ps__conn_init(c, s);
    *out = c;
    return PS_OK;
}

int ps_listener_shutdown(ps_listener *l)
{
    if (!l)
        return ps__fail(PS_EINVAL);
    if (atomic_exchange(&l->shut, 1))
        return PS_OK;
    return ps__listener_wake(l->h.sock);
}

int ps_listener_close(ps_listener *l)
{
    if (!l)
        return ps__fail(PS_EINVAL);
    ps__handle_detach(&l->h);
    /* The file goes first: once it is gone another server may bind the
     * path, and nothing done here afterwards can touch its file. */
    if (l->unix_path) {
        ps__unix_path_remove(l->unix_path);
        free(l->unix_path);
    }
    ps__sock_close(l->h.sock);
    free(l);
    return PS_OK;
}

ps_socket_t ps_listener_native(const ps_listener *l)
{
    return l ? (ps_socket_t)l->h.sock : PS_INVALID_SOCKET;
}
