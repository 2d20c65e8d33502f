#!/usr/bin/env bash
# Install the Debian packages the test suite needs, only those that are missing. Root is needed to install;
# without it, say what is missing and let the tests skip (or fail on CI) with their own reasons.
set -euo pipefail
declare -A want=(
  [ffmpeg]=ffmpeg
  [dot]=graphviz
  [pdftotext]=poppler-utils
  [chromium]=chromium
  [ip]=iproute2
  [nginx]=nginx-light
  [turnserver]=coturn
  [redis-server]=redis-server
  [runuser]=util-linux
  [espeak-ng]=espeak-ng
  [tc]=iproute2
)
missing=()
for cmd in "${!want[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${want[$cmd]}")
done
# Libraries and fonts without a command to look for.
for pkg in fonts-noto-core fonts-dejavu-core libpango-1.0-0 libpangoft2-1.0-0; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
# make stack: its own PostgreSQL instance from Debian's binaries (initdb, postgres)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: missing Debian packages: ${missing[*]} (install them with apt-get as root)" >&2
  exit 0
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
