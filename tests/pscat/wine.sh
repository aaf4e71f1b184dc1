#!/usr/bin/env bash
# pscat (Linux) <-> pscat.exe (the Windows build, under Wine) on loopback: a
# random file (with CR LF, LF, CR, ^Z and NUL among its bytes; 16 MiB over
# TCP, 48 KiB over UDP) goes from Linux to Windows and back, and must come back
# byte-exact (sha256); Windows' standard output and input are files and
# pipes, so a newline translation anywhere would show. Also: pscat.exe's
# exit statuses, and the unix-socket row (skipped: WINE.md, "AF_UNIX stream
# sockets: no").
# Usage: wine.sh PSCAT PSCAT_EXE
PSCAT=$1
PSCAT_EXE=${2:-}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export WINEDEBUG=-all
if [[ -z $PSCAT_EXE || ! -f $PSCAT_EXE ]]; then
    skip_row "no pscat.exe at '$PSCAT_EXE': build the windows preset first" \
        "(cmake --preset windows && cmake --build --preset windows), or set" \
        "PORTSOCK_PSCAT_WINDOWS to a pscat.exe"
    finish
fi
WINE=$(command -v wine || command -v wine64 || true)
if [[ -z $WINE ]]; then
    skip_row "wine is not installed"
    finish
fi
WPSCAT=("$WINE" "$PSCAT_EXE")
PSCAT_TIMEOUT=120 # a first Wine start in a fresh prefix is slow

make_data "$T/a.bin" $((16 << 20))
make_data "$T/b.bin" $(((3 << 20) + 5))
make_data "$T/u.bin" $((48 << 10))

# check NAME WANT GOT: byte-exact, with a hint if it looks like newline
# translation.
check() {
    local name=$1 want=$2 got=$3 lf extra
    if same "$want" "$got"; then
        return 0
    fi
    lf=$(tr -dc '\n' <"$want" | wc -c)
    extra=$(($(stat -c %s "$got") - $(stat -c %s "$want")))
    if ((extra == lf)); then
        echo "   $extra bytes more, as many as LF bytes: \"\\n\" was written as" \
            "\"\\r\\n\" (pscat.exe's stdout is in text mode: was it built" \
            "without ps_stdout_binary?)"
    fi
    return 1
}

# pair NAME LINUX_ROLE LINUX_IN LINUX_OUT WINE_IN WINE_OUT ADDR [OPTIONS...]
# One transfer: LINUX_ROLE is "listen" (Wine connects) or "connect" (Wine
# listens). The *_IN/_OUT are files, or "|FILE" for a pipe from / to cat.
pair() {
    local name=$1 role=$2 lin=$3 lout=$4 win=$5 wout=$6 addr=$7
    shift 7
    local opts=("$@") lpid wpid port lrc wrc lis con
    rm -f "$T"/[lw].err
    # run_wine VAR IN OUT ERR ARGS...: pscat.exe, through pipes if asked
    run_wine() {
        local var=$1 in=$2 out=$3 err=$4
        shift 4
        if [[ $in == \|* || $out == \|* ]]; then
            local script='set -o pipefail; in=$1 out=$2; shift 2
                if [[ $in == \|* ]]; then cat "${in#|}"; else cat /dev/null; fi |
                if [[ $in == \|* ]]; then timeout 120 "$@"; else timeout 120 "$@" <"$in"; fi |
                if [[ $out == \|* ]]; then cat >"${out#|}"; else cat >"$out"; fi'
            start "$var" /dev/null /dev/null "$err" bash -c "$script" _ "$in" "$out" "$@"
        else
            start "$var" "$in" "$out" "$err" "$@"
        fi
    }
    if [[ $role == listen ]]; then
        start lpid "$lin" "$lout" "$T/l.err" "$PSCAT" -v "${opts[@]}" -l "$addr" 0
        if ! port=$(listen_port "$T/l.err" "$lpid"); then
            failed "$name: pscat did not start listening"
            show "$T/l.err"
            return 1
        fi
        run_wine wpid "$win" "$wout" "$T/w.err" "${WPSCAT[@]}" -v "${opts[@]}" "$addr" "$port"
    else
        run_wine wpid "$win" "$wout" "$T/w.err" "${WPSCAT[@]}" -v "${opts[@]}" -l "$addr" 0
        if ! port=$(listen_port "$T/w.err" "$wpid" 60); then
            failed "$name: pscat.exe did not start listening"
            show "$T/w.err"
            return 1
        fi
        start lpid "$lin" "$lout" "$T/l.err" "$PSCAT" -v "${opts[@]}" "$addr" "$port"
    fi
    wait_pid "$lpid" && lrc=0 || lrc=$?
    wait_pid "$wpid" && wrc=0 || wrc=$?
    if ((lrc != 0 || wrc != 0)); then
        failed "$name: exit status pscat $lrc, pscat.exe $wrc"
        show "$T/l.err" "$T/w.err"
        return 1
    fi
    return 0
}

