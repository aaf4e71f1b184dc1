/* Winsock connections: connect, one send / receive, shutdown, options.
 * Connection sockets are non-blocking once connected (see socket.c). These
 * calls that wait avoid the try / select / try sequence (three Winsock
 * calls, each a wineserver round trip under Wine, where a raw blocking call
 * makes one):
 * - a connect without deadline (`nonblocking` 0) runs on a blocking socket
 *   and makes it non-blocking once connected: nobody can wake it, since no
 *   handle exists until it returns;
 * - a receive that may block (`may_block`), or that has a deadline
 *   (ps__conn_recv_until), is one overlapped WSARecv and, if that pends,
 *   one wait for it (ps__conn_recv_overlapped).
 * Everything else returns PS_EWOULDBLOCK and the common code waits with
 * ps__sock_wait. */
#include "internal.h"

#include <limits.h>
#include <mstcpip.h>
#include <string.h>

int ps__conn_connect(ps__sock_t s, const ps_addr *addr, int nonblocking)
{
    struct sockaddr_storage ss;
    ps__socklen_t len;
    int rc = ps__addr_to_native(addr, &ss, &len);
    if (rc != PS_OK)
        return rc;
    if (connect(s, (const struct sockaddr *)&ss, len) == 0) {
        if (nonblocking)
            return PS_OK;
        u_long on = 1; /* connected: from now on as every connection */
        if (ioctlsocket(s, FIONBIO, &on) != 0)
            return ps__os_fail(WSAGetLastError());
        return PS_OK;
    }
    int err = WSAGetLastError();
    if (err == WSAEWOULDBLOCK) {
        ps__os_fail(err); /* for diagnostics if the caller stops here */
        return PS_EINPROGRESS;
    }
    if (addr->family == PS_AF_UNIX &&
        (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND)) {
        /* No socket at that path (if Windows reports it with a file error
         * rather than WSAECONNREFUSED: unverified, no Windows here). */
        ps__os_fail(err);
        return PS_ECONNREFUSED;
    }
    return ps__os_fail(err);
}

int ps__conn_connect_result(ps__sock_t s)
{
    int err = 0;
    int len = (int)sizeof err;
    if (getsockopt(s, SOL_SOCKET, SO_ERROR, (char *)&err, &len) != 0)
        return ps__os_fail(WSAGetLastError());
    if (err != 0)
        return ps__os_fail(err);
    /* SO_ERROR is also 0 while the connect is still under way: a wait that
     * ended early (cancelled by ps__conn_shutdown from another thread, see
     * socket.c) must not be taken for a connection. */
    struct sockaddr_storage peer;
    int plen = (int)sizeof peer;
    if (getpeername(s, (struct sockaddr *)&peer, &plen) != 0) {
        err = WSAGetLastError();
        if (err == WSAENOTCONN) {
            ps__os_fail(err);
            return PS_EINPROGRESS;
        }
        return ps__os_fail(err);
    }
    return PS_OK; /* the socket is already in connection mode */
}

int ps__conn_send(ps__sock_t s, const void *buf, size_t len, size_t *sent,
                  int may_block)
{
    (void)may_block;
    int n = send(s, (const char *)buf, len > INT_MAX ? INT_MAX : (int)len, 0);
    if (n == SOCKET_ERROR)
        return ps__os_fail(WSAGetLastError());
    *sent = (size_t)n;
    return PS_OK;
}

/* recv() returned 0: an orderly end of stream, or a reset in disguise.
 * Wine 8 (and only Wine) makes recv return 0 after the peer reset the
 * connection unless a receive was already pending when the RST arrived,
 * and ours never are (non-blocking). Measured there after recv() == 0:
 * getsockopt(SO_ERROR) is 0 in every case and getpeername fails with
 * WSAENOTCONN also after an orderly close that followed our own
 * shutdown(SD_SEND), so neither can tell; a zero-byte send() fails with
 * WSAECONNRESET after a reset (abortive close, or close with unread data)
 * and returns 0 after a FIN (WSAESHUTDOWN if we shut down sending). A
 * zero-byte send puts nothing on the wire. Real Windows reports the reset
 * from recv itself, so there this only costs one call at end of stream. */
static int ps__conn_end_of_stream(ps__sock_t s)
{
    if (send(s, "", 0, 0) == SOCKET_ERROR) {
        int err = WSAGetLastError();
        if (err == WSAECONNRESET || err == WSAECONNABORTED)
            return ps__os_fail(err);
    }
    return ps__fail(PS_ECLOSED);
}

