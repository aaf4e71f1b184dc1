/* bench_thread.h for Windows: CreateThread and QueryPerformanceCounter. */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include "bench_thread.h"

#include <stdlib.h>

struct bench_thread {
    HANDLE handle;
    bench_thread_fn fn;
    void *arg;
};

static DWORD WINAPI bench_thread_main(LPVOID p)
{
    bench_thread *t = p;
    t->fn(t->arg);
    return 0;
}

int bench_thread_start(bench_thread **out, bench_thread_fn fn, void *arg)
{
    bench_thread *t = malloc(sizeof *t);
    if (!t)
        return -1;
    t->fn = fn;
    t->arg = arg;
    t->handle = CreateThread(NULL, 0, bench_thread_main, t, 0, NULL);
    if (!t->handle) {
        free(t);
        return -1;
    }
    *out = t;
    return 0;
}

int bench_thread_join(bench_thread *t)
{
    DWORD w = WaitForSingleObject(t->handle, INFINITE);
    CloseHandle(t->handle);
    free(t);
    return w == WAIT_OBJECT_0 ? 0 : -1;
}

double bench_now(void)
{
    static LARGE_INTEGER freq; /* set on the first call, before any thread */
    LARGE_INTEGER now;
    if (freq.QuadPart == 0)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    return (double)now.QuadPart / (double)freq.QuadPart;
}
