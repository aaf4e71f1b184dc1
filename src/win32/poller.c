/* Winsock backend: which poller mechanism a new poller uses. There is one,
 * IOCTL_AFD_POLL on an I/O completion port (poller_afd.c); PS_POLLER_POLL
 * asks for poll(2), which only POSIX has, so it is ignored here. */
#include "internal.h"

extern const ps__poller_ops ps__poller_afd_ops;

const ps__poller_ops *ps__poller_choose(unsigned flags)
{
    (void)flags;
    return &ps__poller_afd_ops;
}
