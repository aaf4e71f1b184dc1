/* Poller benchmark server: the raw mechanism under portsock's Windows
 * poller, IOCTL_AFD_POLL on an I/O completion port, written out directly
 * for this one server (no generic poller layer): every socket has one
 * outstanding poll whose IO_STATUS_BLOCK and AFD_POLL_INFO live in its own
 * struct; a completion names that struct; the server handles it and polls
 * again at once. The protocol is in bench_poller.h.
 *
 * The AFD control code, the AFD_POLL_INFO layout and the AFD_POLL_* bits
 * are not in the Windows SDK; they are as declared in ReactOS'
 * drivers/network/afd/include/shared.h and Wine's include/wine/afd.h,
 * defined here under our own names. */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>
#include <winternl.h>

#include "bench_common.h"
#include "bench_poller.h"
#include "bench_thread.h"

#include <stdlib.h>
#include <string.h>

#define API "raw-afd"

#define AFDB_IOCTL_POLL 0x00012024
#define AFDB_RECEIVE 0x0001
#define AFDB_SEND 0x0004
#define AFDB_DISCONNECT 0x0008
#define AFDB_ABORT 0x0010
#define AFDB_LOCAL_CLOSE 0x0020
#define AFDB_ACCEPT 0x0080
#define AFDB_CONNECT_FAIL 0x0100
#define AFDB_STATUS_PENDING ((NTSTATUS)0x00000103L)
#define AFDB_NT_ERROR(s) ((((ULONG)(s)) >> 30) == 3)

typedef struct {
    HANDLE Handle;
    ULONG Events;
    NTSTATUS Status;
} afdb_handle_info;

typedef struct {
    LARGE_INTEGER Timeout;
    ULONG NumberOfHandles;
    ULONG Exclusive;
    afdb_handle_info Handles[1];
} afdb_poll_info;

/* One socket's outstanding poll. */
struct watch {
    IO_STATUS_BLOCK iosb; /* the kernel's while `pending` */
    afdb_poll_info info;
    SOCKET base;
    int pending;
};

struct conn {
    struct watch w; /* first: a completion's pointer is a struct conn * */
    SOCKET s;
    ULONG want;      /* AFDB_RECEIVE or AFDB_SEND */
    size_t off, len; /* unsent echo: buf[off..len) */
    unsigned char buf[BP_BUF];
};

static HANDLE port, afd;
static SOCKET listen_sock = INVALID_SOCKET;
static struct watch listener_watch;
static long outstanding; /* polls not yet come back */

static _Noreturn void fail(const char *what)
{
    bench_die(API, "%s: WSA error %d, Win32 error %lu", what,
              WSAGetLastError(), (unsigned long)GetLastError());
}

int bp_server_option(const char *opt)
{
    (void)opt;
    return 0;
}

const char *bp_server_api(void)
{
    return API;
}

static SOCKET base_socket(SOCKET s)
{
    SOCKET base = INVALID_SOCKET;
    DWORD bytes = 0;
    if (WSAIoctl(s, SIO_BASE_HANDLE, NULL, 0, &base, (DWORD)sizeof base,
                 &bytes, NULL, NULL) != 0 ||
        base == INVALID_SOCKET)
        return s;
    return base;
}

static void set_nonblocking(SOCKET s)
{
    u_long on = 1;
    if (ioctlsocket(s, FIONBIO, &on) != 0)
        fail("ioctlsocket FIONBIO");
}

