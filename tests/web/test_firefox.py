"""The web app's main flows again, in headless Firefox (driven through
marionette.py, our bridge from WebDriver to Firefox's Marionette protocol):
the same steps as test_app.py, run by a subclass with another browser.

Left to Chromium: the tests that slow the network down to catch an upload
half way (a restart, a closed tab, a cancel), as only Chromium's DevTools
protocol can throttle it, and the folder upload, as Marionette can put
files in a file input but not a folder. Firefox's share of the uploader is
the upload of files through the file input; the resume runs the same code.
"""
import os
import unittest
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import (NoAlertPresentException, NoSuchElementException, SessionNotCreatedException,
                                        WebDriverException)
from selenium.webdriver.common.by import By

import test_app
from browser import Browser
from marionette import Bridge, group_running

# The steps Firefox cannot be driven through.
CHROMIUM_ONLY = [
    "test_a_resumed_upload_after_a_server_restart",
    "test_a_closed_tab_resumes_in_a_fresh_browser",
    "test_cancel_an_upload",
    # Marionette puts files in a file input, never a folder ("File not
    # found"): Firefox's folder upload cannot be driven from here.
    "test_upload_folder_keeps_its_tree",
]


class FirefoxAppTest(test_app.AppTest):
    kind = "firefox"


# A test set to None is not collected (unittest collects callables only).
for _name in CHROMIUM_ONLY:
    setattr(FirefoxAppTest, _name, None)


class MarionetteBridgeTest(unittest.TestCase):
    """The bridge itself (marionette.py): Firefox's errors reach Selenium
    as the W3C errors they are, and no Firefox outlives its test."""

    def test_errors_reach_selenium_and_close_leaves_nothing(self):
        b = Browser(kind="firefox")
        try:
            firefox = next(iter(b.bridge.sessions.values()))
            b.driver.get("data:text/html,<p id=here>here</p>")
            self.assertEqual(b.driver.find_element(By.ID, "here").text, "here")
            with self.assertRaises(NoSuchElementException):
                b.driver.find_element(By.ID, "gone")
            with self.assertRaises(NoAlertPresentException):
                b.driver.switch_to.alert.text
            with self.assertRaisesRegex(WebDriverException, "not bridged"):
                b.driver.title
        finally:
            b.close()
        self.assertFalse(group_running(firefox.proc.pid), "Firefox and its content processes are gone")
        self.assertFalse(os.path.exists(b.profile))
        with self.assertRaises(OSError, msg="the bridge no longer listens"):
            urllib.request.urlopen(b.bridge.url + "/status", timeout=10)

    def test_a_firefox_that_does_not_start_is_reported(self):
        bridge = Bridge()
        try:
            opts = webdriver.FirefoxOptions()
            opts.binary_location = "/bin/false"
            with self.assertRaisesRegex(SessionNotCreatedException, "Firefox exited with 1"):
                webdriver.Remote(command_executor=bridge.url, options=opts)
        finally:
            bridge.close()
