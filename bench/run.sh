#!/usr/bin/env bash
#
# bench/run.sh
#	  One-command benchmark suite of the feature_flags extension (issue #4).
#
#   bash bench/run.sh               full run (about 15-20 minutes on 2 cores)
#   SMOKE=1 bash bench/run.sh       seconds-long smoke run: checks that every part
#                                   still works; no timing is judged
#
# The extension must already be installed in the PostgreSQL this script uses:
# PG_CONFIG=/path/to/pg_config, else the pg_config (or psql) found on PATH.
# The script creates its own scratch cluster (as the postgres OS user when run
# as root), loads the workload of ../shared/bench with ff.import_flagd, checks
# the ground-truth counts (exit status 1 on a mismatch), runs the peers and
# the measurements of targets a-g, writes bench/results/<stamp>/{summary.md,
# raw.tsv,log.txt} and prints the summary.  See bench/BENCHMARKS.md.
#
# Knobs (environment; defaults full / smoke):
#   REPS          repetitions of every measurement            3 / 1
#   DURATION      seconds per pgbench run                     5 / 1
#   N             rows of the bulk queries (targets b, c, e)  1000000 / 20000
#   CLIENTS       pgbench client counts                       "1 2" / "1"
#   PLPGSQL_N     rows of the PL/pgSQL bulk baseline          100000 / 1000
#   SCALE_MAX     largest flag count of the scale curve       100000 / 1000
#   CURVE_N       rows per point of the scale curve           500000 / 2000
#   REBUILD_FLAGS flags in the cache-rebuild environment      10000 / 1000
#   ALL_FLAGS     flags evaluated by ff.evaluate_all          1000 / 100
#   ALL_USERS     users of the evaluate_all query             500 / 20
#   SCALE_CHUNK   flags per ff.import_flagd call (transaction)  500
#   SCALE_IMPORT_MAX larger environments are bulk-loaded with triggers off   10000 / 100
#   SEG_KEYS      keys in the big segment                     1000000 / 10000
#   PROP_TRIALS   change-propagation trials (in total)        10000 / 100
#   G_CPU_N       transactions per backend-CPU sample of g    2000 / 50
#   B_INNER       scans of each target-b query per repetition,
#                 interleaved; the fastest counts              3 / 1
#   PEERS=0|1     run the Node peers (never in smoke)         1 / 0
#   PROFILE=0|1   callgrind (and perf) profiles               1 / 0
#   ONLY          subset of "a b c d e f g" (ground truth always runs)
#   BENCH_PORT    port of the scratch cluster                 5444
#   BENCH_DATA    its data directory                          /tmp/ff-bench-$BENCH_PORT
#   PEERS_DIR     the shared peer folder         <repo>/../shared/bench (or <repo>/../../shared/bench)
#   PEERS_CACHE   where the Node peers are installed when the shared
#                 folder has no node_modules (npm ci)     /var/tmp/ff-bench-peers
#   KEEP=1        leave the scratch cluster running at the end
#   TRUTH=0       skip the ground-truth check (development of this script only)
#   JIT           jit setting of the scratch cluster          off
#
# Copyright (c) 2026, feature_flags developers
#
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"

SMOKE="${SMOKE:-0}"
if [[ "$SMOKE" == 1 ]]; then
	: "${REPS:=1}" "${DURATION:=1}" "${N:=20000}" "${CLIENTS:=1}" "${PLPGSQL_N:=1000}"
	: "${SCALE_MAX:=1000}" "${CURVE_N:=2000}" "${REBUILD_FLAGS:=1000}" "${ALL_FLAGS:=100}"
	: "${ALL_USERS:=20}" "${SEG_KEYS:=10000}" "${PROP_TRIALS:=100}" "${PEERS:=0}" "${PROFILE:=0}"
	: "${SCALE_IMPORT_MAX:=100}" "${G_CPU_N:=50}" "${B_INNER:=1}"
else
	: "${REPS:=3}" "${DURATION:=5}" "${N:=1000000}" "${CLIENTS:=1 2}" "${PLPGSQL_N:=100000}"
	: "${SCALE_MAX:=100000}" "${CURVE_N:=500000}" "${REBUILD_FLAGS:=10000}" "${ALL_FLAGS:=1000}"
	: "${ALL_USERS:=500}" "${SEG_KEYS:=1000000}" "${PROP_TRIALS:=10000}" "${PEERS:=1}" "${PROFILE:=1}"
	: "${G_CPU_N:=2000}" "${B_INNER:=3}"
fi
: "${SCALE_CHUNK:=500}" "${SCALE_IMPORT_MAX:=10000}"
ONLY="${ONLY:-a b c d e f g}"
PORT="${BENCH_PORT:-5444}"
DATA="${BENCH_DATA:-/tmp/ff-bench-$PORT}"
SOCK="${DATA}-sock"
# the shared peer folder: ../shared/bench relative to the repository root
# (or one level further up, for a git worktree in a subfolder)
if [[ -z "${PEERS_DIR:-}" ]]; then
	PEERS_DIR="$ROOT/../shared/bench"
	[[ -d "$PEERS_DIR" || ! -d "$ROOT/../../shared/bench" ]] || PEERS_DIR="$ROOT/../../shared/bench"
fi
PEERS_DIR="$(cd "$PEERS_DIR" 2>/dev/null && pwd || echo "$PEERS_DIR")"
PEERS_CACHE="${PEERS_CACHE:-/var/tmp/ff-bench-peers}"
KEEP="${KEEP:-0}"
JIT="${JIT:-off}"
GT_N=1000000					# the ground truth is defined for 1,000,000 users

# ---------------------------------------------------------------------
# PostgreSQL binaries, results directory, logging
# ---------------------------------------------------------------------
if [[ -n "${PG_CONFIG:-}" ]]; then
	PG_BIN="$("$PG_CONFIG" --bindir)"
elif command -v pg_config >/dev/null 2>&1; then
	PG_CONFIG="$(command -v pg_config)"
	PG_BIN="$("$PG_CONFIG" --bindir)"
elif command -v psql >/dev/null 2>&1; then
	PG_BIN="$(dirname "$(command -v psql)")"
else
	echo "bench/run.sh: no PostgreSQL found: set PG_CONFIG or put its bin directory on PATH" >&2
	exit 2
fi
for b in initdb pg_ctl psql pgbench postgres; do
	[[ -x "$PG_BIN/$b" ]] || { echo "bench/run.sh: $PG_BIN/$b not found" >&2; exit 2; }
done
if [[ -n "${PG_CONFIG:-}" ]]; then
	CONTROL="$("$PG_CONFIG" --sharedir)/extension/feature_flags.control"
	if [[ ! -e "$CONTROL" ]]; then
		echo "bench/run.sh: the extension is not installed in this PostgreSQL ($CONTROL is missing)." >&2
		echo "  Install it first: make PG_CONFIG=$PG_CONFIG install" >&2
		exit 2
	fi
fi
FLAGS_JSON="$PEERS_DIR/workload/flags.json"
if [[ ! -r "$FLAGS_JSON" ]]; then
	echo "bench/run.sh: the shared workload is missing: $FLAGS_JSON not readable." >&2
	echo "  The benchmark reads the peer folder (default <repo>/../shared/bench); set PEERS_DIR." >&2
	exit 2
fi

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
if [[ "$SMOKE" == 1 ]]; then RES="$ROOT/bench/results/smoke-$STAMP"; else RES="$ROOT/bench/results/$STAMP"; fi
mkdir -p "$RES"
RAW="$RES/raw.tsv"
: > "$RAW"
: > "$RES/failures.txt"
: > "$RES/notes.txt"
T_START=$(date +%s)

log() { printf '[%4ds] %s\n' "$(($(date +%s) - T_START))" "$*" | tee -a "$RES/log.txt" >&2; }
fail() { log "CHECK FAILED: $*"; echo "$*" >> "$RES/failures.txt"; }
note() { echo "$*" >> "$RES/notes.txt"; }
rec() { printf '%s\t%s\n' "$1" "$2" >> "$RAW"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
want() { [[ " $ONLY " == *" $1 "* ]]; }

# float arithmetic: calc 'expression' (awk syntax)
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }

