#!/usr/bin/env bash
# Start the machine's PostgreSQL cluster for the tests and create their role (idempotent).
# Tests connect as tiktok:tiktok@127.0.0.1:5432 (override with TIKTOK_TEST_POSTGRES_URL).
set -euo pipefail
if [ -n "${TIKTOK_TEST_POSTGRES_URL:-}" ]; then
  exit 0  # an external PostgreSQL was given
fi
cluster=$(pg_lsclusters --no-header 2>/dev/null | awk 'NR==1 {print $1" "$2}')
if [ -z "$cluster" ]; then
  echo "No PostgreSQL cluster found: install it with 'apt-get install -y postgresql'" >&2
  exit 1
fi
if ! pg_lsclusters --no-header | awk 'NR==1 {print $4}' | grep -q online; then
  pg_ctlcluster $cluster start
fi
run_psql() {
  if [ "$(id -u)" = 0 ]; then su postgres -c "psql -v ON_ERROR_STOP=1 -tAc \"$1\""; else psql -v ON_ERROR_STOP=1 -tAc "$1" postgres; fi
}
for _ in $(seq 1 30); do run_psql "SELECT 1" >/dev/null 2>&1 && break; sleep 1; done
if [ "$(run_psql "SELECT 1 FROM pg_roles WHERE rolname = 'tiktok'")" != "1" ]; then
  run_psql "CREATE ROLE tiktok LOGIN CREATEDB PASSWORD 'tiktok'" >/dev/null
fi
echo "PostgreSQL is up (role tiktok)."
