#!/usr/bin/python3
"""hostile_swarm.py - many hostile rumor identities in one Python process (one zmq context).

Used by bench/bench_attack.py. Run by the system python (python3-zmq installs for it only):

    /usr/bin/python3 bench/hostile_swarm.py CONFIG.json

CONFIG (JSON):
  seeds        [hex32, ...]  one Ed25519 seed per identity (bench_attack.py makes them, so
                             that the room's owner can add the keys as members first)
  targets      [[pk_hex, host, port], ...]  honest nodes (loopback only)
  links        [[target index, ...], ...]   per identity, the targets it dials
  topic        hex32         the room's key domain (its topic)
  mode         "off" | "behave" | "withhold"   at start ("off": no link until told)
  graft_ms     eager re-GRAFT period while withholding (default 500)
  fake_ihave   ids per IHAVE of made-up ids each heartbeat while withholding (0: none)
  src_net      "127.0.1." or null: identity i dials from source address src_net + (i % 250 + 1)
               (a distinct loopback address per Sybil), else from the kernel's choice
  max_seconds  hard bound on the process's life (default 120)

Behaviour of every identity on each of its links:
  * HELLO (port 0, no peer exchange), then SUB(profile topic, topic) once the node's HELLO
    comes; PING is answered with PONG; anything else unknown is ignored.
  * When the node names the topic in its SUB (it holds our membership), GRAFT.
  * "behave" (covert flash, first phase): a correct gossipsub peer: relays each new event of the
    topic to its mesh links but the one it came from, answers IWANT from what it holds, asks
    IWANT for ids an IHAVE offers that it lacks, and grafts again only after a PRUNE's 60 s
    back-off.
  * "withhold" (Sybil flood, eclipse, cold boot, covert flash after the flip): re-GRAFTs every
    graft_ms after any PRUNE (ignoring the back-off), relays nothing, never answers IWANT, and,
    with fake_ihave, announces made-up ids each heartbeat that it will not serve.
  * A link silent for 8 s (the node dropped it: making room, a ban) is dialed again with a new
    connection and HELLO, at most 40 times per link, not more often than every 2 s.

Commands on stdin, one a line: "mode behave", "mode withhold", "mode off" (closes every link),
"stats" (prints a JSON line of counters), "quit". At exit (quit, end of stdin is ignored,
max_seconds) it prints the final counters as one JSON line on stdout.

Network rule: it connects to the given targets only, which must be loopback addresses.
Every loop is bounded in count and time.
"""
import ctypes
import ctypes.util
import hashlib
import json
import os
import random
import sys
import time

PROFILE_TOPIC = bytes(32)
SILENT_S = 8.0
REDIAL_MIN_S = 2.0
REDIALS_MAX = 40
BACKOFF_S = 60.0
CACHE_MAX = 8192

_so = None


def sodium():
    global _so
    if _so is None:
        _so = ctypes.CDLL(ctypes.util.find_library("sodium"))
        assert _so.sodium_init() >= 0
    return _so


def identity_from_seed(seed):
    """(ed25519 pk, ed25519 sk, curve pk, curve sk) from a 32-byte seed."""
    so = sodium()
    pk, sk = ctypes.create_string_buffer(32), ctypes.create_string_buffer(64)
    assert so.crypto_sign_seed_keypair(pk, sk, seed) == 0
    cpk, csk = ctypes.create_string_buffer(32), ctypes.create_string_buffer(32)
    assert so.crypto_sign_ed25519_pk_to_curve25519(cpk, pk.raw) == 0
    assert so.crypto_sign_ed25519_sk_to_curve25519(csk, sk.raw) == 0
    return pk.raw, sk.raw, cpk.raw, csk.raw


def curve_pk(ed_pk):
    out = ctypes.create_string_buffer(32)
    assert sodium().crypto_sign_ed25519_pk_to_curve25519(out, ed_pk) == 0
    return out.raw


def public_key(seed):
    """The Ed25519 public key (hex) of a seed: what the room's owner adds as a member."""
    return identity_from_seed(seed)[0].hex()


def event_id(ev):
    """BLAKE2b-256 of the signed bytes (everything before the 64-byte signature)."""
    return hashlib.blake2b(ev[:-64], digest_size=32).digest()


