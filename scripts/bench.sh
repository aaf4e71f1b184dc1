#!/usr/bin/env bash
# Benchmark portsock's blocking API (PS_FOREVER) against raw sockets on the
# same workloads (bench/README.md):
#   1. build Release benchmark programs natively and for Windows (mingw-w64)
#   2. wall clock: each workload, portsock and raw alternately, >= 5 runs,
#      medians and raw_time / portsock_time, natively (threads free, then
#      pinned to one CPU) and for the Windows build (raw = Winsock) under Wine
#   3. per-operation counts natively, as the difference of two run lengths
#      divided by the extra operations (set-up cancels out):
#        user-space instructions (valgrind --tool=callgrind, both threads)
#        system calls (strace -f -c)
#   4. the poller part (bench/README.md, "Poller benchmarks"): one echo
#      server per mechanism behind the same portsock blocking client --
#      portsock's poller (epoll, poll; afd under Wine), raw epoll, libuv,
#      raw IOCTL_AFD_POLL under Wine -- on ping-pong round trips and on many
#      connections open at once (time and server memory per connection),
#      then per round trip: instructions (callgrind, server thread and
#      both threads), heap allocations (memcheck) and system calls (strace).
#      libuv1-dev is installed with apt-get if missing (as root), or its
#      column is skipped with a message.
# Only figures are printed; nothing is asserted. Exit status is non-zero
# only if a build or a run failed.
#
# usage: scripts/bench.sh [--quick] [--no-native] [--no-wine] [--no-counts]
#                         [--reps N] [--wine-reps N]
#                         [--no-poller | --poller-only]
#   --quick       small counts and 3 runs: a smoke run, not for reporting
#   --no-native   skip the native wall-clock tables
#   --no-wine     skip the Windows build and the Wine table
#   --no-counts   skip callgrind / strace (and memcheck)
#   --reps N      native runs per program and workload (default 7)
#   --wine-reps N runs under Wine (default 5)
#   --no-poller   skip the poller part (parts 1-3 only)
#   --poller-only only the poller part (about 5 minutes)
# Every run has a time limit: 900 s for a timed run, PS_BENCH_COUNT_TIMEOUT
# seconds (default 600) for a valgrind or strace run; a valgrind or strace
# run killed at its limit is reported with a warning, and its figure is
# missing ("failed").
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# PS_BENCH_BUILD: where the benchmark builds go (default build/), so that
# two checkouts' or two people's runs need not share a build directory.
BENCH_BUILD="${PS_BENCH_BUILD:-$ROOT/build}"
NATIVE_DIR="$BENCH_BUILD/bench-linux"
WIN_DIR="$BENCH_BUILD/bench-windows"
TOOLCHAIN="$ROOT/toolchains/mingw-w64-x86_64.cmake"
export WINEDEBUG=-all

QUICK=0 DO_NATIVE=1 DO_WINE=1 DO_COUNTS=1 REPS=7 WINE_REPS=5
DO_CLASSIC=1 DO_POLLER=1
while (($#)); do
    case $1 in
    --quick) QUICK=1 ;;
    --no-native) DO_NATIVE=0 ;;
    --no-wine) DO_WINE=0 ;;
    --no-counts) DO_COUNTS=0 ;;
    --reps) REPS=${2:?--reps needs a number}; shift ;;
    --wine-reps) WINE_REPS=${2:?--wine-reps needs a number}; shift ;;
    --no-poller) DO_POLLER=0 ;;
    --poller-only) DO_CLASSIC=0 ;;
    -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
[[ $REPS =~ ^[1-9][0-9]*$ && $WINE_REPS =~ ^[1-9][0-9]*$ ]] ||
    { echo "bench.sh: --reps / --wine-reps need a positive number" >&2; exit 2; }
((DO_CLASSIC || DO_POLLER)) ||
    { echo "bench.sh: --no-poller and --poller-only leave nothing to run" >&2; exit 2; }

# Workload sizes. Full run: pingpong 100k round trips, bulk 1 GiB in 64 KiB
# chunks, churn 10k cycles. Under Wine a blocking round trip costs ~0.3-0.8
# ms (wineserver round trips), so pingpong uses 20k there to keep the whole
# run near 15 minutes; bulk and churn keep their full sizes.
if ((QUICK)); then
    ((REPS == 7)) && REPS=3
    ((WINE_REPS == 5)) && WINE_REPS=3
    PP_N=5000 BULK_N=1024 CHURN_N=1000
    WPP_N=1000 WBULK_N=512 WCHURN_N=500
    CNT_SHORT=200 CNT_LONG=1200
    PPP_N=5000 MANY_N=2000 WPPP_N=500 WMANY_N=300
