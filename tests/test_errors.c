/* Error codes, names and messages; library start and stop. */
#include "ps_test.h"

#include <string.h>

static void test_codes_and_messages(void **state)
{
    (void)state;
    /* Every code from PS_OK down to PS_EIO has a name and a message. */
    for (int err = PS_OK; err >= PS_EIO; err--) {
        const char *msg = ps_strerror(err);
        const char *name = ps_errname(err);
        assert_non_null(msg);
        assert_non_null(name);
        assert_true(strlen(msg) > 0);
        assert_true(strncmp(name, "PS_", 3) == 0);
        assert_string_not_equal(name, "PS_E?");
        for (int other = err - 1; other >= PS_EIO; other--)
            assert_string_not_equal(msg, ps_strerror(other));
    }
    assert_string_equal(ps_errname(PS_ETIMEDOUT), "PS_ETIMEDOUT");
    assert_string_equal(ps_errname(PS_ECLOSED), "PS_ECLOSED");
    /* Stable values: part of the ABI. */
    assert_int_equal(PS_EINVAL, -1);
    assert_int_equal(PS_ECLOSED, -6);
    assert_int_equal(PS_EIO, -23);
    /* Unknown codes still give text, never NULL. */
    static const int unknown[] = {1, 42, -24, -1000, -2147483647 - 1,
                                  2147483647};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_non_null(ps_strerror(unknown[i]));
        assert_string_equal(ps_errname(unknown[i]), "PS_E?");
    }
}

static void test_os_error_kept(void **state)
{
    (void)state;
    ps_listener *l;
    ps_addr bound;
    ps_test_listen(&l, PS_AF_INET, &bound);
    ps_conn *c;
    /* Bind the same address again: the raw OS code survives. */
    ps_listener *l2;
    assert_int_equal(ps_listen(&l2, &bound, NULL), PS_EADDRINUSE);
    assert_int_not_equal(ps_os_error(), 0);
    /* An argument error has no OS cause. */
    assert_int_equal(ps_connect(&c, NULL, 0), PS_EINVAL);
    assert_int_equal(ps_os_error(), 0);
    ps_listener_close(l);
}

static void test_init_refcount(void **state)
{
    (void)state;
    assert_int_equal(ps_init(), PS_OK);
    assert_int_equal(ps_init(), PS_OK);
    assert_int_equal(ps_cleanup(), PS_OK);
    /* Still started: sockets work between the two cleanups. */
    ps_conn *pair[2];
    assert_int_equal(ps_conn_pair(pair), PS_OK);
    ps_close(pair[0]);
    ps_close(pair[1]);
    assert_int_equal(ps_cleanup(), PS_OK);
    assert_int_equal(ps_cleanup(), PS_EINVAL); /* one too many */
    /* And the lazy start still works after an explicit stop. */
    assert_int_equal(ps_conn_pair(pair), PS_OK);
    ps_close(pair[0]);
    ps_close(pair[1]);
    assert_string_equal(ps_version(), PS_VERSION_STRING);
    assert_int_equal(PS_VERSION_HEX, (PS_VERSION_MAJOR << 16) |
                                         (PS_VERSION_MINOR << 8) |
                                         PS_VERSION_PATCH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes_and_messages),
        cmocka_unit_test(test_os_error_kept),
        cmocka_unit_test(test_init_refcount),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
