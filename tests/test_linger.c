/* Lingering close: a server that closes while its client is still sending
 * must not have its reply destroyed by a reset. Also: ps_abort resets the
 * peer; ps_close_linger's results and bad input. */
#include "ps_test.h"

#include <stdlib.h>
#include <string.h>

#define REQUEST_SIZE ((size_t)4 << 20)
#define REPLY_SIZE ((size_t)1 << 20)

static unsigned char *make_payload(size_t n, uint32_t seed)
{
    unsigned char *p = malloc(n);
    assert_non_null(p);
    ps_test_fill(p, n, seed);
    return p;
}

/* Server side of the scenario: read the first bytes of the
 * request only, send the whole reply, close (lingering or not) while the
 * client is still sending. */
struct server_job {
    ps_conn *conn;
    const unsigned char *reply;
    int linger;
    int send_rc, close_rc;
};

static void serve_and_close(void *arg)
{
    struct server_job *j = arg;
    unsigned char head[16];
    j->send_rc = ps_recv_exact(j->conn, head, sizeof head, NULL, 10000);
    if (j->send_rc == PS_OK)
        j->send_rc =
            ps_send_all(j->conn, j->reply, REPLY_SIZE, NULL, 30000);
    j->close_rc = j->linger ? ps_close_linger(j->conn, 30000)
                            : ps_close(j->conn);
}

/* Client side: receive the reply until the end of stream or an error;
 * returns that result and the bytes received in *got. */
static int receive_reply(ps_conn *client, unsigned char *in, size_t *got)
{
    *got = 0;
    int rc = ps_recv_exact(client, in, REPLY_SIZE, got, 30000);
    if (rc == PS_OK) {
        unsigned char extra;
        size_t n;
        rc = ps_recv(client, &extra, 1, &n, 30000);
        assert_int_not_equal(rc, PS_OK); /* not one byte more */
    }
    return rc;
}

static void run_scenario(int linger)
{
    ps_listener *l;
    ps_conn *client, *server;
    ps_test_pair(&l, &client, &server);
    unsigned char *request = make_payload(REQUEST_SIZE, 11);
    unsigned char *reply = make_payload(REPLY_SIZE, 22);
    unsigned char *in = malloc(REPLY_SIZE);
    assert_non_null(in);

    /* Three parties: the client's request thread keeps sending, the
     * server thread reads only 16 bytes, replies and closes, and this
     * thread receives the reply meanwhile. */
    ps_iovec req = {request, REQUEST_SIZE};
    ps_test_sender *sender = ps_test_sendv_start(client, &req, 1, 60000);
    struct server_job srv = {server, reply, linger, -99, -99};
    ps_test_thread *ts;
    assert_int_equal(ps_test_thread_start(&ts, serve_and_close, &srv), 0);
    size_t got = 0;
    int end = receive_reply(client, in, &got);
    /* The request send ends when the server has drained it (lingering),
     * or fails when the server's close reset the connection (PS_EPIPE,
     * PS_ECONNRESET): only recorded. Then the client's end of stream
     * lets a lingering server finish. */
    size_t req_sent = 0;
    int req_rc = ps_test_sendv_join(sender, &req_sent);
    if (req_rc == PS_OK)
        assert_int_equal(ps_shutdown(client, PS_SHUT_WR), PS_OK);
    ps_test_thread_join(ts);
    assert_int_equal(srv.send_rc, PS_OK);
    int close_rc = srv.close_rc;

    if (linger) {
        /* The server drained the request until the client's end of
         * stream, so its close sent no reset: the reply arrived whole. */
        assert_int_equal(close_rc, PS_OK);
        assert_int_equal(got, REPLY_SIZE);
        assert_memory_equal(in, reply, REPLY_SIZE);
        assert_int_equal(end, PS_ECLOSED);
        assert_int_equal(req_rc, PS_OK);
        assert_int_equal(req_sent, REQUEST_SIZE);
    } else {
        /* The control case: how much survived depends on timing (on
         * Windows a reset discards what the client has not read yet), so
         * nothing is asserted; the numbers show why lingering exists. */
        assert_int_equal(close_rc, PS_OK);
        print_message("plain close: client got %lu of %lu reply bytes, "
                      "then %s; its request send: %s after %lu bytes\n",
                      (unsigned long)got, (unsigned long)REPLY_SIZE,
                      ps_errname(end), ps_errname(req_rc),
                      (unsigned long)req_sent);
    }
    ps_close(client);
    ps_listener_close(l);
    free(request);
    free(reply);
    free(in);
}

static void test_reply_survives_lingering_close(void **state)
{
    (void)state;
    run_scenario(1);
}

static void test_plain_close_control(void **state)
{
    (void)state;
    run_scenario(0);
}

static void test_linger_times_out(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *client, *server;
    ps_test_pair(&l, &client, &server);
    /* The client neither closes nor sends: the server's linger ends at its
     * deadline and the connection is closed anyway, without a reset (no
     * input was left unread). */
    assert_int_equal(ps_send_all(server, "bye", 3, NULL, 5000), PS_OK);
    double t0 = ps_test_now_ms();
    assert_int_equal(ps_close_linger(server, 200), PS_ETIMEDOUT);
    assert_true(ps_test_now_ms() - t0 >= 199.0);
    char buf[8];
    size_t got;
    assert_int_equal(ps_recv_exact(client, buf, 3, &got, 5000), PS_OK);
    assert_memory_equal(buf, "bye", 3);
    assert_int_equal(ps_recv(client, buf, sizeof buf, &got, 5000),
                     PS_ECLOSED);
    ps_close(client);

    /* Timeout 0 never waits: the peer has not closed, so PS_ETIMEDOUT. */
    ps_test_connect_pair(l, &client, &server);
    assert_int_equal(ps_close_linger(server, 0), PS_ETIMEDOUT);
    assert_int_equal(ps_recv(client, buf, sizeof buf, &got, 5000),
                     PS_ECLOSED);
    ps_close(client);
    ps_listener_close(l);
}

