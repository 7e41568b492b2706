"""rumorlab: what the Python tests and benchmarks share to drive real `rumor` processes.

Used by tests/cli_test.py, tests/mesh_test.py (and through it hostile_test.py and
bench/bench_restart.py), bench/bench_mesh.py (and bench_rotation.py), bench/bench_catchup.py
and bench/bench_durability.py; the benchmarks put this directory on sys.path.

  clean_env(passphrase)   the environment every rumor process gets
  Home                    a home directory and the CLI bound to it: cli(), json()
  Node                    a Home and its `rumor node` process: launch(), wait_running(),
                          start(), alive(), stop(), kill(), log_tail(), address
  free_port(), free_ports(n, rng)   loopback TCP ports
  poll(what, fn, timeout, interval) a bounded wait (Timeout, an AssertionError, at its end)
  tmp_root, write_config, tail, cpu_ms, HOST, HEX64

Network rule: a node listens on a loopback address (or inside a network namespace a test
made, the only place where it may run without --no-lan). Every wait here is bounded in time
and every loop in count.
"""
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

HOST = "127.0.0.1"
HEX64 = re.compile(r"^[0-9a-f]{64}$")
PORT_LO, PORT_HI = 20000, 32000   # free_ports' range: below Linux's ephemeral range


def clean_env(passphrase=None):
    """os.environ without RUMOR_HOME and RUMOR_PASSPHRASE (every command is given --home);
    with `passphrase`, RUMOR_PASSPHRASE set to it."""
    env = {k: v for k, v in os.environ.items() if k not in ("RUMOR_HOME", "RUMOR_PASSPHRASE")}
    if passphrase is not None:
        env["RUMOR_PASSPHRASE"] = passphrase
    return env


def tmp_root(prefix):
    """A new temporary directory under /tmp (so the homes' node.sock paths stay short)."""
    return tempfile.mkdtemp(prefix=prefix, dir="/tmp")


# ---- ports, waits, files ---------------------------------------------------------------------

_ports_taken = set()


def free_port(host=HOST):
    """A TCP port on `host` that is free now and was not handed out before."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port not in _ports_taken:
            _ports_taken.add(port)
            return port
    raise AssertionError("no free port found")


def free_ports(n, rng, lo=PORT_LO, hi=PORT_HI, host=HOST, error=RuntimeError):
    """n distinct TCP ports in [lo, hi) that can be bound on `host` now (checked by binding),
    scanned from a point `rng` picks; raises `error` if fewer are free."""
    ports, tried = [], 0
    start = rng.randrange(lo, hi)
    span = hi - lo
    while len(ports) < n and tried < span:
        port = lo + (start - lo + tried) % span
        tried += 1
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((host, port))
            ports.append(port)
        except OSError:
            pass
        finally:
            s.close()
    if len(ports) < n:
        raise error("only %d free loopback ports found" % len(ports))
    return ports


class Timeout(AssertionError):
    """poll() waited its whole time."""


def poll(what, fn, timeout=10.0, interval=0.25):
    """Calls fn() until it returns a true value (returned) or `timeout` seconds pass (Timeout).
    An AssertionError from fn counts as a false value; it is shown as the last one."""
    deadline = time.monotonic() + timeout
    last = None
    for _ in range(int(timeout / max(interval, 0.001)) + 20):
        try:
            last = fn()
        except AssertionError as e:
            last = e
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise Timeout(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")


def write_config(path, items):
    """Writes a node config file of `key = value` lines (a dict or (key, value) pairs)."""
    pairs = items.items() if isinstance(items, dict) else items
    with open(path, "w") as f:
        f.write("".join("%s = %s\n" % (k, v) for k, v in pairs))
    return path


def tail(path, n):
    """The last n lines of a file as text, line ends kept ("" if it cannot be read)."""
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines(keepends=True)
    except (OSError, TypeError):
        return ""
    return "".join(lines[-n:])


def cpu_ms(pid):
    """User + system CPU time of a process in ms, from /proc/PID/stat (None if gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # after ")": field 3 is state, so utime (14) and stime (15) are at 11, 12
        return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, TypeError):
        return None


# ---- homes and nodes -------------------------------------------------------------------------

