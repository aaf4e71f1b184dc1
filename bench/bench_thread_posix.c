/* bench_thread.h for POSIX: pthreads and CLOCK_MONOTONIC. */
#define _POSIX_C_SOURCE 200809L

#include "bench_thread.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct bench_thread {
    pthread_t id;
    bench_thread_fn fn;
    void *arg;
};

static void *bench_thread_main(void *p)
{
    bench_thread *t = p;
    t->fn(t->arg);
    return NULL;
}

int bench_thread_start(bench_thread **out, bench_thread_fn fn, void *arg)
{
    bench_thread *t = malloc(sizeof *t);
    if (!t)
        return -1;
    t->fn = fn;
    t->arg = arg;
    if (pthread_create(&t->id, NULL, bench_thread_main, t) != 0) {
        free(t);
        return -1;
    }
    *out = t;
    return 0;
}

int bench_thread_join(bench_thread *t)
{
    int rc = pthread_join(t->id, NULL);
    free(t);
    return rc == 0 ? 0 : -1;
}

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