class Link:
    __slots__ = ("who", "target", "sock", "up", "named", "meshed", "last_rx", "dialed_at",
                 "last_graft", "last_prune", "redials")

    def __init__(self, who, target):
        self.who, self.target = who, target
        self.sock = None
        self.up = self.named = self.meshed = False
        self.last_rx = self.dialed_at = self.last_graft = 0.0
        self.last_prune = -1e9
        self.redials = 0


class Swarm:
    def __init__(self, cfg):
        import zmq
        from zmq.utils import z85
        self.zmq, self.z85 = zmq, z85
        self.cfg = cfg
        self.topic = bytes.fromhex(cfg["topic"])
        self.idents = [identity_from_seed(bytes.fromhex(s)) for s in cfg["seeds"]]
        self.targets = [(bytes.fromhex(pk), host, int(port)) for pk, host, port in cfg["targets"]]
        for _, host, _ in self.targets:
            assert host.startswith("127."), "loopback targets only"
        self.mode = cfg.get("mode", "off")
        self.graft_s = cfg.get("graft_ms", 500) / 1000.0
        self.fake_ihave = int(cfg.get("fake_ihave", 0))
        self.src_net = cfg.get("src_net")
        self.ctx = zmq.Context(io_threads=1)
        self.ctx.set(zmq.MAX_SOCKETS, 8192)
        self.links = [Link(i, t) for i, ts in enumerate(cfg["links"]) for t in ts]
        self.by_sock = {}
        self.poller = zmq.Poller()
        self.cache = {}            # id -> event bytes (what a behaving identity relays/serves)
        self.seen = {}             # id -> time first seen (bounded)
        self.hello_ms = []         # dial -> the node's HELLO, per (re)dial answered
        self.c = {k: 0 for k in (
            "dials", "redials", "hello_replies", "named", "graft_out", "prune_in",
            "graft_in", "events_in", "events_new", "events_relayed", "iwant_in",
            "iwant_ids_in", "iwant_ignored", "iwant_served", "ihave_in", "iwant_out",
            "ihave_fake_out", "ping_in", "recon_in", "frames_in", "mode_changes")}
        self.started = time.monotonic()

    # ---- links ----------------------------------------------------------------------------
    def dial(self, ln, now):
        zmq = self.zmq
        if ln.sock is not None:
            self.forget(ln.sock)
        pk, _, cpk, csk = self.idents[ln.who]
        tpk, host, port = self.targets[ln.target]
        s = self.ctx.socket(zmq.DEALER)
        s.linger = 0
        s.sndhwm = 1000
        s.curve_serverkey = self.z85.encode(curve_pk(tpk))
        s.curve_publickey = self.z85.encode(cpk)
        s.curve_secretkey = self.z85.encode(csk)
        ep = "tcp://%s:%d" % (host, port)
        if self.src_net:
            ep = "tcp://%s%d:0;%s:%d" % (self.src_net, ln.who % 250 + 1, host, port)
        s.connect(ep)
        self.send(s, b"\x01\x01" + pk + b"\x00\x00\x00")          # HELLO, port 0, no exchange
        ln.sock = s
        ln.up = ln.named = ln.meshed = False
        ln.dialed_at = ln.last_rx = now
        self.by_sock[s] = ln
        self.poller.register(s, zmq.POLLIN)
        self.c["dials"] += 1

    def forget(self, s):
        self.by_sock.pop(s, None)
        self.poller.unregister(s)
        s.close(linger=0)

    def close_all(self):
        for ln in self.links:
            if ln.sock is not None:
                self.forget(ln.sock)
                ln.sock = None
            ln.up = ln.named = ln.meshed = False

    def send(self, s, frame):
        try:
            s.send(frame, self.zmq.NOBLOCK)
            return True
        except self.zmq.ZMQError:
            return False

    def graft(self, ln, now):
        if self.send(ln.sock, b"\x01\x05" + self.topic):
            ln.meshed = True           # until a PRUNE says otherwise
            ln.last_graft = now
            self.c["graft_out"] += 1

    # ---- frames ---------------------------------------------------------------------------
    def on_frame(self, ln, f, now):
        self.c["frames_in"] += 1
        ln.last_rx = now
        if len(f) < 2 or f[0] != 1:
            return
        t = f[1]
        if t == 1:                                                  # HELLO
            if f[2:34] == self.targets[ln.target][0] and not ln.up:
                ln.up = True
                self.c["hello_replies"] += 1
                self.hello_ms.append((now - ln.dialed_at) * 1000.0)
                topics = sorted([PROFILE_TOPIC, self.topic])
                self.send(ln.sock, b"\x01\x04" + (2).to_bytes(2, "big") + b"".join(topics))
        elif t == 2:                                                # PING -> PONG
            self.c["ping_in"] += 1
            self.send(ln.sock, b"\x01\x03" + f[2:10])
        elif t == 4:                                                # SUB: what it names to us
            n = int.from_bytes(f[2:4], "big")
            named = any(f[4 + 32 * i:36 + 32 * i] == self.topic for i in range(min(n, 256)))
            if named and not ln.named:
                self.c["named"] += 1
            ln.named = named
            if not named:
                ln.meshed = False
            elif self.mode in ("behave", "withhold") and not ln.meshed:
                if self.mode == "withhold" or now - ln.last_prune >= BACKOFF_S:
                    self.graft(ln, now)
        elif t == 5 and f[2:34] == self.topic:                      # GRAFT
            self.c["graft_in"] += 1
            ln.meshed = True
        elif t == 6 and f[2:34] == self.topic:                      # PRUNE
            self.c["prune_in"] += 1
            ln.meshed = False
            ln.last_prune = now
        elif t == 7:                                                # EVENT
            self.c["events_in"] += 1
            self.on_event(ln, f[2:], now)
        elif t == 8:                                                # IHAVE
            self.c["ihave_in"] += 1
            if self.mode == "behave" and f[2:34] == self.topic:
                n = f[34]
                want = [f[35 + 32 * i:67 + 32 * i] for i in range(n)]
                want = [i for i in want if i not in self.cache][:64]
                if want:
                    self.send(ln.sock, b"\x01\x09" + bytes([len(want)]) + b"".join(want))
                    self.c["iwant_out"] += 1
        elif t == 9:                                                # IWANT
            self.c["iwant_in"] += 1
            n = f[2]
            self.c["iwant_ids_in"] += n
            if self.mode != "behave":
                self.c["iwant_ignored"] += n
                return
            for i in range(n):
                ev = self.cache.get(f[3 + 32 * i:35 + 32 * i])
                if ev is not None and self.send(ln.sock, b"\x01\x07" + ev):
                    self.c["iwant_served"] += 1
        elif t in (15, 16, 17):
            self.c["recon_in"] += 1

    def on_event(self, ln, ev, now):
        if len(ev) < 66 + 64 or ev[2:34] != self.topic:
            return
        eid = event_id(ev)
        if eid in self.seen:
            return
        self.c["events_new"] += 1
        self.seen[eid] = now
        if len(self.seen) > CACHE_MAX:
            for k in list(self.seen)[:CACHE_MAX // 4]:
                del self.seen[k]
                self.cache.pop(k, None)
        if self.mode != "behave":
            return
        self.cache[eid] = ev
        # Every identity that holds a mesh link relays once to its mesh links (not the source).
        frame = b"\x01\x07" + ev
        for other in self.links:
            if other is ln or not other.up or not other.meshed or other.sock is None:
                continue
            if other.target == ln.target and other.who == ln.who:
                continue
            if self.send(other.sock, frame):
                self.c["events_relayed"] += 1

    # ---- periodic -------------------------------------------------------------------------
    def every_tick(self, now):
        """Every 100 ms: eager re-grafts while withholding; silent links dialed again."""
        for ln in self.links:
            if ln.sock is None:
                continue
            if (self.mode == "withhold" and ln.up and ln.named and not ln.meshed
                    and now - ln.last_graft >= self.graft_s):
                self.graft(ln, now)
            elif (self.mode == "behave" and ln.up and ln.named and not ln.meshed
                  and now - ln.last_prune >= BACKOFF_S and now - ln.last_graft >= BACKOFF_S):
                self.graft(ln, now)
            if (now - ln.last_rx > SILENT_S and now - ln.dialed_at > REDIAL_MIN_S
                    and ln.redials < REDIALS_MAX):
                ln.redials += 1
                self.c["redials"] += 1
                self.dial(ln, now)

    def every_heartbeat(self, now):
        if self.mode == "withhold" and self.fake_ihave:
            for ln in self.links:
                if ln.up and ln.named:
                    ids = os.urandom(32 * self.fake_ihave)
                    if self.send(ln.sock, b"\x01\x08" + self.topic + bytes([self.fake_ihave]) + ids):
                        self.c["ihave_fake_out"] += 1

    def set_mode(self, mode, now):
        if mode not in ("off", "behave", "withhold"):
            return
        self.c["mode_changes"] += 1
        old, self.mode = self.mode, mode
        if mode == "off":
            self.close_all()
            return
        if old == "off":
            for ln in self.links:
                self.dial(ln, now)
        elif mode == "withhold":
            for ln in self.links:         # all at once: graft wherever we are not meshed
                if ln.up and ln.named and not ln.meshed:
                    self.graft(ln, now)

    def stats(self):
        now = time.monotonic()
        up = sum(1 for ln in self.links if ln.up)
        out = dict(self.c)
        hs = sorted(self.hello_ms)
        if hs:
            out["hello_ms_p50"] = round(hs[len(hs) // 2], 1)
            out["hello_ms_p90"] = round(hs[(len(hs) * 9) // 10], 1)
            out["hello_ms_max"] = round(hs[-1], 1)
        out.update({"identities": len(self.idents), "links": len(self.links), "links_up": up,
                    "links_named": sum(1 for ln in self.links if ln.up and ln.named),
                    # meshed: grafted by the node, or our GRAFT not PRUNEd for a second
                    "links_meshed": sum(1 for ln in self.links if ln.up and ln.meshed and (
                        now - ln.last_graft > 1.0 or ln.last_graft <= ln.last_prune)),
                    "mode": self.mode, "t": round(now - self.started, 2),
                    "cpu_s": round(time.process_time(), 2)})
        return out

    # ---- main loop ------------------------------------------------------------------------
    def run(self):
        zmq = self.zmq
        max_s = float(self.cfg.get("max_seconds", 120))
        end = self.started + max_s
        now = time.monotonic()
        if self.mode != "off":
            for ln in self.links:
                self.dial(ln, now)
        stdin_fd = sys.stdin.fileno()
        os.set_blocking(stdin_fd, False)
        buf = b""
        stdin_open = True
        self.poller.register(stdin_fd, zmq.POLLIN)
        next_tick = next_hb = now
        for _ in range(int(max_s * 1000) + 1000):       # bounded: each pass waits <= 20 ms
            now = time.monotonic()
            if now >= end:
                break
            ready = dict(self.poller.poll(20))
            now = time.monotonic()
            quit_ = False
            if stdin_open and stdin_fd in ready:
                try:
                    chunk = os.read(stdin_fd, 4096)
                except BlockingIOError:
                    chunk = b""
                if chunk == b"":
                    stdin_open = False
                    self.poller.unregister(stdin_fd)
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    words = line.decode("ascii", "replace").split()
                    if not words:
                        continue
                    if words[0] == "quit":
                        quit_ = True
                    elif words[0] == "mode" and len(words) > 1:
                        self.set_mode(words[1], now)
                    elif words[0] == "stats":
                        print(json.dumps(self.stats()), flush=True)
            if quit_:
                break
            for s in list(ready):
                ln = self.by_sock.get(s)
                if ln is None:
                    continue
                for _k in range(256):                       # drain, bounded per pass
                    try:
                        f = s.recv(zmq.NOBLOCK)
                    except zmq.ZMQError:
                        break
                    self.on_frame(ln, f, now)
                    if ln.sock is not s:
                        break
            if now >= next_tick:
                next_tick = now + 0.1
                self.every_tick(now)
            if now >= next_hb:
                next_hb = now + 1.0
                self.every_heartbeat(now)
        res = self.stats()
        self.close_all()
        self.ctx.term()
        return res


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        cfg = json.load(f)
    res = Swarm(cfg).run()
    print(json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    random.seed()
    sys.exit(main(sys.argv))
