/* Test helpers that must differ per platform (threads, clocks, process
 * limits, signals, Wine detection). Everything else in tests/ is the same
 * source on every platform. */
#ifndef PS_TEST_H
#define PS_TEST_H

#include "portsock.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

typedef struct ps_test_thread ps_test_thread;

/* Start fn(arg) in a new thread; returns 0 or -1. */
int ps_test_thread_start(ps_test_thread **t, void (*fn)(void *), void *arg);
/* Wait for the thread to end and free it. */
void ps_test_thread_join(ps_test_thread *t);

void ps_test_sleep_ms(int ms);
/* Monotonic clock in milliseconds (fractional). */
double ps_test_now_ms(void);

/* 1 when running under Wine. */
int ps_test_is_wine(void);
/* 1 if a child process would inherit this socket, 0 if not, -1 on error. */
int ps_test_is_inheritable(ps_socket_t s);

/* Try to take over `a`'s port the way a hostile or careless program would:
 * a raw socket with SO_REUSEADDR set, bound to the same address and put in
 * listening state. 1 if that worked (the port was hijacked), 0 if the
 * system refused, -1 if the raw socket could not even be created. */
int ps_test_try_hijack(const ps_addr *a);

/* 1 if listener socket `s` carries the platform's safe reuse policy:
 * SO_EXCLUSIVEADDRUSE on Windows, SO_REUSEADDR on POSIX; 0 if not. */
int ps_test_has_safe_reuse(ps_socket_t s);

/* Lower the limit on open descriptors to `n` (keeping the old limit to
 * restore); 0 on success, -1 where the platform has no such limit (reason
 * in *why). */
int ps_test_fd_limit_set(long n, const char **why);
void ps_test_fd_limit_restore(void);
/* Make sure at least `n` descriptors can be open (raising the soft limit
 * up to the hard one on POSIX; nothing to do on Windows). Returns the
 * number available (>= n on success, less if the hard limit is lower). */
long ps_test_fd_limit_raise(long n);
/* Open up to `max` throwaway descriptors until the process runs out; returns
 * how many were opened. ps_test_fd_release closes them. */
int ps_test_fd_exhaust(int max);
void ps_test_fd_release(void);

/* Deliver a signal with no SA_RESTART to thread `target` every `period_ms`
 * (the first one period after the start) until ps_test_signal_storm_stop;
 * 0 on success, -1 where the platform has no signals that interrupt socket
 * calls (reason in *why). The target is the calling thread. */
int ps_test_signal_storm_start(int period_ms, const char **why);
/* Stop the storm; returns how many signals were delivered. */
long ps_test_signal_storm_stop(void);

/* Give SIGPIPE its default action (terminate the process) and unblock it
 * in the calling thread, whatever the runner set up (ctest, a shell or CI
 * may ignore or block it), so that a write the library failed to protect
 * would kill the test. 0 on success (both read back; the test fails if
 * they do not hold), -1 where the platform has no SIGPIPE (reason in
 * *why). */
int ps_test_sigpipe_default(const char **why);

/* Wait (up to 5 s, bounded) until a poller reports `l` readable, i.e. a
 * connection is queued; the test fails otherwise. Then one ps_accept with
 * timeout 0 must take it. */
void ps_test_wait_queued(ps_listener *l);

/* Listen on the loopback of `family` at port 0; `bound` (may be NULL) gets
 * the real address. Fails the test on error. */
void ps_test_listen(ps_listener **l, int family, ps_addr *bound);
/* Connect a client to `l` and accept it: two ends of one connection. */
void ps_test_connect_pair(ps_listener *l, ps_conn **client, ps_conn **server);
/* Both: listen on IPv4 loopback (port 0), then a connected pair. */
void ps_test_pair(ps_listener **l, ps_conn **client, ps_conn **server);
/* 1 if this machine can listen on [::1]. */
int ps_test_have_ipv6(void);

/* The system's directory for temporary files, ending in its path
 * separator: "/tmp/" on POSIX, GetTempPath's answer on Windows. */
const char *ps_test_temp_dir(void);
/* This process's id, to make temporary names unique across parallel runs. */
unsigned long ps_test_pid(void);
/* 1 if something (of any file type) exists at `path`, else 0. */
int ps_test_path_exists(const char *path);
/* Leave at `path` what a server that died leaves: a unix socket file that
 * nobody listens on (a raw socket bound there and closed, the file not
 * removed). 0 on success, -1 if that could not be done. */
int ps_test_unix_stale(const char *path);

/* ps_sendv(c, iov, count, &sent, timeout_ms) in another thread (the
 * buffers must stay valid until the join); the join returns its result
 * and `*sent` (may be NULL). Fails the test if the thread cannot start. */
typedef struct ps_test_sender ps_test_sender;
ps_test_sender *ps_test_sendv_start(ps_conn *c, const ps_iovec *iov,
                                    size_t count, int timeout_ms);
int ps_test_sendv_join(ps_test_sender *s, size_t *sent);

/* Reset and seed the per-test random source used for payloads. */
uint32_t ps_test_rand(uint32_t *state);
/* Fill `buf` with `n` pseudo-random bytes from `seed`. */
void ps_test_fill(void *buf, size_t n, uint32_t seed);
/* FNV-1a hash of `n` bytes, to compare large payloads. */
uint64_t ps_test_checksum(const void *buf, size_t n);
/* The native sockaddr of unix path `path` (through ps_addr_to_sockaddr):
 * 0, or -1 if the path does not fit. */
int ps_test_unix_sockaddr(const char *path, void *sa, size_t cap,
                          size_t *len);

#endif
