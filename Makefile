# xdsgate: one plain Makefile.
#   make              build build/xdsgate and build/control-plane-stub (BoringSSL)
#   make TLS=openssl  the OpenSSL flavour (also enables TLS to the control plane)
#   make test         unit, integration and compat tests
#   make asan         ASan+UBSan build (build-asan/) and the same test run on it
#   make test-openssl the OpenSSL flavour (build-openssl/): unit tests, TLS to the control plane, proxy tests
#   make demo         stub + demo upstreams + xdsgate, and traffic through them
#   make clean

TLS    ?= boringssl
B      ?= build
SAN    ?=
CC     ?= cc
PYTHON := /usr/bin/python3
# Quiet build lines ("CC file"); make V=1 shows the full commands.
Q := $(if $(V),,@)

# Packages deploy/deps.sh installs; the build checks for a few and runs it when one is missing.
DEPS_OK := $(shell command -v protoc-c >/dev/null && command -v protoc >/dev/null && \
             pkg-config --exists libev 2>/dev/null; \
             pkg-config --exists grpc_unsecure libprotobuf-c libnghttp2 re2 yaml-0.1 libxxhash jansson 2>/dev/null && \
             [ -f /usr/share/llhttp/llhttp.c ] && [ -d /usr/include/android/openssl ] && \
             [ -f /usr/include/ev.h ] && $(PYTHON) -c 'import pytest, yaml, google.protobuf' 2>/dev/null && echo yes)
ifneq ($(DEPS_OK),yes)
$(info deploy/deps.sh: installing missing packages)
$(shell bash deploy/deps.sh >&2)
endif

PKGS := libprotobuf-c libnghttp2 yaml-0.1 libxxhash jansson
ifeq ($(TLS),openssl)
  GRPC_PKG  := grpc
  TLS_CFLAGS := -DXG_TLS_OPENSSL=1
  TLS_LIBS  := -lssl -lcrypto
else ifeq ($(TLS),boringssl)
  GRPC_PKG  := grpc_unsecure
  BSSL_LIB  := /usr/lib/x86_64-linux-gnu/android
  TLS_CFLAGS := -DXG_TLS_BORINGSSL=1 -I/usr/include/android
  TLS_LIBS  := -L$(BSSL_LIB) -Wl,-rpath,$(BSSL_LIB) -l:libssl.so -l:libcrypto.so
else
  $(error TLS must be boringssl or openssl)
endif

GEN      := $(B)/gen
WARN     := -Wall -Wextra -Werror -Wno-unused-parameter
OPT      ?= -O2 -g
SANFLAGS := $(if $(SAN),-fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all,)
CFLAGS_ALL := -std=gnu11 $(OPT) $(WARN) $(SANFLAGS) -D_GNU_SOURCE -MMD -MP \
              -Isrc -I$(GEN) -I/usr/share/include/llhttp $(TLS_CFLAGS) \
              $(shell pkg-config --cflags $(PKGS) $(GRPC_PKG))
LIBS := $(shell pkg-config --libs $(PKGS) $(GRPC_PKG)) -lev -lre2 -lstdc++ $(TLS_LIBS) -lpthread -lm
LDFLAGS_ALL := $(SANFLAGS)

# --- protos -> protobuf-c sources (generated under $(GEN) only) ---
WKT_DIR := /usr/include
WKT     := google/protobuf/any.proto google/protobuf/duration.proto google/protobuf/timestamp.proto \
           google/protobuf/struct.proto google/protobuf/wrappers.proto google/protobuf/empty.proto \
           google/protobuf/field_mask.proto
PROTOS  := $(shell cd proto && find . -name '*.proto' | sed 's|^\./||' | sort)
PB_C    := $(patsubst %.proto,$(GEN)/%.pb-c.c,$(PROTOS) $(WKT))
PB_O    := $(PB_C:.c=.o)

$(GEN)/.protos: $(addprefix proto/,$(PROTOS)) Makefile
	@mkdir -p $(GEN)
	protoc-c --c_out=$(GEN) -Iproto -I$(WKT_DIR) $(PROTOS) $(WKT)
	@touch $@

