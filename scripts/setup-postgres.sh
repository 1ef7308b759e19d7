#!/usr/bin/env bash
# Installs PostgreSQL with pgvector 0.5 or newer (HNSW indexes) for the database index backend and its tests, when
# missing. Debian 13 has it (postgresql-17-pgvector); Debian 12's pgvector predates HNSW, so there it comes from the
# 'trixie' suite of the same mirror, as scripts/setup.sh takes libstdc++. Idempotent. Prints where the binaries are.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh"

# A PostgreSQL whose extension folder holds pgvector >= 0.5: its bin folder, else nothing.
find_postgres() {
  local bin major control version
  for bin in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    major=$(basename "$(dirname "$bin")")
    control="/usr/share/postgresql/$major/extension/vector.control"
    [[ -x "$bin/initdb" && -x "$bin/pg_ctl" && -r "$control" ]] || continue
    version=$(sed -n "s/^default_version *= *'\([0-9.]*\)'.*/\1/p" "$control")
    if [[ -n "$version" && "$(printf '%s\n0.5.0\n' "$version" | sort -V | head -n1)" == "0.5.0" ]]; then
      echo "$bin"
      return 0
    fi
  done
  return 1
}

if bin=$(find_postgres); then
  echo "setup: PostgreSQL with pgvector: $bin"
  exit 0
fi

if apt-cache policy postgresql-17-pgvector 2>/dev/null | grep 'Candidate: [0-9]' >/dev/null; then
  apt_install "the database index (PostgreSQL with pgvector)" --no-install-recommends postgresql-17 postgresql-17-pgvector
else
  # Not in this machine's suites (Debian 12's bookworm): from trixie, if this is Debian at all.
  if [[ ! -r /etc/debian_version ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: the database index needs PostgreSQL with pgvector 0.5 or newer (HNSW); install them (e.g. postgresql-17-pgvector) and rerun." >&2
    exit 1
  fi
  apt_install_from_trixie "the database index (this machine's suites have no pgvector with HNSW; Debian 12's predates it)" postgresql-17 postgresql-17-pgvector
fi

if ! bin=$(find_postgres); then
  echo "setup: installed PostgreSQL and pgvector, but no initdb with pgvector 0.5 or newer is in /usr/lib/postgresql." >&2
  exit 1
fi
echo "setup: PostgreSQL with pgvector: $bin"
