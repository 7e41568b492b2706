#!/usr/bin/env python3
"""CLI contract tests: drive the built `rumor` binary the way a user would.

Usage: cli_test.py PATH_TO_RUMOR

Every test works in its own temporary home and checks what a user would:
exit status, the one-line `rumor: ...` error, JSON fields, and that a failed
command leaves the home exactly as it was.
"""
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import traceback

RUMOR = os.path.abspath(sys.argv[1])
HEX64 = re.compile(r"^[0-9a-f]{64}$")
PASS = "correct horse battery staple"


class Home:
    """A temporary rumor home and a runner bound to it."""

    def __init__(self, root, name="home"):
        self.path = os.path.join(root, name)
        self.env = dict(os.environ)
        self.env.pop("RUMOR_HOME", None)
        self.env["RUMOR_PASSPHRASE"] = PASS

    def run(self, *args, stdin=None, env=None, expect=0, home=True):
        argv = [RUMOR] + (["--home", self.path] if home else []) + list(args)
        e = dict(self.env)
        for k, v in (env or {}).items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        # A new session has no controlling terminal, so no prompt can appear.
        p = subprocess.run(argv, input=stdin if isinstance(stdin, (bytes, type(None))) else stdin.encode(),
                           capture_output=True, env=e, timeout=60, start_new_session=True)
        out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
        if expect is not None and p.returncode != expect:
            raise AssertionError(f"rumor {' '.join(args)}: exit {p.returncode}, wanted {expect}\n"
                                 f"stdout: {out}\nstderr: {err}")
        if p.returncode != 0:
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
    assert info["members_list"][0]["role"] == "admin"
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
    # A private room is its own domain: it may go anywhere, the top level included.
    h.run("room", "create", "lan/secret", "--private")
    h.run("room", "move", "lan/secret", "work")
    h.run("room", "move", "work/secret", "/")
    assert json.loads(h.run("room", "info", "secret", "--json")[0])["depth"] == 0
    # A room cannot move inside itself.
    h.run("room", "create", "lan/teams/main/inner")
    expect_unchanged(h, "room", "move", "lan/teams", "lan/teams/main/inner", contains="cannot move")
    expect_unchanged(h, "room", "rename", "work", "a/b")


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
    # The stored event begins version 1, type MESSAGE (2), room, author: flip a byte of its box.
    marker = bytes([1, 2]) + bytes.fromhex(room) + bytes.fromhex(author)
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


def test_newer_schema_is_refused(root):
    h = Home(root)
    h.init()
    h.run("room", "create", "lan")
    data_path = os.path.join(h.path, "store", "data.mdb")
    n = patch_file(data_path, b"schema\x00\x00\x00\x01", b"schema\x00\x00\x00\x63")
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


def test_no_identity(root):
    h = Home(root)
    _, err = h.run("status", expect=1)
    assert "rumor init" in err
    assert not os.path.exists(h.path)


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


def main():
    tests = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_") and callable(f)]
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
