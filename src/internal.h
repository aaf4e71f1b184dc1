/*
 * The backend contract: what src/posix/ and src/win32/ each implement, and
 * the helpers that common code in src/ provides to both.
 *
 * Common code (the files directly in src/) checks arguments, computes deadlines, runs the retry
 * loops and keeps the per-handle state; a backend does only system calls and
 * translates their errors at its egress point ("return ps__os_fail(code)").
 *
 * "platform.h" is the backend's own header, found through the include path
 * that CMake sets for the chosen backend (src/posix or src/win32): it pulls
 * in the OS socket headers and defines ps__sock_t and PS__BAD_SOCK. Common
 * code may use the socket structure names that both systems share
 * (struct sockaddr_in, sockaddr_in6, sockaddr_un, sockaddr_storage).
 */
#ifndef PS_INTERNAL_H
#define PS_INTERNAL_H

#include "portsock.h"
#include "platform.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

/* Internal result: a system call was interrupted (EINTR). Never returned to
 * users; the common retry loops retry with the time that is left. */
#define PS__EINTR (-1000)

/* Readiness a wait asks for. */
#define PS__WAIT_READ 1
#define PS__WAIT_WRITE 2

/* ---- per-handle state (common) ------------------------------------------- */

/* What every handle type starts with: the socket and its poller
 * registration, 16 bytes on 64-bit POSIX. The poller keeps no list of its
 * handles (see struct ps_poller), and the user pointer and events live in
 * the mechanism (epoll's data, poll's slots, AFD's registration), so a
 * registration costs the handle nothing more. */
typedef struct ps__handle {
    ps__sock_t sock;
    uint32_t reg;             /* the poller backend's number for it */
    struct ps_poller *poller; /* the poller it is registered in, or NULL */
} ps__handle;

struct ps_listener {
    ps__handle h;
    atomic_int shut; /* set by ps_listener_shutdown before the wake */
    int accept_waited; /* an accept on it found nothing queued (listener.c) */
    char *unix_path;   /* the socket file this listener created, or NULL */
};

/* Packed to 24 bytes on 64-bit POSIX (a 32-byte malloc chunk): a server
 * with many connections pays for every byte (bench/, "many"). */
struct ps_conn {
    ps__handle h;
    atomic_uchar shut;  /* PS_SHUT_RD / PS_SHUT_WR bits this side shut down */
    int8_t connect_rc;  /* ps_connect_start's outcome once known (PS_E...
                         * codes are -1 .. PS_EIO) */
    uint8_t connecting; /* that attempt has no outcome yet */
    uint8_t flags;      /* PS__CONN_*: set when made, then by receives */
    /* The receive timeout last set on the socket, in ms; 0: none (the
     * system's default). Only on PS__CONN_RECV_TIMEO backends, and only
     * the receiving thread reads or writes it. */
    uint32_t recv_timeo;
};

/* struct ps_conn's flags. */
#define PS__CONN_STDIN 1 /* ps_stdin_conn's: closing it frees the slot */
/* Setting the socket's receive timeout failed (not a socket?): timed
 * receives on it try and wait as on a backend without receive timeouts. */
#define PS__CONN_NO_RECV_TIMEO 2
/* recv_timeo is not 0: the fast path's test (src/conn.c, ps__plain), one
 * byte test where the 32-bit field costs a load and a test. */
#define PS__CONN_RECV_TIMEO_SET 4

struct ps_dgram {
    ps__handle h;
    int family;    /* PS_AF_INET / PS_AF_INET6 */
    int connected; /* ps_dgram_connect succeeded */
};

/* A connection's memory, from a few recently freed ones or malloc (NULL
 * when out of memory), and back (src/conn.c). */
ps_conn *ps__conn_alloc(void);
void ps__conn_free(ps_conn *c);
/* Give the kept ones back to free() (the last ps_cleanup). */
void ps__conn_spares_free(void);
/* Initialise a connection around connected socket `s` (src/conn.c). */
void ps__conn_init(ps_conn *c, ps__sock_t s);
/* Initialise a handle around socket `s`. */
void ps__handle_init(ps__handle *h, ps__sock_t s);
/* Leave the poller if registered (before the socket is closed). */
void ps__handle_detach(ps__handle *h);

/* ---- poller (src/poller.c, common; one backend file per mechanism) ------
 * A mechanism supplies these operations and keeps each registration's
 * events and user pointer; the common code checks arguments, keeps the
 * handle's `poller` and the count of registered handles, and retries
 * interrupted waits within the deadline. */
