#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs what the tests need,
# builds with warnings as errors, runs every unit and integration test with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
scripts/build.sh -DBATON_WERROR=ON -DBATON_BUILD_TESTS=ON
cd build
ctest --output-on-failure -j 2 --timeout 900
