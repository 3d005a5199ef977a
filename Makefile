# Split dm-crypt for Qubes OS. `make test` installs what is missing and runs every test; `make demo` runs the main job.
SHELL := /bin/bash
.DEFAULT_GOAL := build

.PHONY: deps build typecheck test demo clean

deps:
	@scripts/install-deps.sh

build: deps
	npm run --silent build

typecheck: deps
	npx --no-install tsc --noEmit

# Everything: type check, bundle, then the whole vitest suite (unit, interop with the real cryptsetup, end to end).
test: build typecheck
	npx --no-install vitest run

demo: build
	scripts/demo.sh

clean:
	rm -rf dist .cache