# TCP: Linux -> Windows (stdout a file), then Windows (stdin a pipe) ->
# Linux: the file comes back.
if pair "tcp to Wine" listen "$T/a.bin" /dev/null /dev/null "$T/mid.bin" 127.0.0.1; then
    if check "tcp to Wine" "$T/a.bin" "$T/mid.bin"; then
        pass "tcp 127.0.0.1: 16 MiB Linux -> pscat.exe (stdout a file), byte-exact"
        if pair "tcp back" connect /dev/null "$T/back.bin" "|$T/mid.bin" /dev/null 127.0.0.1 &&
            check "tcp back" "$T/a.bin" "$T/back.bin"; then
            pass "tcp 127.0.0.1: and back, pscat.exe listening (stdin a pipe), byte-exact (sha256 $(sha256sum <"$T/back.bin" | cut -c1-16)...)"
        else
            failed "tcp 127.0.0.1: the file did not come back intact"
        fi
    else
        failed "tcp 127.0.0.1: pscat.exe's output differs from what was sent"
        show "$T/w.err"
    fi
fi

# TCP over ::1, both ways at once, pipes on both ends of pscat.exe.
if have_ipv6; then
    if pair "tcp ::1 both ways" listen "$T/a.bin" "$T/got_b.bin" "|$T/b.bin" "|$T/got_a.bin" ::1 &&
        check "tcp ::1" "$T/a.bin" "$T/got_a.bin" && check "tcp ::1" "$T/b.bin" "$T/got_b.bin"; then
        pass "tcp ::1: 16 MiB and 3 MiB both ways at once, pscat.exe on pipes, byte-exact"
    else
        failed "tcp ::1 both ways"
    fi
else
    skip_row "tcp ::1: this machine cannot listen on ::1"
fi

# UDP: Linux -> Windows, then Windows -> Linux, 1,400-byte datagrams. UDP
# has no flow control: loopback drops a datagram when the receive buffer
# is full, and pscat.exe under Wine is a slow receiver (about 8 datagrams a
# millisecond here). 16 MiB lost datagrams whenever both CPUs were busy
# (seen with two spinning processes beside the test), so the UDP rows send
# 48 KiB: 36 datagrams, which fit in a receive buffer even if the receiver
# reads nothing until the end, so a loaded machine cannot make them fail.
# Volume over UDP is udp.sh's test, natively.
if pair "udp to Wine" connect "$T/u.bin" /dev/null /dev/null "$T/umid.bin" 127.0.0.1 -u -w 3 -b 2; then
    if check "udp to Wine" "$T/u.bin" "$T/umid.bin"; then
        pass "udp 127.0.0.1: 48 KiB Linux -> pscat.exe in datagrams, byte-exact"
        if pair "udp back" listen /dev/null "$T/uback.bin" "$T/umid.bin" /dev/null 127.0.0.1 -u -w 3 -b 4 &&
            check "udp back" "$T/u.bin" "$T/uback.bin"; then
            pass "udp 127.0.0.1: and back from pscat.exe, byte-exact (sha256 $(sha256sum <"$T/uback.bin" | cut -c1-16)...)"
        else
            failed "udp 127.0.0.1: the file did not come back intact"
        fi
    else
        failed "udp 127.0.0.1: pscat.exe's output differs (datagrams lost?)"
        show "$T/w.err"
    fi
fi

# pscat.exe's exit statuses and its one-line error.
rc=0
timeout 60 "${WPSCAT[@]}" --help </dev/null >"$T/help" 2>&1 || rc=$?
if ((rc == 0)) && grep -q '^usage: pscat' "$T/help"; then
    pass "pscat.exe --help: exit 0"
else
    failed "pscat.exe --help: exit $rc"
fi
rc=0
timeout 60 "${WPSCAT[@]}" -k 127.0.0.1 1 </dev/null >/dev/null 2>"$T/err" || rc=$?
if ((rc == 2)) && grep -q '^pscat: -k needs -l' "$T/err"; then
    pass "pscat.exe usage error: exit 2"
else
    failed "pscat.exe usage error: exit $rc"
    show "$T/err"
fi
port=$(free_port 127.0.0.1)
rc=0
timeout 60 "${WPSCAT[@]}" 127.0.0.1 "$port" </dev/null >/dev/null 2>"$T/err" || rc=$?
if ((rc == 1)) && [[ $(tr -d '\r' <"$T/err") == "pscat: connect to 127.0.0.1 port $port: connection refused" ]]; then
    pass "pscat.exe connection refused: exit 1, one line"
else
    failed "pscat.exe connection refused: exit $rc"
    show "$T/err"
fi

# Local sockets: Wine has none. pscat.exe says so; the row itself is for
# the native tests (stream.sh, interop.sh).
rc=0
timeout 60 "${WPSCAT[@]}" -l "unix:$T/w.sock" </dev/null >/dev/null 2>"$T/err" || rc=$?
if ((rc == 1)) && grep -q 'address family not supported' "$T/err"; then
    skip_row "unix-socket row under Wine: WINE.md 'AF_UNIX stream sockets: no'" \
        "(pscat.exe -l unix:... exits 1: address family not supported)"
else
    failed "pscat.exe -l unix:...: exit $rc, expected 1 with 'address family not supported'"
    show "$T/err"
fi

finish
