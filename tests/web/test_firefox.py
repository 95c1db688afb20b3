"""The web app's main flows again, in headless Firefox (geckodriver):
the same steps as test_app.py, run by a subclass with another browser.

Left to Chromium: the tests that slow the network down to catch an upload
half way (a restart, a closed tab, a cancel), as only Chromium's DevTools
protocol can throttle it, and the folder upload, as geckodriver can put
files in a file input but not a folder. Firefox's share of the uploader is
the upload of files through the file input; the resume runs the same code.
"""
import test_app

# The steps Firefox cannot be driven through.
CHROMIUM_ONLY = [
    "test_a_resumed_upload_after_a_server_restart",
    "test_a_closed_tab_resumes_in_a_fresh_browser",
    "test_cancel_an_upload",
    # geckodriver puts files in a file input, never a folder ("File not
    # found"): Firefox's folder upload cannot be driven from here.
    "test_upload_folder_keeps_its_tree",
]


class FirefoxAppTest(test_app.AppTest):
    kind = "firefox"


# A test set to None is not collected (unittest collects callables only).
for _name in CHROMIUM_ONLY:
    setattr(FirefoxAppTest, _name, None)
