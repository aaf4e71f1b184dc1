/* Address text: strict numeric parsing and RFC 5952 formatting, done here
 * once for every platform (no inet_pton: its leniency differs by system). */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static const char ps__unix_prefix[] = "unix:";
#define PS__UNIX_PREFIX_LEN (sizeof ps__unix_prefix - 1)

static int ps__is_digit(char c) { return c >= '0' && c <= '9'; }

static int ps__hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decimal number of 1..max_digits digits in [s, end), value <= max. */
static int ps__parse_decimal(const char *s, const char *end, int max_digits,
                             unsigned long max, unsigned long *out)
{
    size_t n = (size_t)(end - s);
    if (n == 0 || n > (size_t)max_digits)
        return PS_EINVAL;
    unsigned long v = 0;
    for (; s < end; s++) {
        if (!ps__is_digit(*s))
            return PS_EINVAL;
        v = v * 10 + (unsigned long)(*s - '0');
    }
    if (v > max)
        return PS_EINVAL;
    *out = v;
    return PS_OK;
}

/* Dotted quad "a.b.c.d" exactly filling [s, end). */
static int ps__parse_v4(const char *s, const char *end, uint8_t out[4])
{
    for (int i = 0; i < 4; i++) {
        const char *p = s;
        while (p < end && *p != '.')
            p++;
        if ((i < 3) != (p < end))
            return PS_EINVAL; /* too few or too many dots */
        unsigned long v;
        if (ps__parse_decimal(s, p, 3, 255, &v) != PS_OK)
            return PS_EINVAL;
        out[i] = (uint8_t)v;
        s = p + 1;
    }
    return PS_OK;
}

/* IPv6 text exactly filling [s, end): groups, one "::", optional trailing
 * dotted quad. */
static int ps__parse_v6(const char *s, const char *end, uint8_t out[16])
{
    uint16_t groups[8];
    int count = 0, gap = -1;
    const char *p = s;

    if (p < end && *p == ':') {
        if (end - p < 2 || p[1] != ':')
            return PS_EINVAL;
        gap = 0;
        p += 2;
    }
    while (p < end) {
        const char *q = p;
        while (q < end && *q != ':' && *q != '.')
            q++;
        if (q < end && *q == '.') {
            /* Trailing IPv4 part: takes two groups and must end the text. */
            uint8_t v4[4];
            if (count > 6 || ps__parse_v4(p, end, v4) != PS_OK)
                return PS_EINVAL;
            groups[count++] = (uint16_t)(v4[0] << 8 | v4[1]);
            groups[count++] = (uint16_t)(v4[2] << 8 | v4[3]);
            p = end;
            break;
        }
        if (q == p || q - p > 4 || count == 8)
            return PS_EINVAL;
        unsigned v = 0;
        for (const char *c = p; c < q; c++) {
            int h = ps__hex_value(*c);
            if (h < 0)
                return PS_EINVAL;
            v = v << 4 | (unsigned)h;
        }
        groups[count++] = (uint16_t)v;
        p = q;
        if (p == end)
            break;
        p++; /* the ':' */
        if (p < end && *p == ':') {
            if (gap >= 0)
                return PS_EINVAL; /* a second "::" */
            gap = count;
            p++;
        } else if (p == end) {
            return PS_EINVAL; /* trailing single ':' */
        }
    }
    if (gap < 0 ? count != 8 : count > 7)
        return PS_EINVAL;
    memset(out, 0, 16);
    int tail = gap < 0 ? 0 : count - gap;
    int head = count - tail;
    for (int i = 0; i < head; i++) {
        out[2 * i] = (uint8_t)(groups[i] >> 8);
        out[2 * i + 1] = (uint8_t)groups[i];
    }
    for (int i = 0; i < tail; i++) {
        int at = 8 - tail + i;
        out[2 * at] = (uint8_t)(groups[head + i] >> 8);
        out[2 * at + 1] = (uint8_t)groups[head + i];
    }
    return PS_OK;
}

