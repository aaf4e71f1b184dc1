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
 * - Each registration is a 64-byte slot (afd_reg) holding the
 *   IO_STATUS_BLOCK and AFD_POLL_INFO of its one outstanding poll, its
 *   events and user pointer. Slots live in fixed chunks that never move
 *   (the kernel writes into a pending poll's slot), not one malloc each:
 *   under Wine the heap adds 8-16 bytes to every block, and a server pays
 *   for every byte of every connection (bench/, "many"). h->reg is the
 *   slot number, which stays put, so no table of live registrations is
 *   needed. The poll's APC context is that number (+1; a wake carries
 *   NULL), so a completion names the slot, never the socket value: a
 *   socket value reused by Windows cannot be confused with an old
 *   registration, and a slot is reused only once its poll has come back.
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
 * - remove: the registration is detached (not live). If a poll is
 *   outstanding it is cancelled and the slot stays taken until that
 *   completion is dequeued by a later wait (the kernel still owns its
 *   IO_STATUS_BLOCK), which then frees it; one on the update list is freed
 *   by the next wait's pass over that list; otherwise it is freed at once.
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
 * its NULL overlapped pointer (every poll carries its slot number + 1). */
#define PS__AFD_KEY_POLL ((ULONG_PTR)1)
#define PS__AFD_KEY_WAKE ((ULONG_PTR)2)
/* Extra passes of one wait for stale polls (see ps__afd_wait). */
#define PS__AFD_MAX_PASSES 4
/* Close: how long to wait for cancelled polls to come back. */
#define PS__AFD_DRAIN_MS 5000
/* Slots per chunk: 8 KiB chunks; the unused tail of the last one is never
 * touched, so it costs address space, not memory. */
#define PS__AFD_CHUNK 128
/* Slot numbers are 24 bits (see afd_reg.next); this one means "none".
 * A process has at most 2^24 handles, so more slots cannot be needed. */
#define PS__AFD_NONE 0xFFFFFFu

typedef struct ps__afd_reg {
    IO_STATUS_BLOCK iosb;   /* owned by the kernel while `pending` */
    ps__afd_poll_info info; /* input and output of the poll */
    void *user;             /* reported with its events */
    /* The base provider socket that AFD knows. Windows handles have 32
     * significant bits (sign-extended on 64-bit Windows). */
    int32_t base;
    /* The next slot on the update list, the `done` list of a wait, or the
     * free list: a slot is on at most one, and on none while pending. */
    unsigned next : 24;
    unsigned events : 2;     /* PS_READABLE | PS_WRITABLE wanted */
    unsigned armed : 2;      /* the events the outstanding poll watches */
    unsigned live : 1;       /* registered (cleared by remove) */
    unsigned pending : 1;    /* a poll is outstanding */
    unsigned cancelling : 1; /* NtCancelIoFileEx was called on it */
    unsigned queued : 1;     /* on the update list */
} ps__afd_reg;

#if defined(_WIN64)
_Static_assert(sizeof(ps__afd_reg) == 64, "an AFD registration is 64 bytes");
#endif
_Static_assert((PS_READABLE | PS_WRITABLE) == 3, "events fit in 2 bits");

typedef struct ps__afd {
    HANDLE port;
    HANDLE afd;
    atomic_int wake_pending;
    uint32_t updates;       /* slots whose poll must be (re)submitted */
    uint32_t free_slots;    /* slots free for reuse */
    uint32_t used;          /* slots handed out at least once */
    size_t pending;         /* polls outstanding */
    ps__afd_reg **chunks;   /* slot i is chunks[i / CHUNK][i % CHUNK] */
    size_t nchunks, chunks_cap;
    OVERLAPPED_ENTRY batch[PS__AFD_BATCH];
} ps__afd;

static ps__afd_reg *ps__afd_slot(const ps__afd *a, uint32_t i)
{
    return &a->chunks[i / PS__AFD_CHUNK][i % PS__AFD_CHUNK];
}

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

static void ps__afd_queue(ps__afd *a, uint32_t i)
{
    ps__afd_reg *r = ps__afd_slot(a, i);
    if (r->queued)
        return;
    r->queued = 1;
    r->next = a->updates;
    a->updates = i;
}

