#!/usr/bin/env bash
# Benchmarks a Release build of Batik CRM with wrk and prints the figures beside their
# targets:
#   - GET /healthz: requests/s and p99 latency (the HTTP stack alone)
#   - GET /api/v1/probe/items/{id}: a SQLite point query on the worker pool
#   - resident memory of the idle server
#   - milliseconds from process start until /healthz answers, restarting on an existing
#     data directory (median of 5)
#   - sign-ins and GET /auth/me
#   - customers, 100,000 of them, on SQLite and PostgreSQL: create, get by id, q= search and a
#     filtered sorted list (BENCH_CUSTOMERS sets the count, BENCH_SKIP_CUSTOMERS=1 skips,
#     BENCH_CUSTOMER_BACKENDS="sqlite" or "postgres" runs one)
#   - import and export (scripts/bench-import.sh) on SQLite and PostgreSQL: a 100,000-row CSV
#     imported, then exported as CSV, JSON and XLSX (BENCH_IMPORT_ROWS); a 1,000,000-row import
#     on SQLite with the server's memory growth and the p99 of reads and creates meanwhile
#     (BENCH_IMPORT_LARGE_ROWS, 0 skips it; it takes the better part of an hour);
#     BENCH_SKIP_IMPORT=1 skips both
# The load runs against crm_probe_server, the crm server plus a small test-only module.
# wrk runs on the same machine and cores as the server, so the figures are a lower bound.
# Beside the rates, the customer and import figures give the server's CPU time per request
# (or for the import): the crm process's own (not PostgreSQL's), and steadier than the rates
# when the machine's speed varies between runs.
#
#   scripts/bench.sh
# Environment: BENCH_SECONDS (per wrk run, default 10), CRM_SKIP_BUILD=1 uses the existing
#              build, CRM_SKIP_SETUP=1 skips the dependency check, CRM_BENCH_BUILD_DIR
#              the directory holding crm and crm_probe_server (default build/release).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

case "${1:-}" in
  -h | --help)
    awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"
    exit 0
    ;;
esac

cd "$CRM_ROOT"
seconds="${BENCH_SECONDS:-10}"
build_dir="${CRM_BENCH_BUILD_DIR:-build/release}"

if [ "${CRM_SKIP_BUILD:-0}" != 1 ]; then
  run_setup
  CRM_SKIP_SETUP=1 bash scripts/build.sh release
fi
for tool in wrk curl python3; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found (run scripts/setup.sh)"
done
for bin in crm crm_probe_server; do
  [ -x "$build_dir/$bin" ] || die "$build_dir/$bin not found (run scripts/build.sh release)"
done

work="$(mktemp -d "${TMPDIR:-/tmp}/crm-bench.XXXXXX")"
server_pid=""
server_t0=0
on_exit "rm -rf '$work'"
on_exit stop_server

# start_server BINARY DATA_DIR LOG_FILE LOG_LEVEL: starts "BINARY serve --demo" on $port.
# Rate limits are lifted: the load comes from one address.
start_server() {
  mkdir -p "$2"
  server_t0="$(date +%s%N)"
  CRM_DATA_DIR="$2" CRM_HTTP_HOST=127.0.0.1 CRM_HTTP_PORT="$port" CRM_LOG_LEVEL="$4" \
    CRM_RATE_LIMIT_IP_PER_MINUTE=1000000000 CRM_RATE_LIMIT_USER_PER_MINUTE=1000000000 \
    CRM_RATE_LIMIT_TENANT_PER_MINUTE=1000000000 CRM_RATE_LIMIT_AUTH_PER_MINUTE=1000000000 \
    CRM_RATE_LIMIT_REGISTER_PER_HOUR=1000000000 \
    "$1" serve --demo >"$3" 2>&1 &
  server_pid=$!
  server_log="$3"
}

