#!/usr/bin/env bash
# Builds Batik CRM and runs the whole test suite:
#   1. the Release build against a throwaway PostgreSQL 15 server (and SQLite),
#   2. the same suite again built with AddressSanitizer and UndefinedBehaviorSanitizer.
# Ends with one line "N passed, N failed" (both runs together); exits non-zero when a
# build or a test failed.
#
#   scripts/test.sh [CTEST ARGS...]     e.g. scripts/test.sh -R router
# Environment: CRM_TEST_SKIP_ASAN=1 skips the sanitizer run (quicker local runs),
#              CRM_SKIP_SETUP=1 skips the dependency check.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/pg.sh
. "$CRM_ROOT/scripts/lib/pg.sh"

case "${1:-}" in
  -h | --help)
    awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"
    exit 0
    ;;
esac

cd "$CRM_ROOT"

passed=0
failed=0
status=0
logdir="$(mktemp -d "${TMPDIR:-/tmp}/crm-test.XXXXXX")"
on_exit "rm -rf '$logdir'"

summary() {
  echo "$passed passed, $failed failed"
}

# run_ctest NAME BUILD_DIR [CTEST ARGS...]: runs ctest, adds its counts to the totals.
run_ctest() {
  local name="$1" dir="$2" out rc line total nfail
  shift 2
  out="$logdir/ctest-$name.log"
  log "running the $name tests"
  set +e
  ctest --test-dir "$dir" --output-on-failure -j2 "$@" 2>&1 | tee "$out"
  rc="${PIPESTATUS[0]}"
  set -e
  # "95% tests passed, 2 tests failed out of 40"
  line="$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$out" | tail -n 1 || true)"
  if [ -n "$line" ]; then
    nfail="$(sed -E 's/^[0-9]+% tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")"
    total="$(sed -E 's/^[0-9]+% tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")"
    passed=$((passed + total - nfail))
    failed=$((failed + nfail))
  elif grep -q 'No tests were found' "$out"; then
    log "warning: no tests matched in $dir"
  fi
  if [ "$rc" != 0 ]; then
    log "the $name tests failed (ctest exit status $rc)"
    status=1
  fi
}

# build VARIANT: builds; on failure, prints the totals so far and stops.
build() {
  if ! CRM_SKIP_SETUP=1 bash "$CRM_ROOT/scripts/build.sh" "$1"; then
    log "the $1 build failed"
    summary
    exit 1
  fi
}

run_setup
build release
pg_start
run_ctest release build/release "$@"

if [ "${CRM_TEST_SKIP_ASAN:-0}" = 1 ]; then
  log "skipping the sanitizer run (CRM_TEST_SKIP_ASAN=1)"
else
  build asan
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_ctest asan build/asan "$@"
fi

pg_stop
if [ "$status" != 0 ]; then
  log "FAILED"
else
  log "all tests passed"
fi
summary
exit "$status"
