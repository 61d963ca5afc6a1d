"""The signaling benchmark: Rhystic under gunicorn gevent beside the Node reference relay.

    python -m bench.signaling [--json FILE] [sizes...]     (see --help, bench/README.md)

For each server (the Node socket.io reference, Rhystic with 1 worker, Rhystic with 2
workers sharing Redis) it runs, with Node socket.io-client load generators in several
processes (bench/loadgen.js):

0. room setup: --setup-rooms rooms of 8 set up at once, with every link's offer, answer
   and --candidates ICE candidates each way, sent as the web client sent them before
   issue 15 (one signal with an ack each) and after (in lists, without an ack), and
   with joins only: server CPU per room, and the frames it reads and writes;
1. join storm: 8 peers join each of --storm-rooms rooms at once, following the offer
   rule; time until every room has its 28 offer/answer pairs, p50/p99 per room;
2. sockets held: --hold-rooms x 8 peers connected and idle: time to connect them all,
   server RSS per peer above the idle server, then a relay run at --hold-rate;
3. relay latency at each of --rates over --rooms x 8 peers: p50/p99/max one-way
   latency, loss, server CPU per relayed signal;
4. the highest sustained rate (--search-rates, ascending) with p99 under --p99-limit ms
   and nothing lost.

It prints one table and, with --json, writes every figure and the machine's details.
"""
import argparse
import http.cookiejar
import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
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


# -- the phases -----------------------------------------------------------------------------

class Meter:
    """Server CPU seconds and RSS across its worker processes (and Redis's CPU)."""

    def __init__(self, target):
        self.pids = target.pids()
        self.redis = redis_pid() if getattr(target, 'workers', 1) > 1 else None

    def cpu(self):
        total = sum(cpu_seconds(pid) for pid in self.pids)
        return total, (cpu_seconds(self.redis) if self.redis else 0.0)

    def rss_kb(self):
        return sum(rss_kb(pid) for pid in self.pids)


def storm(gens, url, rooms, args):
    replies = gens.ask([{'cmd': 'storm', 'url': url, 'rooms': part, 'peers': PEERS,
                         'sdpBytes': args.sdp_bytes, 'timeoutMs': 60000}
                        for part in gens.split(rooms)])
    times = sorted(t for r in replies for t in r['completions_ms'])
    return {'rooms': len(rooms), 'completed': len(times),
            'errors': sum(r['errors'] for r in replies),
            'incomplete': [x for r in replies for x in r['incomplete']],
            'all_done_ms': times[-1] if len(times) == len(rooms) else None,
            'p50_ms': percentile(times, 50), 'p99_ms': percentile(times, 99)}


# Frames the server reads or writes for one link's setup, per candidate and per list:
# a signal in, its ack out (when asked for) and the relayed signal out.
def frames_per_room(mode, args):
    links = PEERS * (PEERS - 1) // 2
    sdp = 2 * 3  # offer and answer, each acked
    ice = {'join': 0, 'before': 2 * args.candidates * 3,
           'after': 2 * min(args.candidate_batches, args.candidates) * 2}[mode]
    return links * (sdp + ice) if mode != 'join' else 0


def room_setup(gens, meter, url, rooms, mode, args):
    """Server CPU for whole 8-player rooms set up at once (bench/loadgen.js `setup`)."""
    cpu0, redis0, t0 = *meter.cpu(), time.time()
    replies = gens.ask([{'cmd': 'setup', 'url': url, 'rooms': part, 'peers': PEERS,
                         'sdpBytes': args.sdp_bytes, 'mode': mode,
                         'candidates': args.candidates, 'batches': args.candidate_batches,
                         'timeoutMs': 60000} for part in gens.split(rooms)])
    cpu1, redis1 = meter.cpu()
    gens.ask({'cmd': 'release'})
    times = sorted(t for r in replies for t in r['completions_ms'])
    done = len(times)
    return {'window': [t0, time.time()], 'mode': mode, 'rooms': len(rooms), 'completed': done,
            'errors': sum(r['errors'] for r in replies),
            'incomplete': [x for r in replies for x in r.get('incomplete', [])][:5],
            'duplicates': sum(r.get('duplicates', 0) for r in replies),
            'double_offers': sum(r.get('double_offers', 0) for r in replies),
            'frames_per_room': frames_per_room(mode, args),
            'cpu_ms_per_room': round((cpu1 - cpu0) / len(rooms) * 1000, 2),
            'redis_cpu_ms_per_room': (round((redis1 - redis0) / len(rooms) * 1000, 2)
                                      if meter.redis else None),
            'p50_ms': percentile(times, 50), 'p99_ms': percentile(times, 99)}


