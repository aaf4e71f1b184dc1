/* Winsock listeners: open, one non-waiting accept, the wake-up, and
 * removing a unix socket file. */
#include "internal.h"

#include <string.h>

/* Save the failing call's code, close `s`, and return the mapped error. */
static int ps__fail_close(SOCKET s, int err)
{
    closesocket(s);
    return ps__os_fail(err);
}

int ps__listener_open(const ps_addr *addr, int backlog, unsigned flags,
                      ps__sock_t *out)
{
    struct sockaddr_storage ss;
    ps__socklen_t len;
    int rc = ps__addr_to_native(addr, &ss, &len);
    if (rc != PS_OK)
        return rc;
    SOCKET s;
    rc = ps__sock_open_stream(addr->family, 1, &s);
    if (rc != PS_OK)
        return rc;

    if (ss.ss_family != AF_UNIX) {
        /* Never SO_REUSEADDR on Windows: it lets another socket bind over a
         * live listener. SO_EXCLUSIVEADDRUSE forbids that, and a restarted
         * server still binds at once over connections in TIME_WAIT. */
        BOOL excl = TRUE;
        if (setsockopt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char *)&excl,
                       (int)sizeof excl) != 0)
            return ps__fail_close(s, WSAGetLastError());
    }
    if (ss.ss_family == AF_INET6) {
        /* Set explicitly: the default differs between systems. */
        DWORD v6only = (flags & PS_LISTEN_DUALSTACK) ? 0 : 1;
        if (setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, (const char *)&v6only,
                       (int)sizeof v6only) != 0)
            return ps__fail_close(s, WSAGetLastError());
    }
    if (bind(s, (const struct sockaddr *)&ss, len) != 0) {
        int err = WSAGetLastError();
        if (err == ERROR_PATH_NOT_FOUND || err == ERROR_FILE_NOT_FOUND) {
            /* A unix path in a directory that does not exist (if Windows
             * reports it with a file error: unverified, no Windows here). */
            ps__fail_close(s, err);
            return PS_EADDRNOTAVAIL;
        }
        return ps__fail_close(s, err);
    }
    if (listen(s, backlog > 0 ? backlog : SOMAXCONN) != 0)
        return ps__fail_close(s, WSAGetLastError());
    *out = s;
    return PS_OK;
}

int ps__listener_accept(ps__sock_t l, ps__sock_t *out, ps_addr *peer,
                        int may_block)
{
    (void)may_block; /* the listener is non-blocking: see socket.c */
    struct sockaddr_storage ss;
    int len = (int)sizeof ss;
    /* No address asked for: none fetched either (Wine's accept() asks the
     * wineserver for the socket's file descriptor to learn it). */
    SOCKET s = accept(l, peer ? (struct sockaddr *)&ss : NULL,
                      peer ? &len : NULL);
    if (s == INVALID_SOCKET) {
        int err = WSAGetLastError();
        /* Winsock's name for "the pending connection was reset before it
         * was accepted" (POSIX: ECONNABORTED). */
        if (err == WSAECONNRESET) {
            ps__os_fail(err);
            return PS_ECONNABORTED;
        }
        return ps__os_fail(err);
    }
    /* The accepted socket has the listener's properties, non-blocking
     * mode included (every test with timeout 0 on an accepted connection
     * would hang otherwise), so no FIONBIO call: each is a wineserver round
     * trip under Wine. Whether it inherits non-inheritability is reported
     * both ways, so that is set explicitly. */
    if (!SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0))
        return ps__fail_close(s, (int)GetLastError());
    if (peer) {
        int rc = ps__addr_from_native(peer, (const struct sockaddr *)&ss,
                                      (size_t)len);
        ps_addr own;
        if (rc != PS_OK && ps__sock_local_addr(l, &own) == PS_OK &&
            own.family == PS_AF_UNIX) {
            /* A local peer that never bound a name may come with no
             * address at all (length 0): it is unnamed, as on POSIX. */
            memset(peer, 0, sizeof *peer);
            peer->family = PS_AF_UNIX;
            rc = PS_OK;
        }
        if (rc != PS_OK) {
            closesocket(s);
            return rc;
        }
    }
    *out = s;
    return PS_OK;
}