/* ---- receiving with a wait ----------------------------------------------
 * An overlapped WSARecv on a non-blocking socket completes at once when
 * data is there and otherwise pends (overlapped semantics prevail over
 * FIONBIO; libuv relies on the same), so a receive that may block costs
 * one call plus, if it pends, one wait: what a raw blocking recv costs.
 * Measured under Wine 8.0: it pends without data, completes at once with
 * data; CancelIoEx from another thread (ps__conn_shutdown) ends it with
 * WSA_OPERATION_ABORTED and leaves the connection usable; started after
 * shutdown(SD_RECEIVE) it fails at once with WSAESHUTDOWN; a peer's reset
 * that came before it reads as 0 bytes at once (ps__conn_end_of_stream
 * tells), one that comes while it is pending fails it with a reset.
 *
 * The wait needs an event. One per thread, made on first use and closed
 * when the thread ends by the fiber-local-storage callback, costs nothing
 * per call and nothing per connection. The low bit set in hEvent keeps the
 * completion off an I/O completion port the user may have tied the socket
 * to through ps_conn_native. */

static INIT_ONCE ps__recv_event_once = INIT_ONCE_STATIC_INIT;
static DWORD ps__recv_event_slot = FLS_OUT_OF_INDEXES;

static void WINAPI ps__recv_event_free(PVOID event)
{
    if (event)
        CloseHandle((HANDLE)event);
}

static BOOL CALLBACK ps__recv_event_slot_make(PINIT_ONCE once, PVOID param,
                                              PVOID *ctx)
{
    (void)once;
    (void)param;
    (void)ctx;
    ps__recv_event_slot = FlsAlloc(ps__recv_event_free);
    return TRUE; /* FLS_OUT_OF_INDEXES is remembered: no fast path then */
}

/* This thread's event, or NULL (then the caller takes the select path). */
static HANDLE ps__recv_event(void)
{
    InitOnceExecuteOnce(&ps__recv_event_once, ps__recv_event_slot_make, NULL,
                        NULL);
    if (ps__recv_event_slot == FLS_OUT_OF_INDEXES)
        return NULL;
    HANDLE ev = (HANDLE)FlsGetValue(ps__recv_event_slot);
    if (ev)
        return ev;
    ev = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (ev && !FlsSetValue(ps__recv_event_slot, ev)) {
        CloseHandle(ev);
        ev = NULL;
    }
    return ev;
}

void ps__conn_os_unload(void)
{
    /* Before the DLL's code goes: no thread may call the callback later. */
    if (ps__recv_event_slot != FLS_OUT_OF_INDEXES)
        FlsFree(ps__recv_event_slot);
}

/* One receive that waits up to `wait_ms` (INFINITE: as long as it takes):
 * PS_OK with *n bytes (0 is end of stream or, if *pended is 0, maybe a
 * reset: see ps__conn_end_of_stream), PS_EWOULDBLOCK if nothing came in
 * time, if the wait was cancelled (by a shutdown: the common code reads
 * the flag; by anything else: it waits and retries) or if no event could
 * be had, or an error. */
static int ps__conn_recv_overlapped(ps__sock_t s, void *buf, size_t cap,
                                    DWORD *n, int *pended, DWORD wait_ms)
{
    HANDLE ev = ps__recv_event();
    if (!ev)
        return PS_EWOULDBLOCK;
    WSAOVERLAPPED ov;
    memset(&ov, 0, sizeof ov);
    ov.hEvent = (HANDLE)((ULONG_PTR)ev | 1);
    WSABUF b;
    b.buf = (char *)buf;
    b.len = cap > ULONG_MAX ? ULONG_MAX : (ULONG)cap;
    DWORD flags = 0;
    *n = 0;
    *pended = 0;
    if (WSARecv(s, &b, 1, n, &flags, &ov, NULL) == 0)
        return PS_OK;
    int err = WSAGetLastError();
    if (err != WSA_IO_PENDING)
        return ps__os_fail(err);
    *pended = 1;
    /* Out of time: cancel this receive only. It may complete all the same
     * (data that came meanwhile is returned, not lost); either way the
     * buffer and `ov` stay in use until the result below is in. */
    BOOL wait = TRUE;
    if (wait_ms != INFINITE) {
        DWORD w = WaitForSingleObject(ev, wait_ms);
        if (w == WAIT_TIMEOUT)
            CancelIoEx((HANDLE)s, &ov);
        else if (w == WAIT_OBJECT_0)
            wait = FALSE; /* complete: a second wait would cost a call */
    }
    BOOL done = WSAGetOverlappedResult(s, &ov, n, wait, &flags);
    if (!done && !wait && WSAGetLastError() == WSA_IO_INCOMPLETE)
        done = WSAGetOverlappedResult(s, &ov, n, TRUE, &flags);
    if (done)
        return PS_OK;
    err = WSAGetLastError();
    if (err == WSA_OPERATION_ABORTED) {
        ps__os_fail(err); /* for diagnostics */
        return PS_EWOULDBLOCK;
    }
    return ps__os_fail(err);
}

