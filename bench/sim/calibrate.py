#!/usr/bin/env python3
"""calibrate.py - rumor-sim against real processes, side by side (python3 stdlib only).

Runs bench/bench_mesh.py (N real `rumor node` processes on the loopback interface, 20
messages/s for 10 s from 5 publishers) and then rumor-sim on bench/sim/n50.sim set to the
same N, rate, message count, publishers, strategy and window, and prints the figures of
both with their relative difference and whether it is within the tolerance (10%):

  duplicates per delivery   sum of delta duplicates / sum of delta delivered (bench_mesh);
                            the sim's duplicates / deliveries over the same window
  frames per node per msg   frames_out over the window from just before the first
                            publication to the end of the drain, of every kind (EVENT,
                            IHAVE, IWANT, GRAFT, PRUNE, PING, PONG, PEERS, RECON, ...), per
                            node and published message; the sim counts the same window and
                            models the daemon's PING/PONG/PEERS (keepalive = on) and
                            anti-entropy (modelled)
  hops                      per delivery, one more than the hops of the peer its first copy
                            came from (the author: 0); mean, p99 (nearest rank) and the
                            histogram's shares (judged by their total variation distance)

How the sim is set from the real run:
  nodes, rate, publishers   as given to bench_mesh.py; messages = those published
  drain                     window_s - (messages - 1) / rate: the same window
  setup, peers              sequential set-up (bench_mesh starts nodes one after the other,
                            each linked to earlier ones); `peers` is the value whose median
                            degree is nearest the real peers_median
  recon_interval_ms         30,000, the node's: the sim pulls from one peer per node per
                            interval where the node reconciles every link (one side opens)
                            per room, about degree / 2 times as many exchanges (0.02 frames
                            per node and message more); but the modelled catch-up arrives
                            after 2r - 1 latencies, not through the nodes' queues and store
                            walks, so it would overtake the tree far more often than the
                            node's does (a pushed copy after a caught-up one prunes a tree
                            link)
  process_us,               the node CPU of the window, less the heartbeats' own work
  process_event_us,         (heartbeat_us, from the idle baseline), split into a cost per
  heartbeat_us, cores       frame received (--frame-us, 20 us: fits over quiet gossipsub
                            and tree runs give 6-29 us, small next to a new event's 0.5 ms;
                            --fit-with fits it from two runs) and the rest per new event;
                            the machine's cores, shared by every node as the processes of
                            the real run shared them
  keepalive                 on
  warm-up                   --warmup messages (100) before the window opens (window_from):
                            the real meshes and trees carried the room's joins before it

The sim is run with --seeds seeds (1..K) and its figures averaged (the histogram pooled).

Usage:
  bench/sim/calibrate.py [--strategy gossipsub|tree] [--rumor PATH] [--sim PATH]
                         [--real FILE] [--save-real FILE] [--fit-with FILE] [--seeds K]
                         [--warmup K] [--quiet-wait S] [--frame-us US] [--process-us US]
                         [--cores K] [--no-model-cpu] [--json FILE]
                         [--nodes N] [--rate R] [--duration S] [--publishers P]

  --real FILE reuses a bench_mesh.py --json result instead of a new real run (its strategy
  must be the one asked for); --save-real keeps the new one. The defaults are those of
  build-sim (cmake -B build-sim, targets rumor and rumor-sim). Run the real run on a quiet
  machine: bench_mesh.py waits up to --quiet-wait seconds (900) for one and reports the
  share of the cores other work took (foreign_cpu_share, printed below the table). Exit
  status 0 when both runs completed (whether or not every figure is within the tolerance),
  1 otherwise.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
TOLERANCE = 0.10
FRAME_US = 20.0  # least squares over four quiet runs (RESULTS.md) gives 6-29 us
KINDS = [  # (label, bench_mesh delta key, sim kinds)
    ("EVENT pushed", "delta_forwarded", ["event"]),
    ("EVENT for IWANT", "delta_iwant_served", ["event_served"]),
    ("IHAVE", "delta_ihave_out", ["ihave"]),
    ("IWANT", "delta_iwant_out", ["iwant"]),
    ("GRAFT", "delta_graft_out", ["graft"]),
    ("PRUNE", "delta_prune_out", ["prune"]),
]


def log(msg):
    print("[calibrate] %s" % msg, file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def run_real(args):
    """bench_mesh.py with the scenario; its JSON result."""
    fd, path = tempfile.mkstemp(prefix="calib-real-", suffix=".json")
    os.close(fd)
    cmd = [sys.executable, os.path.join(ROOT, "bench", "bench_mesh.py"), args.rumor,
           "--nodes", str(args.nodes), "--rate", str(args.rate), "--duration",
           str(args.duration), "--publishers", str(args.publishers), "--json", path]
    if args.quiet_wait > 0:
        cmd += ["--quiet-wait", str(args.quiet_wait)]
    if args.strategy != "gossipsub":
        cmd += ["--set", "strategy=" + args.strategy]
    log("load average %.2f; %s" % (loadavg(), " ".join(cmd)))
    rc = subprocess.run(cmd, stdout=sys.stderr).returncode
    try:
        with open(path) as f:
            res = json.load(f)
    except (OSError, ValueError) as e:
        raise SystemExit("calibrate: bench_mesh.py gave no result (exit %d): %s" % (rc, e))
    finally:
        os.unlink(path)
    if args.save_real:
        with open(args.save_real, "w") as f:
            json.dump(res, f, indent=1)
    return res


def sim_run(args, sets, seed):
    cmd = [args.sim, os.path.join(HERE, "n50.sim"), "--no-wall", "--seed", str(seed)]
    for k, v in sets:
        cmd += ["--set", "%s=%s" % (k, v)]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if out.returncode != 0:
        raise SystemExit("calibrate: %s failed: %s" % (" ".join(cmd), out.stderr.strip()))
    return json.loads(out.stdout)


def percentile_hist(hist, p):
    """Nearest rank over a histogram {hops: count}."""
    total = sum(hist.values())
    if not total:
        return None
    k = max(1, math.ceil(p / 100.0 * total))
    acc = 0
    for h in sorted(hist):
        acc += hist[h]
        if acc >= k:
            return h
    return None


def real_figures(r):
    n, pub = r["nodes"], r["published"] or 1
    hist = {int(k): v for k, v in r.get("hops_hist", {}).items() if k != "unknown"}
    f = {
        "duplicates_per_delivery": r.get("duplicates_per_delivery"),
        "frames": r.get("frames_out_per_node_msg"),
        "hops_mean": r.get("hops_mean"),
        "hops_p99": r.get("hops_p99"),
        "hist": hist,
        "hops_unknown": r.get("hops_hist", {}).get("unknown", 0),
        "delivery_ratio": r.get("delivery_ratio"),
        "degree": r.get("peers_median"),
        "latency_p50": r.get("spread_ms_p50"),
        "latency_p99": r.get("spread_ms_p99"),
    }
    known = 0.0
    for label, key, _ in KINDS:
        v = r.get(key, 0) / n / pub
        f["kind:" + label] = v
        known += v
    f["kind:other"] = (f["frames"] or 0) - known
    return f


def sim_figures(runs):
    """The mean over seeds; the hop histogram pooled."""
    k = len(runs)

    def mean(fn):
        return sum(fn(s) for s in runs) / k

    def win(s):
        return s["publish_window"]["frames_per_node_per_message"]

    hist = {}
    for s in runs:
        for h, c in enumerate(s["publish_window"]["hops"]["histogram"]):
            if c:
                hist[h] = hist.get(h, 0) + c
    total = sum(hist.values())

    f = {
        "duplicates_per_delivery": mean(lambda s: s["publish_window"]["duplicates_per_delivery"]),
        "frames": mean(lambda s: win(s)["total"]),
        "hops_mean": sum(h * c for h, c in hist.items()) / total if total else None,
        "hops_p99": percentile_hist(hist, 99),
        "hist": hist,
        "delivery_ratio": mean(lambda s: s["delivery"]["ratio"]),
        "degree": mean(lambda s: s["degree_median"]),
        "degree_mean": mean(lambda s: s["degree_mean"]),
        "mesh_mean": mean(lambda s: s["publish_window"]["mesh_mean"]),
        "latency_p50": mean(lambda s: float(s["latency_ms"]["p50"])),
        "latency_p99": mean(lambda s: float(s["latency_ms"]["p99"])),
        "process_wait_ms": mean(lambda s: s["process"]["wait_ms_mean"]),
    }
    known = 0.0
    for label, _, kinds in KINDS:
        v = mean(lambda s: sum(win(s)[x] for x in kinds))
        f["kind:" + label] = v
        known += v
    f["kind:other"] = f["frames"] - known
    return f


def cpu_terms(r):
    """One run's CPU as x * a + D * b = c: a the CPU per frame received, b the more per
    new event, the heartbeats' own work taken out with the idle baseline (the idle CPU per
    node-second less the idle frames' share)."""
    n, w = r["nodes"], r["window_s"]
    frames = r["frames_in_per_node_msg"] * n * r["published"]
    idle_frames = r["idle_frames_out_per_node_s"] * n * w  # in = out, summed over the nodes
    idle_cpu = r["idle_cpu_ms_per_node_s"] * n * w
    return frames - idle_frames, r["sum_delta_delivered"], r["node_cpu_ms_total"] - idle_cpu


