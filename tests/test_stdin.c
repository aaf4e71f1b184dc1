/* ps_stdin_conn: this process's standard input as a connection. The data
 * checks need a known standard input: tests/pscat/stdin.sh runs this program
 * as `test_stdin FILE < FILE` (under Wine for the Windows build) and the
 * bytes read through the connection must be FILE's, then PS_ECLOSED. Run
 * without an argument (the plain ctest entry), only the checks that never
 * wait on standard input run, and the others are skipped. */
#include "ps_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *expect_path; /* argv[1]: the file fed as stdin */
static ps_conn *in;             /* the one stdin connection, kept open */
static int in_ended;            /* PS_ECLOSED has been read from it */

/* The whole of `path`, read in binary mode. */
static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    assert_int_equal(ferror(f), 0);
    fclose(f);
    *len = n;
    return buf;
}

static void test_one_per_process(void **state)
{
    (void)state;
    assert_int_equal(ps_stdin_conn(NULL), PS_EINVAL);
    assert_int_equal(ps_stdin_conn(&in), PS_OK);
    assert_non_null(in);

    /* A second one while the first is open: refused, out untouched. */
    ps_conn *second = (ps_conn *)&second;
    assert_int_equal(ps_stdin_conn(&second), PS_EINVAL);
    assert_ptr_equal(second, (ps_conn *)&second);

    /* It only delivers: sending on it is refused. */
    size_t sent = 99;
    assert_int_equal(ps_send(in, "x", 1, &sent, 0), PS_EPIPE);
    assert_int_equal(sent, 0);
}

static int have_input(void)
{
    if (expect_path && in)
        return 1;
    print_message("skip: standard input is not a known file here; "
                  "tests/pscat/stdin.sh runs this test as "
                  "'test_stdin FILE < FILE'\n");
    return 0;
}

/* Read it all through a poller, the way a portable program waits on stdin
 * and sockets together: every byte of the file, in order, then the end. */
static void test_bytes_intact(void **state)
{
    (void)state;
    if (!have_input())
        skip();
    size_t len = 0;
    unsigned char *want = read_file(expect_path, &len);

    ps_poller *p;
    assert_int_equal(ps_poller_create(&p, 0), PS_OK);
    assert_int_equal(ps_poller_add(p, in, PS_READABLE, NULL), PS_OK);
    size_t cap = 1 << 16, total = 0;
    unsigned char *buf = malloc(cap);
    assert_non_null(buf);
    int rc = PS_OK;
    while (rc != PS_ECLOSED) {
        ps_event ev;
        size_t n = 0;
        assert_int_equal(ps_poller_wait(p, &ev, 1, &n, 20000), PS_OK);
        if (n == 0)
            fail_msg("nothing from standard input for 20 s after %zu of "
                     "%zu bytes", total, len);
        size_t got = 0;
        rc = ps_recv(in, buf, cap, &got, 0);
        if (rc == PS_EWOULDBLOCK)
            continue; /* a report is a hint: wait again */
        if (rc == PS_ECLOSED)
            break;
        assert_int_equal(rc, PS_OK);
        assert_true(got > 0);
        if (got > len - total)
            fail_msg("%zu bytes more than the file's %zu", total + got - len,
                     len);
        if (memcmp(buf, want + total, got) != 0) {
            size_t i = 0;
            while (buf[i] == want[total + i])
                i++;
            fail_msg("byte %zu differs: 0x%02x read, 0x%02x in the file",
                     total + i, buf[i], want[total + i]);
        }
        total += got;
    }
    assert_int_equal(total, len);
    in_ended = 1;

    /* The end stays the end, with or without waiting. */
    size_t got = 7;
    assert_int_equal(ps_recv(in, buf, cap, &got, 0), PS_ECLOSED);
    assert_int_equal(ps_recv(in, buf, cap, &got, 1000), PS_ECLOSED);
    assert_int_equal(ps_poller_remove(p, in), PS_OK);
    assert_int_equal(ps_poller_close(p), PS_OK);
    free(buf);
    free(want);
}

/* Still one per process after its end of stream has been read: the first
 * connection is open until it is closed. (The reading thread stops after
 * the end, and waits at most a second for the reader: wait past that.) */
static void test_still_one_after_end(void **state)
{
    (void)state;
    if (!have_input())
        skip();
    assert_true(in_ended);
    ps_test_sleep_ms(1500);
    ps_conn *second = NULL;
    int rc = ps_stdin_conn(&second);
    if (rc == PS_OK)
        ps_close(second);
    assert_int_equal(rc, PS_EINVAL);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        expect_path = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_per_process),
        cmocka_unit_test(test_bytes_intact),
        cmocka_unit_test(test_still_one_after_end),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (in)
        ps_close(in);
    return failed;
}
