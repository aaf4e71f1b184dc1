/*
 * portsock: one C11 API for TCP sockets on POSIX and on Windows.
 *
 * Model: a listener (ps_listener) only accepts; ps_accept hands back a new,
 * independent connection (ps_conn) that carries one peer's data; closing the
 * listener never disturbs accepted connections. A client gets a ps_conn from
 * ps_connect or ps_dial.
 *
 * Conventions used by every function below:
 *  - Functions that can fail return int: PS_OK (0) or a negative PS_E... code.
 *    Results come back through out-parameters, which are left untouched on
 *    failure unless the comment says otherwise.
 *  - Every call that can wait takes `int timeout_ms`: PS_FOREVER (-1) waits
 *    without limit, 0 never waits (PS_EWOULDBLOCK if it would have to), > 0 is
 *    one deadline for the whole call, retries included. Any other negative
 *    value is PS_EINVAL. A call that runs out of time returns PS_ETIMEDOUT.
 *    Interrupted system calls (EINTR) are retried with the time that is left.
 *  - No call raises SIGPIPE; sockets are never inherited by child processes.
 *  - ps_os_error() gives the raw errno / WSA code behind this thread's last
 *    failure, for diagnostics.
 *
 * Threads: different handles may be used from different threads at once. On
 * one connection, one thread may send while another receives; a third thread
 * may call ps_shutdown on it to wake them. On one listener, one thread may
 * block in ps_accept while another calls ps_listener_shutdown to wake it. No
 * other call may run concurrently with another call on the same handle, and
 * ps_close / ps_abort / ps_listener_close must only be called once no other
 * thread is inside a call on that handle: wake the blocked thread first, join
 * it (or otherwise learn that it returned), then close.
 *
 * This header includes no operating-system header.
 */
#ifndef PORTSOCK_H
#define PORTSOCK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- version ------------------------------------------------------------ */

#define PS_VERSION_MAJOR 0
#define PS_VERSION_MINOR 1
#define PS_VERSION_PATCH 0
#define PS_VERSION_STRING "0.1.0"
/** One number for comparisons: 0xMMmmpp. */
#define PS_VERSION_HEX \
    ((PS_VERSION_MAJOR << 16) | (PS_VERSION_MINOR << 8) | PS_VERSION_PATCH)

/* ---- export macro ---------------------------------------------------------
 * PS_BUILDING is set while the library itself is compiled. PS_SHARED is set
 * (by the CMake target or the .pc file) for programs that link a Windows DLL
 * build. A program that sets neither still links against either build: mingw
 * and MSVC call DLL functions through import thunks, so a forgotten define
 * never produces __imp_ link errors. */
#if defined(_WIN32) || defined(__CYGWIN__)
#  if defined(PS_BUILDING) && defined(PS_SHARED)
#    define PS_API __declspec(dllexport)
#  elif defined(PS_SHARED)
#    define PS_API __declspec(dllimport)
#  else
#    define PS_API
#  endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define PS_API __attribute__((visibility("default")))
#else
#  define PS_API
#endif

/* ---- native handle ------------------------------------------------------- */

#if defined(_WIN32)
/** A Winsock SOCKET (UINT_PTR), without including winsock2.h. */
typedef uintptr_t ps_socket_t;
#  define PS_INVALID_SOCKET ((ps_socket_t)~(uintptr_t)0)
#else
/** A POSIX file descriptor. */
typedef int ps_socket_t;
#  define PS_INVALID_SOCKET (-1)
#endif

/* ---- errors ---------------------------------------------------------------
 * One list: code name, stable value, message. The values are the same on
 * every platform and never change between releases. */
#define PS_ERROR_MAP(X)                                                        \
    X(PS_OK, 0, "success")                                                     \
    X(PS_EINVAL, -1, "invalid argument")                                       \
    X(PS_ENOMEM, -2, "out of memory")                                          \
    X(PS_EWOULDBLOCK, -3, "operation would block")                             \
    X(PS_ETIMEDOUT, -4, "operation timed out")                                 \
    X(PS_EINPROGRESS, -5, "operation in progress")                             \
    X(PS_ECLOSED, -6, "connection closed by peer (end of stream)")             \
    X(PS_ECONNREFUSED, -7, "connection refused")                               \
    X(PS_ECONNRESET, -8, "connection reset by peer")                           \
    X(PS_ECONNABORTED, -9, "connection aborted")                               \
    X(PS_EPIPE, -10, "sending side is shut down")                              \
    X(PS_EADDRINUSE, -11, "address already in use")                            \
    X(PS_EADDRNOTAVAIL, -12, "address not available")                          \
    X(PS_EACCES, -13, "permission denied")                                     \
    X(PS_ENETUNREACH, -14, "network unreachable")                              \
    X(PS_EHOSTUNREACH, -15, "host unreachable")                                \
    X(PS_EAFNOSUPPORT, -16, "address family not supported")                   \
    X(PS_ENOTSUP, -17, "operation not supported")                              \
    X(PS_EMFILE, -18, "out of descriptors or handles")                         \
    X(PS_ENOBUFS, -19, "out of buffer space")                                  \
    X(PS_EMSGSIZE, -20, "message too large or truncated")                      \
    X(PS_ERESOLVE, -21, "name could not be resolved")                          \
    X(PS_ECANCELED, -22, "operation canceled by a local shutdown")             \
    X(PS_EIO, -23, "unclassified system error (see ps_os_error)")

