/* Uses an installed portsock through its public API only: a connected pair,
 * five bytes one way, compared on arrival. Prints "consumer ok" on success. */
#include <portsock.h>

#include <stdio.h>
#include <string.h>

static int fail(const char *what, int err)
{
    fprintf(stderr, "consumer: %s failed: %s (%s, os error %d)\n", what,
            ps_strerror(err), ps_errname(err), ps_os_error());
    return 1;
}

int main(void)
{
    static const char msg[5] = {'h', 'e', 'l', 'l', 'o'};
    char buf[sizeof msg];
    ps_conn *pair[2] = {NULL, NULL};
    size_t sent = 0;
    size_t got = 0;
    int status = 0;
    int rc;

    rc = ps_conn_pair(pair);
    if (rc != PS_OK)
        return fail("ps_conn_pair", rc);

    rc = ps_send_all(pair[0], msg, sizeof msg, &sent, 5000);
    if (rc != PS_OK) {
        status = fail("ps_send_all", rc);
    } else if (sent != sizeof msg) {
        fprintf(stderr, "consumer: ps_send_all sent %zu of %zu bytes\n",
                sent, sizeof msg);
        status = 1;
    }

    if (status == 0) {
        memset(buf, 0, sizeof buf);
        rc = ps_recv_exact(pair[1], buf, sizeof buf, &got, 5000);
        if (rc != PS_OK) {
            status = fail("ps_recv_exact", rc);
        } else if (got != sizeof msg || memcmp(buf, msg, sizeof msg) != 0) {
            fprintf(stderr, "consumer: received %zu bytes that differ\n", got);
            status = 1;
        }
    }

    rc = ps_close(pair[0]);
    if (rc != PS_OK && status == 0)
        status = fail("ps_close", rc);
    rc = ps_close(pair[1]);
    if (rc != PS_OK && status == 0)
        status = fail("ps_close", rc);

    if (status == 0)
        printf("consumer ok (portsock %s)\n", ps_version());
    return status;
}