# stop_server: SIGTERM, then SIGKILL after 15 s.
stop_server() {
  [ -n "$server_pid" ] || return 0
  local i
  if kill -TERM "$server_pid" 2>/dev/null; then
    for ((i = 0; i < 300; i++)); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.05
    done
    if kill -0 "$server_pid" 2>/dev/null; then
      log "server $server_pid ignored SIGTERM for 15 s; killing it"
      kill -KILL "$server_pid" 2>/dev/null || true
    fi
  fi
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

# wait_ready TIMEOUT_S: polls /healthz every 5 ms until it answers 200; sets ready_ms to the
# time since the server process was started.
wait_ready() {
  local deadline=$(($(date +%s) + $1)) code
  while true; do
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/healthz" || true)"
    if [ "$code" = 200 ]; then
      ready_ms=$((($(date +%s%N) - server_t0) / 1000000))
      return 0
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      tail -n 20 "$server_log" >&2 || true
      die "the server exited before it was ready (log above)"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      tail -n 20 "$server_log" >&2 || true
      die "the server was not ready within $1 s (log above)"
    fi
    sleep 0.005
  done
}

# to_ms VALUE: wrk's "812.00us" / "1.20ms" / "2.00s" / "1.00m" in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.2f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v }
    else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.2f", v * 60000 }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.2f", v * 1000 }
    else printf "?" }'
}

# run_wrk NAME URL [WRK ARGS...]: sets rps and p99_ms; warns about errors and non-2xx answers.
run_wrk() {
  local out="$work/wrk-$1.txt" bad name="$1" url="$2"
  shift 2
  log "wrk: $name for ${seconds}s: $url"
  wrk -t2 -c64 -d"${seconds}s" --latency "$@" "$url" >"$out" 2>&1 || {
    cat "$out" >&2
    die "wrk failed"
  }
  sed 's/^/    /' "$out" >&2
  rps="$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")"
  p99_ms="$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")"
  bad="$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")"
  if [ -n "$bad" ]; then
    log "warning: $bad answers to $name were not 2xx: its figures do not count"
    rps="invalid"
  fi
  if grep -q 'Socket errors' "$out"; then
    log "warning: wrk saw socket errors during $name: $(grep 'Socket errors' "$out")"
  fi
}

# server_cpu_ticks: the server's CPU time so far (user and system, all threads) in clock ticks.
server_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$server_pid/stat"; }
# cpu_per_request TICKS_BEFORE WRK_OUTPUT: microseconds of server CPU per answered request. It
# varies less than the rates from run to run on a machine whose speed does (shared cores).
cpu_per_request() {
  awk -v t="$(($(server_cpu_ticks) - $1))" -v hz="$(getconf CLK_TCK)" \
    '/ requests in / { n = $1 } END { if (n > 0) printf "%.0f", t / hz * 1e6 / n; else print "n/a" }' "$2"
}

rss_mb() {
  awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$server_pid/status"
}

port="$(free_port 18080)"

# 1. Load against the probe server.
start_server "$build_dir/crm_probe_server" "$work/probe-data" "$work/probe.log" warn
wait_ready 120
log "crm_probe_server ready on 127.0.0.1:$port (pid $server_pid)"
sleep 2
rss_start="$(rss_mb)"

run_wrk healthz "http://127.0.0.1:$port/healthz"
healthz_rps="$rps" healthz_p99="$p99_ms"

created="$(curl -s -w '\n%{http_code}' -X POST -H 'Content-Type: application/json' \
  -d '{"name":"bench"}' "http://127.0.0.1:$port/api/v1/probe/items")"
[ "$(tail -n 1 <<<"$created")" = 201 ] || die "creating a probe item failed: $created"
item_id="$(sed '$d' <<<"$created" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')"
code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/v1/probe/items/$item_id")"
[ "$code" = 200 ] || die "reading probe item $item_id answered $code"
run_wrk point-query "http://127.0.0.1:$port/api/v1/probe/items/$item_id"
query_rps="$rps" query_p99="$p99_ms"