enum ps_error {
#define PS__ERROR_ENUM(name, value, text) name = value,
    PS_ERROR_MAP(PS__ERROR_ENUM)
#undef PS__ERROR_ENUM
};

/** Message for a PS_E... code. Never NULL; unknown codes give a generic text. */
PS_API const char *ps_strerror(int err);
/** The code's name, e.g. "PS_EINVAL". Never NULL ("PS_E?" if unknown). */
PS_API const char *ps_errname(int err);
/** Raw OS code (errno, WSA or getaddrinfo code) of this thread's last failed
 * portsock call; 0 if the last failure had no OS cause (e.g. PS_EINVAL from
 * argument checks leaves it at 0). */
PS_API int ps_os_error(void);

/* ---- timeouts ------------------------------------------------------------ */

/** Wait without limit. */
#define PS_FOREVER (-1)

/* ---- library lifetime -------------------------------------------------------
 * Optional: the first call that needs Winsock starts it, thread-safely. */

/** Start the platform's socket library (WSAStartup on Windows, nothing on
 * POSIX). Reference-counted: each successful ps_init needs one ps_cleanup.
 * Errors: PS_ENOTSUP if Winsock 2.2 is unavailable, PS_EIO otherwise. */
PS_API int ps_init(void);
/** Release one ps_init. PS_EINVAL if there is no matching ps_init. The last
 * one also frees the memory of the few closed connections portsock keeps
 * for reuse (so a leak checker sees nothing left). */
PS_API int ps_cleanup(void);
/** PS_VERSION_STRING of the library actually linked. */
PS_API const char *ps_version(void);

/* ---- addresses ------------------------------------------------------------ */

enum ps_family {
    PS_AF_UNSPEC = 0,
    PS_AF_INET = 1,  /**< IPv4 */
    PS_AF_INET6 = 2, /**< IPv6 */
    PS_AF_UNIX = 3   /**< local (unix-domain) socket path */
};

/** Longest unix-socket path, without the terminating NUL. */
#define PS_UNIX_PATH_MAX 107
/** A buffer of this size always holds ps_addr_format's text. */
#define PS_ADDR_STRLEN 128

/** A socket address: a plain value, copy it with `=`. Fields are in host byte
 * order. Fill it with ps_addr_parse, ps_addr_loopback, ps_addr_any,
 * ps_resolve or ps_addr_from_sockaddr rather than by hand. */
typedef struct ps_addr {
    uint16_t family;   /**< enum ps_family */
    uint16_t port;     /**< TCP/UDP port, host order */
    uint32_t scope_id; /**< IPv6 scope (interface index), else 0 */
    uint32_t flowinfo; /**< IPv6 flow info, else 0 */
    union {
        uint8_t v4[4];
        uint8_t v6[16];
        char path[PS_UNIX_PATH_MAX + 1];
    } u;
} ps_addr;

/** Parse numeric text: "127.0.0.1:8080", "[::1]:8080", "[fe80::1%2]:80",
 * "unix:/path". No DNS. The port is required for IP forms (0..65535).
 * Errors: PS_EINVAL for NULL or malformed text (empty, no port, port out of
 * range, bad brackets, trailing characters, unix path longer than
 * PS_UNIX_PATH_MAX). `out` is untouched on error. */
PS_API int ps_addr_parse(ps_addr *out, const char *text);
/** As ps_addr_parse, but reads at most `len` bytes of `text`; an embedded
 * NUL before `len` is PS_EINVAL. */
