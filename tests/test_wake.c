/* Waking a thread blocked in ps_accept, ps_recv or ps_send from another
 * thread, and the calls the header allows to run at once on one handle.
 * The close comes only after the woken thread has returned, as the header
 * requires. */
#include "ps_test.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define PROMPT_MS 2000.0 /* "promptly", generously for a loaded machine */

struct blocked {
    ps_listener *l;
    ps_conn *c;
    int timeout_ms;
    int rc;
    double returned_at;
};

static void accept_main(void *arg)
{
    struct blocked *b = arg;
    ps_conn *c = NULL;
    b->rc = ps_accept(b->l, &c, NULL, b->timeout_ms);
    b->returned_at = ps_test_now_ms();
    if (c)
        ps_close(c);
}

static void recv_main(void *arg)
{
    struct blocked *b = arg;
    char buf[16];
    b->rc = ps_recv(b->c, buf, sizeof buf, NULL, b->timeout_ms);
    b->returned_at = ps_test_now_ms();
}

static void wake_accept(int timeout_ms)
{
    ps_listener *l;
    ps_test_listen(&l, PS_AF_INET, NULL);
    struct blocked b = {l, NULL, timeout_ms, -99, 0};
    ps_test_thread *t;
    assert_int_equal(ps_test_thread_start(&t, accept_main, &b), 0);
    ps_test_sleep_ms(150); /* let it block */
    double woke = ps_test_now_ms();
    assert_int_equal(ps_listener_shutdown(l), PS_OK);
    ps_test_thread_join(t);
    assert_int_equal(b.rc, PS_ECANCELED);
    assert_true(b.returned_at - woke < PROMPT_MS);
    /* Every later accept is canceled at once too; shutdown is idempotent. */
    ps_conn *c;
    assert_int_equal(ps_accept(l, &c, NULL, PS_FOREVER), PS_ECANCELED);
    assert_int_equal(ps_listener_shutdown(l), PS_OK);
    assert_int_equal(ps_listener_close(l), PS_OK);
}

static void test_wake_accept_forever(void **state)
{
    (void)state;
    wake_accept(PS_FOREVER);
}

static void test_wake_accept_deadline(void **state)
{
    (void)state;
    wake_accept(60000);
}

static void wake_recv(int timeout_ms)
{
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_listen(&l, PS_AF_INET, NULL);
    ps_test_connect_pair(l, &a, &b);
    struct blocked w = {NULL, b, timeout_ms, -99, 0};
    ps_test_thread *t;
    assert_int_equal(ps_test_thread_start(&t, recv_main, &w), 0);
    ps_test_sleep_ms(150);
    double woke = ps_test_now_ms();
    assert_int_equal(ps_shutdown(b, PS_SHUT_RD), PS_OK);
    ps_test_thread_join(t);
    assert_int_equal(w.rc, PS_ECANCELED);
    assert_true(w.returned_at - woke < PROMPT_MS);
    char c;
    assert_int_equal(ps_recv(b, &c, 1, NULL, PS_FOREVER), PS_ECANCELED);
    /* The other direction still works after shutting down receiving. */
    assert_int_equal(ps_send_all(b, "still", 5, NULL, 5000), PS_OK);
    char buf[5];
    assert_int_equal(ps_recv_exact(a, buf, 5, NULL, 5000), PS_OK);
    assert_memory_equal(buf, "still", 5);
    ps_close(a);
    ps_close(b);
    ps_listener_close(l);
}

static void test_wake_recv_forever(void **state)
{
    (void)state;
    wake_recv(PS_FOREVER);
}

static void test_wake_recv_deadline(void **state)
{
    (void)state;
    wake_recv(60000);
}

/* A ps_recv_exact that has received part of what it waits for, woken by
 * a shutdown: PS_ECANCELED with the exact count of what it did receive
 * (its later rounds are the retry loop's, not the fast path's). */
struct partial {
    ps_conn *c;
    int timeout_ms;
    int rc;
    size_t got;
    char buf[8];
};

static void recv_exact_main(void *arg)
{
    struct partial *p = arg;
    p->rc = ps_recv_exact(p->c, p->buf, sizeof p->buf, &p->got,
                          p->timeout_ms);
}