def hold(gens, url, rooms, args):
    start = time.monotonic()
    replies = gens.ask([{'cmd': 'hold', 'url': url, 'rooms': part, 'peers': PEERS,
                         'concurrency': args.connect_concurrency}
                        for part in gens.split(rooms)])
    return {'peers': sum(r['connected'] for r in replies),
            'failed': sum(r['failed'] for r in replies),
            'errors': [e for r in replies for e in r['errors']][:5],
            'connect_s': time.monotonic() - start}


def relay(gens, meter, rate, seconds, args):
    per_proc = rate / len(gens.procs)
    cpu0, redis0, t0 = *meter.cpu(), time.time()
    replies = gens.ask({'cmd': 'relay', 'rate': per_proc, 'seconds': seconds,
                        'sdpShare': args.sdp_share, 'sdpBytes': args.sdp_bytes,
                        'drainMs': 5000})
    cpu1, redis1 = meter.cpu()
    latencies = sorted(x for r in replies for x in r['latencies'])
    sent = sum(r['sent'] for r in replies)
    received = len(latencies)
    send_s = max(r['send_ms'] for r in replies) / 1000
    return {
        'window': [t0, time.time()],
        'rate': rate, 'seconds': seconds, 'sent': sent, 'received': received,
        'lost': sum(r['lost'] for r in replies), 'acked': sum(r['acked'] for r in replies),
        # A signal that arrives with no send waiting for it: a duplicate, or a stray.
        'unexpected': sum(r.get('unexpected', 0) for r in replies),
        'ack_errors': sum(r['ack_errors'] for r in replies),
        'achieved_rate': round(sent / send_s) if send_s else None,
        'p50_ms': percentile(latencies, 50), 'p99_ms': percentile(latencies, 99),
        'max_ms': latencies[-1] if latencies else None,
        'over_50ms': sum(1 for x in latencies if x > 50),
        'server_cpu_s': round(cpu1 - cpu0, 2),
        'cpu_us_per_msg': round((cpu1 - cpu0) / received * 1e6, 1) if received else None,
        'redis_cpu_us_per_msg': (round((redis1 - redis0) / received * 1e6, 1)
                                 if received and meter.redis else None),
        'loadgen_cpu_share': round(max(r['loadgen_cpu_ms'] / r['send_ms'] for r in replies), 2),
    }


def attach_gc(target, value):
    """Add the GC pauses seen in each run's time window (Rhystic only)."""
    if isinstance(value, dict):
        if 'window' in value and hasattr(target, 'gc_pauses'):
            value['gc'] = target.gc_pauses(*value['window'])
        for item in list(value.values()):
            attach_gc(target, item)
    elif isinstance(value, list):
        for item in value:
            attach_gc(target, item)


def passes(run, args):
    return (run['lost'] == 0 and run['ack_errors'] == 0 and not run.get('unexpected')
            and run['p99_ms'] is not None
            and run['p99_ms'] < args.p99_limit and run['achieved_rate'] >= 0.95 * run['rate'])


