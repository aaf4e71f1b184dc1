/* The listener / connection model: accept hands back an independent
 * connection; the listener's life does not touch accepted connections. */
#include "ps_test.h"

#include <string.h>

static void exchange(ps_conn *from, ps_conn *to, const char *msg)
{
    char buf[64];
    size_t len = strlen(msg), got = 0, sent = 0;
    assert_int_equal(ps_send_all(from, msg, len, &sent, 5000), PS_OK);
    assert_int_equal(sent, len);
    assert_int_equal(ps_recv_exact(to, buf, len, &got, 5000), PS_OK);
    assert_int_equal(got, len);
    assert_memory_equal(buf, msg, len);
}

static void test_accept_returns_distinct_connection(void **state)
{
    (void)state;
    ps_listener *l;
    ps_addr bound;
    ps_test_listen(&l, PS_AF_INET, &bound);
    assert_int_not_equal(ps_addr_port(&bound), 0); /* port 0 was replaced */

    ps_conn *client, *server;
    ps_addr peer, client_local, server_local, client_peer;
    assert_int_equal(ps_connect(&client, &bound, 5000), PS_OK);
    assert_int_equal(ps_accept(l, &server, &peer, 5000), PS_OK);
    assert_true(ps_conn_native(server) != ps_listener_native(l));
    assert_true(ps_conn_native(server) != ps_conn_native(client));

    /* The peer reported by accept is the client's own local address, and
     * the server's local address is the listener's. */
    assert_int_equal(ps_conn_local_addr(client, &client_local), PS_OK);
    assert_true(ps_addr_equal(&peer, &client_local));
    assert_int_equal(ps_conn_local_addr(server, &server_local), PS_OK);
    assert_true(ps_addr_equal(&server_local, &bound));
    assert_int_equal(ps_conn_peer_addr(client, &client_peer), PS_OK);
    assert_true(ps_addr_equal(&client_peer, &bound));

    exchange(client, server, "ping");
    exchange(server, client, "pong");
    ps_close(client);
    ps_close(server);
    ps_listener_close(l);
}

static void test_listener_close_leaves_connections(void **state)
{
    (void)state;
    ps_listener *l;
    ps_addr bound;
    ps_test_listen(&l, PS_AF_INET, &bound);
    ps_conn *client, *server;
    ps_test_connect_pair(l, &client, &server);
    assert_int_equal(ps_listener_close(l), PS_OK);

    exchange(client, server, "after close, client to server");
    exchange(server, client, "after close, server to client");

    /* Nothing listens on the port any more. */
    ps_conn *late;
    assert_int_equal(ps_connect(&late, &bound, 5000), PS_ECONNREFUSED);
    ps_close(client);
    ps_close(server);
}

static void test_clients_one_after_another(void **state)
{
    (void)state;
    ps_listener *l;
    ps_test_listen(&l, PS_AF_INET, NULL);
    for (int i = 0; i < 20; i++) {
        ps_conn *client, *server;
        char msg[32];
        snprintf(msg, sizeof msg, "client %d", i);
        ps_test_connect_pair(l, &client, &server);
        exchange(client, server, msg);
        exchange(server, client, msg);
        ps_close(client);
        ps_close(server);
    }
    ps_listener_close(l);
}

#define CONCURRENT_CLIENTS 8
#define CLIENT_ROUNDS 50

struct client_job {
    ps_addr addr;
    int id;
    int ok;
};

static void client_main(void *arg)
{
    struct client_job *job = arg;
    ps_conn *c;
    if (ps_connect(&c, &job->addr, 10000) != PS_OK)
        return;
    int ok = 1;
    for (int r = 0; r < CLIENT_ROUNDS && ok; r++) {
        unsigned char out[2] = {(unsigned char)job->id, (unsigned char)r};
        unsigned char in[2];
        ok = ps_send_all(c, out, 2, NULL, 10000) == PS_OK &&
             ps_recv_exact(c, in, 2, NULL, 10000) == PS_OK &&
             in[0] == (unsigned char)(out[0] ^ 0xFF) && in[1] == out[1];
    }
    job->ok = ok;
    ps_close(c);
}

struct server_job {
    ps_conn *conn;
    int rounds;
};

