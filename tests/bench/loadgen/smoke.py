#!/usr/bin/env python3
"""Smoke test of po-loadgen against the real postofficed, at small scale.

    tests/bench/loadgen/smoke.py [--po-bin BUILD_DIR] [--loadgen BINARY]
                                 [--messages N] [--only sync,idle,noop]
                                 [--plain-only]

Starts a daemon the way tests/integration/harness.py does (its own temp
dir, certificate and loopback ports), adds 5 accounts, delivers N small
messages (default 200) to each over LMTP, and runs each workload over plain
IMAP and over IMAPS: sync with 5 clients for 10 s, idle with 200 clients on
the 5 accounts (one delivery to all 5 after "go"), noop for 5 s.  Prints
each run's JSON and fails if po-loadgen exits non-zero or its figures are
implausible.  Not part of the test command: the bench harness uses the
binary directly.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import harness  # noqa: E402

ACCOUNTS = 5
USER_FMT = "lg%d"
PASS_FMT = "lg-secret-%d"
RUN_TIMEOUT = 120  # seconds for one po-loadgen run


def loadgen_cmd(args, d, tls, workload, clients, duration, extra=()):
    port = d.port["imaps" if tls else "imap"]
    cmd = [args.loadgen, "--host", "127.0.0.1", "--port", str(port),
           "--user-fmt", USER_FMT, "--pass-fmt", PASS_FMT,
           "--accounts", str(ACCOUNTS), "--clients", str(clients),
           "--workload", workload, "--duration", str(duration),
           "--seed", "7"]
    if tls:
        cmd += ["--tls", "--cafile", d.cert]
    return cmd + list(extra)


def last_json(out):
    lines = [ln for ln in out.splitlines() if ln.strip()]
    if not lines:
        raise AssertionError("no output")
    return json.loads(lines[-1])


def run_simple(args, d, tls, workload, clients, duration, extra=()):
    cmd = loadgen_cmd(args, d, tls, workload, clients, duration, extra)
    r = subprocess.run(cmd, capture_output=True, text=True,
                       timeout=RUN_TIMEOUT)
    sys.stderr.write(r.stderr)
    print(r.stdout.strip())
    if r.returncode != 0:
        raise AssertionError("%s exited %d" % (workload, r.returncode))
    res = last_json(r.stdout)
    if res["errors"] != 0 or res["ops"] == 0:
        raise AssertionError("%s: %r" % (workload, res))
    return res


def run_idle(args, d, tls, clients):
    cmd = loadgen_cmd(args, d, tls, "idle", clients, 20,
                      ["--connect-rate", "500"])
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    try:
        line = p.stdout.readline()
        ev = json.loads(line)
        print(line.strip())
        if ev.get("event") != "ready" or ev["clients"] != clients:
            raise AssertionError("ready event: %r" % line)
        p.stdin.write("go\n")
        p.stdin.flush()
        msg = (b"From: a@example.org\r\nTo: lg@example.org\r\n"
               b"Subject: idle wake-up\r\n\r\nwake up\r\n")
        c = d.lmtp()
        try:
            rr, dr = harness.lmtp_deliver(
                c, "s@example.org",
                [USER_FMT.replace("%d", str(i)) for i in range(ACCOUNTS)],
                msg)
            if len(dr) != ACCOUNTS or any(x[0] != 250 for x in dr):
                raise AssertionError("delivery: %r %r" % (rr, dr))
        finally:
            c.quit()
        out, _ = p.communicate(timeout=RUN_TIMEOUT)
    except BaseException:
        p.kill()  # our own child
        p.wait()
        raise
    print(out.strip())
    if p.returncode != 0:
        raise AssertionError("idle exited %d" % p.returncode)
    res = last_json(out)
    if res["arrived"] != clients or res["all_arrived_ms"] is None:
        raise AssertionError("idle: %r" % res)
    return res


def check_sizes(d, expect):
    """After a sync run every mailbox holds what it held before: the
    APPENDs were expunged and the moved messages came back."""
    for i in range(ACCOUNTS):
        c = harness.imap_session(d, USER_FMT.replace("%d", str(i)),
                                 PASS_FMT.replace("%d", str(i)))
        try:
            for mbox, n in (("Archive", 0), ("INBOX", expect)):
                u = c.ok("STATUS %s (MESSAGES)" % mbox)
                want = b"(MESSAGES %d)" % n
                if not any(r.endswith(want) for r in u):
                    raise AssertionError("account %d %s: %r, want %d" %
                                         (i, mbox, u, n))
        finally:
            c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--po-bin", default=os.path.join(REPO, "build"))
    ap.add_argument("--loadgen", default=os.path.join(
        REPO, "build-bench", "loadgen", "po-loadgen"))
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--only", default="sync,idle,noop")
    ap.add_argument("--plain-only", action="store_true")
    args = ap.parse_args()
    os.environ["PO_BIN_DIR"] = os.path.abspath(args.po_bin)
    only = args.only.split(",")

    d = harness.Daemon({"log_level": "info", "worker_threads": "2",
                        "max_connections_per_ip": "2000",
                        "auth_fail_delay_ms": "0"})
    try:
        for i in range(ACCOUNTS):
            d.add_account(USER_FMT.replace("%d", str(i)),
                          PASS_FMT.replace("%d", str(i)), pop=False)
        d.start()
        rng = random.Random(1)
        t = time.monotonic()
        for i in range(ACCOUNTS):
            msgs = [harness.make_message(j, rng)
                    for j in range(args.messages)]
            harness.deliver(d, USER_FMT.replace("%d", str(i)), msgs)
        print("# delivered %d messages to each of %d accounts in %.1f s"
              % (args.messages, ACCOUNTS, time.monotonic() - t))
        expect = args.messages
        for tls in (False,) if args.plain_only else (False, True):
            print("# %s" % ("TLS" if tls else "plain"))
            if "sync" in only:
                run_simple(args, d, tls, "sync", 5, 10)
                check_sizes(d, expect)
            if "idle" in only:
                run_idle(args, d, tls, 200)
                expect += 1
            if "noop" in only:
                run_simple(args, d, tls, "noop", 1, 5)
                run_simple(args, d, tls, "noop", 1, 2,
                           ["--interval-ms", "10"])
        d.stop()
    finally:
        d.cleanup()
    print("# smoke OK")


if __name__ == "__main__":
    main()
