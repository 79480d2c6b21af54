# bulletin: an nginx module serving bulletin pages from a prebuilt store.
#
#   make          install missing build packages, build the module and builder
#   make demo     serve the sample bulletins on http://127.0.0.1:8080/
#   make test     unit tests, a short run of each fuzzer, nginx-level tests
#   make bench    the side-by-side benchmark
#   make soak     the long reliability tests (reloads, restarts, limits)
#   make test-valgrind  unit and nginx-level tests under valgrind
#   make fuzz     each fuzzer for FUZZ_SECONDS (fuzz-merge keeps the finds)
#   make test-asan  unit tests and the builder under ASan and UBSan
#   make deb      the Debian packages, in build/deb/, checked by lintian
#   make test-deb install, check and purge the packages (as root)
#   make clean    remove build/
#
# Each target installs the Debian packages it needs (tools/deps.sh), once:
# `make` only what building takes, the test targets their tools on top.
# NO_DEPS=1 installs nothing (the packages' own build, where dpkg checks
# the build dependencies): what is missing then fails the build.

SHELL       := /bin/bash

NGINX_SRC   ?= /usr/share/nginx/src
NGINX       ?= /usr/sbin/nginx
BUILD       := build
CC          ?= cc

MODULE      := $(BUILD)/ngx_http_bulletin_module.so
BUILDER     := $(BUILD)/bulletin-build
SYNC        := $(BUILD)/bulletin-sync

# Debian packages, by what needs them (`make print-deps-NAME` prints a
# list).  Building: the C toolchain and nginx's development files, no test
# tool and no nginx module package (t/003-deps.t checks).
DEB_BUILD    := gcc make libc6-dev pkg-config nginx nginx-dev libpcre2-dev \
                libjansson-dev zlib1g-dev libhiredis-dev \
                libqrencode-dev
# `make test`: the unit tests; libFuzzer (fuzz-short); the nginx-level
# tests (t/, prove) with curl, strace, promtool and the browser tests'
# Debian chromium, CJK fonts, node and npm.  A nodejs package that
# brings its own npm (NodeSource's) conflicts with Debian's npm, which is
# asked for only when npm is missing.
DEB_UNIT     := libcmocka-dev
DEB_FUZZ     := clang libclang-rt-14-dev
DEB_PROVE    := perl gzip curl strace prometheus redis-server chromium \
                libxml2-utils \
                fonts-noto-cjk zbar-tools \
                nodejs $(if $(shell command -v npm),,npm)
DEB_TEST     := $(DEB_UNIT) $(DEB_FUZZ) $(DEB_PROVE)
DEB_ASAN     := $(DEB_FUZZ) $(DEB_UNIT) perl
DEB_VALGRIND := valgrind
# the benchmark's Lua variant: tools/deps.sh disables again the modules
# that the package's postinst enables in the live nginx
DEB_BENCH    := wrk valgrind perl libnginx-mod-http-lua
# the fleet's benchmark: three nodes, their sidecars and one Redis
DEB_BENCH_FLEET := wrk perl redis-server
# the packages (debian/control's Build-Depends beyond DEB_BUILD), and
# their test
DEB_DEB      := debhelper dpkg-dev lintian libcmocka-dev
DEB_TEST_DEB := man-db curl perl

# deps_stamp NAME: the stamp that says DEB_NAME is installed, a
# prerequisite of what needs it; none with NO_DEPS
deps_stamp   = $(if $(NO_DEPS),,$(BUILD)/.deps-$(1))
deps_list    = $(DEB_$(subst -,_,$(shell echo '$(1)' | tr a-z A-Z)))

# The sources, each listed once.  The module's are config's (nginx's own
# Makefile, generated from it, knows them and their headers); the pure
# library is every src/bulletin_*.c but the builder's main, built once
# per flavour (plain, fuzzer, ASan) into LIBRARY and linked by the
# builder, the unit tests and the fuzzers alike.
MODULE_SRCS := $(filter %.c %.h,$(shell sed -n \
                 's|^.*[$$]ngx_addon_dir/\([^ "\\]*\).*$$|\1|p' config))
