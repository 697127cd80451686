#!/usr/bin/python3
"""Real POP3 clients against the daemon: curl, fetchmail, gnutls-cli."""

import os
import re
import random
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (DaemonTestCase, lmtp_deliver, pop_fetch_all,  # noqa
                     pop_stat, strip_prepended)

CLIENT_TIMEOUT = 120


def deliver(daemon, rcpt, msgs):
    c = daemon.lmtp()
    try:
        for m in msgs:
            rr, dr = lmtp_deliver(c, "s@example.org", [rcpt], m)
            if not dr or dr[0][0] != 250:
                raise AssertionError("delivery: %r %r" % (rr, dr))
    finally:
        c.quit()


def lf(data):
    return data.replace(b"\r\n", b"\n")


def strip_fetchmail_received(data):
    """fetchmail prepends its own Received: field (folded over several
    lines); remove that one field."""
    if not data.lower().startswith(b"received:"):
        raise AssertionError("no fetchmail Received: %r" % data[:200])
    lines = data.split(b"\n")
    i = 1
    while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
        i += 1
    head = b"\n".join(lines[:i])
    if b"fetchmail" not in head:
        raise AssertionError("first Received: is not fetchmail's: %r" % head)
    return b"\n".join(lines[i:])


# A complete POP3 status line in a client's output.
REPLY_LINE = re.compile(rb"(?m)^[+-](?:OK|ERR)[^\n]*\n")

