/* Address text, sockaddr interop and name resolution. */
#include "ps_test.h"

#include <string.h>

static void roundtrip(const char *text, int family, int port)
{
    ps_addr a;
    char buf[PS_ADDR_STRLEN];
    assert_int_equal(ps_addr_parse(&a, text), PS_OK);
    assert_int_equal(ps_addr_family(&a), family);
    if (family != PS_AF_UNIX)
        assert_int_equal(ps_addr_port(&a), port);
    assert_int_equal(ps_addr_format(&a, buf, sizeof buf), PS_OK);
    assert_string_equal(buf, text);
    ps_addr b;
    assert_int_equal(ps_addr_parse(&b, buf), PS_OK);
    assert_true(ps_addr_equal(&a, &b));
}

static void test_roundtrip_ipv4(void **state)
{
    (void)state;
    roundtrip("127.0.0.1:8080", PS_AF_INET, 8080);
    roundtrip("0.0.0.0:0", PS_AF_INET, 0);
    roundtrip("255.255.255.255:65535", PS_AF_INET, 65535);
    ps_addr a;
    assert_int_equal(ps_addr_parse(&a, "10.1.2.3:7"), PS_OK);
    assert_int_equal(a.u.v4[0], 10);
    assert_int_equal(a.u.v4[3], 3);
}

static void test_roundtrip_ipv6(void **state)
{
    (void)state;
    roundtrip("[::1]:8080", PS_AF_INET6, 8080);
    roundtrip("[::]:0", PS_AF_INET6, 0);
    roundtrip("[fe80::1%2]:80", PS_AF_INET6, 80);
    roundtrip("[2001:db8::ff00:42:8329]:443", PS_AF_INET6, 443);
    roundtrip("[2001:db8:0:1:1:1:1:1]:1", PS_AF_INET6, 1);
    roundtrip("[::ffff:127.0.0.1]:9", PS_AF_INET6, 9);
    roundtrip("[1::]:2", PS_AF_INET6, 2);

    /* Non-canonical input is accepted and formatted canonically. */
    ps_addr a;
    char buf[PS_ADDR_STRLEN];
    assert_int_equal(ps_addr_parse(&a, "[2001:DB8:0:0:0:0:0:1]:5"), PS_OK);
    assert_int_equal(ps_addr_format(&a, buf, sizeof buf), PS_OK);
    assert_string_equal(buf, "[2001:db8::1]:5");
    /* RFC 5952: the longest zero run is compressed, the first on a tie. */
    assert_int_equal(ps_addr_parse(&a, "[1:0:0:2:0:0:0:3]:5"), PS_OK);
    assert_int_equal(ps_addr_format(&a, buf, sizeof buf), PS_OK);
    assert_string_equal(buf, "[1:0:0:2::3]:5");
    assert_int_equal(ps_addr_parse(&a, "[1:0:0:2:0:0:3:4]:5"), PS_OK);
    assert_int_equal(ps_addr_format(&a, buf, sizeof buf), PS_OK);
    assert_string_equal(buf, "[1::2:0:0:3:4]:5");
    assert_int_equal(ps_addr_parse(&a, "[fe80::1%4294967295]:1"), PS_OK);
    assert_int_equal(a.scope_id, 4294967295u);
}

static void test_roundtrip_unix(void **state)
{
    (void)state;
    roundtrip("unix:/tmp/portsock.sock", PS_AF_UNIX, 0);
    char text[8 + PS_UNIX_PATH_MAX];
    strcpy(text, "unix:/");
    memset(text + 6, 'p', PS_UNIX_PATH_MAX - 1);
    text[5 + PS_UNIX_PATH_MAX] = '\0';
    roundtrip(text, PS_AF_UNIX, 0); /* exactly the longest path */
    ps_addr a;
    strcat(text, "x");
    assert_int_equal(ps_addr_parse(&a, text), PS_EINVAL);
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", ":", "127.0.0.1", "127.0.0.1:", ":80", "127.0.0.1:65536",
        "127.0.0.1:99999999999", "127.0.0.1:-1", "127.0.0.1:+80",
        "127.0.0.1:80x", "127.0.0.1 :80", "127.0.0.256:1", "1.2.3:4",
        "1.2.3.4.5:6", "1..2.3:4", "a.b.c.d:1", "::1:80", "[::1]", "[::1]:",
        "[::1:80", "::1]:80", "[::1]80", "[::1]:80]", "[[::1]]:80",
        "[1:2:3:4:5:6:7:8:9]:1", "[1::2::3]:1", "[12345::]:1", "[:1]:1",
        "[1:]:1", "[::g]:1", "[fe80::1%]:1", "[fe80::1%x]:1",
        "[fe80::1%99999999999]:1", "[::1.2.3]:1", "unix:", "Unix:/x",
        "localhost:80", "127.0.0.1:80\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ps_addr a;
        memset(&a, 0xAB, sizeof a);
        ps_addr before = a;
        int rc = ps_addr_parse(&a, bad[i]);
        if (rc != PS_EINVAL)
            fail_msg("\"%s\" parsed with %s", bad[i], ps_errname(rc));
        assert_memory_equal(&a, &before, sizeof a); /* untouched */
    }
    /* Overlong text is rejected without reading past the limit. */
    char longtext[4 * PS_ADDR_STRLEN];
    memset(longtext, '1', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = '\0';
    ps_addr a;
    assert_int_equal(ps_addr_parse(&a, longtext), PS_EINVAL);
}