else
    PP_N=100000 BULK_N=16384 CHURN_N=10000
    WPP_N=20000 WBULK_N=16384 WCHURN_N=10000
    CNT_SHORT=2000 CNT_LONG=12000
    # Poller part: ping-pong round trips and "many" connections. Under Wine
    # a round trip costs ~0.8 ms, and with N sockets registered every socket
    # event costs more (the wineserver scans all outstanding polls: a "many"
    # run takes ~3 s at 2,000 connections, ~8 s at 4,000), so Wine uses
    # 5,000 round trips and 2,000 connections.
    PPP_N=50000 MANY_N=10000 WPPP_N=5000 WMANY_N=2000
fi
MANY_SIZE=32
CHUNK=65536
if ((!QUICK && (REPS < 5 || WINE_REPS < 5))); then
    echo "bench.sh: note: fewer than 5 runs per workload; medians are less reliable" >&2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/portsock-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
FAILED=0

say() { printf '\n==== %s\n' "$*"; }
warn() { printf 'bench.sh: %s\n' "$*" >&2; }

# The counting runs (valgrind, strace) are bounded like the timed runs:
# counted cmd... runs cmd with this limit (TERM, then KILL 10 s later).
COUNT_TIMEOUT=${PS_BENCH_COUNT_TIMEOUT:-600}
[[ $COUNT_TIMEOUT =~ ^[1-9][0-9]*$ ]] ||
    { echo "bench.sh: PS_BENCH_COUNT_TIMEOUT needs a positive number of seconds" >&2; exit 2; }
counted() { timeout -k 10 "$COUNT_TIMEOUT" "$@"; }
# count_failed TOOL RC STDERR cmd...: report a counting run that failed with
# status RC: killed at the time limit (timeout's 124, or 137 after KILL),
# or failed by itself (then the end of its stderr).
count_failed() {
    local tool=$1 rc=$2 err=$3
    shift 3
    if ((rc == 124 || rc == 137)); then
        warn "WARNING: $tool run killed after the ${COUNT_TIMEOUT} s limit (PS_BENCH_COUNT_TIMEOUT), no figure: $*"
    else
        { warn "$tool failed (status $rc): $*"; tail -n 5 "$err"; } >&2
    fi
}

# ---------------------------------------------------------------------------
# Build. Only the benchmark targets are built, in their own Release
# directories. (run-tests.sh builds the library in Release with -Werror.)
# ---------------------------------------------------------------------------
# PORTSOCK_WERROR=OFF: a warning that only -O3 shows in the library must not
# stop a measurement (the poller programs' own code keeps -Werror, see
# bench/CMakeLists.txt). The poller targets are built when that part runs:
# bench_poller everywhere, bench_poller_epoll and (if CMake found libuv)
# bench_poller_libuv natively, bench_poller_afd for Windows.
build() { # build DIR LOG native|windows [extra cmake args...]
    local dir=$1 log=$2 kind=$3
    shift 3
    local targets=()
    ((DO_CLASSIC)) && targets+=(bench_portsock bench_raw)
    {
        cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
            -DPORTSOCK_BUILD_TESTS=OFF -DPORTSOCK_BUILD_EXAMPLES=OFF \
            -DPORTSOCK_INSTALL=OFF -DPORTSOCK_BUILD_BENCH=ON \
            -DPORTSOCK_WERROR=OFF "$@" || return 1
        if ((DO_POLLER)); then
            targets+=(bench_poller)
            if [[ $kind == windows ]]; then
                targets+=(bench_poller_afd)
            else
                targets+=(bench_poller_epoll)
                grep -q '^PORTSOCK_LIBUV_FOUND:INTERNAL=1' "$dir/CMakeCache.txt" &&
                    targets+=(bench_poller_libuv)
            fi
        fi
        cmake --build "$dir" --target "${targets[@]}"
    } >"$log" 2>&1
}

# libuv for the poller part's libuv column: Debian's libuv1-dev, found by
# CMake through pkg-config. Installed here if missing (as root, apt-get).
ensure_libuv() {
    pkg-config --exists libuv 2>/dev/null && return 0
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        echo "libuv1-dev missing: installing it with apt-get"
        {
            apt-get install -y libuv1-dev pkg-config ||
                { apt-get update && apt-get install -y libuv1-dev pkg-config; }
        } >"$TMP/apt.log" 2>&1 || tail -n 5 "$TMP/apt.log" >&2
    fi
    pkg-config --exists libuv 2>/dev/null
}

say "portsock benchmarks: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "host: $(uname -srm), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')"
echo "tree: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'no commit')$(git -C "$ROOT" status --porcelain 2>/dev/null | grep -q . && echo ' + uncommitted changes')"
echo "gcc: $(gcc -dumpfullversion 2>/dev/null); mingw: $(x86_64-w64-mingw32-gcc -dumpversion 2>/dev/null || echo none); wine: $(wine --version 2>/dev/null || echo none)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null) (other work on the machine widens the wall-clock spread)"
if ((QUICK)); then echo "mode: --quick (smoke run; figures not for reporting)"; fi

NATIVE_OK=0 WIN_OK=0 LIBUV_OK=0
if ((DO_POLLER && (DO_NATIVE || DO_COUNTS))); then
    if ensure_libuv; then
        LIBUV_OK=1
        echo "libuv: $(pkg-config --modversion libuv) (pkg-config libuv)"
    else
        warn "libuv not available (pkg-config libuv; Debian: apt-get install libuv1-dev): the libuv column is skipped"
    fi
