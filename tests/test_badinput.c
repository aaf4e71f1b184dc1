/* Bad input: NULL pointers, out-of-range arguments, shut-down handles. Each
 * gets its documented error, never a crash. */
#include "ps_test.h"

#include <string.h>

static void test_addresses(void **state)
{
    (void)state;
    ps_addr a;
    char buf[PS_ADDR_STRLEN];
    size_t n;
    assert_int_equal(ps_addr_parse(NULL, "127.0.0.1:1"), PS_EINVAL);
    assert_int_equal(ps_addr_parse(&a, NULL), PS_EINVAL);
    assert_int_equal(ps_addr_parse_n(NULL, "x", 1), PS_EINVAL);
    assert_int_equal(ps_addr_parse_n(&a, NULL, 1), PS_EINVAL);
    assert_int_equal(ps_addr_format(NULL, buf, sizeof buf), PS_EINVAL);
    ps_addr_loopback(&a, PS_AF_INET, 1);
    assert_int_equal(ps_addr_format(&a, NULL, 10), PS_EINVAL);
    ps_addr zero;
    memset(&zero, 0, sizeof zero);
    assert_int_equal(ps_addr_format(&zero, buf, sizeof buf), PS_EINVAL);
    assert_string_equal(buf, "");
    assert_int_equal(ps_addr_family(NULL), PS_AF_UNSPEC);
    assert_int_equal(ps_addr_port(NULL), PS_EINVAL);
    assert_int_equal(ps_addr_set_port(NULL, 1), PS_EINVAL);
    assert_int_equal(ps_addr_equal(NULL, &a), 0);
    assert_int_equal(ps_addr_equal(&a, NULL), 0);
    assert_int_equal(ps_addr_loopback(NULL, PS_AF_INET, 1), PS_EINVAL);
    assert_int_equal(ps_addr_any(NULL, PS_AF_INET, 1), PS_EINVAL);
    assert_int_equal(ps_resolve("localhost", "1", PS_AF_UNSPEC, NULL, 1, &n),
                     PS_EINVAL);
    assert_int_equal(ps_resolve("localhost", "1", PS_AF_UNSPEC, &a, 1, NULL),
                     PS_EINVAL);
    assert_int_equal(ps_addr_to_sockaddr(NULL, buf, sizeof buf, &n),
                     PS_EINVAL);
    assert_int_equal(ps_addr_to_sockaddr(&a, NULL, sizeof buf, &n), PS_EINVAL);
    assert_int_equal(ps_addr_to_sockaddr(&a, buf, sizeof buf, NULL),
                     PS_EINVAL);
    assert_int_equal(ps_addr_to_sockaddr(&zero, buf, sizeof buf, &n),
                     PS_EINVAL);
    assert_int_equal(ps_addr_from_sockaddr(NULL, buf, 16), PS_EINVAL);
    assert_int_equal(ps_addr_from_sockaddr(&a, NULL, 16), PS_EINVAL);
    assert_int_equal(ps_addr_from_sockaddr(&a, buf, 0), PS_EINVAL);
}

static void test_listener_calls(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *c;
    ps_addr a, bad;
    ps_addr_loopback(&a, PS_AF_INET, 0);
    memset(&bad, 0, sizeof bad);
    assert_int_equal(ps_listen(NULL, &a, NULL), PS_EINVAL);
    assert_int_equal(ps_listen(&l, NULL, NULL), PS_EINVAL);
    assert_int_equal(ps_listen(&l, &bad, NULL), PS_EINVAL);
    bad.family = 99;
    assert_int_equal(ps_listen(&l, &bad, NULL), PS_EINVAL);
    ps_listen_opts opts = {-1, 0};
    assert_int_equal(ps_listen(&l, &a, &opts), PS_EINVAL);
    opts.backlog = 0;
    opts.flags = 0x80;
    assert_int_equal(ps_listen(&l, &a, &opts), PS_EINVAL);

    assert_int_equal(ps_listener_addr(NULL, &a), PS_EINVAL);
    assert_int_equal(ps_accept(NULL, &c, NULL, 0), PS_EINVAL);
    assert_int_equal(ps_listener_shutdown(NULL), PS_EINVAL);
    assert_int_equal(ps_listener_close(NULL), PS_EINVAL);
    assert_true(ps_listener_native(NULL) == PS_INVALID_SOCKET);

    ps_test_listen(&l, PS_AF_INET, NULL);
    assert_int_equal(ps_listener_addr(l, NULL), PS_EINVAL);
    assert_int_equal(ps_accept(l, NULL, NULL, 0), PS_EINVAL);
    assert_true(ps_listener_native(l) != PS_INVALID_SOCKET);
    /* A shut-down listener is detected: every accept says so. */
    assert_int_equal(ps_listener_shutdown(l), PS_OK);
    assert_int_equal(ps_accept(l, &c, NULL, 0), PS_ECANCELED);
    ps_listener_close(l);
}

