"""Liveness and readiness: /healthz, and /readyz naming whatever it cannot reach."""
import uuid

import psycopg
import pytest

from conftest import BASE_CONFIG, PG_ADMIN, REDIS_URL, _migrated_app, _shutdown, make_app
from servers import free_port


def test_healthz_says_the_process_is_alive(client):
    response = client.get('/healthz')
    assert response.status_code == 200
    assert response.get_json() == {'status': 'ok'}


def test_readyz_is_ready_when_the_database_answers(client):
    response = client.get('/readyz')
    assert response.status_code == 200
    assert response.get_json() == {'status': 'ready', 'checks': ['database']}


def test_readyz_checks_redis_too_when_it_is_configured(tmp_path, redis_prefix):
    app = make_app(tmp_path, REDIS_URL=REDIS_URL, REDIS_PREFIX=redis_prefix, MESSAGE_QUEUE='')
    try:
        response = app.test_client().get('/readyz')
        assert response.status_code == 200
        assert response.get_json()['checks'] == ['database', 'redis']
    finally:
        _shutdown(app)


@pytest.fixture
def doomed_database():
    """A PostgreSQL database of its own, which the test drops while the app runs."""
    name = f'rhystic_readyz_{uuid.uuid4().hex[:10]}'
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE {name}')
    yield name, PG_ADMIN.rsplit('/', 1)[0] + '/' + name
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS {name} WITH (FORCE)')


def test_readyz_is_503_naming_the_database_once_it_is_gone(doomed_database):
    name, url = doomed_database
    app = _migrated_app({**BASE_CONFIG, 'SQLALCHEMY_DATABASE_URI': url})
    try:
        client = app.test_client()
        assert client.get('/readyz').status_code == 200
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE {name} WITH (FORCE)')

        response = client.get('/readyz')
        assert response.status_code == 503
        body = response.get_json()
        assert body['status'] == 'unavailable'
        assert list(body['failing']) == ['database']
        assert body['error'] == {'code': 'unavailable',
                                 'message': 'not ready: database unreachable'}
        # Alive all the same: liveness must not restart a process for its database.
        assert client.get('/healthz').status_code == 200
    finally:
        _shutdown(app)


def test_readyz_is_503_naming_redis_when_redis_is_down(tmp_path):
    app = make_app(tmp_path, REDIS_URL=f'redis://127.0.0.1:{free_port()}/0', MESSAGE_QUEUE='')
    try:
        response = app.test_client().get('/readyz')
        assert response.status_code == 503
        body = response.get_json()
        assert list(body['failing']) == ['redis']
        assert 'redis' in body['error']['message']
    finally:
        _shutdown(app)
