/*
 * echo-poll: an echo server for many clients at once, in one thread, on the
 * portsock poller.
 *
 *   echo-poll [-n CLIENTS] [ADDR]
 *
 * ADDR defaults to 127.0.0.1:7777; port 0 lets the system pick a free port
 * (the "listening on" line shows which). -n exits once CLIENTS clients have
 * been served and have closed. Try it with: echo-client 127.0.0.1 7777 hi
 *
 * The shape to copy: every socket is registered in one poller with a
 * pointer to its own state; the loop waits, and each event says which state
 * to advance. Nothing ever blocks: accept, receive and send are called with
 * timeout 0 and PS_EWOULDBLOCK means "wait for the next event". A client
 * whose echo cannot be sent at once keeps the rest in its pending-output
 * buffer and is watched for PS_WRITABLE instead of PS_READABLE until the
 * buffer is empty, so a client that does not read its echo stops being
 * read too (back-pressure) rather than making the server buffer without
 * limit.
 *
 * Descriptors: each client holds one, so serving N clients at once needs N
 * descriptors, plus a few (listener, poller, standard streams). On Linux
 * raise the limit with `ulimit -n` (Debian's default soft limit is 1024).
 * When they run out, ps_accept returns PS_EMFILE at once and the
 * connection stays queued: this server then reports it on stderr and stops
 * watching the listener until one of its clients leaves (the same for
 * PS_ENOMEM and PS_ENOBUFS); with no client open it gives up and exits.
 * Windows has no such per-process limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portsock.h"

#define MAX_EVENTS 64    /* events taken per wait */
#define BUF_SIZE 16384   /* per client: bytes read at once, and pending */
#define ACCEPTS_PER_EVENT 64 /* fairness: then the clients get their turn */

/* One connected client. Its address in memory is the poller's `user`
 * pointer, so an event leads straight to it. */
struct client {
    ps_conn *conn;
    char name[PS_ADDR_STRLEN];   /* peer address, for the log */
    unsigned long long echoed;   /* bytes sent back so far */
    size_t out_off, out_len;     /* pending output: out[out_off..out_len) */
    unsigned char out[BUF_SIZE];
    struct client *prev, *next;  /* all open clients, to close them at exit */
};

struct server {
    ps_poller *poller;
    ps_listener *listener;
    int accepting;               /* listener registered for PS_READABLE */
    int paused;                  /* not accepting for lack of resources */
    struct client *clients;
    long open, accepted, served; /* clients now, in total, finished */
    long peak;                   /* most clients open at once */
    long limit;                  /* -n: 0 means serve forever */
    int left;                    /* a client left during this batch */
    int failed;                  /* some client ended with an error */
};

/* The listener's `user` pointer: any address no client can have. */
static char listener_tag;

static int usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [-n CLIENTS] [ADDR]\n"
            "  ADDR   address to listen on (default 127.0.0.1:7777; port 0 "
            "picks a free port)\n"
            "  -n     exit after CLIENTS clients have been served and closed\n",
            prog);
    return 2;
}

/* Close a client and report how it ended (rc PS_OK: the client closed its
 * side after everything was echoed). */
static void client_end(struct server *s, struct client *cl, int rc)
{
    if (rc == PS_OK) {
        printf("client %s: echoed %llu bytes\n", cl->name, cl->echoed);
    } else {
        printf("client %s: echoed %llu bytes, then: %s\n", cl->name,
               cl->echoed, ps_strerror(rc));
        s->failed = 1;
    }
    fflush(stdout);

    /* ps_close also takes the connection out of the poller. */
    int crc = ps_close(cl->conn);
    if (crc != PS_OK) {
        fprintf(stderr, "echo-poll: close: %s\n", ps_strerror(crc));
        s->failed = 1;
    }
    if (cl->prev)
        cl->prev->next = cl->next;
    else
        s->clients = cl->next;
    if (cl->next)
        cl->next->prev = cl->prev;
    free(cl);
    s->open--;
    s->served++;
    s->left = 1;
}

/* Watch the listener for new clients, or stop watching it (at the -n limit,
 * or while out of descriptors). */
