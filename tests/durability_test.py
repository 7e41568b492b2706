#!/usr/bin/env python3
"""Durability test (CI): the short version of bench/bench_durability.py.

Usage: durability_test.py PATH_TO_RUMOR [--rounds N] [--seed S]

SPEC 3: an acknowledged send (`rumor send` exited 0) survives `kill -9` of the node
or of the CLI at any moment. This runs the bench's harness for --rounds (default
40) rounds: node A on 127.0.0.1 with --no-lan and a peer node B, three parallel
sending CLIs per round, SIGKILL to A and to about half the CLIs in flight at a
random moment, A restarted (sometimes killed again during its start-up). It then
asserts: no acknowledged send is missing from A's log (checked after every round
and at the end), none is shown twice, every shown line is one the harness sent
under the id its CLI printed, B holds every acknowledged message, both nodes stop
cleanly on SIGTERM, and both stores open and verify with the nodes stopped.

First, a self-check proves the checks can fail: the same harness runs two rounds
against a wrapper of the binary that acknowledges some sends without storing them
and stores others twice; it must report lost and duplicated sends.

Stops starting rounds after about 60 s (on a slow machine fewer rounds run; at
least half must). Every process is killed and every temporary directory removed
by the harness, whatever happens. The seed is printed; --seed S repeats the
random choices (timing still differs between runs).
"""
import argparse
import importlib.util
import os
import shutil
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.join(HERE, "..", "bench", "bench_durability.py")


def load_harness():
    spec = importlib.util.spec_from_file_location("bench_durability", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def say(msg):
    print("  " + msg, flush=True)


def self_check(bd, rumor, seed):
    """The harness must see a lie: a wrapper acknowledges first sends it never stores
    (`-m0-` texts) and stores second sends twice (`-m1-`)."""
    d = tempfile.mkdtemp(prefix="rdurw", dir="/tmp")
    try:
        liar = os.path.join(d, "rumor-liar")
        with open(liar, "w") as f:
            f.write('#!/bin/sh\n'
                    'REAL="%s"\n'
                    'case "$*" in\n'
                    '  *" send "*-m0-*) echo %s; exit 0;;\n'
                    '  *" send "*-m1-*) "$REAL" "$@" >/dev/null 2>&1; exec "$REAL" "$@";;\n'
                    'esac\n'
                    'exec "$REAL" "$@"\n' % (rumor, "ab" * 32))
        os.chmod(liar, 0o700)
        res = bd.run_campaign(liar, 2, seed=seed, senders=2, peer=False, full_every=0,
                              say=lambda m: None)
        assert not res.get("error"), "self-check set-up failed: %s" % res.get("error")
        assert res["acknowledged"] > 0, "self-check: nothing acknowledged"
        assert res["lost"] and res["lost"] > 0, \
            "self-check: the harness did not notice acknowledged sends that were never stored"
        assert res["lost_seen_in_round"], "self-check: the per-round check saw no loss"
        assert res["duplicates"] and res["duplicates"] > 0, \
            "self-check: the harness did not notice messages stored twice"
        assert not res["ok"], "self-check: a lying binary passed"
        say("self-check: a binary that lies is caught (%d lost, %d duplicated of %d "
            "acknowledged)" % (res["lost"], res["duplicates"], res["acknowledged"]))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("rumor")
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--max-time", type=float, default=60.0)
    a = ap.parse_args(argv)
    rumor = os.path.abspath(a.rumor)
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "big")
    bd = load_harness()

    def on_signal(signum, _frame):  # unwind, so the harness kills what it started
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    t0 = time.monotonic()
    print("durability test: seed %d, %d rounds (repeat with --seed %d)" % (seed, a.rounds, seed),
          flush=True)
    self_check(bd, rumor, seed)

    res = bd.run_campaign(rumor, a.rounds, seed=seed, senders=3, peer=True, full_every=20,
                          max_time=a.max_time, say=say)
    bd.print_report(res)
    assert not res.get("error"), res.get("error")
    assert res["rounds"] >= max(1, a.rounds // 2), \
        "only %d of %d rounds ran in %.0f s" % (res["rounds"], a.rounds, a.max_time)
    assert res["node_kills"] >= res["rounds"], "the node was not killed every round"
    assert res["acknowledged"] >= 5 * res["rounds"], \
        "only %d sends acknowledged in %d rounds: %s" % (res["acknowledged"], res["rounds"],
                                                         res["failed_by_reason"])
    assert res["lost"] == 0, "acknowledged sends lost after kill -9: %s" % res["lost_sample"]
    assert not res["lost_seen_in_round"], \
        "acknowledged sends missing after a round: %s" % res["lost_seen_in_round"]
    assert res["duplicates"] == 0, "messages shown twice: %s" % res["duplicates_sample"]
    assert res["corrupt"] == 0, "corrupt log lines: %s" % res["corrupt_sample"]
    assert all(res["store_reopened"].values()), \
        "a store did not open or verify with its node stopped: %s" % res["store_reopened"]
    assert all(res["clean_stop"].values()), "a node did not stop cleanly: %s" % res["clean_stop"]
    assert res["peer_missing"] == 0, \
        "node b lacks %s acknowledged messages after %.0f s: %s" % (
            res["peer_missing"], res.get("peer_wait_s") or 0, res.get("peer_missing_sample"))
    assert res["ok"], "the harness reports a failure: %s" % res
    print("durability test: PASS in %.1f s" % (time.monotonic() - t0), flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except AssertionError as e:
        print("durability test: FAIL: %s" % e, flush=True)
        sys.exit(1)
