#!/usr/bin/env bash
# pscat <-> pscat over TCP (IPv4, IPv6) and local sockets, natively: data
# both ways at once, byte-exact; -k serving clients one after another.
# Usage: stream.sh PSCAT
PSCAT=$1
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_data "$T/a.bin" $((16 << 20))      # the listener sends it
make_data "$T/b.bin" $(((5 << 20) + 7)) # the client sends it

# both_ways NAME LISTEN_ARGS -- CONNECT_ARGS (CONNECT_ARGS may hold @PORT@)
both_ways() {
    local name=$1 largs=() cargs=() lpid cpid port lrc crc
    shift
    while [[ $1 != -- ]]; do largs+=("$1"); shift; done
    shift
    rm -f "$T"/got_*.bin "$T"/[lc].err
    start lpid "$T/a.bin" "$T/got_b.bin" "$T/l.err" "$PSCAT" -v -l "${largs[@]}"
    if ! port=$(listen_port "$T/l.err" "$lpid"); then
        failed "$name: the listener did not start"
        show "$T/l.err"
        return
    fi
    cargs=("${@//@PORT@/$port}")
    start cpid "$T/b.bin" "$T/got_a.bin" "$T/c.err" "$PSCAT" -v "${cargs[@]}"
    wait_pid "$cpid" && crc=0 || crc=$?
    wait_pid "$lpid" && lrc=0 || lrc=$?
    if ((lrc != 0 || crc != 0)); then
        failed "$name: exit status listener $lrc, client $crc"
        show "$T/l.err" "$T/c.err"
    elif ! same "$T/a.bin" "$T/got_a.bin" || ! same "$T/b.bin" "$T/got_b.bin"; then
        failed "$name: data differs"
        show "$T/l.err" "$T/c.err"
    else
        pass "$name: 16 MiB one way, 5 MiB the other, byte-exact, exit 0 both"
    fi
}

both_ways "tcp 127.0.0.1" 127.0.0.1 0 -- 127.0.0.1 @PORT@
both_ways "tcp -4" -4 127.0.0.1 0 -- -4 127.0.0.1 @PORT@
if have_ipv6; then
    both_ways "tcp ::1" ::1 0 -- ::1 @PORT@
    both_ways "tcp -6 [::1]" -6 '[::1]' 0 -- -6 ::1 @PORT@
else
    skip_row "tcp ::1: this machine cannot listen on ::1"
fi
sock="$T/pscat.sock"
both_ways "unix socket" "unix:$sock" -- "unix:$sock"
if [[ -e $sock ]]; then
    failed "unix socket: $sock left behind after the listener closed"
else
    pass "unix socket: the socket file is gone after the listener closed"
fi

# -k: three clients one after another; the listener's stdout gets the three
# inputs in order, and it is still listening afterwards.
rm -f "$T/l.err"
start lpid /dev/null "$T/k_out.bin" "$T/l.err" "$PSCAT" -v -k -l 127.0.0.1 0
if port=$(listen_port "$T/l.err" "$lpid"); then
    ok=1
    : >"$T/k_want.bin"
    for i in 1 2 3; do
        make_data "$T/k_$i.bin" $((100000 * i))
        cat "$T/k_$i.bin" >>"$T/k_want.bin"
        if ! timeout 60 "$PSCAT" 127.0.0.1 "$port" <"$T/k_$i.bin" >/dev/null 2>"$T/c.err"; then
            ok=0
            failed "-k: client $i failed"
            show "$T/c.err"
        fi
    done
    sleep 0.2
    if ! kill -0 "$lpid" 2>/dev/null; then
        failed "-k: the listener stopped after its clients"
        show "$T/l.err"
    elif ((ok)) && same "$T/k_want.bin" "$T/k_out.bin"; then
        pass "-k: three clients served in turn, byte-exact, still listening"
    elif ((ok)); then
        failed "-k: the listener's output differs"
    fi
    kill "$lpid" 2>/dev/null
    wait "$lpid" 2>/dev/null
else
    failed "-k: the listener did not start"
    show "$T/l.err"
fi

# Without -k the listener serves one client and stops listening: a second
# connection is refused.
rm -f "$T/l.err"
start lpid /dev/null /dev/null "$T/l.err" "$PSCAT" -v -l 127.0.0.1 0
if port=$(listen_port "$T/l.err" "$lpid"); then
    hold_in="$T/hold.fifo"
    mkfifo "$hold_in"
    # client 1 stays connected until its stdin (the fifo) closes
    start c1 "$hold_in" /dev/null "$T/c1.err" "$PSCAT" 127.0.0.1 "$port"
    exec {hold}>"$hold_in"
    for ((i = 0; i < 100; i++)); do
        grep -q "connection from" "$T/l.err" && break
        sleep 0.1
    done
    timeout 60 "$PSCAT" 127.0.0.1 "$port" </dev/null >/dev/null 2>"$T/c2.err"
    rc=$?
    exec {hold}>&-
    wait_pid "$c1" && c1rc=0 || c1rc=$?
    wait_pid "$lpid" && lrc=0 || lrc=$?
    if ((rc == 1)) && grep -q "^pscat: connect to 127.0.0.1 port $port: connection refused$" "$T/c2.err" &&
        ((c1rc == 0 && lrc == 0)); then
        pass "without -k: one client served, the next one refused (exit 1)"
    else
        failed "without -k: second client exit $rc, first $c1rc, listener $lrc"
        show "$T/c2.err" "$T/c1.err" "$T/l.err"
    fi
else
    failed "without -k: the listener did not start"
    show "$T/l.err"
fi

finish
