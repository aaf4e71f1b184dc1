/* Error names and messages from PS_ERROR_MAP, and the per-thread OS code. */
#include "internal.h"

static _Thread_local int ps__last_os_code;

const char *ps_strerror(int err)
{
    switch (err) {
#define PS__ERROR_TEXT(name, value, text) \
    case value:                           \
        return text;
        PS_ERROR_MAP(PS__ERROR_TEXT)
#undef PS__ERROR_TEXT
    default:
        return "unknown portsock error";
    }
}

const char *ps_errname(int err)
{
    switch (err) {
#define PS__ERROR_NAME(name, value, text) \
    case value:                           \
        return #name;
        PS_ERROR_MAP(PS__ERROR_NAME)
#undef PS__ERROR_NAME
    default:
        return "PS_E?";
    }
}

int ps_os_error(void)
{
    return ps__last_os_code;
}

int ps__os_fail(int os_code)
{
    ps__last_os_code = os_code;
    return ps__map_os_error(os_code);
}

int ps__fail(int err)
{
    ps__last_os_code = 0;
    return err;
}

int ps__gai_fail(int gai_code)
{
    ps__last_os_code = gai_code;
    return ps__map_gai_error(gai_code);
}
