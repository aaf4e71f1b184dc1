/* ps_stdin_conn: standard input as a connection. A pump thread copies stdin
 * into one end of a ps_conn_pair; the caller reads the other end. This is
 * what lets one portable program wait on stdin and sockets together: on
 * Windows a console or pipe cannot be waited on with sockets at all. */
#include "internal.h"

/* Held by the open connection and by the pump thread: 2 while both
 * exist; a new ps_stdin_conn only at 0 (one reader of stdin at a time, and
 * "one per process while one is open"). */
static atomic_int ps__stdin_refs;

void ps__stdin_release(void)
{
    atomic_fetch_sub(&ps__stdin_refs, 1);
}

static void ps__stdin_pump(void *arg)
{
    ps_conn *to = arg;
    char buf[16384];
    for (;;) {
        long n = ps__stdin_read(buf, sizeof buf);
        if (n <= 0)
            break; /* end of input, or a read error: end the stream */
        if (ps_send_all(to, buf, (size_t)n, NULL, PS_FOREVER) != PS_OK)
            break; /* the reader closed its end */
    }
    ps_shutdown(to, PS_SHUT_WR);
    ps_close_linger(to, 1000);
    ps__stdin_release();
}

int ps_stdin_conn(ps_conn **out)
{
    int idle = 0;
    if (!out || !atomic_compare_exchange_strong(&ps__stdin_refs, &idle, 2))
        return ps__fail(PS_EINVAL);
    ps_conn *pair[2];
    int rc = ps_conn_pair(pair);
    if (rc == PS_OK) {
        rc = ps_shutdown(pair[0], PS_SHUT_WR); /* the reader never sends */
        if (rc == PS_OK)
            rc = ps__thread_start(ps__stdin_pump, pair[1]);
        if (rc != PS_OK) {
            ps_close(pair[0]);
            ps_close(pair[1]);
        }
    }
    if (rc != PS_OK) {
        atomic_store(&ps__stdin_refs, 0);
        return rc;
    }
    pair[0]->flags |= PS__CONN_STDIN;
    *out = pair[0];
    return PS_OK;
}

int ps_stdout_binary(void)
{
    return ps__stdout_binary();
}
