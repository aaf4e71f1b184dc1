/* Connection: argument checks, connect with a deadline, the send / receive
 * retry loops and the local shutdown state. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Keep POSIX connections in a 32-byte malloc chunk on 64-bit systems
 * (24 bytes of data; a Windows SOCKET is pointer-sized, so there the
 * struct is 32 bytes). */
_Static_assert(sizeof(void *) != 8 || sizeof(ps__sock_t) != 4 ||
                   sizeof(struct ps_conn) <= 24,
               "struct ps_conn grew past 24 bytes");
/* connect_rc keeps a PS_E... code in 8 bits. */
_Static_assert(PS_EIO >= INT8_MIN && PS_EIO < 0,
               "PS_E... codes no longer fit struct ps_conn's connect_rc");

void ps__conn_init(ps_conn *c, ps__sock_t s)
{
    ps__handle_init(&c->h, s);
    atomic_init(&c->shut, 0);
    c->connecting = 0;
    c->connect_rc = PS_OK;
    c->flags = 0;
    c->recv_timeo = 0; /* a new socket has none */
}

/* Freed connections kept for the next ps_connect / ps_accept: a server
 * that accepts and closes all day would otherwise pay malloc and free
 * (about 130 instructions, bench/ churn) for every connection. A few
 * slots, each emptied or filled by one atomic operation, so that threads
 * share them without a lock; what does not fit goes back to free(). */
#if defined(__SANITIZE_ADDRESS__)
#define PS__CONN_SPARES 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PS__CONN_SPARES 0
#endif
#endif
#ifndef PS__CONN_SPARES
#define PS__CONN_SPARES 4
#endif

#if PS__CONN_SPARES > 0
static _Atomic(ps_conn *) ps__conn_spares[PS__CONN_SPARES];

ps_conn *ps__conn_alloc(void)
{
    for (int i = 0; i < PS__CONN_SPARES; i++) {
        if (!atomic_load_explicit(&ps__conn_spares[i], memory_order_relaxed))
            continue;
        /* Acquire: the closing thread's last writes come before ours. */
        ps_conn *c = atomic_exchange_explicit(&ps__conn_spares[i], NULL,
                                              memory_order_acquire);
        if (c)
            return c;
    }
    return malloc(sizeof(ps_conn));
}

void ps__conn_free(ps_conn *c)
{
    for (int i = 0; i < PS__CONN_SPARES; i++) {
        ps_conn *empty = NULL;
        if (!atomic_load_explicit(&ps__conn_spares[i],
                                  memory_order_relaxed) &&
            atomic_compare_exchange_strong_explicit(
                &ps__conn_spares[i], &empty, c, memory_order_release,
                memory_order_relaxed))
            return;
    }
    free(c);
}

void ps__conn_spares_free(void)
{
    for (int i = 0; i < PS__CONN_SPARES; i++)
        free(atomic_exchange(&ps__conn_spares[i], NULL));
}
#else
/* Under AddressSanitizer every close really frees, so that a use of a
 * closed connection is reported. */
ps_conn *ps__conn_alloc(void)
{
    return malloc(sizeof(ps_conn));
}

void ps__conn_free(ps_conn *c)
{
    free(c);
}

void ps__conn_spares_free(void)
{
}
#endif

static int ps__conn_wrap(ps__sock_t s, ps_conn **out)
{
    ps_conn *c = ps__conn_alloc();
    if (!c) {
        ps__sock_close(s);
        return ps__fail(PS_ENOMEM);
    }
    ps__conn_init(c, s);
    *out = c;
    return PS_OK;
}

