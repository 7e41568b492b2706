#!/usr/bin/env python3
"""bench_attack.py - real rumor nodes under the attacks of the gossipsub v1.1 evaluation.

N real `rumor node` processes on 127.0.0.1 (every one with --no-lan) form one room, as in
bench/bench_mesh.py, and H hostile identities, all run by one bench/hostile_swarm.py process
(one zmq context, /usr/bin/python3), attack its mesh. Honest publishers post at a fixed total
rate through `rumor send` during two windows of equal length: W1 ("before") and W2
("during"); delivery and latency are read from the honest nodes' trace files.

The hostile identities are MEMBERS of the room: right after `room create`, the owner (node 0)
runs `room invite bench --member PK` for each of their keys (a signed MEMBER_ADD that seals the
room key to them), so every honest node names them the room's topic once it has that event
(PROTOCOL.md 9.3): topics are named only to members, and a stranger could not enter the mesh at
all. The run waits until every honest node counts N + H members before it measures.

Scenarios (Vyzovitis et al. 2020, "GossipSub: attack-resilient message propagation"):

  none      no hostile identity at all (the control)
  sybil     Sybil flood: at the end of W1 the H identities link to --links honest nodes each,
            GRAFT eagerly (again every --graft-ms after each PRUNE, ignoring the back-off),
            relay nothing, never answer IWANT, and announce made-up ids (--fake-ihave per
            IHAVE, each heartbeat) they will not serve. W2 starts --ramp s after they start.
  eclipse   the same behaviour, but every hostile identity links to one victim only (the last
            node, never a publisher); the victim's delivery is reported on its own
  covert    covert flash: the identities are present from the cold start (linked before the
            honest nodes join the room) and behave (relay, answer IWANT, respect the PRUNE
            back-off) through W1; at the end of W1 all of them withhold at once (no ramp)
  coldboot  cold boot: the identities are present from the cold start and withhold from the
            beginning; W1 is the first window after the room formed, W2 the next (both are
            under attack: compare W1 with the `none` row for "before")

Figures, for each window (messages the honest publishers posted in it):
  delivery      deliveries to honest nodes other than the author within --deadline s of the
                author's signature (trace t_ms - ts), over published x (N - 1)
  delivery_end  the same, with no deadline (whatever arrived by the end of the run)
  p50/p99       latency of the deliveries (t_ms - ts, ms), nearest rank, over all deliveries
  victim        eclipse: the victim's deliveries over the messages published
  pushes to hostiles per msg
                EVENT frames the honest nodes pushed to hostile identities per message (what
                the swarm received): the hostiles' real places in honest meshes
and the swarm's counters (links up, links it holds in meshes, grafts, prunes, IWANTs ignored),
how many hostile peers each honest node holds at the end, the victim's peers, and the honest
nodes' counter deltas per window (iwant_out, prune_out, peers_dropped, ... and the score
counters when the node has them).

Peer scores: `--score off,on` runs each scenario with `score = false` and `score = true` in
every honest node's config (PROTOCOL.md 9.8).

Every hostile identity dials from its own loopback address (127.0.1.K, distinct per identity;
--same-src: from 127.0.0.1 like the honest nodes). A node does not count loopback addresses
toward colocation (P6), so P6 plays no part here: the Sybils are the hard case, distinct
hosts (the simulator measures P6, `hostile_addrs`).

Usage:
  bench/bench_attack.py [RUMOR] [--nodes 20] [--hostile 20] [--scenarios sybil,eclipse,covert,
      coldboot] [--score off,on] [--rate 10] [--publishers 4] [--window 10] [--ramp 3]
      [--drain 5] [--deadline 5] [--links 0] [--fake-ihave 8] [--graft-ms 500]
      [--set KEY=VALUE]... [--json FILE] [--seed S] [--keep-logs DIR] [--quiet-wait S]

Network rule: nodes and hostile clients use loopback only; every node gets --no-lan. Every
wait is bounded in time and every loop in count; each run's processes (nodes, CLIs, the swarm)
are stopped in a finally block, by their own pids.
"""

