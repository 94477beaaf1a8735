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
# GRDB links the system SQLite; FoundationNetworking (the worker's URLSession) needs libcurl.
if command -v dpkg >/dev/null 2>&1; then
  dpkg -s libsqlite3-dev >/dev/null 2>&1 || need+=(libsqlite3-dev)
  dpkg -s libcurl4-openssl-dev >/dev/null 2>&1 || need+=(libcurl4-openssl-dev)
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
