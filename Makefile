# Makefile: the two commands (`make demo`, `make test`) and a few conveniences. Each target does
# all set-up itself: installs missing Debian packages, configures, builds, then runs.
# The real build description is meson.build; this file only strings the steps together.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
# `make fuzz`: seconds per target, and which targets (tests/fuzz/README.md).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= text fasta csv pianoroll patterns registry model_file
MESON_OPTS ?= --buildtype=release --werror
# Real datasets are read from a local mirror when one sits beside the checkout.
SHARED_DATA := $(abspath ../shared/datasets)
export SEQLAB_DATA_PATH ?= $(if $(wildcard $(SHARED_DATA)),$(SHARED_DATA),)
# Peer benchmark scripts (GHMM, pomegranate, ...) when a folder of them sits beside the checkout.
PEERS ?= $(abspath ../shared/bench/peers)

.PHONY: all deps fuzz-deps build build-asan build-fuzz test test-unit test-asan test-slow demo \
  bench fuzz clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# -O1 as the sanitizers' authors recommend (and it compiles far faster than -O2 with UBSan);
# GCC 12 emits maybe-uninitialized false positives inside libstdc++ under -fsanitize, hence -Wno-.
$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) --buildtype=plain -Doptimization=1 -Ddebug=true --werror \
	  -Dcpp_args=-Wno-maybe-uninitialized \
	  -Db_sanitize=address,undefined -Db_lundef=false

build-asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

# Every suite: unit, CLI, install and MPI tests on the release build, then the unit tests again
# under AddressSanitizer + UndefinedBehaviorSanitizer.
test: build build-asan
	@echo "SEQLAB_DATA_PATH=$(SEQLAB_DATA_PATH)"
	meson test -C $(BUILD) --no-rebuild --print-errorlogs --suite unit --suite cli --suite install \
	  --suite fuzz --suite mpi
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  meson test -C $(ASAN_BUILD) --no-rebuild --print-errorlogs --suite unit --suite fuzz

# Fuzzing (tests/fuzz/README.md): clang 14 + libFuzzer, the library instrumented and under
# ASan + UBSan, in $(FUZZ_BUILD)/; each target runs FUZZ_SECONDS from its seed corpus.
fuzz-deps:
	@bash scripts/install-fuzz-deps.sh

$(FUZZ_BUILD)/build.ninja:
	CC=clang-14 CXX=clang++-14 meson setup $(FUZZ_BUILD) --buildtype=plain -Doptimization=1 \
	  -Ddebug=true --werror -Dfuzz=true -Dtests=disabled -Ddefault_library=static \
	  -Db_sanitize=address,undefined -Db_lundef=false

build-fuzz: deps fuzz-deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD) $(addprefix tests/fuzz/fuzz_,$(FUZZ_TARGETS))

fuzz: build-fuzz
	bash scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

test-slow: build
	meson test -C $(BUILD) --no-rebuild --print-errorlogs --suite slow

# The default experiment: every family on synthetic data against its floor (plus real datasets
# where the mirror has them), resumable in results/demo/, then the report in reports/demo/.
demo: build
	$(BUILD)/tools/seqlab run experiments/demo.toml --out results/demo
	$(BUILD)/tools/seqlab report results/demo --out reports/demo

# Speed against the machine's GEMM rates and, when their scripts are present, the peer libraries.
bench: build
	$(BUILD)/tools/seqlab bench blas --threads 2
	$(BUILD)/tools/seqlab bench hmm $(if $(wildcard $(PEERS)/data.py),--peers $(PEERS),)
	$(BUILD)/tools/seqlab bench rnn $(if $(wildcard $(PEERS)/bench_torch_rnn.py),--peers $(PEERS),)
	$(BUILD)/tools/seqlab bench rbm $(if $(wildcard $(PEERS)/bench_rbm.py),--peers $(PEERS),)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
