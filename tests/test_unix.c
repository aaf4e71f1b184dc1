/* Local (unix-domain) stream sockets: "unix:/path" with ps_listen,
 * ps_accept and ps_connect on Linux and Windows 10+; the socket file's life
 * (removed at listener close, a stale one reclaimed, a live one or another
 * file never touched); path limits. Under Wine there is no AF_UNIX: the
 * tests check that ps_listen says so and skip the rest. */
#include "ps_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int skip_under_wine(void)
{
    if (!ps_test_is_wine())
        return 0;
    print_message("skip: WINE.md row 'AF_UNIX stream sockets: no' "
                  "(socket(AF_UNIX) fails with WSAEAFNOSUPPORT)\n");
    return 1;
}

/* A path in the temporary directory, unique to this process; a leftover
 * from an earlier run is removed. */
static void temp_unix_addr(ps_addr *a, const char *name)
{
    char text[PS_ADDR_STRLEN];
    int n = snprintf(text, sizeof text, "unix:%sps-%lu-%s", ps_test_temp_dir(),
                     ps_test_pid(), name);
    assert_true(n > 0 && (size_t)n < sizeof text);
    assert_int_equal(ps_addr_parse(a, text), PS_OK);
    remove(a->u.path);
}

static void exchange(ps_conn *a, ps_conn *b, const char *what)
{
    size_t len = strlen(what);
    char buf[64];
    assert_true(len < sizeof buf);
    assert_int_equal(ps_send_all(a, what, len, NULL, 5000), PS_OK);
    assert_int_equal(ps_recv_exact(b, buf, len, NULL, 5000), PS_OK);
    assert_memory_equal(buf, what, len);
}

static void test_listen_connect_data(void **state)
{
    (void)state;
    ps_addr path;
    temp_unix_addr(&path, "basic.sock");
    ps_listener *l;
    if (ps_test_is_wine()) {
        /* The documented answer where the system has no local sockets. */
        assert_int_equal(ps_listen(&l, &path, NULL), PS_EAFNOSUPPORT);
        ps_conn *c;
        assert_int_equal(ps_connect(&c, &path, 1000), PS_EAFNOSUPPORT);
    }
    if (skip_under_wine())
        skip();
    assert_int_equal(ps_listen(&l, &path, NULL), PS_OK);
    assert_true(ps_test_path_exists(path.u.path));
    ps_addr bound;
    assert_int_equal(ps_listener_addr(l, &bound), PS_OK);
    assert_int_equal(ps_addr_family(&bound), PS_AF_UNIX);
    assert_string_equal(bound.u.path, path.u.path);

    ps_conn *c, *s;
    assert_int_equal(ps_connect(&c, &path, 5000), PS_OK);
    ps_addr peer;
    memset(&peer, 0x55, sizeof peer);
    assert_int_equal(ps_accept(l, &s, &peer, 5000), PS_OK);
    /* The client never bound a name: an unnamed peer is PS_AF_UNIX with
     * an empty path. */
    assert_int_equal(ps_addr_family(&peer), PS_AF_UNIX);
    assert_string_equal(peer.u.path, "");
    ps_addr server_name;
    assert_int_equal(ps_conn_peer_addr(c, &server_name), PS_OK);
    assert_string_equal(server_name.u.path, path.u.path);

    exchange(c, s, "ping");
    exchange(s, c, "pong");
    /* A bulk transfer, gathered from three buffers. */
    size_t len = (size_t)4 << 20;
    unsigned char *out = malloc(len), *in = malloc(len);
    assert_non_null(out);
    assert_non_null(in);
    ps_test_fill(out, len, 3);
    ps_iovec iov[3] = {{out, 1000},
                       {out + 1000, len / 2},
                       {out + 1000 + len / 2, len - 1000 - len / 2}};
    ps_test_sender *sender = ps_test_sendv_start(c, iov, 3, 30000);
    assert_int_equal(ps_recv_exact(s, in, len, NULL, 30000), PS_OK);
    assert_int_equal(ps_test_sendv_join(sender, NULL), PS_OK);
    assert_memory_equal(in, out, len);
    free(out);
    free(in);

    /* Closing the listener removes the file and leaves the connection
     * working. */
    assert_int_equal(ps_listener_close(l), PS_OK);
    assert_false(ps_test_path_exists(path.u.path));
    exchange(c, s, "still here");
    exchange(s, c, "both ways");
    ps_close(c);
    char b;
    size_t got;
    assert_int_equal(ps_recv(s, &b, 1, &got, 5000), PS_ECLOSED);
    ps_close(s);
    /* Nobody listens there any more. */
    assert_int_equal(ps_connect(&c, &path, 5000), PS_ECONNREFUSED);
}