/* Connect within deadline `dl`, the socket already open. */
static int ps__connect_deadline(ps__sock_t s, const ps_addr *addr,
                                int nonblocking, ps__deadline dl)
{
    int rc;
    do
        rc = ps__conn_connect(s, addr, nonblocking);
    while (rc == PS__EINTR && !nonblocking && ps__deadline_left_ms(dl) != 0);
    if (rc == PS__EINTR)
        rc = PS_EINPROGRESS; /* an interrupted connect goes on in the kernel */
    /* A wait may end before the connect does (a backend reports a
     * canceled wait as ready): ask the result until it is final. */
    while (rc == PS_EINPROGRESS) {
        rc = ps__wait_until(s, PS__WAIT_WRITE, dl);
        if (rc == PS_OK)
            rc = ps__conn_connect_result(s);
    }
    return rc;
}

static int ps__connect_one(ps_conn **out, const ps_addr *addr,
                           ps__deadline dl)
{
    /* Without a deadline the kernel may wait in connect() itself. */
    int nonblocking = dl != PS__DL_FOREVER;
    ps__sock_t s;
    int rc = ps__sock_open_stream(addr->family, nonblocking, &s);
    if (rc != PS_OK)
        return rc;
    rc = ps__connect_deadline(s, addr, nonblocking, dl);
    if (rc != PS_OK) {
        ps__sock_close(s);
        return rc;
    }
    return ps__conn_wrap(s, out);
}

/* An address a connection can be made to: an IP address with a port (no
 * service listens on port 0), or a NUL-terminated unix path that fits
 * (checked before any socket exists, so that bad input is PS_EINVAL even
 * where the system has no local sockets). */
static int ps__connect_addr_check(const ps_addr *addr)
{
    if (addr->family == PS_AF_UNIX) {
        size_t len = ps__strnlen(addr->u.path, sizeof addr->u.path);
        if (len == 0 || len > PS_UNIX_PATH_MAX)
            return ps__fail(PS_EINVAL);
        return PS_OK;
    }
    if ((addr->family != PS_AF_INET && addr->family != PS_AF_INET6) ||
        addr->port == 0)
        return ps__fail(PS_EINVAL);
    return PS_OK;
}

int ps_connect(ps_conn **out, const ps_addr *addr, int timeout_ms)
{
    ps__deadline dl;
    if (!out || !addr)
        return ps__fail(PS_EINVAL);
    int rc = ps__connect_addr_check(addr);
    if (rc != PS_OK)
        return rc;
    rc = ps__deadline_make(timeout_ms, &dl);
    if (rc != PS_OK)
        return rc;
    return ps__connect_one(out, addr, dl);
}

#define PS__DIAL_MAX 16

int ps_dial(ps_conn **out, const char *host, const char *service,
            int timeout_ms)
{
    ps__deadline dl;
    if (!out || !host || !service)
        return ps__fail(PS_EINVAL);
    int rc = ps__deadline_make(timeout_ms, &dl);
    if (rc != PS_OK)
        return rc;
    ps_addr addrs[PS__DIAL_MAX];
    size_t n = 0;
    rc = ps_resolve(host, service, PS_AF_UNSPEC, addrs, PS__DIAL_MAX, &n);
    if (rc != PS_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && dl != PS__DL_FOREVER && ps__deadline_left_ms(dl) == 0)
            return ps__fail(dl == PS__DL_NOWAIT ? PS_EWOULDBLOCK
                                                : PS_ETIMEDOUT);
        rc = ps__connect_one(out, &addrs[i], dl);
        if (rc == PS_OK || rc == PS_ETIMEDOUT || rc == PS_EWOULDBLOCK)
            return rc;
    }
    return rc;
}

int ps_connect_start(ps_conn **out, const ps_addr *addr)
{
    if (!out || !addr)
        return ps__fail(PS_EINVAL);
    int rc = ps__connect_addr_check(addr);
    if (rc != PS_OK)
        return rc;
    ps__sock_t s;
    rc = ps__sock_open_stream(addr->family, 1, &s);
    if (rc != PS_OK)
        return rc;
    do
        rc = ps__conn_connect(s, addr, 1);
    while (rc == PS__EINTR);
    if (rc != PS_OK && rc != PS_EINPROGRESS) {
        ps__sock_close(s);
        return rc;
    }
    ps_conn *c = NULL;
    int wrap = ps__conn_wrap(s, &c);
    if (wrap != PS_OK)
        return wrap;
    c->connecting = (uint8_t)(rc == PS_EINPROGRESS);
    *out = c;
    return rc;
}

