#!/usr/bin/env python3
"""bench_durability.py - kill -9 durability campaign for `rumor send` (python3 stdlib only).

What it checks
--------------
SPEC 3 "Durability": an acknowledged event survives `kill -9` of the node or of
the CLI at any moment. Here "acknowledged" means `rumor send ROOM TEXT` exited
0 (it prints the event id once the event is durably stored). Every round:

  1. node A runs (`rumor node --listen 127.0.0.1:PORT --no-lan`); by default a
     second node B runs too, peered with A and a member of the room, so sends
     also travel (B is never killed);
  2. --senders parallel threads (at most 4) each run `rumor send dur/burst TEXT`
     one after the other, every TEXT unique;
  3. at a random moment (20-500 ms into the burst) the harness sends SIGKILL to
     node A and to each in-flight send CLI with probability 1/2; the senders go
     on (their sends now wait in the outbox); after 0-200 ms A is restarted on
     the same port; in one round in ten it is killed again 0-60 ms into its
     start-up and restarted once more; 0-200 ms later the senders stop;
  4. once every CLI has finished (each is killed after 30 s) and A answers
     `status`, the round's acknowledged sends are looked up in A's
     `rumor log dur/burst --json --limit N` (N = the round's sends + 10: a
     round's messages are the newest of the log, their parents being every
     earlier head); one not found there is looked up in the whole log before
     it counts as lost. Every --full-every rounds the whole log is checked.

At the end A is restarted a last time, B must hold every acknowledged message
(bounded wait), both nodes are stopped with SIGTERM (exit 0 expected), and the
stores are opened by the CLI alone: `status --json` and the whole `log --json`
(which re-verifies every event's id and signature) of A, then of B.

Reported (text, or one JSON object with --json):
  acknowledged       sends that exited 0
  failed             sends that did not, grouped by reason: killed by the
                     harness (SIGKILL), timed out, or `exit N: <first stderr
                     line>` with the home path shown as HOME
  lost               acknowledged sends whose id (or text) is not in A's final
                     log (must be 0); lost_seen_in_round: rounds whose check
                     missed an acknowledged send
  duplicates         texts or ids shown more than once in the final log
  corrupt            log lines that do not parse, have no text (cannot be
                     decrypted), a text the harness never sent, or an id other
                     than the one the acknowledging CLI printed; and sends that
                     exited 0 without printing an event id
  stored_unacked     sends that were not acknowledged but are stored (a CLI
                     killed between its commit and its exit): allowed
  peer_missing       acknowledged messages B does not hold after the wait
  store_reopened     A's and B's stores open with the nodes stopped and their
                     logs verify
  time               wall time, per-round mean, sends per second

Every loop is bounded in count and in time; all traffic is on 127.0.0.1 and
every node runs with --no-lan; every process started is killed at exit (also
on Ctrl-C or SIGTERM); the temporary directory is removed (--keep DIR copies
the homes there first when a check fails).

Usage
-----
  bench/bench_durability.py RUMOR [--rounds N] [--seed S] [--json] [--senders K]
                            [--no-peer] [--passphrase] [--full-every N]
                            [--max-time S] [--keep DIR] [--quiet]

Exit status: 0 when every check passed, 1 when one failed, 2 when the set-up
failed.
"""

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_mesh as bm  # noqa: E402  (bench_start, log; it puts tests/ on sys.path)
import rumorlab  # noqa: E402  (Node, free_ports: the harness the tests use too)
from rumorlab import HEX64  # noqa: E402

TOP = "dur"
ROOM = "dur/burst"
CLI_TIMEOUT = 20.0         # s, status / invite / create
SEND_TIMEOUT = 30.0        # s, one `rumor send`; killed after it
JOIN_TIMEOUT = 90.0        # s, B's `room join`
START_TIMEOUT = 15.0       # s, a node until `status` says it runs
LOG_TIMEOUT = 120.0        # s, one `rumor log`
STOP_TIMEOUT = 10.0        # s, a node after SIGTERM
PEER_WAIT = 90.0           # s, B to hold every acknowledged message at the end
SENDS_PER_SENDER_MAX = 200  # per round
ROUND_MAX_S = 120.0        # a round's burst never runs longer
START_TRIES = 3            # a node that does not come up is started this often
CHECK_TRIES = 5            # a `log` that fails (not a loss) is run this often