PS_API int ps_addr_parse_n(ps_addr *out, const char *text, size_t len);
/** Format as the text ps_addr_parse accepts. Never writes past `cap`; when
 * cap > 0 the result is always NUL-terminated. Errors: PS_EINVAL (NULL, or
 * an address with no family), PS_ENOBUFS (text truncated to fit `cap`). */
PS_API int ps_addr_format(const ps_addr *a, char *buf, size_t cap);
/** Family (enum ps_family) of `a`; PS_AF_UNSPEC for NULL. */
PS_API int ps_addr_family(const ps_addr *a);
/** Port of an IP address (0..65535); PS_EINVAL for NULL or non-IP. */
PS_API int ps_addr_port(const ps_addr *a);
/** Set the port of an IP address. PS_EINVAL for NULL, non-IP, or a port
 * outside 0..65535. */
PS_API int ps_addr_set_port(ps_addr *a, int port);
/** 1 if both are the same address (family, bytes, port, scope), else 0. */
PS_API int ps_addr_equal(const ps_addr *a, const ps_addr *b);
/** 127.0.0.1:port or [::1]:port. PS_EINVAL for NULL, another family or a
 * port outside 0..65535. */
PS_API int ps_addr_loopback(ps_addr *out, int family, int port);
/** 0.0.0.0:port or [::]:port, as ps_addr_loopback. */
PS_API int ps_addr_any(ps_addr *out, int family, int port);
/** Resolve `host` (name or numeric; NULL means loopback) and `service` (port
 * number or service name; NULL means 0) with getaddrinfo, for stream
 * sockets. `family` is PS_AF_UNSPEC, PS_AF_INET or PS_AF_INET6. Stores up to
 * `max` addresses in `out` and their count in `*n`. Errors: PS_EINVAL (bad
 * arguments, max == 0), PS_ERESOLVE (no such name; ps_os_error has the
 * getaddrinfo code), PS_ENOMEM. */
PS_API int ps_resolve(const char *host, const char *service, int family,
                      ps_addr *out, size_t max, size_t *n);
/** Write `a` as a native `struct sockaddr` into `sa` (capacity `cap` bytes,
 * a `struct sockaddr_storage` is always enough); its length goes to `*len`.
 * PS_EINVAL for NULL or no family, PS_ENOBUFS if `cap` is too small. */
PS_API int ps_addr_to_sockaddr(const ps_addr *a, void *sa, size_t cap,
                               size_t *len);
/** Read a native `struct sockaddr` of `len` bytes. PS_EAFNOSUPPORT for a
 * family portsock does not know, PS_EINVAL for NULL or a short length. */
PS_API int ps_addr_from_sockaddr(ps_addr *out, const void *sa, size_t len);

/* ---- listener ------------------------------------------------------------- */

typedef struct ps_listener ps_listener;
typedef struct ps_conn ps_conn;
/** A datagram (UDP) socket. */
typedef struct ps_dgram ps_dgram;

/** Listener flags (ps_listen_opts.flags). */
enum ps_listen_flags {
    /** IPv6 listener also accepts IPv4 peers (seen as ::ffff:a.b.c.d).
     * Without it an IPv6 listener is IPv6-only on every platform. */
    PS_LISTEN_DUALSTACK = 1u << 0
};

typedef struct ps_listen_opts {
    int backlog;    /**< pending-connection queue; 0 means the system max */
    unsigned flags; /**< enum ps_listen_flags */
} ps_listen_opts;

/** Create a listener: socket, bind, listen. `opts` may be NULL (backlog =
 * system max, no flags). Address reuse is set so a restarted server binds
 * at once over connections in TIME_WAIT (POSIX SO_REUSEADDR), and no other
 * socket can bind over a live listener (Windows SO_EXCLUSIVEADDRUSE).
 * Local sockets ("unix:/path", Linux and Windows 10+): if the path exists
 * and nobody accepts on it (a stale file left by a server that died), it
 * is removed and reused; if a live listener is there, or the path is not a
 * socket, the result is PS_EADDRINUSE; a path in a missing directory gives
 * PS_EADDRNOTAVAIL. ps_listener_close removes the file this listener
 * created. A unix peer that did not bind a path is reported as PS_AF_UNIX
 * with an empty path (formatted "unix:").
 * Errors: PS_EINVAL, PS_EADDRINUSE, PS_EADDRNOTAVAIL, PS_EACCES,
 * PS_EAFNOSUPPORT, PS_EMFILE, PS_ENOMEM. */
PS_API int ps_listen(ps_listener **out, const ps_addr *addr,
                     const ps_listen_opts *opts);
