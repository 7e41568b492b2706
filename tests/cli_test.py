#!/usr/bin/env python3
"""CLI contract tests: drive the built `rumor` binary the way a user would.

Usage: cli_test.py PATH_TO_RUMOR [NAME_SUBSTRING]   (only the tests whose name holds it)

Every test works in its own temporary home and checks what a user would:
exit status, the one-line `rumor: ...` error, JSON fields, and that a failed
command leaves the home exactly as it was.
"""
import hashlib
import json
import os
import re
import select
import shutil
import stat
import subprocess
import sys
import tempfile
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rumorlab  # noqa: E402
from rumorlab import HEX64, free_port  # noqa: E402

RUMOR = os.path.abspath(sys.argv[1])
SOURCE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASS = "correct horse battery staple"


class Home(rumorlab.Home):
    """A temporary rumor home and a runner bound to it (RUMOR_PASSPHRASE is PASS)."""

    def __init__(self, root, name="home"):
        super().__init__(RUMOR, os.path.join(root, name), env=rumorlab.clean_env(PASS))

    def run(self, *args, stdin=None, env=None, expect=0, home=True):
        """Runs the CLI (no terminal, so no prompt can appear); returns (stdout, stderr)."""
        rc, out, err = self.cli(*args, stdin=stdin, env=env, home=home, timeout=60)
        if expect is not None and rc != expect:
            raise AssertionError(f"rumor {' '.join(args)}: exit {rc}, wanted {expect}\n"
                                 f"stdout: {out}\nstderr: {err}")
        if rc != 0:
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("rumor: "), f"error is not one 'rumor: ' line: {err!r}"
        return out, err

    def snapshot(self):
        """Hashes every file of the home except LMDB's lock file (reader slots, not data)."""
        snap = {}
        for dirpath, _, files in os.walk(self.path):
            for f in files:
                if f == "lock.mdb":
                    continue
                p = os.path.join(dirpath, f)
                with open(p, "rb") as fh:
                    snap[os.path.relpath(p, self.path)] = hashlib.sha256(fh.read()).hexdigest()
        return snap

    def init(self, *extra):
        out, _ = self.run("init", "--nick", "alice", *extra)
        return out.strip()


def expect_unchanged(home, *args, stdin=None, env=None, contains=None):
    """Runs a command that must fail with exit 1 and must leave the home untouched."""
    before = home.snapshot()
    _, err = home.run(*args, stdin=stdin, env=env, expect=1)
    if contains:
        assert contains in err, f"{contains!r} not in {err!r}"
    assert home.snapshot() == before, f"rumor {' '.join(args)} changed the home"
    return err


def run_on_terminal(home, *args, typed=(), env=None):
    """Runs rumor with a terminal of its own as /dev/tty (stdin, stdout and stderr are not it).

    Each entry of `typed` is typed, with a newline, once a prompt ending in ': ' shows.
    Returns (exit status, stdout, stderr).
    """
    master, slave = os.openpty()
    slave_name = os.ttyname(slave)

    def own_the_terminal():
        os.setsid()
        # The first terminal a session leader opens becomes its controlling terminal.
        os.close(os.open(slave_name, os.O_RDWR))

    e = dict(home.env)
    for k, v in (env or {}).items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    p = subprocess.Popen([RUMOR, "--home", home.path] + list(args), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e,
                         preexec_fn=own_the_terminal)
    try:
        for line in typed:
            shown = b""
            while not shown.endswith(b": "):
                ready, _, _ = select.select([master], [], [], 30)
                assert ready, f"no prompt from rumor {' '.join(args)}; terminal shows {shown!r}"
                shown += os.read(master, 4096)
            os.write(master, line.encode() + b"\n")
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        # The slave stays open until here: a master whose slave is closed reads as an error.
        os.close(slave)
        os.close(master)
    return p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def assert_one_error_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rumor: "), f"error is not one 'rumor: ' line: {err!r}"


def patch_file(path, old, new):
    """Replaces every occurrence of `old` by `new` (same length) in a file; returns the count."""
    with open(path, "rb") as fh:
        data = fh.read()
    n = data.count(old)
    with open(path, "r+b") as fh:
        fh.write(data.replace(old, new))
    return n


# ---- tests ------------------------------------------------------------------

def test_init_creates_private_home(root):
    h = Home(root)
    ident = h.init()
    assert HEX64.match(ident), ident
    assert stat.S_IMODE(os.stat(h.path).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(h.path, "identity.key")).st_mode) == 0o600
    out, _ = h.run("id", "--json")
    j = json.loads(out)
    assert j["id"] == ident and j["nick"] == "alice" and j["protected"] is True
    # The seed is not in the key file in clear.
    with open(os.path.join(h.path, "identity.key"), "rb") as fh:
        assert fh.read().startswith(b"RUMORKEY")


def test_init_refuses_existing_identity(root):
    h = Home(root)
    h.init()
    expect_unchanged(h, "init", contains="already holds an identity")
    expect_unchanged(h, "init", "--no-passphrase", contains="already holds an identity")


def test_init_needs_a_passphrase_source(root):
    h = Home(root)
    h.run("init", env={"RUMOR_PASSPHRASE": None}, expect=1)
    assert not os.path.exists(h.path), "a failed init left a home behind"
    h.run("init", "--no-passphrase", env={"RUMOR_PASSPHRASE": None})
    out, _ = h.run("id", "--json", env={"RUMOR_PASSPHRASE": None})
    assert json.loads(out)["protected"] is False
    # An unprotected identity works with no passphrase at all.
    h.run("room", "create", "solo", env={"RUMOR_PASSPHRASE": None})


def test_passphrase_file(root):
    h = Home(root)
    pf = os.path.join(root, "pass.txt")
    with open(pf, "w") as fh:
        fh.write("from a file\n")
    no_env = {"RUMOR_PASSPHRASE": None}
    h.run("init", "--passphrase-file", pf, env=no_env)
    h.run("--passphrase-file", pf, "room", "create", "lan", env=no_env)
    expect_unchanged(h, "room", "create", "other", env={"RUMOR_PASSPHRASE": "not it"},
                     contains="wrong passphrase")


def test_passwd(root):
    h = Home(root)
    old, new = os.path.join(root, "old.txt"), os.path.join(root, "new.txt")
    with open(old, "w") as fh:
        fh.write("old words\n")
    with open(new, "w") as fh:
        fh.write("new words\n")
    no_env = {"RUMOR_PASSPHRASE": None}
    ident = h.run("init", "--passphrase-file", old, env=no_env)[0].strip()
    h.run("--passphrase-file", old, "room", "create", "lan", env=no_env)
    kf = os.path.join(h.path, "identity.key")
    # A wrong old passphrase changes nothing; neither does a missing new one.
    expect_unchanged(h, "passwd", "--new-passphrase-file", new, env={"RUMOR_PASSPHRASE": "no"},
                     contains="wrong passphrase")
    expect_unchanged(h, "--passphrase-file", old, "passwd", env=no_env,
                     contains="a new passphrase is needed")
    h.run("passwd", "--no-passphrase", "--new-passphrase-file", new, expect=2)
    h.run("--passphrase-file", old, "passwd", "--new-passphrase-file", new, env=no_env)
    # The same identity and rooms, under the new passphrase only; the file replaced whole.
    assert os.stat(kf).st_mode & 0o777 == 0o600
    assert [f for f in os.listdir(h.path) if f.startswith(".rumor-")] == []
    assert h.run("id", env=no_env)[0].split()[0] == ident
    expect_unchanged(h, "--passphrase-file", old, "room", "list", env=no_env,
                     contains="wrong passphrase")
    assert "lan" in h.run("--passphrase-file", new, "room", "list", env=no_env)[0]
    # No passphrase at all, then one again.
    h.run("--passphrase-file", new, "passwd", "--no-passphrase", env=no_env)
    assert "lan" in h.run("room", "list", env=no_env)[0]
    h.run("passwd", "--new-passphrase-file", old, env=no_env)
    expect_unchanged(h, "room", "list", env=no_env, contains="passphrase")
    assert "lan" in h.run("--passphrase-file", old, "room", "list", env=no_env)[0]


def test_wrong_passphrase(root):
    h = Home(root)
    h.init()
    h.run("room", "create", "lan")
    expect_unchanged(h, "send", "lan", "hi", env={"RUMOR_PASSPHRASE": "wrong"}, contains="wrong passphrase")
    expect_unchanged(h, "room", "list", env={"RUMOR_PASSPHRASE": "wrong"}, contains="wrong passphrase")


def test_corrupted_and_truncated_key_file(root):
    h = Home(root)
    h.init()
    kf = os.path.join(h.path, "identity.key")
    with open(kf, "rb") as fh:
        good = fh.read()
    # A flipped byte in the sealed seed: the passphrase check fails, nothing changes.
    bad = bytearray(good)
    bad[120] ^= 1
    with open(kf, "wb") as fh:
        fh.write(bad)
    expect_unchanged(h, "send", "lan", "x")
    # A truncated file is named as such.
    with open(kf, "wb") as fh:
        fh.write(good[:70])
    expect_unchanged(h, "id", contains="not a valid rumor key file")
    expect_unchanged(h, "status", contains="not a valid rumor key file")
    with open(kf, "wb") as fh:
        fh.write(good)
    h.run("id")


