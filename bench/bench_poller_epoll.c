/* Poller benchmark server: raw epoll (Linux), level-triggered, the
 * baseline. The protocol is in bench_poller.h; bench_poller_ps.c does the
 * same calls through portsock. */
#define _GNU_SOURCE /* accept4 */

#include "bench_common.h"
#include "bench_poller.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define API "raw-epoll"

struct conn {
    int fd;
    unsigned want;     /* EPOLLIN or EPOLLOUT */
    size_t off, len;   /* unsent echo: buf[off..len) */
    unsigned char buf[BP_BUF];
};

static int listen_fd = -1;
static char listener_tag; /* the listener's data pointer */

static _Noreturn void fail(const char *what)
{
    int e = errno;
    bench_die(API, "%s: %s (errno %d)", what, strerror(e), e);
}

int bp_server_option(const char *opt)
{
    (void)opt;
    return 0;
}

const char *bp_server_api(void)
{
    return API;
}

int bp_server_listen(const struct bp_args *a)
{
    (void)a;
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd < 0)
        fail("socket");
    if (setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        fail("setsockopt SO_REUSEADDR");
    if (bind(listen_fd, (struct sockaddr *)&sin, sizeof sin) != 0)
        fail("bind");
    if (listen(listen_fd, SOMAXCONN) != 0)
        fail("listen");
    socklen_t len = sizeof sin;
    if (getsockname(listen_fd, (struct sockaddr *)&sin, &len) != 0)
        fail("getsockname");
    return ntohs(sin.sin_port);
}

static void watch(int ep, int op, struct conn *c, unsigned want)
{
    struct epoll_event ev;
    ev.events = want | EPOLLRDHUP;
    ev.data.ptr = c;
    if (epoll_ctl(ep, op, c->fd, &ev) != 0)
        fail("epoll_ctl");
    c->want = want;
}

/* Send the pending echo; watch for writability while some is left. */
static uint64_t flush(int ep, struct conn *c)
{
    size_t before = c->off;
    while (c->off < c->len) {
        ssize_t n = send(c->fd, c->buf + c->off, c->len - c->off,
                         MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            fail("send");
        }
        c->off += (size_t)n;
    }
    unsigned want = c->off < c->len ? EPOLLOUT : EPOLLIN;
    if (want != c->want)
        watch(ep, EPOLL_CTL_MOD, c, want);
    return c->off - before;
}

static uint64_t on_conn(int ep, struct conn *c)
{
    if (c->off < c->len)
        return flush(ep, c);
    ssize_t n = recv(c->fd, c->buf, sizeof c->buf, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return 0;
        fail("recv");
    }
    if (n == 0)
        bench_die(API, "a client closed first");
    c->off = 0;
    c->len = (size_t)n;
    return flush(ep, c);
}

void bp_server_run(const struct bp_args *a)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        fail("epoll_create1");
    struct epoll_event ev;
    ev.events = EPOLLIN;
    ev.data.ptr = &listener_tag;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev) != 0)
        fail("epoll_ctl (listener)");
    struct conn **conns = calloc((size_t)a->conns, sizeof *conns);
    if (!conns)
        bench_die(API, "out of memory");
    bp_touch(conns, (size_t)a->conns * sizeof *conns); /* resident now */
    long open = 0, max_waits = bp_max_waits(a);
    uint64_t echoed = 0;
    struct epoll_event evs[BP_EVENTS];
    bp_mark_ready();

    for (long w = 0; echoed < a->expected; w++) {
        if (w >= max_waits)
            bench_die(API, "more than %ld waits", max_waits);
        if ((w & 1023) == 1023)
            bp_check_time(API);
        int n = epoll_wait(ep, evs, BP_EVENTS, BP_WAIT_MS);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fail("epoll_wait");
        }
        if (n == 0)
            bp_check_time(API);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr != &listener_tag) {
                echoed += on_conn(ep, evs[i].data.ptr);
                continue;
            }
            /* Accept until it would block; at most the connections left. */
            while (open < a->conns) {
                int fd = accept4(listen_fd, NULL, NULL,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                    if (errno == EAGAIN || errno == EWOULDBLOCK ||
                        errno == EINTR || errno == ECONNABORTED)
                        break;
                    fail("accept4");
                }
                bp_mark_first();
                struct conn *c = malloc(sizeof *c);
                if (!c)
                    bench_die(API, "out of memory");
                c->fd = fd;
                c->off = c->len = 0;
                if (a->workload == BP_PINGPONG) {
                    int one = 1;
                    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
                                   sizeof one) != 0)
                        fail("setsockopt TCP_NODELAY");
                }
                watch(ep, EPOLL_CTL_ADD, c, EPOLLIN);
                conns[open++] = c;
            }
        }
    }
    /* Everything echoed: close every connection, the server first. */
    for (long i = 0; i < open; i++) {
        epoll_ctl(ep, EPOLL_CTL_DEL, conns[i]->fd, &ev);
        if (close(conns[i]->fd) != 0)
            fail("close");
        free(conns[i]);
    }
    close(ep);
    if (close(listen_fd) != 0)
        fail("close (listener)");
    bp_mark_done();
    free(conns);
}
