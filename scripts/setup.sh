#!/usr/bin/env bash
# Makes this machine able to run InterBERT for .NET. Idempotent: does nothing when all is in place.
# TorchSharp 0.107 ships libtorch 2.10, whose native library needs libstdc++ with GLIBCXX_3.4.32
# (GCC 13 or newer). Debian 12 ships GCC 12's libstdc++; Debian 13's installs on it cleanly.
set -euo pipefail

required_symbol="GLIBCXX_3.4.32"

libstdcxx_path() {
  local path
  path=$(/sbin/ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}')
  if [[ -z "$path" ]]; then
    path=$(/sbin/ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6/ {print $NF; exit}')
  fi
  echo "$path"
}

has_symbol() {
  local path
  path=$(libstdcxx_path)
  [[ -n "$path" && -r "$path" ]] && grep -qa "$required_symbol" "$path"
}

if ! command -v dotnet >/dev/null 2>&1; then
  echo "setup: the .NET 10 SDK is required (dotnet not found on PATH); install it from https://dot.net and rerun." >&2
  exit 1
fi

if has_symbol; then
  exit 0
fi

os_id=""; os_version=""
if [[ -r /etc/os-release ]]; then
  # shellcheck disable=SC1091
  os_id=$(. /etc/os-release && echo "${ID:-}")
  os_version=$(. /etc/os-release && echo "${VERSION_ID:-}")
fi

if [[ "$os_id" != "debian" || "$os_version" != "12" ]]; then
  echo "setup: TorchSharp needs libstdc++ with $required_symbol (GCC 13 or newer); this system's libstdc++ ($(libstdcxx_path)) lacks it: install a newer libstdc++6 or use a newer distribution." >&2
  exit 1
fi

# The trixie suite comes from the same mirror as this machine's bookworm packages.
source "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh"
apt_install_from_trixie "TorchSharp's libtorch, which needs $required_symbol (Debian 12 ships GCC 12's libstdc++; libc6 comes along)" libstdc++6

if ! has_symbol; then
  echo "setup: installed Debian 13's libstdc++6 but $required_symbol is still missing from $(libstdcxx_path)." >&2
  exit 1
fi
echo "setup: libstdc++ now provides $required_symbol."
