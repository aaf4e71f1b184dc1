/* Poller mechanism for Windows: IOCTL_AFD_POLL on an I/O completion port.
 *
 * Why AFD and not one of the documented calls:
 * - WSAPoll scans every socket on every call; under Wine its cost grows with
 *   the square of the socket count (~16 ms a call at 2,000 sockets, per
 *   the project's Wine notes, shared/WINE.md), and older Windows versions
 *   report a failed non-blocking connect as nothing at all instead of
 *   POLLERR/POLLHUP.
 * - select is bounded by FD_SETSIZE and also rescans everything.
 * - IOCTL_AFD_POLL is what WSAPoll and select are built on inside the
 *   kernel's socket driver (AFD): one asynchronous poll request per socket,
 *   completed through an I/O completion port when the socket becomes ready,
 *   so a wait costs nothing per idle socket. It reports connect failures
 *   (AFD_POLL_CONNECT_FAIL) and works under Wine 8 (receive, disconnect,
 *   connect-fail and local-close events, cancellation: WINE.md, AFD row).
 *   The same mechanism is under wepoll, mio (Rust) and libuv's uv_poll.
 *   (Under Wine 8 each outstanding poll still adds a little to the cost of
 *   every socket event, as the wineserver scans one list of all polls:
 *   measured on loopback, a round trip with 2,000 / 4,000 / 8,000 other
 *   registered sockets took about 1.1 / 2.5 / 8.5 ms, against 12 / 47 /
 *   234 ms with WSAPoll over the same sockets.)
 *
 * The AFD structures and constants are not in the Windows SDK. Their layout
 * (AFD_POLL_INFO, AFD_POLL_HANDLE_INFO), the control code IOCTL_AFD_POLL
 * (0x00012024) and the AFD_POLL_* bits are as declared in ReactOS'
 * drivers/network/afd/include/shared.h ("afd/shared.h") and in Wine's
 * include/wine/afd.h, and as used by wepoll and libuv. They are defined
 * below under our own names.
 *
 * Design (one poller = one completion port + one \Device\Afd handle):
 * - Each registration owns a heap struct (afd_reg) holding the
 *   IO_STATUS_BLOCK and AFD_POLL_INFO of its one outstanding poll, its
 *   events and user pointer. The live ones are listed in a table that
 *   h->reg indexes (a removal moves the last one into the gap). The
 *   poll's APC context is the afd_reg pointer, so a completion names the
 *   registration, never the socket value: a socket value reused by Windows
 *   cannot be confused with an old registration.
 * - Level-triggered: a completed poll is translated into an event and the
 *   registration goes on the "update" list; every wait first re-submits the
 *   polls of the registrations on that list, so a socket that is still
 *   ready completes again at once (a poll on a ready socket completes
 *   inside the submitting call). A registration is polled at most once per
 *   wait, so it appears at most once in a batch.
 * - An event reports the socket's state when its poll completed. A poll
 *   that completed between two waits can therefore be one wait out of date:
 *   PS_READABLE for data read since, or a readiness that arose since
 *   reported only by the next wait (wepoll and libuv behave alike). The next
 *   wait re-polls, so this never lasts longer than one wait.
 * - modify: if the outstanding poll lacks events now wanted, it is
 *   cancelled (NtCancelIoFileEx); its completion, cancelled or not, is then
 *   stale (no event), and the same wait re-submits and collects the poll
 *   for the new events without blocking, so the change takes full effect in
 *   the next wait. Events no longer wanted are filtered on delivery. A
 *   registration without an outstanding poll just waits for the next
 *   wait's re-submission.
 * - remove: the registration is detached (reg->h = NULL). If a poll is
 *   outstanding it is cancelled and the struct stays alive until that
 *   completion is dequeued by a later wait (the kernel still owns its
 *   IO_STATUS_BLOCK), which then frees it; otherwise it is freed at once.
 * - wake: a completion packet with no overlapped pointer, posted at most
 *   once until dequeued (an atomic flag coalesces wakes).
 */
#include "internal.h"

#include <mswsock.h>
#include <stdlib.h>
#include <winternl.h>