static void wake_recv_exact(int timeout_ms)
{
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_listen(&l, PS_AF_INET, NULL);
    ps_test_connect_pair(l, &a, &b);
    struct partial p = {b, timeout_ms, -99, 99, {0}};
    ps_test_thread *t;
    assert_int_equal(ps_test_thread_start(&t, recv_exact_main, &p), 0);
    assert_int_equal(ps_send_all(a, "abc", 3, NULL, 5000), PS_OK);
    ps_test_sleep_ms(200); /* the 3 bytes arrive, the rest is awaited */
    assert_int_equal(ps_shutdown(b, PS_SHUT_RD), PS_OK);
    ps_test_thread_join(t);
    assert_int_equal(p.rc, PS_ECANCELED);
    assert_int_equal(p.got, 3);
    assert_memory_equal(p.buf, "abc", 3);
    ps_close(a);
    ps_close(b);
    ps_listener_close(l);
}

static void test_wake_recv_exact_forever(void **state)
{
    (void)state;
    wake_recv_exact(PS_FOREVER);
}

static void test_wake_recv_exact_deadline(void **state)
{
    (void)state;
    wake_recv_exact(60000);
}

static void test_shutdown_before_accept(void **state)
{
    (void)state;
    ps_listener *l;
    ps_addr bound;
    ps_test_listen(&l, PS_AF_INET, &bound);
    ps_conn *client, *c;
    assert_int_equal(ps_connect(&client, &bound, 5000), PS_OK);
    assert_int_equal(ps_listener_shutdown(l), PS_OK);
    /* Even with a connection pending, a shut-down listener accepts none. */
    assert_int_equal(ps_accept(l, &c, NULL, 1000), PS_ECANCELED);
    ps_close(client);
    ps_listener_close(l);
}

/* A sender blocked because the peer reads nothing, woken by a third
 * thread's ps_shutdown(PS_SHUT_WR or PS_SHUT_RDWR): the header says it
 * returns PS_EPIPE, and `sent` says exactly what was queued, which is
 * what the peer then reads before the end of stream. */
#define WAKE_SEND_SIZE ((size_t)64 << 20) /* more than any socket buffers */
#define WAKE_SEND_CHUNK 65536

struct blocked_send {
    ps_conn *c;
    const unsigned char *buf;
    size_t len;
    int all; /* ps_send_all, else ps_send */
    int rc;
    size_t sent;
    atomic_int returned;
};

static void send_main(void *arg)
{
    struct blocked_send *s = arg;
    s->rc = s->all ? ps_send_all(s->c, s->buf, s->len, &s->sent, PS_FOREVER)
                   : ps_send(s->c, s->buf, s->len, &s->sent, PS_FOREVER);
    atomic_store(&s->returned, 1);
}

/* Fill `c`'s buffers with timeout-0 sends (the peer reads nothing) until
 * a send would block also after a pause, so that the system has moved all
 * it will to the peer; returns the bytes queued. */
static size_t fill_buffers(ps_conn *c, const unsigned char *buf)
{
    size_t queued = 0;
    int settled = 0;
    for (int round = 0; round < 100 && !settled; round++) {
        int sent_this_round = 0;
        for (int i = 0; i < 100000; i++) {
            size_t n = 0;
            int rc = ps_send(c, buf + queued, WAKE_SEND_CHUNK, &n, 0);
            if (rc == PS_EWOULDBLOCK)
                break;
            assert_int_equal(rc, PS_OK);
            queued += n;
            sent_this_round = 1;
            assert_true(queued + WAKE_SEND_CHUNK <= WAKE_SEND_SIZE);
        }
        settled = !sent_this_round && queued > 0;
        if (!settled)
            ps_test_sleep_ms(50);
    }
    assert_true(settled);
    return queued;
}

/* Read `c` until the end of stream (bounded in time): the count, checking
 * that the bytes are `want`'s first ones. */
