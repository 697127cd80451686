#!/usr/bin/python3
"""Bad input: each case gets the protocol's error, and the daemon keeps
serving everyone else (checked after every case with a fresh login)."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import DaemonTestCase, pop_stat, sasl_plain  # noqa: E402

MAX_LINE = 1024
MAX_BAD = 4
DELAY_MS = 300


class BadInputTest(DaemonTestCase):
    OVERRIDES = {"max_line_length": str(MAX_LINE),
                 "max_bad_commands": str(MAX_BAD),
                 "auth_fail_delay_ms": str(DELAY_MS),
                 "prelogin_timeout": "2",
                 "max_connections_per_ip": "1000",
                 "max_connections": "2000"}
    ACCOUNTS = {"alice": ("alice-pw", True), "bob": ("bob-pw", True)}

    def still_serving(self):
        """Another client is served normally."""
        t0 = time.monotonic()
        self.assertEqual(pop_stat(self.daemon, "bob", "bob-pw")[0], 0)
        return time.monotonic() - t0

    def greeted(self):
        c = self.daemon.pop()
        g = c.line()
        self.assertTrue(g.startswith("+OK"), g)
        return c

    def test_line_too_long(self):
        c = self.greeted()
        try:
            c.send(b"USER " + b"x" * (MAX_LINE * 2) + b"\r\n")
            r = c.line()
            self.assertTrue(r.startswith("-ERR"), r)
            self.assertIn("too long", r.lower())
        finally:
            c.close()
        self.still_serving()

    def test_line_too_long_without_newline(self):
        # the client never ends the line: the server must not buffer it
        c = self.greeted()
        try:
            try:
                c.send(b"y" * (MAX_LINE * 8))
            except (BrokenPipeError, ConnectionResetError):
                pass
            r = c.line()
            self.assertTrue(r.startswith("-ERR"), r)
            self.assertIn("too long", r.lower())
        finally:
            c.close()
        self.still_serving()

    def test_unknown_commands_close_after_limit(self):
        c = self.greeted()
        try:
            replies = []
            closed = False
            for i in range(MAX_BAD + 2):
                try:
                    c.send(b"FROBNICATE %d\r\n" % i)
                    replies.append(c.line())
                except (EOFError, ConnectionResetError, BrokenPipeError):
                    closed = True
                    break
            if not closed:
                closed = c.closed_by_peer()
            self.assertTrue(closed, "still open after %d bad commands: %r" %
                            (MAX_BAD + 2, replies))
            self.assertGreaterEqual(len(replies), MAX_BAD - 1, replies)
            self.assertLessEqual(len(replies), MAX_BAD + 1, replies)
            for r in replies:
                self.assertTrue(r.startswith("-ERR"), r)
        finally:
            c.close()
        self.still_serving()

    def test_wrong_state_commands_count_as_bad(self):
        c = self.greeted()
        try:
            closed = False
            n = 0
            for i in range(MAX_BAD + 2):
                try:
                    c.send(b"RETR 1\r\n")
                    r = c.line()
                    n += 1
                    self.assertTrue(r.startswith("-ERR"), r)
                except (EOFError, ConnectionResetError, BrokenPipeError):
                    closed = True
                    break
            if not closed:
                closed = c.closed_by_peer()
            self.assertTrue(closed)
        finally:
            c.close()
        self.still_serving()

    def test_pass_with_nul(self):
        c = self.greeted()
        try:
            self.assertTrue(c.cmd("USER alice").startswith("+OK"))
            r = c.cmd(b"PASS wrong\0alice-pw")
            self.assertTrue(r.startswith("-ERR"), r)
            c.send(b"STAT\r\n")  # not logged in
            self.assertTrue(c.line().startswith("-ERR"))
        finally:
            c.close()
        c = self.greeted()
        try:
            self.assertTrue(c.cmd("USER alice").startswith("+OK"))
            r = c.cmd(b"PASS alice-pw\0junk")
            self.assertTrue(r.startswith("-ERR"), r)
        finally:
            c.close()
        self.assertEqual(pop_stat(self.daemon, "alice", "alice-pw")[0], 0)

    def test_auth_plain_invalid_base64(self):
        c = self.greeted()
        try:
            r = c.cmd("AUTH PLAIN !!!not*base64@@")
            self.assertTrue(r.startswith("-ERR"), r)
            # after a continuation, too
            r = c.cmd("AUTH PLAIN")
            self.assertTrue(r.startswith("+"), r)
            r = c.cmd("%%%%")
            self.assertTrue(r.startswith("-ERR"), r)
            # "*" cancels (RFC 5034 4)
            self.assertTrue(c.cmd("AUTH PLAIN").startswith("+"))
            r = c.cmd("*")
            self.assertTrue(r.startswith("-ERR"), r)
            # valid base64 of a message without two NULs
            r = c.cmd("AUTH PLAIN " + "YWxpY2U=")  # "alice"
            self.assertTrue(r.startswith("-ERR"), r)
            # an unknown mechanism
            r = c.cmd("AUTH FOOBAR")
            self.assertTrue(r.startswith("-ERR"), r)
            # the session is still usable
            r = c.cmd("AUTH PLAIN " + sasl_plain("alice", "alice-pw"))
            self.assertTrue(r.startswith("+OK"), r)
            c.cmd("QUIT")
        finally:
            c.close()
        self.still_serving()

    def test_hangup_in_middle_of_auth(self):
        for _ in range(5):
            c = self.greeted()
            self.assertTrue(c.cmd("AUTH PLAIN").startswith("+"))
            c.send(b"AGFsaWNl")  # half a response, no CRLF
            c.close()
        c = self.greeted()
        c.send(b"USER alice\r\nPASS alice-pw\r\n")  # hang up during PASS
        c.close()
        self.still_serving()
        # alice is free again once the server notices the hang-ups
        deadline = time.monotonic() + 10
        while True:
            try:
                self.assertEqual(pop_stat(self.daemon, "alice",
                                          "alice-pw")[0], 0)
                break
            except AssertionError as e:
                if "IN-USE" not in str(e) or time.monotonic() > deadline:
                    raise
            time.sleep(0.05)

    def test_same_reply_and_delay_for_unknown_user_and_wrong_password(self):
        def attempt(user, pw):
            c = self.greeted()
            try:
                r = c.cmd("USER " + user)
                self.assertTrue(r.startswith("+OK"), r)  # never reveals
                t0 = time.monotonic()
                r = c.cmd("PASS " + pw)
                return r, time.monotonic() - t0
            finally:
                c.close()

        r1, t1 = attempt("nosuchuser", "whatever")
        r2, t2 = attempt("alice", "wrong-password")
        self.assertTrue(r1.startswith("-ERR [AUTH]"), r1)
        self.assertEqual(r1, r2)
        self.assertGreaterEqual(t1, DELAY_MS / 1000.0 * 0.95)
        self.assertGreaterEqual(t2, DELAY_MS / 1000.0 * 0.95)

        def attempt_sasl(user, pw):
            c = self.greeted()
            try:
                t0 = time.monotonic()
                r = c.cmd("AUTH PLAIN " + sasl_plain(user, pw))
                return r, time.monotonic() - t0
            finally:
                c.close()

        s1, u1 = attempt_sasl("nosuchuser", "whatever")
        s2, u2 = attempt_sasl("alice", "wrong-password")
        self.assertEqual(s1, s2)
        self.assertTrue(s1.startswith("-ERR [AUTH]"), s1)
        self.assertGreaterEqual(u1, DELAY_MS / 1000.0 * 0.95)
        self.assertGreaterEqual(u2, DELAY_MS / 1000.0 * 0.95)

    def test_failed_login_delay_does_not_block_others(self):
        c = self.greeted()
        try:
            c.send(b"USER alice\r\nPASS wrong\r\n")
            # while that one waits out its delay, bob logs in
            self.still_serving()
            self.assertTrue(c.line().startswith("+OK"))
            self.assertTrue(c.line().startswith("-ERR [AUTH]"))
        finally:
            c.close()

    def test_500_idle_connections(self):
        socks = []
        try:
            for _ in range(500):
                s = socket.create_connection(
                    ("127.0.0.1", self.daemon.port["pop3"]),
                    timeout=harness.IO_TIMEOUT)
                socks.append(s)
            # read every greeting: all 500 were accepted and served
            for s in socks:
                f = b""
                while b"\r\n" not in f:
                    chunk = s.recv(512)
                    self.assertTrue(chunk, "closed before greeting")
                    f += chunk
                self.assertTrue(f.startswith(b"+OK"), f)
            t = self.still_serving()
            self.assertLess(t, 5.0)
        finally:
            for s in socks:
                s.close()

    def test_half_tls_handshake_times_out(self):
        s = socket.create_connection(("127.0.0.1", self.daemon.port["pop3s"]),
                                     timeout=harness.IO_TIMEOUT)
        c = harness.LineClient("127.0.0.1", 0, sock=s)
        try:
            # a TLS record header announcing 512 bytes, then only 10
            s.sendall(b"\x16\x03\x01\x02\x00" + b"\x01\x00\x01\xfc\x03\x03" +
                      b"\x00" * 4)
            t0 = time.monotonic()
            self.assertTrue(c.closed_by_peer(timeout=12.0),
                            "server kept a stalled TLS handshake open")
            self.assertLess(time.monotonic() - t0, 12.0)
        finally:
            c.close()
        self.still_serving()

    def test_idle_prelogin_timeout(self):
        c = self.greeted()
        try:
            self.assertTrue(c.closed_by_peer(timeout=12.0))
        finally:
            c.close()

    def test_garbage_tls_on_pop3s(self):
        s = socket.create_connection(("127.0.0.1", self.daemon.port["pop3s"]),
                                     timeout=harness.IO_TIMEOUT)
        c = harness.LineClient("127.0.0.1", 0, sock=s)
        try:
            s.sendall(b"USER alice\r\nPASS alice-pw\r\n")
            self.assertTrue(c.closed_by_peer(timeout=12.0))
            self.assertNotIn(b"+OK", c.buf)
        finally:
            c.close()
        self.still_serving()

    def test_binary_garbage(self):
        c = self.greeted()
        try:
            c.send(bytes(range(256)) * 4 + b"\r\n")
            r = c.line()
            self.assertTrue(r.startswith("-ERR"), r)
        except EOFError:
            pass  # closing on garbage is acceptable too
        finally:
            c.close()
        self.still_serving()

    def test_bad_message_numbers(self):
        # one session per command: each may count as a bad command
        for cmd in ("RETR 0", "RETR -1", "RETR 99999999999999999999999",
                    "RETR 1x", "RETR", "LIST abc", "DELE 0", "TOP 1 -1",
                    "TOP 1 99999999999999999999999", "UIDL 4294967297",
                    "RETR 1 2"):
            c = self.greeted()
            try:
                self.assertTrue(c.login("bob", "bob-pw").startswith("+OK"))
                r = c.cmd(cmd)
                self.assertTrue(r.startswith("-ERR"), (cmd, r))
                self.assertTrue(c.cmd("QUIT").startswith("+OK"))
            finally:
                c.close()
        self.still_serving()

    def test_lmtp_bad_commands_and_long_line(self):
        c = harness.LineClient("127.0.0.1", self.daemon.port["lmtp"])
        try:
            self.assertTrue(c.line().startswith("220"))
            r = c.cmd("MAIL FROM:<x@example.org>")  # before LHLO
            self.assertTrue(r[:1] == "5", r)
            c.send(b"LHLO " + b"h" * (MAX_LINE * 2) + b"\r\n")
            r = c.line()
            self.assertTrue(r[:1] in "45", r)
        except EOFError:
            pass
        finally:
            c.close()
        self.still_serving()


if __name__ == "__main__":
    harness.main()
