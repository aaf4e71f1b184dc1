/* Receives with a deadline next to receives without one on the same
 * connection: a timed receive never ends early (whatever mechanism the
 * backend waits with: a socket receive timeout may expire a timer tick
 * early), it leaves nothing behind that ends a later receive without
 * deadline, changing timeouts each hold, and ps_recv_exact's deadline
 * covers every piece of its data. */
#include "ps_test.h"

#include <string.h>

/* A loaded machine (ASan, Wine, a parallel ctest) may be late, never early. */
#define LATE_TOLERANCE_MS 3000.0

static double waited_since(double t0, int timeout_ms)
{
    double elapsed = ps_test_now_ms() - t0;
    if (elapsed < timeout_ms - 0.05 ||
        elapsed > timeout_ms + LATE_TOLERANCE_MS)
        fail_msg("waited %.3f ms for a %d ms timeout", elapsed, timeout_ms);
    return elapsed;
}

static void unpair(ps_listener *l, ps_conn *a, ps_conn *b)
{
    if (a)
        ps_close(a);
    if (b)
        ps_close(b);
    ps_listener_close(l);
}

/* A peer thread that sends `parts` pieces of `data`, each after `delay_ms`,
 * then, if `close_after`, closes the connection. */
struct peer {
    ps_conn *conn;
    const char *data;
    size_t part_len;
    int parts;
    int delay_ms;
    int close_after;
    int rc;
};

static void peer_main(void *arg)
{
    struct peer *p = arg;
    p->rc = PS_OK;
    for (int i = 0; i < p->parts && p->rc == PS_OK; i++) {
        ps_test_sleep_ms(p->delay_ms);
        p->rc = ps_send_all(p->conn, p->data + (size_t)i * p->part_len,
                            p->part_len, NULL, 5000);
    }
    if (p->close_after) {
        ps_close(p->conn);
        p->conn = NULL;
    }
}

static ps_test_thread *peer_start(struct peer *p)
{
    ps_test_thread *t;
    assert_int_equal(ps_test_thread_start(&t, peer_main, p), 0);
    return t;
}

#define TIMEOUT_MS 100

/* A receive without deadline after `b` ran a timed receive: it waits for
 * data that comes after twice that timeout, with ps_recv, ps_recv_exact
 * and ps_recvv. */
static void forever_receives_wait(ps_conn *a, ps_conn *b)
{
    char buf[8];
    size_t got = 0;
    struct peer p = {a, "late", 4, 1, 2 * TIMEOUT_MS, 0, -99};

    ps_test_thread *t = peer_start(&p);
    double t0 = ps_test_now_ms();
    assert_int_equal(ps_recv(b, buf, sizeof buf, &got, PS_FOREVER), PS_OK);
    ps_test_thread_join(t);
    assert_true(ps_test_now_ms() - t0 >= TIMEOUT_MS);
    assert_int_equal(got, 4);
    assert_memory_equal(buf, "late", 4);

    assert_int_equal(ps_recv(b, buf, 1, &got, TIMEOUT_MS), PS_ETIMEDOUT);
    t = peer_start(&p);
    t0 = ps_test_now_ms();
    assert_int_equal(ps_recv_exact(b, buf, 4, &got, PS_FOREVER), PS_OK);
    ps_test_thread_join(t);
    assert_true(ps_test_now_ms() - t0 >= TIMEOUT_MS);
    assert_memory_equal(buf, "late", 4);

    assert_int_equal(ps_recv(b, buf, 1, &got, TIMEOUT_MS), PS_ETIMEDOUT);
    t = peer_start(&p);
    ps_iovec iov[2] = {{buf, 2}, {buf + 2, 6}};
    t0 = ps_test_now_ms();
    assert_int_equal(ps_recvv(b, iov, 2, &got, PS_FOREVER), PS_OK);
    ps_test_thread_join(t);
    assert_true(ps_test_now_ms() - t0 >= TIMEOUT_MS);
    assert_int_equal(got, 4);
    assert_memory_equal(buf, "late", 4);
    assert_int_equal(p.rc, PS_OK);
}

static void test_forever_after_timed_out(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_pair(&l, &a, &b);
    char buf[4];
    size_t got = 99;
    double t0 = ps_test_now_ms();
    assert_int_equal(ps_recv(b, buf, sizeof buf, &got, TIMEOUT_MS),
                     PS_ETIMEDOUT);
    waited_since(t0, TIMEOUT_MS);
    assert_int_equal(got, 0);
    forever_receives_wait(a, b);
    unpair(l, a, b);
}