class Fetchmail:
    """A fetchmail run in its own HOME with a generated rc file; each
    message goes through an MDA script into its own file in outdir."""

    def __init__(self, daemon, user, password, keep, tls=False):
        self.tmp = os.path.join(daemon.tmp, "fetchmail-" + user)
        os.makedirs(self.tmp, exist_ok=True)
        self.outdir = os.path.join(self.tmp, "out")
        os.makedirs(self.outdir, exist_ok=True)
        self.mda = os.path.join(self.tmp, "mda.sh")
        with open(self.mda, "w") as f:
            f.write('#!/bin/sh\nexec cat > "$(mktemp %s/msg.XXXXXXXX)"\n'
                    % self.outdir)
        os.chmod(self.mda, 0o755)
        self.rc = os.path.join(self.tmp, "fetchmailrc")
        self.idfile = os.path.join(self.tmp, "fetchids")
        opts = ["keep" if keep else "nokeep", "no rewrite"]
        if tls:
            # the certificate names localhost, fetchmail checks the name
            opts += ["sslproto 'auto'", "sslcertck",
                     "sslcertfile '%s'" % daemon.cert,
                     "sslcommonname 'localhost'"]
        else:
            opts += ["sslproto ''"]
        server_opts = " uidl" if keep else ""
        fd = os.open(self.rc, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("set no syslog\n"
                    "set no bouncemail\n"
                    "poll 127.0.0.1 service %d protocol POP3 auth password%s\n"
                    "  user \"%s\" password \"%s\"\n"
                    "  options %s\n"
                    "  mda \"%s\"\n" % (daemon.port["pop3"], server_opts,
                                         user, password, " ".join(opts),
                                         self.mda))
        os.chmod(self.rc, 0o600)

    def run(self):
        """Run fetchmail once; returns (exit code, output). fetchmail exits
        0 when it fetched mail and 1 when there was none."""
        env = dict(os.environ, HOME=self.tmp, FETCHMAILHOME=self.tmp)
        # --pidfile: as root fetchmail would lock /var/run/fetchmail.pid
        # and refuse to run beside another test's fetchmail
        r = subprocess.run(["fetchmail", "-f", self.rc, "--idfile",
                            self.idfile, "--pidfile",
                            os.path.join(self.tmp, "fetchmail.pid"),
                            "--nodetach", "-v"],
                           env=env, capture_output=True,
                           timeout=CLIENT_TIMEOUT)
        return r.returncode, (r.stdout + r.stderr).decode(errors="replace")

    def take(self):
        """The delivered files' contents, and remove them."""
        out = []
        for name in sorted(os.listdir(self.outdir)):
            p = os.path.join(self.outdir, name)
            with open(p, "rb") as f:
                out.append(f.read())
            os.unlink(p)
        return out


def check_fetched(test, fetched, sent):
    """Every fetched file is one of sent (fetchmail's Received: removed,
    LF line ends), each exactly once."""
    by_id = {harness.message_id(m): m for m in sent}
    seen = set()
    for f in fetched:
        body = strip_fetchmail_received(f)
        mid = harness.message_id(body)
        test.assertIn(mid, by_id, body[:300])
        test.assertNotIn(mid, seen)
        seen.add(mid)
        # compare with CRLF on both sides (fetchmail strips CR for MDAs)
        diff = strip_prepended(harness.crlf(body), by_id[mid])
        test.assertIsNone(diff, mid)
    test.assertEqual(len(seen), len(sent))


class ClientsTest(DaemonTestCase):
    ACCOUNTS = {"alice": ("alice-pw", True), "fm": ("fm-pw", True),
                "keeper": ("keeper-pw", True), "tlsfm": ("tlsfm-pw", True)}

    def msgs(self, n, seed):
        rng = random.Random(seed)
        return [harness.make_message(seed * 1000 + i, rng) for i in range(n)]

    def curl(self, *args, check=True):
        r = subprocess.run(["curl", "-sS", "--max-time", "60"] + list(args),
                           capture_output=True, timeout=CLIENT_TIMEOUT)
        if check and r.returncode != 0:
            self.fail("curl %s: exit %d %s" % (" ".join(args), r.returncode,
                                               r.stderr.decode()))
        return r

    def test_curl_pop3(self):
        pop_fetch_all(self.daemon, "alice", "alice-pw", delete=True)
        msgs = self.msgs(3, 1)
        deliver(self.daemon, "alice", msgs)
        base = "pop3://127.0.0.1:%d/" % self.daemon.port["pop3"]
        r = self.curl("-u", "alice:alice-pw", base)
        listing = r.stdout.decode().split("\r\n")
        self.assertEqual([x.split()[0] for x in listing if x],
                         ["1", "2", "3"], r.stdout)
        for i, m in enumerate(msgs, 1):
            r = self.curl("-u", "alice:alice-pw", base + str(i))
            self.assertIsNone(strip_prepended(r.stdout, m))
        # a wrong password fails (curl exit 67: login denied)
        r = self.curl("-u", "alice:nope", base + "1", check=False)
        self.assertNotEqual(r.returncode, 0)

    def test_curl_pop3s_and_stls(self):
        pop_fetch_all(self.daemon, "alice", "alice-pw", delete=True)
        msgs = self.msgs(2, 2)
        deliver(self.daemon, "alice", msgs)
        base = "pop3s://127.0.0.1:%d/" % self.daemon.port["pop3s"]
        for i, m in enumerate(msgs, 1):
            r = self.curl("--cacert", self.daemon.cert, "-u",
                          "alice:alice-pw", base + str(i))
            self.assertIsNone(strip_prepended(r.stdout, m))
            r = self.curl("-k", "-u", "alice:alice-pw", base + str(i))
            self.assertIsNone(strip_prepended(r.stdout, m))
        # STLS on the plain port, required
        plain = "pop3://127.0.0.1:%d/" % self.daemon.port["pop3"]
        r = self.curl("--ssl-reqd", "--cacert", self.daemon.cert, "-u",
                      "alice:alice-pw", plain + "2")
        self.assertIsNone(strip_prepended(r.stdout, msgs[1]))

    def test_fetchmail_delete_mode(self):
        msgs = self.msgs(25, 3)
        deliver(self.daemon, "fm", msgs)
        fm = Fetchmail(self.daemon, "fm", "fm-pw", keep=False)
        rc, out = fm.run()
        self.assertEqual(rc, 0, out)
        check_fetched(self, fm.take(), msgs)
        self.assertEqual(pop_stat(self.daemon, "fm", "fm-pw")[0], 0)
        rc, out = fm.run()
        self.assertEqual(rc, 1, out)  # 1: no mail
        self.assertEqual(fm.take(), [])

    def test_fetchmail_keep_mode(self):
        first = self.msgs(10, 4)
        deliver(self.daemon, "keeper", first)
        fm = Fetchmail(self.daemon, "keeper", "keeper-pw", keep=True)
        rc, out = fm.run()
        self.assertEqual(rc, 0, out)
        check_fetched(self, fm.take(), first)
        self.assertEqual(pop_stat(self.daemon, "keeper", "keeper-pw")[0], 10)
        # second run: nothing new
        rc, out = fm.run()
        self.assertEqual(rc, 1, out)
        self.assertEqual(fm.take(), [])
        # a new delivery is fetched alone
        new = self.msgs(1, 5)
        deliver(self.daemon, "keeper", new)
        rc, out = fm.run()
        self.assertEqual(rc, 0, out)
        check_fetched(self, fm.take(), new)
        self.assertEqual(pop_stat(self.daemon, "keeper", "keeper-pw")[0], 11)

    def test_fetchmail_stls(self):
        msgs = self.msgs(5, 6)
        deliver(self.daemon, "tlsfm", msgs)
        fm = Fetchmail(self.daemon, "tlsfm", "tlsfm-pw", keep=False,
                       tls=True)
        rc, out = fm.run()
        self.assertEqual(rc, 0, out)
        self.assertIn("STLS", out)
        check_fetched(self, fm.take(), msgs)
        self.assertEqual(pop_stat(self.daemon, "tlsfm", "tlsfm-pw")[0], 0)

    def test_gnutls_cli_stls(self):
        pop_fetch_all(self.daemon, "alice", "alice-pw", delete=True)
        deliver(self.daemon, "alice", self.msgs(2, 7))
        p = subprocess.Popen(
            ["gnutls-cli", "--starttls-proto=pop3",
             "--x509cafile", self.daemon.cert, "-p",
             str(self.daemon.port["pop3"]), "localhost"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        buf = b""

        def until(pred, what, bound=20.0):
            nonlocal buf
            deadline = time.monotonic() + bound
            while not pred(buf):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("gnutls-cli: no %s in %r" %
                                         (what, buf[-2000:]))
                ready, _, _ = select.select([p.stdout], [], [], left)
                if ready:
                    chunk = os.read(p.stdout.fileno(), 65536)
                    if not chunk:
                        raise AssertionError("gnutls-cli ended: %r" % buf)
                    buf += chunk

        def send(line):
            p.stdin.write(line.encode() + b"\r\n")
            p.stdin.flush()

        try:
            until(lambda b: b"Handshake was completed" in b, "handshake")

            def reply(since):
                # One whole reply line: gnutls-cli may hand it over in
                # pieces, and a piece must not count as the next reply.
                return lambda b: REPLY_LINE.search(b[since:])

            start = len(buf)
            send("USER alice")
            until(reply(start), "USER reply")
            start = len(buf)
            send("PASS alice-pw")
            until(reply(start), "PASS reply")
            self.assertIn(b"+OK", buf[start:], buf[start:])
            start = len(buf)
            send("STAT")
            until(reply(start), "STAT reply")
            self.assertRegex(buf[start:], rb"(?m)^\+OK 2 \d+\r?$")
            start = len(buf)
            send("QUIT")
            until(reply(start), "QUIT reply")
            p.stdin.close()
            p.wait(timeout=20)
        finally:
            if p.poll() is None:
                p.kill()  # our own child, by PID
                p.wait(timeout=10)
            p.stdout.close()
            if not p.stdin.closed:
                p.stdin.close()


if __name__ == "__main__":
    harness.main()
