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
    /* A length that no buffer can have is refused by the system or sent in
     * part; it is never a crash. (The buffer is valid for 8 bytes only, so
     * use timeout 0 on a connection whose peer reads nothing.) */
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
        cmocka_unit_test(test_unix_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
