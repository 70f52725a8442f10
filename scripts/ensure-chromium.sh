#!/usr/bin/env bash
# The browser test (tests/docs-browser.test.ts) drives Debian's Chromium; no browser is ever
# downloaded by npm. Installs it where it is missing and apt can (CI runs as root).
set -euo pipefail
browser=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ -x "$browser" ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium for the browser test (apt-get install -y chromium)…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "The browser test needs Chromium at $browser: install it (sudo apt-get install chromium)," >&2
echo "or point CHROMIUM_PATH at a Chromium binary." >&2
exit 1
