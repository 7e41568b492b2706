#!/usr/bin/env python3
"""The standing hostile-peer suite (issue 10): one test per finding F1-F7, each attacking a real
`rumor node` on 127.0.0.1 with tests/hostile_client.py (pyzmq, system python) or the CLI, and
asserting the bound the node must keep (PROTOCOL.md 9.5, 9.7, 6).

Usage: hostile_test.py PATH_TO_RUMOR [TEST_NAME_SUBSTRING]...

Nodes and the hostile client use loopback only; every wait is bounded and every process is
stopped in a finally block (tests/mesh_test.py's Cluster).
"""
import base64
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mesh_test as mt  # noqa: E402  (Node, Cluster, poll, the hostile client runner)
from mesh_test import poll, wait_connected, create_rooms, pair, run_zmq_client, delta  # noqa: E402


def need_pyzmq():
    why = mt.pyzmq_available()
    if why:
        raise mt.Skip(f"pyzmq unavailable ({why})")


def fd_count(node):
    try:
        return len(os.listdir(f"/proc/{node.proc.pid}/fd"))
    except OSError:
        return -1


def events_held(node):
    """Entries in the node's `events` table (mdb_stat reads beside the running node)."""
    p = subprocess.run(["mdb_stat", "-s", "events", os.path.join(node.path, "store")],
                       capture_output=True, timeout=30)
    for line in p.stdout.decode().splitlines():
        if line.strip().startswith("Entries:"):
            return int(line.split(":")[1])
    raise AssertionError(f"mdb_stat gave no count: {p.stdout!r} {p.stderr!r}")


def invite_parts(code):
    """(room, token) of an invite code, as hex (PROTOCOL.md 10.1)."""
    b64 = code.split(":", 1)[1].strip()
    raw = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
    return raw[1:33].hex(), raw[65:81].hex()


# ---- F4: links that never say HELLO ---------------------------------------------------------