static void test_parse_n(void **state)
{
    (void)state;
    ps_addr a;
    const char text[] = "127.0.0.1:80garbage";
    assert_int_equal(ps_addr_parse_n(&a, text, 12), PS_OK);
    assert_int_equal(ps_addr_port(&a), 80);
    assert_int_equal(ps_addr_parse_n(&a, text, 13), PS_EINVAL);
    const char nul[] = "127.0.0.1:80\0:1";
    assert_int_equal(ps_addr_parse_n(&a, nul, sizeof nul - 1), PS_EINVAL);
    assert_int_equal(ps_addr_parse_n(&a, nul, 12), PS_OK);
    assert_int_equal(ps_addr_parse_n(&a, "", 0), PS_EINVAL);
    assert_int_equal(ps_addr_parse_n(&a, text, (size_t)-1), PS_EINVAL);
}

static void test_format_small_buffer(void **state)
{
    (void)state;
    ps_addr a;
    assert_int_equal(ps_addr_parse(&a, "[2001:db8::ff00:42:8329%7]:65535"),
                     PS_OK);
    char full[PS_ADDR_STRLEN];
    assert_int_equal(ps_addr_format(&a, full, sizeof full), PS_OK);
    size_t len = strlen(full);
    for (size_t cap = 1; cap <= len + 1; cap++) {
        char buf[PS_ADDR_STRLEN + 8];
        memset(buf, 'Z', sizeof buf);
        int rc = ps_addr_format(&a, buf, cap);
        assert_int_equal(rc, cap > len ? PS_OK : PS_ENOBUFS);
        assert_int_equal(buf[cap - 1 < len ? cap - 1 : len], '\0');
        assert_memory_equal(buf, full, strlen(buf)); /* a prefix */
        for (size_t i = cap; i < sizeof buf; i++)
            assert_int_equal(buf[i], 'Z'); /* nothing past cap */
    }
    char one = 'Z';
    assert_int_equal(ps_addr_format(&a, &one, 0), PS_EINVAL);
    assert_int_equal(one, 'Z');
}

static void test_getters_setters(void **state)
{
    (void)state;
    ps_addr a, b;
    assert_int_equal(ps_addr_loopback(&a, PS_AF_INET, 1234), PS_OK);
    char buf[PS_ADDR_STRLEN];
    assert_int_equal(ps_addr_format(&a, buf, sizeof buf), PS_OK);
    assert_string_equal(buf, "127.0.0.1:1234");
    assert_int_equal(ps_addr_loopback(&a, PS_AF_INET6, 5), PS_OK);
    assert_int_equal(ps_addr_format(&a, buf, sizeof buf), PS_OK);
    assert_string_equal(buf, "[::1]:5");
    assert_int_equal(ps_addr_any(&a, PS_AF_INET, 0), PS_OK);
    assert_int_equal(ps_addr_format(&a, buf, sizeof buf), PS_OK);
    assert_string_equal(buf, "0.0.0.0:0");
    assert_int_equal(ps_addr_any(&a, PS_AF_INET6, 65535), PS_OK);
    assert_int_equal(ps_addr_format(&a, buf, sizeof buf), PS_OK);
    assert_string_equal(buf, "[::]:65535");

    assert_int_equal(ps_addr_loopback(&a, PS_AF_INET, 65536), PS_EINVAL);
    assert_int_equal(ps_addr_loopback(&a, PS_AF_INET, -1), PS_EINVAL);
    assert_int_equal(ps_addr_loopback(&a, PS_AF_UNIX, 1), PS_EINVAL);
    assert_int_equal(ps_addr_any(&a, 99, 1), PS_EINVAL);

    assert_int_equal(ps_addr_loopback(&a, PS_AF_INET, 1), PS_OK);
    b = a;
    assert_true(ps_addr_equal(&a, &b));
    assert_int_equal(ps_addr_set_port(&b, 2), PS_OK);
    assert_false(ps_addr_equal(&a, &b));
    assert_int_equal(ps_addr_port(&b), 2);
    assert_int_equal(ps_addr_set_port(&b, 65536), PS_EINVAL);
    assert_int_equal(ps_addr_set_port(&b, -1), PS_EINVAL);
    assert_int_equal(ps_addr_port(&b), 2);
    ps_addr u;
    assert_int_equal(ps_addr_parse(&u, "unix:/x"), PS_OK);
    assert_int_equal(ps_addr_port(&u), PS_EINVAL);
    assert_int_equal(ps_addr_set_port(&u, 1), PS_EINVAL);
    assert_false(ps_addr_equal(&a, &u));
    ps_addr v6;
    assert_int_equal(ps_addr_loopback(&v6, PS_AF_INET6, 1), PS_OK);
    assert_false(ps_addr_equal(&a, &v6));
}