/* After an overlapped receive returned `rc` with `n` bytes. */
static int ps__conn_recv_result(ps__sock_t s, int rc, DWORD n, int pended,
                                size_t *got)
{
    if (rc != PS_OK)
        return rc;
    /* A receive that was pending when the connection ended reports a reset
     * as such, also under Wine (tests/test_conn.c checks both cases): only
     * an immediate 0 needs the zero-byte send. */
    if (n == 0)
        return pended ? ps__fail(PS_ECLOSED) : ps__conn_end_of_stream(s);
    *got = (size_t)n;
    return PS_OK;
}

int ps__conn_recv(ps__sock_t s, void *buf, size_t cap, size_t *got,
                  int may_block)
{
    if (may_block) {
        DWORD n;
        int pended;
        int rc = ps__conn_recv_overlapped(s, buf, cap, &n, &pended, INFINITE);
        return ps__conn_recv_result(s, rc, n, pended, got);
    }
    int n = recv(s, (char *)buf, cap > INT_MAX ? INT_MAX : (int)cap, 0);
    if (n == SOCKET_ERROR)
        return ps__os_fail(WSAGetLastError());
    if (n == 0)
        return ps__conn_end_of_stream(s);
    *got = (size_t)n;
    return PS_OK;
}

/* A receive with a deadline is one overlapped call and one timed wait, not
 * try / select / try. A wait that ends early (Windows waits may end a
 * timer tick early) returns PS_EWOULDBLOCK and the common code waits out
 * the rest with the clock. */
int ps__conn_recv_until(ps__sock_t s, void *buf, size_t cap, size_t *got,
                        ps__deadline dl)
{
    int left = ps__deadline_left_ms(dl);
    if (left == 0)
        return ps__conn_recv(s, buf, cap, got, 0);
    DWORD n;
    int pended;
    int rc = ps__conn_recv_overlapped(s, buf, cap, &n, &pended, (DWORD)left);
    return ps__conn_recv_result(s, rc, n, pended, got);
}

/* ---- vectored I/O -------------------------------------------------------
 * WSASend / WSARecv take WSABUFs ({ULONG len; char *buf}, not ps_iovec's
 * layout), so the buffers are copied into an array on the stack: at most
 * 1,024 of them (Wine fails with WSAEMSGSIZE beyond that, as Linux does
 * beyond IOV_MAX), each length a ULONG. One call also reports its byte
 * count in a DWORD, so it takes at most ULONG_MAX bytes in all: a larger
 * buffer is cut at that size and the common code passes the rest of it in
 * the next call, so no length is ever truncated. Empty buffers are left
 * out. */
#define PS__WSABUF_MAX 1024

static DWORD ps__wsabuf_fill(WSABUF *b, const ps_iovec *iov, size_t count)
{
    DWORD n = 0;
    ULONG total = 0;
    for (size_t i = 0; i < count && n < PS__WSABUF_MAX; i++) {
        ULONG room = ULONG_MAX - total;
        ULONG len = iov[i].len > room ? room : (ULONG)iov[i].len;
        if (len == 0 && iov[i].len > 0)
            break; /* full */
        if (len == 0)
            continue;
        b[n].buf = (char *)iov[i].base;
        b[n].len = len;
        n++;
        total += len;
        if (len < iov[i].len)
            break; /* the rest of this buffer goes in the next call */
    }
    return n;
}

int ps__conn_sendv(ps__sock_t s, const ps_iovec *iov, size_t count,
                   size_t *sent, int may_block)
{
    (void)may_block;
    WSABUF b[PS__WSABUF_MAX];
    DWORD bytes = 0;
    if (WSASend(s, b, ps__wsabuf_fill(b, iov, count), &bytes, 0, NULL,
                NULL) != 0)
        return ps__os_fail(WSAGetLastError());
    *sent = (size_t)bytes;
    return PS_OK;
}

int ps__conn_recvv(ps__sock_t s, const ps_iovec *iov, size_t count,
                   size_t *got, int may_block)
{
    (void)may_block;
    WSABUF b[PS__WSABUF_MAX];
    DWORD bytes = 0, flags = 0;
    if (WSARecv(s, b, ps__wsabuf_fill(b, iov, count), &bytes, &flags, NULL,
                NULL) != 0)
        return ps__os_fail(WSAGetLastError());
    if (bytes == 0)
        return ps__conn_end_of_stream(s);
    *got = (size_t)bytes;
    return PS_OK;
}

