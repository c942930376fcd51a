#!/usr/bin/env bash
# Benchmarks customer import and export of a Release build in demo mode, on SQLite or on a
# throwaway PostgreSQL (BENCH_IMPORT_BACKEND=postgres, durable settings as scripts/bench.sh):
#   - POST /customers/import of a generated CSV: seconds until the 202, seconds until the job
#     has completed, and the server's anonymous resident memory (RssAnon) before and at most
#     while it runs (SQLite's memory-mapped file pages are not counted: they are the file)
#   - while the import runs, the p99 latency of other requests: GET /customers/{id} over the
#     demo customers (wrk, 2 connections) and POST /customers (wrk, 1 connection), and the
#     growth of the server's whole resident memory (VmRSS) besides RssAnon
#   - GET /customers/export of every customer as CSV, JSON and XLSX: seconds and RssAnon
#
#   scripts/bench-import.sh
# Environment: BENCH_IMPORT_ROWS (default 100000), BENCH_IMPORT_BACKEND (sqlite or postgres,
#              default sqlite), CRM_BENCH_BUILD_DIR (default build/release).
# Plan limits are lifted by a configuration file so the demo tenant can hold every row.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/pg.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/pg.sh"

case "${1:-}" in
  -h | --help)
    awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"
    exit 0
    ;;
esac

cd "$CRM_ROOT"
rows="${BENCH_IMPORT_ROWS:-100000}"
bin="${CRM_BENCH_BUILD_DIR:-build/release}/crm"
[ -x "$bin" ] || die "$bin not found (run scripts/build.sh release)"
for tool in curl python3 wrk; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found (run scripts/setup.sh)"
done

work="$(mktemp -d "${TMPDIR:-/tmp}/crm-bench-import.XXXXXX")"
on_exit "rm -rf '$work'"
port="$(free_port 18600)"

python3 - "$rows" >"$work/customers.csv" <<'PY'
import sys
print("name,email,phone,tier,tags,billing_line1,billing_city,billing_country")
for i in range(int(sys.argv[1])):
    print(f'Pelanggan {i},p{i}@bench.example,,gold,"vip,bench",Lot {i},Kota Bharu,MY')
PY
echo '{"modules": {"customer": {"customer_limits": {"free": 0, "starter": 0, "pro": 0}}}}' >"$work/config.json"
database_env=()
if [ "${BENCH_IMPORT_BACKEND:-sqlite}" = postgres ]; then
  CRM_PG_DURABLE=1 pg_start
  pg_as_owner psql -q -h 127.0.0.1 -p "$CRM_PG_PORT_IN_USE" -U postgres -c "CREATE DATABASE crm_bench" postgres
  database_env=("CRM_DATABASE_URL=postgresql://postgres@127.0.0.1:$CRM_PG_PORT_IN_USE/crm_bench")
fi

env "${database_env[@]}" CRM_DATA_DIR="$work/data" CRM_HTTP_HOST=127.0.0.1 CRM_HTTP_PORT="$port" CRM_LOG_LEVEL=warn \
  CRM_RATE_LIMIT_IP_PER_MINUTE=1000000000 CRM_RATE_LIMIT_USER_PER_MINUTE=1000000000 \
  CRM_RATE_LIMIT_TENANT_PER_MINUTE=1000000000 \
  "$bin" serve --demo --config "$work/config.json" >"$work/server.log" 2>&1 &
pid=$!
on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.1
done

api="http://127.0.0.1:$port/api/v1"
token="$(curl -s -X POST -H 'Content-Type: application/json' \
  -d '{"email":"owner@demo.test","password":"demo-password-2026"}' "$api/auth/login" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
anon() { awk '/^RssAnon/ { print $2 }' "/proc/$pid/status"; }
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }
# p99 of a wrk report in ms ("812.00us", "1.20ms", "2.00s").
wrk_p99() {
  awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
    f = (u == "us") ? 0.001 : (u == "s") ? 1000 : (u == "m") ? 60000 : 1; printf "%.2f", v * f }' "$1"
}
now() { date +%s.%N; }
seconds() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }

# Requests measured while the import runs: reads of the demo customers and creates.
curl -s -H "Authorization: Bearer $token" "$api/customers?limit=100" |
  python3 -c 'import json, sys; [print("/api/v1/customers/" + c["id"]) for c in json.load(sys.stdin)["data"]]' \
    >"$work/paths-get.txt"
anon_before="$(anon)"
rss_before="$(rss)"
BENCH_TOKEN="$token" BENCH_PATHS="$work/paths-get.txt" wrk -t1 -c2 -d3600s --latency \
  -s scripts/bench/paths.lua "http://127.0.0.1:$port/" >"$work/wrk-get.txt" 2>&1 &
wrk_get=$!
BENCH_TOKEN="$token" BENCH_SEED=7 wrk -t1 -c1 -d3600s --latency \
  -s scripts/bench/create_customers.lua "http://127.0.0.1:$port/" >"$work/wrk-post.txt" 2>&1 &
wrk_post=$!
on_exit "kill $wrk_get $wrk_post 2>/dev/null"
t0="$(now)"
# No "Expect: 100-continue": curl would wait a second for an interim answer before the body.
job="$(curl -s -X POST -H "Authorization: Bearer $token" -H 'Content-Type: text/csv' -H 'Expect:' \
  --data-binary @"$work/customers.csv" "$api/customers/import" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')"
t_accepted="$(now)"
anon_max="$anon_before"
rss_max="$rss_before"
while true; do
  status="$(curl -s -H "Authorization: Bearer $token" "$api/imports/$job")"
  a="$(anon)"
  [ "$a" -gt "$anon_max" ] && anon_max="$a"
  a="$(rss)"
  [ "$a" -gt "$rss_max" ] && rss_max="$a"
  echo "$status" | python3 -c 'import json, sys; sys.exit(json.load(sys.stdin)["status"] in ("queued", "running"))' && break
  sleep 0.2
done
t_done="$(now)"
log "import of $rows rows: 202 after $(seconds "$t0" "$t_accepted") s, completed after $(seconds "$t0" "$t_done") s;" \
  "RssAnon ${anon_before} KiB before, at most ${anon_max} KiB"
log "job: $status"
# wrk reports when interrupted.
kill -INT "$wrk_get" "$wrk_post"
wait "$wrk_get" "$wrk_post" 2>/dev/null || true
sed 's/^/    /' "$work/wrk-get.txt" "$work/wrk-post.txt" >&2
log "during the import: GET /customers/{id} p99 $(wrk_p99 "$work/wrk-get.txt") ms" \
  "($(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$work/wrk-get.txt") req/s)," \
  "POST /customers p99 $(wrk_p99 "$work/wrk-post.txt") ms" \
  "($(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$work/wrk-post.txt") req/s);" \
  "VmRSS ${rss_before} KiB before, at most ${rss_max} KiB (growth $(((rss_max - rss_before) / 1024)) MiB)"

for format in csv json xlsx; do
  a0="$(anon)"
  t0="$(now)"
  curl -s -H "Authorization: Bearer $token" "$api/customers/export?format=$format" -o "$work/export.$format"
  t1="$(now)"
  log "export $format: $(seconds "$t0" "$t1") s, $(stat -c %s "$work/export.$format") bytes;" \
    "RssAnon ${a0} KiB before, $(anon) KiB after"
done