/* A free slot, or PS__AFD_NONE if none can be had. */
static uint32_t ps__afd_take(ps__afd *a)
{
    uint32_t i = a->free_slots;
    if (i != PS__AFD_NONE) {
        a->free_slots = ps__afd_slot(a, i)->next;
        return i;
    }
    if (a->used == a->nchunks * PS__AFD_CHUNK) {
        if (a->used >= PS__AFD_NONE - PS__AFD_CHUNK)
            return PS__AFD_NONE;
        if (a->nchunks == a->chunks_cap) {
            size_t cap = a->chunks_cap ? a->chunks_cap * 2 : 8;
            ps__afd_reg **c = realloc(a->chunks, cap * sizeof *c);
            if (!c)
                return PS__AFD_NONE;
            a->chunks = c;
            a->chunks_cap = cap;
        }
        ps__afd_reg *chunk = malloc(PS__AFD_CHUNK * sizeof *chunk);
        if (!chunk)
            return PS__AFD_NONE;
        a->chunks[a->nchunks++] = chunk;
    }
    return a->used++;
}

static void ps__afd_release(ps__afd *a, uint32_t i)
{
    ps__afd_reg *r = ps__afd_slot(a, i);
    r->live = 0;
    r->queued = 0;
    r->next = a->free_slots;
    a->free_slots = i;
}

/* Submit slot i's poll for its current events. A status that is not an
 * error means the completion will reach the port. */
static NTSTATUS ps__afd_submit(ps__afd *a, uint32_t i)
{
    ps__afd_reg *r = ps__afd_slot(a, i);
    r->info.Timeout.QuadPart = INT64_MAX;
    r->info.NumberOfHandles = 1;
    r->info.Exclusive = FALSE;
    r->info.Handles[0].Handle = (HANDLE)(intptr_t)r->base;
    r->info.Handles[0].Events = ps__afd_mask(r->events);
    r->info.Handles[0].Status = PS__STATUS_SUCCESS;
    r->iosb.Status = PS__STATUS_PENDING;
    r->iosb.Information = 0;
    NTSTATUS st = ps__NtDeviceIoControlFile(
        a->afd, NULL, NULL, (PVOID)((uintptr_t)i + 1), &r->iosb,
        PS__IOCTL_AFD_POLL, &r->info, (ULONG)sizeof r->info, &r->info,
        (ULONG)sizeof r->info);
    if (PS__NT_ERROR(st))
        return st;
    r->pending = 1;
    r->cancelling = 0;
    r->armed = r->events;
    a->pending++;
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
    a->updates = a->free_slots = PS__AFD_NONE;
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
     * never reads their `reg` again). Slots without an outstanding poll go
     * with their chunks. The polls still out, live or detached, come back
     * once cancelled: cancel everything on the device handle and collect
     * them, for a bounded time. */
    if (a->pending > 0) {
        IO_STATUS_BLOCK cio;
        (void)ps__NtCancelIoFileEx(a->afd, NULL, &cio);
    }
    ULONGLONG start = GetTickCount64();
    while (a->pending > 0) {
        ULONGLONG spent = GetTickCount64() - start;
        if (spent >= PS__AFD_DRAIN_MS)
            break;
        ULONG removed = 0;
        if (!GetQueuedCompletionStatusEx(a->port, a->batch, PS__AFD_BATCH,
                                         &removed,
                                         (DWORD)(PS__AFD_DRAIN_MS - spent),
                                         FALSE))
            break; /* timed out, or the port is unusable */
        for (ULONG k = 0; k < removed; k++) {
            uintptr_t ctx = (uintptr_t)a->batch[k].lpOverlapped;
            if (!ctx)
                continue; /* a wake-up */
            ps__afd_slot(a, (uint32_t)(ctx - 1))->pending = 0;
            a->pending--;
        }
    }
    /* A poll that never came back still owns its IO_STATUS_BLOCK: its
     * chunk is leaked on purpose rather than freed under the kernel. */
    for (size_t c = 0; c < a->nchunks; c++) {
        size_t n = a->used - c * PS__AFD_CHUNK;
        int out = 0;
        for (size_t k = 0; k < n && k < PS__AFD_CHUNK && a->pending; k++)
            out |= a->chunks[c][k].pending;
        if (!out)
            free(a->chunks[c]);
    }
    CloseHandle(a->afd);
    CloseHandle(a->port);
    free(a->chunks);
    free(a);
    p->impl = NULL;
}