/** The bound address: after binding port 0, the port the system chose. */
PS_API int ps_listener_addr(const ps_listener *l, ps_addr *out);
/** Take the next pending connection. `peer` (may be NULL) receives the
 * peer's address. The new connection is independent of the listener and
 * behaves the same on every platform (nothing is inherited from the
 * listener's state). Errors: PS_EWOULDBLOCK (timeout 0, nothing pending),
 * PS_ETIMEDOUT, PS_ECANCELED (ps_listener_shutdown was called), PS_EMFILE
 * (out of descriptors: returns at once; the pending connection stays
 * queued and a later call succeeds once descriptors are free), PS_ENOMEM,
 * PS_EINVAL. */
PS_API int ps_accept(ps_listener *l, ps_conn **out, ps_addr *peer,
                     int timeout_ms);
/** Stop accepting: wakes a thread blocked in ps_accept on `l`, which returns
 * PS_ECANCELED, as does every later ps_accept. May be called from another
 * thread while ps_accept runs. The listener must still be closed. */
PS_API int ps_listener_shutdown(ps_listener *l);
/** Close the listener and free it; accepted connections are not affected.
 * NULL is accepted and ignored (returns PS_EINVAL). */
PS_API int ps_listener_close(ps_listener *l);
/** The OS socket, for setsockopt and similar; do not close it or change its
 * blocking mode. PS_INVALID_SOCKET for NULL. */
PS_API ps_socket_t ps_listener_native(const ps_listener *l);

/* ---- connection ------------------------------------------------------------ */

/** Connect to `addr` (IPv4, IPv6 or "unix:/path") within `timeout_ms`.
 * Errors: PS_ECONNREFUSED (also: no socket at a unix path),
 * PS_ETIMEDOUT, PS_EWOULDBLOCK (timeout 0 and not connected at once; and,
 * on Linux, whatever the timeout, when a unix listener's queue is full),
 * PS_ENETUNREACH, PS_EHOSTUNREACH, PS_EADDRNOTAVAIL, PS_EAFNOSUPPORT,
 * PS_EMFILE, PS_ENOMEM, PS_EINVAL. */
PS_API int ps_connect(ps_conn **out, const ps_addr *addr, int timeout_ms);
/** Resolve `host`/`service` (ps_resolve, PS_AF_UNSPEC) and try each address
 * in turn until one connects, all within one deadline. Returns the error of
 * the last attempt, PS_ERESOLVE if the name does not resolve, PS_ETIMEDOUT
 * if the deadline ends first. */
PS_API int ps_dial(ps_conn **out, const char *host, const char *service,
                   int timeout_ms);

/** Start connecting without waiting, for use with a poller. On PS_OK the
 * connection is established; on PS_EINPROGRESS `*out` is set too and the
 * connection becomes writable (or reports PS_ERROR) once the attempt ends:
 * then call ps_connect_finish. Any other result is an error and `*out` is
 * untouched. Errors as ps_connect. */
PS_API int ps_connect_start(ps_conn **out, const ps_addr *addr);
/** The outcome of ps_connect_start, waiting up to `timeout_ms` for it:
 * PS_OK once connected (also on every later call), PS_EWOULDBLOCK (timeout
 * 0, still connecting), PS_ETIMEDOUT, or the attempt's error, e.g.
 * PS_ECONNREFUSED, which is then returned again by every later call; close
 * the connection after an error. ps_send / ps_recv on a connection still
 * connecting first wait for the outcome within their own timeout. */
PS_API int ps_connect_finish(ps_conn *c, int timeout_ms);

/** Send up to `len` bytes; succeeds once at least one byte is queued (len 0
 * succeeds at once with *sent = 0). `*sent` (may be NULL) gets the count,
 * and is 0 on error. Errors: PS_EWOULDBLOCK, PS_ETIMEDOUT, PS_EPIPE (this
 * side shut down writing, or the peer is gone), PS_ECONNRESET, PS_EINVAL. */
PS_API int ps_send(ps_conn *c, const void *buf, size_t len, size_t *sent,
                   int timeout_ms);
/** Receive at least one and at most `cap` bytes. End of stream is
 * PS_ECLOSED, never a zero-length success. Errors: PS_ECLOSED,
 * PS_ECONNRESET, PS_EWOULDBLOCK, PS_ETIMEDOUT, PS_ECANCELED (this side
 * called ps_shutdown(PS_SHUT_RD)), PS_EINVAL (also for cap == 0). */
PS_API int ps_recv(ps_conn *c, void *buf, size_t cap, size_t *got,
                   int timeout_ms);