static int ps__parse_port(const char *s, const char *end, uint16_t *port)
{
    unsigned long v;
    if (ps__parse_decimal(s, end, 5, 65535, &v) != PS_OK)
        return PS_EINVAL;
    *port = (uint16_t)v;
    return PS_OK;
}

/* Parse [text, end), which holds no NUL. */
static int ps__parse_range(ps_addr *out, const char *text, const char *end)
{
    ps_addr a;
    memset(&a, 0, sizeof a);
    size_t len = (size_t)(end - text);

    if (len >= PS__UNIX_PREFIX_LEN &&
        memcmp(text, ps__unix_prefix, PS__UNIX_PREFIX_LEN) == 0) {
        size_t plen = len - PS__UNIX_PREFIX_LEN;
        if (plen == 0 || plen > PS_UNIX_PATH_MAX)
            return PS_EINVAL;
        a.family = PS_AF_UNIX;
        memcpy(a.u.path, text + PS__UNIX_PREFIX_LEN, plen);
        *out = a;
        return PS_OK;
    }
    if (len > 0 && text[0] == '[') {
        const char *close = memchr(text, ']', len);
        if (!close || close + 1 >= end || close[1] != ':')
            return PS_EINVAL;
        const char *pct = memchr(text, '%', (size_t)(close - text));
        const char *host_end = pct ? pct : close;
        if (ps__parse_v6(text + 1, host_end, a.u.v6) != PS_OK)
            return PS_EINVAL;
        if (pct) {
            unsigned long scope;
            if (ps__parse_decimal(pct + 1, close, 10, 0xFFFFFFFFul, &scope) !=
                PS_OK)
                return PS_EINVAL;
            a.scope_id = (uint32_t)scope;
        }
        if (ps__parse_port(close + 2, end, &a.port) != PS_OK)
            return PS_EINVAL;
        a.family = PS_AF_INET6;
        *out = a;
        return PS_OK;
    }
    const char *colon = NULL;
    for (const char *p = text; p < end; p++)
        if (*p == ':') {
            if (colon)
                return PS_EINVAL; /* IPv6 needs brackets */
            colon = p;
        }
    if (!colon || ps__parse_v4(text, colon, a.u.v4) != PS_OK ||
        ps__parse_port(colon + 1, end, &a.port) != PS_OK)
        return PS_EINVAL;
    a.family = PS_AF_INET;
    *out = a;
    return PS_OK;
}

int ps_addr_parse(ps_addr *out, const char *text)
{
    if (!out || !text)
        return ps__fail(PS_EINVAL);
    size_t len = ps__strnlen(text, PS_ADDR_STRLEN);
    if (len == PS_ADDR_STRLEN)
        return ps__fail(PS_EINVAL); /* longer than any valid address */
    int rc = ps__parse_range(out, text, text + len);
    return rc == PS_OK ? PS_OK : ps__fail(rc);
}

int ps_addr_parse_n(ps_addr *out, const char *text, size_t len)
{
    if (!out || !text || len >= PS_ADDR_STRLEN || memchr(text, '\0', len))
        return ps__fail(PS_EINVAL);
    int rc = ps__parse_range(out, text, text + len);
    return rc == PS_OK ? PS_OK : ps__fail(rc);
}

/* RFC 5952 text of an IPv6 address into buf (at least 46 bytes). */
static void ps__format_v6(const uint8_t b[16], char *buf)
{
    uint16_t g[8];
    for (int i = 0; i < 8; i++)
        g[i] = (uint16_t)(b[2 * i] << 8 | b[2 * i + 1]);

    static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0,
                                              0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(b, mapped_prefix, 12) == 0) {
        sprintf(buf, "::ffff:%u.%u.%u.%u", b[12], b[13], b[14], b[15]);
        return;
    }
    /* Longest run of two or more zero groups, the first one on a tie. */
    int best = -1, best_len = 1;
    for (int i = 0; i < 8;) {
        if (g[i] != 0) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && g[j] == 0)
            j++;
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    char *p = buf;
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            *p++ = ':';
            if (i == 0)
                *p++ = ':';
            i += best_len - 1;
            continue;
        }
        p += sprintf(p, "%x", g[i]);
        if (i < 7)
            *p++ = ':';
    }
    *p = '\0';
}

