/* Deadlines: PS_ETIMEDOUT no earlier than asked, 0 never waits but still
 * succeeds when the result is there, no overflow at the edges, negative
 * timeouts refused. */
#include "ps_test.h"

#include <limits.h>
#include <string.h>

/* A loaded machine (ASan, Wine, a parallel ctest) may be late, never early. */
#define LATE_TOLERANCE_MS 3000.0

static void assert_waited(double t0, int timeout_ms)
{
    double elapsed = ps_test_now_ms() - t0;
    if (elapsed < timeout_ms - 0.05 || elapsed > timeout_ms + LATE_TOLERANCE_MS)
        fail_msg("waited %.3f ms for a %d ms timeout", elapsed, timeout_ms);
}

static void test_accept_timeout(void **state)
{
    (void)state;
    ps_listener *l;
    ps_test_listen(&l, PS_AF_INET, NULL);
    ps_conn *c;
    double t0 = ps_test_now_ms();
    assert_int_equal(ps_accept(l, &c, NULL, 250), PS_ETIMEDOUT);
    assert_waited(t0, 250);
    t0 = ps_test_now_ms();
    assert_int_equal(ps_accept(l, &c, NULL, 1), PS_ETIMEDOUT);
    assert_waited(t0, 1);
    assert_int_equal(ps_accept(l, &c, NULL, 0), PS_EWOULDBLOCK);
    ps_listener_close(l);
}

/* Connections made and accepted without deadline still honour every
 * later timeout (the Windows backend connects those in blocking mode and
 * switches the socket afterwards; accepted sockets take the listener's
 * mode). */
static void test_timeouts_after_calls_without_deadline(void **state)
{
    (void)state;
    ps_listener *l;
    ps_addr bound;
    ps_test_listen(&l, PS_AF_INET, &bound);
    ps_conn *a, *b;
    assert_int_equal(ps_connect(&a, &bound, PS_FOREVER), PS_OK);
    assert_int_equal(ps_accept(l, &b, NULL, PS_FOREVER), PS_OK);
    char buf[4];
    size_t got = 99;
    assert_int_equal(ps_recv(a, buf, sizeof buf, &got, 0), PS_EWOULDBLOCK);
    assert_int_equal(ps_recv(b, buf, sizeof buf, &got, 0), PS_EWOULDBLOCK);
    double t0 = ps_test_now_ms();
    assert_int_equal(ps_recv(a, buf, sizeof buf, &got, 100), PS_ETIMEDOUT);
    assert_waited(t0, 100);
    assert_int_equal(got, 0);
    /* and data still flows both ways, waiting without deadline */
    assert_int_equal(ps_send_all(a, "ping", 4, NULL, PS_FOREVER), PS_OK);
    assert_int_equal(ps_recv_exact(b, buf, 4, &got, PS_FOREVER), PS_OK);
    assert_memory_equal(buf, "ping", 4);
    assert_int_equal(ps_send_all(b, "pong", 4, NULL, PS_FOREVER), PS_OK);
    assert_int_equal(ps_recv_exact(a, buf, 4, &got, PS_FOREVER), PS_OK);
    assert_memory_equal(buf, "pong", 4);
    ps_close(a);
    ps_close(b);
    ps_listener_close(l);
}

static void test_recv_timeout(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_listen(&l, PS_AF_INET, NULL);
    ps_test_connect_pair(l, &a, &b);
    char buf[4];
    size_t got = 99;
    double t0 = ps_test_now_ms();
    assert_int_equal(ps_recv(b, buf, sizeof buf, &got, 250), PS_ETIMEDOUT);
    assert_waited(t0, 250);
    assert_int_equal(got, 0);
    assert_int_equal(ps_recv(b, buf, sizeof buf, &got, 0), PS_EWOULDBLOCK);
    t0 = ps_test_now_ms();
    assert_int_equal(ps_recv_exact(b, buf, sizeof buf, &got, 250),
                     PS_ETIMEDOUT);
    assert_waited(t0, 250);
    assert_int_equal(ps_recv_exact(b, buf, sizeof buf, &got, 0),
                     PS_EWOULDBLOCK);
    ps_close(a);
    ps_close(b);
    ps_listener_close(l);
}

