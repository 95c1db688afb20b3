"""The web app in headless Chromium, driven by the accessible names of
HTTP.md's table: login, upload through the file input, a resumed upload
after a server restart, delete and restore, share and open the link in a
fresh browser, save a share to my disk, hostile names, folders, the phone
width and the weight of the first load."""
import base64
import hashlib
import os
import time
import urllib.parse

from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from browser import DESKTOP, PHONE, Browser
from harness import ServerTest, basic, data_bytes, request, wait_until

# Names hold no `/`, so no closing tag: the opening ones are the danger.
XSS_NAMES = ['<img src=x onerror="window.__xss=1">', '"><script>window.__xss=2<svg onload=window.__xss=3>']


class AppTest(ServerTest):
    server_args = ("--quota", "1G")
    # Which browser drives the page (test_firefox.py runs these steps again
    # in Firefox).
    kind = "chromium"

    def setUp(self):
        super().setUp()
        self.name, self.pw = self.s.user("alice")
        self.auth = {"Authorization": basic(self.name, self.pw)}
        self.browsers = []

    def tearDown(self):
        for b in self.browsers:
            b.close()

    def browser(self, size=None, login=True):
        b = Browser(size or DESKTOP, self.kind)
        self.browsers.append(b)
        if login:
            self.login(b)
        return b

    def login(self, b):
        """Logs in through the form: the page sends the browser there."""
        b.driver.get(self.s.base + "/")
        self.fill(b, "User", self.name)
        self.fill(b, "Password", self.pw)
        b.click("Log in")
        b.wait_text(" used")

    def put(self, path, content):
        status = request("PUT", self.s.base + "/files/" + urllib.parse.quote(path), self.auth, content)[0]
        self.assertIn(status, (201, 204))

    def press(self, b, row_name, label, tag="a"):
        """Clicks the button `label` of the row named `row_name` (found
        again if the list re-renders meanwhile)."""
        def go(_):
            named = b.by_name(row_name, tag)
            row = named and named.find_element(By.XPATH, "./ancestor::div[contains(@class,'row')]")
            button = row and b.by_name(label, "button", within=row)
            if button:
                button.click()
            return bool(button)
        b.wait().until(go, f"{label} of the row {row_name!r}")

    def choose(self, b, paths, folder=False):
        inp = b.driver.find_element(By.ID, "folder-input" if folder else "file-input")
        b.driver.execute_script("arguments[0].hidden = false", inp)
        inp.send_keys("\n".join(paths))

    def local(self, name, content):
        p = os.path.join(self.s.dir, name)
        with open(p, "wb") as f:
            f.write(content)
        return p

    def no_xss(self, b):
        try:
            b.driver.switch_to.alert
            self.fail("an alert opened")
        except NoAlertPresentException:
            pass
        self.assertIsNone(b.driver.execute_script("return window.__xss"))

    # ---- tests ----

    def test_login_through_the_form(self):
        b = self.browser(login=False)
        b.driver.get(self.s.base + "/")
        self.assertIn("/login", b.driver.current_url)
        self.login(b)
        b.wait_name("Files", "a")
        self.assertEqual(b.driver.find_element(By.ID, "quota-text").text, "0 B of 1 GiB used")
        b.click(self.name)
        b.click("Log out")
        b.wait_name("Log in")
        b.driver.get(self.s.base + "/")
        b.wait_name("Log in")

    def fill(self, b, label, text, within=None):
        box = b.driver.find_element(By.ID, b.wait_name(label, "label", within).get_attribute("for"))
        box.clear()
        box.send_keys(text)

    def test_register_through_the_form(self):
        b = self.browser(login=False)
        b.driver.get(self.s.base + "/login")
        b.click("Register", "a")
        self.fill(b, "User", "carol")
        self.fill(b, "Password", "carols-secret-1")
        self.fill(b, "Password again", "carols-secret-1")
        b.click("Register", "button")
        b.wait_text("0 B of 1 GiB used")
        self.assertEqual(b.driver.find_element(By.ID, "account-name").text, "carol")

    def test_change_password_ends_the_session(self):
        b = self.browser()
        b.click(self.name)
        b.click("Change password")
        dialog = b.driver.find_element(By.ID, "dlg-passwd")
        self.fill(b, "Current password", "not it", dialog)
        self.fill(b, "New password", "brand-new-pw-3", dialog)
        self.fill(b, "New password again", "brand-new-pw-3", dialog)
        b.click("Save", "button", dialog)
        b.wait().until(lambda d: "not right" in d.find_element(By.ID, "passwd-error").text)
        self.fill(b, "Current password", self.pw, dialog)
        b.click("Save", "button", dialog)
        b.wait_text("Password changed.")
        b.wait().until(lambda d: "/login" in d.current_url, "sent to the login page")
        self.assertTrue(self.s.text(f"login alice brand-new-pw-3")[0].startswith("230"))
        b.driver.get(self.s.base + "/")
        b.wait_name("Log in")

    def test_upload_through_the_file_input(self):
        b = self.browser()
        one, two = data_bytes(300_000, 7), b"hello"
        self.choose(b, [self.local("photo 1.jpg", one), self.local("笔记.txt", two)])
        b.wait_name("photo 1.jpg", "a")
        b.wait_name("笔记.txt", "a")
        b.wait_text("2 of 2 uploaded")
        with open(self.s.file_path("alice", "photo 1.jpg"), "rb") as f:
            self.assertEqual(f.read(), one)
        local_mtime = int(os.stat(os.path.join(self.s.dir, "photo 1.jpg")).st_mtime)
        self.assertEqual(int(os.stat(self.s.file_path("alice", "photo 1.jpg")).st_mtime), local_mtime)
        href = b.wait().until(lambda d: (a := b.by_name("笔记.txt", "a")) and a.get_attribute("href"))
        self.assertEqual(request("GET", href, self.auth)[2], two)
        b.wait().until(lambda d: "300 KiB" in d.find_element(By.ID, "quota-text").text or "293" in d.find_element(By.ID, "quota-text").text)
        self.assertEqual(b.console_errors(), [])

    def test_an_upload_held_elsewhere_for_a_while_is_asked_again(self):
        """A tus upload whose staged file another writer holds (here a
        text-protocol upload of the same path, moving bytes, so never
        taken over) gets 423: the page waits and asks again, and carries
        on from the server's offset once the other writer lets go."""
        content = data_bytes(3 * 1024 * 1024, 13)
        path = self.local("held.bin", content)
        mtime = int(os.stat(path).st_mtime)
        meta = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in [("filename", "held.bin"), ("mtime", str(mtime))])
        created = request("POST", self.s.base + "/tus/", dict(self.auth, **{
            "Tus-Resumable": "1.0.0", "Upload-Length": str(len(content)), "Upload-Metadata": meta}))
        self.assertEqual(created[0], 201, created)
        b = self.browser()
        other = self.s.connect()
        try:
            other.ask(f"login {self.name} {self.pw}", "230")
            other.ask(f"upload /held.bin {len(content)} {hashlib.md5(content).hexdigest()}", "150")
            other.send(content[:1024 * 1024])
            wait_until("the other writer's bytes staged", lambda: self.staged_size() == 1024 * 1024)
            self.choose(b, [path])
            b.wait_text("waiting for the upload to be free")
        finally:
            other.close()
        done = b.wait(60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#upload-list li.done"), "a finished upload")
        self.assertGreaterEqual(int(done[0].get_attribute("data-resumed-at")), 1024 * 1024, "it carried on")
        with open(self.s.file_path("alice", "held.bin"), "rb") as f:
            self.assertEqual(f.read(), content)

    def staged_size(self):
        staging = os.path.join(self.s.data, "staging", "alice")
        parts = [f for f in os.listdir(staging) if f.endswith(".part")] if os.path.isdir(staging) else []
        return parts and os.path.getsize(os.path.join(staging, parts[0]))

    def test_upload_folder_keeps_its_tree(self):
        b = self.browser()
        top = os.path.join(self.s.dir, "album")
        os.makedirs(os.path.join(top, "day 2"))
        for rel, content in [("a.jpg", b"aa"), ("day 2/b.jpg", b"bbb")]:
            with open(os.path.join(top, rel), "wb") as f:
                f.write(content)
        self.choose(b, [top], folder=True)
        b.wait_text("2 of 2 uploaded")
        with open(self.s.file_path("alice", "album/day 2/b.jpg"), "rb") as f:
            self.assertEqual(f.read(), b"bbb")
        b.click("album", "a")
        b.wait_name("day 2", "a")
        crumbs = b.driver.find_elements(By.CSS_SELECTOR, "#crumbs a")
        self.assertEqual([c.text for c in crumbs], ["All files", "album"])

    def test_a_resumed_upload_after_a_server_restart(self):
        b = self.browser()
        content = data_bytes(12 * 1024 * 1024, 9)
        path = self.local("video.mp4", content)
        b.driver.execute_cdp_cmd("Network.enable", {})
        b.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 2 * 1024 * 1024})
        self.choose(b, [path])
        staging = os.path.join(self.s.data, "staging", "alice")

        def staged():
            parts = [f for f in os.listdir(staging) if f.endswith(".part")] if os.path.isdir(staging) else []
            return parts and os.path.getsize(os.path.join(staging, parts[0])) >= 2 * 1024 * 1024

        wait_until("2 MiB staged", staged, timeout=60)
        self.s.restart()

        def finished(d):
            return d.find_elements(By.CSS_SELECTOR, "#upload-list li.done")

        def settled(d):
            return finished(d) or "continues where it stopped" in d.find_element(By.TAG_NAME, "body").text

        b.wait(60).until(settled, "the page asks for the file again, or carries on by itself")
        b.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        if finished(b.driver):
            # Chromium re-sent the cut PATCH on a new connection (it does so
            # when a reused connection fails before any answer): the server
            # said 409, the page read the offset back with HEAD and went on.
            # Resumed, not restarted: one creation in both servers' logs.
            self.assertEqual(self.s.log_text().count("POST /tus/\""), 1, self.s.log_text())
            self.assertIn("HEAD /tus/", self.s.log_text())
        else:
            self.choose(b, [path])
            done = b.wait(60).until(finished, "a finished upload")
            self.assertGreaterEqual(int(done[0].get_attribute("data-resumed-at")), 2 * 1024 * 1024, "it resumed, not restarted")
            self.assertIn("resumed at", done[0].text)
        b.wait_name("video.mp4", "a", timeout=60)
        with open(self.s.file_path("alice", "video.mp4"), "rb") as f:
            self.assertEqual(hashlib.md5(f.read()).hexdigest(), hashlib.md5(content).hexdigest())

    def test_a_closed_tab_resumes_in_a_fresh_browser(self):
        """No note in this browser's storage: the page asks the server."""
        first = self.browser()
        # Large beside the throttle: Chromium's upload throttle is loose (a
        # 6 MiB file was seen whole in 2 s at "1 MiB/s"), and the first
        # browser must still be sending when it is closed.
        content = data_bytes(48 * 1024 * 1024, 11)
        path = self.local("film.mkv", content)
        first.driver.execute_cdp_cmd("Network.enable", {})
        first.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 1024 * 1024})
        self.choose(first, [path])
        staging = os.path.join(self.s.data, "staging", "alice")

        def staged():
            parts = [f for f in os.listdir(staging) if f.endswith(".part")] if os.path.isdir(staging) else []
            return parts and os.path.getsize(os.path.join(staging, parts[0])) >= 1024 * 1024

        wait_until("1 MiB staged", staged, timeout=60)
        first.close()
        self.browsers.remove(first)
        second = self.browser()
        self.choose(second, [path])
        done = second.wait(60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#upload-list li.done"), "a finished upload")
        self.assertGreaterEqual(int(done[0].get_attribute("data-resumed-at")), 1024 * 1024, "it resumed, not restarted")
        with open(self.s.file_path("alice", "film.mkv"), "rb") as f:
            self.assertEqual(f.read(), content)

    def test_cancel_an_upload(self):
        b = self.browser()
        path = self.local("big.bin", data_bytes(8 * 1024 * 1024, 3))
        b.driver.execute_cdp_cmd("Network.enable", {})
        b.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 512 * 1024})
        self.choose(b, [path])
        up = b.wait().until(lambda d: d.find_element(By.CSS_SELECTOR, "#upload-list li"))
        b.wait().until(lambda d: "/s" in up.text, "a speed shown")
        b.click("Cancel", "button", within=up)
        b.wait_text("cancelled")
        staging = os.path.join(self.s.data, "staging", "alice")
        wait_until("the staged bytes dropped", lambda: not [f for f in os.listdir(staging) if f.endswith((".part", ".tus"))])
        self.assertFalse(os.path.exists(self.s.file_path("alice", "big.bin")))

    def test_delete_then_restore_from_the_trash(self):
        self.put("report.pdf", b"%PDF-1.4 report")
        b = self.browser()
        self.press(b, "report.pdf", "Delete")
        dialog = b.driver.find_element(By.ID, "dlg-confirm")
        self.assertIn("restore", dialog.text)
        b.click("Delete", "button", within=dialog)
        b.wait().until(lambda d: b.by_name("report.pdf", "a") is None, "the row gone")
        b.wait_text("moved to the trash")
        self.assertFalse(os.path.exists(self.s.file_path("alice", "report.pdf")))
        b.click("Trash", "a")
        self.press(b, "/report.pdf", "Restore", "span")
        b.wait_text("Restored to /report.pdf")
        b.click("Files", "a")
        b.wait_name("report.pdf", "a")
        with open(self.s.file_path("alice", "report.pdf"), "rb") as f:
            self.assertEqual(f.read(), b"%PDF-1.4 report")

    def test_trash_delete_forever_and_empty(self):
        for n in ("a.txt", "b.txt"):
            self.put(n, n.encode())
            request("POST", self.s.base + "/api/delete", dict(self.auth, **{"Content-Type": "application/x-www-form-urlencoded"}),
                    ("path=/" + n).encode())
        b = self.browser()
        b.click("Trash", "a")
        self.press(b, "/a.txt", "Delete forever", "span")
        b.click("Delete forever", "button", within=b.driver.find_element(By.ID, "dlg-confirm"))
        b.wait().until(lambda d: b.by_name("/a.txt", "span") is None)
        b.click("Empty trash", "button")
        b.click("Empty trash", "button", within=b.driver.find_element(By.ID, "dlg-confirm"))
        b.wait_text("The trash is empty.")
        self.assertEqual(request("GET", self.s.base + "/api/trash", self.auth)[2], b'{"entries":[]}')

    def test_share_and_open_the_link_in_a_fresh_browser(self):
        self.put("plan.txt", b"the plan")
        b = self.browser()
        self.press(b, "plan.txt", "Share")
        dialog = b.driver.find_element(By.ID, "dlg-share")
        days = dialog.find_element(By.ID, "share-days")
        self.assertEqual(days.find_element(By.CSS_SELECTOR, "option:checked").text, "in 7 days")
        b.click("Create link", "button", within=dialog)
        link = b.wait().until(lambda d: d.find_element(By.ID, "share-link").get_attribute("value"))
        self.assertTrue(link.startswith(self.s.base + "/s/"), link)
        b.click("Copy link", "button", within=dialog)
        b.wait_text("Link copied.")
        b.click("Done", "button", within=dialog)

        stranger = self.browser(login=False)
        stranger.driver.get(link)
        stranger.wait_text("plan.txt")
        download = stranger.wait_name("Download", "a").get_attribute("href")
        self.assertEqual(request("GET", download)[2], b"the plan")

        b.click("Shares", "a")
        b.wait().until(lambda d: "/plan.txt" in b.row_text(link))
        self.press(b, link, "Stop sharing")
        b.wait_text("no longer shared")
        self.assertEqual(request("GET", link)[0], 404)

    def test_save_a_share_to_my_disk(self):
        bob, bob_pw = self.s.user("bob")
        status = request("PUT", self.s.base + "/files/gift.txt", {"Authorization": basic(bob, bob_pw)}, b"for alice")[0]
        self.assertEqual(status, 201)
        reply = self.s.text(f"login {bob} {bob_pw}", "share gift.txt")[1]
        self.assertTrue(reply.startswith("200 "), reply)
        link = reply.split()[2]
        b = self.browser()
        b.driver.get(link)
        b.click("Save to my disk", "button")
        b.wait_text("“gift.txt” is now /gift.txt in your files.")
        b.click("Open in your files", "a")
        b.wait_name("gift.txt", "a")
        with open(self.s.file_path(self.name, "gift.txt"), "rb") as f:
            self.assertEqual(f.read(), b"for alice")

    def test_registering_from_save_to_my_disk_comes_back_to_the_share(self):
        bob, bob_pw = self.s.user("bob")
        status = request("PUT", self.s.base + "/files/gift.txt", {"Authorization": basic(bob, bob_pw)}, b"for dora")[0]
        self.assertEqual(status, 201)
        link = self.s.text(f"login {bob} {bob_pw}", "share gift.txt")[1].split()[2]
        b = self.browser(login=False)
        b.driver.get(link)
        b.click("Save to my disk", "button")
        b.wait_name("Log in", "button")
        b.click("Register", "a")
        self.fill(b, "User", "dora")
        self.fill(b, "Password", "doras-secret-1")
        self.fill(b, "Password again", "doras-secret-1")
        b.click("Register", "button")
        b.wait().until(lambda d: d.current_url == link, "back on the share page")
        b.click("Save to my disk", "button")
        b.wait_text("“gift.txt” is now /gift.txt in your files.")
        with open(self.s.file_path("dora", "gift.txt"), "rb") as f:
            self.assertEqual(f.read(), b"for dora")

    def test_hostile_names_stay_text(self):
        for n in XSS_NAMES:
            request("POST", self.s.base + "/api/mkdir", dict(self.auth, **{"Content-Type": "application/x-www-form-urlencoded"}),
                    urllib.parse.urlencode({"path": "/" + n}).encode())
            self.put(n + ".txt", b"x")
        b = self.browser()
        for n in XSS_NAMES:
            b.wait_name(n, "a")
            b.wait_name(n + ".txt", "a")
        self.assertEqual(b.driver.find_elements(By.CSS_SELECTOR, "#file-list img, #file-list script"), [])
        b.click(XSS_NAMES[0], "a")
        b.wait().until(lambda d: XSS_NAMES[0] in d.find_element(By.ID, "crumbs").text)
        b.wait_text("This folder is empty")
        b.click("All files", "a")
        self.press(b, XSS_NAMES[1] + ".txt", "Rename")
        self.assertEqual(b.driver.find_element(By.ID, "prompt-title").text, f"Rename “{XSS_NAMES[1]}.txt”")
        b.driver.find_element(By.ID, "prompt-input").send_keys(Keys.ESCAPE)
        self.press(b, XSS_NAMES[1] + ".txt", "Move")
        picker = b.driver.find_element(By.ID, "dlg-move")
        for n in XSS_NAMES:
            b.wait_name(n, "button", picker)
        self.assertEqual(picker.find_elements(By.CSS_SELECTOR, "img, script"), [])
        picker.send_keys(Keys.ESCAPE)
        self.no_xss(b)

    def test_new_folder_rename_and_move(self):
        self.put("draft.txt", b"draft")
        self.mkdir("Archive 2026/Old")
        b = self.browser()
        b.click("New folder", "button")
        box = b.driver.find_element(By.ID, "prompt-input")
        box.send_keys("Inbox", Keys.ENTER)
        b.wait_name("Inbox", "a")
        self.press(b, "draft.txt", "Rename")
        box = b.driver.find_element(By.ID, "prompt-input")
        box.clear()
        box.send_keys("final.txt", Keys.ENTER)
        b.wait_name("final.txt", "a")
        # Move through the folder picker: it opens where the file is (and
        # says so), goes down a folder, deeper, and back up by a breadcrumb.
        self.press(b, "final.txt", "Move")
        dialog = b.driver.find_element(By.ID, "dlg-move")
        self.assertEqual(dialog.find_element(By.ID, "move-title").text, "Move “final.txt”")
        b.wait_name("Inbox", "button", dialog)
        self.assertFalse(b.by_name("Move here", "button", dialog).is_enabled(), "it is in this folder already")
        b.click("Archive 2026", "button", dialog)
        self.wait_picker(b, ["All files", "Archive 2026"])
        b.click("Old", "button", dialog)
        self.wait_picker(b, ["All files", "Archive 2026", "Old"])
        b.wait_text("No folders in here.")
        b.click("Archive 2026", "button", b.driver.find_element(By.ID, "move-crumbs"))
        self.wait_picker(b, ["All files", "Archive 2026"])
        b.click("Move here", "button", dialog)
        b.wait().until(lambda d: b.by_name("final.txt", "a") is None)
        b.wait_text("Moved “final.txt” to /Archive 2026.")
        b.click("Archive 2026", "a")
        b.wait_name("final.txt", "a")
        self.assertTrue(os.path.isfile(self.s.file_path("alice", "Archive 2026/final.txt")))
        b.click("New folder", "button")
        box = b.driver.find_element(By.ID, "prompt-input")
        box.send_keys("final.txt", Keys.ENTER)
        error = b.wait().until(lambda d: d.find_element(By.ID, "prompt-error").text)
        self.assertIn("already exists", error)

    def test_move_a_folder_with_the_keyboard(self):
        """The picker by keys alone; a folder is never offered as a place
        for itself."""
        self.mkdir("Albums/2024")
        self.mkdir("Backup")
        b = self.browser()
        self.press(b, "Albums", "Move")
        dialog = b.driver.find_element(By.ID, "dlg-move")
        b.wait_name("Backup", "button", dialog)
        self.assertIsNone(b.by_name("Albums", "button", dialog), "not into itself")
        focused = b.wait(10).until(lambda d: d.switch_to.active_element.text == "Backup" and d.switch_to.active_element)
        focused.send_keys(Keys.ENTER)
        self.wait_picker(b, ["All files", "Backup"])
        focused = b.wait(10).until(lambda d: d.switch_to.active_element.text == "Move here" and d.switch_to.active_element)
        focused.send_keys(Keys.ENTER)
        b.wait_text("Moved “Albums” to /Backup.")
        self.assertTrue(os.path.isdir(self.s.file_path("alice", "Backup/Albums/2024")))
        self.assertFalse(os.path.exists(self.s.file_path("alice", "Albums")))

    def mkdir(self, path):
        """Makes `path` and its parents through the API."""
        parts = path.split("/")
        for n in range(1, len(parts) + 1):
            form = urllib.parse.urlencode({"path": "/" + "/".join(parts[:n])}).encode()
            request("POST", self.s.base + "/api/mkdir", dict(self.auth, **{"Content-Type": "application/x-www-form-urlencoded"}), form)

    def wait_picker(self, b, crumbs):
        """Waits until the Move picker shows the folder `crumbs`."""
        def shown(d):
            return [e.text for e in d.find_elements(By.CSS_SELECTOR, "#move-crumbs button")] == crumbs
        b.wait(10).until(shown, f"the picker at {crumbs}")

    def test_phone_width_keyboard_and_weight(self):
        self.put("a-rather-long-file-name-for-a-small-screen.txt", b"x")
        b = self.browser(PHONE)
        b.wait_name("a-rather-long-file-name-for-a-small-screen.txt", "a")
        width = b.driver.execute_script("return document.documentElement.scrollWidth")
        self.assertLessEqual(width, 375, "no sideways scrolling at 375 px")
        for name in ["Files", "Trash", "Shares", "Upload", "Upload folder", "New folder", "Share", "Rename", "Move", "Delete"]:
            self.assertIsNotNone(b.by_name(name), f"{name} is there at 375 px")
        # Keyboard: Tab reaches Upload; Enter on New folder opens its dialog.
        body = b.driver.find_element(By.TAG_NAME, "body")
        seen = []
        for _ in range(40):
            body.send_keys(Keys.TAB) if not seen else b.driver.switch_to.active_element.send_keys(Keys.TAB)
            seen.append(b.driver.switch_to.active_element.text.strip() or b.driver.switch_to.active_element.get_attribute("aria-label"))
            if seen[-1] == "New folder":
                break
        self.assertIn("Upload", seen)
        self.assertEqual(seen[-1], "New folder", seen)
        b.driver.switch_to.active_element.send_keys(Keys.ENTER)
        self.assertTrue(b.driver.find_element(By.ID, "dlg-prompt").is_displayed())
        weight = b.driver.execute_script(
            "return performance.getEntries().reduce((a, e) => a + (e.transferSize || 0), 0)")
        self.assertLess(weight, 150 * 1024, "the first load is under 150 KiB")
        self.assertGreater(weight, 10 * 1024, "the weight was measured")
