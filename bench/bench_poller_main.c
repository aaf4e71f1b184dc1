/* The poller benchmarks' shared part: command line, the client (portsock
 * blocking API, the same code in front of every server), timing, memory
 * and the result line. The server comes from one of the bench_poller_*.c
 * files (bench_poller.h). No platform #ifdef: threads, the clock, child
 * processes and memory come from bench_thread.h and bench_proc.h.
 *
 *   PROG [--OPTION...] pingpong COUNT [SIZE]
 *       COUNT round trips of SIZE bytes (default 1) on one connection; the
 *       server runs in a second thread, the client in the main thread.
 *   PROG [--OPTION...] many CONNS [SIZE]
 *       CONNS connections open at once, one message of SIZE bytes (default
 *       32) each, echoed; the client is a second process (this program
 *       again, "many-client"), so each process needs about CONNS
 *       descriptors and the server's memory is its own.
 *   PROG many-client PORT CONNS SIZE WINDOW     (internal)
 */
#include "portsock.h"

#include "bench_common.h"
#include "bench_poller.h"
#include "bench_proc.h"
#include "bench_thread.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_API "client"
/* "many": at most this many connections whose echo the client has not read
 * yet, so that no more than this many wait in the listener's accept queue
 * (Linux's somaxconn is 4096 here; a full queue drops SYNs, which costs a
 * 1 s retransmission). */
#define BP_WINDOW 1000
/* Descriptors besides the connections (listener, poller, std streams...). */
#define BP_SPARE_FDS 64

static struct {
    double t_ready, t_first, t_done;
    long mem_before, mem_peak;
    int have_mem;
} marks;

void bp_mark_ready(void)
{
    long now = 0, peak = 0;
    marks.have_mem = bench_mem_kib(&now, &peak) == 0;
    marks.mem_before = now;
    marks.t_ready = bench_now();
}

void bp_mark_first(void)
{
    if (marks.t_first == 0.0)
        marks.t_first = bench_now();
}

void bp_mark_done(void)
{
    marks.t_done = bench_now();
    long now = 0, peak = 0;
    if (marks.have_mem && bench_mem_kib(&now, &peak) == 0)
        marks.mem_peak = peak;
    else
        marks.have_mem = 0;
}

void bp_touch(void *p, size_t n)
{
    volatile unsigned char *b = p;
    for (size_t i = 0; i < n; i += 1024)
        b[i] = 0;
}

long bp_max_waits(const struct bp_args *a)
{
    /* One wait per message and per connection at least; Windows (AFD) may
     * report a readiness one wait late, so allow several times that. */
    return 4 * ((long)(a->expected / a->size) + a->conns) + 10000;
}

/* "many": the client process, watched by bp_check_time. */
static bench_proc *client_proc;

void bp_check_time(const char *api)
{
    if (bench_now() - marks.t_ready > BP_TIME_LIMIT_S)
        bench_die(api, "server: no end after %.0f s", BP_TIME_LIMIT_S);
    if (client_proc && !bench_proc_running(client_proc))
        bench_die(api, "server: the client process ended early (status %d)",
                  bench_proc_wait(client_proc, 0));
}

/* ---- command line --------------------------------------------------------- */

static _Noreturn void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--OPTION...] pingpong COUNT [SIZE]\n"
            "       %s [--OPTION...] many CONNS [SIZE]\n"
            "  pingpong  COUNT round trips of SIZE bytes (default 1, max %d)\n"
            "            over one connection; server in a second thread\n"
            "  many      CONNS connections at once (max %ld), one SIZE-byte\n"
            "            message each (default %d), echoed; client in a\n"
            "            second process\n"
            "  options: see the server file (e.g. --poll for portsock)\n",
            prog, prog, BP_BUF, BP_MAX_CONNS, BP_MANY_SIZE);
    exit(2);
}

static long number(const char *prog, const char *text, long min, long max)
{
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (end == text || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "%s: bad number '%s' (%ld..%ld)\n", prog, text, min,
                max);
        usage(prog);
    }
    return v;
}

/* ---- the client: portsock blocking calls, the same for every server ------ */

static void check(int rc, const char *what)
{
    if (rc != PS_OK)
        bench_die(CLIENT_API, "%s: %s (%s), os error %d", what,
                  ps_errname(rc), ps_strerror(rc), ps_os_error());
}

