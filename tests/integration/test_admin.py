#!/usr/bin/python3
"""The admin tool, `postoffice account ...`, with and without --json."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, json_out  # noqa: E402


def onoff(v):
    """pop/imap in --json: a JSON boolean."""
    if isinstance(v, bool):
        return v
    raise AssertionError("not a boolean: %r" % (v,))


def accounts_of(doc):
    """`account list --json`: an array of account objects."""
    if not isinstance(doc, list):
        raise AssertionError("list --json is not an array: %r" % (doc,))
    return doc


class AdminTest(unittest.TestCase):
    """The tool works on the data directory alone; no daemon needed."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon({"pop_default": "off", "imap_default": "on"})

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def admin(self, *args, **kw):
        return self.d.admin(*args, **kw)

    def fails(self, *args, password=None, mention=None):
        r = self.admin(*args, password=password, check=False)
        self.assertNotEqual(r.returncode, 0, "%r succeeded: %r" %
                            (args, r.stdout))
        self.assertTrue(r.stderr.strip(), "%r failed silently" % (args,))
        if mention:
            self.assertIn(mention.lower(), r.stderr.lower(), r.stderr)
        return r

    def show(self, name):
        return json_out(self.admin("account", "show", name, "--json"))

    def check_account(self, a, name, state="active", pop=None, imap=None):
        for k in ("name", "id", "state", "pop", "imap", "quota_bytes",
                  "created"):
            self.assertIn(k, a, a)
        self.assertEqual(a["name"], name)
        self.assertIsInstance(a["id"], int)
        self.assertGreater(a["id"], 0)
        self.assertEqual(a["state"], state)
        self.assertIsInstance(a["quota_bytes"], int)
        if pop is not None:
            self.assertEqual(onoff(a["pop"]), pop)
        if imap is not None:
            self.assertEqual(onoff(a["imap"]), imap)

    def test_add_show_list_del(self):
        r = self.admin("account", "add", "ann", "--password-stdin", "--json",
                       password="ann-pw")
        a = json_out(r)
        self.check_account(a, "ann", pop=False, imap=True)  # the defaults
        self.assertLessEqual(abs(self.created_time(a) - time.time()), 3600)
        self.check_account(self.show("ann"), "ann", pop=False, imap=True)
        self.assertEqual(self.show("ann")["id"], a["id"])
        self.admin("account", "add", "ben", "--password-stdin", "--pop", "on",
                   "--imap", "off", password="ben-pw")
        self.check_account(self.show("ben"), "ben", pop=True, imap=False)
        names = [x["name"] for x in
                 accounts_of(json_out(self.admin("account", "list",
                                                 "--json")))]
        self.assertIn("ann", names)
        self.assertIn("ben", names)
        # plain output names them too
        plain = self.admin("account", "list").stdout
        self.assertIn("ann", plain)
        self.assertIn("ben", plain)
        self.admin("account", "del", "ben")
        names = [x["name"] for x in
                 accounts_of(json_out(self.admin("account", "list",
                                                 "--json")))]
        self.assertNotIn("ben", names)
        self.fails("account", "show", "ben", mention="ben")

    def created_time(self, a):
        c = a["created"]
        self.assertIsInstance(c, int)  # seconds since the epoch
        return c

    def test_toggles_and_state(self):
        self.admin("account", "add", "tog", "--password-stdin",
                   password="tog-pw")
        self.admin("account", "pop", "tog", "on")
        self.check_account(self.show("tog"), "tog", pop=True)
        self.admin("account", "pop", "tog", "off")
        self.check_account(self.show("tog"), "tog", pop=False)
        self.admin("account", "imap", "tog", "off")
        self.check_account(self.show("tog"), "tog", imap=False)
        self.admin("account", "imap", "tog", "on")
        self.check_account(self.show("tog"), "tog", imap=True)
        self.admin("account", "disable", "tog")
        self.check_account(self.show("tog"), "tog", state="disabled")
        self.admin("account", "enable", "tog")
        self.check_account(self.show("tog"), "tog", state="active")
        # --json on a change prints the changed account
        r = self.admin("account", "pop", "tog", "on", "--json")
        self.check_account(json_out(r), "tog", pop=True)

    def test_passwd(self):
        self.admin("account", "add", "pw", "--password-stdin", "--pop", "on",
                   password="old-pw")
        self.admin("account", "passwd", "pw", "--password-stdin",
                   password="new-pw")
        self.fails("account", "passwd", "nobody-here", "--password-stdin",
                   password="x", mention="nobody-here")

    def test_errors(self):
        self.admin("account", "add", "dup", "--password-stdin",
                   password="dup-pw")
        self.fails("account", "add", "dup", "--password-stdin",
                   password="x", mention="dup")
        self.fails("account", "add", "Bad Name!", "--password-stdin",
                   password="x")
        self.fails("account", "add", "../etc", "--password-stdin",
                   password="x")
        self.fails("account", "add", "a" * 65, "--password-stdin",
                   password="x")
        self.fails("account", "del", "ghost", mention="ghost")
        self.fails("account", "pop", "ghost", "on", mention="ghost")
        self.fails("account", "pop", "dup", "maybe")
        self.fails("account", "imap", "dup")
        self.fails("account", "disable", "ghost", mention="ghost")
        self.fails("account", "frobnicate", "dup")
        self.fails("account")
        self.fails("nosuchgroup")
        self.fails("account", "add", "long", "--password-stdin",
                   password="p" * 2000)
        r = self.d.admin("-o", "no_such_key=1", "account", "list",
                         check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no_such_key", r.stderr)

    def test_name_case_insensitive(self):
        self.admin("account", "add", "MiXed", "--password-stdin",
                   password="m-pw")
        self.assertEqual(self.show("mixed")["name"], "mixed")
        self.fails("account", "add", "mixed", "--password-stdin",
                   password="x")

    def test_missing_config(self):
        import subprocess
        r = subprocess.run([harness.admin_path(), "-c",
                            os.path.join(self.d.tmp, "missing.conf"),
                            "account", "list"], capture_output=True,
                           text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("missing.conf", r.stderr)


if __name__ == "__main__":
    harness.main()