sleep 2
rss_load="$(rss_mb)"
stop_server

# 2. Readiness: restart crm on a data directory that already holds the demo database, so
# that no migration or seeding is measured. The first start creates it and is not counted.
data="$work/crm-data"
start_server "$build_dir/crm" "$data" "$work/crm-seed.log" info
wait_ready 120
log "demo database created in ${ready_ms} ms (first start, not counted)"
stop_server

ready_runs=()
for run in 1 2 3 4 5; do
  start_server "$build_dir/crm" "$data" "$work/crm-ready-$run.log" info
  wait_ready 30
  ready_runs+=("$ready_ms")
  t0_ms=$((server_t0 / 1000000))
  note=""
  line="$(grep -m 1 -i '"msg": *"[^"]*\(ready\|listening\)' "$server_log" || true)"
  if [ -n "$line" ]; then
    ts="$(sed -n 's/.*"ts": *"\([^"]*\)".*/\1/p' <<<"$line")"
    if [ -n "$ts" ] && logged="$(date -d "$ts" +%s%3N 2>/dev/null)"; then
      note="; the server logged ready $((logged - t0_ms)) ms after start"
    else
      note="; server: $(cut -c 1-160 <<<"$line")"
    fi
  fi
  log "restart $run: /healthz answered after ${ready_ms} ms$note"
  stop_server
done
ready_median="$(printf '%s\n' "${ready_runs[@]}" | sort -n | sed -n 3p)"

# 3. Authentication: GET /auth/me with a bearer token (JWT check, revocation lookup, cached
# permissions), and /healthz latency while 16 sign-ins (Argon2id) run at once.
start_server "$build_dir/crm" "$data" "$work/crm-iam.log" warn
wait_ready 30
login_body='{"email":"owner@demo.test","password":"demo-password-2026"}'
token="$(curl -s -X POST -H 'Content-Type: application/json' -d "$login_body" \
  "http://127.0.0.1:$port/api/v1/auth/login" | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
run_wrk auth-me "http://127.0.0.1:$port/api/v1/auth/me" -H "Authorization: Bearer $token"
me_rps="$rps" me_p99="$p99_ms"

cat >"$work/login.lua" <<LUA
wrk.method = "POST"
wrk.body = '$login_body'
wrk.headers["Content-Type"] = "application/json"
LUA
log "16 concurrent sign-ins for ${seconds}s, with /healthz measured alongside"
wrk -t1 -c16 -d"${seconds}s" --latency -s "$work/login.lua" "http://127.0.0.1:$port/api/v1/auth/login" \
  >"$work/wrk-logins.txt" 2>&1 &
logins_pid=$!
sleep 1
wrk -t1 -c8 -d"$((seconds > 3 ? seconds - 2 : 1))s" --latency "http://127.0.0.1:$port/healthz" >"$work/wrk-healthz-under-logins.txt" 2>&1
wait "$logins_pid" || true
sed 's/^/    /' "$work/wrk-logins.txt" "$work/wrk-healthz-under-logins.txt" >&2
logins_rps="$(awk '/^Requests\/sec:/ { printf "%.1f", $2 }' "$work/wrk-logins.txt")"
login_avg="$(to_ms "$(awk '$1 == "Latency" { print $2; exit }' "$work/wrk-logins.txt")")"
healthz_login_p99="$(to_ms "$(awk '$1 == "99%" { print $2 }' "$work/wrk-healthz-under-logins.txt")")"
if grep -q 'Non-2xx' "$work/wrk-logins.txt"; then
  log "warning: some sign-ins were not 2xx: $(grep 'Non-2xx' "$work/wrk-logins.txt")"
fi
stop_server

# 5. Customers: 100,000 of them in the demo tenant, on SQLite and on PostgreSQL, both with
# durable commits (SQLite synchronous=FULL; PostgreSQL fsync and synchronous_commit on).
#   - POST /api/v1/customers (distinct plausible customers; each answer after its commit)
#   - more customers loaded the same way until there are BENCH_CUSTOMERS
#   - GET /api/v1/customers/{id} over 5,000 random ids
#   - GET /api/v1/customers?q= with name, email and phone prefixes
#   - GET /api/v1/customers filtered by status/tier/tag/country/owner and sorted
customers_target="${BENCH_CUSTOMERS:-100000}"
api() { # api METHOD PATH [BODY]: the body of an authenticated API call
  curl -s -X "$1" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' ${3:+-d "$3"} \
    "http://127.0.0.1:$port$2"
}
demo_token() {
  curl -s -X POST -H 'Content-Type: application/json' -d "$login_body" \
    "http://127.0.0.1:$port/api/v1/auth/login" | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}
customer_total() {
  api GET '/api/v1/customers?limit=1&include_total=true' | python3 -c 'import json, sys; print(json.load(sys.stdin)["page"]["total"])'
}
# run_lua NAME SCRIPT PATH [ENV...]: wrk with a Lua script; sets rps, p95_ms, p99_ms ("invalid"
# when an answer was not 2xx) and measured_rps (the rate either way).
run_lua() {
  local name="$1" script="$2" path="$3" out="$work/wrk-$1.txt" bad ticks
  shift 3
  log "wrk: $name for ${seconds}s"
  ticks="$(server_cpu_ticks)"
  env BENCH_TOKEN="$token" "$@" wrk -t2 -c64 -d"${seconds}s" --latency -s "$script" "http://127.0.0.1:$port$path" \
    >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed"; }
  cpu_us="$(cpu_per_request "$ticks" "$out")"
  sed 's/^/    /' "$out" >&2
  log "server CPU per request: $cpu_us us"
  rps="$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")"
  p95_ms="$(awk '$1 == "p95_us" { printf "%.2f", $2 / 1000 }' "$out")"
  p99_ms="$(awk '$1 == "p99_us" { printf "%.2f", $2 / 1000 }' "$out")"
  measured_rps="$rps"
  bad="$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")"
  if [ -n "$bad" ]; then
    log "warning: $bad answers to $name were not 2xx: its figures do not count"
    rps="invalid" p95_ms="invalid" p99_ms="invalid" cpu_us="invalid"
  fi
}
# bench_customers BACKEND: runs the customer figures against the server on $port; sets
# cust_<figure>_<backend>.
bench_customers() {
  local b="$1" have missing seed=$((RANDOM + 1))
  token="$(demo_token)"
  run_lua "create-$b" scripts/bench/create_customers.lua / BENCH_SEED="$seed"
  eval "cust_post_rps_$b=\$rps cust_post_p99_$b=\$p99_ms cust_post_cpu_$b=\$cpu_us"
  # wrk runs for its whole duration even when every thread has met its quota, so each round
  # lasts about as long as the measured rate needs for what is missing.
  # The rate paces the loading rounds even when the figures do not count.
  local rate="${measured_rps:-100}" round=0 duration
  # An access token lives 15 minutes and a round can take longer: each round signs in again.
  while true; do
    token="$(demo_token)"
    have="$(customer_total)" || have=""
    [ -n "$have" ] || die "could not count the customers on $b"
    missing=$((customers_target - have))
    [ "$missing" -gt 0 ] || break
    round=$((round + 1))
    [ "$round" -le 20 ] || die "could not load $customers_target customers ($have after 20 rounds)"
    duration=$((missing / (rate > 50 ? rate : 50) + 2))
    log "loading $missing more customers ($have now; ${duration}s)"
    BENCH_TOKEN="$token" BENCH_SEED=$((seed + round)) BENCH_QUOTA=$(((missing + 1) / 2)) \
      wrk -t2 -c64 -d"${duration}s" -s scripts/bench/create_customers.lua "http://127.0.0.1:$port/" \
      >"$work/load-$b.txt" 2>&1
  done
  eval "cust_count_$b=\$have"
  log "$have customers in the demo tenant"
  # 5,000 ids from the walk of the newest 25 pages; search and list paths.
  python3 - "$port" "$token" "$work" <<'PY'
import json, random, sys, urllib.request
port, token, work = sys.argv[1], sys.argv[2], sys.argv[3]
def get(path):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req) as r:
        return json.load(r)
ids, customers, cursor = [], [], None
for _ in range(25):
    page = get("/api/v1/customers?limit=200" + (f"&cursor={cursor}" if cursor else ""))
    customers += page["data"]
    cursor = page["page"]["next_cursor"]
    if not cursor:
        break
random.seed(11)
with open(f"{work}/paths-get.txt", "w") as f:
    for c in customers:
        f.write(f"/api/v1/customers/{c['id']}\n")
words = set()
for c in customers:
    for w in c["name"].split():
        if w.isalpha() and len(w) > 3:
            words.add(w.lower())
words = sorted(words)
with open(f"{work}/paths-search.txt", "w") as f:
    for c in random.sample(customers, 200):
        name = [w for w in c["name"].split() if w.isalnum()] or ["batik"]
        f.write(f"/api/v1/customers?q={'+'.join(w[:4] for w in name[:2])}\n")  # name prefixes
        if c.get("email"):
            f.write(f"/api/v1/customers?q={c['email'].split('@')[0][:9]}\n")   # an email prefix
        if c.get("phone"):
            f.write(f"/api/v1/customers?q=0{c['phone'][3:9]}\n")                # a national phone prefix
    for w in words:
        f.write(f"/api/v1/customers?q={w[:5]}&status=active\n")              # one word, filtered
owners = sorted({c["owner_id"] for c in customers})
lists = ["status=active&tier=gold&sort=name", "tag=export&sort=-created_at", "status=lead,prospect&country=MY&sort=-updated_at",
         "tier=platinum&status=active&sort=-credit_limit", "tag=wholesale&tier=silver&sort=name",
         "status=inactive&sort=code", "created_after=2020-01-01T00:00:00Z&tier=bronze&sort=-created_at"]
lists += [f"owner_id={o}&status=active&sort=name" for o in owners]
with open(f"{work}/paths-list.txt", "w") as f:
    for l in lists:
        f.write(f"/api/v1/customers?{l}&limit=25\n")
PY
  run_lua "get-$b" scripts/bench/paths.lua / BENCH_PATHS="$work/paths-get.txt"
  eval "cust_get_rps_$b=\$rps cust_get_p99_$b=\$p99_ms cust_get_cpu_$b=\$cpu_us"
  run_lua "search-$b" scripts/bench/paths.lua / BENCH_PATHS="$work/paths-search.txt"
  eval "cust_search_p95_$b=\$p95_ms cust_search_rps_$b=\$rps cust_search_cpu_$b=\$cpu_us"
  run_lua "list-$b" scripts/bench/paths.lua / BENCH_PATHS="$work/paths-list.txt"
  eval "cust_list_p95_$b=\$p95_ms cust_list_rps_$b=\$rps cust_list_cpu_$b=\$cpu_us"
}

