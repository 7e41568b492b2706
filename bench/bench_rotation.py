#!/usr/bin/env python3
"""bench_rotation.py - cost of a key rotation (`rumor room kick`) in rooms of M members.

What it measures
----------------
For each room size M (--members, default 10,100,512) it starts R = min(M, --nodes)
`rumor node` processes on 127.0.0.1 (every one with --no-lan: nothing leaves the
loopback interface), all members of one room; the room gets M - R further members
that have no running node (random valid Ed25519 public keys added by node 0 with
`room invite ROOM --member KEY`, before the nodes start). Node 0 (the owner) then
kicks one member --repeat times, a different one each time (a key without a node
while there is one, else the last running node, which is then left out of the
figures), and for each kick it reports:

  kick ms         wall time of `rumor room kick bench MEMBER` on node 0 while its node
                  runs: CLI start, MEMBER_REMOVE + KEY_EPOCH sealed with
                  crypto_box_seal to every remaining member, both folded and committed
                  durably in one transaction, hand-off to the node, exit.
  sealed          entries of the KEY_EPOCH (the remaining members).
  KEY_EPOCH bytes the encoded event, measured: found in node 0's LMDB file (data.mdb)
                  after the run by its header, parsed by PROTOCOL.md 2.1 and accepted
                  only if BLAKE2b-256 of its signed bytes is the id the kick printed.
                  (MEMBER_REMOVE likewise.) Expected: envelope 151 + 32 x parents, body
                  14 + 112 x sealed (PROTOCOL.md 2.1, 2.3).
  reach ms        per running member node other than node 0: t_ms of its trace_file line
                  for the KEY_EPOCH (its wall clock when the event was stored) minus the
                  wall clock just before the kick CLI was spawned (same machine, same
                  clock): p50 / p90 / max (max = the time until the last node holds the
                  new epoch). v_ms (found valid and pushed on) is reported beside it.
                  Each node's `room info --json` is checked afterwards for key_epoch.
  breakdown       kick CLI exit; node 0 takes the event in and pushes it (its own
                  "self" trace line, read after node 0 stops: a node flushes its trace
                  with a batch of peer events or at exit); first other node; last node.
  wire bytes      sum over all nodes of delta bytes_in over the kick (from `stats`), net
                  of the idle rate measured just before; and node 0's bytes_out.
  node CPU        sum over all nodes of delta utime+stime (/proc/PID/stat) over the kick,
                  net of idle (JSON only: 10 ms ticks make it coarse).

Then node 0's node is stopped and, on its home, the CLI alone is timed (--offline
pairs, default 5): `room kick` (seals to every remaining member) against `room role ROOM X
admin` (one control event folded and committed durably, nothing sealed). Their
difference divided by the number sealed is the per-member cost of the rotation.
For comparison the raw libsodium cost (crypto_sign_ed25519_pk_to_curve25519 +
crypto_box_seal of 32 bytes, what rumor_seal_to does per member) is timed in
process through ctypes (includes ctypes' per-call overhead, about 1 us).

How
---
1. Per M: temporary homes under /tmp (`rumor init --no-passphrase`); node 0 runs
   `room create bench` and adds the M - R keys without nodes (node stopped).
2. Start the R nodes one after the other, each with --peer links to 3 random earlier
   nodes and a config with log_level = warn and a trace_file (as bench_mesh.py).
3. Join the R - 1 other nodes by invite codes in doubling waves (bench_mesh.py's way);
   wait (at most --converge s) until every node counts M members.
4. Per kick: idle baseline (--idle s), kick, poll the trace files until every running
   member holds the KEY_EPOCH (at most --timeout s), --drain s, snapshot, check epochs.
5. Stop node 0, time the offline CLI pairs, then scan its store for the events' sizes.
6. Always (finally, also on Ctrl-C / SIGTERM): SIGTERM every node, SIGKILL what is left,
   remove the temporary directory.

Every wait is bounded in time and every loop in count. Needs python3 (stdlib),
bench_mesh.py beside it and tests/rumorlab.py; the random member keys come from
python3-cryptography when it is installed, else from libsodium through ctypes.

Usage
-----
  bench/bench_rotation.py [--rumor PATH] [--members 10,100,512] [--nodes 50]
                          [--repeat R] [--offline K] [--json FILE] [--timeout S]
                          [--converge S] [--idle S] [--drain S] [--quiet-wait S]
                          [--set key=value]... [--keep-logs DIR] [--seed S]
"""

