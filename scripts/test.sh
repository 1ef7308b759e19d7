#!/usr/bin/env bash
# Sets up the machine (see scripts/setup.sh), runs every test, and ends with "N passed, N failed".
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
"$root/scripts/setup-mpi.sh"
"$root/scripts/setup-browser.sh"
"$root/scripts/setup-postgres.sh"
"$root/scripts/setup-strace.sh"
results="$root/artifacts/test-results"
rm -rf "$results"
status=0
dotnet test "$root/InterBert.sln" -c Release --nologo --logger "trx" --results-directory "$results" "$@" || status=$?
passed=0; failed=0
shopt -s nullglob
for trx in "$results"/*.trx; do
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters"); f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
done
if [[ $status -ne 0 && $failed -eq 0 ]]; then failed=1; echo "tests: the test run failed before reporting results" >&2; fi
echo "$passed passed, $failed failed"
exit $status