static void loopback(ps_addr *to, int port)
{
    check(ps_addr_loopback(to, PS_AF_INET, port), "ps_addr_loopback");
}

/* After the last reply the server closes: see its end of stream, close. */
static void expect_end(ps_conn *c, long which)
{
    unsigned char byte;
    int rc = ps_recv(c, &byte, 1, NULL, BP_IO_TIMEOUT_MS);
    if (rc != PS_ECLOSED)
        bench_die(CLIENT_API, "connection %ld: %s at the end, expected "
                  "PS_ECLOSED", which, ps_errname(rc));
    check(ps_close(c), "ps_close");
}

struct server_arg {
    const struct bp_args *a;
};

static void server_thread(void *arg)
{
    struct server_arg *s = arg;
    bp_server_run(s->a);
}

static double run_pingpong(const struct bp_args *a)
{
    int port = bp_server_listen(a);
    struct server_arg sa = {a};
    bench_thread *t = NULL;
    if (bench_thread_start(&t, server_thread, &sa) != 0)
        bench_die(CLIENT_API, "thread start failed");

    ps_addr to;
    loopback(&to, port);
    unsigned char msg[BP_BUF], reply[BP_BUF];
    memset(msg, 0, sizeof msg);
    ps_conn *c = NULL;
    check(ps_connect(&c, &to, BP_IO_TIMEOUT_MS), "ps_connect");
    check(ps_conn_set_nodelay(c, 1), "ps_conn_set_nodelay");
    /* The hot loop: PS_FOREVER (the server is bounded in time, and its end
     * closes the connection, which ends any wait here). */
    double t0 = bench_now();
    for (long i = 0; i < a->count; i++) {
        msg[0] = (unsigned char)i;
        check(ps_send_all(c, msg, a->size, NULL, PS_FOREVER), "ps_send_all");
        check(ps_recv_exact(c, reply, a->size, NULL, PS_FOREVER),
              "ps_recv_exact");
        if (reply[0] != msg[0])
            bench_die(CLIENT_API, "round trip %ld: wrong reply", i);
    }
    double t1 = bench_now();
    expect_end(c, 0);
    if (bench_thread_join(t) != 0)
        bench_die(CLIENT_API, "thread join failed");
    return t1 - t0;
}

static void fill(unsigned char *msg, size_t size, long i)
{
    for (size_t k = 0; k < size; k++)
        msg[k] = (unsigned char)(i * 31 + (long)k * 7 + 1);
}

static void read_echo(ps_conn *c, size_t size, long i)
{
    unsigned char want[BP_BUF], got[BP_BUF];
    fill(want, size, i);
    check(ps_recv_exact(c, got, size, NULL, BP_IO_TIMEOUT_MS),
          "ps_recv_exact (many)");
    if (memcmp(want, got, size) != 0)
        bench_die(CLIENT_API, "connection %ld: wrong echo", i);
}

/* The client process of "many": open `n` connections, each sends one
 * message right after connecting; at most `window` echoes are outstanding
 * (the oldest is read before the next connect). Then read the rest, see
 * every connection's end of stream (the server closes all once every echo
 * is sent) and close. */
static int many_client(int port, long n, size_t size, long window)
{
    double t0 = bench_now();
    if (bench_fd_limit(n + BP_SPARE_FDS) < n + BP_SPARE_FDS)
        bench_die(CLIENT_API, "cannot have %ld descriptors open", n);
    ps_addr to;
    loopback(&to, port);
    ps_conn **cs = calloc((size_t)n, sizeof *cs);
    if (!cs)
        bench_die(CLIENT_API, "out of memory");
    unsigned char msg[BP_BUF];
    for (long i = 0; i < n; i++) {
        if (bench_now() - t0 > BP_TIME_LIMIT_S)
            bench_die(CLIENT_API, "no end after %.0f s", BP_TIME_LIMIT_S);
        if (i >= window)
            read_echo(cs[i - window], size, i - window);
        check(ps_connect(&cs[i], &to, BP_IO_TIMEOUT_MS), "ps_connect (many)");
        fill(msg, size, i);
        check(ps_send_all(cs[i], msg, size, NULL, BP_IO_TIMEOUT_MS),
              "ps_send_all (many)");
    }
    for (long i = n > window ? n - window : 0; i < n; i++)
        read_echo(cs[i], size, i);
    for (long i = 0; i < n; i++)
        expect_end(cs[i], i);
    free(cs);
    return 0;
}

