#!/usr/bin/env python3
"""bench_catchup.py - offline catch-up of N missed events (python3 stdlib only).

What it measures
----------------
Three nodes on 127.0.0.1 (all --no-lan, peer_exchange = false, so the links
are exactly these): a is the hub, c the author, b the node that goes offline.
b and c are linked to a only, so b never meets the author: what it missed
reaches it by a's anti-entropy (PROTOCOL.md 12: RECON exchange, BATCH stream
paced by CREDIT), not by gossip. This is the scenario of
tests/mesh_test.py test_offline_catchup, at benchmark scale.

 1. init three homes; start a, then b and c with --peer a; a creates the rooms
    `lan` and `lan/general`, b and c join by invite; c posts one message and
    we wait until b shows it and b's store counts as many events as a's.
 2. SIGTERM b. c posts --events messages with one `rumor chat lan/general`
    (one line per message on stdin; each a durable send) of realistic text
    (40-120 characters of varied words). Wait until a's `status --json`
    `events` includes them all and c's `outbox` is 0. Snapshot a's stats.
 3. Restart b (same home, same port, --peer a) and measure:
      startup          launch of b's process -> `status --json` says running
      catch-up (poll)  launch -> b's `events` reaches the expected total
                       (status polled every --poll-ms; each poll is a CLI
                       process, so this has the poll's resolution, reported)
      catch-up (log)   launch -> b's log line `caught up from X: M events
                       (K new) in T ms`, from the node's own wall-clock stamps;
                       T (first BATCH -> last BATCH committed) is the node's
                       own transfer time. The log also gives the split:
                       launch -> listening -> peer a connected -> first BATCH
                       (`catching up from`, the end of the RECON-only part;
                       RECON rounds may still overlap the stream) -> caught up.
    and, from b's stats (its counters start at zero with the process, and b
    has no peer but a) and a's stats deltas: RECON frames both ways (round
    trips = frames / 2), RECON bytes, BATCH frames/bytes/event bytes/events,
    CREDIT frames (4 bytes each), new events from BATCH, duplicates, and b's
    total frame bytes and frames in and out.
    Overheads, each as % of the event bytes that came in BATCH frames:
      summary       RECON bytes, both ways
      catch-up      RECON + CREDIT frames + BATCH headers and per-entry length
                    fields (batch_bytes_in - batch_event_bytes_in)
      total         all of b's frame bytes in + out since its start minus the
                    event bytes (includes HELLO, SUB, PING/PONG, IHAVE, ...)
 4. Correctness: b ends with exactly the expected events (its count before it
    stopped + N), as many as a, and `log lan/general --json` shows the same ids
    in the same order on b as on a. Any failure makes the exit status 1.

The stats snapshot after the catch-up is taken once the exchange has ended:
b has no incoming catch-up, a nothing left to send, and b's RECON, BATCH,
CREDIT and event counters have not moved for 3 polls 0.1 s apart (waited for
at most 10 s), so the counters cover the whole exchange. b's `exchanges` is
not waited for: in builds where a settled exchange ends silently, the side
that answered last keeps its exchange active until it times out (10 s).

With --history H, c first posts H messages that b gets before it stops, so
the exchange has to find the N missed events in a set of H + N (with H = 0,
b holds a handful of events and one IDS range settles everything). With
--linger S, the run also watches, for up to S s, how long b's side of the
exchange stays active after the catch-up (and whether it ends in a timeout).

Every run builds a fresh set of homes (so --repeat K posts N messages K times:
~20 s per 10,000 on the reference machine, 2 cores and a slow fsync). All
three nodes and the polling CLIs share the machine's cores. Every wait is
bounded in time and every loop in count; every process is killed in a
`finally`.

Usage
-----
  bench/bench_catchup.py [--rumor PATH | PATH] [--events N] [--repeat K] [--json FILE]
                         [--keep] [--timeout S] [--poll-ms MS] [--seed S]
                         [--history H] [--linger S] [--pause S] [--log-level L]
                         [--set key=value]...

Exit status 0 when every run completed and was correct, 1 otherwise.
"""

import argparse
import datetime
import hashlib
import json
import os
import random
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import rumorlab  # noqa: E402  (Node, free_ports, ...: the harness the tests use too)

PARENT = "lan"
ROOM = "lan/general"
CLI_TIMEOUT = 20.0        # s, one short CLI call
JOIN_TIMEOUT = 90.0       # s, one `room join`
START_TIMEOUT = 15.0      # s, a node to answer `status` with running
STOP_TIMEOUT = 10.0       # s, a node to exit after SIGTERM
SETTLE_TIMEOUT = 10.0     # s, the exchange to end after the last event arrived
UNIX_PATH_MAX = 107
CREDIT_FRAME_BYTES = 4    # version, type, n[2]

