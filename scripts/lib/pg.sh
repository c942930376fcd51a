#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server on loopback, for the test suite.
#
# Source it and call pg_start: it starts a fresh server in a temporary directory, exports
#   CRM_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:PORT/postgres
# (an admin URL: tests create and drop their own databases with it) and arranges for
# pg_stop to run when the calling script exits, even on failure. pg_stop stops the server
# and removes the directory; calling it twice is harmless.
#
# Run directly (scripts/lib/pg.sh), it starts a server and keeps it until Ctrl-C.
#
# Environment: CRM_PG_BINDIR (default /usr/lib/postgresql/15/bin),
#              CRM_PG_PORT (first port tried, default 55432).
# Fsync and synchronous commit are off: fast, and fine for data that is thrown away.
# CRM_PG_DURABLE=1 keeps PostgreSQL's durable defaults (benchmarks of acknowledged writes).

# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

CRM_PG_DIR=""

# Runs a command as the user that owns the server: postgres when we are root (PostgreSQL
# refuses to run as root), else the current user.
pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then
    (cd "$CRM_PG_DIR" && runuser -u postgres -- "$@")
  else
    (cd "$CRM_PG_DIR" && "$@")
  fi
}

pg_start() {
  local bindir="${CRM_PG_BINDIR:-/usr/lib/postgresql/15/bin}"
  [ -x "$bindir/initdb" ] || die "PostgreSQL 15 not found in $bindir (run scripts/setup.sh)"
  if [ -n "$CRM_PG_DIR" ]; then
    log "PostgreSQL already running: $CRM_TEST_POSTGRES_URL"
    return 0
  fi

  if [ "$(id -u)" = 0 ]; then
    id -u postgres >/dev/null 2>&1 || die "user postgres missing (run scripts/setup.sh)"
    # Under /tmp so that the postgres user can reach it whatever TMPDIR says.
    CRM_PG_DIR="$(mktemp -d /tmp/crm-pg.XXXXXX)"
    on_exit pg_stop
    chown postgres:postgres "$CRM_PG_DIR"
  else
    CRM_PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/crm-pg.XXXXXX")"
    on_exit pg_stop
  fi

  local data="$CRM_PG_DIR/data" sock="$CRM_PG_DIR/sock" logfile="$CRM_PG_DIR/server.log"
  pg_as_owner mkdir -m 0700 "$sock"
  if ! pg_as_owner "$bindir/initdb" -D "$data" -A trust -U postgres --no-sync \
    -E UTF8 --locale=C >"$CRM_PG_DIR/initdb.log" 2>&1; then
    cat "$CRM_PG_DIR/initdb.log" >&2
    die "initdb failed"
  fi

  # The port is free when checked but another process may take it before the server binds:
  # then try the next one.
  local port="${CRM_PG_PORT:-55432}" attempt durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  [ "${CRM_PG_DURABLE:-0}" = 1 ] && durability="-c shared_buffers=512MB"
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    port="$(free_port "$port")"
    if pg_as_owner "$bindir/pg_ctl" -D "$data" -l "$logfile" -w -t 60 \
      -o "-h 127.0.0.1 -p $port -k $sock $durability -c max_connections=200" \
      start >/dev/null; then
      export CRM_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$port/postgres"
      CRM_PG_PORT_IN_USE="$port"
      log "PostgreSQL 15 on 127.0.0.1:$port (data in $data)"
      return 0
    fi
    if ! grep -q 'could not bind\|already in use' "$logfile" 2>/dev/null; then
      cat "$logfile" >&2 2>/dev/null || true
      die "PostgreSQL did not start"
    fi
    log "port $port taken (attempt $attempt); trying the next"
    port=$((port + 1))
  done
  die "PostgreSQL did not start: no port could be bound"
}

pg_stop() {
  [ -n "$CRM_PG_DIR" ] || return 0
  local bindir="${CRM_PG_BINDIR:-/usr/lib/postgresql/15/bin}"
  if [ -f "$CRM_PG_DIR/data/postmaster.pid" ]; then
    pg_as_owner "$bindir/pg_ctl" -D "$CRM_PG_DIR/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
      log "warning: pg_ctl stop failed"
    log "PostgreSQL on port ${CRM_PG_PORT_IN_USE:-?} stopped"
  fi
  rm -rf "$CRM_PG_DIR"
  CRM_PG_DIR=""
  unset CRM_TEST_POSTGRES_URL
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  pg_start
  echo "CRM_TEST_POSTGRES_URL=$CRM_TEST_POSTGRES_URL"
  echo "Ctrl-C stops the server and removes its data."
  sleep infinity &
  on_exit "kill $! 2>/dev/null"
  wait
fi