def bench_server(target, args, log_dir, say):
    result = {'server': target.name, 'label': target.label, 'env': dict(args.env),
              'loadavg_before': os.getloadavg()}
    setups = len(args.setup_modes) * args.setup_rooms
    rooms = target.rooms(setups + args.storm_rooms + max(args.hold_rooms, args.rooms))
    setup_rooms, rooms = rooms[:setups], rooms[setups:]
    storm_rooms, held_rooms = rooms[:args.storm_rooms], rooms[args.storm_rooms:]
    meter = Meter(target)
    gens = LoadGenerators(args.procs, log_dir)
    try:
        time.sleep(1)
        result['baseline_rss_kb'] = meter.rss_kb()
        result['setup'] = {}
        for i, mode in enumerate(args.setup_modes):
            say(f'{target.name}: room setup ({mode}), {args.setup_rooms} rooms x {PEERS}')
            part = setup_rooms[i * args.setup_rooms:(i + 1) * args.setup_rooms]
            result['setup'][mode] = room_setup(gens, meter, target.url, part, mode, args)
            say(f"  {result['setup'][mode]}")
        if args.storm_rooms:
            say(f'{target.name}: join storm, {args.storm_rooms} rooms x {PEERS}')
            result['storm'] = storm(gens, target.url, storm_rooms, args)
        if args.hold_rooms:
            say(f'{target.name}: holding {args.hold_rooms * PEERS} sockets')
            held = hold(gens, target.url, held_rooms[:args.hold_rooms], args)
            time.sleep(1)
            held['rss_kb'] = meter.rss_kb()
            held['rss_kb_per_peer'] = round(
                (held['rss_kb'] - result['baseline_rss_kb']) / max(1, held['peers']), 1)
            if args.idle_seconds:  # heartbeats only: Engine.IO pings and their pongs
                cpu0, t0 = meter.cpu()[0], time.time()
                time.sleep(args.idle_seconds)
                held['idle'] = {'window': [t0, time.time()], 'cpu_share': round(
                    (meter.cpu()[0] - cpu0) / (time.time() - t0), 3)}
            say(f'{target.name}: relay at {args.hold_rate}/s with {held["peers"]} held')
            held['relay'] = relay(gens, meter, args.hold_rate, args.seconds, args)
            gens.ask({'cmd': 'release'})
            result['hold'] = held
        say(f'{target.name}: relay over {args.rooms * PEERS} sockets')
        result['relay_sockets'] = hold(gens, target.url, held_rooms[:args.rooms], args)
        result['relay'] = []
        for rate in args.rates:
            result['relay'].append(relay(gens, meter, rate, args.seconds, args))
            say(f'  {rate}/s: {_brief(result["relay"][-1])}')
        result['search'] = []
        for rate in args.search_rates:
            run = relay(gens, meter, rate, args.search_seconds, args)
            result['search'].append(run)
            say(f'  search {rate}/s: {_brief(run)}')
            if not passes(run, args):
                break
        ok = [r['rate'] for r in result['search'] if passes(r, args)]
        result['sustained_rate'] = max(ok) if ok else 0
        gens.ask({'cmd': 'release'})
    finally:
        result['loadavg_after'] = os.getloadavg()
        result['loadgen_errors'] = gens.errors()[:10]
        gens.close()
    return result


def _brief(run):
    return (f"p50 {run['p50_ms']} p99 {run['p99_ms']} max {run['max_ms']} ms, "
            f"lost {run['lost']}, "
            + (f"{run['unexpected']} unexpected, " if run.get('unexpected') else '')
            + f"{run['cpu_us_per_msg']} us/msg, "
            f"achieved {run['achieved_rate']}/s")


# -- the report -----------------------------------------------------------------------------

def fmt(value, unit='', digits=1):
    if value is None:
        return '-'
    if isinstance(value, float):
        value = round(value, digits)
    return f'{value}{unit}'


def _gc(run):
    gc = run.get('gc')
    if not gc:
        return '-'
    return (f"{gc['count']}, {fmt(gc['p99_ms'], '', 2)} / {fmt(gc['max_ms'], ' ms', 2)} "
            f"(CPU {fmt(gc['cpu_p99_ms'], '', 2)} / {fmt(gc['cpu_max_ms'], ' ms', 2)})")