# stats KEY -> "median min max count" of the recorded samples, empty if none
# (from STATS_CACHE once stats_cache_load has run: the summary reads it often)
declare -A STATS_CACHE=()
STATS_CACHED=0
stats_cache_load() {
	local k rest
	STATS_CACHE=()
	while IFS=' ' read -r k rest; do STATS_CACHE["$k"]="$rest"; done < <(awk -F'\t' '
		{ n[$1]++; v[$1, n[$1]] = $2 + 0 }
		END {
			for (k in n) {
				m = n[k]; delete a
				for (i = 1; i <= m; i++) a[i] = v[k, i]
				for (i = 2; i <= m; i++) { x = a[i]; j = i - 1; while (j > 0 && a[j] > x) { a[j + 1] = a[j]; j-- } a[j + 1] = x }
				md = (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
				printf "%s %.6f %.6f %.6f %d\n", k, md, a[1], a[m], m
			}
		}' "$RAW")
	STATS_CACHED=1
}
stats() {
	if [[ "$STATS_CACHED" == 1 ]]; then
		if [[ -n "${STATS_CACHE[$1]+x}" ]]; then echo "${STATS_CACHE[$1]}"; fi
		return 0
	fi
	awk -F'\t' -v k="$1" '
		$1 == k { v[++n] = $2 + 0 }
		END {
			if (!n) exit
			for (i = 2; i <= n; i++) { x = v[i]; j = i - 1; while (j > 0 && v[j] > x) { v[j + 1] = v[j]; j-- } v[j + 1] = x }
			m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
			printf "%.6f %.6f %.6f %d\n", m, v[1], v[n], n
		}' "$RAW"
}
# last KEY: the latest sample of KEY, rounded
last() { awk -F'\t' -v k="$1" '$1 == k { v = $2 } END { if (v != "") printf "%.0f", v }' "$RAW"; }
med() { local s; s="$(stats "$1")"; if [[ -n "$s" ]]; then echo "${s%% *}"; fi; }

# fmtnum VALUE DECIMALS: thousands separators
fmtnum() {
	awk -v x="$1" -v d="$2" 'BEGIN {
		s = sprintf("%." d "f", x); neg = (s ~ /^-/); if (neg) s = substr(s, 2)
		p = index(s, "."); ip = p ? substr(s, 1, p - 1) : s; fp = p ? substr(s, p) : ""
		o = ""; while (length(ip) > 3) { o = "," substr(ip, length(ip) - 2) o; ip = substr(ip, 1, length(ip) - 3) }
		printf "%s%s%s%s", (neg ? "-" : ""), ip, o, fp }'
}
# st KEY DECIMALS -> "median (min–max)" or "n/a"
st() {
	local s m lo hi n
	s="$(stats "$1")"
	[[ -z "$s" ]] && { echo "n/a"; return; }
	read -r m lo hi n <<<"$s"
	if [[ "$n" == 1 ]]; then echo "$(fmtnum "$m" "$2") (1 sample)"
	else echo "$(fmtnum "$m" "$2") ($(fmtnum "$lo" "$2")–$(fmtnum "$hi" "$2"))"; fi
}

# ---------------------------------------------------------------------
# scratch cluster
# ---------------------------------------------------------------------
as_pg() { if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

cluster_stop() {
	if [[ -e "$DATA/postmaster.pid" ]]; then
		as_pg "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
	fi
}
cluster_destroy() {
	cluster_stop
	# only ever remove a directory this script created
	if [[ -e "$DATA/ff-bench.marker" ]]; then rm -rf "$DATA" "$SOCK"; fi
}
cleanup() {
	local rc=$?
	# keep the server log with the results (the data directory is removed)
	if [[ -r "$DATA/server.log" ]]; then cp "$DATA/server.log" "$RES/server.log" 2>/dev/null || true; fi
	if [[ "$KEEP" == 1 ]]; then
		log "scratch cluster left running: PGHOST=$SOCK PGPORT=$PORT PGUSER=postgres PGDATABASE=ffbench"
	else
		cluster_destroy
	fi
	exit $rc
}

cluster_init() {
	if [[ -e "$DATA" ]]; then
		if [[ -e "$DATA/ff-bench.marker" ]]; then
			cluster_destroy
		else
			echo "bench/run.sh: $DATA exists and was not created by this script; set BENCH_DATA" >&2
			exit 2
		fi
	fi
	mkdir -p "$DATA" "$SOCK"
	[[ "$(id -u)" == 0 ]] && chown postgres:postgres "$DATA" "$SOCK"
	as_pg "$PG_BIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$RES/initdb.log" 2>&1 \
		|| { cat "$RES/initdb.log" >&2; exit 1; }
	as_pg touch "$DATA/ff-bench.marker"
	as_pg tee -a "$DATA/postgresql.conf" >/dev/null <<CONF
# feature_flags benchmark scratch cluster (bench/run.sh)
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SOCK'
shared_buffers = 256MB
max_connections = 50
jit = $JIT
max_parallel_workers_per_gather = 0
# g reports the mean time of a WAL flush (pg_stat_wal.wal_sync_time)
track_wal_io_timing = on
# preloaded as the README recommends, so evaluations are counted (1.15)
shared_preload_libraries = 'feature_flags'
CONF
	as_pg "$PG_BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w start >/dev/null \
		|| { tail -20 "$DATA/server.log" >&2; exit 1; }
}

export PGHOST="$SOCK" PGPORT="$PORT" PGUSER=postgres PGDATABASE=ffbench
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
PSQL=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -At)
q() { "${PSQL[@]}" "$@"; }

# tq WARMUP SQL: one session; runs WARMUP (may be empty) untimed, then SQL
# timed.  Sets T_MS (elapsed ms, psql \timing), T_CPU_MS (CPU time, user +
# system, that the backend spent on SQL: /proc/<pid>/stat, clock-tick
# resolution), T_USER_MS (its user part) and T_OUT (SQL's last output line).  On this shared machine the
# backend CPU time is the robust per-row cost; elapsed time includes waiting
# for a core.
CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"
tq() {
	local out c0 c1
	out="$("${PSQL[@]}" <<EOF
${1:+$1;}
SELECT pg_catalog.pg_backend_pid() AS ffbench_pid \gset
\setenv FFBENCH_PID :ffbench_pid
\! awk '{ print "CPUTICKS", \$14 + \$15, \$14 }' /proc/\$FFBENCH_PID/stat 2>/dev/null || echo CPUTICKS
\timing on
$2;
\timing off
\! awk '{ print "CPUTICKS", \$14 + \$15, \$14 }' /proc/\$FFBENCH_PID/stat 2>/dev/null || echo CPUTICKS
EOF
)"
	T_MS="$(sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' <<<"$out" | tail -1)"
	T_OUT="$(grep -v -e '^Time: ' -e '^Timing is' -e '^CPUTICKS' <<<"$out" | tail -1 || true)"
	c0="$(grep '^CPUTICKS' <<<"$out" | sed -n 1p | cut -s -d' ' -f2)"
	c1="$(grep '^CPUTICKS' <<<"$out" | sed -n 2p | cut -s -d' ' -f2)"
	if [[ -n "$c0" && -n "$c1" ]]; then T_CPU_MS="$(calc "($c1 - $c0) * 1000 / $CLK_TCK")"; else T_CPU_MS=""; fi
	c0="$(grep '^CPUTICKS' <<<"$out" | sed -n 1p | cut -s -d' ' -f3)"
	c1="$(grep '^CPUTICKS' <<<"$out" | sed -n 2p | cut -s -d' ' -f3)"
	if [[ -n "$c0" && -n "$c1" ]]; then T_USER_MS="$(calc "($c1 - $c0) * 1000 / $CLK_TCK")"; else T_USER_MS=""; fi
	[[ -n "$T_MS" ]] || { echo "no timing in psql output: $out" >&2; return 1; }
}

# rec_cpu KEY: records the CPU time of the last tq as KEY (when available)
rec_cpu() { if [[ -n "$T_CPU_MS" ]]; then rec "$1" "$T_CPU_MS"; fi; }

# times_of FILE: the psql "Time:" values of a script's output, one per line
times_of() { sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' "$1"; }

# pgbench_run CLIENTS SCRIPT [extra pgbench args]: sets TPS and XACTS
pgbench_run() {
	local c="$1" f="$2" out
	shift 2
	out="$("$PG_BIN/pgbench" -n -M prepared -c "$c" -j "$c" -T "$DURATION" -f "$f" "$@" 2>&1)" \
		|| { echo "$out" >&2; return 1; }
	TPS="$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time).*/\1/p' <<<"$out")"
	XACTS="$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")"
	[[ -n "$TPS" ]] || { echo "$out" >&2; return 1; }
}

# Context of user i: the same formula as workload/contexts.js and pg/run.sh
CTX_EXPR="jsonb_build_object('targetingKey', 'user-' || i, 'country', (ARRAY['US','CA','DE','FR','GB','JP','BR','IN'])[1 + i % 8], 'plan', CASE WHEN (i / 8) % 3 = 0 THEN 'pro' ELSE 'free' END, 'email', CASE WHEN i % 20 = 0 THEN 'u' || i || '@example.com' ELSE 'u' || i || '@mail.test' END, 'app_version', (1 + i % 3) || '.' || ((i / 3) % 6) || '.' || ((i / 18) % 10))"
# from_ctx M: FROM clause with M generated contexts (OFFSET 0: built once per row)
from_ctx() { echo "FROM (SELECT $CTX_EXPR AS ctx FROM generate_series(1, $1) i OFFSET 0) s"; }
# ctx_table M: a table ffbench.ctx_M of the contexts of users 1..M (built
# once); from_tab M: FROM clause over it.  Used where only differences
# between evaluations matter: the context is then read, not built, per row,
# which keeps the baseline (and its noise) small.
ctx_table() {
	q -c "CREATE TABLE IF NOT EXISTS ffbench.ctx_$1 AS SELECT i, $CTX_EXPR AS ctx FROM generate_series(1, $1) i" -c "VACUUM ANALYZE ffbench.ctx_$1"
}
from_tab() { echo "FROM ffbench.ctx_$1 s"; }
# a context that takes the longest path in both workload flags (user-3)
CTX='{"targetingKey": "user-3", "country": "FR", "plan": "pro", "email": "u3@mail.test", "app_version": "1.1.0"}'
WARM="SELECT ff.get_bool('checkout-v2', '{}', false), ff.get_string('ui-theme', '{}', 'x')"
# the baseline row: the context is built (or read) but not inspected; extracting a key
# (as the peer harness's ctx_only does with ->>) would be subtracted from the evaluation
Q_CTX_SUFFIX="count(*) FILTER (WHERE ctx IS NOT NULL)"

# ---------------------------------------------------------------------
# setup and ground truth
# ---------------------------------------------------------------------
sec_setup() {
	log "scratch cluster $DATA (port $PORT, socket $SOCK), PostgreSQL $PG_BIN"
	cluster_init
	q -d postgres -c "CREATE DATABASE ffbench"
	q -c "CREATE EXTENSION feature_flags"
	q -f "$HERE/sql/setup.sql" >/dev/null
	q -f "$PEERS_DIR/pg/setup.sql" >/dev/null 2>&1 || q -f "$PEERS_DIR/pg/setup.sql" >/dev/null
	local n
	n="$(q -v doc="$(cat "$FLAGS_JSON")" <<<"SELECT ff.import_flagd(:'doc'::jsonb);")"
	log "workload imported with ff.import_flagd: $n flags"
	[[ "$n" == 3 ]] || fail "ff.import_flagd(workload/flags.json) returned $n, expected 3"
	echo "$(q -c "SELECT extversion FROM pg_extension WHERE extname = 'feature_flags'")" > "$RES/extversion"
}

sec_truth() {
	# one pass: the context is built once per row (inner OFFSET 0) and each
	# ff.evaluate result is computed once (outer OFFSET 0), not once per field
	log "ground truth over $GT_N users (getters and ff.evaluate, one pass)"
	local r g e
	r="$(q -F ' ' -c "SELECT count(*) FILTER (WHERE c), count(*) FILTER (WHERE t = 'classic'), count(*) FILTER (WHERE t = 'dark'), count(*) FILTER (WHERE t = 'neon'), count(*) FILTER (WHERE t IS DISTINCT FROM 'classic' AND t IS DISTINCT FROM 'dark' AND t IS DISTINCT FROM 'neon'), count(*) FILTER (WHERE (ec).variant = 'on'), count(*) FILTER (WHERE (ec).reason = 'TARGETING_MATCH'), count(*) FILTER (WHERE (et).variant = 'classic'), count(*) FILTER (WHERE (et).variant = 'dark'), count(*) FILTER (WHERE (et).variant = 'neon'), count(*) FILTER (WHERE (et).reason = 'DEFAULT'), count(*) FILTER (WHERE (et).reason = 'TARGETING_MATCH'), count(*) FILTER (WHERE (ec).error_code IS NOT NULL OR (et).error_code IS NOT NULL) FROM (SELECT ff.get_bool('checkout-v2', ctx, false) c, ff.get_string('ui-theme', ctx, '(default)') t, ff.evaluate('checkout-v2', ctx) ec, ff.evaluate('ui-theme', ctx) et $(from_ctx $GT_N) OFFSET 0) s2")"
	g="$(cut -d' ' -f1-5 <<<"$r")"; e="$(cut -d' ' -f6- <<<"$r")"
	log "  getters: checkout-v2 on / ui-theme classic dark neon other: $g"
	log "  ff.evaluate: checkout on/TARGETING_MATCH, theme classic/dark/neon, DEFAULT/TARGETING_MATCH, errors: $e"
	echo "getters (checkout-v2 on; ui-theme classic, dark, neon, other): $g" >> "$RES/truth.txt"
	echo "ff.evaluate (checkout-v2 variant on, reason TARGETING_MATCH; ui-theme variant classic, dark, neon, reason DEFAULT, TARGETING_MATCH; rows with an error code): $e" >> "$RES/truth.txt"
	[[ "$g" == "562540 444446 55555 499999 0" ]] \
		|| fail "ground truth (getters): got '$g', expected '562540 444446 55555 499999 0'"
	[[ "$e" == "562540 1000000 444446 55555 499999 444446 555554 0" ]] \
		|| fail "ground truth (ff.evaluate): got '$e', expected '562540 1000000 444446 55555 499999 444446 555554 0'"
}

