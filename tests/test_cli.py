"""Operator commands: `flask turn-config` (run by a real coturn) and `flask prune-rooms`."""
import base64
import os
import re
import secrets
import subprocess
from datetime import timedelta

from conftest import make_app, new_user
from rhystic.extensions import db
from rhystic.models import Room, utcnow
from servers import ROOT, VENV_BIN, Coturn, free_port, wait_until


def flask_cli(args, env):
    """The real `flask --app wsgi ...`, as an operator types it, in a clean environment."""
    clean = {'PATH': os.environ['PATH'], 'HOME': os.environ.get('HOME', '/tmp'), **env}
    return subprocess.run([os.path.join(VENV_BIN, 'flask'), '--app', 'wsgi', *args], cwd=ROOT,
                          env=clean, capture_output=True, text=True, timeout=60)


def uclient(port, username, credential):
    done = subprocess.run(
        ['turnutils_uclient', '-v', '-y', '-n', '2', '-u', username, '-w', credential,
         '-p', str(port), '127.0.0.1'], capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout + done.stderr


def test_turn_config_is_run_by_a_real_coturn(tmp_path):
    secret, realm = secrets.token_urlsafe(24), 'games.example.org'
    port, tls_port = free_port(), free_port()
    env = {'RHYSTIC_SECRET_KEY': 'k' * 32, 'RHYSTIC_TURN_SECRET': secret,
           'RHYSTIC_TURN_REALM': realm, 'RHYSTIC_TURN_URLS': f'turn:127.0.0.1:{port}',
           'DATABASE_URL': f'sqlite:///{tmp_path}/cli.db'}
    done = flask_cli(['turn-config', '--port', str(port), '--tls-port', str(tls_port)], env)
    assert done.returncode == 0, done.stderr
    config_file = tmp_path / 'turnserver.conf'
    config_file.write_text(done.stdout)
    assert f'static-auth-secret={secret}' in done.stdout.splitlines()

    coturn = Coturn('not-used: the secret comes from the file', port=port,
                    config_file=str(config_file)).start()
    try:
        wait_until(lambda: 'Default realm: ' in coturn.log(), message='coturn start-up log')
        log = coturn.log()
        # Every line of the file was understood, and the realm and deny-list took effect.
        assert 'Bad configuration format' not in log, log
        assert f'Default realm: {realm}' in log
        assert 'Black listing: 127.0.0.0-127.255.255.255' in log
        assert 'Black listing: 10.0.0.0-10.255.255.255' in log

        # Credentials from the app, configured the same way, authenticate...
        app = make_app(tmp_path, TURN_SECRET=secret, TURN_REALM=realm,
                       TURN_URLS=[f'turn:127.0.0.1:{port}'])
        client = app.test_client()
        user = new_user(client, 'operator')
        creds = client.get(f'/turn?user_id={user["user_id"]}').get_json()
        code, output = uclient(port, creds['username'], creds['credential'])
        assert 'Cannot complete Allocation' not in output, output
        assert re.search(r'Received relay addr: 127\.0\.0\.1:\d+', output), output
        # ...but the hardened config will not relay to loopback: uclient's peers are the
        # relay addresses on 127.0.0.1, so binding a channel to them must be forbidden.
        assert code != 0
        assert '403 (Forbidden IP)' in output, output

        # A wrong credential never gets an allocation at all.
        raw = bytearray(base64.b64decode(creds['credential']))
        raw[-1] ^= 0x40
        code, output = uclient(port, creds['username'], base64.b64encode(bytes(raw)).decode())
        assert code != 0
        assert 'Cannot complete Allocation' in output, output
        assert 'Received relay addr' not in output
    finally:
        coturn.stop()


def test_turn_config_needs_a_secret(tmp_path):
    app = make_app(tmp_path, TURN_SECRET=None, TURN_URLS=[])
    result = app.test_cli_runner().invoke(args=['turn-config'])
    assert result.exit_code != 0
    assert 'RHYSTIC_TURN_SECRET is not set' in result.output


def test_turn_config_defaults(tmp_path):
    app = make_app(tmp_path, TURN_SECRET='abc', TURN_REALM='here')
    result = app.test_cli_runner().invoke(args=['turn-config'])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert 'listening-port=3478' in lines
    assert 'tls-listening-port=5349' in lines
    assert 'static-auth-secret=abc' in lines and 'realm=here' in lines


def test_prune_rooms(sqlite_app):
    with sqlite_app.app_context():
        stale = Room.create(None, 'stale')
        idle = Room.create(None, 'idle')
        fresh = Room.create(None, 'fresh')
        stale.last_active_at = utcnow() - timedelta(days=40)
        idle.last_active_at = utcnow() - timedelta(days=8)
        db.session.commit()
        ids = stale.id, idle.id, fresh.id
    runner = sqlite_app.test_cli_runner()

    result = runner.invoke(args=['prune-rooms'])  # default: 30 days
    assert result.exit_code == 0, result.output
    assert result.output.strip() == 'pruned 1 room idle for 30+ days'

    result = runner.invoke(args=['prune-rooms', '--idle-days', '7'])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == 'pruned 1 room idle for 7+ days'

    result = runner.invoke(args=['prune-rooms', '--idle-days', '7'])
    assert result.output.strip() == 'pruned 0 rooms idle for 7+ days'
    with sqlite_app.app_context():
        assert [Room.get(room_id) is not None for room_id in ids] == [False, False, True]


def test_prune_rooms_refuses_negative_days(sqlite_app):
    result = sqlite_app.test_cli_runner().invoke(args=['prune-rooms', '--idle-days', '-1'])
    assert result.exit_code == 2
    assert 'Invalid value' in result.output


def test_prune_rooms_from_the_real_cli(tmp_path):
    env = {'RHYSTIC_SECRET_KEY': 'k' * 32, 'DATABASE_URL': f'sqlite:///{tmp_path}/p.db'}
    assert flask_cli(['db', 'upgrade'], env).returncode == 0
    done = flask_cli(['prune-rooms', '--idle-days', '1'], env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == 'pruned 0 rooms idle for 1+ days'
    help_text = flask_cli(['--help'], env).stdout
    assert 'turn-config' in help_text and 'prune-rooms' in help_text