static void test_forever_after_timed_success(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_pair(&l, &a, &b);
    char buf[4];
    size_t got = 0;
    /* Data there at once, and data that comes during the wait. */
    assert_int_equal(ps_send_all(a, "now!", 4, NULL, 5000), PS_OK);
    assert_int_equal(ps_recv_exact(b, buf, 4, &got, TIMEOUT_MS), PS_OK);
    assert_memory_equal(buf, "now!", 4);
    struct peer p = {a, "soon", 4, 1, TIMEOUT_MS / 4, 0, -99};
    ps_test_thread *t = peer_start(&p);
    assert_int_equal(ps_recv_exact(b, buf, 4, &got, 5000), PS_OK);
    ps_test_thread_join(t);
    assert_memory_equal(buf, "soon", 4);
    /* Then other timeouts, each with data in time. */
    t = peer_start(&p);
    assert_int_equal(ps_recv_exact(b, buf, 4, &got, TIMEOUT_MS * 20), PS_OK);
    ps_test_thread_join(t);
    assert_int_equal(ps_send_all(a, "ok", 2, NULL, 5000), PS_OK);
    assert_int_equal(ps_recv(b, buf, sizeof buf, &got, TIMEOUT_MS), PS_OK);
    assert_int_equal(got, 2);
    forever_receives_wait(a, b);
    unpair(l, a, b);
}

/* Timeout 0 after a timed receive still never waits. */
static void test_zero_after_timed(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_pair(&l, &a, &b);
    char buf[4];
    size_t got = 99;
    assert_int_equal(ps_recv(b, buf, sizeof buf, &got, TIMEOUT_MS),
                     PS_ETIMEDOUT);
    double t0 = ps_test_now_ms();
    assert_int_equal(ps_recv(b, buf, sizeof buf, &got, 0), PS_EWOULDBLOCK);
    assert_int_equal(ps_recv_exact(b, buf, sizeof buf, &got, 0),
                     PS_EWOULDBLOCK);
    ps_iovec iov = {buf, sizeof buf};
    assert_int_equal(ps_recvv(b, &iov, 1, &got, 0), PS_EWOULDBLOCK);
    assert_true(ps_test_now_ms() - t0 < LATE_TOLERANCE_MS);
    assert_int_equal(ps_send_all(a, "x", 1, NULL, 5000), PS_OK);
    /* The byte arrives shortly after the send returns. */
    int rc = PS_EWOULDBLOCK;
    for (int i = 0; i < 300 && rc == PS_EWOULDBLOCK; i++) {
        rc = ps_recv(b, buf, sizeof buf, &got, 0);
        if (rc == PS_EWOULDBLOCK)
            ps_test_sleep_ms(10);
    }
    assert_int_equal(rc, PS_OK);
    assert_int_equal(got, 1);
    unpair(l, a, b);
}

/* A lingering close without deadline after a timed receive waits for the
 * peer's end of stream however late it comes. */
static void test_close_linger_forever_after_timed(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_pair(&l, &a, &b);
    char buf[4];
    assert_int_equal(ps_recv(b, buf, sizeof buf, NULL, TIMEOUT_MS),
                     PS_ETIMEDOUT);
    struct peer p = {a, "bye", 3, 1, 2 * TIMEOUT_MS, 1, -99};
    ps_test_thread *t = peer_start(&p);
    double t0 = ps_test_now_ms();
    assert_int_equal(ps_close_linger(b, PS_FOREVER), PS_OK);
    ps_test_thread_join(t);
    assert_true(ps_test_now_ms() - t0 >= TIMEOUT_MS);
    assert_int_equal(p.rc, PS_OK);
    unpair(l, NULL, NULL);
}

/* Each timeout holds when they change from call to call. */
static void test_alternating_timeouts(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_pair(&l, &a, &b);
    static const int timeouts[] = {50, 300, 50, 50, 300};
    char buf[4];
    size_t got = 99;
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        double t0 = ps_test_now_ms();
        assert_int_equal(ps_recv(b, buf, sizeof buf, &got, timeouts[i]),
                         PS_ETIMEDOUT);
        waited_since(t0, timeouts[i]);
        assert_int_equal(got, 0);
        t0 = ps_test_now_ms();
        assert_int_equal(ps_recv_exact(b, buf, sizeof buf, &got, timeouts[i]),
                         PS_ETIMEDOUT);
        waited_since(t0, timeouts[i]);
        ps_iovec iov = {buf, sizeof buf};
        t0 = ps_test_now_ms();
        assert_int_equal(ps_recvv(b, &iov, 1, &got, timeouts[i]),
                         PS_ETIMEDOUT);
        waited_since(t0, timeouts[i]);
    }
    /* A short timeout after a long one is short: the long one is not left
     * in force (that would take 2000 ms). */
    assert_int_equal(ps_recv(b, buf, sizeof buf, &got, 2000), PS_ETIMEDOUT);
    double t0 = ps_test_now_ms();
    assert_int_equal(ps_recv(b, buf, sizeof buf, &got, 50), PS_ETIMEDOUT);
    double short_ms = waited_since(t0, 50);
    assert_true(short_ms < 1500.0);
    unpair(l, a, b);
}

/* Timeouts below and near a system timer tick (1 to 10 ms, where a tick
 * is 1 to 10 ms): never early. */
static void test_short_timeouts_never_early(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_pair(&l, &a, &b);
    char buf[4];
    for (int round = 0; round < 5; round++) {
        for (int ms = 1; ms <= 10; ms++) {
            double t0 = ps_test_now_ms();
            assert_int_equal(ps_recv(b, buf, sizeof buf, NULL, ms),
                             PS_ETIMEDOUT);
            waited_since(t0, ms);
        }
    }
    unpair(l, a, b);
}

