#!/usr/bin/env bash
#
# run-all.sh — run every test suite of feature_flags and print one summary
# line "N passed, N failed".
#
# As root (a fresh Debian 12 machine, or CI): installs the packages, builds
# with -Wall -Wextra -Werror, installs the extension, then re-runs itself as
# the postgres OS user (PostgreSQL refuses to run as root).
# As any other user: expects the extension to be installed already (run
# `make install` first) and runs the suites.
#
# Suites, each counted per test case:
#   core        unit + JSON Logic conformance tests of the portable core
#   sanitize    the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   fuzz        a short libFuzzer smoke run of the core (FUZZ_SECONDS, 60)
#   regress     pg_regress (sql/, expected/) in a temporary instance
#   isolation   isolation specs (test/isolation) in a temporary instance
#   tap         PostgreSQL::Test::Cluster suites (test/t)
#   pgtap       pgTAP suites (test/pgtap) against a scratch cluster
#   bench       the benchmark smoke run (correctness only, no timing)
#
# Select suites with SUITES="core regress ..." (default: all).
#
set -u

cd "$(dirname "$0")/.."
ROOT=$(pwd)
SUITES=${SUITES:-"core sanitize fuzz regress isolation tap pgtap bench"}
export PG_CONFIG=${PG_CONFIG:-pg_config}

if [ "$(id -u)" = 0 ] && [ "${1:-}" != "--as-postgres" ]; then
    bash scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }
    echo "=== build (warnings are errors) ==="
    if ! make -s PG_CONFIG="$PG_CONFIG" -j2 >/tmp/ff-build.log 2>&1; then
        cat /tmp/ff-build.log
        echo "build failed"
        echo "0 passed, 1 failed"
        exit 1
    fi
    make -s PG_CONFIG="$PG_CONFIG" install >/tmp/ff-install.log 2>&1 || { cat /tmp/ff-install.log; echo "0 passed, 1 failed"; exit 1; }
    chown -R postgres:postgres "$ROOT"
    exec runuser -u postgres -- env CI="${CI:-}" PG_CONFIG="$PG_CONFIG" SUITES="$SUITES" \
        FUZZ_SECONDS="${FUZZ_SECONDS:-60}" PATH="$PATH" bash "$0" --as-postgres
fi

PGBIN=$($PG_CONFIG --bindir)
export PATH="$PGBIN:$PATH"
PASSED=0
FAILED=0
FAILED_SUITES=()

# count PASS FAIL SUITE — add to the totals
count() {
    PASSED=$((PASSED + $1))
    FAILED=$((FAILED + $2))
    echo "--- $3: $1 passed, $2 failed"
    if [ "$2" -gt 0 ]; then FAILED_SUITES+=("$3"); fi
}

want() { case " $SUITES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# summary_line FILE — parse the last "N passed, N failed" line of FILE
summary_line() {
    local line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
    if [ -z "$line" ]; then echo "0 1"; return; fi
    echo "$line" | sed -E 's/^([0-9]+) passed, ([0-9]+) failed.*/\1 \2/'
}

# pg_regress_counts FILE — passed/failed test lines of pg_regress output
pg_regress_counts() {
    local p f
    p=$(grep -cE '\.\.\. ok' "$1")
    f=$(grep -cE '\.\.\. (FAILED|failed)' "$1")
    # pg_regress gives up (e.g. a missing expected file) without its summary
    if ! grep -qE 'tests? (passed|failed)' "$1"; then f=$((f + 1)); fi
    echo "$p $f"
}

# prove_counts FILE — assertions passed/failed in verbose prove output: each
# "ok N" passes, each "not ok N" fails, planned-but-never-run tests fail
# too, and a script that died before its first test counts as one failure
prove_counts() {
    local ok notok unrun died dubious failed
    ok=$(grep -cE '^\s*ok [0-9]+' "$1")
    notok=$(grep -cE '^\s*not ok [0-9]+' "$1")
    unrun=$(grep -oE 'You planned [0-9]+ tests but ran [0-9]+' "$1" |
        awk '{s += $3 - $7} END {print s + 0}')
    died=$(grep -cE 'Tests: 0 Failed: 0\)|No plan found in TAP output' "$1")
    dubious=$(grep -cE '^Dubious, test returned' "$1")
    failed=$((notok + unrun + died))
    [ "$failed" -lt "$dubious" ] && failed=$dubious
    echo "$ok $failed"
}

LOG=$ROOT/build/test-logs
mkdir -p "$LOG"

# ---------------------------------------------------------------- core
if want core; then
    echo "=== core: unit and conformance tests ==="
    make -s core-check >"$LOG/core.log" 2>&1
    tail -n 40 "$LOG/core.log"
    read -r p f < <(summary_line "$LOG/core.log")
    count "$p" "$f" core
fi

if want sanitize; then
    echo "=== sanitize: core tests under ASan + UBSan ==="
    make -s core-sanitize >"$LOG/sanitize.log" 2>&1
    tail -n 20 "$LOG/sanitize.log"
    read -r p f < <(summary_line "$LOG/sanitize.log")
    count "$p" "$f" sanitize
fi

if want fuzz; then
    echo "=== fuzz: libFuzzer smoke (${FUZZ_SECONDS:-60}s) ==="
    if make -s core-fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-60}" >"$LOG/fuzz.log" 2>&1; then
        tail -n 5 "$LOG/fuzz.log"
        count 1 0 fuzz
    else
        tail -n 60 "$LOG/fuzz.log"
        count 0 1 fuzz
    fi