int ps_addr_format(const ps_addr *a, char *buf, size_t cap)
{
    if (!a || !buf || cap == 0)
        return ps__fail(PS_EINVAL);
    char text[PS_ADDR_STRLEN + 16];
    switch (a->family) {
    case PS_AF_INET:
        snprintf(text, sizeof text, "%u.%u.%u.%u:%u", a->u.v4[0], a->u.v4[1],
                 a->u.v4[2], a->u.v4[3], a->port);
        break;
    case PS_AF_INET6: {
        char host[64];
        ps__format_v6(a->u.v6, host);
        if (a->scope_id)
            snprintf(text, sizeof text, "[%s%%%lu]:%u", host,
                     (unsigned long)a->scope_id, a->port);
        else
            snprintf(text, sizeof text, "[%s]:%u", host, a->port);
        break;
    }
    case PS_AF_UNIX:
        snprintf(text, sizeof text, "%s%.*s", ps__unix_prefix,
                 PS_UNIX_PATH_MAX, a->u.path);
        break;
    default:
        buf[0] = '\0';
        return ps__fail(PS_EINVAL);
    }
    size_t len = strlen(text);
    if (len >= cap) {
        memcpy(buf, text, cap - 1);
        buf[cap - 1] = '\0';
        return ps__fail(PS_ENOBUFS);
    }
    memcpy(buf, text, len + 1);
    return PS_OK;
}

int ps_addr_family(const ps_addr *a)
{
    return a ? a->family : PS_AF_UNSPEC;
}

static int ps__is_ip(const ps_addr *a)
{
    return a && (a->family == PS_AF_INET || a->family == PS_AF_INET6);
}

int ps_addr_port(const ps_addr *a)
{
    return ps__is_ip(a) ? a->port : ps__fail(PS_EINVAL);
}

int ps_addr_set_port(ps_addr *a, int port)
{
    if (!ps__is_ip(a) || port < 0 || port > 65535)
        return ps__fail(PS_EINVAL);
    a->port = (uint16_t)port;
    return PS_OK;
}

int ps_addr_equal(const ps_addr *a, const ps_addr *b)
{
    if (!a || !b || a->family != b->family)
        return 0;
    switch (a->family) {
    case PS_AF_INET:
        return a->port == b->port && memcmp(a->u.v4, b->u.v4, 4) == 0;
    case PS_AF_INET6:
        return a->port == b->port && a->scope_id == b->scope_id &&
               memcmp(a->u.v6, b->u.v6, 16) == 0;
    case PS_AF_UNIX:
        return strncmp(a->u.path, b->u.path, sizeof a->u.path) == 0;
    default:
        return 1; /* two unspecified addresses */
    }
}

static int ps__addr_special(ps_addr *out, int family, int port, int loopback)
{
    if (!out || port < 0 || port > 65535 ||
        (family != PS_AF_INET && family != PS_AF_INET6))
        return ps__fail(PS_EINVAL);
    memset(out, 0, sizeof *out);
    out->family = (uint16_t)family;
    out->port = (uint16_t)port;
    if (loopback) {
        if (family == PS_AF_INET) {
            out->u.v4[0] = 127;
            out->u.v4[3] = 1;
        } else {
            out->u.v6[15] = 1;
        }
    }
    return PS_OK;
}

int ps_addr_loopback(ps_addr *out, int family, int port)
{
    return ps__addr_special(out, family, port, 1);
}

int ps_addr_any(ps_addr *out, int family, int port)
{
    return ps__addr_special(out, family, port, 0);
}
