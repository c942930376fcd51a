#!/usr/bin/env bash
# Benchmarks customer import and export of a Release build in demo mode, on SQLite or on a
# throwaway PostgreSQL (BENCH_IMPORT_BACKEND=postgres, durable settings as scripts/bench.sh):
#   - POST /customers/import of a generated CSV: seconds until the 202, seconds until the job
#     has completed, and the server's anonymous resident memory (RssAnon) before and at most
#     while it runs (SQLite's memory-mapped file pages are not counted: they are the file)
#   - with BENCH_IMPORT_MEASURE_OTHERS=1, the p99 latency of other requests while the import
#     runs: GET /customers/{id} over the demo customers (wrk, 2 connections) and POST /customers
#     (wrk, 1 connection); they share the cores with the import, which takes longer then
#   - the growth of the server's whole resident memory (VmRSS) besides RssAnon
#   - GET /customers/export of every customer as CSV, JSON and XLSX: seconds and RssAnon
#
#   scripts/bench-import.sh
# The figures also go to standard output as "name value" lines, for scripts/bench.sh.
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
# Access tokens last 15 minutes: a long import outlives several.
login() {
  curl -s -X POST -H 'Content-Type: application/json' \
    -d '{"email":"owner@demo.test","password":"demo-password-2026"}' "$api/auth/login" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}
token="$(login)"
anon() { awk '/^RssAnon/ { print $2 }' "/proc/$pid/status"; }
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }
# The server's CPU time so far (user and system, all threads), in clock ticks. On a machine
# whose speed varies from run to run it says more than the wall time alone.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
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
# measure NAME WRK_ARGS...: wrk in rounds of at most 10 minutes, each with a fresh token, until
# the import has ended ($work/import-done); round N reports to $work/wrk-NAME-N.txt.
measure() {
  local name="$1" round=0 w
  shift
  while [ ! -e "$work/import-done" ]; do
    round=$((round + 1))
    BENCH_TOKEN="$(login)" BENCH_SEED="$round" wrk -d600s --latency "$@" >"$work/wrk-$name-$round.txt" 2>&1 &
    w=$!
    while kill -0 "$w" 2>/dev/null; do
      [ -e "$work/import-done" ] && kill -INT "$w" 2>/dev/null
      sleep 0.5
    done
    wait "$w" 2>/dev/null || true
  done
}
# summary NAME: "<worst p99 of the rounds> <requests/s over all of them> <non-2xx answers>".
summary() {
  local f p worst=0 requests=0 secs=0 bad=0
  for f in "$work/wrk-$1-"*.txt; do
    p="$(wrk_p99 "$f")"
    worst="$(python3 -c 'import sys; print(max(float(sys.argv[1]), float(sys.argv[2] or 0)))' "$worst" "$p")"
    requests=$((requests + $(awk '/requests in/ { print $1 }' "$f")))
    # "12345 requests in 10.00m, ..." (wrk writes us, ms, s, m or h).
    secs="$(awk -v s="$secs" '/requests in/ { d = $4; sub(/,$/, "", d); u = d; sub(/^[0-9.]+/, "", u);
      f = (u == "ms") ? 0.001 : (u == "us") ? 0.000001 : (u == "m") ? 60 : (u == "h") ? 3600 : 1; print s + d * f }' "$f")"
    bad=$((bad + $(awk '/Non-2xx/ { n = $NF } END { print n + 0 }' "$f")))
  done
  python3 -c 'import sys; print(f"{float(sys.argv[1]):.2f} {int(sys.argv[2]) / max(float(sys.argv[3]), 1e-9):.0f} {sys.argv[4]}")' \
    "$worst" "$requests" "$secs" "$bad"
}
measure_others="${BENCH_IMPORT_MEASURE_OTHERS:-0}"
measuring_get="" measuring_post=""
if [ "$measure_others" = 1 ]; then
  BENCH_PATHS="$work/paths-get.txt" measure get -t1 -c2 -s scripts/bench/paths.lua "http://127.0.0.1:$port/" &
  measuring_get=$!
  measure post -t1 -c1 -s scripts/bench/create_customers.lua "http://127.0.0.1:$port/" &
  measuring_post=$!
  on_exit "touch '$work/import-done'; wait $measuring_get $measuring_post 2>/dev/null"