fi
if ((DO_NATIVE || DO_COUNTS)); then
    mkdir -p "$NATIVE_DIR"
    if build "$NATIVE_DIR" "$NATIVE_DIR/bench-build.log" native; then
        NATIVE_OK=1
        echo "native build: ok ($NATIVE_DIR)"
    else
        FAILED=1
        warn "native build failed; last lines of $NATIVE_DIR/bench-build.log:"
        tail -n 20 "$NATIVE_DIR/bench-build.log" >&2
    fi
fi
if ((DO_WINE)); then
    if ! command -v wine >/dev/null || ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
        FAILED=1
        warn "wine or mingw-w64 missing: Wine part skipped"
    else
        mkdir -p "$WIN_DIR"
        if build "$WIN_DIR" "$WIN_DIR/bench-build.log" windows \
            -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN"; then
            WIN_OK=1
            echo "windows build: ok ($WIN_DIR)"
        else
            FAILED=1
            warn "windows build failed (Wine part skipped); last lines of $WIN_DIR/bench-build.log:"
            tail -n 20 "$WIN_DIR/bench-build.log" >&2
        fi
    fi
fi

# ---------------------------------------------------------------------------
# Wall clock
# ---------------------------------------------------------------------------

# bench_once KEEP OUTFILE cmd...: run one benchmark program, append to
# OUTFILE its seconds (KEEP=seconds) or its whole result line (KEEP=line),
# and echo the seconds. A failed run is shown and tried once more (under
# Wine a shared wineserver can go away under us); a second failure echoes
# FAIL.
bench_once() {
    local keep=$1 out=$2 line secs try
    shift 2
    for try in 1 2; do
        if line=$(timeout 900 "$@" 2>"$TMP/stderr") &&
            secs=$(sed -n 's/.* seconds=\([0-9.]*\).*/\1/p' <<<"$line") &&
            [[ -n $secs ]]; then
            if [[ $keep == line ]]; then echo "$line" >>"$out"; else echo "$secs" >>"$out"; fi
            printf '%s' "$secs"
            ((try == 1)) || printf ' (retried)'
            return 0
        fi
        { echo; warn "failed (attempt $try): $*"; sed 's/^/    /' "$TMP/stderr"; } >&2
    done
    FAILED=1
    printf 'FAIL'
}

# run_prog OUTFILE cmd...: one run of a classic workload (seconds kept).
run_prog() { bench_once seconds "$@"; }

median() { # median of the numbers in file $1 (empty: nan)
    [[ -s $1 ]] || { echo nan; return; }
    sort -g "$1" | awk '{ v[NR] = $1 }
        END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
spread() { # (max - min) / median, in percent
    [[ -s $1 ]] || { echo nan; return; }
    local m
    m=$(median "$1")
    sort -g "$1" | awk -v m="$m" 'NR == 1 { lo = $1 } { hi = $1 }
        END { printf "%.0f%%", (m > 0 ? 100 * (hi - lo) / m : 0) }'
}

# wall_table TAG TITLE GOAL REPS PP BULK CHURN PORTSOCK RAW [launcher...]
wall_table() {
    local tag=$1 title=$2 goal=$3 reps=$4 pp=$5 bulk=$6 churn=$7 ps=$8 raw=$9
    shift 9
    local launch=("$@")
    local names=(pingpong-1 pingpong-64 pingpong-dl bulk churn)
    local -A args=(
        [pingpong-1]="pingpong $pp 1" [pingpong-64]="pingpong $pp 64"
        [pingpong-dl]="pingpong-deadline $pp 1"
        [bulk]="bulk $bulk $CHUNK" [churn]="churn $churn")
    say "$title"
    echo "counts: pingpong $pp round trips, bulk $bulk x $CHUNK B = $((bulk * CHUNK / 1048576)) MiB, churn $churn cycles; $reps runs each, portsock and raw alternating (ABBA)"
    local r w first second
    for ((r = 1; r <= reps; r++)); do
        for w in "${names[@]}"; do
            # Alternate which program goes first, so drift hits both alike.
            if ((r % 2)); then first=portsock second=raw; else first=raw second=portsock; fi
            printf 'run %d %-12s' "$r" "$w"
            for api in $first $second; do
                local prog=$ps
                [[ $api == raw ]] && prog=$raw
                printf ' %s ' "$api"
                # shellcheck disable=SC2086
                run_prog "$TMP/$tag.$w.$api" "${launch[@]}" "$prog" ${args[$w]}
                printf ' s'
            done
            echo
        done
    done
    echo
    printf '%-12s %20s %20s %9s %13s  %s\n' workload "portsock (median)" "raw (median)" \
        "spread" "raw/portsock" "goal $goal"
    for w in "${names[@]}"; do
        local mp mr
        mp=$(median "$TMP/$tag.$w.portsock")
        mr=$(median "$TMP/$tag.$w.raw")
        awk -v w="$w" -v mp="$mp" -v mr="$mr" -v sp="$(spread "$TMP/$tag.$w.portsock")" \
            -v sr="$(spread "$TMP/$tag.$w.raw")" -v goal="$goal" \
            -v pp="$pp" -v bulk="$bulk" -v chunk="$CHUNK" -v churn="$churn" 'BEGIN {
            if (mp == "nan" || mr == "nan") { printf "%-12s  (failed runs: no figures)\n", w; exit }
            if (w ~ /^pingpong/) { fp = sprintf("%.2f us/rt", 1e6 * mp / pp); fr = sprintf("%.2f us/rt", 1e6 * mr / pp) }
            else if (w == "bulk") { b = bulk * chunk / 1048576; fp = sprintf("%.0f MiB/s", b / mp); fr = sprintf("%.0f MiB/s", b / mr) }
            else { fp = sprintf("%.2f us/cycle", 1e6 * mp / churn); fr = sprintf("%.2f us/cycle", 1e6 * mr / churn) }
            ratio = mr / mp
            verdict = ratio >= goal ? "met" : "below"
            printf "%-12s %20s %20s %9s %13.3f  %s\n", w, fp, fr, sp "/" sr, ratio, verdict
        }'
    done
    echo "(raw/portsock = median raw time / median portsock time: portsock throughput relative to raw;"
    echo " spread = (max - min) / median of the runs, portsock/raw; pingpong-dl: pingpong-1 with every"
    echo " portsock call given a 10 s timeout, raw blocking as in pingpong-1: what a deadline costs)"
}