static void server_main(void *arg)
{
    struct server_job *job = arg;
    unsigned char buf[2];
    while (ps_recv_exact(job->conn, buf, 2, NULL, 10000) == PS_OK) {
        buf[0] ^= 0xFF;
        if (ps_send_all(job->conn, buf, 2, NULL, 10000) != PS_OK)
            break;
        job->rounds++;
    }
}

static void test_clients_at_once(void **state)
{
    (void)state;
    ps_listener *l;
    ps_addr bound;
    ps_test_listen(&l, PS_AF_INET, &bound);
    struct client_job clients[CONCURRENT_CLIENTS];
    struct server_job servers[CONCURRENT_CLIENTS];
    ps_test_thread *ct[CONCURRENT_CLIENTS], *st[CONCURRENT_CLIENTS];
    for (int i = 0; i < CONCURRENT_CLIENTS; i++) {
        clients[i].addr = bound;
        clients[i].id = i;
        clients[i].ok = 0;
        assert_int_equal(ps_test_thread_start(&ct[i], client_main, &clients[i]),
                         0);
    }
    /* All clients are connected before any is served: the listener holds
     * several pending connections at once. */
    for (int i = 0; i < CONCURRENT_CLIENTS; i++) {
        servers[i].rounds = 0;
        assert_int_equal(ps_accept(l, &servers[i].conn, NULL, 10000), PS_OK);
    }
    for (int i = 0; i < CONCURRENT_CLIENTS; i++)
        assert_int_equal(
            ps_test_thread_start(&st[i], server_main, &servers[i]), 0);
    for (int i = 0; i < CONCURRENT_CLIENTS; i++)
        ps_test_thread_join(ct[i]);
    for (int i = 0; i < CONCURRENT_CLIENTS; i++) {
        ps_test_thread_join(st[i]);
        ps_close(servers[i].conn);
    }
    for (int i = 0; i < CONCURRENT_CLIENTS; i++) {
        assert_true(clients[i].ok);
        assert_int_equal(servers[i].rounds, CLIENT_ROUNDS);
    }
    ps_listener_close(l);
}

static void test_address_in_use(void **state)
{
    (void)state;
    ps_listener *l, *l2;
    ps_addr bound;
    ps_test_listen(&l, PS_AF_INET, &bound);
    assert_int_equal(ps_listen(&l2, &bound, NULL), PS_EADDRINUSE);
    ps_listener_close(l);
}

static void test_no_port_hijack(void **state)
{
    (void)state;
    /* Windows lets a socket with SO_REUSEADDR bind over a live listener
     * unless the listener set SO_EXCLUSIVEADDRUSE; POSIX never does. A
     * portsock listener must be safe from that on both. */
    ps_listener *l;
    ps_addr bound, any;
    ps_test_listen(&l, PS_AF_INET, &bound);
    /* Wine refuses the hijack even without SO_EXCLUSIVEADDRUSE (its
     * port rules differ from Windows', ../shared/WINE.md), so the option
     * itself is checked too: that is what real Windows relies on. */
    assert_int_equal(ps_test_has_safe_reuse(ps_listener_native(l)), 1);
    assert_int_equal(ps_test_try_hijack(&bound), 0);
    ps_listener_close(l);

    ps_addr_any(&any, PS_AF_INET, 0);
    assert_int_equal(ps_listen(&l, &any, NULL), PS_OK);
    assert_int_equal(ps_listener_addr(l, &any), PS_OK);
    assert_int_equal(ps_test_try_hijack(&any), 0);
    /* The listener still serves after the attempt. */
    ps_conn *c, *s2;
    ps_addr loop;
    ps_addr_loopback(&loop, PS_AF_INET, ps_addr_port(&any));
    assert_int_equal(ps_connect(&c, &loop, 5000), PS_OK);
    assert_int_equal(ps_accept(l, &s2, NULL, 5000), PS_OK);
    ps_close(c);
    ps_close(s2);
    ps_listener_close(l);
}

