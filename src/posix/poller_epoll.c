/* Poller mechanism: epoll (Linux). Level-triggered, an eventfd for wake-ups.
 * The handle itself is the epoll data pointer, so a registration costs no
 * memory beyond the handle; the kernel forgets it at EPOLL_CTL_DEL, which
 * the common code does before the socket is closed, so a reused descriptor
 * never sees an old registration. */
#include "internal.h"

#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define PS__EPOLL_BATCH 256

typedef struct ps__epoll {
    int ep;
    int wakefd;
    atomic_int wake_pending;
    struct epoll_event batch[PS__EPOLL_BATCH];
} ps__epoll;

/* The wake-up's data pointer: a handle can never have this address. */
static char ps__epoll_wake_tag;

static uint32_t ps__epoll_mask(unsigned events)
{
    return EPOLLRDHUP | ((events & PS_READABLE) ? EPOLLIN : 0) |
           ((events & PS_WRITABLE) ? EPOLLOUT : 0);
}

static int ps__epoll_open(ps_poller *p)
{
    ps__epoll *e = malloc(sizeof *e);
    if (!e)
        return ps__fail(PS_ENOMEM);
    e->ep = epoll_create1(EPOLL_CLOEXEC);
    if (e->ep < 0) {
        int err = errno;
        free(e);
        return ps__os_fail(err);
    }
    e->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev;
    ev.events = EPOLLIN;
    ev.data.ptr = &ps__epoll_wake_tag;
    if (e->wakefd < 0 || epoll_ctl(e->ep, EPOLL_CTL_ADD, e->wakefd, &ev) != 0) {
        int err = errno;
        if (e->wakefd >= 0)
            close(e->wakefd);
        close(e->ep);
        free(e);
        return ps__os_fail(err);
    }
    atomic_init(&e->wake_pending, 0);
    p->impl = e;
    return PS_OK;
}

static void ps__epoll_close(ps_poller *p)
{
    ps__epoll *e = p->impl;
    close(e->wakefd);
    close(e->ep);
    free(e);
}

static int ps__epoll_ctl(ps_poller *p, int op, ps__handle *h, unsigned events)
{
    ps__epoll *e = p->impl;
    struct epoll_event ev;
    ev.events = ps__epoll_mask(events);
    ev.data.ptr = h;
    if (epoll_ctl(e->ep, op, h->sock, &ev) != 0)
        return errno == ENOSPC ? ps__fail(PS_ENOBUFS) : ps__os_fail(errno);
    return PS_OK;
}

static int ps__epoll_add(ps_poller *p, ps__handle *h, unsigned events)
{
    return ps__epoll_ctl(p, EPOLL_CTL_ADD, h, events);
}

static int ps__epoll_modify(ps_poller *p, ps__handle *h, unsigned events)
{
    return ps__epoll_ctl(p, EPOLL_CTL_MOD, h, events);
}

static void ps__epoll_remove(ps_poller *p, ps__handle *h)
{
    ps__epoll *e = p->impl;
    struct epoll_event unused; /* non-NULL for kernels before 2.6.9 */
    epoll_ctl(e->ep, EPOLL_CTL_DEL, h->sock, &unused);
}

static int ps__epoll_wait(ps_poller *p, ps_event *events, size_t max,
                          size_t *n, int timeout_ms)
{
    ps__epoll *e = p->impl;
    int want = max < PS__EPOLL_BATCH ? (int)max : PS__EPOLL_BATCH;
    int got = epoll_wait(e->ep, e->batch, want, timeout_ms);
    if (got < 0)
        return ps__os_fail(errno);
    if (got == 0)
        return PS_ETIMEDOUT;
    size_t out = 0;
    for (int i = 0; i < got; i++) {
        struct epoll_event *ev = &e->batch[i];
        if (ev->data.ptr == &ps__epoll_wake_tag) {
            uint64_t count;
            atomic_store(&e->wake_pending, 0);
            if (read(e->wakefd, &count, sizeof count) < 0) {
                /* EAGAIN: another wake's count was read already. */
            }
            continue;
        }
        ps__handle *h = ev->data.ptr;
        unsigned bits = 0;
        if (ev->events & EPOLLIN)
            bits |= PS_READABLE;
        if (ev->events & EPOLLOUT)
            bits |= PS_WRITABLE;
        if (ev->events & (EPOLLHUP | EPOLLRDHUP))
            bits |= PS_HANGUP;
        if (ev->events & EPOLLERR)
            bits |= PS_ERROR;
        bits &= h->events | PS_HANGUP | PS_ERROR;
        if (bits) {
            events[out].user = h->user;
            events[out].events = bits;
            out++;
        }
    }
    *n = out;
    return PS_OK;
}

static int ps__epoll_wake(ps_poller *p)
{
    ps__epoll *e = p->impl;
    if (atomic_exchange(&e->wake_pending, 1))
        return PS_OK; /* one is on its way: wakes coalesce */
    uint64_t one = 1;
    if (write(e->wakefd, &one, sizeof one) < 0 && errno != EAGAIN) {
        atomic_store(&e->wake_pending, 0);
        return ps__os_fail(errno);
    }
    return PS_OK;
}

const ps__poller_ops ps__poller_epoll_ops = {
    "epoll",          ps__epoll_open,   ps__epoll_close, ps__epoll_add,
    ps__epoll_modify, ps__epoll_remove, ps__epoll_wait,  ps__epoll_wake,
};