if ((DO_CLASSIC && DO_NATIVE && NATIVE_OK)); then
    P="$NATIVE_DIR/bench/bench_portsock" R="$NATIVE_DIR/bench/bench_raw"
    wall_table native "native: Linux, BSD sockets; client and server threads free on $(nproc) CPUs" \
        0.97 "$REPS" "$PP_N" "$BULK_N" "$CHURN_N" "$P" "$R"
    if command -v taskset >/dev/null; then
        cpu=$(($(nproc) - 1))
        wall_table pinned "native, both threads pinned to CPU $cpu (taskset -c $cpu): less scheduler noise" \
            0.97 "$REPS" "$PP_N" "$BULK_N" "$CHURN_N" "$P" "$R" taskset -c "$cpu"
    fi
fi

if ((DO_CLASSIC && DO_WINE && WIN_OK)); then
    P="$WIN_DIR/bench/bench_portsock.exe" R="$WIN_DIR/bench/bench_raw.exe"
    # The first program in a prefix starts the wineserver (seconds): not timed.
    wine "$R" pingpong 10 >/dev/null 2>&1 || true
    wall_table wine "Wine $(wine --version 2>/dev/null): Windows build (portsock win32 backend) vs raw Winsock" \
        0.95 "$WINE_REPS" "$WPP_N" "$WBULK_N" "$WCHURN_N" "$P" "$R" wine
    ((QUICK)) || echo "Wine: pingpong uses $WPP_N round trips (not 100000) and $WINE_REPS runs, to keep the run time down."
fi

# ---------------------------------------------------------------------------
# Counts (native only): callgrind instructions, strace system calls, as
# (count at CNT_LONG - count at CNT_SHORT) / (CNT_LONG - CNT_SHORT).
# ---------------------------------------------------------------------------

callgrind_total() { # callgrind_total cmd...: total instructions, both threads
    local f="$TMP/callgrind.out" rc=0
    rm -f "$f"
    counted valgrind --tool=callgrind --callgrind-out-file="$f" "$@" \
        >"$TMP/cg.stdout" 2>"$TMP/cg.stderr" || rc=$?
    if ((rc)); then
        FAILED=1
        count_failed callgrind "$rc" "$TMP/cg.stderr" "$@"
        echo nan
        return
    fi
    awk '/^totals:/ { print $2; found = 1; exit } END { if (!found) print "nan" }' "$f"
}

strace_counts() { # strace_counts OUT cmd...: "syscall calls errors" lines
    local out=$1 rc=0
    shift
    counted strace -f -c -o "$TMP/strace.out" "$@" >/dev/null 2>"$TMP/st.stderr" || rc=$?
    if ((rc)); then
        FAILED=1
        count_failed strace "$rc" "$TMP/st.stderr" "$@"
        : >"$out"
        return
    fi
    # Rows: % time, seconds, usecs/call, calls, [errors,] syscall.
    awk '$1 ~ /^[0-9.]+$/ && NF >= 5 { print $NF, $4, (NF == 6 ? $5 : 0) }' \
        "$TMP/strace.out" >"$out"
}

per_op() { # per_op SHORT LONG: (LONG - SHORT) / extra operations
    awk -v s="$1" -v l="$2" -v n=$((CNT_LONG - CNT_SHORT)) \
        'BEGIN { if (s == "nan" || l == "nan" || s == "" || l == "") print "nan"; else printf "%.2f", (l - s) / n }'
}

