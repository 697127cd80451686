#!/usr/bin/python3
"""Real IMAP clients against the daemon: curl (imap://, imaps://), mbsync
(two-way sync of several folders), offlineimap3, node's imapflow.  Every
message they hand back is compared byte for byte with what was delivered
(Maildir files with LF line ends are compared after CRLF normalisation)."""

import base64
import json
import os
import random
import re
import select
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (DaemonTestCase, deliver, fetches, imap_session,  # noqa
                     status_of)

CLIENT_TIMEOUT = 180
NODE_DIR = os.path.join(harness.HERE, "node")


def strip_tuid(data):
    """Drop the X-TUID header field mbsync writes into the messages it
    stores (its own bookkeeping, isync's TUID), so what is left is the
    message as the server sent it."""
    lines = data.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line in (b"\r\n", b"\n"):
            break  # end of the header
        if line.startswith(b"X-TUID: "):
            del lines[i]
            break
    return b"".join(lines)


def maildir_messages(folder):
    """{filename base (before ':2,'): (flags, bytes)} of a Maildir
    folder's cur/ and new/."""
    out = {}
    for sub in ("cur", "new"):
        d = os.path.join(folder, sub)
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            base, _, flags = name.partition(":2,")
            with open(os.path.join(d, name), "rb") as f:
                out[base] = (flags, strip_tuid(f.read()))
    return out


def maildir_snapshot(root):
    """Every file under root with its content (for "nothing changed")."""
    snap = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            p = os.path.join(dirpath, name)
            with open(p, "rb") as f:
                snap[os.path.relpath(p, root)] = f.read()
    return snap


def imap_contents(c, boxes):
    """{mailbox: {uid: (flags set, body)}} read over a raw session."""
    out = {}
    for box in boxes:
        u, t = c.command('EXAMINE "%s"' % box)
        if status_of(t) != "OK":
            out[box] = None
            continue
        u = c.ok("FETCH 1:* (UID FLAGS BODY.PEEK[])") if any(
            re.match(rb"\* [1-9]\d* EXISTS", r) for r in u) else []
        out[box] = {int(v[b"UID"]): (frozenset(x.lower()
                                               for x in v[b"FLAGS"]),
                                     strip_tuid(v[b"BODY[]"]))
                    for v in fetches(u).values()}
    c.command("UNSELECT")
    return out


def mailbox_names(c):
    names = []
    for r in c.ok('LIST "" "*"'):
        if r.upper().startswith(b"* LIST "):
            v = harness.sexp(r[7:])
            if b"\\noselect" not in [a.lower() for a in v[0]]:
                names.append(v[2].decode())
    return names


