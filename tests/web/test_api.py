"""The web app's JSON API (/api/, docs/HTTP.md) through curl: listing,
folders, rename and move, delete and restore, trash, shares, quota,
password; cross-site refusals."""
import io
import json
import os
import subprocess
import zipfile

from harness import ServerTest


class ApiTest(ServerTest):
    server_args = ("--quota", "10M")

    def setUp(self):
        super().setUp()
        self.name, self.pw = self.s.user("alice")

    def curl(self, path, form=None, user=None, extra=()):
        """(status, JSON body) of `curl` on /api/PATH, a POST with `form`."""
        user = user or (self.name, self.pw)
        cmd = ["curl", "-sS", "-u", f"{user[0]}:{user[1]}", "-w", "\n%{http_code}", *extra]
        for k, v in (form or {}).items():
            cmd += ["--data-urlencode", f"{k}={v}"]
        out = subprocess.run(cmd + [self.s.base + "/api/" + path], capture_output=True, text=True, check=True).stdout
        body, status = out.rsplit("\n", 1)
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body
        return int(status), parsed

    def ok(self, path, form=None):
        status, body = self.curl(path, form)
        self.assertEqual(status, 200, body)
        return body

    def names(self, folder=""):
        return [(e["name"], e["type"]) for e in self.ok("list/" + folder)["entries"]]

    def put(self, path, content):
        subprocess.run(["curl", "-sSf", "-u", f"{self.name}:{self.pw}", "-T", "-", self.s.base + "/files/" + path],
                       input=content, check=True, capture_output=True)

    def test_folders_rename_move_and_listing(self):
        self.ok("mkdir", {"path": "/docs"})
        self.ok("mkdir", {"path": "/docs/<img src=x onerror=alert(1)>"})
        self.put("docs/a.txt", b"hello")
        self.assertEqual(self.names("docs/"), [("<img src=x onerror=alert(1)>", "dir"), ("a.txt", "file")])
        entry = self.ok("list/docs/")["entries"][1]
        self.assertEqual((entry["size"], type(entry["mtime"])), (5, int))
        status, body = self.curl("mkdir", {"path": "/docs"})
        self.assertEqual(status, 409)
        self.assertIn("already exists", body["error"])
        self.ok("move", {"from": "/docs/a.txt", "to": "/docs/b.txt"})
        self.ok("move", {"from": "/docs/b.txt", "to": "/b.txt"})
        self.assertEqual(self.names(), [("docs", "dir"), ("b.txt", "file")])
        self.put("c.txt", b"c")
        status, body = self.curl("move", {"from": "/c.txt", "to": "/b.txt"})
        self.assertEqual(status, 409, "a move never replaces")
        status, body = self.curl("list/nope/")
        self.assertEqual(status, 404)
        self.assertTrue(body["error"].endswith("."), body)
        raw = subprocess.run(["curl", "-s", "-u", f"{self.name}:{self.pw}", self.s.base + "/api/list/docs/"],
                             capture_output=True, check=True).stdout
        self.assertNotIn(b"<img", raw, "markup characters are escaped even inside JSON")

    def test_a_folder_downloads_as_a_zip(self):
        self.ok("mkdir", {"path": "/trip"})
        self.ok("mkdir", {"path": "/trip/day 1"})
        self.put("trip/day%201/a.jpg", b"a" * 1000)
        self.put("trip/notes.txt", b"notes")
        out = subprocess.run(["curl", "-sSf", "-D", "-", "-u", f"{self.name}:{self.pw}", self.s.base + "/api/zip/trip/"],
                             capture_output=True, check=True).stdout
        head, body = out.split(b"\r\n\r\n", 1)
        self.assertIn(b'filename="trip.zip"', head)
        z = zipfile.ZipFile(io.BytesIO(body))
        self.assertIsNone(z.testzip())
        self.assertEqual(z.read("trip/day 1/a.jpg"), b"a" * 1000)
        self.assertEqual(z.read("trip/notes.txt"), b"notes")
        self.assertEqual(self.curl("zip/nope/")[0], 404)

    def test_delete_goes_to_the_trash_and_comes_back(self):
        self.put("x.txt", b"12345")
        self.ok("delete", {"path": "/x.txt"})
        self.assertEqual(self.names(), [])
        trash = self.ok("trash")["entries"]
        self.assertEqual([(t["path"], t["size"]) for t in trash], [("/x.txt", 5)])
        self.assertEqual(self.ok("restore", {"id": trash[0]["id"]})["path"], "/x.txt")
        self.assertEqual(self.names(), [("x.txt", "file")])
        self.ok("delete", {"path": "/x.txt"})
        self.ok("purge", {"id": self.ok("trash")["entries"][0]["id"]})
        self.put("y.txt", b"y")
        self.ok("delete", {"path": "/y.txt"})
        self.ok("purge", {"all": "1"})
        self.assertEqual(self.ok("trash")["entries"], [])

    def test_shares_and_quota(self):
        self.put("s.txt", b"shared bytes")
        made = self.ok("share", {"path": "/s.txt", "days": "7"})
        self.assertTrue(made["link"].startswith(self.s.base + "/s/"), made)
        self.assertIsInstance(made["expires"], int)
        page = subprocess.run(["curl", "-s", made["link"] + "/s.txt"], capture_output=True, check=True).stdout
        self.assertEqual(page, b"shared bytes")
        shares = self.ok("shares")["shares"]
        self.assertEqual([(s["link"], s["path"]) for s in shares], [(made["link"], "/s.txt")])
        self.ok("unshare", {"code": shares[0]["code"]})
        self.assertEqual(self.ok("shares")["shares"], [])
        status, _ = self.curl("share", {"path": "/s.txt", "days": "0"})
        self.assertEqual(status, 400)
        me = self.ok("me")
        self.assertEqual((me["user"], me["used"], me["quota"]), ("alice", 12, 10 * 1024 * 1024))

    def test_password_change(self):
        status, body = self.curl("passwd", {"old": "wrong", "new": "new-pass-1"})
        self.assertEqual(status, 403)
        self.assertIn("not right", body["error"])
        self.ok("passwd", {"old": self.pw, "new": "new-pass-1"})
        self.assertEqual(self.curl("me")[0], 401)
        self.assertEqual(self.curl("me", user=(self.name, "new-pass-1"))[0], 200)

    def test_cross_site_and_other_users(self):
        status, _ = self.curl("mkdir", {"path": "/evil"}, extra=("-H", "Origin: http://evil.example"))
        self.assertEqual(status, 403)
        self.assertEqual(self.names(), [])
        bob = self.s.user("bob")
        self.ok("mkdir", {"path": "/mine"})
        self.assertEqual(self.curl("list/", user=bob)[1]["entries"], [])
        status, _ = self.curl("list/../", extra=("--path-as-is",))
        self.assertEqual(status, 400)
        self.assertEqual(self.curl("me", user=("alice", "nope"))[0], 401)


