/* Safe defaults: no SIGPIPE, nothing inherited by child processes, EINTR
 * retried within the deadline, accept out of descriptors. */
#include "ps_test.h"

#include <string.h>

static void test_no_sigpipe(void **state)
{
    (void)state;
    /* Writing to a connection the peer reset (or closed) raises SIGPIPE on
     * POSIX unless the library prevents it: this process must live and get
     * an error code. The runner may ignore or block SIGPIPE, which would
     * hide a missing MSG_NOSIGNAL: give it its default action (terminate)
     * and unblock it first. */
    const char *why = NULL;
    int have_sigpipe = ps_test_sigpipe_default(&why) == 0;
    if (!have_sigpipe)
        print_message("no SIGPIPE here (%s): checking the error codes only\n",
                      why ? why : "?");
    for (int abort_peer = 0; abort_peer < 2; abort_peer++) {
        ps_listener *l;
        ps_conn *a, *b;
        ps_test_listen(&l, PS_AF_INET, NULL);
        ps_test_connect_pair(l, &a, &b);
        if (abort_peer)
            ps_abort(a);
        else
            ps_close(a);
        /* Send until the system says EPIPE, the error that comes with
         * SIGPIPE (a reset is reported first as PS_ECONNRESET, and a send
         * to a closed peer may still be accepted before its reset comes
         * back). Without SIGPIPE (Windows) the first error ends it. */
        int rc = PS_OK, epipe = 0;
        for (int i = 0; i < 200 && !epipe; i++) {
            rc = ps_send(b, "data", 4, NULL, 1000);
            if (rc == PS_OK) {
                ps_test_sleep_ms(5);
                continue;
            }
            if (rc != PS_ECONNRESET && rc != PS_EPIPE)
                fail_msg("send to a %s peer gave %s",
                         abort_peer ? "reset" : "closed", ps_errname(rc));
            epipe = rc == PS_EPIPE || !have_sigpipe;
        }
        if (!epipe)
            fail_msg("send to a %s peer never failed with PS_EPIPE (last: %s)",
                     abort_peer ? "reset" : "closed", ps_errname(rc));
        if (have_sigpipe) {
            /* Every sending call, each path to the system (send without
             * and with waiting, sendmsg): EPIPE again, and no signal. */
            ps_iovec v = {"vec", 3};
            assert_int_equal(ps_send(b, "x", 1, NULL, 0), PS_EPIPE);
            assert_int_equal(ps_send(b, "x", 1, NULL, PS_FOREVER), PS_EPIPE);
            assert_int_equal(ps_send_all(b, "xy", 2, NULL, PS_FOREVER),
                             PS_EPIPE);
            assert_int_equal(ps_sendv(b, &v, 1, NULL, 1000), PS_EPIPE);
            assert_int_equal(ps_sendv(b, &v, 1, NULL, PS_FOREVER), PS_EPIPE);
        }
        ps_close(b);
        ps_listener_close(l);
    }
}

static void test_not_inherited(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_listen(&l, PS_AF_INET, NULL);
    ps_test_connect_pair(l, &a, &b);
    assert_int_equal(ps_test_is_inheritable(ps_listener_native(l)), 0);
    assert_int_equal(ps_test_is_inheritable(ps_conn_native(a)), 0);
    assert_int_equal(ps_test_is_inheritable(ps_conn_native(b)), 0);
    ps_conn *p[2];
    assert_int_equal(ps_conn_pair(p), PS_OK);
    assert_int_equal(ps_test_is_inheritable(ps_conn_native(p[0])), 0);
    assert_int_equal(ps_test_is_inheritable(ps_conn_native(p[1])), 0);
    ps_close(p[0]);
    ps_close(p[1]);
    ps_close(a);
    ps_close(b);
    ps_listener_close(l);
}

