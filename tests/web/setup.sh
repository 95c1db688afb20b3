#!/usr/bin/env bash
# Installs what the web tests use (Debian packages only: Firefox is driven
# through tests/web/marionette.py, so no geckodriver), when run as root;
# otherwise says what is missing (run.py then skips those tests, and CI,
# which runs as root, fails without them).
set -u
want=()
/usr/bin/python3 -c 'import selenium' 2>/dev/null || want+=(python3-selenium)
/usr/bin/python3 -c 'import tusclient' 2>/dev/null || want+=(python3-tuspy)
command -v chromium >/dev/null || want+=(chromium)
command -v chromedriver >/dev/null || want+=(chromium-driver)
command -v firefox-esr >/dev/null || want+=(firefox-esr)
command -v curl >/dev/null || want+=(curl)
fc-list 2>/dev/null | grep -qi "noto sans cjk" || want+=(fonts-noto-cjk)
if [ ${#want[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "web tests: installing ${want[*]}"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}") >/dev/null \
            || echo "web tests: could not install ${want[*]}"
    else
        echo "web tests: missing ${want[*]} (sudo apt-get install ${want[*]}); those tests are skipped"
    fi
fi
exit 0