def test_room_tree_and_paths(root):
    h = Home(root)
    h.init()
    lan = h.run("room", "create", "lan", "--topic", "the LAN")[0].strip()
    assert HEX64.match(lan)
    gen = h.run("room", "create", "lan/general")[0].strip()
    h.run("room", "create", "lan/general/deep")
    h.run("room", "create", "lan/dev", "--private")
    h.run("room", "create", "work")
    out, _ = h.run("room", "list")
    lines = out.splitlines()
    assert lines[0].startswith("lan"), out
    assert any(l.startswith("├── dev [private]") for l in lines), out
    assert any(l.startswith("└── general") for l in lines), out
    assert any(l.startswith("    └── deep") for l in lines), out
    assert lines[-1].startswith("work"), out
    j = json.loads(h.run("room", "list", "--json")[0])
    paths = sorted(r["path"] for r in j["rooms"])
    assert paths == ["lan", "lan/dev", "lan/general", "lan/general/deep", "work"], paths
    info = json.loads(h.run("room", "info", "lan/general", "--json")[0])
    assert info["id"] == gen and info["path"] == "lan/general" and info["private"] is False
    assert info["members_list"][0]["role"] == "owner"
    # By id prefix, as by path.
    info2 = json.loads(h.run("room", "info", gen[:8], "--json")[0])
    assert info2["id"] == gen
    info3 = json.loads(h.run("room", "info", lan, "--json")[0])
    assert info3["topic"] == "the LAN"
    # Errors: unknown room, missing parent, duplicate name.
    expect_unchanged(h, "room", "info", "nope", contains="no room 'nope'")
    expect_unchanged(h, "room", "create", "missing/child", contains="does not exist")
    expect_unchanged(h, "room", "create", "lan/general", contains="already exists")
    expect_unchanged(h, "send", "deadbeef00", "x", contains="no room")


def test_room_edits(root):
    h = Home(root)
    h.init()
    h.run("room", "create", "lan")
    h.run("room", "create", "lan/general")
    h.run("room", "create", "lan/teams")
    h.run("room", "create", "work")
    h.run("room", "rename", "lan/general", "main")
    h.run("room", "topic", "lan/main", "where we talk")
    info = json.loads(h.run("room", "info", "lan/main", "--json")[0])
    assert info["topic"] == "where we talk" and info["name"] == "main"
    h.run("room", "move", "lan/main", "lan/teams")
    assert json.loads(h.run("room", "info", "lan/teams/main", "--json")[0])["depth"] == 2
    # A shared room keeps its key domain: not into another tree, not to the top level.
    expect_unchanged(h, "room", "move", "lan/teams/main", "work", contains="cannot move")
    expect_unchanged(h, "room", "move", "lan/teams/main", "/", contains="cannot move")
    expect_unchanged(h, "room", "move", "work", "lan", contains="cannot move")
    # A private room is its own domain: it moves within the tree it was made in, or to the
    # top level, never into another tree (PROTOCOL.md 7.3: no cycles across key domains).
    h.run("room", "create", "lan/secret", "--private")
    h.run("room", "move", "lan/secret", "lan/teams")
    expect_unchanged(h, "room", "move", "lan/teams/secret", "work", contains="cannot move")
    h.run("room", "move", "lan/teams/secret", "/")
    assert json.loads(h.run("room", "info", "secret", "--json")[0])["depth"] == 0
    h.run("room", "move", "secret", "lan")
    assert json.loads(h.run("room", "info", "lan/secret", "--json")[0])["depth"] == 1
    # A room cannot move inside itself.
    h.run("room", "create", "lan/teams/main/inner")
    expect_unchanged(h, "room", "move", "lan/teams", "lan/teams/main/inner", contains="cannot move")
    expect_unchanged(h, "room", "rename", "work", "a/b")


def test_room_edit_refusals_read_as_english(root):
    """Reported: "you may not topic 'friends'". Each verb of the refusal is English."""
    h = Home(root)
    h.init()
    h.run("room", "create", "friends")
    h.run("room", "create", "friends/sub")
    h.run("room", "create", "friends/other")
    h.run("room", "leave", "friends")  # alone in it, the owner may leave: no rights remain
    for args, says in ((["topic", "friends", "hi"], "you may not set the topic of 'friends': "),
                       (["rename", "friends/sub", "x"], "you may not rename 'friends/sub': "),
                       (["move", "friends/sub", "friends/other"],
                        "you may not move 'friends/sub': ")):
        err = expect_unchanged(h, "room", *args, contains=says)
        assert "only its admins can" in err, err


def test_room_move_refusals_say_why(root):
    """Reported: a refused `room move` gave one catch-all sentence. Each rule of PROTOCOL.md 3
    item 4 and 7.4 that refuses it is named, and nothing is written."""
    h = Home(root)
    h.init()
    for path in ("lan", "lan/teams", "lan/teams/main", "lan/teams/main/inner", "work"):
        h.run("room", "create", path)
    h.run("room", "create", "lan/secret", "--private")
    deep = "lan" + "/x" * 13  # 14 levels: lan/teams (3 levels) under it would make 17
    for i in range(1, 14):
        h.run("room", "create", "lan" + "/x" * i)
    cases = (
        (["lan/teams", "lan/teams/main/inner"],
         "cannot move 'lan/teams' into 'lan/teams/main/inner': that is the room itself or inside "
         "it"),
        (["lan/teams", "lan/teams"], "that is the room itself or inside it"),
        (["lan/teams/main", "work"],
         "cannot move 'lan/teams/main' into 'work': a shared room stays in the tree of the room "
         "whose key it uses"),
        (["lan/teams/main", "/"],
         "cannot move 'lan/teams/main' to the top level: only a private room can go there"),
        (["work", "lan"], "cannot move 'work': it was created at the top level, and the root of a "
                          "tree never moves"),
        (["lan/secret", "work"],
         "cannot move 'lan/secret' into 'work': a private room moves only to the top level or "
         "under a room of the tree it was created in"),
        (["lan/teams", deep],
         f"cannot move 'lan/teams' into '{deep}': the tree under its top-level or private room "
         "would be more than 16 levels deep"),
    )
    for args, says in cases:
        err = expect_unchanged(h, "room", "move", *args, contains=says)
        assert "you must be its admin" not in err, err
    # One level less fits (13 + 3 = 16), and a private room goes to the top level.
    h.run("room", "move", "lan/teams", deep.rsplit("/", 1)[0])
    h.run("room", "move", "lan/secret", "/")


def test_room_names_are_path_segments(root):
    """Reported: `room create 'bad name!'` was accepted. A name a node writes is one path segment
    (PROTOCOL.md 2.2): letters of any script, digits, '-', '_', '.'; create and rename refuse
    anything else and store nothing."""
    h = Home(root)
    h.init()
    h.run("room", "create", "lan")
    bad = ("bad name!", "a b", "semi;colon", "q'uote", "star*", "-dash", ".", "..", "tab\tx",
           "nbsp\u00a0x", "zero\u200bwidth", "rtl\u202ex", "x" * 65, "é" * 33)
    for name in bad:
        err = expect_unchanged(h, "room", "create", name, contains="invalid room name")
        assert "letters (any script), digits, '-', '_' and '.'" in err, err
        expect_unchanged(h, "room", "create", "lan/" + name, contains="invalid room name")
        expect_unchanged(h, "room", "rename", "lan", name, contains="invalid room name")
    expect_unchanged(h, "room", "rename", "lan", "a/b", contains="invalid room name 'a/b'")
    good = ("general", "Dev-2.0_x", ".hidden", "x-", "café", "日本語", "кот", "é" * 32)
    for name in good:
        h.run("room", "create", "lan/" + name)
    paths = sorted(r["path"] for r in json.loads(h.run("room", "list", "--json")[0])["rooms"])
    assert paths == sorted(["lan"] + ["lan/" + n for n in good]), paths
    h.run("room", "rename", "lan/general", "main")
    # A topic is not a name: spaces and punctuation stay allowed there.
    h.run("room", "topic", "lan", "anything goes, here!")
    h.run("room", "create", "lan/talk", "--topic", "bad name! is a fine topic")
    err = expect_unchanged(h, "room", "topic", "lan", "x" * 513, contains="invalid topic")
    assert "room name" not in err, err


def test_send_and_log(root):
    h = Home(root)
    h.init()
    h.run("room", "create", "lan")
    ids = [h.run("send", "lan", f"message {i}")[0].strip() for i in range(5)]
    assert all(HEX64.match(i) for i in ids)
    h.run("send", "lan", "-", stdin="from stdin\n")
    out, _ = h.run("log", "lan")
    texts = [l.split(": ", 1)[1] for l in out.splitlines()]
    assert texts == [f"message {i}" for i in range(5)] + ["from stdin"], texts
    lines = [json.loads(l) for l in h.run("log", "lan", "--json")[0].splitlines()]
    assert [l["id"] for l in lines[:5]] == ids
    for l in lines:
        for k in ("id", "room", "author", "nick", "ts", "text"):
            assert k in l, (k, l)
        assert l["nick"] == "alice"
    last2 = [json.loads(l) for l in h.run("log", "lan", "--json", "--limit", "2")[0].splitlines()]
    assert [l["text"] for l in last2] == ["message 4", "from stdin"]
    # One's own messages are never unread.
    h.run("send", "lan", "mine")
    j = json.loads(h.run("room", "list", "--json")[0])
    assert j["rooms"][0]["unread"] == 0, j
    # Terminal output never carries escape sequences from a message.
    h.run("send", "lan", "evil \x1b[31mred")
    out, _ = h.run("log", "lan", "--limit", "1")
    assert "\x1b" not in out and "evil ?[31mred" in out, out
    j = json.loads(h.run("log", "lan", "--limit", "1", "--json")[0])
    assert j["text"] == "evil \x1b[31mred"


