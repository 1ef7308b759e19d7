#!/usr/bin/env bash
# Installs Debian's Chromium for the browser test of the search page (Playwright drives it with its executable path
# set; it never downloads a browser of its own). Idempotent: nothing happens when /usr/bin/chromium exists.
set -euo pipefail

if [[ -x /usr/bin/chromium || -n "${INTERBERT_CHROMIUM:-}" ]]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: the browser test needs Chromium; install it with your package manager, or set INTERBERT_CHROMIUM to its path." >&2
  exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo); else
    echo "setup: installing Chromium (for the browser test) needs root: rerun as root or install sudo." >&2
    exit 1
  fi
else
  sudo_cmd=()
fi
echo "setup: installing Debian's chromium for the browser test of the search page."
"${sudo_cmd[@]}" apt-get update -qq >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq chromium >/dev/null
if [[ ! -x /usr/bin/chromium ]]; then
  echo "setup: installed chromium but /usr/bin/chromium is missing." >&2
  exit 1
fi