customer_backends="${BENCH_CUSTOMER_BACKENDS:-sqlite postgres}"
if [ "${BENCH_SKIP_CUSTOMERS:-0}" != 1 ] && [[ " $customer_backends " == *" sqlite "* ]]; then
  CRM_DATABASE_SQLITE_SYNCHRONOUS=full start_server "$build_dir/crm" "$work/customers-sqlite" \
    "$work/customers-sqlite.log" warn
  wait_ready 120
  bench_customers sqlite
  stop_server
fi
if [ "${BENCH_SKIP_CUSTOMERS:-0}" != 1 ] && [[ " $customer_backends " == *" postgres "* ]]; then
  # shellcheck source-path=SCRIPTDIR source=lib/pg.sh
  . "$CRM_ROOT/scripts/lib/pg.sh"
  CRM_PG_DURABLE=1 pg_start
  pg_as_owner psql -q -h 127.0.0.1 -p "$CRM_PG_PORT_IN_USE" -U postgres -c "CREATE DATABASE crm_bench" postgres
  CRM_DATABASE_URL="postgresql://postgres@127.0.0.1:$CRM_PG_PORT_IN_USE/crm_bench" start_server "$build_dir/crm" \
    "$work/customers-pg" "$work/customers-pg.log" warn
  wait_ready 120
  bench_customers postgres
  stop_server
  pg_stop
