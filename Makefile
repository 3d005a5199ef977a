# Split dm-crypt for Qubes OS. `make test` installs what is missing and runs every test; `make demo` runs the main job.
# `make install-vm` (in the template or DVM template) and `make install-dom0` (in dom0) install the built bundles: run
# `make build` first, as a normal user; the install targets only copy files.
SHELL := /bin/bash
.DEFAULT_GOAL := build

.PHONY: deps deps-npm deps-demo deps-packages build typecheck test demo bench clean tarball rpm deb install-vm uninstall-vm install-dom0 uninstall-dom0

# Everything the tests need (QEMU and the guest kernels too); the build needs only the npm packages, the demo also cryptsetup.
deps:
	@scripts/install-deps.sh all

deps-npm:
	@scripts/install-deps.sh npm

deps-demo:
	@scripts/install-deps.sh demo

deps-packages:
	@scripts/install-deps.sh packages

build: deps-npm
	npm run --silent build

typecheck: deps-npm
	npx --no-install tsc --noEmit

# Everything: install all, type check, bundle, then the whole vitest suite (unit, interop with the real cryptsetup, end to end,
# the kernel tier).
test: deps build typecheck
	npx --no-install vitest run

demo: deps-demo build
	scripts/demo.sh

# Figures against the real tools (cryptsetup, dd) on this machine: bench/results.json and a table (README, "Benchmarks").
bench: build
	npm run --silent bench

clean:
	rm -rf dist .cache