def test_send_rejects_bad_text(root):
    h = Home(root)
    h.init()
    h.run("room", "create", "lan")
    expect_unchanged(h, "send", "lan", "-", stdin=b"bad \xff\xfe utf8", contains="not valid UTF-8")
    expect_unchanged(h, "send", "lan", "-", stdin=b"overlong \xc0\xaf", contains="not valid UTF-8")
    expect_unchanged(h, "send", "lan", "-", stdin=b"x" * 16385, contains="over the limit")
    expect_unchanged(h, "send", "lan", "-", stdin=b"x" * 100000, contains="over the limit")
    # The limit is named as it is, and an argument's length as it is (it once read "is over
    # 16385 bytes", one more than the limit, for a message of 70,000).
    err = expect_unchanged(h, "send", "lan", "x" * 70000,
                           contains="message is 70000 bytes, over the limit of 16384 bytes")
    err += expect_unchanged(h, "send", "lan", "-", stdin=b"x" * 70000,
                            contains="message is over the limit of 16384 bytes")
    err += expect_unchanged(h, "send", "lan", "x" * 16385,
                            contains="message is 16385 bytes, over the limit of 16384 bytes")
    assert "over 16385" not in err, err
    expect_unchanged(h, "send", "lan", "", contains="empty")
    h.run("send", "lan", "-", stdin=b"y" * 16384)
    st = json.loads(h.run("status", "--json")[0])
    assert st["events"] == 3, st  # profile, room, one message


def test_tampered_event_is_detected(root):
    h = Home(root)
    h.init()
    room = h.run("room", "create", "lan")[0].strip()
    h.run("send", "lan", "original text that will be altered")
    author = json.loads(h.run("id", "--json")[0])["id"]
    # The stored event begins version 2, type MESSAGE (2), room, author: flip a byte of its box.
    marker = bytes([2, 2]) + bytes.fromhex(room) + bytes.fromhex(author)
    data_path = os.path.join(h.path, "store", "data.mdb")
    with open(data_path, "rb") as fh:
        data = fh.read()
    pos = data.find(marker)
    assert pos >= 0, "event bytes not found in the store"
    while pos >= 0:
        with open(data_path, "r+b") as fh:
            fh.seek(pos + 130)
            b = fh.read(1)
            fh.seek(pos + 130)
            fh.write(bytes([b[0] ^ 0x40]))
        pos = data.find(marker, pos + 1)
    err = expect_unchanged(h, "log", "lan", contains="fails verification")
    assert "altered" in err


def test_tampered_room_event_is_detected(root):
    """A room whose ROOM_CREATE was altered on disk: every command that shows it says so."""
    h = Home(root)
    h.init()
    h.run("room", "create", "lan")
    h.run("send", "lan", "hello")
    author = json.loads(h.run("id", "--json")[0])["id"]
    # Version 2, type ROOM_CREATE (1), an all-zero room (top level), the author: flip a box byte.
    marker = bytes([2, 1]) + bytes(32) + bytes.fromhex(author)
    data_path = os.path.join(h.path, "store", "data.mdb")
    with open(data_path, "rb") as fh:
        data = fh.read()
    pos = data.find(marker)
    assert pos >= 0, "room event not found in the store"
    while pos >= 0:
        with open(data_path, "r+b") as fh:
            fh.seek(pos + 110)
            b = fh.read(1)
            fh.seek(pos + 110)
            fh.write(bytes([b[0] ^ 0x40]))
        pos = data.find(marker, pos + 1)
    for args in (["room", "list"], ["room", "info", "lan"], ["log", "lan"]):
        err = expect_unchanged(h, *args, contains="in the store fails verification")
        assert re.search(r"rumor: event [0-9a-f]{16} in the store fails verification: "
                         r"the store was altered outside rumor", err), err


def test_passphrase_file_wins_over_environment(root):
    h = Home(root)
    pf = os.path.join(root, "pass.txt")
    with open(pf, "w") as fh:
        fh.write("from the file\n")
    h.run("--passphrase-file", pf, "init", env={"RUMOR_PASSPHRASE": "from the environment"})
    # The identity is sealed under the file's passphrase, not the environment's.
    h.run("--passphrase-file", pf, "room", "create", "lan", env={"RUMOR_PASSPHRASE": None})
    h.run("--passphrase-file", pf, "room", "create", "dev",
          env={"RUMOR_PASSPHRASE": "from the environment"})
    expect_unchanged(h, "room", "create", "x", env={"RUMOR_PASSPHRASE": "from the environment"},
                     contains="wrong passphrase")
    out, _ = h.run("help")
    assert "--passphrase-file F (its first line), else RUMOR_PASSPHRASE" in out, out


def test_cli_uses_only_the_node_header(root):
    """cli/ reaches libsodium and the home's layout only through node/ and crypto/ headers."""
    cli = os.path.join(SOURCE, "cli")
    for name in sorted(os.listdir(cli)):
        if not name.endswith((".c", ".h")):
            continue
        with open(os.path.join(cli, name)) as fh:
            text = fh.read()
        assert "<sodium.h>" not in text and "sodium_" not in text, f"cli/{name} calls libsodium"
        assert "identity.key" not in text, f"cli/{name} knows the home's layout"


def test_import_unprotected_key_file(root):
    h = Home(root)
    no_env = {"RUMOR_PASSPHRASE": None}
    h.run("init", "--no-passphrase", env=no_env)
    ident = json.loads(h.run("id", "--json", env=no_env)[0])["id"]
    plain = os.path.join(root, "plain.key")
    shutil.copyfile(os.path.join(h.path, "identity.key"), plain)
    h2 = Home(root, "restored")
    out, _ = h2.run("id", "import", plain, env=no_env)
    assert out.strip() == ident
    j = json.loads(h2.run("id", "--json", env=no_env)[0])
    assert j["id"] == ident and j["protected"] is False
    # A damaged file is named as such, without asking for a passphrase first.
    truncated = os.path.join(root, "truncated.key")
    with open(plain, "rb") as fh:
        data = fh.read()
    with open(truncated, "wb") as fh:
        fh.write(data[:40])
    h3 = Home(root, "nope")
    _, err = h3.run("id", "import", truncated, env=no_env, expect=1)
    assert f"rumor: {truncated} is not a rumor identity backup (corrupted or truncated)" in err, err
    _, err = h3.run("id", "import", os.path.join(root, "missing.key"), env=no_env, expect=1)
    assert "no such file" in err, err
    assert not os.path.exists(h3.path)


def test_home_errors(root):
    alice, bob = Home(root, "alice"), Home(root, "bob")
    alice.init()
    bob.init()
    # A store made for another identity is never adopted nor opened.
    os.rename(os.path.join(alice.path, "identity.key"), os.path.join(root, "alice.key"))
    expect_unchanged(alice, "init", contains="/store belongs to another identity; use another home")
    backup = os.path.join(root, "bob-backup.key")
    bob.run("id", "export", backup)
    expect_unchanged(alice, "id", "import", backup, contains="belongs to another identity; use")
    shutil.copyfile(os.path.join(bob.path, "identity.key"), os.path.join(alice.path, "identity.key"))
    expect_unchanged(alice, "status", contains="belongs to another identity; use another home")
    # A home whose parent is missing: not a nick problem.
    lost = Home(root, os.path.join("missing", "home"))
    _, err = lost.run("init", "--nick", "carol", expect=1)
    assert "its parent directory does not exist" in err and "nick" not in err, err
    _, err = lost.run("id", "import", backup, expect=1)
    assert "its parent directory does not exist" in err, err
    assert not os.path.exists(os.path.join(root, "missing"))
    _, err = Home(root, "carol").run("init", "--nick", "bad\x07nick", expect=1)
    assert "invalid nick" in err, err


def test_errors_are_one_line_with_hostile_input(root):
    h = Home(root)
    h.init()
    for name in ("no\nsuch", "esc\x1b[2Jroom", "c1\u0085line\u009bx", "tab\tdel\x7f"):
        _, err = h.run("send", name, "x", expect=1)  # Home.run checks for exactly one line
        assert "\x1b" not in err and "\u0085" not in err and "\u009b" not in err, repr(err)
        assert "\t" not in err and "\x7f" not in err, repr(err)
    _, err = h.run("send", "no\nsuch", "x", expect=1)
    assert "rumor: no room 'no?such'" in err, repr(err)
    h.run("room", "create", "lan")
    expect_unchanged(h, "room", "create", "lan/bad\nname")
    h.run("log", "lan", "--limit", "\x1b[31m\n", expect=2)


def test_limit_is_a_plain_positive_number(root):
    h = Home(root)
    h.init()
    h.run("room", "create", "lan")
    h.run("send", "lan", "one")
    for bad in (" -3", "-3", "+3", " 3", "3 ", "0", "", "0x10", "1e3", "1000001",
                "18446744073709551617"):
        h.run("log", "lan", "--limit", bad, expect=2)
    assert len(h.run("log", "lan", "--limit", "1000000")[0].splitlines()) == 1


