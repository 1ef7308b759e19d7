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

if apt-cache policy postgresql-17-pgvector 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  apt_install "the database index (PostgreSQL with pgvector)" --no-install-recommends postgresql-17 postgresql-17-pgvector
else
  # Not in this machine's suites (Debian 12's bookworm): from trixie, if this is Debian at all.
  if [[ ! -r /etc/debian_version ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: the database index needs PostgreSQL with pgvector 0.5 or newer (HNSW); install them (e.g. postgresql-17-pgvector) and rerun." >&2
    exit 1
  fi
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "setup: installing PostgreSQL 17 with pgvector needs root: rerun as root or install sudo." >&2; exit 1; }
    sudo_cmd=(sudo)
  fi
  mirror=""
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    [[ -r "$f" ]] || continue
    mirror=$(grep -E '^(URIs:|deb )' "$f" | grep -Eo 'https?://[^ ]+/debian/?' | head -n1 || true)
    [[ -n "$mirror" ]] && break
  done
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "setup: installing PostgreSQL 17 and pgvector from Debian 13 'trixie' at $mirror, because this machine's suites have no pgvector with HNSW (Debian 12's predates it)."
  temp_source=/etc/apt/sources.list.d/interbert-trixie-postgres.list
  cleanup() {
    "${sudo_cmd[@]}" rm -f "$temp_source"
    "${sudo_cmd[@]}" apt-get update -qq >/dev/null 2>&1 || true
  }
  trap cleanup EXIT
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" | "${sudo_cmd[@]}" tee "$temp_source" >/dev/null
  "${sudo_cmd[@]}" apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confold -t trixie postgresql-17 postgresql-17-pgvector >/dev/null
fi

if ! bin=$(find_postgres); then
  echo "setup: installed PostgreSQL and pgvector, but no initdb with pgvector 0.5 or newer is in /usr/lib/postgresql." >&2
  exit 1
fi
echo "setup: PostgreSQL with pgvector: $bin"
