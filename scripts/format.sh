#!/usr/bin/env bash
# Formats the C sources with the checked-in .clang-format, or with --check
# fails when any file differs from it.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')
if ! command -v clang-format >/dev/null 2>&1; then
  echo "format: clang-format not installed; skipped" >&2
  exit 0
fi
if [[ "${1:-}" == "--check" ]]; then
  clang-format --dry-run -Werror "${files[@]}"
else
  clang-format -i "${files[@]}"
fi
