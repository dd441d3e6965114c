#!/usr/bin/env bash
# Configures and builds Baton into build/ (two parallel jobs: the size of the
# machines we build on). Extra arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja "$@" >/dev/null
cmake --build build -j "${BATON_BUILD_JOBS:-2}"