/* Settle a started connect within `dl`. */
static int ps__connect_settle(ps_conn *c, ps__deadline dl)
{
    if (!c->connecting)
        return c->connect_rc;
    int rc = ps__conn_connect_result(c->h.sock);
    while (rc == PS_EINPROGRESS) {
        rc = ps__wait_until(c->h.sock, PS__WAIT_WRITE, dl);
        if (rc == PS_OK)
            rc = ps__conn_connect_result(c->h.sock);
    }
    if (rc == PS_EWOULDBLOCK || rc == PS_ETIMEDOUT)
        return rc; /* still connecting: ask again later */
    c->connecting = 0;
    c->connect_rc = (int8_t)rc;
    return rc;
}

/* The start of a call on one connection that waits: `c` and the timeout
 * checked, the deadline made. */
static int ps__conn_begin(const ps_conn *c, int timeout_ms, ps__deadline *dl)
{
    if (!c)
        return ps__fail(PS_EINVAL);
    return ps__deadline_make(timeout_ms, dl);
}

int ps_connect_finish(ps_conn *c, int timeout_ms)
{
    ps__deadline dl;
    int rc = ps__conn_begin(c, timeout_ms, &dl);
    if (rc != PS_OK)
        return rc;
    return ps__connect_settle(c, dl);
}

/* A transfer's error, or what a local ps_shutdown caused, reported as such
 * (a receive woken by PS_SHUT_RD is canceled, a send after PS_SHUT_WR is
 * a broken pipe, whatever the system said). */
static int ps__io_error(ps_conn *c, int sending, int rc)
{
    int shut = atomic_load(&c->shut);
    if (!sending && (shut & PS_SHUT_RD))
        return ps__fail(PS_ECANCELED);
    if (sending && (shut & PS_SHUT_WR))
        return ps__fail(PS_EPIPE);
    return rc;
}

#if PS__CONN_RECV_TIMEO
/* Make the socket's receive timeout `ms` (0: none) unless it is already:
 * 1 if it is now, 0 if it could not be set (the receive then tries and
 * waits as on a backend without receive timeouts; never an error). */
static int ps__recv_timeo(ps_conn *c, int ms)
{
    if (c->recv_timeo == (uint32_t)ms)
        return 1;
    if (c->flags & PS__CONN_NO_RECV_TIMEO)
        return 0;
    if (ps__conn_set_recv_timeout(c->h.sock, ms) != PS_OK) {
        c->flags |= PS__CONN_NO_RECV_TIMEO;
        return 0;
    }
    c->recv_timeo = (uint32_t)ms;
    if (ms != 0)
        c->flags |= PS__CONN_RECV_TIMEO_SET;
    else
        c->flags &= (uint8_t)~PS__CONN_RECV_TIMEO_SET;
    return 1;
}
#endif

/* ps__transfer's `first`: how its first system call goes. */
#define PS__FIRST_TRY 0   /* try, wait only if it would block */
#define PS__FIRST_WAIT -1 /* the caller's own try would have blocked: wait */
/* > 0: a receive with a deadline, made first as a blocking one with that
 * many ms, the call's timeout, as the socket's receive timeout
 * (PS__CONN_RECV_TIMEO; see ps__first). */

/* ps__transfer's `first` for the first transfer of a call that tries
 * first. */
static int ps__first(int sending, int timeout_ms)
{
#if PS__CONN_RECV_TIMEO
    if (!sending && timeout_ms >= PS__CONN_RECV_TIMEO_MIN_MS)
        return timeout_ms;
#else
    (void)sending;
    (void)timeout_ms;
#endif
    return PS__FIRST_TRY;
}