typedef struct ps__poller_ops {
    const char *name;
    /* Nonzero if a wait may end before its timeout without a signal (a
     * coarse timer, a pass that found only stale results): the common code
     * then reads the clock before every timed wait. Zero promises that
     * PS_ETIMEDOUT means the whole timeout passed, so a wait that ends with
     * events, a wake-up or a timeout never reads the clock. */
    int early_timeouts;
    /* Set up p->impl. */
    int (*open)(struct ps_poller *p);
    /* Free everything. Handles may still be registered: their registrations
     * end with the mechanism, and the handles are not touched (their `reg`
     * is never read again). */
    void (*close)(struct ps_poller *p);
    /* Watch h->sock for `events`, reporting `user`; may set h->reg. */
    int (*add)(struct ps_poller *p, ps__handle *h, unsigned events,
               void *user);
    /* Change the events and user pointer; on failure, nothing changed. */
    int (*modify)(struct ps_poller *p, ps__handle *h, unsigned events,
                  void *user);
    /* Stop watching h; no event for it may be reported afterwards. Called
     * before its socket is closed. Must not fail in a way that leaves h
     * watched. */
    void (*remove)(struct ps_poller *p, ps__handle *h);
    /* One wait of at most `timeout_ms` (-1 forever): fill up to `max`
     * events, their count in *n. PS_OK with *n > 0 for events, PS_OK with
     * *n == 0 for a wake-up, PS_ETIMEDOUT when the time passed with
     * neither, PS__EINTR for an earlier end with neither, or an error (*n
     * need not be set unless PS_OK). Only events asked for, plus PS_HANGUP
     * and PS_ERROR. No heap allocation. */
    int (*wait)(struct ps_poller *p, ps_event *events, size_t max, size_t *n,
                int timeout_ms);
    /* Make the current or next wait return; from any thread. */
    int (*wake)(struct ps_poller *p);
} ps__poller_ops;

/* No list of handles: a handle registered when the poller is closed keeps
 * pointing at this struct, which then outlives the mechanism as a closed
 * marker until the last such handle leaves it (closed, or added to another
 * poller). That costs a few dozen bytes per closed poller that still has
 * handles, instead of two pointers in every handle. */
struct ps_poller {
    const ps__poller_ops *ops;
    void *impl;        /* the mechanism's state; NULL once closed */
    size_t registered; /* handles whose `poller` is this one */
    /* Once closed: how many handles still point here. They may be closed
     * from different threads, hence atomic. */
    atomic_size_t orphans;
};

/* Keeps a rare path out of the hot caller, so that the caller saves fewer
 * registers (the poller's wait runs once per event loop turn). */
#if defined(__GNUC__) || defined(__clang__)
#define PS__COLD __attribute__((noinline, cold))
#else
#define PS__COLD
#endif

/* Backend (per platform, in its poller file): the mechanism for `flags`
 * (PS_POLLER_POLL), or NULL if none. */
const ps__poller_ops *ps__poller_choose(unsigned flags);

/* ---- deadlines (src/deadline.c) -------------------------------------------
 * A deadline is an absolute time on the monotonic clock in microseconds.
 * PS__DL_FOREVER never expires; PS__DL_NOWAIT (timeout 0) is always expired
 * and makes a would-block end in PS_EWOULDBLOCK instead of PS_ETIMEDOUT. */
typedef int64_t ps__deadline;
#define PS__DL_FOREVER INT64_MAX
#define PS__DL_NOWAIT 0

/* Declared again below with their comments (backend init.c, errors.c);
 * needed here by the inline ps__deadline_make. */
int64_t ps__now_us(void);
int ps__fail(int err);
/* The deadline for `timeout_ms` into *out: PS_OK and *out set, or
 * PS_EINVAL for a timeout below PS_FOREVER. Inline: it runs on every
 * transfer, and PS_FOREVER / 0 need no clock. */
static inline int ps__deadline_make(int timeout_ms, ps__deadline *out)
{
    if (timeout_ms > 0) {
        /* INT_MAX ms is about 2.1e12 us: far from overflowing int64. */
        *out = ps__now_us() + (int64_t)timeout_ms * 1000;
        return PS_OK;
    }
    if (timeout_ms == 0) {
        *out = PS__DL_NOWAIT;
        return PS_OK;
    }
    if (timeout_ms == PS_FOREVER) {
        *out = PS__DL_FOREVER;
        return PS_OK;
    }
    *out = PS__DL_NOWAIT; /* never used: set so no path reads it unset */
    return ps__fail(PS_EINVAL);
}
/* Milliseconds left, rounded up so that a wait never ends early: -1 for
 * forever, 0 once expired. Never more than INT_MAX. */
