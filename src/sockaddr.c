/* ps_addr <-> native struct sockaddr. Both systems name the structures the
 * same way (the backend's platform.h brings them in), so this lives once. */
#include "internal.h"

#include <string.h>

int ps__family_to_native(int family)
{
    switch (family) {
    case PS_AF_INET:
        return AF_INET;
    case PS_AF_INET6:
        return AF_INET6;
    case PS_AF_UNIX:
        return AF_UNIX;
    default:
        return AF_UNSPEC;
    }
}

int ps__addr_to_native(const ps_addr *a, struct sockaddr_storage *ss,
                       ps__socklen_t *len)
{
    /* Only the structure used is cleared: the whole sockaddr_storage
     * (128 bytes) would cost more than the rest of a connect's set-up. */
    switch (a->family) {
    case PS_AF_INET: {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        memset(sin, 0, sizeof *sin);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(a->port);
        memcpy(&sin->sin_addr, a->u.v4, 4);
        *len = (ps__socklen_t)sizeof *sin;
        return PS_OK;
    }
    case PS_AF_INET6: {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        memset(sin6, 0, sizeof *sin6);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(a->port);
        sin6->sin6_flowinfo = htonl(a->flowinfo);
        sin6->sin6_scope_id = a->scope_id;
        memcpy(&sin6->sin6_addr, a->u.v6, 16);
        *len = (ps__socklen_t)sizeof *sin6;
        return PS_OK;
    }
    case PS_AF_UNIX: {
        struct sockaddr_un *su = (struct sockaddr_un *)ss;
        size_t plen = ps__strnlen(a->u.path, sizeof a->u.path);
        if (plen == 0 || plen >= sizeof su->sun_path)
            return ps__fail(PS_EINVAL);
        memset(su, 0, sizeof *su);
        su->sun_family = AF_UNIX;
        memcpy(su->sun_path, a->u.path, plen);
        *len = (ps__socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen +
                               1);
        return PS_OK;
    }
    default:
        return ps__fail(PS_EINVAL);
    }
}

int ps__addr_from_native(ps_addr *out, const struct sockaddr *sa, size_t len)
{
    ps_addr a;
    memset(&a, 0, sizeof a);
    if (len < sizeof sa->sa_family)
        return ps__fail(PS_EINVAL);
    switch (sa->sa_family) {
    case AF_INET: {
        struct sockaddr_in sin;
        if (len < sizeof sin)
            return ps__fail(PS_EINVAL);
        memcpy(&sin, sa, sizeof sin);
        a.family = PS_AF_INET;
        a.port = ntohs(sin.sin_port);
        memcpy(a.u.v4, &sin.sin_addr, 4);
        break;
    }
    case AF_INET6: {
        struct sockaddr_in6 sin6;
        if (len < sizeof sin6)
            return ps__fail(PS_EINVAL);
        memcpy(&sin6, sa, sizeof sin6);
        a.family = PS_AF_INET6;
        a.port = ntohs(sin6.sin6_port);
        a.flowinfo = ntohl(sin6.sin6_flowinfo);
        a.scope_id = sin6.sin6_scope_id;
        memcpy(a.u.v6, &sin6.sin6_addr, 16);
        break;
    }
    case AF_UNIX: {
        size_t off = offsetof(struct sockaddr_un, sun_path);
        if (len < off)
            return ps__fail(PS_EINVAL);
        size_t plen = len - off;
        const char *path = (const char *)sa + off;
        plen = ps__strnlen(path, plen);
        if (plen > PS_UNIX_PATH_MAX)
            return ps__fail(PS_EINVAL);
        a.family = PS_AF_UNIX;
        memcpy(a.u.path, path, plen);
        break;
    }
    default:
        return ps__fail(PS_EAFNOSUPPORT);
    }
    *out = a;
    return PS_OK;
}

int ps_addr_to_sockaddr(const ps_addr *a, void *sa, size_t cap, size_t *len)
{
    if (!a || !sa || !len)
        return ps__fail(PS_EINVAL);
    struct sockaddr_storage ss;
    ps__socklen_t n = 0;
    int rc = ps__addr_to_native(a, &ss, &n);
    if (rc != PS_OK)
        return rc;
    if ((size_t)n > cap)
        return ps__fail(PS_ENOBUFS);
    memcpy(sa, &ss, (size_t)n);
    *len = (size_t)n;
    return PS_OK;
}

int ps_addr_from_sockaddr(ps_addr *out, const void *sa, size_t len)
{
    if (!out || !sa)
        return ps__fail(PS_EINVAL);
    struct sockaddr_storage ss;
    if (len > sizeof ss)
        len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, sa, len); /* the caller's buffer may be unaligned */
    return ps__addr_from_native(out, (const struct sockaddr *)&ss, len);
}