class SetupError(Exception):
    """The campaign could not start (or a node could not be brought back)."""


class Home(rumorlab.Node):
    """Home `name` under base (its log and config beside it), on 127.0.0.1:port."""

    def __init__(self, rumor, name, base, port, env):
        super().__init__(rumor, os.path.join(base, name), env=env, name=name, port=port,
                         log_path=os.path.join(base, name + ".log"))
        self.conf_path = os.path.join(base, name + ".conf")
        self.starts = 0
        self.kills = 0
        self.deaths = []            # (round or phase, reason): exits the harness did not cause

    def log_tail(self, n=8):
        return rumorlab.tail(self.log_path, n)


class Campaign:
    def __init__(self, rumor, rng, seed, senders=3, peer=True, full_every=100, say=None,
                 passphrase=None):
        if not 1 <= senders <= 4:
            raise ValueError("senders must be 1..4")
        self.rumor = os.path.abspath(rumor)
        # Every process gets this environment: no RUMOR_HOME (--home is always given); with a
        # passphrase, identities are sealed and every CLI and node unlocks from RUMOR_PASSPHRASE.
        self.env = rumorlab.clean_env(passphrase or None)
        self.passphrase = passphrase
        self.rng = rng
        self.seed = seed
        self.senders = senders
        self.peer = peer
        self.full_every = full_every
        self.say = say or (lambda msg: None)
        self.base = rumorlab.tmp_root("rdur")
        ports = rumorlab.free_ports(2, rng, error=bm.BenchError)
        self.a = Home(self.rumor, "a", self.base, ports[0], self.env)
        self.b = Home(self.rumor, "b", self.base, ports[1], self.env) if peer else None
        self.lock = threading.Lock()
        self.inflight = {}          # id(rec) -> (Popen, rec)
        self.records = []           # one dict per `rumor send` spawned
        self.clis = []              # every Popen of a CLI (killed at close)
        self.lost_rounds = []       # (round, [texts]) a round check found missing
        self.check_errors = []      # `log` runs that failed (reason strings)
        self.rounds_done = 0
        self.node_kills = 0
        self.cli_kills = 0
        self.startup_kills = 0
        self.failed = False

    # ---- processes ---------------------------------------------------------
    def cli(self, node, *argv, timeout=CLI_TIMEOUT):
        """Runs `rumor --home H argv...`; returns (rc, stdout, stderr)."""
        cmd = [self.rumor, "--home", node.path] + list(argv)
        p = subprocess.Popen(cmd, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True)
        with self.lock:
            self.clis.append(p)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            return -1, "", "timed out after %.0f s" % timeout
        finally:
            with self.lock:
                self.clis.remove(p)
        return p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    def status(self, node, timeout=5.0):
        rc, out, _ = self.cli(node, "status", "--json", timeout=timeout)
        if rc != 0:
            return None
        try:
            return json.loads(out)
        except ValueError:
            return None

    def spawn_node(self, node, peers=()):
        node.launch(peers=peers, config=node.conf_path)
        node.starts += 1

    def wait_running(self, node, timeout=START_TIMEOUT):
        """True once `status` names this process as running; False if it died or timed out."""
        return node.wait_running(timeout=timeout, interval=0.02, cli_timeout=5.0,
                                 same_pid=True) is not None

    def peers_of(self, node):
        other = self.b if node is self.a else self.a
        return [other] if other is not None and other.id else []

    def start_node(self, node):
        """Starts the node and waits until it runs; retries a few times; SetupError if not."""
        for attempt in range(START_TRIES):
            if node.alive():
                self.kill_node(node)
            self.spawn_node(node, self.peers_of(node))
            if self.wait_running(node):
                return
            self.note_exit(node, "start attempt %d" % (attempt + 1))
            self.say("node %s did not come up (attempt %d): %s" % (
                node.name, attempt + 1, node.deaths[-1][1]))
        raise SetupError("node %s does not start: %s" % (node.name, node.log_tail()))

    def note_exit(self, node, where):
        """Records why a node the harness did not stop is not running: its exit status and
        the last line of its log (home paths shown as HOME)."""
        rc = node.proc.poll() if node.proc is not None else None
        last = [l for l in node.log_tail(3).splitlines() if l.strip()]
        why = self.reason_line(last[-1].strip()) if last else "(empty log)"
        why = re.sub(r"^rumor node: \S+ ", "", why)
        node.deaths.append((where, "exit %s: %s" % (rc, why) if rc is not None
                            else "not running after %.0f s: %s" % (START_TIMEOUT, why)))

    def kill_node(self, node):
        """SIGKILL to the node's process group; reaps it."""
        if node.kill():
            node.kills += 1

    def stop_node(self, node):
        """SIGTERM, wait; SIGKILL if it lingers. Returns the exit status (None: it had to be killed)."""
        if node.proc is None:
            return 0
        rc = node.stop(timeout=STOP_TIMEOUT)
        if rc is None:
            node.kills += 1
        return rc

    # ---- set-up --------------------------------------------------------------
    def setup(self):
        for node in [self.a] + ([self.b] if self.b else []):
            how = [] if self.passphrase else ["--no-passphrase"]
            rc, out, err = self.cli(node, "init", *how, "--nick", node.name)
            words = out.split()
            if rc != 0 or not words or not HEX64.match(words[-1]):
                raise SetupError("init %s failed (%d): %s %s" % (node.name, rc, out, err))
            node.id = words[-1]
            rumorlab.write_config(node.conf_path, {"log_level": "warn"})
        self.spawn_node(self.a)
        if not self.wait_running(self.a):
            raise SetupError("node a does not start: %s" % self.a.log_tail())
        for path in (TOP, ROOM):
            rc, out, err = self.cli(self.a, "room", "create", path)
            if rc != 0:
                raise SetupError("room create %s: %s %s" % (path, out, err))
        if self.b:
            self.spawn_node(self.b, [self.a])
            if not self.wait_running(self.b):
                raise SetupError("node b does not start: %s" % self.b.log_tail())
            rc, code, err = self.cli(self.a, "room", "invite", TOP)
            if rc != 0:
                raise SetupError("room invite: %s" % err)
            rc, out, err = self.cli(self.b, "room", "join", code.strip(), timeout=JOIN_TIMEOUT)
            if rc != 0:
                raise SetupError("room join: %s %s" % (out, err))
            # A is restarted with B as its peer from now on (B dials A too).
            if self.stop_node(self.a) != 0:
                raise SetupError("node a did not stop cleanly: %s" % self.a.log_tail())
            self.start_node(self.a)

    # ---- a round -------------------------------------------------------------
    def sender(self, rnd, k, stop, deadline):
        for i in range(SENDS_PER_SENDER_MAX):
            if stop.is_set() or time.monotonic() > deadline:
                return
            tag = "%06x" % self.rng_thread[k].getrandbits(24)
            rec = {"text": "dur-%d-r%d-s%d-m%d-%s" % (self.seed, rnd, k, i, tag),
                   "round": rnd, "sender": k, "killed": False}
            cmd = [self.rumor, "--home", self.a.path, "send", ROOM, rec["text"]]
            t0 = time.monotonic()
            p = subprocess.Popen(cmd, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, start_new_session=True)
            with self.lock:
                self.inflight[id(rec)] = (p, rec)
                self.clis.append(p)
            timed_out = False
            try:
                out, err = p.communicate(timeout=SEND_TIMEOUT)
            except subprocess.TimeoutExpired:
                timed_out = True
                p.kill()
                out, err = p.communicate()
            with self.lock:
                self.inflight.pop(id(rec), None)
                self.clis.remove(p)
            rec["rc"] = p.returncode
            rec["ms"] = round((time.monotonic() - t0) * 1000.0, 1)
            rec["id"] = out.decode("utf-8", "replace").strip()
            lines = err.decode("utf-8", "replace").strip().splitlines()
            rec["err"] = lines[0] if lines else ""
            rec["timed_out"] = timed_out
            with self.lock:
                self.records.append(rec)

    def kill_some_clis(self, p_kill):
        with self.lock:
            victims = [(p, rec) for p, rec in self.inflight.values() if self.rng.random() < p_kill]
            for p, rec in victims:
                if p.poll() is None:
                    try:
                        p.send_signal(signal.SIGKILL)
                        rec["killed"] = True
                        self.cli_kills += 1
                    except OSError:
                        pass

    def sleep_ms(self, lo, hi):
        time.sleep(self.rng.uniform(lo, hi) / 1000.0)

    def run_round(self, rnd):
        for node in (self.a, self.b):
            if node is not None and not node.alive():
                self.note_exit(node, "round %d: found dead" % rnd)
                node.proc = None
                self.start_node(node)
        n_before = len(self.records)
        stop = threading.Event()
        deadline = time.monotonic() + ROUND_MAX_S
        self.rng_thread = [random.Random(self.rng.getrandbits(64)) for _ in range(self.senders)]
        threads = [threading.Thread(target=self.sender, args=(rnd, k, stop, deadline), daemon=True)
                   for k in range(self.senders)]
        try:
            for t in threads:
                t.start()
            self.sleep_ms(20, 500)
            # The moment: the node and about half the CLIs in flight.
            self.kill_node(self.a)
            self.node_kills += 1
            self.kill_some_clis(0.5)
            self.sleep_ms(0, 200)          # sends go on with the node down (outbox)
            self.spawn_node(self.a, self.peers_of(self.a))
            if self.rng.random() < 0.1:   # killed again while starting up
                self.sleep_ms(0, 60)
                self.kill_node(self.a)
                self.startup_kills += 1
                self.kill_some_clis(0.5)
                self.spawn_node(self.a, self.peers_of(self.a))
            self.sleep_ms(0, 200)          # sends while it starts
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=SEND_TIMEOUT + 10)
        if not self.wait_running(self.a):
            self.note_exit(self.a, "round %d: restart" % rnd)
            self.start_node(self.a)
        self.rounds_done = rnd + 1
        return self.records[n_before:]

    # ---- checks --------------------------------------------------------------
    def read_log(self, node, limit=None):
        """Lines of `rumor log ROOM --json` as dicts (None for a line that does not parse), or
        None when every try failed (the reason is kept in check_errors)."""
        argv = ["log", ROOM, "--json"] + (["--limit", str(limit)] if limit else [])
        for attempt in range(CHECK_TRIES):
            rc, out, err = self.cli(node, *argv, timeout=LOG_TIMEOUT)
            if rc == 0:
                rows = []
                for line in out.splitlines():
                    if not line.strip():
                        continue
                    try:
                        rows.append(json.loads(line))
                    except ValueError:
                        rows.append(None)
                return rows
            self.check_errors.append("%s log: exit %d: %s" % (
                node.name, rc, self.reason_line(err.strip().splitlines()[0] if err.strip()
                                                else "", node)))
            time.sleep(0.2 * (attempt + 1))
        return None

    def reason_line(self, line, node=None):
        for h in (self.a, self.b):
            if h is not None:
                line = line.replace(h.path, "HOME")
        return line.replace(self.base, "BASE")

    def check_round(self, rnd, recs):
        acked = [r for r in recs if r.get("rc") == 0]
        if not acked:
            return []
        rows = self.read_log(self.a, limit=len(recs) + 10)
        if rows is None:
            return []          # counted in check_errors; the final check decides
        have = {r["id"]: r.get("text") for r in rows if isinstance(r, dict) and "id" in r}
        missing = [r for r in acked if have.get(r["id"]) != r["text"]]
        if missing:
            rows = self.read_log(self.a) or []
            have = {r["id"]: r.get("text") for r in rows if isinstance(r, dict) and "id" in r}
            missing = [r for r in acked if have.get(r["id"]) != r["text"]]
        if missing:
            self.lost_rounds.append((rnd, [r["text"] for r in missing]))
            self.say("round %d: %d acknowledged sends not in the log: %s" % (
                rnd, len(missing), [r["text"] for r in missing][:5]))
        return missing

    def analyse(self, rows):
        """Compares a full log with the records: lost, duplicates, corrupt, stored_unacked."""
        by_text = {r["text"]: r for r in self.records}
        seen_ids, seen_texts = {}, {}
        corrupt = []
        for row in rows:
            if not isinstance(row, dict) or not HEX64.match(str(row.get("id", ""))):
                corrupt.append("unparsable line")
                continue
            seen_ids[row["id"]] = seen_ids.get(row["id"], 0) + 1
            text = row.get("text")
            if text is None:
                corrupt.append("%s: no text (cannot decrypt)" % row["id"][:16])
                continue
            seen_texts[text] = seen_texts.get(text, 0) + 1
            rec = by_text.get(text)
            if rec is None:
                corrupt.append("%s: text never sent: %.60r" % (row["id"][:16], text))
            elif rec.get("rc") == 0 and HEX64.match(rec["id"]) and rec["id"] != row["id"]:
                corrupt.append("%s: shown under another id than acknowledged (%s)" % (
                    row["id"][:16], rec["id"][:16]))
        acked = [r for r in self.records if r.get("rc") == 0]
        lost = [r for r in acked if seen_texts.get(r["text"], 0) == 0
                or (HEX64.match(r["id"]) and r["id"] not in seen_ids)]
        dups = sorted([t for t, c in seen_texts.items() if c > 1]
                      + ["id " + i for i, c in seen_ids.items() if c > 1])
        no_id = [r for r in acked if not HEX64.match(r["id"])]
        corrupt += ["acknowledged without an event id on stdout: %.60r" % r["text"] for r in no_id]
        unacked_stored = [r for r in self.records
                          if r.get("rc") != 0 and seen_texts.get(r["text"], 0) > 0]
        return {"lost": lost, "duplicates": dups, "corrupt": corrupt,
                "stored_unacked": unacked_stored, "shown": len(rows)}

    def wait_peer(self, acked_ids, timeout=PEER_WAIT):
        """Polls B's log until it holds every acknowledged id; returns (missing ids, seconds)."""
        t0 = time.monotonic()
        missing = set(acked_ids)
        for _ in range(10000):
            rows = self.read_log(self.b)
            if rows is not None:
                have = {r["id"] for r in rows if isinstance(r, dict) and "id" in r}
                missing = set(acked_ids) - have
                if not missing:
                    break
            if time.monotonic() - t0 > timeout:
                break
            time.sleep(1.0)
        return missing, time.monotonic() - t0

    def copy_homes(self, dest):
        try:
            os.makedirs(dest, exist_ok=True)
            for node in (self.a, self.b):
                if node is None:
                    continue
                shutil.copytree(node.path, os.path.join(dest, node.name), symlinks=True,
                                ignore=shutil.ignore_patterns("node.sock"), dirs_exist_ok=True)
                if os.path.exists(node.log_path):
                    shutil.copy(node.log_path, dest)
        except OSError as e:
            self.say("could not keep the homes: %s" % e)

    # ---- tear-down -----------------------------------------------------------
    def close(self):
        with self.lock:
            clis = list(self.clis)
        for p in clis:
            try:
                if p.poll() is None:
                    p.kill()
                p.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        for node in (self.a, self.b):
            if node is not None and node.proc is not None:
                try:
                    self.stop_node(node)
                except OSError:
                    pass
        shutil.rmtree(self.base, ignore_errors=True)


