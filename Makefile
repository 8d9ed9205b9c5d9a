# PGXS build of the extension.  The C++ core (src/core) is compiled into the
# module together with the PostgreSQL glue (src/pg); CMakeLists.txt builds
# the same core for the unit tests.
EXTENSION = qxt_portability
MODULE_big = qxt_portability
# Install and upgrade scripts, one per version and one per upgrade step.
DATA = $(wildcard extension/qxt_portability--*.sql)

CORE_SRCS = $(wildcard src/core/*.cpp)
PG_SRCS = $(wildcard src/pg/*.cpp)
OBJS = $(CORE_SRCS:.cpp=.o) $(PG_SRCS:.cpp=.o)

REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --load-extension=plpgsql

PG_CPPFLAGS = -Isrc/core -Isrc/pg
# Warnings of the C++ code; CMakeLists.txt reads this line too, so the core
# gets the same warnings in the unit tests.
QXT_WARNINGS = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-register
# -MMD -MP: the compiler writes each object's header dependencies (.d).
PG_CXXFLAGS = -std=c++17 -fPIC $(QXT_WARNINGS) -MMD -MP

SHLIB_LINK = -lcurl -lstdc++

# The LLVM bitcode rule for .cpp files ignores PG_CXXFLAGS; JIT inlining of
# this module brings nothing, so do not build bitcode for it.
override with_llvm = no

# make installcheck: the regression suite against a running server (the one
# PGHOST/PGPORT name, e.g. inside pg_virtualenv), as a superuser.  The tests
# talk to the vendor emulator: when QXT_EMU_URL is not set, installcheck runs
# itself again inside scripts/with-fixtures.sh, which starts the emulator
# fixtures on 127.0.0.1 (and sets the four QXT_* variables) and stops them
# afterwards.  A caller that runs its own fixtures sets QXT_EMU_URL,
# QXT_EMU_TLS_URL, QXT_EMU_CA and QXT_BLACKHOLE_URL.
ifeq ($(strip $(QXT_EMU_URL)),)
NO_INSTALLCHECK = 1
endif

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
EXTRA_CLEAN = $(OBJS:.o=.d)

include $(PGXS)

ifeq ($(strip $(QXT_EMU_URL)),)
.PHONY: installcheck
installcheck:
	$(srcdir)/scripts/with-fixtures.sh $(MAKE) installcheck
endif

# Rebuild an object when a header it includes changes (the compiler's .d
# files; none before the first build).
-include $(OBJS:.o=.d)

# Robustness checks (scripts/checks/; each prints its figures and ends with
# "N passed, M failed").  check-sanitize is quick; the others are slow and
# run only on request: make check-slow runs fuzz, valgrind and load in turn.
.PHONY: check-sanitize check-valgrind check-load fuzz check-slow check-mutants
check-sanitize:
	bash scripts/checks/sanitize.sh
check-valgrind:
	bash scripts/checks/valgrind.sh
check-load:
	bash scripts/checks/load.sh
fuzz:
	bash scripts/checks/fuzz.sh
check-slow:
	bash scripts/checks/slow.sh

# The mutation check: every deliberate bug of test/mutants/*.patch, one at a
# time in a copy of the tree (build/mutants/tree), must fail a test it names.
# Slow (it builds and runs pg_regress per mutant), so not part of
# scripts/test.sh.  It runs "make install": on a shared machine run it in a
# private mount namespace.
check-mutants:
	bash scripts/check-mutants.sh
