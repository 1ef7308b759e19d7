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
