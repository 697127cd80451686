#!/usr/bin/python3
"""IMAP bad input on raw sockets: every case gets its tag back with BAD or
NO and the right code, nothing runs that the client did not ask for, no
mailbox name leaves its account or reaches the file system, and the daemon
keeps serving another connection after each case."""

import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (DaemonTestCase, deliver, imap_session,  # noqa: E402
                     resp_code, status_of)

MAX_LINE = 65536
MAX_MESSAGE = 200000
CMD_MAX_BYTES = 1024 * 1024  # IMAP_CMD_MAX_BYTES
MAX_LITERALS = 64  # IMAP_CMD_MAX_LITERALS


def search_nums(untagged):
    out = []
    for r in untagged:
        if r.upper().startswith(b"* SEARCH"):
            out += [int(x) for x in r.split()[2:]]
    return out


def data_files(root):
    """Relative paths of the files under root, SQLite's transient side
    files left out."""
    out = set()
    for dirpath, _, files in os.walk(root):
        for name in files:
            if re.search(r"-(wal|shm|journal)$", name):
                continue
            out.add(os.path.relpath(os.path.join(dirpath, name), root))
    return out


class ImapBadInputTest(DaemonTestCase):
    OVERRIDES = {"max_line_length": str(MAX_LINE),
                 "max_message_size": str(MAX_MESSAGE),
                 "max_bad_commands": "1000",
                 "max_connections_per_ip": "1000",
                 "max_connections": "2000"}
    ACCOUNTS = {u: (u + "-pw", False, True) for u in
                ("alice", "bob", "victim", "mallory", "appender", "finder",
                 "idler", "lit")}

    def sess(self, user="alice"):
        c = imap_session(self.daemon, user, user + "-pw")
        self.addCleanup(c.close)
        return c

    def greeted(self):
        c = self.daemon.imap()
        self.addCleanup(c.close)
        g = c.greeting()
        self.assertTrue(g.startswith(b"* OK"), g)
        return c

    def still_serving(self):
        """Another client logs in and gets an answer."""
        c = imap_session(self.daemon, "bob", "bob-pw")
        try:
            c.ok("NOOP")
            c.ok("SELECT INBOX")
            c.command("LOGOUT")
        finally:
            c.close()

    def assert_tagged(self, c, tag, wants=("BAD",), code=None):
        """The next tagged reply is tag's (no other tag first, no
        continuation request), with a status in wants."""
        untagged = []
        while True:
            r = c.response()
            if r.startswith(b"* "):
                untagged.append(r)
                continue
            self.assertTrue(r.startswith(tag.encode() + b" "),
                            "expected %s's reply, got %r" % (tag, r))
            t = r.decode("latin-1")
            self.assertIn(status_of(t), wants, t)
            if code:
                self.assertEqual(resp_code(t), code, t)
            return untagged, t

    # -- arguments ----------------------------------------------------

    BAD_NOTAUTH = [
        "CAPABILITY extra", "NOOP extra", "LOGOUT extra", "STARTTLS extra",
        "LOGIN", "LOGIN onlyuser", "LOGIN alice alice-pw extra",
        "LOGIN (alice) alice-pw", "LOGIN alice (alice-pw)",
        "AUTHENTICATE", "ID", "ID x", 'ID ("odd")', 'ID ("a" "b" "c")',
        "ID (a b", "SELECT INBOX", "FETCH 1 FLAGS", "FROBNICATE",
        "UID FETCH 1 FLAGS", "ENABLE IMAP4rev2", "",
    ]
    BAD_AUTH = [
        "SELECT", "SELECT INBOX extra", "SELECT (INBOX)", "EXAMINE",
        "CREATE", "CREATE a b", "CREATE (a)", "DELETE", "DELETE a b",
        "RENAME", "RENAME a", "RENAME a b c", "SUBSCRIBE", "SUBSCRIBE a b",
        "UNSUBSCRIBE", "LIST", 'LIST ""', 'LIST "" * extra',
        'LIST (BOGUS) "" *', 'LIST "" * RETURN (BOGUS)',
        'LIST "" * RETURN (STATUS)', 'LIST "" * RETURN (STATUS (BOGUS))',
        "LSUB", 'LSUB ""', "STATUS", "STATUS INBOX", "STATUS INBOX MESSAGES",
        "STATUS INBOX (BOGUS)", "STATUS INBOX ()", "STATUS INBOX (MESSAGES",
        "APPEND", "APPEND INBOX", "APPEND INBOX (\\Seen)",
        "APPEND INBOX (\\Bogus) {1+}\r\nx",
        'APPEND INBOX "31-Foo-2024 00:00:00 +0000" {1+}\r\nx',
        'APPEND INBOX "not a date" {1+}\r\nx',
        "APPEND INBOX {1+}\r\nx extra",
        "ENABLE", "NAMESPACE x", "IDLE x", "LOGIN alice alice-pw",
        "AUTHENTICATE PLAIN", "STARTTLS",
        "FETCH 1 FLAGS", "EXPUNGE", "CLOSE", "UNSELECT", "CHECK",
        "UID", "UID BOGUS 1", "FROBNICATE x",
    ]
    BAD_SELECTED = [
        "FETCH", "FETCH 1", "FETCH x FLAGS", "FETCH 0 FLAGS", "FETCH 1 BOGUS",
        "FETCH 1 (FLAGS", "FETCH 1 FLAGS)", "FETCH 1 BODY[", "FETCH 1 BODY[]x",
        "FETCH 1 BODY[HEADER.FIELDS]", "FETCH 1 BODY[HEADER.FIELDS ()]",
        "FETCH 1 BODY[1.2.X]", "FETCH 1 BODY[]<x>", "FETCH 1 BODY[]<1.0>",
        "FETCH 1 BODY[]<4294967296>", "FETCH 1 BINARY[HEADER]",
        "FETCH 1 (FLAGS FLAGS) extra", "FETCH 1:* FLAGS extra",
        "FETCH 99999999999 FLAGS", "FETCH 1,,2 FLAGS", "FETCH 1: FLAGS",
        "STORE", "STORE 1", "STORE 1 +FLAGS", "STORE 1 BOGUS (\\Seen)",
        "STORE x +FLAGS (\\Seen)", "STORE 1 +FLAGS (\\Seen", "STORE 1 +FLAGS "
        "(\\Bogus)", "STORE 1 FLAGS ({3}\r\nabc)",
        "COPY", "COPY 1", "COPY 1 a b", "COPY x INBOX", "MOVE", "MOVE 1",
        "MOVE 1 a b", "SEARCH", "SEARCH BOGUS", "SEARCH LARGER",
        "SEARCH LARGER x", "SEARCH OR SEEN", "SEARCH NOT", "SEARCH (SEEN",
        "SEARCH SEEN)", "SEARCH BEFORE 1-Foo-2024", "SEARCH UID x",
        "SEARCH RETURN (BOGUS) ALL", "SEARCH RETURN (MIN ALL",
        "SEARCH HEADER Subject", "UID FETCH", "UID FETCH x FLAGS",
        "UID STORE 1", "UID COPY 1", "UID SEARCH", "UID EXPUNGE",
        "UID EXPUNGE x", "EXPUNGE x", "CLOSE x", "UNSELECT x", "CHECK x",
        "UID UID FETCH 1 FLAGS", "UID CAPABILITY",
    ]

    def run_bad_list(self, c, commands, prefix):
        for i, cmd in enumerate(commands):
            tag = "%s%d" % (prefix, i)
            data = (tag + " " + cmd + "\r\n").encode()
            if "{" in cmd and "+}" not in cmd:
                # a synchronizing literal: the server may refuse first
                c.send(data.split(b"}\r\n")[0] + b"}\r\n")
                r = c.response()
                if not r.startswith(b"+"):
                    self.assertTrue(r.startswith(tag.encode() + b" BAD"),
                                    (cmd, r))
                    continue
                c.send(data.split(b"}\r\n", 1)[1])
            else:
                c.send(data)
            try:
                self.assert_tagged(c, tag)
            except AssertionError as e:
                raise AssertionError("%r: %s" % (cmd, e))
        # still in service on this connection
        c.ok("NOOP")

    def test_bad_arguments_not_authenticated(self):
        c = self.greeted()
        cmds = [x for x in self.BAD_NOTAUTH if x]
        self.run_bad_list(c, cmds, "n")
        # an empty line and a line without a command: untagged BAD
        c.send(b"\r\n")
        r = c.response()
        self.assertTrue(r.startswith(b"* BAD"), r)
        c.send(b"lonely\r\n")
        r = c.response()
        self.assertTrue(r.startswith((b"* BAD", b"lonely BAD")), r)
        # a tag with a character a tag may not hold (RFC 9051 9: "+")
        c.send(b"a+b NOOP\r\n")
        r = c.response()
        self.assertTrue(r.startswith((b"* BAD", b"a+b BAD")), r)
        c.ok("NOOP")
        self.still_serving()

    def test_bad_arguments_authenticated(self):
        c = self.sess("alice")
        self.run_bad_list(c, self.BAD_AUTH, "u")
        # nothing was appended by the bad APPENDs
        u = c.ok("STATUS INBOX (MESSAGES)")
        self.assertIn(b"MESSAGES 0", b" ".join(u))
        self.still_serving()

    def test_bad_arguments_selected(self):
        deliver(self.daemon, "alice", [b"Subject: x\r\n\r\nbody\r\n"])
        c = self.sess("alice")
        c.ok("SELECT INBOX")
        self.run_bad_list(c, self.BAD_SELECTED, "s")
        c.ok("FETCH 1 FLAGS")
        # a sequence number past the end is BAD; a UID past the end is not
        u, t = c.command("FETCH 2 FLAGS")
        self.assertEqual(status_of(t), "BAD", t)
        u, t = c.command("UID FETCH 4000000000 FLAGS")
        self.assertEqual(status_of(t), "OK", t)
        self.still_serving()

    # -- literals -----------------------------------------------------

    def test_literal_over_limit_refused_before_read(self):
        c = self.sess("lit")
        for tag, line in (
                ("b1", "APPEND INBOX {%d}" % (MAX_MESSAGE + 1)),
                ("b2", "LOGIN {%d}" % (CMD_MAX_BYTES + 1)),
                ("b3", "SELECT {%d}" % (CMD_MAX_BYTES * 4)),
                ("b4", "SELECT {18446744073709551616}"),
                ("b5", "SELECT {99999999999999999999999999999}"),
                ("b6", "APPEND INBOX {18446744073709551615}")):
            c.send((tag + " " + line + "\r\n").encode())
            # the reply comes without sending the literal: refused before
            # it is read, never a "+" continuation
            u, t = self.assert_tagged(c, tag, wants=("BAD", "NO"))
            if tag in ("b1", "b6"):
                self.assertIn(resp_code(t), ("TOOBIG", "LIMIT", None), t)
            # the literal was not sent: the connection goes on
            c.ok("NOOP")
        u = c.ok("STATUS INBOX (MESSAGES)")
        self.assertIn(b"MESSAGES 0", b" ".join(u))
        self.still_serving()

    def test_refused_literal_plus_is_skipped(self):
        c = self.sess("mallory")
        # the literal's bytes look like commands; none of them may run
        evil = b"".join(b"x%d CREATE Evil%d\r\n" % (i, i) for i in range(8))
        for tag, cmd, size in (("p1", b"APPEND INBOX", MAX_MESSAGE + 1000),
                               ("p2", b"SELECT", CMD_MAX_BYTES + 1000)):
            body = (evil * (size // len(evil) + 1))[:size]
            c.send(tag.encode() + b" " + cmd + b" {%d+}\r\n" % size)
            try:
                c.send(body + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break  # the server may close instead of skipping
            try:
                u, t = self.assert_tagged(c, tag, wants=("BAD", "NO"))
            except EOFError:
                break
            self.assertFalse(any(b"Evil" in r for r in u), u)
            c.ok("NOOP")
        c2 = self.sess("mallory")
        u = c2.ok('LIST "" "Evil*"')
        self.assertEqual([r for r in u if r.startswith(b"* LIST")], [])
        u = c2.ok("STATUS INBOX (MESSAGES)")
        self.assertIn(b"MESSAGES 0", b" ".join(u))
        self.still_serving()

    def test_overlong_line_with_literal_plus_closes(self):
        """A line past max_line_length is dropped unread, so a {N+} at its
        end cannot be seen: the server says BYE and closes rather than
        read the literal's bytes as commands."""
        c = self.sess("lit")
        evil = b"x1 CREATE LongLineEvil\r\n"
        c.send(b"l1 SELECT {5}\r\n")
        self.assertTrue(c.response().startswith(b"+"))
        # after the literal, the rest of the command is one huge line
        c.send(b"INBOX " + b"a" * (MAX_LINE + 10) + b" {%d+}\r\n"
               % len(evil) + evil)
        line = c.response()
        self.assertTrue(line.startswith(b"* BYE [TOOBIG]"), line)
        self.assertTrue(c.closed_by_peer())
        c2 = self.sess("lit")
        u = c2.ok('LIST "" "LongLine*"')
        self.assertEqual([r for r in u if r.startswith(b"* LIST")], [])
        self.still_serving()

    def test_many_literals_bounded(self):
        for logged_in in (False, True):
            c = self.sess("alice") if logged_in else self.greeted()
            n = MAX_LITERALS * 4
            data = b"m1 ID (" + b" ".join(b'"k%d" {1+}\r\nv' % i
                                           for i in range(n // 2)) + b")\r\n"
            c.send(data)
            try:
                u, t = self.assert_tagged(c, "m1", wants=("BAD", "NO"))
                c.ok("NOOP")
            except (EOFError, ConnectionResetError):
                pass  # closing is an acceptable bound too
            self.still_serving()

    def test_deep_parentheses_bounded(self):
        depth = 20000
        c = self.greeted()
        c.send(b"d1 ID " + b"(" * depth + b")" * depth + b"\r\n")
        self.assert_tagged(c, "d1", wants=("BAD",))
        c.ok("NOOP")
        c = self.sess("alice")
        c.ok("SELECT INBOX")
        c.send(b"d2 SEARCH " + b"(" * depth + b"ALL" + b")" * depth + b"\r\n")
        self.assert_tagged(c, "d2", wants=("BAD", "NO"))
        # (shorter: these must stay within max_line_length)
        c.send(b"d3 SEARCH " + b"NOT " * (depth // 4) + b"ALL\r\n")
        self.assert_tagged(c, "d3", wants=("BAD", "NO"))
        c.send(b"d4 SEARCH " + b"OR ALL " * (depth // 4) + b"ALL\r\n")
        self.assert_tagged(c, "d4", wants=("BAD", "NO"))
        c.send(b"d5 FETCH 1 " + b"(" * depth + b"FLAGS" + b")" * depth +
               b"\r\n")
        self.assert_tagged(c, "d5", wants=("BAD",))
        c.ok("NOOP")
        self.still_serving()

    def test_disconnect_inside_append(self):
        c = self.sess("appender")
        before = data_files(self.daemon.tmp)
        for plus in (False, True):
            s = imap_session(self.daemon, "appender", "appender-pw")
            size = 150000
            if plus:
                s.send(b"a1 APPEND INBOX {%d+}\r\n" % size)
            else:
                s.send(b"a1 APPEND INBOX {%d}\r\n" % size)
                r = s.response()
                self.assertTrue(r.startswith(b"+"), r)
            s.send(b"Subject: partial\r\n\r\n" + b"y" * (size // 2))
            s.sock.shutdown(socket.SHUT_RDWR)
            s.close()
        # the daemon noticed and dropped the half message
        deadline = time.monotonic() + 10
        while True:
            u = c.ok("STATUS INBOX (MESSAGES SIZE)")
            if b"MESSAGES 0" in b" ".join(u) or time.monotonic() > deadline:
                break
            time.sleep(0.1)  # polling, bounded by the deadline
        joined = b" ".join(u)
        self.assertRegex(joined, rb"MESSAGES 0\b")
        self.assertRegex(joined, rb"SIZE 0\b")
        c.ok("SELECT INBOX")
        self.assertEqual(search_nums(c.ok("SEARCH ALL")), [])
        self.assertEqual(data_files(self.daemon.tmp), before)
        self.still_serving()

    # -- mailbox names ------------------------------------------------

    BAD_NAMES = ["..", "../victim", "a/../b", "a/..", "./x", "a/./b", "/",
                 "/Lead", "//", "a//b", "~victim", "~victim/INBOX", "~",
                 "~/x", "&AC4ALg-", "&AC4ALg-/victim", "&AC8-Lead",
                 "x&AC8-", "&AH4-victim", "&Jjo!", "&-&", "a\x01b",
                 "&AGEAYgBj-"]

    def test_mailbox_names_stay_in_the_account(self):
        v = self.sess("victim")
        v.ok("CREATE Secret")
        secret = b"Subject: s\r\n\r\nsecret\r\n"
        v.ok(b"APPEND Secret {%d}\r\n" % len(secret) + secret)
        v_list = v.ok('LIST "" "*"')
        v_status = v.ok("STATUS Secret (MESSAGES UIDNEXT)")
        before = data_files(self.daemon.tmp)
        m = self.sess("mallory")
        m_before = m.ok('LIST "" "*"')
        names = self.BAD_NAMES + ["victim", "victim/Secret", "Secret"]
        for name in names:
            q = '"%s"' % name.replace("\\", "\\\\").replace('"', '\\"')
            for cmd in ("SELECT %s", "EXAMINE %s", "STATUS %s (MESSAGES)",
                        "DELETE %s", "APPEND %s {1+}\r\nx"):
                u, t = m.command(cmd % q)
                self.assertIn(status_of(t), ("NO", "BAD"), (cmd % q, t))
                self.assertFalse(any(b"MESSAGES 1" in r for r in u), u)
            for cmd in ("CREATE %s", "RENAME Drafts %s"):
                u, t = m.command(cmd % q)
                if name in self.BAD_NAMES:
                    self.assertIn(status_of(t), ("NO", "BAD"), (cmd % q, t))
                    if status_of(t) == "NO":
                        self.assertIn(resp_code(t), ("CANNOT", "NONEXISTENT",
                                                     "ALREADYEXISTS"), t)
                elif status_of(t) == "OK" and cmd.startswith("RENAME"):
                    m.ok('RENAME %s Drafts' % q)
        # "Trail/": RFC 9051 6.3.3 makes the trailing delimiter a hint;
        # either refused or the mailbox "Trail"
        u, t = m.command('CREATE "Trail/"')
        lst = m.ok('LIST "" "Trail*"')
        got = [harness.sexp(r[7:])[2] for r in lst if r.startswith(b"* LIST")]
        self.assertEqual(got, [b"Trail"] if status_of(t) == "OK" else [], t)
        # nothing reached the victim
        self.assertEqual(v.ok('LIST "" "*"'), v_list)
        self.assertEqual(v.ok("STATUS Secret (MESSAGES UIDNEXT)"), v_status)
        # mallory has only what it created under legal names
        after = m.ok('LIST "" "*"')
        new = {harness.sexp(r[7:])[2] for r in after
               if r.startswith(b"* LIST")} - \
            {harness.sexp(r[7:])[2] for r in m_before
             if r.startswith(b"* LIST")}
        self.assertTrue(new <= {b"victim", b"victim/Secret", b"Secret",
                                b"Trail"}, new)
        # and no file appeared anywhere
        self.assertEqual(data_files(self.daemon.tmp), before)
        self.still_serving()

    # -- SEARCH strings ----------------------------------------------

    def test_search_strings_are_literal(self):
        subjects = [b"abc", b"a%c", b"a_c", b'a"c', b"a\\c", b"a'c", b"A*C",
                    b"a[c]"]
        deliver(self.daemon, "finder",
                [b"Subject: " + s + b"\r\n\r\nbody " + s + b"\r\n"
                 for s in subjects])
        c = self.sess("finder")
        c.ok("SELECT INBOX")

        def s(q):
            return search_nums(c.ok(b"SEARCH SUBJECT " + q))

        self.assertEqual(s(b'"%"'), [2])
        self.assertEqual(s(b'"_"'), [3])
        self.assertEqual(s(b'"a_c"'), [3])
        self.assertEqual(s(b'"a%c"'), [2])
        self.assertEqual(s(b'"a%"'), [2])
        self.assertEqual(s(b'"\\""'), [4])
        self.assertEqual(s(b'"\\\\"'), [5])
        self.assertEqual(s(b"\"'\""), [6])
        self.assertEqual(s(b'"*"'), [7])
        self.assertEqual(s(b'"a*c"'), [7])  # case-insensitive, not a glob
        self.assertEqual(s(b'"[c]"'), [8])
        self.assertEqual(s(b"\"' OR 1=1 --\""), [])
        self.assertEqual(s(b'"%%"'), [])
        self.assertEqual(s(b"{1}\r\n%"), [2])
        u = c.ok(b'SEARCH BODY "_"')
        self.assertEqual(search_nums(u), [3])
        u = c.ok(b'SEARCH TEXT "a%c"')
        self.assertEqual(search_nums(u), [2])
        u = c.ok(b'SEARCH HEADER Subject "a_"')
        self.assertEqual(search_nums(u), [3])
        self.still_serving()

    # -- IDLE ---------------------------------------------------------

    def test_idle_ended_by_other_than_done(self):
        c = self.sess("idler")
        c.ok("SELECT INBOX")
        for tag, line in (("i1", b"NOOP"), ("i2", b"i9 NOOP"),
                          ("i3", b"DONE extra"), ("i4", b""),
                          ("i5", b"DONEDONE")):
            c.send(tag.encode() + b" IDLE\r\n")
            r = c.response()
            self.assertTrue(r.startswith(b"+"), r)
            c.send(line + b"\r\n")
            u, t = self.assert_tagged(c, tag, wants=("BAD",))
            self.assertFalse(any(r.startswith(b"i9 ") for r in u), u)
            c.ok("NOOP")
        c.send(b"i6 IDLE\r\n")
        self.assertTrue(c.response().startswith(b"+"))
        c.send(b"DONE\r\n")
        self.assert_tagged(c, "i6", wants=("OK",))
        self.still_serving()


if __name__ == "__main__":
    harness.main()