static int set_accepting(struct server *s, int on)
{
    if (s->accepting == on)
        return PS_OK;
    int rc = ps_poller_modify(s->poller, s->listener, on ? PS_READABLE : 0,
                              &listener_tag);
    if (rc != PS_OK) {
        fprintf(stderr, "echo-poll: watch listener: %s\n", ps_strerror(rc));
        return rc;
    }
    s->accepting = on;
    return PS_OK;
}

/* Take the pending connections. Returns PS_OK, or an error that should end
 * the server. */
static int on_listener(struct server *s)
{
    for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
        if (s->limit > 0 && s->accepted >= s->limit)
            return set_accepting(s, 0); /* the last client is in */

        ps_conn *conn;
        ps_addr peer;
        int rc = ps_accept(s->listener, &conn, &peer, 0);
        if (rc == PS_EWOULDBLOCK)
            return PS_OK; /* none left; the next event brings more */
        if (rc == PS_EMFILE || rc == PS_ENOMEM || rc == PS_ENOBUFS) {
            /* Out of resources: the connection stays queued. Stop watching
             * the listener (it would be reported ready again at once) until
             * a client leaves. */
            fprintf(stderr, "echo-poll: accept: %s (%ld clients open)\n",
                    ps_strerror(rc), s->open);
            if (s->open == 0)
                return rc; /* no client will free anything: give up */
            s->paused = 1;
            return set_accepting(s, 0);
        }
        if (rc != PS_OK) {
            fprintf(stderr, "echo-poll: accept: %s\n", ps_strerror(rc));
            return rc;
        }

        struct client *cl = malloc(sizeof *cl);
        if (cl == NULL) {
            fprintf(stderr, "echo-poll: %s\n", ps_strerror(PS_ENOMEM));
            (void)ps_close(conn); /* this client is refused; go on */
            continue;
        }
        cl->conn = conn;
        cl->echoed = 0;
        cl->out_off = cl->out_len = 0;
        if (ps_addr_format(&peer, cl->name, sizeof cl->name) != PS_OK)
            strcpy(cl->name, "?"); /* only the log line suffers */

        rc = ps_poller_add(s->poller, conn, PS_READABLE, cl);
        if (rc != PS_OK) {
            fprintf(stderr, "echo-poll: watch client %s: %s\n", cl->name,
                    ps_strerror(rc));
            (void)ps_close(conn);
            free(cl);
            continue;
        }
        cl->prev = NULL;
        cl->next = s->clients;
        if (s->clients)
            s->clients->prev = cl;
        s->clients = cl;
        s->open++;
        s->accepted++;
        if (s->open > s->peak)
            s->peak = s->open;
    }
    return PS_OK; /* more may be queued: level-triggered, reported again */
}

/* Send as much pending output as the connection takes now. Then watch for
 * PS_WRITABLE if some is left, else for PS_READABLE again. Returns PS_OK or
 * the error that ends this client. */
static int flush(struct server *s, struct client *cl)
{
    while (cl->out_off < cl->out_len) {
        size_t sent = 0;
        int rc = ps_send(cl->conn, cl->out + cl->out_off,
                         cl->out_len - cl->out_off, &sent, 0);
        if (rc == PS_EWOULDBLOCK)
            break; /* the send buffer is full: wait for PS_WRITABLE */
        if (rc != PS_OK)
            return rc;
        cl->out_off += sent;
        cl->echoed += sent;
    }
    unsigned want = PS_READABLE;
    if (cl->out_off < cl->out_len)
        want = PS_WRITABLE;
    else
        cl->out_off = cl->out_len = 0;
    return ps_poller_modify(s->poller, cl->conn, want, cl);
}

/* An event for a client: finish pending output, or read and echo. */
static void on_client(struct server *s, struct client *cl)
{
    int rc;
    if (cl->out_off < cl->out_len) {
        rc = flush(s, cl); /* we asked for PS_WRITABLE */
    } else {
        size_t got = 0;
        rc = ps_recv(cl->conn, cl->out, sizeof cl->out, &got, 0);
        if (rc == PS_EWOULDBLOCK)
            return; /* nothing after all */
        if (rc == PS_ECLOSED) {
            /* The client has sent everything and all of it was echoed
             * (we read only with no output pending): done. */
            client_end(s, cl, PS_OK);
            return;
        }
        if (rc == PS_OK) {
            cl->out_off = 0;
            cl->out_len = got;
            /* Usually all of it goes at once and nothing changes. */
            rc = flush(s, cl);
        }
    }
    if (rc != PS_OK)
        client_end(s, cl, rc);
}