static void test_linger_after_peer_closed(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *client, *server;
    ps_test_pair(&l, &client, &server);
    /* The client sent something and closed: the server drains the rest
     * and sees the end of stream. */
    assert_int_equal(ps_send_all(client, "unread", 6, NULL, 5000), PS_OK);
    ps_close(client);
    char buf[8];
    size_t got;
    assert_int_equal(ps_recv(server, buf, 1, &got, 5000), PS_OK);
    assert_int_equal(ps_close_linger(server, 5000), PS_OK);

    /* Everything, the end of stream included, is already there: timeout 0
     * is enough. */
    ps_test_connect_pair(l, &client, &server);
    assert_int_equal(ps_send_all(client, "unread", 6, NULL, 5000), PS_OK);
    ps_close(client);
    assert_int_equal(ps_recv_exact(server, buf, 6, &got, 5000), PS_OK);
    assert_int_equal(ps_recv(server, buf, 1, &got, 5000), PS_ECLOSED);
    assert_int_equal(ps_close_linger(server, 0), PS_OK);
    ps_listener_close(l);
}

static void test_linger_peer_resets(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *client, *server;
    ps_test_pair(&l, &client, &server);
    assert_int_equal(ps_send_all(client, "x", 1, NULL, 5000), PS_OK);
    assert_int_equal(ps_abort(client), PS_OK);
    int rc = ps_close_linger(server, 5000);
    if (rc != PS_ECONNRESET && ps_test_is_wine()) {
        /* WINE.md, row "peer reset (abortive close, or close with unread
         * data)": partial. Wine's recv reports a reset as an end of stream
         * unless a receive was pending, and after this side's own
         * shutdown(SD_SEND) the zero-byte send that tells the two apart
         * answers WSAESHUTDOWN, so the drain sees an orderly close. */
        print_message("skip: WINE.md row 'peer reset': linger got %s\n",
                      ps_errname(rc));
        ps_listener_close(l);
        skip();
    }
    assert_int_equal(rc, PS_ECONNRESET);
    ps_listener_close(l);
}

static void test_abort_resets_peer(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *client, *server;
    ps_test_pair(&l, &client, &server);
    /* Data in flight, then a reset: the peer gets PS_ECONNRESET, never an
     * end of stream that would pass for a complete reply. */
    unsigned char *reply = make_payload(REPLY_SIZE, 5);
    size_t sent = 0;
    int rc = ps_send_all(server, reply, REPLY_SIZE, &sent, 300);
    assert_true(rc == PS_OK || rc == PS_ETIMEDOUT);
    assert_int_equal(ps_abort(server), PS_OK);
    unsigned char *in = malloc(REPLY_SIZE);
    assert_non_null(in);
    size_t got = 0;
    rc = ps_recv_exact(client, in, REPLY_SIZE, &got, 10000);
    /* Linux delivers what arrived before the reset, Windows may drop it;
     * either way what did arrive is the start of the reply. */
    assert_true(got <= sent);
    assert_memory_equal(in, reply, got);
    if (rc == PS_OK) {
        size_t n;
        rc = ps_recv(client, in, 1, &n, 10000);
    }
    assert_string_equal(ps_errname(rc), ps_errname(PS_ECONNRESET));
    /* Sending to a reset connection fails the same way (or as a pipe
     * error); the process is not killed. */
    rc = ps_send(client, "x", 1, NULL, 5000);
    assert_true(rc == PS_ECONNRESET || rc == PS_EPIPE);
    ps_close(client);
    ps_listener_close(l);
    free(reply);
    free(in);
}

static void test_bad_input(void **state)
{
    (void)state;
    assert_int_equal(ps_close_linger(NULL, 0), PS_EINVAL);
    assert_int_equal(ps_close_linger(NULL, PS_FOREVER), PS_EINVAL);
    ps_listener *l;
    ps_conn *client, *server;
    ps_test_pair(&l, &client, &server);
    /* A bad timeout leaves the connection open and usable. */
    assert_int_equal(ps_close_linger(server, -2), PS_EINVAL);
    assert_int_equal(ps_send_all(server, "ok", 2, NULL, 5000), PS_OK);
    char buf[2];
    assert_int_equal(ps_recv_exact(client, buf, 2, NULL, 5000), PS_OK);
    ps_close(client);
    assert_int_equal(ps_close_linger(server, 5000), PS_OK);
    /* A connect that never completed is closed at once. */
    ps_addr bound;
    assert_int_equal(ps_listener_addr(l, &bound), PS_OK);
    ps_listener_close(l);
    ps_conn *c;
    int rc = ps_connect_start(&c, &bound);
    if (rc == PS_OK || rc == PS_EINPROGRESS)
        assert_int_not_equal(ps_close_linger(c, 5000), PS_EINVAL);
    else
        assert_int_equal(rc, PS_ECONNREFUSED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_survives_lingering_close),
        cmocka_unit_test(test_plain_close_control),
        cmocka_unit_test(test_linger_times_out),
        cmocka_unit_test(test_linger_after_peer_closed),
        cmocka_unit_test(test_linger_peer_resets),
        cmocka_unit_test(test_abort_resets_peer),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