def table(results, args):
    cols = [r['server'] for r in results]
    rows = []

    def row(label, get):
        cells = []
        for r in results:
            try:
                cells.append(get(r))
            except (KeyError, IndexError, TypeError):
                cells.append('-')
        rows.append([label, *cells])

    def run_at(r, rate):
        return next(x for x in r['relay'] if x['rate'] == rate)

    row('load average (1 min) before / after', lambda r: (
        f"{r['loadavg_before'][0]:.1f} / {r['loadavg_after'][0]:.1f}"))
    for mode in args.setup_modes:
        label = {'join': 'joins only', 'before': 'ice one by one, acked',
                 'after': f'ice in {args.candidate_batches} lists, no ack'}[mode]
        row(f'room setup CPU per 8-player room ({label})', lambda r, mode=mode: (
            f"{fmt(r['setup'][mode]['cpu_ms_per_room'], ' ms', 2)}, "
            f"{r['setup'][mode]['frames_per_room']} signal frames"))
        row(f'  setup p50 / p99 ({args.setup_rooms} rooms at once)', lambda r, mode=mode: (
            f"{fmt(r['setup'][mode]['p50_ms'], '', 0)} / "
            f"{fmt(r['setup'][mode]['p99_ms'], ' ms', 0)}, "
            f"{r['setup'][mode]['completed']} done"
            + (f", {r['setup'][mode]['duplicates']} candidates delivered twice"
               if r['setup'][mode]['duplicates'] else '')
            + (f", {r['setup'][mode]['double_offers']} links offered from both ends"
               if r['setup'][mode].get('double_offers') else '')))
    if args.storm_rooms:
        row(f'join storm {args.storm_rooms}x8: all rooms done',
            lambda r: fmt(r['storm']['all_done_ms'], ' ms', 0))
        row('join storm: room p50 / p99', lambda r: (
            f"{fmt(r['storm']['p50_ms'], '', 0)} / {fmt(r['storm']['p99_ms'], ' ms', 0)}"))
    if args.hold_rooms:
        row(f'connect {args.hold_rooms * PEERS} sockets', lambda r: (
            f"{fmt(r['hold']['connect_s'], ' s')} ({r['hold']['peers']} ok, "
            f"{r['hold']['failed']} failed)"))
        row('RSS per held peer above idle', lambda r: fmt(r['hold']['rss_kb_per_peer'], ' KB'))
        if args.idle_seconds:
            row(f'  idle CPU with them held ({args.idle_seconds:g} s)', lambda r: (
                f"{fmt(r['hold']['idle']['cpu_share'] * 100, ' % of a core')}"))
        row(f'{args.hold_rate}/s with {args.hold_rooms * PEERS} held: p99 / max', lambda r: (
            f"{fmt(r['hold']['relay']['p99_ms'], '')} / "
            f"{fmt(r['hold']['relay']['max_ms'], ' ms')}, lost {r['hold']['relay']['lost']}"))
        row(f'  CPU per signal at {args.hold_rooms * PEERS} held',
            lambda r: fmt(r['hold']['relay']['cpu_us_per_msg'], ' µs'))
        row('  GC pauses meanwhile: count, p99 / max', lambda r: _gc(r['hold']['relay']))
    for rate in args.rates:
        row(f'{rate}/s over {args.rooms * PEERS}: p50 / p99 / max', lambda r, rate=rate: (
            f"{fmt(run_at(r, rate)['p50_ms'], '')} / {fmt(run_at(r, rate)['p99_ms'], '')} / "
            f"{fmt(run_at(r, rate)['max_ms'], ' ms')}"))
        row(f'  lost / CPU per signal', lambda r, rate=rate: (
            f"{run_at(r, rate)['lost']} / {fmt(run_at(r, rate)['cpu_us_per_msg'], ' µs')}"))
        row('  GC pauses meanwhile: count, p99 / max',
            lambda r, rate=rate: _gc(run_at(r, rate)))
    row(f'sustained rate (p99 < {args.p99_limit} ms, no loss)', lambda r: (
        f"{r['sustained_rate']}/s" + (' (ceiling)' if r['search'] and
                                      passes(r['search'][-1], args) else '')))
    widths = [max(len(str(x[i])) for x in rows + [['', *cols]]) for i in range(len(cols) + 1)]
    lines = ['  '.join(str(c).ljust(w) for c, w in zip(['', *cols], widths))]
    lines += ['  '.join(str(c).ljust(w) for c, w in zip(x, widths)) for x in rows]
    by_name = {r['server']: r for r in results}
    node = by_name.get('node')
    for r in results:
        if node is None or r is node:
            continue
        for rate in args.rates:
            try:
                ours, theirs = run_at(r, rate)['cpu_us_per_msg'], run_at(node, rate)['cpu_us_per_msg']
                lines.append(f'{r["server"]} / node CPU per signal at {rate}/s: '
                             f'{ours / theirs:.2f}x')
            except (KeyError, StopIteration, TypeError, ZeroDivisionError):
                pass
    for r in results:
        if node is None or r is node:
            continue
        for mode in args.setup_modes:
            try:
                ours = r['setup'][mode]['cpu_ms_per_room']
                theirs = node['setup'][mode]['cpu_ms_per_room']
                lines.append(f'{r["server"]} / node CPU per room setup ({mode}): '
                             f'{ours / theirs:.2f}x')
            except (KeyError, TypeError, ZeroDivisionError):
                pass
    lines += _floor_ratios(results, by_name, args)
    one, two = by_name.get('rhystic-1w'), by_name.get('rhystic-2w')
    if one and two and one['sustained_rate']:
        lines.append(f'2 workers / 1 worker sustained rate: '
                     f'{two["sustained_rate"] / one["sustained_rate"]:.2f}x')
    return '\n'.join(lines)


def _floor_ratios(results, by_name, args):
    """Storm p99 against Node's, and Rhystic against the bare stack (python-bare)."""
    lines = []

    def ratio(label, a, b, get):
        try:
            lines.append(f'{label}: {get(a) / get(b):.2f}x')
        except (KeyError, TypeError, ZeroDivisionError):
            pass

    node, bare = by_name.get('node'), by_name.get('python-bare')
    for r in results:
        if node is not None and r is not node and args.storm_rooms:
            ratio(f'{r["server"]} / node join storm p99', r, node,
                  lambda x: x['storm']['p99_ms'])
        if bare is None or r is bare or r is node:
            continue
        for mode in args.setup_modes:
            ratio(f'{r["server"]} / python-bare CPU per room setup ({mode})', r, bare,
                  lambda x, mode=mode: x['setup'][mode]['cpu_ms_per_room'])
        if args.storm_rooms:
            ratio(f'{r["server"]} / python-bare join storm p99', r, bare,
                  lambda x: x['storm']['p99_ms'])
    return lines


