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
}

/* The version three ways: the macros agree with each other (the string is
 * MAJOR.MINOR.PATCH, the number 0xMMmmpp of the same parts), and the
 * library actually linked says the same as the header compiled against. */
static void test_version(void **state)
{
    (void)state;
    char text[64];
    snprintf(text, sizeof text, "%d.%d.%d", PS_VERSION_MAJOR,
             PS_VERSION_MINOR, PS_VERSION_PATCH);
    assert_string_equal(PS_VERSION_STRING, text);
    const char *v = ps_version();
    assert_non_null(v);
    assert_string_equal(v, PS_VERSION_STRING);
    /* The linked library's string, read as numbers, gives PS_VERSION_HEX:
     * each part fits its byte. */
    unsigned major = 999, minor = 999, patch = 999;
    char rest = 0;
    assert_int_equal(sscanf(v, "%u.%u.%u%c", &major, &minor, &patch, &rest),
                     3);
    assert_true(major <= 0xff && minor <= 0xff && patch <= 0xff);
    assert_int_equal((major << 16) | (minor << 8) | patch,
                     (unsigned)PS_VERSION_HEX);
    assert_int_equal(major, PS_VERSION_MAJOR);
    assert_int_equal(minor, PS_VERSION_MINOR);
    assert_int_equal(patch, PS_VERSION_PATCH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes_and_messages),
        cmocka_unit_test(test_os_error_kept),
        cmocka_unit_test(test_init_refcount),
        cmocka_unit_test(test_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