static size_t read_to_end(ps_conn *c, const unsigned char *want, size_t max)
{
    static unsigned char buf[WAKE_SEND_CHUNK];
    size_t total = 0;
    double end = ps_test_now_ms() + 30000.0;
    for (;;) {
        size_t n = 0;
        int rc = ps_recv(c, buf, sizeof buf, &n, 5000);
        if (rc == PS_ECLOSED)
            return total;
        if (rc != PS_OK)
            fail_msg("reading what was sent: %s after %lu bytes",
                     ps_errname(rc), (unsigned long)total);
        if (n > max - total)
            fail_msg("the peer got more than was sent: %lu > %lu",
                     (unsigned long)(total + n), (unsigned long)max);
        if (memcmp(buf, want + total, n) != 0)
            fail_msg("bytes %lu..%lu differ from what was sent",
                     (unsigned long)total, (unsigned long)(total + n));
        total += n;
        if (ps_test_now_ms() > end)
            fail_msg("still reading after 30 s (%lu bytes)",
                     (unsigned long)total);
    }
}

static void wake_send(int all, int how)
{
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_listen(&l, PS_AF_INET, NULL);
    ps_test_connect_pair(l, &a, &b);
    unsigned char *data = malloc(WAKE_SEND_SIZE);
    assert_non_null(data);
    ps_test_fill(data, WAKE_SEND_SIZE, 0x5eedu + (uint32_t)all);
    /* ps_send returns once anything is queued, so it only blocks on full
     * buffers; ps_send_all blocks on its own once they fill. */
    size_t prefill = all ? 0 : fill_buffers(a, data);
    struct blocked_send s;
    s.c = a;
    s.buf = data + prefill;
    s.len = WAKE_SEND_SIZE - prefill;
    s.all = all;
    s.rc = -99;
    s.sent = 99;
    atomic_init(&s.returned, 0);
    ps_test_thread *t;
    assert_int_equal(ps_test_thread_start(&t, send_main, &s), 0);
    ps_test_sleep_ms(300); /* let it fill what is left and block */
    int early = atomic_load(&s.returned);
    double woke = ps_test_now_ms();
    int shut_rc = ps_shutdown(a, how);
    /* Wait for it, bounded. Should it stay blocked, reading on the peer
     * lets it finish, so the thread can be joined before failing. */
    while (!atomic_load(&s.returned) && ps_test_now_ms() - woke < PROMPT_MS)
        ps_test_sleep_ms(5);
    double returned_ms = ps_test_now_ms() - woke;
    int stuck = !atomic_load(&s.returned);
    if (stuck) {
        static unsigned char sink[WAKE_SEND_CHUNK];
        double give_up = ps_test_now_ms() + 10000.0;
        for (int i = 0; i < 100000 && !atomic_load(&s.returned) &&
                        ps_test_now_ms() < give_up;
             i++) {
            size_t n;
            if (ps_recv(b, sink, sizeof sink, &n, 100) == PS_ECLOSED)
                break;
        }
        if (!atomic_load(&s.returned))
            /* Not even that ended it: fail without joining; the thread,
             * its connection and `data` are left to the process exit. */
            fail_msg("ps_shutdown did not wake the sender within %.0f ms, "
                     "nor did reading on the peer for 10 s", PROMPT_MS);
    }
    ps_test_thread_join(t);
    print_message("%s, %s: %s after %.1f ms, %lu of %lu bytes sent "
                  "(%lu before)\n",
                  all ? "ps_send_all" : "ps_send",
                  how == PS_SHUT_WR ? "PS_SHUT_WR" : "PS_SHUT_RDWR",
                  ps_errname(s.rc), returned_ms, (unsigned long)s.sent,
                  (unsigned long)s.len, (unsigned long)prefill);
    if (early)
        fail_msg("the sender returned before the shutdown (%s): the buffers "
                 "did not fill", ps_errname(s.rc));
    if (stuck)
        fail_msg("ps_shutdown did not wake the sender within %.0f ms",
                 PROMPT_MS);
    assert_int_equal(shut_rc, PS_OK);
    assert_string_equal(ps_errname(s.rc), ps_errname(PS_EPIPE));
    if (all)
        assert_true(s.sent > 0 && s.sent < s.len);
    else
        assert_int_equal(s.sent, 0); /* ps_send: 0 on error */
    /* Later sends are refused too. */
    size_t n = 99;
    assert_int_equal(ps_send(a, "x", 1, &n, 0), PS_EPIPE);
    assert_int_equal(n, 0);
    /* The peer reads exactly what was reported queued, then the end of
     * stream: nothing lost, nothing extra. */
    size_t got = read_to_end(b, data, WAKE_SEND_SIZE);
    assert_int_equal(got, prefill + s.sent);
    char c;
    assert_int_equal(ps_recv(b, &c, 1, NULL, 0), PS_ECLOSED);
    free(data);
    ps_close(a);
    ps_close(b);
    ps_listener_close(l);
}

