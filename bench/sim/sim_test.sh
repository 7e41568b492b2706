#!/bin/sh
# sim_test.sh - CTest `sim` (a second or two): rumor-sim repeats itself to the byte for a seed,
# another seed gives another run, without loss or churn every node gets every message, nodes
# back from churn catch up through the modelled anti-entropy, tree mode delivers everything
# with far fewer duplicates than gossipsub, attack runs (hostile nodes, scores on or off) repeat
# themselves and report honest delivery before and during the attack, and bad input is one line
# on stderr with exit status 2.
#
#   sim_test.sh RUMOR_SIM TINY_SCENARIO
set -u
sim=$1
tiny=$2
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT INT TERM

fail() {
    echo "sim_test: FAIL: $*" >&2
    exit 1
}

run() { # name, extra arguments...
    name=$1
    shift
    "$sim" "$@" --no-wall --records "$dir/$name.jsonl" --summary "$dir/$name.json" ||
        fail "$name: rumor-sim exited $?"
}

has() { # file, text
    grep -qF -- "$2" "$1" || fail "$1 lacks $2: $(cat "$1")"
}

# The same seed twice: the same bytes. Another seed: other records.
run a "$tiny"
run b "$tiny"
cmp "$dir/a.json" "$dir/b.json" || fail "two runs of one seed gave different summaries"
cmp "$dir/a.jsonl" "$dir/b.jsonl" || fail "two runs of one seed gave different records"
run c "$tiny" --seed 12345
cmp -s "$dir/a.jsonl" "$dir/c.jsonl" && fail "seed 12345 gave the same records as the file's seed"

# No loss, no churn: everything everywhere, by gossip alone; one record per message.
has "$dir/a.json" '"ratio": 1.000000'
has "$dir/a.json" '"by_catchup": 0,'
has "$dir/a.json" '"validation": "oracle"'
has "$dir/a.json" '"catchup": "modelled"'
messages=$(sed -n 's/^  "messages": \([0-9]*\),$/\1/p' "$dir/a.json")
[ -n "$messages" ] && [ "$(wc -l <"$dir/a.jsonl")" -eq "$messages" ] ||
    fail "expected $messages records, got $(wc -l <"$dir/a.jsonl")"
grep -q '"host"' "$dir/a.json" && fail "--no-wall printed the host figures"
"$sim" "$tiny" >"$dir/wall.json" || fail "run with wall clock exited $?"
has "$dir/wall.json" '"wall_s"'

# Churn: a fifth of the nodes misses messages, is away longer than IHAVE remembers them
# (3 heartbeats), and catches up by anti-entropy once back.
{
    cat "$tiny"
    echo "recon_interval_ms = 500"
    echo "at 3.1s churn 20% for 6s"
} >"$dir/churn.sim"
run churn "$dir/churn.sim"
has "$dir/churn.json" '"ratio": 1.000000'
has "$dir/churn.json" '"leaves": 4, "returns": 4, "caught_up": 4, "not_caught_up": 0'
grep -q '"by_catchup": 0,' "$dir/churn.json" && fail "nothing was caught up: $(cat "$dir/churn.json")"

# Tree mode (Plumtree): every node gets every message, and once duplicates have pruned the
# eager links to a tree, far fewer copies than gossipsub's mesh sends (below a fifth); the same
# seed gives the same bytes.
run tree "$tiny" --set strategy=tree
run tree2 "$tiny" --set strategy=tree
cmp "$dir/tree.json" "$dir/tree2.json" || fail "two tree runs of one seed differ"
has "$dir/tree.json" '"strategy": "tree"'
has "$dir/tree.json" '"ratio": 1.000000'
dups() { sed -n 's/^  "duplicates_per_delivery": \([0-9.]*\),$/\1/p' "$1"; }
awk -v t="$(dups "$dir/tree.json")" -v g="$(dups "$dir/a.json")" \
    'BEGIN { exit !(t != "" && g != "" && g > 0 && t < g / 5) }' ||
    fail "tree: $(dups "$dir/tree.json") duplicates per delivery, gossipsub $(dups "$dir/a.json")"
grep -q '"prune": 0.0000' "$dir/tree.json" && fail "tree: no PRUNE sent: $(cat "$dir/tree.json")"

# Attacks: a covert flash of a fifth of the nodes repeats itself to the byte, with scores on
# too; honest delivery is split at the attack, and hostile nodes publish nothing.
for score in off on; do
    run "flash-$score" "$tiny" --set hostile=20% --set attack=flash --set attack_at=3.3s \
        --set recovery=0.2s --set score=$score
    run "flash2-$score" "$tiny" --set hostile=20% --set attack=flash --set attack_at=3.3s \
        --set recovery=0.2s --set score=$score
    cmp "$dir/flash-$score.json" "$dir/flash2-$score.json" ||
        fail "two flash runs of one seed differ (score $score)"
    has "$dir/flash-$score.json" '"attack": {"kind": "flash", "hostile": 4, "victims": 0'
    has "$dir/flash-$score.json" '"honest": {"before": {"messages": 15,'
    has "$dir/flash-$score.json" "\"score\": $([ $score = on ] && echo true || echo false)}"
done
grep -q '"withheld_events": 0,' "$dir/flash-off.json" && fail "flash: nothing withheld"
run eclipse "$tiny" --set hostile=20% --set attack=eclipse --set victims=1
has "$dir/eclipse.json" '"victims": {"before": {"messages": '
run coldboot "$tiny" --set hostile=20% --set attack=coldboot --set join=2s
has "$dir/coldboot.json" '"honest": {"before": {"messages": 0,'

# Bad input: one line `rumor-sim: ...`, exit status 2.
bad() { # description, scenario text, extra arguments...
    what=$1
    printf '%b' "$2" >"$dir/bad.sim"
    shift 2
    "$sim" "$dir/bad.sim" "$@" >/dev/null 2>"$dir/err"
    rc=$?
    [ "$rc" -eq 2 ] || fail "$what: exit status $rc, not 2"
    [ "$(wc -l <"$dir/err")" -eq 1 ] && grep -q '^rumor-sim: ' "$dir/err" ||
        fail "$what: stderr is not one rumor-sim line: $(cat "$dir/err")"
}
bad "unknown key" 'nodes = 10\nfoo = 1\n'
bad "bad number" 'nodes = ten\n'
bad "out of range" 'nodes = 1\n'
bad "strategy" 'strategy = plumtree\n'
bad "keepalive" 'keepalive = yes\n'
bad "process_us" 'process_us = 2s\n'
bad "d_lo above d" 'd_lo = 9\n'
bad "timed line" 'at 5s explode 10%\n'
bad "heal before cut" 'at 5s partition 50% until 4s\n'
bad "NUL byte" 'nodes = 10\0\n'
bad "hostile without attack" 'nodes = 10\nhostile = 20%\n'
bad "attack without hostile" 'nodes = 10\nattack = sybil\n'
bad "attack name" 'attack = siege\n'
bad "no honest nodes left" 'nodes = 10\nhostile = 90%\nattack = flash\n'
bad "bad --set" 'nodes = 10\n' --set latency=sometimes
bad "bad --seed" 'nodes = 10\n' --seed -1
"$sim" "$dir/missing.sim" >/dev/null 2>"$dir/err"
[ $? -eq 2 ] || fail "a missing file is not exit status 2"
echo "sim_test: ok"
