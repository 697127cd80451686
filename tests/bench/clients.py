"""Small, fast protocol clients for the benchmarks (stdlib only).

Every socket has a timeout and every loop a deadline.  Reading is done on
a bytearray with find(), so the client's CPU stays well below the
server's for the byte-moving workloads (bench.py reports the client's CPU
time next to each figure to show it).
"""

import socket
import ssl
import time

IO_TIMEOUT = 120.0


class Conn:
    def __init__(self, port, tls=False, cafile=None, timeout=IO_TIMEOUT):
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            ctx = ssl.create_default_context(cafile=cafile)
            s = ctx.wrap_socket(s, server_hostname="localhost")
        s.settimeout(timeout)
        self.sock = s
        self.buf = bytearray()
        self.pos = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        if self.pos > 1 << 20:
            del self.buf[:self.pos]
            self.pos = 0
        chunk = self.sock.recv(1 << 18)
        if not chunk:
            raise EOFError("connection closed by the server")
        self.buf += chunk

    def line(self):
        """One line without CRLF, as bytes."""
        while True:
            i = self.buf.find(b"\n", self.pos)
            if i >= 0:
                out = bytes(self.buf[self.pos:i])
                self.pos = i + 1
                return out.rstrip(b"\r")
            self._fill()

    def skip(self, n):
        """Consume n bytes (a literal); returns n."""
        total = n
        while len(self.buf) - self.pos < n:
            need = n - (len(self.buf) - self.pos)
            if need > (1 << 20) and len(self.buf) == self.pos:
                # big literal: read straight through without buffering
                chunk = self.sock.recv(min(need, 1 << 18))
                if not chunk:
                    raise EOFError("closed inside a literal")
                n -= len(chunk)
                continue
            self._fill()
        self.pos += n
        return total

    def until(self, marker):
        """Bytes up to and including marker (e.g. b"\\r\\n.\\r\\n");
        returns the length consumed."""
        start = self.pos
        while True:
            i = self.buf.find(marker, max(start, len(self.buf) -
                                          (1 << 18) - len(marker)))
            if i >= 0:
                end = i + len(marker)
                n = end - start
                self.pos = end
                return n
            if start > 1 << 20:
                del self.buf[:start]
                self.pos = start = 0
            chunk = self.sock.recv(1 << 18)
            if not chunk:
                raise EOFError("closed inside a multi-line reply")
            self.buf += chunk


# ---- LMTP -----------------------------------------------------------------

def dot_stuff(data):
    if data.startswith(b"."):
        data = b"." + data
    data = data.replace(b"\r\n.", b"\r\n..")
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


class Lmtp(Conn):
    def __init__(self, port, timeout=IO_TIMEOUT):
        Conn.__init__(self, port, timeout=timeout)
        self.reply()
        self.send(b"LHLO bench.test\r\n")
        self.reply()

    def reply(self):
        """One (possibly multi-line) reply: (code, last line)."""
        while True:
            ln = self.line()
            if len(ln) < 4 or ln[3:4] != b"-":
                return int(ln[:3]), ln

    def deliver(self, rcpt, data, sender=b"bench@bench.test"):
        """One message to one recipient (MAIL, RCPT, DATA pipelined,
        RFC 2920); raises on anything but 250."""
        self.send(b"MAIL FROM:<" + sender + b">\r\nRCPT TO:<" +
                  rcpt.encode() + b">\r\nDATA\r\n")
        for want in (250, 250, 354):
            code, ln = self.reply()
            if code != want:
                # resync: drain what is left of the pipelined replies
                raise RuntimeError("LMTP %s: %r" % (rcpt, ln))
        self.send(dot_stuff(data) + b".\r\n")
        code, ln = self.reply()
        if code != 250:
            raise RuntimeError("LMTP DATA %s: %r" % (rcpt, ln))

    def quit(self):
        try:
            self.send(b"QUIT\r\n")
            self.reply()
        except (OSError, EOFError):
            pass
        self.close()


# ---- POP3 -----------------------------------------------------------------

class Pop3(Conn):
    def __init__(self, port, tls=False, cafile=None):
        Conn.__init__(self, port, tls, cafile)
        self.ok(self.line())

    @staticmethod
    def ok(ln):
        if not ln.startswith(b"+OK"):
            raise RuntimeError("POP3: %r" % ln)
        return ln

    def cmd(self, text):
        self.send(text.encode() + b"\r\n")
        return self.ok(self.line())

    def login(self, user, password):
        self.cmd("USER " + user)
        self.cmd("PASS " + password)

    def multiline(self):
        """The body of a multi-line reply, counted, not kept."""
        return self.until(b"\r\n.\r\n")


# ---- IMAP -----------------------------------------------------------------

class Imap(Conn):
    def __init__(self, port, tls=False, cafile=None, timeout=IO_TIMEOUT):
        Conn.__init__(self, port, tls, cafile, timeout)
        g = self.line()
        if not g.startswith(b"* OK"):
            raise RuntimeError("IMAP greeting: %r" % g)
        self.n = 0

    def command(self, text, on_line=None):
        """Send a command, read to its tagged reply, skipping literals.
        on_line(line) is called for each untagged line.  Returns
        (tagged line, literal bytes seen)."""
        self.n += 1
        tag = b"b%d" % self.n
        self.send(tag + b" " + text.encode() + b"\r\n")
        tagsp = tag + b" "
        lit = 0
        while True:
            ln = self.line()
            if ln.startswith(tagsp):
                if ln[len(tagsp):len(tagsp) + 2] != b"OK":
                    raise RuntimeError("IMAP %s: %r" % (text[:60], ln))
                return ln, lit
            if on_line is not None:
                on_line(ln)
            # a line ending in {N} carries a literal; its line goes on
            while ln.endswith(b"}"):
                j = ln.rfind(b"{")
                if j < 0:
                    break
                try:
                    n = int(ln[j + 1:-1].rstrip(b"+"))
                except ValueError:
                    break
                lit += self.skip(n)
                ln = self.line()

    def login(self, user, password):
        self.command('LOGIN "%s" "%s"' % (user, password))

    def logout(self):
        self.n += 1
        self.send(b"b%d LOGOUT\r\n" % self.n)
        try:
            while True:
                ln = self.line()
                if ln.startswith(b"b%d " % self.n):
                    break
        except (OSError, EOFError):
            pass
        self.close()


def now():
    return time.monotonic()
