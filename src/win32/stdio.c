/* Winsock backend: a detached thread and a read of standard input, which
 * may be a console, a pipe or a file (ReadFile reads all three). */
#include "internal.h"

#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>

struct ps__thread_start_args {
    void (*fn)(void *);
    void *arg;
};

static DWORD WINAPI ps__thread_main(LPVOID p)
{
    struct ps__thread_start_args a = *(struct ps__thread_start_args *)p;
    free(p);
    a.fn(a.arg);
    return 0;
}

int ps__thread_start(void (*fn)(void *), void *arg)
{
    struct ps__thread_start_args *a = malloc(sizeof *a);
    if (!a)
        return ps__fail(PS_ENOMEM);
    a->fn = fn;
    a->arg = arg;
    HANDLE h = CreateThread(NULL, 0, ps__thread_main, a, 0, NULL);
    if (!h) {
        int err = (int)GetLastError();
        free(a);
        ps__os_fail(err);
        return PS_EIO;
    }
    CloseHandle(h); /* detached: it ends by itself */
    return PS_OK;
}

long ps__stdin_read(void *buf, size_t cap)
{
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
    if (in == NULL || in == INVALID_HANDLE_VALUE)
        return 0; /* no standard input: an empty stream */
    DWORD want = cap > 65536 ? 65536 : (DWORD)cap, got = 0;
    if (!ReadFile(in, buf, want, &got, NULL)) {
        DWORD err = GetLastError();
        /* The writer closed the pipe: that is the end of the input. */
        if (err == ERROR_BROKEN_PIPE || err == ERROR_HANDLE_EOF)
            return 0;
        return ps__os_fail((int)err);
    }
    return (long)got;
}

int ps__stdout_binary(void)
{
    fflush(stdout); /* what was written in text mode goes out as text */
    if (_setmode(_fileno(stdout), _O_BINARY) == -1)
        return ps__fail(PS_EIO);
    return PS_OK;
}
