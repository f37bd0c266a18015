# The two commands of the quick start:
#
#   make demo   install what is missing, build, and start the server with the demo page
#   make test   install what is missing, build, and run every test suite
#
# Both are idempotent: scripts/setup.sh checks before it installs anything.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Where `make demo` listens and keeps its data; override as `make demo LISTEN=127.0.0.1:8080`.
LISTEN ?= 127.0.0.1:7070
DATA_DIR ?= data

.PHONY: help demo test setup setup-test server package www

help:
	@echo "make demo   build and start runkv-server with the demo page at http://$(LISTEN)/"
	@echo "make test   build and run every test suite"

demo: setup server package www
	@echo "Starting runkv-server with the embedded store in $(DATA_DIR)/ (Ctrl-C stops it)."
	@# The demo always runs on a freshly generated token, which the server prints in the URL
	@# to open: a token left in the shell's environment would hide that URL.
	env -u RUNKV_TOKEN -u RUNKV_TOKENS_FILE \
	  target/release/runkv-server --listen $(LISTEN) --data-dir $(DATA_DIR) --www www

test: setup-test
	scripts/test.sh

setup:
	scripts/setup.sh

setup-test:
	scripts/setup.sh --test

server:
	cargo build --release -p runkv-server

package:
	scripts/build-pkg.sh

# The page loads the built package from www/vendor/ (generated, not committed).
www: package
	node scripts/vendor-pkg.mjs