def test_empty_home(root):
    h = Home(root)
    env = {"HOME": root}
    h.run("--home", "", "status", env=env, home=False, expect=2)
    h.run("--home", "", "init", env=env, home=False, expect=2)
    assert not os.path.exists(os.path.join(root, ".rumor"))
    # An empty RUMOR_HOME is as if unset: the home is HOME/.rumor.
    h.run("init", env={"HOME": root, "RUMOR_HOME": ""}, home=False)
    assert os.path.exists(os.path.join(root, ".rumor"))


def test_malformed_room_paths(root):
    h = Home(root)
    h.init()
    h.run("room", "create", "lan")
    for args in (["room", "create", "lan//x"], ["room", "create", "/x"], ["room", "info", "lan/"],
                 ["room", "create", "lan/"], ["send", "/lan", "x"], ["log", "lan//"]):
        path = args[1] if args[0] != "room" else args[2]
        expect_unchanged(h, *args,
                         contains=f"rumor: invalid room path '{path}': names joined by '/', none empty")


def test_room_create_errors_say_why(root):
    h = Home(root)
    h.init()
    path = "a"
    for _ in range(16):
        h.run("room", "create", path)
        path += "/a"
    expect_unchanged(h, "room", "create", path,
                     contains=f"cannot create '{path}': you must be a member of the parent room, "
                              "and the tree is at most 16 levels deep")
    expect_unchanged(h, "room", "create", "b" * 1041,
                     contains="room path is too long (at most 1040 bytes)")
    expect_unchanged(h, "room", "create", "a/" + "n" * 65, contains="invalid room name")


def test_terminal_prompt(root):
    h = Home(root)
    no_env = {"RUMOR_PASSPHRASE": None}
    # Every prompt failure prints its one line: here a passphrase over the limit.
    rc, _, err = run_on_terminal(h, "init", typed=["x" * 1100], env=no_env)
    assert rc == 1, (rc, err)
    assert_one_error_line(err)
    assert "longer than 1024 bytes" in err, err
    assert not os.path.exists(h.path)
    rc, _, err = run_on_terminal(h, "init", typed=["one thing", "another"], env=no_env)
    assert rc == 1 and "differ" in err, (rc, err)
    assert_one_error_line(err)
    rc, out, err = run_on_terminal(h, "init", typed=["typed words", "typed words"], env=no_env)
    assert rc == 0 and HEX64.match(out.strip()), (rc, out, err)
    h.run("room", "create", "lan", env={"RUMOR_PASSPHRASE": "typed words"})
    # A typed home passphrase is not reused for a backup: that one is asked for, twice.
    backup = os.path.join(root, "backup.key")
    rc, _, err = run_on_terminal(h, "id", "export", backup,
                                 typed=["typed words", "backup words", "backup words"], env=no_env)
    assert rc == 0, (rc, err)
    rc, out, err = run_on_terminal(Home(root, "restored"), "id", "import", backup,
                                   typed=["backup words"], env=no_env)
    assert rc == 0 and HEX64.match(out.strip()), (rc, out, err)


def test_newer_schema_is_refused(root):
    h = Home(root)
    h.init()
    h.run("room", "create", "lan")
    data_path = os.path.join(h.path, "store", "data.mdb")
    n = patch_file(data_path, b"schema\x00\x00\x00\x04", b"schema\x00\x00\x00\x63")  # schema 4
    assert n >= 1, "schema record not found"
    for args in (["status"], ["room", "list"], ["send", "lan", "x"], ["log", "lan"]):
        expect_unchanged(h, *args, contains="newer rumor")


def test_nick(root):
    h = Home(root)
    h.init()
    h.run("nick", "bob")
    assert json.loads(h.run("id", "--json")[0])["nick"] == "bob"
    expect_unchanged(h, "nick", "bad\x07nick", contains="invalid nick")
    expect_unchanged(h, "nick", "n" * 65, contains="invalid nick")


def test_export_import(root):
    h = Home(root)
    ident = h.init()
    backup = os.path.join(root, "backup.key")
    h.run("id", "export", backup, env={"RUMOR_PASSPHRASE": "backup pass"}, expect=1)  # home pass differs
    pf = os.path.join(root, "bp")
    with open(pf, "w") as fh:
        fh.write("backup pass\n")
    # Unlock with the home's passphrase (env), seal the backup under the file's.
    h2 = Home(root, "restored")
    h.run("id", "export", backup)
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600
    expect_unchanged(h, "id", "export", backup, contains="refusing to overwrite")
    out, _ = h2.run("id", "import", backup)
    assert out.strip() == ident
    assert json.loads(h2.run("id", "--json")[0])["id"] == ident
    # Wrong passphrase or a damaged backup: no home is made.
    h3 = Home(root, "nope")
    h3.run("id", "import", backup, env={"RUMOR_PASSPHRASE": "wrong"}, expect=1)
    assert not os.path.exists(h3.path)
    damaged = os.path.join(root, "damaged.key")
    with open(backup, "rb") as fh:
        data = fh.read()
    with open(damaged, "wb") as fh:
        fh.write(data[:-3])
    h3.run("id", "import", damaged, expect=1)
    assert not os.path.exists(h3.path)
    # Import over an existing identity is refused.
    expect_unchanged(h2, "id", "import", backup, contains="already holds an identity")


# ---- backups: identity, room keys and contacts (PROTOCOL.md 5.4) ----------------------


def open_backup(path, passphrase=PASS):
    """Opens a backup with libsodium (ctypes), independently of rumor: (public key, payload)."""
    import ctypes
    import ctypes.util
    lib = ctypes.util.find_library("sodium")
    assert lib, "libsodium (a build dependency) not found by ctypes"
    so = ctypes.CDLL(lib)
    assert so.sodium_init() >= 0
    with open(path, "rb") as fh:
        data = fh.read()
    assert data[:9] == b"RUMORBAK\x01", data[:9]
    hdr, ct = data[:97], data[97:]
    ops, mem = int.from_bytes(hdr[41:49], "big"), int.from_bytes(hdr[49:57], "big")
    key = ctypes.create_string_buffer(32)
    pw = passphrase.encode()
    assert so.crypto_pwhash(key, ctypes.c_ulonglong(32), pw, ctypes.c_ulonglong(len(pw)),
                            hdr[57:73], ctypes.c_ulonglong(ops), ctypes.c_size_t(mem),
                            ctypes.c_int(2)) == 0  # crypto_pwhash_ALG_ARGON2ID13
    pt = ctypes.create_string_buffer(len(ct) - 16)
    pt_len = ctypes.c_ulonglong(0)
    assert so.crypto_aead_xchacha20poly1305_ietf_decrypt(
        pt, ctypes.byref(pt_len), None, ct, ctypes.c_ulonglong(len(ct)), hdr,
        ctypes.c_ulonglong(97), hdr[73:97], key) == 0, "the backup does not decrypt"
    return hdr[9:41], pt.raw[:pt_len.value]


def parse_backup_payload(p):
    """The payload of PROTOCOL.md 5.4: (seed, {room: [(epoch, key_id, key)]}, {pk: name})."""
    seed, pos = p[:32], 32
    n = int.from_bytes(p[pos:pos + 2], "big")
    pos += 2
    domains = {}
    for _ in range(n):
        room, nk = p[pos:pos + 32].hex(), int.from_bytes(p[pos + 32:pos + 34], "big")
        pos += 34
        keys = []
        for _ in range(nk):
            epoch, kid, key = int.from_bytes(p[pos:pos + 4], "big"), p[pos + 4:pos + 12], p[pos + 12:pos + 44]
            assert hashlib.blake2b(b"rumor-key-id" + key, digest_size=32).digest()[:8] == kid
            keys.append((epoch, kid, key))
            pos += 44
        domains[room] = keys
    n = int.from_bytes(p[pos:pos + 2], "big")
    pos += 2
    contacts = {}
    for _ in range(n):
        pk, ln = p[pos:pos + 32].hex(), p[pos + 32]
        contacts[pk] = p[pos + 33:pos + 33 + ln].decode()
        pos += 33 + ln
    assert pos == len(p), "trailing bytes in the payload"
    return seed, domains, contacts


def backup_home(root):
    """alice with a room tree (a private sub-room too), a message and a contact; her backup."""
    alice, bob = Home(root, "alice"), Home(root, "bob")
    ident = alice.init()
    bob.run("init", "--nick", "bob")
    bob_id = json.loads(bob.run("id", "--json")[0])["id"]
    lan = alice.run("room", "create", "lan")[0].strip()
    alice.run("room", "create", "lan/general")
    secret = alice.run("room", "create", "lan/secret", "--private")[0].strip()
    alice.run("send", "lan/general", "before the backup")
    alice.run("contact", "add", bob_id, "bobby")
    backup = os.path.join(root, "alice.backup")
    alice.run("id", "export", backup)
    return alice, ident, bob_id, {lan, secret}, backup