WORDS = (
    "the a an and or but so yet if then when while because although this that these those "
    "i you we they he she it me us them my your our their his her its "
    "is are was were be been being have has had do does did will would can could should might "
    "meeting lunch coffee deploy build test release branch merge review patch bug fix issue "
    "server client node peer network latency packet message room channel thread reply "
    "today tomorrow yesterday morning afternoon evening tonight week weekend month later soon "
    "great good fine okay sure thanks please sorry maybe probably definitely actually really "
    "just still already again also only even never always sometimes often quickly slowly "
    "think know see look want need try make take give find tell ask work call feel leave "
    "put mean keep let begin seem help talk turn start show hear play run move live believe "
    "project document design schedule budget team customer report update question answer "
    "train station airport hotel office kitchen garden window door table chair laptop phone "
    "about above after before below between during from into near over through under with "
    "everyone someone nobody anything nothing everything somewhere here there where why how "
    "new old big small long short early late first last next other same different important"
).split()


class BenchError(Exception):
    """A failure that stops one run."""


def log(msg):
    print("[catchup %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def rnd(v, nd=2):
    return None if v is None else round(v, nd)


def pct(part, whole):
    return 100.0 * part / whole if whole else None


def make_texts(n, rng):
    """n chat lines of 40-120 characters of varied words (deterministic for a seed)."""
    texts = []
    for i in range(n):
        target = rng.randint(40, 120)
        words = []
        length = 0
        for _ in range(100):
            w = rng.choice(WORDS)
            if rng.random() < 0.04:
                w = str(rng.randint(2, 500))
            if length + len(w) + 1 > target and length >= 40:
                break
            words.append(w)
            length += len(w) + 1
        s = " ".join(words)
        s = s[:1].upper() + s[1:]
        s = s[:119] + rng.choice(".?!.,") if len(s) >= 120 else s + rng.choice("..?!")
        texts.append(s)
    return texts


def post_texts(node, base, name, texts, timeout):
    """Posts each text as a message with one `rumor chat ROOM` (a line each on stdin, each a
    durable send); returns (rc, stdout, stderr)."""
    path = os.path.join(base, name)
    with open(path, "w") as f:
        f.write("\n".join(texts) + "\n")
    with open(path, "rb") as fin:
        return node.cli("chat", ROOM, timeout=timeout, stdin=fin)


def foreign_rumor_procs(mine):
    """How many rumor processes run on the machine that are not ours (shared machine)."""
    n = 0
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) in mine:
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv0 = f.read().split(b"\0", 1)[0]
        except OSError:
            continue
        if os.path.basename(argv0) == b"rumor":
            n += 1
    return n


class Node(rumorlab.Node):
    """A home `path` (its config beside it, a log per start), on 127.0.0.1:port."""

    def __init__(self, rumor, name, path, port):
        super().__init__(rumor, path, name=name, port=port)
        self.conf_path = path + ".conf"
        self.log_path = None
        self.launch_wall = None
        self.launch_mono = None
        self.starts = 0

    def cli(self, *argv, timeout=CLI_TIMEOUT, stdin=None):
        """(rc, stdout, stderr), stripped; (-1, "", "timed out ...") past `timeout`."""
        rc, out, err = super().cli(*argv, timeout=timeout, stdin=stdin)
        return rc, out.strip(), err.strip()

    def must(self, *argv, timeout=CLI_TIMEOUT):
        rc, out, err = self.cli(*argv, timeout=timeout)
        if rc != 0:
            raise BenchError("[%s] rumor %s: exit %d: %s %s" % (self.name, " ".join(argv), rc,
                                                                out[:300], err[:300]))
        return out

    def status(self):
        return self.json("status", "--json", timeout=10) or {}

    def stats(self):
        st = self.json("stats", "--json")
        if st is None:
            raise BenchError("[%s] stats --json failed" % self.name)
        return st

    def log_ids(self):
        rc, out, err = self.cli("log", ROOM, "--json", timeout=60)
        if rc != 0:
            raise BenchError("[%s] log %s failed: %s" % (self.name, ROOM, err[:300]))
        ids = []
        for line in out.splitlines():
            if line.strip():
                ids.append(json.loads(line)["id"])
        return ids

    def texts(self):
        rc, out, _ = self.cli("log", ROOM, "--json", timeout=60)
        if rc != 0:
            return []
        return [json.loads(l).get("text") for l in out.splitlines() if l.strip()]

    def peer_ids(self):
        got = self.json("peers", "--json", timeout=10)
        return {p.get("id") for p in got} if isinstance(got, list) else set()

    def launch(self, peers=()):
        """Starts `rumor node` (own session, own log file per start); returns at once."""
        assert not self.alive()
        self.starts += 1
        self.log_path = "%s.%d.log" % (self.path, self.starts)
        self.launch_wall = time.time()
        self.launch_mono = time.monotonic()
        return super().launch(peers=peers, config=self.conf_path, log_mode="wb")

    def start(self, peers=()):
        self.launch(peers)
        st = self.wait_running(timeout=START_TIMEOUT, interval=0.02, cli_timeout=10)
        if st is not None:
            return st
        if not self.alive():
            raise BenchError("[%s] node exited (%s) while starting:\n%s"
                             % (self.name, self.proc.returncode, self.log_tail()))
        raise BenchError("[%s] not running after %.0f s:\n%s" % (self.name, START_TIMEOUT,
                                                                self.log_tail()))

    def stop(self):
        """SIGTERM, wait; SIGKILL if it lingers. Returns the exit status (None if none ran)."""
        p = self.proc
        if p is None:
            return None
        if super().stop(timeout=STOP_TIMEOUT) is None:
            log("[%s] still running %.0f s after SIGTERM; SIGKILLed" % (self.name, STOP_TIMEOUT))
        return p.returncode

    def log_tail(self, n=15):
        return super().log_tail(n)