static void test_sockaddr_interop(void **state)
{
    (void)state;
    static const char *const texts[] = {"192.0.2.7:4242", "[fe80::9%3]:17",
                                        "unix:/run/x.sock"};
    for (size_t i = 0; i < 3; i++) {
        ps_addr a, b;
        unsigned char sa[256];
        size_t len = 0;
        assert_int_equal(ps_addr_parse(&a, texts[i]), PS_OK);
        assert_int_equal(ps_addr_to_sockaddr(&a, sa, sizeof sa, &len), PS_OK);
        assert_true(len > 2 && len <= sizeof sa);
        assert_int_equal(ps_addr_from_sockaddr(&b, sa, len), PS_OK);
        assert_true(ps_addr_equal(&a, &b));
        /* Too small a buffer is refused, not overrun. */
        assert_int_equal(ps_addr_to_sockaddr(&a, sa, len - 1, &len),
                         PS_ENOBUFS);
        assert_int_equal(ps_addr_from_sockaddr(&b, sa, 1), PS_EINVAL);
    }
    /* An unknown family. */
    unsigned char junk[32];
    memset(junk, 0, sizeof junk);
    junk[0] = 0x7f;
    junk[1] = 0x7f;
    ps_addr b;
    assert_int_equal(ps_addr_from_sockaddr(&b, junk, sizeof junk),
                     PS_EAFNOSUPPORT);
}

static void test_resolve_localhost(void **state)
{
    (void)state;
    ps_addr out[8];
    size_t n = 0;
    assert_int_equal(ps_resolve("localhost", "80", PS_AF_UNSPEC, out, 8, &n),
                     PS_OK);
    assert_true(n >= 1 && n <= 8);
    int loop = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ps_addr_port(&out[i]), 80);
        ps_addr l;
        ps_addr_loopback(&l, ps_addr_family(&out[i]), 80);
        loop |= ps_addr_equal(&l, &out[i]);
    }
    assert_true(loop);
    assert_int_equal(ps_resolve("127.0.0.1", "7", PS_AF_INET, out, 1, &n),
                     PS_OK);
    assert_int_equal(n, 1);
    char buf[PS_ADDR_STRLEN];
    ps_addr_format(&out[0], buf, sizeof buf);
    assert_string_equal(buf, "127.0.0.1:7");
    /* .invalid never resolves (RFC 2606); no DNS server is reachable here
     * either way, so the answer is a resolve failure, not a hang. */
    assert_int_equal(ps_resolve("no-such-host.invalid", "80", PS_AF_UNSPEC,
                                out, 8, &n),
                     PS_ERESOLVE);
    assert_int_equal(ps_resolve("localhost", "80", 77, out, 8, &n), PS_EINVAL);
    assert_int_equal(ps_resolve("localhost", "80", PS_AF_UNSPEC, out, 0, &n),
                     PS_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_ipv4),
        cmocka_unit_test(test_roundtrip_ipv6),
        cmocka_unit_test(test_roundtrip_unix),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_parse_n),
        cmocka_unit_test(test_format_small_buffer),
        cmocka_unit_test(test_getters_setters),
        cmocka_unit_test(test_sockaddr_interop),
        cmocka_unit_test(test_resolve_localhost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
