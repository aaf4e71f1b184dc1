#!/usr/bin/env bash
# Build and test portsock everywhere this machine can reach:
#   linux       clang, Debug, -Werror                     (CMakePresets.json)
#   linux-asan  gcc, AddressSanitizer + UBSan
#   windows     mingw-w64 cross build, tests run under Wine through ctest
#   install     install + find_package / pkg-config consumers for native and
#               mingw, static and shared; exported symbols; add_subdirectory
#
# Runs from any directory, on a fresh Debian 12 as root (installs what is
# missing), and again quickly (nothing re-downloaded, builds incremental).
# Exit status is non-zero if any part failed; every part runs regardless.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export WINEDEBUG=-all
MINGW=x86_64-w64-mingw32
TOOLCHAIN="$ROOT/toolchains/mingw-w64-x86_64.cmake"
LOGDIR="$ROOT/build/logs"
START=$SECONDS

say() { printf '\n==== %s\n' "$*"; }
warn() { printf 'run-tests: %s\n' "$*" >&2; }
# Set-up shared with demo.sh: setup_packages, setup_cmocka, setup_wine_prefix.
# shellcheck source=scripts/lib/setup.sh
source "$ROOT/scripts/lib/setup.sh"

# ---------------------------------------------------------------------------
# 1. Packages
# ---------------------------------------------------------------------------
PACKAGES=(cmake ninja-build gcc clang mingw-w64 wine wine64 libcmocka-dev
          dpkg-dev pkg-config binutils xz-utils socat netcat-openbsd)
setup_packages "${PACKAGES[@]}" || exit

# ---------------------------------------------------------------------------
# 2. cmocka sources for the Windows build (.deps/cmocka, fetched once)
# ---------------------------------------------------------------------------
setup_cmocka || exit 1

# ---------------------------------------------------------------------------
# 3. Wine prefix (created once; the first start in a fresh prefix is slow)
# ---------------------------------------------------------------------------
setup_wine_prefix

mkdir -p "$LOGDIR"

# ---------------------------------------------------------------------------
# 4. Presets: configure, build, test
# ---------------------------------------------------------------------------
declare -A RESULT=() DETAIL=()
TOTAL_PASSED=0
TOTAL_FAILED=0

# Reads "N% tests passed, F tests failed out of T" from a ctest log.
ctest_counts() {
    local line
    line=$(grep -E 'tests? failed out of [0-9]+' "$1" | tail -n 1 || true)
    if [[ $line =~ ([0-9]+)\ tests?\ failed\ out\ of\ ([0-9]+) ]]; then
        echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
    else
        echo ""
    fi
}