static void test_send_timeout_when_full(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_listen(&l, PS_AF_INET, NULL);
    ps_test_connect_pair(l, &a, &b);
    static char chunk[65536];
    size_t sent = 1;
    /* Fill the buffers (bounded: 1 GiB at most), then a send must wait. */
    int rc = PS_OK;
    for (int i = 0; i < 16384 && rc == PS_OK; i++)
        rc = ps_send(a, chunk, sizeof chunk, &sent, 0);
    assert_int_equal(rc, PS_EWOULDBLOCK);
    assert_int_equal(sent, 0);
    double t0 = ps_test_now_ms();
    assert_int_equal(ps_send(a, chunk, sizeof chunk, &sent, 200),
                     PS_ETIMEDOUT);
    assert_waited(t0, 200);
    ps_close(a);
    ps_close(b);
    ps_listener_close(l);
}

static void test_connect_timeout_backlog_full(void **state)
{
    (void)state;
    /* A listener that never accepts, with the smallest backlog: once its
     * queue is full the system drops further connection requests, so a
     * connect can only time out. All of it stays on 127.0.0.1. */
    ps_addr a;
    ps_addr_loopback(&a, PS_AF_INET, 0);
    ps_listen_opts opts = {1, 0};
    ps_listener *l;
    assert_int_equal(ps_listen(&l, &a, &opts), PS_OK);
    assert_int_equal(ps_listener_addr(l, &a), PS_OK);
    ps_conn *held[32];
    int nheld = 0, timed_out = 0;
    for (int i = 0; i < 32 && !timed_out; i++) {
        double t0 = ps_test_now_ms();
        int rc = ps_connect(&held[nheld], &a, 300);
        if (rc == PS_OK) {
            nheld++;
        } else {
            assert_string_equal(ps_errname(rc), ps_errname(PS_ETIMEDOUT));
            assert_waited(t0, 300);
            timed_out = 1;
        }
    }
    assert_true(timed_out);
    assert_true(nheld >= 1);
    /* Timeout 0 against the same full queue: "would block", at once. */
    ps_conn *extra = NULL;
    double t0 = ps_test_now_ms();
    assert_string_equal(ps_errname(ps_connect(&extra, &a, 0)),
                        ps_errname(PS_EWOULDBLOCK));
    assert_null(extra);
    assert_true(ps_test_now_ms() - t0 < 1000.0);
    while (nheld > 0)
        ps_close(held[--nheld]);
    ps_listener_close(l);
}

static void test_zero_timeout_succeeds_when_ready(void **state)
{
    (void)state;
    ps_listener *l;
    ps_addr bound;
    ps_test_listen(&l, PS_AF_INET, &bound);
    ps_conn *a, *b = NULL;
    assert_int_equal(ps_connect(&a, &bound, 5000), PS_OK);
    /* The pending connection reaches the queue shortly after connect
     * returns: once a poller reports the listener readable (bounded wait),
     * one accept with timeout 0 must take it. */
    ps_test_wait_queued(l);
    assert_int_equal(ps_accept(l, &b, NULL, 0), PS_OK);

    /* Two bytes sent in one call arrive together: after waiting for the
     * first, the second is already there and timeout 0 returns it. */
    assert_int_equal(ps_send_all(a, "ab", 2, NULL, 5000), PS_OK);
    char c;
    size_t got = 0;
    assert_int_equal(ps_recv_exact(b, &c, 1, &got, 5000), PS_OK);
    assert_int_equal(c, 'a');
    assert_int_equal(ps_recv(b, &c, 1, &got, 0), PS_OK);
    assert_int_equal(got, 1);
    assert_int_equal(c, 'b');
    /* And sending with timeout 0 into an empty buffer succeeds. */
    size_t sent = 0;
    assert_int_equal(ps_send(b, "z", 1, &sent, 0), PS_OK);
    assert_int_equal(sent, 1);
    ps_close(a);
    ps_close(b);
    ps_listener_close(l);
}