/* One transfer of at least one byte within `dl` from or into the buffers
 * v[0..n) (v[0] is not empty): try first, wait only if the call would
 * block (the common path is one system call). A receive whose first try
 * waits in the kernel up to a socket receive timeout (`first` > 0) goes
 * on, if that ended without data before the deadline (a timer tick early,
 * or a signal), with the clock: waits and tries as any later receive. */
static int ps__transfer(ps_conn *c, int sending, const ps_iovec *v, size_t n,
                        size_t *moved, ps__deadline dl, int first)
{
    int may_block = dl == PS__DL_FOREVER;
    int block = may_block; /* this try may wait in the kernel */
#if PS__CONN_RECV_TIMEO
    /* A blocking receive without deadline must not end at a timeout left
     * on the socket. If it cannot be cleared, a receive that ends there
     * returns PS_EWOULDBLOCK and the loop below waits: still correct. */
    if (!sending && may_block && (c->flags & PS__CONN_RECV_TIMEO_SET))
        (void)ps__recv_timeo(c, 0);
    else if (first > 0)
        block = ps__recv_timeo(c, first);
#endif
    int wait_first = first == PS__FIRST_WAIT;
    for (;;) {
        int rc = PS_EWOULDBLOCK;
        int tried = !wait_first;
        if (tried) {
            if (n == 1 && sending)
                rc = ps__conn_send(c->h.sock, v->base, v->len, moved,
                                   may_block);
            else if (n == 1 && (block || dl == PS__DL_NOWAIT))
                rc = ps__conn_recv(c->h.sock, v->base, v->len, moved, block);
            else if (n == 1)
                rc = ps__conn_recv_until(c->h.sock, v->base, v->len, moved,
                                         dl);
            else
                rc = sending
                         ? ps__conn_sendv(c->h.sock, v, n, moved, may_block)
                         : ps__conn_recvv(c->h.sock, v, n, moved, block);
        }
        wait_first = 0;
        block = may_block;
        if (rc == PS_OK)
            return PS_OK;
        if (rc == PS__EINTR)
            continue;
        if (rc == PS_EWOULDBLOCK) {
            /* A would-block may be a wait that ps_shutdown cancelled (the
             * Windows backend's overlapped receive): the flag says so. */
            if (atomic_load(&c->shut) & (sending ? PS_SHUT_WR : PS_SHUT_RD))
                return ps__io_error(c, sending, rc);
            rc = ps__wait_until(c->h.sock,
                                sending ? PS__WAIT_WRITE : PS__WAIT_READ, dl);
        }
        if (rc != PS_OK)
            return ps__io_error(c, sending, rc);
    }
}

/* Entries copied when a transfer resumes inside a buffer (see ps__io). */
#define PS__IOV_HEAD 16

/* Every transfer call in one: move `total` bytes (the sum of iov[0..count)
 * lengths, already checked) in order, one transfer, or (`all`) until all
 * moved. The caller's array is never modified: the system gets it as it
 * is from the first unfinished entry, except that when a partial transfer
 * ended inside an entry, the rest of that entry and the next few go into a
 * copy on the stack. Empty entries are skipped; the backend limits what
 * one system call takes (IOV_MAX buffers, 32-bit lengths) and the loop
 * goes on from what it reports. */