run_preset() {
    local p=$1
    local log="$LOGDIR/ctest-$p.log" rc counts
    say "$p: configure"
    cmake --preset "$p" || { DETAIL[$p]="configure failed"; return 1; }
    say "$p: build"
    cmake --build --preset "$p" || { DETAIL[$p]="build failed"; return 1; }
    say "$p: test"
    ctest --preset "$p" 2>&1 | tee "$log" && rc=0 || rc=${PIPESTATUS[0]}
    # cmocka skips pass in ctest's count: show each with its reason.
    local last="$ROOT/build/$p/Testing/Temporary/LastTest.log"
    if [[ -f $last ]] && grep -q '^skip' "$last"; then
        echo "$p: skipped tests and why (count, reason):"
        grep -h '^skip' "$last" | sort | uniq -c | sed 's/^/  /'
    fi
    counts=$(ctest_counts "$log")
    if [[ -n $counts ]]; then
        local failed=${counts% *} total=${counts#* }
        TOTAL_PASSED=$((TOTAL_PASSED + total - failed))
        TOTAL_FAILED=$((TOTAL_FAILED + failed))
        if ((failed)); then
            DETAIL[$p]="$failed of $total tests failed"
        else
            DETAIL[$p]="$total tests"
        fi
    else
        DETAIL[$p]="ctest exit $rc, no test summary"
        ((rc)) || rc=1
    fi
    return "$rc"
}

# Windows first: the native pscat tests send data through the Windows
# build's pscat.exe under Wine and skip if it is not built yet.
for p in windows linux linux-asan; do
    t0=$SECONDS
    if run_preset "$p"; then
        RESULT[$p]=PASS
    else
        RESULT[$p]=FAIL
        [[ ${DETAIL[$p]} == *"tests failed"* ]] || TOTAL_FAILED=$((TOTAL_FAILED + 1))
    fi
    DETAIL[$p]="${DETAIL[$p]}, $((SECONDS - t0)) s"
done

# ---------------------------------------------------------------------------
# 5. Install, find_package and pkg-config consumers, exports, subproject
# ---------------------------------------------------------------------------
INSTALL_FAILS=()
INSTALL_CHECKS=0

check() { # check NAME COMMAND...: run one install-stage check, record it
    local name=$1
    shift
    INSTALL_CHECKS=$((INSTALL_CHECKS + 1))
    say "install: $name"
    if "$@"; then
        echo "ok: $name"
    else
        echo "FAILED: $name"
        INSTALL_FAILS+=("$name")
    fi
}

win_path() { local p=$1; printf 'Z:%s' "${p//\//\\}"; }

# run_consumer EXE [DLLDIR]: runs it (Wine for .exe) and wants "consumer ok".
run_consumer() {
    local exe=$1 dlldir=${2:-} out rc
    if [[ $exe == *.exe ]]; then
        local wp="" d
        for d in "$dlldir" \
            "$(dirname "$($MINGW-gcc -print-file-name=libgcc_s_seh-1.dll)")" \
            "$(dirname "$($MINGW-gcc -print-file-name=libwinpthread-1.dll)")"; do
            [[ -n $d && -d $d ]] && wp+="${wp:+;}$(win_path "$d")"
        done
        out=$(WINEPATH="$wp" wine "$exe" 2>&1) && rc=0 || rc=$?
    else
        out=$(LD_LIBRARY_PATH="$dlldir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$exe" 2>&1) && rc=0 || rc=$?
    fi
    printf '%s\n' "$out"
    if ((rc != 0)); then
        warn "$exe exited with $rc"
        return 1
    fi
    grep -q 'consumer ok' <<<"$out" || { warn "$exe did not print 'consumer ok'"; return 1; }
}

build_and_install() { # VARIANT CMAKE_ARGS...
    local v=$1
    shift
    local bdir="$ROOT/build/pkg-$v" stage="$ROOT/build/stage/$v"
    cmake -S "$ROOT" -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DPORTSOCK_BUILD_TESTS=OFF -DPORTSOCK_BUILD_EXAMPLES=OFF \
        -DPORTSOCK_BUILD_BENCH=OFF -DPORTSOCK_INSTALL=ON \
        -DCMAKE_INSTALL_PREFIX="$stage" "$@" || return 1
    cmake --build "$bdir" || return 1
    rm -rf "$stage"
    cmake --install "$bdir" || return 1
    [[ -f $stage/include/portsock.h ]] || { warn "portsock.h not installed"; return 1; }
}

consumer_cmake() { # VARIANT
    local v=$1 stage="$ROOT/build/stage/$1" cdir="$ROOT/build/consumer-$1/cmake"
    local args=(-DCMAKE_PREFIX_PATH="$stage")
    [[ $v == mingw-* ]] && args+=(-DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" -DCMAKE_FIND_ROOT_PATH="$stage")
    rm -rf "$cdir"
    cmake -S "$ROOT/tests/consumer" -B "$cdir" -G Ninja -DCMAKE_BUILD_TYPE=Release "${args[@]}" || return 1
    cmake --build "$cdir" || return 1
    local exe="$cdir/consumer"
    [[ $v == mingw-* ]] && exe+=.exe
    run_consumer "$exe" "$(consumer_libdir "$v")"
}

consumer_libdir() { # where a shared build's .so / .dll lives
    local stage="$ROOT/build/stage/$1"
    case $1 in
    mingw-*) echo "$stage/bin" ;;
    *) dirname "$(find "$stage" -name portsock.pc | head -n 1)" | xargs dirname ;;
    esac
}

consumer_pkgconfig() { # VARIANT [--static]
    local v=$1 static=${2:-} stage="$ROOT/build/stage/$1"
    local cdir="$ROOT/build/consumer-$1/pkg-config" pc flags cc exe
    pc=$(find "$stage" -name portsock.pc | head -n 1)
    [[ -n $pc ]] || { warn "no portsock.pc under $stage"; return 1; }
    mkdir -p "$cdir"
    if [[ $v == mingw-* ]]; then
        # only the staged .pc files: never the host's
        flags=$(PKG_CONFIG_LIBDIR="$(dirname "$pc")" PKG_CONFIG_PATH="" \
            pkg-config --cflags --libs $static portsock) || return 1
        cc=$MINGW-gcc
        exe="$cdir/consumer${static:+-static}.exe"
    else
        flags=$(PKG_CONFIG_PATH="$(dirname "$pc")" pkg-config --cflags --libs $static portsock) || return 1
        cc=gcc
        exe="$cdir/consumer${static:+-static}"
    fi
    echo "pkg-config --cflags --libs $static portsock: $flags"
    # shellcheck disable=SC2086 # flags are words
    $cc -std=c11 -Wall -Wextra -Werror -o "$exe" "$ROOT/tests/consumer/main.c" $flags || return 1
    run_consumer "$exe" "$(consumer_libdir "$v")"
}

