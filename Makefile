# netdisk — the two commands a new user needs are `make run-server` and `make test`.

ADDR ?= 127.0.0.1:9021
DATA ?= ./data
CARGO ?= cargo

.PHONY: run-server test client check fmt clippy bench build

build:
	$(CARGO) build --release --bin netdisk --examples

run-server:
	$(CARGO) run --release --bin netdisk -- --listen $(ADDR) --data $(DATA)

test:
	$(CARGO) test --all-targets

client:
	$(CARGO) run --release --example client -- $(ADDR)

fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --all-targets -- -D warnings

check: fmt clippy test

bench:
	$(CARGO) run --release --example bench
