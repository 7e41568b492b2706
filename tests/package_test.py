#!/usr/bin/env python3
"""The install and the .deb: what `cmake --install` and `cpack -G DEB` lay out.

Usage: package_test.py PATH_TO_RUMOR [BUILD_DIR]   (BUILD_DIR: the CMake build, default the
rumor binary's directory)

  * `cmake --install BUILD --prefix SCRATCH` installs exactly bin/rumor, the man page, the bash
    and zsh completions, the systemd user unit and the documents, and the installed rumor runs;
  * `cpack -G DEB` (into a scratch directory) makes rumor_VERSION_ARCH.deb whose Depends names
    the Debian packages of the shared libraries rumor links (found with dpkg -S), whose files
    are the same under /usr, owned by root with the usual modes; extracted with `dpkg-deb -x`
    (no dpkg database is touched) its rumor runs;
  * the systemd user unit passes `systemd-analyze --user verify` (skipped without systemd), and
    its command line, run as systemd would (the passphrase as a credential file, %h a scratch
    home; plus --no-lan and a loopback --listen), unlocks a protected identity and stops
    cleanly on SIGTERM.
Standard library only.
"""
import json
import os
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import traceback

RUMOR = os.path.abspath(sys.argv[1])
BUILD = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(RUMOR))
SOURCE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What an install holds, relative to its prefix, and where each file comes from.
LAYOUT = {
    "bin/rumor": None,
    "share/man/man1/rumor.1": "doc/rumor.1",
    "share/bash-completion/completions/rumor": "contrib/completion/rumor.bash",
    "share/zsh/vendor-completions/_rumor": "contrib/completion/_rumor",
    "lib/systemd/user/rumor.service": "contrib/systemd/rumor.service",
    "share/doc/rumor/README.md": "README.md",
    "share/doc/rumor/PROTOCOL.md": "PROTOCOL.md",
}
for name in ("LICENSE", "LICENCE", "COPYING"):
    if os.path.exists(os.path.join(SOURCE, name)):
        LAYOUT[f"share/doc/rumor/{name}"] = name


