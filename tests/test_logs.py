"""Logs: with RHYSTIC_LOG_FORMAT=json every line a real server writes is one JSON object,
the events operators look for are there, and no token, secret or SDP ever is."""
import io
import json
import logging
import os
import secrets
import sqlite3
import subprocess

import pytest
import requests

from clients import PyPeer, api_room, api_user, refusal
from conftest import new_user
from rhystic import logs
from rhystic.extensions import db
from rhystic.models import User
from servers import ROOT, VENV_BIN, Server, free_port, migrate, wait_until

FIELDS = {'time', 'level', 'logger', 'event', 'room', 'peer', 'user', 'remote_addr'}
SDP_MARKER = 'a=rhystic-sdp-marker-' + secrets.token_hex(6)
SDP = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' + SDP_MARKER + '\r\n'
CANDIDATE = 'candidate:1 1 udp 2122260223 192.0.2.77 54321 typ host ufrag-marker'


@pytest.fixture
def server(tmp_path):
    env = {
        'RHYSTIC_SECRET_KEY': 'secret-key-' + secrets.token_urlsafe(24),
        'RHYSTIC_TURN_SECRET': 'turn-secret-' + secrets.token_urlsafe(24),
        'RHYSTIC_TURN_URLS': 'turn:127.0.0.1:3478',
        'DATABASE_URL': f'sqlite:///{tmp_path}/logs.db',
        'RHYSTIC_RATELIMIT_STORAGE_URI': 'memory://',
        'RHYSTIC_RATELIMIT_TURN': '3 per minute',
        'RHYSTIC_LOG_FORMAT': 'json',
        'RHYSTIC_LOG_LEVEL': 'INFO',
    }
    migrate(env)
    server = Server(env).start()
    yield server, env
    server.stop()


def log_lines(server):
    return [line for line in server.log().splitlines() if line.strip()]


def test_json_lines_carry_the_events_and_never_a_secret(server):
    server, env = server
    url = server.url
    owner, guest = api_user(url, 'Owner'), api_user(url, 'Guest')
    room_id = api_room(url, owner['token'])
    bearer = {'Authorization': f'Bearer {owner["token"]}'}
    credentials = requests.get(url + '/turn', headers=bearer, timeout=5).json()

    a, b = PyPeer(url, room_id, owner['token']), PyPeer(url, room_id, guest['token'])
    try:
        assert a.emit('signal', {'to': b.peer_id, 'type': 'offer', 'sdp': SDP})['ok']
        assert b.emit('signal', {'to': a.peer_id, 'type': 'answer', 'sdp': SDP})['ok']
        assert a.emit('signal', {'to': b.peer_id, 'type': 'ice',
                                 'candidate': {'candidate': CANDIDATE}})['ok']
        resume_secret = b.welcome['resume']
        # A drop and a resume, then a goodbye.
        b.sio.eio.ws.close()
        wait_until(lambda: len(b.inbox.welcomes) == 2, 10, message='b to resume')
        assert b.emit('leave') == {'ok': True}
        refusal(url, room_id, token='not-a-valid-token-' + secrets.token_hex(8))
        refusal(url, 'no-such-room', token=owner['token'])
    finally:
        a.close()
        b.close()
    while requests.get(url + '/turn', headers=bearer, timeout=5).status_code != 429:
        pass
    session = requests.Session()
    session.post(url + '/api/users', json={'display_name': 'Cookie'}, timeout=5)
    assert session.post(url + '/api/rooms', json={}, timeout=5).status_code == 403  # CSRF

    wait_until(lambda: any('"peer_left"' in line for line in log_lines(server)), 5,
               message='the leave to be logged')
    entries = []
    for line in log_lines(server):
        entry = json.loads(line)  # every line, gunicorn's own included
        assert isinstance(entry, dict), line
        assert FIELDS <= set(entry), line
        entries.append(entry)

    events = {}
    for entry in entries:
        events.setdefault(entry['event'], []).append(entry)
    for name in ('user_created', 'room_created', 'turn_issued', 'peer_joined', 'peer_resumed',
                 'peer_left', 'join_refused', 'rate_limited', 'csrf_refused'):
        assert name in events, f'no {name} logged: {sorted(filter(None, events))}'
    joined = events['peer_joined'][0]
    assert joined['room'] == room_id and joined['peer'].startswith('p_')
    assert joined['user'] in (owner['user_id'], guest['user_id'])
    assert joined['remote_addr'] == '127.0.0.1'
    assert {e['reason'] for e in events['join_refused']} >= {'unauthorized', 'room_not_found'}
    assert events['peer_resumed'][0]['peer'] == b.peer_id

    text = '\n'.join(log_lines(server))
    secrets_seen = {
        'API token': owner['token'], 'guest token': guest['token'],
        'secret key': env['RHYSTIC_SECRET_KEY'], 'TURN secret': env['RHYSTIC_TURN_SECRET'],
        'TURN credential': credentials['credential'], 'resume secret': resume_secret,
        'SDP': SDP_MARKER, 'ICE candidate': 'ufrag-marker', 'v=0 of an SDP': 'o=- 1 2 IN',
    }
    for what, value in secrets_seen.items():
        assert value not in text, f'the {what} appears in the logs'


