#!/usr/bin/python3
"""The daemon as a process: start, -o overrides, bad configuration,
SIGHUP, SIGTERM."""

import os
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, lmtp_deliver, pop_session, pop_stat  # noqa


class DaemonTest(unittest.TestCase):

    def setUp(self):
        self.d = None

    def tearDown(self):
        if self.d is not None:
            self.d.cleanup()

    def test_sigterm_graceful_stop(self):
        self.d = Daemon()
        self.d.add_account("alice", "alice-pw")
        self.d.start()
        c = self.d.lmtp()
        lmtp_deliver(c, "s@example.org", ["alice"], b"Subject: x\r\n\r\nx\r\n")
        c.quit()
        # a session with a pending DELE is cut by the stop: nothing deleted
        s = pop_session(self.d, "alice", "alice-pw")
        self.assertTrue(s.cmd("DELE 1").startswith("+OK"))
        idle = self.d.pop()
        idle.line()
        log = self.d.stop()
        self.assertIn("stopped", log.lower())
        s.close()
        idle.close()
        # restart on the same data: the message is still there
        self.d.start()
        self.assertEqual(pop_stat(self.d, "alice", "alice-pw")[0], 1)
        self.d.stop()

    def test_command_line_override(self):
        self.d = Daemon()
        self.d.add_account("alice", "alice-pw")
        port = harness.free_ports(1)[0]
        self.d.start(["-o", "pop3_listen=127.0.0.1:%d" % port])
        self.d.port["pop3"] = port
        self.assertEqual(pop_stat(self.d, "alice", "alice-pw")[0], 0)
        self.d.stop()

    def test_listener_off(self):
        self.d = Daemon({"pop3s_listen": "off"})
        self.d.start()
        import socket
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", self.d.port["pop3s"]),
                                     timeout=5).close()
        self.d.stop()

    def test_imap_and_imaps_served(self):
        self.d = Daemon()
        self.d.add_account("alice", "alice-pw")
        self.d.start()
        ready = self.d.wait_log(r"postofficed ready[^\n]*").group(0)
        for proto in ("imap", "imaps"):
            self.assertIn(" %s=127.0.0.1:%d" % (proto, self.d.port[proto]),
                          ready)
        self.assertNotIn("not implemented", self.d.log())
        for tls in (False, True):
            c = self.d.imap(tls=tls)
            try:
                g = c.greeting()
                self.assertRegex(g, rb"^\* OK ", g)
                u, t = c.command("CAPABILITY")
                self.assertEqual(harness.status_of(t), "OK", t)
                caps = [x for x in u if x.startswith(b"* CAPABILITY ")]
                self.assertEqual(len(caps), 1, u)
                self.assertIn(b"IMAP4rev2", caps[0].split())
                u, t = c.login("alice", "alice-pw")
                self.assertEqual(harness.status_of(t), "OK", t)
                u, t = c.command("LOGOUT")
                self.assertEqual(harness.status_of(t), "OK", t)
                self.assertTrue(any(x.startswith(b"* BYE") for x in u), u)
                self.assertTrue(c.closed_by_peer())
            finally:
                c.close()
        self.d.stop()

    def test_sighup_keeps_serving(self):
        self.d = Daemon()
        self.d.add_account("alice", "alice-pw")
        self.d.start()
        before = len(self.d.log())
        self.d.proc.send_signal(signal.SIGHUP)
        self.d.wait_log(r"(?i)reload")
        self.assertTrue(self.d.running())
        self.assertGreater(len(self.d.log()), before)
        self.assertEqual(pop_stat(self.d, "alice", "alice-pw")[0], 0)
        self.d.stop()

    def run_bad(self, args, mention):
        r = subprocess.run([harness.daemon_path()] + args,
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0, r.stderr)
        self.assertIn(mention, r.stderr)
        self.assertIsNone(harness.sanitizer_report(r.stderr), r.stderr)

    def test_bad_configuration(self):
        self.d = Daemon()
        self.run_bad(["-c", self.d.config, "-o", "bogus_key=1"], "bogus_key")
        self.run_bad(["-c", self.d.config, "-o", "max_line_length=lots"],
                     "max_line_length")
        self.run_bad(["-c", self.d.config, "-o", "pop3_listen=nowhere"],
                     "pop3_listen")
        self.run_bad(["-c", os.path.join(self.d.tmp, "nope.conf")],
                     "nope.conf")
        bad = os.path.join(self.d.tmp, "bad.conf")
        with open(bad, "w") as f:
            f.write("data_dir = %s\nplaintext_auth = sometimes\n" %
                    self.d.data_dir)
        self.run_bad(["-c", bad], "plaintext_auth")

    def test_port_in_use(self):
        import socket
        self.d = Daemon()
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.d.port["pop3"]))
        s.listen(1)
        try:
            self.run_bad(["-c", self.d.config], str(self.d.port["pop3"]))
        finally:
            s.close()


if __name__ == "__main__":
    harness.main()
