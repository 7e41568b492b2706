#!/usr/bin/python3
"""A hostile peer for the node's tests (tests/hostile_test.py, tests/mesh_test.py): an
authenticated CURVE client with identities of its own, written with pyzmq and libsodium
(ctypes). Run by the system python (python3-zmq installs for it only):

    hostile_client.py PORT SERVER_KEY_HEX PHASE [ARGS...]

connects to 127.0.0.1:PORT only, plays one PHASE and prints one JSON line of what it saw.
Every phase is bounded in count and time.
"""
import ctypes, ctypes.util, json, os, sys, time
import zmq
from zmq.utils import z85

port, server_hex, phase = int(sys.argv[1]), sys.argv[2], sys.argv[3]
so = ctypes.CDLL(ctypes.util.find_library("sodium"))
assert so.sodium_init() >= 0

def ed_to_curve_pk(pk):
    out = ctypes.create_string_buffer(32)
    assert so.crypto_sign_ed25519_pk_to_curve25519(out, pk) == 0
    return out.raw

def identity():
    pk, sk = ctypes.create_string_buffer(32), ctypes.create_string_buffer(64)
    so.crypto_sign_keypair(pk, sk)
    csk = ctypes.create_string_buffer(32)
    assert so.crypto_sign_ed25519_sk_to_curve25519(csk, sk) == 0
    return pk.raw, sk.raw, ed_to_curve_pk(pk.raw), csk.raw

def sign(msg, sk):
    sig = ctypes.create_string_buffer(64)
    so.crypto_sign_detached(sig, None, msg, ctypes.c_ulonglong(len(msg)), sk)
    return sig.raw

server_pk = bytes.fromhex(server_hex)
ctx = zmq.Context()

def dealer(ident):
    pk, sk, cpk, csk = ident
    s = ctx.socket(zmq.DEALER)
    s.linger = 1000
    s.reconnect_ivl = 1000
    s.curve_serverkey = z85.encode(ed_to_curve_pk(server_pk))
    s.curve_publickey = z85.encode(cpk)
    s.curve_secretkey = z85.encode(csk)
    s.connect("tcp://127.0.0.1:%d" % port)
    return s

def hello(pk):
    return b"\x01\x01" + pk + b"\x00\x00" + b"\x00"

