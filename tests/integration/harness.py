"""Integration test harness: the real postofficed on loopback.

Stdlib only.  One Daemon owns a temporary directory holding its data
directory, a self-signed certificate (made with certtool), a config file
with free loopback ports, and the daemon's stderr log.  The binaries come
from PO_BIN_DIR (the CMake build directory; postofficed is at
server/postofficed, postoffice at admin/postoffice); without it the
harness looks in ../../build.

Every wait is bounded; nothing sleeps to synchronise: we poll for the
condition (a log line, a reply, a closed socket) with a deadline.  The
harness signals and kills only the processes it started, by PID.

A test fails if the daemon's (or the admin tool's) stderr carries a
sanitizer report, so the same tests check the ASan+UBSan build.
"""

import base64
import json
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

READY_TIMEOUT = 20.0  # seconds for "postofficed ready"
STOP_TIMEOUT = 15.0  # seconds for a clean exit after SIGTERM
IO_TIMEOUT = 15.0  # default socket timeout for one reply
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:",
                   "ERROR: LeakSanitizer", "ERROR: UndefinedBehaviorSanitizer")


def bin_dir():
    d = os.environ.get("PO_BIN_DIR")
    if d:
        return d
    return os.path.join(REPO, "build")


def daemon_path():
    return os.path.join(bin_dir(), "server", "postofficed")


def admin_path():
    return os.path.join(bin_dir(), "admin", "postoffice")


