#!/usr/bin/env bash
# pscat <-> pscat over UDP, natively: the client's 16 MiB go out as paced
# datagrams of at most 1,400 bytes, the listener answers the first sender
# with 2 MiB; both arrive byte-exact and both sides exit 0 once standard
# input has ended and nothing has come for the -w time. Loopback UDP drops
# datagrams only when a receive buffer overflows; pscat's pacing (-b, 4
# datagrams between 1 ms pauses by default) keeps far from that, and ctest
# runs this test alone (RUN_SERIAL). A stray sender is ignored.
# Usage: udp.sh PSCAT
PSCAT=$1
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_data "$T/a.bin" $((16 << 20)) # client -> listener
make_data "$T/b.bin" $((2 << 20))  # listener -> client

# udp_both NAME ADDR [OPTIONS...]
udp_both() {
    local name=$1 addr=$2 lpid cpid port lrc crc
    shift 2
    rm -f "$T"/got_*.bin "$T"/[lc].err
    start lpid "$T/b.bin" "$T/got_a.bin" "$T/l.err" \
        "$PSCAT" -v -u -w 2 "$@" -l "$addr" 0
    if ! port=$(listen_port "$T/l.err" "$lpid"); then
        failed "$name: the listener did not start"
        show "$T/l.err"
        return
    fi
    start cpid "$T/a.bin" "$T/got_b.bin" "$T/c.err" \
        "$PSCAT" -v -u -w 2 "$@" "$addr" "$port"
    # A second sender, once the first is the peer: ignored.
    for ((i = 0; i < 100; i++)); do
        grep -q '^pscat: peer ' "$T/l.err" && break
        sleep 0.1
    done
    printf 'stray datagram\n' | timeout 60 "$PSCAT" -u -w 0.2 "$addr" "$port" \
        >/dev/null 2>"$T/stray.err"
    wait_pid "$cpid" && crc=0 || crc=$?
    wait_pid "$lpid" && lrc=0 || lrc=$?
    if ((lrc != 0 || crc != 0)); then
        failed "$name: exit status listener $lrc, client $crc"
        show "$T/l.err" "$T/c.err"
    elif ! same "$T/a.bin" "$T/got_a.bin" || ! same "$T/b.bin" "$T/got_b.bin"; then
        failed "$name: data differs (UDP loss or reordering?)"
        show "$T/l.err" "$T/c.err"
    else
        pass "$name: 16 MiB and 2 MiB in datagrams, byte-exact, exit 0 both"
        if grep -q '^pscat: ignored a datagram of 15 bytes from ' "$T/l.err"; then
            pass "$name: a second sender's datagram was ignored"
        else
            failed "$name: no report of the stray datagram"
            show "$T/l.err"
        fi
    fi
}

udp_both "udp 127.0.0.1" 127.0.0.1
if have_ipv6; then
    udp_both "udp ::1 -6" ::1 -6
else
    skip_row "udp ::1: this machine cannot listen on ::1"
fi

# The largest datagram from stdin is 1,400 bytes.
start lpid /dev/null "$T/got.bin" "$T/l.err" "$PSCAT" -v -u -w 1 -l 127.0.0.1 0
if port=$(listen_port "$T/l.err" "$lpid"); then
    make_data "$T/c.bin" 14000
    timeout 60 "$PSCAT" -v -u -w 1 127.0.0.1 "$port" <"$T/c.bin" >/dev/null 2>"$T/c.err"
    wait "$lpid"
    n=$(sed -n 's/.*sent 14000 bytes in \([0-9]*\) datagrams.*/\1/p' "$T/c.err")
    if same "$T/c.bin" "$T/got.bin" && [[ -n $n ]] && ((n >= 10)); then
        pass "udp: 14,000 bytes went as $n datagrams (at most 1,400 bytes each)"
    else
        failed "udp datagram size: ${n:-?} datagrams"
        show "$T/c.err" "$T/l.err"
    fi
else
    failed "udp size: the listener did not start"
fi

# Nobody at the port: the ICMP port-unreachable ends the client with exit 1.
port=$(free_port 127.0.0.1)
make_data "$T/d.bin" 100000
timeout 60 "$PSCAT" -u -w 2 127.0.0.1 "$port" <"$T/d.bin" >/dev/null 2>"$T/err"
rc=$?
if ((rc == 1)) && grep -Eq '^pscat: (send to|receive from) 127.0.0.1:[0-9]+: connection refused$' "$T/err"; then
    pass "udp: nobody listening: exit 1, 'connection refused'"
else
    failed "udp to a closed port: exit $rc"
    show "$T/err"
fi

finish