import argparse
import json
import math
import os
import queue
import signal
import statistics
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import bench_mesh  # noqa: E402  (Mesh, percentile, bench_start: the mesh benchmark's harness)
import rumorlab  # noqa: E402
from hostile_swarm import public_key  # noqa: E402  (ctypes libsodium only, no zmq here)

SYSTEM_PYTHON = "/usr/bin/python3"   # python3-zmq installs for this interpreter only
SWARM = os.path.join(HERE, "hostile_swarm.py")
ROOM = bench_mesh.ROOM
SCENARIOS = ("none", "sybil", "eclipse", "covert", "coldboot")
EARLY = ("covert", "coldboot")          # hostiles present from the cold start
COUNTERS = ("delivered", "published", "iwant_out", "iwant_in", "ihave_in", "ihave_out", "graft_in", "graft_out",
            "prune_in", "prune_out", "peers_connected", "peers_dropped", "peers_banned",
            "queue_drops", "missing_parent", "pending_dropped", "duplicates", "forwarded",
            "catchup_events_in", "recon_timeouts", "links_replaced", "malformed",
            "rate_limited", "graylisted_frames", "pruned_by_score", "opportunistic_grafts",
            "backoff_grafts", "broken_promises")

log = bench_mesh.log
percentile = bench_mesh.percentile


class Swarm:
    """The hostile_swarm.py process: commands on its stdin, JSON lines from its stdout."""

    def __init__(self, base, seeds, targets, links, topic, mode, args, max_seconds):
        cfg = {"seeds": seeds, "targets": targets, "links": links, "topic": topic,
               "mode": mode, "graft_ms": args.graft_ms, "fake_ihave": args.fake_ihave,
               "src_net": None if args.same_src else "127.0.1.",
               "max_seconds": max_seconds}
        self.cfg_path = os.path.join(base, "swarm.json")
        with open(self.cfg_path, "w") as f:
            json.dump(cfg, f)
        self.err_path = os.path.join(base, "swarm.err")
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen([SYSTEM_PYTHON, SWARM, self.cfg_path],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, start_new_session=True)
        self.lines = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.lines.put(json.loads(line))
            except ValueError:
                pass

    def command(self, line):
        if self.proc.poll() is not None:
            return False
        try:
            self.proc.stdin.write((line + "\n").encode())
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def stats(self, timeout=5.0):
        """The swarm's counters now (None if it does not answer in time)."""
        while not self.lines.empty():
            self.lines.get_nowait()
        if not self.command("stats"):
            return None
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def stop(self, timeout=10.0):
        """quit, then its last counters; SIGKILL to its own process group if it lingers."""
        self.command("quit")
        last = None
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=5)
        self.reader.join(timeout=2)
        while not self.lines.empty():
            last = self.lines.get_nowait()
        self.err.close()
        return last

    def stderr_tail(self):
        return rumorlab.tail(self.err_path, 8)