class Home:
    """A rumor home (the directory need not exist yet) and the CLI bound to it."""

    def __init__(self, rumor, path, env=None, name=None):
        self.rumor = rumor
        self.path = path
        self.env = clean_env() if env is None else env
        self.name = name or os.path.basename(path)
        self.id = None            # the identity's public key (hex), once known

    def cli(self, *args, stdin=None, env=None, timeout=60.0, home=True):
        """Runs `rumor --home PATH ARGS...` in a session of its own (no terminal: no prompt);
        returns (exit status, stdout, stderr), decoded. stdin: bytes or str to send, a file,
        or None (/dev/null). env: changes to self.env (a value of None removes the variable).
        home=False leaves --home out. A run past `timeout` s is killed and returns
        (-1, "", "timed out after T s")."""
        argv = [self.rumor] + (["--home", self.path] if home else []) + list(args)
        e = self.env
        if env:
            e = dict(e)
            for k, v in env.items():
                if v is None:
                    e.pop(k, None)
                else:
                    e[k] = v
        io = {}
        if isinstance(stdin, str):
            stdin = stdin.encode()
        if isinstance(stdin, bytes):
            io["input"] = stdin
        else:
            io["stdin"] = subprocess.DEVNULL if stdin is None else stdin
        try:
            p = subprocess.run(argv, capture_output=True, env=e, timeout=timeout,
                               start_new_session=True, **io)
        except subprocess.TimeoutExpired:
            return -1, "", "timed out after %.0f s" % timeout
        return (p.returncode, p.stdout.decode("utf-8", "replace"),
                p.stderr.decode("utf-8", "replace"))

    def json(self, *args, timeout=20.0):
        """The command's output parsed as JSON; None if it failed or printed no JSON."""
        rc, out, _ = self.cli(*args, timeout=timeout)
        if rc != 0:
            return None
        try:
            return json.loads(out)
        except ValueError:
            return None


class Node(Home):
    """A home and its `rumor node` process (one at a time), listening on host:port."""

    def __init__(self, rumor, path, env=None, name=None, host=HOST, port=None, log_path=None):
        super().__init__(rumor, path, env=env, name=name)
        self.host = host
        self.port = port
        self.log_path = log_path or path + ".log"
        self.proc = None

    @property
    def address(self):
        return f"{self.id}@{self.host}:{self.port}"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def launch(self, peers=(), config=None, extra=(), listen=True, lan=False, wrap=(),
               log_mode="ab"):
        """Starts `rumor node` and returns at once (the Popen): a session of its own, stdout and
        stderr to log_path (opened with log_mode), --listen host:port (with listen=False the
        node picks its address itself), a --peer for each of `peers` (Nodes or addresses),
        --config `config`, then `extra`. --no-lan unless lan=True, which only a node inside a
        test's own network namespace may have: `wrap` (ip netns exec NS) goes before it all."""
        assert not self.alive(), f"[{self.name}] already runs"
        assert not lan or wrap, "LAN mode outside a test namespace"
        argv = list(wrap) + [self.rumor, "--home", self.path, "node"]
        if listen:
            argv += ["--listen", f"{self.host}:{self.port}"]
        for p in peers:
            argv += ["--peer", p if isinstance(p, str) else p.address]
        if not lan:
            argv.append("--no-lan")
        if config:
            argv += ["--config", config]
        argv += list(extra)
        with open(self.log_path, log_mode) as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=self.env,
                                         start_new_session=True)
        return self.proc

    def wait_running(self, timeout=15.0, interval=0.05, cli_timeout=15.0, same_pid=False):
        """Polls `status --json` until it says the node runs on its port (with same_pid: as
        this very process) and returns that status; None once the process has exited or
        `timeout` s have passed."""
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / max(interval, 0.001)) + 20):
            if not self.alive():
                return None
            st = self.json("status", "--json", timeout=cli_timeout) or {}
            if (st.get("running") is True and st.get("port") == self.port
                    and (not same_pid or st.get("pid") == self.proc.pid)):
                return st
            if time.monotonic() > deadline:
                break
            time.sleep(interval)
        return None

    def start(self, timeout=15.0, interval=0.05, **launch):
        """launch(**launch), then waits until the node runs; returns its status. Raises
        RuntimeError if the process exits first, AssertionError if it is not running after
        `timeout` s (the process is left for stop())."""
        self.launch(**launch)
        st = self.wait_running(timeout=timeout, interval=interval)
        if st is None:
            if not self.alive():
                raise RuntimeError(f"[{self.name}] node exited with {self.proc.returncode}:\n"
                                   + self.log_tail())
            raise AssertionError(f"[{self.name}] not running after {timeout:.0f} s:\n"
                                 + self.log_tail())
        return st

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Sends `sig` to the node's process group (its own session) and waits; a node still
        running after `timeout` s is killed. Returns the exit status; None if it had to be
        killed, or if no process was started."""
        p = self.proc
        if p is None:
            return None
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        self.proc = None
        return p.returncode

    def kill(self):
        """SIGKILL to the node's process group; reaps it. True if it was still running."""
        p = self.proc
        if p is None:
            return False
        running = p.poll() is None
        if running:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None
        return running

    def log_tail(self, n=25):
        """The last n lines of the node's log, each as '  NAME| line' ('(no log)' if none)."""
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except (OSError, TypeError):
            return "(no log)"
        return "\n".join(f"  {self.name}| {l}" for l in lines[-n:])