/* ---- AFD definitions (see above for their source) ------------------------ */

#define PS__IOCTL_AFD_POLL 0x00012024

#define PS__AFD_POLL_RECEIVE 0x0001
#define PS__AFD_POLL_RECEIVE_EXPEDITED 0x0002
#define PS__AFD_POLL_SEND 0x0004
#define PS__AFD_POLL_DISCONNECT 0x0008
#define PS__AFD_POLL_ABORT 0x0010
#define PS__AFD_POLL_LOCAL_CLOSE 0x0020
#define PS__AFD_POLL_ACCEPT 0x0080
#define PS__AFD_POLL_CONNECT_FAIL 0x0100

typedef struct ps__afd_poll_handle_info {
    HANDLE Handle;
    ULONG Events;
    NTSTATUS Status;
} ps__afd_poll_handle_info;

typedef struct ps__afd_poll_info {
    LARGE_INTEGER Timeout;
    ULONG NumberOfHandles;
    ULONG Exclusive;
    ps__afd_poll_handle_info Handles[1];
} ps__afd_poll_info;

/* NTSTATUS values used here (ntstatus.h is not always includable beside
 * windows.h, so they are spelled out). */
#define PS__STATUS_SUCCESS ((NTSTATUS)0x00000000L)
#define PS__STATUS_PENDING ((NTSTATUS)0x00000103L)
#define PS__STATUS_CANCELLED ((NTSTATUS)0xC0000120L)
/* An NTSTATUS of severity "error" (top two bits set): the request failed
 * at once and no completion packet will be queued for it. Success,
 * informational and warning statuses all complete through the port. */
#define PS__NT_ERROR(s) ((((ULONG)(s)) >> 30) == 3)

/* ---- ntdll entry points, resolved once ----------------------------------- */

typedef NTSTATUS(NTAPI *ps__NtCreateFile_fn)(PHANDLE, ACCESS_MASK,
                                             POBJECT_ATTRIBUTES,
                                             PIO_STATUS_BLOCK, PLARGE_INTEGER,
                                             ULONG, ULONG, ULONG, ULONG, PVOID,
                                             ULONG);
typedef NTSTATUS(NTAPI *ps__NtDeviceIoControlFile_fn)(HANDLE, HANDLE,
                                                      PIO_APC_ROUTINE, PVOID,
                                                      PIO_STATUS_BLOCK, ULONG,
                                                      PVOID, ULONG, PVOID,
                                                      ULONG);
typedef NTSTATUS(NTAPI *ps__NtCancelIoFileEx_fn)(HANDLE, PIO_STATUS_BLOCK,
                                                 PIO_STATUS_BLOCK);
typedef ULONG(NTAPI *ps__RtlNtStatusToDosError_fn)(NTSTATUS);

static INIT_ONCE ps__afd_once = INIT_ONCE_STATIC_INIT;
static ps__NtCreateFile_fn ps__NtCreateFile;
static ps__NtDeviceIoControlFile_fn ps__NtDeviceIoControlFile;
static ps__NtCancelIoFileEx_fn ps__NtCancelIoFileEx;
static ps__RtlNtStatusToDosError_fn ps__RtlNtStatusToDosError;
static int ps__afd_have_ntdll; /* written inside the once */

/* FARPROC -> a specific function pointer type, through the generic
 * function pointer type that -Wcast-function-type accepts. */
typedef void (*ps__afd_anyfn)(void);

static BOOL CALLBACK ps__afd_load(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    (void)once;
    (void)param;
    (void)ctx;
    HMODULE nt = GetModuleHandleW(L"ntdll.dll");
    if (!nt)
        return TRUE; /* remembered as unavailable */
    ps__NtCreateFile = (ps__NtCreateFile_fn)(ps__afd_anyfn)GetProcAddress(
        nt, "NtCreateFile");
    ps__NtDeviceIoControlFile = (ps__NtDeviceIoControlFile_fn)(
        ps__afd_anyfn)GetProcAddress(nt, "NtDeviceIoControlFile");
    ps__NtCancelIoFileEx = (ps__NtCancelIoFileEx_fn)(ps__afd_anyfn)
        GetProcAddress(nt, "NtCancelIoFileEx");
    ps__RtlNtStatusToDosError = (ps__RtlNtStatusToDosError_fn)(
        ps__afd_anyfn)GetProcAddress(nt, "RtlNtStatusToDosError");
    ps__afd_have_ntdll = ps__NtCreateFile && ps__NtDeviceIoControlFile &&
                         ps__NtCancelIoFileEx && ps__RtlNtStatusToDosError;
    return TRUE;
}

