/* Vectored I/O: ps_sendv (gather, all bytes within one deadline) and
 * ps_recvv (scatter, one transfer), with more buffers than one system call
 * takes (IOV_MAX on POSIX, 1,024 WSABUFs on Windows), large buffers, empty
 * entries, exact counts on every result, and bad input. */
#include "ps_test.h"

#include <stdlib.h>
#include <string.h>

static void close_all(ps_listener *l, ps_conn *a, ps_conn *b)
{
    ps_close(a);
    ps_close(b);
    ps_listener_close(l);
}

/* Cut `buf` into `count` buffers whose lengths come from `lens` (one entry
 * each, in order); returns the total. */
static size_t make_iov(ps_iovec *iov, size_t count, unsigned char *buf,
                       const size_t *lens)
{
    size_t off = 0;
    for (size_t i = 0; i < count; i++) {
        iov[i].base = lens[i] ? buf + off : NULL;
        iov[i].len = lens[i];
        off += lens[i];
    }
    return off;
}

/* Receive into iov[0..count) until `total` bytes arrived, calling
 * ps_recvv on what is left each time (the caller's way of resuming a
 * scatter read). Returns the last result; *got is the bytes received. */
static int recvv_all(ps_conn *c, const ps_iovec *iov, size_t count,
                     size_t total, size_t *got)
{
    ps_iovec *rest = malloc(count * sizeof *rest);
    assert_non_null(rest);
    int rc = PS_OK;
    for (*got = 0; *got < total && rc == PS_OK;) {
        /* Skip the entries already filled, and part of the next one. */
        size_t first = 0, skip = *got;
        for (; skip >= iov[first].len; first++)
            skip -= iov[first].len;
        memcpy(rest, iov + first, (count - first) * sizeof *rest);
        rest[0].base = (char *)rest[0].base + skip;
        rest[0].len -= skip;
        size_t step = 0;
        rc = ps_recvv(c, rest, count - first, &step, 30000);
        assert_true(rc != PS_OK || (step >= 1 && step <= total - *got));
        *got += step;
    }
    free(rest);
    return rc;
}

/* Gather-send `out_iov` from a thread while the receiver scatters into
 * `in_iov`; both move `total` bytes exactly and the data arrive intact. */
static void transfer_check(const ps_iovec *out_iov, size_t out_count,
                           const ps_iovec *in_iov, size_t in_count,
                           const unsigned char *out, unsigned char *in,
                           size_t total)
{
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_pair(&l, &a, &b);
    /* The caller's array is never modified. */
    ps_iovec *copy = malloc(out_count * sizeof *copy);
    assert_non_null(copy);
    memcpy(copy, out_iov, out_count * sizeof *copy);
    ps_test_sender *sender = ps_test_sendv_start(a, out_iov, out_count, 60000);
    size_t got = 0, sent = 0;
    assert_int_equal(recvv_all(b, in_iov, in_count, total, &got), PS_OK);
    assert_int_equal(ps_test_sendv_join(sender, &sent), PS_OK);
    assert_int_equal(sent, total);
    assert_int_equal(got, total);
    assert_memory_equal(copy, out_iov, out_count * sizeof *copy);
    assert_true(ps_test_checksum(in, total) == ps_test_checksum(out, total));
    assert_memory_equal(in, out, total);
    /* Not one byte more. */
    unsigned char extra;
    assert_int_equal(ps_recv(b, &extra, 1, &got, 0), PS_EWOULDBLOCK);
    free(copy);
    close_all(l, a, b);
}

#define SMALL_COUNT 3000

