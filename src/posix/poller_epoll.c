/* Poller mechanism: epoll (Linux). Level-triggered, an eventfd for wake-ups.
 * The epoll data of a registration is its user pointer, so a wait reads
 * nothing but the kernel's results, and a registration costs no memory
 * beyond the handle; the kernel forgets it at EPOLL_CTL_DEL, which the
 * common code does before the socket is closed, so a reused descriptor
 * never sees an old registration. */
#include "internal.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* epoll_wait writes straight into the caller's ps_event array wherever a
 * struct epoll_event is no larger than a ps_event (64-bit systems: 12 or 16
 * bytes against 16), saving a copy. The results are translated in place
 * from the last to the first: result j lies in bytes [j*E, (j+1)*E) and
 * event i goes to [i*P, (i+1)*P) with E <= P, so when event i is written
 * every result j >= i has been read and every j < i ends at or before
 * i*E <= i*P. Elsewhere the results go through `batch`. */
#define PS__EPOLL_IN_PLACE (sizeof(struct epoll_event) <= sizeof(ps_event))
#define PS__EPOLL_BATCH (PS__EPOLL_IN_PLACE ? 1 : 256)

typedef struct ps__epoll {
    int ep;
    int wakefd;
    atomic_int wake_pending;
    struct epoll_event batch[PS__EPOLL_BATCH];
} ps__epoll;

/* The wake-up's data pointer: no user pointer can legitimately be the
 * address of this private object. */
static char ps__epoll_wake_tag;

/* The bits line up (EPOLLIN, EPOLLERR as they are; EPOLLOUT one place up;
 * EPOLLHUP two and EPOLLRDHUP eleven places up from PS_HANGUP), so that a
 * result translates with shifts and masks alone. */
_Static_assert((unsigned)EPOLLIN == PS_READABLE &&
                   (unsigned)EPOLLOUT == PS_WRITABLE << 1 &&
                   (unsigned)EPOLLERR == PS_ERROR &&
                   (unsigned)EPOLLHUP == PS_HANGUP << 2 &&
                   (unsigned)EPOLLRDHUP == PS_HANGUP << 11,
               "epoll and PS_* bits no longer line up");

static unsigned ps__epoll_bits(uint32_t ev)
{
    return (ev & (PS_READABLE | PS_ERROR)) | ((ev >> 1) & PS_WRITABLE) |
           (((ev >> 2) | (ev >> 11)) & PS_HANGUP);
}

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

static int ps__epoll_ctl(ps_poller *p, int op, ps__handle *h, unsigned events,
                         void *user)
{
    ps__epoll *e = p->impl;
    struct epoll_event ev;
    ev.events = ps__epoll_mask(events);
    ev.data.ptr = user;
    if (epoll_ctl(e->ep, op, h->sock, &ev) != 0)
        return errno == ENOSPC ? ps__fail(PS_ENOBUFS) : ps__os_fail(errno);
    return PS_OK;
}

static int ps__epoll_add(ps_poller *p, ps__handle *h, unsigned events,
                         void *user)
{
    return ps__epoll_ctl(p, EPOLL_CTL_ADD, h, events, user);
}

static int ps__epoll_modify(ps_poller *p, ps__handle *h, unsigned events,
                            void *user)
{
    return ps__epoll_ctl(p, EPOLL_CTL_MOD, h, events, user);
}

static void ps__epoll_remove(ps_poller *p, ps__handle *h)
{
    ps__epoll *e = p->impl;
    struct epoll_event unused; /* non-NULL for kernels before 2.6.9 */
    epoll_ctl(e->ep, EPOLL_CTL_DEL, h->sock, &unused);
}

/* Consume the wake-up if it is among events[0..got) and take it out. */
static PS__COLD size_t ps__epoll_take_wake(ps__epoll *e, ps_event *events,
                                           size_t got)
{
    size_t out = 0;
    for (size_t i = 0; i < got; i++)
        if (events[i].user != &ps__epoll_wake_tag)
            events[out++] = events[i];
    if (out == got)
        return got; /* it came after this epoll_wait: the next one sees it */
    uint64_t count;
    atomic_store(&e->wake_pending, 0);
    if (read(e->wakefd, &count, sizeof count) < 0) {
        /* EAGAIN: another wake's count was read already. */
    }
    return out;
}

static int ps__epoll_wait(ps_poller *p, ps_event *events, size_t max,
                          size_t *n, int timeout_ms)
{
    ps__epoll *e = p->impl;
    void *results = PS__EPOLL_IN_PLACE ? (void *)events : (void *)e->batch;
    size_t room = PS__EPOLL_IN_PLACE ? INT_MAX : PS__EPOLL_BATCH;
    int got = epoll_wait(e->ep, results, max < room ? (int)max : (int)room,
                         timeout_ms);
    if (got <= 0)
        return got == 0 ? PS_ETIMEDOUT : ps__os_fail(errno);
    /* The kernel reports only the events registered plus EPOLLERR and
     * EPOLLHUP, so nothing needs filtering. */
    for (int i = got; i-- > 0;) {
        struct epoll_event ev;
        memcpy(&ev, (const char *)results + (size_t)i * sizeof ev, sizeof ev);
        events[i].user = ev.data.ptr;
        events[i].events = ps__epoll_bits(ev.events);
    }
    /* A waker sets wake_pending before it signals the eventfd, so the
     * wake-up can be among the results only if the flag is set. */
    *n = atomic_load_explicit(&e->wake_pending, memory_order_acquire)
             ? ps__epoll_take_wake(e, events, (size_t)got)
             : (size_t)got;
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

/* epoll_wait returns 0 only once its timeout has passed. */
const ps__poller_ops ps__poller_epoll_ops = {
    .name = "epoll",
    .early_timeouts = 0,
    .open = ps__epoll_open,
    .close = ps__epoll_close,
    .add = ps__epoll_add,
    .modify = ps__epoll_modify,
    .remove = ps__epoll_remove,
    .wait = ps__epoll_wait,
    .wake = ps__epoll_wake,
};