def test_backup_round_trip(root):
    alice, ident, bob_id, domains, backup = backup_home(root)
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600
    pk, payload = open_backup(backup)
    assert pk.hex() == ident
    seed, keys, contacts = parse_backup_payload(payload)
    # Both key domains (the top room and the private sub-room), one key each; the shared
    # sub-room uses its parent's. The contact comes along.
    assert set(keys) == domains and all(len(k) == 1 for k in keys.values()), keys
    assert contacts == {bob_id: "bobby"}, contacts
    with open(backup, "rb") as fh:
        raw = fh.read()
    assert seed not in raw and all(k[0][2] not in raw for k in keys.values()), "secret in clear"
    # Two exports of the same home differ (fresh salt and nonce) and hold the same payload.
    again = os.path.join(root, "again.backup")
    alice.run("id", "export", again)
    with open(again, "rb") as fh:
        assert fh.read()[57:97] != raw[57:97]
    assert open_backup(again)[1] == payload

    h = Home(root, "restored")
    out, _ = h.run("id", "import", backup)
    assert out.strip() == ident
    assert json.loads(h.run("id", "--json")[0])["id"] == ident
    # Contacts come back at once; rooms only when a member's node is met.
    j = json.loads(h.run("contact", "list", "--json")[0])
    assert [(c["id"], c["name"]) for c in j["contacts"]] == [(bob_id, "bobby")], j
    assert json.loads(h.run("room", "list", "--json")[0]) == {"rooms": [], "direct": []}
    out, _ = h.run("room", "list")
    assert "no rooms" in out, out
    # The keys are in the new store, sealed at rest under the new store key: a backup of the
    # restored home holds exactly what the first one did.
    with open(os.path.join(h.path, "store", "data.mdb"), "rb") as fh:
        store = fh.read()
    assert all(k[0][2] not in store for k in keys.values()) and seed not in store
    rb = os.path.join(root, "restored.backup")
    h.run("id", "export", rb)
    assert open_backup(rb)[1] == payload
    # The restored identity signs: a message to a room it does not hold yet is refused plainly.
    expect_unchanged(h, "send", "lan/general", "x", contains="no room 'lan/general'")


def test_backup_bad_files(root):
    _, ident, _, _, backup = backup_home(root)
    with open(backup, "rb") as fh:
        good = fh.read()
    cases = {
        "truncated": (good[:-1], "wrong passphrase for"),  # the tag no longer matches
        "cut in the header": (good[:60], "is not a rumor identity backup"),
        "empty": (b"", "is not a rumor identity backup"),
        "tampered ciphertext": (good[:150] + bytes([good[150] ^ 1]) + good[151:],
                                "wrong passphrase for"),
        "tampered key": (good[:20] + bytes([good[20] ^ 1]) + good[21:], "wrong passphrase for"),
        "other version": (good[:8] + b"\x02" + good[9:], "is not a rumor identity backup"),
        "costly argon2": (good[:41] + (1 << 40).to_bytes(8, "big") + good[49:],
                          "is not a rumor identity backup"),
        "too large": (good + b"\0" * (4 << 20), "is not a rumor identity backup"),
        "garbage": (os.urandom(300), "is not a rumor identity backup"),
    }
    existing = Home(root, "existing")
    os.mkdir(existing.path, 0o700)  # an empty home directory stays empty
    for name, (data, msg) in cases.items():
        path = os.path.join(root, name.replace(" ", "-"))
        with open(path, "wb") as fh:
            fh.write(data)
        fresh = Home(root, "fresh")
        _, err = fresh.run("id", "import", path, expect=1)
        assert msg in err, (name, err)
        assert not os.path.exists(fresh.path), f"{name}: a home was made"
        expect_unchanged(existing, "id", "import", path, contains=msg)
        assert os.listdir(existing.path) == [], name
    # The right passphrase opens it; a wrong one says so.
    _, err = Home(root, "wrong").run("id", "import", backup, env={"RUMOR_PASSPHRASE": "nope"},
                                     expect=1)
    assert "wrong passphrase for" in err, err
    out, _ = existing.run("id", "import", backup)
    assert out.strip() == ident


def test_usage_and_help(root):
    h = Home(root)
    out, _ = h.run("help")
    assert "room" in out and "send" in out
    out, _ = h.run("send", "--help")
    assert out.startswith("usage: rumor send")
    h.run("frobnicate", expect=2)
    h.run(expect=2)
    h.init()
    h.run("room", "create", expect=2)
    h.run("send", "lan", expect=2)
    h.run("log", "lan", "--limit", "zero", expect=2)
    h.run("room", "list", "--bogus", expect=2)
    out, _ = h.run("room", "leave", "--help")
    assert out.startswith("usage: rumor room leave ROOM\n"), out
    # Past the command, "-h" and "--help" are text: a send of them sends them (issue 10 F6: a
    # send that printed the usage exited 0 having stored nothing).
    h.run("room", "create", "lan")
    out, _ = h.run("send", "lan", "-h")
    assert re.fullmatch(r"[0-9a-f]{64}\n", out), out
    h.run("send", "lan", "--help", expect=2)  # an option-like text is refused, not acknowledged
    texts = [json.loads(line)["text"] for line in h.run("log", "lan", "--json")[0].splitlines()]
    assert texts == ["-h"], texts


ROOM_SUBS = ["create", "list", "info", "move", "rename", "topic", "invite", "join", "kick", "leave",
             "role"]


def test_usage_errors_show_the_whole_usage(root):
    """Reported: `dm` with no arguments exited 1; `room lst` listed no invite, join, leave or kick;
    `log ROOM --limt 5` showed a usage without --follow; `room leave --help` did not show leave."""
    h = Home(root)
    h.init()
    h.run("room", "create", "lan")
    for args in (["dm"], ["dm", "bob"], ["send"], ["send", "lan"]):
        _, err = h.run(*args, expect=2)
        assert f"usage: rumor {args[0]} " in err, err
    # Every sub-command of room is named wherever they are listed.
    for args in (["room", "lst"], ["room"]):
        _, err = h.run(*args, expect=2)
        listed = re.search(r"usage: rumor room ([a-z|]+) ", err).group(1).split("|")
        assert listed == ROOM_SUBS, err
    assert "unknown room command 'lst'" in h.run("room", "lst", expect=2)[1]
    full, _ = h.run("room", "--help")
    assert full == h.run("help", "room")[0]
    for sub in ROOM_SUBS:
        assert re.search(rf"^(usage:|      ) rumor room {sub} ", full, re.M), (sub, full)
        out, _ = h.run("room", sub, "--help")
        first = out.splitlines()[0]
        assert first.startswith(f"usage: rumor room {sub}") and first[6:] in full, (sub, out)
    # A usage error shows the command's whole usage, the same as its --help: every option.
    _, err = h.run("log", "lan", "--limt", "5", expect=2)
    for opt in ("--limit N", "--follow", "--json", "@PEER"):
        assert opt in err, (opt, err)
    for args in (["init"], ["id"], ["id", "export"], ["id", "import"], ["nick"], ["send"], ["dm"],
                 ["log"], ["status"], ["peers"], ["peer", "add"], ["contact", "add"],
                 ["contact", "list"], ["contact", "remove"], ["chat"], ["stats"]) + \
            tuple(["room", sub] for sub in ROOM_SUBS):
        _, err = h.run(*args, "--zzz", expect=2)
        usage = err.split("; usage: ", 1)[1].strip()
        helped, _ = h.run(*args[:2], "--help") if len(args) > 1 else h.run(args[0], "--help")
        assert usage in helped, (args, usage, helped)


def test_usages_name_every_option(root):
    """Each command's usage (a USAGE_... of cli/cli.h, or one written beside the command) names
    every option in its opts[] table, so a usage error and --help list them all. Read from the
    source: the tables are the truth."""
    cli = os.path.join(SOURCE, "cli")
    with open(os.path.join(cli, "cli.h")) as fh:
        usages = dict(re.findall(r'#define (USAGE_\w+)\s+"([^"]*)"', fh.read()))
    checked = 0
    for name in sorted(os.listdir(cli)):
        if not name.endswith(".c"):
            continue
        with open(os.path.join(cli, name)) as fh:
            text = fh.read()
        for body in re.split(r"\n}\n", text):
            opts = re.findall(r'\{"(--[a-z-]+)",\s*(?:true|false),', body)
            if not opts:
                continue
            lines = [usages[u] for u in re.findall(r'"rumor "\s*(USAGE_\w+)', body)]
            lines += re.findall(r'usage\s*=\s*"(rumor [^"]*)"\s*[,;]', body)
            assert lines, f"cli/{name}: options {opts} and no usage: {body[:200]}"
            for line in lines:
                for o in opts:
                    assert re.search(re.escape(o) + r"(?![a-z-])", line), (name, line, o)
            checked += 1
    assert checked >= 10, checked


def test_no_identity(root):
    h = Home(root)
    _, err = h.run("status", expect=1)
    assert "rumor init" in err
    assert not os.path.exists(h.path)


def test_output_errors_are_failures(root):
    h = Home(root)
    h.init()
    h.run("room", "create", "lan")
    for i in range(3):
        h.run("send", "lan", "x" * 4000)
    with open("/dev/full", "wb") as full:
        for args in (["log", "lan"], ["log", "lan", "--json"], ["room", "list"]):
            p = subprocess.run([RUMOR, "--home", h.path] + args, stdout=full, stderr=subprocess.PIPE,
                               env=h.env, timeout=60, start_new_session=True)
            err = p.stderr.decode()
            assert p.returncode == 1, (args, p.returncode, err)
            assert err.count("\n") == 1 and err.startswith("rumor: "), err


def test_json_escapes_line_breaks(root):
    h = Home(root)
    h.init()
    h.run("room", "create", "lan")
    h.run("send", "lan", "nel\u0085 ls\u2028 ps\u2029 end")
    out, _ = h.run("log", "lan", "--json")
    assert len(out.splitlines()) == 1, out  # str.splitlines() splits on NEL, U+2028, U+2029
    assert "\\u0085" in out and "\\u2028" in out and "\\u2029" in out, out
    assert json.loads(out)["text"] == "nel\u0085 ls\u2028 ps\u2029 end"


