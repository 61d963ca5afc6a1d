"""`./setup.sh --run` serves Rhystic, the README's curl examples work against it as written,
and the Procfile's two commands run.
"""
import json
import os
import re
import signal
import subprocess

import pytest
import requests

from servers import ROOT, VENV_BIN, free_port, wait_until

README = os.path.join(ROOT, 'README.md')
VARIABLES = {'token': 'TOKEN', 'user_id': 'USER_ID', 'room_id': 'ROOM_ID'}
# Values that are the same for every reader, so the README must show them exactly.
FIXED = ('status', 'name', 'max_peers', 'peer_count', 'ttl', 'display_name')


def readme_section(name):
    text = open(README, encoding='utf-8').read()
    match = re.search(rf'<!-- section: {name} -->\n(.*?)<!-- /section: {name} -->', text, re.S)
    assert match, f'README has no {name} section'
    return match.group(1)


def api_examples():
    """The api section's curl commands, each with the JSON the README says it answers."""
    blocks = re.findall(r'```(\w*)\n(.*?)```', readme_section('api'), re.S)
    examples = []
    for index, (lang, body) in enumerate(blocks):
        if lang != 'sh':
            continue
        # `TOKEN=...   # yours` lines stand for the reader's own values; the test sets
        # those variables from the real responses instead.
        commands = [line for line in body.splitlines()
                    if not re.fullmatch(r'[A-Z_]+=\S+\s*(#.*)?', line.strip())]
        command = '\n'.join(commands).strip()
        if not command:
            continue
        expected = None
        if index + 1 < len(blocks) and blocks[index + 1][0] == 'json':
            expected = json.loads(blocks[index + 1][1])
        examples.append((command, expected))
    return examples


def assert_same_shape(actual, expected, base):
    if isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), actual
        for got, want in zip(actual, expected):
            assert_same_shape(got, want, base)
        return
    assert isinstance(actual, dict), actual
    assert set(actual) == set(expected), (actual, expected)
    for key in FIXED:
        if key in expected:
            assert actual[key] == expected[key], (key, actual, expected)
    if 'error' in expected:
        assert actual['error']['code'] == expected['error']['code'], actual
        assert actual['error'].get('field') == expected['error'].get('field'), actual
    if 'username' in expected and not expected['username'].startswith('guest-'):
        if ':' in expected['username']:   # TURN: "<expiry>:<user_id>"
            assert re.fullmatch(r'\d+:u_[\w-]+', actual['username']), actual
        else:
            assert actual['username'] == expected['username'], actual
    if 'urls' in expected:
        assert actual['urls'] == expected['urls'], actual
    if 'url' in expected:
        assert actual['url'] == f'{base}/r/{actual["room_id"]}', actual


def test_readme_lists_the_setup_commands_first():
    text = open(README, encoding='utf-8').read()
    first_block = re.search(r'```sh\n(.*?)```', text, re.S).group(1)
    assert './setup.sh --run' in first_block and './setup.sh --test' in first_block


def test_readme_configuration_names_every_key():
    from rhystic.config import Defaults
    section = readme_section('configuration')
    for key in ('RHYSTIC_SECRET_KEY', 'RHYSTIC_TURN_SECRET', 'RHYSTIC_TURN_URLS',
                'RHYSTIC_STUN_URLS', 'RHYSTIC_TURN_TTL', 'RHYSTIC_TURN_REALM',
                'RHYSTIC_MAX_PEERS', 'RHYSTIC_DEBUG', 'RHYSTIC_GRACE_SECONDS',
                'RHYSTIC_ICE_TRANSPORT_POLICY', 'DATABASE_URL', 'REDIS_URL', 'PORT'):
        assert f'`{key}`' in section, key
    for key in dir(Defaults):
        if key.isupper() and key not in ('REDIS_URL', 'PORT'):  # deploy names, above
            assert f'RHYSTIC_{key}' in section, key
    assert 'eventlet' in section.lower() and 'gunicorn 26' in section


