"""`./setup.sh --run` serves Rhystic, the README's curl examples work against it as written,
and the Procfile's two commands run.
"""
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess

import pytest
import redis as redis_lib
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


def stun_answers(port):
    """A STUN Binding request to 127.0.0.1:port over UDP gets its success response."""
    transaction = os.urandom(12)
    request = struct.pack('!HHI', 0x0001, 0, 0x2112A442) + transaction
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(request, ('127.0.0.1', port))
        try:
            answer, _ = sock.recvfrom(2048)
        except OSError:
            return False
    return answer[:2] == b'\x01\x01' and answer[8:20] == transaction


def coturn_port(run):
    found = re.findall(r'starting coturn on (\d+)', run.log())
    assert found, run.log()
    return int(found[-1])


def test_two_setup_runs_get_coturns_of_their_own(tmp_path):
    """Two checkouts each run ./setup.sh --run: the second one's coturn moves to a free
    port, says so, and its app hands out that port; both coturns answer."""
    (tmp_path / 'a').mkdir()
    (tmp_path / 'b').mkdir()
    first = SetupRun(tmp_path / 'a').start()
    second = SetupRun(tmp_path / 'b')
    try:
        wait_until(lambda: stun_answers(coturn_port(first)), timeout=15,
                   message='the first coturn')
        second.start()
        one, two = coturn_port(first), coturn_port(second)
        assert one != two
        assert 'is in use (another checkout' in second.log()
        wait_until(lambda: stun_answers(two), timeout=15, message='the second coturn')
        assert stun_answers(one)
        session = requests.Session()
        session.headers['X-CSRFToken'] = re.search(
            r'name="csrf-token" content="([^"]+)"',
            session.get(second.base + '/', timeout=5).text).group(1)
        session.post(second.base + '/api/users', json={'display_name': 'Tess'}, timeout=5)
        urls = [url for server in session.get(second.base + '/api/ice-servers', timeout=5)
                .json() for url in server['urls']]
        assert f'turn:localhost:{two}' in urls, urls
    finally:
        second.stop()
        first.stop()