/* ---- state ---------------------------------------------------------------- */

/* Completions dequeued per GetQueuedCompletionStatusEx call. */
#define PS__AFD_BATCH 256
/* Completion key of the AFD device handle; the wake packet is told apart by
 * its NULL overlapped pointer (every poll carries its afd_reg). */
#define PS__AFD_KEY_POLL ((ULONG_PTR)1)
#define PS__AFD_KEY_WAKE ((ULONG_PTR)2)
/* Extra passes of one wait for stale polls (see ps__afd_wait). */
#define PS__AFD_MAX_PASSES 4
/* Close: how long to wait for cancelled polls to come back. */
#define PS__AFD_DRAIN_MS 5000

typedef struct ps__afd_reg {
    IO_STATUS_BLOCK iosb;   /* owned by the kernel while `pending` */
    ps__afd_poll_info info; /* input and output of the poll */
    SOCKET base;            /* the base provider socket that AFD knows */
    ps__handle *h;          /* NULL once removed */
    void *user;             /* reported with its events */
    unsigned events;        /* PS_READABLE | PS_WRITABLE wanted */
    ULONG armed;            /* AFD events of the outstanding poll */
    unsigned char pending;  /* a poll is outstanding */
    unsigned char cancelling; /* NtCancelIoFileEx was called on it */
    unsigned char queued;   /* on the update list */
    struct ps__afd_reg *uprev, *unext; /* the update list */
} ps__afd_reg;

typedef struct ps__afd {
    HANDLE port;
    HANDLE afd;
    atomic_int wake_pending;
    size_t alive;         /* afd_reg structs not yet freed */
    ps__afd_reg **live;   /* registered ones; live[h->reg] is h's */
    size_t nlive, live_cap;
    ps__afd_reg *updates; /* registrations whose poll must be (re)submitted */
    OVERLAPPED_ENTRY batch[PS__AFD_BATCH];
} ps__afd;

/* ---- errors --------------------------------------------------------------- */

/* Record a Win32 error and return its PS_E code; a few codes that the
 * Winsock table does not classify are mapped here. */
static int ps__afd_fail_win32(DWORD err)
{
    int rc = ps__os_fail((int)err);
    switch (err) {
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
    case ERROR_NO_SYSTEM_RESOURCES:
    case ERROR_NONPAGED_SYSTEM_RESOURCES:
    case ERROR_COMMITMENT_LIMIT:
        return PS_ENOMEM;
    case ERROR_TOO_MANY_OPEN_FILES:
        return PS_EMFILE;
    case ERROR_INVALID_HANDLE:
    case ERROR_INVALID_PARAMETER:
        return PS_EINVAL;
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_FUNCTION:
    case ERROR_NOT_SUPPORTED:
        return PS_ENOTSUP; /* no AFD device, or it does not know the poll */
    default:
        return rc;
    }
}

static int ps__afd_fail_nt(NTSTATUS st)
{
    return ps__afd_fail_win32(ps__RtlNtStatusToDosError(st));
}

/* ---- registrations --------------------------------------------------------- */

static ULONG ps__afd_mask(unsigned events)
{
    /* Errors and hang-ups are always watched, whatever was asked;
     * LOCAL_CLOSE completes the poll if the socket is closed under it. */
    ULONG m = PS__AFD_POLL_ABORT | PS__AFD_POLL_CONNECT_FAIL |
              PS__AFD_POLL_DISCONNECT | PS__AFD_POLL_LOCAL_CLOSE;
    if (events & PS_READABLE)
        m |= PS__AFD_POLL_RECEIVE | PS__AFD_POLL_ACCEPT;
    if (events & PS_WRITABLE)
        m |= PS__AFD_POLL_SEND;
    return m;
}

