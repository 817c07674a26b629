# Makefile - builds build/oma and build/plugins/*.so; `make check` runs every test.
#
#   make                 build (build/oma, build/plugins/*.so)
#   make check           the lint, unit tests (check) and end-to-end tests against a private MariaDB
#   make lint            banned C functions, the warning flags, C layout, shellcheck (scripts/lint.sh; seconds)
#   make format          lay out the C sources as .clang-format says
#   make unit | make e2e only the unit tests | only the end-to-end tests (make tests: build them)
#   make check SAN=1     the same, built with AddressSanitizer + UndefinedBehaviorSanitizer (in build-san/)
#   make fuzz            libFuzzer targets (clang, in build-fuzz/), each run FUZZ_SECONDS, FUZZ_JOBS at a time (docs/FUZZING.md)
#   make install         PREFIX (default /usr/local), LIBDIR, SYSCONFDIR and DESTDIR honoured
#   make deb             the Debian packages oma and oma-dev (dpkg-buildpackage -b) in build/deb/
#   make deb-check       build them, lintian, install them on this machine, test, purge (root; tests/pkg/test_deb.sh)
#   make demo            start a private MariaDB, load sample data, run a backup
#   make bare-check      run scripts/demo.sh then make check in a fresh, bare Debian 12 root (root; ~5 min)
#   make clean

VERSION := 0.1.0
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
BINDIR = $(PREFIX)/bin
LIBDIR = $(PREFIX)/lib
PLUGINDIR = $(LIBDIR)/oma/plugins
INCLUDEDIR = $(PREFIX)/include
PKGCONFIGDIR = $(LIBDIR)/pkgconfig
MANDIR = $(PREFIX)/share/man
# systemd reads /usr/local/lib/systemd/system too; Debian 12's package
# passes /lib/systemd/system (debian/rules).
SYSTEMDUNITDIR = $(PREFIX)/lib/systemd/system

CC ?= cc
CFLAGS ?= -O2 -g
ifeq ($(SAN),1)
BUILD ?= build-san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# See tests/lsan.supp for why TLS is not scanned.
SAN_ENV = LSAN_OPTIONS=use_tls=0:print_suppressions=0:suppressions=$(CURDIR)/tests/lsan.supp
else
BUILD ?= build
SANFLAGS =
endif

WARN = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE $(WARN) $(CPPFLAGS) $(CFLAGS) $(SANFLAGS) -Iinclude -Icore -I. \
	-DOMA_VERSION='"$(VERSION)"' -MMD -MP
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS)

CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck)