def test_f4_links_without_hello(root, cl):
    need_pyzmq()
    a, b = pair(cl)
    base = fd_count(a)
    s0 = a.stats()
    samples, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            samples.append(fd_count(a))
            time.sleep(0.1)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    flood = subprocess.Popen([mt.SYSTEM_PYTHON, mt.HOSTILE_CLIENT, str(a.port), a.id, "nohello",
                              "600", "14"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, cwd=root)
    try:
        time.sleep(4)
        # The control socket answers and a member gets back in while the flood goes on.
        t0 = time.monotonic()
        st = a.status()
        assert st.get("running") is True, st
        status_s = time.monotonic() - t0
        b.stop()
        b.proc = None
        b.start(peers=[a])
        wait_connected(a, b, timeout=10)
        b.send("through the flood")
        mt.wait_texts([a], ["through the flood"], timeout=10)
        out, err = flood.communicate(timeout=60)
    finally:
        if flood.poll() is None:
            flood.kill()
            flood.wait()
        stop.set()
        th.join(timeout=5)
    assert flood.returncode == 0, err.decode(errors="replace")
    opened = int(out.decode().strip().splitlines()[-1].split('"opened": ')[1].split("}")[0])
    peak = max(samples)
    # Gone after the flood: every descriptor the attacker held is closed.
    after = poll("a's descriptors to come back", lambda: (lambda n: n if n <= base + 8 else None)(
        fd_count(a)), timeout=15)
    d = delta(s0, a.stats(), "links_silent", "handshakes_refused", "zap_denied", "links_refused")
    print(f"  {opened} silent links: descriptors {base} -> peak {peak} -> {after}; status answered "
          f"in {status_s * 1000:.0f} ms; {d}", flush=True)
    assert opened >= 500, opened
    # inbound_max (256) connections at most, plus the node's own sockets and a burst's worth
    # accepted but not yet shut down; before the bound, every one of the 600 links held a
    # descriptor for as long as the attacker liked.
    assert peak <= base + 256 + 128, f"descriptors peaked at {peak} (baseline {base})"
    assert d["links_silent"] + d["handshakes_refused"] > 0, d


# ---- F2: PROFILE floods -----------------------------------------------------------------------

def test_f2_profile_flood(root, cl):
    need_pyzmq()
    a, b = pair(cl)
    time.sleep(1.0)
    held_a, held_b = events_held(a), events_held(b)
    s0a, s0b = a.stats(), b.stats()
    # A stranger: none of its profiles is kept or relayed (over its author rate they are not even
    # looked at: author_throttled).
    r = run_zmq_client(root, a, "profiles", "1500")
    assert r["hello_reply"], r
    dropped = ("profiles_strangers", "profiles_superseded", "author_throttled", "delivered")
    s1a = poll("a to take in the stranger's profiles", lambda: (lambda s: s if sum(
        s[k] - s0a[k] for k in dropped) >= r["sent"] else None)(a.stats()), timeout=15)
    da = delta(s0a, s1a, *dropped, "invalid", "forwarded")
    print(f"  stranger, {r['sent']} profiles: a {da}; events held a {held_a} -> {events_held(a)}",
          flush=True)
    assert events_held(a) == held_a and events_held(b) == held_b, "a stranger's profile was kept"
    assert da["forwarded"] == 0 and da["invalid"] == 0 and da["delivered"] == 0, da

    # A member: one profile of it is held, on a and on b it was relayed to.
    room, token = invite_parts(a.invite())
    s1b = b.stats()
    r = run_zmq_client(root, a, "profiles", "1500", room, token)
    assert r["hello_reply"] and r["joined"] == 0, r
    s2a = poll("a to take in the member's profiles", lambda: (lambda s: s if sum(
        s[k] - s1a[k] for k in dropped) >= r["sent"] else None)(a.stats()), timeout=15)
    time.sleep(1.0)
    da = delta(s1a, s2a, *dropped, "forwarded", "invalid")
    db = delta(s1b, b.stats(), "profiles_superseded", "delivered", "duplicates")
    ga, gb = events_held(a) - held_a, events_held(b) - held_b
    print(f"  member, {r['sent']} profiles: a {da}, b {db}; events held +{ga} on a, +{gb} on b",
          flush=True)
    # Its MEMBER_ADD and one profile; nothing else stays.
    assert ga <= 2 and gb <= 2, (ga, gb)
    # Relayed no faster than its author rate allows (a burst of 500, then 50/s).
    assert da["forwarded"] <= 500 + 50 * 30, da
    del s0b


# ---- F3: sends while the node grows the store -----------------------------------------------

def test_f3_sends_while_the_store_grows(root, cl):
    a = cl.node("a")
    a.start()
    a.run("room", "create", "lan")
    failures, done = [], []
    text = "x" * 12000

    def sender(k):
        for i in range(200):
            rc, _, err = a.cli("send", "lan", f"{k}-{i} {text}", timeout=60)
            if rc != 0:
                failures.append(err.strip())
            done.append(1)

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(4)]
    t0 = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=240)
    size = os.path.getsize(os.path.join(a.path, "store", "data.mdb"))
    print(f"  {len(done)} sends from 4 CLIs in {time.monotonic() - t0:.1f} s, store grew to "
          f"{size / 1e6:.1f} MB: {len(failures)} failed", flush=True)
    assert len(done) == 800, len(done)
    # The store grew past its first map (8 MiB) while the CLIs wrote (issue 10 F3: some sends
    # failed with "cannot open HOME: store error"; tests/test_store.c shows it on every run).
    assert size > 8 << 20, size
    assert failures == [], failures[:3]


# ---- F1: what a stranger learns ---------------------------------------------------------------

def room_id(node, path="lan"):
    return json.loads(node.run("room", "info", path, "--json"))["id"]


def event_ids(node, room="lan/general"):
    return [json.loads(line)["id"] for line in node.run("log", room, "--json").splitlines()
            if line.strip()]