/* Measured under Wine 8.0 (a thread blocked in select() on a connected
 * non-blocking socket, readfds + exceptfds, another thread calling
 * shutdown): shutdown(SD_RECEIVE), shutdown(SD_SEND) and shutdown(SD_BOTH)
 * all succeed but none wakes the blocked select (it sleeps until its
 * timeout); on real Windows shutdown is also reported not to release a
 * blocked recv (CPython issue 91913). What does wake a blocked select is
 * CancelIoEx(socket, NULL) from the other thread: the select fails with
 * WSA_OPERATION_ABORTED within 0.2 ms, and the connection is unharmed
 * (sends and the peer's receives still work). So: shutdown() for the
 * semantics, then CancelIoEx to wake whoever waits on this socket now.
 * ps__sock_wait reports the cancelled select as ready, and a cancelled
 * overlapped receive returns PS_EWOULDBLOCK; a woken receiver finds the
 * shutdown flag (set before this call) and reports PS_ECANCELED, or
 * retries recv, which fails with WSAESHUTDOWN after SD_RECEIVE; a woken
 * sender just waits again. Our own sockets
 * never have other overlapped I/O pending that a cancel could disturb.
 * A select that STARTS after SD_RECEIVE returns readable at once under
 * Wine, which closes the window between a receiver's WSAEWOULDBLOCK and
 * its select; whether real Windows does the same is unverified. */
int ps__conn_shutdown(ps__sock_t s, int how)
{
    int sd;
    switch (how) {
    case PS_SHUT_RD:
        sd = SD_RECEIVE;
        break;
    case PS_SHUT_WR:
        sd = SD_SEND;
        break;
    case PS_SHUT_RDWR:
        sd = SD_BOTH;
        break;
    default:
        return ps__fail(PS_EINVAL);
    }
    int err = shutdown(s, sd) != 0 ? WSAGetLastError() : 0;
    /* Wake the waiters even if shutdown failed (e.g. the peer reset the
     * connection): they must see the flag. ERROR_NOT_FOUND just means that
     * nobody was waiting. */
    CancelIoEx((HANDLE)s, NULL);
    if (err != 0)
        return ps__os_fail(err);
    return PS_OK;
}

void ps__conn_abort(ps__sock_t s)
{
    struct linger lg;
    lg.l_onoff = 1;
    lg.l_linger = 0;
    setsockopt(s, SOL_SOCKET, SO_LINGER, (const char *)&lg, (int)sizeof lg);
    closesocket(s);
}

int ps__conn_set_nodelay(ps__sock_t s, int on)
{
    BOOL v = on ? TRUE : FALSE;
    if (setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&v,
                   (int)sizeof v) != 0)
        return ps__os_fail(WSAGetLastError());
    return PS_OK;
}

/* Windows' own defaults when the registry does not change them. */
#define PS__KEEPALIVE_IDLE_S 7200
#define PS__KEEPALIVE_INTERVAL_S 1
/* SIO_KEEPALIVE_VALS takes milliseconds in a u_long (32 bits). */
#define PS__KEEPALIVE_MAX_S (ULONG_MAX / 1000)

int ps__conn_set_keepalive(ps__sock_t s, int on, int idle_s, int interval_s)
{
    BOOL v = on ? TRUE : FALSE;
    if (setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, (const char *)&v,
                   (int)sizeof v) != 0)
        return ps__os_fail(WSAGetLastError());
    if (!on || (idle_s == 0 && interval_s == 0))
        return PS_OK;
    if ((unsigned long)idle_s > PS__KEEPALIVE_MAX_S ||
        (unsigned long)interval_s > PS__KEEPALIVE_MAX_S)
        return ps__fail(PS_EINVAL);

    struct tcp_keepalive ka;
    ka.onoff = 1;
    ka.keepalivetime =
        (u_long)(idle_s ? idle_s : PS__KEEPALIVE_IDLE_S) * 1000u;
    ka.keepaliveinterval =
        (u_long)(interval_s ? interval_s : PS__KEEPALIVE_INTERVAL_S) * 1000u;
    DWORD bytes = 0;
    if (WSAIoctl(s, SIO_KEEPALIVE_VALS, &ka, (DWORD)sizeof ka, NULL, 0, &bytes,
                 NULL, NULL) != 0)
        return ps__os_fail(WSAGetLastError());
    return PS_OK;
}