CORE_SRC := $(filter-out core/main.c,$(wildcard core/*.c))
CORE_OBJ := $(CORE_SRC:core/%.c=$(BUILD)/obj/core/%.o)
CORE_LIBS = -linih -lcrypto -ldl -lpthread -lm

# common/: the helpers the core and the plugins share (error buffer,
# growable buffer, JSON strings, UTF-8, writes, what the compressors and
# reporters have alike), included as "common/NAME.h".  Built once with hidden
# visibility into a static library that build/oma, every plugin and the unit
# tests link, so each takes only the objects it uses and a plugin still
# exports nothing but its descriptor.
COMMON_SRC := $(wildcard common/*.c)
COMMON_OBJ := $(COMMON_SRC:common/%.c=$(BUILD)/obj/common/%.o)
COMMON_LIB := $(BUILD)/obj/common/libcommon.a

PLUGINS := $(notdir $(wildcard plugins/*))
PLUGIN_SO := $(PLUGINS:%=$(BUILD)/plugins/%.so)
# Libraries each plugin links against.
LIBS_compress-gzip = -ldeflate -lz -lpthread
LIBS_compress-zstd = -lzstd -lpthread
LIBS_report-webhook = -lcurl
LIBS_store-s3 = -lcurl -lcrypto -lpthread
LIBS_encrypt-age = -lsodium

TEST_SRC := $(wildcard tests/check_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
FIXTURE_SRC := $(wildcard tests/fixtures/*.c)
FIXTURE_SO := $(FIXTURE_SRC:tests/fixtures/%.c=$(BUILD)/tests/fixtures/%.so)

# The install layout the binary and the man pages are made for: the
# plugin folder is compiled into the loader as PLUGINDIR below PREFIX
# (core/loader.c), so `make install PREFIX=/usr LIBDIR=/usr/lib/TRIPLET`
# gives a binary that finds /usr/lib/TRIPLET/oma/plugins by itself.
# $(BUILD)/layout changes only when the layout does (as git's GIT-CFLAGS),
# so what depends on it is remade then and only then.
PLUGIN_SUBDIR = $(patsubst $(PREFIX)/%,%,$(PLUGINDIR))
LAYOUT = PREFIX=$(PREFIX) PLUGINDIR=$(PLUGINDIR) BINDIR=$(BINDIR) INCLUDEDIR=$(INCLUDEDIR) \
	SYSCONFDIR=$(SYSCONFDIR) VERSION=$(VERSION)
LAYOUT_CFLAGS = -DOMA_PREFIX='"$(PREFIX)"' -DOMA_PLUGIN_SUBDIR='"$(PLUGIN_SUBDIR)"'
# Man pages (man/*.in: plain man(7) roff) and systemd units (systemd/*.in)
# with the layout's folders filled in.  tests/check_man.c holds the pages to
# the code: every option of oma -h, every key of the tables.
MAN_PAGES := $(patsubst man/%.in,$(BUILD)/man/%,$(wildcard man/*.in))
UNITS := $(patsubst systemd/%.in,$(BUILD)/systemd/%,$(wildcard systemd/*.in))

.PHONY: all check unit e2e tests install uninstall clean demo deps bench bare-check fuzz fuzz-build lint format \
	deb deb-check FORCE
all: $(BUILD)/oma $(PLUGIN_SO) $(MAN_PAGES) $(UNITS)

$(BUILD)/layout: FORCE
	@mkdir -p $(@D)
	@echo '$(LAYOUT)' | cmp -s - $@ || echo '$(LAYOUT)' >$@
$(BUILD)/obj/core/loader.o: ALL_CFLAGS += $(LAYOUT_CFLAGS)
$(BUILD)/obj/core/loader.o: $(BUILD)/layout
CFLAGS_check_loader = $(LAYOUT_CFLAGS)
$(BUILD)/tests/check_loader: $(BUILD)/layout

SUBST = sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
	-e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@PLUGINDIR@|$(PLUGINDIR)|g' \
	-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g'
$(BUILD)/man/%: man/%.in $(BUILD)/layout
	@mkdir -p $(@D)
	$(SUBST) $< >$@
$(BUILD)/systemd/%: systemd/%.in $(BUILD)/layout
	@mkdir -p $(@D)
	$(SUBST) $< >$@


$(BUILD)/obj/core/%.o: core/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/common/%.o: common/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(COMMON_LIB): $(COMMON_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/oma: $(BUILD)/obj/core/main.o $(CORE_OBJ) $(COMMON_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CORE_LIBS)

# Plugins: every .c in plugins/NAME/ makes build/plugins/NAME.so, with what
# it uses of common/; only the descriptor is exported.
.SECONDEXPANSION:
$(BUILD)/plugins/%.so: $$(wildcard plugins/%/*.c) $$(wildcard plugins/%/*.h) include/oma/plugin.h \
		$(wildcard common/*.h) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fPIC -shared -fvisibility=hidden -o $@ $(filter %.c,$^) $(COMMON_LIB) \
		$(ALL_LDFLAGS) $(LIBS_$*)

$(BUILD)/tests/fixtures/%.so: tests/fixtures/%.c include/oma/plugin.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fPIC -shared -fvisibility=hidden -o $@ $< $(ALL_LDFLAGS)

# A unit test links the core modules it names below (plus util, log and
# common/), so each module is tested on its own.  A module of several files is named by
# the list of its objects: the store (core/store*.c), the change check
# (core/changes*.c), the loader (core/loader.c and the checks before dlopen).
STORE_MODS = store store_info store_links store_prune store_rmtree store_space store_temp walk
CHANGES_MODS = changes changes_probe changes_ref changes_scan
CONFIG_MODS = config shim settings cfgprint toml
LOADER_MODS = loader elfcheck ownercheck
DEPS_check_config = $(CONFIG_MODS)
DEPS_check_shim = $(CONFIG_MODS)
DEPS_check_example = $(CONFIG_MODS)
OBJ_check_example = $(KEYS_OBJ)
DEPS_check_man = $(CONFIG_MODS)
OBJ_check_man = $(KEYS_OBJ)
DEPS_check_names = names digest proc
DEPS_check_store = $(STORE_MODS)
DEPS_check_walk = walk
DEPS_check_loader = $(LOADER_MODS) proc
DEPS_check_gzip = $(LOADER_MODS) proc
DEPS_check_server = server proc walk
DEPS_check_changes = $(CHANGES_MODS) server proc walk
DEPS_check_dump = dump names proc digest
DEPS_check_condition_sh = $(LOADER_MODS) proc
DEPS_check_zstd = $(LOADER_MODS) proc
DEPS_check_zabbix = $(LOADER_MODS) proc
DEPS_check_syslog = $(LOADER_MODS) proc
DEPS_check_webhook = $(LOADER_MODS) proc report
DEPS_check_prometheus = $(LOADER_MODS) proc
DEPS_check_reuse = reuse
DEPS_check_report = report $(CONFIG_MODS) $(LOADER_MODS) proc
DEPS_check_proc = proc
DEPS_check_digest = digest proc
DEPS_check_lock = lock
DEPS_check_conditions = conditions $(LOADER_MODS) proc
DEPS_check_sums = sums digest proc $(STORE_MODS)
DEPS_check_runner = runner sums progress offsite conditions dump report $(STORE_MODS) server $(CHANGES_MODS) reuse names digest \
	$(CONFIG_MODS) $(LOADER_MODS) proc
# The S3 client (plugins/store-s3/s3*.c) and the whole store plugin "s3"
# (with store*.c), against a real radosgw.
S3_OBJ = $(patsubst plugins/%.c,$(BUILD)/obj/plugins/%.o,$(wildcard plugins/store-s3/s3*.c))
S3_PLUGIN_OBJ = $(patsubst plugins/%.c,$(BUILD)/obj/plugins/%.o,$(wildcard plugins/store-s3/*.c))
RGWLIB_OBJ = $(BUILD)/obj/tests/rgwlib.o
OBJ_check_s3 = $(S3_OBJ) $(RGWLIB_OBJ)
CFLAGS_check_s3 = -Iplugins/store-s3
LIBS_check_s3 = -lcurl
OBJ_check_store_s3 = $(S3_PLUGIN_OBJ) $(RGWLIB_OBJ)
CFLAGS_check_store_s3 = -Iplugins/store-s3
LIBS_check_store_s3 = -lcurl
OBJ_check_s3xml = $(BUILD)/obj/plugins/store-s3/s3xml.o
CFLAGS_check_s3xml = -Iplugins/store-s3
# The age v1 library of the encrypt-age plugin (plugins/encrypt-age/age*.c) on
# libsodium, checked against Debian's age and age-keygen; age-tool is its
# stdin-to-stdout helper, bench/age-enc its speed (make tests builds both).
AGE_OBJ = $(patsubst plugins/%.c,$(BUILD)/obj/plugins/%.o,$(wildcard plugins/encrypt-age/age*.c))
OBJ_check_age = $(AGE_OBJ)
CFLAGS_check_age = -Iplugins/encrypt-age
LIBS_check_age = -lsodium
AGE_TOOLS = $(BUILD)/tests/age-tool $(BUILD)/bench/age-enc
# The text format of the prometheus reporter, tested on its own too.
PROM_OBJ = $(BUILD)/obj/plugins/report-prometheus/promtext.o
OBJ_check_prometheus = $(PROM_OBJ)
CFLAGS_check_prometheus = -Iplugins/report-prometheus
# The fuzz targets (tests/fuzz/, built here without libFuzzer) replayed on
# their corpora, with the core modules and plugin sources they fuzz.
DEPS_check_fuzz_replay = $(CONFIG_MODS) reuse $(CHANGES_MODS) $(STORE_MODS) server proc
OBJ_check_fuzz_replay = $(FUZZ_TARGETS:%=$(BUILD)/obj/tests/fuzz/fuzz_%.o) \
	$(BUILD)/obj/plugins/report-zabbix/agentconf.o $(BUILD)/obj/plugins/report-zabbix/proto.o
TEST_OBJ = $(BUILD)/obj/core/util.o $(BUILD)/obj/core/log.o \
	$(patsubst %,$(BUILD)/obj/core/%.o,$(DEPS_$(1))) $(OBJ_$(1)) $(COMMON_LIB)

# Plugin sources and fuzz targets as objects of their own, for unit tests.
$(BUILD)/obj/plugins/%.o: plugins/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/fuzz -Iplugins/report-zabbix -c $< -o $@

# Helpers every unit test shares (t_ prefix).
TESTLIB_OBJ = $(BUILD)/obj/tests/testlib.o
$(TESTLIB_OBJ): tests/testlib.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Itests -c $< -o $@
# The tables of keys, for check_example and check_man (keys_ prefix).
KEYS_OBJ = $(BUILD)/obj/tests/keys.o
$(KEYS_OBJ): tests/keys.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Itests -c $< -o $@
# The private radosgw of the S3 tests (t_rgw_ prefix).
$(RGWLIB_OBJ): tests/rgwlib.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Itests -c $< -o $@

$(BUILD)/tests/check_%: tests/check_%.c $$(call TEST_OBJ,check_$$*) $(TESTLIB_OBJ) $(wildcard tests/*.h)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) $(CFLAGS_check_$*) -Itests -o $@ $< $(TESTLIB_OBJ) $(call TEST_OBJ,check_$*) $(ALL_LDFLAGS) $(CHECK_LIBS) $(CORE_LIBS) $(LIBS_check_$*) -lz -lzstd

$(BUILD)/tests/age-tool $(BUILD)/bench/age-enc: $(BUILD)/%: %.c $(AGE_OBJ) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Iplugins/encrypt-age -o $@ $< $(AGE_OBJ) $(COMMON_LIB) $(ALL_LDFLAGS) -lsodium

# Build the test binaries and fixture plugins without running them.
tests: all $(TEST_BIN) $(FIXTURE_SO) $(AGE_TOOLS)

# Only the unit tests, or only the end-to-end scripts (make check: both).
unit: all $(TEST_BIN) $(FIXTURE_SO) $(AGE_TOOLS)
	$(SAN_ENV) OMA_BUILD=$(BUILD) tests/run-all.sh unit
e2e: all $(FIXTURE_SO)
	$(SAN_ENV) OMA_BUILD=$(BUILD) tests/run-all.sh e2e

# Every test: the lint first (one test), the check binaries, then the
# end-to-end scripts; the runner prints each check summary and a final
# "N passed, M failed".
check: all $(TEST_BIN) $(FIXTURE_SO) $(AGE_TOOLS)
	$(SAN_ENV) OMA_BUILD=$(BUILD) tests/run-all.sh

# What the house relies on and the compiler does not check: no banned C
# functions, the warning flags in place, shellcheck clean (scripts/lint.sh).
lint:
	scripts/lint.sh

# Lay out every C source as the checked-in .clang-format says (make lint checks it).
format:
	scripts/lint.sh --print-c-sources | xargs clang-format --style=file -i

demo: all
	scripts/demo.sh

deps:
	scripts/install-deps.sh

# The README's two commands on a bare Debian 12 root made with mmdebstrap
# (needs root; nothing of this tree's build/ is used).
bare-check:
	scripts/bare-check.sh

# Speed and memory, measured side by side against a private MariaDB.
bench: all
	bench/run.sh

# Fuzzing: tests/fuzz/fuzz_NAME.c built with clang's libFuzzer and
# ASan+UBSan into build-fuzz/fuzz_NAME, each run FUZZ_SECONDS seconds on a
# working copy of its seed corpus tests/fuzz/corpus/NAME/, FUZZ_JOBS at a
# time (docs/FUZZING.md).
FUZZ_CC = clang
FUZZ_BUILD = build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 1
FUZZ_TARGETS = config agentconf zbxreply sidecar info facts
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS = -std=gnu11 -D_GNU_SOURCE $(WARN) -g -O1 $(FUZZ_SAN) -Iinclude -Icore -I. \
	-Itests/fuzz -Iplugins/report-zabbix -DOMA_VERSION='"$(VERSION)"' -MMD -MP
# What each target links besides tests/fuzz/fuzz_NAME.c and common/.
FUZZ_SRC_config = core/config.c core/shim.c core/settings.c core/cfgprint.c core/toml.c core/util.c \
	core/log.c
FUZZ_LIBS_config = -linih -lm
FUZZ_SRC_agentconf = plugins/report-zabbix/agentconf.c
FUZZ_SRC_zbxreply = plugins/report-zabbix/proto.c
FUZZ_SRC_sidecar = core/reuse.c core/changes_ref.c core/util.c core/log.c
FUZZ_SRC_info = core/store_info.c core/util.c core/log.c
FUZZ_LIBS_info = -lm
FUZZ_SRC_facts = core/server.c core/proc.c core/walk.c core/util.c core/log.c

FUZZ_OBJ = $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(FUZZ_SRC_$(1)) $(COMMON_SRC))

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/obj/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -DOMA_LIBFUZZER -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o $$(call FUZZ_OBJ,$$*)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LIBS_$*) -lpthread

fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

# Objects made by the pattern rules above are kept (not removed as
# intermediate files), so a second build compiles nothing.
.SECONDARY: $(OBJ_check_fuzz_replay) $(S3_PLUGIN_OBJ) $(AGE_OBJ) $(PROM_OBJ) \
	$(foreach t,$(FUZZ_TARGETS),$(FUZZ_BUILD)/obj/tests/fuzz/fuzz_$(t).o $(call FUZZ_OBJ,$(t)))

fuzz: fuzz-build
	FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) tests/fuzz/run.sh $(FUZZ_TARGETS)

# oma-plugin.pc: folders below PREFIX are written as ${prefix}/..., so
# pkg-config --define-variable=prefix=... works.
PC_INCLUDEDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))
PC_PLUGINDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(PLUGINDIR))

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(INCLUDEDIR)/oma $(DESTDIR)$(SYSCONFDIR)/oma
	install -m 0755 $(BUILD)/oma $(DESTDIR)$(BINDIR)/oma
	install -m 0644 $(PLUGIN_SO) $(DESTDIR)$(PLUGINDIR)/
	install -m 0644 include/oma/plugin.h $(DESTDIR)$(INCLUDEDIR)/oma/plugin.h
	install -d $(DESTDIR)$(PKGCONFIGDIR)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@INCLUDEDIR@|$(PC_INCLUDEDIR)|g' \
		-e 's|@PLUGINDIR@|$(PC_PLUGINDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
		oma-plugin.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/oma-plugin.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/oma-plugin.pc
	install -m 0644 oma.conf.example $(DESTDIR)$(SYSCONFDIR)/oma/oma.conf.example
	for page in $(MAN_PAGES); do \
		sec=$${page##*.}; \
		install -d $(DESTDIR)$(MANDIR)/man$$sec && \
		install -m 0644 $$page $(DESTDIR)$(MANDIR)/man$$sec/ || exit 1; \
	done
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 0644 $(UNITS) $(DESTDIR)$(SYSTEMDUNITDIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/oma $(DESTDIR)$(INCLUDEDIR)/oma/plugin.h $(DESTDIR)$(SYSCONFDIR)/oma/oma.conf.example
	rm -f $(DESTDIR)$(PKGCONFIGDIR)/oma-plugin.pc
	rm -f $(PLUGINS:%=$(DESTDIR)$(PLUGINDIR)/%.so)
	for page in $(notdir $(MAN_PAGES)); do rm -f $(DESTDIR)$(MANDIR)/man$${page##*.}/$$page; done
	rm -f $(addprefix $(DESTDIR)$(SYSTEMDUNITDIR)/,$(notdir $(UNITS)))

# The Debian packages (debian/): scripts/build-deb.sh runs
# dpkg-buildpackage -b -us -uc on a copy of this tree, so that the .deb,
# .buildinfo and .changes files land in build/deb/ and nothing of build/
# is touched.  deb-check installs them on this machine (root) and purges
# them again (tests/pkg/test_deb.sh).
deb:
	scripts/build-deb.sh

deb-check:
	tests/pkg/test_deb.sh

clean:
	rm -rf build build-san build-fuzz build-deb

-include $(wildcard $(BUILD)/obj/core/*.d $(BUILD)/obj/tests/*.d $(BUILD)/tests/*.d $(BUILD)/plugins/*.d $(BUILD)/tests/fixtures/*.d)
-include $(wildcard $(BUILD)/obj/plugins/*/*.d $(BUILD)/obj/tests/fuzz/*.d $(BUILD)/obj/common/*.d)
-include $(wildcard $(BUILD)/bench/*.d)
-include $(wildcard $(FUZZ_BUILD)/obj/*/*.d $(FUZZ_BUILD)/obj/*/*/*.d)