static void test_many_small_buffers(void **state)
{
    (void)state;
    /* 3,000 buffers of 1..64 bytes, every 50th empty: far more than one
     * system call takes (IOV_MAX is 1,024 on Linux). Received into a
     * different cut of 3,000 buffers. */
    size_t *out_lens = malloc(SMALL_COUNT * sizeof *out_lens);
    size_t *in_lens = malloc(SMALL_COUNT * sizeof *in_lens);
    ps_iovec *out_iov = malloc(SMALL_COUNT * sizeof *out_iov);
    ps_iovec *in_iov = malloc(SMALL_COUNT * sizeof *in_iov);
    unsigned char *out = malloc(SMALL_COUNT * 64), *in = malloc(SMALL_COUNT * 64);
    assert_true(out_lens && in_lens && out_iov && in_iov && out && in);
    uint32_t seed = 7;
    size_t total = 0;
    for (size_t i = 0; i < SMALL_COUNT; i++) {
        out_lens[i] = i % 50 == 49 ? 0 : 1 + ps_test_rand(&seed) % 64;
        total += out_lens[i];
    }
    /* The receive side: the same total, cut differently. */
    size_t left = total;
    for (size_t i = 0; i < SMALL_COUNT; i++) {
        size_t want = i % 37 == 0 ? 0 : 1 + ps_test_rand(&seed) % 64;
        if (i == SMALL_COUNT - 1 || want > left)
            want = left;
        in_lens[i] = want;
        left -= want;
    }
    assert_int_equal(left, 0);
    ps_test_fill(out, total, 99);
    memset(in, 0, total);
    assert_int_equal(make_iov(out_iov, SMALL_COUNT, out, out_lens), total);
    assert_int_equal(make_iov(in_iov, SMALL_COUNT, in, in_lens), total);
    transfer_check(out_iov, SMALL_COUNT, in_iov, SMALL_COUNT, out, in, total);
    free(out_lens);
    free(in_lens);
    free(out_iov);
    free(in_iov);
    free(out);
    free(in);
}

#define BIG ((size_t)8 << 20)

static void test_large_buffers(void **state)
{
    (void)state;
    /* 3 x 8 MiB, received into 5 + 11 + 8 MiB. */
    size_t total = 3 * BIG;
    unsigned char *out = malloc(total), *in = malloc(total);
    assert_non_null(out);
    assert_non_null(in);
    ps_test_fill(out, total, 1234);
    memset(in, 0, total);
    const size_t out_lens[3] = {BIG, BIG, BIG};
    const size_t in_lens[4] = {5 << 20, 0, 11 << 20, 8 << 20};
    ps_iovec out_iov[3], in_iov[4];
    make_iov(out_iov, 3, out, out_lens);
    make_iov(in_iov, 4, in, in_lens);
    transfer_check(out_iov, 3, in_iov, 4, out, in, total);
    free(out);
    free(in);
}

static void test_scatter_order(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_pair(&l, &a, &b);
    assert_int_equal(ps_send_all(a, "abcdefghij", 10, NULL, 5000), PS_OK);
    /* One scatter read: empty entries are skipped, buffers filled in
     * order (on loopback all ten bytes are normally there already). */
    char x[3], y[100];
    ps_iovec iov[4] = {{NULL, 0}, {x, sizeof x}, {y, 0}, {y, sizeof y}};
    size_t n = 0;
    assert_int_equal(ps_recvv(b, iov, 4, &n, 5000), PS_OK);
    assert_true(n >= 1 && n <= 10);
    char all[10];
    memcpy(all, x, n < 3 ? n : 3);
    if (n > 3)
        memcpy(all + 3, y, n - 3);
    assert_int_equal(ps_recv_exact(b, all + n, 10 - n, NULL, 5000), PS_OK);
    assert_memory_equal(all, "abcdefghij", 10);
    close_all(l, a, b);
}

static void test_gather_cut_by_deadline(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_pair(&l, &a, &b);
    /* 64 buffers of 1 MiB and one odd-sized one at each end; nobody
     * reads, so the socket buffers fill and the deadline ends the send. */
    enum { N = 66 };
    size_t total = 64 * ((size_t)1 << 20) + 7 + 13;
    unsigned char *out = malloc(total), *in = malloc(total);
    assert_non_null(out);
    assert_non_null(in);
    ps_test_fill(out, total, 555);
    size_t lens[N];
    lens[0] = 7;
    for (size_t i = 1; i < N - 1; i++)
        lens[i] = (size_t)1 << 20;
    lens[N - 1] = 13;
    ps_iovec iov[N];
    assert_int_equal(make_iov(iov, N, out, lens), total);
    size_t sent = 12345;
    double t0 = ps_test_now_ms();
    assert_int_equal(ps_sendv(a, iov, N, &sent, 300), PS_ETIMEDOUT);
    assert_true(ps_test_now_ms() - t0 >= 299.0);
    assert_true(sent > 0 && sent < total);
    /* Exactly `sent` bytes arrive, in order (scattered over the same cut
     * of the receive buffer), and not one more. */
    ps_iovec back[N];
    make_iov(back, N, in, lens);
    size_t got = 0;
    assert_int_equal(recvv_all(b, back, N, sent, &got), PS_OK);
    assert_int_equal(got, sent);
    assert_true(ps_test_checksum(in, sent) == ps_test_checksum(out, sent));
    assert_int_equal(ps_recvv(b, back, N, &got, 200), PS_ETIMEDOUT);
    free(out);
    free(in);
    close_all(l, a, b);
}

