/* ps_init / ps_cleanup: optional, reference-counted control of the
 * platform's socket library (the backend starts it lazily otherwise). */
#include "internal.h"

static atomic_int ps__init_count;

int ps_init(void)
{
    int rc = ps__os_startup();
    if (rc != PS_OK)
        return rc;
    atomic_fetch_add(&ps__init_count, 1);
    return PS_OK;
}

int ps_cleanup(void)
{
    int n = atomic_load(&ps__init_count);
    do {
        if (n <= 0)
            return ps__fail(PS_EINVAL);
    } while (!atomic_compare_exchange_weak(&ps__init_count, &n, n - 1));
    if (n == 1)
        ps__conn_spares_free(); /* nothing left for a leak checker */
    ps__os_cleanup();
    return PS_OK;
}

const char *ps_version(void)
{
    return PS_VERSION_STRING;
}
