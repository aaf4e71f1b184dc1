/* Winsock start-up and the monotonic clock. */
#include "internal.h"

/* ---- lazy start ------------------------------------------------------------
 * The first call that needs Winsock starts it once for the process and never
 * stops it (as libuv does): a WSACleanup at exit could pull Winsock from
 * under other threads or atexit handlers still using sockets. */

static INIT_ONCE ps__wsa_once = INIT_ONCE_STATIC_INIT;
static int ps__wsa_status; /* WSAStartup's result; written inside the once */

static BOOL CALLBACK ps__wsa_start(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    (void)once;
    (void)param;
    (void)ctx;
    WSADATA wsa;
    int rc = WSAStartup(MAKEWORD(2, 2), &wsa);
    if (rc == 0 && wsa.wVersion != MAKEWORD(2, 2)) {
        WSACleanup();
        rc = WSAVERNOTSUPPORTED;
    }
    ps__wsa_status = rc;
    return TRUE; /* a failure is remembered, not retried */
}

int ps__os_lazy_init(void)
{
    /* After the first completion this is one acquire load, and the once
     * orders the write of ps__wsa_status before every later read. */
    if (!InitOnceExecuteOnce(&ps__wsa_once, ps__wsa_start, NULL, NULL))
        return ps__os_fail((int)GetLastError());
    if (ps__wsa_status != 0)
        return ps__os_fail(ps__wsa_status);
    return PS_OK;
}

/* ---- explicit start / stop (ps_init / ps_cleanup) ---------------------------
 * Winsock counts WSAStartup / WSACleanup pairs itself. WSAStartup returns
 * its error; it does not set WSAGetLastError. */

int ps__os_startup(void)
{
    WSADATA wsa;
    int rc = WSAStartup(MAKEWORD(2, 2), &wsa);
    if (rc != 0)
        return ps__os_fail(rc);
    if (wsa.wVersion != MAKEWORD(2, 2)) {
        WSACleanup();
        return ps__os_fail(WSAVERNOTSUPPORTED);
    }
    return PS_OK;
}

void ps__os_cleanup(void)
{
    WSACleanup();
}

/* ---- monotonic clock ----------------------------------------------------- */

/* QueryPerformanceFrequency is fixed at boot: read it once. Several threads
 * may store the same value; the atomic keeps that well defined. */
static _Atomic int64_t ps__qpc_freq;

int64_t ps__now_us(void)
{
    int64_t freq = atomic_load_explicit(&ps__qpc_freq, memory_order_relaxed);
    if (freq == 0) {
        LARGE_INTEGER f;
        QueryPerformanceFrequency(&f); /* cannot fail on XP and later */
        freq = f.QuadPart;
        atomic_store_explicit(&ps__qpc_freq, freq, memory_order_relaxed);
    }
    LARGE_INTEGER c;
    QueryPerformanceCounter(&c);
    /* Whole seconds and the remainder separately: counter * 1000000 would
     * overflow after about 10 days at a 10 MHz frequency. */
    int64_t sec = c.QuadPart / freq;
    int64_t rem = c.QuadPart % freq;
    /* + 1 keeps the result > 0 even for a counter read as 0. */
    return sec * 1000000 + rem * 1000000 / freq + 1;
}

/* ---- DLL unload ---------------------------------------------------------------
 * Only a DLL build can be unloaded while the process goes on (FreeLibrary;
 * `reserved` is NULL then): per-thread state with a callback into this DLL
 * must be released first. At process exit nothing needs to be done. */
#if defined(PS_SHARED) && defined(PS_BUILDING)
BOOL WINAPI DllMain(HINSTANCE dll, DWORD reason, LPVOID reserved);

BOOL WINAPI DllMain(HINSTANCE dll, DWORD reason, LPVOID reserved)
{
    (void)dll;
    if (reason == DLL_PROCESS_DETACH && reserved == NULL)
        ps__conn_os_unload();
    return TRUE;
}
#endif