static void test_rebind_after_restart(void **state)
{
    (void)state;
    /* A server that closes first leaves its side in TIME_WAIT; a restarted
     * server must still bind the same port at once. */
    ps_listener *l;
    ps_addr bound;
    ps_test_listen(&l, PS_AF_INET, &bound);
    ps_conn *client, *server;
    ps_test_connect_pair(l, &client, &server);
    exchange(client, server, "x");
    ps_close(server);
    ps_listener_close(l);
    char c;
    assert_int_equal(ps_recv(client, &c, 1, NULL, 5000), PS_ECLOSED);
    ps_close(client);

    assert_int_equal(ps_listen(&l, &bound, NULL), PS_OK);
    ps_test_connect_pair(l, &client, &server);
    exchange(client, server, "restarted");
    ps_close(client);
    ps_close(server);
    ps_listener_close(l);
}

static void test_accepted_inherits_nothing(void **state)
{
    (void)state;
    /* The listener is used without waiting (timeout 0), which on some
     * systems leaves it non-blocking; the accepted connection must still
     * behave exactly like a connected client socket. */
    ps_listener *l;
    ps_addr bound;
    ps_test_listen(&l, PS_AF_INET, &bound);
    ps_conn *client, *server = NULL;
    ps_conn *nothing;
    assert_int_equal(ps_accept(l, &nothing, NULL, 0), PS_EWOULDBLOCK);
    assert_int_equal(ps_connect(&client, &bound, 5000), PS_OK);
    /* The connection reaches the listener's queue shortly after connect
     * returns: wait (bounded) until a poller says one is waiting (the
     * header: PS_READABLE on a listener), then a single timeout-0 accept
     * must take it at once. */
    ps_test_wait_queued(l);
    assert_int_equal(ps_accept(l, &server, NULL, 0), PS_OK);

    ps_conn *ends[2] = {client, server};
    for (int i = 0; i < 2; i++) {
        char c;
        /* timeout 0: would block, at once. */
        assert_int_equal(ps_recv(ends[i], &c, 1, NULL, 0), PS_EWOULDBLOCK);
        /* A short deadline: times out, not earlier. */
        double t0 = ps_test_now_ms();
        assert_int_equal(ps_recv(ends[i], &c, 1, NULL, 100), PS_ETIMEDOUT);
        assert_true(ps_test_now_ms() - t0 >= 99.0);
        assert_int_equal(ps_test_is_inheritable(ps_conn_native(ends[i])), 0);
    }
    /* PS_FOREVER really waits for data that comes later on both ends. */
    exchange(client, server, "forever");
    exchange(server, client, "forever");
    ps_close(client);
    ps_close(server);
    ps_listener_close(l);
}

static void test_ipv6_loopback(void **state)
{
    (void)state;
    if (!ps_test_have_ipv6()) {
        print_message("skip: this machine has no IPv6 loopback (::1)\n");
        skip();
    }
    ps_listener *l;
    ps_addr bound, peer, local;
    ps_test_listen(&l, PS_AF_INET6, &bound);
    assert_int_equal(ps_addr_family(&bound), PS_AF_INET6);
    ps_conn *client, *server;
    assert_int_equal(ps_connect(&client, &bound, 5000), PS_OK);
    assert_int_equal(ps_accept(l, &server, &peer, 5000), PS_OK);
    assert_int_equal(ps_conn_local_addr(client, &local), PS_OK);
    assert_true(ps_addr_equal(&peer, &local));
    exchange(client, server, "v6 up");
    exchange(server, client, "v6 down");
    ps_close(client);
    ps_close(server);

    /* IPv6-only by default: an IPv4 client cannot reach a [::] listener. */
    ps_listener *any6;
    ps_addr a6, v4;
    ps_addr_any(&a6, PS_AF_INET6, 0);
    assert_int_equal(ps_listen(&any6, &a6, NULL), PS_OK);
    assert_int_equal(ps_listener_addr(any6, &a6), PS_OK);
    ps_addr_loopback(&v4, PS_AF_INET, ps_addr_port(&a6));
    assert_int_equal(ps_connect(&client, &v4, 5000), PS_ECONNREFUSED);
    ps_listener_close(any6);

    /* With PS_LISTEN_DUALSTACK it can, and sees ::ffff:127.0.0.1. */
    ps_listen_opts opts = {0, PS_LISTEN_DUALSTACK};
    ps_addr_any(&a6, PS_AF_INET6, 0);
    assert_int_equal(ps_listen(&any6, &a6, &opts), PS_OK);
    assert_int_equal(ps_listener_addr(any6, &a6), PS_OK);
    ps_addr_loopback(&v4, PS_AF_INET, ps_addr_port(&a6));
    assert_int_equal(ps_connect(&client, &v4, 5000), PS_OK);
    assert_int_equal(ps_accept(any6, &server, &peer, 5000), PS_OK);
    char text[PS_ADDR_STRLEN];
    ps_addr_format(&peer, text, sizeof text);
    assert_true(strncmp(text, "[::ffff:127.0.0.1]:", 19) == 0);
    exchange(client, server, "mapped");
    ps_close(client);
    ps_close(server);
    ps_listener_close(any6);
    ps_listener_close(l);
}

