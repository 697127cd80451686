#!/usr/bin/python3
"""The "done when" test: 1,000 messages delivered over LMTP come back
byte-identical through poplib and through fetchmail, and are gone after
QUIT."""

import os
import poplib
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (DaemonTestCase, lmtp_deliver, pop_stat,  # noqa: E402
                     strip_prepended)
from test_clients import Fetchmail, check_fetched  # noqa: E402

N = int(os.environ.get("PO_BULK_N", "1000"))


def deliver_all(daemon, rcpt, msgs):
    c = daemon.lmtp()
    try:
        for m in msgs:
            rr, dr = lmtp_deliver(c, "bulk@example.org", [rcpt], m)
            if not dr or dr[0][0] != 250:
                raise AssertionError("delivery: %r %r" % (rr, dr))
    finally:
        c.quit()


class BulkTest(DaemonTestCase):
    ACCOUNTS = {"poplib": ("poplib-pw", True),
                "fetchmail": ("fetchmail-pw", True)}

    def make(self, seed):
        rng = random.Random(seed)
        return [harness.make_message(seed * 100000 + i, rng)
                for i in range(N)]

    def test_poplib_round(self):
        msgs = self.make(1)
        deliver_all(self.daemon, "poplib", msgs)
        count, octets = pop_stat(self.daemon, "poplib", "poplib-pw")
        self.assertEqual(count, N)
        p = poplib.POP3("127.0.0.1", self.daemon.port["pop3"],
                        timeout=harness.IO_TIMEOUT)
        try:
            p.user("poplib")
            p.pass_("poplib-pw")
            self.assertEqual(p.stat(), (count, octets))
            for i, m in enumerate(msgs, 1):
                _, lines, _ = p.retr(i)
                got = b"\r\n".join(lines) + b"\r\n"
                diff = strip_prepended(got, m)
                self.assertIsNone(diff, "message %d: %s" % (i, diff))
                p.dele(i)
            self.assertEqual(p.stat()[0], 0)
        finally:
            p.quit()
        self.assertEqual(pop_stat(self.daemon, "poplib", "poplib-pw"), (0, 0))

    def test_fetchmail_round(self):
        msgs = self.make(2)
        deliver_all(self.daemon, "fetchmail", msgs)
        self.assertEqual(pop_stat(self.daemon, "fetchmail",
                                  "fetchmail-pw")[0], N)
        fm = Fetchmail(self.daemon, "fetchmail", "fetchmail-pw", keep=False)
        rc, out = fm.run()
        self.assertEqual(rc, 0, out[-3000:])
        check_fetched(self, fm.take(), msgs)
        self.assertEqual(pop_stat(self.daemon, "fetchmail", "fetchmail-pw"),
                         (0, 0))


if __name__ == "__main__":
    poplib._MAXLINE = 4096
    harness.main()