static void test_connection_calls(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b, *c;
    ps_addr bound, bad;
    ps_test_listen(&l, PS_AF_INET, &bound);
    memset(&bad, 0, sizeof bad);
    char buf[8];
    size_t n;

    assert_int_equal(ps_connect(NULL, &bound, 0), PS_EINVAL);
    assert_int_equal(ps_connect(&c, NULL, 0), PS_EINVAL);
    assert_int_equal(ps_connect(&c, &bad, 0), PS_EINVAL);
    ps_addr port0 = bound;
    ps_addr_set_port(&port0, 0);
    assert_int_equal(ps_connect(&c, &port0, 1000), PS_EINVAL);
    assert_int_equal(ps_dial(NULL, "127.0.0.1", "1", 0), PS_EINVAL);
    assert_int_equal(ps_dial(&c, NULL, "1", 0), PS_EINVAL);
    assert_int_equal(ps_dial(&c, "127.0.0.1", NULL, 0), PS_EINVAL);

    assert_int_equal(ps_send(NULL, "x", 1, &n, 0), PS_EINVAL);
    assert_int_equal(ps_recv(NULL, buf, 1, &n, 0), PS_EINVAL);
    assert_int_equal(ps_send_all(NULL, "x", 1, &n, 0), PS_EINVAL);
    assert_int_equal(ps_recv_exact(NULL, buf, 1, &n, 0), PS_EINVAL);
    assert_int_equal(ps_shutdown(NULL, PS_SHUT_WR), PS_EINVAL);
    assert_int_equal(ps_close(NULL), PS_EINVAL);
    assert_int_equal(ps_abort(NULL), PS_EINVAL);
    assert_int_equal(ps_conn_local_addr(NULL, &bound), PS_EINVAL);
    assert_int_equal(ps_conn_peer_addr(NULL, &bound), PS_EINVAL);
    assert_int_equal(ps_conn_set_nodelay(NULL, 1), PS_EINVAL);
    assert_int_equal(ps_conn_set_keepalive(NULL, 1, 0, 0), PS_EINVAL);
    assert_int_equal(ps_conn_pair(NULL), PS_EINVAL);
    assert_true(ps_conn_native(NULL) == PS_INVALID_SOCKET);
    assert_int_equal(ps_close_linger(NULL, 0), PS_EINVAL);
    assert_int_equal(ps_stdin_conn(NULL), PS_EINVAL);
    ps_iovec v = {buf, sizeof buf};
    n = 77;
    assert_int_equal(ps_sendv(NULL, &v, 1, &n, 0), PS_EINVAL);
    assert_int_equal(n, 0);
    n = 77;
    assert_int_equal(ps_recvv(NULL, &v, 1, &n, 0), PS_EINVAL);
    assert_int_equal(n, 0);

    /* The two halves of a connect. */
    c = NULL;
    assert_int_equal(ps_connect_start(NULL, &bound), PS_EINVAL);
    assert_int_equal(ps_connect_start(&c, NULL), PS_EINVAL);
    assert_null(c);
    assert_int_equal(ps_connect_finish(NULL, 0), PS_EINVAL);
    assert_int_equal(ps_connect_finish(NULL, PS_FOREVER), PS_EINVAL);
    int rc = ps_connect_start(&c, &bound);
    if (rc != PS_OK && rc != PS_EINPROGRESS)
        fail_msg("ps_connect_start to a live listener: %s", ps_errname(rc));
    assert_non_null(c);
    /* Negative timeouts other than PS_FOREVER, whatever the connect's
     * state; then the real outcome. */
    assert_int_equal(ps_connect_finish(c, -5), PS_EINVAL);
    assert_int_equal(ps_connect_finish(c, -2), PS_EINVAL);
    assert_int_equal(ps_connect_finish(c, 5000), PS_OK);
    assert_int_equal(ps_connect_finish(c, -5), PS_EINVAL);
    assert_int_equal(ps_accept(l, &a, NULL, 5000), PS_OK);
    /* A lingering close with a bad timeout frees nothing: c still works. */
    assert_int_equal(ps_close_linger(c, -5), PS_EINVAL);
    assert_int_equal(ps_send_all(c, "ok", 2, NULL, 5000), PS_OK);
    assert_int_equal(ps_recv_exact(a, buf, 2, NULL, 5000), PS_OK);
    assert_memory_equal(buf, "ok", 2);
    ps_close(c);
    ps_close(a);

    ps_test_connect_pair(l, &a, &b);
    n = 77;
    assert_int_equal(ps_send(a, NULL, 1, &n, 0), PS_EINVAL);
    assert_int_equal(n, 0);
    assert_int_equal(ps_recv(a, NULL, 1, &n, 0), PS_EINVAL);
    assert_int_equal(ps_recv(a, buf, 0, &n, 0), PS_EINVAL);
    assert_int_equal(ps_send_all(a, NULL, 1, &n, 0), PS_EINVAL);
    assert_int_equal(ps_recv_exact(a, NULL, 1, &n, 0), PS_EINVAL);
    assert_int_equal(ps_shutdown(a, 0), PS_EINVAL);
    assert_int_equal(ps_shutdown(a, 4), PS_EINVAL);
    assert_int_equal(ps_shutdown(a, -1), PS_EINVAL);
    assert_int_equal(ps_conn_local_addr(a, NULL), PS_EINVAL);
    assert_int_equal(ps_conn_peer_addr(a, NULL), PS_EINVAL);
    assert_int_equal(ps_conn_set_keepalive(a, 2, 0, 0), PS_EINVAL);
    assert_int_equal(ps_conn_set_keepalive(a, 1, 0, -5), PS_EINVAL);
    n = 77;
    assert_int_equal(ps_sendv(a, NULL, 1, &n, 0), PS_EINVAL);
    assert_int_equal(n, 0);
    assert_int_equal(ps_recvv(a, NULL, 1, &n, 0), PS_EINVAL);
    /* Both directions shut: every transfer reports it. */
    assert_int_equal(ps_shutdown(a, PS_SHUT_RDWR), PS_OK);
    assert_int_equal(ps_send(a, "x", 1, &n, 0), PS_EPIPE);
    assert_int_equal(ps_send_all(a, "x", 1, &n, 0), PS_EPIPE);
    assert_int_equal(ps_recv(a, buf, 1, &n, 0), PS_ECANCELED);
    assert_int_equal(ps_recv_exact(a, buf, 1, &n, 0), PS_ECANCELED);
    ps_close(a);
    ps_close(b);
    ps_listener_close(l);
}