def test_init_recovers_from_an_early_stop(root):
    # A home whose store directory exists but is empty (an init that stopped early): init works.
    h = Home(root)
    os.makedirs(os.path.join(h.path, "store"))
    ident = h.init()
    assert json.loads(h.run("status", "--json")[0])["id"] == ident
    # A key file without its store (stopped right after the key file): the home still opens.
    h2 = Home(root, "h2")
    h2.init()
    shutil.rmtree(os.path.join(h2.path, "store"))
    h2.run("room", "create", "lan")
    assert json.loads(h2.run("status", "--json")[0])["rooms"] == 1


def test_concurrent_inits(root):
    h = Home(root)
    procs = [subprocess.Popen([RUMOR, "--home", h.path, "init", "--no-passphrase"], env=h.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
             for _ in range(4)]
    results = [(p.wait(timeout=60), p.stdout.read().decode(), p.stderr.read().decode()) for p in procs]
    winners = [out.strip() for rc, out, _ in results if rc == 0]
    assert len(winners) == 1, results
    for rc, _, err in results:
        if rc != 0:
            assert rc == 1 and "already holds an identity" in err, err
    assert json.loads(h.run("id", "--json")[0])["id"] == winners[0]
    h.run("room", "create", "lan")


def test_status(root):
    h = Home(root)
    ident = h.init()
    h.run("room", "create", "lan")
    h.run("send", "lan", "hello")
    j = json.loads(h.run("status", "--json")[0])
    assert j["running"] is False and j["id"] == ident and j["rooms"] == 1 and j["events"] == 3
    assert j["outbox"] == 3


def test_home_from_environment(root):
    h = Home(root)
    env = {"RUMOR_HOME": h.path}
    h.run("init", env=env, home=False)
    out, _ = h.run("id", "--json", env=env, home=False)
    assert HEX64.match(json.loads(out)["id"])


# ---- the node and the commands that talk to it (loopback only, LAN off) -------------


class Node(rumorlab.Node):
    """A `rumor node` process on 127.0.0.1 with LAN discovery off, started for a Home. stop()
    returns its exit status (None if it had to be killed)."""

    def __init__(self, home, *extra):
        super().__init__(RUMOR, home.path, env=home.env, port=free_port())
        self.start(extra=extra, log_mode="wb")


def test_node_running_and_second_refused(root):
    h = Home(root)
    ident = h.init("--no-passphrase")
    n = Node(h)
    try:
        j = json.loads(h.run("status", "--json")[0])
        assert j["running"] is True and j["id"] == ident
        assert j["address"] == f"{ident}@127.0.0.1:{n.port}", j
        assert json.loads(h.run("id", "--json")[0])["addresses"] == [j["address"]]
        sock = os.path.join(h.path, "node.sock")
        assert stat.S_IMODE(os.lstat(sock).st_mode) == 0o600
        assert json.loads(h.run("peers", "--json")[0]) == []
        stats = json.loads(h.run("stats", "--json")[0])
        for k in ("received", "delivered", "duplicates", "forwarded", "invalid", "bytes_in", "bytes_out",
                  "param_d", "param_d_lo", "param_d_hi", "latency_le_10ms"):
            assert k in stats, k
        _, err = h.run("node", "--listen", f"127.0.0.1:{free_port()}", "--no-lan", expect=1)
        assert "already runs" in err, err
    finally:
        assert n.stop() == 0, "SIGTERM must stop the node cleanly"
    assert json.loads(h.run("status", "--json")[0])["running"] is False
    assert not os.path.exists(os.path.join(h.path, "node.sock"))


def config_keys():
    """RUMOR_CONFIG_KEYS of node/rumor_node.h, the one list of config keys: (kind, key, arguments),
    the arguments as written (default first)."""
    with open(os.path.join(SOURCE, "node", "rumor_node.h")) as fh:
        text = fh.read()
    body = re.search(r"#define RUMOR_CONFIG_KEYS\(.*?\)((?:.*\\\n)*.*\n)", text).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S).replace("\\\n", "\n")
    keys = [(kind, key, [a.strip() for a in args.split(",")])
            for kind, key, args in re.findall(r"(U32|BOOL|CHOICE|TEXT|REAL)\((\w+),([^)]*)\)", body)]
    assert len(keys) >= 40 and len(keys) == len(body.strip().splitlines()), body  # none missed
    return keys