def cpu_model(real, args):
    """process_us (a frame), process_event_us (more for a new event) and heartbeat_us (a
    heartbeat's own work, from the idle baseline), in microseconds."""
    a = args.frame_us / 1000.0
    if args.fit_with:
        with open(args.fit_with) as f:
            other = json.load(f)
        (x1, d1, c1), (x2, d2, c2) = cpu_terms(real), cpu_terms(other)
        det = x1 * d2 - x2 * d1
        if abs(det) > 1e-9:
            a = max(0.0, (c1 * d2 - c2 * d1) / det)
    x, d, c = cpu_terms(real)
    b = max(0.0, (c - x * a) / d) if d else 0.0
    beat_s = 1.0  # the node's heartbeat_ms, 1,000
    h = max(0.0, (real["idle_cpu_ms_per_node_s"] - real["idle_frames_out_per_node_s"] * a) * beat_s)
    if args.process_us is not None:
        a = args.process_us / 1000.0
    return {"process_us": a * 1000, "process_event_us": b * 1000, "heartbeat_us": h * 1000}


def rel(real, sim):
    if real is None or sim is None:
        return None
    if real == 0:
        return 0.0 if sim == 0 else float("inf")
    return (sim - real) / abs(real)


def fmt(v, spec="{:.3f}"):
    return "-" if v is None else spec.format(v)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--strategy", default="gossipsub", choices=["gossipsub", "flood", "tree"])
    ap.add_argument("--rumor", default=os.path.join(ROOT, "build-sim", "rumor"))
    ap.add_argument("--sim", default=os.path.join(ROOT, "build-sim", "bench", "sim", "rumor-sim"))
    ap.add_argument("--nodes", type=int, default=50)
    ap.add_argument("--rate", type=float, default=20.0)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--publishers", type=int, default=5)
    ap.add_argument("--real", help="a bench_mesh.py --json result to use instead of a new run")
    ap.add_argument("--save-real", help="keep the new real run's JSON here")
    ap.add_argument("--quiet-wait", type=float, default=900.0,
                    help="bench_mesh.py waits up to S seconds for a quiet machine (0: no wait)")
    ap.add_argument("--seeds", type=int, default=5, help="sim runs (seeds 1..K), averaged")
    ap.add_argument("--warmup", type=int, default=100,
                    help="messages the sim publishes before the window (the real meshes and "
                         "trees have carried the room's joins before it)")
    ap.add_argument("--frame-us", type=float, default=FRAME_US,
                    help="CPU per frame received, less a new event's own (default %(default)s: "
                         "fitted over quiet gossipsub and tree runs)")
    ap.add_argument("--fit-with", metavar="FILE",
                    help="another bench_mesh.py --json result (the other strategy): fit the "
                         "CPU per frame and per new event from both runs")
    ap.add_argument("--process-us", type=float, help="sets process_us after the fit")
    ap.add_argument("--cores", type=int, help="instead of the real run's cores")
    ap.add_argument("--no-model-cpu", action="store_true",
                    help="no service time in the sim (frames handled the instant they arrive)")
    ap.add_argument("--json", help="write both sets of figures here")
    args = ap.parse_args(argv)

    if args.real:
        with open(args.real) as f:
            real = json.load(f)
        got = real.get("config", {}).get("strategy", "gossipsub")
        if got != args.strategy:
            raise SystemExit("calibrate: %s is a %s run, not %s" % (args.real, got, args.strategy))
    else:
        real = run_real(args)
    if real.get("error") or "published" not in real:
        raise SystemExit("calibrate: the real run failed: %s" % real.get("error"))
    n, pub = real["nodes"], real["published"]
    rf = real_figures(real)

    # The sim, set from the real run.
    drain_ms = max(0.0, real["window_s"] * 1000.0 - (pub - 1) * 1000.0 / real["rate"])
    cpu = cpu_model(real, args)
    cores = args.cores if args.cores is not None else real.get("cores") or 2
    if args.no_model_cpu:
        cpu, cores = {"process_us": 0, "process_event_us": 0, "heartbeat_us": 0}, 0
    base = [("nodes", n), ("messages", args.warmup + pub), ("window_from", args.warmup),
            ("rate", real["rate"]),
            ("publishers", real["publishers"]), ("strategy", args.strategy),
            ("keepalive", "on"), ("setup", "sequential"), ("drain", "%dms" % round(drain_ms))]
    # The peers value whose median degree is nearest the real one (seed 1).
    target = real.get("peers_median") or 8
    best = None
    for p in range(2, min(n - 1, 32) + 1):
        s = sim_run(args, base + [("peers", p), ("messages", 1), ("window_from", 0)], 1)
        d = abs(s["degree_median"] - target)
        if best is None or d < best[0]:
            best = (d, p)
        if s["degree_median"] > target:
            break
    peers = best[1]
    sets = base + [("peers", peers), ("recon_interval_ms", 30000)] + \
        [(k, "%dus" % round(v)) for k, v in sorted(cpu.items())] + [("cores", cores)]
    runs = [sim_run(args, sets, seed) for seed in range(1, args.seeds + 1)]
    sf = sim_figures(runs)

    # The table.
    rows = []

    def row(label, key, judged=True, spec="{:.3f}"):
        r, s = rf.get(key), sf.get(key)
        d = rel(r, s)
        ok = None if not judged or d is None else abs(d) <= TOLERANCE
        rows.append({"figure": label, "real": r, "sim": s, "diff": d, "within": ok})
        print("%-34s %10s %10s %9s  %s" % (label, fmt(r, spec), fmt(s, spec),
                                           "-" if d is None else "%+.1f%%" % (100 * d),
                                           {None: "", True: "yes", False: "NO"}[ok]))

    print()
    print("N=%d, %s, %d messages at %g/s from %d publishers; sim: %d seeds, %s"
          % (n, args.strategy, pub, real["rate"], real["publishers"], args.seeds,
             " ".join("%s=%s" % kv for kv in sets)))
    print("%-34s %10s %10s %9s  %s" % ("figure", "real", "sim", "diff", "within 10%"))
    row("duplicates per delivery", "duplicates_per_delivery")
    row("frames out / node / message", "frames")
    for label, _, _ in KINDS:
        row("  " + label, "kind:" + label, judged=False)
    row("  other (PING/PONG/PEERS/RECON...)", "kind:other", judged=False)
    row("hops, mean", "hops_mean")
    row("hops, p99", "hops_p99", spec="{:.0f}")
    hops = sorted(set(rf["hist"]) | set(sf["hist"]))
    rt, st = sum(rf["hist"].values()) or 1, sum(sf["hist"].values()) or 1
    tvd = 0.5 * sum(abs(rf["hist"].get(h, 0) / rt - sf["hist"].get(h, 0) / st) for h in hops)
    ok = tvd <= TOLERANCE
    rows.append({"figure": "hop histogram, total variation distance", "real": 0.0, "sim": tvd,
                 "diff": tvd, "within": ok})
    print("%-34s %10s %10s %9s  %s" % ("hop histogram: distance (TVD)", "", "%.3f" % tvd, "",
                                       "yes" if ok else "NO"))
    for h in hops:
        print("%-34s %9.1f%% %9.1f%%" % ("  share at %d hops" % h, 100.0 * rf["hist"].get(h, 0) / rt,
                                          100.0 * sf["hist"].get(h, 0) / st))
    if rf.get("hops_unknown"):
        print("  (real deliveries of unknown hops: %d)" % rf["hops_unknown"])
    print("context (not judged):")
    print("  delivery ratio                  %10s %10s" % (fmt(rf["delivery_ratio"], "{:.5f}"),
                                                         fmt(sf["delivery_ratio"], "{:.5f}")))
    print("  degree, median (sim mean %.2f)   %10s %10s" % (sf["degree_mean"], fmt(rf["degree"], "{:.1f}"),
                                                         fmt(sf["degree"], "{:.1f}")))
    print("  spread (real) / latency (sim) ms  p50 %s / %s, p99 %s / %s"
          % (fmt(rf["latency_p50"], "{:.1f}"), fmt(sf["latency_p50"], "{:.1f}"),
             fmt(rf["latency_p99"], "{:.1f}"), fmt(sf["latency_p99"], "{:.1f}")))
    print("  sim: mesh mean at the first publication %.2f; mean wait for a core %.2f ms; "
          "duplicates per delivery by seed %s"
          % (sf["mesh_mean"], sf["process_wait_ms"],
             " ".join("%.3f" % r["publish_window"]["duplicates_per_delivery"] for r in runs)))
    frames_in = real.get("frames_in_per_node_msg", 0) * n * pub
    print("  real: node CPU %.0f ms (%.0f us per frame received), idle %.2f ms per node-second; "
          "machine busy %s, foreign share %s, load before %s, sending CLI %s ms CPU/message"
          % (real.get("node_cpu_ms_total", 0),
             real["node_cpu_ms_total"] * 1000.0 / frames_in if frames_in else 0,
             real.get("idle_cpu_ms_per_node_s", 0), real.get("machine_cpu_busy"),
             real.get("foreign_cpu_share"), real.get("loadavg_1m_before"),
             real.get("send_cli_cpu_ms_per_msg")))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"strategy": args.strategy, "sim_sets": sets, "rows": rows,
                       "real_hist": rf["hist"], "sim_hist": sf["hist"], "real": real,
                       "sim_runs": runs}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