fi

# 6. Import and export: scripts/bench-import.sh prints its figures as "name value" lines.
import_rows="${BENCH_IMPORT_ROWS:-100000}"
large_rows="${BENCH_IMPORT_LARGE_ROWS:-1000000}"
# run_import NAME BACKEND ROWS: sets imp_<NAME>_<figure> for each figure.
run_import() {
  local name="$1" out="$work/import-$1.txt" key value
  log "import and export: $3 rows on $2"
  BENCH_IMPORT_BACKEND="$2" BENCH_IMPORT_ROWS="$3" CRM_BENCH_BUILD_DIR="$build_dir" \
    BENCH_IMPORT_MEASURE_OTHERS="${BENCH_IMPORT_MEASURE_OTHERS:-0}" bash scripts/bench-import.sh \
    >"$out" || die "scripts/bench-import.sh failed on $2"
  while read -r key value; do
    [[ "$key" =~ ^[a-z0-9_]+$ ]] && printf -v "imp_${name}_${key}" '%s' "$value"
  done <"$out"
}
if [ "${BENCH_SKIP_IMPORT:-0}" != 1 ]; then
  run_import sqlite sqlite "$import_rows"
  run_import postgres postgres "$import_rows"
  [ "$large_rows" -gt 0 ] && BENCH_IMPORT_MEASURE_OTHERS=1 run_import large sqlite "$large_rows"
