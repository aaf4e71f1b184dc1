/* POSIX backend: which poller mechanism a new poller uses. */
#include "internal.h"

extern const ps__poller_ops ps__poller_poll_ops;
#ifdef PS_HAVE_EPOLL
extern const ps__poller_ops ps__poller_epoll_ops;
#endif

const ps__poller_ops *ps__poller_choose(unsigned flags)
{
#ifdef PS_HAVE_EPOLL
    if (!(flags & PS_POLLER_POLL))
        return &ps__poller_epoll_ops;
#endif
    (void)flags;
    return &ps__poller_poll_ops;
}
