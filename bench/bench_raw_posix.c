/* The benchmark workloads with raw BSD sockets, blocking, call for call the
 * same as bench_portsock.c: the baseline portsock is measured against. */
#define _POSIX_C_SOURCE 200809L

#include "bench_common.h"
#include "bench_thread.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define API "raw"

static _Noreturn void fail(const char *what)
{
    int e = errno;
    bench_die(API, "%s: %s (errno %d)", what, strerror(e), e);
}

struct server {
    int l;
    const struct bench_args *a;
};

static void set_nodelay(int s, const char *what)
{
    int one = 1;
    if (setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        fail(what);
}

static int accept_one(int l, int nodelay)
{
    int s;
    do
        s = accept(l, NULL, NULL);
    while (s < 0 && errno == EINTR);
    if (s < 0)
        fail("accept");
    if (nodelay)
        set_nodelay(s, "setsockopt TCP_NODELAY (server)");
    return s;
}

static int connect_one(const struct sockaddr_in *to, int nodelay)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        fail("socket");
    if (connect(s, (const struct sockaddr *)to, sizeof *to) != 0)
        fail("connect");
    if (nodelay)
        set_nodelay(s, "setsockopt TCP_NODELAY (client)");
    return s;
}

static void send_all(int s, const unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(s, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fail("send");
        }
        p += n;
        len -= (size_t)n;
    }
}

static void recv_exact(int s, unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = recv(s, p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fail("recv");
        }
        if (n == 0)
            bench_die(API, "recv: unexpected end of stream");
        p += n;
        len -= (size_t)n;
    }
}

static void close_checked(int s, const char *what)
{
    if (close(s) != 0)
        fail(what);
}

/* ---- server ends (second thread) ----------------------------------------- */

static void server_pingpong(void *arg)
{
    struct server *sv = arg;
    size_t size = sv->a->size;
    unsigned char *buf = malloc(size);
    if (!buf)
        bench_die(API, "out of memory");
    int s = accept_one(sv->l, 1);
    for (long i = 0; i < sv->a->count; i++) {
        recv_exact(s, buf, size);
        send_all(s, buf, size);
    }
    close_checked(s, "close (server)");
    free(buf);
}

static void server_bulk(void *arg)
{
    struct server *sv = arg;
    struct bench_bulk b;
    bench_bulk_init(&b, sv->a);
    unsigned char *buf = malloc(sv->a->size);
    if (!buf)
        bench_die(API, "out of memory");
    int s = accept_one(sv->l, 1);
    for (uint64_t round = 0; b.received < b.expected; round++) {
        if (round >= b.expected)
            bench_die(API, "bulk: too many receives");
        ssize_t n = recv(s, buf, bench_bulk_want(&b), 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fail("recv (bulk)");
        }
        if (n == 0)
            bench_die(API, "bulk: unexpected end of stream");
        if (bench_bulk_feed(&b, buf, (size_t)n) != 0)
            bench_die(API, "bulk: data check failed");
    }
    close_checked(s, "close (server)");
    free(buf);
}

static void server_churn(void *arg)
{
    struct server *sv = arg;
    for (long i = 0; i < sv->a->count; i++)
        close_checked(accept_one(sv->l, 0), "close (server)");
}

/* ---- client ends (main thread); each returns the timed seconds ----------- */

static void join(bench_thread *t)
{
    if (bench_thread_join(t) != 0)
        bench_die(API, "thread join failed");
}

static double client_pingpong(const struct sockaddr_in *to,
                              const struct bench_args *a, bench_thread *server)
{
    size_t size = a->size;
    unsigned char *msg = calloc(1, size), *reply = malloc(size);
    if (!msg || !reply)
        bench_die(API, "out of memory");
    int s = connect_one(to, 1);
    double t0 = bench_now();
    for (long i = 0; i < a->count; i++) {
        msg[0] = (unsigned char)i;
        send_all(s, msg, size);
        recv_exact(s, reply, size);
        if (reply[0] != msg[0])
            bench_die(API, "pingpong: round trip %ld: wrong reply", i);
    }
    double t1 = bench_now();
    join(server);
    close_checked(s, "close");
    free(msg);
    free(reply);
    return t1 - t0;
}

static double client_bulk(const struct sockaddr_in *to,
                          const struct bench_args *a, bench_thread *server)
{
    unsigned char *buf = malloc(a->size);
    if (!buf)
        bench_die(API, "out of memory");
    memset(buf, 0x5a, a->size);
    int s = connect_one(to, 1);
    double t0 = bench_now();
    for (long k = 0; k < a->count; k++) {
        buf[0] = bench_chunk_tag((uint64_t)k);
        send_all(s, buf, a->size);
    }
    join(server);
    double t1 = bench_now();
    close_checked(s, "close");
    free(buf);
    return t1 - t0;
}

static double client_churn(const struct sockaddr_in *to,
                           const struct bench_args *a, bench_thread *server)
{
    double t0 = bench_now();
    for (long i = 0; i < a->count; i++) {
        int s = connect_one(to, 0);
        unsigned char byte;
        ssize_t n;
        do
            n = recv(s, &byte, 1, 0);
        while (n < 0 && errno == EINTR);
        if (n != 0)
            bench_die(API, "churn: recv gave %ld, expected end of stream",
                      (long)n);
        close_checked(s, "close");
    }
    double t1 = bench_now();
    join(server);
    return t1 - t0;
}

int main(int argc, char **argv)
{
    struct bench_args a;
    bench_parse_args(argc, argv, API, &a);

    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = 0;
    int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (l < 0)
        fail("socket (listener)");
    if (setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        fail("setsockopt SO_REUSEADDR");
    if (bind(l, (struct sockaddr *)&sin, sizeof sin) != 0)
        fail("bind");
    if (listen(l, SOMAXCONN) != 0)
        fail("listen");
    socklen_t len = sizeof sin;
    if (getsockname(l, (struct sockaddr *)&sin, &len) != 0)
        fail("getsockname");

    struct server sv = {l, &a};
    bench_thread_fn fn = a.workload == BENCH_PINGPONG ? server_pingpong
                         : a.workload == BENCH_BULK   ? server_bulk
                                                      : server_churn;
    bench_thread *t = NULL;
    if (bench_thread_start(&t, fn, &sv) != 0)
        bench_die(API, "thread start failed");

    double seconds = a.workload == BENCH_PINGPONG ? client_pingpong(&sin, &a, t)
                     : a.workload == BENCH_BULK   ? client_bulk(&sin, &a, t)
                                                  : client_churn(&sin, &a, t);
    close_checked(l, "close (listener)");
    bench_report(API, &a, seconds);
    return 0;
}