def sanitizer_report(text):
    """The first sanitizer line in text, or None."""
    for line in text.splitlines():
        for mark in SANITIZER_MARKS:
            if mark in line:
                return line
    return None


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = f.read().split()
            return int(lo), int(hi)
    except (OSError, ValueError):
        return 32768, 60999


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1 (held open while choosing).

    Ports come from below the kernel's ephemeral range when there is room,
    so the tests' own outgoing connections (which take ephemeral ports)
    never take a port a daemon is about to bind; bind to port 0 (an
    ephemeral port) is the fallback.  Daemon.start() retries with new ports
    if one was taken in between anyway."""
    import random
    lo, hi = _ephemeral_range()
    rng = random.Random()  # seeded from the OS: parallel tests differ
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            bound = False
            if lo > 12000:
                for _ in range(50):
                    p = rng.randint(10000, lo - 1)
                    if p in ports:
                        continue
                    try:
                        s.bind(("127.0.0.1", p))
                        bound = True
                        break
                    except OSError:
                        continue
            if not bound:
                s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


CERT_TEMPLATE = """\
cn = "localhost"
organization = "postoffice integration tests"
dns_name = "localhost"
ip_address = "127.0.0.1"
expiration_days = 30
tls_www_server
signing_key
encryption_key
"""


def make_cert(directory):
    """A self-signed ECDSA certificate for localhost/127.0.0.1.
    Returns (cert_path, key_path)."""
    key = os.path.join(directory, "key.pem")
    cert = os.path.join(directory, "cert.pem")
    tmpl = os.path.join(directory, "cert.tmpl")
    with open(tmpl, "w") as f:
        f.write(CERT_TEMPLATE)
    subprocess.run(["certtool", "--generate-privkey", "--key-type=ecdsa",
                    "--outfile", key], check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["certtool", "--generate-self-signed", "--load-privkey",
                    key, "--template", tmpl, "--outfile", cert], check=True,
                   timeout=60, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return cert, key


class DaemonError(AssertionError):
    pass


class Daemon:
    """One postofficed with its own temp dir, config and ports."""

    PROTOS = ("imap", "imaps", "pop3", "pop3s", "lmtp")

    def __init__(self, overrides=None, tmp=None):
        self.tmp = tmp or tempfile.mkdtemp(prefix="po-integ-")
        self.data_dir = os.path.join(self.tmp, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.cert, self.key = make_cert(self.tmp)
        self.overrides = dict(overrides or {})
        self.config = os.path.join(self.tmp, "postoffice.conf")
        self.pick_ports()
        self.log_path = os.path.join(self.tmp, "postofficed.log")
        self.proc = None
        self.log_start = 0

    def pick_ports(self):
        """Choose free ports and (re)write the config file."""
        ports = free_ports(len(self.PROTOS))
        self.port = dict(zip(self.PROTOS, ports))
        self.settings = {
            "data_dir": self.data_dir,
            "hostname": "po-test.example",
            "tls_cert": self.cert,
            "tls_key": self.key,
            "imap_listen": "127.0.0.1:%d" % self.port["imap"],
            "imaps_listen": "127.0.0.1:%d" % self.port["imaps"],
            "pop3_listen": "127.0.0.1:%d" % self.port["pop3"],
            "pop3s_listen": "127.0.0.1:%d" % self.port["pop3s"],
            "lmtp_listen": "127.0.0.1:%d" % self.port["lmtp"],
            "plaintext_auth": "loopback",
            "pop_default": "on",
            "auth_fail_delay_ms": "200",
            "worker_threads": "2",
            "log_level": "debug",
        }
        self.settings.update(self.overrides)
        with open(self.config, "w") as f:
            f.write("# written by tests/integration/harness.py\n")
            for k, v in self.settings.items():
                f.write("%s = %s\n" % (k, v))

    # -- the admin tool -------------------------------------------------

    def admin(self, *args, password=None, check=True, timeout=60):
        """Run `postoffice -c CONFIG args...`; password (str) goes to stdin.
        Returns the CompletedProcess (text mode)."""
        cmd = [admin_path(), "-c", self.config] + list(args)
        r = subprocess.run(cmd, input=(password + "\n") if password is not None
                           else "", capture_output=True, text=True,
                           timeout=timeout)
        rep = sanitizer_report(r.stderr)
        if rep:
            raise DaemonError("sanitizer report from %s:\n%s" %
                              (" ".join(cmd), r.stderr))
        if check and r.returncode != 0:
            raise DaemonError("%s exited %d:\n%s%s" % (
                " ".join(cmd), r.returncode, r.stdout, r.stderr))
        return r

    def add_account(self, name, password, pop=True, imap=True):
        self.admin("account", "add", name, "--password-stdin",
                   "--pop", "on" if pop else "off",
                   "--imap", "on" if imap else "off", password=password)

    # -- the daemon -----------------------------------------------------

    def log(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def start(self, extra_args=(), retries=3):
        """Start postofficed and wait for "postofficed ready".  If a port
        was taken between choosing and binding (another test), choose new
        ports and try again, at most retries times."""
        for attempt in range(retries + 1):
            try:
                return self._start(extra_args)
            except DaemonError as e:
                taken = "in use" in str(e).lower()
                if not taken or attempt == retries or extra_args:
                    raise
                self.pick_ports()

    def _start(self, extra_args):
        assert self.proc is None
        if not os.access(daemon_path(), os.X_OK):
            raise DaemonError("no daemon at %s (set PO_BIN_DIR)" %
                              daemon_path())
        self.log_start = len(self.log())  # this run's log starts here
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [daemon_path(), "-c", self.config] + list(extra_args),
            stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if "postofficed ready" in self.log()[self.log_start:]:
                return
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                self.logf.close()
                self.check_sanitizer()
                raise DaemonError("postofficed exited %d before ready:\n%s" %
                                  (rc, self.log()[self.log_start:]))
            time.sleep(0.02)  # polling interval, bounded by the deadline
        self.kill()
        raise DaemonError("postofficed not ready within %gs:\n%s" %
                          (READY_TIMEOUT, self.log()))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_log(self, pattern, timeout=10.0):
        """Poll the log until the regex pattern matches; return the match."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.log())
            if m:
                return m
            if time.monotonic() > deadline:
                raise DaemonError("log never matched %r:\n%s" %
                                  (pattern, self.log()[-4000:]))
            time.sleep(0.02)

    def stop(self):
        """SIGTERM; expect exit 0 within STOP_TIMEOUT and a clean log.
        Returns the log text."""
        if self.proc is None:
            return self.log()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            raise DaemonError("postofficed did not stop within %gs of "
                              "SIGTERM:\n%s" % (STOP_TIMEOUT,
                                                self.log()[-4000:]))
        finally:
            self.logf.close()
        self.proc = None
        text = self.log()[self.log_start:]
        self.check_sanitizer()
        if rc != 0:
            raise DaemonError("postofficed exited %d after SIGTERM:\n%s" %
                              (rc, text[-4000:]))
        return text

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # our own child, by PID
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def check_sanitizer(self):
        rep = sanitizer_report(self.log())
        if rep:
            raise DaemonError("sanitizer report in postofficed's log:\n%s" %
                              self.log()[-8000:])

    def cleanup(self):
        self.kill()
        if os.environ.get("PO_KEEP_TMP"):
            sys.stderr.write("kept %s\n" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- clients --------------------------------------------------------

    def lmtp(self):
        c = smtplib.LMTP("127.0.0.1", self.port["lmtp"], timeout=IO_TIMEOUT)
        return c

    def pop(self, tls=False):
        if tls:
            return LineClient.tls("127.0.0.1", self.port["pop3s"], self.cert)
        return LineClient("127.0.0.1", self.port["pop3"])

    def imap(self, tls=False):
        """A raw ImapClient on the IMAP (or IMAPS) port; the greeting is
        not read yet."""
        if tls:
            return ImapClient.tls("127.0.0.1", self.port["imaps"], self.cert)
        return ImapClient("127.0.0.1", self.port["imap"])

    def imaplib(self, tls=False):
        """An imaplib client (not logged in) on IMAP or IMAPS."""
        import imaplib
        if tls:
            return imaplib.IMAP4_SSL("127.0.0.1", self.port["imaps"],
                                     ssl_context=self.ssl_context(),
                                     timeout=IO_TIMEOUT)
        return imaplib.IMAP4("127.0.0.1", self.port["imap"],
                             timeout=IO_TIMEOUT)

    def ssl_context(self):
        """A client context trusting only this daemon's certificate."""
        import ssl
        # the certificate names 127.0.0.1 too, so the name check holds
        return ssl.create_default_context(cafile=self.cert)


class DaemonTestCase(unittest.TestCase):
    """One daemon for the whole class; each test class may set OVERRIDES
    (config keys) and ACCOUNTS ({name: (password, pop_on)})."""

    OVERRIDES = {}
    ACCOUNTS = {}

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(cls.OVERRIDES)
        try:
            # (password, pop_on) or (password, pop_on, imap_on)
            for name, spec in cls.ACCOUNTS.items():
                cls.daemon.add_account(name, spec[0], pop=spec[1],
                                       imap=spec[2] if len(spec) > 2
                                       else True)
            cls.daemon.start()
        except BaseException:
            cls.daemon.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.daemon.stop()
        finally:
            cls.daemon.cleanup()

    def tearDown(self):
        # A daemon that died or tripped a sanitizer fails the test that
        # did it, not a later one.
        self.daemon.check_sanitizer()
        if not self.daemon.running():
            self.fail("postofficed is no longer running:\n" +
                      self.daemon.log()[-4000:])


# -- a line-oriented raw client --------------------------------------------


class LineClient:
    """A raw CRLF line client with bounded reads."""

    def __init__(self, host, port, sock=None, timeout=IO_TIMEOUT):
        if sock is None:
            sock = socket.create_connection((host, port), timeout=timeout)
        self.sock = sock
        self.sock.settimeout(timeout)
        self.buf = b""
        self.host, self.port = host, port

    @classmethod
    def tls(cls, host, port, cafile, timeout=IO_TIMEOUT):
        import ssl
        ctx = ssl.create_default_context(cafile=cafile)
        raw = socket.create_connection((host, port), timeout=timeout)
        s = ctx.wrap_socket(raw, server_hostname="localhost")
        return cls(host, port, sock=s, timeout=timeout)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def cmd(self, line):
        """Send one command line and return the first reply line."""
        self.send(line.encode() + b"\r\n" if isinstance(line, str)
                  else line + b"\r\n")
        return self.line()

    def line(self):
        """One reply line without its CRLF (bytes -> str, latin-1).
        Raises EOFError if the server closed the connection first."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; pending %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("latin-1")

    def multiline(self):
        """A POP3 multi-line body after its +OK line: raw bytes with CRLF
        line ends, dot-unstuffed, without the terminating '.'."""
        out = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError("closed inside a multi-line reply")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            if line == b".":
                return b"".join(out)
            if line.startswith(b"."):
                line = line[1:]
            out.append(line + b"\r\n")

    def closed_by_peer(self, timeout=IO_TIMEOUT):
        """Wait (bounded) until the server closes; True if it did.  Data
        that arrives first is kept in self.buf."""
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        except OSError:
            return True
        return False

    def login(self, user, password):
        r = self.cmd("USER " + user)
        if not r.startswith("+OK"):
            return r
        return self.cmd("PASS " + password)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def pop_session(daemon, user, password, tls=False):
    """A logged-in LineClient (asserts the greeting and login)."""
    c = daemon.pop(tls=tls)
    g = c.line()
    if not g.startswith("+OK"):
        raise AssertionError("greeting: %r" % g)
    r = c.login(user, password)
    if not r.startswith("+OK"):
        c.close()
        raise AssertionError("login %s: %r" % (user, r))
    return c


def pop_stat(daemon, user, password):
    """(count, octets) from a fresh session, closed with QUIT."""
    c = pop_session(daemon, user, password)
    try:
        r = c.cmd("STAT")
        m = re.match(r"\+OK (\d+) (\d+)", r)
        if not m:
            raise AssertionError("STAT: %r" % r)
        c.cmd("QUIT")
        return int(m.group(1)), int(m.group(2))
    finally:
        c.close()


def pop_fetch_all(daemon, user, password, delete=False):
    """Every message of the maildrop as bytes, via RETR in number order;
    DELE each if delete, then QUIT (asserted +OK)."""
    c = pop_session(daemon, user, password)
    try:
        r = c.cmd("STAT")
        n = int(r.split()[1])
        out = []
        for i in range(1, n + 1):
            r = c.cmd("RETR %d" % i)
            if not r.startswith("+OK"):
                raise AssertionError("RETR %d: %r" % (i, r))
            out.append(c.multiline())
            if delete:
                r = c.cmd("DELE %d" % i)
                if not r.startswith("+OK"):
                    raise AssertionError("DELE %d: %r" % (i, r))
        r = c.cmd("QUIT")
        if not r.startswith("+OK"):
            raise AssertionError("QUIT: %r" % r)
        return out
    finally:
        c.close()


# -- messages ----------------------------------------------------------------


def crlf(data):
    """Normalise every line end (LF, CRLF) to CRLF."""
    return re.sub(rb"\r?\n", b"\r\n", data)


# Header fields the LMTP module may prepend at delivery (RFC 5321 4.4:
# Return-Path; a trace Received; Delivered-To).
ADDED_FIELDS = (b"return-path", b"received", b"delivered-to")


def strip_prepended(stored, original, allowed=ADDED_FIELDS):
    """stored must be some prepended header fields (of the allowed names)
    followed by original, byte for byte (both compared with CRLF line
    ends).  Returns None if so, else a description of the difference."""
    s, o = crlf(stored), crlf(original)
    if not s.endswith(o):
        # find where they diverge for the message
        tail = s[-len(o):] if len(s) >= len(o) else s
        for i, (a, b) in enumerate(zip(tail, o)):
            if a != b:
                return ("body differs at original offset %d: stored %r "
                        "vs sent %r" % (i, tail[max(0, i - 40):i + 40],
                                        o[max(0, i - 40):i + 40]))
        return "stored %d bytes, sent %d bytes" % (len(s), len(o))
    prefix = s[:len(s) - len(o)]
    if not prefix:
        return None
    # each prepended line is a field start (name:) or a continuation
    if not prefix.endswith(b"\r\n"):
        return "prepended text is not whole lines: %r" % prefix
    for line in prefix[:-2].split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            continue
        name = line.split(b":", 1)[0].strip().lower()
        if b":" not in line or name not in allowed:
            return "unexpected prepended line %r" % line
    return None


def make_message(i, rng, size_hint=None):
    """A deterministic test message number i (bytes, CRLF line ends,
    ending with CRLF) with a unique Message-ID, lines that start with
    dots, 8-bit bytes, empty lines and a few longer lines."""
    mid = b"<integ-%d@po-test.example>" % i
    head = [b"From: Sender <sender@example.org>",
            b"To: rcpt@po-test.example",
            b"Subject: test message %d \xc3\xa9t\xc3\xa9" % i,
            b"Message-ID: " + mid,
            b"Date: Mon, 1 Jan 2024 00:00:00 +0000",
            b"MIME-Version: 1.0",
            b"Content-Type: text/plain; charset=utf-8",
            b"Content-Transfer-Encoding: 8bit"]
    body = []
    n = size_hint if size_hint is not None else rng.randint(1, 60)
    for j in range(n):
        kind = rng.randint(0, 9)
        if kind == 0:
            body.append(b"." * rng.randint(1, 3) + b"dot line %d" % j)
        elif kind == 1:
            body.append(b"")
        elif kind == 2:
            body.append(bytes(rng.randint(0x80, 0xff)
                              for _ in range(rng.randint(1, 40))))
        elif kind == 3:
            body.append(b"x" * rng.randint(100, 990))
        elif kind == 4:
            body.append(b".")
        else:
            body.append(b"line %d of message %d: the quick brown fox" % (j, i))
    return b"\r\n".join(head) + b"\r\n\r\n" + b"\r\n".join(body) + b"\r\n"


def message_id(data):
    m = re.search(rb"(?im)^Message-ID: *(<[^>\r\n]*>)", data)
    return m.group(1) if m else None


def lmtp_deliver(client, sender, rcpts, data):
    """One LMTP transaction on an open smtplib.LMTP: returns
    (rcpt_replies, data_replies) where rcpt_replies maps each recipient to
    its (code, text) and data_replies lists one (code, text) per accepted
    recipient (RFC 2033 4.2), in RCPT order."""
    client.ehlo_or_helo_if_needed()
    code, text = client.mail(sender)
    if code != 250:
        raise AssertionError("MAIL FROM: %d %r" % (code, text))
    rcpt_replies, accepted = {}, []
    for r in rcpts:
        code, text = client.rcpt(r)
        rcpt_replies[r] = (code, text)
        if code == 250:
            accepted.append(r)
    data_replies = []
    if not accepted:
        client.rset()
        return rcpt_replies, data_replies
    code, text = client.data(data)
    data_replies.append((code, text))
    for _ in accepted[1:]:
        data_replies.append(client.getreply())
    return rcpt_replies, data_replies


def sasl_plain(user, password, authzid=""):
    raw = ("%s\0%s\0%s" % (authzid, user, password)).encode()
    return base64.b64encode(raw).decode()


def json_out(r):
    """Parse a --json CompletedProcess's stdout."""
    try:
        return json.loads(r.stdout)
    except ValueError as e:
        raise AssertionError("not JSON (%s): %r" % (e, r.stdout))


# -- IMAP ----------------------------------------------------------------------

# What the server announces after login (RFC 9051 and the extensions).
IMAP_CAPS = ("IMAP4REV1", "IMAP4REV2", "LITERAL+", "SASL-IR", "ENABLE",
             "IDLE", "NAMESPACE", "UIDPLUS", "MOVE", "ID", "UNSELECT",
             "CHILDREN", "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE",
             "ESEARCH", "SEARCHRES", "BINARY", "STATUS=SIZE", "UTF8=ACCEPT")
# The mailboxes every new account has (storage/store_schema.c).
IMAP_DEFAULT_MAILBOXES = {"INBOX": None, "Drafts": "\\Drafts",
                          "Sent": "\\Sent", "Trash": "\\Trash",
                          "Junk": "\\Junk", "Archive": "\\Archive"}


def _imaplib_commands():
    """Teach imaplib the commands it does not know (it refuses to send
    a command missing from its table)."""
    import imaplib
    imaplib.Commands.setdefault("ID", ("NONAUTH", "AUTH", "SELECTED",
                                       "LOGOUT"))
    imaplib.Commands.setdefault("MOVE", ("SELECTED",))
    imaplib.Commands.setdefault("UNSELECT", ("SELECTED",))
    imaplib.Commands.setdefault("ENABLE", ("AUTH",))
    imaplib.Commands.setdefault("IDLE", ("AUTH", "SELECTED"))


_imaplib_commands()


def lmtp_return_path(sender):
    """What the LMTP module prepends to a delivered message."""
    return b"Return-Path: <" + sender.encode() + b">\r\n"


def deliver(daemon, rcpt, msgs, sender="s@example.org"):
    """Deliver each message to rcpt over LMTP (asserting 250); returns the
    stored form of each (Return-Path prepended), byte for byte."""
    c = daemon.lmtp()
    try:
        for m in msgs:
            rr, dr = lmtp_deliver(c, sender, [rcpt], m)
            if not dr or dr[0][0] != 250:
                raise AssertionError("delivery to %s: %r %r" % (rcpt, rr, dr))
    finally:
        c.quit()
    return [lmtp_return_path(sender) + m for m in msgs]


class ImapClient(LineClient):
    """A raw IMAP client: whole responses (a line and its literals),
    tagged commands, bounded reads."""

    def __init__(self, *a, **kw):
        LineClient.__init__(self, *a, **kw)
        self.n = 0

    def read_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buf)))
            if not chunk:
                raise EOFError("closed inside a literal; pending %d bytes"
                               % len(self.buf))
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def rawline(self):
        """One line with its CRLF, as bytes."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; pending %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def response(self):
        """One whole response as bytes: its lines and literals exactly as
        sent, without the final CRLF."""
        out = b""
        while True:
            line = self.rawline()
            out += line
            m = re.search(rb"\{(\d+)\}\r\n\Z", line)
            if m:
                out += self.read_exact(int(m.group(1)))
                continue
            return out[:-2] if out.endswith(b"\r\n") else out[:-1]

    def greeting(self):
        return self.response()

    def next_tag(self):
        self.n += 1
        return "a%03d" % self.n

    def until_tagged(self, tag):
        """Responses up to the tagged one: (untagged list, tagged line as
        str)."""
        untagged = []
        t = tag.encode() + b" "
        while True:
            r = self.response()
            if r.startswith(t):
                return untagged, r.decode("latin-1")
            untagged.append(r)

    def command(self, text, tag=None):
        """Send "tag text" (text str or bytes, may hold synchronizing
        literals: each "{N}\r\n" waits for the "+" continuation) and read
        up to the tagged reply.  Returns (untagged, tagged)."""
        tag = tag or self.next_tag()
        if isinstance(text, str):
            text = text.encode()
        data = tag.encode() + b" " + text
        pieces = re.split(rb"(\{\d+\}\r\n)", data)
        untagged = []
        i = 0
        while i < len(pieces):
            chunk = pieces[i]
            if i + 1 < len(pieces):
                self.send(chunk + pieces[i + 1])
                while True:  # wait for the continuation request
                    r = self.response()
                    if r.startswith(b"+"):
                        break
                    if r.startswith(tag.encode() + b" "):
                        return untagged, r.decode("latin-1")
                    untagged.append(r)
                i += 2
            else:
                self.send(chunk + b"\r\n")
                i += 1
        u, t = self.until_tagged(tag)
        return untagged + u, t

    def ok(self, text):
        """command() that asserts OK; returns the untagged responses."""
        u, t = self.command(text)
        if t.split(" ", 2)[1:2] != ["OK"]:
            raise AssertionError("%s -> %s (untagged %r)" % (
                text if isinstance(text, str) else text[:200], t, u[:5]))
        return u

    def login(self, user, password):
        return self.command('LOGIN "%s" "%s"' % (user, password))


def imap_session(daemon, user, password, tls=False):
    """A logged-in ImapClient (asserts the greeting and the login)."""
    c = daemon.imap(tls=tls)
    g = c.greeting()
    if not g.startswith(b"* OK"):
        c.close()
        raise AssertionError("greeting: %r" % g)
    _, t = c.login(user, password)
    if " OK" not in t:
        c.close()
        raise AssertionError("login %s: %r" % (user, t))
    return c


def imaplib_session(daemon, user, password, tls=False):
    """A logged-in imaplib client."""
    m = daemon.imaplib(tls=tls)
    m.login(user, password)
    return m


# An IMAP s-expression reader for responses: atoms and numbers as bytes
# (an atom keeps its [section]<partial>), quoted strings and literals as
# bytes, NIL as None, parenthesised lists as lists.

class _Sexp:
    def __init__(self, data):
        self.d, self.i = data, 0

    def ws(self):
        while self.i < len(self.d) and self.d[self.i:self.i + 1] == b" ":
            self.i += 1

    def value(self):
        d = self.d
        c = d[self.i:self.i + 1]
        if c == b"(":
            self.i += 1
            out = []
            while True:
                self.ws()
                if self.i >= len(d):
                    raise ValueError("unclosed list")
                if d[self.i:self.i + 1] == b")":
                    self.i += 1
                    return out
                out.append(self.value())
        if c == b'"':
            self.i += 1
            out = bytearray()
            while True:
                if self.i >= len(d):
                    raise ValueError("unclosed string")
                ch = d[self.i]
                if ch == 0x5c:
                    out.append(d[self.i + 1])
                    self.i += 2
                elif ch == 0x22:
                    self.i += 1
                    return bytes(out)
                else:
                    out.append(ch)
                    self.i += 1
        m = re.match(rb"~?\{(\d+)\+?\}\r\n", d[self.i:self.i + 40])
        if m:
            self.i += m.end()
            n = int(m.group(1))
            out = d[self.i:self.i + n]
            self.i += n
            return out
        start = self.i
        depth = 0
        while self.i < len(d):
            ch = d[self.i:self.i + 1]
            if ch == b"[":
                depth += 1
            elif ch == b"]":
                depth -= 1
            elif depth == 0 and ch in (b" ", b"(", b")"):
                if ch == b"(" and self.i > start:
                    break
                if ch != b"(":
                    break
            self.i += 1
        atom = d[start:self.i]
        if atom == b"" and self.i < len(d):
            raise ValueError("unexpected %r at %d" % (ch, self.i))
        return None if atom.upper() == b"NIL" else atom


def sexp(data):
    """Every value of data (bytes) in order, as a list."""
    p = _Sexp(data)
    out = []
    while True:
        p.ws()
        if p.i >= len(data):
            return out
        out.append(p.value())


def fetch_items(resp):
    """A "* n FETCH (...)" response as (n, {ITEM-NAME: value}), item names
    upper-cased bytes (b"BODY[]", b"UID", ...)."""
    m = re.match(rb"\* (\d+) FETCH ", resp)
    if not m:
        raise AssertionError("not a FETCH response: %r" % resp[:200])
    vals = sexp(resp[m.end():])
    if len(vals) != 1 or not isinstance(vals[0], list):
        raise AssertionError("bad FETCH response: %r" % resp[:300])
    lst = vals[0]
    if len(lst) % 2:
        raise AssertionError("odd FETCH item list: %r" % resp[:300])
    items = {}
    for k in range(0, len(lst), 2):
        items[lst[k].upper()] = lst[k + 1]
    return int(m.group(1)), items


def fetches(untagged):
    """{seq: items} of the FETCH responses among untagged."""
    out = {}
    for r in untagged:
        if re.match(rb"\* \d+ FETCH ", r):
            n, items = fetch_items(r)
            out.setdefault(n, {}).update(items)
    return out


def resp_code(tagged):
    """The response code of a tagged or untagged status line ("NONEXISTENT"
    from "a1 NO [NONEXISTENT] ..."), upper case, or None."""
    m = re.match(r"\S+ (?:OK|NO|BAD|BYE|PREAUTH) \[([^\]]*)\]", tagged)
    return m.group(1).split(" ")[0].upper() if m else None


def status_of(tagged):
    """"OK", "NO" or "BAD" of a tagged line."""
    parts = tagged.split(" ", 2)
    return parts[1].upper() if len(parts) > 1 else ""


def main():
    """unittest.main() that also accepts the build dir as argv[1]."""
    if len(sys.argv) > 1 and os.path.isdir(sys.argv[1]):
        os.environ["PO_BIN_DIR"] = sys.argv.pop(1)
    unittest.main(verbosity=2)
