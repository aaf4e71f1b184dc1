#!/usr/bin/env bash
# pscat's command line: --help, usage errors (exit 2), network errors (exit
# 1 and one line "pscat: <what>: <ps_strerror>"), the -w idle timeout, -v.
# Usage: cli.sh PSCAT
PSCAT=$1
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# expect NAME STATUS STDERR_REGEX COMMAND_ARGS...: run pscat (stdin empty),
# check its exit status and that a line of stderr matches.
expect() {
    local name=$1 want=$2 re=$3 rc
    shift 3
    timeout 60 "$PSCAT" "$@" </dev/null >"$T/out" 2>"$T/err" && rc=0 || rc=$?
    if ((rc != want)); then
        failed "$name: exit status $rc, expected $want"
        show "$T/err"
    elif [[ -n $re ]] && ! grep -Eq -- "$re" "$T/err"; then
        failed "$name: stderr does not match /$re/"
        show "$T/err"
    else
        pass "$name (exit $rc)"
    fi
}

if timeout 60 "$PSCAT" --help >"$T/help" 2>&1 && grep -q '^usage: pscat' "$T/help" &&
    grep -q -- '-w SECONDS' "$T/help"; then
    pass "--help: usage on stdout, exit 0"
else
    failed "--help"
    show "$T/help"
fi

expect "no arguments" 2 '^pscat: HOST PORT or unix:PATH needed$'
expect "unknown option" 2 '^pscat: unknown option -x$' -x 127.0.0.1 1
expect "-w 0" 2 "^pscat: -w: '0' is not a number of seconds above 0$" -w 0 127.0.0.1 1
expect "-w without value" 2 '^pscat: option -w needs a value$' 127.0.0.1 1 -w
expect "-k without -l" 2 '^pscat: -k needs -l$' -k 127.0.0.1 1
expect "port out of range" 2 "^pscat: port '65536' is out of range" 127.0.0.1 65536
expect "too many arguments" 2 "^pscat: too many arguments" -l 127.0.0.1 1 2 3
expect "-u with unix:" 2 '^pscat: -u: datagrams over unix: sockets' -u unix:/tmp/x
expect "-4 with unix:" 2 '^pscat: -4 / -6 do not apply' -4 unix:/tmp/x

# A port nobody listens on: connect refused, one line, exit 1.
port=$(free_port 127.0.0.1)
expect "connection refused" 1 "^pscat: connect to 127.0.0.1 port $port: connection refused$" \
    127.0.0.1 "$port"
if (($(wc -l <"$T/err") == 1)); then
    pass "a network error is one line on stderr"
else
    failed "a network error is $(wc -l <"$T/err") lines"
fi
expect "-4 refused" 1 "^pscat: connect to 127.0.0.1 port $port: connection refused$" \
    -4 -v 127.0.0.1 "$port"
expect "unix: no socket there" 1 "^pscat: connect to unix:$T/none.sock: " "unix:$T/none.sock"
start busy /dev/null /dev/null "$T/busy.err" "$PSCAT" -v -l 127.0.0.1 0
if port=$(listen_port "$T/busy.err" "$busy"); then
    expect "listen on a port in use" 1 \
        "^pscat: listen on 127.0.0.1 port $port: address already in use$" \
        -l 127.0.0.1 "$port"
else
    failed "port in use: the first listener did not start"
fi
kill "$busy" 2>/dev/null
wait "$busy" 2>/dev/null

# -w idle: neither side sends anything; the listener gives up after 1 s with
# exit 1, the client then sees the end of stream.
hold="$T/hold.fifo"
mkfifo "$hold"
exec {holdfd}<>"$hold" # a stdin that never ends and never delivers
start lpid "$hold" /dev/null "$T/l.err" "$PSCAT" -v -w 1 -l 127.0.0.1 0
if port=$(listen_port "$T/l.err" "$lpid"); then
    start cpid "$hold" /dev/null "$T/c.err" "$PSCAT" -v 127.0.0.1 "$port"
    wait_pid "$lpid" && lrc=0 || lrc=$?
    if ((lrc == 1)) && grep -q '^pscat: idle for 1 s: operation timed out$' "$T/l.err"; then
        pass "-w 1: an idle connection ends after 1 s with exit 1"
    else
        failed "-w 1 idle: listener exit $lrc"
        show "$T/l.err"
    fi
    kill "$cpid" 2>/dev/null
    wait "$cpid" 2>/dev/null
else
    failed "-w idle: the listener did not start"
    show "$T/l.err"
fi
exec {holdfd}>&-

# -v: addresses and byte counts, on stderr only.
start lpid /dev/null "$T/v_out" "$T/l.err" "$PSCAT" -v -l 127.0.0.1 0
if port=$(listen_port "$T/l.err" "$lpid"); then
    printf 'hello\n' | timeout 60 "$PSCAT" -v 127.0.0.1 "$port" >/dev/null 2>"$T/c.err"
    wait "$lpid" 2>/dev/null
    if grep -q "^pscat: connected to 127.0.0.1:$port from 127.0.0.1:[0-9]*$" "$T/c.err" &&
        grep -q '^pscat: sent 6 bytes, received 0 bytes$' "$T/c.err" &&
        grep -q '^pscat: connection from 127.0.0.1:[0-9]*$' "$T/l.err" &&
        grep -q '^pscat: sent 0 bytes, received 6 bytes$' "$T/l.err" &&
        [[ $(cat "$T/v_out") == hello ]]; then
        pass "-v: addresses and byte counts each way on stderr"
    else
        failed "-v report"
        show "$T/l.err" "$T/c.err"
    fi
else
    failed "-v: the listener did not start"
fi

finish