def test_f1_stranger_learns_nothing(root, cl):
    need_pyzmq()
    a, b = pair(cl)
    for i in range(5):
        b.send(f"before {i}")
    mt.wait_texts([a], [f"before {i}" for i in range(5)])
    room = room_id(a)
    ids = event_ids(a)
    s0 = a.stats()
    stranger = subprocess.Popen([mt.SYSTEM_PYTHON, mt.HOSTILE_CLIENT, str(a.port), a.id, "stranger",
                                 room, ",".join(ids), "5"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=root)
    try:
        time.sleep(2.5)
        for i in range(5):               # live messages while the stranger claims the room
            a.send(f"live {i}")
            b.send(f"live b {i}")
        out, err = stranger.communicate(timeout=60)
    finally:
        if stranger.poll() is None:
            stranger.kill()
            stranger.wait()
    assert stranger.returncode == 0, err.decode(errors="replace")
    r = json.loads(out.decode().strip().splitlines()[-1])
    d = delta(s0, a.stats(), "iwant_in", "iwant_served", "graft_in", "prune_out", "sub_in")
    room_events = [e for e in r["events"] if e["type"] != 3]
    profiles = {e["author"] for e in r["events"] if e["type"] == 3}
    print(f"  stranger: named topics {len(r['named_topics'])}, events {len(r['events'])} "
          f"({len(room_events)} of rooms), IHAVE ids {r['ihave_ids']}; a {d}", flush=True)
    assert r["hello_reply"], r
    # Before: the SUB named every room; GRAFT, IWANT and IHAVE handed over the room's events.
    assert r["named_topics"] == [], f"a named topics to a stranger: {r['named_topics']}"
    assert room_events == [], f"a stranger got room events: {room_events[:3]}"
    assert r["ihave_ids"] == 0, "a stranger was offered ids"
    # Only a's own profile (sent to anyone it meets): no other member's key or nick.
    assert profiles <= {a.id}, profiles
    assert d["iwant_served"] == 0, d
    # The members still talk.
    mt.wait_texts([a, b], [f"live {i}" for i in range(5)] + [f"live b {i}" for i in range(5)])


# ---- F5: candidates and dials aimed by a stranger -----------------------------------------------

def test_f5_candidate_flood(root, cl):
    need_pyzmq()
    a, b = pair(cl)
    c0 = a.status()["candidates"]
    s0 = a.stats()
    r = run_zmq_client(root, a, "peers_flood", "580", "20", timeout=120)
    assert r["hello_reply"], r
    st = a.status()
    d = delta(s0, a.stats(), "peers_in", "cands_refused", "dials", "dials_limited", "dial_failures")
    taken = st["candidates"] - c0
    print(f"  {r['sent_candidates']} candidates sent: {taken} taken, {r['dials']} connections to "
          f"the attacker's ports in {r['seconds']:.1f} s; a {d}", flush=True)
    # cands_per_source (16) from one peer; before, the 256 places filled with its lies.
    assert taken <= 16, f"{taken} candidates taken from one peer"
    # hearsay_dials_per_min (20) after a burst of 10.
    assert r["dials"] <= 10 + 20 * r["seconds"] / 60 + 1, f"{r['dials']} dials aimed by a stranger"
    # The honest link held.
    assert b.id in a.peer_ids(), a.peers()


# ---- F7: one member's flood, one peer's bytes, clocks -----------------------------------------

def test_f7_author_and_peer_rates(root, cl):
    need_pyzmq()
    a, b = cl.node("a"), cl.node("b")
    slow = {"author_events_per_s": 1, "recon_interval_ms": 1000, "peer_bytes_per_s": 65536}
    a.start(config=slow)
    b.start(peers=[a], config={"recon_interval_ms": 1000})
    wait_connected(a, b)
    create_rooms(a)
    b.join(a.invite())
    # A member floods: past its rate (1/s after 10), a takes its pushes by catch-up instead.
    s0 = a.stats()
    texts = [f"flood {i}" for i in range(40)]
    for t in texts:
        b.send(t)
    mt.wait_texts([a], texts, timeout=60)
    d = delta(s0, a.stats(), "author_throttled", "delivered", "catchup_events_in", "forwarded")
    print(f"  member sent {len(texts)} at full speed: a {d}", flush=True)
    assert d["author_throttled"] >= 10, d
    assert d["catchup_events_in"] >= 1, d
    # A peer over its byte rate is throttled, then graylisted, long before it could be banned for
    # its invalid events (256).
    s1 = a.stats()
    r = run_zmq_client(root, a, "bytes_flood", "400")
    assert r["hello_reply"], r
    d = delta(s1, a.stats(), "throttled", "graylisted", "invalid", "peers_banned")
    print(f"  peer sent {r['sent']} frames of 60 KB: a {d}", flush=True)
    assert d["graylisted"] == 1 and d["throttled"] > 256, d
    assert d["invalid"] < 16, d
    assert not r["banned_key_hello_reply"], "a graylisted key completed a handshake"
    assert b.id in a.peer_ids(), a.peers()


def test_f7_rates_per_domain(root, cl):
    """A flood in one room's domain does not slow the same member, or the same peer, in another."""
    a, b = cl.node("a"), cl.node("b")
    a.start(config={"author_events_per_s": 1, "recon_interval_ms": 1000})
    b.start(peers=[a], config={"peer_topic_bytes_per_s": 65536, "recon_interval_ms": 1000})
    wait_connected(a, b)
    create_rooms(a)
    a.run("room", "create", "home")
    b.join(a.invite())
    b.join(a.invite("home"))
    # Per author and domain: b floods lan; its posts in home then pass a at once.
    texts = [f"flood {i}" for i in range(30)]
    for t in texts:
        b.send(t)
    s0 = a.stats()
    home = [f"home {i}" for i in range(5)]
    for t in home:
        b.send(t, room="home")
    mt.wait_texts([a], home, timeout=30, room="home")
    d = delta(s0, a.stats(), "author_throttled")
    print(f"  after a flood of {len(texts)} in lan, {len(home)} in home: a {d}", flush=True)
    assert d["author_throttled"] == 0, d
    mt.wait_texts([a], texts, timeout=60)
    # Per peer and domain: a's 12 KB posts in lan go over its rate at b (64 KiB/s, burst 128 KiB)
    # and come by catch-up; a's posts in home pass at once, and a is not graylisted.
    s1 = b.stats()
    big = [f"big {i} " + "x" * 12000 for i in range(24)]
    for t in big:
        a.send(t)
    d = delta(s1, b.stats(), "topic_throttled", "graylisted")
    s2 = b.stats()
    for t in home:
        a.send("a " + t, room="home")
    mt.wait_texts([b], ["a " + t for t in home], timeout=30, room="home")
    d2 = delta(s2, b.stats(), "topic_throttled")
    print(f"  a sent {len(big)} of 12 KB in lan: b {d}; then {len(home)} in home: b {d2}",
          flush=True)
    assert d["topic_throttled"] >= 5 and d["graylisted"] == 0, d
    assert d2["topic_throttled"] == 0, d2
    mt.wait_texts([b], big, timeout=60)
    assert a.id in b.peer_ids(), b.peers()


TESTS = [
    ("f3_sends_while_the_store_grows", test_f3_sends_while_the_store_grows),
    ("f7_author_and_peer_rates", test_f7_author_and_peer_rates),
    ("f7_rates_per_domain", test_f7_rates_per_domain),
    ("f5_candidate_flood", test_f5_candidate_flood),
    ("f1_stranger_learns_nothing", test_f1_stranger_learns_nothing),
    ("f4_links_without_hello", test_f4_links_without_hello),
    ("f2_profile_flood", test_f2_profile_flood),
]


if __name__ == "__main__":
    mt.TESTS[:] = TESTS
    sys.exit(mt.main())
