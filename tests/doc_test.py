#!/usr/bin/env python3
"""The man page and the shell completions say what `rumor help` says.

Usage: doc_test.py PATH_TO_RUMOR

`rumor help`, `rumor help COMMAND` and `rumor room --help` print every command's
usage lines (cli/cli.h, USAGE_...). This test checks, both ways, that
  * doc/rumor.1 has each usage line as a command form (its tag in COMMANDS, with
    the troff escapes taken out), the same commands and sub-commands, the same
    options per form, the global options in SYNOPSIS and OPTIONS, and no option
    help does not know; its version is `rumor --version`'s; it renders without
    groff warnings (skipped without groff);
  * contrib/completion/rumor.bash, run in bash, completes every command, every
    sub-command, each form's options and the fixed values of options, and room
    paths from a home (and nothing, without hanging, when it would need a
    passphrase);
  * contrib/completion/_rumor (zsh) has each form with exactly its options, names
    every command and sub-command, and parses (zsh -n; skipped without zsh).
Runs no node. Standard library only.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

RUMOR = os.path.abspath(sys.argv[1])
SOURCE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAN = os.path.join(SOURCE, "doc", "rumor.1")
BASH_COMPLETION = os.path.join(SOURCE, "contrib", "completion", "rumor.bash")
ZSH_COMPLETION = os.path.join(SOURCE, "contrib", "completion", "_rumor")
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*[a-z]")
# Global options `rumor help` does not list but the binary takes (checked by running them).
UNLISTED_GLOBAL = {"--help", "--version"}


def run(*args, env=None, expect=0):
    e = dict(os.environ)
    e.pop("RUMOR_PASSPHRASE", None)
    e["RUMOR_HOME"] = os.path.join(tempfile.gettempdir(), "rumor-doc-test-no-such-home")
    e.update(env or {})
    p = subprocess.run([RUMOR, *args], capture_output=True, text=True, env=e, timeout=30,
                       start_new_session=True)
    if expect is not None and p.returncode != expect:
        raise AssertionError(f"rumor {' '.join(args)}: exit {p.returncode}, wanted {expect}\n"
                             f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p.stdout


# ---- what help says ----------------------------------------------------------------


def usage_lines(text):
    """The forms of a `usage:` block, without "rumor "."""
    forms = []
    for line in text.splitlines():
        m = re.match(r"^(?:usage:|      ) rumor (.*)$", line)
        if m:
            forms.append(" ".join(m.group(1).split()))
        elif forms:
            break
    assert forms, f"no usage lines in {text!r}"
    return forms


def form_key(form, commands):
    """("room", "create") for "room create PATH ...", ("id", None) for "id [--json]"."""
    words = form.split()
    assert words[0] in commands, f"usage line of an unknown command: {form!r}"
    sub = words[1] if len(words) > 1 and re.fullmatch(r"[a-z]+", words[1]) else None
    return (words[0], sub)


class Help:
    """What `rumor help` says: the commands, each one's forms, the options of each form."""

    def __init__(self):
        top = run("help")
        assert run("--help") == top and run("-h") == top, "rumor --help is not rumor help"
        first = top.splitlines()[0]
        assert first.startswith("usage: rumor "), first
        self.usage_all = first
        self.global_flags = set(FLAG.findall(first))
        listing = top.split("\ncommands:\n", 1)[1].split("\n\n", 1)[0]
        self.commands = [m.group(1) for m in re.finditer(r"^  ([a-z]+) ", listing, re.M)]
        assert len(self.commands) >= 10, self.commands
        self.forms = {}  # (command, sub) -> usage line
        for cmd in self.commands:
            text = run("help", cmd)
            assert run(cmd, "--help") == text, f"rumor {cmd} --help differs from rumor help {cmd}"
            for form in usage_lines(text):
                key = form_key(form, self.commands)
                assert key not in self.forms, f"two usage lines for {key}"
                self.forms[key] = form
        self.subs = {}
        for cmd, sub in self.forms:
            if sub:
                self.subs.setdefault(cmd, []).append(sub)
        # `rumor room --help` and `rumor room SUB --help` show the room forms, one by one.
        room = usage_lines(run("room", "--help"))
        assert room == [f for (c, _), f in self.forms.items() if c == "room"], room
        for sub in self.subs.get("room", []):
            assert usage_lines(run("room", sub, "--help")) == [self.forms[("room", sub)]], sub
        self.all_flags = set(self.global_flags)
        for form in self.forms.values():
            self.all_flags |= set(FLAG.findall(form))

    def flags(self, key):
        return set(FLAG.findall(self.forms[key]))

    def choices(self, key):
        """{"--role": {"member", "admin"}}: the options whose value is one of a fixed set."""
        return {m.group(1): set(m.group(2).split("|"))
                for m in re.finditer(r"(--[a-z-]+) ([a-z]+(?:\|[a-z]+)+)\]", self.forms[key])}


