# Helpers for pscat's test scripts; sourced, not run.
#
# Every process is started through `timeout` (60 s unless said otherwise),
# every wait polls with a limit, addresses are 127.0.0.1 / ::1 only, and
# ports are the ones pscat prints on its -v "listening on" line after
# listening on port 0. A script counts rows: `pass`, `failed` or `skip_row`,
# then `finish` exits 0 (all passed), 1 (a row failed) or 77 (nothing ran:
# ctest shows the test as skipped, and the "skip:" lines say why).

set -uo pipefail

PASSES=0
FAILS=0
SKIPS=0
BG_PIDS=()

T=$(mktemp -d "${PSCAT_WORK:-${TMPDIR:-/tmp}}/pscat-XXXXXX") || exit 1

cleanup() {
    local p
    for p in "${BG_PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT

pass() {
    echo "ok: $*"
    PASSES=$((PASSES + 1))
}
failed() {
    echo "FAILED: $*"
    FAILS=$((FAILS + 1))
}
skip_row() {
    echo "skip: $*"
    SKIPS=$((SKIPS + 1))
}
finish() {
    echo "== $PASSES passed, $FAILS failed, $SKIPS skipped"
    ((FAILS == 0)) || exit 1
    ((PASSES > 0)) || exit 77
    exit 0
}

# Show a file (stderr of a program) indented, for failure reports.
show() {
    local f
    for f in "$@"; do
        [[ -s $f ]] || continue
        echo "   --- $(basename "$f"):"
        sed -n '1,30s/^/   | /p' "$f"
    done
}

# make_data FILE BYTES: CR LF, LF, CR, ^Z and NUL first (what text-mode I/O
# would damage), then random bytes, BYTES in all.
make_data() {
    local file=$1 bytes=$2
    printf 'CRLF\r\nLF\nCR\r^Z\032NUL\000\r\n\n\r' >"$file"
    head -c "$((bytes - $(stat -c %s "$file")))" /dev/urandom >>"$file"
}

# start VAR IN OUT ERR COMMAND...: run COMMAND (under timeout 60) in the
# background with stdin IN, stdout OUT, stderr ERR; its pid goes to VAR.
start() {
    local __var=$1 in=$2 out=$3 err=$4
    shift 4
    # Empty ERR now, not when the background job gets to its redirection:
    # a file reused from an earlier step still names that step's port, and
    # listen_port could read it first (a connect refused, then a 60 s hang).
    [[ $err == /dev/* ]] || : >"$err"
    timeout "${PSCAT_TIMEOUT:-60}" "$@" <"$in" >"$out" 2>"$err" &
    local __pid=$!
    BG_PIDS+=("$__pid")
    printf -v "$__var" '%s' "$__pid"
}

# listen_port ERR PID [SECONDS]: wait (30 s by default: a first Wine start
# is slow) for the "listening on ADDR" line in ERR and print ADDR's port.
listen_port() {
    local err=$1 pid=$2 limit=${3:-30} i line
    for ((i = 0; i < limit * 10; i++)); do
        # (a Windows program's stderr is text: its lines end in CR LF)
        line=$(tr -d '\r' <"$err" 2>/dev/null | grep -m1 -o 'listening on [^ ]*') || line=""
        if [[ -n $line ]]; then
            echo "${line##*:}"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    return 1
}

# wait_pid PID: its exit status (timeout's 124 if it ran out of time).
wait_pid() {
    local rc=0
    wait "$1" || rc=$?
    return "$rc"
}

# same FILE1 FILE2: byte-exact (sha256); says how they differ if not.
same() {
    local a b
    a=$(sha256sum <"$1" | cut -d' ' -f1)
    b=$(sha256sum <"$2" | cut -d' ' -f1)
    [[ $a == "$b" ]] && return 0
    echo "   $(basename "$1"): $(stat -c %s "$1") bytes, sha256 $a"
    echo "   $(basename "$2"): $(stat -c %s "$2") bytes, sha256 $b"
    cmp "$1" "$2" 2>&1 | head -n 1 | sed 's/^/   /'
    return 1
}

# free_port ADDR [-u]: a TCP (or with -u, UDP) port nobody uses right now,
# found the way the tests find ports: pscat listens on port 0 and says
# which port it got; then it is stopped.
free_port() {
    local addr=$1 pid port
    start pid /dev/null /dev/null "$T/free_port.err" "$PSCAT" -v ${2:-} -l "$addr" 0
    port=$(listen_port "$T/free_port.err" "$pid") || port=""
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    [[ -n $port ]] && echo "$port"
}

# have_ipv6: this machine can listen on ::1.
have_ipv6() {
    local port
    port=$(free_port ::1) && [[ -n $port ]]
}