int ps__deadline_left_ms(ps__deadline dl);
/* Wait until `s` is ready for `events` or the deadline passes, retrying
 * interrupted waits. PS_OK (ready, or an error is pending on the socket),
 * PS_EWOULDBLOCK (NOWAIT deadline), PS_ETIMEDOUT, or an error. */
int ps__wait_until(ps__sock_t s, int events, ps__deadline dl);

/* ---- errors (src/errors.c, common) ----------------------------------------- */

/* Remember `os_code` as this thread's ps_os_error() and return its PS_E
 * mapping (ps__map_os_error). Call it on the failing path before any other
 * system call can overwrite errno / WSAGetLastError. */
int ps__os_fail(int os_code);
/* Record a failure with no OS cause (ps_os_error() becomes 0) and return
 * `err`. */
int ps__fail(int err);
/* Remember a getaddrinfo code and return PS_ERESOLVE or its mapping. */
int ps__gai_fail(int gai_code);

/* ---- backend: errors.c ---------------------------------------------------- */

/* The OS's code for the calling thread's last failure (errno or
 * WSAGetLastError()). */
int ps__os_last(void);
/* Map an OS error code to PS_E...: one table per backend; PS_EIO for codes
 * not in the table, PS__EINTR for an interrupted call. */
int ps__map_os_error(int os_code);
/* Map a getaddrinfo failure code to PS_E... (PS_ERESOLVE, PS_ENOMEM, ...). */
int ps__map_gai_error(int gai_code);

/* ---- backend: init.c ---------------------------------------------------- */

/* Start the socket library once per process, thread-safely (Windows:
 * WSAStartup; POSIX: nothing). Called by every entry point that creates a
 * socket or resolves a name; cheap after the first call. */
int ps__os_lazy_init(void);
/* One reference-counted start / stop, for ps_init / ps_cleanup. */
int ps__os_startup(void);
void ps__os_cleanup(void);
/* Monotonic clock in microseconds, > 0. */
int64_t ps__now_us(void);

/* ---- backend: socket.c ------------------------------------------------------
 * Every socket a backend creates is close-on-exec / not inheritable and
 * never raises SIGPIPE. Connection sockets are in the backend's chosen mode
 * (POSIX: blocking, with MSG_DONTWAIT per call; Windows: non-blocking); a
 * backend documents its choice in socket.c. */

/* A new TCP socket of `family` (PS_AF_INET / PS_AF_INET6). `nonblocking`
 * asks for a socket whose connect will not wait. */
int ps__sock_open_stream(int family, int nonblocking, ps__sock_t *out);
/* Close `s`, ignoring errors (nothing useful can be done with them). */
void ps__sock_close(ps__sock_t s);
/* Wait up to `timeout_ms` (-1: forever, 0: poll) for `events`. PS_OK when
 * ready or when an error or hang-up is pending, PS_ETIMEDOUT, PS__EINTR, or
 * an error. A wait for PS__WAIT_WRITE also ends on a failed connect. PS_OK
 * may also mean the wait was canceled by a local shutdown without the
 * socket being ready: callers retry the operation, never assume it. */
int ps__sock_wait(ps__sock_t s, int events, int timeout_ms);
/* The address `s` is bound to (getsockname) into *out: PS_OK, the mapped
 * system error, or ps__addr_from_native's PS_EINVAL / PS_EAFNOSUPPORT. */
int ps__sock_local_addr(ps__sock_t s, ps_addr *out);
/* setsockopt(), with the system's argument types. */
int ps__sock_setopt(ps__sock_t s, int level, int name, const void *val,
                    size_t len);
/* The address of the peer of `s` (getpeername), as ps__sock_local_addr.
 * A socket that is not connected (any more) fails with the system's "not
 * connected", whose mapping differs: PS_EPIPE on POSIX, PS_EINVAL on
 * Windows. */
int ps__sock_peer_addr(ps__sock_t s, ps_addr *out);

/* ---- backend: listener.c ------------------------------------------------ */

/* Open a socket for `addr`, set the reuse policy (POSIX SO_REUSEADDR,
 * Windows SO_EXCLUSIVEADDRUSE), IPV6_V6ONLY = !(flags & DUALSTACK) for IPv6,
 * bind, listen with `backlog` (0: the system maximum). */
int ps__listener_open(const ps_addr *addr, int backlog, unsigned flags,
                      ps__sock_t *out);
/* One attempt, which may wait in the kernel only if `may_block` (used for
 * PS_FOREVER; the wake-up must still end it): PS_OK with *out (a connection socket in the
 * backend's connection mode, not inheritable, nothing inherited from the
 * listener) and *peer if peer != NULL; PS_EWOULDBLOCK if none is pending;
 * PS__EINTR or PS_ECONNABORTED (a queued connection was reset: try again);
 * or an error (PS_EMFILE when out of descriptors). */