/** Send all `len` bytes within one deadline. On any result `*sent` (may be
 * NULL) says exactly how many bytes were queued, so a cut-short transfer is
 * never silent. Errors as ps_send. */
PS_API int ps_send_all(ps_conn *c, const void *buf, size_t len, size_t *sent,
                       int timeout_ms);
/** Receive exactly `len` bytes within one deadline. On any result `*got`
 * (may be NULL) says exactly how many bytes arrived in `buf`; meeting the
 * end of stream early returns PS_ECLOSED. Errors as ps_recv. */
PS_API int ps_recv_exact(ps_conn *c, void *buf, size_t len, size_t *got,
                         int timeout_ms);

enum ps_shutdown_how {
    PS_SHUT_RD = 1, /**< stop receiving; wakes a blocked ps_recv (PS_ECANCELED) */
    PS_SHUT_WR = 2, /**< send end of stream to the peer; later sends: PS_EPIPE */
    PS_SHUT_RDWR = 3
};
/** Shut down one or both directions. May be called from another thread
 * while ps_send / ps_recv run on `c`, to wake them: a woken or later
 * ps_recv returns PS_ECANCELED after PS_SHUT_RD, a woken or later ps_send
 * PS_EPIPE after PS_SHUT_WR. PS_SHUT_RD only stops this side from reading:
 * the peer is not told, and on Windows data that arrives afterwards makes
 * the system reset the connection; to tell the peer, use PS_SHUT_WR or
 * close. Errors: PS_EINVAL. */
PS_API int ps_shutdown(ps_conn *c, int how);
/** Close and free the connection. Returns at once; data already queued is
 * sent in the background, unless unread input is pending or arrives after
 * the close: then the system resets the connection, queued data is
 * discarded and the peer may lose data it has not read yet. If the peer
 * may still be sending, use ps_close_linger. NULL gives PS_EINVAL. */
PS_API int ps_close(ps_conn *c);
/** Reset the connection (the peer gets PS_ECONNRESET) and free it. */
PS_API int ps_abort(ps_conn *c);
/** Lingering close, for a server whose last reply must not be destroyed by
 * a reset: shut down writing (the peer sees end of stream after the data
 * already sent), read and discard input until the peer closes or the
 * deadline passes, then close and free `c`. Needed when the peer may still
 * be sending when you close: closing with unread input makes the system
 * send a reset, which can make the peer lose the reply you sent. Returns
 * PS_OK if the peer closed in time, PS_ETIMEDOUT if the deadline passed
 * first (the connection is closed anyway; also for timeout 0),
 * PS_ECONNRESET if the peer reset it, or another receive error (e.g.
 * PS_ECANCELED after this side's PS_SHUT_RD). `c` is freed in every case
 * except PS_EINVAL (NULL or a bad timeout). */
PS_API int ps_close_linger(ps_conn *c, int timeout_ms);

/** One buffer of a vectored transfer. */
typedef struct ps_iovec {
    void *base;
    size_t len;
} ps_iovec;
/** Gather-send: send all bytes of `iov[0..count)` in order within one
 * deadline, as ps_send_all does for one buffer; `*sent` (may be NULL) is
 * exact on every result. Any number of buffers and any lengths: the
 * library splits what the system cannot take in one call (IOV_MAX buffers
 * on POSIX; 32-bit WSABUF lengths on Windows). Errors as ps_send; also
 * PS_EINVAL for NULL `iov` with count > 0, a NULL base with len > 0, or
 * lengths whose sum overflows size_t. */
PS_API int ps_sendv(ps_conn *c, const ps_iovec *iov, size_t count,
                    size_t *sent, int timeout_ms);
/** Scatter-receive: one transfer of at least one byte into `iov[0..count)`,
 * filled in order, as ps_recv does for one buffer. Errors as ps_recv; also
 * PS_EINVAL as ps_sendv, and for a total capacity of 0. */
PS_API int ps_recvv(ps_conn *c, const ps_iovec *iov, size_t count,
                    size_t *got, int timeout_ms);

/** This side's address. */
PS_API int ps_conn_local_addr(const ps_conn *c, ps_addr *out);
/** The peer's address. */
PS_API int ps_conn_peer_addr(const ps_conn *c, ps_addr *out);
/** Disable (on = 1) or enable (on = 0) Nagle's algorithm (TCP_NODELAY). */
PS_API int ps_conn_set_nodelay(ps_conn *c, int on);
/** Turn TCP keepalive on or off. When on, `idle_s` (> 0) is the idle time
 * before the first probe and `interval_s` (> 0) the time between probes;
 * 0 keeps the system default. Errors: PS_EINVAL (negative values),
 * PS_ENOTSUP (the system cannot set these times). */
