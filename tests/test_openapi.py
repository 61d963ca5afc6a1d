"""schemathesis fuzzes the REST API, as docs/openapi.yaml describes it, on a real server.

It runs every phase (examples, coverage, fuzzing, stateful) and every check except
positive_data_acceptance: the API refuses some strings the schema cannot describe
(display names must be printable, which JSON Schema has no pattern for), and one
use_after_free exception (CHECKS, below).
"""
import os
import secrets
import subprocess
import uuid

import psycopg
import pytest
import requests

from clients import api_user
from conftest import PG_ADMIN
from servers import ROOT, VENV_BIN, Server, migrate

SCHEMA = os.path.join(ROOT, 'docs', 'openapi.yaml')


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    """gunicorn on PostgreSQL, as in production, with rate limits out of the fuzzer's way."""
    name = f'rhystic_openapi_{uuid.uuid4().hex[:10]}'
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE {name}')
    plenty = '100000 per minute'
    env = {
        'RHYSTIC_SECRET_KEY': secrets.token_urlsafe(32),
        'RHYSTIC_TURN_SECRET': 'openapi-turn-secret',
        'RHYSTIC_TURN_URLS': 'turn:127.0.0.1:3478,turns:127.0.0.1:5349',
        'RHYSTIC_STUN_URLS': 'stun:127.0.0.1:3478',
        'DATABASE_URL': PG_ADMIN.rsplit('/', 1)[0] + '/' + name,
        'RHYSTIC_RATELIMIT_STORAGE_URI': 'memory://',
        'RHYSTIC_RATELIMIT_USERS': plenty, 'RHYSTIC_RATELIMIT_ROOMS': plenty,
        'RHYSTIC_RATELIMIT_TURN': plenty, 'RHYSTIC_RATELIMIT_JOIN_FAILURES': plenty,
        'RHYSTIC_RATELIMIT_LOBBY': plenty,
        'RHYSTIC_LOG_LEVEL': 'WARNING',
        # A sign-in provider, so that the /auth pages exist; nothing listens on port 9.
        'RHYSTIC_OAUTH_FUZZIDP_ISSUER': 'http://127.0.0.1:9',
        'RHYSTIC_OAUTH_FUZZIDP_CLIENT_ID': 'fuzz', 'RHYSTIC_OAUTH_FUZZIDP_CLIENT_SECRET': 'fuzz',
    }
    migrate(env)
    server = Server(env).start()
    yield server
    server.stop()
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS {name} WITH (FORCE)')


def test_the_server_serves_the_document(server):
    response = requests.get(server.url + '/api/openapi.yaml', timeout=5)
    assert response.status_code == 200
    assert response.headers['Content-Type'].startswith('application/yaml')
    with open(SCHEMA, 'rb') as f:
        assert response.content == f.read()


# Every check, as in the module docstring. The checks are chosen here rather than with
# --checks on the command line, which would override the one per-operation exception:
# GET .../overlay reports on the link (`active: false` once revoked) rather than being
# the link, so a 200 after DELETE is the documented answer, not a use after free.
CHECKS = '''
checks.positive_data_acceptance.enabled = false

[[operations]]
include-operation-id = "getOverlayLink"
checks.use_after_free.enabled = false
'''


def test_schemathesis_finds_no_500_no_schema_violation_and_no_crash(server, tmp_path):
    token = api_user(server.url, 'Fuzzer')['token']
    report = tmp_path / 'report'
    config = tmp_path / 'schemathesis.toml'
    config.write_text(CHECKS)
    result = subprocess.run(
        [os.path.join(VENV_BIN, 'schemathesis'), '--config-file', str(config),
         'run', SCHEMA, '--url', server.url,
         '--header', f'Authorization: Bearer {token}',
         '--max-examples', os.environ.get('RHYSTIC_FUZZ_EXAMPLES', '60'),
         '--workers', '1', '--request-timeout', '10', '--report', 'junit',
         '--report-dir', str(report), '--no-color'],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)  # its cache goes there
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-12000:]
    assert ' 20 selected / 20 total' in output
    assert 'Internal Server Error' not in server.log()
    assert 'Traceback' not in server.log(), server.log()[-5000:]
    assert server.proc.poll() is None  # still up
