#!/usr/bin/env bash
# Installs the Debian packages Baton needs to build (and, with --test, to run its
# test suite). Uses sudo only when not already root.
set -euo pipefail

build_packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates tzdata
  libboost-dev libspdlog-dev libfmt-dev libtomlplusplus-dev libsqlite3-dev sqlite3
  libcli11-dev libhowardhinnant-date-dev nlohmann-json3-dev
)
test_packages=(
  libgtest-dev libgmock-dev python3 procps
)

packages=("${build_packages[@]}")
if [[ "${1:-}" == "--test" ]]; then
  packages+=("${test_packages[@]}")
fi

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if ((${#missing[@]})); then
  echo "Installing: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
