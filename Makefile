# The two commands: `make run` and `make test`. Everything else is a helper.
BUILD       ?= build
ASAN_BUILD  ?= build-asan
FUZZ_BUILD  ?= build-fuzz
FUZZ_SECONDS ?= 600
MESON_TEST_ARGS ?=

.PHONY: all deps test-deps build run test test-asan fuzz conformance bench clean

all: build

deps:
	@scripts/deps.sh build

test-deps:
	@scripts/deps.sh test

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# A development appliance on https://127.0.0.1:8443 with a self-signed certificate,
# a development API key and the embedded rate limiter. Ctrl-C stops it cleanly.
run: build
	@scripts/dev-setup.sh $(BUILD)
	exec $(BUILD)/supervisor/mcpgate run -c $(BUILD)/dev/config.json

test: build test-deps
	meson test -C $(BUILD) --print-errorlogs $(MESON_TEST_ARGS)

# The same suites built with AddressSanitizer and UBSan.
$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

test-asan: deps test-deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(ASAN_BUILD) --print-errorlogs --timeout-multiplier 3 $(MESON_TEST_ARGS)

# Long libFuzzer runs of every harness over its corpus (FUZZ_SECONDS each).
$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false

fuzz: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	@scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

conformance: build test-deps
	@tests/integration/conformance.sh $(BUILD)

bench: build
	@bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