static void ps__afd_queue(ps__afd *a, ps__afd_reg *r)
{
    if (r->queued)
        return;
    r->queued = 1;
    r->uprev = NULL;
    r->unext = a->updates;
    if (a->updates)
        a->updates->uprev = r;
    a->updates = r;
}

static void ps__afd_unqueue(ps__afd *a, ps__afd_reg *r)
{
    if (!r->queued)
        return;
    if (r->uprev)
        r->uprev->unext = r->unext;
    else
        a->updates = r->unext;
    if (r->unext)
        r->unext->uprev = r->uprev;
    r->uprev = r->unext = NULL;
    r->queued = 0;
}

static void ps__afd_free(ps__afd *a, ps__afd_reg *r)
{
    ps__afd_unqueue(a, r);
    a->alive--;
    free(r);
}

/* Submit the registration's poll for its handle's current events. A status
 * that is not an error means the completion will reach the port. */
static NTSTATUS ps__afd_submit(ps__afd *a, ps__afd_reg *r)
{
    ULONG mask = ps__afd_mask(r->events);
    r->info.Timeout.QuadPart = INT64_MAX;
    r->info.NumberOfHandles = 1;
    r->info.Exclusive = FALSE;
    r->info.Handles[0].Handle = (HANDLE)r->base;
    r->info.Handles[0].Events = mask;
    r->info.Handles[0].Status = PS__STATUS_SUCCESS;
    r->iosb.Status = PS__STATUS_PENDING;
    r->iosb.Information = 0;
    NTSTATUS st = ps__NtDeviceIoControlFile(
        a->afd, NULL, NULL, r, &r->iosb, PS__IOCTL_AFD_POLL, &r->info,
        (ULONG)sizeof r->info, &r->info, (ULONG)sizeof r->info);
    if (PS__NT_ERROR(st))
        return st;
    r->pending = 1;
    r->cancelling = 0;
    r->armed = mask;
    return PS__STATUS_SUCCESS;
}

static void ps__afd_cancel(ps__afd *a, ps__afd_reg *r)
{
    if (!r->pending || r->cancelling)
        return;
    IO_STATUS_BLOCK cio;
    /* STATUS_NOT_FOUND means the poll has completed already: its packet is
     * queued and will be dequeued all the same. */
    (void)ps__NtCancelIoFileEx(a->afd, &r->iosb, &cio);
    r->cancelling = 1;
}

/* The socket AFD knows: the base provider socket below any layered
 * service provider. Wine returns the socket itself; so do we if the query
 * fails. */
static SOCKET ps__afd_base(SOCKET s)
{
    SOCKET base = INVALID_SOCKET;
    DWORD bytes = 0;
    if (WSAIoctl(s, SIO_BASE_HANDLE, NULL, 0, &base, (DWORD)sizeof base,
                 &bytes, NULL, NULL) != 0 ||
        base == INVALID_SOCKET)
        return s;
    return base;
}

/* ---- operations ----------------------------------------------------------- */