syscall_detail() { # syscall_detail SHORT LONG: per-syscall difference
    awk -v n=$((CNT_LONG - CNT_SHORT)) '
        FNR == NR { c[$1] -= $2; e[$1] -= $3; next }
        { c[$1] += $2; e[$1] += $3 }
        END {
            for (k in c) if (k != "total" && (c[k] / n > 0.005 || c[k] / n < -0.005)) {
                s = sprintf("%s %.2f", k, c[k] / n)
                if (e[k] / n > 0.005) s = s sprintf(" (%.2f failed)", e[k] / n)
                print s
            }
        }' "$1" "$2" | sort | paste -sd, - | sed 's/,/, /g'
}

if ((DO_CLASSIC && DO_COUNTS && NATIVE_OK)); then
    P="$NATIVE_DIR/bench/bench_portsock" R="$NATIVE_DIR/bench/bench_raw"
    names=("pingpong 1" "pingpong 64" "pingpong-deadline 1" "bulk $CHUNK" "churn")
    labels=(pingpong-1 pingpong-64 pingpong-dl bulk churn)
    units=("round trip" "round trip" "round trip" "64 KiB chunk" "cycle")
    if command -v valgrind >/dev/null; then
        say "user-space instructions per operation (valgrind --tool=callgrind, both threads, (N($CNT_LONG) - N($CNT_SHORT)) / $((CNT_LONG - CNT_SHORT)))"
        printf '%-12s %-13s %12s %12s %14s  %s\n' workload "per" portsock raw portsock/raw "goal <= 1.10x (round trips, churn)"
        for i in "${!names[@]}"; do
            read -r wl sz <<<"${names[$i]}"
            declare -A ins=()
            for api in portsock raw; do
                prog=$P
                [[ $api == raw ]] && prog=$R
                # shellcheck disable=SC2086
                s=$(callgrind_total "$prog" $wl $CNT_SHORT $sz)
                # shellcheck disable=SC2086
                l=$(callgrind_total "$prog" $wl $CNT_LONG $sz)
                ins[$api]=$(per_op "$s" "$l")
                [[ ${ins[$api]} == nan ]] && FAILED=1
            done
            awk -v w="${labels[$i]}" -v u="${units[$i]}" -v p="${ins[portsock]}" -v r="${ins[raw]}" 'BEGIN {
                if (p == "nan" || r == "nan") { printf "%-12s %-13s (failed)\n", w, u; exit }
                q = r > 0 ? p / r : 0
                g = (w == "bulk" || w == "pingpong-dl") ? "(no goal)" : (q <= 1.10 ? "met" : "not met")
                printf "%-12s %-13s %12.1f %12.1f %13.2fx  %s\n", w, u, p, r, q, g
            }'
            unset ins
        done
    else
        FAILED=1
        warn "valgrind missing: instruction counts skipped"
    fi
    if command -v strace >/dev/null; then
        say "system calls per operation (strace -f -c, both threads, (N($CNT_LONG) - N($CNT_SHORT)) / $((CNT_LONG - CNT_SHORT)))"
        printf '%-12s %-13s %9s %9s  %s\n' workload "per" portsock raw "goal: equal (round trips)"
        for i in "${!names[@]}"; do
            read -r wl sz <<<"${names[$i]}"
            for api in portsock raw; do
                prog=$P
                [[ $api == raw ]] && prog=$R
                # shellcheck disable=SC2086
                strace_counts "$TMP/st.$api.short" "$prog" $wl $CNT_SHORT $sz
                # shellcheck disable=SC2086
                strace_counts "$TMP/st.$api.long" "$prog" $wl $CNT_LONG $sz
            done
            tp=$(per_op "$(awk '$1 == "total" { print $2 }' "$TMP/st.portsock.short")" \
                "$(awk '$1 == "total" { print $2 }' "$TMP/st.portsock.long")")
            tr=$(per_op "$(awk '$1 == "total" { print $2 }' "$TMP/st.raw.short")" \
                "$(awk '$1 == "total" { print $2 }' "$TMP/st.raw.long")")
            awk -v w="${labels[$i]}" -v u="${units[$i]}" -v p="${tp:-nan}" -v r="${tr:-nan}" 'BEGIN {
                if (p == "nan" || r == "nan" || p == "" || r == "") { printf "%-12s %-13s (failed)\n", w, u; exit }
                g = (w ~ /^pingpong/ && w != "pingpong-dl") ? ((p - r < 0.05 && r - p < 0.05) ? "met" : "not met") : "(no goal)"
                printf "%-12s %-13s %9.2f %9.2f  %s\n", w, u, p, r, g
            }'
            echo "    portsock: $(syscall_detail "$TMP/st.portsock.short" "$TMP/st.portsock.long")"
            echo "    raw:      $(syscall_detail "$TMP/st.raw.short" "$TMP/st.raw.long")"
        done
        echo "(strace rounds to whole calls: per-op figures of bulk depend on how the kernel splits the stream)"
    else
        FAILED=1
        warn "strace missing: system-call counts skipped"
    fi
