#!/usr/bin/env bash
# Builds Batik CRM and starts the demo server: embedded SQLite in ./data, demo data seeded
# on first start, http://127.0.0.1:8080 by default.
#   scripts/demo.sh [crm serve flags...]
# Environment: CRM_DATA_DIR (default ./data), CRM_HTTP_HOST (default 127.0.0.1),
#              CRM_HTTP_PORT (default 8080), CRM_SKIP_SETUP=1 skips the dependency check.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

cd "$CRM_ROOT"
run_setup
CRM_SKIP_SETUP=1 bash scripts/build.sh release

export CRM_DATA_DIR="${CRM_DATA_DIR:-./data}"
export CRM_HTTP_HOST="${CRM_HTTP_HOST:-127.0.0.1}"
export CRM_HTTP_PORT="${CRM_HTTP_PORT:-8080}"
mkdir -p "$CRM_DATA_DIR"

log "demo server on http://$CRM_HTTP_HOST:$CRM_HTTP_PORT (data in $CRM_DATA_DIR); Ctrl-C stops it"
exec build/release/crm serve --demo "$@"