PS_API int ps_conn_set_keepalive(ps_conn *c, int on, int idle_s,
                                 int interval_s);
/** Two connected ends in this process (TCP over 127.0.0.1), e.g. for tests
 * or waking a thread. */
PS_API int ps_conn_pair(ps_conn *pair[2]);
/** The OS socket; do not close it or change its blocking mode.
 * PS_INVALID_SOCKET for NULL. On Windows the socket is overlapped and
 * non-blocking; portsock's own waiting receives are overlapped calls whose
 * completions are kept off any I/O completion port you associate the
 * socket with (the event's low bit), and ps_shutdown cancels the I/O
 * pending on the socket (CancelIoEx) to wake its waiters. */
PS_API ps_socket_t ps_conn_native(const ps_conn *c);
/** A connection that delivers this process's standard input, whatever it
 * is (terminal, Windows console, pipe, file): ps_recv and the poller see
 * its bytes, then PS_ECLOSED at its end, so a portable program can wait on
 * stdin and sockets together. A background thread copies stdin into the
 * other end of a connected pair; closing the returned connection makes the
 * thread stop at its next read. Sending on it gives PS_EPIPE. One per
 * process: a second call while one is open gives PS_EINVAL. Errors also as
 * ps_conn_pair, and PS_EIO if the thread cannot be started. */
PS_API int ps_stdin_conn(ps_conn **out);
/** Put the C stream stdout in binary mode, so bytes written to it reach the
 * file, pipe or terminal unchanged: on Windows the C runtime otherwise
 * writes every "\n" as "\r\n" (standard C offers freopen(NULL, "wb",
 * stdout), which the Windows runtimes refuse). POSIX streams are always
 * binary: PS_OK, nothing done. Call it before writing to stdout. A program
 * linked to a portsock DLL must use the same C runtime as the DLL (mingw-w64
 * builds do: msvcrt.dll). Errors: PS_EIO. */
PS_API int ps_stdout_binary(void);

/* ---- datagram (UDP) --------------------------------------------------------
 * A datagram socket has no listener / connection roles. Every datagram is
 * sent whole or not at all, and a datagram larger than the receive buffer
 * is never truncated silently: the call returns PS_EMSGSIZE and says how
 * many bytes were delivered and, where the system can tell, how large the
 * datagram was. An ICMP port-unreachable never breaks the next receive on
 * an unconnected socket (Windows' SIO_UDP_CONNRESET is turned off); on a
 * connected socket it is reported as PS_ECONNREFUSED on both systems. */

enum ps_dgram_flags {
    /** IPv6 socket takes IPv4 traffic too (::ffff:a.b.c.d); without it an
     * IPv6 datagram socket is IPv6-only on every platform. */
    PS_DGRAM_DUALSTACK = 1u << 0,
    /** Allow sending to broadcast addresses (SO_BROADCAST). */
    PS_DGRAM_BROADCAST = 1u << 1,
    /** Let several sockets bind the same address and port (SO_REUSEADDR,
     * plus SO_REUSEPORT where it exists), e.g. multicast receivers. */
    PS_DGRAM_REUSEADDR = 1u << 2
};

/** Open a datagram socket bound to `bind_addr` (port 0: the system picks),
 * or, with NULL, an unbound IPv4 socket that gets a port at its first
 * send. Errors: PS_EINVAL, PS_EADDRINUSE, PS_EADDRNOTAVAIL, PS_EACCES,
 * PS_EAFNOSUPPORT, PS_EMFILE, PS_ENOMEM. */
PS_API int ps_dgram_open(ps_dgram **out, const ps_addr *bind_addr,
                         unsigned flags);
/** Send one datagram of `len` bytes to `to`. Errors: PS_EMSGSIZE (larger
 * than the system can send), PS_EWOULDBLOCK, PS_ETIMEDOUT,
 * PS_ENETUNREACH, PS_EHOSTUNREACH, PS_EACCES (broadcast without
 * PS_DGRAM_BROADCAST), PS_EINVAL (also a `to` of another family). */
PS_API int ps_dgram_sendto(ps_dgram *d, const void *buf, size_t len,
                           const ps_addr *to, int timeout_ms);