static double run_many(const struct bp_args *a, const char *argv0)
{
    int port = bp_server_listen(a);
    char sport[16], sconns[24], ssize[24], swin[24];
    snprintf(sport, sizeof sport, "%d", port);
    snprintf(sconns, sizeof sconns, "%ld", a->conns);
    snprintf(ssize, sizeof ssize, "%lu", (unsigned long)a->size);
    snprintf(swin, sizeof swin, "%d", BP_WINDOW);
    char *args[] = {"many-client", sport, sconns, ssize, swin};
    bench_proc *child = NULL;
    if (bench_spawn_self(&child, argv0, args, 5) != 0)
        bench_die(CLIENT_API, "cannot start the client process");
    client_proc = child;
    bp_server_run(a);
    client_proc = NULL;
    int status = bench_proc_wait(child, BP_TIME_LIMIT_S);
    if (status != 0)
        bench_die(bp_server_api(), "client process failed (status %d)",
                  status);
    return marks.t_done - marks.t_first;
}

int main(int argc, char **argv)
{
    const char *prog = argc > 0 ? argv[0] : "bench_poller";
    if (argc == 6 && strcmp(argv[1], "many-client") == 0)
        return many_client((int)number(prog, argv[2], 1, 65535),
                           number(prog, argv[3], 1, BP_MAX_CONNS),
                           (size_t)number(prog, argv[4], 1, BP_BUF),
                           number(prog, argv[5], 1, BP_MAX_CONNS));

    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++)
        if (!bp_server_option(argv[i])) {
            fprintf(stderr, "%s: unknown option %s\n", prog, argv[i]);
            usage(prog);
        }
    if (argc - i < 2 || argc - i > 3)
        usage(prog);
    struct bp_args a;
    memset(&a, 0, sizeof a);
    a.name = argv[i];
    if (strcmp(argv[i], "pingpong") == 0) {
        a.workload = BP_PINGPONG;
        a.count = number(prog, argv[i + 1], 1, BENCH_MAX_COUNT);
        a.size = argc - i == 3 ? (size_t)number(prog, argv[i + 2], 1, BP_BUF)
                               : 1;
        a.conns = 1;
        a.expected = (uint64_t)a.count * a.size;
    } else if (strcmp(argv[i], "many") == 0) {
        a.workload = BP_MANY;
        a.count = number(prog, argv[i + 1], 1, BP_MAX_CONNS);
        a.size = argc - i == 3 ? (size_t)number(prog, argv[i + 2], 1, BP_BUF)
                               : BP_MANY_SIZE;
        /* As many as fit under the descriptor limit (the client process
         * checks its own the same way). */
        long limit = bench_fd_limit(a.count + BP_SPARE_FDS);
        if (limit < 0)
            bench_die(CLIENT_API, "cannot read the descriptor limit");
        if (limit < a.count + BP_SPARE_FDS) {
            if (limit <= 2 * BP_SPARE_FDS)
                bench_die(CLIENT_API, "descriptor limit %ld too low", limit);
            fprintf(stderr, "note: descriptor limit %ld: %ld connections "
                    "instead of %ld\n", limit, limit - BP_SPARE_FDS, a.count);
            a.count = limit - BP_SPARE_FDS;
        }
        a.conns = a.count;
        a.expected = (uint64_t)a.count * a.size;
    } else {
        fprintf(stderr, "%s: unknown workload '%s'\n", prog, argv[i]);
        usage(prog);
    }

    double seconds = a.workload == BP_PINGPONG ? run_pingpong(&a)
                                               : run_many(&a, prog);
    printf("%s api=%s size=%lu count=%ld seconds=%.6f", a.name,
           bp_server_api(), (unsigned long)a.size, a.count, seconds);
    if (a.workload == BP_MANY) {
        if (marks.have_mem)
            printf(" mem_before_kib=%ld mem_peak_kib=%ld bytes_per_conn=%.1f",
                   marks.mem_before, marks.mem_peak,
                   (double)(marks.mem_peak - marks.mem_before) * 1024.0 /
                       (double)a.conns);
        else
            printf(" mem=unknown");
    }
    printf("\n");
    fflush(stdout);
    return 0;
}