PURE_HDRS   := $(wildcard src/bulletin_*.h)
LIB_SRCS    := $(filter-out src/bulletin_build.c src/bulletin_sync.c,\
                 $(wildcard src/bulletin_*.c)) src/bulletin_template.S
LIB_OBJS     = $(patsubst src/%,$(1)/obj/%.o,$(LIB_SRCS))
LIBRARY     := $(BUILD)/libbulletin.a
TEMPLATES   := templates/default.html templates/index.html

HOST_CFLAGS := -std=gnu99 -O2 -g -Wall -Wextra -Wpointer-arith \
               -Wno-unused-parameter -Werror -D_FORTIFY_SOURCE=2 \
               -fstack-protector-strong
BUILDER_LIBS := -ljansson -lqrencode -lz -lpthread
SYNC_LIBS    := -lhiredis -ljansson -lz
# what the caller adds (the packages' build: dpkg-buildflags' hardening)
HOST_CFLAGS  := $(strip $(HOST_CFLAGS) $(CPPFLAGS) $(CFLAGS))
HOST_LDFLAGS := $(strip $(HOST_CFLAGS) $(LDFLAGS))

UNIT_SRCS   := $(wildcard t/unit/test_*.c)
UNIT_BINS   := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
UNIT_LIBS   := -lcmocka -ljansson -lqrencode -lz -lpthread

# Debian's own flags for its nginx, as `nginx -V` prints them
NGX_CC_OPT  := -g -O2 -fstack-protector-strong -Wformat \
               -Werror=format-security -fPIC -Wdate-time -D_FORTIFY_SOURCE=2

PROVE       ?= prove
PROVE_FLAGS ?= -j2


.PHONY: all deps demo test unit prove bench clean FORCE deb test-deb
.PHONY: fuzz fuzz-short fuzz-merge test-asan
.PHONY: soak test-valgrind bench-fleet

all: $(call deps_stamp,build) $(MODULE) $(BUILDER) $(SYNC)


# a stamp a list, so that a second `make` checks nothing again; the lists
# live in this Makefile, so editing it checks again.  Precious: a stamp
# that only a pattern rule names would be removed as intermediate.
.PRECIOUS: $(BUILD)/.deps-%

$(BUILD)/.deps-%: Makefile tools/deps.sh
	@mkdir -p $(BUILD)
	@sh tools/deps.sh $(call deps_list,$*)
	@touch $@

deps: $(call deps_stamp,build)

print-deps-%:
	@echo $(call deps_list,$*)


# The module, built against the installed nginx through Debian's
# nginx-dev.  nginx-dev is copied, so that configure writes nothing
# outside build/; configure runs again only when `config` changes.

$(BUILD)/nginx/Makefile: config $(call deps_stamp,build)
	@rm -rf $(BUILD)/nginx-src $(BUILD)/nginx
	@mkdir -p $(BUILD)
	cp -r $(NGINX_SRC) $(BUILD)/nginx-src
	cd $(BUILD)/nginx-src && . ./conf_flags && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" \
	        --with-cc-opt='$(NGX_CC_OPT)' \
	        --add-dynamic-module=$(CURDIR) \
	        --builddir=$(CURDIR)/$(BUILD)/nginx > ../configure.log 2>&1 \
	    || { cat ../configure.log; exit 1; }

# nginx's Makefile decides what to rebuild (config lists every source
# and header): it runs every time, and the .so is replaced only when it
# changed
$(MODULE): $(BUILD)/nginx/Makefile $(MODULE_SRCS) FORCE
	@$(MAKE) -s -f $(CURDIR)/$(BUILD)/nginx/Makefile -C $(BUILD)/nginx-src \
	    modules
	@# a new file renamed into place: an nginx that has the old one
	@# loaded must never see it rewritten under it
	@cmp -s $(BUILD)/nginx/ngx_http_bulletin_module.so $@ || { \
	    cp $(BUILD)/nginx/ngx_http_bulletin_module.so $@.tmp && \
	    mv -f $@.tmp $@ && echo "built $@"; }

FORCE:


# lib_rules DIR, CC, CFLAGS, STAMP: the pure library's objects and
# archive; STAMP, the packages its compiler needs beyond the build's
define lib_rules
$(1)/obj/%.c.o: src/%.c $(PURE_HDRS) $(call deps_stamp,build) | $(4)
	@mkdir -p $$(@D)
	$(2) $(3) -Isrc -c -o $$@ $$<

$(1)/obj/%.S.o: src/%.S $(TEMPLATES) $(call deps_stamp,build) | $(4)
	@mkdir -p $$(@D)
	$(2) $(3) -Isrc -c -o $$@ $$<

$(1)/libbulletin.a: $(call LIB_OBJS,$(1))
	@rm -f $$@
	ar rcs $$@ $$^
endef

$(eval $(call lib_rules,$(BUILD),$(CC),$(HOST_CFLAGS)))


$(BUILDER): src/bulletin_build.c $(LIBRARY)
	$(CC) $(HOST_LDFLAGS) -Isrc -o $@ $^ $(BUILDER_LIBS)

# the fleet's sidecar (issue 15): the library and hiredis
$(SYNC): src/bulletin_sync.c $(LIBRARY)
	$(CC) $(HOST_LDFLAGS) -Isrc -o $@ $^ $(SYNC_LIBS)


# cmocka unit tests of the pure C code: t/unit/test_NAME.c, linked with
# the library

