/* Platform-neutral test helpers. */
#include "ps_test.h"

#include <stdio.h>
#include <stdlib.h>

uint32_t ps_test_rand(uint32_t *state)
{
    /* xorshift32: enough to make payloads that catch reordering. */
    uint32_t x = *state ? *state : 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

void ps_test_listen(ps_listener **l, int family, ps_addr *bound)
{
    ps_addr a;
    assert_int_equal(ps_addr_loopback(&a, family, 0), PS_OK);
    assert_int_equal(ps_listen(l, &a, NULL), PS_OK);
    if (bound)
        assert_int_equal(ps_listener_addr(*l, bound), PS_OK);
}

void ps_test_wait_queued(ps_listener *l)
{
    ps_poller *p;
    int tag;
    assert_int_equal(ps_poller_create(&p, 0), PS_OK);
    assert_int_equal(ps_poller_add(p, l, PS_READABLE, &tag), PS_OK);
    unsigned ready = 0;
    double end = ps_test_now_ms() + 5000.0;
    for (int round = 0; round < 100 && !(ready & PS_READABLE); round++) {
        double left = end - ps_test_now_ms();
        if (left <= 0)
            break;
        ps_event ev[4];
        size_t n = 0;
        assert_int_equal(ps_poller_wait(p, ev, 4, &n, (int)left + 1), PS_OK);
        for (size_t i = 0; i < n; i++)
            if (ev[i].user == &tag)
                ready |= ev[i].events;
    }
    assert_int_equal(ps_poller_remove(p, l), PS_OK);
    assert_int_equal(ps_poller_close(p), PS_OK);
    if (!(ready & PS_READABLE))
        fail_msg("the listener was not reported readable within 5 s of a "
                 "connect (events %#x)", ready);
}

void ps_test_connect_pair(ps_listener *l, ps_conn **client, ps_conn **server)
{
    ps_addr a;
    assert_int_equal(ps_listener_addr(l, &a), PS_OK);
    assert_int_equal(ps_connect(client, &a, 10000), PS_OK);
    assert_int_equal(ps_accept(l, server, NULL, 10000), PS_OK);
}

void ps_test_pair(ps_listener **l, ps_conn **client, ps_conn **server)
{
    ps_test_listen(l, PS_AF_INET, NULL);
    ps_test_connect_pair(*l, client, server);
}

int ps_test_have_ipv6(void)
{
    ps_addr a;
    ps_listener *l;
    if (ps_addr_loopback(&a, PS_AF_INET6, 0) != PS_OK ||
        ps_listen(&l, &a, NULL) != PS_OK)
        return 0;
    ps_listener_close(l);
    return 1;
}

void ps_test_fill(void *buf, size_t n, uint32_t seed)
{
    unsigned char *p = buf;
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)ps_test_rand(&seed);
}

uint64_t ps_test_checksum(const void *buf, size_t n)
{
    const unsigned char *p = buf;
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

int ps_test_unix_sockaddr(const char *path, void *sa, size_t cap,
                          size_t *len)
{
    char text[PS_ADDR_STRLEN];
    ps_addr a;
    int n = snprintf(text, sizeof text, "unix:%s", path);
    if (n < 0 || (size_t)n >= sizeof text || ps_addr_parse(&a, text) != PS_OK)
        return -1;
    return ps_addr_to_sockaddr(&a, sa, cap, len) == PS_OK ? 0 : -1;
}

struct ps_test_sender {
    ps_test_thread *thread;
    ps_conn *conn;
    const ps_iovec *iov;
    size_t count;
    int timeout_ms;
    size_t sent;
    int rc;
};

static void ps_test_sender_main(void *arg)
{
    ps_test_sender *s = arg;
    s->rc = ps_sendv(s->conn, s->iov, s->count, &s->sent, s->timeout_ms);
}

ps_test_sender *ps_test_sendv_start(ps_conn *c, const ps_iovec *iov,
                                    size_t count, int timeout_ms)
{
    ps_test_sender *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->conn = c;
    s->iov = iov;
    s->count = count;
    s->timeout_ms = timeout_ms;
    assert_int_equal(ps_test_thread_start(&s->thread, ps_test_sender_main, s),
                     0);
    return s;
}

int ps_test_sendv_join(ps_test_sender *s, size_t *sent)
{
    ps_test_thread_join(s->thread);
    int rc = s->rc;
    if (sent)
        *sent = s->sent;
    free(s);
    return rc;
}