int ps__listener_accept(ps__sock_t l, ps__sock_t *out, ps_addr *peer,
                        int may_block);
/* Make a thread waiting on `l` in ps__sock_wait / ps__listener_accept
 * return now and every later wait return at once. */
int ps__listener_wake(ps__sock_t l);

/* ---- backend: conn.c ----------------------------------------------------- */

/* Start connecting `s` (from ps__sock_open_stream with the same
 * `nonblocking`) to `addr`. PS_OK if connected, PS_EINPROGRESS if the
 * result comes later (then wait for PS__WAIT_WRITE and call
 * ps__conn_connect_result), PS__EINTR, or an error. */
int ps__conn_connect(ps__sock_t s, const ps_addr *addr, int nonblocking);
/* The outcome of a started connect once `s` is writable or failed: PS_OK
 * (and `s` returned to connection mode), PS_EINPROGRESS if it is still
 * going on (wait again), or the connect's error. */
int ps__conn_connect_result(ps__sock_t s);
/* One send. `may_block` allows the call to wait in the kernel (used for
 * PS_FOREVER); otherwise it must not wait and returns PS_EWOULDBLOCK.
 * PS_OK with *sent >= 1, PS_EWOULDBLOCK, PS__EINTR, or an error.
 * One receive, as ps__conn_send; 0 bytes (end of stream) is PS_ECLOSED.
 * A backend may define both static inline in its platform.h (the hot path
 * of every transfer) and then defines PS__CONN_IO_INLINE there. */
#ifndef PS__CONN_IO_INLINE
int ps__conn_send(ps__sock_t s, const void *buf, size_t len, size_t *sent,
                  int may_block);
int ps__conn_recv(ps__sock_t s, void *buf, size_t cap, size_t *got,
                  int may_block);
#endif
/* One receive with deadline `dl` (neither PS__DL_FOREVER nor
 * PS__DL_NOWAIT): as ps__conn_recv, but it may wait for data until `dl`
 * (Windows: one overlapped call and a timed wait), or return
 * PS_EWOULDBLOCK at once (POSIX), and then the common code waits with
 * ps__sock_wait. PS_EWOULDBLOCK also when a wait ended early. */
int ps__conn_recv_until(ps__sock_t s, void *buf, size_t cap, size_t *got,
                        ps__deadline dl);
/* Each platform.h defines PS__CONN_RECV_TIMEO: 1 if the backend has
 * ps__conn_set_recv_timeout (below), 0 if not; with 1 also
 * PS__CONN_RECV_TIMEO_MIN_MS. With 1, the first receive of a call with a
 * timeout of at least PS__CONN_RECV_TIMEO_MIN_MS is one ps__conn_recv or
 * ps__conn_recvv with `may_block`, the call's timeout set on the socket
 * (the common code keeps the value last set in struct ps_conn and sets it
 * only when it changes); later receives of the call, and one interrupted
 * or whose timeout ended before the deadline, go through
 * ps__conn_recv_until and ps__sock_wait. A receive without deadline first
 * sets the timeout back to none. */
#if PS__CONN_RECV_TIMEO
/* Make a blocking receive on `s` (ps__conn_recv / ps__conn_recvv with
 * `may_block`) wait at most about `timeout_ms` (0: without limit) and then
 * return PS_EWOULDBLOCK. The backend may set less (a coarse system timer
 * that would end the wait late, an upper limit on the value), and the wait
 * may end a timer tick early: the common code waits out the deadline's
 * rest. PS_OK or an error (then nothing changed). */
int ps__conn_set_recv_timeout(ps__sock_t s, int timeout_ms);
#endif
/* shutdown() with PS_SHUT_* `how`; also wakes threads blocked on `s`. */
int ps__conn_shutdown(ps__sock_t s, int how);
/* Reset: SO_LINGER {1, 0} then close. */
void ps__conn_abort(ps__sock_t s);
/* TCP_NODELAY = `on` (0 or 1, checked by the caller): PS_OK or the
 * system's error (PS_ENOTSUP for a unix-domain socket on Linux). */
int ps__conn_set_nodelay(ps__sock_t s, int on);
/* SO_KEEPALIVE = `on`; when on, an `idle_s` / `interval_s` above 0 also
 * sets that time, 0 leaves it (the caller has checked on is 0 or 1 and the
 * times are not negative). PS_ENOTSUP where the system has no such option,
 * PS_EINVAL for a time too large (the system's limit; Windows: what
 * SIO_KEEPALIVE_VALS can take), else the system's error. Windows sets both
 * times in one call: a 0 there is Windows' standard time. Keepalive stays
 * on if setting a time fails. */
