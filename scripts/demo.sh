#!/usr/bin/env bash
# The main job: installs what is missing, builds rumor, and runs a scripted
# session on one node in a temporary home: an identity sealed under a
# passphrase, a room tree, messages, the tree and the log.
# (The gossip mesh will turn this into a multi-node demo on loopback; this
# single-node session sends no network traffic at all.)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh >/dev/null

RUMOR="$PWD/build/rumor"
DEMO_HOME=$(mktemp -d)/alice
trap 'rm -rf "$(dirname "$DEMO_HOME")"' EXIT
export RUMOR_HOME="$DEMO_HOME" RUMOR_PASSPHRASE="demo passphrase"

step() {
  printf '\n\033[1m$ rumor %s\033[0m\n' "$*"
  "$RUMOR" "$@"
}

step init --nick alice
step room create lan --topic "everyone on this network"
step room create lan/general
step room create lan/general/random
step room create lan/ops --private --topic "admins only"
step room create workshop
step send lan/general "hello, is anyone here?"
echo "messages can come from standard input, too" | { printf '\n\033[1m$ echo ... | rumor send lan/general -\033[0m\n'; "$RUMOR" send lan/general -; }
step send lan/ops "rotate the wifi password on friday"
step nick "alice (ops)"
step send lan/general "changed my nick"
step room rename lan/general/random offtopic
step room list
step room info lan/ops
step log lan/general
step log lan/general --json --limit 1
step status
printf '\nhome was %s (removed on exit); the store keeps bodies encrypted:\n' "$DEMO_HOME"
if grep -q "hello, is anyone here" "$DEMO_HOME/store/data.mdb"; then
  echo "  plaintext found on disk (this should not happen)"; exit 1
else
  echo "  grep for the message text in store/data.mdb: not found"
fi
