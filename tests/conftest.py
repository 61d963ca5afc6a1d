"""Shared fixtures: an app on SQLite or on a throwaway PostgreSQL database, clients, Redis.

PostgreSQL (127.0.0.1:5432, trust auth) and Redis (127.0.0.1:6379) are real services on
the test machine. Each run creates a database of its own and drops it at the end, and
uses a Redis key prefix of its own, so runs never share state.
"""
import os
import secrets
import uuid

import psycopg
import pytest
import redis as redis_lib

from rhystic import create_app
from rhystic.extensions import db, limiter, socketio

PG_ADMIN = os.environ.get('RHYSTIC_TEST_PG', 'postgresql://postgres@127.0.0.1:5432/test')
REDIS_URL = os.environ.get('RHYSTIC_TEST_REDIS', 'redis://127.0.0.1:6379/0')
TEST_SECRET = 'test-secret-key-' + 'x' * 16
TURN_SECRET = 'test-turn-secret'

BASE_CONFIG = {
    'TESTING': True,
    'SECRET_KEY': TEST_SECRET,
    'TURN_SECRET': TURN_SECRET,
    'TURN_URLS': ['turn:127.0.0.1:3478'],
    'STUN_URLS': ['stun:127.0.0.1:3478'],
    'RATELIMIT_STORAGE_URI': 'memory://',
    'RATELIMIT_USERS': '1000 per minute',
    'RATELIMIT_ROOMS': '1000 per minute',
    'RATELIMIT_TURN': '1000 per minute',
    'RATELIMIT_JOIN_FAILURES': '1000 per minute',
    'REDIS_URL': None,
    'LOG_LEVEL': 'WARNING',
}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI a skipped test is a failed one: something it needed was missing."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get('CI') and report.skipped and not hasattr(report, 'wasxfail'):
        report.outcome = 'failed'
        report.longrepr = f'skipped in CI, which counts as a failure: {report.longrepr}'


@pytest.fixture(scope='session')
def pg_database():
    """A PostgreSQL database for this run only; dropped afterwards."""
    name = f'rhystic_test_{uuid.uuid4().hex[:10]}'
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE {name}')
    base = PG_ADMIN.rsplit('/', 1)[0]
    yield f'{base}/{name}'
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS {name} WITH (FORCE)')


def _migrated_app(config):
    from flask_migrate import upgrade
    app = create_app(config)
    with app.app_context():
        upgrade()
    return app


def _empty_tables(app):
    with app.app_context():
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
        db.session.commit()


@pytest.fixture(params=['sqlite', 'postgresql'])
def app(request, tmp_path):
    """The app, through the real migrations, on each database the product supports."""
    if request.param == 'sqlite':
        url = f'sqlite:///{tmp_path}/rhystic.db'
    else:
        url = request.getfixturevalue('pg_database')
    app = _migrated_app({**BASE_CONFIG, 'SQLALCHEMY_DATABASE_URI': url,
                         })
    if request.param == 'postgresql':
        _empty_tables(app)
    limiter.reset()
    yield app
    _shutdown(app)


@pytest.fixture
def sqlite_app(tmp_path):
    """The app on SQLite only: for tests where the database is not the point."""
    app = _migrated_app({**BASE_CONFIG, 'SQLALCHEMY_DATABASE_URI': f'sqlite:///{tmp_path}/r.db'})
    limiter.reset()
    yield app
    _shutdown(app)


def make_app(tmp_path, **overrides):
    app = _migrated_app({**BASE_CONFIG, 'SQLALCHEMY_DATABASE_URI': f'sqlite:///{tmp_path}/r.db',
                         **overrides})
    limiter.reset()
    return app


def _shutdown(app):
    signaling = app.extensions.get('rhystic.signaling')
    if signaling:
        signaling.running = False
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def redis_prefix():
    """A Redis key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f'rhystic-test:{secrets.token_hex(6)}:'
    yield prefix
    r = redis_lib.Redis.from_url(REDIS_URL)
    keys = list(r.scan_iter(prefix + '*', count=1000))
    if keys:
        r.delete(*keys)


def redis_env(prefix):
    """Server settings that keep a test's Redis state under its own key prefix."""
    return {'REDIS_URL': REDIS_URL, 'RHYSTIC_REDIS_PREFIX': prefix,
            'RHYSTIC_SOCKETIO_CHANNEL': prefix + 'channel',
            'RHYSTIC_RATELIMIT_KEY_PREFIX': prefix + 'limits'}


@pytest.fixture
def redis_client():
    return redis_lib.Redis.from_url(REDIS_URL, decode_responses=True)


def new_user(client, username=None, display_name='Alice'):
    """Create a user through the API; returns the JSON body (with its token)."""
    body = {'display_name': display_name}
    if username:
        body['username'] = username
    response = client.post('/api/users', json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def new_room(client, token, **body):
    response = client.post('/api/rooms', json=body, headers={'Authorization': f'Bearer {token}'})
    assert response.status_code == 201, response.get_json()
    return response.get_json()['room_id']


def socket_client(app, room_id, token=None, **auth):
    """A Flask-SocketIO test client connected to a room's namespace."""
    if token:
        auth['token'] = token
    return socketio.test_client(app, namespace=f'/room/{room_id}', auth=auth or None)


@pytest.fixture
def serve(tmp_path):
    """serve(**env) starts a real gunicorn with live_env plus env; all stop afterwards."""
    from servers import Server, live_env
    started = []

    def start(**env):
        server = Server(live_env(tmp_path, **env)).start()
        started.append(server)
        return server
    yield start
    for server in started:
        server.stop()
