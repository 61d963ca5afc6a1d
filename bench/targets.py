"""What bench/signaling.py measures against: the servers under test (the Node reference
relay, the bare python-socketio floor, Rhystic with 1 or 2 workers), the Node load
generators that drive them, and how their processes are read (/proc).

Also used by bench/soak.py and bench/game.py.
"""
import http.cookiejar
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, 'bench')
sys.path.insert(0, os.path.join(ROOT, 'tests'))
from servers import Server, free_port, migrate, wait_until  # noqa: E402

TICK = os.sysconf('SC_CLK_TCK')
PEERS = 8


# -- measuring processes ------------------------------------------------------------------

def rss_kb(pid):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def redis_pid():
    out = subprocess.run(['pgrep', '-x', 'redis-server'], capture_output=True, text=True)
    pids = out.stdout.split()
    return int(pids[0]) if pids else None


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[index]


def node_binary():
    return shutil.which('node') or os.path.join(os.path.dirname(sys.executable), 'node')


def machine():
    def version_of(package_json):
        try:
            with open(package_json) as f:
                return json.load(f)['version']
        except OSError:
            return None

    from importlib.metadata import version
    cpu = next((line.split(':', 1)[1].strip() for line in open('/proc/cpuinfo')
                if line.startswith('model name')), platform.processor())
    redis_version = subprocess.run(['redis-cli', '-h', '127.0.0.1', 'INFO', 'server'],
                                   capture_output=True, text=True).stdout
    redis_version = next((line.split(':', 1)[1].strip() for line in redis_version.split()
                          if line.startswith('redis_version:')), None)
    node_modules = os.path.join(BENCH, 'node_modules')
    return {
        'nproc': os.cpu_count(), 'cpu': cpu, 'kernel': platform.release(),
        'memory_gb': round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30, 1),
        'python': platform.python_version(),
        'node': subprocess.run([node_binary(), '--version'], capture_output=True,
                               text=True).stdout.strip(),
        'redis': redis_version,
        **{name: version(name) for name in (
            'gevent', 'greenlet', 'gunicorn', 'Flask-SocketIO', 'python-socketio',
            'python-engineio', 'simple-websocket', 'orjson')},
        'socket.io': version_of(os.path.join(node_modules, 'socket.io', 'package.json')),
        'socket.io-client': version_of(
            os.path.join(node_modules, 'socket.io-client', 'package.json')),
    }


# -- the servers under test ---------------------------------------------------------------

class NodeReference:
    name = 'node'
    label = 'Node socket.io 4.8 (reference)'

    def __init__(self, log_dir):
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.log_path = os.path.join(log_dir, 'node-reference.log')
        self.proc = None

    def start(self):
        with open(self.log_path, 'ab') as log:
            self.proc = subprocess.Popen(
                [node_binary(), os.path.join(BENCH, 'reference', 'relay.js'), str(self.port)],
                cwd=BENCH, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self._ready, 20, message='the reference relay')
        return self

    def _ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f'reference relay exited: {open(self.log_path).read()[-2000:]}')
        try:
            return requests.get(self.url + '/healthz', timeout=1).ok
        except requests.RequestException:
            return False

    def pids(self):
        return [self.proc.pid]

    def rooms(self, count):
        return [{'id': f'ref-{i:05d}-{secrets.token_hex(3)}', 'token': 'reference-token'}
                for i in range(count)]

    def errors(self):
        text = open(self.log_path, errors='replace').read()
        return [line for line in text.splitlines() if 'Error' in line][:5]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class Rhystic:
    """The real server: gunicorn -k gevent wsgi:app, with Redis when workers > 1."""

    def __init__(self, log_dir, workers, extra_env=()):
        self.workers = workers
        self.name = f'rhystic-{workers}w'
        self.label = f'Rhystic, gevent, {workers} worker{"s" if workers > 1 else ""}' + (
            ' + Redis' if workers > 1 else '')
        self.dir = tempfile.mkdtemp(prefix='rhystic-bench-', dir=log_dir)
        run = secrets.token_hex(4)
        self.env = {
            'RHYSTIC_SECRET_KEY': secrets.token_hex(32),
            'DATABASE_URL': f'sqlite:///{self.dir}/bench.db',
            'RHYSTIC_RATELIMIT_USERS': '100000 per minute',
            'RHYSTIC_RATELIMIT_ROOMS': '100000 per minute',
            'RHYSTIC_RATELIMIT_JOIN_FAILURES': '100000 per minute',
            'RHYSTIC_SIGNAL_RATE': '100000', 'RHYSTIC_SIGNAL_BURST': '100000',
            # Every load generator connects from 127.0.0.1: thousands of sockets, one address.
            'RHYSTIC_MAX_SOCKETS_PER_ADDRESS': '0',
        }
        if workers > 1:
            self.env.update({'REDIS_URL': 'redis://127.0.0.1:6379/0',
                             'RHYSTIC_REDIS_PREFIX': f'rhystic-bench-{run}:',
                             'RHYSTIC_SOCKETIO_CHANNEL': f'rhystic-bench-{run}',
                             # redis-py's pool holds 100 connections and then raises;
                             # hundreds of joins at once need more (bench/README.md).
                             'RHYSTIC_RATELIMIT_STORAGE_OPTIONS': '{"max_connections": 5000}'})
        self.env.update(dict(extra_env))
        self.gc_log = os.path.join(self.dir, 'gc.log')
        self.env['RHYSTIC_GC_LOG'] = self.gc_log  # each collection's pause (wsgi.py)
        self.server = Server(self.env, workers=workers,
                             log_path=os.path.join(self.dir, 'server.log'),
                             extra_args=['--worker-connections', '20000'])
        self.url = self.server.url
        self.http = requests.Session()
        # Bearer tokens only: a session cookie would make every POST need a CSRF token.
        self.http.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))

    def start(self):
        migrate(self.env)
        self.server.start()
        wait_until(lambda: len(self.server.worker_pids()) == self.workers, 20,
                   message='gunicorn workers')
        return self

    def pids(self):
        return self.server.worker_pids()

    def rooms(self, count, rooms_per_user=25):
        def make(chunk):
            start, size = chunk
            user = self.http.post(self.url + '/api/users', json={
                'username': f'bench{start}-{secrets.token_hex(3)}', 'display_name': 'Bench'})
            user.raise_for_status()
            token = user.json()['token']
            made = []
            for _ in range(size):
                room = self.http.post(self.url + '/api/rooms', json={'name': 'bench'},
                                      headers={'Authorization': f'Bearer {token}'})
                room.raise_for_status()
                made.append({'id': room.json()['room_id'], 'token': token})
            return made

        chunks = [(s, min(rooms_per_user, count - s)) for s in range(0, count, rooms_per_user)]
        with ThreadPoolExecutor(4) as pool:
            return [room for made in pool.map(make, chunks) for room in made]

    def gc_pauses(self, start, end):
        """The worker's GC pauses between two time.time() values: count, p99, max, total."""
        try:
            with open(self.gc_log) as f:
                rows = [line.split() for line in f]
        except OSError:
            return None
        rows = [r for r in rows if len(r) == 6 and start <= float(r[1]) <= end]
        wall, cpu = sorted(float(r[3]) for r in rows), sorted(float(r[4]) for r in rows)
        return {'count': len(rows),
                'by_generation': {g: sum(1 for r in rows if r[2] == g) for g in '012'},
                'p99_ms': percentile(wall, 99), 'max_ms': wall[-1] if wall else 0.0,
                'cpu_p99_ms': percentile(cpu, 99), 'cpu_max_ms': cpu[-1] if cpu else 0.0,
                'total_ms': round(sum(wall), 1),
                'over_5ms': sum(1 for x in wall if x > 5),
                'over_20ms': sum(1 for x in wall if x > 20)}

    def errors(self):
        lines = self.server.log().splitlines()
        return [line for line in lines if 'Traceback' in line or ' ERROR ' in line
                or 'CRITICAL' in line or '[ERROR]' in line][:5]

    def stop(self):
        self.server.stop()
        if self.workers > 1:
            import redis
            client = redis.Redis.from_url(self.env['REDIS_URL'])
            keys = list(client.scan_iter(self.env['RHYSTIC_REDIS_PREFIX'] + '*', count=1000))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start:start + 500])