def test_setup_run_stops_clearly_when_the_chosen_turn_port_is_taken(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
        held.bind(('127.0.0.1', 0))
        port = held.getsockname()[1]
        run = SetupRun(tmp_path)
        run.env['TURN_PORT'] = str(port)
        done = subprocess.run(['./setup.sh', '--run'], cwd=ROOT, env=run.env,
                              capture_output=True, text=True, timeout=240)
    assert done.returncode == 1
    assert f'TURN_PORT={port} is in use' in done.stderr, done.stderr


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


# --- ./setup.sh --test: what the tests need, before any test runs ------------------------

def path_without(tmp_path, hidden, fakes=None):
    """A PATH with every program of this one except `hidden`, plus `fakes` (name: script)."""
    farm = tmp_path / 'bin'
    farm.mkdir()
    for directory in os.environ['PATH'].split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            program = os.path.join(directory, name)
            if name in hidden or (farm / name).exists() or not os.access(program, os.X_OK):
                continue
            (farm / name).symlink_to(program)
    for name, script in (fakes or {}).items():
        (farm / name).write_text('#!/bin/sh\n' + script)
        (farm / name).chmod(0o755)
    return str(farm)


def fake_id(uid):
    return f'[ "$1" = -u ] && {{ echo {uid}; exit 0; }}\nexec {shutil.which("id")} "$@"\n'


# apt-get that records its arguments and "installs" by making the programs appear.
FAKE_APT = '''echo "$*" >> "$APT_CALLS"
case "$*" in *install*)
  case "$*" in *coturn*) for p in turnserver turnutils_uclient; do
    printf '#!/bin/sh\\n' > "$FAKE_BIN/$p"; chmod 755 "$FAKE_BIN/$p"; done;; esac
  case "$*" in *chromium*) printf '#!/bin/sh\\n' > "$RHYSTIC_CHROMIUM"
    chmod 755 "$RHYSTIC_CHROMIUM";; esac;;
esac
'''
COTURN = ('turnserver', 'turnutils_uclient')


def setup_test(tmp_path, path, **env):
    """./setup.sh --test on one quick test; returns (process, whether pytest ran)."""
    junit = tmp_path / 'ran.xml'
    environ = {**os.environ, 'PATH': path, 'RHYSTIC_CHROMIUM': str(tmp_path / 'chromium'),
               'APT_CALLS': str(tmp_path / 'apt-calls'), 'FAKE_BIN': str(tmp_path / 'bin'),
               'TMPDIR': str(tmp_path), **env}
    done = subprocess.run(
        ['./setup.sh', '--test', '-q', '-p', 'no:cacheprovider', f'--junitxml={junit}',
         'tests/test_setup.py::test_procfile_has_the_required_commands'],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300)
    return done, junit.exists()


def apt_calls(tmp_path):
    calls = tmp_path / 'apt-calls'
    return calls.read_text().splitlines() if calls.exists() else []


@pytest.mark.parametrize('uid,apt', [(1000, True), (0, False)], ids=['not-root', 'no-apt'])
def test_setup_test_stops_with_one_line_when_it_cannot_install(tmp_path, uid, apt):
    fakes = {'id': fake_id(uid), **({'apt-get': FAKE_APT} if apt else {})}
    path = path_without(tmp_path, {*COTURN, 'apt-get', 'id'}, fakes)
    done, pytest_ran = setup_test(tmp_path, path)
    assert done.returncode == 3, done.stdout + done.stderr
    assert not pytest_ran and 'test session starts' not in done.stdout
    assert apt_calls(tmp_path) == []   # not root, or no apt-get: nothing is installed
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    line = lines[0]
    assert line.startswith('setup.sh --test: no test was run') and 'install coturn chromium' in line
    assert f'Chromium must then be at {tmp_path}/chromium' in line
    if apt:
        assert 'as root: apt-get install --no-install-recommends coturn chromium' in line
    else:
        assert 'turnserver and turnutils_uclient' in line


def test_setup_test_names_the_services_that_do_not_answer(tmp_path):
    # Not root, so nothing is started: the line says what to start.
    path = path_without(tmp_path, {'id'}, {'id': fake_id(1000)})
    pg_port, redis_port = free_port(), free_port()
    done, pytest_ran = setup_test(
        tmp_path, path, RHYSTIC_CHROMIUM='/usr/bin/chromium',
        RHYSTIC_TEST_PG=f'postgresql://postgres@127.0.0.1:{pg_port}/test',
        RHYSTIC_TEST_REDIS=f'redis://127.0.0.1:{redis_port}/0')
    assert done.returncode == 3 and not pytest_ran, done.stdout + done.stderr
    [line] = done.stderr.strip().splitlines()
    assert f'start PostgreSQL on 127.0.0.1:{pg_port} with trust authentication' in line
    assert f'start Redis on 127.0.0.1:{redis_port}' in line
    assert 'install' not in line.split('start PostgreSQL')[0].split('no test was run')[1]


def test_setup_test_as_root_on_debian_installs_what_is_missing_then_tests(tmp_path):
    fakes = {'id': fake_id(0), 'apt-get': FAKE_APT}
    path = path_without(tmp_path, {*COTURN, 'apt-get', 'id'}, fakes)
    done, pytest_ran = setup_test(tmp_path, path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert apt_calls(tmp_path) == [
        'update -qq', 'install -y -qq --no-install-recommends coturn chromium']
    assert pytest_ran and '1 passed' in done.stdout


def test_setup_test_as_root_starts_redis_when_it_is_down(tmp_path):
    port = free_port()
    path = path_without(tmp_path, {'id'}, {'id': fake_id(0)})
    started = redis_lib.Redis(port=port, socket_connect_timeout=2)
    try:
        done, pytest_ran = setup_test(tmp_path, path, RHYSTIC_CHROMIUM='/usr/bin/chromium',
                                      RHYSTIC_TEST_REDIS=f'redis://127.0.0.1:{port}/0')
        assert done.returncode == 0 and pytest_ran, done.stdout + done.stderr
        assert f'starting Redis on 127.0.0.1:{port}' in done.stdout
        assert started.ping()
    finally:
        try:
            started.shutdown(nosave=True)
        except redis_lib.ConnectionError:
            pass


def test_setup_test_passes_on_pytest_exit_code_so_no_tests_fails_ci(tmp_path):
    # .ci/run relies on this under set -e: pytest's 5 (no tests ran) is a failure.
    done = subprocess.run(['./setup.sh', '--test', '-q', '-p', 'no:cacheprovider',
                           'tests/test_setup.py', '-k', 'no_test_has_this_name'],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 5, done.stdout + done.stderr
    ci = open(os.path.join(ROOT, '.ci', 'run')).read()
    assert 'set -euo pipefail' in ci and './setup.sh --test' in ci and '.ci/audit' in ci
