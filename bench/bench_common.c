/* Command line, result line and bulk checking shared by the benchmarks. */
#include "bench_common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bench_die(const char *api, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "bench[%s]: ", api);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void bench_usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s WORKLOAD COUNT [SIZE]\n"
            "  pingpong COUNT [SIZE]  COUNT round trips of SIZE bytes "
            "(default %d, max %d)\n"
            "  pingpong-deadline COUNT [SIZE]  the same, every portsock "
            "call with a %d ms timeout\n"
            "  bulk COUNT [SIZE]      COUNT chunks of SIZE bytes one way "
            "(default %d, max %ld)\n"
            "  churn COUNT            COUNT connect/accept/close cycles\n"
            "COUNT: 1..%ld. Server and client are two threads over "
            "127.0.0.1.\n",
            prog, BENCH_PINGPONG_SIZE, BENCH_MAX_PINGPONG_SIZE,
            BENCH_DEADLINE_MS, BENCH_BULK_CHUNK, BENCH_MAX_CHUNK, BENCH_MAX_COUNT);
    exit(2);
}

static long bench_number(const char *prog, const char *text, long max)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < 1 || v > max) {
        fprintf(stderr, "%s: bad number '%s' (1..%ld)\n", prog, text, max);
        bench_usage(prog);
    }
    return v;
}

void bench_parse_args(int argc, char **argv, const char *api,
                      struct bench_args *a)
{
    const char *prog = argc > 0 ? argv[0] : api;
    if (argc < 3 || argc > 4)
        bench_usage(prog);
    memset(a, 0, sizeof *a);
    a->name = argv[1];
    int deadline = strcmp(argv[1], "pingpong-deadline") == 0;
    if (strcmp(argv[1], "pingpong") == 0 || deadline) {
        a->workload = BENCH_PINGPONG;
        a->deadline_ms = deadline ? BENCH_DEADLINE_MS : 0;
        a->size = argc == 4 ? (size_t)bench_number(prog, argv[3],
                                                   BENCH_MAX_PINGPONG_SIZE)
                            : BENCH_PINGPONG_SIZE;
    } else if (strcmp(argv[1], "bulk") == 0) {
        a->workload = BENCH_BULK;
        a->size = argc == 4
                      ? (size_t)bench_number(prog, argv[3], BENCH_MAX_CHUNK)
                      : BENCH_BULK_CHUNK;
    } else if (strcmp(argv[1], "churn") == 0) {
        a->workload = BENCH_CHURN;
        if (argc == 4)
            bench_usage(prog);
        a->size = 0;
    } else {
        fprintf(stderr, "%s: unknown workload '%s'\n", prog, argv[1]);
        bench_usage(prog);
    }
    a->count = bench_number(prog, argv[2], BENCH_MAX_COUNT);
}

void bench_report(const char *api, const struct bench_args *a,
                  double seconds)
{
    double bytes = a->workload == BENCH_BULK
                       ? (double)a->count * (double)a->size
                       : 0.0;
    printf("%s api=%s size=%lu count=%ld bytes=%.0f seconds=%.6f\n", a->name,
           api, (unsigned long)a->size, a->count, bytes, seconds);
    fflush(stdout);
}

unsigned char bench_chunk_tag(uint64_t k)
{
    /* Not a multiple of 256, so a lost or repeated chunk shows. */
    return (unsigned char)((k * 131u + 7u) & 0xffu);
}

void bench_bulk_init(struct bench_bulk *b, const struct bench_args *a)
{
    b->received = 0;
    b->expected = (uint64_t)a->count * (uint64_t)a->size;
    b->chunk = a->size;
}

size_t bench_bulk_want(const struct bench_bulk *b)
{
    uint64_t left = b->expected - b->received;
    return left < b->chunk ? (size_t)left : b->chunk;
}

int bench_bulk_feed(struct bench_bulk *b, const unsigned char *p, size_t n)
{
    if (n > b->expected - b->received) {
        fprintf(stderr, "bulk: %lu bytes more than sent\n", (unsigned long)n);
        return -1;
    }
    /* Offset in `p` of the first chunk start at or after b->received. */
    uint64_t into = b->received % b->chunk;
    uint64_t first = into == 0 ? 0 : b->chunk - into;
    for (uint64_t off = first; off < n; off += b->chunk) {
        uint64_t k = (b->received + off) / b->chunk;
        if (p[off] != bench_chunk_tag(k)) {
            fprintf(stderr, "bulk: chunk %lu starts with %u, expected %u\n",
                    (unsigned long)k, (unsigned)p[off],
                    (unsigned)bench_chunk_tag(k));
            return -1;
        }
    }
    b->received += n;
    return 0;
}
