/* POSIX backend: nothing to start; the monotonic clock. */
#include "internal.h"

#include <time.h>

int ps__os_lazy_init(void) { return PS_OK; }
int ps__os_startup(void) { return PS_OK; }
void ps__os_cleanup(void) {}

int64_t ps__now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 + 1;
}
