# netdisk — the two commands a new user needs are `make run-server` and `make test`.

ADDR ?= 127.0.0.1:9021
HTTP ?= 127.0.0.1:9080
DATA ?= ./data
CARGO ?= cargo
PREFIX ?= /usr/local
# Builds that run on this machine only (server, client, benchmarks) use the
# CPU's full instruction set: MD5 is about 20% faster with it (see
# docs/BENCHMARKS.md). They live in their own target directory, so the
# portable builds of `cargo build` and `make test` are not rebuilt each time.
NATIVE = RUSTFLAGS="-C target-cpu=native" CARGO_TARGET_DIR=target/native

.PHONY: run-server test test-tools fault-tools test-deps test-cluster test-deploy test-big test-web screenshots client check fmt clippy bench bench-peers build install

build:
	$(NATIVE) $(CARGO) build --release --bins --examples

# The server as `netdisk`, the client as `netdisk-client`, in $(PREFIX)/bin.
install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 target/native/release/netdisk $(DESTDIR)$(PREFIX)/bin/netdisk
	install -m 755 target/native/release/examples/client $(DESTDIR)$(PREFIX)/bin/netdisk-client

run-server:
	$(NATIVE) $(CARGO) run --release --bin netdisk -- --listen $(ADDR) --http $(HTTP) --data $(DATA)

# The real clients the HTTP tests drive (curl, wget, unzip, bsdtar, 7z,
# python3; litmus, rclone, cadaver, davfs2 for WebDAV), installed when run
# as root; without them those checks skip with a message (in CI they fail).
test-tools:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  for t in curl wget unzip bsdtar 7zz python3; do command -v $$t >/dev/null || missing=1; done; \
	  if [ -n "$$missing" ]; then apt-get update -qq && apt-get install -y -qq curl wget unzip libarchive-tools 7zip python3 >/dev/null || echo "some HTTP test tools could not be installed: those checks skip"; fi; \
	fi
	@# The WebDAV clients (tests/dav.rs): litmus, rclone, cadaver, davfs2.
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  for t in litmus rclone cadaver mount.davfs; do command -v $$t >/dev/null || dav=1; done; \
	  if [ -n "$$dav" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq litmus rclone cadaver davfs2 >/dev/null || echo "some WebDAV clients could not be installed: their tests fail in CI"; fi; \
	else \
	  for t in litmus rclone cadaver mount.davfs; do command -v $$t >/dev/null || echo "$$t is not installed (make test installs it as root): its WebDAV test skips"; done; \
	fi

test: test-tools fault-tools test-deps
	$(CARGO) test --all-targets
	$(CARGO) test --doc
	$(MAKE) test-web

# The HTTP face with real clients: tus (python3-tuspy), the JSON API
# (curl) and the web app in headless Chromium and Firefox (Selenium;
# Firefox through tests/web/marionette.py). Missing tools are installed
# when root, else named and their tests skipped (in CI they fail).
# WEB_TESTS: modules or tests to run (e.g. test_tus test_app.AppTest).
test-web:
	$(CARGO) build --bin netdisk
	tests/web/setup.sh
	/usr/bin/python3 tests/web/run.py $(WEB_TESTS)

# docs/screenshots/ from a demo account (headless Chromium).
screenshots:
	$(CARGO) build --bin netdisk
	tests/web/setup.sh
	/usr/bin/python3 tests/web/screenshots.py

# The fault tests (tests/faults) need root, strace, e2fsprogs (mkfs.ext4)
# and util-linux (losetup, fstrim): as root, missing ones are installed;
# otherwise those tests say what is missing and skip.
fault-tools:
	@if [ "$$(id -u)" = 0 ]; then \
		missing=""; \
		command -v strace >/dev/null || missing="$$missing strace"; \
		command -v mkfs.ext4 >/dev/null || missing="$$missing e2fsprogs"; \
		command -v fstrim >/dev/null && command -v losetup >/dev/null || missing="$$missing util-linux mount"; \
		if [ -n "$$missing" ]; then \
			(apt-get update -qq && apt-get install -y -qq $$missing) || echo "could not install$$missing: fault tests skip"; \
		fi; \
	else \
		echo "not root: the fault tests (tests/faults) skip; as root, make test installs strace e2fsprogs util-linux"; \
	fi

# Debian packages of the tests that need root (tests/cluster.rs: MooseFS in
# a network namespace; tests/filesystems.rs: xfsprogs for an XFS on a loop
# device; tests/deploy.rs: stunnel, systemd-analyze, systemd-nspawn, and
# Caddy with curl, which need no root to run but are installed here). As root,
# `make test` installs the missing ones; otherwise it names them, and those
# tests say "skipped" (with NETDISK_REQUIRE_ALL=1, as in CI, they fail).
TEST_PACKAGES = moosefs-master moosefs-chunkserver moosefs-client moosefs-cli strace stunnel4 openssl systemd caddy curl xfsprogs systemd-container
test-deps:
	@missing=$$(for p in $(TEST_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing for the root-only tests:" $$missing; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
		|| { apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; }; \
	else \
		echo "not installed (tests needing them skip; run as root to install):" $$missing; \
	fi

# MooseFS: two servers on two mounts of one volume (about 15 s).
test-cluster: test-deps
	$(CARGO) test --test cluster -- --nocapture

# Tests too slow for every run: a ZIP64 member past 4 GiB streamed through
# a socket and checked by zipfile and unzip (about 2 minutes on a busy
# 2-core machine; the file is sparse and costs no disk).
test-big: test-tools
	NETDISK_BIG_TESTS=1 $(CARGO) test --test http zip64_past_4_gib -- --nocapture

# TLS through stunnel, HTTPS through Caddy, and the systemd unit (a few seconds).
test-deploy: test-deps
	$(CARGO) test --test deploy -- --nocapture

client:
	$(NATIVE) $(CARGO) run --release --example client -- $(ADDR)

fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --all-targets -- -D warnings

check: fmt clippy test

# BENCH_ARGS: --full for the 10,000-file mirror tree, --only SECTION,...
bench:
	$(NATIVE) $(CARGO) build --release --bin netdisk --example bench
	ulimit -n 20000 2>/dev/null; ./target/native/release/examples/bench $(BENCH_ARGS)

# The peers `make bench` compares with (rsync, lftp, vsftpd; rclone and curl
# for the WebDAV rows); without them it prints "peer not installed" for those
# figures.
bench-peers:
	apt-get install -y rsync lftp vsftpd
	@# The HTTP rows' peers (examples/bench/http.rs): curl, Debian's tuspy,
	@# rclone, and nginx, which the bench runs itself (private config, a free
	@# loopback port). Installing nginx may start its default service on
	@# port 80: when this installs it, that service is stopped and disabled.
	DEBIAN_FRONTEND=noninteractive apt-get install -y curl python3-tuspy rclone
	@if ! dpkg-query -W -f='$${Status}' nginx 2>/dev/null | grep -q 'ok installed'; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y nginx; \
		systemctl disable --now nginx 2>/dev/null || service nginx stop 2>/dev/null || true; \
	fi
