"""The benchmark run: postoffice and Dovecot side by side (issue 4).

Started by tests/bench/run.sh, which installs the packages and builds; this
file sets up both servers in the work dir, loads the same generated mail
into both over LMTP, runs each selected workload against each server in
alternation (postoffice, Dovecot, postoffice, Dovecot, ...), and writes
tests/bench/RESULTS.md with the median of the repetitions.

Environment (all optional):
  PO_BENCH_SCALE  scales message counts, bytes and client counts (1.0)
  PO_BENCH_ONLY   comma-separated workload numbers to run (all: 1..8)
  PO_BENCH_REPS   repetitions of each measurement per server (3)
  PO_BENCH_DIR    work dir (var/bench)
  PO_BENCH_OUT    where to write the report (tests/bench/RESULTS.md)
  PO_BENCH_NOTE   a line added to the report's notes
"""

import datetime
import json
import os
import platform
import resource
import select
import shutil
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import clients  # noqa: E402
import mailgen  # noqa: E402
import servers  # noqa: E402

SCALE = float(os.environ.get("PO_BENCH_SCALE", "1.0"))
ONLY = [int(x) for x in os.environ.get("PO_BENCH_ONLY",
                                       "1,2,3,4,5,6,7,8").split(",") if x]
REPS = max(1, int(os.environ.get("PO_BENCH_REPS", "3")))
WORK = os.environ.get("PO_BENCH_DIR") or os.path.join(ROOT, "var", "bench")
OUT = os.environ.get("PO_BENCH_OUT") or os.path.join(HERE, "RESULTS.md")
BUILD = os.environ.get("PO_BENCH_BUILD") or os.path.join(ROOT, "build-bench")
LOADGEN = os.path.join(BUILD, "loadgen", "po-loadgen")
MAIL_USER = os.environ.get("PO_BENCH_MAIL_USER", "pobench")
CORES = os.cpu_count() or 1

# Time caps, in seconds (each measurement and each load stops at its cap;
# a capped figure is marked in the report).
CAP_MEASURE = 900
CAP_LOAD = 3600


def scaled(n, least=1):
    return max(least, int(round(n * SCALE)))


def log(*a):
    print("[bench %s]" % time.strftime("%H:%M:%S"), *a, flush=True)


def password(name):
    return "pw-" + name


# ---- measurement records ---------------------------------------------------

class Figure:
    """One figure, measured REPS times for each server."""

    def __init__(self, wid, label, unit, better, fmt="%.1f"):
        self.wid, self.label, self.unit = wid, label, unit
        self.better, self.fmt = better, fmt
        self.vals = {"postoffice": [], "dovecot": []}
        self.cpu = {"postoffice": [], "dovecot": []}
        self.notes = []

    def add(self, server, value, cpu_frac=None):
        self.vals[server].append(value)
        if cpu_frac is not None:
            self.cpu[server].append(cpu_frac)

    def median(self, server):
        v = self.vals[server]
        return statistics.median(v) if v else None


FIGURES = []
NOT_RUN = {}  # wid -> reason
EXTRA = []  # free-form lines for the report
LOAD_TIMES = []  # (what, server, count, MB, seconds)


def figure(*a, **kw):
    f = Figure(*a, **kw)
    FIGURES.append(f)
    return f


class Timed:
    """Wall and client CPU time (user+sys, this process) of a block."""

    def __enter__(self):
        self.r0 = resource.getrusage(resource.RUSAGE_SELF)
        self.t0 = time.monotonic()
        return self

    def __exit__(self, *exc):
        self.wall = time.monotonic() - self.t0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        self.cpu = (r1.ru_utime - self.r0.ru_utime +
                    r1.ru_stime - self.r0.ru_stime)
        return False

    @property
    def cpu_frac(self):
        return self.cpu / self.wall if self.wall > 0 else 0.0


class MemSampler(threading.Thread):
    """Samples the server's summed RSS and PSS every 50 ms."""

    def __init__(self, srv, period=0.05):
        threading.Thread.__init__(self, daemon=True)
        self.srv, self.period = srv, period
        self.peak_rss = self.peak_pss = 0
        self.stop_ev = threading.Event()

    def run(self):
        while not self.stop_ev.is_set():
            rss, pss = servers.mem_of(self.srv.pids())
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.stop_ev.wait(self.period)

    def stop(self):
        self.stop_ev.set()
        self.join(timeout=10)


# ---- corpora and loading ---------------------------------------------------

_CORPUS = {}