static void test_datagram_calls(void **state)
{
    (void)state;
    ps_dgram *d = NULL;
    ps_addr lo, group, out;
    char buf[8];
    size_t got = 99, full = 99;
    assert_int_equal(ps_addr_loopback(&lo, PS_AF_INET, 0), PS_OK);
    assert_int_equal(ps_addr_parse(&group, "239.1.2.3:0"), PS_OK);

    assert_int_equal(ps_dgram_open(NULL, &lo, 0), PS_EINVAL);
    assert_int_equal(ps_dgram_open(&d, &lo, 0), PS_OK);
    ps_addr to;
    assert_int_equal(ps_dgram_local_addr(d, &to), PS_OK); /* a real port */

    assert_int_equal(ps_dgram_sendto(NULL, "x", 1, &to, 0), PS_EINVAL);
    assert_int_equal(ps_dgram_sendto(d, NULL, 1, &to, 0), PS_EINVAL);
    assert_int_equal(ps_dgram_sendto(d, "x", 1, NULL, 0), PS_EINVAL);
    assert_int_equal(
        ps_dgram_recvfrom(NULL, buf, sizeof buf, &got, &full, NULL, 0),
        PS_EINVAL);
    assert_int_equal(got, 0);
    assert_int_equal(full, 0);
    assert_int_equal(ps_dgram_recvfrom(d, NULL, 1, &got, NULL, NULL, 0),
                     PS_EINVAL);
    assert_int_equal(ps_dgram_connect(NULL, &to), PS_EINVAL);
    assert_int_equal(ps_dgram_connect(d, NULL), PS_EINVAL);
    assert_int_equal(ps_dgram_send(NULL, "x", 1, 0), PS_EINVAL);
    got = 99;
    assert_int_equal(ps_dgram_recv(NULL, buf, sizeof buf, &got, NULL, 0),
                     PS_EINVAL);
    assert_int_equal(got, 0);
    assert_int_equal(ps_dgram_join(NULL, &group, NULL), PS_EINVAL);
    assert_int_equal(ps_dgram_join(d, NULL, NULL), PS_EINVAL);
    assert_int_equal(ps_dgram_leave(NULL, &group, NULL), PS_EINVAL);
    assert_int_equal(ps_dgram_leave(d, NULL, NULL), PS_EINVAL);
    assert_int_equal(ps_dgram_set_multicast(NULL, NULL, 1, 1), PS_EINVAL);
    assert_int_equal(ps_dgram_local_addr(NULL, &out), PS_EINVAL);
    assert_int_equal(ps_dgram_local_addr(d, NULL), PS_EINVAL);
    assert_int_equal(ps_dgram_close(NULL), PS_EINVAL);
    assert_true(ps_dgram_native(NULL) == PS_INVALID_SOCKET);
    assert_true(ps_dgram_native(d) != PS_INVALID_SOCKET);
    /* The socket still works after all that: a datagram to itself. */
    assert_int_equal(ps_dgram_sendto(d, "ok", 2, &to, 5000), PS_OK);
    assert_int_equal(
        ps_dgram_recvfrom(d, buf, sizeof buf, &got, NULL, &out, 5000), PS_OK);
    assert_int_equal(got, 2);
    assert_memory_equal(buf, "ok", 2);
    assert_true(ps_addr_equal(&out, &to));
    assert_int_equal(ps_dgram_close(d), PS_OK);
}