static void test_accept_out_of_descriptors(void **state)
{
    (void)state;
    const char *why = NULL;
    ps_listener *l;
    ps_addr bound;
    ps_test_listen(&l, PS_AF_INET, &bound);
    ps_conn *client;
    assert_int_equal(ps_connect(&client, &bound, 5000), PS_OK);
    if (ps_test_fd_limit_set(256, &why) != 0) {
        ps_close(client);
        ps_listener_close(l);
        print_message("skip: %s\n", why ? why : "cannot lower the limit");
        skip();
    }
    int opened = ps_test_fd_exhaust(4096);
    assert_true(opened > 0);
    /* Out of descriptors: an error at once, not a wait or a busy loop until
     * the deadline, and the pending connection stays queued. */
    ps_conn *c = NULL;
    double t0 = ps_test_now_ms();
    int rc = ps_accept(l, &c, NULL, 3000);
    double elapsed = ps_test_now_ms() - t0;
    ps_test_fd_release();
    ps_test_fd_limit_restore();
    assert_string_equal(ps_errname(rc), ps_errname(PS_EMFILE));
    assert_true(elapsed < 1000.0);
    /* Descriptors are free again: the same connection is accepted. */
    ps_addr peer, client_local;
    assert_int_equal(ps_accept(l, &c, &peer, 5000), PS_OK);
    assert_int_equal(ps_conn_local_addr(client, &client_local), PS_OK);
    assert_true(ps_addr_equal(&peer, &client_local));
    char buf[2];
    assert_int_equal(ps_send_all(client, "ok", 2, NULL, 5000), PS_OK);
    assert_int_equal(ps_recv_exact(c, buf, 2, NULL, 5000), PS_OK);
    assert_memory_equal(buf, "ok", 2);
    ps_close(c);
    ps_close(client);
    ps_listener_close(l);
}

struct late_sender {
    ps_conn *conn;
};

static void send_later(void *arg)
{
    struct late_sender *s = arg;
    ps_test_sleep_ms(300);
    ps_send_all(s->conn, "late", 4, NULL, 5000);
}

static void test_eintr_retried(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_listen(&l, PS_AF_INET, NULL);
    ps_test_connect_pair(l, &a, &b);
    const char *why = NULL;
    if (ps_test_signal_storm_start(2, &why) != 0) {
        ps_close(a);
        ps_close(b);
        ps_listener_close(l);
        print_message("skip: %s\n", why ? why : "no signals");
        skip();
    }
    char buf[4];
    ps_conn *c;
    /* Interrupted waits go on with the time that is left: the deadline
     * still holds, neither early nor an EINTR error. */
    double t0 = ps_test_now_ms();
    int rc_recv = ps_recv(b, buf, sizeof buf, NULL, 300);
    double recv_ms = ps_test_now_ms() - t0;
    t0 = ps_test_now_ms();
    int rc_accept = ps_accept(l, &c, NULL, 300);
    double accept_ms = ps_test_now_ms() - t0;
    /* A call blocked in the kernel without a deadline is retried too. */
    struct late_sender s = {a};
    ps_test_thread *t;
    assert_int_equal(ps_test_thread_start(&t, send_later, &s), 0);
    int rc_forever = ps_recv_exact(b, buf, 4, NULL, PS_FOREVER);
    ps_test_thread_join(t);
    long signals = ps_test_signal_storm_stop();

    assert_true(signals > 10);
    assert_int_equal(rc_recv, PS_ETIMEDOUT);
    assert_true(recv_ms >= 299.95);
    assert_int_equal(rc_accept, PS_ETIMEDOUT);
    assert_true(accept_ms >= 299.95);
    assert_int_equal(rc_forever, PS_OK);
    assert_memory_equal(buf, "late", 4);
    ps_close(a);
    ps_close(b);
    ps_listener_close(l);
}

/* A poller wait interrupted by signals goes on with the time left (the
 * DESIGN.md timeout rule), on every mechanism: not early, and not a full
 * timeout again from the interruption (the first signal comes 200 ms in,
 * so that would end near 500 ms). */
static void test_eintr_poller_wait_keeps_deadline(void **state)
{
    (void)state;
    const unsigned flags[] = {0, PS_POLLER_POLL};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        ps_poller *p;
        int rc = ps_poller_create(&p, flags[i]);
        if (rc == PS_ENOTSUP)
            continue; /* no such mechanism here */
        assert_int_equal(rc, PS_OK);
        const char *why = NULL;
        if (ps_test_signal_storm_start(200, &why) != 0) {
            ps_poller_close(p);
            print_message("skip: %s\n", why ? why : "no signals");
            skip();
        }
        ps_event ev[4];
        size_t n = 99;
        double t0 = ps_test_now_ms();
        rc = ps_poller_wait(p, ev, 4, &n, 300);
        double waited = ps_test_now_ms() - t0;
        long signals = ps_test_signal_storm_stop();
        print_message("%s: %ld signals, waited %.1f ms\n",
                      ps_poller_backend(p), signals, waited);
        assert_true(signals >= 1);
        assert_int_equal(rc, PS_OK);
        assert_int_equal(n, 0);
        assert_true(waited >= 299.95);
        assert_true(waited < 450.0);
        ps_poller_close(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_sigpipe),
        cmocka_unit_test(test_not_inherited),
        cmocka_unit_test(test_accept_out_of_descriptors),
        cmocka_unit_test(test_eintr_retried),
        cmocka_unit_test(test_eintr_poller_wait_keeps_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
