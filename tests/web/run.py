#!/usr/bin/env python3
"""Runs the web tests (tus, the JSON API, the web app in Chromium and in
Firefox).

Each module names the tools it needs; a module whose tools are missing is
skipped with a message naming them, unless CI=true or
NETDISK_REQUIRE_ALL=1, where it fails.
Closes with the line `web: N passed, N failed, N skipped`.
"""
import importlib.util
import os
import shutil
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

SELENIUM = ("python3-selenium", lambda: importlib.util.find_spec("selenium"))


def program(package, name):
    """A need met by the program `name` on the PATH (from `package`)."""
    return (package, lambda: shutil.which(name))


# Firefox is driven through marionette.py (no geckodriver: Debian has none).
NEEDS = {
    "test_tus": [("python3-tuspy", lambda: importlib.util.find_spec("tusclient"))],
    "test_api": [("curl", lambda: shutil.which("curl"))],
    "test_app": [SELENIUM, program("chromium", "chromium"), program("chromium-driver", "chromedriver")],
    "test_firefox": [SELENIUM, program("firefox-esr", "firefox-esr")],
}


def main():
    only = sys.argv[1:]
    ci = os.environ.get("CI") == "true" or os.environ.get("NETDISK_REQUIRE_ALL") == "1"
    suite = unittest.TestSuite()
    skipped_modules = 0
    missing_in_ci = []
    for module, needs in NEEDS.items():
        if only and not any(o.startswith(module) for o in only):
            continue
        missing = [name for name, have in needs if not have()]
        if missing:
            print(f"{module}: SKIPPED, install {' '.join(missing)} (as root: tests/web/setup.sh)")
            skipped_modules += 1
            missing_in_ci += missing
            continue
        names = [o for o in only if o.startswith(module + ".")]
        loader = unittest.defaultTestLoader
        suite.addTests(loader.loadTestsFromNames(names) if names else loader.loadTestsFromName(module))
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed - len(result.skipped)
    skipped = len(result.skipped) + skipped_modules
    if ci and missing_in_ci:
        print(f"CI has no {' '.join(missing_in_ci)}: failing")
        failed += 1
    print(f"web: {passed} passed, {failed} failed, {skipped} skipped")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
