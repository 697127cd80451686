#!/usr/bin/python3
"""LMTP delivery (RFC 2033) checked end to end through POP3 retrieval."""

import os
import random
import smtplib
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (DaemonTestCase, LineClient, lmtp_deliver,  # noqa: E402
                     pop_fetch_all, pop_stat, strip_prepended)

MAX_SIZE = 1024 * 1024


class LmtpTest(DaemonTestCase):
    ACCOUNTS = {"alice": ("alice-pw", True), "bob": ("bob-pw", True),
                "carol": ("carol-pw", True)}
    OVERRIDES = {"max_message_size": str(MAX_SIZE)}

    def setUp(self):
        # Each test starts with empty maildrops.
        for name, (pw, _) in self.ACCOUNTS.items():
            pop_fetch_all(self.daemon, name, pw, delete=True)

    def test_lhlo_capabilities(self):
        c = self.daemon.lmtp()
        try:
            code, text = c.ehlo()
            self.assertEqual(code, 250, text)
            for ext in ("8bitmime", "pipelining", "enhancedstatuscodes"):
                self.assertTrue(c.has_extn(ext), "LHLO lacks %s: %r" %
                                (ext, text))
        finally:
            c.quit()

    def test_multi_recipient_with_unknown(self):
        msg = harness.make_message(1, random.Random(1))
        c = self.daemon.lmtp()
        try:
            rcpts = ["alice@po-test.example", "nobody@po-test.example",
                     "bob", "carol@po-test.example"]
            rr, dr = lmtp_deliver(c, "sender@example.org", rcpts, msg)
        finally:
            c.quit()
        self.assertEqual(rr["nobody@po-test.example"][0], 550,
                         rr["nobody@po-test.example"])
        self.assertIn(b"5.1.1", rr["nobody@po-test.example"][1])
        for r in ("alice@po-test.example", "bob", "carol@po-test.example"):
            self.assertEqual(rr[r][0], 250, (r, rr[r]))
        # one DATA reply per accepted recipient
        self.assertEqual(len(dr), 3, dr)
        for code, text in dr:
            self.assertEqual(code, 250, text)
        for name in ("alice", "bob", "carol"):
            got = pop_fetch_all(self.daemon, name, name + "-pw", delete=True)
            self.assertEqual(len(got), 1, name)
            self.assertIsNone(strip_prepended(got[0], msg), name)

    def test_dot_stuffing_and_8bit(self):
        body = (b"Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\n"
                b"..double\r\n \xff\xfe\x80 8-bit\r\n.\xc3\xa9\r\nend\r\n")
        c = self.daemon.lmtp()
        try:
            rr, dr = lmtp_deliver(c, "s@example.org", ["alice"], body)
        finally:
            c.quit()
        self.assertEqual(dr, [(250, dr[0][1])])
        got = pop_fetch_all(self.daemon, "alice", "alice-pw", delete=True)
        self.assertEqual(len(got), 1)
        self.assertIsNone(strip_prepended(got[0], body))

    def test_many_transactions_one_connection(self):
        rng = random.Random(7)
        msgs = [harness.make_message(i, rng) for i in range(20)]
        c = self.daemon.lmtp()
        try:
            for m in msgs:
                rr, dr = lmtp_deliver(c, "s@example.org", ["bob"], m)
                self.assertEqual(dr[0][0], 250, dr)
        finally:
            c.quit()
        got = pop_fetch_all(self.daemon, "bob", "bob-pw", delete=True)
        self.assertEqual(len(got), len(msgs))
        for g, m in zip(got, msgs):
            self.assertIsNone(strip_prepended(g, m))

    def test_null_sender_and_rset(self):
        c = self.daemon.lmtp()
        try:
            c.ehlo()
            self.assertEqual(c.mail("")[0], 250)
            self.assertEqual(c.rcpt("alice")[0], 250)
            self.assertEqual(c.rset()[0], 250)
            # RSET dropped the transaction: DATA needs MAIL and RCPT again
            code, _ = c.docmd("DATA")
            self.assertGreaterEqual(code, 500)
            self.assertLess(code, 600)
            self.assertEqual(c.noop()[0], 250)
        finally:
            c.quit()
        self.assertEqual(pop_stat(self.daemon, "alice", "alice-pw")[0], 0)

    def test_rcpt_before_mail_is_refused(self):
        c = self.daemon.lmtp()
        try:
            c.ehlo()
            code, _ = c.docmd("RCPT TO:<alice>")
            self.assertEqual(code // 100, 5)
        finally:
            c.quit()

    def test_data_ends_only_at_crlf_dot_crlf(self):
        """Bare-LF dot lines inside DATA do not end it (RFC 5321 4.1.1.4,
        and the SMTP smuggling variants)."""
        before = pop_stat(self.daemon, "carol", "carol-pw")[0]
        c = LineClient("127.0.0.1", self.daemon.port["lmtp"])
        try:
            self.assertTrue(c.line().startswith("220"))
            c.send(b"LHLO test.example\r\n")
            while True:
                ln = c.line()
                self.assertTrue(ln.startswith("250"), ln)
                if ln.startswith("250 "):
                    break
            self.assertTrue(c.cmd("MAIL FROM:<s@example.org>")
                            .startswith("250"))
            self.assertTrue(c.cmd("RCPT TO:<carol>").startswith("250"))
            self.assertTrue(c.cmd("DATA").startswith("354"))
            payload = (b"Subject: smuggle\r\n\r\nfirst\r\n"
                       b"a\n.\nb\r\n"
                       b"c\r\n.\nd\r\n"
                       b"e\n.\r\nf\r\n"
                       b"MAIL FROM:<evil@example.org>\r\n"
                       b"last\r\n")
            c.send(payload + b".\r\n")
            ln = c.line()
            self.assertTrue(ln.startswith("250"), ln)
            # nothing more: the next reply is for the next command
            self.assertTrue(c.cmd("NOOP").startswith("250"))
            self.assertTrue(c.cmd("QUIT").startswith("221"))
        finally:
            c.close()
        got = pop_fetch_all(self.daemon, "carol", "carol-pw", delete=True)
        self.assertEqual(len(got), before + 1, got)
        stored = got[-1]
        for frag in (b"first", b"a", b"b", b"c", b"d", b"e", b"f",
                     b"MAIL FROM:<evil@example.org>", b"last"):
            self.assertIn(b"\r\n" + frag + b"\r\n", harness.crlf(stored))
        # the stored message keeps the lone dots as lines of their own
        self.assertIsNone(strip_prepended(stored, payload))

    def test_cut_off_mid_data_stores_nothing(self):
        c = LineClient("127.0.0.1", self.daemon.port["lmtp"])
        try:
            self.assertTrue(c.line().startswith("220"))
            c.send(b"LHLO test.example\r\n")
            while not c.line().startswith("250 "):
                pass
            self.assertTrue(c.cmd("MAIL FROM:<s@example.org>")
                            .startswith("250"))
            self.assertTrue(c.cmd("RCPT TO:<bob>").startswith("250"))
            self.assertTrue(c.cmd("DATA").startswith("354"))
            c.send(b"Subject: cut\r\n\r\nhalf a message\r\n")
        finally:
            c.close()
        # a complete delivery afterwards is the only message stored
        marker = b"Subject: marker\r\n\r\nafter the cut\r\n"
        lc = self.daemon.lmtp()
        try:
            rr, dr = lmtp_deliver(lc, "s@example.org", ["bob"], marker)
            self.assertEqual(dr[0][0], 250)
        finally:
            lc.quit()
        got = pop_fetch_all(self.daemon, "bob", "bob-pw", delete=True)
        self.assertEqual(len(got), 1, got)
        self.assertIsNone(strip_prepended(got[0], marker))

    def test_body_8bitmime_parameter(self):
        body = b"Subject: 8bit\r\n\r\n\xe2\x82\xac uro\r\n"
        c = self.daemon.lmtp()
        try:
            c.ehlo()
            self.assertEqual(c.mail("s@example.org", ["BODY=8BITMIME"])[0],
                             250)
            self.assertEqual(c.rcpt("alice")[0], 250)
            self.assertEqual(c.data(body)[0], 250)
        finally:
            c.quit()
        got = pop_fetch_all(self.daemon, "alice", "alice-pw", delete=True)
        self.assertEqual(len(got), 1)
        self.assertIsNone(strip_prepended(got[0], body))

    def test_message_too_large(self):
        big = b"Subject: big\r\n\r\n" + (b"z" * 998 + b"\r\n") * (
            MAX_SIZE // 1000 + 10)
        c = self.daemon.lmtp()
        try:
            c.ehlo()
            self.assertEqual(c.mail("s@example.org")[0], 250)
            self.assertEqual(c.rcpt("alice")[0], 250)
            self.assertEqual(c.rcpt("bob")[0], 250)
            code, text = c.data(big)
            self.assertEqual(code, 552, text)
            code, text = c.getreply()  # the second recipient's reply
            self.assertEqual(code, 552, text)
            self.assertEqual(c.noop()[0], 250)
        finally:
            c.close()
        self.assertEqual(pop_stat(self.daemon, "alice", "alice-pw")[0], 0)
        self.assertEqual(pop_stat(self.daemon, "bob", "bob-pw")[0], 0)

    def test_many_recipients_bounded(self):
        """Past the server's recipient limit RCPT gets 452 (RFC 5321
        4.5.3.1.10) and the accepted ones each get a DATA reply."""
        body = b"Subject: many\r\n\r\nmany\r\n"
        c = self.daemon.lmtp()
        try:
            c.ehlo()
            self.assertEqual(c.mail("s@example.org")[0], 250)
            codes = [c.rcpt("alice")[0] for _ in range(300)]
            accepted = codes.count(250)
            self.assertGreaterEqual(accepted, 1)
            self.assertEqual(set(codes[accepted:]) - {452}, set(), codes)
            code, text = c.data(body)
            replies = [code] + [c.getreply()[0] for _ in range(accepted - 1)]
            self.assertEqual(set(replies), {250})
            self.assertEqual(c.noop()[0], 250)
        finally:
            c.quit()
        # one copy per account, however often it was named
        got = pop_fetch_all(self.daemon, "alice", "alice-pw", delete=True)
        self.assertEqual(len(got), 1)

    def test_unknown_command_and_pipelining(self):
        c = LineClient("127.0.0.1", self.daemon.port["lmtp"])
        try:
            self.assertTrue(c.line().startswith("220"))
            self.assertEqual(c.cmd("FROB").split()[0][:1], "5")
            c.send(b"LHLO t\r\n")
            while not c.line().startswith("250 "):
                pass
            # a whole pipelined transaction in one write (RFC 2920)
            c.send(b"MAIL FROM:<s@example.org>\r\nRCPT TO:<alice>\r\n"
                   b"RCPT TO:<nobody>\r\nRCPT TO:<bob>\r\nDATA\r\n")
            self.assertTrue(c.line().startswith("250"))
            self.assertTrue(c.line().startswith("250"))
            self.assertTrue(c.line().startswith("550"))
            self.assertTrue(c.line().startswith("250"))
            self.assertTrue(c.line().startswith("354"))
            c.send(b"Subject: p\r\n\r\npipelined\r\n.\r\nQUIT\r\n")
            self.assertTrue(c.line().startswith("250"))  # alice
            self.assertTrue(c.line().startswith("250"))  # bob
            self.assertTrue(c.line().startswith("221"))
        finally:
            c.close()
        for name in ("alice", "bob"):
            got = pop_fetch_all(self.daemon, name, name + "-pw", delete=True)
            self.assertEqual(len(got), 1)


if __name__ == "__main__":
    harness.main()
