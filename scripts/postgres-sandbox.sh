#!/usr/bin/env bash
# A throwaway PostgreSQL cluster with pgvector for trying the database index and reproducing its benchmarks:
#   scripts/postgres-sandbox.sh start DIR [PORT]   creates (once) and starts a cluster in DIR on 127.0.0.1:PORT (default 55432)
#                                                  and prints its postgres:// URL
#   scripts/postgres-sandbox.sh stop DIR           stops it (delete DIR to remove it)
# As root the server runs as the postgres user, as PostgreSQL requires. Installs PostgreSQL first if needed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
action="${1:-}"; dir="${2:-}"; port="${3:-55432}"
if [[ -z "$action" || -z "$dir" ]]; then echo "usage: $0 start|stop DIR [PORT]" >&2; exit 2; fi
bin=$("$root/scripts/setup-postgres.sh" | sed -n 's/^setup: PostgreSQL with pgvector: //p' | tail -n1)
as_owner=()
if [[ $(id -u) -eq 0 ]]; then as_owner=(runuser -u postgres --); fi
dir="$(mkdir -p "$dir" && cd "$dir" && pwd)"
[[ $(id -u) -eq 0 ]] && chown postgres "$dir"
case "$action" in
  start)
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
      printf 'interbert\n' > "$dir/password"
      [[ $(id -u) -eq 0 ]] && chown postgres "$dir/password"
      "${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U interbert --pwfile "$dir/password" --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-instructions >/dev/null
    fi
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c max_connections=100" start >/dev/null
    echo "postgres://interbert:interbert@127.0.0.1:$port/postgres"
    ;;
  stop)
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    echo "stopped the cluster in $dir"
    ;;
  *) echo "usage: $0 start|stop DIR [PORT]" >&2; exit 2 ;;
esac