fi

# ---------------------------------------------------------------------------
# Poller part (bench/README.md, "Poller benchmarks"): the same portsock
# blocking client in front of one echo server per mechanism.
#   pingpong N: N 1-byte round trips, server loop in a second thread
#   many N:     N connections open at once, one 32-byte message each,
#               echoed; the client is a second process; the server reports
#               its resident memory before and at its peak
# ---------------------------------------------------------------------------

# poller_run OUT cmd...: one run of a poller workload (its result line is
# kept: "many" lines also carry the memory figures).
poller_run() { bench_once line "$@"; }

field() { # field FILE NAME > values: NAME=value of every result line in FILE
    [[ -s $1 ]] && sed -n "s/.* $2=\([0-9.]*\).*/\1/p" "$1"
}

# poller_table TAG TITLE REPS PP MANY BASE [launcher...]
# The variants are PV_NAMES[i] run as ${PV_CMDS[i]} (word-split). BASE is the
# raw baseline's name; libuv is the second reference when present. Runs
# rotate the order of the variants (forward, then backward), so that drift
# hits all alike.
poller_table() {
    local tag=$1 title=$2 reps=$3 pp=$4 many=$5 base=$6
    shift 6
    local launch=("$@")
    local nv=${#PV_NAMES[@]} r w k i
    say "$title"
    echo "counts: pingpong $pp round trips of 1 byte; many: $many connections at once, one $MANY_SIZE-byte message each; $reps runs each, the variants in rotating order"
    for ((r = 1; r <= reps; r++)); do
        for w in pingpong many; do
            printf 'run %d %-9s' "$r" "$w"
            for ((k = 0; k < nv; k++)); do
                if ((r % 2)); then i=$k; else i=$((nv - 1 - k)); fi
                printf ' %s ' "${PV_NAMES[$i]}"
                local n=$pp
                [[ $w == many ]] && n=$many
                # shellcheck disable=SC2086
                poller_run "$TMP/$tag.$w.${PV_NAMES[$i]}" "${launch[@]}" ${PV_CMDS[$i]} $w $n
                printf ' s'
            done
            echo
        done
    done
    echo
    local v
    for w in pingpong many; do
        for v in "${PV_NAMES[@]}"; do
            field "$TMP/$tag.$w.$v" seconds >"$TMP/$tag.$w.$v.s" || : >"$TMP/$tag.$w.$v.s"
            field "$TMP/$tag.$w.$v" bytes_per_conn >"$TMP/$tag.$w.$v.b" || : >"$TMP/$tag.$w.$v.b"
            field "$TMP/$tag.$w.$v" count | sort -u | paste -sd/ - >"$TMP/$tag.$w.$v.n"
        done
    done
    local have_uv=0
    [[ " ${PV_NAMES[*]} " == *" libuv "* ]] && have_uv=1
    printf '%-9s %-15s %15s %8s %10s %10s %13s  %s\n' workload variant median spread \
        "$base/x" "$( ((have_uv)) && echo libuv/x || echo '-')" "bytes/conn" \
        "goals: portsock time >= 1.00x $base$( ((have_uv)) && echo ', >= 1.05x libuv'); memory <= $base + 64 B"
    for w in pingpong many; do
        local mb mu bb
        mb=$(median "$TMP/$tag.$w.$base.s")
        bb=$(median "$TMP/$tag.$w.$base.b")
        mu=nan
        ((have_uv)) && mu=$(median "$TMP/$tag.$w.libuv.s")
        for v in "${PV_NAMES[@]}"; do
            awk -v w="$w" -v v="$v" -v m="$(median "$TMP/$tag.$w.$v.s")" \
                -v sp="$(spread "$TMP/$tag.$w.$v.s")" -v mb="$mb" -v mu="$mu" \
                -v b="$(median "$TMP/$tag.$w.$v.b")" -v bb="$bb" -v base="$base" \
                -v n="$(cat "$TMP/$tag.$w.$v.n")" 'BEGIN {
                if (m == "nan") { printf "%-9s %-15s  (failed runs: no figures)\n", w, v; exit }
                cnt = n + 0
                if (w == "pingpong") f = sprintf("%.2f us/rt", 1e6 * m / cnt)
                else f = sprintf("%.3f s", m)
                rb = (mb == "nan") ? "-" : sprintf("%.3f", mb / m)
                ru = (mu == "nan") ? "-" : sprintf("%.3f", mu / m)
                bytes = (w == "many" && b != "nan") ? sprintf("%.1f", b) : "-"
                goal = ""
                if (v ~ /^portsock/) {
                    if (rb != "-") goal = goal sprintf("time vs %s %s", base, (mb / m >= 1.0 ? "met" : "below"))
                    if (ru != "-") goal = goal sprintf(", vs libuv %s", (mu / m >= 1.05 ? "met" : "below"))
                    if (w == "many" && b != "nan" && bb != "nan")
                        goal = goal sprintf("; memory %+.1f B/conn vs %s: %s", b - bb, base, (b - bb <= 64 ? "met" : "not met"))
                }
                printf "%-9s %-15s %15s %8s %10s %10s %13s  %s\n", w, v, f, sp, rb, ru, bytes, goal
            }'
        done
        [[ $w == many ]] && echo "many: connections per run: $(for v in "${PV_NAMES[@]}"; do printf '%s=%s ' "$v" "$(cat "$TMP/$tag.$w.$v.n")"; done)"
    done
    echo "($base/x, libuv/x = median time of that variant / median time of this row: above 1 means this row is faster;"
    echo " many: time from the server's first accept to all connections closed; bytes/conn = (peak resident - resident"
    echo " before the first connection) / connections, the server process alone, median of the runs; spread = (max - min) / median)"
}

