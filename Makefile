# npipe: the README's commands are targets here.
#   make          build everything (library, broker, examples, tests); installs nothing
#   make deps     install the Debian packages the targets named with it need
#                 (scripts/deps.sh): `make deps run`, `make deps check`
#   make run      the main job: the examples, with the broker starting by itself
#   make check    all tests, the Win32 conformance programs, the tests again under
#                 ASan+UBSan, and the ring and wake tests under TSan
#   make install  PREFIX=/usr/local DESTDIR=
#   make deb      the Debian packages (libnpipe0, libnpipe-dev, npipe, libnpipe-smb0) in ../
#                 of a copy of the tree, see debian/ and docs/abi.md
# Only `make deps` (and the cross and Wine targets, for their own tools)
# ever installs anything.
PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
MESON_OPTS ?=
DEB_OUT ?= build-deb

.PHONY: all deps run check check-fast check-conformance check-asan check-tsan install clean format format-check \
	bench bench-wine bench-remote fuzz fuzz-smoke check-wine-suite check-aarch64 deb version

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

# `make deps X Y` installs what X and Y need: the build's packages for every
# target, the test tools (clang, Samba, impacket) for the test targets, the
# packaging tools for `deb`; `make deps` alone installs the build and test
# packages.  Named with other targets it runs first, also under -j.
DEPS_GOALS := $(filter-out deps,$(MAKECMDGOALS))
DEPS_GROUPS := build \
	$(if $(or $(filter check% fuzz%,$(DEPS_GOALS)),$(if $(DEPS_GOALS),,x)),check) \
	$(if $(filter bench-wine,$(DEPS_GOALS)),oracle) \
	$(if $(filter deb,$(DEPS_GOALS)),package)
deps:
	@scripts/deps.sh $(DEPS_GROUPS)
ifneq ($(filter deps,$(MAKECMDGOALS)),)
$(BUILD)/build.ninja check-asan check-tsan check-conformance check-wine-suite check-aarch64 fuzz deb: | deps
endif

# Meson picks the libdir: lib/<multiarch triplet> on Debian (it asks
# dpkg-architecture, from dpkg-dev, which `make deps` installs).
$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix=$(PREFIX) $(MESON_OPTS)

run: all
	@scripts/run-examples.sh $(BUILD)

check-fast: all
	meson test -C $(BUILD) --print-errorlogs --num-processes 2

# The benchmark smoke run forks while its threads start, which clang 14's
# ASan allocator does not survive (a lock held at fork), and the docs
# suite builds the documents' programs the way a user does, with cc and
# no sanitizer runtime: both run in check-fast only.
check-asan:
	[ -f build-asan/build.ninja ] || CC=clang meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
	ninja -C build-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
		meson test -C build-asan --print-errorlogs --num-processes 2 --timeout-multiplier 3 \
		--no-suite bench-smoke --no-suite docs

check-tsan:
	[ -f build-tsan/build.ninja ] || CC=clang meson setup build-tsan -Db_sanitize=thread -Db_lundef=false -Dbuildtype=debug
	ninja -C build-tsan
	TSAN_OPTIONS=halt_on_error=1 meson test -C build-tsan --print-errorlogs --suite ring --suite wake --timeout-multiplier 3

# The Win32 programs of ../shared/conformance, built against npipe/windows.h.
check-conformance:
	@scripts/run-conformance.sh

# What ran, and what was skipped and why (no ../shared, no Samba, ...),
# as the last screen of a make check that passed.
check: check-fast check-conformance check-asan check-tsan
	@scripts/check-summary.sh $(BUILD) build-asan build-tsan build-conf

# Wine 8.0's dlls/kernel32/tests/pipe.c natively against npipe, fetched (and
# cached) at test time, never kept here (tests/wine/README.md).
# The script sets up build-wine (and build-asan-wine, AddressSanitizer +
# UBSan) and builds libnpipe.a and npiped there.
check-wine-suite:
	@scripts/wine-suite.sh build-wine
	@scripts/wine-suite.sh build-asan-wine --asan

# aarch64, cross-built with Debian's gcc-aarch64-linux-gnu: the unit, ring,
# wake, semantics and win32 tests under qemu-user (issue 12).  Installs the
# cross toolchain, check:arm64 (multiarch) and qemu-user >= 8 when missing.
check-aarch64:
	@scripts/cross-aarch64.sh build-aarch64

# Benchmarks: ratios against Linux baselines measured in the same run.
bench: all
	@scripts/run-bench.sh $(BUILD)

# The same Win32 benchmark source built with mingw and run under Wine, in one run.
bench-wine: all
	@scripts/run-bench.sh $(BUILD) --wine

# A small TransactNamedPipe (and write+read, open+transact+close) over SMB:
# npipe's client against python3-impacket's in interleaved rounds, with a
# private smbd (bench/remote_rtt.py; needs root, samba and impacket, else it
# says SKIP and make succeeds).
# BENCH_REMOTE_OPTS=--encrypt adds the encrypted table.
BENCH_REMOTE_OPTS ?=
bench-remote: all
	@/usr/bin/python3 bench/remote_rtt.py --build $(BUILD) $(BENCH_REMOTE_OPTS); \
		rc=$$?; [ $$rc -eq 77 ] && rc=0; exit $$rc

# libFuzzer harnesses (clang): FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
fuzz:
	[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzz=true -Db_lundef=false -Dbuildtype=debug
	ninja -C build-fuzz
	@scripts/run-fuzz.sh build-fuzz $(FUZZ_SECONDS)

fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=20

# Installs with meson's libdir (multiarch on Debian); binaries installed
# outside /usr carry the library directory (meson.build, lib_rpath).
install: all
	meson configure $(BUILD) --prefix=$(PREFIX) >/dev/null
	ninja -C $(BUILD)
	DESTDIR=$(DESTDIR) meson install -C $(BUILD) --no-rebuild
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi

# The Debian packages, built by dpkg-buildpackage in a copy of the tree
# ($(DEB_OUT)/npipe-VERSION), so no build product lands in the tree; the
# .debs, .changes and .buildinfo end up in $(DEB_OUT).
deb:
	@scripts/build-deb.sh $(DEB_OUT)

# The one version number, from meson.build.
version:
	@sed -n "s/^[[:space:]]*version[[:space:]]*:[[:space:]]*'\([^']*\)'.*/\1/p" meson.build | head -n 1

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-tsan build-conf build-fuzz $(DEB_OUT)
