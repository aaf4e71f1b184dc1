/*
 * pscat: a netcat-like tool on the portsock public API. One source for
 * every platform: no #ifdef, no operating-system header, only C11 and
 * portsock.h.
 *
 *   pscat [-46uv] [-w SECONDS] [-b COUNT] HOST PORT  connect
 *   pscat [-v] [-w SECONDS] unix:PATH                connect to a local socket
 *   pscat -l [-46kuv] [-w SECONDS] [-b COUNT] [ADDR] PORT   listen
 *   pscat -l [-kv] [-w SECONDS] unix:PATH            listen on a local socket
 *
 * Standard input goes to the socket and the socket to standard output,
 * byte for byte. docs/pscat.1 is the manual; `pscat --help` the summary.
 *
 * Shape: one thread, one poller. Standard input is a connection
 * (ps_stdin_conn), so it is waited on together with the socket on every
 * system. While both directions are open, everything is non-blocking and
 * driven by the poller; once one direction has ended, the other one is a
 * plain blocking copy (nothing else is left to wait for).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portsock.h"

#define TCP_CHUNK 65536      /* bytes read at once, either direction */
#define UDP_PAYLOAD 1400     /* most bytes of stdin sent in one datagram */
#define UDP_RECV_MAX 65536   /* any UDP datagram fits */
#define UDP_LINGER_S 2.0     /* -u without -w: idle time after stdin's end */
#define UDP_BURST 4          /* -u without -b: datagrams between pauses */
#define UDP_PAUSE_MS 1       /* the pause */
#define UDP_PAUSE_MAX_EARLY 8 /* a pause ends after this many cut-short waits */
#define MAX_RESOLVED 16
#define EXIT_OK 0
#define EXIT_NET 1
#define EXIT_USAGE 2

/* ---- options ------------------------------------------------------------- */

static struct {
    int listen;        /* -l */
    int keep;          /* -k */
    int udp;           /* -u */
    int family;        /* -4 / -6: PS_AF_INET / PS_AF_INET6, else UNSPEC */
    int verbose;       /* -v */
    double wait_s;     /* -w, 0 if not given */
    long burst;        /* -b: UDP datagrams between pauses; 0 = no pauses */
    const char *host;  /* HOST or ADDR (NULL: any address) */
    const char *port;  /* PORT */
    const char *local; /* "unix:/path" */
} opt;

/* ---- messages ------------------------------------------------------------ */

