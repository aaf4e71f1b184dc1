/* Connections: data both ways, end of stream, reset, half-close, bulk
 * transfers with exact counts, options. */
#include "ps_test.h"

#include <stdlib.h>
#include <string.h>

static void test_data_both_ways(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_pair(&l, &a, &b);
    char buf[16];
    size_t n = 0;
    assert_int_equal(ps_send(a, "hello", 5, &n, 5000), PS_OK);
    assert_int_equal(n, 5);
    assert_int_equal(ps_recv_exact(b, buf, 5, &n, 5000), PS_OK);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(ps_send(b, "world!", 6, &n, 5000), PS_OK);
    assert_int_equal(n, 6);
    n = 0;
    assert_int_equal(ps_recv(a, buf, sizeof buf, &n, 5000), PS_OK);
    assert_true(n >= 1 && n <= 6);
    size_t rest = 0;
    assert_int_equal(ps_recv_exact(a, buf + n, 6 - n, &rest, 5000), PS_OK);
    assert_memory_equal(buf, "world!", 6);
    /* A zero-length send succeeds without sending. */
    assert_int_equal(ps_send(a, "", 0, &n, 0), PS_OK);
    assert_int_equal(n, 0);
    ps_close(a);
    ps_close(b);
    ps_listener_close(l);
}

static void test_peer_close_is_closed(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_pair(&l, &a, &b);
    assert_int_equal(ps_send_all(a, "bye", 3, NULL, 5000), PS_OK);
    ps_close(a);
    char buf[8];
    size_t got = 0;
    assert_int_equal(ps_recv_exact(b, buf, 3, &got, 5000), PS_OK);
    /* End of stream is an error code, not a zero-length success, and it
     * stays that way. */
    assert_int_equal(ps_recv(b, buf, sizeof buf, &got, 5000), PS_ECLOSED);
    assert_int_equal(got, 0);
    assert_int_equal(ps_recv(b, buf, sizeof buf, &got, 0), PS_ECLOSED);
    ps_close(b);
    ps_listener_close(l);
}

static void test_recv_exact_meets_end_of_stream(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_pair(&l, &a, &b);
    unsigned char out[1000], in[2000];
    for (size_t i = 0; i < sizeof out; i++)
        out[i] = (unsigned char)(i * 7 + 3);
    assert_int_equal(ps_send_all(a, out, sizeof out, NULL, 5000), PS_OK);
    ps_close(a);
    size_t got = 12345;
    assert_int_equal(ps_recv_exact(b, in, sizeof in, &got, 5000), PS_ECLOSED);
    assert_int_equal(got, sizeof out);
    assert_memory_equal(in, out, sizeof out);
    ps_close(b);
    ps_listener_close(l);
}

static void test_abort_resets_peer(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_pair(&l, &a, &b);
    assert_int_equal(ps_abort(a), PS_OK);
    char buf[8];
    size_t got;
    /* Reported as a reset by recv on every platform (the Windows backend
     * confirms an end of stream that might be a reset). */
    int rc = ps_recv(b, buf, sizeof buf, &got, 5000);
    assert_string_equal(ps_errname(rc), ps_errname(PS_ECONNRESET));
    /* And a send after the reset fails; the process is not killed. */
    rc = ps_send(b, "x", 1, NULL, 5000);
    assert_true(rc == PS_ECONNRESET || rc == PS_EPIPE);
    ps_close(b);
    ps_listener_close(l);
}

/* The addresses while connected, and once the connection is gone: the
 * same error on every system (Linux says ENOTCONN, Winsock WSAENOTCONN). */
static void test_peer_addr_after_reset(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_pair(&l, &a, &b);
    ps_addr a_local, a_peer, b_local, b_peer;
    assert_int_equal(ps_conn_local_addr(a, &a_local), PS_OK);
    assert_int_equal(ps_conn_peer_addr(a, &a_peer), PS_OK);
    assert_int_equal(ps_conn_local_addr(b, &b_local), PS_OK);
    assert_int_equal(ps_conn_peer_addr(b, &b_peer), PS_OK);
    assert_true(ps_addr_equal(&a_local, &b_peer));
    assert_true(ps_addr_equal(&a_peer, &b_local));

    assert_int_equal(ps_abort(a), PS_OK);
    char buf[8];
    assert_string_equal(ps_errname(ps_recv(b, buf, sizeof buf, NULL, 5000)),
                        ps_errname(PS_ECONNRESET));
    ps_addr after;
    assert_string_equal(ps_errname(ps_conn_peer_addr(b, &after)),
                        ps_errname(PS_EPIPE));
    /* This side's address stays readable. */
    assert_int_equal(ps_conn_local_addr(b, &after), PS_OK);
    ps_close(b);
    ps_listener_close(l);
}

/* A receive that waits without deadline, in another thread, so that the
 * peer's close or reset arrives while it is blocked. */
typedef struct blocked_recv {
    ps_conn *c;
    int rc;
    size_t got;
} blocked_recv;

static void blocked_recv_run(void *arg)
{
    blocked_recv *r = arg;
    char buf[8];
    r->rc = ps_recv(r->c, buf, sizeof buf, &r->got, PS_FOREVER);
}

