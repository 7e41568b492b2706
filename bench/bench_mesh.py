#!/usr/bin/env python3
"""bench_mesh.py - end-to-end benchmark of a local rumor mesh (python3 stdlib only).

What it measures
----------------
For each mesh size N it starts N `rumor node` processes on 127.0.0.1 (every one
with --no-lan, so nothing leaves the loopback interface), joins them all to one
room, lets the mesh settle, and then publishes messages at a fixed total rate,
round-robin from a few publisher nodes, for a fixed time. It reports:

  published              messages whose `rumor send` printed an id
  expected deliveries    published x (N - 1)
  delivered              deliveries of published ids at nodes other than the
                         author, read from every node's trace file
  delivery ratio         delivered / expected
  latency p50/p90/p99/max (ms)
                         per delivery: t_ms (receiver's wall clock when it stored
                         the event) - ts (author's wall clock when the sending CLI
                         signed it). ts is taken inside `rumor send` after it has
                         started and opened its store, so this latency includes
                         the CLI's own durable commit and its hand-off to its node
                         over the control socket. The process start-up before the
                         signature is reported separately (spawn->ts), and the
                         full spawn->delivery figure includes it.
  duplicates / delivery  sum of delta `duplicates` / sum of delta `delivered` over
                         all nodes between the snapshots that bracket the
                         publish window (publishing plus drain)
  CPU ms / delivery      sum over all node processes of delta (utime + stime)
                         from /proc/PID/stat over the same window, divided by
                         the deliveries counted above (the sending CLIs' CPU is
                         reported separately, per message, and so is the share
                         of the machine's cores that was busy, from /proc/stat,
                         and the part of it that was not this benchmark's:
                         foreign_cpu_share, other work competing for the cores)
  RSS per node (idle)    VmRSS from /proc/PID/status of every node after the
                         mesh has settled and before publishing: median and max
                         (the JSON also has the medians of RssAnon, RssFile, and
                         of PSS and USS from /proc/PID/smaps_rollup; RssFile
                         counts the shared libraries' pages in full, PSS
                         divides shared pages among the processes using them)
  frames, bytes / node / message
                         sum of delta frames_out (bytes_out; frames_in and
                         bytes_in too) / N / published. These include the
                         heartbeat traffic (PING/PONG, IHAVE, PEERS) of the
                         window; an idle baseline is measured just before
                         publishing and the figure net of it is shown as well.

Diagnostics printed beside them: the per-message earliest delivery (the
author's hand-off plus one hop) and each delivery's lag behind it (spread),
the sending CLI's time from signature to exit, the idle baseline (CPU, frames
per node per second), how many nodes count all N members, counter deltas
(queue_drops, missing_parent, invalid, ...), which nodes missed messages or
dropped events for missing parents, and node deaths with their log tails.

All node processes and sending CLIs share the machine's CPU cores (2 on the
reference machine), so latency and CPU include scheduling contention.

How
---
1. `rumor --home H init --no-passphrase` for N short temporary homes under /tmp.
2. Start the nodes one after the other: `rumor --home H node --listen
   127.0.0.1:PORT --no-lan --peer PK@127.0.0.1:PORT ... --config FILE`, with
   --bootstrap links to random earlier nodes; the config sets log_level = warn
   and a per-node trace_file. Each is started once the previous one's
   `status --json` says running (and gives the pid), so every --peer target
   already listens.
3. Node 0 runs `room create bench`. Joins go in waves: every member invites one
   node that is not yet a member (`room invite bench` / `room join CODE`), all
   pairs of a wave concurrently, so membership doubles each wave
   (--join-concurrency caps the joins per wave; 1 joins one node at a time).
4. Sleep --settle seconds, then wait (at most --converge seconds) until every
   node's `room info bench --json` counts N members; publishing goes ahead
   either way and the laggards are reported. Snapshot stats and CPU, sleep
   --idle seconds (idle baseline), measure RSS, snapshot again.
5. Publish --rate messages/s for --duration seconds, round-robin over
   --publishers nodes, spawning `rumor send` with Popen against a monotonic
   schedule (never blocking on a send), recording each printed id.
6. Wait for the sends to finish, sleep --drain seconds, snapshot again, read
   every trace file, compute and print the figures.
7. Always (finally): SIGTERM every node, SIGKILL what is left after a grace
   period, kill stray CLIs, remove the temporary directory.

Every wait is bounded in time and every loop in count.

Usage
-----
  bench/bench_mesh.py [--rumor PATH] [--nodes N] [--rate R] [--publishers P]
                      [--duration S] [--settle S] [--drain S] [--bootstrap K]
                      [--json FILE] [--sweep 50,100,150,200] [--repeat K]
                      [--converge S] [--idle S] [--join-concurrency K]
                      [--set key=value]... [--keep-logs DIR] [--seed S]
                      [--quiet-wait S]

  --set adds node config lines (d, d_lo, d_hi, d_lazy, heartbeat_ms,
  peers_target, peers_max, log_level, ...); later lines override earlier ones.
  --json writes one object for a single run, else a list (one object per run,
  so one per N for --sweep). A sweep stops at the first N whose set-up fails.
  Exit status 0 when every run completed its set-up, 1 otherwise.
"""

import argparse
import concurrent.futures as futures
import hashlib
import json
import math
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import rumorlab  # noqa: E402  (Node, free_ports, ...: the harness the tests use too)

ROOM = "bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
CLI_TIMEOUT = 20.0        # s, any short CLI call (status, stats, invite, init)
JOIN_TIMEOUT = 30.0       # s, one `room join`; a node gets 3 attempts, each with a random inviter
SEND_TIMEOUT = 30.0       # s, one `rumor send` after its scheduled start
MAX_OUTSTANDING = 256     # sends in flight at once; beyond it the schedule slips (reported)
UNIX_PATH_MAX = 107


class BenchError(Exception):
    """A failure that stops one experiment (setup could not complete)."""


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def wall_ms():
    return time.time() * 1000.0


def percentile(sorted_vals, p):
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_vals:
        return None
    k = max(1, math.ceil(p / 100.0 * len(sorted_vals)))
    return sorted_vals[min(k, len(sorted_vals)) - 1]