/* ---- wake-up ----------------------------------------------------------------
 * Measured under Wine 8.0 (a thread blocked in select() for reading on a
 * non-blocking listener, another thread calling shutdown()):
 * shutdown(l, SD_RECEIVE / SD_SEND / SD_BOTH) all fail with WSAENOTCONN and
 * the select sleeps on until its timeout; real Windows also refuses
 * shutdown on a listening socket (WSAENOTCONN). So the wake-up is a
 * throwaway connection to the listener's own address: the queued
 * connection makes the listener readable now and for every later wait
 * (nothing can be missed between ps_accept's flag check and its select),
 * and ps_accept, seeing the shutdown flag, never hands it out; it is reset
 * when the listener is closed. Only if that connection cannot be made
 * (e.g. a firewall) does CancelIoEx on the listener serve as the fallback:
 * it makes a select already blocked on it fail with WSA_OPERATION_ABORTED
 * (measured under Wine: returns within 0.1 ms), which ps__sock_wait
 * reports as ready, but it cannot help a select that starts later. */

/* Connect a throwaway socket to `l`'s own address and close it. */
static int ps__listener_poke(ps__sock_t l)
{
    struct sockaddr_storage ss;
    int len = (int)sizeof ss;
    if (getsockname(l, (struct sockaddr *)&ss, &len) != 0)
        return ps__os_fail(WSAGetLastError());
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        if (sin->sin_addr.s_addr == htonl(INADDR_ANY))
            sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr)) {
            sin6->sin6_addr = in6addr_loopback;
            sin6->sin6_scope_id = 0;
        }
    }
    int proto = ss.ss_family == AF_UNIX ? 0 : IPPROTO_TCP;
    SOCKET c = WSASocketW(ss.ss_family, SOCK_STREAM, proto, NULL, 0,
                          WSA_FLAG_NO_HANDLE_INHERIT);
    if (c == INVALID_SOCKET)
        return ps__os_fail(WSAGetLastError());
    u_long on = 1;
    if (ioctlsocket(c, FIONBIO, &on) != 0)
        return ps__fail_close(c, WSAGetLastError());
    if (connect(c, (const struct sockaddr *)&ss, len) != 0) {
        int err = WSAGetLastError();
        if (err != WSAEWOULDBLOCK)
            return ps__fail_close(c, err);
        /* A local connect completes at once unless the backlog is full (then
         * the listener is readable anyway): bound the wait. */
        int rc = ps__sock_wait(c, PS__WAIT_WRITE, 1000);
        if (rc != PS_OK) {
            closesocket(c);
            return rc == PS_ETIMEDOUT ? ps__fail(PS_ETIMEDOUT) : rc;
        }
        int soerr = 0;
        int optlen = (int)sizeof soerr;
        if (getsockopt(c, SOL_SOCKET, SO_ERROR, (char *)&soerr, &optlen) != 0)
            return ps__fail_close(c, WSAGetLastError());
        if (soerr != 0)
            return ps__fail_close(c, soerr);
    }
    /* A graceful close (FIN): the connection stays queued on the listener. */
    closesocket(c);
    return PS_OK;
}

int ps__listener_wake(ps__sock_t l)
{
    int rc = ps__listener_poke(l);
    if (rc == PS_OK)
        return PS_OK;
    if (CancelIoEx((HANDLE)l, NULL) || GetLastError() == ERROR_NOT_FOUND)
        return PS_OK; /* woken, or nobody was waiting */
    return rc;
}

/* ---- local sockets ------------------------------------------------------
 * Windows 10 represents a bound AF_UNIX socket as a file carrying the
 * reparse tag IO_REPARSE_TAG_AF_UNIX. Only such a file is removed: any
 * other file at the path is not a stale socket, whatever a connect to it
 * answered, and is never deleted. */
int ps__unix_path_remove(const char *path)
{
    if (strpbrk(path, "*?"))
        return ps__fail(PS_EADDRINUSE); /* a pattern, not one file */
    WIN32_FIND_DATAA fd;
    HANDLE h = FindFirstFileA(path, &fd);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD err = GetLastError();
        if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND)
            return PS_OK; /* already gone */
        return ps__os_fail((int)err);
    }
    FindClose(h);
    if (!(fd.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) ||
        fd.dwReserved0 != IO_REPARSE_TAG_AF_UNIX)
        return ps__fail(PS_EADDRINUSE);
    if (!DeleteFileA(path)) {
        DWORD err = GetLastError();
        if (err != ERROR_FILE_NOT_FOUND)
            return ps__os_fail((int)err);
    }
    return PS_OK;
}