static void test_states_and_timeouts(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_pair(&l, &a, &b);
    char buf[8];
    ps_iovec in[2] = {{buf, 3}, {buf + 3, 5}};
    size_t n = 77;
    double t0 = ps_test_now_ms();
    assert_int_equal(ps_recvv(b, in, 2, &n, 0), PS_EWOULDBLOCK);
    assert_int_equal(n, 0);
    assert_int_equal(ps_recvv(b, in, 2, &n, 100), PS_ETIMEDOUT);
    assert_true(ps_test_now_ms() - t0 >= 99.0);
    /* Nothing to send is sent at once. */
    ps_iovec empty[2] = {{NULL, 0}, {buf, 0}};
    assert_int_equal(ps_sendv(a, empty, 2, &n, 0), PS_OK);
    assert_int_equal(n, 0);
    assert_int_equal(ps_sendv(a, NULL, 0, &n, 0), PS_OK);
    /* The local shutdown flags apply as to ps_send / ps_recv. */
    ps_iovec out[2] = {{"ab", 2}, {"c", 1}};
    assert_int_equal(ps_shutdown(a, PS_SHUT_WR), PS_OK);
    assert_int_equal(ps_sendv(a, out, 2, &n, 1000), PS_EPIPE);
    assert_int_equal(n, 0);
    assert_int_equal(ps_shutdown(b, PS_SHUT_RD), PS_OK);
    assert_int_equal(ps_recvv(b, in, 2, &n, 1000), PS_ECANCELED);
    /* The peer's end of stream. */
    assert_int_equal(ps_sendv(b, out, 2, &n, 1000), PS_OK);
    assert_int_equal(n, 3);
    ps_close(b);
    size_t got = 0;
    assert_int_equal(ps_recv_exact(a, buf, 3, &got, 5000), PS_OK);
    assert_memory_equal(buf, "abc", 3);
    assert_int_equal(ps_recvv(a, in, 2, &n, 5000), PS_ECLOSED);
    ps_close(a);
    ps_listener_close(l);
}

static void test_while_connecting(void **state)
{
    (void)state;
    /* A gather send on a connection from ps_connect_start waits for the
     * connect within its own deadline. */
    ps_listener *l;
    ps_addr bound;
    ps_test_listen(&l, PS_AF_INET, &bound);
    ps_conn *a, *b;
    int rc = ps_connect_start(&a, &bound);
    assert_true(rc == PS_OK || rc == PS_EINPROGRESS);
    ps_iovec out[3] = {{"he", 2}, {"llo", 3}, {"!", 1}};
    size_t n = 0;
    assert_int_equal(ps_sendv(a, out, 3, &n, 5000), PS_OK);
    assert_int_equal(n, 6);
    assert_int_equal(ps_accept(l, &b, NULL, 5000), PS_OK);
    char buf[6];
    assert_int_equal(ps_recv_exact(b, buf, 6, NULL, 5000), PS_OK);
    assert_memory_equal(buf, "hello!", 6);
    close_all(l, a, b);
}