class PythonBare:
    """The floor of the fixed stack: bench/reference/bare.py, python-socketio with
    relay.js's logic and nothing else, under the same gunicorn gevent command."""
    name = 'python-bare'
    label = 'bare python-socketio, gevent, 1 worker (the floor)'

    def __init__(self, log_dir):
        self.dir = tempfile.mkdtemp(prefix='bare-bench-', dir=log_dir)
        self.gc_log = os.path.join(self.dir, 'gc.log')
        self.server = Server({'RHYSTIC_GC_LOG': self.gc_log}, app='bench.reference.bare:app',
                             log_path=os.path.join(self.dir, 'server.log'),
                             extra_args=['--worker-connections', '20000'])
        self.url = self.server.url

    def start(self):
        self.server.start()
        wait_until(lambda: len(self.server.worker_pids()) == 1, 20, message='gunicorn worker')
        return self

    def pids(self):
        return self.server.worker_pids()

    rooms = NodeReference.rooms
    gc_pauses = Rhystic.gc_pauses
    errors = Rhystic.errors

    def stop(self):
        self.server.stop()


# -- the load generators ------------------------------------------------------------------

class LoadGenerators:
    """Several Node processes (bench/loadgen.js, or another script), each owning whole rooms."""

    def __init__(self, count, log_dir, script='loadgen.js'):
        self.stderr_path = os.path.join(log_dir, 'loadgen.stderr')
        self.stderr = open(self.stderr_path, 'ab')
        self.procs = [subprocess.Popen(
            [node_binary(), os.path.join(BENCH, script)], cwd=BENCH,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
            start_new_session=True) for _ in range(count)]

    def ask(self, commands):
        """Send one command to each process (a list, or one for all); return the replies."""
        if isinstance(commands, dict):
            commands = [commands] * len(self.procs)
        for proc, command in zip(self.procs, commands):
            proc.stdin.write((json.dumps(command) + '\n').encode())
            proc.stdin.flush()
        replies = []
        for proc in self.procs:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f'a load generator died: {self.errors()}')
            replies.append(json.loads(line))
        return replies

    def split(self, rooms):
        return [rooms[i::len(self.procs)] for i in range(len(self.procs))]

    def errors(self):
        self.stderr.flush()
        with open(self.stderr_path, errors='replace') as f:
            return f.read().splitlines()

    def close(self):
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    proc.stdin.write(b'{"cmd": "quit"}\n')
                    proc.stdin.flush()
                except BrokenPipeError:
                    pass
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.stderr.close()
