#!/bin/sh
# `make test` runs the browser tests, so it needs Debian's Chromium (never a downloaded browser).
# Without it the suite must not pass with those tests quietly skipped: as root with apt-get we
# install it, otherwise we stop with the exact command. `make test BROWSER=0` skips them on purpose.
#
#   sh tests/browser/require_chromium.sh [PATH]     # PATH defaults to /usr/bin/chromium
path=${1:-/usr/bin/chromium}
[ -x "$path" ] && exit 0
if [ "$path" = /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Chromium is missing: installing Debian's package (apt-get install -y chromium)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  [ -x "$path" ] && exit 0
fi
echo "Chromium not found at $path: run 'sudo apt-get install -y chromium', or 'make test BROWSER=0' to skip the browser tests" >&2
exit 1
