"""Shared fixture of the web tests: a netdisk server per test on loopback
ports, with its own data directory, started from the debug build.

Tests wait on events (a log line, a status, an element), never on fixed
sleeps: `wait_until` polls a condition with a deadline.
"""
import base64
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("NETDISK_BIN", os.path.join(ROOT, "target", "debug", "netdisk"))
KEEP = os.environ.get("KEEP_WEB_TEST_DIRS")
# How long a test waits for a page or the server to show something before
# it fails: a bound for a hung page on a loaded machine, not the time it
# should take.
WAIT = 60


def wait_until(what, check, timeout=WAIT, every=0.02):
    """Polls `check` until it returns something true; fails naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def data_bytes(n, seed=1):
    """Deterministic pseudo-random bytes."""
    out = bytearray()
    block = hashlib.sha256(str(seed).encode()).digest()
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block * 32
    return bytes(out[:n])


class Server:
    """A netdisk process with the text protocol and HTTP on loopback."""

    def __init__(self, test, args=()):
        self.dir = tempfile.mkdtemp(prefix=f"netdisk-web-{test}-")
        self.data = os.path.join(self.dir, "data")
        self.args = list(args)
        self.http_port = 0
        self.proc = None
        self.starts = 0
        self.start()

    def start(self):
        port = self.http_port
        log = open(os.path.join(self.dir, f"server-{self.starts}.log"), "wb")
        self.starts += 1
        cmd = [BINARY, "--listen", "127.0.0.1:0", "--http", f"127.0.0.1:{port}", "--data", self.data] + self.args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log)
        first = self.proc.stdout.readline().decode().strip()
        second = self.proc.stdout.readline().decode().strip()
        if not first.startswith("listening on ") or not second.startswith("http on "):
            raise AssertionError(f"server did not start: {first!r} {second!r}")
        self.addr = first.removeprefix("listening on ")
        self.http_addr = second.removeprefix("http on ")
        self.http_port = int(self.http_addr.rsplit(":", 1)[1])
        self.base = f"http://{self.http_addr}"

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def restart(self):
        """Kills the server and starts it again on the same HTTP port."""
        self.kill()
        self.start()

    def close(self, failed):
        self.kill()
        if failed or KEEP:
            print(f"\n  kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self):
        out = ""
        for n in range(self.starts):
            with open(os.path.join(self.dir, f"server-{n}.log"), errors="replace") as f:
                out += f.read()
        return out

    def text(self, *lines):
        """Sends text-protocol lines; returns the reply lines after the greeting."""
        host, port = self.addr.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as s:
            f = s.makefile("rwb")
            f.readline()
            replies = []
            for line in lines:
                f.write(line.encode() + b"\n")
                f.flush()
                replies.append(f.readline().decode().strip())
            return replies

    def connect(self):
        """A text-protocol session kept open (greeting read)."""
        return TextSession(self.addr)

    def user(self, name, password=None):
        password = password or f"pw-{name}-1"
        reply = self.text(f"register {name} {password}")[0]
        assert reply.startswith("201"), reply
        return name, password

    def file_path(self, user, path):
        return os.path.join(self.data, "home", user, path.lstrip("/"))


class TextSession:
    """One text-protocol connection, for a test that needs it open."""

    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        self.f = self.sock.makefile("rwb")
        self.f.readline()

    def ask(self, line, want):
        """Sends `line`; the reply must start with `want`."""
        self.f.write(line.encode() + b"\n")
        self.f.flush()
        reply = self.f.readline().decode().strip()
        assert reply.startswith(want), f"{line!r}: {reply!r}"
        return reply

    def send(self, data):
        self.f.write(data)
        self.f.flush()

    def close(self):
        self.f.close()
        self.sock.close()


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def request(method, url, headers=None, body=None, timeout=30):
    """One HTTP request; returns (status, headers dict lower-cased, body)."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


class ServerTest(unittest.TestCase):
    """A test with `self.s`, its own server (flags in `server_args`)."""

    server_args = ()

    def setUp(self):
        self.s = Server(self.id().rsplit(".", 1)[-1][:40], self.server_args)
        self.addCleanup(self._close)

    def _close(self):
        outcome = getattr(self, "_outcome", None)
        result = getattr(outcome, "result", None)
        failed = bool(outcome and not outcome.success) or bool(
            result and any(t is self for t, _ in result.failures + result.errors))
        self.s.close(failed)