def poll_until(what, fn, timeout, interval=0.25):
    """Calls fn() until it returns a true value (returned); BenchError after `timeout` s."""
    try:
        return rumorlab.poll(what, fn, timeout=timeout, interval=interval)
    except rumorlab.Timeout:
        raise BenchError("timed out after %.0f s waiting for %s" % (timeout, what)) from None


LOG_RE = re.compile(r"^rumor node: (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z (\w+): (.*)$")


def log_time_ms(iso):
    """A log line's time (ISO 8601 UTC with milliseconds) as epoch milliseconds."""
    t = datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%f")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000.0
CONNECTED_RE = re.compile(r"peer ([0-9a-f]+) connected")
CAUGHT_RE = re.compile(r"caught up from (\w+): (\d+) events \((\d+) new\) in (\d+) ms")
CATCHING_RE = re.compile(r"catching up from (\w+): (\d+) events(?:,| in,)")


def parse_node_log(path, launch_wall, a_pk):
    """The restarted node's log: milestones (ms after launch) and its catch-up lines."""
    out = {"listening_ms": None, "connected_ms": None, "first_batch_ms": None,
           "caught_up_ms": None, "caught_up": [], "catching_up_lines": 0,
           "warnings": [], "lines": 0}
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return out
    out["lines"] = len(lines)
    for line in lines:
        m = LOG_RE.match(line)
        if not m:
            out["warnings"].append(line[:200])
            continue
        t = log_time_ms(m.group(1)) - launch_wall * 1000.0
        level, msg = m.group(2), m.group(3)
        if level in ("error", "warn"):
            out["warnings"].append(line[:200])
        if msg.startswith("listening on") and out["listening_ms"] is None:
            out["listening_ms"] = rnd(t, 1)
        elif (CONNECTED_RE.match(msg) and a_pk.startswith(CONNECTED_RE.match(msg).group(1))
              and out["connected_ms"] is None):
            out["connected_ms"] = rnd(t, 1)
        elif CATCHING_RE.match(msg):
            out["catching_up_lines"] += 1
            if out["first_batch_ms"] is None:
                out["first_batch_ms"] = rnd(t, 1)
        else:
            c = CAUGHT_RE.match(msg)
            if c:
                out["caught_up"].append({"from": c.group(1), "events": int(c.group(2)),
                                         "new": int(c.group(3)), "ms": int(c.group(4)),
                                         "at_ms": rnd(t, 1)})
                if out["caught_up_ms"] is None:
                    out["caught_up_ms"] = rnd(t, 1)
    return out


STAT_KEYS = ("recon_in", "recon_out", "recon_bytes_in", "recon_bytes_out", "recon_opened",
             "recon_done", "recon_refused", "recon_limited", "recon_aborted", "recon_timeouts",
             "recon_jobs_dropped", "batch_in", "batch_out", "batch_bytes_in", "batch_bytes_out",
             "batch_event_bytes_in", "batch_event_bytes_out", "batch_events_in",
             "batch_events_out", "batch_too_big", "catchup_events_in", "credit_in", "credit_out",
             "duplicates", "seen_hits", "received", "delivered", "invalid", "missing_parent",
             "pending_resolved", "pending_dropped", "frames_in", "frames_out", "bytes_in",
             "bytes_out", "commits", "iwant_in", "iwant_out", "iwant_served", "ihave_in",
             "ihave_out", "queue_drops", "sync_in", "sync_out", "peers_connected",
             "peers_dropped", "dials", "dial_failures")


def delta(before, after):
    return {k: after.get(k, 0) - before.get(k, 0) for k in STAT_KEYS}


