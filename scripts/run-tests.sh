#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The whole test suite: warning-free build, unit + integration tests, then the
# same suite under AddressSanitizer/UBSan, then the libFuzzer targets for a
# bounded time. Ends with "N passed, N failed". REDWAY_ONLY_FUZZ=1 runs only
# the fuzz stage; REDWAY_FUZZ_SECONDS sets the time per target (20).
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

# libFuzzer targets (tests/fuzz): built with clang, the core library
# instrumented for coverage, under ASan + UBSan. Each target first replays
# tests/fuzz/regressions/<target>/* once, then fuzzes for REDWAY_FUZZ_SECONDS
# (20) from a scratch copy of tests/fuzz/corpus/<target>/; each counts as one
# test. New crash inputs are kept in build-fuzz/fuzz-artifacts/<target>/.
FUZZ_TARGETS=(fuzz-reference fuzz-oci-json fuzz-registry-replies fuzz-state fuzz-options-config fuzz-layer fuzz-oci-archive)
# GLib 2.74 still has the slice allocator: plain malloc lets ASan see every object.
FUZZ_ENV=(G_SLICE=always-malloc UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)

fuzz_toolchain_ok() {
  local tmp rc
  command -v clang >/dev/null 2>&1 || return 1
  tmp=$(mktemp -d) || return 1
  printf 'int LLVMFuzzerTestOneInput (const char *d, unsigned long n);\nint LLVMFuzzerTestOneInput (const char *d, unsigned long n) { return 0; }\n' >"$tmp/t.c"
  clang -fsanitize=fuzzer "$tmp/t.c" -o "$tmp/t" >/dev/null 2>&1
  rc=$?
  rm -rf "$tmp"
  return $rc
}

run_fuzzer() {   # build dir, scratch dir, target
  local dir="$1" work="$2/$3" t="$3" bin="$1/tests/fuzz/$3" log="$1/fuzz-logs/$3.log"
  local secs="${REDWAY_FUZZ_SECONDS:-20}" start=$SECONDS result="" runs r regs=() bad=() crashes=() dict=()
  mkdir -p "$work/corpus" "$work/artifacts" "$dir/fuzz-logs"
  cp -R "tests/fuzz/corpus/$t/." "$work/corpus/"
  : >"$log"
  if [ -d "tests/fuzz/regressions/$t" ]; then
    mapfile -t regs < <(find "tests/fuzz/regressions/$t" -type f ! -name '*.md' | sort)
  fi
  for r in "${regs[@]}"; do
    echo "### regression $r" >>"$log"
    # One process per input, so each is checked; a slow unwinder for readable leak reports.
    env TMPDIR="$work" "${FUZZ_ENV[@]}" ASAN_OPTIONS=fast_unwind_on_malloc=0 \
      "$bin" -timeout=10 -rss_limit_mb=2048 "$r" >>"$log" 2>&1 || bad+=("${r##*/}")
  done
  [ ${#bad[@]} -gt 0 ] && result="regression inputs fail: ${bad[*]}"
  [ -f "tests/fuzz/dict/$t.dict" ] && dict=(-dict="tests/fuzz/dict/$t.dict")
  echo "### fuzzing for ${secs}s" >>"$log"
  if ! env TMPDIR="$work" "${FUZZ_ENV[@]}" "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
         -print_final_stats=1 -artifact_prefix="$work/artifacts/" "${dict[@]}" "$work/corpus" >>"$log" 2>&1; then
    result="${result:+$result; }fuzzing found a failing input"
  fi
  mapfile -t crashes < <(find "$work/artifacts" -type f | sort)
  if [ ${#crashes[@]} -gt 0 ]; then
    mkdir -p "$dir/fuzz-artifacts/$t"
    cp "${crashes[@]}" "$dir/fuzz-artifacts/$t/"
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  if [ -z "$result" ]; then
    passed=$((passed + 1))
    echo "fuzz $t: OK (${runs:-?} runs, $((SECONDS - start))s)"
  else
    failed=$((failed + 1))
    echo "fuzz $t: FAIL ($result; log $log${crashes:+; inputs in $dir/fuzz-artifacts/$t/})"
    grep -m 3 -E '^(==[0-9]+==ERROR|SUMMARY|.*invariant failed|.*runtime error)' "$log" | sed 's/^/    /'
  fi
}

run_fuzz() {
  local dir=build-fuzz work
  if ! fuzz_toolchain_ok; then
    failed=$((failed + 1)); echo "fuzz: clang cannot link -fsanitize=fuzzer (install-deps.sh --test installs it)"; return
  fi
  if [ ! -f "$dir/build.ninja" ]; then
    # No -Dwerror: clang warns about service/ code gcc accepts (unused g_autoptr lockers).
    CC=clang meson setup "$dir" -Dfuzzing=true -Dintrospection=disabled \
      -Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link >/dev/null ||
      { failed=$((failed + 1)); echo "setup of $dir failed"; return; }
  fi
  if ! ninja -C "$dir" fuzzers >"$dir.ninja.log" 2>&1; then
    cat "$dir.ninja.log"; failed=$((failed + 1)); echo "build of $dir failed"; return
  fi
  rm -rf "$dir/fuzz-logs" "$dir/fuzz-artifacts"
  work=$(mktemp -d /tmp/redway-fuzz-XXXXXX) || { failed=$((failed + 1)); return; }
  for t in "${FUZZ_TARGETS[@]}"; do
    run_fuzzer "$dir" "$work" "$t"
  done
  rm -rf "$work"
}

if [ -z "${REDWAY_ONLY_FUZZ:-}" ]; then
  run_variant build-ci
  # Sanitizers: the daemon, the CLI, the library and every unit test run under
  # ASan + UBSan (tests/meson.build preloads the runtime for the PyGObject tests).
  TEST_ENV="ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1" \
    run_variant build-asan -Db_sanitize=address,undefined -Db_lundef=false
fi
run_fuzz

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
