# shellcheck shell=bash
# Machine set-up shared by scripts/run-tests.sh and scripts/demo.sh, so that
# each works on a fresh Debian 12: the Debian packages, the cmocka sources
# that the Windows build of the tests compiles (.deps/cmocka), and the Wine
# prefix. Sourced, not run. Nothing is downloaded twice: a second run only
# checks.
#
# The sourcing script sets ROOT (the top of the checkout) and defines
#   say MESSAGE    print a section heading
#   warn MESSAGE   print a message on stderr, prefixed with the script's name
#
# Functions (each returns non-zero on failure; the caller decides to stop):
#   setup_packages PKG...  as root, apt-get install those not installed;
#                          otherwise name them, say how to install them and
#                          return 1
#   setup_cmocka           fetch the cmocka sources into .deps/cmocka unless
#                          they are there (apt-get source cmocka; as root,
#                          adds a deb-src entry first if there is none)
#   setup_wine_prefix      create the Wine prefix ($WINEPREFIX or ~/.wine)
#                          unless it exists; only warns if that fails

export DEBIAN_FRONTEND=noninteractive

is_root() { [[ $(id -u) -eq 0 ]]; }

setup_packages() {
    local pkg status missing=()
    for pkg in "$@"; do
        status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
        [[ $status == "install ok installed" ]] || missing+=("$pkg")
    done
    ((${#missing[@]})) || return 0
    if ! is_root; then
        warn "missing packages: ${missing[*]}"
        warn "install them as root: apt-get install ${missing[*]}"
        return 1
    fi
    say "installing: ${missing[*]}"
    apt-get update || return
    apt-get install -y "${missing[@]}"
}

have_deb_src() {
    grep -Eqs '^[[:space:]]*deb-src[[:space:]]' /etc/apt/sources.list \
        /etc/apt/sources.list.d/*.list && return 0
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        # a stanza with deb-src in its Types and not disabled
        awk 'BEGIN { RS = ""; found = 0 }
             /(^|\n)Types:[^\n]*deb-src/ && !/(^|\n)Enabled:[[:space:]]*no/ { found = 1 }
             END { exit !found }' "$f" && return 0
    done
    return 1
}

# Mirror the distribution's own "deb" entries as "deb-src" entries.
add_deb_src() {
    local codename="" out=/etc/apt/sources.list.d/portsock-deb-src.sources
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    local files=()
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
        files=(/etc/apt/sources.list.d/debian.sources)
    else
        local f
        for f in /etc/apt/sources.list.d/*.sources; do
            [[ -f $f && $f != "$out" ]] && files+=("$f")
        done
    fi
    if ((${#files[@]})); then
        # deb822: copy URIs/Suites/Components/Signed-By (continuation lines
        # included) of each enabled stanza whose Types has "deb" and whose
        # Suites name this release.
        awk -v codename="$codename" '
            BEGIN { RS = ""; FS = "\n" }
            {
                types = ""; suites = ""; keep = ""; cur = 0; enabled = 1
                for (i = 1; i <= NF; i++) {
                    line = $i
                    if (line ~ /^#/) continue
                    if (line ~ /^[ \t]/) { if (cur) keep = keep line "\n"; continue }
                    cur = 0
                    if (line ~ /^Types:/) { types = line; continue }
                    if (line ~ /^Enabled:[ \t]*[Nn]o/) enabled = 0
                    if (line ~ /^Suites:/) suites = line
                    if (line ~ /^(URIs|Suites|Components|Signed-By):/) {
                        keep = keep line "\n"; cur = 1
                    }
                }
                if (enabled && types ~ /[ \t]deb([ \t]|$)/ && keep != "" &&
                    (codename == "" || suites ~ codename))
                    printf "Types: deb-src\n%s\n", keep
            }' "${files[@]}" >"$out.tmp"
        if [[ -s $out.tmp ]]; then
            mv "$out.tmp" "$out"
            say "added $out"
            return 0
        fi
        rm -f "$out.tmp"
    fi
    # One-line format (/etc/apt/sources.list).
    if [[ -f /etc/apt/sources.list ]] &&
        grep -Eq "^[[:space:]]*deb[[:space:]].*${codename}" /etc/apt/sources.list; then
        grep -E "^[[:space:]]*deb[[:space:]].*${codename}" /etc/apt/sources.list |
            sed -E 's/^[[:space:]]*deb[[:space:]]/deb-src /' \
                >/etc/apt/sources.list.d/portsock-deb-src.list
        say "added /etc/apt/sources.list.d/portsock-deb-src.list"
        return 0
    fi
    warn "found no Debian 'deb' entry to mirror as 'deb-src'"
    return 1
}

fetch_cmocka() {
    local deps="$ROOT/.deps"
    if ! have_deb_src; then
        if ! is_root; then
            warn "no deb-src entry in the apt sources: as root, add one (or run"
            warn "this script as root once) so that 'apt-get source cmocka' works"
            return 1
        fi
        add_deb_src || return 1
        apt-get update || warn "apt-get update reported errors; trying anyway"
    fi
    mkdir -p "$deps"
    rm -rf "$deps"/cmocka "$deps"/cmocka-[0-9]* "$deps"/cmocka_*
    if ! (cd "$deps" && apt-get source cmocka); then
        is_root || return 1
        apt-get update || warn "apt-get update reported errors; trying anyway"
        (cd "$deps" && apt-get source cmocka) || return 1
    fi
    local src
    src=$(find "$deps" -maxdepth 1 -type d -name 'cmocka-[0-9]*' | sort -V | tail -n 1)
    [[ -n $src && -f $src/CMakeLists.txt ]] || { warn "apt-get source cmocka gave no source tree"; return 1; }
    ln -sfn "$(basename "$src")" "$deps/cmocka"
}

setup_cmocka() {
    [[ -f $ROOT/.deps/cmocka/CMakeLists.txt ]] && return 0
    say "fetching cmocka sources into .deps/cmocka"
    fetch_cmocka || { warn "could not fetch the cmocka sources"; return 1; }
}

setup_wine_prefix() {
    local prefix="${WINEPREFIX:-${HOME:-/root}/.wine}"
    [[ -f $prefix/system.reg ]] && return 0
    say "creating the Wine prefix $prefix"
    # no Mono/Gecko download prompts
    WINEDLLOVERRIDES="mscoree,mshtml=" wineboot -i || warn "wineboot -i failed"
    timeout 120 wineserver -w || true
}
