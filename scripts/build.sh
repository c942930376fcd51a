#!/usr/bin/env bash
# Configures and builds Batik CRM.
#   scripts/build.sh [release|asan]
#     release  build/release: optimised, warnings as errors (the default)
#     asan     build/asan: debug with AddressSanitizer and UndefinedBehaviorSanitizer
# Environment: CRM_SKIP_SETUP=1 skips the dependency check, CRM_BUILD_JOBS (default 2).
# Builds from all checkouts on this machine take turns (one lock), so two builds never
# compete for the cores.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

variant="${1:-release}"
case "$variant" in
  release) type_args=(-DCMAKE_BUILD_TYPE=Release) ;;
  asan) type_args=(-DCMAKE_BUILD_TYPE=Debug -DCRM_SANITIZE=ON) ;;
  -h | --help)
    awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"
    exit 0
    ;;
  *) die "unknown build variant '$variant' (expected release or asan)" ;;
esac

run_setup
cd "$CRM_ROOT"

build_dir="build/$variant"
lock=/tmp/crm-build.lock

log "configuring $build_dir"
cmake -S . -B "$build_dir" -G Ninja "${type_args[@]}" -DCRM_WERROR=ON

if ! flock -n "$lock" true; then
  log "another build is running; waiting for it to finish"
fi
log "building $build_dir"
flock "$lock" cmake --build "$build_dir" -j"${CRM_BUILD_JOBS:-2}"
log "built $build_dir"
