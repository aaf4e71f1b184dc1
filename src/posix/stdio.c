/* POSIX backend: a detached thread and a read of standard input. */
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct ps__thread_start_args {
    void (*fn)(void *);
    void *arg;
};

static void *ps__thread_main(void *p)
{
    struct ps__thread_start_args a = *(struct ps__thread_start_args *)p;
    free(p);
    a.fn(a.arg);
    return NULL;
}

int ps__thread_start(void (*fn)(void *), void *arg)
{
    struct ps__thread_start_args *a = malloc(sizeof *a);
    if (!a)
        return ps__fail(PS_ENOMEM);
    a->fn = fn;
    a->arg = arg;
    pthread_attr_t attr;
    pthread_t id;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int err = pthread_create(&id, &attr, ps__thread_main, a);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        free(a);
        ps__os_fail(err);
        return PS_EIO;
    }
    return PS_OK;
}

long ps__stdin_read(void *buf, size_t cap)
{
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, cap);
        if (n >= 0)
            return (long)n;
        if (errno != EINTR)
            return ps__os_fail(errno);
    }
}

int ps__stdout_binary(void)
{
    return PS_OK; /* POSIX streams make no text / binary difference */
}
