#!/usr/bin/env bash
# Installs a built Batik CRM as a systemd service on this machine (run as root, after
# scripts/build.sh release):
#   /usr/local/bin/crm                       the binary
#   /etc/crm/crm.json                        configuration (kept when it already exists)
#   /etc/crm/crm.env                         secrets as CRM_* variables (kept when it exists)
#   /var/lib/crm                             data directory, owned by the system user crm
#   /etc/systemd/system/crm.service          the unit
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

cd "$CRM_ROOT"
[ "$(id -u)" = 0 ] || die "run as root"
binary=build/release/crm
[ -x "$binary" ] || die "$binary not found: run scripts/build.sh release first"

install -D -m 0755 "$binary" /usr/local/bin/crm
log "installed /usr/local/bin/crm"

if ! id -u crm >/dev/null 2>&1; then
  useradd --system --user-group --home-dir /var/lib/crm --no-create-home \
    --shell /usr/sbin/nologin --comment "Batik CRM" crm
  log "created system user crm"
fi
install -d -o crm -g crm -m 0750 /var/lib/crm

install -d -m 0755 /etc/crm
if [ -e /etc/crm/crm.json ]; then
  log "kept the existing /etc/crm/crm.json"
else
  install -o root -g crm -m 0640 config/crm.example.json /etc/crm/crm.json
  log "installed /etc/crm/crm.json: set database.url before starting the service"
fi
if [ -e /etc/crm/crm.env ]; then
  log "kept the existing /etc/crm/crm.env"
else
  secret="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  umask 027
  cat >/etc/crm/crm.env <<ENV
# Environment of the crm service: CRM_* variables override /etc/crm/crm.json.
CRM_JWT_SECRET=$secret
# CRM_DATABASE_URL=postgresql://crm:PASSWORD@127.0.0.1:5432/crm
ENV
  chown root:crm /etc/crm/crm.env
  chmod 0640 /etc/crm/crm.env
  log "created /etc/crm/crm.env with a new random CRM_JWT_SECRET"
fi

install -m 0644 config/crm.service /etc/systemd/system/crm.service
log "installed /etc/systemd/system/crm.service"
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload
fi

cat <<'NEXT'
Next steps:
  1. set the database URL in /etc/crm/crm.json or /etc/crm/crm.env
  2. (set -a; . /etc/crm/crm.env; runuser -u crm -- /usr/local/bin/crm migrate up --config /etc/crm/crm.json)
  3. systemctl enable --now crm
  4. curl http://127.0.0.1:8080/readyz
NEXT