def test_text_format_is_the_default_and_one_line_per_event(tmp_path):
    env = {'RHYSTIC_SECRET_KEY': secrets.token_urlsafe(24),
           'DATABASE_URL': f'sqlite:///{tmp_path}/text.db', 'RHYSTIC_LOG_LEVEL': 'INFO'}
    migrate(env)
    server = Server(env).start()
    try:
        user = api_user(server.url)
        lines = wait_until(lambda: [l for l in log_lines(server) if 'user created' in l], 5,
                           message='the user_created line')
        assert len(lines) == 1
        assert f'event=user_created user={user["user_id"]}' in lines[0]
        assert user['token'] not in server.log()
    finally:
        server.stop()


# --- a database error: the statement, never the values ---------------------------------

def break_renames(app):
    """Make the next UPDATE of users fail, the way each database reports it."""
    if db.engine.dialect.name == 'sqlite':
        return ("CREATE TRIGGER no_rename BEFORE UPDATE ON users "
                "BEGIN SELECT RAISE(ABORT, 'renames are off'); END", 'DROP TRIGGER no_rename')
    # PostgreSQL's DETAIL repeats the whole failing row: name, user id, token hash.
    return ("ALTER TABLE users ADD CONSTRAINT no_rename CHECK (display_name = 'Alice')",
            'ALTER TABLE users DROP CONSTRAINT no_rename')


def test_sqlalchemy_keeps_bound_values_out_of_its_errors(app):
    marker = 'value-' + secrets.token_hex(6)
    with app.app_context():
        with pytest.raises(Exception) as caught:
            db.session.execute(db.text('SELECT * FROM no_such_table WHERE x = :v'), {'v': marker})
        db.session.rollback()
    assert 'no_such_table' in str(caught.value)
    assert marker not in str(caught.value) and 'parameters hidden' in str(caught.value)


@pytest.mark.parametrize('log_format', ['json', 'text'])
def test_a_database_error_is_logged_without_the_values(app, log_format):
    app.config['LOG_FORMAT'] = log_format
    logs.init_app(app)
    stream = io.StringIO()
    logging.getLogger('rhystic').handlers[0].setStream(stream)
    # The migrations' fileConfig (alembic's env.py) disabled the loggers made before it.
    logging.getLogger('rhystic.errors').disabled = False
    client = app.test_client()
    alice = new_user(client, 'alice', 'Alice')
    new_name = 'Zed ' + secrets.token_hex(6)
    with app.app_context():
        token_hash = User.by_public_id(alice['user_id']).token_hash
        breaking, repair = break_renames(app)
        db.session.execute(db.text(breaking))
        db.session.commit()
    try:
        response = client.patch('/api/me', json={'display_name': new_name},
                                headers={'Authorization': f'Bearer {alice["token"]}'})
    finally:
        with app.app_context():
            db.session.execute(db.text(repair))
            db.session.commit()
    assert response.status_code == 500
    assert response.get_json()['error']['code'] == 'internal'
    assert new_name not in response.get_data(as_text=True)

    text = stream.getvalue()
    if log_format == 'json':
        text = '\n'.join(json.loads(line)['exception'] for line in text.splitlines())
    assert 'UPDATE users SET display_name' in text and 'IntegrityError' in text, text
    for what, value in {'new name': new_name, 'token hash': token_hash, 'token': alice['token'],
                        'user id': alice['user_id'], 'username': "'alice'"}.items():
        assert value not in text, f'the {what} appears in the log: {text}'
    assert ', alice,' not in text and '(alice' not in text, text


# --- every line JSON, whoever writes it ------------------------------------------------