# callgrind_threads cmd...: "client server" instructions (thread 1 = the
# client, main thread; thread 2 = the server thread), or "nan nan".
callgrind_threads() {
    local f="$TMP/cgt.out" rc=0
    rm -f "$f" "$f"-*
    counted valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$f" "$@" \
        >"$TMP/cg.stdout" 2>"$TMP/cg.stderr" || rc=$?
    if ((rc)); then
        FAILED=1
        count_failed callgrind "$rc" "$TMP/cg.stderr" "$@"
        echo nan nan
        return
    fi
    local c s
    c=$(awk '/^totals:/ { print $2; exit }' "$f-01" 2>/dev/null)
    s=$(awk '/^totals:/ { print $2; exit }' "$f-02" 2>/dev/null)
    echo "${c:-nan} ${s:-nan}"
}

heap_allocs() { # heap_allocs cmd...: malloc-family calls in the whole run (memcheck)
    local rc=0
    counted valgrind --tool=memcheck --trace-malloc=no "$@" >/dev/null 2>"$TMP/mc.stderr" || rc=$?
    if ((rc)); then
        FAILED=1
        count_failed memcheck "$rc" "$TMP/mc.stderr" "$@"
        echo nan
        return
    fi
    local a
    a=$(sed -n 's/.*total heap usage: \([0-9,]*\) allocs.*/\1/p' "$TMP/mc.stderr" | tr -d ,)
    echo "${a:-nan}"
}