fi
t0="$(now)"
cpu0="$(cpu_ticks)"
# No "Expect: 100-continue": curl would wait a second for an interim answer before the body.
job="$(curl -s -X POST -H "Authorization: Bearer $token" -H 'Content-Type: text/csv' -H 'Expect:' \
  --data-binary @"$work/customers.csv" "$api/customers/import" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')"
t_accepted="$(now)"
anon_max="$anon_before"
rss_max="$rss_before"
while true; do
  status="$(curl -s -w '\n%{http_code}' -H "Authorization: Bearer $token" "$api/imports/$job")"
  code="$(tail -n 1 <<<"$status")"
  status="$(sed '$d' <<<"$status")"
  if [ "$code" = 401 ]; then
    token="$(login)"
    continue
  fi
  [ "$code" = 200 ] || die "GET /imports/$job answered $code: $status"
  a="$(anon)"
  [ "$a" -gt "$anon_max" ] && anon_max="$a"
  a="$(rss)"
  [ "$a" -gt "$rss_max" ] && rss_max="$a"
  echo "$status" | python3 -c 'import json, sys; sys.exit(json.load(sys.stdin)["status"] in ("queued", "running"))' && break
  sleep 0.2
done
t_done="$(now)"
cpu1="$(cpu_ticks)"
import_seconds="$(seconds "$t0" "$t_done")"
import_cpu_seconds="$(awk -v t="$((cpu1 - cpu0))" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }')"
log "import of $rows rows: 202 after $(seconds "$t0" "$t_accepted") s, completed after $(seconds "$t0" "$t_done") s;" \
  "RssAnon ${anon_before} KiB before, at most ${anon_max} KiB; server CPU ${import_cpu_seconds} s"
log "job: $status"
log "VmRSS ${rss_before} KiB before the import, at most ${rss_max} KiB (growth $(((rss_max - rss_before) / 1024)) MiB)"
if [ "$measure_others" = 1 ]; then
  # wrk reports when interrupted.
  touch "$work/import-done"
  wait "$measuring_get" "$measuring_post" 2>/dev/null || true
  sed 's/^/    /' "$work"/wrk-get-*.txt "$work"/wrk-post-*.txt >&2
  read -r get_p99 get_rps get_bad <<<"$(summary get)"
  read -r post_p99 post_rps post_bad <<<"$(summary post)"
  [ "$get_bad$post_bad" = 00 ] || log "warning: $get_bad reads and $post_bad creates were not 2xx: their figures do not count"
  log "during the import (worst p99 of 10-minute rounds): GET /customers/{id} p99 $get_p99 ms ($get_rps req/s)," \
    "POST /customers p99 $post_p99 ms ($post_rps req/s)"
fi
echo "import_rows $rows"
echo "import_seconds $import_seconds"
echo "import_cpu_seconds $import_cpu_seconds"
echo "import_rss_growth_mib $(((rss_max - rss_before) / 1024))"
echo "import_anon_growth_mib $(((anon_max - anon_before) / 1024))"
if [ "$measure_others" = 1 ]; then
  [ "$get_bad" = 0 ] && echo "import_get_p99_ms $get_p99"
  [ "$post_bad" = 0 ] && echo "import_post_p99_ms $post_p99"
fi

token="$(login)"
for format in csv json xlsx; do
  a0="$(anon)"
  t0="$(now)"
  code="$(curl -s -w '%{http_code}' -H "Authorization: Bearer $token" "$api/customers/export?format=$format" \
    -o "$work/export.$format")"
  t1="$(now)"
  a1="$(anon)"
  if [ "$code" != 200 ]; then
    # An XLSX worksheet holds 1,048,575 customers: more than that is a 400 naming the format.
    log "export $format: answered $code, not 200: $(head -c 300 "$work/export.$format")"
    continue
  fi
  log "export $format: $(seconds "$t0" "$t1") s, $(stat -c %s "$work/export.$format") bytes;" \
    "RssAnon ${a0} KiB before, ${a1} KiB after"
  echo "export_${format}_seconds $(seconds "$t0" "$t1")"
  echo "export_${format}_anon_growth_mib $(((a1 - a0) / 1024))"
done