static int ps__io(ps_conn *c, int sending, const ps_iovec *iov, size_t count,
                  size_t total, size_t *moved, int timeout_ms, int all)
{
    ps__deadline dl;
    int rc = ps__deadline_make(timeout_ms, &dl);
    if (rc != PS_OK)
        return rc;
    /* A timed receive starts as a blocking one with the call's timeout,
     * unless settling a connect took some of it. */
    int first = ps__first(sending, timeout_ms);
    if (c->connecting || c->connect_rc != PS_OK) {
        rc = ps__connect_settle(c, dl);
        if (rc != PS_OK)
            return rc;
        first = PS__FIRST_TRY;
    }
    int shut = atomic_load(&c->shut);
    if (sending && (shut & PS_SHUT_WR))
        return ps__fail(PS_EPIPE);
    if (!sending && (shut & PS_SHUT_RD))
        return ps__fail(PS_ECANCELED);
    size_t done = 0, i = 0, off = 0; /* position: entry i, off bytes in */
    while (done < total) {
        while (off == iov[i].len) { /* finished or empty: bytes remain */
            i++;
            off = 0;
        }
        const ps_iovec *v = iov + i;
        size_t n = count - i;
        ps_iovec head[PS__IOV_HEAD];
        if (off > 0) {
            n = n < PS__IOV_HEAD ? n : PS__IOV_HEAD;
            memcpy(head, v, n * sizeof *head);
            head[0].base = (char *)head[0].base + off;
            head[0].len -= off;
            v = head;
        }
        size_t step = 0;
        rc = ps__transfer(c, sending, v, n, &step, dl, first);
        first = PS__FIRST_TRY;
        if (rc != PS_OK)
            break;
        done += step;
        if (moved)
            *moved = done; /* exact even when a later round fails */
        while (step > 0) { /* advance the position by `step` bytes */
            size_t left = iov[i].len - off;
            if (step < left) {
                off += step;
                break;
            }
            step -= left;
            i++;
            off = 0;
        }
        if (!all)
            break;
    }
    return rc;
}

/* What a single-buffer call does (ps__io1's `mode`), in one argument so
 * that the slow paths take their arguments in registers. */
#define PS__IO_SEND 1       /* send (else receive) */
#define PS__IO_ALL 2        /* until `len` bytes moved: send_all, recv_exact */
#define PS__IO_WAIT_FIRST 4 /* the caller's own try would have blocked */

/* The single-buffer calls, kept apart from the vectored loop. */
static int ps__io1(ps_conn *c, void *buf, size_t len, size_t *moved,
                   int timeout_ms, int mode)
{
    ps__deadline dl;
    int sending = mode & PS__IO_SEND;
    if (moved)
        *moved = 0;
    if (!c || !buf || (!sending && !(mode & PS__IO_ALL) && len == 0))
        return ps__fail(PS_EINVAL);
    int rc = ps__deadline_make(timeout_ms, &dl);
    if (rc != PS_OK)
        return rc;
    /* Only the first receive of the call may wait in the kernel with the
     * call's timeout (ps__transfer), and not after a connect took some of
     * it; later ones wait with what is left. */
    int first = (mode & PS__IO_WAIT_FIRST) ? PS__FIRST_WAIT
                                           : ps__first(sending, timeout_ms);
    if (c->connecting || c->connect_rc != PS_OK) {
        rc = ps__connect_settle(c, dl);
        if (rc != PS_OK)
            return rc;
        first = PS__FIRST_TRY;
    }
    int shut = atomic_load_explicit(&c->shut, memory_order_relaxed);
    if (shut & (sending ? PS_SHUT_WR : PS_SHUT_RD))
        return ps__fail(sending ? PS_EPIPE : PS_ECANCELED);
    ps_iovec v;
    size_t done = 0;
    while (done < len) {
        size_t n = 0;
        v.base = (char *)buf + done;
        v.len = len - done;
        rc = ps__transfer(c, sending, &v, 1, &n, dl, first);
        first = PS__FIRST_TRY;
        if (rc != PS_OK)
            break;
        done += n;
        if (moved)
            *moved = done; /* exact even when a later round fails */
        if (!(mode & PS__IO_ALL))
            break;
    }
    return rc;
}

