"""A WebDriver server for Firefox in Python's standard library: the W3C
WebDriver HTTP endpoints Selenium calls, translated into Firefox's own
Marionette protocol (what geckodriver does, for the commands the web tests
use). It listens on loopback only and starts one Firefox per session.

    bridge = Bridge()            # 127.0.0.1, a free port, in a thread
    webdriver.Remote(command_executor=bridge.url, options=FirefoxOptions())
    bridge.close()               # quits any Firefox still running

Marionette (https://firefox-source-docs.mozilla.org/remote/marionette/
Protocol.html): over TCP, each message is `LENGTH:JSON`; Firefox first sends
a handshake object, then answers each command `[0, id, name, params]` with
`[1, id, error, result]`, where error is null or {error, message,
stacktrace} whose `error` is already a W3C error code.
"""
import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# W3C WebDriver's HTTP status of each error code (the spec's table).
STATUS = {
    "invalid session id": 404, "no such alert": 404, "no such cookie": 404, "no such element": 404,
    "no such frame": 404, "no such window": 404, "no such shadow root": 404, "stale element reference": 404,
    "detached shadow root": 404, "unknown command": 404, "unknown method": 405,
    "element click intercepted": 400, "element not interactable": 400, "insecure certificate": 400,
    "invalid argument": 400, "invalid cookie domain": 400, "invalid element state": 400, "invalid selector": 400,
}
# Firefox's first-run pages and calls home, off (geckodriver sets these
# too); the caller's own preferences come after and win.
PREFS = {
    "browser.startup.homepage_override.mstone": "ignore", "browser.startup.page": 0,
    "startup.homepage_welcome_url": "about:blank", "datareporting.policy.firstRunURL": "",
    "browser.aboutwelcome.enabled": False, "browser.shell.checkDefaultBrowser": False,
}
START_TIMEOUT = 60
QUIT_TIMEOUT = 20


class WebDriverError(Exception):
    """A W3C error: its code (e.g. "no such element") and message."""

    def __init__(self, code, message, stacktrace=""):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.stacktrace = code, message, stacktrace

    def body(self):
        return {"value": {"error": self.code, "message": self.message, "stacktrace": self.stacktrace}}


