/* bench_proc.h for POSIX (Linux for the memory figures). */
#define _POSIX_C_SOURCE 200809L

#include "bench_proc.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct bench_proc {
    pid_t pid;
    int ended;  /* reaped by bench_proc_running */
    int status; /* its exit status then */
};

int bench_spawn_self(bench_proc **out, const char *argv0, char **args,
                     int nargs)
{
    /* The path /proc/self/exe names: this program even when argv[0] is a
     * bare name (and under valgrind, which answers this readlink with the
     * program it runs, not itself). */
    char path[4096];
    ssize_t len = readlink("/proc/self/exe", path, sizeof path - 1);
    if (len > 0) {
        path[len] = '\0';
    } else {
        if (strlen(argv0) >= sizeof path)
            return -1;
        strcpy(path, argv0);
    }
    char **argv = calloc((size_t)nargs + 2, sizeof *argv);
    bench_proc *p = malloc(sizeof *p);
    if (!argv || !p) {
        free(argv);
        free(p);
        return -1;
    }
    argv[0] = (char *)argv0;
    for (int i = 0; i < nargs; i++)
        argv[i + 1] = args[i];
    argv[nargs + 1] = NULL;
    int rc = posix_spawn(&p->pid, path, NULL, NULL, argv, environ);
    free(argv);
    if (rc != 0) {
        free(p);
        errno = rc;
        return -1;
    }
    p->ended = 0;
    p->status = -1;
    *out = p;
    return 0;
}

static int bench_exit_status(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int bench_proc_running(bench_proc *p)
{
    int status = 0;
    if (p->ended)
        return 0;
    pid_t r = waitpid(p->pid, &status, WNOHANG);
    if (r != p->pid)
        return 1;
    p->ended = 1;
    p->status = bench_exit_status(status);
    return 0;
}

int bench_proc_wait(bench_proc *p, double timeout_s)
{
    int status = 0, result = -1;
    if (p->ended) {
        result = p->status;
        free(p);
        return result;
    }
    /* Poll every 10 ms: bounded in time without signals. */
    long rounds = (long)(timeout_s * 100.0) + 1;
    for (long i = 0; i < rounds; i++) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid) {
            result = bench_exit_status(status);
            free(p);
            return result;
        }
        if (r < 0 && errno != EINTR)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(p->pid, SIGKILL);
    while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR) {
    }
    free(p);
    return -1;
}

int bench_mem_kib(long *now, long *peak)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    int found = 0;
    /* /proc/self/status has a few dozen lines: bounded. */
    while (found < 2 && fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            *now = strtol(line + 6, NULL, 10);
            found++;
        } else if (strncmp(line, "VmHWM:", 6) == 0) {
            *peak = strtol(line + 6, NULL, 10);
            found++;
        }
    }
    fclose(f);
    return found == 2 ? 0 : -1;
}

long bench_fd_limit(long want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    rlim_t target = (rlim_t)want;
    if (rl.rlim_max != RLIM_INFINITY && target > rl.rlim_max)
        target = rl.rlim_max;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= target)
        return rl.rlim_cur == RLIM_INFINITY ? want : (long)rl.rlim_cur;
    rl.rlim_cur = target;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    return (long)target;
}