/* The hot path, measured with callgrind (bench/): PS_FOREVER or timeout 0
 * (the poller's case) on a plain connection (connected, nothing shut down,
 * for a receive without deadline no receive timeout left on the socket)
 * makes its one system call directly, inline from the backend (POSIX) so
 * that nothing but the checks stands between the caller and the system.
 * Everything else is out of line: ps__io1 for the calls that are not
 * plain, ps__io1_rest for a fast call that did not complete the transfer,
 * so the fast path keeps a small stack frame. */
static inline int ps__plain(const ps_conn *c, const void *buf, size_t len,
                            int timeout_ms, int receiving)
{
    if (timeout_ms != PS_FOREVER && timeout_ms != 0)
        return 0;
    if (!c || !buf || len == 0)
        return 0;
    /* A receive timeout left by a timed receive would end a blocking one
     * (not one with timeout 0): ps__transfer clears it first. */
    if (PS__CONN_RECV_TIMEO && receiving &&
        (c->flags & PS__CONN_RECV_TIMEO_SET) && timeout_ms != 0)
        return 0;
    return !c->connecting && c->connect_rc == PS_OK &&
           !atomic_load_explicit(&c->shut, memory_order_relaxed);
}

/* A single-buffer call's arguments, handed to its slow path in memory:
 * the fast path then keeps nothing in registers across its system call
 * but what it needs itself. */
typedef struct ps__io1_call {
    ps_conn *c;
    void *buf;
    size_t len;
    size_t *moved;
    int timeout_ms;
    int mode;
} ps__io1_call;

/* After the fast path's one call returned `rc` with `n` bytes. */
static int ps__io1_rest(const ps__io1_call *a, int rc, size_t n)
{
    if (rc == PS_OK) { /* part of a send_all / recv_exact: go on */
        size_t more = 0;
        rc = ps__io1(a->c, (char *)a->buf + n, a->len - n, &more,
                     a->timeout_ms, a->mode | PS__IO_ALL);
        if (a->moved)
            *a->moved = n + more;
        return rc;
    }
    if (rc == PS__EINTR) /* nothing moved yet */
        return ps__io1(a->c, a->buf, a->len, a->moved, a->timeout_ms,
                       a->mode);
    if (rc == PS_EWOULDBLOCK)
        return ps__io1(a->c, a->buf, a->len, a->moved, a->timeout_ms,
                       a->mode | PS__IO_WAIT_FIRST);
    if (a->moved)
        *a->moved = 0;
    return ps__io_error(a->c, a->mode & PS__IO_SEND, rc);
}

int ps_send(ps_conn *c, const void *buf, size_t len, size_t *sent,
            int timeout_ms)
{
    if (!ps__plain(c, buf, len, timeout_ms, 0))
        return ps__io1(c, (void *)buf, len, sent, timeout_ms, PS__IO_SEND);
    ps__io1_call a = {c, (void *)buf, len, sent, timeout_ms, PS__IO_SEND};
    size_t n = 0;
    int rc = ps__conn_send(c->h.sock, buf, len, &n, timeout_ms != 0);
    if (rc != PS_OK)
        return ps__io1_rest(&a, rc, n);
    if (a.moved)
        *a.moved = n;
    return PS_OK;
}

int ps_recv(ps_conn *c, void *buf, size_t cap, size_t *got, int timeout_ms)
{
    if (!ps__plain(c, buf, cap, timeout_ms, 1))
        return ps__io1(c, buf, cap, got, timeout_ms, 0);
    ps__io1_call a = {c, buf, cap, got, timeout_ms, 0};
    size_t n = 0;
    int rc = ps__conn_recv(c->h.sock, buf, cap, &n, timeout_ms != 0);
    if (rc != PS_OK)
        return ps__io1_rest(&a, rc, n);
    if (a.moved)
        *a.moved = n;
    return PS_OK;
}