def group_reasons(reasons):
    groups = {}
    for r in reasons:
        groups[r] = groups.get(r, 0) + 1
    return dict(sorted(groups.items(), key=lambda kv: -kv[1]))


def group_failures(records, campaign):
    groups = {}
    for r in records:
        if r.get("rc") == 0:
            continue
        if r.get("timed_out"):
            key = "timed out (killed after %.0f s)" % SEND_TIMEOUT
        elif r.get("rc") == -signal.SIGKILL and r.get("killed"):
            key = "killed by the harness (SIGKILL)"
        elif r.get("rc", 0) < 0:
            key = "signal %d" % -r["rc"]
        else:
            key = "exit %s: %s" % (r.get("rc"), campaign.reason_line(r.get("err", "")) or "(no stderr)")
        groups[key] = groups.get(key, 0) + 1
    return dict(sorted(groups.items(), key=lambda kv: -kv[1]))


def run_campaign(rumor, rounds, seed=None, senders=3, peer=True, full_every=100, max_time=None,
                 keep=None, say=None, passphrase=None):
    """Runs the campaign; returns the result dict (result["ok"] tells whether every check held)."""
    say = say or bm.log
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    t_start = time.monotonic()
    res = {"rounds_asked": rounds, "seed": seed, "senders": senders, "peer": peer,
           "rumor": os.path.abspath(rumor), "ok": False}
    with open(rumor, "rb") as f:
        res["rumor_sha256"] = hashlib.sha256(f.read()).hexdigest()[:16]
    res["passphrase"] = bool(passphrase)
    c = Campaign(rumor, rng, seed, senders=senders, peer=peer, full_every=full_every, say=say,
                 passphrase=passphrase)
    interrupted = None
    try:
        try:
            c.setup()
        except SetupError as e:
            res["error"] = "set-up: %s" % e
            return res
        res["setup_s"] = round(time.monotonic() - t_start, 2)
        t_rounds = time.monotonic()
        try:
            for rnd in range(rounds):
                if max_time and time.monotonic() - t_start > max_time:
                    say("time limit of %.0f s reached after %d rounds" % (max_time, rnd))
                    res["stopped_early"] = "time limit after %d rounds" % rnd
                    break
                recs = c.run_round(rnd)
                c.check_round(rnd, recs)
                if full_every and (rnd + 1) % full_every == 0:
                    rows = c.read_log(c.a)
                    if rows is not None:
                        a = c.analyse(rows)
                        say("round %d: %d sends, %d acknowledged, %d shown; lost %d, dups %d, "
                            "corrupt %d" % (rnd + 1, len(c.records),
                                            sum(1 for r in c.records if r.get("rc") == 0),
                                            a["shown"], len(a["lost"]), len(a["duplicates"]),
                                            len(a["corrupt"])))
        except SetupError as e:
            res["error"] = "round %d: %s" % (c.rounds_done, e)
        except KeyboardInterrupt:
            interrupted = "interrupted"
            say("interrupted after %d rounds; checking what was done" % c.rounds_done)
        res["rounds_s"] = round(time.monotonic() - t_rounds, 2)

        # ---- final checks ----
        acked = [r for r in c.records if r.get("rc") == 0]
        final = {}
        if c.a.proc is None or not c.a.alive():
            try:
                c.start_node(c.a)
            except SetupError as e:
                res.setdefault("error", "final start: %s" % e)
        online = c.read_log(c.a) if c.a.alive() else None
        if c.b and c.b.alive():
            # What A holds must reach B (what A lacks is counted as lost already).
            on_a = None if online is None else {r.get("id") for r in online if isinstance(r, dict)}
            missing, waited = c.wait_peer([r["id"] for r in acked if HEX64.match(r["id"])
                                           and (on_a is None or r["id"] in on_a)])
            res["peer_missing"] = len(missing)
            res["peer_missing_sample"] = sorted(missing)[:5]
            res["peer_wait_s"] = round(waited, 1)
        elif c.b:
            res["peer_missing"] = None
        stops = {n.name: c.stop_node(n) for n in (c.a, c.b) if n is not None}
        res["clean_stop"] = {k: v == 0 for k, v in stops.items()}
        # The stores, opened by the CLI alone with the nodes stopped.
        reopened = {}
        for node in (c.a, c.b):
            if node is None:
                continue
            st = c.status(node, timeout=CLI_TIMEOUT)
            rows = c.read_log(node)
            reopened[node.name] = bool(st and st.get("running") is False and rows is not None)
            if node is c.a:
                final = c.analyse(rows) if rows is not None else {}
                res["events_stored_a"] = st.get("events") if st else None
                res["outbox_a"] = st.get("outbox") if st else None
                if online is not None and rows is not None:
                    res["online_offline_log_equal"] = [r and r.get("id") for r in online] == \
                        [r and r.get("id") for r in rows]
        res["store_reopened"] = reopened

        wall = time.monotonic() - t_start
        n_rounds = max(1, c.rounds_done)
        res.update({
            "rounds": c.rounds_done,
            "sends": len(c.records),
            "acknowledged": len(acked),
            "failed": len(c.records) - len(acked),
            "failed_by_reason": group_failures(c.records, c),
            "node_kills": c.node_kills,
            "startup_kills": c.startup_kills,
            "cli_kills": c.cli_kills,
            "node_start_failures": {n.name: group_reasons(d[1] for d in n.deaths)
                                    for n in (c.a, c.b) if n is not None},
            "node_start_failures_rounds": {n.name: [d[0] for d in n.deaths][:20]
                                           for n in (c.a, c.b) if n is not None},
            "lost": len(final["lost"]) if final else None,
            "lost_sample": [r["text"] for r in final.get("lost", [])][:10],
            "lost_seen_in_round": [[r, t[:5]] for r, t in c.lost_rounds][:20],
            "duplicates": len(final["duplicates"]) if final else None,
            "duplicates_sample": final.get("duplicates", [])[:10],
            "corrupt": len(final["corrupt"]) if final else None,
            "corrupt_sample": final.get("corrupt", [])[:10],
            "stored_unacked": len(final["stored_unacked"]) if final else None,
            "shown": final.get("shown"),
            "check_errors": len(c.check_errors),
            "check_errors_sample": sorted(set(c.check_errors))[:5],
            "wall_s": round(wall, 1),
            "round_mean_s": round(res.get("rounds_s", 0) / n_rounds, 3),
            "acked_per_s": round(len(acked) / max(res.get("rounds_s", 0), 1e-9), 1),
            "send_ms_median": (sorted(r["ms"] for r in acked)[len(acked) // 2] if acked else None),
        })
        if interrupted:
            res["stopped_early"] = interrupted
        res["ok"] = bool(
            "error" not in res and final and res["lost"] == 0 and res["duplicates"] == 0
            and res["corrupt"] == 0 and not c.lost_rounds and all(reopened.values())
            and (not peer or res.get("peer_missing") == 0)
            and all(res["clean_stop"].values()) and res["acknowledged"] > 0)
        if not res["ok"] and keep:
            c.copy_homes(keep)
            res["kept"] = keep
        return res
    finally:
        c.close()


def print_report(res, out=sys.stdout):
    w = lambda s="": print(s, file=out)  # noqa: E731
    w("durability campaign: %s" % ("PASS" if res.get("ok") else "FAIL"))
    if res.get("error"):
        w("  error:              %s" % res["error"])
    if "rounds" not in res:
        return
    w("  binary:             %s (sha256 %s...)" % (res.get("rumor"), res.get("rumor_sha256", "?")))
    w("  seed:               %s   senders: %d   peer node: %s   passphrase: %s" % (
        res["seed"], res["senders"], "yes" if res["peer"] else "no",
        "yes" if res.get("passphrase") else "no"))
    w("  rounds:             %d of %d%s" % (res["rounds"], res["rounds_asked"],
                                           " (%s)" % res["stopped_early"]
                                           if res.get("stopped_early") else ""))
    w("  kills:              node %d (+%d during start-up), send CLIs %d" % (
        res["node_kills"], res["startup_kills"], res["cli_kills"]))
    w("  sends:              %d" % res["sends"])
    w("  acknowledged:       %d" % res["acknowledged"])
    w("  failed:             %d" % res["failed"])
    for k, v in res["failed_by_reason"].items():
        w("      %6d  %s" % (v, k))
    w("  lost (must be 0):   %s %s" % (res["lost"], res["lost_sample"] or ""))
    if res["lost_seen_in_round"]:
        w("    seen missing in rounds: %s" % res["lost_seen_in_round"])
    w("  duplicates:         %s %s" % (res["duplicates"], res["duplicates_sample"] or ""))
    w("  corrupt:            %s %s" % (res["corrupt"], res["corrupt_sample"] or ""))
    w("  stored, not acked:  %s (CLIs killed after their commit; allowed)" % res["stored_unacked"])
    w("  log shows:          %s messages; store holds %s events; outbox %s" % (
        res["shown"], res.get("events_stored_a"), res.get("outbox_a")))
    if res["peer"]:
        w("  peer b missing:     %s (after %.1f s)" % (res.get("peer_missing"),
                                                     res.get("peer_wait_s") or 0))
    w("  store reopened:     %s; clean SIGTERM stop: %s" % (res["store_reopened"],
                                                            res["clean_stop"]))
    if res.get("online_offline_log_equal") is False:
        w("  NOTE: the log read with the node running differs from the one read after it stopped")
    for name, groups in res["node_start_failures"].items():
        if groups:
            w("  node %s did not (re)start, then did on a retry:" % name)
            for k, v in groups.items():
                w("      %6d  %s" % (v, k))
    if res["check_errors"]:
        w("  log read errors:    %d %s" % (res["check_errors"], res["check_errors_sample"]))
    w("  time:               %.1f s wall (set-up %.1f s, %.3f s per round); %.1f acknowledged "
      "sends/s; send median %s ms" % (res["wall_s"], res.get("setup_s", 0), res["round_mean_s"],
                                      res["acked_per_s"], res["send_ms_median"]))
    if res.get("kept"):
        w("  homes kept in:      %s" % res["kept"])


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rumor", help="path to the rumor binary")
    ap.add_argument("--rounds", type=int, default=1000, help="kill -9 rounds (default 1000)")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: drawn, printed)")
    ap.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    ap.add_argument("--senders", type=int, default=3, help="parallel send CLIs, 1..4 (default 3)")
    ap.add_argument("--no-peer", action="store_true", help="no second node")
    ap.add_argument("--full-every", type=int, default=100,
                    help="check the whole log every N rounds (default 100; 0: only at the end)")
    ap.add_argument("--max-time", type=float, default=0,
                    help="stop starting rounds after S seconds (default: no limit)")
    ap.add_argument("--passphrase", action="store_true",
                    help="sealed identities: every CLI and node unlocks with Argon2id from "
                         "RUMOR_PASSPHRASE (slower sends; default: --no-passphrase)")
    ap.add_argument("--keep", metavar="DIR", help="copy the homes and node logs here on failure")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    a = ap.parse_args(argv)
    if not os.access(a.rumor, os.X_OK):
        ap.error("not an executable: %s" % a.rumor)
    if a.rounds < 1 or a.rounds > 1000000:
        ap.error("--rounds must be 1..1000000")
    if not 1 <= a.senders <= 4:
        ap.error("--senders must be 1..4")
    if a.seed is None:
        a.seed = int.from_bytes(os.urandom(4), "big")
    return a


def main(argv):
    args = parse_args(argv)
    _rng, binary = bm.bench_start(args)     # signals unwind like Ctrl-C; the binary's hash
    say = (lambda m: None) if args.quiet else bm.log
    say("seed %d, %d rounds, %d senders%s" % (args.seed, args.rounds, args.senders,
                                              "" if not args.no_peer else ", no peer"))
    res = run_campaign(args.rumor, args.rounds, seed=args.seed, senders=args.senders,
                       peer=not args.no_peer, full_every=args.full_every,
                       max_time=args.max_time or None, keep=args.keep, say=say,
                       passphrase="durability %d" % args.seed if args.passphrase else None)
    res.update(binary)
    res["command"] = " ".join([os.path.basename(sys.argv[0])] + list(argv))
    if args.json:
        json.dump(res, sys.stdout, indent=1, sort_keys=True)
        print()
    else:
        print_report(res)
    if res.get("error") and "rounds" not in res:
        return 2
    return 0 if res.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