static void say(const char *fmt, ...)
{
    if (!opt.verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("pscat: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* "pscat: <what>: <ps_strerror>"; returns EXIT_NET. */
static int fail(int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("pscat: ", stderr);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, ": %s\n", ps_strerror(rc));
    va_end(ap);
    return EXIT_NET;
}

static void addr_text(const ps_addr *a, char *buf, size_t cap)
{
    if (ps_addr_format(a, buf, cap) != PS_OK)
        snprintf(buf, cap, "?");
    else if (strcmp(buf, "unix:") == 0)
        snprintf(buf, cap, "unix:(unnamed)"); /* a client's unbound end */
}

/* The -w time in milliseconds for a blocking call, or PS_FOREVER. */
static int wait_ms(void)
{
    return opt.wait_s > 0 ? (int)(opt.wait_s * 1000.0 + 0.5) : PS_FOREVER;
}

/* ---- standard output ----------------------------------------------------- */

static int out_failed; /* standard output is gone: nothing more to do */

static int out_write(const void *buf, size_t len)
{
    errno = 0;
    if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0) {
        fprintf(stderr, "pscat: write to standard output: %s\n",
                errno ? strerror(errno) : "write error");
        out_failed = 1;
        return -1;
    }
    return 0;
}

/* ---- shared state ---------------------------------------------------------
 * `in` is standard input as a connection; it lives as long as the program
 * (one per process) and is closed at its end of stream. It is registered
 * in the poller only while a session wants to read it. */

static struct {
    ps_poller *poller;
    ps_conn *in;      /* NULL once standard input has ended */
    int in_watched;   /* `in` is registered in the poller */
    unsigned char buf[4 * UDP_RECV_MAX]; /* also >= TCP_CHUNK */
} g;

static char tag_in, tag_sock; /* poller `user` pointers */

/* Watch standard input for PS_READABLE, or stop watching it. */
static int watch_in(int on)
{
    if (!g.in || g.in_watched == on)
        return PS_OK;
    int rc = on ? ps_poller_add(g.poller, g.in, PS_READABLE, &tag_in)
                : ps_poller_remove(g.poller, g.in);
    if (rc != PS_OK) {
        (void)fail(rc, "poller (standard input)");
        return rc;
    }
    g.in_watched = on;
    return PS_OK;
}

/* Standard input has ended: close it (which also leaves the poller). */
static void in_ended(unsigned long long bytes)
{
    say("standard input: end of input after %llu bytes", bytes);
    (void)ps_close(g.in);
    g.in = NULL;
    g.in_watched = 0;
}

/* ---- stream sessions (TCP and local sockets) ----------------------------- */

struct stream {
    ps_conn *sock;
    int sock_watched;
    unsigned char pend[TCP_CHUNK]; /* from stdin, not yet sent */
    size_t pend_off, pend_len;
    int peer_eof;
    unsigned long long sent, received, in_bytes;
};

static struct stream st; /* one session at a time */

/* Send what is pending without waiting. PS_OK (possibly some left) or the
 * error that ends the session. */
static int stream_flush(void)
{
    while (st.pend_off < st.pend_len) {
        size_t n = 0;
        int rc = ps_send(st.sock, st.pend + st.pend_off,
                         st.pend_len - st.pend_off, &n, 0);
        if (rc == PS_EWOULDBLOCK)
            return PS_OK;
        if (rc != PS_OK)
            return rc;
        st.pend_off += n;
        st.sent += n;
    }
    st.pend_off = st.pend_len = 0;
    return PS_OK;
}

/* The end of a session with the connection: the socket's read side has
 * reached its end (peer) or standard input has (ours). Returns EXIT_OK or
 * EXIT_NET (already reported). */
static int stream_copy_rest(void)
{
    int rc;
    if (!st.peer_eof) {
        /* Our side is done: tell the peer, then copy the socket out. */
        rc = ps_shutdown(st.sock, PS_SHUT_WR);
        if (rc != PS_OK)
            return fail(rc, "shut down sending");
        say("sent end of stream after %llu bytes", st.sent);
        for (;;) {
            size_t got = 0;
            rc = ps_recv(st.sock, g.buf, TCP_CHUNK, &got, wait_ms());
            if (rc == PS_ECLOSED)
                break;
            if (rc == PS_ETIMEDOUT)
                return fail(rc, "idle for %g s", opt.wait_s);
            if (rc != PS_OK)
                return fail(rc, "receive");
            st.received += got;
            if (out_write(g.buf, got) != 0)
                return EXIT_NET;
        }
        say("peer: end of stream after %llu bytes", st.received);
        return EXIT_OK;
    }

    /* The peer is done sending: copy the rest of standard input to it. */
    say("peer: end of stream after %llu bytes", st.received);
    if (st.pend_off < st.pend_len) {
        size_t n = 0;
        rc = ps_send_all(st.sock, st.pend + st.pend_off,
                         st.pend_len - st.pend_off, &n, wait_ms());
        st.sent += n;
        if (rc != PS_OK)
            return fail(rc, rc == PS_ETIMEDOUT ? "send (idle)" : "send");
        st.pend_off = st.pend_len = 0;
    }
    while (g.in) {
        size_t got = 0;
        rc = ps_recv(g.in, st.pend, sizeof st.pend, &got, wait_ms());
        if (rc == PS_ECLOSED) {
            in_ended(st.in_bytes);
            break;
        }
        if (rc == PS_ETIMEDOUT)
            return fail(rc, "idle for %g s", opt.wait_s);
        if (rc != PS_OK)
            return fail(rc, "read standard input");
        st.in_bytes += got;
        size_t n = 0;
        rc = ps_send_all(st.sock, st.pend, got, &n, wait_ms());
        st.sent += n;
        if (rc != PS_OK)
            return fail(rc, rc == PS_ETIMEDOUT ? "send (idle)" : "send");
    }
    rc = ps_shutdown(st.sock, PS_SHUT_WR);
    if (rc != PS_OK)
        return fail(rc, "shut down sending");
    say("sent end of stream after %llu bytes", st.sent);
    return EXIT_OK;
}

/* Handle a poller event for the socket. */
static int stream_on_sock(unsigned events)
{
    int rc;
    if (events & (PS_READABLE | PS_HANGUP | PS_ERROR)) {
        size_t got = 0;
        rc = ps_recv(st.sock, g.buf, TCP_CHUNK, &got, 0);
        if (rc == PS_ECLOSED) {
            st.peer_eof = 1;
        } else if (rc == PS_OK) {
            st.received += got;
            if (out_write(g.buf, got) != 0)
                return EXIT_NET;
        } else if (rc != PS_EWOULDBLOCK) {
            return fail(rc, "receive");
        }
    }
    if ((events & (PS_WRITABLE | PS_ERROR)) && st.pend_off < st.pend_len) {
        rc = stream_flush();
        if (rc != PS_OK)
            return fail(rc, "send");
    }
    return EXIT_OK;
}

/* Handle a poller event for standard input (only watched with nothing
 * pending). */
static int stream_on_in(void)
{
    size_t got = 0;
    int rc = ps_recv(g.in, st.pend, sizeof st.pend, &got, 0);
    if (rc == PS_EWOULDBLOCK)
        return EXIT_OK;
    if (rc == PS_ECLOSED) {
        in_ended(st.in_bytes);
        return EXIT_OK;
    }
    if (rc != PS_OK)
        return fail(rc, "read standard input");
    st.in_bytes += got;
    st.pend_off = 0;
    st.pend_len = got;
    rc = stream_flush();
    if (rc != PS_OK)
        return fail(rc, "send");
    return EXIT_OK;
}

/* Copy both ways over a connected stream until both directions have ended.
 * Takes `sock` and closes it. Returns EXIT_OK or EXIT_NET (reported). */
static int stream_session(ps_conn *sock)
{
    memset(&st, 0, sizeof st);
    st.sock = sock;
    int result = EXIT_OK;

    /* Both directions open: the poller drives everything. Standard input
     * is read only when everything read from it has been sent (the
     * socket's back-pressure reaches standard input). With -w, a wait that
     * sees no event for that long is the idle timeout. */
    while (result == EXIT_OK && g.in && !st.peer_eof) {
        int busy = st.pend_off < st.pend_len;
        unsigned want = PS_READABLE | (busy ? PS_WRITABLE : 0);
        int rc = st.sock_watched
                     ? ps_poller_modify(g.poller, st.sock, want, &tag_sock)
                     : ps_poller_add(g.poller, st.sock, want, &tag_sock);
        if (rc != PS_OK) {
            result = fail(rc, "poller (socket)");
            break;
        }
        st.sock_watched = 1;
        if (watch_in(!busy) != PS_OK) {
            result = EXIT_NET;
            break;
        }

        ps_event ev[4];
        size_t n = 0;
        rc = ps_poller_wait(g.poller, ev, 4, &n, wait_ms());
        if (rc != PS_OK) {
            result = fail(rc, "poller wait");
            break;
        }
        if (n == 0 && opt.wait_s > 0)
            result = fail(PS_ETIMEDOUT, "idle for %g s", opt.wait_s);
        for (size_t i = 0; i < n && result == EXIT_OK; i++) {
            if (ev[i].user == &tag_sock)
                result = stream_on_sock(ev[i].events);
            else if (ev[i].user == &tag_in && g.in)
                result = stream_on_in();
        }
    }
    if (st.sock_watched)
        (void)ps_poller_remove(g.poller, st.sock);
    (void)watch_in(0);

    /* One direction has ended: copy the other one to its end. */
    if (result == EXIT_OK)
        result = stream_copy_rest();
    say("sent %llu bytes, received %llu bytes", st.sent, st.received);
    (void)ps_close(st.sock);
    st.sock = NULL;
    return result;
}

/* ---- datagram sessions (UDP) ---------------------------------------------
 * UDP has no flow control: a sender faster than its receiver loses
 * datagrams. pscat paces what it sends: after a burst of UDP_BURST
 * datagrams it pauses UDP_PAUSE_MS (a poller wait that times out; waits cut
 * short by arriving datagrams do not count), which keeps a loopback
 * receiver's default socket buffer (about 200 KiB on Linux) far from full.
 * -b changes the burst; -b 0 turns pacing off. */

struct udp {
    ps_dgram *d;
    ps_addr peer;
    int connected;   /* client: the socket is connected to `peer` */
    unsigned char pend[UDP_PAYLOAD];
    size_t pend_len; /* one datagram waiting for the socket */
    int has_pend;
    long burst_left; /* datagrams before the next pause */
    unsigned long long sent, received, dgrams_out, dgrams_in, in_bytes;
};

static struct udp u;

static int udp_send_pend(void)
{
    int rc = u.connected ? ps_dgram_send(u.d, u.pend, u.pend_len, 0)
                         : ps_dgram_sendto(u.d, u.pend, u.pend_len, &u.peer, 0);
    if (rc == PS_EWOULDBLOCK)
        return PS_OK; /* keep it; wait for PS_WRITABLE */
    if (rc != PS_OK)
        return rc;
    u.has_pend = 0;
    u.sent += u.pend_len;
    u.dgrams_out++;
    if (opt.burst > 0)
        u.burst_left--;
    return PS_OK;
}

/* Read every datagram that is there (up to a limit, for fairness) and write
 * them to standard output together. Returns EXIT_OK or EXIT_NET. */
static int udp_on_readable(void)
{
    size_t out = 0; /* bytes collected in g.buf */
    int result = EXIT_OK;
    for (int i = 0; i < 64; i++) {
        if (sizeof g.buf - out < UDP_RECV_MAX) {
            if (out_write(g.buf, out) != 0)
                return EXIT_NET;
            out = 0;
        }
        size_t got = 0;
        ps_addr from;
        int rc = ps_dgram_recvfrom(u.d, g.buf + out, UDP_RECV_MAX, &got, NULL,
                                   &from, 0);
        if (rc == PS_EWOULDBLOCK)
            break;
        if (rc != PS_OK && rc != PS_EMSGSIZE) {
            char peer[PS_ADDR_STRLEN];
            addr_text(&u.peer, peer, sizeof peer);
            result = fail(rc, "receive from %s", peer);
            break;
        }
        if (!u.connected && !ps_addr_equal(&from, &u.peer)) {
            char who[PS_ADDR_STRLEN];
            addr_text(&from, who, sizeof who);
            say("ignored a datagram of %zu bytes from %s", got, who);
            continue;
        }
        if (rc == PS_EMSGSIZE)
            say("a datagram was truncated to %zu bytes", got);
        u.received += got;
        u.dgrams_in++;
        out += got;
    }
    if (out > 0 && out_write(g.buf, out) != 0)
        return EXIT_NET;
    return result;
}

/* Standard input's next datagram: read it and send it. */
static int udp_on_in(const char *peer)
{
    size_t got = 0;
    int rc = ps_recv(g.in, u.pend, UDP_PAYLOAD, &got, 0);
    if (rc == PS_EWOULDBLOCK)
        return EXIT_OK;
    if (rc == PS_ECLOSED) {
        in_ended(u.in_bytes);
        return EXIT_OK;
    }
    if (rc != PS_OK)
        return fail(rc, "read standard input");
    u.in_bytes += got;
    u.pend_len = got;
    u.has_pend = 1;
    rc = udp_send_pend();
    if (rc != PS_OK)
        return fail(rc, "send to %s", peer);
    return EXIT_OK;
}

/* Exchange datagrams with u.peer until standard input has ended and then
 * no datagram has come for the -w time (UDP_LINGER_S without -w). */
static int udp_session(void)
{
    char peer[PS_ADDR_STRLEN];
    addr_text(&u.peer, peer, sizeof peer);
    int linger = opt.wait_s > 0 ? wait_ms() : (int)(UDP_LINGER_S * 1000);
    int result = EXIT_OK;
    int watched = 0;
    int early = 0; /* waits of the current pause cut short */
    u.burst_left = opt.burst;

    while (result == EXIT_OK) {
        int pausing = opt.burst > 0 && u.burst_left <= 0;
        unsigned want = PS_READABLE | (u.has_pend ? PS_WRITABLE : 0);
        int rc = watched ? ps_poller_modify(g.poller, u.d, want, &tag_sock)
                         : ps_poller_add(g.poller, u.d, want, &tag_sock);
        if (rc != PS_OK) {
            result = fail(rc, "poller (socket)");
            break;
        }
        watched = 1;
        if (watch_in(!u.has_pend && !pausing) != PS_OK) {
            result = EXIT_NET;
            break;
        }
        int timeout = PS_FOREVER;
        if (!g.in && !u.has_pend)
            timeout = linger;
        else if (pausing)
            timeout = UDP_PAUSE_MS;

        ps_event ev[4];
        size_t n = 0;
        rc = ps_poller_wait(g.poller, ev, 4, &n, timeout);
        if (rc != PS_OK) {
            result = fail(rc, "poller wait");
            break;
        }
        if (n == 0 && !g.in && !u.has_pend)
            break; /* input ended, and nothing came for the linger time */
        if (pausing && (n == 0 || ++early >= UDP_PAUSE_MAX_EARLY)) {
            u.burst_left = opt.burst; /* the pause is over */
            early = 0;
        }
        for (size_t i = 0; i < n && result == EXIT_OK; i++) {
            if (ev[i].user == &tag_sock) {
                if (ev[i].events & (PS_READABLE | PS_ERROR | PS_HANGUP))
                    result = udp_on_readable();
                if (result == EXIT_OK && u.has_pend &&
                    (ev[i].events & (PS_WRITABLE | PS_ERROR))) {
                    rc = udp_send_pend();
                    if (rc != PS_OK)
                        result = fail(rc, "send to %s", peer);
                }
            } else if (ev[i].user == &tag_in && g.in && !u.has_pend) {
                result = udp_on_in(peer);
            }
        }
    }
    if (watched)
        (void)ps_poller_remove(g.poller, u.d);
    (void)watch_in(0);
    say("sent %llu bytes in %llu datagrams, received %llu bytes in %llu "
        "datagrams",
        u.sent, u.dgrams_out, u.received, u.dgrams_in);
    return result;
}

/* ---- setting up ------------------------------------------------------------ */

/* Resolve HOST (NULL: "any" of the family) and PORT into one address. */
static int resolve_one(const char *host, int for_listen, ps_addr *out,
                       size_t max, size_t *n)
{
    const char *h = host;
    char buf[256];
    if (h && h[0] == '[') { /* accept [v6] as well as v6 */
        size_t len = strlen(h);
        if (len < 3 || h[len - 1] != ']' || len - 2 >= sizeof buf)
            return PS_EINVAL;
        memcpy(buf, h + 1, len - 2);
        buf[len - 2] = '\0';
        h = buf;
    }
    if (!h && for_listen)
        h = opt.family == PS_AF_INET6 ? "::" : "0.0.0.0";
    return ps_resolve(h, opt.port, opt.family, out, max, n);
}

static int run_connect(void)
{
    ps_conn *c = NULL;
    int rc;
    int timeout = wait_ms();
    char name[PS_ADDR_STRLEN], local[PS_ADDR_STRLEN];

    if (opt.local) {
        ps_addr a;
        rc = ps_addr_parse(&a, opt.local);
        if (rc != PS_OK)
            return fail(rc, "address %s", opt.local);
        rc = ps_connect(&c, &a, timeout);
        if (rc != PS_OK)
            return fail(rc, "connect to %s", opt.local);
    } else if (opt.family == PS_AF_UNSPEC) {
        rc = ps_dial(&c, opt.host, opt.port, timeout);
        if (rc != PS_OK)
            return fail(rc, "connect to %s port %s", opt.host, opt.port);
    } else {
        /* -4 / -6: ps_dial takes every family, so resolve and try each
         * address of the one asked for in turn. */
        ps_addr list[MAX_RESOLVED];
        size_t n = 0;
        rc = resolve_one(opt.host, 0, list, MAX_RESOLVED, &n);
        if (rc != PS_OK)
            return fail(rc, "resolve %s port %s", opt.host, opt.port);
        rc = PS_ERESOLVE;
        for (size_t i = 0; i < n; i++) {
            addr_text(&list[i], name, sizeof name);
            say("trying %s", name);
            rc = ps_connect(&c, &list[i], timeout); /* -w: per address */
            if (rc == PS_OK)
                break;
        }
        if (rc != PS_OK)
            return fail(rc, "connect to %s port %s", opt.host, opt.port);
    }

    if (opt.verbose) {
        ps_addr a;
        if (ps_conn_peer_addr(c, &a) == PS_OK)
            addr_text(&a, name, sizeof name);
        else
            snprintf(name, sizeof name, "%s", opt.local ? opt.local : "?");
        if (ps_conn_local_addr(c, &a) == PS_OK)
            addr_text(&a, local, sizeof local);
        else
            snprintf(local, sizeof local, "?");
        say("connected to %s from %s", name, local);
    }
    return stream_session(c);
}

static int run_listen(void)
{
    ps_addr a;
    ps_listener *l = NULL;
    int rc;
    char name[PS_ADDR_STRLEN];

    if (opt.local) {
        rc = ps_addr_parse(&a, opt.local);
        if (rc != PS_OK)
            return fail(rc, "address %s", opt.local);
        rc = ps_listen(&l, &a, NULL);
        if (rc != PS_OK)
            return fail(rc, "listen on %s", opt.local);
    } else {
        /* No ADDR and no -4/-6: every address, IPv6 and IPv4 alike, where
         * the system has IPv6; else every IPv4 address. */
        ps_listen_opts lo = {0, 0};
        size_t n = 0;
        const char *host = opt.host;
        if (!host && opt.family == PS_AF_UNSPEC) {
            host = "::";
            lo.flags = PS_LISTEN_DUALSTACK;
        }
        rc = resolve_one(host, 1, &a, 1, &n);
        if (rc == PS_OK)
            rc = ps_listen(&l, &a, &lo);
        if (rc != PS_OK && !opt.host && opt.family == PS_AF_UNSPEC) {
            lo.flags = 0;
            rc = resolve_one("0.0.0.0", 1, &a, 1, &n);
            if (rc == PS_OK)
                rc = ps_listen(&l, &a, &lo);
        }
        if (rc != PS_OK)
            return fail(rc, "listen on %s port %s", opt.host ? opt.host : "*",
                        opt.port);
    }
    rc = ps_listener_addr(l, &a);
    if (rc != PS_OK) {
        (void)ps_listener_close(l);
        return fail(rc, "listener address");
    }
    addr_text(&a, name, sizeof name);
    say("listening on %s", name);

    int result = EXIT_OK;
    do {
        ps_conn *c;
        ps_addr peer;
        rc = ps_accept(l, &c, &peer, PS_FOREVER);
        if (rc != PS_OK) {
            result = fail(rc, "accept on %s", name);
            break;
        }
        if (!opt.keep) {
            /* One client: nobody else may connect meanwhile. */
            (void)ps_listener_close(l);
            l = NULL;
        }
        char who[PS_ADDR_STRLEN];
        addr_text(&peer, who, sizeof who);
        say("connection from %s", who);
        result = stream_session(c);
        if (opt.keep && !out_failed)
            say("waiting for the next client on %s", name);
    } while (opt.keep && !out_failed);
    if (l)
        (void)ps_listener_close(l);
    return result;
}

static int run_udp(void)
{
    int rc;
    char name[PS_ADDR_STRLEN];
    ps_addr list[MAX_RESOLVED];
    size_t n = 0;
    memset(&u, 0, sizeof u);

    if (!opt.listen) {
        rc = resolve_one(opt.host, 0, list, MAX_RESOLVED, &n);
        if (rc != PS_OK)
            return fail(rc, "resolve %s port %s", opt.host, opt.port);
        u.peer = list[0];
        ps_addr any;
        rc = ps_addr_any(&any, ps_addr_family(&u.peer), 0);
        if (rc == PS_OK)
            rc = ps_dgram_open(&u.d, &any, 0);
        if (rc != PS_OK)
            return fail(rc, "open a UDP socket");
        addr_text(&u.peer, name, sizeof name);
        rc = ps_dgram_connect(u.d, &u.peer);
        if (rc != PS_OK) {
            (void)ps_dgram_close(u.d);
            return fail(rc, "connect to %s", name);
        }
        u.connected = 1;
        if (opt.verbose && ps_dgram_local_addr(u.d, &any) == PS_OK) {
            char local[PS_ADDR_STRLEN];
            addr_text(&any, local, sizeof local);
            say("sending to %s from %s (udp)", name, local);
        }
        rc = udp_session();
        (void)ps_dgram_close(u.d);
        return rc;
    }

    /* Listening: bound to ADDR PORT; the first sender becomes the peer. */
    const char *host = opt.host;
    unsigned flags = 0;
    if (!host && opt.family == PS_AF_UNSPEC) {
        host = "::";
        flags = PS_DGRAM_DUALSTACK;
    }
    rc = resolve_one(host, 1, list, 1, &n);
    if (rc == PS_OK)
        rc = ps_dgram_open(&u.d, &list[0], flags);
    if (rc != PS_OK && !opt.host && opt.family == PS_AF_UNSPEC) {
        rc = resolve_one("0.0.0.0", 1, list, 1, &n);
        if (rc == PS_OK)
            rc = ps_dgram_open(&u.d, &list[0], 0);
    }
    if (rc != PS_OK)
        return fail(rc, "listen on %s port %s (udp)",
                    opt.host ? opt.host : "*", opt.port);
    ps_addr bound;
    rc = ps_dgram_local_addr(u.d, &bound);
    if (rc != PS_OK) {
        (void)ps_dgram_close(u.d);
        return fail(rc, "local address");
    }
    addr_text(&bound, name, sizeof name);
    say("listening on %s (udp)", name);

    int result = EXIT_OK;
    do {
        size_t got = 0;
        rc = ps_dgram_recvfrom(u.d, g.buf, UDP_RECV_MAX, &got, NULL, &u.peer,
                               PS_FOREVER);
        if (rc != PS_OK && rc != PS_EMSGSIZE) {
            result = fail(rc, "receive on %s", name);
            break;
        }
        char who[PS_ADDR_STRLEN];
        addr_text(&u.peer, who, sizeof who);
        say("peer %s (udp)", who);
        u.received = got;
        u.dgrams_in = 1;
        if (got > 0 && out_write(g.buf, got) != 0) {
            result = EXIT_NET;
            break;
        }
        result = udp_session();
        if (out_failed || (result != EXIT_OK && !opt.keep))
            break;
        if (opt.keep) {
            u.sent = u.received = u.dgrams_out = u.dgrams_in = 0;
            u.in_bytes = 0;
            say("waiting for the next peer on %s (udp)", name);
        }
    } while (opt.keep);
    (void)ps_dgram_close(u.d);
    return result;
}

/* ---- command line ---------------------------------------------------------- */

static const char usage_text[] =
    "usage: pscat [-46uv] [-w SECONDS] [-b COUNT] HOST PORT\n"
    "       pscat -l [-46kuv] [-w SECONDS] [-b COUNT] [ADDR] PORT\n"
    "       pscat [-l] [-kv] [-w SECONDS] unix:PATH\n";

static void help(void)
{
    printf("%s", usage_text);
    printf(
        "Copy standard input to a TCP, UDP or local-socket peer, and what the\n"
        "peer sends to standard output, byte for byte.\n"
        "\n"
        "  HOST PORT   connect (name or address; PORT is a number or service)\n"
        "  -l          listen on ADDR PORT (ADDR omitted: every address) and\n"
        "              serve one client; PORT 0 picks a free port (see -v)\n"
        "  unix:PATH   a local (unix-domain) socket instead of HOST PORT\n"
        "  -k          with -l: after a client ends, wait for the next one\n"
        "  -u          UDP: each read of standard input (at most %d bytes) is\n"
        "              one datagram; listening, the first sender is the peer\n"
        "  -4, -6      IPv4 only, IPv6 only\n"
        "  -w SECONDS  connect timeout, and idle timeout: with no data either\n"
        "              way for SECONDS, end with an error (TCP) or, after the\n"
        "              end of standard input, end normally (UDP, default %g)\n"
        "  -b COUNT    UDP: pause %d ms after every COUNT datagrams sent\n"
        "              (default %d; 0: never), not to outrun the receiver\n"
        "  -v          report addresses, byte counts and ends on stderr\n"
        "  --help      this text\n"
        "\n"
        "At the end of standard input pscat shuts down its sending side\n"
        "(UDP: sends nothing more) and exits once the peer has ended too.\n"
        "Exit status: 0 done, 1 network or I/O error, 2 usage error.\n",
        UDP_PAYLOAD, UDP_LINGER_S, UDP_PAUSE_MS, UDP_BURST);
}

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("pscat: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%sTry 'pscat --help' for more.\n", usage_text);
    return EXIT_USAGE;
}