import argparse
import ctypes
import ctypes.util
import hashlib
import json
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_mesh as bm  # noqa: E402  (Mesh, Node, wait_quiet, percentile, ...)

ROOM = bm.ROOM                     # "bench"
MAX_MEMBERS = 512                  # RUMOR_MAX_MEMBERS: entries of one KEY_EPOCH
EV_MEMBER_REMOVE, EV_KEY_EPOCH = 8, 9
ADD_TIMEOUT = 20.0                 # s, one offline `room invite --member`
KICK_TIMEOUT = 60.0                # s, one `room kick`
JOIN_TIMEOUT = bm.JOIN_TIMEOUT
POLL_S = 0.01                      # trace polling period


def log(msg):
    bm.log(msg)


def rnd(x, nd=2):
    return None if x is None else round(x, nd)


def wall_ms():
    return time.time() * 1000.0


# ---- random member keys and the raw seal cost (libsodium through ctypes) ----------------

_sodium = None


def sodium():
    global _sodium
    if _sodium is None:
        name = ctypes.util.find_library("sodium") or "libsodium.so.23"
        lib = ctypes.CDLL(name)
        if lib.sodium_init() < 0:
            raise RuntimeError("sodium_init failed")
        _sodium = lib
    return _sodium


def random_member_keys(k):
    """k distinct random valid Ed25519 public keys (hex)."""
    keys = set()
    try:
        from cryptography.hazmat.primitives import serialization as ser
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        for _ in range(k * 2 + 10):
            if len(keys) >= k:
                break
            keys.add(Ed25519PrivateKey.generate().public_key().public_bytes(
                ser.Encoding.Raw, ser.PublicFormat.Raw).hex())
    except ImportError:
        lib = sodium()
        pk, sk = ctypes.create_string_buffer(32), ctypes.create_string_buffer(64)
        for _ in range(k * 2 + 10):
            if len(keys) >= k:
                break
            lib.crypto_sign_keypair(pk, sk)
            keys.add(pk.raw.hex())
        ctypes.memset(sk, 0, 64)
    return sorted(keys)[:k]


def raw_seal_cost(iters=2000):
    """Per-call cost (us) of ed25519 pk -> curve25519 and of crypto_box_seal of 32 bytes,
    as rumor_seal_to does them, timed through ctypes (best of 3 rounds)."""
    try:
        lib = sodium()
    except (OSError, RuntimeError) as e:
        return {"error": str(e)}
    edpk, sk = ctypes.create_string_buffer(32), ctypes.create_string_buffer(64)
    lib.crypto_sign_keypair(edpk, sk)
    xpk = ctypes.create_string_buffer(32)
    msg = ctypes.create_string_buffer(os.urandom(32), 32)
    out = ctypes.create_string_buffer(80)
    conv, seal, noop = [], [], []
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(iters):
            lib.crypto_sign_ed25519_pk_to_curve25519(xpk, edpk)
        conv.append((time.perf_counter() - t) / iters * 1e6)
        t = time.perf_counter()
        for _ in range(iters):
            lib.crypto_box_seal(out, msg, ctypes.c_ulonglong(32), xpk)
        seal.append((time.perf_counter() - t) / iters * 1e6)
        t = time.perf_counter()
        for _ in range(iters):
            lib.sodium_library_version_major()
        noop.append((time.perf_counter() - t) / iters * 1e6)
    return {"pk_to_curve_us": rnd(min(conv)), "box_seal_us": rnd(min(seal)),
            "ctypes_call_us": rnd(min(noop)), "per_member_us": rnd(min(conv) + min(seal))}


# ---- events in the store ------------------------------------------------------------------