class AttackMesh(bench_mesh.Mesh):
    """bench_mesh's Mesh, with a hook between `room create` and the joins (the owner adds the
    hostile members there, and the cold-start scenarios start the swarm there)."""

    def form_room(self, after_create=None):
        rc, out, err = self.cli(self.nodes[0], "room", "create", ROOM)
        if rc != 0:
            raise bench_mesh.BenchError("room create failed: %s %s" % (out, err))
        self.nodes[0].joined = True
        if after_create:
            after_create()
        attempts = {nd.idx: 0 for nd in self.nodes}
        failures = []
        t0 = time.monotonic()
        deadline = t0 + 60 + 2.0 * self.n
        waves = 0
        for _ in range(4 * max(1, math.ceil(math.log2(self.n))) + 8):
            pending = [nd for nd in self.nodes if not nd.joined and attempts[nd.idx] < 3]
            if not pending or time.monotonic() > deadline:
                break
            joined = [nd for nd in self.nodes if nd.joined]
            self.rng.shuffle(joined)
            pairs = list(zip(joined, pending))
            waves += 1

            def pair(p):
                inviter, joiner = p
                attempts[joiner.idx] += 1
                rc, code, err = self.cli(inviter, "room", "invite", ROOM)
                if rc != 0 or not code.startswith("rumor-invite:"):
                    return "invite by node %d failed (%d): %s" % (inviter.idx, rc, err)
                rc, out, err = self.cli(joiner, "room", "join", code,
                                        timeout=bench_mesh.JOIN_TIMEOUT)
                if rc != 0:
                    return "node %d joining via node %d failed (%d): %s" % (
                        joiner.idx, inviter.idx, rc, err)
                joiner.joined = True
                return None

            errs = [e for e in self.pmap(pair, pairs, self.join_pool) if e]
            failures += errs
            for e in errs:
                log("join: " + e)
        missing = [nd.idx for nd in self.nodes if not nd.joined]
        if missing:
            raise bench_mesh.BenchError("%d nodes could not join (e.g. %s); errors: %s"
                                        % (len(missing), missing[:10], failures[:3]))
        return {"waves": waves, "join_s": round(time.monotonic() - t0, 2),
                "join_failures": failures}


def window_figures(rows, published, window, n, deadline_ms, victim=None):
    """Delivery and latency of the messages published in `window` (1 or 2)."""
    ids = {i for i, s in published.items() if s["window"] == window}
    lat = sorted(r[2] - r[3] for r in rows if r[1] in ids)
    in_time = sum(1 for x in lat if x <= deadline_ms)
    expected = len(ids) * (n - 1)
    out = {"published": len(ids), "expected": expected, "delivered": len(lat),
           "delivered_in_time": in_time,
           "delivery": round(in_time / expected, 5) if expected else None,
           "delivery_end": round(len(lat) / expected, 5) if expected else None,
           "p50_ms": percentile(lat, 50), "p90_ms": percentile(lat, 90),
           "p99_ms": percentile(lat, 99), "max_ms": lat[-1] if lat else None}
    if victim is not None:
        vl = sorted(r[2] - r[3] for r in rows if r[1] in ids and r[0] == victim)
        out["victim_delivered"] = len(vl)
        out["victim_delivery"] = (round(sum(1 for x in vl if x <= deadline_ms) / len(ids), 5)
                                  if ids else None)
        out["victim_delivery_end"] = round(len(vl) / len(ids), 5) if ids else None
        out["victim_p99_ms"] = percentile(vl, 99)
    return out


def deltas(a, b, only=None):
    """Sum over nodes (or node `only`) of each counter's change between two snapshots."""
    out = {}
    for key in COUNTERS:
        tot, have = 0, False
        for i, (x, y) in enumerate(zip(a["nodes"], b["nodes"])):
            if only is not None and i != only:
                continue
            if x["stats"] is None or y["stats"] is None or key not in y["stats"]:
                continue
            have = True
            tot += y["stats"][key] - x["stats"].get(key, 0)
        if have:
            out[key] = tot
    return out


def fanout(a, b):
    """Per node: EVENT frames it pushed / events it took in or published in the window, about
    its mesh degree (minus one for relayed events): how many peers its pushes reach."""
    out = []
    for x, y in zip(a["nodes"], b["nodes"]):
        if x["stats"] is None or y["stats"] is None:
            continue
        d = {k: y["stats"].get(k, 0) - x["stats"].get(k, 0)
             for k in ("forwarded", "delivered", "published")}
        if d["delivered"] + d["published"]:
            out.append(d["forwarded"] / (d["delivered"] + d["published"]))
    if not out:
        return None
    per = [round(x, 2) for x in out]
    out.sort()
    return {"mean": round(statistics.mean(out), 2), "min": round(out[0], 2),
            "max": round(out[-1], 2), "per_node": per}


