# ringvm build. `make` builds the monitor; `make demo` and `make test` are the
# two commands the README promises (both set up their own dependencies).

CC      ?= gcc
CSTD    := -std=c17 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wvla
CFLAGS  ?= -O2 -g
CPPFLAGS_RV := -Isrc -MMD -MP
# Static: the same binary runs on the host and inside the harness's L1.
LDFLAGS_RV := -static -pthread
LDLIBS_RV  := -luring -ljson-c -lz

BUILD   := build
SRCS    := $(shell find src -name '*.c' | sort)
LIBSRCS := $(filter-out src/cli/main.c,$(SRCS))
OBJS    := $(SRCS:%.c=$(BUILD)/obj/%.o)
LIBOBJS := $(LIBSRCS:%.c=$(BUILD)/obj/%.o)

# Unit tests: every src file except main, built with ASan+UBSan.
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
ASANOBJS := $(LIBSRCS:%.c=$(BUILD)/asan/%.o)
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)

.PHONY: all clean test demo deps images bench-boot bench-io bench-lifecycle bench-migrate bench-exits fuzz unit-bins

all: $(BUILD)/ringvm

$(BUILD)/ringvm: $(OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS_RV) $(LDLIBS_RV)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(CFLAGS) $(CPPFLAGS_RV) -c -o $@ $<

$(BUILD)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) -O1 -g $(SAN) $(CPPFLAGS_RV) -c -o $@ $<

$(BUILD)/libringvm-asan.a: $(ASANOBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/tests/unit/%: tests/unit/%.c $(BUILD)/libringvm-asan.a
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) -O1 -g $(SAN) $(CPPFLAGS_RV) -Itests -o $@ $< \
		$(BUILD)/libringvm-asan.a -lcmocka -pthread $(LDLIBS_RV)

unit-bins: $(UNIT_BINS)

# KVM tier: project-written guest programs (tests/kvm/*.S, embedded as
# data) driven through the real machine/vCPU code.
KVM_TEST_SRCS := $(sort $(wildcard tests/kvm/*.c tests/kvm/*.S))

$(BUILD)/tests/kvm/kvm-tests: $(KVM_TEST_SRCS) $(LIBOBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(CFLAGS) -Isrc -Itests -o $@ $(KVM_TEST_SRCS) \
		$(LIBOBJS) $(LDFLAGS_RV) $(LDLIBS_RV)

# A test's tool for editing state files (tests/e2e/snapshot_bad.sh).
$(BUILD)/tests/e2e/state-tool: tests/e2e/tools/state_tool.c $(LIBOBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(CFLAGS) -Isrc -o $@ $< $(LIBOBJS) \
		$(LDFLAGS_RV) $(LDLIBS_RV)

# Runs a command with a stalled one-page stdout (tests/e2e/suite.sh).
$(BUILD)/tests/e2e/stalled-stdout: tests/e2e/tools/stalled_stdout.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(CFLAGS) -static -o $@ $<

-include tests/e2e/guests/guests.mk

# The overhead observatory's microbenchmarks: static, so the same binary
# runs natively, in a container and in guests.
$(BUILD)/bench/rvmicro: bench/overhead/rvmicro.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) -O2 -static -o $@ $<

# What one exit of each kind costs (guest-timed; needs hardware KVM): the
# KVM tier's rig and guest programs of its own.
EXITCOST_SRCS := bench/overhead/exitcost.c bench/overhead/exitcost_guests.S \
	tests/kvm/rig.c

$(BUILD)/bench/exitcost: $(EXITCOST_SRCS) tests/kvm/rig.h $(LIBOBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(CFLAGS) -Isrc -Itests -o $@ $(EXITCOST_SRCS) \
		$(LIBOBJS) $(LDFLAGS_RV) $(LDLIBS_RV) -lm

deps:
	scripts/install-deps.sh

images: deps
	scripts/guest-images.sh

test: deps
	$(MAKE) all unit-bins $(BUILD)/tests/kvm/kvm-tests $(BUILD)/tests/e2e/state-tool \
		$(BUILD)/tests/e2e/stalled-stdout $(BUILD)/bench/rvmicro $(BUILD)/bench/exitcost
	scripts/guest-images.sh
	tests/run-all.sh

demo: deps
	$(MAKE) all
	scripts/guest-images.sh
	scripts/demo.sh

bench-boot: deps
	$(MAKE) all
	scripts/guest-images.sh
	bench/boot.sh

bench-io: deps
	$(MAKE) all
	scripts/guest-images.sh
	bench/io.sh

bench-lifecycle: deps
	$(MAKE) all
	scripts/guest-images.sh
	bench/lifecycle.sh

bench-migrate: deps
	$(MAKE) all
	scripts/guest-images.sh
	bench/migrate.sh

bench-exits: deps
	$(MAKE) all $(BUILD)/bench/exitcost
	bench/exits.sh

fuzz: deps
	tests/fuzz/run.sh $(or $(FUZZ_SECONDS),60) $(FUZZ_TARGETS)

clean:
	rm -rf $(BUILD)

-include $(OBJS:.o=.d) $(ASANOBJS:.o=.d)
