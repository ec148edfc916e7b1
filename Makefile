# Makefile for the feature_flags PostgreSQL extension (PGXS)
#
#   make                 build the extension (warnings are errors)
#   make install         install into the PostgreSQL found by PG_CONFIG
#   make installcheck    pg_regress + isolation + TAP suites (temp instances)
#   make core-check      unit and conformance tests of the portable core
#   make core-sanitize   the same under ASan+UBSan (clang)
#   make core-fuzz       libFuzzer on the core for FUZZ_SECONDS (default 60)
#   make pgtap           pgTAP suite against the running server ($PGDATABASE)
#   make test            every suite, with one summary line (test/run-all.sh)

EXTENSION = feature_flags
EXTVERSION = 1.26

MODULE_big = feature_flags
CORE_SRCS = $(sort $(wildcard src/core/*.c))
PG_SRCS = $(sort $(wildcard src/*.c))
OBJS = $(PG_SRCS:.c=.o) $(CORE_SRCS:.c=.o)

# the install script of the current version is assembled from
# src/sql/NNN_*.sql, in order; src/sql/versions/ keeps the install scripts of
# earlier versions exactly as released and the update scripts between them
SQL_PARTS = $(sort $(wildcard src/sql/*.sql))
DATA_built = $(EXTENSION)--$(EXTVERSION).sql
DATA = $(sort $(wildcard src/sql/versions/$(EXTENSION)--*.sql))

PG_CPPFLAGS = -I$(srcdir)/src -I$(srcdir)/src/core
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare
SHLIB_LINK = -lxxhash

# pg_regress: sql/ + expected/, run in a temporary instance
REGRESS = $(basename $(notdir $(sort $(wildcard sql/*.sql))))
REGRESS_OPTS = --temp-instance=./tmp_regress --temp-config=$(srcdir)/test/conf/regress.conf

# isolation: test/isolation/specs + test/isolation/expected
ISOLATION = $(basename $(notdir $(sort $(wildcard test/isolation/specs/*.spec))))
ISOLATION_OPTS = --inputdir=$(srcdir)/test/isolation --outputdir=output_iso \
	--temp-instance=./tmp_isolation --temp-config=$(srcdir)/test/conf/regress.conf

TAP_TESTS = 1
PROVE_TESTS = $(sort $(wildcard test/t/*.pl))

EXTRA_CLEAN = tmp_regress tmp_isolation output_iso results regression.diffs \
	regression.out build $(DATA_built)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

PROVE_FLAGS += --timer

# PGXS does not track header dependencies: rebuild every object when a header changes
$(OBJS): $(wildcard src/*.h src/core/*.h)

$(DATA_built): $(SQL_PARTS)
	cat $(SQL_PARTS) > $@

# ---- the portable core, built and tested without PostgreSQL ----
CORE_CC ?= cc
CORE_CFLAGS ?= -O2 -g -std=c99 -Wall -Wextra -Werror -Wno-unused-parameter
CONFORMANCE ?= $(abspath $(srcdir)/../shared/conformance/jsonlogic/tests.json)

build/core-tests: $(CORE_SRCS) $(wildcard src/core/*.h) $(wildcard test/core/*.c) $(wildcard test/core/*.h)
	@mkdir -p build
	$(CORE_CC) $(CORE_CFLAGS) -Isrc/core -o $@ $(CORE_SRCS) $(filter-out test/core/fuzz_%.c,$(wildcard test/core/*.c)) -lm

core-check: build/core-tests
	build/core-tests $(CONFORMANCE)

# the same tests under AddressSanitizer + UndefinedBehaviorSanitizer
SAN_CC ?= clang
SAN_FLAGS = -O1 -g -std=c99 -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer -Wall -Wextra -Werror -Wno-unused-parameter

build/core-tests-san: $(CORE_SRCS) $(wildcard src/core/*.h) $(wildcard test/core/*.c) $(wildcard test/core/*.h)
	@mkdir -p build
	$(SAN_CC) $(SAN_FLAGS) -Isrc/core -o $@ $(CORE_SRCS) $(filter-out test/core/fuzz_%.c,$(wildcard test/core/*.c)) -lm

core-sanitize: build/core-tests-san
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build/core-tests-san $(CONFORMANCE)

# libFuzzer over [rule, data] JSON inputs; seeds from the conformance list
FUZZ_SECONDS ?= 60
FUZZ_FLAGS = -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer -Wall -Wextra -Werror -Wno-unused-parameter

build/fuzz-jsonlogic: $(CORE_SRCS) $(wildcard src/core/*.h) test/core/fuzz_jsonlogic.c
	@mkdir -p build
	$(SAN_CC) $(FUZZ_FLAGS) -Isrc/core -o $@ $(CORE_SRCS) test/core/fuzz_jsonlogic.c -lm

build/fuzz-corpus-gen: $(CORE_SRCS) $(wildcard src/core/*.h) test/core/fuzz_corpus_gen.c
	@mkdir -p build
	$(CORE_CC) $(CORE_CFLAGS) -Isrc/core -o $@ $(CORE_SRCS) test/core/fuzz_corpus_gen.c -lm

core-fuzz: build/fuzz-jsonlogic build/fuzz-corpus-gen
	@mkdir -p build/fuzz-corpus build/fuzz-artifacts
	build/fuzz-corpus-gen $(CONFORMANCE) build/fuzz-corpus
	build/fuzz-jsonlogic -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=10 \
		-rss_limit_mb=1024 -artifact_prefix=build/fuzz-artifacts/ build/fuzz-corpus

# ---- suites one at a time (test/run-all.sh runs each and counts) ----
.PHONY: core-check core-sanitize core-fuzz pgtap test regress-check isolation-check tap-check
regress-check:
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)

isolation-check:
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION)

tap-check:
	$(prove_installcheck)

pgtap:
	pg_prove --ext .sql test/pgtap/

test:
	bash test/run-all.sh
