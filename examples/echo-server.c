/*
 * echo-server: accept clients one after another and send every byte back.
 *
 *   echo-server [-n COUNT] [ADDR]
 *
 * ADDR defaults to 127.0.0.1:7777; port 0 lets the system pick a free port
 * (the "listening on" line shows which). -n exits after COUNT clients.
 * Try it with: echo-client 127.0.0.1 7777 hello
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portsock.h"

/* A silent client is dropped after this long, so it cannot block the
 * clients queued behind it forever. */
#define IDLE_TIMEOUT_MS 30000

static int usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [-n COUNT] [ADDR]\n"
            "  ADDR   address to listen on (default 127.0.0.1:7777; port 0 "
            "picks a free port)\n"
            "  -n     exit after serving COUNT clients\n",
            prog);
    return 2;
}

/* Echo until the client closes its side. Returns PS_OK for a clean end of
 * stream, else the error; *echoed counts the bytes sent back either way. */
static int echo(ps_conn *c, unsigned long long *echoed)
{
    char buf[4096];

    for (;;) {
        size_t got = 0, sent = 0;
        int rc = ps_recv(c, buf, sizeof buf, &got, IDLE_TIMEOUT_MS);
        if (rc == PS_ECLOSED)
            return PS_OK; /* the client has sent everything */
        if (rc != PS_OK)
            return rc;
        /* ps_send may take only part of the buffer; ps_send_all loops. */
        rc = ps_send_all(c, buf, got, &sent, IDLE_TIMEOUT_MS);
        *echoed += sent;
        if (rc != PS_OK)
            return rc;
    }
}

int main(int argc, char **argv)
{
    const char *text = NULL;
    long count = 0; /* 0: serve forever */
    int i, rc, failed = 0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
            char *end;
            count = strtol(argv[++i], &end, 10);
            if (*end != '\0' || count <= 0)
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
        fprintf(stderr, "echo-server: bad address '%s': %s\n", text,
                ps_strerror(rc));
        return 2;
    }

    ps_listener *l;
    rc = ps_listen(&l, &addr, NULL);
    if (rc != PS_OK) {
        fprintf(stderr, "echo-server: listen on %s: %s\n", text,
                ps_strerror(rc));
        return 1;
    }

    /* Print the address actually bound: with port 0 only the system knows
     * the port, and scripts read it from this line. */
    char name[PS_ADDR_STRLEN];
    rc = ps_listener_addr(l, &addr);
    if (rc == PS_OK)
        rc = ps_addr_format(&addr, name, sizeof name);
    if (rc != PS_OK) {
        fprintf(stderr, "echo-server: listener address: %s\n", ps_strerror(rc));
        (void)ps_listener_close(l);
        return 1;
    }
    printf("listening on %s\n", name);
    fflush(stdout); /* stdout may be a pipe: make the line visible now */

    for (long served = 0; count == 0 || served < count; served++) {
        ps_conn *c;
        ps_addr peer;
        rc = ps_accept(l, &c, &peer, PS_FOREVER);
        if (rc != PS_OK) {
            fprintf(stderr, "echo-server: accept: %s\n", ps_strerror(rc));
            failed = 1;
            break;
        }
        if (ps_addr_format(&peer, name, sizeof name) != PS_OK)
            strcpy(name, "?"); /* only the log line suffers */

        unsigned long long echoed = 0;
        rc = echo(c, &echoed);
        if (rc == PS_OK) {
            printf("client %s: echoed %llu bytes\n", name, echoed);
        } else {
            /* One bad client must not stop the server: report, go on. */
            printf("client %s: echoed %llu bytes, then: %s\n", name, echoed,
                   ps_strerror(rc));
            failed = 1;
        }
        fflush(stdout);

        rc = ps_close(c);
        if (rc != PS_OK) {
            fprintf(stderr, "echo-server: close: %s\n", ps_strerror(rc));
            failed = 1;
        }
    }

    rc = ps_listener_close(l);
    if (rc != PS_OK) {
        fprintf(stderr, "echo-server: close listener: %s\n", ps_strerror(rc));
        failed = 1;
    }
    return failed ? 1 : 0;
}