def json_lines(text):
    """Every line of a process's output as JSON objects; fails on the first that is not."""
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            entry = json.loads(line)
        except ValueError:
            raise AssertionError(f'line {number} is not JSON: {line!r}\n{text[-3000:]}') from None
        assert isinstance(entry, dict) and FIELDS <= set(entry), line
        entries.append(entry)
    return entries


# The loggers tests/noisy_app.py writes to, each with and without a traceback.
THIRD_PARTY = ('engineio.server', 'socketio.server', 'simple_websocket', 'sqlalchemy.engine',
               'werkzeug', 'gunicorn.error', 'flask_limiter')


def test_every_line_a_json_server_writes_is_json_whoever_writes_it(tmp_path):
    env = {'RHYSTIC_SECRET_KEY': secrets.token_urlsafe(24), 'RHYSTIC_LOG_FORMAT': 'json',
           'RHYSTIC_LOG_LEVEL': 'INFO', 'DATABASE_URL': f'sqlite:///{tmp_path}/noise.db'}
    migrate(env)
    server = Server(env, app='noisy_app:app', extra_args=['--pythonpath', 'tests']).start()
    try:
        owner = api_user(server.url, 'Owner')
        # Third-party loggers, a warning, a thread and a background task that fail, and
        # a raw line on stderr, all from inside the worker.
        assert requests.get(server.url + '/_test/noise', timeout=5).json() == {'ok': True}
        # Engine.IO's own complaints about clients.
        requests.get(server.url + '/socket.io/?EIO=4&transport=polling&sid=nope', timeout=5)
        requests.get(server.url + '/socket.io/?EIO=3&transport=polling', timeout=5)
        # A database error: its traceback inside one JSON object, without the values.
        with sqlite3.connect(f'{tmp_path}/noise.db') as conn:
            conn.execute('DROP TABLE rooms')
        room_name = 'Room ' + secrets.token_hex(6)
        response = requests.post(server.url + '/api/rooms', json={'name': room_name},
                                 headers={'Authorization': f'Bearer {owner["token"]}'},
                                 timeout=5)
        assert response.status_code == 500
        wait_until(lambda: all(f'{what} failed on purpose' in server.log()
                               for what in ('a thread', 'a background task')), 10,
                   message='the failing thread and task to be reported')
    finally:
        server.stop()
    entries = json_lines(server.log())  # gunicorn's shutdown lines included

    def entry(condition, what):
        found = [e for e in entries if condition(e)]
        assert found, f'nothing logged for {what}'
        return found[0]

    for what in ('a thread', 'a background task'):
        failed = entry(lambda e: f'{what} failed on purpose' in (e.get('exception') or ''), what)
        assert failed['level'] == 'error'
        assert 'Traceback (most recent call last)' in failed['exception']
    for name in THIRD_PARTY:
        said = entry(lambda e: e['logger'] == name and 'says hello' in e['message'], name)
        assert said['message'] == f'{name} says hello\nover two lines'
        entry(lambda e: e['logger'] == name and 'RuntimeError' in (e.get('exception') or ''),
              f'{name} with a traceback')
    entry(lambda e: 'a warning on purpose' in e['message'], 'the warning')
    entry(lambda e: e['message'] == 'a raw line on stderr', 'the raw stderr line')
    entry(lambda e: 'Invalid session' in e['message'], "Engine.IO's invalid session")
    db_error = entry(lambda e: e['event'] == 'error' and e['path'] == '/api/rooms', 'the 500')
    assert 'no such table: rooms' in db_error['exception']
    leaks = [line for line in server.log().splitlines() if room_name in line]
    assert not leaks, leaks


def test_a_refusal_to_start_is_one_json_line_in_json_mode(tmp_path):
    env = {'PATH': os.environ['PATH'], 'HOME': str(tmp_path), 'RHYSTIC_LOG_FORMAT': 'json',
           'DATABASE_URL': f'sqlite:///{tmp_path}/refused.db'}   # and no RHYSTIC_SECRET_KEY
    done = subprocess.run(
        [os.path.join(VENV_BIN, 'gunicorn'), '-k', 'gevent', '-w', '1',
         '--bind', f'127.0.0.1:{free_port()}', 'wsgi:app'],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode != 0
    entries = json_lines(done.stdout + done.stderr)
    refusals = [e for e in entries if 'RHYSTIC_SECRET_KEY' in e['message']]
    assert len(refusals) == 1 and refusals[0]['level'] in ('error', 'critical'), entries
