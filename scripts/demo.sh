#!/usr/bin/env bash
# The same example sources, built natively and for Windows (mingw-w64, run
# under Wine), talking to each other over 127.0.0.1:
#
#   1. Windows echo-server.exe (Wine)  <-  native echo-client
#   2. native echo-server              <-  Windows echo-client.exe (Wine)
#   3. Windows echo-poll.exe (Wine)    <-  many concurrent native echo-clients
#      (one thread, the portsock poller: afd on Windows)
#
# Everything stays on 127.0.0.1 with a port the system picks (port 0), so it
# runs in a sandbox and never collides with another server. Exit status 0
# only if every message came back intact. Runs from any directory.
#
# Sets the machine up first, with the code run-tests.sh uses
# (scripts/lib/setup.sh): on a fresh Debian 12, as root, it installs the
# missing packages, fetches the cmocka sources the windows preset needs and
# creates the Wine prefix; as another user it names the missing packages
# and stops. A second run only checks.
#
# DEMO_WAIT_S (default 30) bounds each wait for a server to start or finish;
# raise it if Wine is still creating its prefix. DEMO_POLL_CLIENTS (default
# 200) is the number of concurrent clients in part 3.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export WINEDEBUG=-all
WAIT_S=${DEMO_WAIT_S:-30}
POLL_CLIENTS=${DEMO_POLL_CLIENTS:-200}
TARGETS=(echo-server echo-client echo-poll)

say() { printf '\n==== %s\n' "$*"; }
err() { printf 'demo: %s\n' "$*" >&2; }
warn() { err "$@"; } # the name scripts/lib/setup.sh calls

# ---------------------------------------------------------------------------
# Set-up, shared with run-tests.sh.
# ---------------------------------------------------------------------------
# shellcheck source=scripts/lib/setup.sh
source "$ROOT/scripts/lib/setup.sh"
# clang: the linux preset's compiler (CMakePresets.json); libcmocka-dev and
# pkg-config: both presets configure the tests too; dpkg-dev, xz-utils:
# apt-get source cmocka; iproute2: ss, which part 3 uses to see the clients
# connected; coreutils: timeout, seq.
DEMO_PACKAGES=(cmake ninja-build clang mingw-w64 wine wine64 libcmocka-dev
               pkg-config dpkg-dev xz-utils iproute2 coreutils)
setup_packages "${DEMO_PACKAGES[@]}" || exit
# Without the cmocka sources the windows preset does not configure; build()
# then builds the examples alone, so the demo goes on.
setup_cmocka || err "going on without the cmocka sources (examples only for Windows)"
setup_wine_prefix

