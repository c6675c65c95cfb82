# npipe: the README's commands are targets here.
#   make          build everything (library, broker, examples, tests)
#   make run      the main job: the examples, with the broker starting by itself
#   make check    all tests, the Win32 conformance programs, the tests again under
#                 ASan+UBSan, and the ring and wake tests under TSan
#   make install  PREFIX=/usr/local DESTDIR=
PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
MESON_OPTS ?=

.PHONY: all deps run check check-fast check-conformance check-asan check-tsan install clean format format-check \
	bench bench-wine fuzz fuzz-smoke check-wine-suite check-aarch64

all: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

deps:
	@scripts/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix=$(PREFIX) --libdir=lib $(MESON_OPTS)

run: all
	@scripts/run-examples.sh $(BUILD)

check-fast: all
	meson test -C $(BUILD) --print-errorlogs --num-processes 2

# The benchmark smoke run forks while its threads start, which clang 14's
# ASan allocator does not survive (a lock held at fork): it runs in
# check-fast only.
check-asan: deps
	[ -f build-asan/build.ninja ] || CC=clang meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
	ninja -C build-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C build-asan --print-errorlogs --num-processes 2 --timeout-multiplier 3 \
		--no-suite bench-smoke

check-tsan: deps
	[ -f build-tsan/build.ninja ] || CC=clang meson setup build-tsan -Db_sanitize=thread -Db_lundef=false -Dbuildtype=debug
	ninja -C build-tsan
	TSAN_OPTIONS=halt_on_error=1 meson test -C build-tsan --print-errorlogs --suite ring --suite wake --timeout-multiplier 3

# The Win32 programs of ../shared/conformance, built against npipe/windows.h.
check-conformance: deps
	@scripts/run-conformance.sh

check: check-fast check-conformance check-asan check-tsan

# Wine 8.0's dlls/kernel32/tests/pipe.c natively against npipe, fetched (and
# cached) at test time, never kept here (tests/wine/README.md).
# The script sets up build-wine (and build-asan-wine, AddressSanitizer +
# UBSan) and builds libnpipe.a and npiped there.
check-wine-suite: deps
	@scripts/wine-suite.sh build-wine
	@scripts/wine-suite.sh build-asan-wine --asan

# aarch64, cross-built with Debian's gcc-aarch64-linux-gnu: the unit, ring,
# wake, semantics and win32 tests under qemu-user (issue 12).  Installs the
# cross toolchain, check:arm64 (multiarch) and qemu-user >= 8 when missing.
check-aarch64: deps
	@scripts/cross-aarch64.sh build-aarch64

# Benchmarks: ratios against Linux baselines measured in the same run.
bench: all
	@scripts/run-bench.sh $(BUILD)

# The same Win32 benchmark source built with mingw and run under Wine, in one run.
bench-wine: all
	@scripts/run-bench.sh $(BUILD) --wine

# libFuzzer harnesses (clang): FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
fuzz: deps
	[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzz=true -Db_lundef=false -Dbuildtype=debug
	ninja -C build-fuzz
	@scripts/run-fuzz.sh build-fuzz $(FUZZ_SECONDS)

fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=20

install: all
	meson configure $(BUILD) --prefix=$(PREFIX) --libdir=lib >/dev/null
	ninja -C $(BUILD)
	DESTDIR=$(DESTDIR) meson install -C $(BUILD) --no-rebuild

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-tsan build-conf build-fuzz
