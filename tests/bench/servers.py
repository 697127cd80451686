"""The two servers under test: postoffice and a Dovecot of our own.

Each server runs as our child process on 127.0.0.1 ports of its own, in
its own directory under the bench work dir.  We signal and kill only the
processes we started, by PID: postofficed itself, and Dovecot's master
(whose children are found by walking /proc for its descendants).
"""

import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def free_ports(n):
    """n distinct free loopback ports below the ephemeral range."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        lo = 32768
    rng = random.Random()
    ports = []
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            for _ in range(200):
                p = rng.randint(10000, max(10001, lo - 1))
                if p in ports:
                    continue
                try:
                    s.bind(("127.0.0.1", p))
                    break
                except OSError:
                    continue
            else:
                s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def wait_port(port, banner, timeout):
    """Poll until 127.0.0.1:port greets with a line starting with banner."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.settimeout(5)
                data = s.recv(512)
                if data.startswith(banner):
                    return
                last = data
        except OSError as e:
            last = e
        time.sleep(0.1)
    raise RuntimeError("port %d not ready within %gs (%r)" % (port, timeout,
                                                              last))


def children_map():
    """{ppid: [pid, ...]} of every process."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        # comm may hold spaces and parens: split after the last ')'
        rest = st[st.rfind(")") + 2:].split()
        out.setdefault(int(rest[1]), []).append(int(d))
    return out


def descendants(pid):
    """pid and all its descendants."""
    cm = children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(cm.get(p, ()))
    return out


def mem_of(pids):
    """(rss_bytes, pss_bytes) summed over pids, from
    /proc/PID/smaps_rollup (processes that vanished count 0)."""
    rss = pss = 0
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1]) * 1024
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
        except OSError:
            pass
    return rss, pss


def rss_fast(pids):
    """Sum of RSS from /proc/PID/statm (cheap enough for a 50 ms sampler)."""
    page = os.sysconf("SC_PAGE_SIZE")
    tot = 0
    for p in pids:
        try:
            with open("/proc/%d/statm" % p) as f:
                tot += int(f.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            pass
    return tot


class Server:
    name = "?"
    proc = None

    def pids(self):
        raise NotImplementedError

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return
        tree = descendants(self.proc.pid) if self.running() else []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        # children of ours that outlived their master (by PID, same name)
        for p in tree[1:]:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        self.proc = None
        if getattr(self, "logf", None):
            self.logf.close()
            self.logf = None


class Postoffice(Server):
    name = "postoffice"

    def __init__(self, build, work, cert, key, cores):
        self.build = build
        self.dir = os.path.join(work, "postoffice")
        self.data = os.path.join(self.dir, "data")
        os.makedirs(self.data, exist_ok=True)
        self.conf = os.path.join(self.dir, "postoffice.conf")
        self.log_path = os.path.join(self.dir, "postofficed.log")
        self.daemon = os.path.join(build, "server", "postofficed")
        self.admin_bin = os.path.join(build, "admin", "postoffice")
        p = free_ports(5)
        self.port = dict(zip(("imap", "imaps", "pop3", "pop3s", "lmtp"), p))
        self.settings = {
            "data_dir": self.data,
            "hostname": "bench.test",
            "tls_cert": cert,
            "tls_key": key,
            "imap_listen": "127.0.0.1:%d" % self.port["imap"],
            "imaps_listen": "127.0.0.1:%d" % self.port["imaps"],
            "pop3_listen": "127.0.0.1:%d" % self.port["pop3"],
            "pop3s_listen": "127.0.0.1:%d" % self.port["pop3s"],
            "lmtp_listen": "127.0.0.1:%d" % self.port["lmtp"],
            "plaintext_auth": "loopback",
            "pop_default": "on",
            "imap_default": "on",
            # the 10,000-connection test from one address
            "max_connections": "25000",
            "max_connections_per_ip": "25000",
            # disk and hashing work: two threads per core, at least 4
            "worker_threads": str(max(4, 2 * cores)),
            "idle_timeout": "1800",
            "log_level": "info",
        }
        with open(self.conf, "w") as f:
            f.write("# written by tests/bench/servers.py\n")
            for k, v in self.settings.items():
                f.write("%s = %s\n" % (k, v))
        self.proc = None
        self.logf = None

    def version(self):
        try:
            r = subprocess.run(["git", "-C", os.path.dirname(
                os.path.dirname(HERE)), "describe", "--always", "--dirty",
                "--tags"], capture_output=True, text=True, timeout=30)
            return "postoffice " + r.stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "postoffice (unknown)"

    def admin(self, *args, stdin=""):
        r = subprocess.run([self.admin_bin, "-c", self.conf] + list(args),
                           input=stdin, capture_output=True, text=True,
                           timeout=120)
        if r.returncode != 0:
            raise RuntimeError("postoffice %s: %s" % (" ".join(args),
                                                       r.stderr))
        return r.stdout

    def has_account(self, name):
        r = subprocess.run([self.admin_bin, "-c", self.conf, "account",
                            "show", name], capture_output=True, timeout=60)
        return r.returncode == 0

    def add_account(self, name, password):
        if not self.has_account(name):
            self.admin("account", "add", name, "--password-stdin", "--pop",
                       "on", "--imap", "on", stdin=password + "\n")

    def hashes(self):
        """{name: password_hash} from the directory database (read only),
        so Dovecot gets the very same yescrypt strings."""
        db = sqlite3.connect("file:%s/directory.db?mode=ro" % self.data,
                             uri=True, timeout=30)
        try:
            return dict(db.execute(
                "SELECT name, password_hash FROM accounts"))
        finally:
            db.close()

    def start(self):
        self.logf = open(self.log_path, "ab")
        start = os.path.getsize(self.log_path)
        self.proc = subprocess.Popen([self.daemon, "-c", self.conf],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            with open(self.log_path, "rb") as f:
                f.seek(start)
                if b"postofficed ready" in f.read():
                    return
            if self.proc.poll() is not None:
                raise RuntimeError("postofficed exited %d; see %s" % (
                    self.proc.returncode, self.log_path))
            time.sleep(0.05)
        raise RuntimeError("postofficed not ready; see %s" % self.log_path)

    def pids(self):
        return [self.proc.pid] if self.running() else []


class Dovecot(Server):
    name = "dovecot"

    def __init__(self, work, cert, key, cores, mail_user, mail_group,
                 max_clients):
        self.dir = os.path.join(work, "dovecot")
        os.makedirs(self.dir, exist_ok=True)
        self.mail = os.path.join(self.dir, "mail")
        os.makedirs(self.mail, exist_ok=True)
        # Short base_dir: unix socket paths are limited to 108 bytes.
        self.base = os.path.join(self.dir, "run")
        if len(self.base) > 60:
            import tempfile
            self.base = tempfile.mkdtemp(prefix="po-bench-dc-")
        self.state = os.path.join(self.dir, "state")
        os.makedirs(self.state, exist_ok=True)
        self.passwd = os.path.join(self.dir, "passwd")
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.log_path = os.path.join(self.dir, "dovecot.log")
        p = free_ports(5)
        self.port = dict(zip(("imap", "imaps", "pop3", "pop3s", "lmtp"), p))
        import grp
        import pwd
        uid = pwd.getpwnam(mail_user).pw_uid
        gid = grp.getgrnam(mail_group).gr_gid
        os.chown(self.mail, uid, gid)
        dh = "/usr/share/dovecot/dh.pem"
        subst = {
            "BASE_DIR": self.base,
            "STATE_DIR": self.state,
            "LOG_DIR": self.dir,
            "MAIL_USER": mail_user,
            "MAIL_GROUP": mail_group,
            "MAIL_DIR": self.mail,
            "PASSWD_FILE": self.passwd,
            "CERT": cert,
            "KEY": key,
            "SSL_DH": ("ssl_dh = <" + dh) if os.path.exists(dh) else "",
            "CORES": str(cores),
            "WORKERS": str(max(2, cores)),
            "PROCESS_LIMIT": str(max_clients + 1000),
            "CLIENT_LIMIT": str(max_clients + 1000),
            "MAX_USERIP": str(max_clients + 1000),
            "AUTH_CLIENT_LIMIT": str(8 * (max_clients + 1000)),
            "IMAP_PORT": str(self.port["imap"]),
            "IMAPS_PORT": str(self.port["imaps"]),
            "POP3_PORT": str(self.port["pop3"]),
            "POP3S_PORT": str(self.port["pop3s"]),
            "LMTP_PORT": str(self.port["lmtp"]),
        }
        with open(os.path.join(HERE, "dovecot.conf.in")) as f:
            text = f.read()

        def sub(m):
            return subst[m.group(1)]
        text = re.sub(r"@([A-Z_0-9]+)@", sub, text)
        if os.environ.get("PO_BENCH_DOVECOT_DEBUG"):
            text += "\nmail_debug = yes\n"
        with open(self.conf, "w") as f:
            f.write(text)
        self.proc = None
        self.logf = None

    def version(self):
        try:
            r = subprocess.run(["dovecot", "--version"], capture_output=True,
                               text=True, timeout=30)
            return "Dovecot " + r.stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "Dovecot (unknown)"

    def write_passwd(self, hashes):
        """passwd-file lines user:{CRYPT}hash, the same hashes as
        postoffice's."""
        tmp = self.passwd + ".tmp"
        with open(tmp, "w") as f:
            for name, h in sorted(hashes.items()):
                f.write("%s:{CRYPT}%s\n" % (name, h))
        import grp
        os.chown(tmp, 0, grp.getgrnam("dovecot").gr_gid)
        os.chmod(tmp, 0o640)
        os.replace(tmp, self.passwd)

    def start(self):
        self.logf = open(os.path.join(self.dir, "dovecot.stderr"), "ab")
        self.proc = subprocess.Popen(["dovecot", "-F", "-c", self.conf],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf)
        try:
            wait_port(self.port["imap"], b"* OK", READY_TIMEOUT)
            wait_port(self.port["pop3"], b"+OK", READY_TIMEOUT)
            wait_port(self.port["lmtp"], b"220", READY_TIMEOUT)
        except RuntimeError:
            if self.proc.poll() is not None:
                raise RuntimeError("dovecot exited %d; see %s and %s" % (
                    self.proc.returncode, self.log_path,
                    os.path.join(self.dir, "dovecot.stderr")))
            raise

    def pids(self):
        return descendants(self.proc.pid) if self.running() else []