class Marionette:
    """One connection to Firefox's Marionette server: commands in turn."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")
        self.next_id = 0
        self.lock = threading.Lock()
        hello = self.read()
        if hello.get("marionetteProtocol") != 3:
            raise WebDriverError("session not created", f"unknown Marionette handshake {hello}")

    def read(self):
        size = b""
        while not size.endswith(b":"):
            byte = self.file.read(1)
            if not byte or len(size) > 12:
                raise WebDriverError("unknown error", "Firefox closed its Marionette connection")
            size += byte
        return json.loads(self.file.read(int(size[:-1])))

    def call(self, name, params=None):
        """The result of the command `name`, or WebDriverError."""
        with self.lock:
            self.next_id += 1
            data = json.dumps([0, self.next_id, name, params or {}]).encode()
            self.sock.sendall(b"%d:%s" % (len(data), data))
            while True:
                kind, msg_id, error, result = self.read()
                if kind == 1 and msg_id == self.next_id:
                    break
        if error:
            raise WebDriverError(error.get("error", "unknown error"), error.get("message", ""), error.get("stacktrace", ""))
        return result

    def close(self):
        self.file.close()
        self.sock.close()


class Firefox:
    """A Firefox process with Marionette on, in its own profile, alone in
    its process group (so its content processes go with it)."""

    def __init__(self, options):
        args = list(options.get("args", []))
        self.binary = options.get("binary") or shutil.which("firefox-esr") or shutil.which("firefox")
        if not self.binary:
            raise WebDriverError("session not created", "no Firefox binary (install firefox-esr)")
        self.profile, self.own_profile = self.take_profile(args)
        self.write_prefs({**PREFS, **options.get("prefs", {}), "marionette.port": 0})
        port_file = os.path.join(self.profile, "MarionetteActivePort")
        if os.path.exists(port_file):
            os.remove(port_file)
        with open(os.path.join(self.profile, "firefox.log"), "ab") as log:
            self.proc = subprocess.Popen([self.binary, "--marionette", "--no-remote", *args], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, start_new_session=True)
        try:
            self.client = Marionette(self.wait_port(port_file))
        except BaseException:
            self.kill()
            raise

    @staticmethod
    def take_profile(args):
        """The profile named by `-profile DIR` in args, else a fresh one
        (added to args, removed at the end)."""
        for i, arg in enumerate(args[:-1]):
            if arg.lstrip("-") == "profile":
                return args[i + 1], False
        profile = tempfile.mkdtemp(prefix="netdisk-marionette-")
        args += ["-profile", profile]
        return profile, True

    def write_prefs(self, prefs):
        with open(os.path.join(self.profile, "user.js"), "a") as f:
            for key, value in prefs.items():
                f.write(f"user_pref({json.dumps(key)}, {json.dumps(value)});\n")

    def wait_port(self, port_file):
        """The port Firefox's Marionette listens on: Firefox writes it to
        the profile's MarionetteActivePort once listening."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise WebDriverError("session not created", f"Firefox exited with {self.proc.returncode}")
            try:
                with open(port_file) as f:
                    text = f.read().strip()
                if text:
                    return int(text)
            except FileNotFoundError:
                pass
            time.sleep(0.05)
        raise WebDriverError("session not created", f"Firefox did not open Marionette in {START_TIMEOUT} s")

    def quit(self):
        """Asks Firefox to quit, then kills whatever is left."""
        try:
            self.client.call("Marionette:Quit", {"flags": ["eForceQuit"]})
        except (WebDriverError, OSError, ValueError):
            pass
        finally:
            self.client.close()
            try:
                self.proc.wait(QUIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
            self.kill()

    def kill(self):
        """Kills the process group and waits until none of it runs."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        deadline = time.monotonic() + QUIT_TIMEOUT
        while group_running(self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.own_profile:
            shutil.rmtree(self.profile, ignore_errors=True)


def group_running(pgid):
    """Whether a process of the group `pgid` still runs (zombies, left to
    init to reap, do not count)."""
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                state, _ppid, group = f.read().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError, IndexError):
            continue
        if int(group) == pgid and state not in "ZX":
            return True
    return False


def element(params, body):
    """The parameters of a command on one element."""
    return {"id": params["id"]}


def command(name, params=lambda p, body: {}):
    """A route sent to Firefox as the Marionette command `name`, with the
    parameters params(path parameters, request body)."""
    return lambda firefox, p, body: unwrap(firefox.client.call(name, params(p, body)))


def unwrap(result):
    """The value of a Marionette result: it wraps in {"value": ...} all
    but the results that are objects or arrays of their own (a rect, the
    elements found), and script results always."""
    if isinstance(result, dict) and list(result) == ["value"]:
        return result["value"]
    return result


def find(name):
    """A search from the document, or from the element of the path."""
    def params(p, b):
        within = {"element": p["id"]} if "id" in p else {}
        return {"using": b["using"], "value": b["value"], **within}
    return command(name, params)


# The endpoints the web tests use (found by running them; any other is an
# "unknown command"), as (method, path under /session/{sid}/, handler).
# POST /session and DELETE /session/{sid} are Bridge's own.
ROUTES = [
    ("POST", "url", command("WebDriver:Navigate", lambda p, b: {"url": b["url"]})),
    ("GET", "url", command("WebDriver:GetCurrentURL")),
    ("POST", "element", find("WebDriver:FindElement")),
    ("POST", "elements", find("WebDriver:FindElements")),
    ("POST", "element/{id}/element", find("WebDriver:FindElement")),
    ("POST", "element/{id}/elements", find("WebDriver:FindElements")),
    ("POST", "element/{id}/click", command("WebDriver:ElementClick", element)),
    ("POST", "element/{id}/clear", command("WebDriver:ElementClear", element)),
    ("GET", "element/{id}/enabled", command("WebDriver:IsElementEnabled", element)),
    ("GET", "element/active", command("WebDriver:GetActiveElement")),
    ("POST", "element/{id}/value", command("WebDriver:ElementSendKeys", lambda p, b: {"id": p["id"], "text": b["text"]})),
    ("GET", "element/{id}/text", command("WebDriver:GetElementText", element)),
    ("POST", "execute/sync", command("WebDriver:ExecuteScript", lambda p, b: {"script": b["script"], "args": b["args"]})),
    ("POST", "window/rect", command("WebDriver:SetWindowRect", lambda p, b: b)),
    ("GET", "alert/text", command("WebDriver:GetAlertText")),
]


def compile_routes(routes):
    """ROUTES as (method, regular expression of the whole path, handler)."""
    out = []
    for method, template, handler in routes:
        pattern = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(template))
        out.append((method, re.compile(f"/session/(?P<sid>[^/]+)/{pattern}$"), handler))
    return out


class Bridge:
    """The WebDriver HTTP server, in a daemon thread on 127.0.0.1."""

    routes = compile_routes(ROUTES)

    def __init__(self):
        self.sessions = {}
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        self.server.bridge = self
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="marionette-bridge", daemon=True)
        self.thread.start()
        # A run stopped half way (Ctrl-C) skips tearDown: Firefox goes too.
        atexit.register(self.close)

    def dispatch(self, method, path, body):
        """(HTTP status, JSON body) of one WebDriver request."""
        try:
            return 200, {"value": self.handle(method, path, body)}
        except WebDriverError as e:
            return STATUS.get(e.code, 500), e.body()
        except (KeyError, TypeError, ValueError) as e:
            return 400, WebDriverError("invalid argument", f"{type(e).__name__}: {e}").body()
        except OSError as e:
            return 500, WebDriverError("unknown error", f"Firefox unreachable: {e}").body()

    def handle(self, method, path, body):
        if method == "POST" and path == "/session":
            return self.new_session(body)
        deleted = re.fullmatch(r"/session/([^/]+)", path)
        if method == "DELETE" and deleted:
            return self.delete_session(deleted.group(1))
        for route_method, pattern, handler in self.routes:
            match = pattern.match(path)
            if match and route_method == method:
                params = match.groupdict()
                return handler(self.firefox(params.pop("sid")), params, body)
        raise WebDriverError("unknown command", f"{method} {path} is not bridged to Marionette")

    def firefox(self, sid):
        with self.lock:
            found = self.sessions.get(sid)
        if not found:
            raise WebDriverError("invalid session id", f"no session {sid}")
        return found

    def new_session(self, body):
        """Starts Firefox with the options of moz:firefoxOptions (binary,
        args, prefs: read here, as geckodriver does) and opens a Marionette
        session with the other capabilities."""
        caps = merge(body.get("capabilities", {}))
        firefox = Firefox(caps.pop("moz:firefoxOptions", {}))
        try:
            created = firefox.client.call("WebDriver:NewSession", caps)
        except BaseException:
            firefox.quit()
            raise
        sid = created["sessionId"]
        with self.lock:
            closed = self.server is None
            if not closed:
                self.sessions[sid] = firefox
        if closed:
            firefox.quit()
            raise WebDriverError("session not created", "the bridge was closed meanwhile")
        return {"sessionId": sid, "capabilities": created.get("capabilities", {})}

    def delete_session(self, sid):
        with self.lock:
            firefox = self.sessions.pop(sid, None)
        if firefox:
            firefox.quit()
        return None

    def close(self):
        """Quits every Firefox still running and stops listening (once)."""
        atexit.unregister(self.close)
        with self.lock:
            running, self.sessions = list(self.sessions.values()), {}
            server, self.server = self.server, None
        try:
            for firefox in running:
                firefox.quit()
        finally:
            if server:
                server.shutdown()
                server.server_close()


def merge(capabilities):
    """W3C capabilities processing, simply: alwaysMatch with the first
    firstMatch entry."""
    first = (capabilities.get("firstMatch") or [{}])[0]
    return {**capabilities.get("alwaysMatch", {}), **first}



class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.serve("GET")

    def do_POST(self):
        self.serve("POST")

    def do_DELETE(self):
        self.serve("DELETE")

    def serve(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            status, reply = 400, WebDriverError("invalid argument", "the body is not JSON").body()
        else:
            status, reply = self.server.bridge.dispatch(method, self.path.rstrip("/"), body)
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass
