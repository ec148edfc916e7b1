#!/usr/bin/env bash
#
# install-deps.sh — install the Debian 12 packages feature_flags needs to
# build, test and benchmark.  Needs root (or sudo).  Idempotent.
#
set -euo pipefail

PACKAGES=(
    build-essential
    clang llvm                          # PGXS bitcode, libFuzzer, sanitizers
    postgresql-15
    postgresql-server-dev-15
    postgresql-contrib
    libxxhash-dev
    libpq-dev                           # bench/tools/ff_propagation.c
    valgrind                            # benchmark profiles, memory checks
    postgresql-15-pgtap pgtap           # pgTAP extension + pg_prove
    libtap-parser-sourcehandler-pgtap-perl
    postgresql-15-cron
    libipc-run-perl                     # PostgreSQL::Test::Cluster TAP tests
    gdb                                 # test/t/025: holds a standby's replay
)

SUDO=
if [ "$(id -u)" != 0 ]; then
    SUDO=sudo
fi

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# always refresh the lists on CI; elsewhere only when something is missing
if [ ${#missing[@]} -gt 0 ] || [ "${CI:-}" = true ]; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
fi

# Debian creates a "main" cluster on install; we never use it, and it would
# hold port 5432: stop it so it does not compete for the two cores.
if command -v pg_lsclusters >/dev/null 2>&1; then
    pg_lsclusters -h 2>/dev/null | awk '$4 == "online" {print $1, $2}' | while read -r v c; do
        $SUDO pg_ctlcluster "$v" "$c" stop || true
    done
fi
echo "install-deps: all packages present"
