/* What the three benchmark programs share: the command line, the result
 * line, fatal errors and the bulk content check. No socket code here. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>

enum bench_workload { BENCH_PINGPONG, BENCH_BULK, BENCH_CHURN };

/* Defaults when SIZE is omitted. */
#define BENCH_PINGPONG_SIZE 1
#define BENCH_BULK_CHUNK 65536
/* Upper bounds that keep every loop and buffer bounded. */
#define BENCH_MAX_COUNT 100000000L
#define BENCH_MAX_PINGPONG_SIZE 65536
#define BENCH_MAX_CHUNK (16L * 1024 * 1024)

struct bench_args {
    int workload; /* enum bench_workload */
    const char *name;
    long count;  /* round trips, chunks or connect/accept/close cycles */
    size_t size; /* message size (pingpong) or chunk size (bulk); 0 for churn */
    int deadline_ms; /* pingpong-deadline: the timeout of every portsock
                      * call (raw sockets have none: they block as in
                      * pingpong); 0 otherwise */
};

/* pingpong-deadline's timeout: long enough never to expire here. */
#define BENCH_DEADLINE_MS 10000

/* Print "bench[api]: message" to stderr and exit(1). */
_Noreturn void bench_die(const char *api, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Parse `PROG WORKLOAD COUNT [SIZE]`; prints usage and exits on error. */
void bench_parse_args(int argc, char **argv, const char *api,
                      struct bench_args *a);

/* The one machine-readable result line on stdout, e.g.
 * "pingpong api=raw size=1 count=100000 seconds=1.234567". */
void bench_report(const char *api, const struct bench_args *a,
                  double seconds);

/* Bulk content check: the sender writes bench_chunk_tag(k) into the first
 * byte of chunk k; the receiver feeds every received piece to
 * bench_bulk_feed, which checks the first byte of each chunk it covers and
 * counts bytes. */
unsigned char bench_chunk_tag(uint64_t k);
struct bench_bulk {
    uint64_t received;
    uint64_t expected;
    size_t chunk;
};
void bench_bulk_init(struct bench_bulk *b, const struct bench_args *a);
/* Bytes the next receive may ask for: min(chunk, expected - received). */
size_t bench_bulk_want(const struct bench_bulk *b);
/* 0 if the data is as expected, -1 (with a message on stderr) if not. */
int bench_bulk_feed(struct bench_bulk *b, const unsigned char *p, size_t n);

#endif