int bp_server_listen(const struct bp_args *a)
{
    (void)a;
    WSADATA wsa;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
        fail("WSAStartup");
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    listen_sock = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                             WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (listen_sock == INVALID_SOCKET)
        fail("socket");
    BOOL one = TRUE;
    if (setsockopt(listen_sock, SOL_SOCKET, SO_EXCLUSIVEADDRUSE,
                   (const char *)&one, sizeof one) != 0)
        fail("setsockopt SO_EXCLUSIVEADDRUSE");
    if (bind(listen_sock, (struct sockaddr *)&sin, (int)sizeof sin) != 0)
        fail("bind");
    if (listen(listen_sock, SOMAXCONN) != 0)
        fail("listen");
    int len = (int)sizeof sin;
    if (getsockname(listen_sock, (struct sockaddr *)&sin, &len) != 0)
        fail("getsockname");
    set_nonblocking(listen_sock);

    /* The completion port and an AFD endpoint to issue polls through. */
    port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
    if (!port)
        fail("CreateIoCompletionPort");
    WCHAR name[] = L"\\Device\\Afd\\BenchPoll";
    UNICODE_STRING uname;
    uname.Length = (USHORT)(sizeof name - sizeof name[0]);
    uname.MaximumLength = (USHORT)sizeof name;
    uname.Buffer = name;
    OBJECT_ATTRIBUTES attr;
    memset(&attr, 0, sizeof attr);
    attr.Length = (ULONG)sizeof attr;
    attr.ObjectName = &uname;
    IO_STATUS_BLOCK iosb;
    NTSTATUS st = NtCreateFile(&afd, SYNCHRONIZE, &attr, &iosb, NULL, 0,
                               FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN,
                               0, NULL, 0);
    if (AFDB_NT_ERROR(st))
        bench_die(API, "NtCreateFile \\Device\\Afd: status 0x%08lx",
                  (unsigned long)st);
    if (!CreateIoCompletionPort(afd, port, 0, 0))
        fail("CreateIoCompletionPort (afd)");
    (void)SetFileCompletionNotificationModes(afd,
                                             FILE_SKIP_SET_EVENT_ON_HANDLE);
    return ntohs(sin.sin_port);
}

/* Poll `w`'s socket for `events` (errors and hang-ups always). */
static void submit(struct watch *w, ULONG events)
{
    w->info.Timeout.QuadPart = INT64_MAX;
    w->info.NumberOfHandles = 1;
    w->info.Exclusive = FALSE;
    w->info.Handles[0].Handle = (HANDLE)w->base;
    w->info.Handles[0].Events = events | AFDB_DISCONNECT | AFDB_ABORT |
                                AFDB_LOCAL_CLOSE | AFDB_CONNECT_FAIL;
    w->info.Handles[0].Status = 0;
    w->iosb.Status = AFDB_STATUS_PENDING;
    w->iosb.Information = 0;
    NTSTATUS st = NtDeviceIoControlFile(afd, NULL, NULL, w, &w->iosb,
                                        AFDB_IOCTL_POLL, &w->info,
                                        (ULONG)sizeof w->info, &w->info,
                                        (ULONG)sizeof w->info);
    if (AFDB_NT_ERROR(st))
        bench_die(API, "IOCTL_AFD_POLL: status 0x%08lx", (unsigned long)st);
    w->pending = 1;
    outstanding++;
}

/* Send the pending echo; poll for writability while some is left. */
static uint64_t flush(struct conn *k)
{
    size_t before = k->off;
    while (k->off < k->len) {
        int n = send(k->s, (const char *)k->buf + k->off,
                     (int)(k->len - k->off), 0);
        if (n == SOCKET_ERROR) {
            if (WSAGetLastError() == WSAEWOULDBLOCK)
                break;
            fail("send");
        }
        k->off += (size_t)n;
    }
    k->want = k->off < k->len ? AFDB_SEND : AFDB_RECEIVE;
    return k->off - before;
}

/* A completed poll of a connection: act, then poll again. */
static uint64_t on_conn(struct conn *k)
{
    ULONG ev = k->w.info.Handles[0].Events;
    if (AFDB_NT_ERROR(k->w.iosb.Status) ||
        (ev & (AFDB_ABORT | AFDB_DISCONNECT | AFDB_LOCAL_CLOSE)))
        bench_die(API, "a client closed first (events 0x%lx, status 0x%lx)",
                  (unsigned long)ev, (unsigned long)k->w.iosb.Status);
    uint64_t moved = 0;
    if (k->off < k->len) {
        moved = flush(k);
    } else if (ev & AFDB_RECEIVE) {
        int n = recv(k->s, (char *)k->buf, (int)sizeof k->buf, 0);
        if (n == SOCKET_ERROR) {
            if (WSAGetLastError() != WSAEWOULDBLOCK)
                fail("recv");
        } else if (n == 0) {
            bench_die(API, "a client closed first");
        } else {
            k->off = 0;
            k->len = (size_t)n;
            moved = flush(k);
        }
    }
    submit(&k->w, k->want);
    return moved;
}