def sh(*argv, env=None, timeout=120, expect=0):
    p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout,
                       start_new_session=True)
    if expect is not None and p.returncode != expect:
        raise AssertionError(f"{' '.join(argv)}: exit {p.returncode}\n"
                             f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def version():
    out = sh(RUMOR, "--version").stdout.strip()
    m = re.fullmatch(r"rumor (\d+\.\d+\.\d+)", out)
    assert m, f"rumor --version printed {out!r}"
    return m.group(1)


def files_under(root):
    found = set()
    for dirpath, _, files in os.walk(root):
        for f in files:
            found.add(os.path.relpath(os.path.join(dirpath, f), root))
    return found


def same_bytes(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def check_layout(prefix, what):
    """The files of LAYOUT under `prefix`, nothing else; the installed rumor runs."""
    got = files_under(prefix)
    assert got == set(LAYOUT), (f"{what}: missing {sorted(set(LAYOUT) - got)}, "
                                f"unexpected {sorted(got - set(LAYOUT))}")
    for rel, src in LAYOUT.items():
        if src:
            assert same_bytes(os.path.join(prefix, rel), os.path.join(SOURCE, src)), \
                f"{what}: {rel} is not {src}"
    binary = os.path.join(prefix, "bin/rumor")
    assert os.stat(binary).st_mode & stat.S_IXOTH, f"{what}: bin/rumor is not executable"
    out = sh(binary, "--version").stdout.strip()
    assert out == f"rumor {version()}", f"{what}: installed rumor --version says {out!r}"
    assert "commands:" in sh(binary, "help").stdout
    return binary


# ---- the tests ------------------------------------------------------------------------------


def test_cmake_install_layout(root):
    prefix = os.path.join(root, "prefix")
    sh("cmake", "--install", BUILD, "--prefix", prefix)
    check_layout(prefix, "cmake --install")


def needed_packages(binary):
    """The Debian packages of the shared libraries `binary` links directly (DT_NEEDED)."""
    dyn = sh("objdump", "-p", binary).stdout
    needed = re.findall(r"^\s*NEEDED\s+(\S+)", dyn, re.M)
    assert needed, dyn
    paths = dict(re.findall(r"^\s*(\S+) => (\S+)", sh("ldd", binary).stdout, re.M))
    packages = set()
    for soname in needed:
        path = paths[soname]
        real = os.path.realpath(path)
        candidates = [path, real]
        for p in list(candidates):  # merged /usr: dpkg knows one of the two names
            candidates.append(p[4:] if p.startswith("/usr/") else "/usr" + p)
        for p in candidates:
            r = sh("dpkg", "-S", p, expect=None)
            if r.returncode == 0:
                packages.add(r.stdout.split(":", 1)[0].split(",")[0].strip())
                break
        else:
            raise AssertionError(f"no Debian package owns {soname} ({path})")
    return packages


def build_deb(root):
    out = os.path.join(root, "deb")
    config = os.path.join(BUILD, "CPackConfig.cmake")
    assert os.path.exists(config), f"{config} is missing: configure {BUILD} with cmake first"
    sh("cpack", "-G", "DEB", "--config", config, "-B", out, timeout=300)
    debs = [f for f in os.listdir(out) if f.endswith(".deb")]
    arch = sh("dpkg", "--print-architecture").stdout.strip()
    assert debs == [f"rumor_{version()}_{arch}.deb"], debs
    return os.path.join(out, debs[0])


def test_deb(root):
    deb = build_deb(root)
    print(f"     {os.path.basename(deb)}: {os.path.getsize(deb)} bytes", flush=True)
    info = sh("dpkg-deb", "-I", deb).stdout
    fields = dict(re.findall(r"^ ([A-Z][A-Za-z-]+): (.*)$", info, re.M))
    assert fields.get("Package") == "rumor" and fields.get("Version") == version(), fields
    assert fields.get("Architecture") == sh("dpkg", "--print-architecture").stdout.strip()
    assert fields.get("Maintainer") and fields.get("Description"), fields
    assert "Depends" in fields, (
        "the .deb has no Depends line: dpkg-shlibdeps (dpkg-dev) was missing when CMake ran\n"
        + info)
    depends = {d.strip().split()[0] for d in fields["Depends"].split(",")}
    wanted = needed_packages(RUMOR)
    assert depends == wanted, f"Depends: {fields['Depends']}; the linked libraries' packages: {sorted(wanted)}"
    for lib in ("libsodium23", "liblmdb0", "libuv1", "libzmq5"):
        assert lib in depends, f"{lib} not in Depends: {fields['Depends']}"

    # Owned by root, usual modes.
    for line in sh("dpkg-deb", "-c", deb).stdout.splitlines():
        mode, owner, _, _, _, path = line.split(None, 5)
        assert owner == "root/root", line
        want = "drwxr-xr-x" if mode.startswith("d") else (
            "-rwxr-xr-x" if path == "./usr/bin/rumor" else "-rw-r--r--")
        assert mode == want, line

    # Extracted (dpkg-deb -x writes files only: no dpkg database, no scripts), it runs.
    tree = os.path.join(root, "tree")
    sh("dpkg-deb", "-x", deb, tree)
    binary = check_layout(os.path.join(tree, "usr"), ".deb")
    assert os.path.getsize(binary) < os.path.getsize(RUMOR), "the packaged rumor is not stripped"
    assert files_under(tree) == {"usr/" + f for f in LAYOUT}


def unit_directives(path):
    """{key: [values]} of the unit's lines (comments left out)."""
    d = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("#", ";", "[")):
                k, v = line.split("=", 1)
                d.setdefault(k, []).append(v)
    return d


def test_systemd_unit(root):
    unit = os.path.join(SOURCE, "contrib/systemd/rumor.service")
    d = unit_directives(unit)
    for key, value in (("Restart", "on-failure"), ("NoNewPrivileges", "yes"),
                       ("ProtectSystem", "strict"), ("PrivateTmp", "yes"),
                       ("WantedBy", "default.target")):
        assert d.get(key) == [value], f"{key}={d.get(key)}"
    cred = d["LoadCredential"][0]
    assert cred.startswith("passphrase:%h/"), cred
    argv = shlex.split(d["ExecStart"][0])
    assert argv[0] == "rumor" and argv[-1] == "node", argv
    assert "--passphrase-file" in argv and "${CREDENTIALS_DIRECTORY}/passphrase" in argv, argv
    env = dict(e.split("=", 1) for e in d.get("Environment", []))
    assert any(env["RUMOR_HOME"] == p.lstrip("-") for p in d["ReadWritePaths"]), \
        "ReadWritePaths does not hold RUMOR_HOME"

    rumor = RUMOR
    if shutil.which("systemd-analyze"):
        # Verified as the user manager would load it, its command at a path that exists here.
        check = os.path.join(root, "verify")
        runtime = os.path.join(root, "runtime")
        os.makedirs(check)
        os.makedirs(runtime, mode=0o700)
        with open(unit) as f:
            text = f.read().replace("ExecStart=rumor ", f"ExecStart={rumor} ")
        with open(os.path.join(check, "rumor.service"), "w") as f:
            f.write(text)
        p = subprocess.run(["systemd-analyze", "--user", "--man=no", "verify", "rumor.service"],
                           capture_output=True, text=True, cwd=check, timeout=60,
                           env=dict(os.environ, XDG_RUNTIME_DIR=runtime))
        assert p.returncode == 0 and not (p.stdout + p.stderr).strip(), (
            f"systemd-analyze verify: {p.returncode}\n{p.stdout}{p.stderr}")
    else:
        print("SKIP systemd-analyze verify: systemd is not installed")

    # The unit's command, run as systemd runs it: %h a scratch home, the passphrase copied to a
    # credentials directory; LAN off and a loopback port, as every test node here.
    home = os.path.join(root, "home")
    creds = os.path.join(root, "credentials")
    os.makedirs(os.path.join(home, ".config/rumor"))
    os.makedirs(creds, mode=0o700)
    source = cred.split(":", 1)[1].replace("%h", home)
    with open(source, "w") as f:
        f.write("unit test passphrase\n")
    os.chmod(source, 0o600)
    shutil.copy(source, os.path.join(creds, "passphrase"))
    e = {k: v for k, v in os.environ.items() if k not in ("RUMOR_PASSPHRASE", "RUMOR_HOME")}
    e.update(HOME=home, CREDENTIALS_DIRECTORY=creds,
             RUMOR_HOME=env["RUMOR_HOME"].replace("%h", home))
    sh(rumor, "--passphrase-file", source, "init", "--nick", "unit", env=e)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [rumor] + [a.replace("${CREDENTIALS_DIRECTORY}", creds) for a in argv[1:]]
    cmd += ["--no-lan", "--listen", f"127.0.0.1:{port}"]
    log = open(os.path.join(root, "node.log"), "w+")
    node = subprocess.Popen(cmd, env=e, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            st = json.loads(sh(rumor, "status", "--json", env=e).stdout)
            if st["running"]:
                break
            assert node.poll() is None, f"the unit's node exited with {node.returncode}"
            assert time.monotonic() < deadline, "the unit's node did not start"
            time.sleep(0.05)
        node.send_signal(signal.SIGTERM)
        rc = node.wait(timeout=20)
        assert rc == 0, f"the unit's node exited with {rc} on SIGTERM"
    except BaseException:
        log.seek(0)
        print(log.read(), file=sys.stderr)
        raise
    finally:
        if node.poll() is None:
            node.kill()
            node.wait()
        log.close()


def main():
    tests = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_") and callable(f)]
    passed = failed = 0
    for name, fn in tests:
        root = tempfile.mkdtemp(prefix="rumor-package-")
        start = time.monotonic()
        try:
            fn(root)
            passed += 1
            print(f"ok   {name} ({time.monotonic() - start:.1f} s)", flush=True)
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
