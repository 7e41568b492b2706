#!/usr/bin/env bash
# The main job: installs what is missing, builds rumor, and runs a local mesh
# of four nodes on loopback (127.0.0.1 only, LAN discovery off):
#
#   alice <- bob <- carol <- dave        (each node dials the one before it)
#
# alice builds a room tree, invites bob; bob invites carol, carol invites dave
# (any member may invite to a shared room). Every node follows lan/general and
# prints what arrives; messages posted on alice and dave cross the whole line
# through the relays in between. Everything stops and is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh >/dev/null

RUMOR="$PWD/build/rumor"
ROOT=$(mktemp -d /tmp/rumor-demo.XXXXXX)
NAMES=(alice bob carol dave)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$ROOT"
}
trap cleanup EXIT
export RUMOR_PASSPHRASE="demo passphrase"

bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
r() { local who=$1; shift; "$RUMOR" --home "$ROOT/$who" "$@"; }
step() { local who=$1; shift; printf '\033[1m%s$ rumor %s\033[0m\n' "$who" "$*"; r "$who" "$@"; }

# A free loopback port for each node, picked by the kernel.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_running() {
  for _ in $(seq 1 100); do
    r "$1" status --json 2>/dev/null | grep -q '"running":true' && return 0
    sleep 0.1
  done
  echo "node $1 did not start; its log:" >&2; cat "$ROOT/$1.log" >&2; exit 1
}

bold "== four identities, four nodes on 127.0.0.1 (each dials the previous one)"
# Peer exchange off, so the line stays a line and messages must be relayed.
printf 'peer_exchange = false\nlog_level = warn\n' >"$ROOT/node.conf"
prev=""
for who in "${NAMES[@]}"; do
  r "$who" init --nick "$who" >/dev/null
  port=$(free_port)
  peer=()
  [[ -n "$prev" ]] && peer=(--peer "$(r "$prev" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["address"])')")
  "$RUMOR" --home "$ROOT/$who" node --listen "127.0.0.1:$port" --no-lan --config "$ROOT/node.conf" "${peer[@]}" 2>"$ROOT/$who.log" &
  PIDS+=($!)
  wait_running "$who"
  echo "$who: $(r "$who" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["address"])')"
  prev=$who
done

bold "== alice builds a room tree"
step alice room create lan --topic "everyone on this network"
step alice room create lan/general
step alice room create lan/random

bold "== invites along the line: alice -> bob -> carol -> dave"
inviter=alice
for who in bob carol dave; do
  code=$(r "$inviter" room invite lan)
  echo "$inviter$ rumor room invite lan  ->  ${code:0:40}..."
  step "$who" room join "$code" >/dev/null
  inviter=$who
done
step dave room list

bold "== every node follows lan/general; messages arrive as they are gossiped"
for who in "${NAMES[@]}"; do
  ( exec "$RUMOR" --home "$ROOT/$who" log lan/general --follow --json 2>/dev/null ) | python3 -u -c '
import json, sys, time
who = sys.argv[1]
for line in sys.stdin:
    m = json.loads(line)
    lag = time.time() * 1000 - m["ts"]
    nick, text = m["name"], m["text"]
    print(f"  [{who:>5} sees] {nick}: {text}  ({lag:.0f} ms after it was signed)", flush=True)
' "$who" &
  PIDS+=($!)
done
sleep 1
step alice send lan/general "hello from alice, at one end of the line"
sleep 0.5
step dave send lan/general "dave here, at the other end"
sleep 0.5
step carol send lan/general "carol relays for both of you"
sleep 1

bold "== dave's history of lan/general, read from his own store"
step dave log lan/general

bold "== who is connected to whom (dave never dialed alice)"
step dave peers
printf '\033[1mbob$ rumor stats --json\033[0m\n'
r bob stats --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
print("  bob relayed: " + ", ".join(f"{k}={s[k]}" for k in ("received", "delivered", "duplicates", "forwarded", "invalid", "frames_in", "frames_out")))'
bold "== the stores keep bodies encrypted"
if grep -q "hello from alice" "$ROOT"/*/store/data.mdb; then
  echo "  plaintext found on disk (this should not happen)"; exit 1
else
  echo "  grep for the message text in every node's store: not found"
fi
