/* Winsock error codes -> PS_E... codes: one table for every Winsock call,
 * getaddrinfo included (on Windows its EAI_* codes are WSA codes). */
#include "internal.h"

#include <stddef.h>

int ps__os_last(void)
{
    return WSAGetLastError();
}

static const struct {
    int os;
    int ps;
} ps__wsa_map[] = {
    /* no data, interrupted, in progress */
    {WSAEWOULDBLOCK, PS_EWOULDBLOCK},
    {WSAEINTR, PS__EINTR},
    {WSAEINPROGRESS, PS_EINPROGRESS},
    {WSAEALREADY, PS_EINPROGRESS},
    /* connection state */
    {WSAECONNREFUSED, PS_ECONNREFUSED},
    {WSAECONNRESET, PS_ECONNRESET},
    {WSAENETRESET, PS_ECONNRESET}, /* keep-alive found the peer gone */
    {WSAECONNABORTED, PS_ECONNABORTED},
    {WSAESHUTDOWN, PS_EPIPE},
    {WSAETIMEDOUT, PS_ETIMEDOUT},
    {WSAENOTCONN, PS_EPIPE}, /* the connection is gone: as POSIX ENOTCONN */
    {WSAEISCONN, PS_EINVAL},
    /* a local cancel (CancelIoEx) of a pending operation */
    {WSA_OPERATION_ABORTED, PS_ECANCELED},
    /* addresses and routes */
    {WSAEADDRINUSE, PS_EADDRINUSE},
    {WSAEADDRNOTAVAIL, PS_EADDRNOTAVAIL},
    {WSAEACCES, PS_EACCES},
    {WSAENETUNREACH, PS_ENETUNREACH},
    {WSAENETDOWN, PS_ENETUNREACH},
    {WSAEHOSTUNREACH, PS_EHOSTUNREACH},
    {WSAEHOSTDOWN, PS_EHOSTUNREACH},
    {WSAEAFNOSUPPORT, PS_EAFNOSUPPORT}, /* also EAI_FAMILY */
    {WSAEPFNOSUPPORT, PS_EAFNOSUPPORT},
    /* unsupported operations or options */
    {WSAEOPNOTSUPP, PS_ENOTSUP},
    {WSAEPROTONOSUPPORT, PS_ENOTSUP},
    {WSAENOPROTOOPT, PS_ENOTSUP},
    {WSAESOCKTNOSUPPORT, PS_ENOTSUP}, /* also EAI_SOCKTYPE */
    {WSAVERNOTSUPPORTED, PS_ENOTSUP}, /* no Winsock 2.2 */
    /* resources */
    {WSAEMFILE, PS_EMFILE},
    {WSAENOBUFS, PS_ENOBUFS},
    {WSA_NOT_ENOUGH_MEMORY, PS_ENOMEM}, /* also EAI_MEMORY */
    {WSAEMSGSIZE, PS_EMSGSIZE},
    /* bad arguments or handles */
    {WSAEINVAL, PS_EINVAL}, /* also EAI_BADFLAGS */
    {WSAEFAULT, PS_EINVAL},
    {WSAENOTSOCK, PS_EINVAL},
    {WSA_INVALID_HANDLE, PS_EINVAL},
    {WSA_INVALID_PARAMETER, PS_EINVAL},
    {WSAEDESTADDRREQ, PS_EINVAL},
    /* name resolution (getaddrinfo's EAI_NONAME, EAI_NODATA, EAI_AGAIN,
     * EAI_FAIL, EAI_SERVICE) */
    {WSAHOST_NOT_FOUND, PS_ERESOLVE},
    {WSANO_DATA, PS_ERESOLVE},
    {WSATRY_AGAIN, PS_ERESOLVE},
    {WSANO_RECOVERY, PS_ERESOLVE},
    {WSATYPE_NOT_FOUND, PS_ERESOLVE},
    /* Winsock not started or not usable: unclassified */
    {WSANOTINITIALISED, PS_EIO},
    {WSASYSNOTREADY, PS_EIO},
};

/* PS code for `os_code`, or `fallback` when the table does not know it. */
static int ps__wsa_lookup(int os_code, int fallback)
{
    for (size_t i = 0; i < sizeof ps__wsa_map / sizeof ps__wsa_map[0]; i++)
        if (ps__wsa_map[i].os == os_code)
            return ps__wsa_map[i].ps;
    return fallback;
}

int ps__map_os_error(int os_code)
{
    return ps__wsa_lookup(os_code, PS_EIO);
}

int ps__map_gai_error(int gai_code)
{
    /* Any failure of a name lookup the table does not classify is still a
     * name that could not be resolved. */
    return ps__wsa_lookup(gai_code, PS_ERESOLVE);
}
