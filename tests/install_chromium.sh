#!/bin/sh
# Installs Debian's headless-capable Chromium for tests/test_report_browser.py (the report in a
# real browser). Needs root (or sudo) and apt; does nothing when chromium is already there.
set -eu
if command -v chromium >/dev/null 2>&1; then
  echo "chromium is installed: $(chromium --version 2>/dev/null || true)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install_chromium.sh: need root or sudo to install chromium; the browser tests will be skipped" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_chromium.sh: no apt-get here; install Chromium yourself or set ASSAY_CHROMIUM" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q chromium chromium-driver
chromium --version
