#!/usr/bin/env bash
# Installs MPICH (mpiexec and libmpi.so.12, the ABI InterBERT's MPI binding targets) when it is missing.
# Needed for multi-process pretraining and its tests; a single process never needs it. Idempotent.
set -euo pipefail

has_mpich() {
  command -v mpiexec >/dev/null 2>&1 && /sbin/ldconfig -p 2>/dev/null | grep -Eq 'libmpi(ch)?\.so\.12 '
}

if has_mpich; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: multi-process pretraining needs MPICH (mpiexec and libmpi.so.12); install it with your package manager." >&2
  exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo); else
    echo "setup: installing MPICH (for multi-process pretraining) needs root: rerun as root or install sudo." >&2
    exit 1
  fi
else
  sudo_cmd=()
fi
echo "setup: installing MPICH (mpiexec, libmpi.so.12) for multi-process pretraining."
"${sudo_cmd[@]}" apt-get update -qq >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends mpich >/dev/null
if ! has_mpich; then
  echo "setup: installed mpich but mpiexec or libmpi.so.12 is still missing." >&2
  exit 1
fi