# ---------------------------------------------------------------------
# peers: flagd-core in Node (target b's denominator)
# ---------------------------------------------------------------------
# peers_node_dir: print the folder to run the Node peers from.  The shared
# peer folder itself when its node_modules are installed; otherwise a scratch
# copy of it (PEERS_CACHE) with the packages of its package-lock.json installed
# by `npm ci`, so that the shared folder is only ever read.  Returns 1, with a
# note, when neither is possible.
peers_node_dir() {
	if [[ -d "$PEERS_DIR/node_modules/@openfeature/flagd-core" ]]; then
		echo "$PEERS_DIR"; return 0
	fi
	local cache="$PEERS_CACHE"
	if [[ -d "$cache/node_modules/@openfeature/flagd-core" ]] \
		&& cmp -s "$PEERS_DIR/package-lock.json" "$cache/package-lock.json"; then
		# the peers' code may have changed since the copy: refresh it, keep the packages
		cp -R "$PEERS_DIR/node" "$PEERS_DIR/workload" "$cache/"
		echo "$cache"; return 0
	fi
	if ! command -v npm >/dev/null 2>&1; then
		note "peers: $PEERS_DIR/node_modules missing and npm not found; Node peers not run"
		return 1
	fi
	log "peers: installing the Node peers' packages into $cache (npm ci, from $PEERS_DIR/package-lock.json)" >&2
	rm -rf "$cache" && mkdir -p "$cache"
	cp -R "$PEERS_DIR/package.json" "$PEERS_DIR/package-lock.json" "$PEERS_DIR/node" "$PEERS_DIR/workload" "$cache/"
	if ! (cd "$cache" && npm ci --no-audit --no-fund >"$RES/npm-ci.log" 2>&1); then
		note "peers: npm ci in $cache failed (see npm-ci.log); Node peers not run"
		return 1
	fi
	note "peers: run from $cache, a copy of $PEERS_DIR with its package-lock.json installed"
	echo "$cache"
}

sec_peers() {
	if ! command -v node >/dev/null 2>&1; then note "peers: node not found, Node peers not run"; return 0; fi
	local dir p out
	if ! dir="$(peers_node_dir)"; then return 0; fi
	for p in flagd-core flagd-core-interp; do
		log "peer $p (node, $REPS passes over 1,000,000 contexts per flag)"
		out="$(cd "$dir" && node --max-old-space-size=4096 node/bench.js "$p" --reps "$REPS" --flags checkout-v2,ui-theme)"
		echo "$out" >> "$RES/peers.jsonl"
		node -e '
			const o = JSON.parse(process.argv[1]);
			for (const f of Object.keys(o.results)) for (const v of o.results[f]) console.log("peer." + o.peer + "." + f + "\t" + v);
		' "$out" >> "$RAW"
	done
}

# ---------------------------------------------------------------------
# a. point evaluation over the wire (pgbench -M prepared)
# ---------------------------------------------------------------------
sec_a() {
	local d="$RES/pgbench" r c t s1 sj
	mkdir -p "$d"
	echo "SELECT 1;" > "$d/select1.sql"
	# the same parameter parsed as jsonb and nothing evaluated: what the
	# statement costs before ff.get_bool does anything
	echo "SELECT :ctx::jsonb IS NOT NULL;" > "$d/jsonb_only.sql"
	echo "SELECT ff.get_bool('checkout-v2', :ctx::jsonb, false);" > "$d/get_bool.sql"
	echo "SELECT ff.get_string('ui-theme', :ctx::jsonb, 'classic');" > "$d/get_string.sql"
	echo "SELECT (ff.evaluate('checkout-v2', :ctx::jsonb)).variant;" > "$d/evaluate.sql"
	echo "SELECT peer_flags.evaluate('checkout-v2', :ctx::jsonb);" > "$d/plpgsql.sql"
	log "a. pgbench sanity: get_bool=$(q -c "SELECT ff.get_bool('checkout-v2', '$CTX'::jsonb, false)") plpgsql=$(q -c "SELECT peer_flags.evaluate('checkout-v2', '$CTX'::jsonb)")"
	# SELECT 1 runs before and after the others (bracketing): the reference
	# of a repetition is the mean of the two, so that a drift of the
	# machine's speed during the repetition does not favour either side
	local order="jsonb_only get_bool get_string evaluate plpgsql" s1a
	for r in $(seq 1 "$REPS"); do
		for c in $CLIENTS; do
			declare -A t_tps=()
			pgbench_run "$c" "$d/select1.sql" -D ctx="$CTX"
			s1a="$TPS"
			log "a. rep $r c=$c select1 (before): $TPS tps (load $(loadavg))"
			for t in $order; do
				pgbench_run "$c" "$d/$t.sql" -D ctx="$CTX"
				t_tps[$t]="$TPS"
				rec "a.tps.$t.c$c" "$TPS"
				log "a. rep $r c=$c $t: $TPS tps (load $(loadavg))"
			done
			pgbench_run "$c" "$d/select1.sql" -D ctx="$CTX"
			log "a. rep $r c=$c select1 (after): $TPS tps (load $(loadavg))"
			s1="$(calc "($s1a + $TPS) / 2")"
			rec "a.tps.select1.c$c" "$s1"
			sj="${t_tps[jsonb_only]}"
			for t in $order; do
				rec "a.ratio.$t.c$c" "$(calc "${t_tps[$t]} / $s1")"
			done
			rec "a.ratio_jsonb.get_bool.c$c" "$(calc "${t_tps[get_bool]} / $sj")"
		done
		if [[ " $CLIENTS " == *" 1 "* ]]; then a_interleaved "$r"; fi
	done
}

# a_interleaved REP: for information, the same ratios without the drift
# between runs (this machine's speed for SELECT 1 moves by 10-30 % between
# consecutive 3-second runs): one pgbench run at one client in which each
# transaction picks SELECT 1, get_bool or the jsonb-only statement at random
# (equal weights); -l logs every transaction's latency, and the ratio is the
# mean latency of SELECT 1 over that of the other statement, the TPS ratio
# of a one-client run.  Not at two clients: pgbench then reads its clock
# lazily and logs latencies that are too small to compare.
a_interleaved() {
	local d="$RES/pgbench" ld="$RES/pgbench/interleaved.$1" out gb jo n l0 l1 l2
	mkdir -p "$ld"
	"$PG_BIN/pgbench" -n -M prepared -c 1 -j 1 -T "$DURATION" -l --log-prefix="$ld/log" \
		-f "$d/select1.sql@1" -f "$d/get_bool.sql@1" -f "$d/jsonb_only.sql@1" -D ctx="$CTX" \
		> "$ld/pgbench.out" 2>&1 || { note "a: the interleaved run failed: $(tail -1 "$ld/pgbench.out")"; return 0; }
	# log lines: client transaction latency_us script epoch_s epoch_us
	out="$(cat "$ld"/log* | awk '{ n[$4]++; s[$4] += $3 }
		END { if (n[0] && n[1] && n[2]) printf "%.4f %.4f %.0f %.2f %.2f %.2f", (s[0]/n[0]) / (s[1]/n[1]), (s[0]/n[0]) / (s[2]/n[2]), n[0] + n[1] + n[2], s[0]/n[0], s[1]/n[1], s[2]/n[2] }')"
	rm -f "$ld"/log*
	[[ -n "$out" ]] || { note "a: the interleaved run logged no transaction of some statement"; return 0; }
	read -r gb jo n l0 l1 l2 <<<"$out"
	rec a.ilv.get_bool.c1 "$gb"; rec a.ilv.jsonb_only.c1 "$jo"
	rec a.ilv.lat_us.select1.c1 "$l0"; rec a.ilv.lat_us.get_bool.c1 "$l1"; rec a.ilv.lat_us.jsonb_only.c1 "$l2"
	log "a. rep $1 c=1 interleaved ($n transactions): mean latency SELECT 1 $l0 µs, get_bool $l1 µs (ratio $gb), jsonb only $l2 µs (ratio $jo) (load $(loadavg))"
}

# ---------------------------------------------------------------------
# b. bulk: one query over N generated contexts
# ---------------------------------------------------------------------
sec_b() {
	local r t_ctx t_pctx
	local Q_CTX="SELECT $Q_CTX_SUFFIX $(from_ctx "$N")"
	local Q_BOOL="SELECT count(*) FILTER (WHERE ff.get_bool('checkout-v2', ctx, false)) $(from_ctx "$N")"
	local Q_STR="SELECT count(*) FILTER (WHERE ff.get_string('ui-theme', ctx, 'classic') = 'neon') $(from_ctx "$N")"
	local Q_EVAL="SELECT count(*) FILTER (WHERE (ff.evaluate('checkout-v2', ctx)).variant = 'on') $(from_ctx "$N")"
	local Q_PCTX="SELECT $Q_CTX_SUFFIX $(from_ctx "$PLPGSQL_N")"
	local Q_PBOOL="SELECT count(*) FILTER (WHERE peer_flags.evaluate('checkout-v2', ctx) = 'on') $(from_ctx "$PLPGSQL_N")"
	local Q_PSTR="SELECT count(*) FILTER (WHERE peer_flags.evaluate('ui-theme', ctx) = 'neon') $(from_ctx "$PLPGSQL_N")"
	local c_ctx c_pctx i q
	local -A bms bcpu
	for r in $(seq 1 "$REPS"); do
		# each query B_INNER times, interleaved, keeping its fastest scan
		# (elapsed and CPU separately): the per-row figure is a difference
		# of two scans of the same rows, which one slow scan would skew
		bms=(); bcpu=()
		for i in $(seq 1 "$B_INNER"); do
			for q in ctx bool str eval; do
				case "$q" in
					ctx) tq "$WARM" "$Q_CTX" ;;
					bool) tq "$WARM" "$Q_BOOL"
						if [[ "$N" == "$GT_N" && "$T_OUT" != 562540 ]]; then fail "b: get_bool checkout-v2 on-count $T_OUT, expected 562540"; fi ;;
					str) tq "$WARM" "$Q_STR"
						if [[ "$N" == "$GT_N" && "$T_OUT" != 499999 ]]; then fail "b: get_string ui-theme neon-count $T_OUT, expected 499999"; fi ;;
					eval) tq "$WARM" "$Q_EVAL" ;;
				esac
				if [[ -z "${bms[$q]:-}" || "$(calc "$T_MS < ${bms[$q]:-0}")" == 1.000000 ]]; then bms[$q]="$T_MS"; fi
				if [[ -n "$T_CPU_MS" ]] && [[ -z "${bcpu[$q]:-}" || "$(calc "$T_CPU_MS < ${bcpu[$q]:-0}")" == 1.000000 ]]; then bcpu[$q]="$T_CPU_MS"; fi
			done
		done
		t_ctx="${bms[ctx]}"; c_ctx="${bcpu[ctx]:-}"; rec b.ms.ctx_only "$t_ctx"
		rec b.ms.get_bool "${bms[bool]}"; rec b.ms.get_string "${bms[str]}"; rec b.ms.evaluate "${bms[eval]}"
		rec b.ns.checkout "$(calc "(${bms[bool]} - $t_ctx) * 1e6 / $N")"
		rec b.ns.theme "$(calc "(${bms[str]} - $t_ctx) * 1e6 / $N")"
		rec b.ns.evaluate "$(calc "(${bms[eval]} - $t_ctx) * 1e6 / $N")"
		if [[ -n "$c_ctx" && -n "${bcpu[bool]:-}" ]]; then
			rec b.cpu_ns.checkout "$(calc "(${bcpu[bool]} - $c_ctx) * 1e6 / $N")"
			rec b.cpu_ns.theme "$(calc "(${bcpu[str]} - $c_ctx) * 1e6 / $N")"
			rec b.cpu_ns.evaluate "$(calc "(${bcpu[eval]} - $c_ctx) * 1e6 / $N")"
		fi
		log "b. rep $r: ctx_only $t_ctx ms (cpu $c_ctx ms); ns added per row, elapsed / cpu: get_bool $(last b.ns.checkout) / $(last b.cpu_ns.checkout), get_string $(last b.ns.theme) / $(last b.cpu_ns.theme), evaluate $(last b.ns.evaluate) / $(last b.cpu_ns.evaluate) (load $(loadavg))"
		tq "" "$Q_PCTX"; t_pctx="$T_MS"; c_pctx="$T_CPU_MS"
		tq "" "$Q_PBOOL"; rec b.pl.ns.checkout "$(calc "($T_MS - $t_pctx) * 1e6 / $PLPGSQL_N")"
		[[ -n "$c_pctx" ]] && rec b.pl.cpu_ns.checkout "$(calc "($T_CPU_MS - $c_pctx) * 1e6 / $PLPGSQL_N")"
		tq "" "$Q_PSTR"; rec b.pl.ns.theme "$(calc "($T_MS - $t_pctx) * 1e6 / $PLPGSQL_N")"
		[[ -n "$c_pctx" ]] && rec b.pl.cpu_ns.theme "$(calc "($T_CPU_MS - $c_pctx) * 1e6 / $PLPGSQL_N")"
		log "b. rep $r: PL/pgSQL over $PLPGSQL_N rows: ns per row, elapsed / cpu: checkout $(last b.pl.ns.checkout) / $(last b.pl.cpu_ns.checkout), theme $(last b.pl.ns.theme) / $(last b.pl.cpu_ns.theme)"
	done
}

# ---------------------------------------------------------------------
# c. contexts straight from table rows
# ---------------------------------------------------------------------
sec_c() {
	local avail r t_scan t_json c_scan c_json
	q -c "DROP TABLE IF EXISTS ffbench.users" -c "CREATE TABLE ffbench.users AS SELECT 'user-' || i AS \"targetingKey\", (ARRAY['US','CA','DE','FR','GB','JP','BR','IN'])[1 + i % 8] AS country, CASE WHEN (i / 8) % 3 = 0 THEN 'pro' ELSE 'free' END AS plan, CASE WHEN i % 20 = 0 THEN 'u' || i || '@example.com' ELSE 'u' || i || '@mail.test' END AS email, (1 + i % 3) || '.' || ((i / 3) % 6) || '.' || ((i / 18) % 10) AS app_version FROM generate_series(1, $N) i" -c "VACUUM ANALYZE ffbench.users"
	# the row-as-context getter: ff.get_bool_row(text, anyelement, boolean), or
	# a ff.get_bool overload whose context is not jsonb
	ROWFN="$(q -c "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'ff' AND ((p.proname = 'get_bool_row' AND p.pronargs >= 3) OR (p.proname = 'get_bool' AND p.pronargs >= 3 AND p.proargtypes[1] <> 'jsonb'::regtype)) ORDER BY p.proname DESC LIMIT 1")"
	avail=1
	if [[ -z "$ROWFN" ]]; then
		note "c: the extension offers no row-as-context evaluation (no ff.get_bool_row(text, <row>, boolean)): not available"
		avail=0
	elif ! q -c "SELECT ff.$ROWFN('checkout-v2', u, false) FROM ffbench.users u LIMIT 1" >/dev/null 2>"$RES/c.err"; then
		note "c: ff.$ROWFN(text, <row>, boolean) exists but failed: $(head -1 "$RES/c.err")"
		avail=0
	fi
	rec c.available "$avail"
	[[ "$avail" == 1 ]] && log "c. row-as-context function: ff.$ROWFN"
	local Q_SCAN="SELECT count(*) FILTER (WHERE u.\"targetingKey\" IS NOT NULL) FROM ffbench.users u"
	local Q_JSON="SELECT count(*) FILTER (WHERE ff.get_bool('checkout-v2', jsonb_build_object('targetingKey', u.\"targetingKey\", 'country', u.country, 'plan', u.plan, 'email', u.email, 'app_version', u.app_version), false)) FROM ffbench.users u"
	local Q_ROW="SELECT count(*) FILTER (WHERE ff.${ROWFN:-get_bool_row}('checkout-v2', u, false)) FROM ffbench.users u"
	for r in $(seq 1 "$REPS"); do
		tq "$WARM" "$Q_SCAN"; t_scan="$T_MS"; c_scan="$T_CPU_MS"; rec c.ms.scan "$T_MS"
		tq "$WARM" "$Q_JSON"; t_json="$T_MS"; c_json="$T_CPU_MS"; rec c.ms.jsonb "$T_MS"; rec_cpu c.cpu_ms.jsonb
		[[ "$N" == "$GT_N" && "$T_OUT" != 562540 ]] && fail "c: jsonb_build_object contexts: on-count $T_OUT, expected 562540"
		if [[ "$avail" != 0 ]]; then
			tq "$WARM" "$Q_ROW"; rec c.ms.row "$T_MS"; rec_cpu c.cpu_ms.row
			[[ "$N" == "$GT_N" && "$T_OUT" != 562540 ]] && fail "c: row contexts: on-count $T_OUT, expected 562540"
			rec c.ratio "$(calc "$t_json / $T_MS")"
			rec c.ratio_net "$(calc "($t_json - $t_scan) / ($T_MS - $t_scan)")"
			if [[ -n "$c_json" && -n "$T_CPU_MS" ]] && awk -v x="$T_CPU_MS" 'BEGIN { exit !(x > 0) }'; then
				rec c.cpu_ratio "$(calc "$c_json / $T_CPU_MS")"
			fi
		fi
		log "c. rep $r: scan $t_scan ms, jsonb contexts $t_json ms, rows $( [[ "$avail" != 0 ]] && echo "$T_MS ms" || echo "n/a")"
	done
}

# ---------------------------------------------------------------------
# d. scale: many flags
# ---------------------------------------------------------------------
# curve_list: the flag counts of the scale curve
curve_list() {
	local n
	for n in 10 100 1000 10000 100000; do if (( n <= SCALE_MAX )); then echo "$n"; fi; done
}

# scale_list: every environment size the scale section creates
scale_list() {
	local n
	curve_list
	for n in "$REBUILD_FLAGS" "$ALL_FLAGS"; do echo "$n"; done
}

# scale_fast_load N: bulk-loads environment scale-N with the user triggers of
# ff.flags disabled (no validation, no history) in one transaction, restores
# every trigger to its previous enabled state, then changes one flag through
# the triggers so that every backend's cache is invalidated.  Only for sizes
# above SCALE_IMPORT_MAX, where importing through the triggers would take
# most of the time budget; the flags are the same generator's as in the
# imported (validated) environments.
scale_fast_load() {
	local n="$1" restore
	restore="$(q -c "SELECT string_agg(format('ALTER TABLE ff.flags %s TRIGGER %I;', CASE tgenabled WHEN 'O' THEN 'ENABLE' WHEN 'A' THEN 'ENABLE ALWAYS' WHEN 'R' THEN 'ENABLE REPLICA' ELSE 'DISABLE' END, tgname), ' ') FROM pg_trigger WHERE tgrelid = 'ff.flags'::regclass AND NOT tgisinternal")"
	local t0 ms
	t0="$(date +%s.%N)"
	q -c "BEGIN; ALTER TABLE ff.flags DISABLE TRIGGER USER; INSERT INTO ff.flags (environment, key, state, flag_type, variants, default_variant, targeting) SELECT 'scale-$n', ffbench.scale_key(k), 'ENABLED', 'boolean', '{\"on\": true, \"off\": false}', 'off', ffbench.scale_flag(k) -> 'targeting' FROM generate_series(1, $n) k; $restore COMMIT"
	ms="$(calc "($(date +%s.%N) - $t0) * 1000")"
	q -c "UPDATE ff.flags SET description = 'bulk-loaded by bench/run.sh' WHERE environment = 'scale-$n' AND key = ffbench.scale_key(1)"
	[[ "$(q -c "SELECT count(*) FROM ff.flags WHERE environment = 'scale-$n'")" == "$n" ]] || fail "d: bulk load of scale-$n did not insert $n flags"
	rec "d.fastload_s.$n" "$(calc "$ms / 1000")"
	note "d: the $n-flag environment was bulk-loaded with the ff.flags triggers disabled (no validation, no history) in $(fmtnum "$(calc "$ms / 1000")" 1) s; ff.import_flagd's cost per flag is measured on the smaller environments"
	log "d. bulk-loaded $n flags into scale-$n in $(fmtnum "$ms" 0) ms (triggers disabled)"
}