def run_one(args, rep, rng):
    base = rumorlab.tmp_root("rbc")
    res = {"run": rep + 1, "events": args.events, "history": args.history, "both": args.both,
           "dir": base if args.keep else None, "ok": False, "errors": []}
    nodes = []
    try:
        ports = rumorlab.free_ports(3, rng, error=BenchError)
        a, b, c = (Node(args.rumor, nm, os.path.join(base, nm), pt)
                   for nm, pt in zip("abc", ports))
        nodes = [a, b, c]
        if len(os.path.join(a.path, "node.sock")) > UNIX_PATH_MAX:
            raise BenchError("control socket path too long: %s" % a.path)
        for nd in nodes:
            out = nd.must("init", "--no-passphrase", "--nick", nd.name)
            nd.id = out.split()[-1] if out else ""
            if not re.fullmatch(r"[0-9a-f]{64}", nd.id):
                raise BenchError("[%s] init printed %r" % (nd.name, out[:200]))
            rumorlab.write_config(nd.conf_path, [("peer_exchange", "false"),
                                                 ("log_level", args.log_level)] + args.set)

        # 1. the mesh a - {b, c}, the rooms, one message that b gets
        t_setup = time.monotonic()
        a.start()
        b.start([a])
        c.start([a])
        poll_until("a to see b and c as peers",
                   lambda: {b.id, c.id} <= a.peer_ids(), timeout=20, interval=0.1)
        a.must("room", "create", PARENT)
        a.must("room", "create", ROOM)
        for nd in (b, c):
            code = a.must("room", "invite", PARENT)
            if not code.startswith("rumor-invite:"):
                raise BenchError("invite printed %r" % code[:200])
            nd.must("room", "join", code, timeout=JOIN_TIMEOUT)
        c.must("send", ROOM, "before")
        poll_until("b to show c's first message", lambda: "before" in b.texts(), timeout=30,
                   interval=0.2)
        if args.history:
            # history b holds too: the exchange then has to find the difference in a big set
            rc, _, err = post_texts(c, base, "history.txt", make_texts(args.history, rng),
                                    120 + 0.05 * args.history)
            if rc != 0:
                raise BenchError("rumor chat (history) exit %d: %s" % (rc, err[-500:]))

        def same_count():
            sa, sb, sc = a.status(), b.status(), c.status()
            n = sa.get("events")
            return n is not None and n == sb.get("events") == sc.get("events") and n
        try:
            poll_until("a, b and c to hold as many events", same_count,
                       timeout=15 + 0.01 * args.history, interval=0.2)
        except BenchError as e:
            res["errors"].append("before the stop: " + str(e))
        b_before = b.status().get("events")
        res["setup_s"] = rnd(time.monotonic() - t_setup)
        res["b_events_before"] = b_before

        # 2. b goes offline; c posts N messages
        rc = b.stop()
        res["b_stop_exit"] = rc
        if rc != 0:
            res["errors"].append("b exited %s after SIGTERM" % rc)
        if args.both:
            # a partition with writers on both sides: b, alone, posts too
            b.start([])
            rc, _, err = post_texts(b, base, "both.txt", make_texts(args.both, rng),
                                    120 + 0.05 * args.both)
            if rc != 0:
                raise BenchError("rumor chat (b alone) exit %d: %s" % (rc, err[-500:]))
            if b.stop() != 0:
                res["errors"].append("b (alone) did not exit 0 after SIGTERM")
            log("run %d: b posted %d messages alone" % (rep + 1, args.both))
        a_before = a.status().get("events")
        texts = make_texts(args.events, rng)
        res["text_chars_mean"] = rnd(statistics.mean(len(t) for t in texts), 1)
        t0 = time.monotonic()
        rc, _, err = post_texts(c, base, "texts.txt", texts, 120 + 0.05 * args.events)
        res["post_s"] = rnd(time.monotonic() - t0)
        if rc != 0:
            raise BenchError("rumor chat exit %d: %s" % (rc, err[-500:]))
        log("run %d: posted %d messages in %.1f s" % (rep + 1, args.events, res["post_s"]))
        want_a = a_before + args.events

        def a_has_all():
            sa, sc = a.status(), c.status()
            return sa.get("events", -1) >= want_a and sc.get("outbox") == 0 and (sa, sc)
        sa, sc = poll_until("a to hold all %d messages and c's outbox to empty" % args.events,
                            a_has_all, timeout=60 + 0.005 * args.events, interval=0.25)
        res["post_to_a_all_s"] = rnd(time.monotonic() - t0 - res["post_s"])
        res["a_events"] = sa.get("events")
        res["c_events"] = sc.get("events")
        expected = b_before + args.events + args.both
        res["expected_b_events"] = expected
        if sa.get("events") != expected - args.both:
            res["errors"].append("a holds %s events, b's %s + %d posted = %d"
                                 % (sa.get("events"), b_before, args.events,
                                    expected - args.both))
        a_stats0 = a.stats()
        a_cpu0 = rumorlab.cpu_ms(a.proc.pid)
        time.sleep(args.pause)

        # 3. restart b and time its catch-up
        res["loadavg_before_restart"] = list(os.getloadavg())
        b.launch([a])
        launch_mono, launch_wall = b.launch_mono, b.launch_wall
        period = args.poll_ms / 1000.0
        deadline = launch_mono + args.timeout
        startup_s = None
        done_s = None
        last = {}
        last_answer_s = -1.0
        poll_cli_ms = []
        polls = 0
        progress = []            # (s after launch, events) at most ~1 per 0.5 s
        poll_log = []            # [start ms, end ms, running, events] of each poll
        for k in range(int(args.timeout / period) + 100):
            due = launch_mono + k * period
            now = time.monotonic()
            if now < due:
                time.sleep(due - now)
            if not b.alive():
                raise BenchError("b exited (%s) during the catch-up:\n%s"
                                 % (b.proc.returncode, b.log_tail()))
            q0 = time.monotonic()
            st = b.status()
            q1 = time.monotonic()
            polls += 1
            poll_cli_ms.append((q1 - q0) * 1000.0)
            if len(poll_log) < 2000:
                poll_log.append([rnd((q0 - launch_mono) * 1000.0, 1),
                                 rnd((q1 - launch_mono) * 1000.0, 1), st.get("running"),
                                 st.get("events")])
            if st:
                last = st
                last_answer_s = q1 - launch_mono
            if startup_s is None and st.get("running") is True:
                startup_s = q1 - launch_mono
            ev = st.get("events")
            if st.get("running") and (not progress or q1 - launch_mono - progress[-1][0] >= 0.5):
                progress.append((rnd(q1 - launch_mono, 3), ev))
            if q1 > deadline:
                break
            if st.get("running") is True and ev is not None and ev >= expected:
                done_s = q1 - launch_mono
                break
        res["startup_ms"] = rnd(startup_s * 1000.0, 1) if startup_s is not None else None
        res["catchup_poll_s"] = rnd(done_s, 3)
        res["polls"] = polls
        res["poll_cli_ms_median"] = rnd(statistics.median(poll_cli_ms), 1) if poll_cli_ms else None
        res["poll_cli_ms_max"] = rnd(max(poll_cli_ms), 1) if poll_cli_ms else None
        res["progress"] = progress
        res["poll_log"] = poll_log
        if done_s is None:
            res["errors"].append("b did not show all %d events within %g s (last status: %s "
                                 "events, answered %.3f s after launch)"
                                 % (expected, args.timeout, last.get("events"),
                                    last_answer_s))

        # let the exchange end, then the counters: nothing in flight either way and b's
        # exchange counters still for 3 polls in a row. (b's `exchanges` is not waited for:
        # where a settled exchange ends silently, the side that answered last keeps its
        # exchange active until it times out.)
        quiet = {"n": 0, "prev": None}

        def settled():
            sb, sa2 = b.status(), a.status()
            stb = b.json("stats", "--json") or {}
            cur = tuple(stb.get(k) for k in ("recon_in", "recon_out", "batch_in", "credit_in",
                                             "credit_out", "received", "iwant_out"))
            quiet["n"] = quiet["n"] + 1 if cur == quiet["prev"] and None not in cur else 0
            quiet["prev"] = cur
            return (sb.get("catchup_peers") == 0 and sa2.get("sending_peers") == 0
                    and quiet["n"] >= 3)
        t_s = time.monotonic()
        try:
            poll_until("the exchange to end", settled, timeout=SETTLE_TIMEOUT, interval=0.1)
            res["settle_s"] = rnd(time.monotonic() - t_s, 3)
        except BenchError as e:
            res["settle_s"] = None
            res["notes"] = res.get("notes", []) + [str(e)]
        b_stats = b.stats()
        a_stats1 = a.stats()
        res["stats_at_s"] = rnd(time.monotonic() - launch_mono, 3)
        res["b_cpu_ms"] = rumorlab.cpu_ms(b.proc.pid)
        a_cpu1 = rumorlab.cpu_ms(a.proc.pid)
        res["a_cpu_ms"] = rnd(a_cpu1 - a_cpu0, 1) if None not in (a_cpu0, a_cpu1) else None
        res["b_stats"] = {k: b_stats.get(k, 0) for k in STAT_KEYS}
        res["a_delta"] = delta(a_stats0, a_stats1)
        res["b_status_end"] = {k: v for k, v in b.status().items()
                               if k in ("events", "peers", "exchanges", "catchup_peers",
                                        "catchup_remaining", "outbox", "uptime_ms")}

        # node log: milestones and the catch-up line(s)
        nl = parse_node_log(b.log_path, launch_wall, a.id)
        res["log"] = nl
        cu = [x for x in nl["caught_up"] if a.id.startswith(x["from"])] or nl["caught_up"]
        if cu:
            big = max(cu, key=lambda x: x["events"])
            res["node_catchup_ms"] = big["ms"]
            res["node_catchup_events"] = big["events"]
            res["node_catchup_new"] = big["new"]
        else:
            res["errors"].append("no 'caught up from' line in b's log")
        res["listen_ms"] = nl["listening_ms"]
        first_up = next((p for p in poll_log if p[2] is True), None)
        if first_up and first_up[1] - first_up[0] > 100:
            res["notes"] = res.get("notes", []) + [
                "b's first status that said running was asked at %.0f ms and answered at %.0f "
                "ms: the node did not answer its control socket meanwhile, so 'start ms' is "
                "late (its log says listening at %s ms)" % (first_up[0], first_up[1],
                                                            nl["listening_ms"])]
        if nl["connected_ms"] is not None and nl["first_batch_ms"] is not None:
            res["recon_phase_ms"] = rnd(nl["first_batch_ms"] - nl["connected_ms"], 1)

        # figures
        s = res["b_stats"]
        ev_bytes = s["batch_event_bytes_in"]
        recon_frames = s["recon_in"] + s["recon_out"]
        res["recon_frames"] = recon_frames
        res["round_trips"] = recon_frames / 2.0
        res["summary_bytes"] = s["recon_bytes_in"] + s["recon_bytes_out"]
        res["credit_bytes"] = (s["credit_in"] + s["credit_out"]) * CREDIT_FRAME_BYTES
        res["batch_header_bytes"] = s["batch_bytes_in"] - ev_bytes
        res["catchup_overhead_bytes"] = (res["summary_bytes"] + res["credit_bytes"]
                                         + res["batch_header_bytes"])
        res["total_bytes"] = s["bytes_in"] + s["bytes_out"]
        res["total_overhead_bytes"] = res["total_bytes"] - ev_bytes
        res["event_bytes"] = ev_bytes
        res["events_by_gossip"] = s["received"] - s["batch_events_in"]   # EVENT frames (IWANT)
        res["event_bytes_mean"] = (rnd(ev_bytes / s["batch_events_in"], 1)
                                   if s["batch_events_in"] else None)
        res["summary_pct"] = rnd(pct(res["summary_bytes"], ev_bytes), 3)
        res["catchup_overhead_pct"] = rnd(pct(res["catchup_overhead_bytes"], ev_bytes), 3)
        res["total_overhead_pct"] = rnd(pct(res["total_overhead_bytes"], ev_bytes), 3)
        if nl["caught_up_ms"] is not None:
            res["catchup_log_s"] = rnd(nl["caught_up_ms"] / 1000.0, 3)
        if res.get("node_catchup_ms") and res.get("event_bytes"):
            res["transfer_mb_s"] = rnd(ev_bytes / 1e6 / (res["node_catchup_ms"] / 1000.0), 2)
            res["transfer_events_s"] = rnd(s["batch_events_in"]
                                           / (res["node_catchup_ms"] / 1000.0), 0)

        # 4. correctness
        if args.both:
            t_a = time.monotonic()
            poll_until("a to get b's %d messages" % args.both,
                       lambda: a.status().get("events", -1) >= expected, timeout=60,
                       interval=0.05)
            res["a_got_b_s"] = rnd(time.monotonic() - launch_mono, 3)
            res["a_got_b_after_b_s"] = rnd(time.monotonic() - t_a, 3)
        b_events = b.status().get("events")
        res["b_events_end"] = b_events
        if b_events != expected:
            res["errors"].append("b holds %s events, expected %d" % (b_events, expected))
        if b_events != a.status().get("events"):
            res["errors"].append("b holds %s events, a %s" % (b_events, a.status().get("events")))
        ids_a, ids_b = a.log_ids(), b.log_ids()
        res["log_len_a"], res["log_len_b"] = len(ids_a), len(ids_b)
        res["log_same_order"] = ids_a == ids_b
        if len(ids_b) != args.events + args.history + args.both + 1:
            res["errors"].append("b's log of %s has %d messages, expected %d"
                                 % (ROOM, len(ids_b), args.events + args.history + args.both + 1))
        if ids_a != ids_b:
            first = next((i for i, (x, y) in enumerate(zip(ids_a, ids_b)) if x != y),
                         min(len(ids_a), len(ids_b)))
            res["errors"].append("b's log order differs from a's (first at %d; %d vs %d ids)"
                                 % (first, len(ids_b), len(ids_a)))
        if args.linger > 0:
            # how long b's side of the exchange stays active (see the settle wait above)
            t_l = time.monotonic()
            st = {}
            for _ in range(int(args.linger / 0.25) + 10):
                st = b.status()
                if st.get("exchanges") == 0 or time.monotonic() - t_l > args.linger:
                    break
                time.sleep(0.25)
            res["b_exchanges_zero_at_s"] = (rnd(time.monotonic() - launch_mono, 2)
                                            if st.get("exchanges") == 0 else None)
            stb = b.json("stats", "--json") or {}
            res["b_recon_timeouts_after_linger"] = stb.get("recon_timeouts")
            res["b_recon_in_out_after_linger"] = [stb.get("recon_in"), stb.get("recon_out")]
        for nd in nodes:
            if not nd.alive():
                res["errors"].append("%s died (exit %s)"
                                     % (nd.name, nd.proc and nd.proc.returncode))
        res["ok"] = not res["errors"]
    except BenchError as e:
        res["errors"].append(str(e))
        log("run %d FAILED: %s" % (rep + 1, e))
        for nd in nodes:
            if nd.log_path:
                log("%s's log tail:\n%s" % (nd.name, nd.log_tail()))
    finally:
        for nd in nodes:
            try:
                rc = nd.stop()
                if rc not in (None, 0):
                    res.setdefault("exit_codes", {})[nd.name] = rc
            except Exception as e:    # keep stopping the others
                log("stopping %s: %s" % (nd.name, e))
        if args.keep:
            log("kept %s" % base)
        else:
            shutil.rmtree(base, ignore_errors=True)
    return res


