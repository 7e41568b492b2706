#!/usr/bin/env python3
"""compare.py - the strategy comparison (issue 12): gossipsub, flood and tree in rumor-sim at
1,000 and 10,000 nodes, with 1% loss, 5% loss and churn; writes a Markdown table (delivery,
latency p50/p99, duplicates, bytes, wall time) with the exact commands, for RESULTS.md.

  bench/sim/compare.py [--sim PATH] [--out DIR] [--table FILE] [--only TEXT]...

Runs one simulation at a time (each is one process on one core). A run whose summary is in
--out already is not run again (delete it to redo); --only runs the rows whose label contains
TEXT (e.g. --only 1000 --only tree). Scenarios: n1k.sim, n10k.sim (loss set with --set
loss=...), n1k-churn.sim, n10k-churn.sim.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SIZES = [(1000, "n1k"), (10000, "n10k")]
STRATEGIES = ["gossipsub", "flood", "tree"]
CONDITIONS = [("1% loss", "", ["loss=1%"]), ("5% loss", "", ["loss=5%"]),
              ("churn", "-churn", [])]


def rows():
    for nodes, base in SIZES:
        for cond, suffix, sets in CONDITIONS:
            for strat in STRATEGIES:
                name = "%s%s-%s-%s" % (base, suffix, strat, cond.replace("% ", "-"))
                scen = "bench/sim/%s%s.sim" % (base, suffix)
                yield nodes, strat, cond, name, scen, ["strategy=" + strat] + sets


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sim", default=os.path.join(ROOT, "build-sim", "bench", "sim", "rumor-sim"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build-sim", "compare"))
    ap.add_argument("--table", help="also write the table here (default: OUT/table.md)")
    ap.add_argument("--only", action="append", default=[])
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    table = []
    for nodes, strat, cond, name, scen, sets in rows():
        label = "%d %s %s" % (nodes, strat, cond)
        path = os.path.join(args.out, name + ".json")
        cmd = [os.path.relpath(args.sim, ROOT), scen] + sum([["--set", s] for s in sets], [])
        if not os.path.exists(path) and all(o in label for o in args.only):
            print("[compare] %s: %s" % (label, " ".join(cmd)), file=sys.stderr, flush=True)
            t = time.time()
            with open(path + ".tmp", "w") as f:
                rc = subprocess.run([args.sim, os.path.join(ROOT, scen)]
                                    + cmd[2:], stdout=f, cwd=ROOT).returncode
            if rc != 0:
                print("[compare] %s failed (exit %d)" % (label, rc), file=sys.stderr)
                os.unlink(path + ".tmp")
                continue
            os.rename(path + ".tmp", path)
            print("[compare] %s: %.0f s" % (label, time.time() - t), file=sys.stderr, flush=True)
        r = None
        if os.path.exists(path):
            with open(path) as f:
                r = json.load(f)
        table.append((nodes, strat, cond, cmd, r))

    out = ["| nodes | strategy | condition | delivery ratio | latency p50 / p99 (ms) "
           "| duplicates per delivery | bytes per node per message | wall time (s) |",
           "|---:|---|---|---:|---:|---:|---:|---:|"]
    for nodes, strat, cond, cmd, r in table:
        if r is None:
            out.append("| %s | %s | %s | not run | | | | |" % ("{:,}".format(nodes), strat, cond))
            continue
        out.append("| %s | %s | %s | %.5f | %.0f / %.0f | %.2f | %.0f | %.0f |" % (
            "{:,}".format(nodes), strat, cond, r["delivery"]["ratio"],
            float(r["latency_ms"]["p50"]), float(r["latency_ms"]["p99"]),
            r["duplicates_per_delivery"], r["bytes_per_node_per_message"]["total"],
            r["host"]["wall_s"]))
    cmds = ["    " + " ".join(cmd) for _, _, _, cmd, _ in table]
    text = "\n".join(out) + "\n\nCommands (from the repository root; `build-sim` built with " \
        "`cmake --build build-sim --target rumor-sim`):\n\n" + "\n".join(cmds) + "\n"
    print(text)
    with open(args.table or os.path.join(args.out, "table.md"), "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
