/* POSIX backend: errno -> PS_E... in one table. */
#include "internal.h"

static const struct {
    int os;
    int ps;
} ps__errno_table[] = {
    {EINTR, PS__EINTR},
    {EAGAIN, PS_EWOULDBLOCK},
#if EWOULDBLOCK != EAGAIN
    {EWOULDBLOCK, PS_EWOULDBLOCK},
#endif
    {EINPROGRESS, PS_EINPROGRESS},
    {EALREADY, PS_EINPROGRESS},
    {ETIMEDOUT, PS_ETIMEDOUT},
    {ECONNREFUSED, PS_ECONNREFUSED},
    {ECONNRESET, PS_ECONNRESET},
    {ECONNABORTED, PS_ECONNABORTED},
    {EPIPE, PS_EPIPE},
    {ESHUTDOWN, PS_EPIPE},
    {ENOTCONN, PS_EPIPE},
    {EISCONN, PS_EINVAL},           /* as Winsock's table: same cause, */
    {EDESTADDRREQ, PS_EINVAL},      /* same code on both systems */
    {ENETRESET, PS_ECONNRESET},
    {EADDRINUSE, PS_EADDRINUSE},
    {EADDRNOTAVAIL, PS_EADDRNOTAVAIL},
    {EACCES, PS_EACCES},
    {EPERM, PS_EACCES},
    {ENETUNREACH, PS_ENETUNREACH},
    {ENETDOWN, PS_ENETUNREACH},
    {EHOSTUNREACH, PS_EHOSTUNREACH},
    {EHOSTDOWN, PS_EHOSTUNREACH},
    {EAFNOSUPPORT, PS_EAFNOSUPPORT},
    {EPFNOSUPPORT, PS_EAFNOSUPPORT},
    {EPROTONOSUPPORT, PS_ENOTSUP},
    {EOPNOTSUPP, PS_ENOTSUP},
    {ENOPROTOOPT, PS_ENOTSUP},
    {EMFILE, PS_EMFILE},
    {ENFILE, PS_EMFILE},
    {ENOBUFS, PS_ENOBUFS},
    {ENOMEM, PS_ENOMEM},
    {EMSGSIZE, PS_EMSGSIZE},
    {EINVAL, PS_EINVAL},
    {EBADF, PS_EINVAL},
    {ENOTSOCK, PS_EINVAL},
    {EFAULT, PS_EINVAL},
    {ENAMETOOLONG, PS_EINVAL},
    {ENOENT, PS_ECONNREFUSED}, /* connect to a missing unix path */
};

int ps__os_last(void)
{
    return errno;
}

int ps__map_os_error(int os_code)
{
    for (size_t i = 0; i < sizeof ps__errno_table / sizeof ps__errno_table[0];
         i++)
        if (ps__errno_table[i].os == os_code)
            return ps__errno_table[i].ps;
    return PS_EIO;
}

int ps__map_gai_error(int gai_code)
{
    switch (gai_code) {
    case EAI_MEMORY:
        return PS_ENOMEM;
    case EAI_FAMILY:
        return PS_EAFNOSUPPORT;
    case EAI_SYSTEM:
        return ps__map_os_error(errno);
    default: /* EAI_NONAME, EAI_AGAIN, EAI_FAIL, EAI_SERVICE, ... */
        return PS_ERESOLVE;
    }
}
