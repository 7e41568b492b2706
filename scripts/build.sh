#!/usr/bin/env bash
# Configures and builds rumor into build/ (warnings are errors).
set -euo pipefail
cd "$(dirname "$0")/.."
"./scripts/deps.sh"
cmake -S . -B build -DRUMOR_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)"
