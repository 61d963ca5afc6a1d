"""Logs: with RHYSTIC_LOG_FORMAT=json every line a real server writes is one JSON object,
the events operators look for are there, and no token, secret or SDP ever is."""
import io
import json
import logging
import secrets

import pytest
import requests

from clients import PyPeer, api_room, api_user, refusal
from conftest import new_user
from rhystic import logs
from rhystic.extensions import db
from rhystic.models import User
from servers import Server, migrate, wait_until

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