static void test_bad_input(void **state)
{
    (void)state;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_pair(&l, &a, &b);
    char buf[4];
    size_t n = 77;
    ps_iovec ok[1] = {{buf, sizeof buf}};
    assert_int_equal(ps_sendv(NULL, ok, 1, &n, 0), PS_EINVAL);
    assert_int_equal(n, 0);
    n = 77;
    assert_int_equal(ps_recvv(NULL, ok, 1, &n, 0), PS_EINVAL);
    assert_int_equal(n, 0);
    /* NULL array with buffers to take. */
    assert_int_equal(ps_sendv(a, NULL, 1, &n, 0), PS_EINVAL);
    assert_int_equal(ps_recvv(a, NULL, 1, &n, 0), PS_EINVAL);
    /* A NULL base with a length (an empty one is fine). */
    ps_iovec null_base[2] = {{buf, 1}, {NULL, 1}};
    assert_int_equal(ps_sendv(a, null_base, 2, &n, 0), PS_EINVAL);
    assert_int_equal(ps_recvv(a, null_base, 2, &n, 0), PS_EINVAL);
    /* Lengths whose sum overflows size_t. */
    ps_iovec huge[3] = {{buf, SIZE_MAX / 2 + 1}, {buf, 1}, {buf, SIZE_MAX / 2}};
    assert_int_equal(ps_sendv(a, huge, 3, &n, 0), PS_EINVAL);
    assert_int_equal(ps_recvv(a, huge, 3, &n, 0), PS_EINVAL);
    /* A scatter read with no room at all. */
    ps_iovec none[2] = {{buf, 0}, {NULL, 0}};
    assert_int_equal(ps_recvv(a, none, 2, &n, 0), PS_EINVAL);
    assert_int_equal(ps_recvv(a, NULL, 0, &n, 0), PS_EINVAL);
    /* Bad timeouts. */
    assert_int_equal(ps_sendv(a, ok, 1, &n, -2), PS_EINVAL);
    assert_int_equal(ps_recvv(a, ok, 1, &n, -2), PS_EINVAL);
    /* Nothing of that disturbed the connection; `sent` / `got` may be
     * NULL. */
    ps_iovec hi[2] = {{"h", 1}, {"i", 1}};
    assert_int_equal(ps_sendv(a, hi, 2, NULL, 5000), PS_OK);
    assert_int_equal(ps_recv_exact(b, buf, 2, NULL, 5000), PS_OK);
    assert_memory_equal(buf, "hi", 2);
    close_all(l, a, b);
}

struct storm_job {
    ps_conn *conn;
    unsigned char *buf;
    size_t len;
    int rc;
};

static void storm_reader(void *arg)
{
    struct storm_job *j = arg;
    j->rc = ps_recv_exact(j->conn, j->buf, j->len, NULL, 60000);
}

static void test_interrupted(void **state)
{
    (void)state;
    const char *why = NULL;
    ps_listener *l;
    ps_conn *a, *b;
    ps_test_pair(&l, &a, &b);
    /* A gather send with and without a deadline, interrupted by signals
     * all along: every byte arrives once, in order. */
    size_t total = (size_t)16 << 20;
    unsigned char *out = malloc(total), *in = malloc(total);
    assert_non_null(out);
    assert_non_null(in);
    ps_test_fill(out, total, 42);
    enum { N = 1500 };
    ps_iovec iov[N];
    size_t piece = total / N;
    for (size_t i = 0; i < N; i++) {
        iov[i].base = out + i * piece;
        iov[i].len = i == N - 1 ? total - i * piece : piece;
    }
    for (int round = 0; round < 2; round++) {
        if (ps_test_signal_storm_start(1, &why) != 0) {
            free(out);
            free(in);
            close_all(l, a, b);
            print_message("skip: %s\n", why ? why : "no signals");
            skip();
        }
        struct storm_job job = {b, in, total, -99};
        ps_test_thread *t;
        assert_int_equal(ps_test_thread_start(&t, storm_reader, &job), 0);
        size_t sent = 0;
        int rc = ps_sendv(a, iov, N, &sent,
                          round == 0 ? PS_FOREVER : 60000);
        long signals = ps_test_signal_storm_stop();
        ps_test_thread_join(t);
        assert_int_equal(rc, PS_OK);
        assert_int_equal(sent, total);
        assert_int_equal(job.rc, PS_OK);
        assert_memory_equal(in, out, total);
        print_message("round %d: %ld signals during the send\n", round,
                      signals);
        memset(in, 0, total);
    }
    free(out);
    free(in);
    close_all(l, a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_small_buffers),
        cmocka_unit_test(test_large_buffers),
        cmocka_unit_test(test_scatter_order),
        cmocka_unit_test(test_gather_cut_by_deadline),
        cmocka_unit_test(test_states_and_timeouts),
        cmocka_unit_test(test_while_connecting),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_interrupted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