static void test_wake_send_all_shut_wr(void **state)
{
    (void)state;
    wake_send(1, PS_SHUT_WR);
}

static void test_wake_send_shut_wr(void **state)
{
    (void)state;
    wake_send(0, PS_SHUT_WR);
}

static void test_wake_send_all_shut_rdwr(void **state)
{
    (void)state;
    wake_send(1, PS_SHUT_RDWR);
}

/* One thread sends while another receives on the same connection: the
 * concurrency the header allows. Both directions carry 8 MiB at once. */
#define DUPLEX_SIZE ((size_t)8 << 20)

struct duplex {
    ps_conn *c;
    unsigned char *buf;
    int rc;
    size_t moved;
};

static void duplex_send(void *arg)
{
    struct duplex *d = arg;
    d->rc = ps_send_all(d->c, d->buf, DUPLEX_SIZE, &d->moved, 60000);
}

static void duplex_recv(void *arg)
{
    struct duplex *d = arg;
    d->rc = ps_recv_exact(d->c, d->buf, DUPLEX_SIZE, &d->moved, 60000);
}

static void test_send_and_recv_concurrently(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_listen(&l, PS_AF_INET, NULL);
    ps_test_connect_pair(l, &a, &b);
    struct duplex d[4];
    unsigned char *bufs[4];
    for (int i = 0; i < 4; i++) {
        bufs[i] = malloc(DUPLEX_SIZE);
        assert_non_null(bufs[i]);
        memset(bufs[i], i < 2 ? 'A' + i : 0, DUPLEX_SIZE);
    }
    /* a sends bufs[0] and receives into bufs[2]; b the other way. */
    d[0] = (struct duplex){a, bufs[0], -99, 0};
    d[1] = (struct duplex){b, bufs[1], -99, 0};
    d[2] = (struct duplex){a, bufs[2], -99, 0};
    d[3] = (struct duplex){b, bufs[3], -99, 0};
    ps_test_thread *t[4];
    assert_int_equal(ps_test_thread_start(&t[0], duplex_send, &d[0]), 0);
    assert_int_equal(ps_test_thread_start(&t[1], duplex_send, &d[1]), 0);
    assert_int_equal(ps_test_thread_start(&t[2], duplex_recv, &d[2]), 0);
    assert_int_equal(ps_test_thread_start(&t[3], duplex_recv, &d[3]), 0);
    for (int i = 0; i < 4; i++)
        ps_test_thread_join(t[i]);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(d[i].rc, PS_OK);
        assert_int_equal(d[i].moved, DUPLEX_SIZE);
    }
    assert_memory_equal(bufs[2], bufs[1], DUPLEX_SIZE);
    assert_memory_equal(bufs[3], bufs[0], DUPLEX_SIZE);
    for (int i = 0; i < 4; i++)
        free(bufs[i]);
    ps_close(a);
    ps_close(b);
    ps_listener_close(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wake_accept_forever),
        cmocka_unit_test(test_wake_accept_deadline),
        cmocka_unit_test(test_wake_recv_forever),
        cmocka_unit_test(test_wake_recv_deadline),
        cmocka_unit_test(test_wake_recv_exact_forever),
        cmocka_unit_test(test_wake_recv_exact_deadline),
        cmocka_unit_test(test_shutdown_before_accept),
        cmocka_unit_test(test_wake_send_all_shut_wr),
        cmocka_unit_test(test_wake_send_shut_wr),
        cmocka_unit_test(test_wake_send_all_shut_rdwr),
        cmocka_unit_test(test_send_and_recv_concurrently),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
