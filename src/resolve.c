/* ps_resolve: getaddrinfo, whose interface is the same on both systems. */
#include "internal.h"

#include <string.h>

int ps_resolve(const char *host, const char *service, int family,
               ps_addr *out, size_t max, size_t *n)
{
    if (!out || !n || max == 0 ||
        (family != PS_AF_UNSPEC && family != PS_AF_INET &&
         family != PS_AF_INET6))
        return ps__fail(PS_EINVAL);
    int rc = ps__os_lazy_init();
    if (rc != PS_OK)
        return rc;

    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family == PS_AF_INET    ? AF_INET
                      : family == PS_AF_INET6 ? AF_INET6
                                              : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    if (!host)
        host = family == PS_AF_INET6 ? "::1" : "127.0.0.1";
    if (!service)
        service = "0";

    struct addrinfo *list = NULL;
    int gai = getaddrinfo(host, service, &hints, &list);
    if (gai != 0)
        return ps__gai_fail(gai);

    size_t count = 0;
    for (struct addrinfo *ai = list; ai && count < max; ai = ai->ai_next) {
        ps_addr a;
        if (ps__addr_from_native(&a, ai->ai_addr, (size_t)ai->ai_addrlen) !=
            PS_OK)
            continue; /* a family we do not use */
        int dup = 0;
        for (size_t i = 0; i < count && !dup; i++)
            dup = ps_addr_equal(&out[i], &a);
        if (!dup)
            out[count++] = a;
    }
    freeaddrinfo(list);
    if (count == 0)
        return ps__fail(PS_ERESOLVE);
    *n = count;
    return PS_OK;
}