static void test_poller_calls(void **state)
{
    (void)state;
    ps_poller *p = NULL;
    ps_listener *l;
    ps_conn *a, *b;
    ps_dgram *d = NULL;
    ps_addr lo;
    ps_event ev[4];
    size_t n = 99;
    int tl, ta, td; /* user pointers: listener, connection, datagram */
    assert_int_equal(ps_poller_create(NULL, 0), PS_EINVAL);
    /* The documented answer for no poller. */
    assert_string_equal(ps_poller_backend(NULL), "none");

    assert_int_equal(ps_poller_create(&p, 0), PS_OK);
    ps_test_listen(&l, PS_AF_INET, NULL);
    ps_test_connect_pair(l, &a, &b);
    assert_int_equal(ps_addr_loopback(&lo, PS_AF_INET, 0), PS_OK);
    assert_int_equal(ps_dgram_open(&d, &lo, 0), PS_OK);

    assert_int_equal(ps_poller_add_listener(NULL, l, PS_READABLE, &tl),
                     PS_EINVAL);
    assert_int_equal(ps_poller_add_listener(p, NULL, PS_READABLE, &tl),
                     PS_EINVAL);
    assert_int_equal(ps_poller_add_conn(NULL, a, PS_READABLE, &ta),
                     PS_EINVAL);
    assert_int_equal(ps_poller_add_conn(p, NULL, PS_READABLE, &ta),
                     PS_EINVAL);
    assert_int_equal(ps_poller_add_dgram(NULL, d, PS_READABLE, &td),
                     PS_EINVAL);
    assert_int_equal(ps_poller_add_dgram(p, NULL, PS_READABLE, &td),
                     PS_EINVAL);
    /* None of those registered anything: nothing is reported. */
    assert_int_equal(ps_send_all(b, "x", 1, NULL, 5000), PS_OK);
    assert_int_equal(ps_poller_wait(p, ev, 4, &n, 100), PS_OK);
    assert_int_equal(n, 0);

    /* Registered, then modify / remove with NULL on either side. */
    assert_int_equal(ps_poller_add_listener(p, l, PS_READABLE, &tl), PS_OK);
    assert_int_equal(ps_poller_add_conn(p, a, PS_READABLE, &ta), PS_OK);
    assert_int_equal(ps_poller_add_dgram(p, d, PS_READABLE, &td), PS_OK);
    assert_int_equal(ps_poller_modify_listener(NULL, l, 0, &tl), PS_EINVAL);
    assert_int_equal(ps_poller_modify_listener(p, NULL, 0, &tl), PS_EINVAL);
    assert_int_equal(ps_poller_modify_conn(NULL, a, 0, &ta), PS_EINVAL);
    assert_int_equal(ps_poller_modify_conn(p, NULL, 0, &ta), PS_EINVAL);
    assert_int_equal(ps_poller_modify_dgram(NULL, d, 0, &td), PS_EINVAL);
    assert_int_equal(ps_poller_modify_dgram(p, NULL, 0, &td), PS_EINVAL);
    assert_int_equal(ps_poller_remove_listener(NULL, l), PS_EINVAL);
    assert_int_equal(ps_poller_remove_listener(p, NULL), PS_EINVAL);
    assert_int_equal(ps_poller_remove_conn(NULL, a), PS_EINVAL);
    assert_int_equal(ps_poller_remove_conn(p, NULL), PS_EINVAL);
    assert_int_equal(ps_poller_remove_dgram(NULL, d), PS_EINVAL);
    assert_int_equal(ps_poller_remove_dgram(p, NULL), PS_EINVAL);
    /* The registrations are untouched: `a` has its byte and is reported. */
    assert_int_equal(ps_poller_wait(p, ev, 4, &n, 5000), PS_OK);
    assert_int_equal(n, 1);
    assert_ptr_equal(ev[0].user, &ta);
    assert_true(ev[0].events & PS_READABLE);
    assert_int_equal(ps_poller_remove_dgram(p, d), PS_OK);
    assert_int_equal(ps_poller_remove_conn(p, a), PS_OK);
    assert_int_equal(ps_poller_remove_listener(p, l), PS_OK);

    n = 99;
    assert_int_equal(ps_poller_wait(NULL, ev, 4, &n, 0), PS_EINVAL);
    assert_int_equal(n, 0);
    assert_int_equal(ps_poller_wait(p, NULL, 4, &n, 0), PS_EINVAL);
    assert_int_equal(ps_poller_wait(p, ev, 4, NULL, 0), PS_EINVAL);
    assert_int_equal(ps_poller_wake(NULL), PS_EINVAL);
    assert_int_equal(ps_poller_close(NULL), PS_EINVAL);
    assert_int_equal(ps_poller_close(p), PS_OK);
    ps_dgram_close(d);
    ps_close(a);
    ps_close(b);
    ps_listener_close(l);
}

