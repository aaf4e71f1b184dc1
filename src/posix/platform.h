/* POSIX backend: OS headers and the native socket type for src/internal.h. */
#ifndef PS_PLATFORM_H
#define PS_PLATFORM_H

/* CMake defines _GNU_SOURCE for this backend (accept4, MSG_NOSIGNAL,
 * SOCK_CLOEXEC on glibc): it must be set before the first system header. */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <errno.h>

typedef int ps__sock_t;
typedef socklen_t ps__socklen_t;
#define PS__BAD_SOCK (-1)

/* Shared by the POSIX backend's files (socket.c). */
int ps__sock_open(int family, int type, int nonblocking, ps__sock_t *out);
int ps__sock_set_nonblocking(ps__sock_t s, int on);

#endif