def corpus(seed, n):
    """The first n messages of corpus seed (generated once, kept)."""
    c = _CORPUS.setdefault(seed, [])
    while len(c) < n:
        c.append(mailgen.message(seed, len(c)))
    return c[:n]


_SMALL = []


def small_message(i):
    """Small messages for huge mailboxes: 1000 distinct bodies, each
    copy with its own Message-ID (fast to make, still distinct)."""
    if not _SMALL:
        _SMALL.extend(mailgen.small("small", k) for k in range(1000))
    m = _SMALL[i % 1000]
    return m.replace(b"Message-ID: <small.", b"Message-ID: <%d.small." % i,
                     1)


def load(srv, rcpt, get, count, conns, cap=CAP_LOAD, what=None):
    """Deliver get(i) for i in range(count) to rcpt over `conns` parallel
    LMTP connections; stop at cap seconds.  Returns (delivered, bytes,
    seconds)."""
    lock = threading.Lock()
    state = {"next": 0, "done": 0, "bytes": 0, "err": None}
    deadline = time.monotonic() + cap

    def worker():
        try:
            c = clients.Lmtp(srv.port["lmtp"])
        except Exception as e:  # noqa: BLE001 - reported below
            state["err"] = e
            return
        try:
            while time.monotonic() < deadline and state["err"] is None:
                with lock:
                    i = state["next"]
                    if i >= count:
                        break
                    state["next"] += 1
                m = get(i)
                c.deliver(rcpt, m)
                with lock:
                    state["done"] += 1
                    state["bytes"] += len(m)
        except Exception as e:  # noqa: BLE001
            state["err"] = e
        finally:
            c.quit()

    t0 = time.monotonic()
    if count > 0 and conns > 1:
        # The first delivery alone: parallel first deliveries to a new
        # Dovecot user race to create its mailbox list index, and Dovecot
        # 2.3's lmtp panics on the fcntl lock's EDEADLK.
        c = clients.Lmtp(srv.port["lmtp"])
        try:
            m = get(0)
            c.deliver(rcpt, m)
        finally:
            c.quit()
        state["next"], state["done"], state["bytes"] = 1, 1, len(m)
    ts = [threading.Thread(target=worker) for _ in range(max(1, conns))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(cap + 120)
    secs = time.monotonic() - t0
    if state["err"] is not None:
        raise RuntimeError("loading %s into %s: %s" % (rcpt, srv.name,
                                                        state["err"]))
    if what:
        LOAD_TIMES.append((what, srv.name, state["done"],
                           state["bytes"] / 1e6, secs))
        log("loaded %s into %s: %d msgs, %.1f MB, %.1f s%s" % (
            what, srv.name, state["done"], state["bytes"] / 1e6, secs,
            " (CAPPED)" if state["done"] < count else ""))
    return state["done"], state["bytes"], secs


def rcpt(name):
    return name + "@bench.test"


# ---- the workloads -----------------------------------------------------------

def w1_lmtp(ctx):
    """LMTP delivery, 1 and 8 connections, each to its own account."""
    n = scaled(2000, 20)
    msgs = corpus("lmtp", n)
    mb = sum(len(m) for m in msgs) / 1e6
    for conns in (1, 8):
        f_rate = figure(1, "LMTP delivery, %d connection%s" % (
            conns, "s" if conns > 1 else ""), "msg/s", "higher")
        f_mb = figure(1, "LMTP delivery, %d connection%s" % (
            conns, "s" if conns > 1 else ""), "MB/s", "higher")
        for rep in range(REPS):
            for srv in ctx.servers:
                lock = threading.Lock()
                nxt = [0]
                err = []
                deadline = time.monotonic() + CAP_MEASURE

                def worker(k):
                    c = clients.Lmtp(srv.port["lmtp"])
                    try:
                        while time.monotonic() < deadline:
                            with lock:
                                i = nxt[0]
                                if i >= n:
                                    return
                                nxt[0] += 1
                            c.deliver(rcpt("lmtp%d" % k), msgs[i])
                    except Exception as e:  # noqa: BLE001
                        err.append(e)
                    finally:
                        c.quit()
                with Timed() as t:
                    ts = [threading.Thread(target=worker, args=(k,))
                          for k in range(conns)]
                    for th in ts:
                        th.start()
                    for th in ts:
                        th.join(CAP_MEASURE + 60)
                if err:
                    raise RuntimeError("LMTP %s: %s" % (srv.name, err[0]))
                done = min(nxt[0], n)
                f_rate.add(srv.name, done / t.wall, t.cpu_frac)
                f_mb.add(srv.name, mb * done / n / t.wall, t.cpu_frac)
                log("w1 %s conns=%d rep=%d: %.1f msg/s" % (
                    srv.name, conns, rep, done / t.wall))
    EXTRA.append("Workload 1 delivers %d messages (%.1f MB, the mailgen mix) "
                 "per measurement; each server acknowledges a message only "
                 "once it is on disk (postoffice: SQLite commit; Dovecot: "
                 "mail_fsync = optimized, as shipped)." % (n, mb))


def w2_pop3(ctx):
    n = scaled(10000, 20)
    msgs = corpus("corpus", n)
    mb = sum(len(m) for m in msgs) / 1e6
    for tls in (False, True):
        what = "POP3 download-and-delete, %s" % ("TLS" if tls else "plain")
        f_s = figure(2, what, "s", "lower", "%.2f")
        f_mb = figure(2, what, "MB/s", "higher")
        for rep in range(REPS):
            for srv in ctx.servers:
                load(srv, rcpt("pop"), lambda i: msgs[i], n, 8)
                with Timed() as t:
                    c = clients.Pop3(srv.port["pop3s" if tls else "pop3"],
                                     tls, ctx.cafile)
                    c.login("pop", password("pop"))
                    st = c.cmd("STAT").split()
                    count = int(st[1])
                    c.cmd("UIDL")
                    c.multiline()
                    got = 0
                    deadline = time.monotonic() + CAP_MEASURE
                    for k in range(1, count + 1):
                        if time.monotonic() > deadline:
                            break
                        c.cmd("RETR %d" % k)
                        got += c.multiline()
                        c.cmd("DELE %d" % k)
                    c.cmd("QUIT")
                    c.close()
                if count != n:
                    f_s.notes.append("%s had %d messages, not %d" % (
                        srv.name, count, n))
                f_s.add(srv.name, t.wall, t.cpu_frac)
                f_mb.add(srv.name, got / 1e6 / t.wall, t.cpu_frac)
                log("w2 %s tls=%s rep=%d: %.2f s" % (srv.name, tls, rep,
                                                     t.wall))
    EXTRA.append("Workload 2: %d messages, %.1f MB, loaded over LMTP before "
                 "each measurement (not timed); timed: connect, login, STAT, "
                 "UIDL, RETR+DELE each, QUIT (the deletions commit)." % (n,
                                                                         mb))


def w3_archive(ctx):
    n = scaled(10000, 20)
    msgs = corpus("corpus", n)
    mb = sum(len(m) for m in msgs) / 1e6
    for srv in ctx.servers:
        load(srv, rcpt("archive"), lambda i: msgs[i], n, 8,
             what="w3 archive (%d msgs)" % n)
    f_mb = figure(3, "IMAP archive FETCH BODY.PEEK[] over TLS", "MB/s",
                  "higher")
    f_s = figure(3, "IMAP archive FETCH BODY.PEEK[] over TLS", "s", "lower",
                 "%.2f")
    f_rss = figure(3, "peak server RSS during the archive", "MB", "lower")
    f_pss = figure(3, "peak server PSS during the archive", "MB", "lower")
    for rep in range(REPS):
        for srv in ctx.servers:
            c = clients.Imap(srv.port["imaps"], True, ctx.cafile)
            c.login("archive", password("archive"))
            c.command("SELECT INBOX")
            sampler = MemSampler(srv)
            sampler.start()
            try:
                with Timed() as t:
                    _, got = c.command("FETCH 1:* (BODY.PEEK[])")
            finally:
                sampler.stop()
            c.logout()
            f_mb.add(srv.name, got / 1e6 / t.wall, t.cpu_frac)
            f_s.add(srv.name, t.wall, t.cpu_frac)
            f_rss.add(srv.name, sampler.peak_rss / 1e6)
            f_pss.add(srv.name, sampler.peak_pss / 1e6)
            log("w3 %s rep=%d: %.1f MB/s, peak RSS %.1f MB" % (
                srv.name, rep, got / 1e6 / t.wall, sampler.peak_rss / 1e6))
    EXTRA.append("Workload 3: %d messages, %.1f MB, one FETCH 1:* "
                 "(BODY.PEEK[]) over IMAPS; memory is the sum over all the "
                 "server's processes (postoffice: postofficed; Dovecot: the "
                 "master and all its descendants), sampled every 50 ms from "
                 "/proc/PID/smaps_rollup." % (n, mb))


def w5_large(ctx):
    sizes = ((scaled(100000, 100), "large100k"),
             (scaled(1000000, 200), "large1m"))
    for n, acct in sizes:
        for srv in ctx.servers:
            load(srv, rcpt(acct), small_message, n, 16,
                 what="w5 %s (%d small msgs)" % (acct, n))
    for n, acct in sizes:
        label = "%d messages" % n
        f_status = figure(5, "STATUS, " + label, "ms", "lower")
        f_select = figure(5, "SELECT, " + label, "ms", "lower")
        f_fetch = figure(5, "UID FETCH 1:* (UID FLAGS), " + label, "ms",
                         "lower")
        for rep in range(REPS):
            for srv in ctx.servers:
                c = clients.Imap(srv.port["imap"])
                c.login(acct, password(acct))
                with Timed() as t1:
                    c.command("STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY "
                              "UNSEEN)")
                with Timed() as t2:
                    c.command("SELECT INBOX")
                lines = [0]

                def count(_ln):
                    lines[0] += 1
                with Timed() as t3:
                    c.command("UID FETCH 1:* (UID FLAGS)", count)
                c.logout()
                f_status.add(srv.name, t1.wall * 1000, t1.cpu_frac)
                f_select.add(srv.name, t2.wall * 1000, t2.cpu_frac)
                f_fetch.add(srv.name, t3.wall * 1000, t3.cpu_frac)
                log("w5 %s %s rep=%d: STATUS %.1f ms SELECT %.1f ms "
                    "FETCH %.1f ms (%d lines)" % (
                        srv.name, acct, rep, t1.wall * 1000, t2.wall * 1000,
                        t3.wall * 1000, lines[0]))
    EXTRA.append("Workload 5: mailboxes of small (about 1.2 KB) messages "
                 "loaded over 16 parallel LMTP connections (load times "
                 "below); each measurement is a fresh plain IMAP login, "
                 "then STATUS, SELECT and UID FETCH 1:* (UID FLAGS).")


def w8_login(ctx):
    secs = max(3.0, 10.0 * min(1.0, SCALE * 5))
    for conc in (1, 8):
        f = figure(8, "LOGIN/LOGOUT cycles, %d client%s" % (
            conc, "s" if conc > 1 else ""), "logins/s", "higher")
        for rep in range(REPS):
            for srv in ctx.servers:
                done = [0] * conc
                err = []
                deadline = time.monotonic() + secs

                def worker(k):
                    name = "login%d" % k
                    try:
                        while time.monotonic() < deadline:
                            c = clients.Imap(srv.port["imap"])
                            c.login(name, password(name))
                            c.logout()
                            done[k] += 1
                    except Exception as e:  # noqa: BLE001
                        err.append(e)
                with Timed() as t:
                    ts = [threading.Thread(target=worker, args=(k,))
                          for k in range(conc)]
                    for th in ts:
                        th.start()
                    for th in ts:
                        th.join(secs + 120)
                if err:
                    raise RuntimeError("login %s: %s" % (srv.name, err[0]))
                f.add(srv.name, sum(done) / t.wall, t.cpu_frac)
                log("w8 %s conc=%d rep=%d: %.1f logins/s" % (
                    srv.name, conc, rep, sum(done) / t.wall))
    EXTRA.append("Workload 8: each cycle is connect, greeting, LOGIN (plain "
                 "IMAP port, yescrypt verification on both servers), LOGOUT, "
                 "close; %.0f s per measurement." % secs)


# ---- loadgen workloads (4, 6, 7) ----------------------------------------------

def loadgen_cmd(srv, port_key, tls, cafile, user_fmt, accounts, clients_n,
                workload, duration, seed=1):
    cmd = [LOADGEN, "--host", "127.0.0.1", "--port",
           str(srv.port[port_key]), "--user-fmt", user_fmt, "--pass-fmt",
           "pw-" + user_fmt, "--accounts", str(accounts), "--clients",
           str(clients_n), "--workload", workload, "--duration",
           str(duration), "--mailbox", "INBOX", "--seed", str(seed)]
    if tls:
        cmd[5:5] = ["--tls", "--cafile", cafile]
    return cmd


def run_loadgen(cmd, timeout):
    log("run: " + " ".join(cmd))
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("po-loadgen exited %d: %s" % (r.returncode,
                                                         r.stderr[-2000:]))
    for ln in reversed(r.stdout.splitlines()):
        ln = ln.strip()
        if ln.startswith("{"):
            return json.loads(ln)
    raise RuntimeError("po-loadgen printed no JSON: %r" % r.stdout[-500:])


def have_loadgen(wid):
    if os.access(LOADGEN, os.X_OK):
        return True
    NOT_RUN[wid] = "not run: the load generator (tests/bench/loadgen, " \
        "build-bench/loadgen/po-loadgen) was not built"
    return False


def w4_sync(ctx):
    if not have_loadgen(4):
        return
    nacc, per = 50, scaled(2000, 20)
    for srv in ctx.servers:
        for k in range(nacc):
            msgs = corpus("sync%d" % (k % 5), per)
            load(srv, rcpt("sync%d" % k), lambda i, m=msgs: m[i], per, 4)
        LOAD_TIMES.append(("w4 sync (50 x %d msgs)" % per, srv.name,
                           nacc * per, 0.0, 0.0))
    dur = max(10, int(60 * min(1.0, SCALE * 5)))
    f_ops = figure(4, "IMAP sync mix, 50 clients", "commands/s", "higher")
    f_p50 = figure(4, "IMAP sync mix, p50 latency", "ms", "lower", "%.2f")
    f_p99 = figure(4, "IMAP sync mix, p99 latency", "ms", "lower", "%.2f")
    for rep in range(REPS):
        for srv in ctx.servers:
            out = run_loadgen(loadgen_cmd(srv, "imap", False, None,
                                          "sync%d", nacc, nacc, "sync",
                                          dur, seed=rep + 1),
                              dur + 300)
            busy = out.get("loadgen_busy_pct", 0) / 100.0
            f_ops.add(srv.name, out.get("ops_per_s", 0), busy)
            f_p50.add(srv.name, out.get("p50_ms", 0), busy)
            f_p99.add(srv.name, out.get("p99_ms", 0), busy)
            if out.get("errors"):
                f_ops.notes.append("%s: %s errors" % (srv.name,
                                                      out["errors"]))
            EXTRA.append("w4 %s rep %d loadgen output: `%s`" % (
                srv.name, rep, json.dumps(out)))


def idle_run(ctx, srv, tls, nclients, dur):
    """One idle measurement: (baseline (rss,pss), idle (rss,pss), result)."""
    base = servers.mem_of(srv.pids())
    cmd = loadgen_cmd(srv, "imaps" if tls else "imap", tls, ctx.cafile,
                      "idle%d", 1, nclients, "idle", dur)
    log("run: " + " ".join(cmd))
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + dur + 600
        ready = False
        while time.monotonic() < deadline:
            r, _, _ = select.select([p.stdout], [], [], 5)
            if r:
                ln = p.stdout.readline()
                if not ln:
                    break
                if '"ready"' in ln:
                    ready = True
                    break
            elif p.poll() is not None:
                break
        if not ready:
            raise RuntimeError("po-loadgen idle never ready: %s" %
                               p.stderr.read()[-2000:])
        # Dovecot hibernates IDLE sessions after imap_hibernate_timeout
        # (5 s): both servers get the same settle time before sampling.
        time.sleep(8)
        idle = servers.mem_of(srv.pids())
        p.stdin.write("go\n")
        p.stdin.flush()
        load(srv, rcpt("idle0"), lambda i: mailgen.message("idle", i), 1, 1)
        out, err = p.communicate(timeout=dur + 300)
    finally:
        if p.poll() is None:
            p.kill()  # our own child, by PID
            p.wait(timeout=30)
    res = None
    for ln in reversed(out.splitlines()):
        if ln.strip().startswith("{") and '"ready"' not in ln:
            res = json.loads(ln)
            break
    if res is None:
        raise RuntimeError("po-loadgen idle printed no result: %s" % err)
    return base, idle, res


def w6_idle(ctx):
    if not have_loadgen(6):
        return
    for srv in ctx.servers:
        load(srv, rcpt("idle0"), lambda i: mailgen.message("idle", i), 10, 1)
    n = scaled(10000, 10)
    dur = 120
    for tls in (False, True):
        tag = "%d IDLE connections, %s" % (n, "TLS" if tls else "plain")
        f_rss = figure(6, tag + ", RSS per connection", "KB", "lower")
        f_pss = figure(6, tag + ", PSS per connection", "KB", "lower")
        f_lat = figure(6, tag + ", delivery seen by all", "ms", "lower")
        for rep in range(REPS):
            for srv in ctx.servers:
                base, idle, res = idle_run(ctx, srv, tls, n, dur)
                f_rss.add(srv.name, (idle[0] - base[0]) / n / 1024)
                f_pss.add(srv.name, (idle[1] - base[1]) / n / 1024)
                lat = res.get("all_arrived_ms")
                if lat is None:
                    f_lat.notes.append("%s rep %d: not every client saw "
                                       "the delivery" % (srv.name, rep))
                    lat = float("inf")
                f_lat.add(srv.name, lat)
                EXTRA.append("w6 %s %s rep %d: baseline RSS %.1f MB, idle "
                             "RSS %.1f MB; loadgen: `%s`" % (
                                 srv.name, "TLS" if tls else "plain", rep,
                                 base[0] / 1e6, idle[0] / 1e6,
                                 json.dumps(res)))


def w7_noop(ctx):
    if not have_loadgen(7):
        return
    target = 1e9 * SCALE
    msgs, total, i = [], 0, 0
    while total < target and i < 100000:
        m = mailgen.message("bulk", i)
        msgs.append(m)
        total += len(m)
        i += 1
    for srv in ctx.servers:
        load(srv, rcpt("bulk0"), lambda k: msgs[k], len(msgs), 8,
             what="w7 bulk (%.0f MB)" % (total / 1e6))
    dur = max(10, int(60 * min(1.0, SCALE * 5)))
    f_p99 = figure(7, "NOOP p99 during a %.0f MB download" % (total / 1e6),
                   "ms", "lower", "%.2f")
    f_p50 = figure(7, "NOOP p50 during the download", "ms", "lower", "%.2f")
    for rep in range(REPS):
        for srv in ctx.servers:
            stop = threading.Event()
            moved = [0, 0]  # bytes, passes
            err = []

            def downloader():
                # the bulk client: FETCH every message, again and again,
                # until the NOOP client is done (bounded by stop and cap)
                try:
                    c = clients.Imap(srv.port["imap"])
                    c.login("bulk0", password("bulk0"))
                    c.command("EXAMINE INBOX")
                    t_end = time.monotonic() + dur + 600
                    while not stop.is_set() and time.monotonic() < t_end:
                        _, got = c.command("FETCH 1:* (BODY.PEEK[])")
                        moved[0] += got
                        moved[1] += 1
                    c.logout()
                except Exception as e:  # noqa: BLE001
                    err.append(e)
            th = threading.Thread(target=downloader, daemon=True)
            th.start()
            time.sleep(1.0)  # the download is under way
            try:
                out = run_loadgen(loadgen_cmd(srv, "imap", False, None,
                                              "bulk%d", 1, 1, "noop", dur),
                                  dur + 600)
            finally:
                stop.set()
                th.join(dur + 700)
            if err:
                raise RuntimeError("bulk download: %s" % err[0])
            busy = out.get("loadgen_busy_pct", 0) / 100.0
            f_p99.add(srv.name, out.get("p99_ms", 0), busy)
            f_p50.add(srv.name, out.get("p50_ms", 0), busy)
            EXTRA.append("w7 %s rep %d: the bulk client read %.0f MB in %d "
                         "passes; loadgen output: `%s`" % (
                             srv.name, rep, moved[0] / 1e6, moved[1],
                             json.dumps(out)))
    EXTRA.append("Workload 7: while the harness's bulk client (python, "
                 "plain IMAP) FETCHes BODY.PEEK[] of the whole mailbox in a "
                 "loop, po-loadgen sends NOOP back-to-back on another plain "
                 "connection of the same account for %d s." % dur)


WORKLOADS = {
    1: ("LMTP delivery", w1_lmtp, ["lmtp%d" % k for k in range(8)]),
    2: ("POP3 download-and-delete", w2_pop3, ["pop"]),
    3: ("IMAP archive", w3_archive, ["archive"]),
    4: ("IMAP sync (po-loadgen)", w4_sync, ["sync%d" % k for k in range(50)]),
    5: ("Large mailbox", w5_large, ["large100k", "large1m"]),
    6: ("10,000 IDLE connections (po-loadgen)", w6_idle, ["idle0"]),
    7: ("Fairness: NOOP during a bulk download (po-loadgen)", w7_noop,
         ["bulk0"]),
    8: ("Login", w8_login, ["login%d" % k for k in range(8)]),
}


# ---- the report ----------------------------------------------------------------

def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    model = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    try:
        with open("/proc/meminfo") as f:
            for ln in f:
                if ln.startswith("MemTotal:"):
                    mem = int(ln.split()[1]) * 1024
    except OSError:
        pass
    return "%d cores (%s), %.1f GB memory, Linux %s, %s" % (
        CORES, model, mem / 2**30, platform.release(),
        _debian())


def _debian():
    try:
        with open("/etc/debian_version") as f:
            return "Debian " + f.read().strip()
    except OSError:
        return platform.platform()


def fmt(f, v):
    return "—" if v is None else (f.fmt % v)


def write_report(ctx, started, status):
    only = ",".join(str(w) for w in ONLY)
    env = []
    if SCALE != 1.0:
        env.append("PO_BENCH_SCALE=%g" % SCALE)
    if ONLY != list(range(1, 9)):
        env.append("PO_BENCH_ONLY=%s" % only)
    if REPS != 3:
        env.append("PO_BENCH_REPS=%d" % REPS)
    cmd = " ".join(env + ["tests/bench/run.sh"])
    L = []
    L.append("# Benchmarks: postoffice and Dovecot side by side")
    L.append("")
    if SCALE < 1.0 or ONLY != list(range(1, 9)):
        L.append("**Reduced-scale development run** (PO_BENCH_SCALE=%g, "
                 "workloads %s): it shows the harness works end to end; "
                 "its figures are not the issue's full-size figures." % (
                     SCALE, only))
        L.append("")
    L.append("- Date: %s (%.0f s)" % (started.strftime("%Y-%m-%d %H:%M %Z")
                                      .strip(), ctx.elapsed()))
    L.append("- Machine: %s" % machine())
    L.append("- Versions: %s; %s" % (ctx.po.version(), ctx.dc.version()))
    L.append("- Reproduce (as root, from the repository): `%s`" % cmd)
    L.append("- Each figure is the median of %d measurements per server, "
             "taken alternately (postoffice, Dovecot, postoffice, ...). "
             "The ratio is postoffice / Dovecot; the last column says "
             "which direction is better (for \"higher\", a ratio above 1 "
             "favours postoffice; for \"lower\", below 1 does)." % REPS)
    L.append("- Client CPU: the harness's own CPU time (user+sys) over the "
             "wall time of the measurement (1.00 = one core busy). Near or "
             "above 1.00 would mean the Python client, not the server, "
             "limits the figure. For the po-loadgen workloads (4, 6, 7) it is "
             "the generator's own loadgen_busy_pct / 100.")
    L.append("- Status: %s" % status)
    for note in ctx.notes:
        L.append("- " + note)
    L.append("")
    for wid in sorted(WORKLOADS):
        title = WORKLOADS[wid][0]
        figs = [f for f in FIGURES if f.wid == wid]
        L.append("## %d. %s" % (wid, title))
        L.append("")
        if wid not in ONLY:
            L.append("not run (not selected by PO_BENCH_ONLY)")
            L.append("")
            continue
        if wid in NOT_RUN:
            L.append(NOT_RUN[wid])
            L.append("")
            if not figs:
                continue
        if not figs:
            L.append("not run (%s)" % status)
            L.append("")
            continue
        L.append("| figure | unit | postoffice | Dovecot | ratio po/dc | "
                 "better | client CPU po / dc |")
        L.append("|---|---|---:|---:|---:|---|---|")
        for f in figs:
            a, b = f.median("postoffice"), f.median("dovecot")
            ratio = "%.2f" % (a / b) if a is not None and b else "—"
            cpu = " / ".join(
                "%.2f" % statistics.median(f.cpu[s]) if f.cpu[s] else "—"
                for s in ("postoffice", "dovecot"))
            L.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                f.label, f.unit, fmt(f, a), fmt(f, b), ratio, f.better, cpu))
        notes = [n for f in figs for n in f.notes]
        if notes:
            L.append("")
            for n in notes:
                L.append("- " + n)
        L.append("")
        L.append("<details><summary>all measurements</summary>")
        L.append("")
        for f in figs:
            L.append("- %s (%s): postoffice %s; Dovecot %s" % (
                f.label, f.unit,
                ", ".join(f.fmt % v for v in f.vals["postoffice"]),
                ", ".join(f.fmt % v for v in f.vals["dovecot"])))
        L.append("")
        L.append("</details>")
        L.append("")
    if LOAD_TIMES:
        L.append("## Loading (over LMTP, not part of the figures)")
        L.append("")
        L.append("| what | server | messages | MB | seconds | msg/s |")
        L.append("|---|---|---:|---:|---:|---:|")
        for what, s, n, mb, secs in LOAD_TIMES:
            L.append("| %s | %s | %d | %.1f | %.1f | %s |" % (
                what, s, n, mb, secs, "%.0f" % (n / secs) if secs else "—"))
        L.append("")
    if EXTRA:
        L.append("## Notes")
        L.append("")
        for e in EXTRA:
            L.append("- " + e)
        L.append("")
    L.append("## Configuration")
    L.append("")
    L.append("- postoffice: `%s` with %s." % (
        os.path.relpath(ctx.po.conf, ROOT) if ctx.po.conf.startswith(ROOT)
        else ctx.po.conf, ", ".join("%s = %s" % (k, ctx.po.settings[k])
                                    for k in ("worker_threads",
                                              "max_connections",
                                              "max_connections_per_ip",
                                              "log_level"))))
    L.append("- Dovecot: tests/bench/dovecot.conf.in (every tuning choice "
             "is explained there): sdbox, mail_fsync = optimized, login "
             "processes with service_count = 0 and process_min_avail = "
             "%d, imap/pop3/lmtp processes reused (service_count = 1000), "
             "imap_hibernate_timeout = 5s, auth cache on, hashing in "
             "auth-worker processes." % CORES)
    L.append("- Both: the same accounts with the same yescrypt hashes "
             "(Dovecot's passwd-file gets postoffice's `$y$` strings, "
             "scheme CRYPT), the same self-signed ECDSA certificate, "
             "127.0.0.1 only. Dovecot adds Return-Path, Delivered-To and "
             "Received headers on delivery, postoffice Return-Path only, so "
             "stored sizes differ by a few hundred bytes a message.")
    L.append("")
    with open(OUT, "w") as f:
        f.write("\n".join(L))
    log("wrote " + OUT)