/* After an accept that had to wait, the listener's later accepts wait
 * before they try (src/listener.c): each kind of call must still behave as
 * documented on that path: a queued connection is taken at once, nothing
 * queued times out no earlier than asked, PS_FOREVER takes a connection
 * that comes later, and ps_listener_shutdown still wakes it. */
struct later_accept {
    ps_listener *l;
    int rc;
};

static void later_accept_main(void *arg)
{
    struct later_accept *a = arg;
    ps_conn *c = NULL;
    a->rc = ps_accept(a->l, &c, NULL, PS_FOREVER);
    if (c)
        ps_close(c);
}

static void test_accepts_after_a_wait(void **state)
{
    (void)state;
    ps_listener *l;
    ps_addr bound;
    ps_conn *client, *server;
    ps_test_listen(&l, PS_AF_INET, &bound);

    double t0 = ps_test_now_ms();
    assert_int_equal(ps_accept(l, &server, NULL, 100), PS_ETIMEDOUT);
    assert_true(ps_test_now_ms() - t0 >= 100.0);

    /* Queued before the call: taken without waiting for the timeout. */
    assert_int_equal(ps_connect(&client, &bound, 5000), PS_OK);
    t0 = ps_test_now_ms();
    assert_int_equal(ps_accept(l, &server, NULL, 10000), PS_OK);
    assert_true(ps_test_now_ms() - t0 < 5000.0);
    exchange(client, server, "queued");
    ps_close(client);
    ps_close(server);

    t0 = ps_test_now_ms();
    assert_int_equal(ps_accept(l, &server, NULL, 150), PS_ETIMEDOUT);
    double took = ps_test_now_ms() - t0;
    assert_true(took >= 150.0 && took < 5000.0);

    /* PS_FOREVER: a client that comes later is accepted. */
    struct later_accept a = {l, -99};
    ps_test_thread *t;
    assert_int_equal(ps_test_thread_start(&t, later_accept_main, &a), 0);
    ps_test_sleep_ms(100);
    assert_int_equal(ps_connect(&client, &bound, 5000), PS_OK);
    ps_test_thread_join(t);
    assert_int_equal(a.rc, PS_OK);
    ps_close(client);

    /* And a shutdown wakes one that waits for nobody. */
    a.rc = -99;
    assert_int_equal(ps_test_thread_start(&t, later_accept_main, &a), 0);
    ps_test_sleep_ms(150);
    t0 = ps_test_now_ms();
    assert_int_equal(ps_listener_shutdown(l), PS_OK);
    ps_test_thread_join(t);
    assert_int_equal(a.rc, PS_ECANCELED);
    assert_true(ps_test_now_ms() - t0 < 2000.0);
    assert_int_equal(ps_listener_close(l), PS_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_returns_distinct_connection),
        cmocka_unit_test(test_listener_close_leaves_connections),
        cmocka_unit_test(test_clients_one_after_another),
        cmocka_unit_test(test_clients_at_once),
        cmocka_unit_test(test_address_in_use),
        cmocka_unit_test(test_no_port_hijack),
        cmocka_unit_test(test_rebind_after_restart),
        cmocka_unit_test(test_accepted_inherits_nothing),
        cmocka_unit_test(test_ipv6_loopback),
        cmocka_unit_test(test_accepts_after_a_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