exports_only_ps() { # VARIANT: a shared build exports public ps_ names only
    local v=$1 stage="$ROOT/build/stage/$1" lib names bad
    if [[ $v == mingw-* ]]; then
        lib=$(find "$stage/bin" -maxdepth 1 -iname '*portsock*.dll' | head -n 1)
        [[ -n $lib ]] || { warn "no DLL in $stage/bin"; return 1; }
        names=$($MINGW-objdump -p "$lib" | awk '
            /\[Ordinal\/Name Pointer\] Table/ { f = 1; next }
            f && /^[ \t]*\[/ { print $NF; next }
            f && /^[ \t]*$/ { f = 0 }')
    else
        lib=$(find "$stage" -name 'libportsock.so*' -type f | head -n 1)
        [[ -n $lib ]] || { warn "no libportsock.so under $stage"; return 1; }
        names=$(nm -D --defined-only "$lib" | awk 'NF >= 3 { print $3 }' |
            grep -Ev '^(_init|_fini|_edata|_end|__bss_start)$' || true)
    fi
    echo "$(wc -w <<<"$names") exported names in $lib"
    grep -qx 'ps_conn_pair' <<<"$names" || { warn "ps_conn_pair is not exported from $lib"; return 1; }
    bad=$(grep -Ev '^ps_[A-Za-z0-9]' <<<"$names" || true)
    if [[ -n $bad ]]; then
        warn "$lib exports names that are not public ps_ API:"
        printf '  %s\n' $bad >&2
        return 1
    fi
}

subproject_check() {
    local sdir="$ROOT/build/subproject" tests
    cmake -S "$ROOT/tests/subproject" -B "$sdir" -G Ninja -DCMAKE_BUILD_TYPE=Debug || return 1
    cmake --build "$sdir" || return 1
    tests=$(find "$sdir" -type f -name 'test_*' -perm -u+x)
    if [[ -n $tests ]]; then
        warn "portsock built its tests inside a parent project:"
        printf '  %s\n' $tests >&2
        return 1
    fi
    if grep -qs 'add_test' "$sdir/portsock/CTestTestfile.cmake"; then
        warn "portsock registered its tests inside a parent project"
        return 1
    fi
    if grep -qs 'portsockTargets' "$sdir/portsock/cmake_install.cmake"; then
        warn "portsock added its install/export rules inside a parent project"
        return 1
    fi
    run_consumer "$sdir/subproject_consumer"
}

t0=$SECONDS
for v in native-static native-shared mingw-static mingw-shared; do
    args=()
    case $v in
    native-*) args+=(-DCMAKE_C_COMPILER=gcc) ;;
    mingw-*) args+=(-DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN") ;;
    esac
    case $v in
    *-static) args+=(-DBUILD_SHARED_LIBS=OFF) ;;
    *-shared) args+=(-DBUILD_SHARED_LIBS=ON) ;;
    esac
    INSTALL_CHECKS=$((INSTALL_CHECKS + 1))
    say "install: $v: build and install into build/stage/$v"
    if ! build_and_install "$v" "${args[@]}"; then
        echo "FAILED: $v install"
        INSTALL_FAILS+=("$v install")
        continue
    fi
    check "$v find_package consumer" consumer_cmake "$v"
    check "$v pkg-config consumer" consumer_pkgconfig "$v"
    if [[ $v == *-static ]]; then
        check "$v pkg-config --static consumer" consumer_pkgconfig "$v" --static
    else
        check "$v exports only ps_ names" exports_only_ps "$v"
    fi
done
check "subproject (add_subdirectory)" subproject_check
if ((${#INSTALL_FAILS[@]})); then
    RESULT[install]=FAIL
    DETAIL[install]="${#INSTALL_FAILS[@]} of $INSTALL_CHECKS checks failed: $(printf '%s; ' "${INSTALL_FAILS[@]}")"
    DETAIL[install]=${DETAIL[install]%; }
else
    RESULT[install]=PASS
fi
DETAIL[install]="${DETAIL[install]:-$INSTALL_CHECKS checks}, $((SECONDS - t0)) s"
TOTAL_PASSED=$((TOTAL_PASSED + INSTALL_CHECKS - ${#INSTALL_FAILS[@]}))
TOTAL_FAILED=$((TOTAL_FAILED + ${#INSTALL_FAILS[@]}))

# ---------------------------------------------------------------------------
# 6. Summary
# ---------------------------------------------------------------------------
say "summary ($((SECONDS - START)) s)"
rc=0
for p in linux linux-asan windows install; do
    printf '%-11s %s (%s)\n' "$p:" "${RESULT[$p]}" "${DETAIL[$p]}"
    [[ ${RESULT[$p]} == PASS ]] || rc=1
done
echo "run-tests: $TOTAL_PASSED passed, $TOTAL_FAILED failed"
exit "$rc"
