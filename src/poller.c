/* Poller: argument checks, the registration list, handle back-pointers and
 * the deadline of a wait; the mechanism (epoll, poll, AFD) does the rest. */
#include "internal.h"

#include <stdlib.h>

#define PS__POLL_REQUESTABLE (PS_READABLE | PS_WRITABLE)

void ps__handle_init(ps__handle *h, ps__sock_t s)
{
    h->sock = s;
    h->poller = NULL;
    h->user = NULL;
    h->events = 0;
    h->reg = NULL;
    h->prev = h->next = NULL;
}

static void ps__poller_unlink(ps_poller *p, ps__handle *h)
{
    p->ops->remove(p, h);
    if (h->prev)
        h->prev->next = h->next;
    else
        p->handles = h->next;
    if (h->next)
        h->next->prev = h->prev;
    h->prev = h->next = NULL;
    h->poller = NULL;
    h->reg = NULL;
}

void ps__handle_detach(ps__handle *h)
{
    if (h->poller)
        ps__poller_unlink(h->poller, h);
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
    p->handles = NULL;
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
    if (h->poller)
        return ps__fail(PS_EINVAL); /* already registered (here or elsewhere) */
    h->user = user;
    h->events = events;
    h->reg = NULL;
    int rc = p->ops->add(p, h, events);
    if (rc != PS_OK)
        return rc;
    h->poller = p;
    h->prev = NULL;
    h->next = p->handles;
    if (p->handles)
        p->handles->prev = h;
    p->handles = h;
    return PS_OK;
}

static int ps__poller_modify(ps_poller *p, ps__handle *h, unsigned events,
                             void *user)
{
    if (!p || h->poller != p || (events & ~(unsigned)PS__POLL_REQUESTABLE))
        return ps__fail(PS_EINVAL);
    void *old_user = h->user;
    unsigned old_events = h->events;
    h->user = user;
    h->events = events;
    int rc = p->ops->modify(p, h, events);
    if (rc != PS_OK) {
        h->user = old_user;
        h->events = old_events;
    }
    return rc;
}

static int ps__poller_remove(ps_poller *p, ps__handle *h)
{
    if (!p || h->poller != p)
        return ps__fail(PS_EINVAL);
    ps__poller_unlink(p, h);
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

int ps_poller_wait(ps_poller *p, ps_event *events, size_t max, size_t *n,
                   int timeout_ms)
{
    ps__deadline dl;
    if (n)
        *n = 0;
    if (!p || !events || max == 0 || !n)
        return ps__fail(PS_EINVAL);
    int rc = ps__deadline_make(timeout_ms, &dl);
    if (rc != PS_OK)
        return rc;
    for (;;) {
        rc = p->ops->wait(p, events, max, n, ps__deadline_left_ms(dl));
        /* A timed-out or interrupted wait goes round again until the clock,
         * not the mechanism, says the deadline has passed. */
        if (rc != PS_ETIMEDOUT && rc != PS__EINTR)
            return rc; /* events, a wake-up (n == 0), or an error */
        if (ps__deadline_left_ms(dl) == 0)
            return PS_OK;
    }
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
    while (p->handles)
        ps__poller_unlink(p, p->handles);
    p->ops->close(p);
    free(p);
    return PS_OK;
}
