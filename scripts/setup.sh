#!/usr/bin/env bash
# Installs everything Batik CRM needs to build, test and benchmark on Debian bookworm.
# Safe to re-run: apt-get skips what is already installed.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git ca-certificates
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsoci-dev libsqlite3-dev libpq-dev sqlite3
  libssl-dev libfmt-dev doctest-dev libsodium-dev libcurl4-openssl-dev zlib1g-dev libxlsxwriter-dev
  libphonenumber8 libprotobuf-dev libabsl-dev libicu-dev
  postgresql-15 postgresql-client-15
  wrk python3 curl procps openssl iproute2
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# libphonenumber: the runtime library comes from its package above; its headers are taken from
# libphonenumber-dev, unpacked into the checkout (.cache/deps), because installing that
# package would pull in Boost 1.74 next to 1.81 (see BUILD-NOTES).
deps_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.cache/deps"
if [ ! -f "$deps_dir/usr/include/phonenumbers/phonenumberutil.h" ]; then
  echo "setup: unpacking the libphonenumber headers into $deps_dir"
  mkdir -p "$deps_dir"
  (
    cd "$deps_dir"
    rm -f libphonenumber-dev_*.deb
    if ! apt-get download libphonenumber-dev >/dev/null 2>&1; then
      $SUDO apt-get update -qq
      apt-get download libphonenumber-dev
    fi
    dpkg-deb -x libphonenumber-dev_*.deb .
    rm -f libphonenumber-dev_*.deb
  )
fi
# Node.js and npm lint the OpenAPI document (Redocly CLI from the npm registry). The machine
# image may bring its own Node.js; otherwise Debian's.
if ! command -v npm >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
# The Debian postgresql package may start a cluster of its own; tests use their own servers.
echo "setup: dependencies present"
