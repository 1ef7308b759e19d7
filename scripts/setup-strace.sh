#!/usr/bin/env bash
# Installs strace when it is missing: the durability tests read the system calls a command makes (that a rename is
# on disk before what it replaced is deleted). Nothing else needs it. Idempotent.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh"

if command -v strace >/dev/null 2>&1; then
  exit 0
fi
apt_install "the durability tests (system call traces)" --no-install-recommends strace
if ! command -v strace >/dev/null 2>&1; then
  echo "setup: installed strace but it is still not on PATH." >&2
  exit 1
fi
