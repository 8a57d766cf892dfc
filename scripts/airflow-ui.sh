#!/usr/bin/env bash
# Open the demo in the Airflow UI: the TikTok sandbox on :8765 plus `airflow standalone` on :8080,
# with the demo's contact database and the connections of airflow_settings.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/${VENV:-.venv}/bin
export PATH=$BIN:$PATH  # airflow standalone starts its components as `airflow ...`
export PROJECT_DIR=$PWD
export AIRFLOW_HOME=$PWD/.demo/airflow-ui
export AIRFLOW__CORE__DAGS_FOLDER=$PWD/dags
export AIRFLOW__CORE__PLUGINS_FOLDER=$PWD/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-admin:admin}
export TIKTOK_AUDIENCES_DIR=$PWD/include/audiences
# The TikTok Audiences page's "Set up integration" goes to the sandbox's consent page, with the
# sandbox app's id and secret (never a real app secret in a script: use a secrets backend).
export TIKTOK_AUDIENCES_AUTH_URL=http://127.0.0.1:8765/portal/auth
export TIKTOK_AUDIENCES_API_URL=http://127.0.0.1:8765
export AIRFLOW_VAR_TIKTOK_APP_ID=7100000000000000001
export AIRFLOW_VAR_TIKTOK_APP_SECRET=sandbox-app-secret
mkdir -p "$AIRFLOW_HOME"
if [ ! -f .demo/contacts.db ]; then
  "$BIN/tiktok-audiences" demo-db --url "sqlite:///$PWD/.demo/contacts.db"
fi
"$BIN/tiktok-sandbox" --port 8765 --processing-seconds 30 --match-rate 0.35 &
sandbox=$!
trap 'kill $sandbox 2>/dev/null || true' EXIT
"$BIN/airflow" db migrate >/dev/null
"$BIN/tiktok-audiences" load-settings airflow_settings.yaml
echo "Airflow UI: http://localhost:8080  (user admin; password in $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated)"
"$BIN/airflow" standalone
