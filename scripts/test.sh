#!/usr/bin/env bash
# Builds rumor and runs every test:
#   1. the ASan+UBSan build of the unit tests and fuzz seed replays, and the mesh
#      tests with sanitized nodes (any sanitizer report fails a node's clean exit),
#   2. each libFuzzer target for a bounded time (FUZZ_SECONDS, default 30),
#   3. the normal build's full CTest suite (unit, fuzz replays, CLI).
# It exits non-zero if anything fails. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
JOBS=$(nproc)

./scripts/deps.sh

echo "== format check"
./scripts/format.sh --check

echo "== sanitizer build (ASan + UBSan): unit tests"
cmake -S . -B build-asan -DRUMOR_WERROR=ON -DRUMOR_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$JOBS" >/dev/null
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$JOBS" -R 'unit|fuzz_replay'
echo "== sanitizer build: the mesh tests against ASan+UBSan nodes"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  python3 tests/mesh_test.py build-asan/rumor

if command -v clang >/dev/null 2>&1; then
  echo "== fuzzing: ${FUZZ_SECONDS}s per target"
  CC=clang cmake -S . -B build-fuzz -DRUMOR_WERROR=ON -DRUMOR_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build-fuzz -j"$JOBS" >/dev/null
  for target in build-fuzz/tests/fuzz/fuzz_*; do
    [[ -x "$target" ]] || continue
    name=$(basename "$target")
    work=$(mktemp -d)
    cp -r "tests/fuzz/corpus/${name#fuzz_}/." "$work/" 2>/dev/null || true
    echo "-- $name"
    "$target" -max_total_time="$FUZZ_SECONDS" -max_len=70000 -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$work/" "$work" 2>&1 | grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|==.*ERROR|SUMMARY)" || true
    if ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* >/dev/null 2>&1; then
      echo "fuzz: $name found a failing input:" >&2
      ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* 2>/dev/null >&2
      exit 1
    fi
    rm -rf "$work"
  done
else
  echo "== fuzzing skipped: clang is not installed"
fi

echo "== build and full test suite"
cmake -S . -B build -DRUMOR_WERROR=ON >/dev/null
cmake --build build -j"$JOBS" >/dev/null
ctest --test-dir build --output-on-failure -j"$JOBS"
