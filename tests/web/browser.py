"""Headless Chromium (chromedriver) or Firefox (marionette.py) through
Selenium, for the web app's tests. chromedriver is found on the PATH and
given by its path, and Firefox is driven through our own WebDriver bridge
to its Marionette protocol: nothing is ever downloaded here (Selenium's own
driver manager is never reached)."""
import os
import shutil
import tempfile

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.file_detector import UselessFileDetector
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from harness import WAIT, basic
from marionette import Bridge

DESKTOP = (1366, 860)
PHONE = (375, 760)


class Browser:
    """A fresh headless browser (its own profile): Chromium driven by
    chromedriver, or Firefox driven through a Marionette bridge of its
    own."""

    def __init__(self, size=DESKTOP, kind="chromium"):
        self.kind = kind
        self.profile = tempfile.mkdtemp(prefix=f"netdisk-{kind}-")
        self.bridge = None
        try:
            self.driver = self._firefox() if kind == "firefox" else self._chromium(size)
            self.driver.set_window_size(*size)
        except BaseException:
            self._cleanup()
            raise

    def _chromium(self, size):
        opts = webdriver.ChromeOptions()
        opts.binary_location = shutil.which("chromium")
        for arg in ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                    f"--user-data-dir={self.profile}", f"--window-size={size[0]},{size[1]}", "--lang=en-US"]:
            opts.add_argument(arg)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)

    def _firefox(self):
        opts = webdriver.FirefoxOptions()
        opts.binary_location = shutil.which("firefox-esr")
        opts.add_argument("-headless")
        # No updates, telemetry or other calls home from the test browser.
        for key, value in [("app.update.enabled", False), ("browser.shell.checkDefaultBrowser", False),
                           ("datareporting.policy.dataSubmissionEnabled", False), ("toolkit.telemetry.enabled", False),
                           ("network.captive-portal-service.enabled", False), ("browser.safebrowsing.malware.enabled", False),
                           ("browser.safebrowsing.phishing.enabled", False), ("extensions.update.enabled", False),
                           ("intl.accept_languages", "en-US"), ("dom.disable_beforeunload", True)]:
            opts.set_preference(key, value)
        # Firefox's toolbars keep its window at least 500 px wide: a style
        # of the profile's own (userChrome.css) lets it go down to a phone's
        # 375 px. The profile is ours, so it goes with the rest in close().
        os.makedirs(os.path.join(self.profile, "chrome"))
        with open(os.path.join(self.profile, "chrome", "userChrome.css"), "w") as f:
            f.write(":root, #main-window, #navigator-toolbox, #nav-bar { min-width: 0 !important; }\n")
        opts.add_argument("-profile")
        opts.add_argument(self.profile)
        opts.set_preference("toolkit.legacyUserProfileCustomizations.stylesheets", True)
        # The bridge starts Firefox in that profile (its log: firefox.log
        # there); file paths sent to a file input are this machine's own.
        self.bridge = Bridge()
        return webdriver.Remote(command_executor=self.bridge.url, options=opts, file_detector=UselessFileDetector())

    def use_basic(self, user, password):
        """Sends Basic credentials with every request (a stand-in for the
        login form where the server has none)."""
        self.driver.execute_cdp_cmd("Network.enable", {})
        self.driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": basic(user, password)}})

    def wait(self, timeout=WAIT):
        # The page re-renders lists: an element found may go stale while
        # looked at; the condition is then simply tried again.
        return WebDriverWait(self.driver, timeout, ignored_exceptions=[StaleElementReferenceException])

    def by_name(self, name, tag="*", within=None):
        """The visible element whose accessible name is `name` (its text
        or aria-label), the way a screen reader user finds it."""
        root = within or self.driver
        xp = (f".//{tag}[normalize-space(.)={xq(name)} or @aria-label={xq(name)}]")
        found = [e for e in root.find_elements(By.XPATH, xp) if e.is_displayed()]
        return found[0] if found else None

    def row_text(self, name):
        """The text of the list row holding the link named `name`; empty
        while there is none (the list not drawn yet)."""
        a = self.by_name(name, "a")
        return a.find_element(By.XPATH, "./ancestor::div[contains(@class,'row')]").text if a else ""

    def wait_name(self, name, tag="*", within=None, timeout=WAIT):
        return self.wait(timeout).until(lambda d: self.by_name(name, tag, within), f"a control named {name!r}")

    def click(self, name, tag="*", within=None, timeout=WAIT):
        """Clicks the control named `name`, found again if the page
        re-renders it meanwhile."""
        def go(_):
            found = self.by_name(name, tag, within)
            if found:
                found.click()
            return bool(found)
        self.wait(timeout).until(go, f"a control named {name!r} to click")

    def wait_text(self, text, timeout=WAIT):
        self.wait(timeout).until(lambda d: text in self.body_text(), f"the text {text!r}")

    def body_text(self):
        """The page's text; "" while a navigation replaces the document
        (the body found is then gone before its text is read: Selenium's
        stale element, or Chromium's "does not belong to the document")."""
        try:
            return self.driver.find_element(By.TAG_NAME, "body").text
        except StaleElementReferenceException:
            return ""
        except WebDriverException as e:
            if "does not belong to the document" in str(e):
                return ""
            raise

    def console_errors(self):
        """The page's errors in the console (Chromium only: WebDriver has
        no log endpoint for Firefox, so Firefox reports none)."""
        if self.kind != "chromium":
            return []
        return [e for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]

    def close(self):
        try:
            self.driver.quit()
        finally:
            self._cleanup()

    def _cleanup(self):
        """Quits any Firefox the bridge still runs, then drops the
        profile."""
        try:
            if self.bridge:
                self.bridge.close()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


def xq(text):
    """An XPath string literal of any text."""
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    return "concat(" + ", \"'\", ".join(f"'{p}'" for p in text.split("'")) + ")"