static int ps__afd_open(ps_poller *p)
{
    if (!InitOnceExecuteOnce(&ps__afd_once, ps__afd_load, NULL, NULL))
        return ps__afd_fail_win32(GetLastError());
    if (!ps__afd_have_ntdll)
        return ps__fail(PS_ENOTSUP);

    ps__afd *a = calloc(1, sizeof *a);
    if (!a)
        return ps__fail(PS_ENOMEM);
    atomic_init(&a->wake_pending, 0);

    a->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
    if (!a->port) {
        int rc = ps__afd_fail_win32(GetLastError());
        free(a);
        return rc;
    }

    /* Any name under \Device\Afd opens an AFD endpoint that is not a
     * socket, usable only to issue polls. */
    WCHAR name[] = L"\\Device\\Afd\\PortsockPoll";
    UNICODE_STRING uname;
    uname.Length = (USHORT)(sizeof name - sizeof name[0]);
    uname.MaximumLength = (USHORT)sizeof name;
    uname.Buffer = name;
    OBJECT_ATTRIBUTES attr;
    memset(&attr, 0, sizeof attr);
    attr.Length = (ULONG)sizeof attr;
    attr.ObjectName = &uname;
    IO_STATUS_BLOCK iosb;
    HANDLE afd = NULL;
    NTSTATUS st = ps__NtCreateFile(&afd, SYNCHRONIZE, &attr, &iosb, NULL, 0,
                                   FILE_SHARE_READ | FILE_SHARE_WRITE,
                                   FILE_OPEN, 0, NULL, 0);
    if (PS__NT_ERROR(st)) {
        int rc = ps__afd_fail_nt(st);
        CloseHandle(a->port);
        free(a);
        return rc;
    }
    if (!CreateIoCompletionPort(afd, a->port, PS__AFD_KEY_POLL, 0)) {
        int rc = ps__afd_fail_win32(GetLastError());
        CloseHandle(afd);
        CloseHandle(a->port);
        free(a);
        return rc;
    }
    /* Completions go to the port only; nobody waits on the handle itself.
     * An optimisation: failure changes nothing. */
    (void)SetFileCompletionNotificationModes(afd,
                                             FILE_SKIP_SET_EVENT_ON_HANDLE);
    a->afd = afd;
    p->impl = a;
    return PS_OK;
}

static void ps__afd_close(ps_poller *p)
{
    ps__afd *a = p->impl;
    if (!a)
        return;
    /* Handles may still be registered; they are left alone (the common code
     * never reads their `reg` again). Every registration without an
     * outstanding poll is on the update list: free those now. The others,
     * live or detached, come back once their polls are cancelled: cancel
     * everything on the device handle and collect them, for a bounded
     * time. */
    while (a->updates)
        ps__afd_free(a, a->updates);
    if (a->alive > 0) {
        IO_STATUS_BLOCK cio;
        (void)ps__NtCancelIoFileEx(a->afd, NULL, &cio);
    }
    ULONGLONG start = GetTickCount64();
    while (a->alive > 0) {
        ULONGLONG spent = GetTickCount64() - start;
        if (spent >= PS__AFD_DRAIN_MS)
            break;
        ULONG removed = 0;
        if (!GetQueuedCompletionStatusEx(a->port, a->batch, PS__AFD_BATCH,
                                         &removed,
                                         (DWORD)(PS__AFD_DRAIN_MS - spent),
                                         FALSE))
            break; /* timed out, or the port is unusable */
        for (ULONG i = 0; i < removed; i++) {
            ps__afd_reg *r = (ps__afd_reg *)a->batch[i].lpOverlapped;
            if (!r)
                continue; /* a wake-up */
            r->pending = 0;
            ps__afd_free(a, r);
        }
    }
    /* A poll that never came back still owns its IO_STATUS_BLOCK: its
     * afd_reg is leaked on purpose rather than freed under the kernel. */
    CloseHandle(a->afd);
    CloseHandle(a->port);
    free(a->live);
    free(a);
    p->impl = NULL;
}

static int ps__afd_add(ps_poller *p, ps__handle *h, unsigned events,
                       void *user)
{
    ps__afd *a = p->impl;
    if (a->nlive == a->live_cap) {
        size_t cap = a->live_cap ? a->live_cap * 2 : 16;
        if (cap > (size_t)UINT32_MAX + 1)
            return ps__fail(PS_ENOBUFS); /* the index must fit h->reg */
        ps__afd_reg **live = realloc(a->live, cap * sizeof *live);
        if (!live)
            return ps__fail(PS_ENOMEM);
        a->live = live;
        a->live_cap = cap;
    }
    ps__afd_reg *r = calloc(1, sizeof *r);
    if (!r)
        return ps__fail(PS_ENOMEM);
    r->base = ps__afd_base(h->sock);
    r->h = h;
    r->user = user;
    r->events = events;
    NTSTATUS st = ps__afd_submit(a, r);
    if (st != PS__STATUS_SUCCESS) {
        free(r);
        return ps__afd_fail_nt(st);
    }
    a->alive++;
    h->reg = (uint32_t)a->nlive;
    a->live[a->nlive++] = r;
    return PS_OK;
}

