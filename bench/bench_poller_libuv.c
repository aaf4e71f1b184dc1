/* Poller benchmark server: libuv (Debian's libuv1-dev), a plain uv_tcp echo
 * server. The protocol is in bench_poller.h. Written the way a careful
 * libuv user writes it: the read buffer is the connection's own (alloc_cb
 * hands it out), and the echo goes out with uv_try_write; only a partial
 * write falls back to uv_write with the connection's one uv_write_t (reading
 * stops until it completes). So nothing is allocated per message, as in
 * the other servers. The watchdog timer repeats every BP_WAIT_MS, which
 * bounds every wait as the other servers' timeouts do. */
#define _GNU_SOURCE /* uv.h wants the POSIX and pthread types */

#include <uv.h>

#include "bench_common.h"
#include "bench_poller.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define API "libuv"

struct conn {
    uv_tcp_t tcp; /* first: a uv_stream_t * is a struct conn * */
    uv_write_t wreq;
    size_t off, len; /* unsent echo: buf[off..len) */
    unsigned char buf[BP_BUF];
};

static int listen_fd = -1;
static uv_loop_t loop;
static uv_tcp_t server;
static uv_timer_t watchdog;
static const struct bp_args *args;
static struct conn **conns;
static long open_conns, callbacks, max_callbacks;
static uint64_t echoed;
static int finishing;

static _Noreturn void fail_uv(const char *what, int err)
{
    bench_die(API, "%s: %s (%s)", what, uv_err_name(err), uv_strerror(err));
}

static void check(int rc, const char *what)
{
    if (rc < 0)
        fail_uv(what, rc);
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
    /* A plain listening socket, so that the port is known and clients can
     * connect before the server thread starts; uv_tcp_open adopts it (and
     * uv_listen's listen() on it again only sets the backlog). */
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd < 0 ||
        setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        bench_die(API, "socket: errno %d", errno);
    socklen_t len = sizeof sin;
    if (bind(listen_fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
        listen(listen_fd, SOMAXCONN) != 0 ||
        getsockname(listen_fd, (struct sockaddr *)&sin, &len) != 0)
        bench_die(API, "bind: errno %d", errno);
    return ntohs(sin.sin_port);
}

static void on_close(uv_handle_t *h)
{
    free(h); /* the struct conn: tcp is its first member */
}

static void on_plain_close(uv_handle_t *h)
{
    (void)h;
}

/* Everything echoed: close every connection (the server first), the
 * listener and the watchdog; uv_run then returns. */
static void finish(void)
{
    if (finishing)
        return;
    finishing = 1;
    for (long i = 0; i < open_conns; i++)
        uv_close((uv_handle_t *)&conns[i]->tcp, on_close);
    uv_close((uv_handle_t *)&server, on_plain_close);
    uv_close((uv_handle_t *)&watchdog, on_plain_close);
}

static void count_callback(void)
{
    if (++callbacks > max_callbacks)
        bench_die(API, "more than %ld callbacks", max_callbacks);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct conn *k = (struct conn *)h;
    *buf = uv_buf_init((char *)k->buf, sizeof k->buf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_write(uv_write_t *req, int status)
{
    count_callback();
    struct conn *k = req->data;
    check(status, "uv_write");
    echoed += k->len - k->off;
    k->off = k->len = 0;
    if (echoed == args->expected)
        finish();
    else
        check(uv_read_start((uv_stream_t *)&k->tcp, on_alloc, on_read),
              "uv_read_start");
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    count_callback();
    struct conn *k = (struct conn *)s;
    if (nread == 0)
        return; /* EAGAIN */
    if (nread == UV_EOF)
        bench_die(API, "a client closed first");
    if (nread < 0)
        fail_uv("read", (int)nread);
    k->off = 0;
    k->len = (size_t)nread;
    uv_buf_t b = uv_buf_init((char *)k->buf, (unsigned)k->len);
    int r = uv_try_write(s, &b, 1);
    if (r == UV_EAGAIN)
        r = 0;
    check(r, "uv_try_write");
    k->off = (size_t)r;
    echoed += (size_t)r;
    if (k->off < k->len) {
        /* Partial: the rest goes with uv_write; stop reading till then. */
        check(uv_read_stop(s), "uv_read_stop");
        b = uv_buf_init((char *)k->buf + k->off, (unsigned)(k->len - k->off));
        k->wreq.data = k;
        check(uv_write(&k->wreq, s, &b, 1, on_write), "uv_write");
        return;
    }
    k->off = k->len = 0;
    if (echoed == args->expected)
        finish();
}

static void on_connection(uv_stream_t *srv, int status)
{
    count_callback();
    check(status, "connection");
    if (open_conns >= args->conns)
        bench_die(API, "more connections than expected");
    struct conn *k = malloc(sizeof *k);
    if (!k)
        bench_die(API, "out of memory");
    check(uv_tcp_init(&loop, &k->tcp), "uv_tcp_init");
    check(uv_accept(srv, (uv_stream_t *)&k->tcp), "uv_accept");
    bp_mark_first();
    k->off = k->len = 0;
    if (args->workload == BP_PINGPONG)
        check(uv_tcp_nodelay(&k->tcp, 1), "uv_tcp_nodelay");
    check(uv_read_start((uv_stream_t *)&k->tcp, on_alloc, on_read),
          "uv_read_start");
    conns[open_conns++] = k;
}

static void on_watchdog(uv_timer_t *t)
{
    (void)t;
    bp_check_time(API);
}

void bp_server_run(const struct bp_args *a)
{
    args = a;
    max_callbacks = bp_max_waits(a);
    conns = calloc((size_t)a->conns, sizeof *conns);
    if (!conns)
        bench_die(API, "out of memory");
    bp_touch(conns, (size_t)a->conns * sizeof *conns); /* resident now */
    check(uv_loop_init(&loop), "uv_loop_init");
    check(uv_tcp_init(&loop, &server), "uv_tcp_init");
    check(uv_tcp_open(&server, listen_fd), "uv_tcp_open");
    check(uv_listen((uv_stream_t *)&server, SOMAXCONN, on_connection),
          "uv_listen");
    check(uv_timer_init(&loop, &watchdog), "uv_timer_init");
    check(uv_timer_start(&watchdog, on_watchdog, BP_WAIT_MS, BP_WAIT_MS),
          "uv_timer_start");
    bp_mark_ready();
    check(uv_run(&loop, UV_RUN_DEFAULT), "uv_run");
    if (!finishing)
        bench_die(API, "the loop ended early");
    check(uv_loop_close(&loop), "uv_loop_close");
    bp_mark_done();
    free(conns);
}