# What a template and dom0 need to run `make install-vm` / `make install-dom0` without Node's build tools or the network:
# the built bundles plus the files the install targets copy. Made in a build qube, copied into the template and dom0.
# Versioned from package.json and reproducible: the same sources give the same bytes (fixed order, owners, times; gzip without
# a name or time stamp).
VERSION := $(shell node -p "require('./package.json').version" 2>/dev/null)
TARBALL := split-dm-crypt-$(VERSION).tar.gz
TARBALL_FILES := Makefile packaging/wrapper.sh dist vm/services vm/udev dom0/split-dm-crypt.conf.example dom0/split-dm-crypt.tmpfiles dom0/qvm-block-split-watch.service rpc-policy README.md
tarball: build
	tar -cf - --owner=0 --group=0 --numeric-owner --sort=name --mtime=@0 --mode=u+rwX,go+rX,go-w --format=gnu --exclude=dist/qubes-sim.mjs $(wildcard dom0/*.1) $(TARBALL_FILES) | gzip -9 -n > $(TARBALL)
	@echo "wrote $(TARBALL)"

# Packages, built from dist/ like the tarball, holding exactly what `make install-dom0` / `make install-vm PREFIX=/usr` install
# (packaging/build-packages.sh): `make rpm` gives split-dm-crypt-dom0 (dom0) and split-dm-crypt-vm (Fedora templates) as noarch
# rpms, with Debian's rpmbuild; `make deb` gives split-dm-crypt-vm for Debian templates. Reproducible (SOURCE_DATE_EPOCH,
# by default the last commit's time). PKGDIR says where they go.
PKGDIR ?= .
rpm: deps-packages build
	packaging/build-packages.sh rpm $(PKGDIR)

deb: build
	packaging/build-packages.sh deb $(PKGDIR)

# ---- installation -------------------------------------------------------------------------------------------------------
# PREFIX=/usr in a template (/etc persists there); PREFIX=/usr/local in a DVM template or app qube, where only /usr/local
# (and /rw, /home) survive a restart. DIST lets tests install a prepared tree.
PREFIX ?= /usr
DESTDIR ?=
DIST ?= dist

LIBDIR := $(PREFIX)/lib/split-dm-crypt
BINDIR := $(PREFIX)/bin
# qrexec looks in /usr/local/etc/qubes-rpc before /etc/qubes-rpc.
RPCDIR := $(if $(filter /usr,$(PREFIX)),/etc/qubes-rpc,$(PREFIX)/etc/qubes-rpc)
# udev also reads $(PREFIX)/lib/udev/rules.d for /usr/local (udev(7)), which persists in a DVM template like the services.
UDEVDIR := $(PREFIX)/lib/udev/rules.d
POLICYDIR := /etc/qubes/policy.d
TMPFILESDIR := /usr/lib/tmpfiles.d
MANDIR := $(PREFIX)/share/man/man1
# systemd looks for user units in /usr/lib/systemd/user (and /usr/local/lib/systemd/user): `qvm-block-split watch`.
USERUNITDIR := $(PREFIX)/lib/systemd/user

# One qrexec service per vm/services/<Service>.ts, bundled by scripts/build.mjs to dist/vm/<Service>.mjs.
SERVICES := $(patsubst vm/services/%.ts,%,$(wildcard vm/services/*.ts))
UDEV_RULES := $(notdir $(wildcard vm/udev/*.rules))
POLICIES := $(notdir $(wildcard rpc-policy/*.policy))

# Wrappers find their bundle relative to their own directory, so an installed tree also works under DESTDIR as it is.
RPC_TO_LIB := $(shell realpath -m --relative-to=$(RPCDIR) $(LIBDIR))
BIN_TO_LIB := $(shell realpath -m --relative-to=$(BINDIR) $(LIBDIR))

# A small POSIX sh script that checks for Node.js >= 18.19 and runs a bundle with it (packaging/wrapper.sh):
# `$(call WRAP,RELATIVE-DIR,BUNDLE,FILE)`.
WRAP = sed -e "s|@LIB@|$(1)|" -e "s|@BUNDLE@|$(2)|" packaging/wrapper.sh > $(3) && chmod 755 $(3)
NEED = for f in $(1); do test -f "$$f" || { echo "missing $$f: run 'make build' first" >&2; exit 1; }; done
# Fills the compile cache the wrappers hand to Node >= 22.1 (packaging/wrapper.sh) by starting each installed wrapper once with
# nothing to do (a service without qrexec's variables refuses at once; the commands print their help). Only for a real install:
# a package build (DESTDIR set) would cache for the build machine's Node, so the cache stays empty there and Node fills nothing
# at run time (the directory is root's). Older Node ignores it; failures are not an install's failure.
WARM = $(if $(DESTDIR),true,for w in $(1); do "$$w" --help </dev/null >/dev/null 2>&1 || true; done)

install-vm:
	@$(call NEED,$(SERVICES:%=$(DIST)/vm/%.mjs) $(DIST)/split-dm-crypt-luks.mjs)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(RPCDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(UDEVDIR)
	install -m 644 $(SERVICES:%=$(DIST)/vm/%.mjs) $(DIST)/split-dm-crypt-luks.mjs $(DESTDIR)$(LIBDIR)/
	for s in $(SERVICES); do \
	  $(call WRAP,$(RPC_TO_LIB),$$s.mjs,$(DESTDIR)$(RPCDIR)/$$s) || exit 1; \
	done
	$(call WRAP,$(BIN_TO_LIB),split-dm-crypt-luks.mjs,$(DESTDIR)$(BINDIR)/split-dm-crypt-luks)
	$(if $(UDEV_RULES),install -m 644 $(addprefix vm/udev/,$(UDEV_RULES)) $(DESTDIR)$(UDEVDIR)/)
	install -d -m 755 $(DESTDIR)$(LIBDIR)/compile-cache
	@$(call WARM,$(SERVICES:%=$(DESTDIR)$(RPCDIR)/%) $(DESTDIR)$(BINDIR)/split-dm-crypt-luks)

uninstall-vm:
	rm -f $(foreach s,$(SERVICES),$(DESTDIR)$(LIBDIR)/$(s).mjs $(DESTDIR)$(RPCDIR)/$(s))
	rm -f $(DESTDIR)$(LIBDIR)/split-dm-crypt-luks.mjs $(DESTDIR)$(BINDIR)/split-dm-crypt-luks
	rm -f $(addprefix $(DESTDIR)$(UDEVDIR)/,$(UDEV_RULES))
	rm -rf $(DESTDIR)$(LIBDIR)/compile-cache
	-rmdir $(DESTDIR)$(LIBDIR) 2>/dev/null

install-dom0:
	@$(call NEED,$(DIST)/qvm-block-split.mjs)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)/etc $(DESTDIR)$(POLICYDIR) $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(MANDIR)
	install -m 644 $(DIST)/qvm-block-split.mjs $(DESTDIR)$(LIBDIR)/
	$(call WRAP,$(BIN_TO_LIB),qvm-block-split.mjs,$(DESTDIR)$(BINDIR)/qvm-block-split)
	install -d -m 755 $(DESTDIR)$(LIBDIR)/compile-cache
	@$(call WARM,$(DESTDIR)$(BINDIR)/qvm-block-split)
	install -m 644 dom0/split-dm-crypt.conf.example $(DESTDIR)/etc/split-dm-crypt.conf.example
	install -m 644 $(addprefix rpc-policy/,$(POLICIES)) $(DESTDIR)$(POLICYDIR)/
	install -m 644 dom0/split-dm-crypt.tmpfiles $(DESTDIR)$(TMPFILESDIR)/qubes-split-dm-crypt.conf
	install -m 644 dom0/qvm-block-split.1 $(DESTDIR)$(MANDIR)/qvm-block-split.1
	install -d $(DESTDIR)$(USERUNITDIR)
	sed 's|@BINDIR@|$(BINDIR)|' dom0/qvm-block-split-watch.service > $(DESTDIR)$(USERUNITDIR)/qvm-block-split-watch.service
	chmod 644 $(DESTDIR)$(USERUNITDIR)/qvm-block-split-watch.service

uninstall-dom0:
	rm -f $(DESTDIR)$(LIBDIR)/qvm-block-split.mjs $(DESTDIR)$(BINDIR)/qvm-block-split
	rm -rf $(DESTDIR)$(LIBDIR)/compile-cache
	rm -f $(DESTDIR)/etc/split-dm-crypt.conf.example $(addprefix $(DESTDIR)$(POLICYDIR)/,$(POLICIES))
	rm -f $(DESTDIR)$(TMPFILESDIR)/qubes-split-dm-crypt.conf $(DESTDIR)$(MANDIR)/qvm-block-split.1
	rm -f $(DESTDIR)$(USERUNITDIR)/qvm-block-split-watch.service
	-rmdir $(DESTDIR)$(LIBDIR) 2>/dev/null
