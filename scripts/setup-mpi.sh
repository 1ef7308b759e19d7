#!/usr/bin/env bash
# Installs MPICH (mpiexec and libmpi.so.12, the ABI InterBERT's MPI binding targets) when it is missing.
# Needed for multi-process pretraining and its tests; a single process never needs it. Idempotent.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh"

has_mpich() {
  command -v mpiexec >/dev/null 2>&1 && /sbin/ldconfig -p 2>/dev/null | grep -E 'libmpi(ch)?\.so\.12 ' >/dev/null
}

if has_mpich; then
  exit 0
fi
apt_install "multi-process pretraining (mpiexec, libmpi.so.12)" --no-install-recommends mpich
if ! has_mpich; then
  echo "setup: installed mpich but mpiexec or libmpi.so.12 is still missing." >&2
  exit 1
fi