sec_d() {
	local n r envs mid i
	envs="$(scale_list | sort -n | uniq)"
	local lo cnt total
	for n in $envs; do
		q -c "INSERT INTO ff.environments (name) VALUES ('scale-$n') ON CONFLICT DO NOTHING"
		if (( n > SCALE_IMPORT_MAX )); then
			scale_fast_load "$n"
			continue
		fi
		# one ff.import_flagd call (one transaction) per SCALE_CHUNK flags
		total=0; cnt=0
		for ((lo = 1; lo <= n; lo += SCALE_CHUNK)); do
			tq "" "SELECT ff.import_flagd(ffbench.scale_doc($lo, $(( lo + SCALE_CHUNK - 1 < n ? lo + SCALE_CHUNK - 1 : n ))), 'scale-$n')"
			total="$(calc "$total + $T_MS")"; cnt=$((cnt + T_OUT))
		done
		[[ "$cnt" == "$n" ]] || fail "d: ff.import_flagd of $n flags reported $cnt"
		rec "d.import_s.$n" "$(calc "$total / 1000")"
		rec "d.import_ms_per_flag.$n" "$(calc "$total / $n")"
		log "d. imported $n flags of 10 rules into scale-$n in $(fmtnum "$total" 0) ms ($(fmtnum "$(calc "$total / $n")" 2) ms per flag)"
	done

	# cache rebuild after a change, in a session with a warm cache
	local env="scale-$REBUILD_FLAGS" f="$RES/d-rebuild.out" s="$RES/d-rebuild.sql"
	mid="$(q -c "SELECT ffbench.scale_key(($REBUILD_FLAGS + 1) / 2)")"
	{
		echo "SELECT ff.get_bool('$mid', '$CTX', false, '$env');"
		echo "SELECT ff.evaluate_all('$CTX', '$env') IS NOT NULL;"
		echo "\\echo CACHEINFO"
		echo "SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(c)) FROM ff.cache_info() c;"
		echo "\\timing on"
		for r in $(seq 1 "$REPS"); do
			echo "UPDATE ff.flags SET description = 'bench change $r a' WHERE environment = '$env' AND key = ffbench.scale_key($r);"
			echo "SELECT ff.get_bool('$mid', '$CTX', false, '$env');"
			echo "SELECT ff.get_bool('$mid', '$CTX', false, '$env');"
			echo "UPDATE ff.flags SET description = 'bench change $r b' WHERE environment = '$env' AND key = ffbench.scale_key($r);"
			echo "SELECT ff.evaluate_all('$CTX', '$env') IS NOT NULL;"
			echo "SELECT ff.evaluate_all('$CTX', '$env') IS NOT NULL;"
		done
		echo "\\timing off"
		echo "\\echo CACHEINFO"
		echo "SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(c)) FROM ff.cache_info() c;"
	} > "$s"
	q -f "$s" > "$f"
	mapfile -t T < <(times_of "$f")
	for r in $(seq 0 $((REPS - 1))); do
		i=$((r * 6))
		rec d.rebuild_ms "$(calc "${T[i + 1]} - ${T[i + 2]}")"
		rec d.rebuild_first_ms "${T[i + 1]}"
		rec d.warm_ms "${T[i + 2]}"
		rec d.rebuild_all_ms "$(calc "${T[i + 4]} - ${T[i + 5]}")"
		rec d.write_ms "${T[i]}"
	done
	grep -A1 CACHEINFO "$f" | grep -v -e CACHEINFO -e '^--$' > "$RES/d-cacheinfo.txt" || true
	log "d. rebuild after a change ($REBUILD_FLAGS flags): first get_bool $(st d.rebuild_first_ms 3) ms, warm $(st d.warm_ms 3) ms"

	# cold backend: first evaluation in a new session (library load + environment build)
	for r in $(seq 1 "$REPS"); do
		tq "" "SELECT ff.get_bool('$mid', '$CTX', false, '$env')"
		rec d.cold_ms "$T_MS"
	done

	# backend cache memory with every flag of the environment compiled
	local mem
	mem="$(q -F ' ' -c "SELECT pg_catalog.sum(total_bytes) FROM pg_catalog.pg_backend_memory_contexts" \
		-c "SELECT ff.evaluate_all('$CTX', '$env') IS NOT NULL" \
		-c "SELECT pg_catalog.sum(total_bytes) FROM pg_catalog.pg_backend_memory_contexts" \
		-c "SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(c)) FROM ff.cache_info() c")"
	echo "$mem" > "$RES/d-memory.txt"
	local before after info bytes
	before="$(sed -n 1p <<<"$mem")"; after="$(sed -n 3p <<<"$mem")"; info="$(sed -n 4p <<<"$mem")"
	rec d.mem_delta_mb "$(calc "($after - $before) / 1048576")"
	bytes="$(q -c "SELECT pg_catalog.max(v.value::numeric) FROM pg_catalog.jsonb_array_elements('$info'::jsonb) e, pg_catalog.jsonb_each_text(e) v WHERE v.key ~* '(bytes|memory)' AND v.value ~ '^[0-9]+$'")"
	[[ -n "$bytes" ]] && rec d.cache_info_mb "$(calc "$bytes / 1048576")"
	log "d. memory with $REBUILD_FLAGS flags compiled: backend contexts +$(st d.mem_delta_mb 1) MB; ff.cache_info(): $info"

	# evaluate_all over ALL_FLAGS flags
	local aenv="scale-$ALL_FLAGS" t_ctx c_ctx
	for r in $(seq 1 "$REPS"); do
		tq "SELECT ff.evaluate_all('{}', '$aenv') IS NOT NULL" "SELECT $Q_CTX_SUFFIX $(from_ctx "$ALL_USERS")"; t_ctx="$T_MS"; c_ctx="$T_CPU_MS"
		tq "SELECT ff.evaluate_all('{}', '$aenv') IS NOT NULL" "SELECT count(*) FILTER (WHERE ff.evaluate_all(ctx, '$aenv') IS NOT NULL) $(from_ctx "$ALL_USERS")"
		rec d.all_ms_per_user "$(calc "($T_MS - $t_ctx) / $ALL_USERS")"
		[[ -n "$c_ctx" && -n "$T_CPU_MS" ]] && rec d.all_cpu_ms_per_user "$(calc "($T_CPU_MS - $c_ctx) / $ALL_USERS")"
	done
	log "d. evaluate_all over $ALL_FLAGS flags: $(st d.all_ms_per_user 3) ms per user"

	# per-evaluation cost against the number of flags
	local Q
	ctx_table "$CURVE_N"
	for r in $(seq 1 "$REPS"); do
		tq "$WARM" "SELECT $Q_CTX_SUFFIX $(from_tab "$CURVE_N")"; t_ctx="$T_MS"; c_ctx="$T_CPU_MS"
		for n in $(curve_list); do
			mid="$(q -c "SELECT ffbench.scale_key(($n + 1) / 2)")"
			Q="SELECT count(*) FILTER (WHERE ff.get_bool('$mid', ctx, false, 'scale-$n')) $(from_tab "$CURVE_N")"
			tq "SELECT ff.get_bool('$mid', '{}', false, 'scale-$n')" "$Q"
			rec "d.curve_ns.$n" "$(calc "($T_MS - $t_ctx) * 1e6 / $CURVE_N")"
			[[ -n "$c_ctx" && -n "$T_CPU_MS" ]] && rec "d.curve_cpu_ns.$n" "$(calc "($T_CPU_MS - $c_ctx) * 1e6 / $CURVE_N")"
		done
		log "d. curve rep $r done (load $(loadavg))"
	done
}

# ---------------------------------------------------------------------
# e. segments
# ---------------------------------------------------------------------
sec_e() {
	local r f s t_ctx t_ctl c_ctx c_ctl expect
	q -c "INSERT INTO ff.environments (name) VALUES ('seg') ON CONFLICT DO NOTHING"
	q -c "INSERT INTO ff.segments (environment, name) VALUES ('seg', 'big')"
	tq "" "INSERT INTO ff.segment_keys (environment, segment, targeting_key) SELECT 'seg', 'big', 'user-' || (2 * i) FROM generate_series(1, $SEG_KEYS) i"
	rec e.write_s "$(calc "$T_MS / 1000")"
	log "e. $SEG_KEYS keys inserted into segment big in $T_MS ms"
	q -c "SELECT ff.import_flagd('{\"flags\": {
		\"seg-flag\": {\"state\": \"ENABLED\", \"variants\": {\"on\": true, \"off\": false}, \"defaultVariant\": \"off\",
			\"targeting\": {\"if\": [{\"in_segment\": \"big\"}, \"on\", \"off\"]}},
		\"ctl-flag\": {\"state\": \"ENABLED\", \"variants\": {\"on\": true, \"off\": false}, \"defaultVariant\": \"off\",
			\"targeting\": {\"if\": [{\"==\": [{\"var\": \"targetingKey\"}, \"nobody\"]}, \"on\", \"off\"]}}}}'::jsonb, 'seg')" >/dev/null

	# loading: a fresh backend, first use of the environment and of the segment
	for r in $(seq 1 "$REPS"); do
		s="$RES/e-load.sql"; f="$RES/e-load.out"
		{
			echo "SELECT ff.get_bool('static-bool', '{}', false);"
			echo "\\timing on"
			echo "SELECT ff.get_bool('ctl-flag', '$CTX', false, 'seg');"
			echo "SELECT ff.get_bool('ctl-flag', '$CTX', false, 'seg');"
			echo "SELECT ff.get_bool('seg-flag', '$CTX', false, 'seg');"
			echo "SELECT ff.get_bool('seg-flag', '$CTX', false, 'seg');"
		} > "$s"
		q -f "$s" > "$f"
		mapfile -t T < <(times_of "$f")
		rec e.load_ms "$(calc "(${T[0]} - ${T[1]}) + (${T[2]} - ${T[3]})")"
	done
	log "e. segment load ($SEG_KEYS keys): $(st e.load_ms 1) ms"

	# (1.20) the first seg-flag evaluation after a change of another flag, in
	# a backend that has the segment loaded: the key list is kept (1.19 read
	# it again), minus the same statement warm
	for r in $(seq 1 "$REPS"); do
		s="$RES/e-change.sql"; f="$RES/e-change.out"
		{
			echo "SELECT ff.get_bool('seg-flag', '$CTX', false, 'seg');"
			echo "UPDATE ff.flags SET default_variant = CASE default_variant WHEN 'on' THEN 'off' ELSE 'on' END WHERE environment = 'seg' AND key = 'ctl-flag';"
			echo "\\timing on"
			echo "SELECT ff.get_bool('seg-flag', '$CTX', false, 'seg');"
			echo "SELECT ff.get_bool('seg-flag', '$CTX', false, 'seg');"
		} > "$s"
		q -f "$s" > "$f"
		mapfile -t T < <(times_of "$f")
		rec e.after_change_ms "$(calc "${T[0]} - ${T[1]}")"
	done
	q -c "UPDATE ff.flags SET default_variant = 'off' WHERE environment = 'seg' AND key = 'ctl-flag'" >/dev/null
	log "e. first evaluation after a flag change: $(st e.after_change_ms 2) ms"

	# lookups: seg-flag against the same flag shape without a segment
	ctx_table "$N"
	expect=$((N / 2)); (( expect > SEG_KEYS )) && expect=$SEG_KEYS
	local W="SELECT ff.get_bool('seg-flag', '{}', false, 'seg'), ff.get_bool('ctl-flag', '{}', false, 'seg')"
	for r in $(seq 1 "$REPS"); do
		tq "$W" "SELECT $Q_CTX_SUFFIX $(from_tab "$N")"; t_ctx="$T_MS"; c_ctx="$T_CPU_MS"
		tq "$W" "SELECT count(*) FILTER (WHERE ff.get_bool('ctl-flag', ctx, false, 'seg')) $(from_tab "$N")"; t_ctl="$T_MS"; c_ctl="$T_CPU_MS"
		[[ "$T_OUT" == 0 ]] || fail "e: ctl-flag on-count $T_OUT, expected 0"
		tq "$W" "SELECT count(*) FILTER (WHERE ff.get_bool('seg-flag', ctx, false, 'seg')) $(from_tab "$N")"
		[[ "$T_OUT" == "$expect" ]] || fail "e: seg-flag on-count $T_OUT, expected $expect (members among users 1..$N)"
		rec e.lookup_ns "$(calc "($T_MS - $t_ctl) * 1e6 / $N")"
		rec e.eval_ns "$(calc "($T_MS - $t_ctx) * 1e6 / $N")"
		if [[ -n "$c_ctx" && -n "$c_ctl" && -n "$T_CPU_MS" ]]; then
			rec e.lookup_cpu_ns "$(calc "($T_CPU_MS - $c_ctl) * 1e6 / $N")"
			rec e.eval_cpu_ns "$(calc "($T_CPU_MS - $c_ctx) * 1e6 / $N")"
		fi
		log "e. rep $r: ctx $t_ctx ms, ctl-flag $t_ctl ms, seg-flag $T_MS ms"
	done
}

# ---------------------------------------------------------------------
# f. change propagation on loopback
# ---------------------------------------------------------------------
sec_f() {
	local tool="$RES/ff_propagation" inc r per out chan k v
	inc="$({ [[ -n "${PG_CONFIG:-}" ]] && "$PG_CONFIG" --includedir; } 2>/dev/null || true)"
	[[ -e "$inc/libpq-fe.h" ]] || inc=/usr/include/postgresql
	if ! cc -O2 -std=c99 -D_POSIX_C_SOURCE=200809L -I"$inc" -o "$tool" "$HERE/tools/ff_propagation.c" -lpq 2>"$RES/f-build.err"; then
		note "f: could not build bench/tools/ff_propagation.c (cc + libpq-dev needed): $(head -1 "$RES/f-build.err")"
		return 1
	fi
	q -c "INSERT INTO ff.environments (name) VALUES ('prop') ON CONFLICT DO NOTHING"
	q -c "SELECT ff.import_flagd('{\"flags\": {\"prop-flag\": {\"state\": \"ENABLED\", \"variants\": {\"a\": \"a\", \"b\": \"b\"}, \"defaultVariant\": \"a\"}}}'::jsonb, 'prop')" >/dev/null
	chan="$(q -c "SELECT coalesce(current_setting('ff.notify_channel', true), 'ff_changes')")"
	per=$(((PROP_TRIALS + REPS - 1) / REPS))
	for r in $(seq 1 "$REPS"); do
		out="$("$tool" "host=127.0.0.1 port=$PORT user=postgres dbname=ffbench" "$per" prop prop-flag "$chan")"
		echo "$out" >> "$RES/f-propagation.txt"
		for kv in $out; do
			k="${kv%%=*}"; v="${kv#*=}"
			rec "f.$k" "$v"
		done
		log "f. rep $r: $out"
	done
	local stale missing notes trials
	stale="$(awk -F'\t' '$1 == "f.stale" { s += $2 } END { print s + 0 }' "$RAW")"
	missing="$(awk -F'\t' '$1 == "f.missing_notify" { s += $2 } END { print s + 0 }' "$RAW")"
	notes="$(awk -F'\t' '$1 == "f.notifications" { s += $2 } END { print s + 0 }' "$RAW")"
	trials="$(awk -F'\t' '$1 == "f.trials" { s += $2 } END { print s + 0 }' "$RAW")"
	rec f.total_trials "$trials"; rec f.total_stale "$stale"; rec f.total_missing "$missing"; rec f.total_notifications "$notes"
	(( stale == 0 )) || fail "f: $stale stale reads in $trials trials (the next statement after a commit saw the old value)"
	(( missing == 0 )) || fail "f: $missing commits without a notification on channel $chan"
	(( notes == trials )) || note "f: $notes notifications for $trials committed transactions"
}