class Node(rumorlab.Node):
    """Node idx: the home `path` (its log, trace and config inside), on 127.0.0.1:port."""

    def __init__(self, rumor, idx, path, port):
        super().__init__(rumor, path, name="n%d" % idx, port=port,
                         log_path=os.path.join(path, "node.log"))
        self.idx = idx
        self.pid = None            # from status --json
        self.trace_path = os.path.join(path, "trace.jsonl")
        self.conf_path = os.path.join(path, "node.conf")
        self.joined = False

    def log_tail(self, lines=8):
        return rumorlab.tail(self.log_path, lines)


class Mesh:
    """N nodes in a temporary directory; always torn down by close()."""

    def __init__(self, args, n, rng):
        self.args = args
        self.rumor = args.rumor
        self.n = n
        self.rng = rng
        self.base = rumorlab.tmp_root("rbm")
        self.nodes = []
        self.clis = []             # Popen of `rumor send` CLIs that may still run
        self.dead = set()          # indices of nodes already reported dead
        self.pool = futures.ThreadPoolExecutor(max_workers=16)        # short CLI calls
        self.join_pool = futures.ThreadPoolExecutor(max_workers=64)   # a wave's joins

    # ---- CLI helpers ------------------------------------------------------
    def cli(self, node, *argv, timeout=CLI_TIMEOUT):
        """Runs `rumor --home H argv...`; returns (rc, stdout, stderr), stripped."""
        rc, out, err = node.cli(*argv, timeout=timeout)
        return rc, out.strip(), err.strip()

    def cli_json(self, node, *argv, timeout=CLI_TIMEOUT):
        rc, out, err = self.cli(node, *argv, timeout=timeout)
        if rc != 0:
            return None, err or ("exit %d" % rc)
        try:
            return json.loads(out), None
        except ValueError as e:
            return None, "bad JSON (%s): %.200s" % (e, out)

    def pmap(self, fn, items, pool=None):
        return list((pool or self.pool).map(fn, items))

    # ---- set-up -------------------------------------------------------------
    def create_homes(self):
        ports = rumorlab.free_ports(self.n, self.rng, error=BenchError)
        for i in range(self.n):
            home = os.path.join(self.base, "n%d" % i)
            if len(os.path.join(home, "node.sock")) > UNIX_PATH_MAX:
                raise BenchError("control socket path too long: %s" % home)
            self.nodes.append(Node(self.rumor, i, home, ports[i]))

        def init(node):
            rc, out, err = self.cli(node, "init", "--no-passphrase")
            words = out.split()
            if rc != 0 or not words or len(words[-1]) != 64:
                return "node %d: init failed (%d): %s %s" % (node.idx, rc, out, err)
            node.id = words[-1]
            return None

        errs = [e for e in self.pmap(init, self.nodes) if e]
        if errs:
            raise BenchError("; ".join(errs[:3]))
        for node in self.nodes:
            rumorlab.write_config(node.conf_path, [("log_level", "warn"),
                                                   ("trace_file", node.trace_path)] + self.args.set)

    def start_nodes(self):
        """Starts the nodes one at a time, each once the previous one answers `status`:
        a node's --peer targets are then already listening. (A dial to a port that is not
        listening yet fails, and the node retries it only after a back-off.)"""
        deadline = time.monotonic() + 30 + 0.5 * self.n
        for node in self.nodes:
            earlier = self.nodes[:node.idx]
            peers = self.rng.sample(earlier, min(self.args.bootstrap, len(earlier)))
            node.launch(peers=peers, config=node.conf_path, log_mode="wb")
            wait = min(deadline, time.monotonic() + 10) - time.monotonic()
            st = node.wait_running(timeout=max(0.0, wait), interval=0.01, cli_timeout=5)
            if st is None and not node.alive():
                self.dead.add(node.idx)  # reported here, once, not again by check_alive
                raise BenchError("node %d exited (%s) while starting: %s"
                                 % (node.idx, node.proc.returncode, node.log_tail().strip()))
            if st is None or not st.get("pid"):
                raise BenchError("node %d not ready in time: %s" % (node.idx, node.log_tail()))
            node.pid = int(st["pid"])
        mism = [nd.idx for nd in self.nodes if nd.pid != nd.proc.pid]
        if mism:
            log("note: status pid differs from the spawned pid for nodes %s" % mism[:10])

    def form_room(self):
        """Creates the room on node 0, then joins everyone in doubling waves."""
        rc, out, err = self.cli(self.nodes[0], "room", "create", ROOM)
        if rc != 0:
            raise BenchError("room create failed: %s %s" % (out, err))
        self.nodes[0].joined = True
        attempts = {nd.idx: 0 for nd in self.nodes}
        failures = []
        t0 = time.monotonic()
        deadline = t0 + 60 + 2.0 * self.n
        waves = 0
        max_waves = 4 * max(1, math.ceil(math.log2(self.n))) + 8
        if self.args.join_concurrency > 0:
            max_waves += 3 * self.n // self.args.join_concurrency
        for _ in range(max_waves):
            pending = [nd for nd in self.nodes if not nd.joined and attempts[nd.idx] < 3]
            if not pending or time.monotonic() > deadline:
                break
            joined = [nd for nd in self.nodes if nd.joined]
            self.rng.shuffle(joined)
            pairs = list(zip(joined, pending))
            if self.args.join_concurrency > 0:
                pairs = pairs[:self.args.join_concurrency]
            waves += 1

            def pair(p):
                inviter, joiner = p
                attempts[joiner.idx] += 1
                rc, code, err = self.cli(inviter, "room", "invite", ROOM)
                if rc != 0 or not code.startswith("rumor-invite:"):
                    return "invite by node %d failed (%d): %s" % (inviter.idx, rc, err)
                rc, out, err = self.cli(joiner, "room", "join", code, timeout=JOIN_TIMEOUT)
                if rc != 0:
                    st, _ = self.cli_json(inviter, "status", "--json", timeout=5)
                    return "node %d joining via node %d failed (%d): %s [inviter has %s peers]" % (
                        joiner.idx, inviter.idx, rc, err, st.get("peers") if st else "?")
                joiner.joined = True
                return None

            errs = [e for e in self.pmap(pair, pairs, self.join_pool) if e]
            failures += errs
            for e in errs:
                log("join: " + e)
        missing = [nd.idx for nd in self.nodes if not nd.joined]
        took = time.monotonic() - t0
        if missing:
            raise BenchError("%d nodes could not join (e.g. %s); errors: %s"
                             % (len(missing), missing[:10], failures[:3]))
        return {"waves": waves, "join_s": round(took, 2), "join_failures": failures}

    # ---- observation --------------------------------------------------------
    def check_alive(self, phase):
        """Node processes that exited since the last check (each reported once). A node never
        started (the start stopped before it) has not died."""
        dead = [nd for nd in self.nodes
                if nd.proc is not None and not nd.alive() and nd.idx not in self.dead]
        self.dead.update(nd.idx for nd in dead)
        if dead:
            for nd in dead[:3]:
                log("node %d DIED (exit %s) during %s; log tail:\n%s"
                    % (nd.idx, nd.proc.returncode, phase, nd.log_tail()))
        return [{"node": nd.idx, "exit": nd.proc.returncode, "phase": phase,
                 "log_tail": nd.log_tail()} for nd in dead]

    def members_seen(self):
        def one(node):
            info, _ = self.cli_json(node, "room", "info", ROOM, "--json")
            return info.get("members") if info else None
        return self.pmap(one, self.nodes)

    def cpu_ms(self, node):
        return rumorlab.cpu_ms(node.pid)

    def rss_mib(self, node):
        """{VmRSS, RssAnon, RssFile, RssShmem} in MiB from /proc/PID/status, plus Pss and
        Uss (Private_Clean + Private_Dirty) from /proc/PID/smaps_rollup ({} if gone)."""
        out = {}
        try:
            with open("/proc/%d/status" % node.pid) as f:
                for line in f:
                    key = line.split(":", 1)[0]
                    if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                        out[key] = int(line.split()[1]) / 1024.0
            with open("/proc/%d/smaps_rollup" % node.pid) as f:
                for line in f:
                    key = line.split(":", 1)[0]
                    if key == "Pss":
                        out["RssPss"] = int(line.split()[1]) / 1024.0
                    elif key in ("Private_Clean", "Private_Dirty"):
                        out["RssUss"] = out.get("RssUss", 0.0) + int(line.split()[1]) / 1024.0
        except (OSError, ValueError, IndexError):
            pass
        return out

    def snapshot(self):
        """Stats of every node plus its CPU time; the CPU is read right after its stats."""
        def one(node):
            st, err = self.cli_json(node, "stats", "--json")
            return {"stats": st, "err": err, "cpu_ms": self.cpu_ms(node)}
        t = time.monotonic()
        snap = self.pmap(one, self.nodes)
        bad = [(nd.idx, s["err"]) for nd, s in zip(self.nodes, snap) if s["stats"] is None]
        if bad:
            log("stats failed on %d nodes, e.g. %s" % (len(bad), bad[:3]))
        return {"t": t, "t_end": time.monotonic(), "nodes": snap}

    # ---- publishing ---------------------------------------------------------
    def publish(self, publishers, rate, duration):
        """Spawns `rumor send` at a fixed rate; returns the list of send records."""
        total = int(round(rate * duration))
        sends = []           # dicts: k, node, due, lag_ms, spawn_wall_ms, id, rc, err
        inflight = []        # (record, Popen)
        max_inflight = 0

        def reap():
            """Collects finished sends; kills one running SEND_TIMEOUT past its due time."""
            still = []
            for rec, p in inflight:
                if p.poll() is None:
                    if time.monotonic() > rec["due_mono"] + SEND_TIMEOUT:
                        p.kill()
                        p.wait()
                        rec["rc"], rec["err"] = -9, "killed after %.0f s" % SEND_TIMEOUT
                        continue
                    still.append((rec, p))
                    continue
                out, err = p.communicate()
                rec["rc"] = p.returncode
                rec["done_wall_ms"] = wall_ms()
                line = out.strip().split("\n")[-1] if out.strip() else ""
                if p.returncode == 0 and len(line) == 64:
                    rec["id"] = line
                else:
                    rec["err"] = (err or out).strip()[:300]
            inflight[:] = still

        t0 = time.monotonic()
        hard_end = t0 + duration * 3 + 30
        k = 0
        for _ in range(total * 1000 + 10000):      # bounded: each pass spawns or sleeps
            now = time.monotonic()
            if k >= total or now > hard_end:
                break
            due = t0 + k / rate
            if now < due:
                reap()
                time.sleep(min(0.002, max(0.0, due - time.monotonic())))
                continue
            if len(inflight) >= MAX_OUTSTANDING:
                reap()
                time.sleep(0.001)
                continue
            node = publishers[k % len(publishers)]
            rec = {"k": k, "node": node.idx, "due_mono": due,
                   "lag_ms": (now - due) * 1000.0, "spawn_wall_ms": wall_ms()}
            p = subprocess.Popen([self.rumor, "--home", node.path, "send", ROOM,
                                  "bench message %d from node %d" % (k, node.idx)],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            self.clis.append(p)
            inflight.append((rec, p))
            sends.append(rec)
            max_inflight = max(max_inflight, len(inflight))
            k += 1
        publish_s = time.monotonic() - t0
        end = time.monotonic() + SEND_TIMEOUT + 5
        for _ in range(int((SEND_TIMEOUT + 5) / 0.005) + 10):
            reap()
            if not inflight or time.monotonic() > end:
                break
            time.sleep(0.005)
        for rec, p in inflight:        # cannot happen unless the kill above failed
            p.kill()
            rec["rc"], rec["err"] = -9, "still running"
        inflight.clear()
        self.clis = [p for p in self.clis if p.poll() is None]
        return sends, {"scheduled": total, "spawned": k, "publish_s": round(publish_s, 3),
                       "max_inflight": max_inflight}

    # ---- traces ---------------------------------------------------------------
    def read_traces(self, published):
        """published: id -> send record. Returns per-delivery rows (node, id, t_ms, ts, from),
        the nodes holding each id, repeated and unparsable line counts, and the t_ms at
        which each author's own node took in its message (its "self" line)."""
        rows, dup_lines, bad_lines, self_t = [], 0, 0, {}
        have = {i: set() for i in published}
        for node in self.nodes:
            seen = set()
            try:
                f = open(node.trace_path, "r", errors="replace")
            except OSError:
                continue
            with f:
                for line in f:
                    try:
                        ev = json.loads(line)
                    except ValueError:
                        bad_lines += 1
                        continue
                    eid = ev.get("id")
                    if eid not in published:
                        continue
                    if ev.get("author") == node.id:
                        if ev.get("from") == "self":
                            self_t.setdefault(eid, ev["t_ms"])
                        continue
                    if eid in seen:
                        dup_lines += 1
                        continue
                    seen.add(eid)
                    have[eid].add(node.idx)
                    rows.append((node.idx, eid, ev["t_ms"], ev["ts"], ev.get("from")))
        return rows, have, dup_lines, bad_lines, self_t

    # ---- tear-down ----------------------------------------------------------
    def close(self, keep_logs=None):
        procs = [p for p in self.clis if p.poll() is None]
        for p in procs:
            try:
                p.kill()
            except OSError:
                pass
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        live = [nd.proc for nd in self.nodes if nd.proc is not None and nd.proc.poll() is None]
        for p in live:
            try:
                p.send_signal(signal.SIGTERM)
            except OSError:
                pass
        grace = time.monotonic() + 5
        for p in live:
            try:
                p.wait(timeout=max(0.05, grace - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        killed = 0
        for p in live:
            if p.poll() is None:
                killed += 1
                try:
                    p.kill()
                    p.wait(timeout=5)
                except (OSError, subprocess.TimeoutExpired):
                    pass
        if killed:
            log("%d nodes needed SIGKILL after SIGTERM" % killed)
        self.pool.shutdown(wait=True)
        self.join_pool.shutdown(wait=True)
        if keep_logs:
            try:
                os.makedirs(keep_logs, exist_ok=True)
                for nd in self.nodes:
                    store = os.path.join(nd.path, "store", "data.mdb")
                    for src, suffix in ((nd.log_path, "log"), (nd.trace_path, "trace.jsonl"),
                                        (store, "data.mdb")):
                        if os.path.exists(src):
                            shutil.copy(src, os.path.join(keep_logs, "n%d.%s" % (nd.idx, suffix)))
            except OSError as e:
                log("could not keep logs: %s" % e)
        shutil.rmtree(self.base, ignore_errors=True)
        return killed


def machine_cpu():
    """(busy, total, iowait, irq + softirq) jiffies of the whole machine from the first
    line of /proc/stat (user nice system idle iowait irq softirq steal ...)."""
    with open("/proc/stat") as f:
        vals = [int(x) for x in f.readline().split()[1:]] + [0] * 8
    iowait, irq = vals[4], vals[5] + vals[6]
    total = sum(vals[:8])                                     # guest time is inside user
    return total - vals[3] - iowait, total, iowait, irq


def machine_state():
    """Load average and the number of `rumor` processes running now (before a run they
    are someone else's: they share the cores and skew every figure)."""
    procs = 0
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/comm" % d) as f:
                    procs += f.read().strip() == "rumor"
            except OSError:
                pass
    with open("/proc/loadavg") as f:
        load = float(f.read().split()[0])
    return {"loadavg_1m_before": load, "foreign_rumor_procs_before": procs}


def wait_quiet(max_s):
    """Waits (at most max_s seconds) until no `rumor` process runs and the machine's
    cores are less than 20% busy over one second. Returns (seconds waited, quiet?)."""
    t0 = time.monotonic()
    for _ in range(int(max_s / 5) + 2):
        a = machine_cpu()
        time.sleep(1.0)
        b = machine_cpu()
        busy = (b[0] - a[0]) / max(1, b[1] - a[1])
        if machine_state()["foreign_rumor_procs_before"] == 0 and busy < 0.2:
            return time.monotonic() - t0, True
        if time.monotonic() - t0 + 5 > max_s:
            break
        time.sleep(4.0)
    return time.monotonic() - t0, False


def delta(before, after, key):
    total = 0
    for b, a in zip(before["nodes"], after["nodes"]):
        if b["stats"] is None or a["stats"] is None:
            continue
        total += a["stats"].get(key, 0) - b["stats"].get(key, 0)
    return total


def per_node_delta(before, after, key):
    """[(node index, delta of key)] for the nodes with both snapshots."""
    out = []
    for i, (b, a) in enumerate(zip(before["nodes"], after["nodes"])):
        if b["stats"] is not None and a["stats"] is not None:
            out.append((i, a["stats"].get(key, 0) - b["stats"].get(key, 0)))
    return out


def delta_cpu(before, after):
    total = 0.0
    for b, a in zip(before["nodes"], after["nodes"]):
        if b["cpu_ms"] is not None and a["cpu_ms"] is not None:
            total += a["cpu_ms"] - b["cpu_ms"]
    return total


def rnd(x, nd=2):
    return None if x is None else round(x, nd)


def run_one(args, n, rng):
    """One experiment at size n. Returns a result dict (with 'error' on failure)."""
    res = {"nodes": n, "rate": args.rate, "publishers": min(args.publishers, n),
           "duration_s": args.duration, "settle_s": args.settle,
           "converge_max_s": args.converge, "idle_s": args.idle,
           "drain_s": args.drain, "bootstrap": args.bootstrap,
           "join_concurrency": args.join_concurrency, "config": dict(args.set),
           "cores": os.cpu_count(), "deaths": []}
    if args.quiet_wait > 0:
        waited, quiet = wait_quiet(args.quiet_wait)
        res["quiet_wait_s"], res["quiet_before"] = rnd(waited, 1), quiet
        if waited > 1.5:
            log("waited %.0f s for a quiet machine (%s)" % (waited, "quiet" if quiet else
                                                            "gave up"))
    res.update(machine_state())
    if res["foreign_rumor_procs_before"]:
        log("note: %d rumor processes not ours run before the run; other work on the "
            "machine skews the figures (see foreign_cpu_share)"
            % res["foreign_rumor_procs_before"])
    mesh = Mesh(args, n, rng)
    killed = 0
    try:
        log("N=%d: creating %d homes in %s" % (n, n, mesh.base))
        mesh.create_homes()
        log("N=%d: starting nodes" % n)
        t = time.monotonic()
        mesh.start_nodes()
        res["start_s"] = round(time.monotonic() - t, 2)
        log("N=%d: nodes ready in %.1f s; joining the room" % (n, res["start_s"]))
        res.update(mesh.form_room())
        log("N=%d: all joined in %.1f s (%d waves); settling %.1f s"
            % (n, res["join_s"], res["waves"], args.settle))
        time.sleep(args.settle)
        res["deaths"] += mesh.check_alive("settle")
        # Every node must know every member before it can accept their messages: wait
        # (bounded by --converge) until each counts N members, and report who does not.
        t = time.monotonic()
        for _ in range(int(args.converge) + 2):
            members = mesh.members_seen()
            if all(m == n for m in members) or time.monotonic() - t >= args.converge:
                break
            time.sleep(1.0)
        res["converge_s"] = rnd(time.monotonic() - t)
        known = [m for m in members if m is not None]
        res["members_seen_min"] = min(known) if known else None
        res["nodes_seeing_all_members"] = sum(1 for m in members if m == n)
        res["nodes_not_seeing_all_members"] = [
            {"node": i, "members": m} for i, m in enumerate(members) if m != n]
        if res["nodes_seeing_all_members"] != n:
            log("warning: after %.1f s only %d of %d nodes count %d members: %s"
                % (res["converge_s"], res["nodes_seeing_all_members"], n, n,
                   res["nodes_not_seeing_all_members"][:10]))

        idle0 = mesh.snapshot()
        time.sleep(args.idle)
        rss = [mesh.rss_mib(nd) for nd in mesh.nodes]
        snap0 = mesh.snapshot()
        rss_ok = sorted(r["VmRSS"] for r in rss if "VmRSS" in r)
        res["rss_mib_median"] = rnd(statistics.median(rss_ok)) if rss_ok else None
        res["rss_mib_max"] = rnd(max(rss_ok)) if rss_ok else None
        res["rss_mib_min"] = rnd(min(rss_ok)) if rss_ok else None
        for key in ("RssAnon", "RssFile", "RssShmem", "RssPss", "RssUss"):
            vals = [r[key] for r in rss if key in r]
            res["rss_mib_median_" + key[3:].lower()] = (rnd(statistics.median(vals))
                                                         if vals else None)
        idle_s = snap0["t"] - idle0["t"]
        res["idle_frames_out_per_node_s"] = rnd(delta(idle0, snap0, "frames_out") / n / idle_s)
        res["idle_bytes_out_per_node_s"] = rnd(delta(idle0, snap0, "bytes_out") / n / idle_s)
        res["idle_cpu_ms_per_node_s"] = rnd(delta_cpu(idle0, snap0) / n / idle_s, 3)
        res["peers_median"] = statistics.median(
            s["stats"].get("peers", 0) for s in snap0["nodes"] if s["stats"]) \
            if any(s["stats"] for s in snap0["nodes"]) else None

        # Publishers spread over the node list.
        p = res["publishers"]
        publishers = [mesh.nodes[(i * n) // p] for i in range(p)]
        log("N=%d: publishing %.1f msg/s for %.1f s from nodes %s"
            % (n, args.rate, args.duration, [x.idx for x in publishers]))
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        me0 = resource.getrusage(resource.RUSAGE_SELF)
        mc0 = machine_cpu()
        sends, pubinfo = mesh.publish(publishers, args.rate, args.duration)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        res.update(pubinfo)
        log("N=%d: sends done; draining %.1f s" % (n, args.drain))
        time.sleep(args.drain)
        res["deaths"] += mesh.check_alive("publish")
        snap1 = mesh.snapshot()
        mc1 = machine_cpu()
        ru2 = resource.getrusage(resource.RUSAGE_CHILDREN)
        me1 = resource.getrusage(resource.RUSAGE_SELF)
        if mc1[1] > mc0[1]:
            # Share of all cores busy (anything on the machine) over publish + drain, and
            # the share of it that is not ours (nodes, CLIs, this script): other work on
            # the machine competing for the same cores.
            span = mc1[1] - mc0[1]
            res["machine_cpu_busy"] = rnd((mc1[0] - mc0[0]) / span, 3)
            res["machine_iowait"] = rnd((mc1[2] - mc0[2]) / span, 3)
            # Interrupt time (loopback TCP is largely softirq work) is nobody's process
            # time: it is ours as much as anyone's, so it is left out of the foreign share.
            res["machine_irq"] = rnd((mc1[3] - mc0[3]) / span, 3)
            ours_ms = (delta_cpu(snap0, snap1)
                       + (ru2.ru_utime + ru2.ru_stime - ru0.ru_utime - ru0.ru_stime) * 1000.0
                       + (me1.ru_utime + me1.ru_stime - me0.ru_utime - me0.ru_stime) * 1000.0)
            res["foreign_cpu_share"] = rnd(max(0.0, (mc1[0] - mc0[0]) - (mc1[3] - mc0[3])
                                               - ours_ms * CLK_TCK / 1000.0) / span, 3)

        published = {s["id"]: s for s in sends if s.get("id")}
        failed = [s for s in sends if not s.get("id")]
        res["published"] = len(published)
        res["send_failures"] = len(failed)
        if failed:
            res["send_failure_examples"] = sorted({s.get("err", "") for s in failed})[:3]
        lags = sorted(s["lag_ms"] for s in sends)
        res["schedule_lag_ms_p99"] = rnd(percentile(lags, 99))
        res["schedule_lag_ms_max"] = rnd(lags[-1] if lags else None)
        cli_cpu = (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) * 1000.0
        res["send_cli_cpu_ms_per_msg"] = rnd(cli_cpu / len(sends)) if sends else None

        rows, have, dup_lines, bad_lines, self_t = mesh.read_traces(published)
        expected = len(published) * (n - 1)
        delivered = len(rows)
        res["expected"] = expected
        res["delivered"] = delivered
        res["delivery_ratio"] = rnd(delivered / expected, 5) if expected else None
        res["trace_repeated_lines"] = dup_lines
        res["trace_bad_lines"] = bad_lines
        for r in rows:
            published[r[1]]["ts"] = r[3]
        lat = sorted(r[2] - r[3] for r in rows)
        for q in (50, 90, 99):
            res["latency_ms_p%d" % q] = percentile(lat, q)
        res["latency_ms_max"] = lat[-1] if lat else None
        res["latency_ms_mean"] = rnd(statistics.mean(lat)) if lat else None
        # The CLI's start-up before it signs, and the end-to-end figure including it.
        st = sorted(published[i]["spawn_wall_ms"] for i in published)
        pre = sorted(ts - published[eid]["spawn_wall_ms"]
                     for eid, ts in {r[1]: r[3] for r in rows}.items())
        res["spawn_to_ts_ms_p50"] = rnd(percentile(pre, 50))
        res["spawn_to_ts_ms_p99"] = rnd(percentile(pre, 99))
        e2e = sorted(r[2] - published[r[1]]["spawn_wall_ms"] for r in rows)
        res["spawn_to_delivery_ms_p50"] = rnd(percentile(e2e, 50))
        res["spawn_to_delivery_ms_p99"] = rnd(percentile(e2e, 99))
        # Per message: its earliest delivery (author's hand-off plus one hop), and each
        # delivery's lag behind that earliest one (dissemination through the mesh).
        first = {}
        for r in rows:
            lat_r = r[2] - r[3]
            first[r[1]] = min(first.get(r[1], lat_r), lat_r)
        firsts = sorted(first.values())
        spread = sorted(r[2] - r[3] - first[r[1]] for r in rows)
        res["first_delivery_ms_p50"] = percentile(firsts, 50)
        res["first_delivery_ms_p99"] = percentile(firsts, 99)
        res["spread_ms_p50"] = percentile(spread, 50)
        res["spread_ms_p99"] = percentile(spread, 99)
        # The earliest delivery split at the author's own node: signature -> its node
        # takes the message in (CLI commit + hand-off), then -> first other node.
        handoff = sorted(self_t[e] - published[e]["ts"] for e in self_t if "ts" in published[e])
        push1 = sorted(r - self_t[e] for e, r in
                       ((e, first[e] + published[e]["ts"]) for e in first
                        if e in self_t and "ts" in published[e]))
        res["handoff_ms_p50"] = percentile(handoff, 50)
        res["handoff_ms_p99"] = percentile(handoff, 99)
        res["author_node_to_first_ms_p50"] = percentile(push1, 50)
        res["author_node_to_first_ms_p99"] = percentile(push1, 99)
        res["author_node_to_first_ms_max"] = push1[-1] if push1 else None
        # The sending CLI after its signature: durable commit, hand-off, exit (polled).
        tail = sorted(published[eid]["done_wall_ms"] - ts
                      for eid, ts in {r[1]: r[3] for r in rows}.items()
                      if "done_wall_ms" in published[eid])
        res["ts_to_cli_exit_ms_p50"] = rnd(percentile(tail, 50))
        res["ts_to_cli_exit_ms_p99"] = rnd(percentile(tail, 99))
        res["first_spawn_to_last_spawn_s"] = rnd((st[-1] - st[0]) / 1000.0, 3) if st else None

        # Hops: a delivery's sender is a peer that had the message (or its author's node), so a
        # delivery is one hop more than the sender's (bench/sim reports the same histogram).
        by_key = {nd.id: nd.idx for nd in mesh.nodes}
        came = {(r[0], r[1]): by_key.get(r[4]) for r in rows}
        hops = {}

        def hop(idx, eid, depth=0):
            if idx == published[eid]["node"]:
                return 0
            if (idx, eid) in hops:
                return hops[(idx, eid)]
            src = came.get((idx, eid))
            h = None if src is None or depth > 64 else hop(src, eid, depth + 1)
            hops[(idx, eid)] = None if h is None else h + 1
            return hops[(idx, eid)]

        hist = {}
        for r in rows:
            h = hop(r[0], r[1])
            hist[h if h is not None else "unknown"] = hist.get(h if h is not None else "unknown",
                                                               0) + 1
        res["hops_hist"] = {str(k): v for k, v in sorted(hist.items(), key=lambda kv: str(kv[0]))}
        known = sorted(h for h in (hop(r[0], r[1]) for r in rows) if h is not None)
        res["hops_mean"] = rnd(statistics.mean(known)) if known else None
        res["hops_p99"] = percentile(known, 99)

        missing = {eid: n - 1 - len(got) for eid, got in have.items() if len(got) < n - 1}
        res["ids_not_everywhere"] = len(missing)
        if missing:
            lacking = {}
            for eid, got in have.items():
                for nd in mesh.nodes:
                    if nd.idx not in got and nd.id != mesh.nodes[published[eid]["node"]].id:
                        lacking[nd.idx] = lacking.get(nd.idx, 0) + 1
            worst = sorted(lacking.items(), key=lambda kv: -kv[1])[:10]
            res["nodes_missing_messages"] = len(lacking)
            res["worst_nodes"] = [{"node": i, "missing": c,
                                   "alive": mesh.nodes[i].alive()} for i, c in worst]

        window_s = snap1["t"] - snap0["t"]
        res["window_s"] = rnd(window_s)
        d_dup = delta(snap0, snap1, "duplicates")
        d_del = delta(snap0, snap1, "delivered")
        res["sum_delta_delivered"] = d_del
        res["sum_delta_duplicates"] = d_dup
        res["duplicates_per_delivery"] = rnd(d_dup / d_del, 3) if d_del else None
        cpu = delta_cpu(snap0, snap1)
        res["node_cpu_ms_total"] = rnd(cpu, 1)
        res["cpu_ms_per_delivery"] = rnd(cpu / delivered, 4) if delivered else None
        npub = len(published) or 1
        for key in ("frames_out", "bytes_out", "frames_in", "bytes_in"):
            res[key + "_per_node_msg"] = rnd(delta(snap0, snap1, key) / n / npub)
        idle_f = res["idle_frames_out_per_node_s"] or 0
        idle_b = res["idle_bytes_out_per_node_s"] or 0
        res["frames_out_per_node_msg_net"] = rnd(
            (delta(snap0, snap1, "frames_out") / n - idle_f * window_s) / npub)
        res["bytes_out_per_node_msg_net"] = rnd(
            (delta(snap0, snap1, "bytes_out") / n - idle_b * window_s) / npub)
        for key in ("queue_drops", "rate_limited", "malformed", "invalid", "missing_parent",
                    "unsubscribed", "peers_dropped", "peers_banned", "iwant_out", "ihave_out",
                    "forwarded", "received", "unroutable", "published", "dial_failures",
                    "graft_out", "prune_out", "iwant_served", "seen_hits"):
            res["delta_" + key] = delta(snap0, snap1, key)
        # Each publisher's own counters over the window (its node pushes its messages).
        res["publisher_stats"] = []
        for pn in publishers:
            b, a = snap0["nodes"][pn.idx]["stats"], snap1["nodes"][pn.idx]["stats"]
            if a and b:
                res["publisher_stats"].append(dict(
                    {"node": pn.idx, "peers": a.get("peers")},
                    **{k: a.get(k, 0) - b.get(k, 0) for k in
                       ("published", "forwarded", "unroutable", "queue_drops", "missing_parent")}))
        res["nodes_with_missing_parent"] = [
            {"node": i, "missing_parent": c} for i, c in per_node_delta(snap0, snap1,
                                                                       "missing_parent") if c]
        members = mesh.members_seen()
        res["nodes_not_seeing_all_members_end"] = [
            {"node": i, "members": m} for i, m in enumerate(members) if m != n]
        res["deaths"] += mesh.check_alive("end")
    except BenchError as e:
        res["error"] = str(e)
        res["deaths"] += mesh.check_alive("error")
        log("N=%d: FAILED: %s" % (n, e))
    finally:
        killed = mesh.close(keep_logs=args.keep_logs and os.path.join(args.keep_logs, "n%d" % n))
    res["sigkilled_at_exit"] = killed
    return res


def fmt(v, spec="{:.2f}"):
    if v is None:
        return "-"
    if isinstance(v, int):
        return str(v)
    return spec.format(v)


def print_table(results):
    cols = [
        ("N", "nodes", "{}"),
        ("published", "published", "{}"),
        ("expected", "expected", "{}"),
        ("delivered", "delivered", "{}"),
        ("ratio", "delivery_ratio", "{:.5f}"),
        ("p50 ms", "latency_ms_p50", "{:.0f}"),
        ("p90 ms", "latency_ms_p90", "{:.0f}"),
        ("p99 ms", "latency_ms_p99", "{:.0f}"),
        ("max ms", "latency_ms_max", "{:.0f}"),
        ("dup/deliv", "duplicates_per_delivery", "{:.2f}"),
        ("cpu ms/deliv", "cpu_ms_per_delivery", "{:.3f}"),
        ("rss med MiB", "rss_mib_median", "{:.2f}"),
        ("rss max MiB", "rss_mib_max", "{:.2f}"),
        ("frames/node/msg", "frames_out_per_node_msg", "{:.2f}"),
        ("(net idle)", "frames_out_per_node_msg_net", "{:.2f}"),
        ("bytes/node/msg", "bytes_out_per_node_msg", "{:.0f}"),
        ("(net idle)", "bytes_out_per_node_msg_net", "{:.0f}"),
    ]
    print()
    print("%-22s" % "" + "".join("%16s" % ("N=%d" % r["nodes"]) for r in results))
    for title, key, spec in cols[1:]:
        print("%-22s" % title + "".join("%16s" % fmt(r.get(key), spec) for r in results))
    extra = [("spawn->ts p50/p99 ms", ("spawn_to_ts_ms_p50", "spawn_to_ts_ms_p99")),
             ("spawn->deliv p50/p99", ("spawn_to_delivery_ms_p50", "spawn_to_delivery_ms_p99")),
             ("ts->CLI exit p50/p99", ("ts_to_cli_exit_ms_p50", "ts_to_cli_exit_ms_p99")),
             ("1st deliv p50/p99", ("first_delivery_ms_p50", "first_delivery_ms_p99")),
             ("  ts->author node", ("handoff_ms_p50", "handoff_ms_p99")),
             ("  author->1st other", ("author_node_to_first_ms_p50",
                                      "author_node_to_first_ms_p99")),
             ("spread p50/p99", ("spread_ms_p50", "spread_ms_p99")),
             ("hops mean/p99", ("hops_mean", "hops_p99")),
             ("rss anon/file MiB", ("rss_mib_median_anon", "rss_mib_median_file")),
             ("pss/uss med MiB", ("rss_mib_median_pss", "rss_mib_median_uss")),
             ("members ok/converge", ("nodes_seeing_all_members", "converge_s")),
             ("send CLI cpu ms/msg", ("send_cli_cpu_ms_per_msg",)),
             ("machine/foreign cpu", ("machine_cpu_busy", "foreign_cpu_share")),
             ("machine iowait/irq", ("machine_iowait", "machine_irq")),
             ("load/other rumors", ("loadavg_1m_before", "foreign_rumor_procs_before")),
             ("idle cpu ms/node/s", ("idle_cpu_ms_per_node_s",)),
             ("idle frames/node/s", ("idle_frames_out_per_node_s",)),
             ("peers (median)", ("peers_median",)),
             ("sched lag max ms", ("schedule_lag_ms_max",)),
             ("join s (waves)", ("join_s", "waves")),
             ("send failures", ("send_failures",)),
             ("queue_drops", ("delta_queue_drops",)),
             ("missing_parent", ("delta_missing_parent",)),
             ("invalid", ("delta_invalid",)),
             ("node deaths", ("deaths",))]
    for title, keys in extra:
        cells = []
        for r in results:
            vals = [r.get(k) for k in keys]
            vals = [len(v) if isinstance(v, list) else v for v in vals]
            cells.append("/".join(fmt(v, "{:.2f}") if not isinstance(v, int) else str(v)
                                  for v in vals))
        print("%-22s" % title + "".join("%16s" % c for c in cells))
    for r in results:
        if r.get("error"):
            print("N=%d FAILED: %s" % (r["nodes"], r["error"]))
        if r.get("ids_not_everywhere"):
            print("N=%d: %d messages did not reach every node; %d nodes missed some; worst: %s"
                  % (r["nodes"], r["ids_not_everywhere"], r.get("nodes_missing_messages", 0),
                     r.get("worst_nodes")))
        if r.get("nodes_with_missing_parent"):
            print("N=%d: nodes dropping events for missing parents: %s"
                  % (r["nodes"], r["nodes_with_missing_parent"][:10]))
        if r.get("nodes_not_seeing_all_members_end"):
            print("N=%d: nodes not counting all %d members at the end: %s"
                  % (r["nodes"], r["nodes"], r["nodes_not_seeing_all_members_end"][:10]))
        for d in r.get("deaths", []):
            print("N=%d: node %d died (exit %s) during %s" % (r["nodes"], d["node"], d["exit"],
                                                             d["phase"]))
    print()
    print("notes: latency = receiver's t_ms - author's ts (signature time inside `rumor send`);")
    print("       it includes the sending CLI's store commit and hand-off to its node; the CLI's")
    print("       process start-up before signing is the spawn->ts row, and spawn->deliv is the")
    print("       end-to-end figure including it. All nodes and CLIs share this machine's %d"
          % (os.cpu_count() or 0))
    print("       cores (the reference machine has 2). frames/bytes are frames_out/bytes_out")
    print("       per node per published message over publish+drain; '(net idle)' subtracts the")
    print("       idle baseline measured just before publishing. Targets: 100% delivery,")
    print("       p99 < 10 ms, duplicates per delivery < D (6), idle RSS per node < 8 MiB.")


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--rumor", default=os.path.join(here, "..", "build", "rumor"),
                    help="the rumor binary (default: build/rumor)")
    ap.add_argument("binary", nargs="?", metavar="RUMOR",
                    help="the rumor binary, as the other benchmarks take it (same as --rumor)")
    ap.add_argument("--nodes", type=int, default=50)
    ap.add_argument("--rate", type=float, default=20.0, help="messages per second, in total")
    ap.add_argument("--publishers", type=int, default=5)
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of publishing")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds after the joins")
    ap.add_argument("--idle", type=float, default=2.0,
                    help="seconds of idle baseline (traffic, CPU) just before publishing")
    ap.add_argument("--converge", type=float, default=10.0,
                    help="after --settle, wait up to this long for every node to count N members")
    ap.add_argument("--drain", type=float, default=5.0, help="seconds after the last send")
    ap.add_argument("--bootstrap", type=int, default=3,
                    help="--peer links of each node to random earlier nodes")
    ap.add_argument("--join-concurrency", type=int, default=0,
                    help="at most this many joins per wave (0: every member invites one, so "
                         "membership doubles per wave; 1: one join at a time)")
    ap.add_argument("--sweep", help="comma-separated node counts, e.g. 50,100,150,200")
    ap.add_argument("--repeat", type=int, default=1, help="runs per node count")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra node config line (d, d_lo, d_hi, d_lazy, heartbeat_ms, ...)")
    ap.add_argument("--json", help="write the results here (one object per run)")
    ap.add_argument("--keep-logs", help="copy node logs, traces and stores (data.mdb) here "
                                        "before cleaning up, for a post-mortem")
    ap.add_argument("--quiet-wait", type=float, default=0.0, metavar="S",
                    help="before each run wait up to S seconds until no other rumor process "
                         "runs and the cores are under 20%% busy (shared machines)")
    ap.add_argument("--seed", type=int, help="random seed (bootstrap links, join pairs)")
    a = ap.parse_args(argv)
    a.rumor = os.path.abspath(a.binary or a.rumor)
    if not os.access(a.rumor, os.X_OK):
        ap.error("not an executable: %s" % a.rumor)
    sets = []
    for s in a.set:
        k, sep, v = s.partition("=")
        if not sep or not k.strip():
            ap.error("--set wants KEY=VALUE: %r" % s)
        sets.append((k.strip(), v.strip()))
    a.set = sets
    a.sizes = [int(x) for x in a.sweep.split(",")] if a.sweep else [a.nodes]
    if any(x < 2 for x in a.sizes) or a.rate <= 0 or a.duration <= 0 or a.publishers < 1:
        ap.error("need nodes >= 2, rate > 0, duration > 0, publishers >= 1")
    if not 1 <= a.repeat <= 20:
        ap.error("--repeat must be 1..20")
    return a


def bench_start(args):
    """What every benchmark does first: SIGTERM/SIGHUP unwind like Ctrl-C (so the clean-up in
    `finally` still runs), a seeded random source, and the binary named by its hash.
    Returns (rng, binary)."""
    def on_signal(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    with open(args.rumor, "rb") as f:
        binary = {"rumor": args.rumor, "rumor_sha256": hashlib.sha256(f.read()).hexdigest()[:16]}
    log("binary %s (sha256 %s...)" % (args.rumor, binary["rumor_sha256"]))
    return random.Random(args.seed), binary


def main(argv):
    args = parse_args(argv)
    rng, binary = bench_start(args)
    results = []
    try:
        for n in args.sizes:
            stop = False
            for rep in range(args.repeat):
                r = run_one(args, n, rng)
                r["run"] = rep + 1
                r.update(binary)
                results.append(r)
                if "published" in r:  # a run that failed before publishing has no figures
                    print_table([r])
                if r.get("error"):
                    stop = True
                    break
            if stop and args.sweep:
                log("sweep stops at N=%d: %s" % (n, results[-1]["error"]))
                break
    except KeyboardInterrupt:
        log("interrupted")
    if len(results) > 1:
        print("\n=== summary ===")
        print_table(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results[0] if len(results) == 1 else results, f, indent=1)
    return 0 if results and not any(r.get("error") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
