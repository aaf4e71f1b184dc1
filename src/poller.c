/* Poller: argument checks, handle back-pointers, the count of registered
 * handles and the deadline of a wait; the mechanism (epoll, poll, AFD) does
 * the rest. */
#include "internal.h"

#include <stdlib.h>

#define PS__POLL_REQUESTABLE (PS_READABLE | PS_WRITABLE)

void ps__handle_init(ps__handle *h, ps__sock_t s)
{
    h->sock = s;
    h->reg = 0;
    h->poller = NULL;
}

/* The handle leaves poller `p`: unwatched if `p` is open; if `p` was
 * closed, one reference fewer to its closed marker (the last frees it). */
static void ps__poller_leave(ps_poller *p, ps__handle *h)
{
    if (p->impl) {
        p->ops->remove(p, h);
        p->registered--;
    } else if (atomic_fetch_sub(&p->orphans, 1) == 1) {
        free(p);
    }
    h->poller = NULL;
}

void ps__handle_detach(ps__handle *h)
{
    if (h->poller)
        ps__poller_leave(h->poller, h);
}

int ps_poller_create(ps_poller **out, unsigned flags)
{
    if (!out || (flags & ~(unsigned)PS_POLLER_POLL))
        return ps__fail(PS_EINVAL);
    int rc = ps__os_lazy_init();
    if (rc != PS_OK)
        return rc;
    const ps__poller_ops *ops = ps__poller_choose(flags);
    if (!ops)
        return ps__fail(PS_ENOTSUP);
    ps_poller *p = malloc(sizeof *p);
    if (!p)
        return ps__fail(PS_ENOMEM);
    p->ops = ops;
    p->impl = NULL;
    p->registered = 0;
    atomic_init(&p->orphans, 0);
    rc = ops->open(p);
    if (rc != PS_OK) {
        free(p);
        return rc;
    }
    *out = p;
    return PS_OK;
}

const char *ps_poller_backend(const ps_poller *p)
{
    return p ? p->ops->name : "none";
}

static int ps__poller_add(ps_poller *p, ps__handle *h, unsigned events,
                          void *user)
{
    if (!p || (events & ~(unsigned)PS__POLL_REQUESTABLE))
        return ps__fail(PS_EINVAL);
    if (h->poller) {
        if (h->poller->impl)
            return ps__fail(PS_EINVAL); /* registered (here or elsewhere) */
        ps__poller_leave(h->poller, h); /* its poller was closed */
    }
    int rc = p->ops->add(p, h, events, user);
    if (rc != PS_OK)
        return rc;
    h->poller = p;
    p->registered++;
    return PS_OK;
}

static int ps__poller_modify(ps_poller *p, ps__handle *h, unsigned events,
                             void *user)
{
    if (!p || h->poller != p || (events & ~(unsigned)PS__POLL_REQUESTABLE))
        return ps__fail(PS_EINVAL);
    return p->ops->modify(p, h, events, user);
}

static int ps__poller_remove(ps_poller *p, ps__handle *h)
{
    if (!p || h->poller != p)
        return ps__fail(PS_EINVAL);
    ps__poller_leave(p, h);
    return PS_OK;
}

int ps_poller_add_listener(ps_poller *p, ps_listener *l, unsigned events,
                           void *user)
{
    return l ? ps__poller_add(p, &l->h, events, user) : ps__fail(PS_EINVAL);
}

int ps_poller_add_conn(ps_poller *p, ps_conn *c, unsigned events, void *user)
{
    return c ? ps__poller_add(p, &c->h, events, user) : ps__fail(PS_EINVAL);
}

int ps_poller_modify_listener(ps_poller *p, ps_listener *l, unsigned events,
                              void *user)
{
    return l ? ps__poller_modify(p, &l->h, events, user)
             : ps__fail(PS_EINVAL);
}

int ps_poller_modify_conn(ps_poller *p, ps_conn *c, unsigned events,
                          void *user)
{
    return c ? ps__poller_modify(p, &c->h, events, user)
             : ps__fail(PS_EINVAL);
}

int ps_poller_remove_listener(ps_poller *p, ps_listener *l)
{
    return l ? ps__poller_remove(p, &l->h) : ps__fail(PS_EINVAL);
}

