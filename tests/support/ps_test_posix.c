/* POSIX test helpers. */
#define _GNU_SOURCE
#include "ps_test.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct ps_test_thread {
    pthread_t id;
    void (*fn)(void *);
    void *arg;
};

static void *ps_test_trampoline(void *p)
{
    struct ps_test_thread *t = p;
    t->fn(t->arg);
    return NULL;
}

int ps_test_thread_start(ps_test_thread **out, void (*fn)(void *), void *arg)
{
    struct ps_test_thread *t = malloc(sizeof *t);
    if (!t)
        return -1;
    t->fn = fn;
    t->arg = arg;
    if (pthread_create(&t->id, NULL, ps_test_trampoline, t) != 0) {
        free(t);
        return -1;
    }
    *out = t;
    return 0;
}

void ps_test_thread_join(ps_test_thread *t)
{
    pthread_join(t->id, NULL);
    free(t);
}

void ps_test_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

double ps_test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

int ps_test_is_wine(void) { return 0; }

int ps_test_is_inheritable(ps_socket_t s)
{
    int flags = fcntl(s, F_GETFD);
    if (flags < 0)
        return -1;
    return (flags & FD_CLOEXEC) ? 0 : 1;
}

static struct rlimit ps_test_saved_limit;
static int ps_test_limit_saved;

int ps_test_fd_limit_set(long n, const char **why)
{
    (void)why;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (!ps_test_limit_saved) {
        ps_test_saved_limit = rl;
        ps_test_limit_saved = 1;
    }
    rl.rlim_cur = (rlim_t)n;
    return setrlimit(RLIMIT_NOFILE, &rl) == 0 ? 0 : -1;
}

void ps_test_fd_limit_restore(void)
{
    if (ps_test_limit_saved) {
        setrlimit(RLIMIT_NOFILE, &ps_test_saved_limit);
        ps_test_limit_saved = 0;
    }
}

#define PS_TEST_FD_MAX 4096
static int ps_test_fds[PS_TEST_FD_MAX];
static int ps_test_nfds;

int ps_test_fd_exhaust(int max)
{
    if (max > PS_TEST_FD_MAX)
        max = PS_TEST_FD_MAX;
    while (ps_test_nfds < max) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            break;
        ps_test_fds[ps_test_nfds++] = fd;
    }
    return ps_test_nfds;
}

void ps_test_fd_release(void)
{
    while (ps_test_nfds > 0)
        close(ps_test_fds[--ps_test_nfds]);
}

static pthread_t ps_test_storm_target, ps_test_storm_thread;
static atomic_int ps_test_storm_run;
static atomic_long ps_test_storm_count;
static int ps_test_storm_period;

static void ps_test_storm_handler(int sig)
{
    (void)sig;
    atomic_fetch_add(&ps_test_storm_count, 1);
}

static void *ps_test_storm_main(void *p)
{
    (void)p;
    /* The first signal comes one period after the start, so that a test
     * knows when its call is first interrupted. */
    for (;;) {
        ps_test_sleep_ms(ps_test_storm_period);
        if (!atomic_load(&ps_test_storm_run))
            break;
        pthread_kill(ps_test_storm_target, SIGUSR1);
    }
    return NULL;
}

int ps_test_signal_storm_start(int period_ms, const char **why)
{
    (void)why;
    struct sigaction sa;
    sa.sa_handler = ps_test_storm_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: blocking calls see EINTR */
    if (sigaction(SIGUSR1, &sa, NULL) != 0)
        return -1;
    ps_test_storm_target = pthread_self();
    ps_test_storm_period = period_ms;
    atomic_store(&ps_test_storm_count, 0);
    atomic_store(&ps_test_storm_run, 1);
    if (pthread_create(&ps_test_storm_thread, NULL, ps_test_storm_main,
                       NULL) != 0)
        return -1;
    return 0;
}

long ps_test_signal_storm_stop(void)
{
    atomic_store(&ps_test_storm_run, 0);
    pthread_join(ps_test_storm_thread, NULL);
    return atomic_load(&ps_test_storm_count);
}

int ps_test_sigpipe_default(const char **why)
{
    (void)why;
    struct sigaction sa, now;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGPIPE, &sa, NULL), 0);
    sigset_t set, blocked;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    assert_int_equal(pthread_sigmask(SIG_UNBLOCK, &set, NULL), 0);
    /* Read both back: the test below relies on them. */
    assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &blocked), 0);
    assert_false(sigismember(&blocked, SIGPIPE));
    assert_int_equal(sigaction(SIGPIPE, NULL, &now), 0);
    assert_true(now.sa_handler == SIG_DFL);
    return 0;
}

int ps_test_try_hijack(const ps_addr *a)
{
    struct sockaddr_storage ss;
    size_t len;
    if (ps_addr_to_sockaddr(a, &ss, sizeof ss, &len) != PS_OK)
        return -1;
    int s = socket(ss.ss_family, SOCK_STREAM, 0);
    if (s < 0)
        return -1;
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int hijacked = bind(s, (struct sockaddr *)&ss, (socklen_t)len) == 0 &&
                   listen(s, 1) == 0;
    close(s);
    return hijacked;
}

int ps_test_has_safe_reuse(ps_socket_t s)
{
    int v = 0;
    socklen_t len = sizeof v;
    return getsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, &len) == 0 && v != 0;
}

long ps_test_fd_limit_raise(long n)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < n) {
        rlim_t want = (rlim_t)n;
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
            want = rl.rlim_max;
        rl.rlim_cur = want;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? n : (long)rl.rlim_cur;
}

const char *ps_test_temp_dir(void)
{
    /* Not $TMPDIR: it can be long (macOS), and unix paths are short. */
    return "/tmp/";
}

unsigned long ps_test_pid(void) { return (unsigned long)getpid(); }

int ps_test_path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int ps_test_unix_stale(const char *path)
{
    struct sockaddr_storage ss;
    size_t len;
    if (ps_test_unix_sockaddr(path, &ss, sizeof ss, &len) != 0)
        return -1;
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (s < 0)
        return -1;
    int rc = bind(s, (struct sockaddr *)&ss, (socklen_t)len) == 0 ? 0 : -1;
    close(s);
    return rc;
}
