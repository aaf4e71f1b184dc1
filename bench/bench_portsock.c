/* The benchmark workloads written against the portsock blocking API
 * (every call with PS_FOREVER; pingpong-deadline gives each call a
 * timeout). Public API only, no platform #ifdef: the
 * thread and the clock come from bench_thread.h. bench_raw_posix.c and
 * bench_raw_win32.c do the same work with raw sockets, call for call. */
#include "portsock.h"

#include "bench_common.h"
#include "bench_thread.h"

#include <stdlib.h>
#include <string.h>

#define API "portsock"

static void check(int rc, const char *what)
{
    if (rc != PS_OK)
        bench_die(API, "%s: %s (%s), os error %d", what, ps_errname(rc),
                  ps_strerror(rc), ps_os_error());
}

struct server {
    ps_listener *l;
    const struct bench_args *a;
};

static ps_conn *accept_one(ps_listener *l, int nodelay)
{
    ps_conn *c = NULL;
    check(ps_accept(l, &c, NULL, PS_FOREVER), "ps_accept");
    if (nodelay)
        check(ps_conn_set_nodelay(c, 1), "ps_conn_set_nodelay (server)");
    return c;
}

static ps_conn *connect_one(const ps_addr *to, int nodelay)
{
    ps_conn *c = NULL;
    check(ps_connect(&c, to, PS_FOREVER), "ps_connect");
    if (nodelay)
        check(ps_conn_set_nodelay(c, 1), "ps_conn_set_nodelay (client)");
    return c;
}

/* ---- server ends (second thread) ----------------------------------------- */

static void server_pingpong(void *arg)
{
    struct server *s = arg;
    size_t size = s->a->size;
    unsigned char *buf = malloc(size);
    if (!buf)
        bench_die(API, "out of memory");
    ps_conn *c = accept_one(s->l, 1);
    int timeout = s->a->deadline_ms ? s->a->deadline_ms : PS_FOREVER;
    for (long i = 0; i < s->a->count; i++) {
        check(ps_recv_exact(c, buf, size, NULL, timeout),
              "ps_recv_exact (server)");
        check(ps_send_all(c, buf, size, NULL, timeout),
              "ps_send_all (server)");
    }
    check(ps_close(c), "ps_close (server)");
    free(buf);
}

static void server_bulk(void *arg)
{
    struct server *s = arg;
    struct bench_bulk b;
    bench_bulk_init(&b, s->a);
    unsigned char *buf = malloc(s->a->size);
    if (!buf)
        bench_die(API, "out of memory");
    ps_conn *c = accept_one(s->l, 1);
    /* Every ps_recv moves at least one byte: at most `expected` rounds. */
    for (uint64_t round = 0; b.received < b.expected; round++) {
        size_t got = 0;
        if (round >= b.expected)
            bench_die(API, "bulk: too many receives");
        check(ps_recv(c, buf, bench_bulk_want(&b), &got, PS_FOREVER),
              "ps_recv (bulk)");
        if (bench_bulk_feed(&b, buf, got) != 0)
            bench_die(API, "bulk: data check failed");
    }
    check(ps_close(c), "ps_close (server)");
    free(buf);
}

static void server_churn(void *arg)
{
    struct server *s = arg;
    for (long i = 0; i < s->a->count; i++) {
        ps_conn *c = accept_one(s->l, 0);
        check(ps_close(c), "ps_close (server)");
    }
}

/* ---- client ends (main thread); each returns the timed seconds ----------- */

static double client_pingpong(const ps_addr *to, const struct bench_args *a,
                              bench_thread *server)
{
    size_t size = a->size;
    unsigned char *msg = calloc(1, size), *reply = malloc(size);
    if (!msg || !reply)
        bench_die(API, "out of memory");
    ps_conn *c = connect_one(to, 1);
    int timeout = a->deadline_ms ? a->deadline_ms : PS_FOREVER;
    double t0 = bench_now();
    for (long i = 0; i < a->count; i++) {
        msg[0] = (unsigned char)i;
        check(ps_send_all(c, msg, size, NULL, timeout), "ps_send_all");
        check(ps_recv_exact(c, reply, size, NULL, timeout),
              "ps_recv_exact");
        if (reply[0] != msg[0])
            bench_die(API, "pingpong: round trip %ld: wrong reply", i);
    }
    double t1 = bench_now();
    if (bench_thread_join(server) != 0)
        bench_die(API, "thread join failed");
    check(ps_close(c), "ps_close");
    free(msg);
    free(reply);
    return t1 - t0;
}

static double client_bulk(const ps_addr *to, const struct bench_args *a,
                          bench_thread *server)
{
    unsigned char *buf = malloc(a->size);
    if (!buf)
        bench_die(API, "out of memory");
    memset(buf, 0x5a, a->size);
    ps_conn *c = connect_one(to, 1);
    double t0 = bench_now();
    for (long k = 0; k < a->count; k++) {
        buf[0] = bench_chunk_tag((uint64_t)k);
        check(ps_send_all(c, buf, a->size, NULL, PS_FOREVER), "ps_send_all");
    }
    /* Done when the receiver has checked the last byte. */
    if (bench_thread_join(server) != 0)
        bench_die(API, "thread join failed");
    double t1 = bench_now();
    check(ps_close(c), "ps_close");
    free(buf);
    return t1 - t0;
}

static double client_churn(const ps_addr *to, const struct bench_args *a,
                           bench_thread *server)
{
    double t0 = bench_now();
    for (long i = 0; i < a->count; i++) {
        ps_conn *c = connect_one(to, 0);
        /* Wait for the server's close, then close: the server end takes the
         * TIME_WAIT, so client ports are not used up (see README). */
        unsigned char byte;
        int rc = ps_recv(c, &byte, 1, NULL, PS_FOREVER);
        if (rc != PS_ECLOSED)
            bench_die(API, "churn: ps_recv gave %s, expected PS_ECLOSED",
                      ps_errname(rc));
        check(ps_close(c), "ps_close");
    }
    double t1 = bench_now();
    if (bench_thread_join(server) != 0)
        bench_die(API, "thread join failed");
    return t1 - t0;
}

int main(int argc, char **argv)
{
    struct bench_args a;
    bench_parse_args(argc, argv, API, &a);

    ps_addr any, bound;
    ps_listener *l = NULL;
    check(ps_addr_loopback(&any, PS_AF_INET, 0), "ps_addr_loopback");
    check(ps_listen(&l, &any, NULL), "ps_listen");
    check(ps_listener_addr(l, &bound), "ps_listener_addr");

    struct server s = {l, &a};
    bench_thread_fn fn = a.workload == BENCH_PINGPONG ? server_pingpong
                         : a.workload == BENCH_BULK   ? server_bulk
                                                      : server_churn;
    bench_thread *t = NULL;
    if (bench_thread_start(&t, fn, &s) != 0)
        bench_die(API, "thread start failed");

    double seconds = a.workload == BENCH_PINGPONG ? client_pingpong(&bound, &a, t)
                     : a.workload == BENCH_BULK   ? client_bulk(&bound, &a, t)
                                                  : client_churn(&bound, &a, t);
    check(ps_listener_close(l), "ps_listener_close");
    bench_report(API, &a, seconds);
    return 0;
}