static void test_timeouts_and_start(void **state)
{
    (void)state;
    if (skip_under_wine())
        skip();
    ps_addr path;
    temp_unix_addr(&path, "start.sock");
    ps_listener *l;
    assert_int_equal(ps_listen(&l, &path, NULL), PS_OK);
    ps_conn *c, *s;
    assert_int_equal(ps_accept(l, &s, NULL, 0), PS_EWOULDBLOCK);
    assert_int_equal(ps_accept(l, &s, NULL, 50), PS_ETIMEDOUT);

    /* Without a deadline, and in two halves for a poller. */
    assert_int_equal(ps_connect(&c, &path, PS_FOREVER), PS_OK);
    assert_int_equal(ps_accept(l, &s, NULL, 5000), PS_OK);
    exchange(c, s, "forever");
    char buf[4];
    size_t got;
    assert_int_equal(ps_recv(c, buf, sizeof buf, &got, 50), PS_ETIMEDOUT);
    ps_close(c);
    ps_close(s);
    int rc = ps_connect_start(&c, &path);
    assert_true(rc == PS_OK || rc == PS_EINPROGRESS);
    assert_int_equal(ps_connect_finish(c, 5000), PS_OK);
    assert_int_equal(ps_accept(l, &s, NULL, 5000), PS_OK);
    exchange(c, s, "started");
    ps_close(c);
    ps_close(s);
    /* Timeout 0: connected at once, or it would have had to wait. */
    rc = ps_connect(&c, &path, 0);
    assert_true(rc == PS_OK || rc == PS_EWOULDBLOCK);
    if (rc == PS_OK)
        ps_close(c);
    /* ps_listener_shutdown wakes and cancels accepts as for TCP. */
    assert_int_equal(ps_listener_shutdown(l), PS_OK);
    assert_int_equal(ps_accept(l, &s, NULL, 5000), PS_ECANCELED);
    ps_listener_close(l);
    assert_false(ps_test_path_exists(path.u.path));
}

static void test_stale_path_reused(void **state)
{
    (void)state;
    if (skip_under_wine())
        skip();
    ps_addr path;
    temp_unix_addr(&path, "stale.sock");
    /* What a server that died leaves: the file, nobody listening. */
    assert_int_equal(ps_test_unix_stale(path.u.path), 0);
    assert_true(ps_test_path_exists(path.u.path));
    ps_conn *c, *s;
    assert_int_equal(ps_connect(&c, &path, 5000), PS_ECONNREFUSED);
    ps_listener *l;
    assert_int_equal(ps_listen(&l, &path, NULL), PS_OK);
    assert_int_equal(ps_connect(&c, &path, 5000), PS_OK);
    assert_int_equal(ps_accept(l, &s, NULL, 5000), PS_OK);
    exchange(c, s, "reclaimed");
    ps_close(c);
    ps_close(s);
    ps_listener_close(l);
    assert_false(ps_test_path_exists(path.u.path));
}

static void test_live_listener_in_use(void **state)
{
    (void)state;
    if (skip_under_wine())
        skip();
    ps_addr path;
    temp_unix_addr(&path, "live.sock");
    ps_listener *l, *l2;
    assert_int_equal(ps_listen(&l, &path, NULL), PS_OK);
    assert_int_equal(ps_listen(&l2, &path, NULL), PS_EADDRINUSE);
    /* The first listener lost nothing: its file is there and it accepts.
     * The refused listen's probe connection may be queued before ours
     * (closed: its first receive is the end of stream). */
    assert_true(ps_test_path_exists(path.u.path));
    ps_conn *c, *s = NULL;
    assert_int_equal(ps_connect(&c, &path, 5000), PS_OK);
    assert_int_equal(ps_send_all(c, "first", 5, NULL, 5000), PS_OK);
    char buf[5];
    int rc = PS_ECLOSED;
    for (int i = 0; i < 2 && rc == PS_ECLOSED; i++) {
        assert_int_equal(ps_accept(l, &s, NULL, 5000), PS_OK);
        rc = ps_recv_exact(s, buf, sizeof buf, NULL, 5000);
        if (rc != PS_OK)
            ps_close(s);
    }
    assert_int_equal(rc, PS_OK);
    assert_memory_equal(buf, "first", 5);
    ps_close(c);
    ps_close(s);
    ps_listener_close(l);
    assert_false(ps_test_path_exists(path.u.path));
}

