/* What the poller benchmarks need from the platform besides sockets,
 * threads and the clock (bench_thread.h): a second process, the resident
 * memory of this one, and the open-file limit. bench_proc_posix.c or
 * bench_proc_win32.c is chosen by CMake. */
#ifndef BENCH_PROC_H
#define BENCH_PROC_H

typedef struct bench_proc bench_proc;

/* Start this program again as a child process with arguments
 * args[0..nargs) (its argv[1..]); `argv0` is this program's argv[0]. 0 on
 * success, -1 on failure. */
int bench_spawn_self(bench_proc **out, const char *argv0, char **args,
                     int nargs);
/* 1 while the child runs, 0 once it has ended (its status is kept for
 * bench_proc_wait). */
int bench_proc_running(bench_proc *p);
/* Wait up to `timeout_s` for the child to end and free it; a child still
 * running then is killed. Its exit status (0..255), or -1 if it was killed,
 * died of a signal or could not be waited for. */
int bench_proc_wait(bench_proc *p, double timeout_s);
/* Resident memory of this process now and at its peak, in KiB (Linux:
 * VmRSS / VmHWM from /proc/self/status; Windows: WorkingSetSize /
 * PeakWorkingSetSize). 0 on success, -1 if unknown. */
int bench_mem_kib(long *now, long *peak);
/* Raise the soft limit on open descriptors to `want` or, if the hard limit
 * is lower, to the hard limit. Returns the limit in force afterwards
 * (Windows has no such limit: returns `want`). */
long bench_fd_limit(long want);

#endif
