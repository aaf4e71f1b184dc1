/* The two things the benchmarks need from the platform besides sockets: a
 * thread (for the server end) and a monotonic clock. bench_thread_posix.c or
 * bench_thread_win32.c is chosen by CMake, so the benchmark sources carry no
 * platform #ifdef. */
#ifndef BENCH_THREAD_H
#define BENCH_THREAD_H

typedef struct bench_thread bench_thread;
typedef void (*bench_thread_fn)(void *arg);

/* Start fn(arg) on a new thread. 0 on success, -1 on failure. */
int bench_thread_start(bench_thread **out, bench_thread_fn fn, void *arg);
/* Wait for the thread to return and free it. 0 on success, -1 on failure. */
int bench_thread_join(bench_thread *t);
/* Monotonic clock, in seconds from an arbitrary origin. */
double bench_now(void);

#endif