def parse_args(argv=None):
    def rates(text):
        return [int(x) for x in text.split(',') if x]

    p = argparse.ArgumentParser(prog='python -m bench.signaling', description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--servers', default='node,rhystic-1w,rhystic-2w',
                   help='which to run: node, python-bare (the floor: bench/reference/bare.py), '
                        'rhystic-1w, rhystic-2w (comma separated)')
    p.add_argument('--setup-rooms', type=int, default=50,
                   help='rooms of 8 set up at once to measure CPU per room setup')
    p.add_argument('--setup-modes', type=lambda t: [x for x in t.split(',') if x],
                   default=['join', 'before', 'after'],
                   help='join (no signals), before (ice one by one, acked), after '
                        '(ice in lists, no ack)')
    p.add_argument('--candidates', type=int, default=12,
                   help='ICE candidates each end of a link sends in a room setup')
    p.add_argument('--candidate-batches', type=int, default=2,
                   help='lists those candidates go in, after the change')
    p.add_argument('--storm-rooms', type=int, default=125)
    p.add_argument('--hold-rooms', type=int, default=1000, help='rooms of 8 held idle')
    p.add_argument('--hold-rate', type=int, default=1000, help='signals/s while held')
    p.add_argument('--rooms', type=int, default=125, help='rooms of 8 for the relay runs')
    p.add_argument('--rates', type=rates, default=[1000, 5000])
    p.add_argument('--seconds', type=float, default=8)
    p.add_argument('--search-rates', type=rates, default=[2000, 4000, 6000, 8000, 10000,
                                                          12000, 14000, 16000])
    p.add_argument('--search-seconds', type=float, default=4)
    p.add_argument('--p99-limit', type=float, default=50.0)
    p.add_argument('--sdp-bytes', type=int, default=2000, help='size of an offer/answer')
    p.add_argument('--sdp-share', type=float, default=0.25,
                   help='share of relayed signals that are SDP; the rest are ICE candidates')
    p.add_argument('--procs', type=int, default=2, help='load-generator processes')
    p.add_argument('--connect-concurrency', type=int, default=100)
    p.add_argument('--idle-seconds', type=float, default=20,
                   help='seconds to measure the server\'s idle CPU with the sockets held')
    p.add_argument('--env', metavar='NAME=VALUE', action='append', default=[],
                   type=lambda text: tuple(text.split('=', 1)),
                   help='an extra setting for Rhystic, for experiments (repeatable)')
    p.add_argument('--json', metavar='FILE')
    p.add_argument('--keep-logs', action='store_true')
    return p.parse_args(argv)


def _stop_on_sigterm(signum, frame):
    raise SystemExit(143)  # unwind, so that every server and load generator is stopped


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    if not os.path.isdir(os.path.join(BENCH, 'node_modules', 'socket.io')):
        sys.exit('bench/node_modules is missing: run `npm ci` in bench/ (see bench/README.md)')
    log_dir = tempfile.mkdtemp(prefix='rhystic-bench-')
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    info = machine()
    say(f"machine: {info['nproc']} x {info['cpu']}; python {info['python']}, "
        f"node {info['node']}")
    makers = {'node': lambda: NodeReference(log_dir),
              'python-bare': lambda: PythonBare(log_dir),
              'rhystic-1w': lambda: Rhystic(log_dir, 1, args.env),
              'rhystic-2w': lambda: Rhystic(log_dir, 2, args.env)}
    results, errors = [], []
    for name in args.servers.split(','):
        target = makers[name]()
        target.start()
        try:
            result = bench_server(target, args, log_dir, say)
        finally:
            target.stop()
        result['server_errors'] = target.errors()
        attach_gc(target, result)
        results.append(result)
        errors += result['loadgen_errors'] + result['server_errors']
    return finish(table(results, args), results, errors, info, args, log_dir, say)


def finish(report, results, errors, info, args, log_dir, say):
    """Print the table and the errors, write --json, drop the logs; the exit status."""
    print(report)
    if errors:
        print('\nerrors:\n' + '\n'.join(errors[:20]))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'machine': info, 'args': vars(args), 'results': results,
                       'errors': errors, 'when': time.strftime('%Y-%m-%dT%H:%M:%S%z')},
                      f, indent=1)
    if not args.keep_logs:
        shutil.rmtree(log_dir, ignore_errors=True)
    else:
        say(f'logs kept in {log_dir}')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
