#!/usr/bin/env bash
# Installs Debian's Chromium for the browser test of the search page (Playwright drives it with its executable path
# set; it never downloads a browser of its own). Idempotent: nothing happens when /usr/bin/chromium exists.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh"

if [[ -x /usr/bin/chromium || -n "${INTERBERT_CHROMIUM:-}" ]]; then
  exit 0
fi
apt_install "the browser test of the search page" chromium
if [[ ! -x /usr/bin/chromium ]]; then
  echo "setup: installed chromium but /usr/bin/chromium is missing." >&2
  exit 1
fi