# ---- what the man page says ---------------------------------------------------------


def troff_words(args):
    """A macro line's arguments ("quoted" ones kept whole)."""
    return [a[1:-1] if a.startswith('"') else a for a in re.findall(r'"[^"]*"|\S+', args)]


def troff_text(line):
    """The text a troff line shows: macro arguments joined, escapes taken out."""
    m = re.match(r"^\.([A-Z]{1,2})(?:\s+(.*))?$", line)
    if m:
        macro, args = m.group(1), troff_words(m.group(2) or "")
        line = ("" if len(macro) == 2 and macro != "SH" else " ").join(args)
    line = re.sub(r"\\f(\[[^\]]*\]|\(..|.)", "", line)
    line = line.replace("\\-", "-").replace("\\&", "").replace("\\%", "").replace("\\e", "\\")
    return " ".join(line.split())


class Man:
    """doc/rumor.1: sections, the command forms (tags in COMMANDS), the options."""

    def __init__(self, path):
        with open(path, encoding="ascii") as f:  # plain ASCII: no preconv needed
            self.source = f.read()
        lines = [ln for ln in self.source.splitlines() if not ln.startswith('.\\"')]
        self.th = lines[0]
        self.sections = {}
        section = None
        tags = {}
        for i, ln in enumerate(lines):
            if ln.startswith(".SH "):
                section = troff_text(ln)
                self.sections[section] = []
                tags[section] = []
            elif section:
                self.sections[section].append(ln)
                if i > 0 and lines[i - 1] in (".TP", ".TQ"):
                    tags[section].append(troff_text(ln))
        self.forms = tags.get("COMMANDS", [])
        self.option_tags = tags.get("OPTIONS", [])
        # The SYNOPSIS lines, each up to a .br.
        synopsis = "\n".join(troff_text(ln) if ln != ".br" else "\0"
                             for ln in self.sections.get("SYNOPSIS", []))
        self.synopsis = [" ".join(part.split()) for part in synopsis.split("\0")]
        self.text = "\n".join(troff_text(ln) for ln in lines)


# ---- the checks ----------------------------------------------------------------------


def test_man_forms_are_the_usage_lines(help_, man):
    in_help = set(help_.forms.values())
    in_man = set(man.forms)
    assert len(in_man) == len(man.forms), f"a form twice in the man page: {man.forms}"
    missing = sorted(in_help - in_man)
    extra = sorted(in_man - in_help)
    assert not missing and not extra, (
        "doc/rumor.1 COMMANDS and `rumor help` differ:\n"
        + "".join(f"  only in help:     {f}\n" for f in missing)
        + "".join(f"  only in man page: {f}\n" for f in extra))


def test_man_commands_and_options(help_, man):
    # The same per command and form (reported separately, as a reader looks for them).
    man_keys = {form_key(f, help_.commands): f for f in man.forms}
    assert {c for c, _ in man_keys} == set(help_.commands), (
        f"commands: help {sorted(help_.commands)}, man page {sorted({c for c, _ in man_keys})}")
    assert set(man_keys) == set(help_.forms), (
        f"forms: only in help {sorted(set(help_.forms) - set(man_keys), key=str)}, "
        f"only in the man page {sorted(set(man_keys) - set(help_.forms), key=str)}")
    for key, form in man_keys.items():
        assert set(FLAG.findall(form)) == help_.flags(key), (
            f"{' '.join(filter(None, key))}: options {sorted(help_.flags(key))} in help, "
            f"{sorted(FLAG.findall(form))} in the man page")
    # Anywhere in the page: no option help does not know.
    unknown = set(FLAG.findall(man.text)) - help_.all_flags - UNLISTED_GLOBAL
    assert not unknown, f"options in doc/rumor.1 that rumor help does not name: {sorted(unknown)}"


