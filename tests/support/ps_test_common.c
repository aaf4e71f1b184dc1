/* Platform-neutral test helpers. */
#include "ps_test.h"

uint32_t ps_test_rand(uint32_t *state)
{
    /* xorshift32: enough to make payloads that catch reordering. */
    uint32_t x = *state ? *state : 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

void ps_test_listen(ps_listener **l, int family, ps_addr *bound)
{
    ps_addr a;
    assert_int_equal(ps_addr_loopback(&a, family, 0), PS_OK);
    assert_int_equal(ps_listen(l, &a, NULL), PS_OK);
    if (bound)
        assert_int_equal(ps_listener_addr(*l, bound), PS_OK);
}

void ps_test_connect_pair(ps_listener *l, ps_conn **client, ps_conn **server)
{
    ps_addr a;
    assert_int_equal(ps_listener_addr(l, &a), PS_OK);
    assert_int_equal(ps_connect(client, &a, 10000), PS_OK);
    assert_int_equal(ps_accept(l, server, NULL, 10000), PS_OK);
}

int ps_test_have_ipv6(void)
{
    ps_addr a;
    ps_listener *l;
    if (ps_addr_loopback(&a, PS_AF_INET6, 0) != PS_OK ||
        ps_listen(&l, &a, NULL) != PS_OK)
        return 0;
    ps_listener_close(l);
    return 1;
}
