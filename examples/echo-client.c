/*
 * echo-client: send a message to an echo server and check what comes back.
 *
 *   echo-client HOST PORT MESSAGE...   (HOST may be a name; resolved)
 *   echo-client ADDR MESSAGE...        (numeric, e.g. 127.0.0.1:7777)
 *
 * The MESSAGE words are joined with single spaces. Exit status 0 only if
 * the echo is identical to the message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portsock.h"

/* Bounds every wait (connect, each send and receive), so a dead or silent
 * server ends the program instead of hanging it. */
#define TIMEOUT_MS 10000

static int usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s HOST PORT MESSAGE...\n"
            "       %s ADDR MESSAGE...   (e.g. 127.0.0.1:7777 or [::1]:7777)\n",
            prog, prog);
    return 2;
}

/* The words joined by single spaces, in a new string (NULL if out of
 * memory). */
static char *join(char **words, int n)
{
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += strlen(words[i]) + 1;

    char *s = malloc(len + 1);
    if (s == NULL)
        return NULL;
    s[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i > 0)
            strcat(s, " ");
        strcat(s, words[i]);
    }
    return s;
}

/* Send msg, mark its end with a half-close, then read the echo until the
 * server closes. The echo goes to echo (capacity cap), its length to *have.
 * Errors are reported here; the return value says whether there was one. */
static int exchange(ps_conn *c, const char *msg, size_t len, char *echo,
                    size_t cap, size_t *have)
{
    int rc = ps_send_all(c, msg, len, NULL, TIMEOUT_MS);
    if (rc != PS_OK) {
        fprintf(stderr, "echo-client: send: %s\n", ps_strerror(rc));
        return rc;
    }
    printf("sent: %s\n", msg);

    /* Tell the server the message is complete; it closes once it has
     * echoed everything, which is how we know the echo is complete. */
    rc = ps_shutdown(c, PS_SHUT_WR);
    if (rc != PS_OK) {
        fprintf(stderr, "echo-client: shutdown: %s\n", ps_strerror(rc));
        return rc;
    }

    *have = 0;
    while (*have < cap) {
        size_t got = 0;
        rc = ps_recv(c, echo + *have, cap - *have, &got, TIMEOUT_MS);
        if (rc == PS_ECLOSED)
            break; /* the server is done: the whole echo is here */
        if (rc != PS_OK) {
            fprintf(stderr, "echo-client: receive: %s\n", ps_strerror(rc));
            return rc;
        }
        *have += got;
    }
    printf("received: %.*s\n", (int)*have, echo);
    return PS_OK;
}

int main(int argc, char **argv)
{
    ps_conn *c;
    ps_addr addr;
    int rc;

    /* One numeric ADDR argument, or HOST and PORT as two arguments. */
    int numeric = argc >= 2 && ps_addr_parse(&addr, argv[1]) == PS_OK;
    int first_word = numeric ? 2 : 3;
    if (argc <= first_word)
        return usage(argv[0]);

    char *msg = join(argv + first_word, argc - first_word);
    size_t len = msg != NULL ? strlen(msg) : 0;
    /* One spare byte: if it fills, the echo was longer than the message. */
    char *echo = malloc(len + 1);
    if (msg == NULL || echo == NULL) {
        fprintf(stderr, "echo-client: %s\n", ps_strerror(PS_ENOMEM));
        free(msg);
        free(echo);
        return 1;
    }

    if (numeric)
        rc = ps_connect(&c, &addr, TIMEOUT_MS);
    else
        rc = ps_dial(&c, argv[1], argv[2], TIMEOUT_MS);
    if (rc != PS_OK) {
        fprintf(stderr, "echo-client: connect to %s: %s\n", argv[1],
                ps_strerror(rc));
        free(msg);
        free(echo);
        return 1;
    }

    size_t have = 0;
    rc = exchange(c, msg, len, echo, len + 1, &have);
    int same = rc == PS_OK && have == len && memcmp(msg, echo, len) == 0;
    if (rc == PS_OK && !same)
        fprintf(stderr, "echo-client: the echo differs from the message\n");

    rc = ps_close(c);
    if (rc != PS_OK) {
        fprintf(stderr, "echo-client: close: %s\n", ps_strerror(rc));
        same = 0;
    }
    free(echo);
    free(msg);
    return same ? 0 : 1;
}