fi

# 4. Argon2id at the parameters sign-in uses (one thread, nothing else running).
argon_hash_ms="n/a" argon_verify_ms="n/a" argon_params=""
if [ -x "$build_dir/crm_password_bench" ]; then
  "$build_dir/crm_password_bench" 20 >"$work/argon.txt"
  sed 's/^/    /' "$work/argon.txt" >&2
  argon_hash_ms="$(awk '$1 == "hash_median_ms" { print $2 }' "$work/argon.txt")"
  argon_verify_ms="$(awk '$1 == "verify_median_ms" { print $2 }' "$work/argon.txt")"
  argon_params="$(awk '$1 == "parameters" { print $2 }' "$work/argon.txt")"
fi

# 7. The figures beside their targets.
verdict() { # verdict VALUE OP TARGET
  if [ "$1" = invalid ] || [ -z "$1" ]; then
    echo "n/a"
  elif awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN {
      exit !((op == ">=" && a >= b) || (op == "<" && a < b)) }'; then
    echo "ok"
  else
    echo "MISSED"
  fi
}
row() { # row LABEL VALUE UNIT [OP TARGET]
  local target="" result=""
  if [ $# -eq 5 ]; then
    target="$4 $5 $3"
    result="$(verdict "$2" "$4" "$5")"
  fi
  printf '%-34s %10s %-6s %-16s %s\n' "$1" "$2" "$3" "$target" "$result"
}

echo
echo "Batik CRM benchmarks ($(nproc) cores shared by server and wrk; ${seconds}s per wrk run)"
printf '%-34s %10s %-6s %-16s %s\n' "figure" "measured" "" "target" "result"
row "GET /healthz throughput" "$healthz_rps" "req/s" ">=" 40000
row "GET /healthz p99 latency" "$healthz_p99" "ms" "<" 5
row "point query throughput" "$query_rps" "req/s" ">=" 15000
row "point query p99 latency" "$query_p99" "ms"
row "idle RSS after start" "$rss_start" "MB" "<" 30
row "idle RSS after load" "$rss_load" "MB" "<" 30
row "ready after restart (median of 5)" "$ready_median" "ms" "<" 300
row "GET /auth/me throughput" "$me_rps" "req/s" ">=" 20000
row "GET /auth/me p99 latency" "$me_p99" "ms" "<" 5
row "sign-ins (16 concurrent)" "$logins_rps" "req/s"
row "sign-in mean latency" "$login_avg" "ms"
row "GET /healthz p99 during sign-ins" "$healthz_login_p99" "ms" "<" 10
row "Argon2id hash (median of 20)" "$argon_hash_ms" "ms"
row "Argon2id verify (median of 20)" "$argon_verify_ms" "ms"
[ -z "$argon_params" ] || echo "Argon2id parameters: $argon_params"
if [ "${BENCH_SKIP_CUSTOMERS:-0}" != 1 ]; then
  for b in $customer_backends; do
    eval "n=\$cust_count_$b"
    echo "customers on $b ($n in the tenant, durable commits):"
    eval "row '  POST /customers throughput' \"\$cust_post_rps_$b\" req/s '>=' 3000"
    eval "row '  POST /customers p99' \"\$cust_post_p99_$b\" ms"
    eval "row '  POST /customers server CPU' \"\$cust_post_cpu_$b\" us/req"
    eval "row '  GET /customers/{id} throughput' \"\$cust_get_rps_$b\" req/s '>=' 15000"
    eval "row '  GET /customers/{id} p99' \"\$cust_get_p99_$b\" ms '<' 5"
    eval "row '  GET /customers/{id} server CPU' \"\$cust_get_cpu_$b\" us/req"
    eval "row '  q= search p95' \"\$cust_search_p95_$b\" ms '<' 15"
    eval "row '  q= search throughput' \"\$cust_search_rps_$b\" req/s"
    eval "row '  q= search server CPU' \"\$cust_search_cpu_$b\" us/req"
    eval "row '  filtered sorted list p95' \"\$cust_list_p95_$b\" ms '<' 10"
    eval "row '  filtered sorted list throughput' \"\$cust_list_rps_$b\" req/s"
    eval "row '  filtered sorted list server CPU' \"\$cust_list_cpu_$b\" us/req"
  done
fi
if [ "${BENCH_SKIP_IMPORT:-0}" != 1 ]; then
  for b in sqlite postgres; do
    echo "import and export on $b ($import_rows rows):"
    v="imp_${b}_import_seconds"; row '  import' "${!v:-}" s '<' 15
    v="imp_${b}_import_cpu_seconds"; row '  import server CPU' "${!v:-}" s
    v="imp_${b}_export_csv_seconds"; row '  CSV export' "${!v:-}" s '<' 3
    v="imp_${b}_export_csv_anon_growth_mib"; row '  CSV export memory growth' "${!v:-}" MiB
    v="imp_${b}_export_json_seconds"; row '  JSON export' "${!v:-}" s
    v="imp_${b}_export_xlsx_seconds"; row '  XLSX export' "${!v:-}" s
  done
  if [ "$large_rows" -gt 0 ]; then
    echo "import of $large_rows rows on sqlite, with reads and creates meanwhile:"
    row '  import' "${imp_large_import_seconds:-}" s
    row '  server RSS growth' "${imp_large_import_rss_growth_mib:-}" MiB '<' 100
    row '  GET /customers/{id} p99 meanwhile' "${imp_large_import_get_p99_ms:-}" ms '<' 20
    row '  POST /customers p99 meanwhile' "${imp_large_import_post_p99_ms:-}" ms '<' 20
  fi
fi
