#!/usr/bin/env bash
#
# setup.sh — one command from a fresh Debian 12 machine to a psql prompt:
# installs the packages, builds and installs feature_flags, starts a local
# PostgreSQL 15 (port 5488, socket in /tmp) with the extension created and
# demo flags loaded, and prints how to connect.  Run it again at any time:
# it reuses the cluster and reloads nothing that is already there.
#
#   sudo bash scripts/setup.sh        (or as root)
#
# Knobs: FF_PORT (5488), FF_DATA (/var/tmp/feature_flags-demo), FF_DB (flags)
#
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${FF_PORT:-5488}
DATA=${FF_DATA:-/var/tmp/feature_flags-demo}
DB=${FF_DB:-flags}
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo

bash scripts/install-deps.sh
echo "setup: building feature_flags"
make -s -j2 >/dev/null
$SUDO make -s install >/dev/null

PGBIN=$(pg_config --bindir)
if [ "$(id -u)" = 0 ]; then
    AS=(runuser -u postgres --)
    OWNER=postgres
else
    AS=()
    OWNER=$(id -un)
fi

if [ ! -f "$DATA/PG_VERSION" ]; then
    echo "setup: creating a cluster in $DATA"
    $SUDO mkdir -p "$DATA"
    $SUDO chown "$OWNER" "$DATA"
    "${AS[@]}" "$PGBIN/initdb" -D "$DATA" -A trust -U postgres >/dev/null
    cat <<CONF | "${AS[@]}" tee -a "$DATA/postgresql.conf" >/dev/null
port = $PORT
listen_addresses = 'localhost'
unix_socket_directories = '/tmp'
shared_preload_libraries = 'feature_flags'
CONF
fi
# pg_cron runs the scheduled changes (1.14): a demo cluster made before
# gets it too (the later setting wins)
if ! grep -q "^shared_preload_libraries = 'feature_flags,pg_cron'" "$DATA/postgresql.conf"; then
    cat <<CONF | "${AS[@]}" tee -a "$DATA/postgresql.conf" >/dev/null
shared_preload_libraries = 'feature_flags,pg_cron'
cron.database_name = '$DB'
cron.use_background_workers = on
CONF
fi

if ! "${AS[@]}" "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    echo "setup: starting PostgreSQL on port $PORT"
    "${AS[@]}" "$PGBIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w start >/dev/null
else
    # a rebuilt library is picked up by new sessions after a restart
    "${AS[@]}" "$PGBIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w restart >/dev/null
fi

PSQL=("$PGBIN/psql" -X -q -h /tmp -p "$PORT" -U postgres -v ON_ERROR_STOP=1)
if ! "${PSQL[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
    "${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB"
fi
if ! "${PSQL[@]}" -d "$DB" -tAc "SELECT 1 FROM pg_extension WHERE extname = 'feature_flags'" | grep -q 1; then
    echo "setup: creating the extension and loading the demo flags"
    "${PSQL[@]}" -d "$DB" -f scripts/demo.sql >/dev/null
else
    "${PSQL[@]}" -d "$DB" -c "ALTER EXTENSION feature_flags UPDATE" >/dev/null 2>&1 || true
fi
# a pg_cron job applies the scheduled changes that are due, every minute
"${PSQL[@]}" -d "$DB" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_cron;
SELECT cron.schedule('ff-scheduled-changes', '* * * * *', 'SELECT ff.run_scheduled_changes()');
SQL

cat <<EOT

feature_flags is ready.  Connect with:

    psql -h /tmp -p $PORT -U postgres $DB

and try:

    SELECT * FROM ff.flags_overview;
    SELECT ff.get_bool('new-checkout', '{"targetingKey": "user-42", "country": "DE"}', false);
    SELECT * FROM ff.evaluate('ui-theme', '{"targetingKey": "u1", "app_version": "2.4.0"}', '"light"');
    SELECT version, operation, entity_key, summary FROM ff.history ORDER BY version;
    SELECT flag_key, evaluations, variants_served FROM ff.flag_usage;

Stop the server with:  ${AS[*]} $PGBIN/pg_ctl -D $DATA stop
EOT
