#!/usr/bin/env bash
# pscat against Debian's socat and netcat-openbsd (nc), natively: each tool
# on the other end, as client and as listener, over TCP (127.0.0.1, ::1),
# UDP (127.0.0.1) and a unix socket, with data both ways at once, compared
# byte for byte, and exit status 0 on both ends.
#
# The tools' end-of-input handling: nc -N and socat shut down their sending
# side at the end of their input, as pscat does; over UDP, nc -w 3 and
# socat -t 3 stop 3 s after the last datagram, pscat -w 3 likewise. UDP
# payloads stay small enough (the tools send 8-16 KiB datagrams unpaced) for
# the receiving socket's buffer.
# Usage: interop.sh PSCAT
PSCAT=$1
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tools=()
for t in socat nc; do
    if command -v "$t" >/dev/null; then
        tools+=("$t")
    else
        skip_row "$t: not installed (Debian packages socat, netcat-openbsd)"
    fi
done
if command -v nc >/dev/null && ! nc -h 2>&1 | grep -q 'OpenBSD netcat'; then
    skip_row "nc: not netcat-openbsd"
    tools=("${tools[@]/nc/}")
fi

make_data "$T/p.bin" $((4 << 20))        # pscat sends it over streams
make_data "$T/t.bin" $(((1 << 20) + 13)) # the tool sends it over streams
make_data "$T/pu.bin" 1000000            # pscat sends it over UDP
make_data "$T/tu.bin" 60000              # the tool sends it over UDP

# tool_cmd TOOL ROLE KIND ADDR PORT_OR_PATH: the tool's command line.
# ROLE connect|listen; KIND tcp|udp|unix; ADDR 127.0.0.1|::1.
tool_cmd() {
    local tool=$1 role=$2 kind=$3 addr=$4 where=$5 fam=4 bracket=$4
    [[ $addr == *:* ]] && fam=6 bracket="[$addr]"
    case $tool.$role.$kind in
    nc.connect.tcp) echo nc -N -"$fam" "$addr" "$where" ;;
    nc.listen.tcp) echo nc -N -"$fam" -l "$addr" "$where" ;;
    nc.connect.udp) echo nc -u -w 3 -"$fam" "$addr" "$where" ;;
    nc.listen.udp) echo nc -u -w 3 -"$fam" -l "$addr" "$where" ;;
    nc.connect.unix) echo nc -N -U "$where" ;;
    nc.listen.unix) echo nc -N -lU "$where" ;;
    socat.connect.tcp) echo socat -t 30 STDIO "TCP$fam:$bracket:$where" ;;
    socat.listen.tcp) echo socat -t 30 "TCP$fam-LISTEN:$where,bind=$bracket,reuseaddr" STDIO ;;
    socat.connect.udp) echo socat -t 3 STDIO "UDP$fam:$bracket:$where" ;;
    socat.listen.udp) echo socat -t 3 "UDP$fam-LISTEN:$where,bind=$bracket" STDIO ;;
    socat.connect.unix) echo socat -t 30 STDIO "UNIX-CONNECT:$where" ;;
    socat.listen.unix) echo socat -t 30 "UNIX-LISTEN:$where" STDIO ;;
    esac
}

# tool_listening KIND PORT_OR_PATH: wait (10 s at most) until the tool
# listens there (a listening TCP socket, or a bound UDP socket, in
# /proc/net; a socket file for unix).
tool_listening() {
    local kind=$1 where=$2 i hex files state
    hex=$(printf ':%04X' "$where" 2>/dev/null)
    case $kind in
    tcp) files=(/proc/net/tcp /proc/net/tcp6) state=0A ;;
    udp) files=(/proc/net/udp /proc/net/udp6) state=07 ;;
    esac
    for ((i = 0; i < 100; i++)); do
        if [[ $kind == unix ]]; then
            [[ -S $where ]] && return 0
        elif awk -v p="$hex" -v s="$state" \
            'substr($2, length($2) - 4) == p && $4 == s { found = 1 } END { exit !found }' \
            "${files[@]}" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# row TOOL ROLE KIND ADDR: one exchange; ROLE is the tool's.
row() {
    local tool=$1 role=$2 kind=$3 addr=$4 name pin tin pout tout popts=()
    local ppid tpid prc trc where port cmd
    name="$tool $role ($kind${addr:+ $addr}), pscat $([[ $role == listen ]] && echo connects || echo listens)"
    pin=$T/p.bin tin=$T/t.bin
    if [[ $kind == udp ]]; then
        pin=$T/pu.bin tin=$T/tu.bin popts=(-u -w 3)
    fi
    pout=$T/got_by_pscat.bin tout=$T/got_by_tool.bin
    rm -f "$pout" "$tout" "$T"/*.err "$T"/*.sock

    if [[ $role == connect ]]; then # pscat listens, the tool connects
        local target
        if [[ $kind == unix ]]; then
            where=$T/pscat.sock target=unix:$where
            start ppid "$pin" "$pout" "$T/p.err" "$PSCAT" -v -l "$target"
        else
            start ppid "$pin" "$pout" "$T/p.err" "$PSCAT" -v "${popts[@]}" -l "$addr" 0
        fi
        if ! port=$(listen_port "$T/p.err" "$ppid"); then
            failed "$name: pscat did not start listening"
            show "$T/p.err"
            return
        fi
        [[ $kind == unix ]] || where=$port
        read -ra cmd <<<"$(tool_cmd "$tool" connect "$kind" "$addr" "$where")"
        start tpid "$tin" "$tout" "$T/t.err" "${cmd[@]}"
    else # the tool listens, pscat connects
        if [[ $kind == unix ]]; then
            where=$T/tool.sock
        else
            where=$(free_port "$addr" "${popts[@]:0:1}") || where=""
            [[ -n $where ]] || { failed "$name: no free port"; return; }
        fi
        read -ra cmd <<<"$(tool_cmd "$tool" listen "$kind" "$addr" "$where")"
        start tpid "$tin" "$tout" "$T/t.err" "${cmd[@]}"
        if ! tool_listening "$kind" "$where"; then
            failed "$name: $tool did not start listening"
            show "$T/t.err"
            return
        fi
        if [[ $kind == unix ]]; then
            start ppid "$pin" "$pout" "$T/p.err" "$PSCAT" -v "unix:$where"
        else
            start ppid "$pin" "$pout" "$T/p.err" "$PSCAT" -v "${popts[@]}" "$addr" "$where"
        fi
    fi
    wait_pid "$ppid" && prc=0 || prc=$?
    wait_pid "$tpid" && trc=0 || trc=$?
    if ((prc != 0 || trc != 0)); then
        failed "$name: exit status pscat $prc, $tool $trc (${cmd[*]})"
        show "$T/p.err" "$T/t.err"
    elif ! same "$pin" "$tout" || ! same "$tin" "$pout"; then
        failed "$name: data differs (${cmd[*]})"
        show "$T/p.err" "$T/t.err"
    else
        pass "$name: $(stat -c %s "$pin") + $(stat -c %s "$tin") bytes, byte-exact"
    fi
}

v6=0
have_ipv6 && v6=1
for tool in "${tools[@]}"; do
    [[ -n $tool ]] || continue
    for role in connect listen; do
        row "$tool" "$role" tcp 127.0.0.1
        if ((v6)); then
            row "$tool" "$role" tcp ::1
        else
            skip_row "$tool $role tcp ::1: this machine cannot listen on ::1"
        fi
        row "$tool" "$role" udp 127.0.0.1
        row "$tool" "$role" unix ""
    done
done

finish
