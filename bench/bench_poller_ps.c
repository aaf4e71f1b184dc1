/* Poller benchmark server: the portsock poller, public API only (no
 * platform #ifdef). The mechanism is epoll by default on Linux, poll(2)
 * with --poll (PS_POLLER_POLL), IOCTL_AFD_POLL on Windows. The protocol is
 * in bench_poller.h; bench_poller_epoll.c does the same with raw epoll. */
#include "portsock.h"

#include "bench_common.h"
#include "bench_poller.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct conn {
    ps_conn *c;
    unsigned want;     /* PS_READABLE or PS_WRITABLE */
    size_t off, len;   /* unsent echo: buf[off..len) */
    unsigned char buf[BP_BUF];
};

static unsigned poller_flags;
static ps_poller *poller;
static ps_listener *listener;
static char listener_tag; /* the listener's user pointer */
static char api[32] = "portsock";

static void check(int rc, const char *what)
{
    if (rc != PS_OK)
        bench_die(api, "%s: %s (%s), os error %d", what, ps_errname(rc),
                  ps_strerror(rc), ps_os_error());
}

int bp_server_option(const char *opt)
{
    if (strcmp(opt, "--poll") == 0) {
        poller_flags |= PS_POLLER_POLL;
        return 1;
    }
    return 0;
}

const char *bp_server_api(void)
{
    return api;
}

int bp_server_listen(const struct bp_args *a)
{
    (void)a;
    ps_addr addr;
    check(ps_addr_loopback(&addr, PS_AF_INET, 0), "ps_addr_loopback");
    check(ps_listen(&listener, &addr, NULL), "ps_listen");
    check(ps_listener_addr(listener, &addr), "ps_listener_addr");
    check(ps_poller_create(&poller, poller_flags), "ps_poller_create");
    snprintf(api, sizeof api, "portsock-%s", ps_poller_backend(poller));
    return ps_addr_port(&addr);
}

/* Send the pending echo; watch for writability while some is left. */
static uint64_t flush(struct conn *k)
{
    size_t before = k->off;
    while (k->off < k->len) {
        size_t sent = 0;
        int rc = ps_send(k->c, k->buf + k->off, k->len - k->off, &sent, 0);
        if (rc == PS_EWOULDBLOCK)
            break;
        check(rc, "ps_send");
        k->off += sent;
    }
    unsigned want = k->off < k->len ? PS_WRITABLE : PS_READABLE;
    if (want != k->want) {
        check(ps_poller_modify(poller, k->c, want, k), "ps_poller_modify");
        k->want = want;
    }
    return k->off - before;
}

static uint64_t on_conn(struct conn *k)
{
    if (k->off < k->len)
        return flush(k);
    size_t got = 0;
    int rc = ps_recv(k->c, k->buf, sizeof k->buf, &got, 0);
    if (rc == PS_EWOULDBLOCK)
        return 0;
    if (rc == PS_ECLOSED)
        bench_die(api, "a client closed first");
    check(rc, "ps_recv");
    k->off = 0;
    k->len = got;
    return flush(k);
}

void bp_server_run(const struct bp_args *a)
{
    check(ps_poller_add(poller, listener, PS_READABLE, &listener_tag),
          "ps_poller_add (listener)");
    struct conn **conns = calloc((size_t)a->conns, sizeof *conns);
    if (!conns)
        bench_die(api, "out of memory");
    bp_touch(conns, (size_t)a->conns * sizeof *conns); /* resident now */
    long open = 0, max_waits = bp_max_waits(a);
    uint64_t echoed = 0;
    ps_event evs[BP_EVENTS];
    bp_mark_ready();

    for (long w = 0; echoed < a->expected; w++) {
        if (w >= max_waits)
            bench_die(api, "more than %ld waits", max_waits);
        if ((w & 1023) == 1023)
            bp_check_time(api);
        size_t n = 0;
        check(ps_poller_wait(poller, evs, BP_EVENTS, &n, BP_WAIT_MS),
              "ps_poller_wait");
        if (n == 0)
            bp_check_time(api);
        for (size_t i = 0; i < n; i++) {
            if (evs[i].user != &listener_tag) {
                echoed += on_conn(evs[i].user);
                continue;
            }
            /* Accept until it would block; at most the connections left. */
            while (open < a->conns) {
                ps_conn *c = NULL;
                int rc = ps_accept(listener, &c, NULL, 0);
                if (rc == PS_EWOULDBLOCK || rc == PS_ECONNABORTED)
                    break;
                check(rc, "ps_accept");
                bp_mark_first();
                struct conn *k = malloc(sizeof *k);
                if (!k)
                    bench_die(api, "out of memory");
                k->c = c;
                k->off = k->len = 0;
                k->want = PS_READABLE;
                if (a->workload == BP_PINGPONG)
                    check(ps_conn_set_nodelay(c, 1), "ps_conn_set_nodelay");
                check(ps_poller_add(poller, c, PS_READABLE, k),
                      "ps_poller_add");
                conns[open++] = k;
            }
        }
    }
    /* Everything echoed: close every connection, the server first
     * (ps_close leaves the poller first). */
    for (long i = 0; i < open; i++) {
        check(ps_close(conns[i]->c), "ps_close");
        free(conns[i]);
    }
    check(ps_poller_close(poller), "ps_poller_close");
    check(ps_listener_close(listener), "ps_listener_close");
    bp_mark_done();
    free(conns);
}
