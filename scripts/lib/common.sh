# shellcheck shell=bash
# Helpers shared by the scripts in scripts/. Source it, do not run it:
#   . "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

if [ -n "${CRM_COMMON_SH_LOADED:-}" ]; then return 0; fi
CRM_COMMON_SH_LOADED=1

# Repository root: two levels above this file (scripts/lib/common.sh).
CRM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export CRM_ROOT

# Compiler cache, shared by every build directory of every checkout on this machine.
export CCACHE_DIR="${CCACHE_DIR:-${HOME:-/root}/.cache/ccache}"
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-5G}"

# log MESSAGE...: one line on stderr, prefixed with the calling script's name.
log() {
  printf '[%s] %s\n' "$(basename "${0%.sh}")" "$*" >&2
}

# die MESSAGE...: log and exit 1.
die() {
  log "error: $*"
  exit 1
}

# run_setup: install the dependencies unless CRM_SKIP_SETUP=1.
run_setup() {
  if [ "${CRM_SKIP_SETUP:-0}" = 1 ]; then
    return 0
  fi
  bash "$CRM_ROOT/scripts/setup.sh"
}

# port_in_use PORT: true when something listens on TCP PORT (any address).
port_in_use() {
  local port="$1"
  if command -v ss >/dev/null 2>&1; then
    [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
  fi
}

# free_port START: print the first TCP port from START upward that nothing listens on.
free_port() {
  local port="$1" last=$(($1 + 1000))
  while [ "$port" -le "$last" ]; do
    if ! port_in_use "$port"; then
      echo "$port"
      return 0
    fi
    port=$((port + 1))
  done
  die "no free TCP port in $1..$last"
}

# on_exit COMMAND: run COMMAND when the script exits, also on failure, Ctrl-C or SIGTERM.
# Commands run in reverse order of registration.
CRM_EXIT_COMMANDS=()
on_exit() {
  CRM_EXIT_COMMANDS+=("$1")
  trap crm_run_exit_commands EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

crm_run_exit_commands() {
  local i
  for ((i = ${#CRM_EXIT_COMMANDS[@]} - 1; i >= 0; i--)); do
    eval "${CRM_EXIT_COMMANDS[$i]}" || true
  done
  CRM_EXIT_COMMANDS=()
}