static int ps__afd_modify(ps_poller *p, ps__handle *h, unsigned events,
                          void *user)
{
    ps__afd *a = p->impl;
    ps__afd_reg *r = a->live[h->reg];
    r->user = user;
    r->events = events;
    if (r->pending) {
        /* An outstanding poll that watches too little must be replaced; one
         * that watches too much is left alone (its surplus is filtered on
         * delivery and the next poll uses the new events). */
        if (ps__afd_mask(events) & ~r->armed)
            ps__afd_cancel(a, r);
    } else {
        ps__afd_queue(a, r); /* usually there already */
    }
    return PS_OK;
}

static void ps__afd_remove(ps_poller *p, ps__handle *h)
{
    ps__afd *a = p->impl;
    ps__afd_reg *r = a->live[h->reg];
    ps__afd_reg *last = a->live[--a->nlive];
    a->live[h->reg] = last;
    last->h->reg = h->reg;
    r->h = NULL;
    ps__afd_unqueue(a, r);
    if (r->pending)
        ps__afd_cancel(a, r); /* freed when its completion is dequeued */
    else
        ps__afd_free(a, r);
}

/* What a completed poll of a live registration means. */
enum {
    PS__AFD_FRESH, /* its result is current: report it, then poll again */
    PS__AFD_STALE, /* cancelled, or it watched less than is now wanted:
                    * nothing to report, poll again at once */
    PS__AFD_GONE   /* the socket was closed under it: do not poll again */
};

/* Translate a completed poll of live registration `r` into PS_* bits
 * (0: nothing to report); *kind says which case it is. */
static unsigned ps__afd_translate(const ps__afd_reg *r, int *kind)
{
    NTSTATUS st = r->iosb.Status;
    /* A poll that no longer watches everything wanted (modify added events
     * while it was outstanding, and cancelled it) says nothing about the
     * new events: poll again instead of reporting a partial picture. */
    *kind = PS__AFD_STALE;
    if (st == PS__STATUS_CANCELLED || (ps__afd_mask(r->events) & ~r->armed))
        return 0;
    *kind = PS__AFD_FRESH;
    unsigned bits = 0;
    if (PS__NT_ERROR(st)) {
        bits = PS_ERROR;
    } else if (r->info.NumberOfHandles >= 1) {
        ULONG ev = r->info.Handles[0].Events;
        if (ev & PS__AFD_POLL_LOCAL_CLOSE) {
            *kind = PS__AFD_GONE;
            return 0;
        }
        if (ev & (PS__AFD_POLL_RECEIVE | PS__AFD_POLL_ACCEPT))
            bits |= PS_READABLE;
        if (ev & PS__AFD_POLL_SEND)
            bits |= PS_WRITABLE;
        if (ev & PS__AFD_POLL_DISCONNECT)
            bits |= PS_READABLE | PS_HANGUP;
        if (ev & PS__AFD_POLL_ABORT)
            bits |= PS_READABLE | PS_WRITABLE | PS_HANGUP | PS_ERROR;
        if (ev & PS__AFD_POLL_CONNECT_FAIL)
            bits |= PS_WRITABLE | PS_ERROR;
    }
    return bits & (r->events | PS_HANGUP | PS_ERROR);
}

/* Submit the polls of the update list: registrations whose last poll
 * completed, or whose events changed while none was outstanding. One that
 * cannot be polled (e.g. its socket is no longer valid) is reported as
 * PS_ERROR by every wait, level-triggered, until it is removed. */
static void ps__afd_flush(ps__afd *a, ps_event *events, size_t max,
                          size_t *got)
{
    for (ps__afd_reg *r = a->updates, *next; r; r = next) {
        next = r->unext;
        if (ps__afd_submit(a, r) == PS__STATUS_SUCCESS) {
            ps__afd_unqueue(a, r);
        } else if (*got < max) {
            events[*got].user = r->user;
            events[*got].events = PS_ERROR;
            (*got)++;
        }
    }
}