def events_in_store(path, room_hex, author_hex, wanted):
    """Finds the encoded events whose ids are in `wanted` (hex) in an LMDB file by their
    envelope header (version 1 or 2, type 8 or 9, room, author), parses them by
    PROTOCOL.md 2.1 and keeps those whose BLAKE2b-256 of the signed bytes is the id.
    LMDB keeps a value contiguous (in a leaf page or in consecutive overflow pages).
    Returns id -> {"bytes", "parents", "body_len"}."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return {}
    room, author = bytes.fromhex(room_hex), bytes.fromhex(author_hex)
    found = {}
    for typ in (EV_MEMBER_REMOVE, EV_KEY_EPOCH):
        for ver in (1, 2):
            pat = bytes([ver, typ]) + room + author
            i = data.find(pat)
            for _ in range(100000):
                if i < 0:
                    break
                p = i + 66 + 16
                if p + 1 <= len(data):
                    npar = data[p]
                    p += 1 + 32 * npar
                    if npar <= 16 and p + 4 <= len(data):
                        blen = int.from_bytes(data[p:p + 4], "big")
                        p += 4 + blen
                        if blen <= 65536 and p + 64 <= len(data):
                            eid = hashlib.blake2b(data[i:p], digest_size=32).hexdigest()
                            if eid in wanted:
                                found[eid] = {"bytes": p + 64 - i, "parents": npar,
                                              "body_len": blen}
                i = data.find(pat, i + 1)
    return found


# ---- trace tails ---------------------------------------------------------------------------

class TraceTail:
    """Reads a node's trace file incrementally (complete lines only)."""

    def __init__(self, path):
        self.path, self.pos, self.buf = path, 0, b""

    def new_lines(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                chunk = f.read()
        except OSError:
            return []
        self.pos += len(chunk)
        self.buf += chunk
        *lines, self.buf = self.buf.split(b"\n")
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out


# ---- one room size -------------------------------------------------------------------------

class RotationMesh(bm.Mesh):
    def add_offline_members(self, keys):
        """Node 0 (its node not running yet) adds each key as a member. Returns seconds."""
        t0 = time.monotonic()
        deadline = t0 + 60 + 0.5 * len(keys)
        for i, k in enumerate(keys):
            if time.monotonic() > deadline:
                raise bm.BenchError("adding members took too long (%d of %d)" % (i, len(keys)))
            rc, out, err = self.cli(self.nodes[0], "room", "invite", ROOM, "--member", k,
                                    timeout=ADD_TIMEOUT)
            if rc != 0:
                raise bm.BenchError("room invite --member failed (%d): %s" % (rc, err))
        return time.monotonic() - t0

    def join_all(self):
        """Joins every node but 0 by invite codes in doubling waves (as bench_mesh.py)."""
        self.nodes[0].joined = True
        attempts = {nd.idx: 0 for nd in self.nodes}
        failures = []
        t0 = time.monotonic()
        deadline = t0 + 60 + 2.0 * self.n
        waves = 0
        for _ in range(4 * max(1, self.n.bit_length()) + 8):
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
                rc, out, err = self.cli(joiner, "room", "join", code, timeout=JOIN_TIMEOUT)
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
            raise bm.BenchError("%d nodes could not join (e.g. %s); errors: %s"
                                % (len(missing), missing[:10], failures[:3]))
        return {"waves": waves, "join_s": rnd(time.monotonic() - t0),
                "join_failures": len(failures)}

    def room_infos(self, nodes):
        def one(node):
            info, _ = self.cli_json(node, "room", "info", ROOM, "--json")
            return info
        return self.pmap(one, nodes)

    def stop_node(self, node):
        node.stop()


def timed_cli(mesh, node, *argv, timeout=KICK_TIMEOUT):
    """Runs the CLI; returns (start wall ms, elapsed ms, rc, stdout lines, stderr)."""
    w0 = wall_ms()
    t0 = time.perf_counter()
    rc, out, err = node.cli(*argv, timeout=timeout)
    return w0, (time.perf_counter() - t0) * 1000.0, rc, out.split(), err.strip()


def net(before, after, idle_rate, key, window_s):
    return bm.delta(before, after, key) - idle_rate.get(key, 0.0) * window_s


def one_kick(args, mesh, victim_pk, measured, k):
    """One live kick by node 0; `measured`: running member nodes other than node 0."""
    n0 = mesh.nodes[0]
    everyone = [nd for nd in mesh.nodes if nd.alive()]
    tails = {nd.idx: TraceTail(nd.trace_path) for nd in mesh.nodes}
    for t in tails.values():
        t.new_lines()                       # skip what is there already
    # Idle baseline of traffic and CPU just before the kick.
    s_a = mesh.snapshot()
    time.sleep(args.idle)
    s_b = mesh.snapshot()
    idle_s = s_b["t"] - s_a["t"]
    idle = {key: bm.delta(s_a, s_b, key) / idle_s for key in ("bytes_in", "bytes_out",
                                                                "frames_in", "frames_out")}
    idle_cpu = bm.delta_cpu(s_a, s_b) / idle_s
    b0 = s_b["nodes"][0]["stats"] or {}

    w0, kick_ms, rc, ids, err = timed_cli(mesh, n0, "room", "kick", ROOM, victim_pk)
    res = {"kick": k, "kick_ms": rnd(kick_ms, 1), "measured_nodes": len(measured)}
    if rc != 0 or len(ids) != 2 or any(len(x) != 64 for x in ids):
        res["error"] = "room kick failed (%d): %s %s" % (rc, " ".join(ids), err)
        return res
    remove_id, epoch_id = ids
    res["remove_id"], res["epoch_id"], res["kick_wall_ms"] = remove_id, epoch_id, w0
    got = {}                                # node idx -> (t_ms, v_ms, from)
    got_remove = {}
    self_t = None
    want = {nd.idx for nd in measured}
    deadline = time.monotonic() + args.timeout

    def poll():
        nonlocal self_t
        for nd in everyone:
            for ev in tails[nd.idx].new_lines():
                if ev.get("id") == epoch_id:
                    if nd.idx == 0:
                        self_t = self_t or ev["t_ms"]
                    elif nd.idx not in got:
                        got[nd.idx] = (ev["t_ms"], ev.get("v_ms", ev["t_ms"]), ev.get("from"))
                elif ev.get("id") == remove_id and nd.idx not in got_remove:
                    got_remove[nd.idx] = ev["t_ms"]

    for _ in range(int(args.timeout / POLL_S) + 100):
        poll()
        if want <= set(got) or time.monotonic() > deadline:
            break
        time.sleep(POLL_S)
    wait_s = time.monotonic() - deadline + args.timeout
    time.sleep(args.drain)
    poll()
    s_c = mesh.snapshot()
    window_s = s_c["t"] - s_b["t_end"]

    reach = sorted(got[i][0] - w0 for i in want if i in got)
    valid = sorted(got[i][1] - w0 for i in want if i in got)
    res["reached"] = len([i for i in want if i in got])
    res["missing_nodes"] = sorted(want - set(got))
    for q in (50, 90):
        res["reach_ms_p%d" % q] = rnd(bm.percentile(reach, q), 0)
        res["valid_ms_p%d" % q] = rnd(bm.percentile(valid, q), 0)
    res["reach_ms_max"] = rnd(reach[-1], 0) if reach else None
    res["valid_ms_max"] = rnd(valid[-1], 0) if valid else None
    res["reach_ms_first"] = rnd(reach[0], 0) if reach else None
    res["kicker_node_ms"] = rnd(self_t - w0, 0) if self_t is not None else None
    res["store_after_valid_ms_p50"] = rnd(bm.percentile(
        sorted(got[i][0] - got[i][1] for i in got), 50), 0)
    res["direct_from_kicker"] = sum(1 for i in got if got[i][2] == n0.id)
    rem = sorted(got_remove[i] - w0 for i in want if i in got_remove)
    res["remove_reach_ms_max"] = rnd(rem[-1], 0) if rem else None
    res["poll_s"] = rnd(wait_s)
    # Traffic and CPU over the kick, net of the idle rates.
    res["window_s"] = rnd(window_s)
    res["bytes_in_all_net"] = int(net(s_b, s_c, idle, "bytes_in", window_s))
    res["frames_in_all_net"] = rnd(net(s_b, s_c, idle, "frames_in", window_s), 0)
    c0 = s_c["nodes"][0]["stats"] or {}
    res["kicker_bytes_out"] = c0.get("bytes_out", 0) - b0.get("bytes_out", 0)
    cpu = bm.delta_cpu(s_b, s_c) - idle_cpu * window_s
    res["node_cpu_ms_net"] = rnd(cpu, 1)
    res["node_cpu_ms_per_receiver"] = rnd(cpu / max(1, len(got)), 2)
    for key in ("invalid", "duplicates", "missing_parent", "queue_drops", "ignored"):
        res["delta_" + key] = bm.delta(s_b, s_c, key)
    # Does every measured node now read under the new epoch (and count the members)?
    infos = mesh.room_infos([n0] + measured)
    epochs = [i.get("key_epoch") if i else None for i in infos]
    res["epoch_at_kicker"] = epochs[0]
    res["nodes_on_new_epoch"] = sum(1 for e in epochs[1:] if e == epochs[0])
    res["members_after"] = infos[0].get("members") if infos[0] else None
    res["members_seen_min"] = min((i.get("members", 0) for i in infos[1:] if i), default=None)
    return res


def offline_pairs(args, mesh, kick_pks, role_pks):
    """Node 0's node is stopped: times `room role X admin` (no seal) and `room kick Y`."""
    n0 = mesh.nodes[0]
    rows = []
    for rpk, kpk in zip(role_pks, kick_pks):
        _, role_ms, rc1, _, err1 = timed_cli(mesh, n0, "room", "role", ROOM, rpk, "admin")
        _, kick_ms, rc2, ids, err2 = timed_cli(mesh, n0, "room", "kick", ROOM, kpk)
        info, _ = mesh.cli_json(n0, "room", "info", ROOM, "--json")
        rows.append({"role_ms": rnd(role_ms, 1), "role_rc": rc1, "kick_ms": rnd(kick_ms, 1),
                     "kick_rc": rc2, "epoch_id": ids[1] if rc2 == 0 and len(ids) == 2 else None,
                     "sealed": info.get("members") if info else None,
                     "err": (err1 or err2)[:200] or None})
    return rows


def run_one(args, m, rng):
    r_nodes = min(m, args.nodes)
    extra = m - r_nodes
    res = {"members": m, "nodes": r_nodes, "keys_without_node": extra,
           "repeat": args.repeat, "offline_pairs": args.offline, "config": dict(args.set),
           "cores": os.cpu_count(), "kicks": [], "deaths": []}
    if args.quiet_wait > 0:
        waited, quiet = bm.wait_quiet(args.quiet_wait)
        res["quiet_wait_s"], res["quiet_before"] = rnd(waited, 1), quiet
        if waited > 1.5:
            log("waited %.0f s for a quiet machine (%s)" % (waited,
                                                            "quiet" if quiet else "gave up"))
    res.update(bm.machine_state())
    mesh = RotationMesh(args, r_nodes, rng)
    try:
        log("M=%d: %d nodes + %d keys without a node, in %s" % (m, r_nodes, extra, mesh.base))
        mesh.create_homes()
        rc, out, err = mesh.cli(mesh.nodes[0], "room", "create", ROOM)
        if rc != 0:
            raise bm.BenchError("room create failed: %s %s" % (out, err))
        res["room"] = out.split()[-1]
        keys = random_member_keys(extra)
        res["add_members_s"] = rnd(mesh.add_offline_members(keys))
        log("M=%d: %d members added offline in %.1f s; starting nodes"
            % (m, extra, res["add_members_s"]))
        t = time.monotonic()
        mesh.start_nodes()
        res["start_s"] = rnd(time.monotonic() - t)
        res.update(mesh.join_all())
        log("M=%d: %d nodes joined in %.1f s (%d waves); waiting for every node to count %d"
            % (m, r_nodes, res["join_s"], res["waves"], m))
        t = time.monotonic()
        for _ in range(int(args.converge) + 2):
            infos = mesh.room_infos(mesh.nodes)
            counts = [i.get("members") if i else None for i in infos]
            if all(c == m for c in counts) or time.monotonic() - t >= args.converge:
                break
            time.sleep(1.0)
        res["converge_s"] = rnd(time.monotonic() - t)
        res["nodes_counting_all"] = sum(1 for c in counts if c == m)
        if res["nodes_counting_all"] != r_nodes:
            log("warning: only %d of %d nodes count %d members: %s"
                % (res["nodes_counting_all"], r_nodes, m,
                   [(i, c) for i, c in enumerate(counts) if c != m][:10]))
        time.sleep(args.settle)
        res["deaths"] += mesh.check_alive("set-up")

        # Victims: keys without a node first, then running nodes from the end.
        victims = [(k, None) for k in keys] + [(nd.id, nd) for nd in reversed(mesh.nodes[1:])]
        gone = set()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        for k in range(args.repeat):
            pk, vnode = victims.pop(0)
            if vnode is not None:
                gone.add(vnode.idx)
            measured = [nd for nd in mesh.nodes[1:] if nd.idx not in gone and nd.alive()]
            log("M=%d: kick %d of %s (%s); %d nodes to reach"
                % (m, k + 1, pk[:8], "no node" if vnode is None else "node %d" % vnode.idx,
                   len(measured)))
            kr = one_kick(args, mesh, pk, measured, k + 1)
            res["kicks"].append(kr)
            if kr.get("error"):
                raise bm.BenchError(kr["error"])
            log("M=%d: kick %d: CLI %.0f ms; %d/%d nodes on the new epoch, last after %s ms"
                % (m, k + 1, kr["kick_ms"], kr["reached"], len(measured), kr["reach_ms_max"]))
            res["deaths"] += mesh.check_alive("kick %d" % (k + 1))
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        res["live_kick_children_cpu_ms"] = rnd(
            (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) * 1000.0, 1)

        # Node 0 stopped: the CLI alone. Its node traced its own events as it pushed them,
        # but the trace is flushed only with a batch of peer events or at exit: read it now.
        mesh.stop_node(mesh.nodes[0])
        own = {}
        for ev in TraceTail(mesh.nodes[0].trace_path).new_lines():
            if ev.get("from") == "self":
                own.setdefault(ev.get("id"), ev["t_ms"])
        for kr in res["kicks"]:
            if kr.get("epoch_id") in own:
                kr["kicker_node_ms"] = rnd(own[kr["epoch_id"]] - kr["kick_wall_ms"], 0)
        left = [v[0] for v in victims]
        pairs = min(args.offline, len(left) // 2)
        res["offline"] = offline_pairs(args, mesh, left[pairs:2 * pairs], left[:pairs])
        # Sizes of the events in node 0's store.
        wanted = {kr["epoch_id"] for kr in res["kicks"] if kr.get("epoch_id")}
        wanted |= {kr["remove_id"] for kr in res["kicks"] if kr.get("remove_id")}
        wanted |= {o["epoch_id"] for o in res["offline"] if o.get("epoch_id")}
        sizes = events_in_store(os.path.join(mesh.nodes[0].path, "store", "data.mdb"),
                                res["room"], mesh.nodes[0].id, wanted)
        for kr in res["kicks"]:
            e, rm = sizes.get(kr.get("epoch_id")), sizes.get(kr.get("remove_id"))
            if e:
                kr["key_epoch_bytes"], kr["key_epoch_parents"] = e["bytes"], e["parents"]
                kr["sealed"] = (e["body_len"] - 14) // 112
                kr["key_epoch_bytes_expected"] = 151 + 32 * e["parents"] + 14 + 112 * kr["sealed"]
            if rm:
                kr["member_remove_bytes"] = rm["bytes"]
        for o in res["offline"]:
            e = sizes.get(o.get("epoch_id"))
            if e:
                o["key_epoch_bytes"] = e["bytes"]
                o["sealed"] = (e["body_len"] - 14) // 112
        summarize(res)
    except bm.BenchError as e:
        res["error"] = str(e)
        res["deaths"] += mesh.check_alive("error")
        log("M=%d: FAILED: %s" % (m, e))
    finally:
        res["sigkilled_at_exit"] = mesh.close(
            keep_logs=args.keep_logs and os.path.join(args.keep_logs, "m%d" % m))
    return res


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def summarize(res):
    ks = [k for k in res["kicks"] if not k.get("error")]
    for key in ("kick_ms", "reach_ms_p50", "reach_ms_p90", "reach_ms_max", "kicker_node_ms",
                "reach_ms_first", "valid_ms_max", "key_epoch_bytes", "sealed",
                "bytes_in_all_net", "node_cpu_ms_per_receiver", "kicker_bytes_out"):
        res["med_" + key] = med([k.get(key) for k in ks])
    off = [o for o in res.get("offline", []) if o.get("kick_rc") == 0 and o.get("role_rc") == 0]
    if off:
        res["offline_kick_ms"] = med([o["kick_ms"] for o in off])
        res["offline_role_ms"] = med([o["role_ms"] for o in off])
        sealed = med([o.get("sealed") for o in off])
        res["offline_sealed"] = sealed
        if sealed:
            res["rotation_ms"] = rnd(res["offline_kick_ms"] - res["offline_role_ms"], 1)
            res["rotation_us_per_member"] = rnd(res["rotation_ms"] * 1000.0 / sealed, 1)


def fmt(v, spec="{:.0f}"):
    if v is None:
        return "-"
    if isinstance(v, int):
        return str(v)
    return spec.format(v)


def print_table(results, raw):
    print()
    print("%-30s" % "" + "".join("%14s" % ("M=%d" % r["members"]) for r in results))
    rows = [("running nodes", "nodes", "{}"),
            ("kicks", None, None),
            ("sealed per KEY_EPOCH (med)", "med_sealed", "{:.0f}"),
            ("KEY_EPOCH bytes (med)", "med_key_epoch_bytes", "{:.0f}"),
            ("kick CLI ms, node up (med)", "med_kick_ms", "{:.0f}"),
            ("kick CLI ms, node stopped", "offline_kick_ms", "{:.0f}"),
            ("role CLI ms, node stopped", "offline_role_ms", "{:.0f}"),
            ("rotation ms (kick - role)", "rotation_ms", "{:.1f}"),
            ("  per member us", "rotation_us_per_member", "{:.0f}"),
            ("kick -> kicker node ms", "med_kicker_node_ms", "{:.0f}"),
            ("kick -> 1st other ms", "med_reach_ms_first", "{:.0f}"),
            ("kick -> p50 node ms", "med_reach_ms_p50", "{:.0f}"),
            ("kick -> p90 node ms", "med_reach_ms_p90", "{:.0f}"),
            ("kick -> last node ms", "med_reach_ms_max", "{:.0f}"),
            ("  (last valid, v_ms)", "med_valid_ms_max", "{:.0f}"),
            ("bytes_in all nodes (net)", "med_bytes_in_all_net", "{:.0f}"),
            ("join s / add members s", ("join_s", "add_members_s"), None)]
    for title, key, spec in rows:
        cells = []
        for r in results:
            if key is None:
                cells.append(str(len(r.get("kicks", []))))
            elif isinstance(key, tuple):
                cells.append("/".join(fmt(r.get(k), "{:.1f}") for k in key))
            else:
                cells.append(fmt(r.get(key), spec))
        print("%-30s" % title + "".join("%14s" % c for c in cells))
    print()
    print("per kick:  M  kick  sealed  bytes  CLI ms  kicker ms  p50 / p90 / last ms  "
          "reached  on new epoch  bytes_in")
    for r in results:
        for k in r.get("kicks", []):
            print("%10d %5d %7s %6s %7s %10s %8s/%4s/%6s %6s/%-3d %9s %9s"
                  % (r["members"], k["kick"], fmt(k.get("sealed")),
                     fmt(k.get("key_epoch_bytes")), fmt(k.get("kick_ms")),
                     fmt(k.get("kicker_node_ms")), fmt(k.get("reach_ms_p50")),
                     fmt(k.get("reach_ms_p90")), fmt(k.get("reach_ms_max")),
                     fmt(k.get("reached")), k.get("measured_nodes", 0),
                     fmt(k.get("nodes_on_new_epoch")), fmt(k.get("bytes_in_all_net"))))
            if k.get("missing_nodes"):
                print("           nodes without the KEY_EPOCH after %s s: %s"
                      % (k.get("poll_s"), k["missing_nodes"][:20]))
            if k.get("key_epoch_bytes") and k.get("key_epoch_bytes") != k.get(
                    "key_epoch_bytes_expected"):
                print("           KEY_EPOCH %s bytes, PROTOCOL.md says %s"
                      % (k["key_epoch_bytes"], k.get("key_epoch_bytes_expected")))
        for o in r.get("offline", []):
            if o.get("err"):
                print("M=%d offline: %s" % (r["members"], o["err"]))
        if r.get("error"):
            print("M=%d FAILED: %s" % (r["members"], r["error"]))
        for d in r.get("deaths", []):
            print("M=%d: node %d died (exit %s) during %s" % (r["members"], d["node"], d["exit"],
                                                             d["phase"]))
    if raw and not raw.get("error"):
        print()
        print("libsodium in process (ctypes): pk->curve25519 %.1f us + crypto_box_seal(32 B) "
              "%.1f us = %.1f us per member (ctypes call %.2f us)"
              % (raw["pk_to_curve_us"], raw["box_seal_us"], raw["per_member_us"],
                 raw["ctypes_call_us"]))
    fit = fit_line(results)
    if fit:
        print("kick CLI ms (node up) vs sealed, least squares over all kicks: "
              "%.2f ms + %.1f us x sealed" % (fit[0], fit[1] * 1000.0))
    print()
    print("notes: 'kick -> X' = X's trace t_ms (stored) - wall clock just before spawning the")
    print("       kick CLI on node 0; one machine, one clock. 'rotation' = offline kick - offline")
    print("       role change (one control event, durable commit, no seal), node 0 stopped.")
    print("       All nodes and CLIs share this machine's %d cores." % (os.cpu_count() or 0))


def fit_line(results):
    pts = [(k["sealed"], k["kick_ms"]) for r in results for k in r.get("kicks", [])
           if k.get("sealed") and k.get("kick_ms") is not None]
    if len({p[0] for p in pts}) < 2:
        return None
    mx = statistics.mean(p[0] for p in pts)
    my = statistics.mean(p[1] for p in pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    b = sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx
    return my - b * mx, b


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--rumor", default=os.path.join(here, "..", "build", "rumor"),
                    help="the rumor binary (default: build/rumor)")
    ap.add_argument("--members", default="10,100,512",
                    help="comma-separated room sizes (2..%d)" % MAX_MEMBERS)
    ap.add_argument("--nodes", type=int, default=50, help="running nodes at most (min(M, this))")
    ap.add_argument("--repeat", type=int, default=3, help="live kicks per room size")
    ap.add_argument("--offline", type=int, default=5,
                    help="offline (node stopped) role/kick pairs per room size")
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="seconds to wait for every node to hold a KEY_EPOCH")
    ap.add_argument("--converge", type=float, default=60.0,
                    help="seconds to wait for every node to count M members")
    ap.add_argument("--settle", type=float, default=2.0, help="seconds after the joins")
    ap.add_argument("--idle", type=float, default=1.0, help="idle baseline before each kick")
    ap.add_argument("--drain", type=float, default=0.5, help="seconds after the last arrival")
    ap.add_argument("--bootstrap", type=int, default=3)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra node config line")
    ap.add_argument("--json", help="write the results here (a list, one object per M)")
    ap.add_argument("--keep-logs", help="copy node logs, traces and stores here")
    ap.add_argument("--quiet-wait", type=float, default=0.0, metavar="S",
                    help="before each M wait up to S s for no other rumor process and idle cores")
    ap.add_argument("--seed", type=int)
    a = ap.parse_args(argv)
    a.rumor = os.path.abspath(a.rumor)
    if not os.access(a.rumor, os.X_OK):
        ap.error("not an executable: %s" % a.rumor)
    sets = []
    for s in a.set:
        k, sep, v = s.partition("=")
        if not sep or not k.strip():
            ap.error("--set wants KEY=VALUE: %r" % s)
        sets.append((k.strip(), v.strip()))
    a.set = sets
    a.join_concurrency = 0
    try:
        a.sizes = [int(x) for x in a.members.split(",")]
    except ValueError:
        ap.error("--members wants numbers, e.g. 10,100,512")
    if not 1 <= a.repeat <= 20 or not 0 <= a.offline <= 20:
        ap.error("--repeat must be 1..20, --offline 0..20")
    if a.nodes < 2 or a.timeout <= 0:
        ap.error("need --nodes >= 2, --timeout > 0")
    for m in a.sizes:
        if not 2 <= m <= MAX_MEMBERS:
            ap.error("room sizes are 2..%d" % MAX_MEMBERS)
        # Every kick removes one member (the offline pairs use what is left, two each).
        if m - 1 - a.repeat < 2:
            ap.error("M=%d is too small for %d kicks" % (m, a.repeat))
        if m <= a.nodes and a.repeat >= m - 1:
            ap.error("M=%d: too many kicks for its running nodes" % m)
    return a


def main(argv):
    args = parse_args(argv)
    rng, binary = bm.bench_start(args)
    raw = raw_seal_cost()
    results = []
    try:
        for m in args.sizes:
            r = run_one(args, m, rng)
            r.update(binary)
            r["raw_seal"] = raw
            results.append(r)
            print_table([r], raw)
    except KeyboardInterrupt:
        log("interrupted")
    if len(results) > 1:
        print("\n=== summary ===")
        print_table(results, raw)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0 if results and not any(r.get("error") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