def wait_hello(s, timeout):
    """True once the node's HELLO (naming its key) arrives."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if s.poll(100):
            f = s.recv()
            if f[:2] == b"\x01\x01" and f[2:34] == server_pk:
                return True
    return False

def profile(pk, sk, nick=b"mallory", version=1, type_=3, lamport=1):
    body = bytes([len(nick)]) + nick
    signed = (bytes([version, type_]) + bytes(32) + pk + lamport.to_bytes(8, "big")
              + int(time.time() * 1000).to_bytes(8, "big") + b"\x00" + len(body).to_bytes(4, "big") + body)
    return signed + sign(signed, sk)

def answered_again(ident):
    """Dials again with the same key: True if the node completes the handshake and says HELLO
    (it must not, once it banned the key)."""
    s2 = dealer(ident)
    s2.send(hello(ident[0]))
    answered = wait_hello(s2, 3)
    s2.close()
    return answered

def join(s, room, token):
    """Redeems an invite on link `s`: the JOINED status, or None."""
    s.send(b"\x01\x0b" + room + token)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if s.poll(100):
            f = s.recv()
            if f[:2] == b"\x01\x0c" and f[2:34] == room:
                return f[34]
    return None

res = {"phase": phase}
rnd = os.urandom
if phase == "events":
    ident = identity()
    pk, sk = ident[0], ident[1]
    s = dealer(ident)
    s.send(hello(pk))
    res["hello_reply"] = wait_hello(s, 5)
    ev = profile(pk, sk)
    other = profile(pk, sk, nick=b"badsig")  # not `ev`: same id, so a seen-cache duplicate
    bad = [
        other[:-1] + bytes([other[-1] ^ 1]),                            # bad signature
        profile(pk, sk, version=2),                                     # event version 2
        profile(pk, sk, type_=0x63),                                    # unknown event type
        profile(pk, sk, nick=b"two") + b"\x00",                         # trailing byte
        profile(pk, sk, nick=b"three")[:-10],                           # truncated
        profile(pk, sk, nick=b"bad\x07nick"),                           # control char in nick
    ] + [rnd(1 + i * 37) for i in range(6)]                              # random bytes
    s.send(b"\x01\x07" + ev)                                            # one valid PROFILE
    for b in bad:
        s.send(b"\x01\x07" + b)
    s.send(b"\x01\x07")                                                 # EVENT, empty body
    s.send(b"\x01\x63" + rnd(20))                                       # unknown frame type
    s.send(b"\x01\x02" + rnd(8))                                        # a PING: fine
    res["sent_invalid"] = len(bad)
    res["sent_malformed"] = 2
    time.sleep(1.0)
    s.close()
elif phase == "garbage":
    ident = identity()
    pk = ident[0]
    s = dealer(ident)
    frames = [b"\x01\x02" + rnd(8), b"\x01\x02" + rnd(8)]               # before HELLO
    for f in frames:
        s.send(f)
    s.send(hello(pk))
    res["hello_reply"] = wait_hello(s, 5)
    t1, t2 = sorted([rnd(32), rnd(32)])
    junk = [
        b"", b"\x01", b"\x02\x02" + rnd(8), b"\x01\x63", b"\x01\x02" + rnd(7),
        b"\x01\x04\x00\x02" + t2 + t1,                                  # SUB not ascending
        b"\x01\x08" + rnd(32) + b"\x00",                                # IHAVE n=0
        b"\x01\x09\x41" + rnd(65 * 32),                                 # IWANT n=65
        b"\x01\x0a\x01" + rnd(32) + b"\x05" + rnd(4) + b"\x1d\x2e",     # PEERS family 5
        b"\x01\x0d" + rnd(32) + bytes(8) + rnd(32) + b"\x00\x00",       # SYNC max=0
        b"\x01\x01" + pk + b"\x00\x00\x80",                             # HELLO bad flags
    ]
    sent = 0
    for i in range(48):
        f = junk[i % len(junk)] if i < 2 * len(junk) else bytes([1 + i % 3]) + rnd(i)
        try:
            if i == 5:
                s.send_multipart([b"\x01\x02" + rnd(8), b"extra part"])
            else:
                s.send(f, zmq.NOBLOCK)
            sent += 1
        except zmq.ZMQError:
            break
    res["sent_garbage"] = sent
    time.sleep(1.5)
    s.close()
    # Banned now: the same key cannot even complete a handshake.
    res["banned_key_hello_reply"] = answered_again(ident)
elif phase in ("flood_sig", "flood_junk"):
    # More invalid events than a peer may send (256): the node must ban the sender.
    ident = identity()
    pk, sk = ident[0], ident[1]
    s = dealer(ident)
    s.send(hello(pk))
    res["hello_reply"] = wait_hello(s, 5)
    sent = 0
    for i in range(300):
        if phase == "flood_sig":   # well-formed events, each with a bad signature
            ev = profile(pk, sk, nick=b"n%d" % i)
            f = b"\x01\x07" + ev[:-64] + rnd(64)
        else:                      # EVENT frames whose body is not an event at all
            f = b"\x01\x07" + rnd(1 + i % 200)
        try:
            s.send(f, zmq.NOBLOCK)
            sent += 1
        except zmq.ZMQError:
            break
        if i % 50 == 49:
            time.sleep(0.05)       # well under the 2,000 frames/s a peer may send
    res["sent_invalid"] = sent
    time.sleep(1.5)
    s.close()
    res["banned_key_hello_reply"] = answered_again(ident)
elif phase == "member":
    # A member that misbehaves in anti-entropy (PROTOCOL.md 12): it joins with an invite,
    # then sends summaries that never converge, floods openings, and streams events whose
    # parents never come, some stamped far in the future.
    room, token = bytes.fromhex(sys.argv[4]), bytes.fromhex(sys.argv[5])
    ident = identity()
    pk, sk = ident[0], ident[1]
    s = dealer(ident)
    s.send(hello(pk))
    res["hello_reply"] = wait_hello(s, 5)
    res["joined"] = join(s, room, token)
    time.sleep(0.5)
    top = b"\xff" * 40

    def fingerprints(round_):
        ranges = b""
        for i in range(16):
            upper = top if i == 15 else (i + 1).to_bytes(8, "big") + bytes(32)
            ranges += upper + b"\x01" + (7).to_bytes(4, "big") + rnd(16)
        return b"\x01\x0f" + room + bytes([round_, 16]) + ranges

    for r in range(40):                     # rounds past the limit (16) are dropped
        s.send(fingerprints(r))
        time.sleep(0.01)
    for _ in range(50):                     # openings past 4 per heartbeat are dropped
        s.send(fingerprints(0))
    for _ in range(20):                     # credit past 64 is capped
        s.send(b"\x01\x11\x00\x40")

    def orphan(i):
        parents = b"".join(sorted(rnd(32) for _ in range(2)))
        body = rnd(8) + rnd(24) + rnd(40)   # a box: key id, nonce, ciphertext
        ts = (1 << 62) if i % 2 else int(time.time() * 1000)
        signed = (bytes([1, 2]) + room + pk + (1000 + i).to_bytes(8, "big") + ts.to_bytes(8, "big")
                  + b"\x02" + parents + len(body).to_bytes(4, "big") + body)
        return signed + sign(signed, sk)

    sent = 0
    for b in range(6):                      # 6 BATCH frames of 60 orphans each
        evs = [orphan(b * 60 + i) for i in range(60)]
        entries = b"".join(len(e).to_bytes(4, "big") + e for e in evs)
        s.send(b"\x01\x10" + room + (0).to_bytes(4, "big") + len(evs).to_bytes(2, "big") + entries)
        sent += len(evs)
        time.sleep(0.05)
    res["sent_orphans"] = sent
    time.sleep(1.5)
    s.close()
elif phase == "mismatch":
    ident, other = identity(), identity()
    s = dealer(ident)
    s.send(hello(other[0]))                                             # names another key
    res["hello_reply"] = wait_hello(s, 3)
    s.close()
elif phase == "self":
    # The node's own identity from another process: its seed, from an unprotected key file.
    seed = bytes.fromhex(sys.argv[4])
    pk, sk = ctypes.create_string_buffer(32), ctypes.create_string_buffer(64)
    assert so.crypto_sign_seed_keypair(pk, sk, seed) == 0
    csk = ctypes.create_string_buffer(32)
    assert so.crypto_sign_ed25519_sk_to_curve25519(csk, sk) == 0
    s = dealer((pk.raw, sk.raw, ed_to_curve_pk(pk.raw), csk.raw))
    s.send(hello(pk.raw))
    res["hello_reply"] = wait_hello(s, 3)
    s.close()
elif phase == "oversize":
    ident = identity()
    pk = ident[0]
    s = dealer(ident)
    s.send(hello(pk))
    res["hello_reply"] = wait_hello(s, 5)
    s.send(b"\x01\x07" + rnd(65600 - 1))                                # 65,601 bytes
    s.send(b"\x01\x07" + rnd(1 << 20))                                  # 1 MiB
    time.sleep(1.0)
    s.close()
elif phase == "nohello":
    # F4: many links that finish the Curve handshake and never say HELLO, each with a key of
    # its own (ZeroMQ redials each one the node closes), held for a while.
    import resource
    count, hold = int(sys.argv[4]), float(sys.argv[5])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    socks = []
    for i in range(count):
        try:
            s = dealer(identity())
        except zmq.ZMQError:
            break
        s.reconnect_ivl = 200
        socks.append(s)
    res["opened"] = len(socks)
    time.sleep(hold)
    for s in socks:
        s.close(linger=0)
elif phase == "profiles":
    # F2: one key floods PROFILE events with growing lamport; then the same number again, each
    # older than what it sent last.
    count = int(sys.argv[4])
    ident = identity()
    pk, sk = ident[0], ident[1]
    s = dealer(ident)
    s.send(hello(pk))
    res["hello_reply"] = wait_hello(s, 5)
    res["author"] = pk.hex()
    if len(sys.argv) > 6:           # as a member: redeem an invite first
        res["joined"] = join(s, bytes.fromhex(sys.argv[5]), bytes.fromhex(sys.argv[6]))
        time.sleep(0.5)
    sent = 0
    for i in range(count):
        s.send(b"\x01\x07" + profile(pk, sk, nick=b"m%d" % i, lamport=count + 1 + i))
        sent += 1
        if i % 100 == 99:
            time.sleep(0.08)        # under the 2,000 frames/s a peer may send
    for i in range(count):
        s.send(b"\x01\x07" + profile(pk, sk, nick=b"o%d" % i, lamport=1 + i))
        sent += 1
        if i % 100 == 99:
            time.sleep(0.08)
    res["sent"] = sent
    time.sleep(1.0)
    s.close()
elif phase == "stranger":
    # F1: a fresh key, member of nothing, that knows a room id (an old invite, a log) and the ids
    # of some of its events. It listens for the topics the node names, then claims the room,
    # grafts, asks for the events and for whatever IHAVE offers.
    room = bytes.fromhex(sys.argv[4])
    ids = [bytes.fromhex(h) for h in sys.argv[5].split(",") if h] if len(sys.argv) > 5 else []
    listen = float(sys.argv[6]) if len(sys.argv) > 6 else 4.0
    ident = identity()
    pk = ident[0]
    s = dealer(ident)
    s.send(hello(pk))
    res["hello_reply"] = wait_hello(s, 5)
    topics, events, ihave = set(), [], set()

    def take(f):
        if f[:2] == b"\x01\x04":
            n = int.from_bytes(f[2:4], "big")
            for i in range(n):
                topics.add(f[4 + 32 * i:36 + 32 * i].hex())
        elif f[:2] == b"\x01\x07" and len(f) > 68:
            events.append({"type": f[3], "room": f[4:36].hex(), "author": f[36:68].hex()})
        elif f[:2] == b"\x01\x08":
            n = f[34]
            for i in range(n):
                ihave.add(f[35 + 32 * i:67 + 32 * i])

    def listen_for(seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if s.poll(50):
                take(s.recv())

    listen_for(1.5)
    res["named_topics"] = sorted(topics)
    s.send(b"\x01\x04" + (2).to_bytes(2, "big") + bytes(32) + room)   # SUB: profiles, the room
    s.send(b"\x01\x05" + room)                                         # GRAFT
    for i in range(0, len(ids), 64):
        chunk = ids[i:i + 64]
        s.send(b"\x01\x09" + bytes([len(chunk)]) + b"".join(chunk))    # IWANT
    asked = set()
    deadline = time.monotonic() + listen
    while time.monotonic() < deadline:
        listen_for(0.5)
        fresh = sorted(ihave - asked)[:64]
        if fresh:
            asked.update(fresh)
            s.send(b"\x01\x09" + bytes([len(fresh)]) + b"".join(fresh))
    res["events"] = events
    res["ihave_ids"] = len(ihave)
    s.close()
elif phase == "peers_flood":
    # F5: PEERS frames full of made-up candidates, all at addresses this client listens on,
    # counting the connections the node then makes to them.
    import socket, threading
    frames, hold = int(sys.argv[4]), float(sys.argv[5])
    listeners = []
    for _ in range(20):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.bind(("127.0.0.1", 0))
        ls.listen(64)
        ls.settimeout(0.2)
        listeners.append(ls)
    ports = [ls.getsockname()[1] for ls in listeners]
    dials, stop = [0], threading.Event()

    def accept_all():
        while not stop.is_set():
            for ls in listeners:
                try:
                    c, _ = ls.accept()
                    dials[0] += 1
                    c.close()
                except (socket.timeout, OSError):
                    pass

    th = threading.Thread(target=accept_all, daemon=True)
    th.start()
    ident = identity()
    s = dealer(ident)
    s.send(hello(ident[0]))
    res["hello_reply"] = wait_hello(s, 5)
    sent, t0 = 0, time.monotonic()
    for f in range(frames):
        entries = b""
        for i in range(16):
            pk = identity()[0]
            entries += pk + b"\x04" + bytes([127, 0, 0, 1]) + ports[(f * 16 + i) % 20].to_bytes(2, "big")
        s.send(b"\x01\x0a" + bytes([16]) + entries)
        sent += 16
        if f % 50 == 49:
            time.sleep(0.05)
    res["sent_candidates"] = sent
    time.sleep(hold)
    stop.set()
    th.join(timeout=5)
    res["dials"] = dials[0]
    res["seconds"] = time.monotonic() - t0
    s.close()
    for ls in listeners:
        ls.close()
elif phase == "bytes_flood":
    # F7: a peer pushing EVENT frames as fast as it can (large, and not events at all).
    count = int(sys.argv[4])
    ident = identity()
    s = dealer(ident)
    s.send(hello(ident[0]))
    res["hello_reply"] = wait_hello(s, 5)
    sent = 0
    for i in range(count):
        try:
            s.send(b"\x01\x07" + rnd(60000), zmq.NOBLOCK)
            sent += 1
        except zmq.ZMQError:
            break
        if i % 100 == 99:
            time.sleep(0.06)        # under the 2,000 frames/s a peer may send
    res["sent"] = sent
    time.sleep(1.5)
    s.close()
    res["banned_key_hello_reply"] = answered_again(ident)
ctx.term()
print(json.dumps(res))