/* The peer's `end` (ps_abort or ps_close) seen by a receive without
 * deadline that is already waiting, and by one that starts afterwards:
 * the Windows backend receives these with an overlapped call, and both
 * must tell a reset from an end of stream. */
static void end_seen_by_waiting_recv(int (*end)(ps_conn *), int expected)
{
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_pair(&l, &a, &b);
    blocked_recv r = {b, 12345, 99};
    ps_test_thread *t;
    assert_int_equal(ps_test_thread_start(&t, blocked_recv_run, &r), 0);
    ps_test_sleep_ms(200); /* let it block */
    assert_int_equal(end(a), PS_OK);
    ps_test_thread_join(t);
    assert_string_equal(ps_errname(r.rc), ps_errname(expected));
    assert_int_equal(r.got, 0);
    ps_close(b);

    ps_test_connect_pair(l, &a, &b);
    assert_int_equal(end(a), PS_OK);
    ps_test_sleep_ms(100); /* let it arrive before the receive starts */
    char buf[8];
    size_t got = 99;
    int rc = ps_recv(b, buf, sizeof buf, &got, PS_FOREVER);
    assert_string_equal(ps_errname(rc), ps_errname(expected));
    assert_int_equal(got, 0);
    ps_close(b);
    ps_listener_close(l);
}

static void test_abort_resets_waiting_peer(void **state)
{
    (void)state;
    end_seen_by_waiting_recv(ps_abort, PS_ECONNRESET);
}

static void test_close_ends_waiting_peer(void **state)
{
    (void)state;
    end_seen_by_waiting_recv(ps_close, PS_ECLOSED);
}

static void test_half_close(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_pair(&l, &a, &b);
    assert_int_equal(ps_send_all(a, "request", 7, NULL, 5000), PS_OK);
    assert_int_equal(ps_shutdown(a, PS_SHUT_WR), PS_OK);
    /* This side can no longer send... */
    assert_int_equal(ps_send(a, "x", 1, NULL, 5000), PS_EPIPE);
    /* ...the peer reads to the end of stream... */
    char buf[16];
    size_t got;
    assert_int_equal(ps_recv_exact(b, buf, 7, &got, 5000), PS_OK);
    assert_int_equal(ps_recv(b, buf, sizeof buf, &got, 5000), PS_ECLOSED);
    /* ...and can still reply, which this side still receives. */
    assert_int_equal(ps_send_all(b, "reply", 5, NULL, 5000), PS_OK);
    assert_int_equal(ps_recv_exact(a, buf, 5, &got, 5000), PS_OK);
    assert_memory_equal(buf, "reply", 5);
    ps_close(b);
    assert_int_equal(ps_recv(a, buf, sizeof buf, &got, 5000), PS_ECLOSED);
    ps_close(a);
    ps_listener_close(l);
}

#define BULK_SIZE ((size_t)64 << 20)