static int is_port_number(const char *s)
{
    if (!*s)
        return 0;
    long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return 0;
        v = v * 10 + (*s - '0');
        if (v > 65535)
            return -1;
    }
    return 1;
}

/* Seconds for -w: above 0, fractions allowed. */
static int parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !(v > 0) || v > 1e6)
        return -1;
    *out = v;
    return 0;
}

/* A count for -b: 0 or more. */
static int parse_count(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0 || v < 0 || v > 1000000)
        return -1;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv)
{
    const char *pos[3];
    int npos = 0;
    int options_done = 0;
    opt.burst = UDP_BURST;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!options_done && strcmp(a, "--help") == 0) {
            help();
            return -1;
        }
        if (!options_done && strcmp(a, "--") == 0) {
            options_done = 1;
            continue;
        }
        if (options_done || a[0] != '-' || a[1] == '\0') {
            if (npos == 3)
                return usage_error("too many arguments (at '%s')", a);
            pos[npos++] = a;
            continue;
        }
        int took_value = 0;
        for (const char *p = a + 1; *p && !took_value; p++) {
            switch (*p) {
            case 'l': opt.listen = 1; break;
            case 'k': opt.keep = 1; break;
            case 'u': opt.udp = 1; break;
            case 'v': opt.verbose = 1; break;
            case '4': opt.family = PS_AF_INET; break;
            case '6': opt.family = PS_AF_INET6; break;
            case 'w':
            case 'b': {
                /* "-w 5" or "-w5"; the value ends this argument. */
                const char *val = p[1] ? p + 1
                                       : (i + 1 < argc ? argv[++i] : NULL);
                if (!val)
                    return usage_error("option -%c needs a value", *p);
                if (*p == 'w' ? parse_seconds(val, &opt.wait_s)
                              : parse_count(val, &opt.burst))
                    return usage_error(*p == 'w'
                                           ? "-w: '%s' is not a number of "
                                             "seconds above 0"
                                           : "-b: '%s' is not a number of "
                                             "datagrams",
                                       val);
                took_value = 1;
                break;
            }
            default: {
                char o[2] = {*p, '\0'};
                return usage_error("unknown option -%s", o);
            }
            }
        }
    }

    if (opt.keep && !opt.listen)
        return usage_error("-k needs -l");
    if (npos >= 1 && strncmp(pos[0], "unix:", 5) == 0) {
        if (npos != 1)
            return usage_error("unix:PATH takes no other argument (at '%s')",
                               pos[1]);
        if (opt.udp)
            return usage_error("-u: datagrams over unix: sockets are not "
                               "supported");
        if (opt.family != PS_AF_UNSPEC)
            return usage_error("-4 / -6 do not apply to unix: sockets");
        opt.local = pos[0];
        return 0;
    }
    if (opt.listen) {
        if (npos == 1) {
            opt.port = pos[0];
        } else if (npos == 2) {
            opt.host = pos[0];
            opt.port = pos[1];
        } else {
            return usage_error("-l needs [ADDR] PORT or unix:PATH");
        }
    } else {
        if (npos != 2)
            return usage_error("HOST PORT or unix:PATH needed");
        opt.host = pos[0];
        opt.port = pos[1];
    }
    if (is_port_number(opt.port) < 0)
        return usage_error("port '%s' is out of range (0..65535)", opt.port);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = parse_args(argc, argv);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;

    /* Bytes out exactly as they came in: no newline translation. */
    rc = ps_stdout_binary();
    if (rc != PS_OK)
        return fail(rc, "standard output in binary mode");

    rc = ps_poller_create(&g.poller, 0);
    if (rc != PS_OK)
        return fail(rc, "create a poller");
    rc = ps_stdin_conn(&g.in);
    if (rc != PS_OK) {
        (void)ps_poller_close(g.poller);
        return fail(rc, "standard input");
    }

    int result;
    if (opt.udp)
        result = run_udp();
    else if (opt.listen)
        result = run_listen();
    else
        result = run_connect();

    if (g.in)
        (void)ps_close(g.in); /* leaves the poller too */
    (void)ps_poller_close(g.poller);
    if (fflush(stdout) != 0 && result == EXIT_OK)
        result = EXIT_NET;
    return result;
}