def binary_keys(path):
    """Config keys named score_* in the binary (what this build of the node accepts)."""
    import re
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return set()
    return {m.decode() for m in re.findall(rb"score_[a-z0-9_]+", data)}


def peers_view(mesh, hostile_keys):
    """Per honest node: (peers, hostile peers) from `peers --json`; and the raw list per node."""
    def one(node):
        js, _ = mesh.cli_json(node, "peers", "--json")
        return js
    views = mesh.pmap(one, mesh.nodes)
    counts = []
    for js in views:
        lst = js if isinstance(js, list) else (js or {}).get("peers", []) if js else []
        counts.append((len(lst), sum(1 for p in lst if p.get("id") in hostile_keys)))
    return counts, views


def score_summary(view, hostile_keys):
    """Mean score of hostile and honest peers in one node's `peers --json` (when it has one)."""
    lst = view if isinstance(view, list) else (view or {}).get("peers", []) if view else []
    h = [p["score"] for p in lst if isinstance(p.get("score"), (int, float))
         and p.get("id") in hostile_keys]
    o = [p["score"] for p in lst if isinstance(p.get("score"), (int, float))
         and p.get("id") not in hostile_keys]
    if not h and not o:
        return None
    return {"hostile_mean": round(statistics.mean(h), 2) if h else None,
            "hostile_min": round(min(h), 2) if h else None,
            "honest_mean": round(statistics.mean(o), 2) if o else None,
            "honest_min": round(min(o), 2) if o else None}


