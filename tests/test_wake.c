/* Waking a thread blocked in ps_accept or ps_recv from another thread, and
 * the calls the header allows to run at once on one handle. The close comes
 * only after the woken thread has returned, as the header requires. */
#include "ps_test.h"

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
        cmocka_unit_test(test_send_and_recv_concurrently),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