static void test_full_queue_is_in_use(void **state)
{
    (void)state;
    if (skip_under_wine())
        skip();
    ps_addr path;
    temp_unix_addr(&path, "full.sock");
    ps_listener *l;
    ps_listen_opts opts = {1, 0};
    assert_int_equal(ps_listen(&l, &path, &opts), PS_OK);
    /* Fill the listener's queue (nobody accepts). */
    enum { MAX = 64 };
    ps_conn *c[MAX];
    int n = 0, rc = PS_OK;
    while (n < MAX && (rc = ps_connect(&c[n], &path, 0)) == PS_OK)
        n++;
    print_message("queue full after %d connects: %s\n", n, ps_errname(rc));
    ps_listener *l2;
    if (rc == PS_ECONNREFUSED) {
        /* A system that refuses when the queue is full (the BSD way) looks
         * like a dead listener to the stale-path probe. */
        print_message("skip: this system refuses connects to a full queue, "
                      "so a busy listener cannot be told from a dead one\n");
    } else {
        /* A busy listener is alive: its path is in use, its file stays. */
        assert_int_equal(ps_listen(&l2, &path, NULL), PS_EADDRINUSE);
        assert_true(ps_test_path_exists(path.u.path));
    }
    for (int i = 0; i < n; i++)
        ps_close(c[i]);
    ps_listener_close(l);
}

static void test_other_file_in_use(void **state)
{
    (void)state;
    if (skip_under_wine())
        skip();
    ps_addr path;
    temp_unix_addr(&path, "precious.txt");
    FILE *f = fopen(path.u.path, "wb");
    assert_non_null(f);
    assert_int_equal(fputs("precious", f) >= 0, 1);
    fclose(f);
    /* A file that is not a socket is never taken for a stale one. */
    ps_listener *l;
    assert_int_equal(ps_listen(&l, &path, NULL), PS_EADDRINUSE);
    ps_conn *c;
    assert_int_not_equal(ps_connect(&c, &path, 1000), PS_OK);
    f = fopen(path.u.path, "rb");
    assert_non_null(f);
    char buf[16] = {0};
    assert_int_equal(fread(buf, 1, sizeof buf - 1, f), 8);
    fclose(f);
    assert_string_equal(buf, "precious");
    assert_int_equal(remove(path.u.path), 0);
}

static void test_path_limits(void **state)
{
    (void)state;
    if (skip_under_wine())
        skip();
    /* The longest path there is room for works, and is not truncated. */
    ps_addr path;
    temp_unix_addr(&path, "");
    size_t len = strlen(path.u.path);
    assert_true(len < PS_UNIX_PATH_MAX);
    memset(path.u.path + len, 'x', PS_UNIX_PATH_MAX - len);
    path.u.path[PS_UNIX_PATH_MAX] = '\0';
    remove(path.u.path);
    ps_listener *l;
    assert_int_equal(ps_listen(&l, &path, NULL), PS_OK);
    ps_addr bound;
    assert_int_equal(ps_listener_addr(l, &bound), PS_OK);
    assert_int_equal(strlen(bound.u.path), PS_UNIX_PATH_MAX);
    assert_string_equal(bound.u.path, path.u.path);
    ps_conn *c, *s;
    assert_int_equal(ps_connect(&c, &path, 5000), PS_OK);
    assert_int_equal(ps_accept(l, &s, NULL, 5000), PS_OK);
    exchange(s, c, "long");
    ps_close(c);
    ps_close(s);
    ps_listener_close(l);
    assert_false(ps_test_path_exists(path.u.path));

    /* One more byte (no room for the NUL) is refused, not truncated. */
    ps_addr too_long = path;
    too_long.u.path[PS_UNIX_PATH_MAX] = 'x';
    assert_int_equal(ps_listen(&l, &too_long, NULL), PS_EINVAL);
    assert_int_equal(ps_connect(&c, &too_long, 1000), PS_EINVAL);
    assert_false(ps_test_path_exists(path.u.path));
}

static void test_connect_refused(void **state)
{
    (void)state;
    if (skip_under_wine())
        skip();
    ps_addr path;
    temp_unix_addr(&path, "missing.sock");
    ps_conn *c;
    /* No file at all, with and without a deadline, and no directory. */
    assert_int_equal(ps_connect(&c, &path, 5000), PS_ECONNREFUSED);
    assert_int_equal(ps_connect(&c, &path, PS_FOREVER), PS_ECONNREFUSED);
    temp_unix_addr(&path, "no-such-dir/x.sock");
    assert_int_equal(ps_connect(&c, &path, 5000), PS_ECONNREFUSED);
    /* Listening there: the address is not available. */
    ps_listener *l;
    assert_int_equal(ps_listen(&l, &path, NULL), PS_EADDRNOTAVAIL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_connect_data),
        cmocka_unit_test(test_timeouts_and_start),
        cmocka_unit_test(test_stale_path_reused),
        cmocka_unit_test(test_live_listener_in_use),
        cmocka_unit_test(test_full_queue_is_in_use),
        cmocka_unit_test(test_other_file_in_use),
        cmocka_unit_test(test_path_limits),
        cmocka_unit_test(test_connect_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
