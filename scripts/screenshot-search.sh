#!/usr/bin/env bash
# Serves a search index, asks the search page one query in headless Chromium, and saves what the page shows.
# Usage: scripts/screenshot-search.sh INDEX "QUERY" OUT.png [PORT [SERVE OPTIONS...]]
# (the Flickr8k report's plots/search.png: scripts/screenshot-search.sh flickr8k-output/en/index "a dog runs through the snow" flickr8k-output/en/plots/search.png)
set -euo pipefail
if [[ $# -lt 3 ]]; then
  echo "usage: scripts/screenshot-search.sh INDEX \"QUERY\" OUT.png [PORT [SERVE OPTIONS...]]" >&2
  exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
index=$1 query=$2 out=$3 port=${4:-8093}
"$root/scripts/setup-browser.sh"
# A Chinese query needs a CJK font, or the page shows empty boxes where its characters are.
if [[ -n "$(printf %s "$query" | LC_ALL=C tr -d '\000-\177')" ]] && command -v fc-list >/dev/null 2>&1 && [[ -z "$(fc-list :lang=zh 2>/dev/null)" ]]; then
  source "$root/scripts/apt-install.sh"
  apt_install "the Chinese characters of the query in the screenshot" fonts-wqy-microhei
fi
browser=$(command -v chromium || command -v chromium-browser || true)
[[ -n "$browser" ]] || { echo "screenshot-search: chromium not found" >&2; exit 1; }
log=$(mktemp)
"$root/interbert" serve --index "$index" --port "$port" "${@:5}" >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  if ! kill -0 $server 2>/dev/null; then cat "$log" >&2; exit 1; fi
  sleep 1
done
encoded=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote_plus(sys.argv[1]))' "$query")
mkdir -p "$(dirname "$out")"
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,900 --virtual-time-budget=20000 \
  --screenshot="$out.tmp.png" "http://127.0.0.1:$port/?q=$encoded" >/dev/null 2>&1
mv "$out.tmp.png" "$out"
echo "screenshot-search: wrote $out"
