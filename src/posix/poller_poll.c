/* Poller mechanism: poll(2), for any POSIX system (and on Linux on request,
 * so that it is tested here). Registrations live in two parallel arrays
 * (the pollfds, and each slot's handle and user pointer, so that a wait
 * reads no handle) that grow at add time only; slot 0 is the wake-up pipe. A removed slot is
 * filled by the last one, so poll() always sees a dense array. Reporting
 * starts where the previous call stopped, so a small `max` cannot starve
 * the handles at the end. */
#include "internal.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct ps__pollslot {
    ps__handle *h; /* watches the pollfd of the same index */
    void *user;    /* its user pointer */
} ps__pollslot;

/* A registered handle's slot is h->reg. */
typedef struct ps__pollset {
    struct pollfd *fds;
    ps__pollslot *slots; /* slots[i] is fds[i]'s; [0] is unused */
    size_t count, cap;
    size_t next; /* where the next report starts */
    int wake_rd, wake_wr;
    atomic_int wake_pending;
} ps__pollset;

static int ps__pipe_cloexec_nonblock(int fds[2])
{
    if (pipe(fds) != 0)
        return -1;
    for (int i = 0; i < 2; i++)
        if (fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0 ||
            fcntl(fds[i], F_SETFL, O_NONBLOCK) != 0) {
            int err = errno;
            close(fds[0]);
            close(fds[1]);
            errno = err;
            return -1;
        }
    return 0;
}

static int ps__pollset_open(ps_poller *p)
{
    ps__pollset *s = calloc(1, sizeof *s);
    if (!s)
        return ps__fail(PS_ENOMEM);
    int pipefd[2];
    s->cap = 16;
    s->fds = malloc(s->cap * sizeof *s->fds);
    s->slots = malloc(s->cap * sizeof *s->slots);
    if (!s->fds || !s->slots) {
        free(s->fds);
        free(s->slots);
        free(s);
        return ps__fail(PS_ENOMEM);
    }
    if (ps__pipe_cloexec_nonblock(pipefd) != 0) {
        int err = errno;
        free(s->fds);
        free(s->slots);
        free(s);
        return ps__os_fail(err);
    }
    s->wake_rd = pipefd[0];
    s->wake_wr = pipefd[1];
    s->fds[0].fd = s->wake_rd;
    s->fds[0].events = POLLIN;
    s->slots[0].h = NULL;
    s->slots[0].user = NULL;
    s->count = 1;
    s->next = 1;
    atomic_init(&s->wake_pending, 0);
    p->impl = s;
    return PS_OK;
}

static void ps__pollset_close(ps_poller *p)
{
    ps__pollset *s = p->impl;
    close(s->wake_rd);
    close(s->wake_wr);
    free(s->fds);
    free(s->slots);
    free(s);
}

/* PS_HANGUP on the peer's orderly close (the header: "the peer closed"):
 * POLLHUP comes only once both directions are closed, so a connection
 * whose peer sent its end of stream would show as PS_READABLE alone.
 * POLLRDHUP (Linux, FreeBSD 13+) says it, and is asked for on every
 * registration, as the epoll backend asks for EPOLLRDHUP, so that it is
 * reported whether asked for or not. Where poll has no POLLRDHUP (macOS,
 * older BSDs) this backend reports a peer's close as PS_READABLE only. */
#ifdef POLLRDHUP
#define PS__POLLRDHUP POLLRDHUP
#else
#define PS__POLLRDHUP 0
#endif

static short ps__poll_mask(unsigned events)
{
    return (short)(PS__POLLRDHUP | ((events & PS_READABLE) ? POLLIN : 0) |
                   ((events & PS_WRITABLE) ? POLLOUT : 0));
}