# ---- main ---------------------------------------------------------------------

class Ctx:
    def __init__(self):
        self.t0 = time.monotonic()
        self.notes = []

    def elapsed(self):
        return time.monotonic() - self.t0


def setup(ctx):
    if os.path.isdir(WORK) and not os.environ.get("PO_BENCH_KEEP"):
        shutil.rmtree(WORK)
    os.makedirs(WORK, exist_ok=True)
    os.chmod(WORK, 0o755)
    sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
    from harness import make_cert  # the integration tests' certtool recipe
    ctx.cafile, key = make_cert(WORK)
    os.chmod(key, 0o600)
    max_clients = max(100, scaled(10000, 10) + 200)
    ctx.po = servers.Postoffice(BUILD, WORK, ctx.cafile, key, CORES)
    ctx.dc = servers.Dovecot(WORK, ctx.cafile, key, CORES, MAIL_USER,
                             MAIL_USER, max_clients)
    ctx.servers = [ctx.po, ctx.dc]
    names = []
    for w in ONLY:
        names.extend(WORKLOADS[w][2])
    log("adding %d accounts" % len(names))
    for n in names:
        ctx.po.add_account(n, password(n))
    hashes = ctx.po.hashes()
    if not all(h and h.startswith("$y$") for h in hashes.values()):
        raise RuntimeError("postoffice hashes are not all yescrypt")
    ctx.dc.write_passwd(hashes)
    ctx.po.start()
    ctx.dc.start()
    log("postoffice ports %s; dovecot ports %s" % (ctx.po.port, ctx.dc.port))
    # both answer a login with the same password: the hash scheme works
    for srv in ctx.servers:
        c = clients.Imap(srv.port["imap"])
        c.login(names[0], password(names[0]))
        c.logout()


