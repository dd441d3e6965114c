#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs what the tests need,
# builds with warnings as errors, runs every unit and integration test with ctest,
# then runs the unit tests again built with AddressSanitizer and UBSan.
# BATON_SKIP_SANITIZERS=1 skips that second pass (for a quicker local run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
scripts/build.sh -DBATON_WERROR=ON -DBATON_BUILD_TESTS=ON
# The .deb that integration.test_package and integration.test_systemd_units
# install (its output only on failure).
package_log=$(cmake --build build --target package 2>&1) || { echo "$package_log" >&2; exit 1; }
(cd build && ctest --output-on-failure -j 2 --timeout 900)

if [[ "${BATON_SKIP_SANITIZERS:-0}" != 1 ]]; then
  cmake -S . -B build-sanitize -G Ninja -DBATON_WERROR=ON -DBATON_SANITIZE=ON \
    -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build build-sanitize -j "${BATON_BUILD_JOBS:-2}" --target unit_tests
  (cd build-sanitize && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --output-on-failure -j 2 --timeout 900 -L unit)
fi