# ---------------------------------------------------------------------
# g. writes
# ---------------------------------------------------------------------
sec_g() {
	local d="$RES/pgbench" r c v0 v1
	mkdir -p "$d"
	q -c "INSERT INTO ff.environments (name) VALUES ('writes') ON CONFLICT DO NOTHING"
	q -c "SELECT ff.import_flagd(ffbench.bool_doc('w', 100), 'writes')" >/dev/null
	printf '%s\n' "\\set k random(1, 100)" \
		"UPDATE ff.flags SET default_variant = CASE default_variant WHEN 'on' THEN 'off' ELSE 'on' END WHERE environment = 'writes' AND key = 'w' || :k;" \
		> "$d/write.sql"
	# the reference: the same UPDATE of a plain table with the same rows,
	# key and columns but none of the extension's triggers (what the disk
	# and the server allow for one durable single-row change)
	q -c "DROP TABLE IF EXISTS ffbench.plain_flags" \
		-c "CREATE TABLE ffbench.plain_flags (LIKE ff.flags INCLUDING DEFAULTS, PRIMARY KEY (environment, key))" \
		-c "INSERT INTO ffbench.plain_flags SELECT * FROM ff.flags WHERE environment = 'writes'" >/dev/null
	sed 's/UPDATE ff\.flags /UPDATE ffbench.plain_flags /' "$d/write.sql" > "$d/plain.sql"
	# for information: the same single-flag changes, 10 per transaction (one
	# change-set and one commit flush for 10 versions)
	{
		echo "BEGIN;"
		for _ in $(seq 1 10); do
			echo "\\set k random(1, 100)"
			echo "UPDATE ff.flags SET default_variant = CASE default_variant WHEN 'on' THEN 'off' ELSE 'on' END WHERE environment = 'writes' AND key = 'w' || :k;"
		done
		echo "COMMIT;"
	} > "$d/write10.sql"
	# the plain UPDATE runs before and after (bracketing, as in a): this
	# disk's flush time drifts by a factor of two within minutes
	local plain plain_a pf_a pf
	for r in $(seq 1 "$REPS"); do
		for c in $CLIENTS; do
			wal_stats_reset
			pgbench_run "$c" "$d/plain.sql"
			plain_a="$TPS"
			wal_stats "$XACTS"
			pf_a="$WAL_FLUSH_US"
			rec g.wal_bytes.plain "$WAL_BYTES"
			v0="$(q -c "SELECT ff.current_version()")"
			wal_stats_reset
			pgbench_run "$c" "$d/write.sql"
			v1="$(q -c "SELECT ff.current_version()")"
			local w_tps="$TPS" w_xacts="$XACTS"
			wal_stats "$XACTS"
			local w_flush="$WAL_FLUSH_US"
			rec "g.flush_us.c$c" "$WAL_FLUSH_US"
			rec g.wal_bytes.change "$WAL_BYTES"
			wal_stats_reset
			pgbench_run "$c" "$d/plain.sql"
			wal_stats "$XACTS"
			pf="$(calc "($pf_a + $WAL_FLUSH_US) / 2")"
			rec "g.plain_flush_us.c$c" "$pf"
			plain="$(calc "($plain_a + $TPS) / 2")"
			TPS="$w_tps" XACTS="$w_xacts"
			rec "g.plain_tps.c$c" "$plain"
			rec "g.tps.c$c" "$TPS"
			rec "g.ratio_plain.c$c" "$(calc "$TPS / $plain")"
			[[ $((v1 - v0)) == "$XACTS" ]] \
				|| fail "g: $XACTS committed single-flag changes but ff.current_version() advanced by $((v1 - v0))"
			log "g. rep $r c=$c: $TPS changes/s ($XACTS changes, versions $v0 -> $v1; plain UPDATE $plain/s; WAL flush $(fmtnum "$w_flush" 0) µs against $(fmtnum "$pf" 0) µs; load $(loadavg))"
		done
		PGOPTIONS="${PGOPTIONS:-} -c synchronous_commit=off" pgbench_run 1 "$d/plain.sql"
		rec g.plain_tps_async.c1 "$TPS"
		PGOPTIONS="${PGOPTIONS:-} -c synchronous_commit=off" pgbench_run 1 "$d/write.sql"
		rec g.tps_async.c1 "$TPS"
		v0="$(q -c "SELECT ff.current_version()")"
		pgbench_run 1 "$d/write10.sql"
		v1="$(q -c "SELECT ff.current_version()")"
		[[ $((v1 - v0)) == $((XACTS * 10)) ]] \
			|| fail "g: $XACTS committed transactions of 10 changes but ff.current_version() advanced by $((v1 - v0))"
		rec g.batch10_changes.c1 "$(calc "$TPS * 10")"
		log "g. rep $r c=1, 10 changes per transaction: $(calc "$TPS * 10") changes/s (load $(loadavg))"
		g_cpu "$r"
	done
}

