#!/usr/bin/env bash
# Runs test_stdin (tests/test_stdin.c) with known standard input: a file, a
# pipe, and an empty file, each also named as its argument so the test can
# compare. Usage: stdin.sh WORKDIR TEST_EXE [EMULATOR...]
# (the Windows build passes its cross-compiling emulator, i.e. wine).
set -euo pipefail
work=$1 exe=$2
shift 2
emulator=("$@")

mkdir -p "$work"
tmp=$(mktemp -d "$work/stdin.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# What text-mode I/O would damage: CR LF, a lone LF and CR, ^Z (0x1A, the
# DOS end-of-file mark), NUL; then every byte value, then 1 MiB of random.
input=$tmp/input.bin
{
    printf 'CRLF\r\nLF\nCR\r^Z\032NUL\000end\n'
    for i in $(seq 0 255); do printf "\\$(printf '%03o' "$i")"; done
    head -c 1048576 /dev/urandom
} >"$input"
: >"$tmp/empty.bin"

rc=0
run() { # NAME COMMAND...: one run, bounded, its verdict printed
    local name=$1
    shift
    echo "== $name"
    if "$@"; then
        echo "ok: $name"
    else
        echo "FAILED: $name (exit $?)"
        rc=1
    fi
}
run "file as stdin ($(stat -c %s "$input") bytes)" \
    timeout 60 "${emulator[@]}" "$exe" "$input" <"$input"
run "pipe as stdin" \
    bash -c 'cat "$1" | timeout 60 "${@:3}" "$2" "$1"' _ "$input" "$exe" "${emulator[@]}"
run "empty file as stdin" \
    timeout 60 "${emulator[@]}" "$exe" "$tmp/empty.bin" <"$tmp/empty.bin"
exit $rc