int ps__conn_set_keepalive(ps__sock_t s, int on, int idle_s, int interval_s);

/* ---- backend: conn.c, vectored I/O -----------------------------------------
 * One gather send / scatter receive, as ps__conn_send / ps__conn_recv. The
 * backend passes at most what the system takes in one call (POSIX IOV_MAX
 * buffers; Windows 1,024 WSABUFs and at most ULONG_MAX bytes a call) and
 * reports what moved; the common code loops over the rest. */
int ps__conn_sendv(ps__sock_t s, const ps_iovec *iov, size_t count,
                   size_t *sent, int may_block);
int ps__conn_recvv(ps__sock_t s, const ps_iovec *iov, size_t count,
                   size_t *got, int may_block);

/* ---- backend: listener.c, local sockets --------------------------------- */

/* Remove the unix socket file at `path` (stale, or our own). Refuses
 * anything that is not a socket (PS_EADDRINUSE); PS_OK if already gone. */
int ps__unix_path_remove(const char *path);

/* ---- backend: dgram.c --------------------------------------------------------
 * Datagram sockets follow the connection sockets' mode (POSIX blocking with
 * MSG_DONTWAIT per call; Windows non-blocking, SIO_UDP_CONNRESET off). */

/* Socket of `family`, options from `flags` (enum ps_dgram_flags), bound to
 * `bind_addr` if not NULL. */
int ps__dgram_open(int family, const ps_addr *bind_addr, unsigned flags,
                   ps__sock_t *out);
/* One datagram to `to` (NULL: the connected peer). PS_OK (sent whole),
 * PS_EWOULDBLOCK, PS__EINTR, or an error. */
int ps__dgram_sendto(ps__sock_t s, const void *buf, size_t len,
                     const ps_addr *to, int may_block);
/* One datagram: PS_OK or PS_EMSGSIZE (truncated) with *got and *full_len
 * (0 if unknown) and *from if not NULL; PS_EWOULDBLOCK, PS__EINTR, or an
 * error. */
int ps__dgram_recvfrom(ps__sock_t s, void *buf, size_t cap, size_t *got,
                       size_t *full_len, ps_addr *from, int may_block);
/* Fix the peer of `s` (connect(); the caller has checked its family and
 * port). Windows also turns SIO_UDP_CONNRESET back on, so that the peer's
 * closed port is reported. PS_OK or the system's error. */
int ps__dgram_connect(ps__sock_t s, const ps_addr *peer);
/* Multicast sending options of `s`, a socket of `family`, in this order:
 * the outgoing interface from `iface` unless NULL (IPv4: its address;
 * IPv6: its scope_id as interface index), hop limit `ttl` unless 0, loop
 * `loop` unless -1 (ranges checked by the caller). Stops at the first
 * failure and returns it; options set before it stay set. */
int ps__dgram_set_multicast(ps__sock_t s, int family, const ps_addr *iface,
                            int ttl, int loop);

/* ---- backend: stdio.c ---------------------------------------------------- */

/* Run fn(arg) in a new detached thread. PS_OK or PS_EIO. */
int ps__thread_start(void (*fn)(void *), void *arg);
/* One blocking read of standard input: bytes read (> 0), 0 at its end, or
 * a negative PS_E... code. */
long ps__stdin_read(void *buf, size_t cap);
/* ps_close / ps_abort of ps_stdin_conn's connection (src/stdio.c). */
void ps__stdin_release(void);
/* Make stdout binary (Windows: _setmode); PS_OK or PS_EIO. */
int ps__stdout_binary(void);

/* ---- common helpers used by backends ------------------------------------- */

/* strnlen is POSIX, not C11: length of `s`, at most `max`. memchr stops at
 * the first match (C11 7.24.5.1), so this never reads past the NUL. */
static inline size_t ps__strnlen(const char *s, size_t max)
{
    const char *nul = (const char *)memchr(s, '\0', max);
    return nul ? (size_t)(nul - s) : max;
}

/* PS_AF_* -> AF_*; AF_UNSPEC for anything else (src/sockaddr.c). */
int ps__family_to_native(int family);
/* Native sockaddr <-> ps_addr (src/sockaddr.c). */
int ps__addr_to_native(const ps_addr *a, struct sockaddr_storage *ss,
                       ps__socklen_t *len);
int ps__addr_from_native(ps_addr *out, const struct sockaddr *sa, size_t len);

#endif /* PS_INTERNAL_H */