static uint64_t checksum(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

struct bulk_job {
    ps_conn *conn;
    unsigned char *buf;
    size_t len;
    size_t moved;
    int rc;
};

static void bulk_sender(void *arg)
{
    struct bulk_job *j = arg;
    j->rc = ps_send_all(j->conn, j->buf, j->len, &j->moved, 60000);
}

static void test_bulk_64mib(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_pair(&l, &a, &b);
    unsigned char *out = malloc(BULK_SIZE), *in = malloc(BULK_SIZE);
    assert_non_null(out);
    assert_non_null(in);
    uint32_t seed = 12345;
    for (size_t i = 0; i < BULK_SIZE; i += 4) {
        uint32_t r = ps_test_rand(&seed);
        memcpy(out + i, &r, 4);
    }
    memset(in, 0, BULK_SIZE);
    struct bulk_job job = {a, out, BULK_SIZE, 0, -99};
    ps_test_thread *t;
    assert_int_equal(ps_test_thread_start(&t, bulk_sender, &job), 0);
    size_t got = 0;
    assert_int_equal(ps_recv_exact(b, in, BULK_SIZE, &got, 60000), PS_OK);
    ps_test_thread_join(t);
    assert_int_equal(job.rc, PS_OK);
    assert_int_equal(job.moved, BULK_SIZE);
    assert_int_equal(got, BULK_SIZE);
    assert_true(checksum(in, BULK_SIZE) == checksum(out, BULK_SIZE));
    free(out);
    free(in);
    ps_close(a);
    ps_close(b);
    ps_listener_close(l);
}

static void test_send_all_cut_by_deadline(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_pair(&l, &a, &b);
    unsigned char *out = malloc(BULK_SIZE), *in = malloc(BULK_SIZE);
    assert_non_null(out);
    assert_non_null(in);
    for (size_t i = 0; i < BULK_SIZE; i++)
        out[i] = (unsigned char)(i % 251);
    /* Nobody reads: the socket buffers fill and the deadline ends it. */
    size_t sent = 0;
    double t0 = ps_test_now_ms();
    assert_int_equal(ps_send_all(a, out, BULK_SIZE, &sent, 300),
                     PS_ETIMEDOUT);
    assert_true(ps_test_now_ms() - t0 >= 299.0);
    assert_true(sent > 0 && sent < BULK_SIZE);
    /* Exactly `sent` bytes arrive, intact, and not one more. */
    size_t got = 0;
    assert_int_equal(ps_recv_exact(b, in, sent, &got, 10000), PS_OK);
    assert_int_equal(got, sent);
    assert_memory_equal(in, out, sent);
    assert_int_equal(ps_recv(b, in, 1, &got, 200), PS_ETIMEDOUT);
    free(out);
    free(in);
    ps_close(a);
    ps_close(b);
    ps_listener_close(l);
}

static void test_recv_exact_cut_by_deadline(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_pair(&l, &a, &b);
    unsigned char out[1000], in[2000];
    for (size_t i = 0; i < sizeof out; i++)
        out[i] = (unsigned char)(255 - i % 256);
    assert_int_equal(ps_send_all(a, out, sizeof out, NULL, 5000), PS_OK);
    size_t got = 0;
    double t0 = ps_test_now_ms();
    assert_int_equal(ps_recv_exact(b, in, sizeof in, &got, 300),
                     PS_ETIMEDOUT);
    assert_true(ps_test_now_ms() - t0 >= 299.0);
    assert_int_equal(got, sizeof out);
    assert_memory_equal(in, out, sizeof out);
    ps_close(a);
    ps_close(b);
    ps_listener_close(l);
}

static void test_options(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_pair(&l, &a, &b);
    assert_int_equal(ps_conn_set_nodelay(a, 1), PS_OK);
    assert_int_equal(ps_conn_set_nodelay(a, 0), PS_OK);
    assert_int_equal(ps_conn_set_nodelay(a, 2), PS_EINVAL);
    assert_int_equal(ps_conn_set_keepalive(b, 1, 30, 5), PS_OK);
    assert_int_equal(ps_conn_set_keepalive(b, 1, 0, 0), PS_OK);
    assert_int_equal(ps_conn_set_keepalive(b, 0, 0, 0), PS_OK);
    assert_int_equal(ps_conn_set_keepalive(b, 1, -1, 0), PS_EINVAL);
    /* The connection still works with the options set. */
    char c;
    assert_int_equal(ps_send_all(a, "k", 1, NULL, 5000), PS_OK);
    assert_int_equal(ps_recv_exact(b, &c, 1, NULL, 5000), PS_OK);
    assert_int_equal(c, 'k');
    ps_close(a);
    ps_close(b);
    ps_listener_close(l);
}

static void test_conn_pair(void **state)
{
    (void)state;
    ps_conn *p[2];
    assert_int_equal(ps_conn_pair(p), PS_OK);
    ps_addr a0, a1;
    assert_int_equal(ps_conn_local_addr(p[0], &a0), PS_OK);
    assert_int_equal(ps_conn_peer_addr(p[1], &a1), PS_OK);
    assert_true(ps_addr_equal(&a0, &a1));
    char buf[4];
    assert_int_equal(ps_send_all(p[0], "abc", 3, NULL, 5000), PS_OK);
    assert_int_equal(ps_recv_exact(p[1], buf, 3, NULL, 5000), PS_OK);
    assert_memory_equal(buf, "abc", 3);
    assert_int_equal(ps_send_all(p[1], "xyz", 3, NULL, 5000), PS_OK);
    assert_int_equal(ps_recv_exact(p[0], buf, 3, NULL, 5000), PS_OK);
    assert_memory_equal(buf, "xyz", 3);
    ps_close(p[0]);
    ps_close(p[1]);
}

static void test_dial(void **state)
{
    (void)state;
    ps_listener *l;
    ps_addr bound;
    ps_test_listen(&l, PS_AF_INET, &bound);
    char port[8];
    snprintf(port, sizeof port, "%d", ps_addr_port(&bound));
    ps_conn *c, *s;
    assert_int_equal(ps_dial(&c, "127.0.0.1", port, 5000), PS_OK);
    assert_int_equal(ps_accept(l, &s, NULL, 5000), PS_OK);
    ps_close(c);
    ps_close(s);
    ps_listener_close(l);
    /* Nobody listens any more. */
    assert_int_equal(ps_dial(&c, "127.0.0.1", port, 5000), PS_ECONNREFUSED);
    assert_int_equal(ps_dial(&c, "no-such-host.invalid", port, 5000),
                     PS_ERESOLVE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_both_ways),
        cmocka_unit_test(test_peer_close_is_closed),
        cmocka_unit_test(test_recv_exact_meets_end_of_stream),
        cmocka_unit_test(test_abort_resets_peer),
        cmocka_unit_test(test_peer_addr_after_reset),
        cmocka_unit_test(test_abort_resets_waiting_peer),
        cmocka_unit_test(test_close_ends_waiting_peer),
        cmocka_unit_test(test_half_close),
        cmocka_unit_test(test_bulk_64mib),
        cmocka_unit_test(test_send_all_cut_by_deadline),
        cmocka_unit_test(test_recv_exact_cut_by_deadline),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_conn_pair),
        cmocka_unit_test(test_dial),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
