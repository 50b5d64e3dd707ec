#!/usr/bin/env bash
# Installs the real protocol peers the tests talk to (IRC servers, SMTP tools, ...).
# Each scripts/peers/*.sh declares what it needs; this runs them all. It is idempotent and
# quick when everything is present. Peers that come from PyPI are in the dev extra instead.
set -euo pipefail
cd "$(dirname "$0")/.."
APT_UPDATED=""
apt_install() {
  # apt_install PKG... : install the Debian packages that are missing (needs root).
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "install-peers: cannot install ${missing[*]} (needs root and apt-get); tests needing them fail in CI" >&2
    return 0
  fi
  if [ -z "$APT_UPDATED" ]; then
    apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  echo "install-peers: apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
for script in scripts/peers/*.sh; do
  [ -e "$script" ] || continue
  # shellcheck source=/dev/null
  source "$script"
done