static int ps__afd_add(ps_poller *p, ps__handle *h, unsigned events,
                       void *user)
{
    ps__afd *a = p->impl;
    SOCKET base = ps__afd_base(h->sock);
    if ((SOCKET)(intptr_t)(int32_t)base != base)
        return ps__fail(PS_EINVAL); /* not a handle value (see afd_reg) */
    uint32_t i = ps__afd_take(a);
    if (i == PS__AFD_NONE)
        return ps__fail(PS_ENOMEM);
    ps__afd_reg *r = ps__afd_slot(a, i);
    r->user = user;
    r->base = (int32_t)base;
    r->events = events & (PS_READABLE | PS_WRITABLE);
    r->live = 1;
    r->pending = r->cancelling = r->queued = 0;
    NTSTATUS st = ps__afd_submit(a, i);
    if (st != PS__STATUS_SUCCESS) {
        ps__afd_release(a, i);
        return ps__afd_fail_nt(st);
    }
    h->reg = i;
    return PS_OK;
}

static int ps__afd_modify(ps_poller *p, ps__handle *h, unsigned events,
                          void *user)
{
    ps__afd *a = p->impl;
    ps__afd_reg *r = ps__afd_slot(a, h->reg);
    r->user = user;
    r->events = events & (PS_READABLE | PS_WRITABLE);
    if (r->pending) {
        /* An outstanding poll that watches too little must be replaced; one
         * that watches too much is left alone (its surplus is filtered on
         * delivery and the next poll uses the new events). */
        if (r->events & ~r->armed)
            ps__afd_cancel(a, r);
    } else {
        ps__afd_queue(a, h->reg); /* usually there already */
    }
    return PS_OK;
}

static void ps__afd_remove(ps_poller *p, ps__handle *h)
{
    ps__afd *a = p->impl;
    ps__afd_reg *r = ps__afd_slot(a, h->reg);
    r->live = 0;
    if (r->pending)
        ps__afd_cancel(a, r); /* freed when its completion is dequeued */
    else if (!r->queued)
        ps__afd_release(a, h->reg);
    /* else the next flush, which walks the update list, frees it */
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
    if (st == PS__STATUS_CANCELLED || (r->events & ~r->armed))
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
 * completed, or whose events changed while none was outstanding; free the
 * ones removed while on it. One that cannot be polled (e.g. its socket is
 * no longer valid) stays on the list and is reported as PS_ERROR by every
 * wait, level-triggered, until it is removed. */
static void ps__afd_flush(ps__afd *a, ps_event *events, size_t max,
                          size_t *got)
{
    uint32_t i = a->updates;
    a->updates = PS__AFD_NONE;
    while (i != PS__AFD_NONE) {
        ps__afd_reg *r = ps__afd_slot(a, i);
        uint32_t next = r->next;
        r->queued = 0;
        if (!r->live) {
            ps__afd_release(a, i);
        } else if (ps__afd_submit(a, i) != PS__STATUS_SUCCESS) {
            ps__afd_queue(a, i);
            if (*got < max) {
                events[*got].user = r->user;
                events[*got].events = PS_ERROR;
                (*got)++;
            }
        }
        i = next;
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
     * them twice). Linked through `next`; put on the update list at the
     * end. */
    uint32_t done = PS__AFD_NONE;
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
        for (ULONG k = 0; k < removed; k++) {
            uintptr_t ctx = (uintptr_t)a->batch[k].lpOverlapped;
            if (!ctx) {
                /* The wake packet: later wakes may post a new one. */
                atomic_store(&a->wake_pending, 0);
                woken = 1;
                continue;
            }
            uint32_t i = (uint32_t)(ctx - 1);
            ps__afd_reg *r = ps__afd_slot(a, i);
            r->pending = 0;
            r->cancelling = 0;
            a->pending--;
            if (!r->live) {
                ps__afd_release(a, i); /* removed while its poll was out */
                continue;
            }
            int kind;
            unsigned bits = ps__afd_translate(r, &kind);
            if (kind == PS__AFD_FRESH) {
                r->next = done;
                done = i;
            } else if (kind == PS__AFD_STALE) {
                ps__afd_queue(a, i);
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
    while (done != PS__AFD_NONE) {
        uint32_t next = ps__afd_slot(a, done)->next;
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