/** Receive one datagram into `buf`. `*got` (may be NULL) gets the bytes
 * delivered; `*from` (may be NULL) the sender. If the datagram was larger
 * than `cap`: PS_EMSGSIZE, `*got` == cap bytes delivered, the rest
 * discarded, and `*full_len` (may be NULL) the datagram's size where the
 * system tells it (Linux), else 0. An empty datagram is PS_OK with
 * *got == 0. Errors: PS_EMSGSIZE, PS_EWOULDBLOCK, PS_ETIMEDOUT,
 * PS_ECONNREFUSED (connected socket only), PS_EINVAL. */
PS_API int ps_dgram_recvfrom(ps_dgram *d, void *buf, size_t cap, size_t *got,
                             size_t *full_len, ps_addr *from, int timeout_ms);
/** Fix the peer: ps_dgram_send / ps_dgram_recv then talk to `peer` only,
 * and datagrams from other addresses are dropped by the system. */
PS_API int ps_dgram_connect(ps_dgram *d, const ps_addr *peer);
/** Send to the connected peer. Errors as ps_dgram_sendto, and
 * PS_ECONNREFUSED after the peer's port was found closed. */
PS_API int ps_dgram_send(ps_dgram *d, const void *buf, size_t len,
                         int timeout_ms);
/** Receive from the connected peer, as ps_dgram_recvfrom. */
PS_API int ps_dgram_recv(ps_dgram *d, void *buf, size_t cap, size_t *got,
                         size_t *full_len, int timeout_ms);
/** Join / leave multicast `group` (IPv4 or IPv6, port ignored) on the
 * interface `iface`: for IPv4 the interface's address, for IPv6 an address
 * whose scope_id is the interface index; NULL lets the system choose.
 * Errors: PS_EINVAL (not a multicast address, family mismatch),
 * PS_EADDRNOTAVAIL, PS_ENOTSUP. */
PS_API int ps_dgram_join(ps_dgram *d, const ps_addr *group,
                         const ps_addr *iface);
PS_API int ps_dgram_leave(ps_dgram *d, const ps_addr *group,
                          const ps_addr *iface);
/** Multicast sending options: outgoing interface (NULL keeps the current),
 * hop limit `ttl` (1..255, 0 keeps the current), `loop` (1: this host's
 * own members receive what it sends, 0: they do not, -1 keeps it). */
PS_API int ps_dgram_set_multicast(ps_dgram *d, const ps_addr *iface, int ttl,
                                  int loop);
/** The bound address (after port 0, the real port). */
PS_API int ps_dgram_local_addr(const ps_dgram *d, ps_addr *out);
/** Close and free. NULL gives PS_EINVAL. */
PS_API int ps_dgram_close(ps_dgram *d);
/** The OS socket; do not close it or change its blocking mode.
 * PS_INVALID_SOCKET for NULL. */
PS_API ps_socket_t ps_dgram_native(const ps_dgram *d);

/* ---- poller: readiness of many sockets ------------------------------------
 *
 * Level-triggered on every platform: a handle is reported by every
 * ps_poller_wait for as long as it is ready. A report is a hint, not a
 * promise: the state can change before you act on it (another call read
 * the data, a peer reset), and on Windows a report can lag the socket's
 * state by one wait. Act with timeout 0 and, on PS_EWOULDBLOCK, simply wait
 * again. Backends: epoll on Linux,
 * poll(2) on any POSIX system (also on Linux with PS_POLLER_POLL), and on
 * Windows IOCTL_AFD_POLL on an I/O completion port (no socket-count limit,
 * and failed connects are reported).
 *
 * Threads: ps_poller_wait runs in one thread at a time; ps_poller_wake may
 * be called from any thread at any time. Adding, modifying and removing
 * handles, and closing registered handles, happen in the thread that calls
 * ps_poller_wait (or while no wait is running).
 *
 * Closing a registered handle (ps_close, ps_abort, ps_listener_close) is
 * safe: it leaves the poller first, and no event for it is reported after
 * that, even if the system reuses its descriptor for a new socket. Events
 * already copied out by the current ps_poller_wait still carry its `user`
 * pointer: when handling a batch, skip entries whose handles you closed.
 * A handle is in at most one poller at a time. */

typedef struct ps_poller ps_poller;

/** Event bits. PS_READABLE / PS_WRITABLE are requested; PS_HANGUP (the peer
 * closed or the connection is gone: reading gives PS_ECLOSED or an error)
 * and PS_ERROR (an error is pending, e.g. a failed connect: the next call
 * returns it) are reported whether asked for or not. For a listener,
 * PS_READABLE means a connection is waiting for ps_accept. */
enum ps_poll_events {
    PS_READABLE = 1u << 0,
    PS_WRITABLE = 1u << 1,
    PS_HANGUP = 1u << 2,
    PS_ERROR = 1u << 3
};