fi

# ---------------------------------------------------------------- regress
if want regress; then
    echo "=== regress: pg_regress ==="
    rm -f regression.diffs
    make -s regress-check PG_CONFIG="$PG_CONFIG" >"$LOG/regress.log" 2>&1
    cat "$LOG/regress.log" | grep -E '\.\.\. |tests? (passed|failed)' || true
    read -r p f < <(pg_regress_counts "$LOG/regress.log")
    if [ "$p" = 0 ] && [ "$f" = 0 ]; then cat "$LOG/regress.log"; f=1; fi
    if [ "$f" -gt 0 ] && [ -f regression.diffs ]; then
        echo "----- regression.diffs -----"; cat regression.diffs
        for l in tmp_regress/log/*.log; do [ -f "$l" ] && { echo "----- $l (tail) -----"; tail -n 50 "$l"; }; done
    fi
    count "$p" "$f" regress
fi

# ---------------------------------------------------------------- isolation
if want isolation; then
    echo "=== isolation: isolation specs ==="
    rm -rf output_iso/regression.diffs
    make -s isolation-check PG_CONFIG="$PG_CONFIG" >"$LOG/isolation.log" 2>&1
    grep -E '\.\.\. |tests? (passed|failed)' "$LOG/isolation.log" || true
    read -r p f < <(pg_regress_counts "$LOG/isolation.log")
    if [ "$p" = 0 ] && [ "$f" = 0 ]; then cat "$LOG/isolation.log"; f=1; fi
    if [ "$f" -gt 0 ] && [ -f output_iso/regression.diffs ]; then
        echo "----- output_iso/regression.diffs -----"; cat output_iso/regression.diffs
    fi
    count "$p" "$f" isolation
fi

# ---------------------------------------------------------------- tap
if want tap; then
    echo "=== tap: PostgreSQL::Test::Cluster suites ==="
    make -s tap-check PG_CONFIG="$PG_CONFIG" PROVE_FLAGS="--timer -v" >"$LOG/tap.log" 2>&1
    grep -E '^(\[|t/|test/|All tests|Result|Files=)|not ok' "$LOG/tap.log" | tail -n 40
    read -r p f < <(prove_counts "$LOG/tap.log")
    if [ "$f" -gt 0 ]; then
        cat "$LOG/tap.log"
        for l in tmp_check/log/*; do [ -f "$l" ] && { echo "----- $l (tail) -----"; tail -n 80 "$l"; }; done
    fi
    count "$p" "$f" tap
fi

# ---------------------------------------------------------------- pgtap
if want pgtap; then
    echo "=== pgtap: pg_prove against a scratch cluster ==="
    PGTAP_DIR=$(mktemp -d /tmp/ff-pgtap.XXXXXX)
    PGTAP_PORT=${PGTAP_PORT:-54390}
    ok=1
    initdb -D "$PGTAP_DIR/data" -A trust >"$LOG/pgtap-initdb.log" 2>&1 || ok=0
    if [ $ok = 1 ]; then
        cat "$ROOT/test/conf/regress.conf" >>"$PGTAP_DIR/data/postgresql.conf"
        pg_ctl -D "$PGTAP_DIR/data" -l "$PGTAP_DIR/server.log" -w \
            -o "-p $PGTAP_PORT -k $PGTAP_DIR -c listen_addresses=''" start >/dev/null || ok=0
    fi
    if [ $ok = 1 ]; then
        createdb -h "$PGTAP_DIR" -p "$PGTAP_PORT" ff_pgtap
        pg_prove -v -h "$PGTAP_DIR" -p "$PGTAP_PORT" -d ff_pgtap --ext .sql -r test/pgtap/ >"$LOG/pgtap.log" 2>&1
        grep -E 'not ok|^test/|All tests|Result|Files=' "$LOG/pgtap.log" | tail -n 30
        read -r p f < <(prove_counts "$LOG/pgtap.log")
        pg_ctl -D "$PGTAP_DIR/data" -m fast stop >/dev/null
        if [ "$f" -gt 0 ]; then cat "$LOG/pgtap.log"; tail -n 50 "$PGTAP_DIR/server.log"; fi
    else
        cat "$LOG/pgtap-initdb.log" "$PGTAP_DIR/server.log" 2>/dev/null
        p=0; f=1
    fi
    rm -rf "$PGTAP_DIR"
    count "$p" "$f" pgtap
fi

# ---------------------------------------------------------------- bench smoke
if want bench; then
    echo "=== bench: benchmark smoke run (correctness only) ==="
    if [ -f bench/run.sh ]; then
        if SMOKE=1 bash bench/run.sh >"$LOG/bench.log" 2>&1; then
            tail -n 15 "$LOG/bench.log"
            count 1 0 bench
        else
            tail -n 80 "$LOG/bench.log"
            count 0 1 bench
        fi
    else
        echo "bench/run.sh not present"
        count 0 1 bench
    fi
fi

echo
if [ ${#FAILED_SUITES[@]} -gt 0 ]; then
    echo "failing suites: ${FAILED_SUITES[*]} (logs in build/test-logs/)"
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