int ps_send_all(ps_conn *c, const void *buf, size_t len, size_t *sent,
                int timeout_ms)
{
    if (!ps__plain(c, buf, len, timeout_ms, 0))
        return ps__io1(c, (void *)buf, len, sent, timeout_ms,
                       PS__IO_SEND | PS__IO_ALL);
    ps__io1_call a = {c, (void *)buf, len, sent, timeout_ms,
                      PS__IO_SEND | PS__IO_ALL};
    size_t n = 0;
    int rc = ps__conn_send(c->h.sock, buf, len, &n, timeout_ms != 0);
    if (rc != PS_OK || n < a.len)
        return ps__io1_rest(&a, rc, n);
    if (a.moved)
        *a.moved = n;
    return PS_OK;
}

int ps_recv_exact(ps_conn *c, void *buf, size_t len, size_t *got,
                  int timeout_ms)
{
    if (!ps__plain(c, buf, len, timeout_ms, 1))
        return ps__io1(c, buf, len, got, timeout_ms, PS__IO_ALL);
    ps__io1_call a = {c, buf, len, got, timeout_ms, PS__IO_ALL};
    size_t n = 0;
    int rc = ps__conn_recv(c->h.sock, buf, len, &n, timeout_ms != 0);
    if (rc != PS_OK || n < a.len)
        return ps__io1_rest(&a, rc, n);
    if (a.moved)
        *a.moved = n;
    return PS_OK;
}

/* The vectored calls: gather-send runs until everything is sent, scatter-
 * receive is one transfer. */
static int ps__iov_io(ps_conn *c, int sending, const ps_iovec *iov,
                      size_t count, size_t *moved, int timeout_ms)
{
    if (moved)
        *moved = 0;
    if (!c || (!iov && count > 0))
        return ps__fail(PS_EINVAL);
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        if ((!iov[i].base && iov[i].len > 0) ||
            iov[i].len > SIZE_MAX - total)
            return ps__fail(PS_EINVAL);
        total += iov[i].len;
    }
    if (!sending && total == 0)
        return ps__fail(PS_EINVAL);
    return ps__io(c, sending, iov, count, total, moved, timeout_ms, sending);
}

int ps_sendv(ps_conn *c, const ps_iovec *iov, size_t count, size_t *sent,
             int timeout_ms)
{
    return ps__iov_io(c, 1, iov, count, sent, timeout_ms);
}

int ps_recvv(ps_conn *c, const ps_iovec *iov, size_t count, size_t *got,
             int timeout_ms)
{
    return ps__iov_io(c, 0, iov, count, got, timeout_ms);
}

int ps_shutdown(ps_conn *c, int how)
{
    if (!c || how < PS_SHUT_RD || how > PS_SHUT_RDWR)
        return ps__fail(PS_EINVAL);
    /* The flag goes first so that a thread the shutdown wakes reports it. */
    atomic_fetch_or(&c->shut, (unsigned char)how);
    return ps__conn_shutdown(c->h.sock, how);
}

/* What every way of closing does before the socket goes: leave the poller
 * and give back ps_stdin_conn's slot. */
static void ps__conn_release(ps_conn *c)
{
    if (c->flags & PS__CONN_STDIN)
        ps__stdin_release();
    ps__handle_detach(&c->h);
}

int ps_close(ps_conn *c)
{
    if (!c)
        return ps__fail(PS_EINVAL);
    ps__conn_release(c);
    ps__sock_close(c->h.sock);
    ps__conn_free(c);
    return PS_OK;
}

/* Bytes read and thrown away per call while lingering. */
#define PS__LINGER_BUF 4096

/* The lingering part of ps_close_linger: end of stream to the peer, then
 * read and discard until the peer's end of stream or the deadline. */
