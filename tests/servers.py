"""Real processes for integration tests: gunicorn running Rhystic, and coturn.

Tests wait on conditions (a port answering, a log line), never on fixed sleeps.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.dirname(sys.executable)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_until(condition, timeout=10.0, interval=0.05, message='condition'):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out after {timeout}s waiting for {message}')
        time.sleep(interval)


class Server:
    """`gunicorn -k gevent wsgi:app` on a port of its own, with the given environment."""

    def __init__(self, env, port=None, workers=1, log_path=None, extra_args=(), app='wsgi:app'):
        self.port = port or free_port()
        self.app = app
        self.env = {**os.environ, **env}
        self.workers = workers
        self.extra_args = list(extra_args)
        self.log_path = log_path or tempfile.mktemp(prefix='rhystic-server-', suffix='.log')
        self.proc = None

    @property
    def url(self):
        return f'http://127.0.0.1:{self.port}'

    def start(self, timeout=30):
        log = open(self.log_path, 'ab')
        self.proc = subprocess.Popen(
            [os.path.join(VENV_BIN, 'gunicorn'), '-k', 'gevent', '-w', str(self.workers),
             '--worker-connections', '10000', '--bind', f'127.0.0.1:{self.port}',
             '--graceful-timeout', '3', *self.extra_args, self.app],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        wait_until(self._ready, timeout, message=f'server on {self.port} ({self.log_path})')
        return self

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f'server exited {self.proc.returncode}: {self.log()[-3000:]}')
        try:
            return requests.get(self.url + '/healthz', timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def worker_pids(self):
        out = subprocess.run(['pgrep', '-P', str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)

    def kill(self):
        self.stop(signal.SIGKILL)

    def log(self):
        try:
            with open(self.log_path, errors='replace') as f:
                return f.read()
        except OSError:
            return ''


def live_env(tmp_path, name='live', **extra):
    """A real server's environment for one test: fresh secrets, its own SQLite database
    (migrated), and HTTP rate limits out of the way of tests that create many users."""
    import secrets
    env = {
        'RHYSTIC_SECRET_KEY': secrets.token_urlsafe(32),
        'RHYSTIC_TURN_SECRET': 'live-turn-secret',
        'RHYSTIC_TURN_URLS': 'turn:127.0.0.1:3478',
        'DATABASE_URL': f'sqlite:///{tmp_path}/{name}.db',
        'RHYSTIC_LOG_LEVEL': 'WARNING',
        'RHYSTIC_RATELIMIT_USERS': '10000 per minute',
        'RHYSTIC_RATELIMIT_ROOMS': '10000 per minute',
        **extra,
    }
    migrate(env)
    return env


def two_workers(env):
    """Two servers on one environment (one Redis, one database), and a list for the
    peers a test opens: a fixture yields them and both are closed after the test."""
    servers = [Server(env).start(), Server(env).start()]
    peers = []
    try:
        yield servers, peers
    finally:
        for peer in peers:
            peer.close()
        for server in servers:
            server.stop()


def migrate(env):
    subprocess.run([os.path.join(VENV_BIN, 'flask'), '--app', 'wsgi', 'db', 'upgrade'],
                   cwd=ROOT, env={**os.environ, **env}, check=True, capture_output=True)


class Coturn:
    """A real coturn on loopback using the TURN REST secret, with a throwaway user db."""

    def __init__(self, secret, realm='rhystic', port=None, extra_args=(), config_file=None):
        self.secret, self.realm = secret, realm
        self.port = port or free_port()
        self.extra_args = list(extra_args)
        self.config_file = config_file
        self.dir = tempfile.mkdtemp(prefix='rhystic-coturn-')
        self.log_path = os.path.join(self.dir, 'turn.log')
        self.stdout_path = os.path.join(self.dir, 'stdout.log')
        self.proc = None

    def start(self, timeout=15):
        binary = shutil.which('turnserver')
        if binary is None:
            raise AssertionError('coturn (turnserver) is not installed: apt-get install coturn')
        if self.config_file:
            args = ['-c', self.config_file]
        else:
            args = ['-n', '--use-auth-secret', f'--static-auth-secret={self.secret}',
                    f'--realm={self.realm}', '--allow-loopback-peers', '--no-cli',
                    '--fingerprint']
        args += ['--listening-ip=127.0.0.1', f'--listening-port={self.port}',
                 '--relay-ip=127.0.0.1', '--min-port=49160', '--max-port=49999',
                 f'--userdb={os.path.join(self.dir, "turndb")}', f'--log-file={self.log_path}',
                 '--simple-log', '--no-tls', '--no-dtls',
                 f'--pidfile={os.path.join(self.dir, "turn.pid")}', *self.extra_args]
        # Kept, not discarded: a config file's log-file=stdout wins over --log-file, and
        # coturn reports a config line it does not understand only there.
        with open(self.stdout_path, 'ab') as out:
            self.proc = subprocess.Popen([binary, *args], stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self._listening, timeout, message=f'coturn on {self.port}')
        return self

    def _listening(self):
        if self.proc.poll() is not None:
            raise AssertionError(f'coturn exited {self.proc.returncode}: {self.log()[-3000:]}')
        with socket.socket() as s:
            s.settimeout(0.2)
            return s.connect_ex(('127.0.0.1', self.port)) == 0

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        text = ''
        for path in (self.log_path, self.stdout_path):
            try:
                with open(path, errors='replace') as f:
                    text += f.read()
            except OSError:
                pass
        return text
