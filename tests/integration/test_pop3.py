#!/usr/bin/python3
"""POP3 semantics (RFC 1939, 2449, 2595, 5034, 3206) against the daemon."""

import os
import poplib
import random
import re
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (DaemonTestCase, LineClient, lmtp_deliver,  # noqa: E402
                     pop_fetch_all, pop_session, pop_stat, sasl_plain,
                     strip_prepended)


def deliver(daemon, rcpt, msgs):
    c = daemon.lmtp()
    try:
        for m in msgs:
            rr, dr = lmtp_deliver(c, "s@example.org", [rcpt], m)
            if not dr or dr[0][0] != 250:
                raise AssertionError("delivery to %s: %r %r" % (rcpt, rr, dr))
    finally:
        c.quit()


class Pop3Test(DaemonTestCase):
    ACCOUNTS = {"alice": ("alice-pw", True), "bob": ("bob-pw", True),
                "nopop": ("nopop-pw", False), "dis": ("dis-pw", True),
                "toggle": ("toggle-pw", False)}
    OVERRIDES = {"max_bad_commands": "20"}

    def setUp(self):
        for name in ("alice", "bob"):
            pop_fetch_all(self.daemon, name, name + "-pw", delete=True)

    def msgs(self, n, seed):
        rng = random.Random(seed)
        return [harness.make_message(seed * 1000 + i, rng) for i in range(n)]

    def test_greeting_and_capa(self):
        c = self.daemon.pop()
        try:
            self.assertTrue(c.line().startswith("+OK"))
            self.assertTrue(c.cmd("CAPA").startswith("+OK"))
            caps = c.multiline().decode().split("\r\n")
            names = {x.split()[0].upper() for x in caps if x}
            for cap in ("TOP", "UIDL", "USER", "RESP-CODES",
                        "AUTH-RESP-CODE", "PIPELINING", "SASL", "STLS",
                        "IMPLEMENTATION"):
                self.assertIn(cap, names, caps)
            sasl = [x for x in caps if x.upper().startswith("SASL")][0]
            self.assertIn("PLAIN", sasl.upper().split())
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        finally:
            c.close()

    def test_poplib_user_pass_retr(self):
        msgs = self.msgs(3, 1)
        deliver(self.daemon, "alice", msgs)
        p = poplib.POP3("127.0.0.1", self.daemon.port["pop3"],
                        timeout=harness.IO_TIMEOUT)
        try:
            p.user("alice")
            p.pass_("alice-pw")
            count, size = p.stat()
            self.assertEqual(count, 3)
            _, listing, _ = p.list()
            sizes = [int(x.split()[1]) for x in listing]
            self.assertEqual(sum(sizes), size)
            for i, m in enumerate(msgs, 1):
                _, lines, octets = p.retr(i)
                got = b"\r\n".join(lines) + b"\r\n"
                self.assertIsNone(strip_prepended(got, m))
                # LIST size is the size of the message as RETR sends it
                self.assertEqual(sizes[i - 1], len(got))
        finally:
            p.quit()

    def test_auth_plain(self):
        c = self.daemon.pop()
        try:
            c.line()
            r = c.cmd("AUTH PLAIN " + sasl_plain("alice", "alice-pw"))
            self.assertTrue(r.startswith("+OK"), r)
            self.assertTrue(c.cmd("STAT").startswith("+OK"))
            c.cmd("QUIT")
        finally:
            c.close()
        # and with the response after a continuation (RFC 5034 4)
        c = self.daemon.pop()
        try:
            c.line()
            r = c.cmd("AUTH PLAIN")
            self.assertTrue(r.startswith("+"), r)
            r = c.cmd(sasl_plain("alice", "alice-pw"))
            self.assertTrue(r.startswith("+OK"), r)
            c.cmd("QUIT")
        finally:
            c.close()

    def test_auth_plain_wrong_password(self):
        c = self.daemon.pop()
        try:
            c.line()
            r = c.cmd("AUTH PLAIN " + sasl_plain("alice", "nope"))
            self.assertTrue(r.startswith("-ERR [AUTH]"), r)
        finally:
            c.close()

    def test_dele_without_quit_deletes_nothing(self):
        deliver(self.daemon, "alice", self.msgs(3, 2))
        c = pop_session(self.daemon, "alice", "alice-pw")
        try:
            for i in (1, 2, 3):
                self.assertTrue(c.cmd("DELE %d" % i).startswith("+OK"))
            self.assertTrue(c.cmd("STAT").startswith("+OK 0 "))
        finally:
            c.close()  # hang up without QUIT
        # the next login waits for the dropped session to go (IN-USE is
        # allowed while the server notices the hang-up)
        self.assertEqual(self.wait_stat("alice", "alice-pw")[0], 3)

    def wait_stat(self, user, pw, bound=10.0):
        import time
        deadline = time.monotonic() + bound
        while True:
            try:
                return pop_stat(self.daemon, user, pw)
            except AssertionError as e:
                if "IN-USE" not in str(e) or time.monotonic() > deadline:
                    raise
            time.sleep(0.05)

    def test_rset_and_quit_deletes_marked(self):
        msgs = self.msgs(4, 3)
        deliver(self.daemon, "alice", msgs)
        c = pop_session(self.daemon, "alice", "alice-pw")
        try:
            self.assertTrue(c.cmd("DELE 1").startswith("+OK"))
            self.assertTrue(c.cmd("DELE 1").startswith("-ERR"))  # twice
            self.assertTrue(c.cmd("RETR 1").startswith("-ERR"))  # deleted
            self.assertTrue(c.cmd("RSET").startswith("+OK"))
            self.assertTrue(c.cmd("STAT").startswith("+OK 4 "))
            self.assertTrue(c.cmd("DELE 2").startswith("+OK"))
            self.assertTrue(c.cmd("DELE 4").startswith("+OK"))
            self.assertTrue(c.cmd("LIST 2").startswith("-ERR"))
            self.assertTrue(c.cmd("DELE 5").startswith("-ERR"))
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        finally:
            c.close()
        got = pop_fetch_all(self.daemon, "alice", "alice-pw")
        self.assertEqual(len(got), 2)
        self.assertIsNone(strip_prepended(got[0], msgs[0]))
        self.assertIsNone(strip_prepended(got[1], msgs[2]))

    def test_uidl_stable_and_unique(self):
        deliver(self.daemon, "bob", self.msgs(3, 4))

        def uidls():
            c = pop_session(self.daemon, "bob", "bob-pw")
            try:
                self.assertTrue(c.cmd("UIDL").startswith("+OK"))
                lines = c.multiline().decode().split("\r\n")[:-1]
                one = c.cmd("UIDL 2")
                c.cmd("QUIT")
            finally:
                c.close()
            pairs = [ln.split() for ln in lines]
            self.assertEqual([p[0] for p in pairs], ["1", "2", "3"])
            for _, u in pairs:
                # RFC 1939: 1 to 70 characters in 0x21..0x7e
                self.assertRegex(u, r"^[\x21-\x7e]{1,70}$")
            self.assertEqual(one, "+OK 2 " + pairs[1][1])
            return [p[1] for p in pairs]

        first = uidls()
        self.assertEqual(len(set(first)), 3)
        self.assertEqual(uidls(), first)
        # deleting message 1 leaves the others' UIDLs as they were
        c = pop_session(self.daemon, "bob", "bob-pw")
        c.cmd("DELE 1")
        c.cmd("QUIT")
        c.close()
        deliver(self.daemon, "bob", self.msgs(1, 5))
        c = pop_session(self.daemon, "bob", "bob-pw")
        try:
            c.cmd("UIDL")
            after = [ln.split()[1] for ln in
                     c.multiline().decode().split("\r\n")[:-1]]
            c.cmd("QUIT")
        finally:
            c.close()
        self.assertEqual(after[:2], first[1:])
        self.assertNotIn(after[2], first)

    def test_top(self):
        m = (b"Subject: top\r\nX-A: 1\r\n\r\nl1\r\n.l2\r\nl3\r\nl4\r\n")
        deliver(self.daemon, "alice", [m])
        c = pop_session(self.daemon, "alice", "alice-pw")
        try:
            self.assertTrue(c.cmd("TOP 1 0").startswith("+OK"))
            top0 = c.multiline()
            self.assertTrue(top0.endswith(b"Subject: top\r\nX-A: 1\r\n\r\n"),
                            top0)
            self.assertTrue(c.cmd("TOP 1 2").startswith("+OK"))
            top2 = c.multiline()
            self.assertTrue(top2.endswith(b"X-A: 1\r\n\r\nl1\r\n.l2\r\n"),
                            top2)
            self.assertTrue(c.cmd("TOP 1 100").startswith("+OK"))
            self.assertIsNone(strip_prepended(c.multiline(), m))
            self.assertTrue(c.cmd("TOP 2 1").startswith("-ERR"))
            self.assertTrue(c.cmd("TOP 1").startswith("-ERR"))
            c.cmd("QUIT")
        finally:
            c.close()

    def test_in_use(self):
        c1 = pop_session(self.daemon, "alice", "alice-pw")
        try:
            c2 = self.daemon.pop()
            try:
                c2.line()
                r = c2.login("alice", "alice-pw")
                self.assertTrue(r.startswith("-ERR [IN-USE]"), r)
            finally:
                c2.close()
            self.assertTrue(c1.cmd("NOOP").startswith("+OK"))
            self.assertTrue(c1.cmd("QUIT").startswith("+OK"))
        finally:
            c1.close()
        # free again once the first session has QUIT
        self.assertEqual(pop_stat(self.daemon, "alice", "alice-pw")[0], 0)

    def test_pop_off_account(self):
        c = self.daemon.pop()
        try:
            c.line()
            r = c.login("nopop", "nopop-pw")
            self.assertTrue(r.startswith("-ERR [AUTH]"), r)
            self.assertIn("pop3 access is disabled", r.lower())
        finally:
            c.close()
        # a wrong password does not reveal the toggle
        c = self.daemon.pop()
        try:
            c.line()
            r = c.login("nopop", "wrong")
            self.assertTrue(r.startswith("-ERR [AUTH]"), r)
            self.assertNotIn("disabled", r.lower())
        finally:
            c.close()

    def test_pop_toggle_applies_at_next_login(self):
        c = self.daemon.pop()
        try:
            c.line()
            r = c.login("toggle", "toggle-pw")
            self.assertTrue(r.startswith("-ERR [AUTH]"), r)
        finally:
            c.close()
        self.daemon.admin("account", "pop", "toggle", "on")
        self.assertEqual(pop_stat(self.daemon, "toggle", "toggle-pw")[0], 0)
        self.daemon.admin("account", "pop", "toggle", "off")
        c = self.daemon.pop()
        try:
            c.line()
            r = c.login("toggle", "toggle-pw")
            self.assertTrue(r.startswith("-ERR [AUTH]"), r)
            self.assertIn("disabled", r.lower())
        finally:
            c.close()

    def test_disabled_account(self):
        self.daemon.admin("account", "disable", "dis")
        try:
            c = self.daemon.pop()
            try:
                c.line()
                r = c.login("dis", "dis-pw")
                self.assertTrue(r.startswith("-ERR"), r)
                self.assertIn("disabled", r.lower())
            finally:
                c.close()
        finally:
            self.daemon.admin("account", "enable", "dis")
        self.assertEqual(pop_stat(self.daemon, "dis", "dis-pw")[0], 0)

    def test_wrong_state_commands(self):
        c = self.daemon.pop()
        try:
            c.line()
            for cmd in ("STAT", "LIST", "RETR 1", "DELE 1", "UIDL", "RSET"):
                self.assertTrue(c.cmd(cmd).startswith("-ERR"), cmd)
            self.assertTrue(c.cmd("PASS x").startswith("-ERR"))  # no USER
            self.assertTrue(c.login("alice", "alice-pw").startswith("+OK"))
            for cmd in ("USER alice", "PASS x", "STLS", "AUTH PLAIN"):
                self.assertTrue(c.cmd(cmd).startswith("-ERR"), cmd)
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        finally:
            c.close()

    def test_pipelining(self):
        deliver(self.daemon, "bob", self.msgs(2, 6))
        c = self.daemon.pop()
        try:
            c.line()
            c.send(b"USER bob\r\nPASS bob-pw\r\nSTAT\r\nLIST\r\nNOOP\r\n"
                   b"QUIT\r\n")
            self.assertTrue(c.line().startswith("+OK"))
            self.assertTrue(c.line().startswith("+OK"))
            self.assertTrue(c.line().startswith("+OK 2 "))
            self.assertTrue(c.line().startswith("+OK"))
            self.assertEqual(c.multiline().count(b"\r\n"), 2)
            self.assertTrue(c.line().startswith("+OK"))
            self.assertTrue(c.line().startswith("+OK"))
            self.assertTrue(c.closed_by_peer())
        finally:
            c.close()

    def test_pop3s_and_stls(self):
        deliver(self.daemon, "alice", self.msgs(1, 8))
        c = pop_session(self.daemon, "alice", "alice-pw", tls=True)
        try:
            self.assertTrue(c.cmd("STAT").startswith("+OK 1 "))
            # no STLS once TLS is on
            self.assertTrue(c.cmd("STLS").startswith("-ERR"))
            c.cmd("QUIT")
        finally:
            c.close()
        ctx = ssl.create_default_context(cafile=self.daemon.cert)
        p = poplib.POP3("127.0.0.1", self.daemon.port["pop3"],
                        timeout=harness.IO_TIMEOUT)
        try:
            p.stls(context=ctx)
            p.user("alice")
            p.pass_("alice-pw")
            self.assertEqual(p.stat()[0], 1)
            caps = p.capa()
            self.assertNotIn("STLS", caps)
        finally:
            p.quit()

    def test_stls_discards_pipelined_plaintext(self):
        """RFC 2595 / CVE-2011-0411: commands sent after STLS in the same
        write must not run, neither before nor after the handshake."""
        c = self.daemon.pop()
        try:
            c.line()
            c.send(b"STLS\r\nUSER alice\r\n")
            r = c.line()
            self.assertTrue(r.startswith("+OK"), r)
            self.assertEqual(c.buf, b"", "plaintext after the STLS reply")
            ctx = ssl.create_default_context(cafile=self.daemon.cert)
            s = ctx.wrap_socket(c.sock, server_hostname="localhost")
            t = LineClient("127.0.0.1", 0, sock=s)
            # had the injected USER run, this PASS would log in
            r = t.cmd("PASS alice-pw")
            self.assertTrue(r.startswith("-ERR"), r)
            r = t.login("alice", "alice-pw")
            self.assertTrue(r.startswith("+OK"), r)
            self.assertTrue(t.cmd("QUIT").startswith("+OK"))
            t.close()
        finally:
            c.close()

    def test_snapshot_ignores_delivery_during_session(self):
        deliver(self.daemon, "alice", self.msgs(2, 9))
        c = pop_session(self.daemon, "alice", "alice-pw")
        try:
            self.assertTrue(c.cmd("STAT").startswith("+OK 2 "))
            deliver(self.daemon, "alice", self.msgs(1, 10))
            # the session keeps the snapshot it took at login
            self.assertTrue(c.cmd("STAT").startswith("+OK 2 "))
            self.assertTrue(c.cmd("RETR 3").startswith("-ERR"))
            self.assertTrue(c.cmd("DELE 1").startswith("+OK"))
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        finally:
            c.close()
        self.assertEqual(pop_stat(self.daemon, "alice", "alice-pw")[0], 2)

    def test_quit_in_authorization(self):
        c = self.daemon.pop()
        try:
            c.line()
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
            self.assertTrue(c.closed_by_peer())
        finally:
            c.close()

    def test_retr_large_message(self):
        big = (b"Subject: big\r\n\r\n" +
               b"".join(b"%07d " % i + b"y" * 70 + b"\r\n"
                        for i in range(40000)))  # ~3 MB
        deliver(self.daemon, "bob", [big])
        got = pop_fetch_all(self.daemon, "bob", "bob-pw", delete=True)
        self.assertEqual(len(got), 1)
        self.assertIsNone(strip_prepended(got[0], big))


class Pop3PlaintextOffTest(DaemonTestCase):
    """plaintext_auth = no: USER/PASS and AUTH only after TLS."""
    OVERRIDES = {"plaintext_auth": "no"}
    ACCOUNTS = {"alice": ("alice-pw", True)}

    def test_refused_without_tls(self):
        c = self.daemon.pop()
        try:
            c.line()
            r = c.cmd("USER alice")
            if r.startswith("+OK"):
                r = c.cmd("PASS alice-pw")
            self.assertTrue(r.startswith("-ERR"), r)
        finally:
            c.close()
        c = pop_session(self.daemon, "alice", "alice-pw", tls=True)
        c.cmd("QUIT")
        c.close()


if __name__ == "__main__":
    harness.main()