static int ps__linger_drain(ps_conn *c, ps__deadline dl)
{
    /* A failed shutdown (the connection is already broken) is not the
     * answer: the drain below reports what happened to the connection. */
    (void)ps_shutdown(c, PS_SHUT_WR);
    char buf[PS__LINGER_BUF];
    ps_iovec one;
    one.base = buf;
    one.len = sizeof buf;
    size_t n;
    int rc;
    do
        rc = ps__transfer(c, 0, &one, 1, &n, dl, PS__FIRST_TRY);
    while (rc == PS_OK);
    if (rc == PS_ECLOSED)
        return PS_OK; /* all input read: the close sends no reset */
    if (rc == PS_EWOULDBLOCK)
        return ps__fail(PS_ETIMEDOUT); /* timeout 0: the deadline passed */
    if (rc == PS_EINVAL)
        return PS_ECONNABORTED; /* the system says the connection is gone:
                                 * not a bad argument, `c` is freed */
    return rc;
}

int ps_close_linger(ps_conn *c, int timeout_ms)
{
    ps__deadline dl;
    int rc = ps__conn_begin(c, timeout_ms, &dl);
    if (rc != PS_OK)
        return rc;
    /* A connect that has not completed never carried data: nothing to
     * protect, close at once. */
    if (!c->connecting && c->connect_rc == PS_OK)
        rc = ps__linger_drain(c, dl);
    ps_close(c);
    return rc;
}

int ps_abort(ps_conn *c)
{
    if (!c)
        return ps__fail(PS_EINVAL);
    ps__conn_release(c);
    ps__conn_abort(c->h.sock);
    ps__conn_free(c);
    return PS_OK;
}

int ps_conn_local_addr(const ps_conn *c, ps_addr *out)
{
    if (!c || !out)
        return ps__fail(PS_EINVAL);
    return ps__sock_local_addr(c->h.sock, out);
}

int ps_conn_peer_addr(const ps_conn *c, ps_addr *out)
{
    if (!c || !out)
        return ps__fail(PS_EINVAL);
    return ps__sock_peer_addr(c->h.sock, out);
}

int ps_conn_set_nodelay(ps_conn *c, int on)
{
    if (!c || (on != 0 && on != 1))
        return ps__fail(PS_EINVAL);
    return ps__conn_set_nodelay(c->h.sock, on);
}

int ps_conn_set_keepalive(ps_conn *c, int on, int idle_s, int interval_s)
{
    if (!c || (on != 0 && on != 1) || idle_s < 0 || interval_s < 0)
        return ps__fail(PS_EINVAL);
    return ps__conn_set_keepalive(c->h.sock, on, idle_s, interval_s);
}

ps_socket_t ps_conn_native(const ps_conn *c)
{
    return c ? (ps_socket_t)c->h.sock : PS_INVALID_SOCKET;
}

int ps_conn_pair(ps_conn *pair[2])
{
    if (!pair)
        return ps__fail(PS_EINVAL);
    ps_addr loop, bound, client_local, peer;
    ps_listener *l = NULL;
    ps_conn *a = NULL, *b = NULL;
    int rc = ps_addr_loopback(&loop, PS_AF_INET, 0);
    if (rc == PS_OK)
        rc = ps_listen(&l, &loop, NULL);
    if (rc == PS_OK)
        rc = ps_listener_addr(l, &bound);
    if (rc == PS_OK)
        rc = ps_connect(&a, &bound, PS_FOREVER);
    if (rc == PS_OK)
        rc = ps_conn_local_addr(a, &client_local);
    /* Accept until the peer is our own client: another local process could
     * race a connection onto the short-lived listener. */
    for (int tries = 0; rc == PS_OK && tries < 16; tries++) {
        rc = ps_accept(l, &b, &peer, 5000);
        if (rc != PS_OK || ps_addr_equal(&peer, &client_local))
            break;
        ps_close(b);
        b = NULL;
    }
    if (rc == PS_OK && !b)
        rc = ps__fail(PS_ECONNABORTED);
    if (l)
        ps_listener_close(l);
    if (rc != PS_OK) {
        if (a)
            ps_close(a);
        if (b)
            ps_close(b);
        return rc;
    }
    pair[0] = a;
    pair[1] = b;
    return PS_OK;
}