TMP=$(mktemp -d)
SERVER_PID=
CLIENT_PIDS=()
cleanup() {
    # Never leave a server or a client behind, whatever happened.
    local pid
    for pid in "${CLIENT_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    if [[ -n $SERVER_PID ]]; then
        kill -CONT "$SERVER_PID" 2>/dev/null || true # part 3 may pause it
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
# Build. Sets BIN_<preset> to the directory holding the two programs.
# ---------------------------------------------------------------------------
build() { # PRESET
    local preset=$1 dir log="$TMP/configure-$1.log"
    say "building ${TARGETS[*]} ($preset)"
    if cmake --preset "$preset" >"$log" 2>&1; then
        cmake --build --preset "$preset" --target "${TARGETS[@]}" || return 1
        dir="build/$preset"
    else
        # The full preset also configures the tests (on Windows they need the
        # cmocka sources that setup_cmocka fetches). The examples need
        # only the library: build them in a tree of their own, so the preset's
        # cache is left as it was.
        dir="build/demo-$preset"
        echo "preset '$preset' did not configure:"
        grep -m 1 -A 3 'CMake Error' "$log" | sed 's/^/  | /' || tail -n 3 "$log"
        echo "building the examples alone in $dir"
        cmake --preset "$preset" -B "$dir" -DPORTSOCK_BUILD_TESTS=OFF \
            -DPORTSOCK_BUILD_BENCH=OFF >"$log" 2>&1 ||
            { cat "$log" >&2; return 1; }
        cmake --build "$dir" --target "${TARGETS[@]}" || return 1
    fi
    local server
    server=$(find "$ROOT/$dir" -type f \( -name echo-server -o -name echo-server.exe \) -print -quit)
    [[ -n $server ]] || { err "echo-server not found under $dir"; return 1; }
    printf -v "BIN_${preset}" '%s' "$(dirname "$server")"
}

build linux || { err "native build failed"; exit 1; }
build windows || { err "Windows build failed"; exit 1; }

# ---------------------------------------------------------------------------
# One direction: start SERVER on 127.0.0.1:0, read its port, run CLIENT
# against it, check both sides. Returns 1 if anything was not intact.
# ---------------------------------------------------------------------------
# listen_port OUT PID NAME: a server started on port 0 prints the port it
# got ("listening on 127.0.0.1:PORT") to OUT; wait for that line (WAIT_S)
# and print PORT. Fails with a message if NAME exits first or never says.
listen_port() {
    local out=$1 pid=$2 name=$3 line="" deadline=$((SECONDS + WAIT_S))
    while :; do
        line=$(sed -n 's/\r$//; s/^listening on //p' "$out")
        [[ -n $line ]] && break
        if ! kill -0 "$pid" 2>/dev/null; then
            err "$name exited before listening:"; cat "$out.err" >&2; return 1
        fi
        if ((SECONDS >= deadline)); then
            err "no 'listening on' line from $name within ${WAIT_S}s"; return 1
        fi
        sleep 0.2
    done
    if [[ ! $line =~ ^127\.0\.0\.1:([0-9]+)$ ]]; then
        err "$name listens on '$line', expected 127.0.0.1:PORT"; return 1
    fi
    echo "${BASH_REMATCH[1]}"
}

run_direction() { # LABEL FROM TO SERVER_KIND CLIENT_KIND
    local label=$1 from=$2 to=$3 skind=$4 ckind=$5
    local -a server client words
    if [[ $skind == windows ]]; then
        server=(wine "$BIN_windows/echo-server.exe")
    else
        server=("$BIN_linux/echo-server")
    fi
    if [[ $ckind == windows ]]; then
        client=(wine "$BIN_windows/echo-client.exe")
    else
        client=("$BIN_linux/echo-client")
    fi
    local out="$TMP/$skind-server.out" cout="$TMP/$ckind-client.out"

    say "$label"
    "${server[@]}" -n 1 127.0.0.1:0 >"$out" 2>"$out.err" &
    SERVER_PID=$!

    local port
    port=$(listen_port "$out" "$SERVER_PID" "the server") || return 1
    echo "server:   ${server[*]##*/} listening on 127.0.0.1:$port"

    words=(hello from "$from" to "$to" at "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)")
    local msg="${words[*]}" rc=0
    timeout $((WAIT_S + 30)) "${client[@]}" 127.0.0.1 "$port" "${words[@]}" \
        >"$cout" 2>"$cout.err" || rc=$?
    local sent received
    sent=$(sed -n 's/\r$//; s/^sent: //p' "$cout")
    received=$(sed -n 's/\r$//; s/^received: //p' "$cout")
    echo "sent:     $sent"
    echo "received: $received"
    [[ -s $cout.err ]] && sed 's/^/client:   /' "$cout.err"

    # The server exits by itself after one client (-n 1).
    local src=0
    deadline=$((SECONDS + WAIT_S))
    while kill -0 "$SERVER_PID" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.2
    done
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || src=$?
    SERVER_PID=
    local report
    report=$(sed -n 's/\r$//; /^client /p' "$out")
    echo "server:   ${report:-(no client report)}"
    [[ -s $out.err ]] && sed 's/^/server:   /' "$out.err"

    local ok=1
    [[ $rc -eq 0 ]] || { err "client exited with status $rc"; ok=0; }
    [[ $sent == "$msg" ]] || { err "client did not send the message intact"; ok=0; }
    [[ $received == "$msg" ]] || { err "the echo differs from the message"; ok=0; }
    [[ $src -eq 0 ]] || { err "server exited with status $src"; ok=0; }
    [[ $report =~ ^client\ 127\.0\.0\.1:[0-9]+:\ echoed\ ${#msg}\ bytes$ ]] ||
        { err "server did not report ${#msg} bytes echoed to a 127.0.0.1 client"; ok=0; }
    if ((ok)); then echo "result:   intact"; else echo "result:   FAILED"; fi
    ((ok))
}

# ---------------------------------------------------------------------------
# Part 3: one echo-poll.exe under Wine serves POLL_CLIENTS native clients
# that all run at once, each with its own message. Every echo is checked,
# and the server's own account (one line per client, bytes echoed) must add
# up. Returns 1 if anything was not intact.
# ---------------------------------------------------------------------------
run_poll() {
    local n=$POLL_CLIENTS out="$TMP/poll-server.out"
    say "$n concurrent native echo-clients -> Windows echo-poll.exe (Wine)"
    [[ $n =~ ^[1-9][0-9]*$ ]] || { err "DEMO_POLL_CLIENTS='$n' is not a count"; return 1; }

    wine "$BIN_windows/echo-poll.exe" -n "$n" 127.0.0.1:0 >"$out" 2>"$out.err" &
    SERVER_PID=$!
    local port backend
    port=$(listen_port "$out" "$SERVER_PID" "echo-poll.exe") || return 1
    backend=$(sed -n 's/\r$//; s/^poller: //p' "$out")
    echo "server:   echo-poll.exe listening on 127.0.0.1:$port (poller: ${backend:-?})"

    # The server is paused (SIGSTOP) while the clients start, so that all of
    # them are connected and waiting at once when it resumes: the kernel
    # completes the connections and queues them, each client has sent its
    # message and waits for the echo. Without the pause, short clients come
    # and go so fast that only a few would overlap. Each message is
    # distinct: its index and a run of numbers derived from it.
    kill -STOP "$SERVER_PID"
    local i start=$SECONDS total=0
    local -a msgs=()
    CLIENT_PIDS=()
    for ((i = 0; i < n; i++)); do
        msgs[i]="poll client $i of $n: $(seq -s ' ' $((i * 7)) 3 $((i * 7 + 600)))"
        total=$((total + ${#msgs[i]}))
        timeout $((WAIT_S + 30)) "$BIN_linux/echo-client" 127.0.0.1 "$port" \
            "${msgs[i]}" >"$TMP/poll-client-$i.out" 2>&1 &
        CLIENT_PIDS[i]=$!
    done
    # Resume once every client is connected: the listening socket's queue of
    # completed connections (ss: Recv-Q of the LISTEN line) holds them all.
    # Bounded by a few seconds: the clients' own timeouts are 10 s.
    deadline=$((SECONDS + 5))
    local queued=0
    while ((SECONDS < deadline)); do
        if command -v ss >/dev/null; then
            queued=$(ss -Hltn "( sport = :$port )" | awk 'NR == 1 { print $2 }')
            queued=${queued:-0}
            ((queued >= n)) && break
        else
            sleep 2; break # no ss: give the clients a moment instead
        fi
        sleep 0.1
    done
    echo "clients:  $n started, $queued connected while the server was paused"
    kill -CONT "$SERVER_PID"
    local ok_clients=0 bad=0 rc
    for ((i = 0; i < n; i++)); do
        rc=0
        wait "${CLIENT_PIDS[i]}" || rc=$?
        local got
        got=$(sed -n 's/\r$//; s/^received: //p' "$TMP/poll-client-$i.out")
        if [[ $rc -eq 0 && $got == "${msgs[i]}" ]]; then
            ok_clients=$((ok_clients + 1))
        else
            bad=$((bad + 1))
            if ((bad <= 5)); then
                err "client $i: status $rc, echo $([[ $got == "${msgs[i]}" ]] && echo intact || echo differs)"
                sed 's/^/  | /' "$TMP/poll-client-$i.out" | tail -n 3 >&2
            fi
        fi
    done
    CLIENT_PIDS=()
    local took=$((SECONDS - start))

    # The server exits by itself once all n clients are served (-n).
    local src=0
    deadline=$((SECONDS + WAIT_S))
    while kill -0 "$SERVER_PID" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.2
    done
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || src=$?
    SERVER_PID=
    [[ -s $out.err ]] && sed 's/^/server:   /' "$out.err" | head -n 10
    local reported echoed peak
    peak=$(sed -n 's/\r$//; s/^served [0-9]* clients, at most \([0-9]*\) at once$/\1/p' "$out")
    reported=$(sed 's/\r$//' "$out" | grep -cE '^client 127\.0\.0\.1:[0-9]+: echoed [0-9]+ bytes$' || true)
    echoed=$(sed -n 's/\r$//; s/^client 127\.0\.0\.1:[0-9]*: echoed \([0-9]*\) bytes$/\1/p' "$out" |
        awk '{ s += $1 } END { print s + 0 }')
    echo "clients:  $ok_clients of $n got their own message back intact (${took}s)"
    echo "server:   $reported clients reported, $echoed bytes echoed (sent: $total), at most ${peak:-?} clients open at once"

    local ok=1
    ((ok_clients == n)) || { err "$bad of $n clients failed"; ok=0; }
    [[ $src -eq 0 ]] || { err "echo-poll.exe exited with status $src"; ok=0; }
    ((reported == n)) || { err "echo-poll.exe reported $reported clean clients, expected $n"; ok=0; }
    ((echoed == total)) || { err "echo-poll.exe echoed $echoed bytes, clients sent $total"; ok=0; }
    POLL_SUMMARY="$ok_clients/$n concurrent native clients echoed intact by echo-poll.exe (Wine, ${backend:-?}) in ${took}s, up to ${peak:-?} at once"
    if ((ok)); then echo "result:   intact"; else echo "result:   FAILED"; fi
    ((ok))
}

failed=0
run_direction "native echo-client -> Windows echo-server.exe (Wine)" \
    linux windows windows linux || failed=1
run_direction "Windows echo-client.exe (Wine) -> native echo-server" \
    windows linux linux windows || failed=1
POLL_SUMMARY="echo-poll part did not complete"
run_poll || failed=1

say "summary"
echo "poll:     $POLL_SUMMARY"
if ((failed)); then
    echo "demo: FAILED (see above)"
    exit 1
fi
echo "demo: both directions arrived intact; $POLL_SUMMARY"
