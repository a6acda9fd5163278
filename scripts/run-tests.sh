#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The whole test suite: warning-free build, unit + integration tests, then the
# same suite under AddressSanitizer/UBSan. Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "run-tests.sh: run as root (LXC, namespaces)" >&2; exit 2; }
scripts/install-deps.sh --test || exit 1

passed=0
failed=0
count() {   # reads meson's testlog of build dir $1
  local log="$1/meson-logs/testlog.json"
  [ -f "$log" ] || return 0
  local p f
  p=$(grep -c '"result": "OK"' "$log" || true)
  f=$(grep -c -E '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log" || true)
  passed=$((passed + p))
  failed=$((failed + f))
}

run_variant() {   # build dir, meson options...
  local dir="$1"; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" -Dwerror=true "$@" >/dev/null || { failed=$((failed + 1)); echo "setup of $dir failed"; return; }
  fi
  if ! ninja -C "$dir" >"$dir.ninja.log" 2>&1; then
    cat "$dir.ninja.log"; failed=$((failed + 1)); echo "build of $dir failed"; return
  fi
  rm -f "$dir/meson-logs/testlog.json"
  env ${TEST_ENV:-} meson test -C "$dir" --print-errorlogs --num-processes 2 || true
  count "$dir"
}

run_variant build-ci
# Sanitizers: the daemon, the CLI, the library and every unit test run under
# ASan + UBSan (tests/meson.build preloads the runtime for the PyGObject tests).
TEST_ENV="ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1" \
  run_variant build-asan -Db_sanitize=address,undefined -Db_lundef=false

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