static void test_recv_exact_in_pieces(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_pair(&l, &a, &b);
    char buf[12];
    size_t got = 99;

    /* Three pieces with gaps, all within the deadline. */
    struct peer p = {a, "abcdefghijkl", 4, 3, 60, 0, -99};
    ps_test_thread *t = peer_start(&p);
    assert_int_equal(ps_recv_exact(b, buf, 12, &got, 5000), PS_OK);
    ps_test_thread_join(t);
    assert_int_equal(got, 12);
    assert_memory_equal(buf, "abcdefghijkl", 12);
    assert_int_equal(p.rc, PS_OK);

    /* The same with the same timeout again (a repeated timeout). */
    t = peer_start(&p);
    memset(buf, 0, sizeof buf);
    assert_int_equal(ps_recv_exact(b, buf, 12, &got, 5000), PS_OK);
    ps_test_thread_join(t);
    assert_int_equal(got, 12);
    assert_memory_equal(buf, "abcdefghijkl", 12);

    /* Two of three pieces before the deadline: the count is exact and the
     * deadline is the whole call's, not each piece's. */
    struct peer q = {a, "mnopqrst", 4, 2, 60, 0, -99};
    t = peer_start(&q);
    double t0 = ps_test_now_ms();
    assert_int_equal(ps_recv_exact(b, buf, 12, &got, 400), PS_ETIMEDOUT);
    waited_since(t0, 400);
    ps_test_thread_join(t);
    assert_int_equal(q.rc, PS_OK);
    assert_int_equal(got, 8);
    assert_memory_equal(buf, "mnopqrst", 8);

    /* A deadline shorter than the gaps: one piece, then out of time. */
    struct peer r = {a, "uvwxyz", 3, 2, 200, 0, -99};
    t = peer_start(&r);
    t0 = ps_test_now_ms();
    assert_int_equal(ps_recv_exact(b, buf, 6, &got, 300), PS_ETIMEDOUT);
    waited_since(t0, 300);
    assert_int_equal(got, 3);
    assert_memory_equal(buf, "uvw", 3);
    ps_test_thread_join(t);
    assert_int_equal(ps_recv_exact(b, buf, 3, &got, 5000), PS_OK);
    assert_memory_equal(buf, "xyz", 3);

    /* The peer ends the stream after part of it: PS_ECLOSED, exact. */
    struct peer s = {a, "12345678", 4, 1, 50, 1, -99};
    t = peer_start(&s);
    assert_int_equal(ps_recv_exact(b, buf, 8, &got, 5000), PS_ECLOSED);
    ps_test_thread_join(t);
    assert_int_equal(got, 4);
    assert_memory_equal(buf, "1234", 4);
    unpair(l, NULL, b);
}

/* Signals with no SA_RESTART during timed receives: the deadline holds,
 * neither early nor an error, and data that comes is received. */
static void test_eintr_timed_recv(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_pair(&l, &a, &b);
    const char *why = NULL;
    if (ps_test_signal_storm_start(7, &why) != 0) {
        unpair(l, a, b);
        print_message("skip: %s\n", why ? why : "no signals");
        skip();
    }
    char buf[12];
    size_t got = 99;
    double t0 = ps_test_now_ms();
    int rc_timeout = ps_recv(b, buf, sizeof buf, &got, 200);
    double timeout_ms = ps_test_now_ms() - t0;
    int rc_timeout2 = ps_recv(b, buf, sizeof buf, &got, 200); /* same again */
    struct peer p = {a, "abcdefghijkl", 4, 3, 40, 0, -99};
    ps_test_thread *t = peer_start(&p);
    int rc_exact = ps_recv_exact(b, buf, 12, &got, 5000);
    size_t got_exact = got;
    ps_test_thread_join(t);
    p.parts = 1;
    t = peer_start(&p);
    int rc_forever = ps_recv_exact(b, buf, 4, NULL, PS_FOREVER);
    ps_test_thread_join(t);
    long signals = ps_test_signal_storm_stop();

    assert_true(signals > 10);
    assert_int_equal(rc_timeout, PS_ETIMEDOUT);
    assert_true(timeout_ms >= 199.95);
    assert_int_equal(rc_timeout2, PS_ETIMEDOUT);
    assert_int_equal(rc_exact, PS_OK);
    assert_int_equal(got_exact, 12);
    assert_int_equal(rc_forever, PS_OK);
    assert_memory_equal(buf, "abcd", 4);
    unpair(l, a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forever_after_timed_out),
        cmocka_unit_test(test_forever_after_timed_success),
        cmocka_unit_test(test_zero_after_timed),
        cmocka_unit_test(test_close_linger_forever_after_timed),
        cmocka_unit_test(test_alternating_timeouts),
        cmocka_unit_test(test_short_timeouts_never_early),
        cmocka_unit_test(test_recv_exact_in_pieces),
        cmocka_unit_test(test_eintr_timed_recv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
