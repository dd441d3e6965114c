#!/usr/bin/env bash
# Installs the Debian packages Baton needs to build (and, with --test, to run its
# test suite). Uses sudo only when not already root.
set -euo pipefail

build_packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates tzdata
  libboost-dev libspdlog-dev libfmt-dev libtomlplusplus-dev libsqlite3-dev sqlite3
  libcli11-dev libhowardhinnant-date-dev nlohmann-json3-dev
  default-libmysqlclient-dev libhiredis-dev libevent-dev libssh2-1-dev libcurl4-openssl-dev
  libsystemd-dev file dpkg-dev help2man
)
# The tests start real servers of their own on loopback.
test_packages=(
  libgtest-dev libgmock-dev python3 python3-redis procps mariadb-server redis-server util-linux
  openssh-server openssh-client python3-aiosmtpd
  systemd iproute2 lintian ansible ansible-lint
  dbus polkitd
)
# The benchmarks run peers beside Baton on the same work.
bench_packages=(
  python3-celery python3-redis ninja-build make
)

packages=("${build_packages[@]}")
case "${1:-}" in
  --test) packages+=("${test_packages[@]}") ;;
  --bench) packages+=("${test_packages[@]}" "${bench_packages[@]}") ;;
esac

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