static void test_unix_paths(void **state)
{
    (void)state;
    /* Bad unix paths are refused before any socket exists, so the answer
     * is the same everywhere, Wine (no AF_UNIX) included. */
    ps_addr u;
    ps_listener *l;
    ps_conn *c;
    char text[PS_UNIX_PATH_MAX + 8];
    memcpy(text, "unix:", 5);
    memset(text + 5, 'p', PS_UNIX_PATH_MAX + 1);
    text[5 + PS_UNIX_PATH_MAX + 1] = '\0';
    assert_int_equal(ps_addr_parse(&u, text), PS_EINVAL); /* one too long */
    assert_int_equal(ps_addr_parse(&u, "unix:"), PS_EINVAL);

    /* Built by hand: no room for the NUL (never truncated to fit). */
    memset(&u, 0, sizeof u);
    u.family = PS_AF_UNIX;
    memset(u.u.path, 'p', sizeof u.u.path);
    assert_int_equal(ps_listen(&l, &u, NULL), PS_EINVAL);
    assert_int_equal(ps_connect(&c, &u, 0), PS_EINVAL);
    assert_int_equal(ps_connect_start(&c, &u), PS_EINVAL);
    /* Empty. */
    memset(u.u.path, 0, sizeof u.u.path);
    assert_int_equal(ps_listen(&l, &u, NULL), PS_EINVAL);
    assert_int_equal(ps_connect(&c, &u, 0), PS_EINVAL);
    assert_int_equal(ps_connect_start(&c, &u), PS_EINVAL);
    /* Bad options are refused for unix listeners too. */
    assert_int_equal(ps_addr_parse(&u, "unix:/tmp/portsock-badinput.sock"),
                     PS_OK);
    ps_listen_opts opts = {-1, 0};
    assert_int_equal(ps_listen(&l, &u, &opts), PS_EINVAL);
    assert_int_equal(ps_connect(&c, &u, -7), PS_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_listener_calls),
        cmocka_unit_test(test_connection_calls),
        cmocka_unit_test(test_datagram_calls),
        cmocka_unit_test(test_poller_calls),
        cmocka_unit_test(test_unix_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