$(PB_C): $(GEN)/.protos ;

# Registry of every message type, for Any's @type in the JSON codec.
$(GEN)/pb_registry.c: $(GEN)/.protos src/xds/pb_registry_gen.sh
	sh src/xds/pb_registry_gen.sh $(GEN) > $@.tmp && mv $@.tmp $@

$(GEN)/%.o: $(GEN)/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) -Wno-error -c $< -o $@

$(B)/libxgproto.a: $(PB_O) $(GEN)/pb_registry.o
	@rm -f $@
	$(Q)ar rcs $@ $^

# --- llhttp, compiled from the C sources Debian's node-llhttp ships ---
LLHTTP_O := $(B)/llhttp/llhttp.o $(B)/llhttp/api.o $(B)/llhttp/http.o
$(B)/llhttp/%.o: /usr/share/llhttp/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) -O2 -g $(SANFLAGS) -I/usr/share/include/llhttp -c $< -o $@

# --- the proxy library (everything in src/ but main.c; .cc files are the small
# extern "C" shims over C++ libraries such as RE2) ---
CXX     ?= c++
SRC     := $(shell find src -name '*.c' ! -name main.c | sort)
SRC_CC  := $(shell find src -name '*.cc' | sort)
OBJ     := $(patsubst %.c,$(B)/obj/%.o,$(SRC)) $(patsubst %.cc,$(B)/obj/%.o,$(SRC_CC))
$(OBJ) $(B)/obj/src/main.o: | $(GEN)/.protos
$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) -c $< -o $@
$(B)/obj/%.o: %.cc
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CXX     $<")
	$(Q)$(CXX) -std=c++17 $(OPT) $(WARN) $(SANFLAGS) -MMD -MP -Isrc $(shell pkg-config --cflags re2) -c $< -o $@

$(B)/libxg.a: $(OBJ) $(LLHTTP_O)
	@rm -f $@
	$(Q)ar rcs $@ $^

XG_LIBS := $(B)/libxg.a $(B)/libxgproto.a