int ps_poller_remove_conn(ps_poller *p, ps_conn *c)
{
    return c ? ps__poller_remove(p, &c->h) : ps__fail(PS_EINVAL);
}

int ps_poller_add_dgram(ps_poller *p, ps_dgram *d, unsigned events,
                        void *user)
{
    return d ? ps__poller_add(p, &d->h, events, user) : ps__fail(PS_EINVAL);
}

int ps_poller_modify_dgram(ps_poller *p, ps_dgram *d, unsigned events,
                           void *user)
{
    return d ? ps__poller_modify(p, &d->h, events, user)
             : ps__fail(PS_EINVAL);
}

int ps_poller_remove_dgram(ps_poller *p, ps_dgram *d)
{
    return d ? ps__poller_remove(p, &d->h) : ps__fail(PS_EINVAL);
}

/* Wait until deadline `dl` (not NOWAIT), on the clock: the waits of a
 * mechanism with early timeouts, and any wait once interrupted. */
static PS__COLD int ps__poller_wait_until(ps_poller *p, ps_event *events,
                                          size_t max, size_t *n,
                                          ps__deadline dl)
{
    for (;;) {
        int left = ps__deadline_left_ms(dl);
        if (left == 0) {
            *n = 0;
            return PS_OK;
        }
        int rc = p->ops->wait(p, events, max, n, left);
        if (rc != PS_ETIMEDOUT && rc != PS__EINTR) {
            if (rc != PS_OK)
                *n = 0;
            return rc; /* events, a wake-up (n == 0), or an error */
        }
    }
}

/* A first wait of `timeout_ms` ended with `rc`, neither events nor a
 * wake-up; `dl` is its deadline (made before it, when timeout_ms > 0). */
static PS__COLD int ps__poller_wait_more(ps_poller *p, ps_event *events,
                                         size_t max, size_t *n,
                                         int timeout_ms, int rc,
                                         ps__deadline dl)
{
    *n = 0;
    if (rc != PS_ETIMEDOUT && rc != PS__EINTR)
        return rc;
    if (timeout_ms == 0 || (rc == PS_ETIMEDOUT && !p->ops->early_timeouts))
        return PS_OK;
    if (timeout_ms == PS_FOREVER)
        dl = PS__DL_FOREVER;
    return ps__poller_wait_until(p, events, max, n, dl);
}

static PS__COLD int ps__poller_wait_invalid(size_t *n)
{
    if (n)
        *n = 0;
    return ps__fail(PS_EINVAL);
}

/* The first wait gets `timeout_ms` itself; its deadline is made before
 * it (one clock read, only for a positive timeout) but read again only if
 * the wait ends early: a signal, or a mechanism whose own timeouts may end
 * early (ops->early_timeouts). So an interrupted wait goes on with the time
 * that is left, as DESIGN.md requires, and a wait that ends with events, a
 * wake-up or a full timeout reads the clock once at most. */
int ps_poller_wait(ps_poller *p, ps_event *events, size_t max, size_t *n,
                   int timeout_ms)
{
    if (!p || !events || max == 0 || !n || timeout_ms < PS_FOREVER)
        return ps__poller_wait_invalid(n);
    ps__deadline dl = PS__DL_NOWAIT;
    if (timeout_ms > 0) {
        dl = ps__now_us() + (int64_t)timeout_ms * 1000;
        if (p->ops->early_timeouts)
            return ps__poller_wait_until(p, events, max, n, dl);
    }
    int rc = p->ops->wait(p, events, max, n, timeout_ms);
    if (rc == PS_OK)
        return PS_OK;
    return ps__poller_wait_more(p, events, max, n, timeout_ms, rc, dl);
}

int ps_poller_wake(ps_poller *p)
{
    if (!p)
        return ps__fail(PS_EINVAL);
    return p->ops->wake(p);
}

int ps_poller_close(ps_poller *p)
{
    if (!p)
        return ps__fail(PS_EINVAL);
    p->ops->close(p);
    p->impl = NULL;
    if (p->registered == 0) {
        free(p);
        return PS_OK;
    }
    /* Handles still registered point here: keep the struct as a closed
     * marker until the last of them leaves it (ps__poller_leave). */
    atomic_store(&p->orphans, p->registered);
    return PS_OK;
}