def run_one(args, scenario, score, rng, binary):
    n = args.nodes
    h = 0 if scenario == "none" else (args.eclipse_hostile if scenario == "eclipse"
                                      else args.hostile)
    res = {"scenario": scenario, "score": score, "nodes": n, "hostile": h,
           "hostile_share": round(h / (n + h), 3), "rate": args.rate,
           "publishers": min(args.publishers, n), "window_s": args.window,
           "deadline_s": args.deadline, "deaths": []}
    res.update(binary)
    if args.quiet_wait > 0:
        waited, quiet = bench_mesh.wait_quiet(args.quiet_wait)
        res["quiet_wait_s"], res["quiet_before"] = round(waited, 1), quiet
    res.update(bench_mesh.machine_state())
    sets = [("score", "true" if score == "on" else "false")]
    sets += args.set
    res["config"] = dict(sets)
    margs = SimpleNamespace(rumor=args.rumor, set=sets, bootstrap=args.bootstrap,
                            join_concurrency=0)
    mesh = AttackMesh(margs, n, rng)
    swarm = None
    victim = n - 1 if scenario == "eclipse" else None
    seeds = [os.urandom(32).hex() for _ in range(h)]
    hostile_keys = {public_key(bytes.fromhex(s)) for s in seeds}
    # Bound on the swarm's life: set-up, both windows, drain, and a margin.
    swarm_max = 120 + 3 * n + 2 * args.window + args.ramp + args.drain + args.settle
    t_run = time.monotonic()

    def add_members():
        t = time.monotonic()
        for pk in sorted(hostile_keys):
            rc, out, err = mesh.cli(mesh.nodes[0], "room", "invite", ROOM, "--member", pk)
            if rc != 0:
                raise bench_mesh.BenchError("member add of %s failed: %s" % (pk[:8], err))
        res["member_adds_s"] = round(time.monotonic() - t, 2)

    def start_swarm(mode):
        targets = [[nd.id, nd.host, nd.port] for nd in mesh.nodes]
        if scenario == "eclipse":
            links = [[victim] for _ in range(h)]
        else:
            k = n if args.links <= 0 else min(args.links, n)
            links = [sorted(rng.sample(range(n), k)) for _ in range(h)]
        return Swarm(mesh.base, seeds, targets, links, res["topic"], mode, args, swarm_max)

    try:
        log("%s/score %s: %d honest nodes, %d hostile identities" % (scenario, score, n, h))
        mesh.create_homes()
        mesh.start_nodes()

        def after_create():
            info, err = mesh.cli_json(mesh.nodes[0], "room", "info", ROOM, "--json")
            if not info or "id" not in info:
                raise bench_mesh.BenchError("room info failed: %s" % err)
            res["topic"] = info["id"]
            if h:
                add_members()
            nonlocal swarm
            if h and scenario in EARLY:
                swarm = start_swarm("behave" if scenario == "covert" else "withhold")

        res.update(mesh.form_room(after_create))
        log("%s/score %s: joined in %.1f s; settling %.1f s" % (scenario, score, res["join_s"],
                                                                  args.settle))
        time.sleep(args.settle)
        t = time.monotonic()
        members = []
        for _ in range(int(args.converge) + 2):
            members = mesh.members_seen()
            if all(m == n + h for m in members) or time.monotonic() - t >= args.converge:
                break
            time.sleep(1.0)
        res["converge_s"] = round(time.monotonic() - t, 2)
        res["nodes_seeing_all_members"] = sum(1 for m in members if m == n + h)
        if res["nodes_seeing_all_members"] != n:
            log("warning: %d of %d nodes count %d members: %s" % (
                res["nodes_seeing_all_members"], n, n + h, members))
        if h and swarm is None:
            swarm = start_swarm("off")
        res["deaths"] += mesh.check_alive("setup")
        p = res["publishers"]
        publishers = [mesh.nodes[(i * n) // p] for i in range(p)]
        assert victim is None or victim not in [x.idx for x in publishers]
        res["setup_s"] = round(time.monotonic() - t_run, 1)

        # ---- W1 --------------------------------------------------------------------------
        snap0 = mesh.snapshot()
        if swarm:
            res["swarm_w1_start"] = swarm.stats()
        log("%s/score %s: W1, %.0f msg/s for %.0f s" % (scenario, score, args.rate, args.window))
        sends1, _ = mesh.publish(publishers, args.rate, args.window)
        for s in sends1:
            s["window"] = 1
        # ---- the attack starts (or flips) ------------------------------------------------
        snap1 = mesh.snapshot()
        pv1, _ = peers_view(mesh, hostile_keys) if h else ([], None)
        if swarm:
            res["swarm_w1_end"] = swarm.stats()
            if scenario in ("sybil", "eclipse", "covert"):
                swarm.command("mode withhold")
        ramp = args.ramp if scenario in ("sybil", "eclipse") else 0.0
        if ramp:
            # At least --ramp s, and until 90% of the swarm's links have the node's HELLO
            # (bounded: 10 s more at most).
            t_ramp = time.monotonic()
            time.sleep(ramp)
            for _ in range(20):
                st = swarm.stats() or {}
                if (st.get("links_up", 0) >= 0.9 * st.get("links", 1)
                        or time.monotonic() - t_ramp > ramp + 10):
                    break
                time.sleep(0.5)
            res["ramp_s"] = round(time.monotonic() - t_ramp, 2)
        snap1b = mesh.snapshot() if ramp else snap1
        if swarm:
            res["swarm_w2_start"] = swarm.stats()
        log("%s/score %s: W2, %.0f msg/s for %.0f s" % (scenario, score, args.rate, args.window))
        sends2, _ = mesh.publish(publishers, args.rate, args.window)
        for s in sends2:
            s["window"] = 2
        time.sleep(args.drain)
        snap2 = mesh.snapshot()
        pv2, views2 = peers_view(mesh, hostile_keys) if h else ([], None)
        if swarm:
            res["swarm_w2_end"] = swarm.stats()
        res["deaths"] += mesh.check_alive("end")

        # ---- figures ---------------------------------------------------------------------
        sends = sends1 + sends2
        published = {s["id"]: s for s in sends if s.get("id")}
        res["send_failures"] = sum(1 for s in sends if not s.get("id"))
        rows, have, _, _, _ = mesh.read_traces(published)
        dl = args.deadline * 1000.0
        res["w1"] = window_figures(rows, published, 1, n, dl, victim)
        res["w2"] = window_figures(rows, published, 2, n, dl, victim)
        if h:
            # Deliveries whose copy came from a hostile identity (it relayed: covert's W1).
            for w in (1, 2):
                ids = {i for i, s in published.items() if s["window"] == w}
                res["w%d" % w]["from_hostile"] = sum(1 for r in rows
                                                     if r[1] in ids and r[4] in hostile_keys)
        # The hostiles' real place in honest meshes: EVENT frames pushed to them per message.
        for w, a, b in (("w1", "swarm_w1_start", "swarm_w1_end"),
                        ("w2", "swarm_w2_start", "swarm_w2_end")):
            sa, sb = res.get(a) or {}, res.get(b) or {}
            if sa and sb and res[w]["published"]:
                res[w]["hostile_pushes_per_msg"] = round(
                    (sb.get("events_in", 0) - sa.get("events_in", 0)) / res[w]["published"], 2)
        res["w1"]["counters"] = deltas(snap0, snap1)
        res["w2"]["counters"] = deltas(snap1b, snap2)
        res["w1"]["fanout"] = fanout(snap0, snap1)
        res["w2"]["fanout"] = fanout(snap1b, snap2)
        if victim is not None:
            vs = [snap["nodes"][victim] for snap in (snap0, snap1, snap1b, snap2)]
            for w, (a, b) in (("w1", (0, 1)), ("w2", (2, 3))):
                one = fanout({"nodes": [vs[a]]}, {"nodes": [vs[b]]})
                res[w]["victim_fanout"] = one and one["mean"]
            res["w1"]["victim_counters"] = deltas(snap0, snap1, victim)
            res["w2"]["victim_counters"] = deltas(snap1b, snap2, victim)
        if h:
            res["hostile_peers_w1_end"] = {"per_node_mean": round(statistics.mean(
                c[1] for c in pv1), 2), "max": max(c[1] for c in pv1)} if pv1 else None
            res["hostile_peers_end"] = {"per_node_mean": round(statistics.mean(
                c[1] for c in pv2), 2), "max": max(c[1] for c in pv2)} if pv2 else None
            res["peers_end"] = [c[0] for c in pv2]
            if victim is not None and pv2:
                res["victim_peers_end"] = {"peers": pv2[victim][0], "hostile": pv2[victim][1]}
            sc = [score_summary(v, hostile_keys) for v in (views2 or [])]
            sc = [x for x in sc if x]
            if sc:
                res["scores_end"] = {
                    k: (round(statistics.mean(x[k] for x in sc if x[k] is not None), 2)
                        if any(x[k] is not None for x in sc) else None)
                    for k in ("hostile_mean", "honest_mean")}
                if victim is not None:
                    res["victim_scores_end"] = score_summary(views2[victim], hostile_keys)
    except bench_mesh.BenchError as e:
        res["error"] = str(e)
        res["deaths"] += mesh.check_alive("error")
        log("%s/score %s: FAILED: %s" % (scenario, score, e))
    finally:
        if swarm:
            res["swarm_final"] = swarm.stop()
            if swarm.proc.returncode not in (0, None):
                res["swarm_stderr"] = swarm.stderr_tail()
        mesh.close(keep_logs=args.keep_logs and os.path.join(
            args.keep_logs, "%s-score-%s" % (scenario, score)))
    res["run_s"] = round(time.monotonic() - t_run, 1)
    return res


def fmt(v, spec):
    return "-" if v is None else spec.format(v)


def table(results):
    lines = ["| scenario | honest nodes | hostile (share) | score | delivery before / during "
             "| p99 ms before / during | victim delivery before / during "
             "| pushes to hostiles per msg before / during |",
             "|---|---:|---:|---|---|---|---|---|"]
    for r in results:
        if r.get("error"):
            lines.append("| %s | %d | %d | %s | failed: %s | | | |" % (
                r["scenario"], r["nodes"], r["hostile"], r["score"], r["error"][:60]))
            continue
        w1, w2 = r["w1"], r["w2"]
        vic = "-"
        if r["scenario"] == "eclipse":
            vic = "%s / %s" % (fmt(w1.get("victim_delivery"), "{:.4f}"),
                               fmt(w2.get("victim_delivery"), "{:.4f}"))
        push = "-"
        if r["hostile"]:
            push = "%s / %s" % (fmt(w1.get("hostile_pushes_per_msg"), "{:.1f}"),
                                fmt(w2.get("hostile_pushes_per_msg"), "{:.1f}"))
        lines.append("| %s | %d | %d (%.0f%%) | %s | %s / %s | %s / %s | %s | %s |" % (
            r["scenario"], r["nodes"], r["hostile"], 100 * r["hostile_share"], r["score"],
            fmt(w1["delivery"], "{:.4f}"), fmt(w2["delivery"], "{:.4f}"),
            fmt(w1["p99_ms"], "{:.0f}"), fmt(w2["p99_ms"], "{:.0f}"), vic, push))
    return "\n".join(lines)


def compact(r):
    """The JSON summary's line per run (the full record goes to --json)."""
    keys = ("scenario", "score", "nodes", "hostile", "hostile_share", "loadavg_1m_before",
            "ramp_s", "error")
    out = {k: r[k] for k in keys if k in r}
    for w in ("w1", "w2"):
        if w in r:
            out[w] = {k: r[w].get(k) for k in ("published", "delivery", "delivery_end",
                                                "p50_ms", "p99_ms", "victim_delivery",
                                                "victim_p99_ms", "from_hostile",
                                                "hostile_pushes_per_msg", "victim_fanout")
                      if r[w].get(k) is not None}
    for w in ("w1", "w2"):
        fo = (r.get(w) or {}).get("fanout")
        if fo:
            out[w]["fanout"] = {k: fo[k] for k in ("mean", "min", "max")}
    sw = r.get("swarm_w2_end") or {}
    if sw:
        out["swarm_w2_end"] = {k: sw.get(k) for k in ("links", "links_up", "links_named",
                                                       "links_meshed", "graft_out", "prune_in",
                                                       "iwant_ignored", "redials", "cpu_s")}
    for k in ("hostile_peers_end", "victim_peers_end", "scores_end", "victim_scores_end"):
        if r.get(k) is not None:
            out[k] = r[k]
    return out


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary", nargs="?", metavar="RUMOR",
                    default=os.path.join(HERE, "..", "build", "rumor"))
    ap.add_argument("--nodes", type=int, default=20, help="honest nodes")
    ap.add_argument("--hostile", type=int, default=20, help="hostile identities (sybil, covert, "
                                                             "coldboot)")
    ap.add_argument("--eclipse-hostile", type=int, help="hostile identities for the eclipse "
                                                        "(default: --hostile)")
    ap.add_argument("--scenarios", default="sybil,eclipse,covert,coldboot",
                    help="comma-separated of " + ",".join(SCENARIOS))
    ap.add_argument("--score", default="off,on", help="off, on or off,on")
    ap.add_argument("--rate", type=float, default=10.0, help="messages per second, in total")
    ap.add_argument("--publishers", type=int, default=4)
    ap.add_argument("--window", type=float, default=10.0, help="seconds of each window")
    ap.add_argument("--ramp", type=float, default=3.0,
                    help="sybil, eclipse: seconds between the swarm's start and W2")
    ap.add_argument("--drain", type=float, default=5.0)
    ap.add_argument("--deadline", type=float, default=5.0,
                    help="a delivery counts if it comes within this many s of the signature")
    ap.add_argument("--settle", type=float, default=3.0)
    ap.add_argument("--converge", type=float, default=15.0)
    ap.add_argument("--bootstrap", type=int, default=3)
    ap.add_argument("--links", type=int, default=0,
                    help="honest nodes each hostile identity dials (0: all; not for eclipse)")
    ap.add_argument("--fake-ihave", type=int, default=8,
                    help="made-up ids per IHAVE per heartbeat while withholding (0: none)")
    ap.add_argument("--graft-ms", type=int, default=500)
    ap.add_argument("--same-src", action="store_true",
                    help="hostile identities dial from 127.0.0.1 (default: 127.0.1.K each)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra node config line (also score_* keys once they exist)")
    ap.add_argument("--quiet-wait", type=float, default=0.0, metavar="S",
                    help="before each run wait up to S s for no other rumor process and cores "
                         "under 20%% busy (shared machines)")
    ap.add_argument("--json", help="write every run's full record here")
    ap.add_argument("--keep-logs")
    ap.add_argument("--seed", type=int)
    a = ap.parse_args(argv)
    a.rumor = os.path.abspath(a.binary)
    if not os.access(a.rumor, os.X_OK):
        ap.error("not an executable: %s" % a.rumor)
    a.scenarios = [s.strip() for s in a.scenarios.split(",") if s.strip()]
    if any(s not in SCENARIOS for s in a.scenarios):
        ap.error("scenarios are %s" % ", ".join(SCENARIOS))
    a.scores = [s.strip() for s in a.score.split(",") if s.strip()]
    if any(s not in ("off", "on") for s in a.scores):
        ap.error("--score takes off, on or off,on")
    if a.eclipse_hostile is None:
        a.eclipse_hostile = a.hostile
    if not (2 <= a.nodes <= 100 and 0 <= a.hostile <= 250 and 0 <= a.eclipse_hostile <= 250):
        ap.error("need 2 <= nodes <= 100 and 0 <= hostile <= 250")
    if not (0 < a.window <= 60 and a.rate > 0 and a.publishers >= 1 and 0 <= a.ramp <= 30):
        ap.error("need 0 < window <= 60, rate > 0, publishers >= 1, 0 <= ramp <= 30")
    if not 0 <= a.fake_ihave <= 64:
        ap.error("--fake-ihave is 0..64")
    sets = []
    for s in a.set:
        k, sep, v = s.partition("=")
        if not sep or not k.strip():
            ap.error("--set wants KEY=VALUE: %r" % s)
        sets.append((k.strip(), v.strip()))
    a.set = sets
    return a


def main(argv):
    args = parse_args(argv)
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        print("bench_attack: %s (with python3-zmq) is needed for the swarm" % SYSTEM_PYTHON,
              file=sys.stderr)
        return 1
    rng, binary = bench_mesh.bench_start(args)
    args.keys = binary_keys(args.rumor)
    binary["score_keys"] = sorted(args.keys)
    results = []
    try:
        for scenario in args.scenarios:
            for score in args.scores:
                r = run_one(args, scenario, score, rng, binary)
                results.append(r)
                print(json.dumps(compact(r)), flush=True)
    except KeyboardInterrupt:
        log("interrupted")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    print("\n=== summary (JSON) ===")
    print(json.dumps([compact(r) for r in results], indent=1))
    print("\n=== summary ===")
    print(table(results))
    print("\nnotes: delivery = deliveries to honest nodes (author excluded) within %.0f s of the"
          % args.deadline)
    print("       author's signature / (published x (N - 1)), per window of %.0f s at %.0f msg/s;"
          % (args.window, args.rate))
    print("       p99 over the deliveries (t_ms - ts, ms). coldboot: both windows are under "
          "attack.")
    return 0 if results and not any(r.get("error") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