$(B)/xdsgate: $(B)/obj/src/main.o $(XG_LIBS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

STUB_SRC := $(shell find control-plane-stub -name '*.c' | sort)
STUB_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(STUB_SRC))
$(STUB_OBJ): | $(GEN)/.protos
$(B)/control-plane-stub: $(STUB_OBJ) $(XG_LIBS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

# Test helper: binary protobuf <-> proto3 JSON with xdsgate's codec (compat tests).
$(B)/xg-pbjson: $(B)/obj/tests/compat/xg_pbjson_tool.o $(XG_LIBS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

# --- unit tests: one binary per tests/unit/<dir>/test_<file>.c ---
UNIT_SRC := $(shell find tests/unit -name 'test_*.c' | sort)
UNIT_BIN := $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(UNIT_SRC))
$(B)/tests/unit/%: tests/unit/%.c $(XG_LIBS) tests/unit/xg_test.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(XG_LIBS) $(LDFLAGS_ALL) $(LIBS)

# The ADS transport test runs the real stub from the same build tree ($(B)/control-plane-stub).
$(B)/tests/unit/xds/test_ads: | $(B)/control-plane-stub

# --- benchmarks (make bench; not tests): one binary per tests/bench/<name>.c, run in turn ---
BENCH_SRC := $(shell find tests/bench -name '*.c' 2>/dev/null | sort)
BENCH_BIN := $(patsubst tests/bench/%.c,$(B)/tests/bench/%,$(BENCH_SRC))
$(B)/tests/bench/%: tests/bench/%.c $(XG_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(XG_LIBS) $(LDFLAGS_ALL) $(LIBS)

# ... then the latency a global rate limit check adds (tests/bench/ratelimit_global.py),
# then xdsgate side by side with nginx and HAProxy (tests/bench/peers/run.py; knobs
# BENCH_REPS, BENCH_SECONDS, BENCH_TESTS ... in docs/benchmarks.md; JSON under $(B)/bench/)
bench: $(BENCH_BIN) $(B)/xdsgate $(B)/control-plane-stub
	@for b in $(BENCH_BIN); do $$b || exit 1; done
	$(PYTHON) tests/bench/ratelimit_global.py --build $(B)
	@bash deploy/deps.sh bench
	$(PYTHON) tests/bench/peers/run.py --build $(B)

BINS := $(B)/xdsgate $(B)/control-plane-stub $(B)/xg-pbjson

.PHONY: all test unit integration compat asan test-openssl demo clean bench fuzz
all: $(BINS)

unit: $(UNIT_BIN)
	sh tests/unit/run.sh $(UNIT_BIN)

integration: $(BINS)
	XG_BUILD=$(abspath $(B)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

# The official protos are fetched once into build/compat/official, shared by every build tree.
OFFICIAL := $(abspath build/compat/official)
compat: $(B)/xg-pbjson
	bash tests/compat/fetch_official.sh $(OFFICIAL)
	XG_BUILD=$(abspath $(B)) XG_OFFICIAL=$(OFFICIAL) $(PYTHON) -m pytest -q -p no:cacheprovider tests/compat

test: all
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory integration
	$(MAKE) --no-print-directory compat

# ASan+UBSan: a separate build tree, then unit and integration tests on it.
asan:
	$(MAKE) --no-print-directory B=build-asan SAN=address,undefined OPT="-O1 -g" all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp) \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(MAKE) --no-print-directory B=build-asan SAN=address,undefined OPT="-O1 -g" unit integration compat

# The OpenSSL flavour: a separate build tree; every unit test (the TLS code
# differs between the flavours) and the integration tests that depend on the
# flavour: TLS and mTLS to the control plane, the one TLS library linked, and
# every proxy test (downstream and upstream TLS, listeners, the data path).
test-openssl:
	$(MAKE) --no-print-directory B=build-openssl TLS=openssl all
	$(MAKE) --no-print-directory B=build-openssl TLS=openssl unit
	XG_BUILD=$(abspath build-openssl) $(PYTHON) -m pytest -q -p no:cacheprovider \
	  tests/integration/test_xds_tls.py tests/integration/test_skeleton.py \
	  $(sort $(wildcard tests/integration/test_proxy_*.py))

demo: all
	bash deploy/demo.sh $(B)

clean:
	rm -rf build build-asan build-openssl

-include $(OBJ:.o=.d) $(STUB_OBJ:.o=.d) $(B)/obj/src/main.d

# --- fuzzing (make fuzz [FUZZ_TIME=60]): the libFuzzer targets in tests/fuzz, built with
# clang straight from the sources each needs; new inputs go to $(B)/fuzz/corpus-*, the
# seeds in tests/fuzz/corpus/* are only read ---
FUZZ_TIME  ?= 60
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc -I/usr/share/include/llhttp
FUZZ_BASE  := src/codec/codec.c src/http/headers.c src/core/arena.c src/core/buf.c src/core/bufpool.c src/core/error.c
$(B)/fuzz/fuzz_http1: tests/fuzz/fuzz_http1.c $(FUZZ_BASE) $(wildcard src/codec/http1_*.c src/codec/http1_*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -o $@ $(filter %.c,$^) /usr/share/llhttp/llhttp.c /usr/share/llhttp/api.c /usr/share/llhttp/http.c
$(B)/fuzz/fuzz_http2: tests/fuzz/fuzz_http2.c $(FUZZ_BASE) $(wildcard src/codec/http2_*.c src/codec/http2_*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -o $@ $(filter %.c,$^) -lnghttp2
fuzz: $(B)/fuzz/fuzz_http1 $(B)/fuzz/fuzz_http2
	@for t in http1 http2; do mkdir -p $(B)/fuzz/corpus-$$t; \
	  $(B)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_TIME) $(B)/fuzz/corpus-$$t tests/fuzz/corpus/$$t || exit 1; done