class SetupRun:
    """`./setup.sh --run` as a reader runs it, on a port and a database of this test's."""

    def __init__(self, tmp_path):
        self.port = free_port()
        self.base = f'http://localhost:{self.port}'
        self.log_path = tmp_path / 'setup.log'
        self.env = {**os.environ, 'PORT': str(self.port),
                    'DATABASE_URL': f'sqlite:///{tmp_path}/setup.db'}
        for name in list(self.env):
            if name.startswith('RHYSTIC_') or name in ('REDIS_URL', 'FLASK_APP'):
                del self.env[name]
        self.proc = None

    def start(self):
        with open(self.log_path, 'ab') as log:
            self.proc = subprocess.Popen(['./setup.sh', '--run'], cwd=ROOT, env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        wait_until(self._ready, timeout=240, interval=0.2,
                   message=f'./setup.sh --run on {self.port}')
        return self

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f'setup.sh exited {self.proc.returncode}: {self.log()}')
        try:
            return requests.get(self.base + '/healthz', timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def log(self):
        return self.log_path.read_text(errors='replace')[-4000:]


@pytest.fixture
def setup_run(tmp_path):
    run = SetupRun(tmp_path)
    yield run.start()
    run.stop()


def test_setup_run_serves_and_the_readme_curl_examples_work(setup_run, tmp_path):
    base = setup_run.base
    assert requests.get(base + '/', timeout=5).status_code == 200
    examples = api_examples()
    assert len(examples) >= 10
    variables = {}
    for command, expected in examples:
        command = command.replace('http://localhost:8080', base)
        done = subprocess.run(['bash', '-c', command], cwd=tmp_path, capture_output=True,
                              text=True, timeout=30, env={**os.environ, **variables})
        assert done.returncode == 0, (command, done.stderr)
        actual = json.loads(done.stdout)
        if expected is not None:
            assert_same_shape(actual, expected, base)
        # TOKEN and USER_ID are alice's (the first user), ROOM_ID the room's.
        if isinstance(actual, dict):
            for field, variable in VARIABLES.items():
                if field in actual and variable not in variables:
                    variables[variable] = actual[field]
    assert set(variables) == {'TOKEN', 'USER_ID', 'ROOM_ID'}


def test_setup_run_is_idempotent(tmp_path):
    first = SetupRun(tmp_path).start()
    first.stop()
    again = SetupRun(tmp_path)
    again.log_path = tmp_path / 'again.log'
    again.start()
    try:
        log = again.log()
        assert 'creating .venv' not in log and 'installing' not in log, log
        assert requests.get(again.base + '/healthz', timeout=5).status_code == 200
    finally:
        again.stop()


def procfile():
    with open(os.path.join(ROOT, 'Procfile')) as f:
        return dict(line.split(': ', 1) for line in f.read().splitlines() if line.strip())


def test_procfile_has_the_required_commands():
    processes = procfile()
    assert processes['web'] == 'gunicorn -k gevent -w 1 --bind 0.0.0.0:$PORT wsgi:app'
    assert processes['release'] == 'flask db upgrade'


def test_procfile_release_then_web_run(tmp_path):
    """As a platform runs them: the release command, then web, with PORT and DATABASE_URL."""
    port = free_port()
    env = {'PATH': f'{VENV_BIN}:{os.environ["PATH"]}', 'HOME': str(tmp_path),
           'PORT': str(port), 'DATABASE_URL': f'sqlite:///{tmp_path}/heroku.db',
           'RHYSTIC_SECRET_KEY': 'procfile-secret-key'}
    processes = procfile()
    release = subprocess.run(['bash', '-c', processes['release']], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    assert release.returncode == 0, release.stderr
    assert 'Running upgrade' in release.stderr

    with open(tmp_path / 'web.log', 'wb') as log:
        web = subprocess.Popen(['bash', '-c', 'exec ' + processes['web']], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def up():
            assert web.poll() is None, (tmp_path / 'web.log').read_text()
            try:
                return requests.get(f'http://127.0.0.1:{port}/healthz', timeout=1).ok
            except requests.RequestException:
                return False
        wait_until(up, timeout=60, message='the Procfile web process')
        created = requests.post(f'http://127.0.0.1:{port}/api/users',
                                json={'username': 'heroku', 'display_name': 'H'}, timeout=5)
        assert created.status_code == 201, created.text
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(30)
