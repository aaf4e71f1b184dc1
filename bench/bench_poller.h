/* The poller benchmarks: one echo server per mechanism, the same client for
 * all of them (bench/README.md, "Poller benchmarks").
 *
 * Every program is bench_poller_main.c (command line, the portsock blocking
 * client, timing, memory, the result line) plus one server file that
 * implements the three functions below:
 *
 *   bench_poller_ps.c         portsock poller (epoll, poll; afd on Windows)
 *   bench_poller_epoll.c      raw epoll (Linux)
 *   bench_poller_libuv.c      libuv, a plain uv_tcp echo server (Linux)
 *   bench_poller_afd.c        raw IOCTL_AFD_POLL + I/O completion port
 *                             (Windows)
 *
 * All servers follow one protocol, so that only the mechanism differs:
 *  - accept every pending connection when the listener is ready (until the
 *    call would block), set TCP_NODELAY on it for ping-pong only, and watch
 *    it for readability;
 *  - on a readable connection: one receive of up to BP_BUF bytes, then one
 *    send of what came; only if that send is partial, watch for
 *    writability until the rest is gone (then readability again);
 *  - when a->expected bytes have been echoed in all, close every connection
 *    (the server closes first, so TIME_WAIT stays on the server side and
 *    client ports are never used up), then the listener, and return.
 *  - end of stream or an error from a client is a failure (the client
 *    never closes first): bench_die.
 * Every wait has a timeout of BP_WAIT_MS, the number of waits is bounded and
 * the server gives up after BP_TIME_LIMIT_S. */
#ifndef BENCH_POLLER_H
#define BENCH_POLLER_H

#include <stddef.h>
#include <stdint.h>

enum bp_workload { BP_PINGPONG, BP_MANY };

#define BP_BUF 64               /* per-connection buffer: largest message */
#define BP_MANY_SIZE 32         /* default message size of "many" */
#define BP_MAX_CONNS 100000L    /* upper bound for "many" */
#define BP_WAIT_MS 1000         /* timeout of every wait */
#define BP_TIME_LIMIT_S 600.0   /* a server or client gives up after this */
#define BP_IO_TIMEOUT_MS 60000  /* the client's per-call timeout */
#define BP_EVENTS 64            /* events taken per wait */

struct bp_args {
    int workload;      /* enum bp_workload */
    const char *name;  /* "pingpong" or "many" */
    long count;        /* round trips (pingpong) or connections (many) */
    size_t size;       /* message bytes */
    long conns;        /* connections the server will serve */
    uint64_t expected; /* bytes the server echoes in all */
};

/* ---- implemented by each server file ------------------------------------ */

/* A variant option (an argument before WORKLOAD that starts with "--"):
 * return 1 if taken, 0 if unknown. */
int bp_server_option(const char *opt);
/* Create the listener on 127.0.0.1, port 0, and whatever the server needs
 * before it runs (poller, loop); return the port. Runs in the main thread
 * before the server starts. */
int bp_server_listen(const struct bp_args *a);
/* The name in the result line, e.g. "raw-epoll"; valid after listen. */
const char *bp_server_api(void);
/* Serve as described above. Call bp_mark_ready() once set up (before the
 * first wait), bp_mark_first() after the first accept and bp_mark_done()
 * after everything is closed. */
void bp_server_run(const struct bp_args *a);

/* ---- provided by bench_poller_main.c ------------------------------------- */

void bp_mark_ready(void);
void bp_mark_first(void);
void bp_mark_done(void);
/* Write to every page of `p[0..n)`, so that it is resident before
 * bp_mark_ready measures memory. */
void bp_touch(void *p, size_t n);
/* The server's bound on waits: the loop dies past it. */
long bp_max_waits(const struct bp_args *a);
/* Dies if BP_TIME_LIMIT_S has passed since bp_mark_ready. */
void bp_check_time(const char *api);

#endif
