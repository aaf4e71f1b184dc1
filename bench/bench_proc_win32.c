/* bench_proc.h for Windows (and Wine). */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <psapi.h>

#include "bench_proc.h"

#include <stdlib.h>
#include <string.h>

struct bench_proc {
    HANDLE process;
};

/* Append `arg` to the command line in `cmd` (capacity `cap`) in double
 * quotes. The arguments here are a path and numbers: one that holds a quote
 * or ends in a backslash (which would need escaping) is refused, as is one
 * that does not fit. -1 on refusal. */
static int bench_append_arg(char *cmd, size_t cap, const char *arg)
{
    size_t len = strlen(cmd), alen = strlen(arg);
    if (strchr(arg, '"') || (alen > 0 && arg[alen - 1] == '\\') ||
        len + alen + 4 >= cap)
        return -1;
    char *p = cmd + len;
    if (len > 0)
        *p++ = ' ';
    *p++ = '"';
    memcpy(p, arg, alen);
    p += alen;
    *p++ = '"';
    *p = '\0';
    return 0;
}

int bench_spawn_self(bench_proc **out, const char *argv0, char **args,
                     int nargs)
{
    (void)argv0;
    char path[MAX_PATH + 1];
    DWORD n = GetModuleFileNameA(NULL, path, (DWORD)sizeof path);
    if (n == 0 || n >= sizeof path)
        return -1;
    char cmd[4096];
    cmd[0] = '\0';
    if (bench_append_arg(cmd, sizeof cmd, path) != 0)
        return -1;
    for (int i = 0; i < nargs; i++)
        if (bench_append_arg(cmd, sizeof cmd, args[i]) != 0)
            return -1;
    bench_proc *p = malloc(sizeof *p);
    if (!p)
        return -1;
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    if (!CreateProcessA(path, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si,
                        &pi)) {
        free(p);
        return -1;
    }
    CloseHandle(pi.hThread);
    p->process = pi.hProcess;
    *out = p;
    return 0;
}

int bench_proc_running(bench_proc *p)
{
    return WaitForSingleObject(p->process, 0) == WAIT_TIMEOUT;
}

int bench_proc_wait(bench_proc *p, double timeout_s)
{
    int result = -1;
    DWORD w = WaitForSingleObject(p->process, (DWORD)(timeout_s * 1000.0));
    DWORD code = 0;
    if (w == WAIT_OBJECT_0 && GetExitCodeProcess(p->process, &code) &&
        code <= 255)
        result = (int)code;
    else if (w != WAIT_OBJECT_0) {
        TerminateProcess(p->process, 255);
        WaitForSingleObject(p->process, 10000);
    }
    CloseHandle(p->process);
    free(p);
    return result;
}

int bench_mem_kib(long *now, long *peak)
{
    PROCESS_MEMORY_COUNTERS pmc;
    memset(&pmc, 0, sizeof pmc);
    if (!K32GetProcessMemoryInfo(GetCurrentProcess(), &pmc,
                                 (DWORD)sizeof pmc))
        return -1;
    *now = (long)(pmc.WorkingSetSize / 1024);
    *peak = (long)(pmc.PeakWorkingSetSize / 1024);
    return 0;
}

long bench_fd_limit(long want)
{
    return want;
}
