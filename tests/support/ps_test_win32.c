/* Windows test helpers. */
#define WIN32_LEAN_AND_MEAN
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include "ps_test.h"

#include <stdlib.h>
#include <string.h>

struct ps_test_thread {
    HANDLE h;
    void (*fn)(void *);
    void *arg;
};

static DWORD WINAPI ps_test_trampoline(LPVOID p)
{
    struct ps_test_thread *t = p;
    t->fn(t->arg);
    return 0;
}

int ps_test_thread_start(ps_test_thread **out, void (*fn)(void *), void *arg)
{
    struct ps_test_thread *t = malloc(sizeof *t);
    if (!t)
        return -1;
    t->fn = fn;
    t->arg = arg;
    t->h = CreateThread(NULL, 0, ps_test_trampoline, t, 0, NULL);
    if (!t->h) {
        free(t);
        return -1;
    }
    *out = t;
    return 0;
}

void ps_test_thread_join(ps_test_thread *t)
{
    WaitForSingleObject(t->h, INFINITE);
    CloseHandle(t->h);
    free(t);
}

void ps_test_sleep_ms(int ms) { Sleep((DWORD)ms); }

double ps_test_now_ms(void)
{
    static LARGE_INTEGER freq;
    LARGE_INTEGER now;
    if (!freq.QuadPart)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    return (double)now.QuadPart * 1000.0 / (double)freq.QuadPart;
}

int ps_test_is_wine(void)
{
    /* Wine's ntdll exports wine_get_version; Windows' does not. */
    HMODULE ntdll = GetModuleHandleA("ntdll.dll");
    return ntdll && GetProcAddress(ntdll, "wine_get_version") != NULL;
}

int ps_test_is_inheritable(ps_socket_t s)
{
    DWORD flags = 0;
    if (!GetHandleInformation((HANDLE)s, &flags))
        return -1;
    return (flags & HANDLE_FLAG_INHERIT) ? 1 : 0;
}

int ps_test_fd_limit_set(long n, const char **why)
{
    (void)n;
    /* Not a Wine limit (no WINE.md row): real Windows has no such limit
     * either. Under Wine the only one is the wineserver's RLIMIT_NOFILE,
     * shared by every process of the prefix and set before it starts;
     * lowered that way (ulimit -n 256, own prefix), sockets ran out after
     * 64 with WSAEMFILE, but accept then failed with WSAEINVAL, which says
     * nothing about Windows. */
    *why = "a Windows property, not a Wine limit: Windows has no "
           "per-process socket limit a test can lower (sockets are kernel "
           "handles, limited only by the ~16M handles per process and "
           "memory), so ps_accept cannot be run out of descriptors here";
    return -1;
}

void ps_test_fd_limit_restore(void) {}
long ps_test_fd_limit_raise(long n) { return n; }
int ps_test_fd_exhaust(int max) { (void)max; return 0; }
void ps_test_fd_release(void) {}

int ps_test_signal_storm_start(int period_ms, const char **why)
{
    (void)period_ms;
    *why = "Windows has no signals that interrupt socket calls (no EINTR)";
    return -1;
}

long ps_test_signal_storm_stop(void) { return 0; }

int ps_test_sigpipe_default(const char **why)
{
    *why = "Windows has no SIGPIPE (a send on a broken connection only "
           "fails)";
    return -1;
}

int ps_test_try_hijack(const ps_addr *a)
{
    struct sockaddr_storage ss;
    size_t len;
    if (ps_addr_to_sockaddr(a, &ss, sizeof ss, &len) != PS_OK)
        return -1;
    SOCKET s = socket(ss.ss_family, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET)
        return -1;
    BOOL one = TRUE;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, (const char *)&one, sizeof one);
    int hijacked = bind(s, (struct sockaddr *)&ss, (int)len) == 0 &&
                   listen(s, 1) == 0;
    closesocket(s);
    return hijacked;
}

int ps_test_has_safe_reuse(ps_socket_t s)
{
    BOOL v = FALSE;
    int len = sizeof v;
    return getsockopt((SOCKET)s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (char *)&v,
                      &len) == 0 &&
           v;
}

const char *ps_test_temp_dir(void)
{
    static char dir[MAX_PATH + 2];
    DWORD n = GetTempPathA((DWORD)sizeof dir - 1, dir);
    if (n == 0 || n >= sizeof dir - 1)
        return ".\\";
    if (dir[n - 1] != '\\' && dir[n - 1] != '/') {
        dir[n] = '\\';
        dir[n + 1] = '\0';
    }
    return dir;
}

unsigned long ps_test_pid(void) { return (unsigned long)GetCurrentProcessId(); }

int ps_test_path_exists(const char *path)
{
    return GetFileAttributesA(path) != INVALID_FILE_ATTRIBUTES;
}

int ps_test_unix_stale(const char *path)
{
    struct sockaddr_storage ss;
    size_t len;
    WSADATA wsa;
    if (ps_test_unix_sockaddr(path, &ss, sizeof ss, &len) != 0 ||
        WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
        return -1;
    SOCKET s = socket(AF_UNIX, SOCK_STREAM, 0);
    int rc = -1;
    if (s != INVALID_SOCKET) {
        rc = bind(s, (struct sockaddr *)&ss, (int)len) == 0 ? 0 : -1;
        closesocket(s);
    }
    WSACleanup();
    return rc;
}