$(BUILD)/unit/%: t/unit/%.c $(wildcard t/unit/*.h) $(LIBRARY) \
                 | $(call deps_stamp,unit)
	@mkdir -p $(BUILD)/unit
	$(CC) $(HOST_LDFLAGS) -Isrc -It/unit -o $@ $< \
	    $(LIBRARY) $(UNIT_LIBS)

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "# $$t"; $$t; done

# playwright-core for the browser tests, as pinned in t/browser's lock
# file: npm ci when node_modules is missing or the lock file changed.  A
# failed install (no network) warns, and t/400-browser.t skips, saying why.
BROWSER_MODULES := t/browser/node_modules/.package-lock.json

$(BROWSER_MODULES): t/browser/package-lock.json t/browser/package.json \
                    | $(call deps_stamp,prove)
	@cd t/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit \
	    --no-fund --ignore-scripts --loglevel=error && touch $(CURDIR)/$@ \
	    || echo "bulletin: npm ci in t/browser failed:" \
	            "the browser tests will be skipped" >&2

prove: all $(BROWSER_MODULES) | $(call deps_stamp,prove)
	BULLETIN_BUILD=$(CURDIR)/$(BUILD) $(PROVE) $(PROVE_FLAGS) t/

test: all fuzz-short unit prove


# Fuzzing with libFuzzer (Debian's clang, ASan and UBSan): fuzz/fuzz_NAME.c
# linked with the library built for fuzzing.  fuzz/run.sh runs each on
# fuzz/corpus/NAME/ (never writing there) after the reproducers in
# fuzz/crashes/; `make test` for FUZZ_SHORT seconds each, `make fuzz` for
# FUZZ_SECONDS, `make fuzz-merge` adds what `make fuzz` found to the corpus.

FUZZ_CC      := clang
FUZZ_NAMES   := store counters id args source sync
FUZZ_BINS    := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_NAMES))
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS  := -std=gnu99 -g -O1 -fno-omit-frame-pointer -Wall -Wextra \
                -Wno-unused-parameter $(FUZZ_SAN)
FUZZ_LIBS    := -ljansson -lqrencode -lz
FUZZ_SHORT   ?= 5
FUZZ_SECONDS ?= 300

$(eval $(call lib_rules,$(BUILD)/fuzz,$(FUZZ_CC),\
    $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,$(call deps_stamp,fuzz)))

$(BUILD)/fuzz/%: fuzz/%.c fuzz/fuzz.h $(BUILD)/fuzz/libbulletin.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Isrc -Ifuzz -o $@ $< \
	    $(BUILD)/fuzz/libbulletin.a $(FUZZ_LIBS)

fuzz-short: $(FUZZ_BINS)
	@sh fuzz/run.sh short $(FUZZ_SHORT) $(FUZZ_NAMES)

fuzz: $(FUZZ_BINS)
	@sh fuzz/run.sh long $(FUZZ_SECONDS) $(FUZZ_NAMES)

fuzz-merge: $(FUZZ_BINS)
	@sh fuzz/run.sh merge $(FUZZ_NAMES)


# The unit tests and the builder built with ASan and UBSan (clang), run by
# fuzz/asan.sh on their own, on sample/ and under t/builder.t: any
# sanitizer report fails the target.

ASAN_CFLAGS := $(FUZZ_CFLAGS)
ASAN_UNIT_BINS := $(patsubst t/unit/%.c,$(BUILD)/asan/unit/%,$(UNIT_SRCS))

$(eval $(call lib_rules,$(BUILD)/asan,$(FUZZ_CC),$(ASAN_CFLAGS),\
    $(call deps_stamp,asan)))

$(BUILD)/asan/bulletin-build: src/bulletin_build.c $(BUILD)/asan/libbulletin.a
	$(FUZZ_CC) $(ASAN_CFLAGS) -Isrc -o $@ $^ $(BUILDER_LIBS)

$(BUILD)/asan/unit/%: t/unit/%.c $(wildcard t/unit/*.h) \
                      $(BUILD)/asan/libbulletin.a | $(call deps_stamp,asan)
	@mkdir -p $(BUILD)/asan/unit
	$(FUZZ_CC) $(ASAN_CFLAGS) -Isrc -It/unit -o $@ $< \
	    $(BUILD)/asan/libbulletin.a $(UNIT_LIBS)

test-asan: $(ASAN_UNIT_BINS) $(BUILD)/asan/bulletin-build
	@PROVE=$(PROVE) sh fuzz/asan.sh $(BUILD)/asan $(ASAN_UNIT_BINS)

# Reliability (issue 9).  `make soak`: t/500-reload.t, t/510-hostile.t
# and t/520-limits.t with their long parameters (BULLETIN_SOAK=1: 20
# reloads under load, 5 of each restart).  `make test-valgrind`: the unit
# tests under memcheck, then every nginx-level test with nginx under
# memcheck (TEST_NGINX_VALGRIND=1: master_process off; what needs a
# master skips, saying so); any error or definite leak fails.

SOAK_TESTS   := t/500-reload.t t/510-hostile.t t/520-limits.t t/530-scale.t
VALGRIND_RUN := valgrind --quiet --error-exitcode=99 --leak-check=full \
                --show-leak-kinds=definite --errors-for-leak-kinds=definite \
                --suppressions=t/lib/valgrind.supp

soak: all | $(call deps_stamp,prove)
	BULLETIN_SOAK=1 BULLETIN_BUILD=$(CURDIR)/$(BUILD) $(PROVE) -v \
	    $(SOAK_TESTS)

test-valgrind: all $(UNIT_BINS) $(BROWSER_MODULES) \
               | $(call deps_stamp,prove) $(call deps_stamp,valgrind)
	@set -e; for t in $(UNIT_BINS); do echo "# valgrind $$t"; \
	    $(VALGRIND_RUN) $$t; done
	TEST_NGINX_VALGRIND=1 BULLETIN_BUILD=$(CURDIR)/$(BUILD) $(PROVE) \
	    $(PROVE_FLAGS) t/

# The Debian packages (issue 14): `make deb` builds them in build/deb/
# (tools/deb.sh: dpkg-buildpackage on a copy of the sources, lintian);
# `make test-deb` installs them, checks nginx with them and purges them
# (tools/test-deb.sh, as root, leaving the machine as it was).

deb: | $(call deps_stamp,build) $(call deps_stamp,deb)
	@sh tools/deb.sh

test-deb: deb | $(call deps_stamp,test-deb)
	@sh tools/test-deb.sh

demo: all
	@sh tools/demo.sh

bench: all | $(call deps_stamp,bench)
	@sh bench/run.sh

# FLEET_QUICK=1: 10,000 pages, 5,000 views/s for 10 s
bench-fleet: all | $(call deps_stamp,bench-fleet)
	@sh bench/fleet.sh

clean:
	rm -rf $(BUILD)