def test_stats_reports_every_config_key(root):
    """Every key the config file takes is documented in the README and comes back in `stats` as
    param_<key> with the value the file gave it (none at its default, so a default is no proof)."""
    with open(os.path.join(SOURCE, "README.md")) as fh:
        readme = fh.read()
    want, lines = {}, []
    for kind, key, args in config_keys():
        assert f"`{key}`" in readme, f"README does not document the config key {key}"
        if kind == "U32":
            default, top = eval(args[0], {}), int(args[2])  # "256 << 10" and the like
            want[key] = default + 1 if default < top else default - 1
        elif kind == "BOOL":
            want[key] = args[0] != "true"
        elif kind == "REAL":  # half below (thresholds keep their order), else half above
            default, low = float(args[0]), float(args[1])
            want[key] = default - 0.5 if default - 0.5 >= low else default + 0.5
        elif kind == "CHOICE":
            want[key] = [w for w in json.loads(args[1]).split() if w != json.loads(args[0])][-1]
        else:
            want[key] = os.path.join(root, "trace.jsonl") if args[2] == "PATH" else "true --from-config"
        value = str(want[key]).lower() if kind == "BOOL" else want[key]
        lines.append(f"{key} = {value}")
    cfg = os.path.join(root, "every.conf")
    with open(cfg, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    h = Home(root)
    h.init("--no-passphrase")
    n = Node(h, "--config", cfg)
    try:
        stats = json.loads(h.run("stats", "--json")[0])
    finally:
        n.stop()
    got = {k[len("param_"):]: v for k, v in stats.items() if k.startswith("param_")}
    assert got == want, {k: (want.get(k), got.get(k)) for k in want.keys() | got.keys()
                         if want.get(k) != got.get(k)}


def test_node_killed_leaves_a_home_that_starts_again(root):
    import signal
    h = Home(root)
    h.init("--no-passphrase")
    n = Node(h)
    n.stop(signal.SIGKILL)
    n = Node(h)  # the stale socket and lock are taken over
    try:
        assert json.loads(h.run("status", "--json")[0])["running"] is True
    finally:
        n.stop()


def test_node_bad_arguments(root):
    h = Home(root)
    h.init("--no-passphrase")
    for args in (["--listen", "nowhere"], ["--listen", "127.0.0.1:99999"], ["--peer", "abc@127.0.0.1:1"],
                 ["--peer", "00" * 32 + "@127.0.0.1"], ["--bogus"], ["--listen"]):
        h.run("node", "--no-lan", *args, expect=2)
    cfg = os.path.join(root, "bad.conf")
    with open(cfg, "w") as fh:
        fh.write("# comment\nd = 6\nno_such_key = 1\n")
    _, err = h.run("node", "--no-lan", "--config", cfg, expect=1)
    assert "line 3" in err, err
    with open(cfg, "w") as fh:
        fh.write("d = 3\nd_lo = 4\n")
    h.run("node", "--no-lan", "--config", cfg, expect=1)
    h.run("node", "--no-lan", "--config", os.path.join(root, "missing.conf"), expect=1)


def test_mesh_commands_without_a_node(root):
    h = Home(root)
    h.init()
    h.run("room", "create", "lan")
    for args in (["peers"], ["peers", "--json"], ["stats"], ["stats", "--json"],
                 ["room", "invite", "lan"], ["log", "lan", "--follow"]):
        out, err = h.run(*args, expect=1)
        assert "rumor node" in err, err
        assert out == "", (args, out)  # `peers --json` once printed '[' before the error
    _, err = h.run("room", "join", "rumor-invite:AAAA", expect=1)
    assert "damaged" in err, err
    _, err = h.run("room", "join", "lan")
    h.run("peer", "add", "not-a-peer", expect=2)
    ident = json.loads(h.run("id", "--json")[0])["id"]
    h.run("peer", "add", f"{ident}@127.0.0.1:7470")
    h.run("peer", "add", f"{ident}@[::1]:7470")


def test_send_while_the_node_runs_is_gossiped_and_followed(root):
    h = Home(root)
    h.init("--no-passphrase")
    h.run("room", "create", "lan")
    n = Node(h)
    try:
        f = subprocess.Popen([RUMOR, "--home", h.path, "log", "lan", "--follow", "--json"], env=h.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        import time
        time.sleep(0.5)
        eid = h.run("send", "lan", "live")[0].strip()
        ready, _, _ = select.select([f.stdout], [], [], 10)
        assert ready, "log --follow showed nothing"
        line = json.loads(f.stdout.readline())
        assert line["id"] == eid and line["text"] == "live", line
        f.terminate()
        f.wait(timeout=10)
    finally:
        n.stop()


def test_chat_sends_typed_lines(root):
    h = Home(root)
    h.init("--no-passphrase")
    h.run("room", "create", "lan")
    h.run("room", "create", "lan/general")
    h.run("send", "lan", "before")
    n = Node(h)
    try:
        out, _ = h.run("chat", "lan", stdin="typed line\n/rooms\n/join lan/general\nin general\n/nick carol\n/quit\n")
        assert "before" in out and "lan/general" in out, out
        texts = [json.loads(l)["text"] for l in h.run("log", "lan", "--json")[0].splitlines()]
        assert texts == ["before", "typed line"], texts
        texts = [json.loads(l)["text"] for l in h.run("log", "lan/general", "--json")[0].splitlines()]
        assert texts == ["in general"], texts
        assert json.loads(h.run("id", "--json")[0])["nick"] == "carol"
    finally:
        n.stop()
    h.run("chat", "lan", stdin="", expect=1)  # needs the running node


# ---- contacts, PEER and display names ------------------------------------------------


def key_of(home):
    return json.loads(home.run("id", "--json")[0])["id"]


def grind_peers(home, prefix, count):
    """Remembers `count` bootstrap peers whose keys start with `prefix` (about half of the 32-byte
    strings are valid keys; `peer add` refuses the others). Returns their keys."""
    keys = []
    while len(keys) < count:
        key = prefix + os.urandom(32).hex()[len(prefix):]
        _, err = home.run("peer", "add", f"{key}@127.0.0.1:9", expect=None)
        if not err:
            keys.append(key)
    return keys


def test_contacts_add_list_remove(root):
    alice, bob, carol = Home(root, "alice"), Home(root, "bob"), Home(root, "carol")
    alice.init()
    bob.run("init", "--nick", "bob")
    carol.run("init")  # no nick
    b, c = key_of(bob), key_of(carol)
    out, _ = alice.run("contact", "list")
    assert "no contacts" in out, out
    assert json.loads(alice.run("contact", "list", "--json")[0]) == {"contacts": []}
    # By full key (known or not), and by a prefix of a known key (here a bootstrap peer).
    assert alice.run("contact", "add", c, "carol")[0].strip() == c
    expect_unchanged(alice, "contact", "add", b[:8], "bobby", contains=f"no one known as '{b[:8]}'")
    alice.run("peer", "add", f"{b}@127.0.0.1:9")
    assert alice.run("contact", "add", b[:8].upper(), "bobby")[0].strip() == b
    j = json.loads(alice.run("contact", "list", "--json")[0])
    got = {x["id"]: x for x in j["contacts"]}
    assert set(got) == {b, c}, j
    assert got[c]["name"] == "carol" and got[c]["verified"] is True and got[c]["nick"] == ""
    assert got[b]["name"] == "bobby", got
    out, _ = alice.run("contact", "list")
    assert any(l.startswith("carol  " + c) for l in out.splitlines()), out
    # Naming a key again renames it; the same name again is no change.
    alice.run("contact", "add", b, "robert")
    alice.run("contact", "add", b, "robert")
    names = sorted(x["name"] for x in json.loads(alice.run("contact", "list", "--json")[0])["contacts"])
    assert names == ["carol", "robert"], names
    # A name is unique: the second key cannot take it, and nothing changes.
    expect_unchanged(alice, "contact", "add", b, "carol", contains="already named 'carol'")
    # Short hex is a name (prefixes have 8 or more characters).
    alice.run("contact", "add", b, "cafe")
    # Bad names: each refused with one line, the store unchanged.
    for bad in ("", "x" * 65, "tab\tname", "bell\x07", "nel\u0085x", " lead", "trail ", "a~b",
                "deadbeef", "DEADBEEF00", "0123456789abcdef", os.fsdecode(b"bad\xffutf8")):
        expect_unchanged(alice, "contact", "add", b, bad, contains="invalid contact name")
    alice.run("contact", "add", b, "y" * 64)
    alice.run("contact", "add", b, "d\u00e9j\u00e0 vu 1234567")
    # Bad keys: not hex, too short, unknown prefix, our own key.
    for bad in ("robert", "abc", "zz" * 32, b[:7]):
        expect_unchanged(alice, "contact", "add", bad, "z", contains="is not a public key")
    expect_unchanged(alice, "contact", "add", "0123abcd", "z", contains="no one known as")
    expect_unchanged(alice, "contact", "add", key_of(alice), "me", contains="that key is yours")
    # Remove by name; an unknown name is an error that changes nothing.
    assert alice.run("contact", "remove", "carol")[0].strip() == c
    expect_unchanged(alice, "contact", "remove", "carol", contains="no contact named 'carol'")
    expect_unchanged(alice, "contact", "remove", "nobody", contains="no contact named 'nobody'")
    names = [x["name"] for x in json.loads(alice.run("contact", "list", "--json")[0])["contacts"]]
    assert names == ["d\u00e9j\u00e0 vu 1234567"], names
    # Usage errors.
    alice.run("contact", "add", b, expect=2)
    alice.run("contact", "remove", expect=2)
    alice.run("contact", "frob", expect=2)
    alice.run("contact", "list", "--bogus", expect=2)
    out, _ = alice.run("contact", "--help")
    assert out.startswith("usage: rumor contact add PUBKEY NAME"), out
    assert "contact" in alice.run("help")[0]


def test_contact_ambiguous_prefix(root):
    h = Home(root)
    h.init()
    k1, k2 = grind_peers(h, "abcdef01", 2)
    for args in (["contact", "add", "abcdef01", "x"], ["contact", "add", "abcdef01".upper(), "x"]):
        expect_unchanged(h, *args, contains="is the prefix of more than one key")
    # One more character than they share names one of them.
    i = next(i for i in range(8, 64) if k1[i] != k2[i])
    assert h.run("contact", "add", k1[:i + 1], "one")[0].strip() == k1
    h.run("room", "create", "lan")
    expect_unchanged(h, "room", "invite", "lan", "--member", "abcdef01",
                     contains="is the prefix of more than one key")


def test_room_invite_member_by_prefix_or_contact(root):
    alice, bob, carol = Home(root, "alice"), Home(root, "bob"), Home(root, "carol")
    alice.init()
    bob.run("init", "--nick", "bob")
    carol.run("init", "--nick", "carol")
    b, c = key_of(bob), key_of(carol)
    alice.run("room", "create", "lan")
    expect_unchanged(alice, "room", "invite", "lan", "--member", b[:8], contains="no one known as")
    expect_unchanged(alice, "room", "invite", "lan", "--member", "carol", contains="no one known as")
    alice.run("peer", "add", f"{b}@127.0.0.1:9")
    assert HEX64.match(alice.run("room", "invite", "lan", "--member", b[:8])[0].strip())
    alice.run("contact", "add", c, "carrie")
    assert HEX64.match(alice.run("room", "invite", "lan", "--member", "carrie", "--role", "admin")[0].strip())
    expect_unchanged(alice, "room", "invite", "lan", "--member", "carrie", "--role", "admin",
                     contains="already a member")
    info = json.loads(alice.run("room", "info", "lan", "--json")[0])
    members = {m["id"]: m for m in info["members_list"]}
    assert members[c]["role"] == "admin" and members[c]["name"] == "carrie", members
    assert members[c]["verified"] is True and members[c]["nick"] == ""  # no profile of carol here
    assert members[b]["name"] == b[:8] and members[b]["verified"] is False, members
    me = members[key_of(alice)]
    assert me["name"] == "alice" and me["nick"] == "alice" and me["verified"] is True, me
    out, _ = alice.run("room", "info", "lan")
    assert f"{c}  admin   carrie" in out and f"{b}  member  {b[:8]}" in out, out


def test_same_nick_never_looks_the_same(root):
    """Two identities both called alice: ours shows as alice, the other as alice~PREFIX, and as
    the contact name once we give it one (log text and JSON, room info, peers)."""
    me, other = Home(root, "me"), Home(root, "other")
    me.init("--no-passphrase")
    other.init("--no-passphrase")
    mine, theirs = key_of(me), key_of(other)
    me.run("room", "create", "lan")
    me.run("send", "lan", "from me")
    a = Node(me)
    b = Node(other, "--peer", f"{mine}@127.0.0.1:{a.port}")
    try:
        code = me.run("room", "invite", "lan")[0].strip()
        other.run("room", "join", code)
        other.run("send", "lan", "from the other")
        import time
        deadline = time.time() + 30
        while True:
            lines = [json.loads(l) for l in me.run("log", "lan", "--json")[0].splitlines()]
            if len(lines) == 2 or time.time() > deadline:
                break
            time.sleep(0.1)
        assert [l["text"] for l in lines] == ["from me", "from the other"], lines
        assert lines[0]["author"] == mine and lines[1]["author"] == theirs
        assert lines[0]["nick"] == lines[1]["nick"] == "alice", lines
        assert lines[0]["name"] == "alice" and lines[0]["verified"] is True, lines[0]
        assert lines[1]["name"] == f"alice~{theirs[:8]}" and lines[1]["verified"] is False, lines[1]
        out, _ = me.run("log", "lan")
        who = [l.split("] ", 1)[1].split(": ", 1)[0] for l in out.splitlines()]
        assert who == ["alice", f"alice~{theirs[:8]}"], out
        # The other side sees the same from its own point of view.
        out, _ = other.run("log", "lan")
        who = [l.split("] ", 1)[1].split(": ", 1)[0] for l in out.splitlines()]
        assert who == [f"alice~{mine[:8]}", "alice"], out
        peers = json.loads(me.run("peers", "--json")[0])
        p = next(p for p in peers if p["id"] == theirs)
        assert p["name"] == f"alice~{theirs[:8]}" and p["verified"] is False and p["nick"] == "alice", p
        # A contact, added while the node runs, by a prefix of a key known from its profile.
        me.run("contact", "add", theirs[:10], "alice2")
        lines = [json.loads(l) for l in me.run("log", "lan", "--json")[0].splitlines()]
        assert lines[1]["name"] == "alice2" and lines[1]["verified"] is True, lines[1]
        assert lines[1]["nick"] == "alice", lines[1]
        out, _ = me.run("log", "lan")
        assert out.splitlines()[1].split("] ", 1)[1] == "alice2: from the other", out
        assert "alice2" in me.run("peers")[0]
        info = json.loads(me.run("room", "info", "lan", "--json")[0])
        names = sorted(m["name"] for m in info["members_list"])
        assert names == ["alice", "alice2"], info
        # Forgotten, they are an unverified nick again.
        me.run("contact", "remove", "alice2")
        lines = [json.loads(l) for l in me.run("log", "lan", "--json")[0].splitlines()]
        assert lines[1]["name"] == f"alice~{theirs[:8]}", lines[1]
    finally:
        b.stop()
        a.stop()


def test_kick_leave_role_and_dm_bad_input(root):
    """room kick / leave / role and dm: what works with the node stopped, and every refusal
    as one rumor: line, exit 1, with the home unchanged (PROTOCOL.md 7.4, 7.5, 7.9)."""
    alice, bob, carol = Home(root, "alice"), Home(root, "bob"), Home(root, "carol")
    alice.init()
    bob.run("init", "--nick", "bob")
    carol.run("init", "--nick", "carol")
    me, b, c = key_of(alice), key_of(bob), key_of(carol)
    alice.run("room", "create", "lan")
    alice.run("room", "create", "lan/general")
    alice.run("contact", "add", b, "bobby")
    alice.run("contact", "add", c, "carrie")
    alice.run("room", "invite", "lan", "--member", "bobby")
    alice.run("room", "invite", "lan", "--member", "carrie", "--role", "admin")
    roles = lambda: {m["id"]: m["role"] for m in
                     json.loads(alice.run("room", "info", "lan", "--json")[0])["members_list"]}
    assert roles() == {me: "owner", b: "member", c: "admin"}
    # Roles: up and down, never to the same role again, only admin or member.
    assert HEX64.match(alice.run("room", "role", "lan", "bobby", "admin")[0].strip())
    assert roles()[b] == "admin"
    expect_unchanged(alice, "room", "role", "lan", "bobby", "admin", contains="already an admin")
    alice.run("room", "role", "lan", b[:8], "member")
    assert roles()[b] == "member"
    _, err = alice.run("room", "role", "lan", "bobby", "owner", expect=2)
    assert "admin or member" in err
    # Joining by invite never changes a role: carol stays admin.
    expect_unchanged(alice, "room", "invite", "lan", "--member", "carrie", contains="already a member")
    # Kick: not a member, yourself, an unknown name; then a real kick rotates the key.
    dave = Home(root, "dave")
    dave.run("init", "--nick", "dave")
    alice.run("contact", "add", key_of(dave), "dave")
    expect_unchanged(alice, "room", "kick", "lan", "dave", contains="is not a member")
    expect_unchanged(alice, "room", "kick", "lan", me, contains="cannot kick yourself")
    expect_unchanged(alice, "room", "kick", "lan", "nobody", contains="no one known as")
    expect_unchanged(alice, "room", "kick", "nowhere", "bobby")
    assert json.loads(alice.run("room", "info", "lan", "--json")[0])["key_epoch"] == 0
    out = alice.run("room", "kick", "lan", "carrie")[0].split()
    assert len(out) == 2 and all(HEX64.match(x) for x in out), out
    info = json.loads(alice.run("room", "info", "lan", "--json")[0])
    assert info["key_epoch"] == 1 and c not in roles(), info
    # Messages go out under the new epoch (the sender holds it).
    alice.run("send", "lan/general", "after the kick")
    assert [m["text"] for m in map(json.loads, alice.run("log", "lan/general", "--json")[0].splitlines())] == ["after the kick"]
    # The owner does not leave a room others still use; a stranger has nothing to leave.
    expect_unchanged(alice, "room", "leave", "lan", contains="others still use it")
    bob.run("room", "create", "own")
    expect_unchanged(bob, "room", "leave", "lan")
    # Usage errors exit 2.
    for args in (["room", "kick", "lan"], ["room", "leave"], ["room", "role", "lan", "bobby"]):
        alice.run(*args, expect=2)
    # dm: to yourself, to an unknown key, to nobody, empty; then a real one, read as @PEER.
    expect_unchanged(alice, "dm", me, "hi me", contains="your own key")
    expect_unchanged(alice, "dm", "ab" * 32, "hi", contains="no one known has the key")
    expect_unchanged(alice, "dm", "zed", "hi", contains="no one known as")
    expect_unchanged(alice, "dm", "bobby", "", contains="empty message")
    expect_unchanged(alice, "log", "@bobby", contains="no conversation with bobby yet")
    assert HEX64.match(alice.run("dm", "bobby", "just us")[0].strip())
    alice.run("dm", b[:8], "-", stdin="and again\n")
    texts = [json.loads(l)["text"] for l in alice.run("log", "@bobby", "--json")[0].splitlines()]
    assert texts == ["just us", "and again"], texts
    listed = json.loads(alice.run("room", "list", "--json")[0])
    assert [d["peer"] for d in listed["direct"]] == [b] and listed["direct"][0]["name"] == "bobby"
    assert all(r["path"] != "dm" for r in listed["rooms"]), "a conversation shows in the tree"
    text = alice.run("room", "list")[0]
    assert "direct messages:" in text and "@bobby" in text, text


def test_a_member_hears_what_it_may_not_do_or_read(root):
    """Reported: `log` on a room this node holds no key of printed nothing and exited 0; and a
    refusal read "you may not topic 'lan'". Bob, a member of lan, is not one of its private
    sub-room, whose create event reaches him (it is an event of lan) but not its key."""
    alice, bob = Home(root, "alice"), Home(root, "bob")
    alice.init("--no-passphrase")
    bob.run("init", "--nick", "bob", "--no-passphrase")
    alice.run("room", "create", "lan")
    secret = alice.run("room", "create", "lan/secret", "--private")[0].strip()
    alice.run("send", "lan/secret", "only for its members")
    alice.run("send", "lan", "for everyone")
    a = Node(alice)
    b = Node(bob, "--peer", f"{key_of(alice)}@127.0.0.1:{a.port}")
    try:
        bob.run("room", "join", alice.run("room", "invite", "lan")[0].strip())
        import time
        deadline = time.time() + 30
        rooms = lambda: {r["id"]: r for r in json.loads(bob.run("room", "list", "--json")[0])["rooms"]}
        while secret not in rooms():
            assert time.time() < deadline, "the private sub-room never reached bob"
            time.sleep(0.1)
        rooms = rooms()
        assert rooms[secret]["readable"] is False, rooms[secret]
        for extra in ([], ["--json"], ["--limit", "5"]):
            out, err = bob.run("log", secret[:12], *extra, expect=1)
            assert out == "", out
            says = f"rumor: cannot read '{secret[:12]}': this node holds none of its keys"
            assert says in err, err
        assert "for everyone" in bob.run("log", "lan")[0]
        # A member's refusals, each verb in English.
        for args, says in ((["room", "topic", "lan", "hi"], "you may not set the topic of 'lan': "),
                           (["room", "rename", "lan", "x"], "you may not rename 'lan': "),
                           (["room", "kick", "lan", key_of(alice)],
                            "you may not remove that member from 'lan': "),
                           (["room", "role", "lan", key_of(alice), "member"],
                            "you may not change that member's role in 'lan': ")):
            _, err = bob.run(*args, expect=1)  # the node runs: no snapshot of the home
            assert says in err, (says, err)
    finally:
        b.stop()
        a.stop()


def test_bench_mesh_reports_a_bad_setting_in_one_line(root):
    """Reported: `bench/bench_mesh.py build/rumor --set bogus=1` ended in a Python traceback after
    the node's own error. It prints that error once and exits 1 (the binary given either way)."""
    bench = os.path.join(SOURCE, "bench", "bench_mesh.py")
    for binary in (["--rumor", RUMOR], [RUMOR]):
        p = subprocess.run([sys.executable, bench, *binary, "--set", "bogus=1", "--nodes", "2"],
                           capture_output=True, timeout=120, start_new_session=True)
        out, err = p.stdout.decode(), p.stderr.decode()
        assert p.returncode == 1, (binary, p.returncode, out, err)
        assert "Traceback" not in out + err, err
        failed = [line for line in err.splitlines() if "FAILED" in line]
        assert len(failed) == 1 and "unknown key 'bogus'" in failed[0], err
        assert "DIED" not in err, err


def main():
    only = sys.argv[2] if len(sys.argv) > 2 else ""
    tests = [(n, f) for n, f in sorted(globals().items())
             if n.startswith("test_") and callable(f) and only in n]
    passed = failed = 0
    for name, fn in tests:
        root = tempfile.mkdtemp(prefix="rumor-cli-")
        try:
            fn(root)
            passed += 1
            print(f"ok   {name}", flush=True)
        except Exception:
            failed += 1
            print(f"FAIL {name}", flush=True)
            traceback.print_exc()
        finally:
            shutil.rmtree(root, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
