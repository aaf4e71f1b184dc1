/* Winsock sockets: creation, waiting for readiness, addresses.
 *
 * Mode choice: on Windows every listener, datagram socket and connection
 * this backend hands out is NON-BLOCKING (FIONBIO = 1) for its whole life.
 * Winsock has no per-call MSG_DONTWAIT, so a blocking socket could not do a
 * timeout-0 call, and a blocking send/recv cannot be woken from another
 * thread (shutdown does not release it). Waits happen in ps__sock_wait
 * (select) or, for a receive without deadline, in an overlapped WSARecv
 * (conn.c); another thread can interrupt both. The one exception: a
 * connect without deadline runs in blocking mode (conn.c says why).
 *
 * Sockets are created overlapped (so they can also be used with I/O
 * completion ports by a poller or by the user through ps_*_native) and not
 * inheritable.
 */
#include "internal.h"

int ps__sock_open(int family, int type, int nonblocking, ps__sock_t *out)
{
    int rc = ps__os_lazy_init();
    if (rc != PS_OK)
        return rc;
    int af = ps__family_to_native(family);
    if (af == AF_UNSPEC)
        return ps__fail(PS_EAFNOSUPPORT);
    int proto = af == AF_UNIX ? 0 : type == SOCK_DGRAM ? IPPROTO_UDP
                                                       : IPPROTO_TCP;

    SOCKET s = WSASocketW(af, type, proto, NULL, 0,
                          WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET && WSAGetLastError() == WSAEINVAL) {
        /* Windows 7 before SP1 does not know WSA_FLAG_NO_HANDLE_INHERIT:
         * create the socket without it and clear the flag by hand. */
        s = WSASocketW(af, type, proto, NULL, 0, WSA_FLAG_OVERLAPPED);
        if (s != INVALID_SOCKET &&
            !SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0)) {
            int err = (int)GetLastError();
            closesocket(s);
            return ps__os_fail(err);
        }
    }
    if (s == INVALID_SOCKET)
        return ps__os_fail(WSAGetLastError());

    u_long on = 1;
    if (nonblocking && ioctlsocket(s, FIONBIO, &on) != 0) {
        int err = WSAGetLastError();
        closesocket(s);
        return ps__os_fail(err);
    }
    *out = s;
    return PS_OK;
}

int ps__sock_open_stream(int family, int nonblocking, ps__sock_t *out)
{
    return ps__sock_open(family, SOCK_STREAM, nonblocking, out);
}

void ps__sock_close(ps__sock_t s)
{
    closesocket(s);
}

/* select() on the one socket. A write wait also watches exceptfds: that is
 * where Winsock reports a failed non-blocking connect.
 *
 * A select that fails with WSA_OPERATION_ABORTED was cancelled by
 * CancelIoEx on the socket from another thread (ps__conn_shutdown): it is
 * reported as ready (PS_OK). Callers treat readiness as a hint: they retry
 * the operation, look at the shutdown flags when it fails, and wait again
 * on PS_EWOULDBLOCK, so a spurious PS_OK is always harmless, whereas
 * PS__EINTR would send ps__wait_until straight back into select. */
int ps__sock_wait(ps__sock_t s, int events, int timeout_ms)
{
    fd_set rd, wr, ex;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_ZERO(&ex);
    if (events & PS__WAIT_READ)
        FD_SET(s, &rd);
    if (events & PS__WAIT_WRITE) {
        FD_SET(s, &wr);
        FD_SET(s, &ex);
    }
    struct timeval tv, *tvp = NULL;
    if (timeout_ms >= 0) {
        tv.tv_sec = timeout_ms / 1000;
        tv.tv_usec = (timeout_ms % 1000) * 1000;
        tvp = &tv;
    }
    /* The first argument is ignored by Winsock. */
    int n = select(0, (events & PS__WAIT_READ) ? &rd : NULL,
                   (events & PS__WAIT_WRITE) ? &wr : NULL,
                   (events & PS__WAIT_WRITE) ? &ex : NULL, tvp);
    if (n == SOCKET_ERROR) {
        int err = WSAGetLastError();
        if (err == WSA_OPERATION_ABORTED)
            return PS_OK;
        return ps__os_fail(err);
    }
    if (n == 0)
        return PS_ETIMEDOUT;
    return PS_OK;
}

int ps__sock_local_addr(ps__sock_t s, ps_addr *out)
{
    struct sockaddr_storage ss;
    int len = (int)sizeof ss;
    if (getsockname(s, (struct sockaddr *)&ss, &len) != 0)
        return ps__os_fail(WSAGetLastError());
    return ps__addr_from_native(out, (const struct sockaddr *)&ss,
                                (size_t)len);
}

int ps__sock_peer_addr(ps__sock_t s, ps_addr *out)
{
    struct sockaddr_storage ss;
    int len = (int)sizeof ss;
    if (getpeername(s, (struct sockaddr *)&ss, &len) != 0)
        return ps__os_fail(WSAGetLastError());
    return ps__addr_from_native(out, (const struct sockaddr *)&ss,
                                (size_t)len);
}

int ps__sock_setopt(ps__sock_t s, int level, int name, const void *val,
                    size_t len)
{
    if (setsockopt(s, level, name, (const char *)val, (int)len) != 0)
        return ps__os_fail(WSAGetLastError());
    return PS_OK;
}