def test_man_global_options(help_, man):
    assert man.synopsis and set(FLAG.findall(man.synopsis[0])) == help_.global_flags, (
        f"SYNOPSIS {man.synopsis[:1]} vs help's global options {sorted(help_.global_flags)}")
    documented = set()
    for tag in man.option_tags:
        documented |= set(FLAG.findall(tag))
    assert documented == help_.global_flags | UNLISTED_GLOBAL, (
        f"OPTIONS names {sorted(documented)}; help {sorted(help_.global_flags)} "
        f"and {sorted(UNLISTED_GLOBAL)}")
    # The ones help leaves out work.
    version = run("--version").strip()
    assert re.fullmatch(r"rumor \d+\.\d+\.\d+", version), version
    th = troff_words(man.th[len(".TH"):])
    assert th[:2] == ["RUMOR", "1"] and th[3] == version, (
        f".TH says {th[3]!r}, rumor --version {version!r}")


def test_man_renders_without_warnings(help_, man):
    if not shutil.which("groff"):
        print("SKIP man page rendering: groff is not installed (groff-base)")
        return
    p = subprocess.run(["groff", "-man", "-ww", "-z", MAN], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0 and not p.stderr.strip(), f"groff: {p.returncode} {p.stderr}"
    # And as text at a terminal's width: every command form is on the page.
    p = subprocess.run(["groff", "-man", "-ww", "-Tutf8", "-P-cbou", "-rLL=100n", MAN],
                       capture_output=True, timeout=30)
    page = p.stdout.decode("utf-8")
    assert p.returncode == 0 and not p.stderr.strip(), p.stderr
    for form in help_.forms.values():
        shown = " ".join(page.replace("\u2010", "-").split())
        assert form in shown, f"{form!r} is not on the rendered page"


# ---- bash completion -------------------------------------------------------------------


def bash_complete(cases, env=None, timeout=60):
    """Runs the completion function for each list of words (the last one is completed)."""
    script = [f"source {shell_quote(BASH_COMPLETION)}"]
    for words in cases:
        script.append("COMP_WORDS=(" + " ".join(shell_quote(w) for w in words) + ")")
        script.append(f"COMP_CWORD={len(words) - 1}")
        script.append("COMP_LINE=\"${COMP_WORDS[*]}\"; COMP_POINT=${#COMP_LINE}")
        script.append("_rumor; echo \"@@ ${COMPREPLY[*]}\"")
    e = dict(os.environ)
    e.pop("RUMOR_PASSPHRASE", None)
    e.update(env or {})
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", "\n".join(script)],
                       capture_output=True, text=True, env=e, timeout=timeout,
                       start_new_session=True)
    assert p.returncode == 0 and not p.stderr, f"bash: {p.returncode} {p.stderr}"
    got = [line[3:].split() for line in p.stdout.splitlines() if line.startswith("@@")]
    assert len(got) == len(cases), p.stdout
    return [set(g) for g in got]


def shell_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def test_bash_completes_what_help_says(help_, man):
    cases, wanted = [], []
    # The commands, the global options, each command's sub-commands.
    cases.append(["rumor", ""])
    wanted.append(set(help_.commands))
    cases.append(["rumor", "--"])
    wanted.append(help_.global_flags | UNLISTED_GLOBAL)
    cases.append(["rumor", "--home", "/x", ""])
    wanted.append(set(help_.commands))
    cases.append(["rumor", "help", ""])
    wanted.append(set(help_.commands))
    for cmd in help_.commands:
        if cmd in help_.subs:
            cases.append(["rumor", cmd, ""])
            wanted.append(set(help_.subs[cmd]))
    # Each form's options, and the values of those that take a fixed set.
    for key in help_.forms:
        words = ["rumor", *filter(None, key)]
        cases.append(words + ["--"])
        wanted.append(help_.flags(key))
        for flag, values in help_.choices(key).items():
            cases.append(words + [flag, ""])
            wanted.append(values)
    cases.append(["rumor", "room", "role", "lan", "abcdef12", ""])
    wanted.append({"admin", "member"})
    got = bash_complete(cases)
    bad = [f"  {' '.join(c)!r}: got {sorted(g)}, wanted {sorted(w)}"
           for c, g, w in zip(cases, got, wanted) if g != w]
    assert not bad, "bash completion differs from rumor help:\n" + "\n".join(bad)
    # The options that take a value (whose next word is not a positional argument).
    with open(BASH_COMPLETION) as f:
        m = re.search(r'^_rumor_value_opts="([^"]*)"', f.read(), re.M)
    takes = set()
    for form in [help_.usage_all] + list(help_.forms.values()):
        takes |= set(re.findall(r"(--[a-z][a-z-]*[a-z]) [A-Za-z]", form))
    assert m and set(m.group(1).split()) == takes, (
        f"_rumor_value_opts: {m and sorted(m.group(1).split())}, help: {sorted(takes)}")


