#!/usr/bin/python3
"""IMAP semantics (RFC 9051, RFC 3501 and the extensions the server
announces) against the daemon: raw sessions for the exact bytes, imaplib
for a real client's view, and POP3 and IMAP on one maildrop."""

import base64
import datetime
import os
import poplib
import random
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (DaemonTestCase, deliver, fetch_items,  # noqa: E402
                     fetches, imap_session, imaplib_session, resp_code,
                     sasl_plain, sexp, status_of)

USERS = ("caps", "auth", "tls", "misc", "sel", "boxes", "inboxren", "subs",
         "lists", "stat", "app", "fetch", "store", "copy", "search", "expg",
         "close", "idle", "lib", "cross", "crossidle", "manycopy", "bin",
         "kw")

MULTIPART = (
    b'From: "Alice Example" <alice@example.org>\r\n'
    b'To: bob@example.org, "Carol" <carol@example.net>\r\n'
    b"Subject: multipart test\r\n"
    b"Date: Tue, 2 Jan 2024 03:04:05 +0100\r\n"
    b"Message-ID: <mp-1@po-test.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="XYZ"\r\n'
    b"\r\n"
    b"preamble\r\n"
    b"--XYZ\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n"
    b"\r\n"
    b"Hello body\r\n"
    b"second line\r\n"
    b"\r\n"
    b"--XYZ\r\n"
    b'Content-Type: application/octet-stream; name="data.bin"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b'Content-Disposition: attachment; filename="data.bin"\r\n'
    b"\r\n"
    b"AAECAwQFBgcICQ==\r\n"
    b"\r\n"
    b"--XYZ--\r\n"
    b"epilogue\r\n")
PART1 = b"Hello body\r\nsecond line\r\n"
PART2 = b"AAECAwQFBgcICQ==\r\n"


def simple(subject, body=b"hello\r\n", frm=b"sender@example.org",
           to=b"rcpt@po-test.example", date=b"Mon, 1 Jan 2024 00:00:00 +0000",
           extra=b""):
    return (b"From: " + frm + b"\r\nTo: " + to + b"\r\nSubject: " + subject +
            b"\r\nDate: " + date + b"\r\nMessage-ID: <" +
            re.sub(rb"[^A-Za-z0-9]", b"", subject) + b"." +
            str(random.random()).encode() + b"@x>\r\n" + extra + b"\r\n" +
            body)


def search_nums(untagged):
    """The numbers of the "* SEARCH" responses."""
    out = []
    for r in untagged:
        if r.upper().startswith(b"* SEARCH"):
            out += [int(x) for x in r.split()[2:]]
    return out


def esearch(untagged):
    """The "* ESEARCH" response as (tag or None, uid?, {NAME: value})."""
    rs = [r for r in untagged if r.upper().startswith(b"* ESEARCH")]
    if len(rs) != 1:
        raise AssertionError("expected one ESEARCH: %r" % untagged)
    vals = sexp(rs[0][len(b"* ESEARCH"):])
    tag, uid = None, False
    if vals and isinstance(vals[0], list):
        tag = vals[0][1].decode()
        vals = vals[1:]
    if vals and vals[0].upper() == b"UID":
        uid = True
        vals = vals[1:]
    return tag, uid, {vals[i].upper().decode(): vals[i + 1]
                      for i in range(0, len(vals), 2)}


def seqset(text):
    """"1:3,5" -> [1, 2, 3, 5]"""
    out = []
    for part in text.split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            out += list(range(min(a, b), max(a, b) + 1))
        else:
            out.append(int(part))
    return out


def code_args(tagged_or_untagged, code):
    """The arguments of response code CODE in a line: "[COPYUID 5 1:2 3:4]"
    -> ["5", "1:2", "3:4"]."""
    line = tagged_or_untagged
    if isinstance(line, bytes):
        line = line.decode("latin-1")
    m = re.search(r"\[" + re.escape(code) + r"(?: ([^\]]*))?\]", line, re.I)
    if not m:
        raise AssertionError("no [%s] in %r" % (code, line))
    return (m.group(1) or "").split()


def list_entries(untagged, kind=b"LIST"):
    """{name: (attributes lower-cased set, delimiter, extra items)} of the
    LIST (or LSUB) responses."""
    out = {}
    pre = b"* " + kind + b" "
    for r in untagged:
        if r.upper().startswith(pre):
            vals = sexp(r[len(pre):])
            attrs = {a.lower().decode() for a in vals[0]}
            name = vals[2].decode()
            out[name] = (attrs, vals[1], vals[3:])
    return out


def status_entries(untagged):
    """{mailbox: {ITEM: int}} of "* STATUS" responses."""
    out = {}
    for r in untagged:
        if r.upper().startswith(b"* STATUS "):
            vals = sexp(r[len(b"* STATUS "):])
            items = vals[1]
            out[vals[0].decode()] = {items[i].upper().decode():
                                     int(items[i + 1])
                                     for i in range(0, len(items), 2)}
    return out


def apply_expunges(untagged, uids):
    """The UID list after the "* n EXPUNGE" responses among untagged."""
    uids = list(uids)
    for r in untagged:
        m = re.match(rb"\* (\d+) EXPUNGE$", r)
        if m:
            n = int(m.group(1))
            if not 1 <= n <= len(uids):
                raise AssertionError("EXPUNGE %d of %d" % (n, len(uids)))
            del uids[n - 1]
    return uids


def internal_date(value):
    return datetime.datetime.strptime(value.decode().strip(),
                                      "%d-%b-%Y %H:%M:%S %z")


def lower_tree(v):
    if isinstance(v, list):
        return [lower_tree(x) for x in v]
    if isinstance(v, bytes):
        return v.lower()
    return v


class ImapTest(DaemonTestCase):
    ACCOUNTS = dict({u: (u + "-pw", True, True) for u in USERS},
                    noimap=("noimap-pw", True, False))

    def sess(self, user, tls=False):
        c = imap_session(self.daemon, user, user + "-pw", tls=tls)
        self.addCleanup(c.close)
        return c

    def select(self, c, box="INBOX"):
        return c.ok("SELECT " + box)

    def uids(self, c):
        return search_nums(c.ok("UID SEARCH ALL"))

    def exists(self, untagged):
        n = [int(m.group(1)) for m in
             (re.match(rb"\* (\d+) EXISTS$", r) for r in untagged) if m]
        return n[-1] if n else None

    def msgs(self, n, seed):
        rng = random.Random(seed)
        return [harness.make_message(seed * 1000 + i, rng) for i in range(n)]

    # -- any state, login ---------------------------------------------

    def caps(self, c):
        u, t = c.command("CAPABILITY")
        self.assertEqual(status_of(t), "OK", t)
        lines = [r for r in u if r.upper().startswith(b"* CAPABILITY ")]
        self.assertEqual(len(lines), 1, u)
        return {x.decode().upper() for x in lines[0].split()[2:]}

    def test_greeting_capability_noop_logout(self):
        c = self.daemon.imap()
        self.addCleanup(c.close)
        g = c.greeting()
        self.assertRegex(g, rb"^\* OK ")
        pre = self.caps(c)
        for cap in ("IMAP4REV1", "IMAP4REV2", "STARTTLS", "AUTH=PLAIN",
                    "SASL-IR", "LITERAL+", "ID", "ENABLE"):
            self.assertIn(cap, pre)
        # plaintext_auth = loopback: LOGIN is allowed here
        self.assertNotIn("LOGINDISABLED", pre)
        u, t = c.command("NOOP")
        self.assertEqual(status_of(t), "OK", t)
        u, t = c.login("caps", "caps-pw")
        self.assertEqual(status_of(t), "OK", t)
        post = self.caps(c)
        for cap in harness.IMAP_CAPS:
            self.assertIn(cap, post)
        self.assertNotIn("STARTTLS", post)  # RFC 9051 6.2.1: not after login
        u, t = c.command("NOOP")
        self.assertEqual(status_of(t), "OK", t)
        u, t = c.command("LOGOUT")
        self.assertEqual(status_of(t), "OK", t)
        self.assertTrue(any(r.startswith(b"* BYE") for r in u), u)
        self.assertTrue(c.closed_by_peer())
        # over IMAPS: no STARTTLS offered
        s = self.daemon.imap(tls=True)
        self.addCleanup(s.close)
        self.assertRegex(s.greeting(), rb"^\* OK ")
        caps = self.caps(s)
        self.assertIn("IMAP4REV2", caps)
        self.assertNotIn("STARTTLS", caps)

    def test_login_failures_and_authenticate_plain(self):
        c = self.daemon.imap()
        self.addCleanup(c.close)
        c.greeting()
        u, t = c.login("auth", "wrong")
        self.assertEqual((status_of(t), resp_code(t)),
                         ("NO", "AUTHENTICATIONFAILED"), t)
        u, t = c.login("nobody", "wrong")
        self.assertEqual((status_of(t), resp_code(t)),
                         ("NO", "AUTHENTICATIONFAILED"), t)
        # a command that needs login is refused before it
        u, t = c.command("SELECT INBOX")
        self.assertEqual(status_of(t), "BAD", t)
        # AUTHENTICATE PLAIN with the continuation
        tag = c.next_tag()
        c.send(tag + " AUTHENTICATE PLAIN\r\n")
        r = c.response()
        self.assertTrue(r.startswith(b"+"), r)
        c.send(sasl_plain("auth", "auth-pw") + "\r\n")
        u, t = c.until_tagged(tag)
        self.assertEqual(status_of(t), "OK", t)
        u, t = c.command("LOGOUT")
        # SASL-IR (RFC 4959): the initial response on the command line
        c2 = self.daemon.imap()
        self.addCleanup(c2.close)
        c2.greeting()
        u, t = c2.command("AUTHENTICATE PLAIN " + sasl_plain("auth", "x"))
        self.assertEqual((status_of(t), resp_code(t)),
                         ("NO", "AUTHENTICATIONFAILED"), t)
        # a cancelled exchange (RFC 9051 6.2.2: "*") is BAD
        tag = c2.next_tag()
        c2.send(tag + " AUTHENTICATE PLAIN\r\n")
        self.assertTrue(c2.response().startswith(b"+"))
        c2.send("*\r\n")
        u, t = c2.until_tagged(tag)
        self.assertEqual(status_of(t), "BAD", t)
        # an unknown mechanism
        u, t = c2.command("AUTHENTICATE X-NOPE")
        self.assertIn(status_of(t), ("NO", "BAD"), t)
        u, t = c2.command("AUTHENTICATE PLAIN " + sasl_plain("auth",
                                                              "auth-pw"))
        self.assertEqual(status_of(t), "OK", t)
        # authenticated: AUTHENTICATE and LOGIN are not valid any more
        u, t = c2.login("auth", "auth-pw")
        self.assertEqual(status_of(t), "BAD", t)
        # imaplib's authenticate
        m = self.daemon.imaplib()
        try:
            typ, _ = m.authenticate("PLAIN",
                                    lambda _: b"\0auth\0auth-pw")
            self.assertEqual(typ, "OK")
        finally:
            m.logout()

    def test_starttls(self):
        import imaplib
        m = self.daemon.imaplib()
        try:
            self.assertIn("STARTTLS", m.capabilities)
            typ, _ = m.starttls(ssl_context=self.daemon.ssl_context())
            self.assertEqual(typ, "OK")
            self.assertNotIn("STARTTLS", m.capabilities)
            m.login("tls", "tls-pw")
            typ, data = m.select("INBOX")
            self.assertEqual(typ, "OK", data)
        finally:
            m.logout()
        # over IMAPS
        m = imaplib_session(self.daemon, "tls", "tls-pw", tls=True)
        try:
            typ, data = m.select("INBOX")
            self.assertEqual(typ, "OK", data)
            # STARTTLS when TLS is on already
            with self.assertRaises(imaplib.IMAP4.error):
                m._simple_command("STARTTLS")
        finally:
            m.logout()
        # STARTTLS after login is not allowed (not authenticated state only)
        c = self.sess("tls")
        u, t = c.command("STARTTLS")
        self.assertEqual(status_of(t), "BAD", t)

    def test_enable_id_namespace(self):
        c = self.daemon.imap()
        self.addCleanup(c.close)
        c.greeting()
        u, t = c.command('ID ("name" "integration" "version" "1")')
        self.assertEqual(status_of(t), "OK", t)
        ids = [r for r in u if r.upper().startswith(b"* ID ")]
        self.assertEqual(len(ids), 1, u)
        v = sexp(ids[0][5:])[0]
        self.assertTrue(v is None or isinstance(v, list), ids)
        u, t = c.command("ID NIL")
        self.assertEqual(status_of(t), "OK", t)
        # ENABLE is for the authenticated state (RFC 5161 3.1)
        u, t = c.command("ENABLE IMAP4rev2")
        self.assertEqual(status_of(t), "BAD", t)
        c.login("misc", "misc-pw")
        u, t = c.command("ENABLE IMAP4rev2 UTF8=ACCEPT X-UNKNOWN")
        self.assertEqual(status_of(t), "OK", t)
        en = [r for r in u if r.upper().startswith(b"* ENABLED")]
        self.assertEqual(len(en), 1, u)
        names = {x.upper() for x in en[0].split()[2:]}
        self.assertEqual(names, {b"IMAP4REV2", b"UTF8=ACCEPT"})
        u, t = c.command("NAMESPACE")
        self.assertEqual(status_of(t), "OK", t)
        ns = [r for r in u if r.upper().startswith(b"* NAMESPACE ")]
        self.assertEqual(len(ns), 1, u)
        personal, other, shared = sexp(ns[0][len(b"* NAMESPACE "):])
        self.assertEqual(personal[0][:2], [b"", b"/"], ns)
        self.assertIsNone(other)
        self.assertIsNone(shared)
        # UTF8=ACCEPT: a UTF-8 name is sent as UTF-8, not modified UTF-7
        c.ok('CREATE "Caf\u00e9"'.encode("utf-8"))
        u = c.ok('LIST "" "Caf*"')
        self.assertIn("Caf\u00e9".encode("utf-8"),
                      [sexp(r[7:])[2] for r in u
                       if r.upper().startswith(b"* LIST ")])
        # without it (a new session): modified UTF-7 (RFC 3501 5.1.3)
        c2 = self.sess("misc")
        u = c2.ok('LIST "" "Caf*"')
        self.assertIn(b"Caf&AOk-", [sexp(r[7:])[2] for r in u
                                    if r.upper().startswith(b"* LIST ")])
        c2.ok("SELECT Caf&AOk-")

    # -- selecting ----------------------------------------------------

    def test_select_and_examine_responses(self):
        deliver(self.daemon, "sel", self.msgs(3, 1))
        c = self.sess("sel")
        u, t = c.command("SELECT INBOX")
        self.assertEqual(status_of(t), "OK", t)
        self.assertEqual(resp_code(t), "READ-WRITE", t)
        self.assertIn(b"* 3 EXISTS", u)
        flags = [r for r in u if r.upper().startswith(b"* FLAGS ")]
        self.assertEqual(len(flags), 1, u)
        fl = {x.lower() for x in sexp(flags[0][8:])[0]}
        for f in (b"\\seen", b"\\answered", b"\\flagged", b"\\deleted",
                  b"\\draft"):
            self.assertIn(f, fl)
        codes = {resp_code(r.decode("latin-1")): r for r in u
                 if r.startswith(b"* OK [")}
        self.assertIn("PERMANENTFLAGS", codes, u)
        self.assertIn(b"\\*", codes["PERMANENTFLAGS"])
        self.assertIn("UIDVALIDITY", codes, u)
        self.assertIn("UIDNEXT", codes, u)
        uidnext = int(code_args(codes["UIDNEXT"], "UIDNEXT")[0])
        uidvalidity = int(code_args(codes["UIDVALIDITY"], "UIDVALIDITY")[0])
        self.assertGreater(uidvalidity, 0)
        uids = self.uids(c)
        self.assertEqual(len(uids), 3)
        self.assertEqual(uids, sorted(uids))
        self.assertGreater(uidnext, uids[-1])
        # EXAMINE: read-only; STORE is refused, FETCH BODY[] sets nothing
        u, t = c.command("EXAMINE INBOX")
        self.assertEqual((status_of(t), resp_code(t)), ("OK", "READ-ONLY"),
                         t)
        u, t = c.command("STORE 1 +FLAGS (\\Flagged)")
        self.assertEqual(status_of(t), "NO", t)
        c.ok("FETCH 1 BODY[]")
        f = fetches(c.ok("FETCH 1 FLAGS"))
        self.assertNotIn(b"\\Seen", f[1][b"FLAGS"])
        # the same UIDVALIDITY in a second session
        c2 = self.sess("sel")
        u = c2.ok("EXAMINE INBOX")
        codes = {resp_code(r.decode("latin-1")): r for r in u
                 if r.startswith(b"* OK [")}
        self.assertEqual(int(code_args(codes["UIDVALIDITY"],
                                       "UIDVALIDITY")[0]), uidvalidity)
        # a failed SELECT leaves the selected state (RFC 9051 6.3.2)
        u, t = c.command("SELECT Nonexistent")
        self.assertEqual((status_of(t), resp_code(t)), ("NO", "NONEXISTENT"),
                         t)
        u, t = c.command("FETCH 1 FLAGS")
        self.assertEqual(status_of(t), "BAD", t)
        # IMAP4rev2 SELECT also sends the mailbox's LIST reply (6.3.2)
        c.ok("ENABLE IMAP4rev2")
        u = c.ok("SELECT INBOX")
        self.assertTrue(any(r.upper().startswith(b"* LIST ") for r in u), u)
        self.assertFalse(any(r.upper().startswith(b"* SEARCH") for r in u))

    # -- mailboxes ----------------------------------------------------

    def test_create_delete_rename(self):
        c = self.sess("boxes")
        c.ok('CREATE "Work/Projects/A"')
        got = list_entries(c.ok('LIST "" "Work*"'))
        self.assertEqual(set(got), {"Work", "Work/Projects",
                                    "Work/Projects/A"})
        self.assertIn("\\haschildren", got["Work"][0])
        self.assertIn("\\hasnochildren", got["Work/Projects/A"][0])
        self.assertEqual(got["Work"][1], b"/")
        u, t = c.command('CREATE "Work/Projects/A"')
        self.assertEqual((status_of(t), resp_code(t)),
                         ("NO", "ALREADYEXISTS"), t)
        u, t = c.command("CREATE INBOX")
        self.assertEqual(status_of(t), "NO", t)
        u, t = c.command("DELETE INBOX")
        self.assertEqual(status_of(t), "NO", t)
        u, t = c.command("DELETE Nope")
        self.assertEqual((status_of(t), resp_code(t)), ("NO", "NONEXISTENT"),
                         t)
        # a message in Work, then DELETE Work: it has children, so it
        # becomes \Noselect and its messages are gone (RFC 9051 6.3.4)
        c.ok(b"APPEND Work {%d}\r\n" % len(simple(b"w")) + simple(b"w"))
        c.ok("DELETE Work")
        got = list_entries(c.ok('LIST "" "Work*"'))
        self.assertIn("\\noselect", got["Work"][0])
        u, t = c.command("SELECT Work")
        self.assertEqual(status_of(t), "NO", t)
        c.ok("CREATE Work")  # a real mailbox again, empty
        st = status_entries(c.ok("STATUS Work (MESSAGES)"))
        self.assertEqual(st["Work"]["MESSAGES"], 0)
        # RENAME moves the children along
        c.ok('RENAME "Work/Projects" "Jobs/Old"')
        got = list_entries(c.ok('LIST "" "*"'))
        self.assertIn("Jobs/Old/A", got)
        self.assertIn("Jobs", got)
        self.assertNotIn("Work/Projects", got)
        self.assertNotIn("Work/Projects/A", got)
        u, t = c.command('RENAME "Jobs/Old" "Work"')
        self.assertEqual((status_of(t), resp_code(t)),
                         ("NO", "ALREADYEXISTS"), t)
        u, t = c.command('RENAME "Nope" "Other"')
        self.assertEqual((status_of(t), resp_code(t)), ("NO", "NONEXISTENT"),
                         t)
        u, t = c.command('RENAME "Jobs" "Jobs/Old/Inside"')
        self.assertEqual(status_of(t), "NO", t)
        c.ok('DELETE "Jobs/Old/A"')
        self.assertNotIn("Jobs/Old/A", list_entries(c.ok('LIST "" "*"')))

    def test_rename_inbox(self):
        sent = deliver(self.daemon, "inboxren", self.msgs(2, 2))
        c = self.sess("inboxren")
        c.ok('CREATE "INBOX/child"')
        c.ok('RENAME INBOX "Old Inbox"')
        st = status_entries(c.ok('STATUS INBOX (MESSAGES)'))
        self.assertEqual(st["INBOX"]["MESSAGES"], 0)
        got = list_entries(c.ok('LIST "" "*"'))
        self.assertIn("INBOX", got)
        self.assertIn("INBOX/child", got)  # children stay (6.3.6)
        self.assertNotIn("Old Inbox/child", got)
        c.ok('SELECT "Old Inbox"')
        f = fetches(c.ok("FETCH 1:* BODY.PEEK[]"))
        self.assertEqual([f[n][b"BODY[]"] for n in sorted(f)], sent)
        # a new delivery goes to the (new) INBOX
        deliver(self.daemon, "inboxren", [simple(b"after")])
        st = status_entries(c.ok('STATUS INBOX (MESSAGES)'))
        self.assertEqual(st["INBOX"]["MESSAGES"], 1)

    def test_subscribe_lsub(self):
        c = self.sess("subs")
        c.ok("CREATE Lists")
        c.ok("CREATE Lists/Sub")
        c.ok("UNSUBSCRIBE Lists")
        c.ok("UNSUBSCRIBE Lists/Sub")
        self.assertNotIn("Lists", list_entries(
            c.ok('LSUB "" "*"'), b"LSUB"))
        c.ok("SUBSCRIBE Lists/Sub")
        lsub = list_entries(c.ok('LSUB "" "*"'), b"LSUB")
        self.assertIn("Lists/Sub", lsub)
        self.assertNotIn("Lists", lsub)
        # LSUB with % shows the unsubscribed parent as \Noselect
        # (RFC 3501 6.3.9)
        lsub = list_entries(c.ok('LSUB "" "%"'), b"LSUB")
        self.assertIn("\\noselect", lsub.get("Lists", (set(),))[0])
        # LIST (SUBSCRIBED) (RFC 5258)
        got = list_entries(c.ok('LIST (SUBSCRIBED) "" "Lists*"'))
        self.assertEqual(set(got), {"Lists/Sub"})
        self.assertIn("\\subscribed", got["Lists/Sub"][0])
        # a name that does not exist may be subscribed (6.3.7)
        c.ok("SUBSCRIBE Ghost")
        got = list_entries(c.ok('LIST (SUBSCRIBED) "" "Ghost"'))
        self.assertIn("\\nonexistent", got["Ghost"][0])
        c.ok("UNSUBSCRIBE Ghost")
        self.assertEqual(list_entries(c.ok('LSUB "" "Ghost"'), b"LSUB"), {})

    def test_list_variants(self):
        c = self.sess("lists")
        c.ok("CREATE Top/Mid/Leaf")
        u, t = c.command('LIST "" ""')
        self.assertEqual(status_of(t), "OK", t)
        root = [r for r in u if r.upper().startswith(b"* LIST ")]
        self.assertEqual(len(root), 1, u)
        v = sexp(root[0][7:])
        self.assertIn(b"\\noselect", [a.lower() for a in v[0]])
        self.assertEqual((v[1], v[2]), (b"/", b""))
        every = list_entries(c.ok('LIST "" "*"'))
        for name in harness.IMAP_DEFAULT_MAILBOXES:
            self.assertIn(name, every)
        self.assertEqual(list(every)[0], "INBOX")
        top = list_entries(c.ok('LIST "" "%"'))
        self.assertIn("Top", top)
        self.assertNotIn("Top/Mid", top)
        self.assertEqual(set(list_entries(c.ok('LIST "" "Top/%"'))),
                         {"Top/Mid"})
        self.assertEqual(set(list_entries(c.ok('LIST "Top/" "%"'))),
                         {"Top/Mid"})
        self.assertIn("INBOX", list_entries(c.ok('LIST "" "inbox"')))
        # SPECIAL-USE (RFC 6154): as a selection and as a return option
        su = list_entries(c.ok('LIST (SPECIAL-USE) "" "*"'))
        want = {k: v for k, v in harness.IMAP_DEFAULT_MAILBOXES.items() if v}
        self.assertEqual(set(su), set(want))
        for name, use in want.items():
            self.assertIn(use.lower(), su[name][0])
        ret = list_entries(c.ok('LIST "" "*" RETURN (SPECIAL-USE)'))
        self.assertIn("\\sent", ret["Sent"][0])
        self.assertIn("Top/Mid/Leaf", ret)
        # RETURN (CHILDREN)
        ch = list_entries(c.ok('LIST "" "Top*" RETURN (CHILDREN)'))
        self.assertIn("\\haschildren", ch["Top"][0])
        self.assertIn("\\hasnochildren", ch["Top/Mid/Leaf"][0])
        # several patterns (RFC 5258 3)
        two = list_entries(c.ok('LIST "" ("INBOX" "Sent")'))
        self.assertEqual(set(two), {"INBOX", "Sent"})
        # RETURN (STATUS ...) (RFC 5819): a STATUS after each LIST
        deliver(self.daemon, "lists", [simple(b"a"), simple(b"b")])
        u = c.ok('LIST "" ("INBOX" "Top/Mid/Leaf") '
                 'RETURN (STATUS (MESSAGES UNSEEN UIDNEXT))')
        st = status_entries(u)
        self.assertEqual(st["INBOX"]["MESSAGES"], 2)
        self.assertEqual(st["INBOX"]["UNSEEN"], 2)
        self.assertEqual(st["Top/Mid/Leaf"]["MESSAGES"], 0)
        # the STATUS follows its LIST
        kinds = [r.split()[1].upper() for r in u]
        self.assertEqual(kinds, [b"LIST", b"STATUS", b"LIST", b"STATUS"])
        # a \Noselect parent gets no STATUS
        c.ok("DELETE Top/Mid")
        u = c.ok('LIST "" "Top*" RETURN (STATUS (MESSAGES))')
        self.assertNotIn("Top/Mid", status_entries(u))

    def test_status(self):
        sent = deliver(self.daemon, "stat", self.msgs(4, 3))
        c = self.sess("stat")
        st = status_entries(c.ok(
            "STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED "
            "SIZE)"))["INBOX"]
        self.assertEqual(st["MESSAGES"], 4)
        self.assertEqual(st["UNSEEN"], 4)
        self.assertEqual(st["DELETED"], 0)
        self.assertEqual(st["SIZE"], sum(len(m) for m in sent))
        self.assertGreater(st["UIDVALIDITY"], 0)
        self.select(c)
        uids = self.uids(c)
        self.assertGreater(st["UIDNEXT"], uids[-1])
        c.ok("STORE 1:2 +FLAGS.SILENT (\\Seen)")
        c.ok("STORE 4 +FLAGS.SILENT (\\Deleted)")
        c2 = self.sess("stat")
        st = status_entries(c2.ok(
            "STATUS INBOX (MESSAGES UNSEEN DELETED)"))["INBOX"]
        self.assertEqual((st["MESSAGES"], st["UNSEEN"], st["DELETED"]),
                         (4, 2, 1))
        u, t = c2.command("STATUS Nope (MESSAGES)")
        self.assertEqual((status_of(t), resp_code(t)), ("NO", "NONEXISTENT"),
                         t)
        st = status_entries(c2.ok("STATUS Sent (MESSAGES SIZE)"))["Sent"]
        self.assertEqual((st["MESSAGES"], st["SIZE"]), (0, 0))

    # -- APPEND and FETCH ---------------------------------------------

    def test_append(self):
        c = self.sess("app")
        msg = simple(b"appended", body=b"body \xc3\xa9\r\n.\r\n")
        u, t = c.command(b'APPEND Sent (\\Seen $Work) '
                         b'"01-Feb-2024 10:20:30 +0100" {%d}\r\n' % len(msg)
                         + msg)
        self.assertEqual(status_of(t), "OK", t)
        uv, uid = (int(x) for x in code_args(t, "APPENDUID"))
        u = c.ok("SELECT Sent")
        self.assertIn(b"* 1 EXISTS", u)
        f = fetches(c.ok("UID FETCH %d (UID FLAGS INTERNALDATE RFC822.SIZE "
                         "BODY.PEEK[])" % uid))[1]
        self.assertEqual(f[b"BODY[]"], msg)
        self.assertEqual(int(f[b"RFC822.SIZE"]), len(msg))
        self.assertEqual(int(f[b"UID"]), uid)
        self.assertEqual({x.lower() for x in f[b"FLAGS"]},
                         {b"\\seen", b"$work"})
        want = datetime.datetime(2024, 2, 1, 9, 20, 30,
                                 tzinfo=datetime.timezone.utc)
        self.assertEqual(internal_date(f[b"INTERNALDATE"]), want)
        codes = {resp_code(r.decode("latin-1")): r for r in u
                 if r.startswith(b"* OK [")}
        self.assertEqual(int(code_args(codes["UIDVALIDITY"],
                                       "UIDVALIDITY")[0]), uv)
        # LITERAL+ (RFC 7888): no continuation request
        m2 = simple(b"plus")
        tag = c.next_tag()
        c.send(tag.encode() + b" APPEND Sent {%d+}\r\n" % len(m2) + m2 +
               b"\r\n")
        u, t = c.until_tagged(tag)
        self.assertEqual(status_of(t), "OK", t)
        self.assertFalse(any(r.startswith(b"+") for r in u), u)
        uid2 = int(code_args(t, "APPENDUID")[1])
        self.assertGreater(uid2, uid)
        # the selected session learns of it (with APPEND's reply or NOOP's)
        u += c.ok("NOOP")
        self.assertIn(b"* 2 EXISTS", u)
        # no date: INTERNALDATE is about now
        f = fetches(c.ok("UID FETCH %d (INTERNALDATE BODY.PEEK[])" %
                         uid2))[2]
        self.assertEqual(f[b"BODY[]"], m2)
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertLess(abs((internal_date(f[b"INTERNALDATE"]) -
                             now).total_seconds()), 300)
        # a mailbox that does not exist: [TRYCREATE] (RFC 9051 6.3.12)
        u, t = c.command(b"APPEND Nope {3}\r\nx\r\n")
        self.assertEqual((status_of(t), resp_code(t)), ("NO", "TRYCREATE"),
                         t)
        # imaplib's APPEND
        m = imaplib_session(self.daemon, "app", "app-pw")
        try:
            m3 = simple(b"imaplib append")
            typ, data = m.append("Drafts", "(\\Draft)", None, m3)
            self.assertEqual(typ, "OK", data)
            self.assertIn(b"APPENDUID", data[0])
            m.select("Drafts")
            typ, data = m.fetch("1", "(FLAGS BODY.PEEK[])")
            self.assertEqual(data[0][1], m3)
            self.assertIn(b"\\Draft", data[0][0])
        finally:
            m.logout()

    def fetch_one(self, c, items, seq=1):
        u = c.ok("FETCH %d %s" % (seq, items))
        f = fetches(u)
        self.assertIn(seq, f, u)
        return f[seq]

    def test_literal8_append_and_nul_in_body(self):
        # RFC 3516 4.4: APPEND takes a literal8 (with or without "+");
        # only BINARY may send the NUL back, in a literal8 (RFC 9051
        # 4.3.1, 5); BODY[] sends it as 0x80, same length.
        c = self.sess("bin")
        data = b"A: b\r\n\r\nab\x00cd\x00"
        c.ok(b"APPEND INBOX ~{%d}\r\n" % len(data) + data)
        c.ok(b"APPEND INBOX ~{%d+}\r\n" % len(data) + data)
        self.select(c)
        u = c.ok("FETCH 1:2 (BODY.PEEK[] BINARY.PEEK[1] RFC822.SIZE)")
        self.assertEqual(len(u), 2, u)
        for r in u:
            self.assertIn(b"BODY[] {14}\r\nA: b\r\n\r\nab\x80cd\x80 ", r)
            self.assertIn(b"BINARY[1] ~{6}\r\nab\x00cd\x00 ", r)
            self.assertIn(b"RFC822.SIZE 14", r)

    def test_new_keyword_announced_before_fetch(self):
        # RFC 9051 7.3.5: FLAGS (and PERMANENTFLAGS) name a new keyword
        # before a FETCH shows it; .SILENT sends no FETCH at all.
        c = self.sess("kw")
        msg = simple(b"kw")
        for _ in range(2):
            c.ok(b"APPEND INBOX {%d}\r\n" % len(msg) + msg)
        self.select(c)
        u = c.ok("STORE 1 +FLAGS ($Fresh)")
        self.assertEqual(len(u), 3, u)
        self.assertTrue(u[0].startswith(b"* FLAGS (") and b"$Fresh" in u[0])
        self.assertIn(b"[PERMANENTFLAGS (", u[1])
        self.assertEqual(u[2], b"* 1 FETCH (FLAGS ($Fresh))")
        u = c.ok("STORE 2 +FLAGS.SILENT ($Fresher)")
        self.assertEqual(len(u), 2, u)
        self.assertIn(b"$Fresher", u[0])
        self.assertEqual(c.ok("NOOP"), [])

    def test_fetch_every_item(self):
        stored = deliver(self.daemon, "fetch", [MULTIPART])[0]
        hdr_end = stored.index(b"\r\n\r\n") + 4
        header, text = stored[:hdr_end], stored[hdr_end:]
        c = self.sess("fetch")
        self.select(c)
        f = self.fetch_one(c, "(UID FLAGS INTERNALDATE RFC822.SIZE "
                           "BODY.PEEK[] BODY.PEEK[HEADER] BODY.PEEK[TEXT])")
        self.assertEqual(f[b"BODY[]"], stored)
        self.assertEqual(f[b"BODY[HEADER]"], header)
        self.assertEqual(f[b"BODY[TEXT]"], text)
        self.assertEqual(int(f[b"RFC822.SIZE"]), len(stored))
        self.assertEqual(f[b"FLAGS"], [])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertLess(abs((internal_date(f[b"INTERNALDATE"]) -
                             now).total_seconds()), 300)
        # RFC822.* (RFC 3501 6.4.5) — RFC822.TEXT sets \Seen, so later
        f = self.fetch_one(c, "(RFC822.HEADER)")
        self.assertEqual(f[b"RFC822.HEADER"], header)
        # header fields, in the message's order, with the blank line
        f = self.fetch_one(c, "(BODY.PEEK[HEADER.FIELDS (Subject From)] "
                           "BODY.PEEK[HEADER.FIELDS.NOT (Subject "
                           "Return-Path)])")
        keys = {k.split(b" ")[0]: k for k in f}
        hf = [v for k, v in f.items()
              if k.startswith(b"BODY[HEADER.FIELDS (")][0]
        self.assertEqual(hf, b'From: "Alice Example" <alice@example.org>'
                         b"\r\nSubject: multipart test\r\n\r\n")
        hfn = [v for k, v in f.items()
               if k.startswith(b"BODY[HEADER.FIELDS.NOT")][0]
        want = b"".join(line + b"\r\n" for line in
                        header[:-4].split(b"\r\n")
                        if not line.lower().startswith((b"subject:",
                                                        b"return-path:")))
        self.assertEqual(hfn, want + b"\r\n", keys)
        # partial fetches (RFC 9051 6.4.5: the key is BODY[]<origin>)
        f = self.fetch_one(c, "(BODY.PEEK[]<0.10> BODY.PEEK[TEXT]<3.7>)")
        self.assertEqual(f[b"BODY[]<0>"], stored[:10])
        self.assertEqual(f[b"BODY[TEXT]<3>"], text[3:10])
        f = self.fetch_one(c, "BODY.PEEK[]<%d.1000>" % (len(stored) - 5))
        self.assertEqual(f[b"BODY[]<%d>" % (len(stored) - 5)], stored[-5:])
        f = self.fetch_one(c, "BODY.PEEK[]<%d.10>" % (len(stored) + 5))
        self.assertEqual(f[b"BODY[]<%d>" % (len(stored) + 5)], b"")
        # MIME parts
        f = self.fetch_one(c, "(BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2] "
                           "BODY.PEEK[2.MIME] BODY.PEEK[1]<6.4>)")
        self.assertEqual(f[b"BODY[1]"], PART1)
        self.assertEqual(f[b"BODY[1.MIME]"],
                         b"Content-Type: text/plain; charset=us-ascii"
                         b"\r\n\r\n")
        self.assertEqual(f[b"BODY[2]"], PART2)
        self.assertTrue(f[b"BODY[2.MIME]"].startswith(
            b'Content-Type: application/octet-stream; name="data.bin"'))
        self.assertEqual(f[b"BODY[1]<6>"], PART1[6:10])
        # a part that does not exist is empty (RFC 9051 6.4.5), or NO
        u, t = c.command("FETCH 1 BODY.PEEK[7]")
        if status_of(t) == "OK":
            self.assertEqual(fetches(u)[1][b"BODY[7]"] or b"", b"")
        else:
            self.assertEqual(status_of(t), "NO", t)
        # BINARY (RFC 3516): the decoded content and its size
        f = self.fetch_one(c, "(BINARY.PEEK[2] BINARY.SIZE[2] "
                           "BINARY.PEEK[1] BINARY.PEEK[2]<2.3>)")
        self.assertEqual(f[b"BINARY[2]"], bytes(range(10)))
        self.assertEqual(int(f[b"BINARY.SIZE[2]"]), 10)
        self.assertEqual(f[b"BINARY[1]"], PART1)
        self.assertEqual(f[b"BINARY[2]<2>"], bytes([2, 3, 4]))
        # ENVELOPE (RFC 9051 7.5.2)
        env = self.fetch_one(c, "ENVELOPE")[b"ENVELOPE"]
        alice = [[b"Alice Example", None, b"alice", b"example.org"]]
        self.assertEqual(env, [
            b"Tue, 2 Jan 2024 03:04:05 +0100", b"multipart test", alice,
            alice, alice,
            [[None, None, b"bob", b"example.org"],
             [b"Carol", None, b"carol", b"example.net"]],
            None, None, None, b"<mp-1@po-test.example>"])
        # BODYSTRUCTURE and BODY
        f = self.fetch_one(c, "(BODYSTRUCTURE BODY)")
        bs, body = lower_tree(f[b"BODYSTRUCTURE"]), lower_tree(f[b"BODY"])
        p1 = [b"text", b"plain", [b"charset", b"us-ascii"], None, None,
              b"7bit", str(len(PART1)).encode(), b"2"]
        p2 = [b"application", b"octet-stream", [b"name", b"data.bin"], None,
              None, b"base64", str(len(PART2)).encode()]
        self.assertEqual(body, [p1, p2, b"mixed"])
        self.assertEqual(bs[0][:8], p1)
        self.assertEqual(bs[1][:7], p2)
        self.assertEqual(bs[2], b"mixed")
        # extension data, as far as the server sends it (all optional
        # after body-fld-md5 / the parameters)
        self.assertEqual(bs[0][8:9], [None])  # md5
        self.assertEqual(bs[1][7:9], [None, [b"attachment",
                                            [b"filename", b"data.bin"]]])
        self.assertEqual(bs[3], [b"boundary", b"xyz"])
        # macros (RFC 9051 6.4.5)
        for macro, items in (("ALL", {b"FLAGS", b"INTERNALDATE",
                                      b"RFC822.SIZE", b"ENVELOPE"}),
                             ("FAST", {b"FLAGS", b"INTERNALDATE",
                                       b"RFC822.SIZE"}),
                             ("FULL", {b"FLAGS", b"INTERNALDATE",
                                       b"RFC822.SIZE", b"ENVELOPE",
                                       b"BODY"})):
            self.assertEqual(set(self.fetch_one(c, macro)), items, macro)
        # nothing so far set \Seen; BODY[TEXT] does, and says so
        self.assertEqual(self.fetch_one(c, "FLAGS")[b"FLAGS"], [])
        f = self.fetch_one(c, "BODY[TEXT]")
        self.assertEqual(f[b"BODY[TEXT]"], text)
        self.assertIn(b"\\Seen", self.fetch_one(c, "FLAGS")[b"FLAGS"])
        f = self.fetch_one(c, "(RFC822 RFC822.TEXT)")
        self.assertEqual(f[b"RFC822"], stored)
        self.assertEqual(f[b"RFC822.TEXT"], text)
        # UID FETCH always carries UID; a range past the end is empty
        uid = self.uids(c)[0]
        u = c.ok("UID FETCH %d:* FLAGS" % uid)
        self.assertEqual(int(fetches(u)[1][b"UID"]), uid)
        u = c.ok("UID FETCH %d FLAGS" % (uid + 100))
        self.assertEqual(fetches(u), {})
        u, t = c.command("FETCH 2 FLAGS")  # no message 2
        self.assertEqual(status_of(t), "BAD", t)

    # -- STORE, COPY, MOVE --------------------------------------------

    def test_store_variants(self):
        deliver(self.daemon, "store", self.msgs(3, 4))
        c = self.sess("store")
        self.select(c)
        f = fetches(c.ok("STORE 1 +FLAGS (\\Flagged)"))
        self.assertEqual(f[1][b"FLAGS"], [b"\\Flagged"])
        f = fetches(c.ok("STORE 1 +FLAGS (\\Seen $Label1)"))
        self.assertEqual({x.lower() for x in f[1][b"FLAGS"]},
                         {b"\\flagged", b"\\seen", b"$label1"})
        f = fetches(c.ok("STORE 1 -FLAGS (\\Flagged)"))
        self.assertEqual({x.lower() for x in f[1][b"FLAGS"]},
                         {b"\\seen", b"$label1"})
        f = fetches(c.ok("STORE 1 FLAGS (\\Answered)"))
        self.assertEqual(f[1][b"FLAGS"], [b"\\Answered"])
        self.assertEqual(fetches(c.ok("STORE 1:3 +FLAGS.SILENT "
                                      "(\\Draft)")), {})
        f = fetches(c.ok("FETCH 1:3 FLAGS"))
        for n in (1, 2, 3):
            self.assertIn(b"\\Draft", f[n][b"FLAGS"])
        f = fetches(c.ok("STORE 2:3 FLAGS.SILENT ()"))
        self.assertEqual(f, {})
        f = fetches(c.ok("FETCH 2:3 FLAGS"))
        self.assertEqual((f[2][b"FLAGS"], f[3][b"FLAGS"]), ([], []))
        # UID STORE reports the UID (RFC 9051 6.4.9)
        uids = self.uids(c)
        f = fetches(c.ok("UID STORE %d +FLAGS $Work" % uids[2]))
        self.assertEqual(int(f[3][b"UID"]), uids[2])
        self.assertIn(b"$Work", f[3][b"FLAGS"])
        # new keywords are announced in FLAGS / PERMANENTFLAGS
        u = c.ok("SELECT INBOX")
        flags = [r for r in u if r.upper().startswith(b"* FLAGS ")][0]
        self.assertIn(b"$Work", flags)
        # \Recent may not be stored; a keyword must be an atom
        u, t = c.command("STORE 1 +FLAGS (\\Recent)")
        self.assertEqual(status_of(t), "BAD", t)
        u, t = c.command("STORE 1 +FLAGS (\\Bogus)")
        self.assertEqual(status_of(t), "BAD", t)
        # another session sees the change on NOOP
        c2 = self.sess("store")
        self.select(c2)
        c.ok("STORE 2 +FLAGS.SILENT (\\Flagged)")
        f = fetches(c2.ok("NOOP"))
        self.assertIn(b"\\Flagged", f[2][b"FLAGS"])

    def test_copyuid_of_many_scattered_uids(self):
        """A COPYUID naming hundreds of scattered UIDs still comes whole
        in the tagged OK (RFC 4315 §3), however long."""
        c = self.sess("manycopy")
        for i in range(400):
            m = b"Subject: %d\r\n\r\nbody %d\r\n" % (i, i)
            c.ok(b"APPEND INBOX {%d+}\r\n" % len(m) + m)
        self.select(c)
        odd = list(range(1, 400, 2))
        u, t = c.command("UID COPY %s Archive" % ",".join(map(str, odd)))
        self.assertEqual(status_of(t), "OK", t)
        self.assertGreater(len(t), 600)
        uv, src, dst = code_args(t, "COPYUID")
        self.assertEqual(seqset(src), odd)
        self.assertEqual(len(seqset(dst)), 200)
        u = c.ok("EXAMINE Archive")
        self.assertIn(b"* 200 EXISTS", u)

    def test_copy_move(self):
        sent = deliver(self.daemon, "copy", self.msgs(4, 5))
        c = self.sess("copy")
        self.select(c)
        uids = self.uids(c)
        c.ok("STORE 2 +FLAGS.SILENT (\\Flagged $Keep)")
        u, t = c.command("COPY 1:2 Archive")
        self.assertEqual(status_of(t), "OK", t)
        uv, src, dst = code_args(t, "COPYUID")
        self.assertEqual(seqset(src), uids[:2])
        dst = seqset(dst)
        # UID MOVE (RFC 6851): COPYUID untagged, then EXPUNGE
        u, t = c.command("UID MOVE %d Trash" % uids[3])
        self.assertEqual(status_of(t), "OK", t)
        ok = [r for r in u if b"[COPYUID" in r.upper()]
        self.assertEqual(len(ok), 1, u)
        mv_src = seqset(code_args(ok[0], "COPYUID")[1])
        self.assertEqual(mv_src, [uids[3]])
        self.assertEqual(apply_expunges(u, uids), uids[:3])
        u, t = c.command("MOVE 1 Nope")
        self.assertEqual((status_of(t), resp_code(t)), ("NO", "TRYCREATE"),
                         t)
        u, t = c.command("COPY 1 Nope")
        self.assertEqual((status_of(t), resp_code(t)), ("NO", "TRYCREATE"),
                         t)
        u = c.ok("MOVE 3 Junk")
        self.assertEqual(apply_expunges(u, uids[:3]), uids[:2])
        # what arrived: the same bytes, the flags kept
        c.ok("SELECT Archive")
        f = fetches(c.ok("UID FETCH %s (UID FLAGS BODY.PEEK[])" %
                         ",".join(map(str, dst))))
        got = {int(v[b"UID"]): v for v in f.values()}
        self.assertEqual(sorted(got), dst)
        self.assertEqual(got[dst[0]][b"BODY[]"], sent[0])
        self.assertEqual(got[dst[1]][b"BODY[]"], sent[1])
        self.assertEqual({x.lower() for x in got[dst[1]][b"FLAGS"]},
                         {b"\\flagged", b"$keep"})
        c.ok("SELECT Trash")
        f = fetches(c.ok("FETCH 1:* BODY.PEEK[]"))
        self.assertEqual([v[b"BODY[]"] for v in f.values()], [sent[3]])
        c.ok("SELECT Junk")
        f = fetches(c.ok("FETCH 1:* BODY.PEEK[]"))
        self.assertEqual([v[b"BODY[]"] for v in f.values()], [sent[2]])
        # INBOX kept the first two
        st = status_entries(c.ok("STATUS INBOX (MESSAGES)"))
        self.assertEqual(st["INBOX"]["MESSAGES"], 2)
        # imaplib: COPY and MOVE via uid()
        m = imaplib_session(self.daemon, "copy", "copy-pw")
        try:
            m.select("INBOX")
            typ, data = m.uid("COPY", str(uids[0]), "Sent")
            self.assertEqual(typ, "OK", data)
            typ, data = m.uid("MOVE", str(uids[0]), "Drafts")
            self.assertEqual(typ, "OK", data)
            typ, data = m.uid("SEARCH", None, "ALL")
            self.assertEqual(data[0].split(), [str(uids[1]).encode()])
        finally:
            m.logout()

    # -- SEARCH -------------------------------------------------------

    def test_search(self):
        msgs = [
            simple(b"alpha report", body=b"the quick brown fox\r\n",
                   frm=b"Ann <ann@example.org>",
                   date=b"Wed, 10 Jan 2024 10:00:00 +0000"),
            simple(b"beta \xc3\xa9t\xc3\xa9 news", body=b"lazy dog\r\n",
                   frm=b"bob@example.net", to=b"team@example.org",
                   date=b"Sat, 20 Jan 2024 10:00:00 +0000",
                   extra=b"X-Tag: green\r\n"),
            simple(b"gamma", body=b"z" * 5000 + b"\r\n",
                   frm=b"carol@example.com",
                   date=b"Thu, 1 Feb 2024 10:00:00 +0000"),
            simple(b"100% of_the \"quoted\" subject", body=b"percent\r\n",
                   date=b"Fri, 2 Feb 2024 10:00:00 +0000"),
        ]
        deliver(self.daemon, "search", msgs)
        c = self.sess("search")
        self.select(c)
        uids = self.uids(c)
        c.ok("STORE 2 +FLAGS.SILENT (\\Flagged $Hot)")
        c.ok("STORE 3 +FLAGS.SILENT (\\Seen \\Deleted)")

        def s(criteria, uid=False):
            return search_nums(c.ok(("UID " if uid else "") + "SEARCH " +
                                    criteria))

        self.assertEqual(s("ALL"), [1, 2, 3, 4])
        self.assertEqual(s("SUBJECT alpha"), [1])
        self.assertEqual(s("SUBJECT ALPHA"), [1])  # case-insensitive
        self.assertEqual(s("FROM ann"), [1])
        self.assertEqual(s("FROM example.net"), [2])
        self.assertEqual(s("TO team"), [2])
        self.assertEqual(s("BODY brown"), [1])
        self.assertEqual(s("TEXT lazy"), [2])
        self.assertEqual(s("TEXT beta"), [2])  # TEXT covers the header
        self.assertEqual(s("HEADER X-Tag green"), [2])
        self.assertEqual(s('HEADER X-Tag ""'), [2])
        self.assertEqual(s("LARGER 4000"), [3])
        self.assertEqual(s("SMALLER 4000"), [1, 2, 4])
        self.assertEqual(s("FLAGGED"), [2])
        self.assertEqual(s("UNFLAGGED"), [1, 3, 4])
        self.assertEqual(s("SEEN"), [3])
        self.assertEqual(s("UNSEEN"), [1, 2, 4])
        self.assertEqual(s("DELETED"), [3])
        self.assertEqual(s("UNDELETED"), [1, 2, 4])
        self.assertEqual(s("KEYWORD $Hot"), [2])
        self.assertEqual(s("UNKEYWORD $Hot"), [1, 3, 4])
        self.assertEqual(s("KEYWORD $Never"), [])
        self.assertEqual(s("NOT SUBJECT alpha"), [2, 3, 4])
        self.assertEqual(s("OR SUBJECT alpha SUBJECT gamma"), [1, 3])
        self.assertEqual(s("(SUBJECT alpha) (FROM ann)"), [1])
        self.assertEqual(s("2:3"), [2, 3])
        self.assertEqual(s("UID %d:%d" % (uids[1], uids[2])), [2, 3])
        self.assertEqual(s("SENTBEFORE 20-Jan-2024"), [1])
        self.assertEqual(s("SENTON 20-Jan-2024"), [2])
        self.assertEqual(s("SENTSINCE 1-Feb-2024"), [3, 4])
        today = datetime.datetime.now(datetime.timezone.utc)
        day = today.strftime("%d-%b-%Y")
        self.assertEqual(s("SINCE 1-Jan-2020"), [1, 2, 3, 4])
        self.assertEqual(s("BEFORE 1-Jan-2020"), [])
        on = s("ON " + day)  # delivered today (UTC), unless at midnight
        self.assertIn(on, ([1, 2, 3, 4], []))
        u = c.ok(b'SEARCH CHARSET UTF-8 SUBJECT "\xc3\xa9t\xc3\xa9"')
        self.assertEqual(search_nums(u), [2])
        u = c.ok(b'SEARCH CHARSET UTF-8 SUBJECT {5}\r\n\xc3\xa9t\xc3\xa9')
        self.assertEqual(search_nums(u), [2])
        u, t = c.command("SEARCH CHARSET X-NOPE SUBJECT a")
        self.assertEqual((status_of(t), resp_code(t)), ("NO", "BADCHARSET"),
                         t)
        # strings mean themselves: no LIKE/SQL wildcards
        self.assertEqual(s('SUBJECT "100%"'), [4])
        self.assertEqual(s('SUBJECT "%"'), [4])
        self.assertEqual(s('SUBJECT "_"'), [4])
        self.assertEqual(s('SUBJECT "of_the"'), [4])
        self.assertEqual(s('SUBJECT "o__he"'), [])
        self.assertEqual(s('SUBJECT "a%t"'), [])
        self.assertEqual(s('SUBJECT "\\"quoted\\""'), [4])
        self.assertEqual(s("SUBJECT \"'\""), [])
        self.assertEqual(s("ALL", uid=True), uids)
        self.assertEqual(s("FLAGGED", uid=True), [uids[1]])
        # ESEARCH (RFC 4731)
        tag = c.next_tag()
        u, t = c.command("SEARCH RETURN (MIN MAX COUNT ALL) UNDELETED",
                         tag=tag)
        etag, uid, r = esearch(u)
        self.assertEqual((etag, uid), (tag, False))
        self.assertEqual(r, {"MIN": b"1", "MAX": b"4", "COUNT": b"3",
                             "ALL": b"1:2,4"})
        tag = c.next_tag()
        u, t = c.command("UID SEARCH RETURN () FLAGGED", tag=tag)
        etag, uid, r = esearch(u)
        self.assertEqual((etag, uid), (tag, True))
        self.assertEqual(seqset(r["ALL"].decode()), [uids[1]])
        u = c.ok("SEARCH RETURN (COUNT) SUBJECT nothing-matches")
        self.assertEqual(esearch(u)[2], {"COUNT": b"0"})
        # SEARCHRES (RFC 5182): SAVE, then $
        u = c.ok("SEARCH RETURN (SAVE) OR FLAGGED SEEN")
        self.assertFalse(any(r.upper().startswith((b"* SEARCH",
                                                   b"* ESEARCH"))
                             for r in u), u)
        f = fetches(c.ok("FETCH $ (UID)"))
        self.assertEqual(sorted(int(v[b"UID"]) for v in f.values()),
                         [uids[1], uids[2]])
        self.assertEqual(s("$ SUBJECT gamma"), [3])
        self.assertEqual(s("UID $", uid=True), [uids[1], uids[2]])
        c.ok("UID STORE $ +FLAGS.SILENT ($Saved)")
        self.assertEqual(s("KEYWORD $Saved"), [2, 3])
        # bad criteria: BAD with the tag
        for bad in ("SEARCH", "SEARCH FROBNICATE", "SEARCH LARGER x",
                    "SEARCH BEFORE 32-Jan-2024", "SEARCH OR SEEN",
                    "SEARCH (SEEN"):
            u, t = c.command(bad)
            self.assertEqual(status_of(t), "BAD", (bad, t))

    # -- EXPUNGE, CLOSE, UNSELECT -------------------------------------

    def test_expunge_and_uid_expunge(self):
        deliver(self.daemon, "expg", self.msgs(6, 6))
        c = self.sess("expg")
        self.select(c)
        uids = self.uids(c)
        c.ok("STORE 2,4 +FLAGS.SILENT (\\Deleted)")
        u = c.ok("EXPUNGE")
        self.assertEqual(apply_expunges(u, uids),
                         [uids[0], uids[2], uids[4], uids[5]])
        self.assertEqual(self.uids(c), [uids[0], uids[2], uids[4], uids[5]])
        # UID EXPUNGE (RFC 4315 2.1): only the named \Deleted ones
        c.ok("STORE 1:* +FLAGS.SILENT (\\Deleted)")
        u = c.ok("UID EXPUNGE %d,%d" % (uids[0], uids[5]))
        self.assertEqual(apply_expunges(u, [uids[0], uids[2], uids[4],
                                            uids[5]]), [uids[2], uids[4]])
        st = status_entries(self.sess("expg").ok(
            "STATUS INBOX (MESSAGES DELETED)"))["INBOX"]
        self.assertEqual((st["MESSAGES"], st["DELETED"]), (2, 2))
        # another selected session gets the EXPUNGEs on NOOP
        c2 = self.sess("expg")
        self.select(c2)
        c.ok("EXPUNGE")
        u = c2.ok("NOOP")
        self.assertEqual(apply_expunges(u, [uids[2], uids[4]]), [])
        # and EXPUNGE is refused read-only
        c2.ok("EXAMINE INBOX")
        u, t = c2.command("EXPUNGE")
        self.assertEqual(status_of(t), "NO", t)

    def test_close_and_unselect(self):
        deliver(self.daemon, "close", self.msgs(4, 7))
        c = self.sess("close")
        self.select(c)
        c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        u = c.ok("UNSELECT")  # no expunge
        self.assertFalse(any(b"EXPUNGE" in r for r in u), u)
        u, t = c.command("FETCH 1 FLAGS")
        self.assertEqual(status_of(t), "BAD", t)
        st = status_entries(c.ok("STATUS INBOX (MESSAGES)"))
        self.assertEqual(st["INBOX"]["MESSAGES"], 4)
        # CLOSE on EXAMINE expunges nothing
        c.ok("EXAMINE INBOX")
        c.ok("CLOSE")
        st = status_entries(c.ok("STATUS INBOX (MESSAGES)"))
        self.assertEqual(st["INBOX"]["MESSAGES"], 4)
        # CLOSE expunges silently (RFC 9051 6.4.1)
        self.select(c)
        c.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        u = c.ok("CLOSE")
        self.assertFalse(any(b"EXPUNGE" in r for r in u), u)
        st = status_entries(c.ok("STATUS INBOX (MESSAGES)"))
        self.assertEqual(st["INBOX"]["MESSAGES"], 2)
        u, t = c.command("CLOSE")
        self.assertEqual(status_of(t), "BAD", t)
        self.select(c)
        c.ok("CHECK")

    # -- IDLE ---------------------------------------------------------

    def idle_start(self, c):
        tag = c.next_tag()
        c.send(tag + " IDLE\r\n")
        r = c.response()
        self.assertTrue(r.startswith(b"+"), r)
        return tag

    def wait_for(self, c, pred, what, bound=15.0):
        """Responses until one satisfies pred; all of them."""
        got = []
        deadline = time.monotonic() + bound
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.fail("no %s within %gs: %r" % (what, bound, got))
            c.sock.settimeout(left)
            try:
                r = c.response()
            except socket.timeout:
                self.fail("no %s within %gs: %r" % (what, bound, got))
            finally:
                c.sock.settimeout(harness.IO_TIMEOUT)
            got.append(r)
            if pred(r):
                return got

    def test_idle(self):
        c = self.sess("idle")
        u = self.select(c)
        self.assertIn(b"* 0 EXISTS", u)
        tag = self.idle_start(c)
        deliver(self.daemon, "idle", [simple(b"while idle")])
        self.wait_for(c, lambda r: r == b"* 1 EXISTS", "EXISTS")
        # a flag change by another session arrives too
        c2 = self.sess("idle")
        self.select(c2)
        c2.ok("STORE 1 +FLAGS.SILENT (\\Flagged)")
        got = self.wait_for(c, lambda r: re.match(rb"\* 1 FETCH ", r),
                            "FETCH")
        self.assertIn(b"\\Flagged", fetch_items(got[-1])[1][b"FLAGS"])
        c.send("DONE\r\n")
        u, t = c.until_tagged(tag)
        self.assertEqual(status_of(t), "OK", t)
        # IDLE in the authenticated state (no mailbox) is allowed
        c.ok("UNSELECT")
        tag = self.idle_start(c)
        c.send("done\r\n")  # case-insensitive
        u, t = c.until_tagged(tag)
        self.assertEqual(status_of(t), "OK", t)
        # anything else ends IDLE with BAD (RFC 2177)
        tag = self.idle_start(c)
        c.send("NOOP\r\n")
        u, t = c.until_tagged(tag)
        self.assertEqual(status_of(t), "BAD", t)
        c.ok("NOOP")

    # -- a real client: imaplib ---------------------------------------

    def test_imaplib_session(self):
        import imaplib
        sent = deliver(self.daemon, "lib", self.msgs(3, 8))
        for tls in (False, True):
            m = imaplib_session(self.daemon, "lib", "lib-pw", tls=tls)
            try:
                self.assertIn("IMAP4REV2", m.capabilities)
                typ, data = m.list()
                self.assertEqual(typ, "OK")
                names = [d.rsplit(b" ", 1)[-1].strip(b'"') for d in data]
                self.assertIn(b"INBOX", names)
                typ, data = m.select("INBOX")
                self.assertEqual((typ, data), ("OK", [b"3"]))
                typ, data = m.fetch("1:3", "(UID BODY.PEEK[])")
                bodies = [d[1] for d in data if isinstance(d, tuple)]
                self.assertEqual(bodies, sent)
                typ, data = m.search(None, "ALL")
                self.assertEqual(data, [b"1 2 3"])
                typ, data = m.status("INBOX", "(MESSAGES UNSEEN)")
                self.assertEqual(typ, "OK")
                typ, data = m.namespace()
                self.assertEqual(typ, "OK")
                typ, data = m._simple_command("ID", "NIL")
                self.assertEqual(typ, "OK")
                typ, data = m.noop()
                self.assertEqual(typ, "OK")
                typ, data = m.check()
                self.assertEqual(typ, "OK")
                typ, data = m.unselect()
                self.assertEqual(typ, "OK")
                with self.assertRaises(imaplib.IMAP4.error):
                    m.fetch("1", "FLAGS")  # not selected any more
            finally:
                typ, _ = m.logout()
                self.assertEqual(typ, "BYE")
        m = imaplib_session(self.daemon, "lib", "lib-pw")
        try:
            m.create("Lib")
            m.select("INBOX")
            m.store("1", "+FLAGS", "(\\Deleted)")
            m.copy("2", "Lib")
            typ, data = m.expunge()
            self.assertEqual(data, [b"1"])
            typ, data = m.select("Lib", readonly=True)
            self.assertEqual(data, [b"1"])
            typ, data = m.fetch("1", "(BODY.PEEK[])")
            self.assertEqual(data[0][1], sent[1])
            m.close()
            m.rename("Lib", "Lib2")
            m.subscribe("Lib2")
            typ, data = m.lsub()
            self.assertTrue(any(d.endswith(b"Lib2") or
                                d.endswith(b'"Lib2"') for d in data), data)
            m.unsubscribe("Lib2")
            m.delete("Lib2")
            typ, data = m.list('""', "Lib*")
            self.assertEqual(data, [None])
        finally:
            m.logout()

    # -- accounts -----------------------------------------------------

    def test_imap_disabled_account(self):
        c = self.daemon.imap()
        self.addCleanup(c.close)
        c.greeting()
        u, t = c.login("noimap", "noimap-pw")
        self.assertEqual((status_of(t), resp_code(t)), ("NO", "CONTACTADMIN"),
                         t)
        self.assertIn("imap", t.lower())
        # a wrong password does not tell that the account exists
        u, t = c.login("noimap", "wrong")
        self.assertEqual((status_of(t), resp_code(t)),
                         ("NO", "AUTHENTICATIONFAILED"), t)
        u, t = c.command("AUTHENTICATE PLAIN " + sasl_plain("noimap",
                                                            "noimap-pw"))
        self.assertEqual((status_of(t), resp_code(t)), ("NO", "CONTACTADMIN"),
                         t)
        u, t = c.command("SELECT INBOX")
        self.assertEqual(status_of(t), "BAD", t)
        # POP3 still works for it
        self.assertEqual(harness.pop_stat(self.daemon, "noimap",
                                          "noimap-pw")[0], 0)
        # switched on by the admin: the next login works
        self.daemon.admin("account", "imap", "noimap", "on")
        try:
            u, t = c.login("noimap", "noimap-pw")
            self.assertEqual(status_of(t), "OK", t)
        finally:
            self.daemon.admin("account", "imap", "noimap", "off")

    # -- POP3 and IMAP on one maildrop --------------------------------

    def test_pop3_deletes_while_imap_selected(self):
        sent = deliver(self.daemon, "cross", self.msgs(4, 9))
        c = self.sess("cross")
        u = self.select(c)
        self.assertIn(b"* 4 EXISTS", u)
        uids = self.uids(c)
        p = poplib.POP3("127.0.0.1", self.daemon.port["pop3"],
                        timeout=harness.IO_TIMEOUT)
        p.user("cross")
        p.pass_("cross-pw")
        count, _ = p.stat()
        self.assertEqual(count, 4)
        for i in range(1, 5):
            _, lines, _ = p.retr(i)
            self.assertEqual(b"\r\n".join(lines) + b"\r\n", sent[i - 1])
            p.dele(i)
        # before QUIT nothing is gone
        u = c.ok("NOOP")
        self.assertFalse(any(b"EXPUNGE" in r for r in u), u)
        p.quit()
        deadline = time.monotonic() + 10
        left = uids
        while left and time.monotonic() < deadline:
            u = c.ok("NOOP")
            left = apply_expunges(u, left)
        self.assertEqual(left, [])
        u = c.ok("UID SEARCH ALL")
        self.assertEqual(search_nums(u), [])
        u, t = c.command("FETCH 1 FLAGS")
        self.assertEqual(status_of(t), "BAD", t)

    def test_pop3_deletes_while_imap_idles(self):
        deliver(self.daemon, "crossidle", self.msgs(3, 10))
        c = self.sess("crossidle")
        self.select(c)
        uids = self.uids(c)
        tag = self.idle_start(c)
        harness.pop_fetch_all(self.daemon, "crossidle", "crossidle-pw",
                              delete=True)
        left = list(uids)
        got = []

        def pred(r):
            got.append(r)
            return sum(1 for x in got if x.endswith(b" EXPUNGE")) == 3

        self.wait_for(c, pred, "3 EXPUNGEs")
        self.assertEqual(apply_expunges(got, left), [])
        c.send("DONE\r\n")
        u, t = c.until_tagged(tag)
        self.assertEqual(status_of(t), "OK", t)


if __name__ == "__main__":
    harness.main()
