#!/usr/bin/env bash
# Checks for (and installs, on Debian, when missing) what building lassoboot needs.
set -euo pipefail
if ! command -v swift >/dev/null 2>&1; then
  if [ -x /opt/swift/usr/bin/swift ]; then
    export PATH="/opt/swift/usr/bin:$PATH"
  else
    echo "error: the Swift toolchain (swift 6) is not on PATH; install it from swift.org and retry" >&2
    exit 1
  fi
fi
need=()
# swift-testing and Foundation need a C toolchain and libc headers (present with the Swift image).
command -v gcc >/dev/null 2>&1 || need+=(gcc)
# GRDB links SQLite (the release binary its static library), CZlib zlib (the same).
# (dpkg-query's status, not `dpkg -s`: a removed package whose config is left counts as absent.)
installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }
if command -v dpkg-query >/dev/null 2>&1; then
  installed libsqlite3-dev || need+=(libsqlite3-dev)
  # zlib's header and static library: `.csv.gz` data is read directly.
  installed zlib1g-dev || need+=(zlib1g-dev)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${need[*]} ..." >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "error: missing ${need[*]}; install them (apt-get install ${need[*]}) and retry" >&2
    exit 1
  fi
fi