class SessionTest(ServerTest):
    """Browser sessions (HTTP.md "Who is asking") through curl."""

    server_args = ("--trust-proxy", "127.0.0.1")

    def setUp(self):
        super().setUp()
        self.name, self.pw = self.s.user("alice")

    def login(self, password=None, extra=()):
        """(status, headers) of POST /login."""
        out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-D", "-", *extra,
                              "--data-urlencode", f"user={self.name}", "--data-urlencode", f"password={password or self.pw}",
                              "--data-urlencode", "next=/#/trash", self.s.base + "/login"],
                             capture_output=True, text=True, check=True).stdout
        lines = out.splitlines()
        return int(lines[0].split()[1]), {k.lower(): v for k, v in (l.split(": ", 1) for l in lines[1:] if ": " in l)}

    def me(self, cookie, extra=()):
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", f"Cookie: {cookie}", *extra,
                              self.s.base + "/api/me"], capture_output=True, text=True, check=True).stdout
        return int(out)

    def test_login_sets_a_strict_http_only_cookie_kept_hashed(self):
        status, h = self.login()
        self.assertEqual((status, h["location"]), (303, "/#/trash"))
        cookie = h["set-cookie"]
        self.assertRegex(cookie, r"^netdisk=[0-9a-f]{32}; HttpOnly; SameSite=Strict; Path=/$")
        token = cookie.split(";")[0]
        self.assertEqual(self.me(token), 200)
        stored = os.listdir(os.path.join(self.s.data, "sessions"))
        self.assertEqual(len(stored), 1)
        self.assertNotIn(token.split("=")[1], stored[0], "the token is kept hashed")
        with open(os.path.join(self.s.data, "sessions", stored[0])) as f:
            self.assertNotIn(token.split("=")[1], f.read())
        self.s.restart()
        self.assertEqual(self.me(token), 200, "sessions survive a restart (another process reads them)")
        self.assertEqual(self.me(token, ("-H", "Origin: http://evil.example", "-X", "POST")), 403)
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", f"Cookie: {token}",
                              "-H", f"Origin: {self.s.base}", "-X", "POST", self.s.base + "/logout"],
                             capture_output=True, text=True, check=True).stdout
        self.assertEqual(out, "303")
        self.assertEqual(self.me(token), 401)

    def test_a_secure_request_gets_a_host_cookie(self):
        status, h = self.login(extra=("-H", "X-Forwarded-Proto: https"))
        self.assertEqual(status, 303)
        self.assertRegex(h["set-cookie"], r"^__Host-netdisk=[0-9a-f]{32}; HttpOnly; SameSite=Strict; Path=/; Secure$")
        token = h["set-cookie"].split(";")[0]
        self.assertEqual(self.me(token, ("-H", "X-Forwarded-Proto: https")), 200)
        self.assertEqual(self.me(token.replace("__Host-", "")), 401, "the plain name is another cookie")

    def test_wrong_password_and_passwd_end_sessions(self):
        status, h = self.login(password="wrong")
        self.assertEqual(status, 401)
        self.assertNotIn("set-cookie", h)
        token = self.login()[1]["set-cookie"].split(";")[0]
        other = self.login()[1]["set-cookie"].split(";")[0]
        self.assertEqual(self.me(other), 200)
        reply = self.s.text(f"login alice {self.pw}", f"passwd {self.pw} another-pw-2")
        self.assertTrue(reply[1].startswith("200"), reply)
        self.assertEqual((self.me(token), self.me(other)), (401, 401), "a passwd in the text protocol ends them")

    def test_login_page_names_its_fields(self):
        page = subprocess.run(["curl", "-s", self.s.base + "/login?next=%2F%23%2Fshares"], capture_output=True, text=True).stdout
        for needle in ['<label for="user">User</label>', '<label for="password">Password</label>', ">Log in</button>",
                       'href="/register?next=%2F%23%2Fshares">Register</a>', 'value="/#/shares"']:
            self.assertIn(needle, page)
        self.assertNotIn("not encrypted", page, "no warning on loopback")
        page = subprocess.run(["curl", "-s", self.s.base + "/login?next=%2F%2Fevil.example"], capture_output=True, text=True).stdout
        self.assertIn('name="next" value="/"', page)