class ImapClientsTest(DaemonTestCase):
    ACCOUNTS = {u: (u + "-pw", False, True) for u in
                ("curl", "curls", "mbsync", "olimap", "node")}

    def msgs(self, n, seed):
        rng = random.Random(seed)
        return [harness.make_message(seed * 1000 + i, rng) for i in range(n)]

    def sess(self, user):
        c = imap_session(self.daemon, user, user + "-pw")
        self.addCleanup(c.close)
        return c

    def workdir(self, name):
        d = os.path.join(self.daemon.tmp, name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        return d

    def run_client(self, args, env=None, check=True):
        r = subprocess.run(args, capture_output=True, timeout=CLIENT_TIMEOUT,
                           env=env, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            self.fail("%s: exit %d\n%s%s" % (
                " ".join(args), r.returncode,
                r.stdout.decode(errors="replace")[-3000:],
                r.stderr.decode(errors="replace")[-3000:]))
        return r

    # -- curl ---------------------------------------------------------

    def curl(self, *args, check=True):
        return self.run_client(["curl", "-sS", "--max-time", "60"] +
                               list(args), check=check)

    def check_curl(self, user, base, tls_args):
        sent = deliver(self.daemon, user, self.msgs(3, len(user)))
        c = self.sess(user)
        c.ok("SELECT INBOX")
        # make UIDs differ from sequence numbers: expunge the first
        uids = harness.fetches(c.ok("FETCH 1:* UID"))
        uids = [int(uids[n][b"UID"]) for n in sorted(uids)]
        c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        c.ok("EXPUNGE")
        c.ok("CREATE Curl/Sub")
        auth = ["-u", "%s:%s-pw" % (user, user)] + tls_args
        # LIST
        r = self.curl(*auth, base + "/")
        out = r.stdout.decode()
        for name in ("INBOX", "Sent", "Curl/Sub"):
            self.assertRegex(out, r'(?m)^\* LIST \([^)]*\) "/" "?%s"?\r?$'
                             % re.escape(name))
        # FETCH by UID: the exact bytes
        for uid, m in zip(uids[1:], sent[1:]):
            r = self.curl(*auth, base + "/INBOX;UID=%d" % uid)
            self.assertEqual(r.stdout, m, uid)
        # a UID that is gone: an error, no content
        r = self.curl(*auth, base + "/INBOX;UID=%d" % uids[0], check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stdout, b"")
        # a section of it
        r = self.curl(*auth, base + "/INBOX;UID=%d;SECTION=HEADER.FIELDS%%20"
                      "(MESSAGE-ID)" % uids[1])
        self.assertEqual(r.stdout.strip(), b"Message-ID: " +
                         harness.message_id(sent[1]))
        # a custom command
        r = self.curl(*auth, "-X", "UID SEARCH ALL", base + "/INBOX")
        self.assertIn(("* SEARCH %d %d" % (uids[1], uids[2])).encode(),
                      r.stdout)
        # APPEND upload
        up = harness.make_message(77, random.Random(77))
        path = os.path.join(self.daemon.tmp, user + "-upload.eml")
        with open(path, "wb") as f:
            f.write(up)
        self.curl(*auth, "-T", path, base + "/Curl/Sub")
        c.ok("SELECT Curl/Sub")
        f = fetches(c.ok("FETCH 1:* BODY.PEEK[]"))
        self.assertEqual([v[b"BODY[]"] for v in f.values()], [up])
        # a wrong password: login denied (67)
        r = self.curl("-u", "%s:nope" % user, *tls_args, base + "/",
                      check=False)
        self.assertEqual(r.returncode, 67, r.stderr)

    def test_curl_imap(self):
        self.check_curl("curl", "imap://127.0.0.1:%d" %
                        self.daemon.port["imap"], [])
        # STARTTLS required on the plain port
        r = self.curl("--ssl-reqd", "--cacert", self.daemon.cert, "-u",
                      "curl:curl-pw", "imap://localhost:%d/" %
                      self.daemon.port["imap"])
        self.assertIn(b"INBOX", r.stdout)

    def test_curl_imaps(self):
        base = "imaps://127.0.0.1:%d" % self.daemon.port["imaps"]
        self.check_curl("curls", base, ["--cacert", self.daemon.cert])
        r = self.curl("-k", "-u", "curls:curls-pw", base + "/")
        self.assertIn(b"INBOX", r.stdout)

    # -- mbsync -------------------------------------------------------

    def mbsync_setup(self, user):
        tmp = self.workdir("mbsync")
        local = os.path.join(tmp, "mail")
        os.makedirs(local)
        rc = os.path.join(tmp, "mbsyncrc")
        with open(rc, "w") as f:
            f.write("""\
IMAPAccount po
Host 127.0.0.1
Port %d
User %s
Pass %s-pw
SSLType IMAPS
CertificateFile %s
AuthMechs LOGIN
Timeout 60

IMAPStore po-far
Account po

MaildirStore po-near
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel po
Far :po-far:
Near :po-near:
Patterns *
Create Both
Remove None
Expunge Both
SyncState *
CopyArrivalDate yes
""" % (self.daemon.port["imaps"], user, user, self.daemon.cert, local,
                local))
        os.chmod(rc, 0o600)
        env = dict(os.environ, HOME=tmp)
        return local, lambda: self.run_client(
            ["mbsync", "-c", rc, "-a"], env=env)

    def near_folder(self, local, box):
        return os.path.join(local, "INBOX" if box == "INBOX" else box)

    def assert_in_sync(self, c, local):
        """Every IMAP mailbox's messages are the Maildir folder's files,
        byte for byte, with the same flags."""
        boxes = mailbox_names(c)
        server = imap_contents(c, boxes)
        letters = {"\\seen": "S", "\\flagged": "F", "\\answered": "R",
                   "\\draft": "D", "\\deleted": "T"}
        for box in boxes:
            near = maildir_messages(self.near_folder(local, box))
            want = sorted((harness.crlf(body),
                           "".join(sorted(letters[x.decode()]
                                          for x in flags
                                          if x.decode() in letters)))
                          for flags, body in server[box].values())
            got = sorted((harness.crlf(body), "".join(sorted(
                fl.replace(",", "")))) for fl, body in near.values())
            self.assertEqual([g[1] for g in got], [w[1] for w in want], box)
            self.assertEqual([g[0] for g in got], [w[0] for w in want], box)
        return server

    def test_mbsync_two_way(self):
        c = self.sess("mbsync")
        inbox = deliver(self.daemon, "mbsync", self.msgs(4, 20))
        c.ok("CREATE Lists/Dev")
        c.ok("CREATE Projects")
        dev = self.msgs(3, 21)
        for i, m in enumerate(dev):
            flags = "(\\Flagged) " if i == 0 else ""
            c.ok(b"APPEND Lists/Dev " + flags.encode() + b"{%d}\r\n"
                 % len(m) + m)
        local, sync = self.mbsync_setup("mbsync")
        sync()
        self.assert_in_sync(c, local)
        devdir = self.near_folder(local, "Lists/Dev")
        self.assertEqual(len(maildir_messages(devdir)), 3)
        self.assertEqual(len(maildir_messages(self.near_folder(
            local, "INBOX"))), 4)

        # changes on the server: a flag, a deletion, a new message
        c.ok("SELECT INBOX")
        c.ok("STORE 1 +FLAGS.SILENT (\\Seen \\Answered)")
        c.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        c.ok("EXPUNGE")
        c.ok("UNSELECT")
        new_server = deliver(self.daemon, "mbsync", self.msgs(1, 22))[0]
        # changes on the Maildir side: a flag, a deletion, a new message,
        # a new folder
        files = sorted(os.path.join(devdir, sub, n)
                       for sub in ("cur", "new")
                       for n in os.listdir(os.path.join(devdir, sub)))
        by_body = {}
        for p in files:
            with open(p, "rb") as f:
                by_body[harness.crlf(strip_tuid(f.read()))] = p
        flag_me, delete_me = by_body[dev[1]], by_body[dev[2]]
        base = os.path.basename(flag_me).split(":2,")[0]
        old_flags = os.path.basename(flag_me).partition(":2,")[2]
        os.rename(flag_me, os.path.join(
            devdir, "cur", base + ":2," + "".join(sorted(old_flags + "S"))))
        os.unlink(delete_me)
        new_near = harness.make_message(2300, random.Random(23))
        with open(os.path.join(self.near_folder(local, "INBOX"), "new",
                               "%d.near1.host" % int(time.time())),
                  "wb") as f:
            f.write(new_near.replace(b"\r\n", b"\n"))
        loc = os.path.join(local, "Local")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(loc, sub))
        local_msg = harness.make_message(2400, random.Random(24))
        with open(os.path.join(loc, "new", "%d.near2.host" %
                               int(time.time())), "wb") as f:
            f.write(local_msg.replace(b"\r\n", b"\n"))
        sync()
        server = self.assert_in_sync(c, local)
        bodies = {b for box in server.values() for _, b in box.values()}
        self.assertIn(new_server, bodies)
        self.assertNotIn(inbox[1], bodies)
        self.assertNotIn(dev[2], bodies)
        self.assertIn("Local", server)
        self.assertEqual([harness.crlf(b) for _, b in
                          server["Local"].values()], [local_msg])
        self.assertEqual([harness.crlf(b) for _, b in
                          server["INBOX"].values()
                          if harness.message_id(b) ==
                          harness.message_id(new_near)], [new_near])
        flags = {b: f for f, b in server["Lists/Dev"].values()}
        self.assertEqual(flags[dev[1]], {b"\\seen"})
        self.assertEqual(flags[dev[0]], {b"\\flagged"})
        flags = {b: f for f, b in server["INBOX"].values()}
        self.assertEqual(flags[inbox[0]], {b"\\seen", b"\\answered"})

        # a third run changes nothing on either side
        before_near = maildir_snapshot(local)
        before_far = server
        sync()
        after_far = imap_contents(c, mailbox_names(c))
        self.assertEqual(after_far, before_far)
        after_near = maildir_snapshot(local)
        state = re.compile(r"(^|/)\.mbsyncstate")
        self.assertEqual({k: v for k, v in after_near.items()
                          if not state.search(k)},
                         {k: v for k, v in before_near.items()
                          if not state.search(k)})

    # -- offlineimap3 -------------------------------------------------

    def test_offlineimap(self):
        c = self.sess("olimap")
        inbox = deliver(self.daemon, "olimap", self.msgs(5, 30))
        c.ok("CREATE Folder/Two")
        two = self.msgs(2, 31)
        for m in two:
            c.ok(b"APPEND Folder/Two (\\Seen) {%d}\r\n" % len(m) + m)
        tmp = self.workdir("offlineimap")
        local = os.path.join(tmp, "mail")
        conf = os.path.join(tmp, "offlineimaprc")
        with open(conf, "w") as f:
            f.write("""\
[general]
accounts = po
metadata = %s/meta
ui = basic
maxsyncaccounts = 1

[Account po]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = %s
sep = /

[Repository remote]
type = IMAP
remotehost = 127.0.0.1
remoteport = %d
remoteuser = olimap
remotepass = olimap-pw
ssl = no
starttls = no
maxconnections = 1
holdconnectionopen = no
""" % (tmp, local, self.daemon.port["imap"]))
        os.chmod(conf, 0o600)
        env = dict(os.environ, HOME=tmp)

        def sync():
            r = self.run_client(["offlineimap", "-c", conf, "-o", "-u",
                                 "basic"], env=env)
            out = (r.stdout + r.stderr).decode(errors="replace")
            self.assertNotRegex(out, r"(?i)\bERROR\b", out[-3000:])
            return out

        sync()

        def folder(box):
            return maildir_messages(os.path.join(local, box))

        got = sorted(harness.crlf(b) for _, b in folder("INBOX").values())
        self.assertEqual(got, sorted(inbox))
        f2 = folder("Folder/Two")
        self.assertEqual(sorted(harness.crlf(b) for _, b in f2.values()),
                         sorted(two))
        self.assertTrue(all("S" in fl for fl, _ in f2.values()), f2)
        # a flag set locally goes up; a server deletion comes down
        d = os.path.join(local, "INBOX")
        name = sorted(os.listdir(os.path.join(d, "new")) +
                      os.listdir(os.path.join(d, "cur")))
        path = None
        for sub in ("new", "cur"):
            for n in os.listdir(os.path.join(d, sub)):
                with open(os.path.join(d, sub, n), "rb") as fh:
                    if harness.crlf(fh.read()) == inbox[0]:
                        path = os.path.join(d, sub, n)
        self.assertIsNotNone(path, name)
        base = os.path.basename(path).split(":2,")[0]
        os.rename(path, os.path.join(d, "cur", base + ":2,F"))
        c.ok("SELECT INBOX")
        c.ok("STORE 5 +FLAGS.SILENT (\\Deleted)")
        c.ok("EXPUNGE")
        c.ok("UNSELECT")
        sync()
        got = sorted(harness.crlf(b) for _, b in folder("INBOX").values())
        self.assertEqual(got, sorted(inbox[:4]))
        server = imap_contents(c, ["INBOX"])["INBOX"]
        flags = {b: f for f, b in server.values()}
        self.assertEqual(flags[inbox[0]], {b"\\flagged"})
        # a second run with nothing new changes nothing
        before = maildir_snapshot(local)
        sync()
        self.assertEqual(maildir_snapshot(local), before)
        self.assertEqual(imap_contents(c, ["INBOX"])["INBOX"], server)

    # -- node imapflow ------------------------------------------------

    def test_node_imapflow(self):
        if not os.path.isdir(os.path.join(NODE_DIR, "node_modules",
                                          "imapflow")):
            self.fail("imapflow is not installed: run `npm ci --no-audit "
                      "--no-fund` in %s (tests/run.sh does)" % NODE_DIR)
        sent = deliver(self.daemon, "node", self.msgs(3, 40))
        for secure in (False, True):
            self.node_session(secure, sent)
            # undo: the moved message back to INBOX, the IDLE delivery
            # removed, no flags
            c = self.sess("node")
            c.ok("SELECT Archive")
            c.ok("MOVE 1:* INBOX")
            c.ok("SELECT INBOX")
            c.ok("SEARCH RETURN (SAVE) HEADER Message-ID idle-delivery")
            c.ok("STORE $ +FLAGS.SILENT (\\Deleted)")
            c.ok("EXPUNGE")
            c.ok("STORE 1:* FLAGS.SILENT ()")
            c.command("LOGOUT")

    def node_session(self, secure, sent):
        cfg = {"port": self.daemon.port["imaps" if secure else "imap"],
               "secure": secure, "ca": self.daemon.cert, "user": "node",
               "pass": "node-pw", "idleTimeoutMs": 20000,
               "totalTimeoutMs": 90000}
        p = subprocess.Popen(["node", os.path.join(NODE_DIR,
                                                   "imapflow_session.mjs"),
                              json.dumps(cfg)], cwd=NODE_DIR,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        lines, buf = [], b""
        newest = None
        try:
            deadline = time.monotonic() + 120
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.fail("imapflow: no result in time: %r" % lines)
                ready, _, _ = select.select([p.stdout], [], [], left)
                if not ready:
                    continue
                chunk = os.read(p.stdout.fileno(), 65536)
                if not chunk:
                    break
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    obj = json.loads(line)
                    lines.append(obj)
                    if obj.get("event") == "idling":
                        newest = harness.make_message(
                            4100 + secure, random.Random(41))
                        newest = newest.replace(
                            harness.message_id(newest),
                            b"<idle-delivery-%d@po-test.example>" % secure)
                        newest = deliver(self.daemon, "node", [newest])[0]
            p.wait(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()  # our own child, by PID
                p.wait(timeout=10)
            err = p.stderr.read().decode(errors="replace")
            p.stdout.close()
            p.stderr.close()
        results = [x["result"] for x in lines if "result" in x]
        self.assertEqual(len(results), 1, "%r\n%s" % (lines, err[-3000:]))
        self.assertEqual(p.returncode, 0, err[-3000:])
        r = results[0]
        paths = {m["path"]: m for m in r["list"]}
        for box, use in harness.IMAP_DEFAULT_MAILBOXES.items():
            self.assertIn(box, paths)
            if use:
                self.assertEqual(paths[box]["specialUse"], use)
        self.assertEqual(paths["INBOX"]["delimiter"], "/")
        self.assertEqual(r["exists"], 3)
        got = [base64.b64decode(m["source"]) for m in r["messages"]]
        self.assertEqual(sorted(got), sorted(sent))
        self.assertEqual([m["size"] for m in r["messages"]],
                         [len(m) for m in got])
        self.assertEqual(sorted(r["afterAdd"]), ["$NodeTag", "\\Flagged"])
        self.assertEqual(r["afterRemove"], ["$NodeTag"])
        self.assertEqual(r["move"]["destination"], "Archive")
        self.assertEqual(len(r["move"]["uidMap"] or []), 1, r["move"])
        self.assertEqual(r["move"]["uidMap"][0][0],
                         r["messages"][1]["uid"])
        self.assertEqual(r["existsAfterMove"], 2)
        self.assertEqual(r["existsEvent"]["path"], "INBOX")
        self.assertEqual(r["existsEvent"]["count"], 3)
        self.assertEqual(base64.b64decode(r["newest"]["source"]), newest)
        # the moved message is in Archive, byte for byte
        c = self.sess("node")
        c.ok("SELECT Archive")
        f = fetches(c.ok("UID FETCH %d BODY.PEEK[]" %
                         r["move"]["uidMap"][0][1]))
        self.assertEqual([v[b"BODY[]"] for v in f.values()], [got[1]])
        c.command("LOGOUT")


if __name__ == "__main__":
    harness.main()