int main(int argc, char **argv)
{
    const char *text = NULL;
    struct server s = {0};
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
            char *end;
            s.limit = strtol(argv[++i], &end, 10);
            if (*end != '\0' || s.limit <= 0)
                return usage(argv[0]);
        } else if (argv[i][0] != '-' && text == NULL) {
            text = argv[i];
        } else {
            return usage(argv[0]);
        }
    }
    if (text == NULL)
        text = "127.0.0.1:7777";

    ps_addr addr;
    rc = ps_addr_parse(&addr, text);
    if (rc != PS_OK) {
        fprintf(stderr, "echo-poll: bad address '%s': %s\n", text,
                ps_strerror(rc));
        return 2;
    }

    rc = ps_listen(&s.listener, &addr, NULL);
    if (rc != PS_OK) {
        fprintf(stderr, "echo-poll: listen on %s: %s\n", text, ps_strerror(rc));
        return 1;
    }
    rc = ps_poller_create(&s.poller, 0);
    if (rc != PS_OK) {
        fprintf(stderr, "echo-poll: poller: %s\n", ps_strerror(rc));
        (void)ps_listener_close(s.listener);
        return 1;
    }
    rc = ps_poller_add(s.poller, s.listener, PS_READABLE, &listener_tag);
    if (rc != PS_OK) {
        fprintf(stderr, "echo-poll: watch listener: %s\n", ps_strerror(rc));
        (void)ps_poller_close(s.poller);
        (void)ps_listener_close(s.listener);
        return 1;
    }
    s.accepting = 1;

    /* Print the address actually bound: with port 0 only the system knows
     * the port, and scripts read it from this line. */
    char name[PS_ADDR_STRLEN];
    rc = ps_listener_addr(s.listener, &addr);
    if (rc == PS_OK)
        rc = ps_addr_format(&addr, name, sizeof name);
    if (rc != PS_OK) {
        fprintf(stderr, "echo-poll: listener address: %s\n", ps_strerror(rc));
        (void)ps_poller_close(s.poller);
        (void)ps_listener_close(s.listener);
        return 1;
    }
    printf("listening on %s\npoller: %s\n", name,
           ps_poller_backend(s.poller));
    fflush(stdout); /* stdout may be a pipe: make the line visible now */

    int fatal = 0;
    ps_event events[MAX_EVENTS];
    while (!fatal && (s.limit == 0 || s.served < s.limit)) {
        size_t n = 0;
        rc = ps_poller_wait(s.poller, events, MAX_EVENTS, &n, PS_FOREVER);
        if (rc != PS_OK) {
            fprintf(stderr, "echo-poll: wait: %s\n", ps_strerror(rc));
            fatal = 1;
            break;
        }
        for (size_t i = 0; i < n && !fatal; i++) {
            /* Each handle appears at most once in a batch, and a client is
             * only ever closed while handling its own event, so no entry
             * below refers to a client freed above. (A program that closes
             * other handles must skip their entries.) */
            if (events[i].user == &listener_tag)
                fatal = on_listener(&s) != PS_OK;
            else
                on_client(&s, events[i].user);
        }
        /* A client left: if accepting was paused for lack of descriptors,
         * try again. */
        if (!fatal && s.paused && s.left) {
            s.paused = 0;
            fatal = set_accepting(&s, 1) != PS_OK;
        }
        s.left = 0;
    }

    /* Only after an error are clients still open: close them. */
    while (s.clients)
        client_end(&s, s.clients, PS_ECANCELED);
    printf("served %ld clients, at most %ld at once\n", s.served, s.peak);
    rc = ps_poller_close(s.poller);
    if (rc != PS_OK) {
        fprintf(stderr, "echo-poll: close poller: %s\n", ps_strerror(rc));
        fatal = 1;
    }
    rc = ps_listener_close(s.listener);
    if (rc != PS_OK) {
        fprintf(stderr, "echo-poll: close listener: %s\n", ps_strerror(rc));
        fatal = 1;
    }
    return fatal || s.failed ? 1 : 0;
}