if ((DO_POLLER && NATIVE_OK && (DO_NATIVE || DO_COUNTS))); then
    PB="$NATIVE_DIR/bench"
    PV_NAMES=(portsock-epoll portsock-poll raw-epoll)
    PV_CMDS=("$PB/bench_poller" "$PB/bench_poller --poll" "$PB/bench_poller_epoll")
    if ((LIBUV_OK)) && [[ -x $PB/bench_poller_libuv ]]; then
        PV_NAMES+=(libuv)
        PV_CMDS+=("$PB/bench_poller_libuv")
    else
        warn "bench_poller_libuv not built: the libuv column is skipped"
    fi
    if ((DO_NATIVE)); then
        poller_table pfree "poller, native: Linux; pingpong: client and server threads free on $(nproc) CPUs; many: two processes" \
            "$REPS" "$PPP_N" "$MANY_N" raw-epoll
        if command -v taskset >/dev/null; then
            cpu=$(($(nproc) - 1))
            poller_table ppin "poller, native, pinned to CPU $cpu (taskset -c $cpu; both threads, both processes)" \
                "$REPS" "$PPP_N" "$MANY_N" raw-epoll taskset -c "$cpu"
        fi
    fi
    if ((DO_COUNTS)); then
        n=$((CNT_LONG - CNT_SHORT))
        if command -v valgrind >/dev/null; then
            say "poller ping-pong: user-space instructions per round trip (valgrind --tool=callgrind --separate-threads=yes, (N($CNT_LONG) - N($CNT_SHORT)) / $n)"
            printf '%-15s %13s %13s %13s %17s %12s  %s\n' variant "server thread" "client thread" "both threads" "both - raw-epoll" "server/raw" "goal: portsock server <= raw-epoll server"
            declare -A CG_S=() CG_B=() CG_C=()
            for i in "${!PV_NAMES[@]}"; do
                v=${PV_NAMES[$i]}
                # shellcheck disable=SC2086
                read -r c1 s1 <<<"$(callgrind_threads ${PV_CMDS[$i]} pingpong $CNT_SHORT)"
                # shellcheck disable=SC2086
                read -r c2 s2 <<<"$(callgrind_threads ${PV_CMDS[$i]} pingpong $CNT_LONG)"
                read -r "CG_C[$v]" "CG_S[$v]" "CG_B[$v]" <<<"$(awk -v c1="$c1" -v s1="$s1" -v c2="$c2" -v s2="$s2" -v n="$n" 'BEGIN {
                    if (c1 == "nan" || s1 == "nan" || c2 == "nan" || s2 == "nan") { print "nan nan nan"; exit }
                    printf "%.2f %.2f %.2f\n", (c2 - c1) / n, (s2 - s1) / n, (c2 + s2 - c1 - s1) / n }')"
            done
            for v in "${PV_NAMES[@]}"; do
                awk -v v="$v" -v s="${CG_S[$v]}" -v c="${CG_C[$v]}" -v b="${CG_B[$v]}" \
                    -v rs="${CG_S[raw-epoll]}" -v rb="${CG_B[raw-epoll]}" 'BEGIN {
                    if (s == "nan") { printf "%-15s (failed)\n", v; exit }
                    d = (rb == "nan") ? "-" : sprintf("%+.1f", b - rb)
                    q = (rs == "nan" || rs == 0) ? "-" : sprintf("%.2fx", s / rs)
                    g = v ~ /^portsock/ ? (rs != "nan" && s <= rs ? "met" : "not met") : ""
                    printf "%-15s %13.1f %13.1f %13.1f %17s %12s  %s\n", v, s, c, b, d, q, g
                }'
            done
            echo "(server thread: thread 2's count alone; both - raw-epoll: the total minus the raw-epoll program's total with"
            echo " the same client, the other way to isolate the server -- it equals server - raw-epoll server when the client"
            echo " thread's count is the same in every program, as the client thread column shows)"

            say "poller ping-pong: heap allocations per round trip (valgrind --tool=memcheck, \"total heap usage: N allocs\", (N($CNT_LONG) - N($CNT_SHORT)) / $n)"
            printf '%-15s %10s %10s %12s  %s\n' variant "N($CNT_SHORT)" "N($CNT_LONG)" "per rt" "goal: portsock 0 (no allocation per wait)"
            for i in "${!PV_NAMES[@]}"; do
                v=${PV_NAMES[$i]}
                # shellcheck disable=SC2086
                a1=$(heap_allocs ${PV_CMDS[$i]} pingpong $CNT_SHORT)
                # shellcheck disable=SC2086
                a2=$(heap_allocs ${PV_CMDS[$i]} pingpong $CNT_LONG)
                awk -v v="$v" -v a1="$a1" -v a2="$a2" -v n="$n" 'BEGIN {
                    if (a1 == "nan" || a2 == "nan") { printf "%-15s (failed)\n", v; exit }
                    p = (a2 - a1) / n
                    g = v ~ /^portsock/ ? (a2 == a1 ? "met" : "not met") : ""
                    printf "%-15s %10d %10d %12.4f  %s\n", v, a1, a2, p, g
                }'
            done
            echo "(one ps_poller_wait / epoll_wait per round trip, so per round trip = per wait; both threads counted)"
        else
            FAILED=1
            warn "valgrind missing: poller instruction and allocation counts skipped"
        fi
        if command -v strace >/dev/null; then
            say "poller ping-pong: system calls per round trip (strace -f -c, both threads, (N($CNT_LONG) - N($CNT_SHORT)) / $n)"
            printf '%-15s %9s  %s\n' variant "per rt" breakdown
            for i in "${!PV_NAMES[@]}"; do
                v=${PV_NAMES[$i]}
                # shellcheck disable=SC2086
                strace_counts "$TMP/pst.short" ${PV_CMDS[$i]} pingpong $CNT_SHORT
                # shellcheck disable=SC2086
                strace_counts "$TMP/pst.long" ${PV_CMDS[$i]} pingpong $CNT_LONG
                t=$(per_op "$(awk '$1 == "total" { print $2 }' "$TMP/pst.short")" \
                    "$(awk '$1 == "total" { print $2 }' "$TMP/pst.long")")
                printf '%-15s %9s  %s\n' "$v" "$t" "$(syscall_detail "$TMP/pst.short" "$TMP/pst.long")"
            done
            echo "(the client's share is the same everywhere: one send and one receive per round trip)"
        else
            FAILED=1
            warn "strace missing: poller system-call counts skipped"
        fi
    fi
fi

if ((DO_POLLER && DO_WINE && WIN_OK)); then
    PW="$WIN_DIR/bench"
    PV_NAMES=(portsock-afd raw-afd)
    PV_CMDS=("$PW/bench_poller.exe" "$PW/bench_poller_afd.exe")
    # The first program in a prefix starts the wineserver (seconds): not timed.
    wine "$PW/bench_poller_afd.exe" pingpong 10 >/dev/null 2>&1 || true
    poller_table pwine "poller, Wine $(wine --version 2>/dev/null): Windows build; raw-afd = IOCTL_AFD_POLL + I/O completion port written out directly (bench_poller_afd.c), not WSAPoll" \
        "$WINE_REPS" "$WPPP_N" "$WMANY_N" raw-afd wine
    ((QUICK)) || echo "Wine: $WPPP_N round trips and $WMANY_N connections (not $PPP_N / $MANY_N): under Wine each socket event costs more the more polls are outstanding."
fi

echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
say "done in $((SECONDS / 60)) min $((SECONDS % 60)) s$( ((FAILED)) && echo ' (with failures: see messages above)')"
exit "$FAILED"
