#!/usr/bin/env python3
"""Takes the screenshots of docs/screenshots/ (desktop and 375 px) from a
demo account: `make screenshots`. Not a test: it only shows."""
import os
import sys
import urllib.parse

from selenium.webdriver.common.by import By

from browser import DESKTOP, PHONE, Browser
from harness import ROOT, Server, basic, data_bytes, request

OUT = os.path.join(ROOT, "docs", "screenshots")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def main():
    os.makedirs(OUT, exist_ok=True)
    s = Server("screenshots", ["--quota", "1G"])
    try:
        user, pw = s.user("alice")
        auth = {"Authorization": basic(user, pw)}
        post = lambda what, **form: request("POST", s.base + "/api/" + what, dict(auth, **FORM), urllib.parse.urlencode(form).encode())
        for d in ["Photos", "Photos/2026 Lisbon", "Documents", "Projects", "相册"]:
            post("mkdir", path="/" + d)
        files = [("Quarterly report 2026.pdf", 2_345_678), ("holiday-video.mp4", 301_700_000 // 8), ("notes.txt", 1234),
                 ("季度报告.docx", 45_678), ("budget.xlsx", 88_120), ("Photos/2026 Lisbon/IMG_0412.jpg", 3_456_789)]
        for name, n in files:
            request("PUT", s.base + "/files/" + urllib.parse.quote(name), auth, data_bytes(n, len(name)))
        for name in ["old draft.txt", "scan-0001.pdf"]:
            request("PUT", s.base + "/files/" + urllib.parse.quote(name), auth, b"x" * 5000)
            post("delete", path="/" + name)
        post("share", path="/Quarterly report 2026.pdf", days="7")
        post("share", path="/Photos", days="")
        big = os.path.join(s.dir, "Lisbon drone flight 4K.mp4")
        with open(big, "wb") as f:
            f.write(data_bytes(48 * 1024 * 1024, 5))
        for size, tag in [(DESKTOP, "desktop"), (PHONE, "phone")]:
            b = Browser(size)
            try:
                b.driver.get(s.base + "/")
                b.wait_name("Log in")
                for label, text in [("User", user), ("Password", pw)]:
                    b.driver.find_element(By.ID, b.wait_name(label, "label").get_attribute("for")).send_keys(text)
                b.driver.save_screenshot(os.path.join(OUT, f"login-{tag}.png"))
                b.click("Log in")
                b.wait_name("notes.txt", "a")
                b.driver.save_screenshot(os.path.join(OUT, f"files-{tag}.png"))
                b.driver.execute_cdp_cmd("Network.enable", {})
                b.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
                    "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 6 * 1024 * 1024})
                inp = b.driver.find_element(By.ID, "file-input")
                b.driver.execute_script("arguments[0].hidden = false", inp)
                inp.send_keys(big)
                b.driver.execute_script("arguments[0].hidden = true", inp)
                b.wait(30).until(lambda d: "MiB/s" in d.find_element(By.ID, "upload-list").text)
                b.wait(30).until(lambda d: int(d.find_element(By.CSS_SELECTOR, ".up-info span").text.rstrip("%")) >= 20)
                b.driver.save_screenshot(os.path.join(OUT, f"upload-{tag}.png"))
                b.wait_name("Cancel", "button").click()
                b.wait_name("Hide", "button").click()
                b.wait_name("Share", "button", within=b.wait_name("budget.xlsx", "a").find_element(
                    By.XPATH, "./ancestor::div[contains(@class,'row')]")).click()
                b.wait_name("Create link", "button").click()
                b.wait_name("Copy link", "button")
                b.driver.save_screenshot(os.path.join(OUT, f"share-{tag}.png"))
                b.wait_name("Done", "button").click()
                b.wait_name("Trash", "a").click()
                b.wait_name("/old draft.txt", "span")
                b.driver.save_screenshot(os.path.join(OUT, f"trash-{tag}.png"))
                b.wait_name("Shares", "a").click()
                b.wait_text("/Photos")
                b.driver.save_screenshot(os.path.join(OUT, f"shares-{tag}.png"))
            finally:
                b.close()
        print(f"screenshots in {OUT}")
    finally:
        s.close(False)


if __name__ == "__main__":
    sys.exit(main())
