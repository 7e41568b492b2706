#!/usr/bin/env python3
"""attack.py - the attacks of the gossipsub v1.1 evaluation (Vyzovitis et al. 2020) in rumor-sim:
a Sybil flood, an eclipse of a few nodes, a covert flash and a cold boot, at 1,000 nodes with 10%,
30% and 50% of them hostile, with peer scores off and on (PROTOCOL.md 9.8). Prints a Markdown
table (honest delivery and p99 latency before, during and late in the attack; the eclipse's
victims' own delivery; the hostile share of honest mesh places) with the exact commands, for
RESULTS.md.

  bench/sim/attack.py [--sim PATH] [--out DIR] [--table FILE] [--jobs N] [--seed N]
                      [--only TEXT]... [--redo]

Scenario: n1k-attack.sim (README.md, "Attacks"). A run whose summary is in --out already is not
run again unless --redo; --only runs the rows whose label contains TEXT (e.g. --only flash
--only 30%). Each run is one process on one core, bounded by events_max and a timeout.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SCENARIO = "bench/sim/n1k-attack.sim"
ATTACKS = ["sybil", "eclipse", "flash", "coldboot"]
SHARES = [10, 30, 50]
SCORES = ["off", "on"]
# A run takes 5-10 million events and 5-15 s; ten times that is a run gone wrong.
EVENTS_MAX = 100000000
TIMEOUT_S = 600


def rows(seed):
    for attack in ATTACKS:
        for share in SHARES:
            for score in SCORES:
                label = "%s %d%% score %s" % (attack, share, score)
                name = "%s-%d-score-%s-seed-%d" % (attack, share, score, seed)
                sets = ["attack=" + attack, "hostile=%d%%" % share, "score=" + score,
                        "events_max=%d" % EVENTS_MAX]
                yield label, name, attack, share, score, sets


def command(sim, sets, seed):
    return [os.path.relpath(sim, ROOT), SCENARIO, "--seed", str(seed), "--no-wall"] + \
        sum([["--set", s] for s in sets], [])


def run_one(sim, path, cmd, label):
    """Runs one scenario into `path`; True when it completed."""
    print("[attack] %s: %s" % (label, " ".join(cmd)), file=sys.stderr, flush=True)
    t = time.time()
    try:
        with open(path + ".tmp", "w") as f:
            rc = subprocess.run([sim] + cmd[1:], stdout=f, cwd=ROOT,
                                timeout=TIMEOUT_S).returncode
    except subprocess.TimeoutExpired:
        rc = "timeout"
    if rc != 0:
        print("[attack] %s failed (%s)" % (label, rc), file=sys.stderr, flush=True)
        os.unlink(path + ".tmp")
        return False
    os.rename(path + ".tmp", path)
    print("[attack] %s: %.0f s" % (label, time.time() - t), file=sys.stderr, flush=True)
    return True


def ratio(w):
    return "-" if w is None or w["ratio"] is None else "%.4f" % w["ratio"]


def p99(w):
    return "-" if w is None or w["latency_p99_ms"] is None else "%.0f" % float(w["latency_p99_ms"])


def share(x):
    return "-" if x is None else "%.2f" % x


def table_row(label_parts, r):
    attack, share_pct, score = label_parts
    if r is None:
        return "| %s | %d%% | %s | not run | | | | | | | | |" % (attack, share_pct, score)
    a = r["attack"]
    h, v, m = a["honest"], a["victims"], a["mesh_hostile_share"]
    victim = "-" if v is None else "%s / %s (%s ms)" % (ratio(v["before"]), ratio(v["during"]),
                                                        p99(v["during"]))
    return "| %s | %d%% | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %d |" % (
        attack, share_pct, score, ratio(h["before"]), ratio(h["during"]), ratio(h["late"]),
        p99(h["before"]), p99(h["during"]), p99(h["late"]), victim, share(m["peak"]),
        share(m["end"]), a["graylisted_frames"])


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sim", default=os.path.join(ROOT, "build-sim", "bench", "sim", "rumor-sim"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build-sim", "attack"))
    ap.add_argument("--table", help="also write the table here (default: OUT/table.md)")
    ap.add_argument("--jobs", type=int, default=2, help="runs at once (one core each)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--redo", action="store_true", help="run again what --out holds")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)

    todo, table = [], []
    for label, name, attack, share_pct, score, sets in rows(args.seed):
        path = os.path.join(args.out, name + ".json")
        cmd = command(args.sim, sets, args.seed)
        table.append(((attack, share_pct, score), path, cmd))
        if all(o in label for o in args.only) and (args.redo or not os.path.exists(path)):
            todo.append((path, cmd, label))
    t0 = time.time()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        done = list(pool.map(lambda job: run_one(args.sim, *job), todo))
    if todo:
        print("[attack] %d runs (%d failed) in %.0f s" % (len(todo), done.count(False),
                                                         time.time() - t0), file=sys.stderr)

    out = ["| attack | hostile | score | honest delivery: before | during | late "
           "| p99 ms: before | during | late | victims' delivery: before / during (p99 during) "
           "| hostile share of honest mesh places: peak / end | graylisted frames |",
           "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for parts, path, _ in table:
        r = None
        if os.path.exists(path):
            with open(path) as f:
                r = json.load(f)
        out.append(table_row(parts, r))
    cmds = ["    " + " ".join(cmd) for _, _, cmd in table]
    text = "\n".join(out) + "\n\nCommands (from the repository root; `build-sim` built with " \
        "`cmake --build build-sim --target rumor-sim`; `bench/sim/attack.py` runs them all):" \
        "\n\n" + "\n".join(cmds) + "\n"
    print(text)
    with open(args.table or os.path.join(args.out, "table.md"), "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
