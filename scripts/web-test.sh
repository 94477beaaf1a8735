#!/usr/bin/env bash
# Issue 5's web checks against a live coordinator: headless Chromium on the dashboard
# (screenshots), /metrics parsed as Prometheus text, schemathesis fuzzing the OpenAPI document.
# Installs chromium, chromium-driver and a Python venv (selenium, schemathesis,
# prometheus-client) when missing. Usage: bash scripts/web-test.sh [ARTIFACTS_DIR]
# (default .build-web/artifacts). Expects the debug build (scripts/test.sh builds it).
set -uo pipefail
cd "$(dirname "$0")/.."
ARTIFACTS=${1:-.build-web/artifacts}
BIN=.build/debug/lassoboot
[ -x "$BIN" ] || { swift build --product lassoboot 2>&1 | grep -v '^\[' ; }
[ -x "$BIN" ] || { echo "web-test: no $BIN (build failed)" >&2; exit 1; }
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "web-test: installing chromium and chromium-driver"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null \
            || { echo "web-test: apt-get install chromium chromium-driver failed" >&2; exit 1; }
    else
        echo "web-test: needs chromium and chromium-driver (apt-get install chromium chromium-driver, as root)" >&2; exit 1
    fi
fi
VENV=.build-web/venv
if ! "$VENV/bin/python" -c 'import selenium, schemathesis, prometheus_client' 2>/dev/null; then
    echo "web-test: creating $VENV (selenium, schemathesis, prometheus-client)"
    python3 -m venv "$VENV" && "$VENV/bin/pip" install -q --disable-pip-version-check \
        'selenium>=4.20' 'schemathesis>=4.0' 'prometheus-client>=0.20' \
        || { echo "web-test: pip install failed" >&2; exit 1; }
fi
exec "$VENV/bin/python" scripts/web/web_test.py "$BIN" "$ARTIFACTS"
