#!/usr/bin/env bash
# Shared by the set-up scripts: apt-install PURPOSE PACKAGE... installs Debian packages as root (directly, or through
# sudo), saying in one line what for; fails with one line when apt-get or root is not available.
apt_install() {
  local purpose="$1"; shift
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: $purpose needs $*; install it with your package manager." >&2
    return 1
  fi
  local sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo); else
      echo "setup: installing $* (for $purpose) needs root: rerun as root or install sudo." >&2
      return 1
    fi
  fi
  echo "setup: installing Debian's $* for $purpose."
  "${sudo_cmd[@]}" apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "$@" >/dev/null
}

# apt_install_from_trixie PURPOSE PACKAGE... installs packages from Debian 13 'trixie' of this machine's own mirror,
# through a temporary apt source that is removed afterwards (and the package lists refreshed), as root or through sudo.
apt_install_from_trixie() {
  local purpose="$1"; shift
  local sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo); else
      echo "setup: installing Debian 13's $* (for $purpose) needs root: rerun as root or install sudo." >&2
      return 1
    fi
  fi
  local mirror="" f
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    [[ -r "$f" ]] || continue
    # Only live entries: deb822 "URIs:" lines or one-line "deb" lines, never comments.
    mirror=$(grep -E '^(URIs:|deb )' "$f" | grep -Eo 'https?://[^ ]+/debian/?' | head -n1 || true)
    [[ -n "$mirror" ]] && break
  done
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "setup: installing $* from Debian 13 'trixie' at $mirror, for $purpose."
  local temp_source=/etc/apt/sources.list.d/interbert-trixie.list status=0
  # Interrupted or not, the temporary source does not outlive the script.
  trap "${sudo_cmd[*]} rm -f $temp_source" EXIT
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" | "${sudo_cmd[@]}" tee "$temp_source" >/dev/null
  { "${sudo_cmd[@]}" apt-get update -qq >/dev/null &&
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confold -t trixie "$@" >/dev/null; } || status=$?
  "${sudo_cmd[@]}" rm -f "$temp_source"
  trap - EXIT
  "${sudo_cmd[@]}" apt-get update -qq >/dev/null 2>&1 || true
  return $status
}