def test_bash_completes_rooms(help_, man):
    root = tempfile.mkdtemp(prefix="rumor-doc-")
    try:
        open_home = os.path.join(root, "open")
        env = {"RUMOR_HOME": open_home}
        run("init", "--nick", "docs", "--no-passphrase", env=env)
        for path in ("lan", "lan/general", "lan/general/deep", "work"):
            run("room", "create", path, env=env)
        # The rumor being completed is the one asked (a path), with the --home given.
        home = ["--home", open_home]
        cases = [[RUMOR, *home, "send", ""], [RUMOR, *home, "log", "lan/g"],
                 [RUMOR, *home, "room", "move", "work", ""], [RUMOR, *home, "room", "info", "x"],
                 [RUMOR, *home, "log", "--limit", "5", "wo"], [RUMOR, *home, "send", "lan", ""]]
        got = bash_complete(cases)
        assert got == [{"lan", "lan/general", "lan/general/deep", "work"},
                       {"lan/general", "lan/general/deep"},
                       {"/", "lan", "lan/general", "lan/general/deep", "work"}, set(), {"work"},
                       set()], got
        # RUMOR_HOME works too.
        assert bash_complete([[RUMOR, "chat", "l"]], env=env) == [
            {"lan", "lan/general", "lan/general/deep"}]
        # A protected identity with no node running: no rooms, no prompt, no wait.
        locked = os.path.join(root, "locked")
        run("init", "--nick", "locked", env={"RUMOR_HOME": locked,
                                              "RUMOR_PASSPHRASE": "doc test passphrase"})
        start = time.monotonic()
        assert bash_complete([[RUMOR, "--home", locked, "send", ""]], timeout=20) == [set()]
        took = time.monotonic() - start
        assert took < 10, f"completion took {took:.1f} s without a passphrase"
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ---- zsh completion ---------------------------------------------------------------------


def zsh_forms():
    """The zsh file's _rumor_form cases: {(command, sub): options}."""
    with open(ZSH_COMPLETION) as f:
        text = f.read()
    body = text.split("_rumor_form() {", 1)[1].split("\n}\n", 1)[0]
    forms = {}
    for m in re.finditer(r"^  \(([^)]*)\)(.*?);;", body, re.M | re.S):
        opts = set(FLAG.findall(m.group(2)))
        for label in m.group(1).split("|"):
            label = label.strip("'")
            if label != "*":
                forms[tuple(label.split()) if " " in label else (label, None)] = opts
    return text, forms


def test_zsh_completion_names_what_help_says(help_, man):
    text, forms = zsh_forms()
    assert set(forms) == set(help_.forms), (
        f"zsh forms: only in help {sorted(set(help_.forms) - set(forms), key=str)}, "
        f"only in _rumor {sorted(set(forms) - set(help_.forms), key=str)}")
    for key, opts in forms.items():
        assert opts == help_.flags(key), f"zsh {key}: {sorted(opts)}, help {sorted(help_.flags(key))}"
        for flag, values in help_.choices(key).items():
            m = re.search(re.escape(flag) + r"\[[^]]*\]:[^:]*:\(([^)]*)\)", text)
            assert m and set(m.group(1).split()) == values, f"zsh {flag}: {m and m.group(1)}"
    for cmd in help_.commands:
        assert re.search(rf"^    '{cmd}:", text, re.M), f"zsh: command {cmd} not listed"
    for cmd, subs in help_.subs.items():
        for sub in subs:
            assert re.search(rf"['\"]{sub}:", text), f"zsh: {cmd} {sub} not listed"
    top = set(FLAG.findall(text.split("\n_rumor() {", 1)[1]))
    assert top == help_.global_flags | UNLISTED_GLOBAL, f"zsh global options: {sorted(top)}"
    if not shutil.which("zsh"):
        print("SKIP zsh -n: zsh is not installed")
        return
    p = subprocess.run(["zsh", "-n", ZSH_COMPLETION], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and not p.stderr, p.stderr


def main():
    help_, man = Help(), Man(MAN)
    tests = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_") and callable(f)]
    passed = failed = 0
    for name, fn in tests:
        try:
            fn(help_, man)
            passed += 1
            print(f"ok   {name}", flush=True)
        except Exception:
            failed += 1
            print(f"FAIL {name}", flush=True)
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