# wal_stats_reset / wal_stats XACTS: for information, what the WAL cost the
# transactions of one pgbench run (pg_stat_wal, reset before it; read once
# the run's backends have exited and reported): WAL_FLUSH_US, the mean time
# of one flush (fdatasync; track_wal_io_timing is on), and WAL_BYTES, the
# WAL written per transaction.
wal_stats_reset() { q -c "SELECT pg_stat_reset_shared('wal')" >/dev/null; }
wal_stats() {
	local row
	sleep 0.3
	row="$(q -c "SELECT round((wal_sync_time * 1000 / nullif(wal_sync, 0))::numeric, 1), wal_bytes FROM pg_stat_wal")"
	WAL_FLUSH_US="${row%%|*}"
	WAL_BYTES="$(calc "${row##*|} / ($1 > 0 ? $1 : 1)")"
	[[ -n "$WAL_FLUSH_US" ]] || WAL_FLUSH_US=0
}

# g_cpu REP: for information, the CPU time the backend itself spends per
# change (user + system, and user alone; /proc/<pid>/stat), durable and with
# synchronous_commit = off, for the single-flag change and for the plain
# UPDATE: G_CPU_N prepared executions in one psql session, each its own
# transaction.  A durable change costs more CPU than the same change without
# the flush wait (the backend restarts cold after each wait); see
# BENCHMARKS.md.
g_cpu() {
	local n="$G_CPU_N" tab stmts mode set k
	(( n > 0 )) || return 0
	stmts="$(for i in $(seq 1 "$n"); do echo "EXECUTE ffb_g($(( (i * 37) % 100 + 1 )));"; done)"
	for tab in ff.flags ffbench.plain_flags; do
		for mode in durable async; do
			set=""; [[ $mode == async ]] && set="SET synchronous_commit = off;"
			tq "$set PREPARE ffb_g(int) AS UPDATE $tab SET default_variant = CASE default_variant WHEN 'on' THEN 'off' ELSE 'on' END WHERE environment = 'writes' AND key = 'w' || \$1; EXECUTE ffb_g(1)" "$stmts"
			[[ -n "$T_CPU_MS" && -n "$T_USER_MS" ]] || { note "g: no backend CPU time (/proc/<pid>/stat not readable)"; return 0; }
			k="${tab#*.}.$mode"
			rec "g.cpu_us.$k" "$(calc "$T_CPU_MS * 1000 / $n")"
			rec "g.user_us.$k" "$(calc "$T_USER_MS * 1000 / $n")"
			log "g. rep $1 backend CPU per UPDATE of $tab, $mode: $(fmtnum "$(calc "$T_CPU_MS * 1000 / $n")" 0) µs (user $(fmtnum "$(calc "$T_USER_MS * 1000 / $n")" 0) µs) over $n transactions"
		done
	done
}

# ---------------------------------------------------------------------
# profiles: instruction counts per evaluation (callgrind, perf if usable)
# ---------------------------------------------------------------------
sec_profile() {
	local pd m=20000 mpl=1000 lab ir
	if ! command -v valgrind >/dev/null 2>&1; then note "profile: valgrind not installed"; return 0; fi
	pd="$(mktemp -d /tmp/ff-bench-prof.XXXXXX)"
	chmod 777 "$pd"
	# the write profile's flags: 100 boolean flags in their own environment
	q -c "INSERT INTO ff.environments (name) VALUES ('prof-writes') ON CONFLICT DO NOTHING" >/dev/null
	q -c "SELECT ff.import_flagd(ffbench.bool_doc('w', 100), 'prof-writes') WHERE NOT EXISTS (SELECT 1 FROM ff.flags WHERE environment = 'prof-writes')" >/dev/null
	cluster_stop
	# one single-user backend per query file; the first line warms the cache
	declare -A QS=(
		[ctx]="SELECT $Q_CTX_SUFFIX $(from_ctx $m)"
		[get_bool]="SELECT count(*) FILTER (WHERE ff.get_bool('checkout-v2', ctx, false)) $(from_ctx $m)"
		[get_string]="SELECT count(*) FILTER (WHERE ff.get_string('ui-theme', ctx, 'classic') = 'neon') $(from_ctx $m)"
		[evaluate]="SELECT count(*) FILTER (WHERE (ff.evaluate('checkout-v2', ctx)).variant = 'on') $(from_ctx $m)"
		[plctx]="SELECT $Q_CTX_SUFFIX $(from_ctx $mpl)"
		[plpgsql]="SELECT count(*) FILTER (WHERE peer_flags.evaluate('checkout-v2', ctx) = 'on') $(from_ctx $mpl)"
	)
	for lab in ctx get_bool get_string evaluate plctx plpgsql; do
		printf '%s;\n%s;\n' "$WARM, peer_flags.evaluate('checkout-v2', '{}')" "${QS[$lab]}" > "$pd/$lab.sql"
		as_pg valgrind --tool=callgrind --callgrind-out-file="$pd/$lab.cg" \
			"$PG_BIN/postgres" --single -D "$DATA" ffbench < "$pd/$lab.sql" > "$pd/$lab.log" 2>&1 \
			|| { note "profile: callgrind run $lab failed (see $RES/profile-$lab.log)"; cp "$pd/$lab.log" "$RES/profile-$lab.log"; continue; }
		ir="$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$pd/$lab.cg" | head -1)"
		[[ -n "$ir" ]] || ir="$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$pd/$lab.cg" | head -1)"
		rec "p.ir.$lab" "$ir"
		log "profile: $lab: $ir instructions"
	done
	# single-flag changes: the prepared UPDATE of target g, 20 (warm-up) and
	# 220 times, each its own transaction; instructions per change = the
	# difference / 200
	local n w
	for n in 20 220; do
		{
			echo "PREPARE w(int) AS UPDATE ff.flags SET default_variant = CASE default_variant WHEN 'on' THEN 'off' ELSE 'on' END WHERE environment = 'prof-writes' AND key = 'w' || \$1;"
			for w in $(seq 1 "$n"); do echo "EXECUTE w($(( w % 100 + 1 )));"; done
		} > "$pd/write$n.sql"
		as_pg valgrind --tool=callgrind --callgrind-out-file="$pd/write$n.cg" \
			"$PG_BIN/postgres" --single -D "$DATA" ffbench < "$pd/write$n.sql" > "$pd/write$n.log" 2>&1 \
			|| { note "profile: callgrind run write$n failed (see $RES/profile-write$n.log)"; cp "$pd/write$n.log" "$RES/profile-write$n.log"; continue; }
		ir="$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$pd/write$n.cg" | head -1)"
		[[ -n "$ir" ]] || ir="$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$pd/write$n.cg" | head -1)"
		rec "p.ir.write$n" "$ir"
		log "profile: write$n: $ir instructions"
	done
	[[ -n "$(med p.ir.write20)" && -n "$(med p.ir.write220)" ]] \
		&& rec p.ir_per_change.write "$(calc "($(med p.ir.write220) - $(med p.ir.write20)) / 200")"
	local c0 c1
	c0="$(med p.ir.ctx)"; c1="$(med p.ir.plctx)"
	for lab in get_bool get_string evaluate; do
		[[ -n "$(med p.ir.$lab)" && -n "$c0" ]] && rec "p.ir_per_eval.$lab" "$(calc "($(med p.ir.$lab) - $c0) / $m")"
	done
	[[ -n "$(med p.ir.plpgsql)" && -n "$c1" ]] && rec p.ir_per_eval.plpgsql "$(calc "($(med p.ir.plpgsql) - $c1) / $mpl")"
	if command -v callgrind_annotate >/dev/null 2>&1 && [[ -e "$pd/get_bool.cg" ]]; then
		callgrind_annotate --inclusive=no "$pd/get_bool.cg" 2>/dev/null | head -250 > "$RES/profile-get_bool-self.txt" || true
		callgrind_annotate --inclusive=yes "$pd/get_bool.cg" 2>/dev/null | head -60 > "$RES/profile-get_bool-inclusive.txt" || true
	fi
	cp "$pd"/*.cg "$RES/" 2>/dev/null || true
	# perf: only where the VM exposes the instructions counter
	if command -v perf >/dev/null 2>&1 && perf stat -e instructions true 2>&1 | grep -q '[0-9] *instructions'; then
		for lab in ctx get_bool; do
			as_pg perf stat -x, -e instructions -o "$pd/$lab.perf" "$PG_BIN/postgres" --single -D "$DATA" ffbench < "$pd/$lab.sql" >/dev/null 2>&1 || true
			ir="$(grep -m1 instructions "$pd/$lab.perf" | cut -d, -f1)"
			[[ -n "$ir" ]] && rec "p.perf.$lab" "$ir"
		done
		[[ -n "$(med p.perf.get_bool)" ]] && rec p.perf_per_eval.get_bool "$(calc "($(med p.perf.get_bool) - $(med p.perf.ctx)) / $m")"
	else
		note "profile: perf cannot count instructions here (\`perf stat -e instructions true\` reports <not supported>): callgrind only"
	fi
	rm -rf "$pd"
	as_pg "$PG_BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w start >/dev/null
}

# ---------------------------------------------------------------------
# summary
# ---------------------------------------------------------------------
# judge VALUE OP LIMIT -> met / not met (or "not judged" in smoke mode)
judge() {
	[[ -z "$1" ]] && { echo "not measured"; return; }
	[[ "$SMOKE" == 1 ]] && { echo "not judged (smoke)"; return; }
	if awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { exit !((op == "<=") ? (v <= l) : (v >= l)) }'; then echo "met"; else echo "**not met**"; fi
}

summary() {
	local md="$RES/summary.md" c v lim fl pl ns ev n x y
	stats_cache_load
	{
		echo "# feature_flags benchmark results ($( [[ "$SMOKE" == 1 ]] && echo "SMOKE run: figures are not meaningful" || echo "full run"))"
		echo
		echo "* date: $(date -u '+%Y-%m-%d %H:%M UTC') (started $STAMP), duration $(($(date +%s) - T_START)) s"
		echo "* machine: nproc=$(nproc), CPU \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')\", RAM $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME")"
		echo "* load average (1/5/15 min): start $LOAD_START, end $(loadavg) — the machine is shared; other work ran in parallel"
		echo "* PostgreSQL: $(q -c 'SELECT version()' | cut -d, -f1); scratch cluster shared_buffers=256MB, jit=$JIT, max_parallel_workers_per_gather=0, fsync/synchronous_commit default (on)"
		echo "* feature_flags $(cat "$RES/extversion" 2>/dev/null), repository at commit $GIT_COMMIT when the run started (the installed build must match it)"
		echo "* knobs: REPS=$REPS DURATION=$DURATION N=$N CLIENTS=\"$CLIENTS\" PLPGSQL_N=$PLPGSQL_N SCALE_MAX=$SCALE_MAX CURVE_N=$CURVE_N REBUILD_FLAGS=$REBUILD_FLAGS ALL_FLAGS=$ALL_FLAGS ALL_USERS=$ALL_USERS SEG_KEYS=$SEG_KEYS PROP_TRIALS=$PROP_TRIALS G_CPU_N=$G_CPU_N"
		echo
		echo "Every figure: median (min–max) over the repetitions of this run. Per-row costs are differences between two queries over the same rows; they are judged on the CPU time of the backend (from /proc/<pid>/stat), which waiting for a core on this shared machine does not inflate, and the elapsed-time figures are shown next to them."
		echo
		echo "## Correctness"
		echo
		echo "Ground truth over 1,000,000 users (expected: checkout-v2 on 562,540; ui-theme classic/dark/neon 444,446 / 55,555 / 499,999):"
		echo
		echo '```'
		cat "$RES/truth.txt" 2>/dev/null || echo "not run"
		echo '```'
		echo
		if [[ -s "$RES/failures.txt" ]]; then
			echo "**Failed checks:**"; echo; sed 's/^/* /' "$RES/failures.txt"
		else
			echo "All correctness checks passed."
		fi
		echo
		echo "## Targets"
		echo
		echo "| target | measure | result | goal | met? |"
		echo "|---|---|---|---|---|"
		for c in $CLIENTS; do
			echo "| a | get_bool TPS / SELECT 1 TPS, c=$c | $(st a.ratio.get_bool.c$c 3) | ≥ 0.95 | $(judge "$(med a.ratio.get_bool.c$c)" '>=' 0.95) |"
			echo "| a | get_bool TPS / TPS of \`SELECT \$1::jsonb IS NOT NULL\` (the same parameter parsing, no evaluation), c=$c | $(st a.ratio_jsonb.get_bool.c$c 3) | (info) | |"
		done
		if [[ -n "$(med a.ilv.get_bool.c1)" ]]; then
			echo "| a | interleaved in one pgbench run, c=1: mean latency of SELECT 1 ÷ mean latency of get_bool (no drift between runs; the jsonb-only statement: $(st a.ilv.jsonb_only.c1 3)) | $(st a.ilv.get_bool.c1 3) | (info) | |"
		fi
		# per-row costs: judged on the backend's CPU time (robust on a shared
		# machine) when available, elapsed time shown next to it
		B=cpu_ns; [[ -n "$(med b.cpu_ns.checkout)" ]] || B=ns
		echo "| b | checkout-v2: ns added per row by get_bool ($( [[ $B == cpu_ns ]] && echo "backend CPU" || echo elapsed)) | $(st b.$B.checkout 0) | ≤ 300 | $(judge "$(med b.$B.checkout)" '<=' 300) |"
		echo "| b | ui-theme: ns added per row by get_string ($( [[ $B == cpu_ns ]] && echo "backend CPU" || echo elapsed)) | $(st b.$B.theme 0) | ≤ 400 | $(judge "$(med b.$B.theme)" '<=' 400) |"
		echo "| b | the same, elapsed time: checkout-v2 / ui-theme | $(st b.ns.checkout 0) / $(st b.ns.theme 0) | (info) | |"
		for fl in checkout:checkout-v2 theme:ui-theme; do
			x="${fl%%:*}"; y="${fl#*:}"
			ns="$(med b.$B.$x)"; v="$(med peer.flagd-core.$y)"; pl="$(med b.pl.$B.$x)"
			if [[ -n "$ns" && -n "$v" ]] && awk -v x="$ns" 'BEGIN { exit !(x > 0) }'; then
				echo "| b | $y: net evals/s ÷ flagd-core (Node) evals/s | $(fmtnum "$(calc "1e9 / $ns / $v")" 2) ($(fmtnum "$(calc "1e9 / $ns")" 0) vs $(fmtnum "$v" 0)) | ≥ 1.5 | $(judge "$(calc "1e9 / $ns / $v")" '>=' 1.5) |"
			else
				echo "| b | $y: ÷ flagd-core (Node) | not measured (peers not run, or no positive cost) | ≥ 1.5 | not measured |"
			fi
			if [[ -n "$ns" && -n "$pl" ]] && awk -v x="$ns" 'BEGIN { exit !(x > 0) }'; then
				echo "| b | $y: net evals/s ÷ PL/pgSQL net evals/s | $(fmtnum "$(calc "$pl / $ns")" 1) ($(fmtnum "$ns" 0) ns vs $(fmtnum "$pl" 0) ns) | ≥ 40 | $(judge "$(calc "$pl / $ns")" '>=' 40) |"
			fi
		done
		x="$(med p.ir_per_eval.plpgsql)"
		for y in get_bool get_string; do
			v="$(med p.ir_per_eval.$y)"
			if [[ -n "$x" && -n "$v" ]]; then
				echo "| b | instructions per evaluation (callgrind): PL/pgSQL checkout-v2 ÷ $y | $(fmtnum "$(calc "$x / $v")" 1) ($(fmtnum "$v" 0) vs $(fmtnum "$x" 0)) | (info; ≥ 40) | |"
			fi
		done
		if [[ "$(med c.available)" == 1* ]]; then
			echo "| c | query time, jsonb_build_object contexts ÷ row contexts (ff.get_bool_row), $(fmtnum "$N" 0)-row table, elapsed | $(st c.ratio 2) | ≥ 3 | $(judge "$(med c.ratio)" '>=' 3) |"
			echo "| c | the same, backend CPU time | $(st c.cpu_ratio 2) | (info) | |"
			echo "| c | query ms: bare scan / jsonb contexts / row contexts | $(st c.ms.scan 0) / $(st c.ms.jsonb 0) / $(st c.ms.row 0) | (info) | |"
			echo "| c | the same, net of the bare table scan | $(st c.ratio_net 2) | (info) | |"
		else
			echo "| c | row-as-context evaluation | not available in the extension | ≥ 3 | not available |"
		fi
		echo "| d | first get_bool after a change, $REBUILD_FLAGS flags (minus a warm call) | $(st d.rebuild_ms 3) ms | ≤ 50 ms | $(judge "$(med d.rebuild_ms)" '<=' 50) |"
		echo "| d | first evaluate_all after a change, $REBUILD_FLAGS flags (full rebuild, minus a warm call) | $(st d.rebuild_all_ms 1) ms | (info) | |"
		x=all_cpu_ms_per_user; [[ -n "$(med d.$x)" ]] || x=all_ms_per_user
		echo "| d | evaluate_all over $ALL_FLAGS flags, per user ($( [[ $x == all_cpu_ms_per_user ]] && echo "backend CPU" || echo elapsed)) | $(st d.$x 3) ms | ≤ 1 ms | $(judge "$(med d.$x)" '<=' 1) |"
		echo "| d | the same, elapsed | $(st d.all_ms_per_user 3) ms | (info) | |"
		lim=""; C=curve_cpu_ns; [[ -n "$(med d.curve_cpu_ns.10)" ]] || C=curve_ns
		for n in 10 100 1000 10000 100000; do
			[[ -n "$(med d.$C.$n)" ]] || continue
			echo "| d | ns per get_bool ($( [[ $C == curve_cpu_ns ]] && echo "backend CPU" || echo elapsed); elapsed $(st d.curve_ns.$n 0)), $(fmtnum "$n" 0) flags in the environment | $(st d.$C.$n 0) | flat | |"
			[[ -z "$lim" ]] && lim="$n"; x="$n"
		done
		if [[ -n "$lim" ]] && awk -v x="$(med d.$C.$lim)" 'BEGIN { exit !(x > 0) }'; then
			v="$(calc "$(med d.$C.$x) / $(med d.$C.$lim)")"
			echo "| d | cost at $(fmtnum "$x" 0) flags ÷ cost at $lim flags | $(fmtnum "$v" 2) | ≤ 1.25 (flat within noise) | $(judge "$v" '<=' 1.25) |"
		fi
		if [[ -n "$(med d.cache_info_mb)" ]]; then
			echo "| d | backend cache memory, $REBUILD_FLAGS flags compiled (ff.cache_info) | $(st d.cache_info_mb 1) MB | ≤ 64 MB | $(judge "$(med d.cache_info_mb)" '<=' 64) |"
		fi
		echo "| d | backend memory growth, $REBUILD_FLAGS flags compiled (pg_backend_memory_contexts) | $(st d.mem_delta_mb 1) MB | ≤ 64 MB | $(judge "$(med d.mem_delta_mb)" '<=' 64) |"
		x=lookup_cpu_ns; [[ -n "$(med e.$x)" ]] || x=lookup_ns
		echo "| e | segment lookup, $(fmtnum "$SEG_KEYS" 0) keys: ns per evaluation minus the same flag without segment ($( [[ $x == lookup_cpu_ns ]] && echo "backend CPU" || echo elapsed)) | $(st e.$x 0) | ≤ 200 ns | $(judge "$(med e.$x)" '<=' 200) |"
		echo "| e | the same, elapsed | $(st e.lookup_ns 0) | (info) | |"
		echo "| e | the whole in_segment evaluation, ns added per row (CPU / elapsed) | $(st e.eval_cpu_ns 0) / $(st e.eval_ns 0) | (info) | |"
		echo "| e | loading the $(fmtnum "$SEG_KEYS" 0)-key segment into a backend | $(st e.load_ms 1) ms | ≤ 500 ms | $(judge "$(med e.load_ms)" '<=' 500) |"
		[[ -n "$(med e.after_change_ms)" ]] && echo "| e | first evaluation over it after a change of another flag, minus warm (1.20: the key list is kept) | $(st e.after_change_ms 2) ms | (info) | |"
		echo "| f | commit → NOTIFY received, p50 | $(st f.notify_p50_us 0) µs | (report) | |"
		echo "| f | commit → NOTIFY received, p99 | $(st f.notify_p99_us 0) µs | (report) | |"
		v="$(med f.total_stale)"; x="$(med f.total_trials)"
		if [[ -z "$v" ]]; then y="not measured"
		elif [[ "$v" != 0* ]]; then y="**not met**"
		elif [[ "$SMOKE" == 1 ]]; then y="not judged (smoke)"
		elif awk -v t="$x" 'BEGIN { exit !(t >= 10000) }'; then y="met"
		else y="0 stale, but fewer than 10,000 trials"; fi
		echo "| f | stale reads by the next statement in another session | $(fmtnum "${v:-0}" 0) in $(fmtnum "${x:-0}" 0) trials | 0 in 10,000 | $y |"
		for c in $CLIENTS; do
			echo "| g | single-flag changes/s (history, validation, NOTIFY), c=$c | $(st g.tps.c$c 0) | ≥ 2,000 | $(judge "$(med g.tps.c$c)" '>=' 2000) |"
		done
		for c in $CLIENTS; do
			echo "| g | reference: the same UPDATE of a plain table without the extension's triggers, c=$c | $(st g.plain_tps.c$c 0) | (info) | |"
			echo "| g | single-flag changes/s ÷ plain UPDATEs/s, c=$c | $(st g.ratio_plain.c$c 2) | (info) | |"
			echo "| g | mean WAL flush (fdatasync) time, µs, during the changes / during the plain UPDATEs, c=$c | $(st g.flush_us.c$c 0) / $(st g.plain_flush_us.c$c 0) | (info) | |"
		done
		echo "| g | WAL bytes per single-flag change / per plain UPDATE | $(st g.wal_bytes.change 0) / $(st g.wal_bytes.plain 0) | (info) | |"
		echo "| g | the same with synchronous_commit=off, c=1: changes/s / plain UPDATEs/s | $(st g.tps_async.c1 0) / $(st g.plain_tps_async.c1 0) | (info) | |"
		echo "| g | the same single-flag changes, 10 per transaction (durable; one flush per 10 versions), c=1: changes/s | $(st g.batch10_changes.c1 0) | (info) | |"
		echo "| g | backend CPU per single-flag change, µs (user + system; user alone): durable / synchronous_commit=off | $(st g.cpu_us.flags.durable 0) ($(st g.user_us.flags.durable 0)) / $(st g.cpu_us.flags.async 0) ($(st g.user_us.flags.async 0)) | (info) | |"
		echo "| g | the same for the plain UPDATE | $(st g.cpu_us.plain_flags.durable 0) ($(st g.user_us.plain_flags.durable 0)) / $(st g.cpu_us.plain_flags.async 0) ($(st g.user_us.plain_flags.async 0)) | (info) | |"
		echo
		echo "## Details"
		echo
		echo "pgbench -M prepared, fixed context (user-3), TPS:"
		echo
		echo "| statement | clients | TPS | ÷ SELECT 1 |"
		echo "|---|---|---|---|"
		for c in $CLIENTS; do
			for x in select1 jsonb_only get_bool get_string evaluate plpgsql; do
				echo "| $x | $c | $(st a.tps.$x.c$c 0) | $( [[ $x == select1 ]] && echo 1 || st a.ratio.$x.c$c 3) |"
			done
		done
		echo
		echo "Bulk over $(fmtnum "$N" 0) generated contexts (ms per query) and PL/pgSQL over $(fmtnum "$PLPGSQL_N" 0):"
		echo
		echo "| query | ms (elapsed) | ns added per row, elapsed | ns added per row, backend CPU |"
		echo "|---|---|---|---|"
		echo "| ctx_only | $(st b.ms.ctx_only 0) | — | — |"
		echo "| ff.get_bool checkout-v2 | $(st b.ms.get_bool 0) | $(st b.ns.checkout 0) | $(st b.cpu_ns.checkout 0) |"
		echo "| ff.get_string ui-theme | $(st b.ms.get_string 0) | $(st b.ns.theme 0) | $(st b.cpu_ns.theme 0) |"
		echo "| (ff.evaluate checkout-v2).variant | $(st b.ms.evaluate 0) | $(st b.ns.evaluate 0) | $(st b.cpu_ns.evaluate 0) |"
		echo "| PL/pgSQL checkout-v2 | | $(st b.pl.ns.checkout 0) | $(st b.pl.cpu_ns.checkout 0) |"
		echo "| PL/pgSQL ui-theme | | $(st b.pl.ns.theme 0) | $(st b.pl.cpu_ns.theme 0) |"
		echo
		echo "Node peers (evaluations/s over 1,000,000 contexts, $REPS passes):"
		echo
		echo "| peer | checkout-v2 | ui-theme |"
		echo "|---|---|---|"
		for x in flagd-core flagd-core-interp; do
			echo "| $x | $(st peer.$x.checkout-v2 0) | $(st peer.$x.ui-theme 0) |"
		done
		echo
		echo "Scale: loading n flags of 10 rules (ff.import_flagd in transactions of $SCALE_CHUNK flags; above $SCALE_IMPORT_MAX flags a bulk INSERT with the triggers disabled): $(for n in $(scale_list | sort -n | uniq); do if [[ -n "$(med d.import_s.$n)" ]]; then printf '%s flags: %s s (%s ms per flag); ' "$n" "$(st d.import_s.$n 2)" "$(st d.import_ms_per_flag.$n 2)"; else printf '%s flags: bulk %s s; ' "$n" "$(st d.fastload_s.$n 2)"; fi; done)"
		echo "Cold backend, first get_bool on $REBUILD_FLAGS flags: $(st d.cold_ms 1) ms; UPDATE of one flag: $(st d.write_ms 2) ms; warm get_bool: $(st d.warm_ms 3) ms."
		echo "ff.cache_info() before/after: $(cat "$RES/d-cacheinfo.txt" 2>/dev/null | tr '\n' ' ')"
		echo "Segment: inserting $(fmtnum "$SEG_KEYS" 0) keys took $(st e.write_s 2) s."
		echo "Propagation: $(cat "$RES/f-propagation.txt" 2>/dev/null | tr '\n' ';')"
		echo
		echo "## Profile (callgrind, instructions per evaluation, net of building the context)"
		echo
		echo "| evaluation | instructions per row |"
		echo "|---|---|"
		for x in get_bool get_string evaluate plpgsql; do echo "| $x | $(st p.ir_per_eval.$x 0) |"; done
		echo
		echo "Single-flag change (target g's UPDATE, validation, history, hash, NOTIFY, commit; \`postgres --single\`): $(st p.ir_per_change.write 0) instructions per change."
		[[ -n "$(med p.perf_per_eval.get_bool)" ]] && echo "| get_bool (perf stat) | $(st p.perf_per_eval.get_bool 0) |"
		if [[ -s "$RES/profile-get_bool-self.txt" ]]; then
			echo; echo "Top self-cost functions of the bulk get_bool run (whole query, context building included), then those of feature_flags.so:"; echo; echo '```'
			grep -E '^ *[0-9,]+ \( *[0-9.]+%\) ' "$RES/profile-get_bool-self.txt" | grep -v 'PROGRAM TOTALS' | sed 's/ \[[^]]*\]$//' | head -15 || true
			echo '...'
			grep -E '^ *[0-9,]+ \( *[0-9.]+%\) .*feature_flags\.so' "$RES/profile-get_bool-self.txt" | sed 's/ \[[^]]*\]$//' | head -12 || true
			echo '```'
		fi
		echo
		echo "## Notes"
		echo
		if [[ -s "$RES/notes.txt" ]]; then sed 's/^/* /' "$RES/notes.txt"; else echo "none"; fi
	} > "$md"
	cp "$md" "$ROOT/bench/results/latest$( [[ "$SMOKE" == 1 ]] && echo -smoke).md"
}

# ---------------------------------------------------------------------
# main
# ---------------------------------------------------------------------
# run_section NAME: runs sec_NAME in a subshell; a failure is logged, the
# run continues, and the exit status becomes 1
run_section() {
	local rc
	set +e
	(set -e; "sec_$1")
	rc=$?
	set -e
	if [[ $rc != 0 ]]; then
		fail "section $1 failed (exit $rc); see $RES/log.txt"
	fi
}

LOAD_START="$(loadavg)"
GIT_COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then GIT_COMMIT="$GIT_COMMIT (with uncommitted changes)"; fi
trap cleanup EXIT
log "results in $RES ($( [[ "$SMOKE" == 1 ]] && echo smoke || echo full) run)"
sec_setup
if [[ "${TRUTH:-1}" == 1 ]]; then run_section truth; else note "ground truth not checked (TRUTH=0)"; fi
if [[ "$PEERS" == 1 && "$SMOKE" != 1 ]]; then run_section peers; fi
for s in a b c d e f g; do
	if want "$s"; then log "--- target $s"; run_section "$s"; fi
done
if [[ "$PROFILE" == 1 ]]; then log "--- profiles"; run_section profile; fi
log "writing the summary"
summary
cat "$RES/summary.md"
if [[ -s "$RES/failures.txt" ]]; then
	log "FAILED: $(wc -l < "$RES/failures.txt") check(s); see $RES/summary.md"
	exit 1
fi
log "done in $(($(date +%s) - T_START)) s"
