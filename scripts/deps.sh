#!/usr/bin/env bash
# Installs the Debian packages rumor needs to build and test, when they are
# missing. As root it installs them; otherwise it prints the exact command.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config           # compiler and build
  libsodium-dev libuv1-dev libzmq3-dev liblmdb-dev  # rumor's libraries
  libedit-dev                                # chat's line editing (BSD licence)
  tmux                                       # the chat test types into a terminal
  python3                                    # CLI tests
  python3-zmq iproute2                       # mesh tests: a CURVE client, network namespaces
  clang libclang-rt-14-dev                   # libFuzzer targets and clang sanitizers
  lmdb-utils                                 # mdb_stat/mdb_dump, to inspect a store by hand
  clang-format                               # the format check
  dpkg-dev groff-base                        # the .deb's Depends (dpkg-shlibdeps), man page check
)

missing=()
for p in "${PACKAGES[@]}"; do
  [[ "$p" == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "deps: missing packages; run:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
