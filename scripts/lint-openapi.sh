#!/usr/bin/env bash
# Lints the OpenAPI document the binary serves with Redocly's recommended rules.
#   scripts/lint-openapi.sh [PATH_TO_CRM]
# Redocly CLI is installed from npm into .cache/redocly on first use.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
crm="${1:-build/release/crm}"
tool_dir=".cache/redocly"
if [ ! -x "$tool_dir/node_modules/.bin/redocly" ]; then
  command -v npm >/dev/null 2>&1 || { echo "lint-openapi: npm is required (scripts/setup.sh installs it)" >&2; exit 1; }
  mkdir -p "$tool_dir"
  npm install --prefix "$tool_dir" --no-audit --no-fund --loglevel=error @redocly/cli >/dev/null
fi
doc="$(mktemp --suffix=.json)"
trap 'rm -f "$doc"' EXIT
CRM_LOG_LEVEL=error "$crm" openapi >"$doc"
"$tool_dir/node_modules/.bin/redocly" lint --format=summary "$doc" 2>&1 | grep -v -e '║' -e '╔' -e '╚'