struct late_sender {
    ps_conn *conn;
    int delay_ms;
};

static void send_later(void *arg)
{
    struct late_sender *s = arg;
    ps_test_sleep_ms(s->delay_ms);
    ps_send_all(s->conn, "late", 4, NULL, 5000);
}

static void test_huge_timeouts_do_not_overflow(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_listen(&l, PS_AF_INET, NULL);
    ps_test_connect_pair(l, &a, &b);
    static const int timeouts[] = {INT_MAX, INT_MAX - 1, PS_FOREVER};
    for (size_t i = 0; i < 3; i++) {
        struct late_sender s = {a, 100};
        ps_test_thread *t;
        assert_int_equal(ps_test_thread_start(&t, send_later, &s), 0);
        char buf[4];
        size_t got = 0;
        /* An overflowing deadline would have expired at once. */
        assert_int_equal(ps_recv_exact(b, buf, 4, &got, timeouts[i]), PS_OK);
        assert_memory_equal(buf, "late", 4);
        ps_test_thread_join(t);
    }
    ps_conn *c, *d;
    ps_addr bound;
    ps_listener_addr(l, &bound);
    assert_int_equal(ps_connect(&c, &bound, INT_MAX), PS_OK);
    assert_int_equal(ps_accept(l, &d, NULL, INT_MAX), PS_OK);
    ps_close(c);
    ps_close(d);
    ps_close(a);
    ps_close(b);
    ps_listener_close(l);
}

static void test_negative_timeouts_refused(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b, *c;
    ps_addr bound;
    ps_test_listen(&l, PS_AF_INET, &bound);
    ps_test_connect_pair(l, &a, &b);
    static const int bad[] = {-2, -1000, INT_MIN};
    char buf[4];
    for (size_t i = 0; i < 3; i++) {
        int t = bad[i];
        assert_int_equal(ps_accept(l, &c, NULL, t), PS_EINVAL);
        assert_int_equal(ps_connect(&c, &bound, t), PS_EINVAL);
        assert_int_equal(ps_dial(&c, "127.0.0.1", "1", t), PS_EINVAL);
        assert_int_equal(ps_send(a, "x", 1, NULL, t), PS_EINVAL);
        assert_int_equal(ps_send_all(a, "x", 1, NULL, t), PS_EINVAL);
        assert_int_equal(ps_recv(b, buf, 1, NULL, t), PS_EINVAL);
        assert_int_equal(ps_recv_exact(b, buf, 1, NULL, t), PS_EINVAL);
    }
    /* Nothing was sent by the refused calls. */
    assert_int_equal(ps_recv(b, buf, 1, NULL, 100), PS_ETIMEDOUT);
    ps_close(a);
    ps_close(b);
    ps_listener_close(l);
}

static void test_connect_refused(void **state)
{
    (void)state;
    ps_listener *l;
    ps_addr bound;
    ps_test_listen(&l, PS_AF_INET, &bound);
    ps_listener_close(l); /* the port is now closed */
    ps_conn *c;
    assert_int_equal(ps_connect(&c, &bound, 5000), PS_ECONNREFUSED);
    assert_int_equal(ps_connect(&c, &bound, PS_FOREVER), PS_ECONNREFUSED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_timeout),
        cmocka_unit_test(test_recv_timeout),
        cmocka_unit_test(test_timeouts_after_calls_without_deadline),
        cmocka_unit_test(test_send_timeout_when_full),
        cmocka_unit_test(test_connect_timeout_backlog_full),
        cmocka_unit_test(test_zero_timeout_succeeds_when_ready),
        cmocka_unit_test(test_huge_timeouts_do_not_overflow),
        cmocka_unit_test(test_negative_timeouts_refused),
        cmocka_unit_test(test_connect_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