static int ps__pollset_add(ps_poller *p, ps__handle *h, unsigned events,
                           void *user)
{
    ps__pollset *s = p->impl;
    if (s->count > UINT32_MAX - 1)
        return ps__fail(PS_ENOBUFS); /* the slot must fit h->reg */
    if (s->count == s->cap) {
        size_t cap = s->cap * 2;
        struct pollfd *fds = realloc(s->fds, cap * sizeof *fds);
        if (!fds)
            return ps__fail(PS_ENOMEM);
        s->fds = fds;
        ps__pollslot *slots = realloc(s->slots, cap * sizeof *slots);
        if (!slots)
            return ps__fail(PS_ENOMEM);
        s->slots = slots;
        s->cap = cap;
    }
    size_t i = s->count++;
    s->fds[i].fd = h->sock;
    s->fds[i].events = ps__poll_mask(events);
    s->fds[i].revents = 0;
    s->slots[i].h = h;
    s->slots[i].user = user;
    h->reg = (uint32_t)i;
    return PS_OK;
}

static int ps__pollset_modify(ps_poller *p, ps__handle *h, unsigned events,
                              void *user)
{
    ps__pollset *s = p->impl;
    s->fds[h->reg].events = ps__poll_mask(events);
    s->slots[h->reg].user = user;
    return PS_OK;
}

static void ps__pollset_remove(ps_poller *p, ps__handle *h)
{
    ps__pollset *s = p->impl;
    size_t i = h->reg, last = s->count - 1;
    if (i != last) {
        s->fds[i] = s->fds[last];
        s->slots[i] = s->slots[last];
        s->slots[i].h->reg = (uint32_t)i;
    }
    s->count--;
    if (s->next >= s->count)
        s->next = 1;
}

static int ps__pollset_wait(ps_poller *p, ps_event *events, size_t max,
                            size_t *n, int timeout_ms)
{
    ps__pollset *s = p->impl;
    int ready = poll(s->fds, (nfds_t)s->count, timeout_ms);
    if (ready < 0)
        return ps__os_fail(errno);
    if (ready == 0)
        return PS_ETIMEDOUT;
    if (s->fds[0].revents) {
        char drain[64];
        atomic_store(&s->wake_pending, 0);
        while (read(s->wake_rd, drain, sizeof drain) > 0) {
        }
        ready--;
    }
    /* poll() reports only the events asked for (POLLRDHUP always is) plus
     * POLLHUP, POLLERR and POLLNVAL (POSIX), so nothing needs filtering.
     * Slots are scanned from s->next to the end, then from 1. */
    size_t out = 0, i = s->next, count = s->count;
    for (size_t k = 1; k < count && out < max && ready > 0; k++) {
        short re = s->fds[i].revents;
        size_t slot = i;
        i = i + 1 < count ? i + 1 : 1;
        if (!re)
            continue;
        ready--;
        events[out].user = s->slots[slot].user;
        events[out].events =
            ((re & POLLIN) ? PS_READABLE : 0u) |
            ((re & POLLOUT) ? PS_WRITABLE : 0u) |
            ((re & (POLLHUP | PS__POLLRDHUP)) ? PS_HANGUP : 0u) |
            ((re & (POLLERR | POLLNVAL)) ? PS_ERROR : 0u);
        out++;
        s->next = i;
    }
    *n = out;
    return PS_OK;
}

static int ps__pollset_wake(ps_poller *p)
{
    ps__pollset *s = p->impl;
    if (atomic_exchange(&s->wake_pending, 1))
        return PS_OK; /* one is on its way: wakes coalesce */
    char one = 1;
    if (write(s->wake_wr, &one, 1) < 0 && errno != EAGAIN) {
        atomic_store(&s->wake_pending, 0);
        return ps__os_fail(errno);
    }
    return PS_OK;
}

/* poll() returns 0 only once its timeout has passed (POSIX: it waits at
 * least the timeout). */
const ps__poller_ops ps__poller_poll_ops = {
    .name = "poll",
    .early_timeouts = 0,
    .open = ps__pollset_open,
    .close = ps__pollset_close,
    .add = ps__pollset_add,
    .modify = ps__pollset_modify,
    .remove = ps__pollset_remove,
    .wait = ps__pollset_wait,
    .wake = ps__pollset_wake,
};