def _on_term(signum, _frame):
    # timeout(1) or a user's kill: unwind so the servers are stopped
    raise SystemExit(128 + signum)


def main():
    import signal
    signal.signal(signal.SIGTERM, _on_term)
    started = datetime.datetime.now(datetime.timezone.utc)
    ctx = Ctx()
    ctx.po = ctx.dc = None
    status = "complete"
    if os.environ.get("PO_BENCH_NOTE"):
        ctx.notes.append(os.environ["PO_BENCH_NOTE"])
    try:
        setup(ctx)
        for w in ONLY:
            log("=== workload %d: %s" % (w, WORKLOADS[w][0]))
            try:
                WORKLOADS[w][1](ctx)
            except Exception as e:  # noqa: BLE001 - recorded, next workload
                log("workload %d failed: %r" % (w, e))
                NOT_RUN[w] = "failed: %s" % str(e)[:500]
                for srv in ctx.servers:
                    if not srv.running():
                        raise RuntimeError("%s died during workload %d" % (
                            srv.name, w))
    except BaseException as e:
        status = "aborted: %r" % e
        log(status)
        raise
    finally:
        for srv in (ctx.po, ctx.dc):
            if srv is not None:
                srv.stop()
        if ctx.po is not None and ctx.dc is not None:
            if any(w in NOT_RUN and NOT_RUN[w].startswith("failed")
                   for w in ONLY) and status == "complete":
                status = "complete, with failed workloads (see below)"
            write_report(ctx, started, status)


if __name__ == "__main__":
    main()