static int ps__afd_wait(ps_poller *p, ps_event *events, size_t max,
                        size_t *n, int timeout_ms)
{
    ps__afd *a = p->impl;
    size_t got = 0;
    int woken = 0;
    /* Registrations whose fresh result this wait handled: polled again by
     * the next wait, never by a later pass of this one (which would report
     * them twice). Linked through unext; put on the update list at the
     * end. */
    ps__afd_reg *done = NULL;
    DWORD fail = 0;
    /* Pass 0 waits up to timeout_ms. Further passes never wait: they follow
     * when stale polls came back (re-submitted and collected at once, so
     * that a modify takes full effect in this wait), or when a full batch
     * suggests that more completions are queued and `max` has room. */
    int stale_passes = 0;
    for (int pass = 0;; pass++) {
        /* A registration that cannot be polled is reported once a wait. */
        ps__afd_flush(a, events, pass == 0 ? max : got, &got);
        if (got == max)
            break;
        ULONG room = (ULONG)(max - got < PS__AFD_BATCH ? max - got
                                                       : PS__AFD_BATCH);
        DWORD wait_ms = (got > 0 || woken || pass > 0) ? 0
                        : timeout_ms < 0              ? INFINITE
                                                      : (DWORD)timeout_ms;
        ULONG removed = 0;
        if (!GetQueuedCompletionStatusEx(a->port, a->batch, room, &removed,
                                         wait_ms, FALSE)) {
            DWORD err = GetLastError();
            if (err != WAIT_TIMEOUT)
                fail = err;
            break; /* nothing (more) completed */
        }

        int stale = 0;
        for (ULONG i = 0; i < removed; i++) {
            ps__afd_reg *r = (ps__afd_reg *)a->batch[i].lpOverlapped;
            if (!r) {
                /* The wake packet: later wakes may post a new one. */
                atomic_store(&a->wake_pending, 0);
                woken = 1;
                continue;
            }
            r->pending = 0;
            r->cancelling = 0;
            if (!r->h) {
                ps__afd_free(a, r); /* removed while its poll was out */
                continue;
            }
            int kind;
            unsigned bits = ps__afd_translate(r, &kind);
            if (kind == PS__AFD_FRESH) {
                r->unext = done;
                done = r;
            } else if (kind == PS__AFD_STALE) {
                ps__afd_queue(a, r);
                stale = 1;
            }
            if (bits) {
                events[got].user = r->user;
                events[got].events = bits;
                got++;
            }
        }
        if (got == max)
            break;
        if (stale) {
            if (++stale_passes >= PS__AFD_MAX_PASSES)
                break;
        } else if (removed < room) {
            break; /* the queue is empty */
        }
    }
    while (done) {
        ps__afd_reg *next = done->unext;
        ps__afd_queue(a, done);
        done = next;
    }
    if (got > 0 || woken) {
        *n = got;
        return PS_OK;
    }
    if (fail)
        return ps__afd_fail_win32(fail);
    /* Nothing to report. With a timeout of 0 that is the answer; otherwise
     * the wait may have ended early (only freed, stale or closed polls came
     * back), and the common code calls again with the time that is left. */
    return timeout_ms == 0 ? PS_ETIMEDOUT : PS__EINTR;
}

static int ps__afd_wake(ps_poller *p)
{
    ps__afd *a = p->impl;
    if (atomic_exchange(&a->wake_pending, 1))
        return PS_OK; /* a wake packet is queued already */
    if (!PostQueuedCompletionStatus(a->port, 0, PS__AFD_KEY_WAKE, NULL)) {
        DWORD err = GetLastError();
        atomic_store(&a->wake_pending, 0);
        return ps__afd_fail_win32(err);
    }
    return PS_OK;
}

/* GetQueuedCompletionStatusEx may end up to a timer tick early, and a wait
 * that collected only stale polls ends early too: the common code keeps
 * the deadline on the clock. */
const ps__poller_ops ps__poller_afd_ops = {
    .name = "afd",
    .early_timeouts = 1,
    .open = ps__afd_open,
    .close = ps__afd_close,
    .add = ps__afd_add,
    .modify = ps__afd_modify,
    .remove = ps__afd_remove,
    .wait = ps__afd_wait,
    .wake = ps__afd_wake,
};