typedef struct ps_event {
    void *user;      /**< as given to ps_poller_add_* / ps_poller_modify_* */
    unsigned events; /**< enum ps_poll_events */
} ps_event;

/** Creation flags. */
enum ps_poller_flags {
    /** Use the portable poll(2) backend even where a better one exists
     * (POSIX only; Windows has one mechanism and ignores the flag). */
    PS_POLLER_POLL = 1u << 0
};

/** Create a poller. Errors: PS_EINVAL (unknown flags), PS_ENOMEM,
 * PS_EMFILE, PS_ENOTSUP (no mechanism available). */
PS_API int ps_poller_create(ps_poller **out, unsigned flags);
/** Name of the mechanism in use: "epoll", "poll" or "afd"; "none" for
 * NULL. Never NULL. */
PS_API const char *ps_poller_backend(const ps_poller *p);

/** Register a handle for `events` (PS_READABLE | PS_WRITABLE, or 0 for
 * hang-ups and errors only) with an opaque `user` pointer returned in its
 * events. Errors: PS_EINVAL (NULL, unknown event bits, or the handle is
 * already in a poller: adding twice is refused, never doubled), PS_ENOMEM,
 * PS_ENOBUFS (the system's limit on watched sockets). */
PS_API int ps_poller_add_listener(ps_poller *p, ps_listener *l,
                                  unsigned events, void *user);
PS_API int ps_poller_add_conn(ps_poller *p, ps_conn *c, unsigned events,
                              void *user);
PS_API int ps_poller_add_dgram(ps_poller *p, ps_dgram *d, unsigned events,
                               void *user);
/** Change the events and user pointer of a registered handle; takes effect
 * for the next ps_poller_wait. PS_EINVAL if it is not registered in `p`. */
PS_API int ps_poller_modify_listener(ps_poller *p, ps_listener *l,
                                     unsigned events, void *user);
PS_API int ps_poller_modify_conn(ps_poller *p, ps_conn *c, unsigned events,
                                 void *user);
PS_API int ps_poller_modify_dgram(ps_poller *p, ps_dgram *d, unsigned events,
                                  void *user);
/** Unregister; no event for the handle is reported after this returns.
 * PS_EINVAL if it is not registered in `p`. */
PS_API int ps_poller_remove_listener(ps_poller *p, ps_listener *l);
PS_API int ps_poller_remove_conn(ps_poller *p, ps_conn *c);
PS_API int ps_poller_remove_dgram(ps_poller *p, ps_dgram *d);

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
/** Type-generic forms: ps_poller_add(p, handle, events, user) and so on,
 * for a ps_listener *, a ps_conn * or a ps_dgram *. */
#define ps_poller_add(p, h, events, user)                                      \
    _Generic((h), ps_listener *: ps_poller_add_listener,                      \
             ps_conn *: ps_poller_add_conn,                                   \
             ps_dgram *: ps_poller_add_dgram)(p, h, events, user)
#define ps_poller_modify(p, h, events, user)                                   \
    _Generic((h), ps_listener *: ps_poller_modify_listener,                   \
             ps_conn *: ps_poller_modify_conn,                                \
             ps_dgram *: ps_poller_modify_dgram)(p, h, events, user)
#define ps_poller_remove(p, h)                                                 \
    _Generic((h), ps_listener *: ps_poller_remove_listener,                   \
             ps_conn *: ps_poller_remove_conn,                                \
             ps_dgram *: ps_poller_remove_dgram)(p, h)
#endif

/** Wait for events: up to `max` ready handles go to `events`, their count
 * to `*n` (0 when the timeout passed or only a wake-up came). Handles that
 * did not fit are reported by the next call. Returns PS_OK (also for a
 * timeout with *n == 0, never earlier than `timeout_ms`; a signal that
 * interrupts the wait is retried with the time left), or PS_EINVAL (NULL,
 * max == 0, bad timeout). No heap allocation in steady state. */
PS_API int ps_poller_wait(ps_poller *p, ps_event *events, size_t max,
                          size_t *n, int timeout_ms);
/** Make a running or the next ps_poller_wait return at once (with the
 * events ready by then, possibly none). Any thread; wakes coalesce. */
PS_API int ps_poller_wake(ps_poller *p);
/** Close the poller. Handles still registered leave it and stay open. */
PS_API int ps_poller_close(ps_poller *p);

#ifdef __cplusplus
}
#endif

#endif /* PORTSOCK_H */