def fmt(v, spec="{:.2f}"):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return spec.format(v)
    return str(v)


def print_table(results):
    cols = [("run", "run", "{}", 4), ("events", "events", "{}", 7),
            ("ev B", "event_bytes_mean", "{:.0f}", 5),
            ("start ms", "startup_ms", "{:.0f}", 9),
            ("listen ms", "listen_ms", "{:.0f}", 10),
            ("catch-up s", "catchup_poll_s", "{:.2f}", 11),
            ("(log) s", "catchup_log_s", "{:.2f}", 8),
            ("node T ms", "node_catchup_ms", "{}", 10),
            ("M/new", None, None, 12),
            ("RECON", "recon_frames", "{}", 6), ("RTT", "round_trips", "{:.1f}", 5),
            ("summary B", "summary_bytes", "{}", 10),
            ("sum %", "summary_pct", "{:.2f}", 7),
            ("catch-up %", "catchup_overhead_pct", "{:.2f}", 11),
            ("total %", "total_overhead_pct", "{:.2f}", 8),
            ("dups", None, None, 5), ("ok", "ok", "{}", 4)]
    print()
    print("".join(("%" + str(w) + "s") % t for t, _, _, w in cols))
    for r in results:
        cells = []
        for t, k, spec, w in cols:
            if t == "M/new":
                v = ("%s/%s" % (r.get("node_catchup_events"), r.get("node_catchup_new"))
                     if r.get("node_catchup_events") is not None else None)
            elif t == "dups":
                v = r.get("b_stats", {}).get("duplicates")
            else:
                v = r.get(k)
            cells.append(("%" + str(w) + "s") % fmt(v, spec))
        print("".join(cells))
    targets = {"catch-up s": "< 2 s", "RTT": "few", "sum %": "< 5%"}
    print("".join(("%" + str(w) + "s") % (targets.get(t, "target" if t == "run" else ""))
                  for t, _, _, w in cols))
    for r in results:
        s = r.get("b_stats", {})
        ad = r.get("a_delta", {})
        lg = r.get("log", {})
        print()
        print("run %d:" % r["run"])
        print("  split (ms after launch, node log): listening %s, peer a connected %s, "
              "first BATCH %s, caught up %s; RECON-only part %s ms; poll saw all at %s s"
              % (fmt(lg.get("listening_ms"), "{:.0f}"), fmt(lg.get("connected_ms"), "{:.0f}"),
                 fmt(lg.get("first_batch_ms"), "{:.0f}"), fmt(lg.get("caught_up_ms"), "{:.0f}"),
                 fmt(r.get("recon_phase_ms"), "{:.0f}"), fmt(r.get("catchup_poll_s"), "{:.3f}")))
        print("  transfer: %s events, %s event bytes (mean %s B) in %s ms = %s MB/s, %s events/s"
              % (s.get("batch_events_in"), s.get("batch_event_bytes_in"),
                 fmt(r.get("event_bytes_mean"), "{:.1f}"), r.get("node_catchup_ms"),
                 fmt(r.get("transfer_mb_s")), fmt(r.get("transfer_events_s"), "{:.0f}")))
        print("  b: RECON in/out %s/%s (%s/%s B), BATCH in %s (%s B, headers %s B), CREDIT in/out "
              "%s/%s, new from BATCH %s, duplicates %s, iwant out %s, frames in/out %s/%s, "
              "bytes in/out %s/%s, commits %s, cpu %s ms"
              % (s.get("recon_in"), s.get("recon_out"), s.get("recon_bytes_in"),
                 s.get("recon_bytes_out"), s.get("batch_in"), s.get("batch_bytes_in"),
                 r.get("batch_header_bytes"), s.get("credit_in"), s.get("credit_out"),
                 s.get("catchup_events_in"), s.get("duplicates"), s.get("iwant_out"),
                 s.get("frames_in"), s.get("frames_out"), s.get("bytes_in"), s.get("bytes_out"),
                 s.get("commits"), fmt(r.get("b_cpu_ms"), "{:.0f}")))
        print("  a (delta): RECON in/out %s/%s, BATCH out %s (%s events), CREDIT in %s, "
              "duplicates %s, iwant served %s, bytes out %s, cpu %s ms"
              % (ad.get("recon_in"), ad.get("recon_out"), ad.get("batch_out"),
                 ad.get("batch_events_out"), ad.get("credit_in"), ad.get("duplicates"),
                 ad.get("iwant_served"), ad.get("bytes_out"), fmt(r.get("a_cpu_ms"), "{:.0f}")))
        print("  posting: %s s for %s messages (%s chars mean); a had all %s s later; "
              "status polls %s (CLI median %s ms, max %s ms); settle %s s"
              % (r.get("post_s"), r.get("events"), r.get("text_chars_mean"),
                 r.get("post_to_a_all_s"), r.get("polls"), r.get("poll_cli_ms_median"),
                 r.get("poll_cli_ms_max"), r.get("settle_s")))
        print("  gossip alongside: %s events came in EVENT frames (a served %s by IWANT); "
              "b's exchange still active at the snapshot: %s; recon_timeouts %s"
              % (r.get("events_by_gossip"), ad.get("iwant_served"),
                 r.get("b_status_end", {}).get("exchanges"), s.get("recon_timeouts")))
        if "b_exchanges_zero_at_s" in r:
            print("  linger: b's exchange first seen inactive %s s after launch; "
                  "recon_timeouts then %s, RECON in/out then %s" % (r.get("b_exchanges_zero_at_s"),
                                            r.get("b_recon_timeouts_after_linger"),
                                            r.get("b_recon_in_out_after_linger")))
        if lg.get("caught_up") and len(lg["caught_up"]) > 1:
            print("  several 'caught up' lines: %s" % lg["caught_up"])
        if lg.get("warnings"):
            print("  b's log warnings/other lines: %s" % lg["warnings"][:5])
        for n in r.get("notes", []):
            print("  note: %s" % n)
        for e in r.get("errors", []):
            print("  FAILED: %s" % e)
    print()
    print("notes: start ms = launch of b -> the first status that says running; listen ms =")
    print("       launch -> the node's 'listening on' log line (its own clock).")
    print("       catch-up s = launch of b -> b's status shows every event (polled every")
    print("       poll-ms by a CLI); (log) = launch -> the node's 'caught up' line; node T =")
    print("       the node's own first BATCH -> last committed. RTT = RECON frames / 2.")
    print("       Overheads are % of the event bytes received in BATCH frames: sum = RECON")
    print("       both ways; catch-up = RECON + CREDIT + BATCH headers; total = all of b's")
    print("       frame bytes in+out since its start minus event bytes.")


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--rumor", default=os.path.join(here, "..", "build", "rumor"),
                    help="the rumor binary (default: build/rumor)")
    ap.add_argument("binary", nargs="?", metavar="RUMOR",
                    help="the rumor binary, as the other benchmarks take it (same as --rumor)")
    ap.add_argument("--events", type=int, default=10000, help="messages b misses")
    ap.add_argument("--history", type=int, default=0,
                    help="messages posted before b stops, which b holds too (default 0): "
                         "the exchange must then find the N missed ones in a larger set")
    ap.add_argument("--both", type=int, default=0, metavar="M",
                    help="b also posts M messages while it is cut off (alone), so both sides "
                         "of the partition wrote: each must get the other's")
    ap.add_argument("--repeat", type=int, default=1, help="runs, each with fresh homes")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="seconds b gets to catch up (default 120)")
    ap.add_argument("--poll-ms", type=float, default=20.0,
                    help="status poll period during the catch-up (default 20)")
    ap.add_argument("--pause", type=float, default=1.0,
                    help="seconds between a holding everything and b's restart (default 1)")
    ap.add_argument("--linger", type=float, default=0.0, metavar="S",
                    help="after the checks, watch b's status up to S s until its exchange is "
                         "no longer active (default 0: do not)")
    ap.add_argument("--log-level", default="info", choices=("error", "warn", "info", "debug"),
                    help="node log level (the catch-up lines are info)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra node config line for all three nodes")
    ap.add_argument("--seed", type=int, default=1, help="random seed (texts, ports)")
    a = ap.parse_args(argv)
    a.rumor = os.path.abspath(a.binary or a.rumor)
    if not os.access(a.rumor, os.X_OK):
        ap.error("not an executable: %s" % a.rumor)
    if not 0 <= a.both <= 1000000:
        ap.error("--both must be 0..1000000")
    if not 1 <= a.events <= 1000000 or not 0 <= a.history <= 1000000:
        ap.error("--events must be 1..1000000 and --history 0..1000000")
    if not 1 <= a.repeat <= 20:
        ap.error("--repeat must be 1..20")
    if not 1 <= a.poll_ms <= 1000 or a.timeout <= 0 or a.pause < 0:
        ap.error("need 1 <= --poll-ms <= 1000, --timeout > 0, --pause >= 0")
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

    def on_signal(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    rng = random.Random(args.seed)
    load0 = list(os.getloadavg())
    # Run a private copy: a rebuild of build/rumor during the runs must not mix two versions.
    bindir = tempfile.mkdtemp(prefix="rbcbin", dir="/tmp")
    try:
        return run_all(args, rng, load0, bindir)
    finally:
        shutil.rmtree(bindir, ignore_errors=True)


def run_all(args, rng, load0, bindir):
    source = args.rumor
    args.rumor = os.path.join(bindir, "rumor")
    shutil.copy2(source, args.rumor)
    with open(args.rumor, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    meta = {"rumor": source, "rumor_sha256": sha, "loadavg_start": load0,
            "cpus": os.cpu_count(), "foreign_rumor_procs_start": foreign_rumor_procs(set()),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "args": {k: v for k, v in vars(args).items()
                     if k not in ("json", "rumor", "binary")}}
    log("binary %s (sha256 %s..., run from a copy), load %s, other rumor processes %d"
        % (source, sha[:16], " ".join("%.2f" % x for x in meta["loadavg_start"]),
           meta["foreign_rumor_procs_start"]))
    results = []
    try:
        for rep in range(args.repeat):
            r = run_one(args, rep, rng)
            results.append(r)
            if args.repeat > 1:
                print_table([r])
    except KeyboardInterrupt:
        log("interrupted")
    print_table(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "runs": results}, f, indent=1)
    ok = len(results) == args.repeat and all(r.get("ok") for r in results)
    if not ok:
        errs = [e for r in results for e in r.get("errors", [])]
        print("CATCH-UP BENCH FAILED: %s" % ("; ".join(errs) or "interrupted"), file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