/* Take the completions of polls still out after their sockets closed (they
 * come back with LOCAL_CLOSE), so that no IO_STATUS_BLOCK is freed under
 * the kernel; bounded in time. Returns 0 if all came back. */
static int drain(void)
{
    OVERLAPPED_ENTRY entries[BP_EVENTS];
    double t0 = bench_now();
    while (outstanding > 0 && bench_now() - t0 < 10.0) {
        ULONG n = 0;
        if (!GetQueuedCompletionStatusEx(port, entries, BP_EVENTS, &n, 1000,
                                         FALSE))
            continue;
        for (ULONG i = 0; i < n; i++) {
            ((struct watch *)entries[i].lpOverlapped)->pending = 0;
            outstanding--;
        }
    }
    return outstanding == 0 ? 0 : -1;
}

void bp_server_run(const struct bp_args *a)
{
    listener_watch.base = base_socket(listen_sock);
    submit(&listener_watch, AFDB_ACCEPT);
    struct conn **conns = calloc((size_t)a->conns, sizeof *conns);
    if (!conns)
        bench_die(API, "out of memory");
    bp_touch(conns, (size_t)a->conns * sizeof *conns); /* resident now */
    long open = 0, max_waits = bp_max_waits(a);
    uint64_t echoed = 0;
    OVERLAPPED_ENTRY entries[BP_EVENTS];
    bp_mark_ready();

    for (long w = 0; echoed < a->expected; w++) {
        if (w >= max_waits)
            bench_die(API, "more than %ld waits", max_waits);
        if ((w & 1023) == 1023)
            bp_check_time(API);
        ULONG n = 0;
        if (!GetQueuedCompletionStatusEx(port, entries, BP_EVENTS, &n,
                                         BP_WAIT_MS, FALSE)) {
            if (GetLastError() != WAIT_TIMEOUT)
                fail("GetQueuedCompletionStatusEx");
            bp_check_time(API);
            continue;
        }
        for (ULONG i = 0; i < n; i++) {
            struct watch *wt = (struct watch *)entries[i].lpOverlapped;
            wt->pending = 0;
            outstanding--;
            if (wt != &listener_watch) {
                echoed += on_conn((struct conn *)wt);
                continue;
            }
            /* Accept until it would block; at most the connections left. */
            while (open < a->conns) {
                SOCKET s = accept(listen_sock, NULL, NULL);
                if (s == INVALID_SOCKET) {
                    int e = WSAGetLastError();
                    if (e == WSAEWOULDBLOCK || e == WSAECONNRESET)
                        break;
                    fail("accept");
                }
                bp_mark_first();
                struct conn *k = malloc(sizeof *k);
                if (!k)
                    bench_die(API, "out of memory");
                memset(&k->w, 0, sizeof k->w);
                k->s = s;
                k->off = k->len = 0;
                k->want = AFDB_RECEIVE;
                set_nonblocking(s);
                if (a->workload == BP_PINGPONG) {
                    BOOL one = TRUE;
                    if (setsockopt(s, IPPROTO_TCP, TCP_NODELAY,
                                   (const char *)&one, sizeof one) != 0)
                        fail("setsockopt TCP_NODELAY");
                }
                k->w.base = base_socket(s);
                submit(&k->w, AFDB_RECEIVE);
                conns[open++] = k;
            }
            submit(&listener_watch, AFDB_ACCEPT);
        }
    }
    /* Everything echoed: close every connection (the server first) and the
     * listener; their polls come back with LOCAL_CLOSE. */
    for (long i = 0; i < open; i++)
        if (closesocket(conns[i]->s) != 0)
            fail("closesocket");
    if (closesocket(listen_sock) != 0)
        fail("closesocket (listener)");
    int drained = drain() == 0;
    for (long i = 0; i < open && drained; i++)
        free(conns[i]); /* a poll that never came back keeps its struct */
    CloseHandle(afd);
    CloseHandle(port);
    bp_mark_done();
    free(conns);
    WSACleanup();
}
