# shellcheck shell=bash
# Sourced by scripts/image-test.sh and scripts/rootfs-test.sh: the root check, the tools they
# install when missing, and the cached debootstrapped minbase bookworm both start from (made
# once, about a minute). The caller defines `die` and sets TEST (its name in output lines).
#
# Environment: ROOTFS_CACHE (default /var/cache/lassoboot-test), DEBIAN_MIRROR.
CACHE=${ROOTFS_CACHE:-/var/cache/lassoboot-test}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
MINBASE=$CACHE/bookworm-minbase

# require_root WHY: a SKIPPED line and exit 0 when not root.
require_root() {
    if [ "$(id -u)" != 0 ]; then
        echo "$TEST: SKIPPED: $1"
        exit 0
    fi
}

# ensure_tools TOOL...: installs each missing tool with apt-get.
ensure_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 && continue
        command -v apt-get >/dev/null 2>&1 || die "$tool is missing and there is no apt-get to install it"
        echo "$TEST-test: installing $tool ..." >&2
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool"; } >/dev/null 2>&1 || die "could not install $tool"
    done
}

# ensure_minbase: $MINBASE holds a debootstrapped minbase bookworm.
ensure_minbase() {
    [ -x "$MINBASE/bin/sh" ] && return 0
    ensure_tools debootstrap
    mkdir -p "$CACHE" || die "cannot create $CACHE"
    local tmp
    tmp=$(mktemp -d "$CACHE/.making.XXXXXX")
    echo "$TEST-test: debootstrap --variant=minbase bookworm from $MIRROR (about a minute) ..." >&2
    debootstrap --variant=minbase bookworm "$tmp/root" "$MIRROR" >"$CACHE/debootstrap-minbase.log" 2>&1 \
        || { rm -rf "$tmp"; die "debootstrap failed (is $MIRROR reachable?); see $CACHE/debootstrap-minbase.log"; }
    rm -rf "$tmp/root/var/cache/apt/archives/"*.deb
    mv "$tmp/root" "$MINBASE" && rmdir "$tmp"
}
