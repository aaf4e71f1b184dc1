/* Deadline arithmetic and the wait loop shared by every waiting call. */
#include "internal.h"

#include <limits.h>

int ps__deadline_left_ms(ps__deadline dl)
{
    if (dl == PS__DL_FOREVER)
        return -1;
    if (dl == PS__DL_NOWAIT)
        return 0;
    int64_t left_us = dl - ps__now_us();
    if (left_us <= 0)
        return 0;
    int64_t left_ms = (left_us + 999) / 1000; /* round up: never end early */
    return left_ms > INT_MAX ? INT_MAX : (int)left_ms;
}

int ps__wait_until(ps__sock_t s, int events, ps__deadline dl)
{
    for (;;) {
        int left = ps__deadline_left_ms(dl);
        if (left == 0)
            return ps__fail(dl == PS__DL_NOWAIT ? PS_EWOULDBLOCK
                                                : PS_ETIMEDOUT);
        int rc = ps__sock_wait(s, events, left);
        /* A wait that times out or is interrupted goes round again: the
         * clock, not the wait, decides when the deadline has passed. */
        if (rc == PS_ETIMEDOUT || rc == PS__EINTR)
            continue;
        return rc;
    }
}
