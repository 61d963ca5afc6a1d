"""The game-action benchmark: a table's round trip, action to everyone's update.

    python -m bench.game [--rooms 125] [--seconds 60] [--servers rhystic-1w,rhystic-2w]
                         [--database postgresql] [--json FILE]      (see bench/README.md)

For each server (Rhystic under gunicorn gevent with 1 worker, and with 2 workers sharing
Redis) on a database of its own (a throwaway PostgreSQL database, created and dropped,
or SQLite in a temp dir), it creates --rooms rooms of 8 guest players over HTTP, seats
them all with Node socket.io-client load generators in several processes
(bench/gameload.js), and then every player sends a `game` life action (-1, +1, ...)
every --interval seconds (jittered) for --seconds. An action's round trip is the time
from its send until the `game-update` it caused has reached every member of the room,
sender included (the latest of the 8 arrivals). At the end each table is read back with
`game-sync` and every life total checked against the actions that were acked.

It prints one table and, with --json, writes every figure and the machine's details.
"""
import argparse
import http.cookiejar
import os
import secrets
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from bench.report import finish, fmt, row_adder
from bench.targets import (LoadGenerators, Rhystic, cpu_seconds, machine, percentile,
                           redis_pid)

PEERS = 8
PG_ADMIN = os.environ.get('RHYSTIC_BENCH_PG', os.environ.get(
    'RHYSTIC_TEST_PG', 'postgresql://postgres@127.0.0.1:5432/test'))


# -- the database -----------------------------------------------------------------------

class Database:
    """A throwaway PostgreSQL database (created here, dropped in drop()), or SQLite."""

    def __init__(self, kind, directory):
        self.kind = kind
        if kind == 'postgresql':
            import psycopg
            self.name = f'rhystic_bench_{secrets.token_hex(5)}'
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE {self.name}')
                self.settings = {name: conn.execute(f'SHOW {name}').fetchone()[0] for name in (
                    'server_version', 'fsync', 'synchronous_commit', 'shared_buffers')}
            self.url = f'{PG_ADMIN.rsplit("/", 1)[0]}/{self.name}'
            self.label = f'PostgreSQL {self.settings["server_version"].split()[0]} ({self.name})'
        elif kind == 'sqlite':
            self.name, self.settings = None, {}
            self.url = f'sqlite:///{directory}/bench.db'
            self.label = 'SQLite (one file, shared by the workers)'
        else:
            raise ValueError(f'unknown database {kind!r}')

    def backend_pids(self):
        """PostgreSQL's server processes for this database (their CPU is the SQL's cost)."""
        if self.kind != 'postgresql':
            return []
        import psycopg
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            return [row[0] for row in conn.execute(
                'SELECT pid FROM pg_stat_activity WHERE datname = %s', (self.name,))]

    def commits(self):
        if self.kind != 'postgresql':
            return None
        import psycopg
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            return conn.execute('SELECT xact_commit FROM pg_stat_database WHERE datname = %s',
                                (self.name,)).fetchone()[0]

    def drop(self):
        if self.kind == 'postgresql':
            import psycopg
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS {self.name} WITH (FORCE)')


# -- the server under test --------------------------------------------------------------

class GameServer(Rhystic):
    """bench.signaling's Rhystic on a database of its own, with the game's limits raised."""

    def __init__(self, log_dir, workers, database_kind, env=()):
        super().__init__(log_dir, workers)
        self.database = Database(database_kind, self.dir)
        self.label += f', {self.database.label}'
        extra = {'DATABASE_URL': self.database.url,
                 # Per player (an account in a room); lifted, as the signal rate is.
                 'RHYSTIC_GAME_RATE': '100000', 'RHYSTIC_GAME_BURST': '100000',
                 **dict(env)}
        self.env.update(extra)
        self.server.env.update(extra)

    def tables(self, count, players=PEERS):
        """count rooms, each with `players` guest accounts; the first one hosts."""
        client = requests.Session()
        # Bearer tokens only: a session cookie would make every POST need a CSRF token.
        client.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))

        def make(index):
            seated = []
            for n in range(players):
                user = client.post(self.url + '/api/users', json={'display_name': f'Player {n + 1}'})
                user.raise_for_status()
                seated.append({'token': user.json()['token'], 'user_id': user.json()['user_id']})
            room = client.post(self.url + '/api/rooms', json={'name': f'table {index}'},
                             headers={'Authorization': f'Bearer {seated[0]["token"]}'})
            room.raise_for_status()
            return {'id': room.json()['room_id'], 'players': seated}

        with ThreadPoolExecutor(4) as pool:
            return list(pool.map(make, range(count)))

    def stop(self):
        try:
            super().stop()
        finally:
            self.database.drop()


# -- measuring ------------------------------------------------------------------------------

def machine_busy():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open('/proc/stat') as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


class Meter:
    """CPU seconds of the workers, of Redis, and of this database's PostgreSQL backends."""

    def __init__(self, target):
        self.target = target
        self.workers = target.pids()
        self.redis = redis_pid() if target.workers > 1 else None

    def snapshot(self):
        backends = {}
        for pid in self.target.database.backend_pids():
            try:
                backends[pid] = cpu_seconds(pid)
            except OSError:  # gone between the query and the read
                pass
        return {'workers': sum(cpu_seconds(pid) for pid in self.workers),
                'redis': cpu_seconds(self.redis) if self.redis else 0.0,
                'backends': backends, 'commits': self.target.database.commits(),
                'machine': machine_busy(), 'at': time.monotonic()}

    @staticmethod
    def delta(before, after):
        sql = sum(cpu - before['backends'].get(pid, 0.0)
                  for pid, cpu in after['backends'].items())
        busy = after['machine'][0] - before['machine'][0]
        total = after['machine'][1] - before['machine'][1]
        return {'workers_s': after['workers'] - before['workers'],
                'redis_s': after['redis'] - before['redis'], 'postgres_s': sql,
                'commits': (after['commits'] - before['commits']
                            if after['commits'] is not None else None),
                'machine_busy': round(busy / total, 3) if total else None,
                'wall_s': after['at'] - before['at']}


def summary(values):
    values = sorted(values)
    return {'p50_ms': percentile(values, 50), 'p99_ms': percentile(values, 99),
            'max_ms': values[-1] if values else None, 'count': len(values)}


def play(gens, meter, target, seconds, args):
    before = meter.snapshot()
    replies = gens.ask({'cmd': 'play', 'seconds': seconds, 'intervalMs': args.interval * 1000,
                        'jitter': args.jitter, 'drainMs': args.drain * 1000})
    used = Meter.delta(before, meter.snapshot())
    acked = sum(r['acked'] for r in replies)
    sizes = [r['update_bytes'] for r in replies if r['update_bytes']]

    def per_action(cpu_s):
        return round(cpu_s / acked * 1e6) if acked else None

    return {
        'seconds': seconds, 'players': sum(r['players'] for r in replies),
        'sent': sum(r['sent'] for r in replies), 'acked': acked,
        'ack_errors': sum(r['ack_errors'] for r in replies),
        'complete': sum(r['complete'] for r in replies),
        'incomplete': sum(r['incomplete'] for r in replies),
        'updates_missing': sum(r['updates_missing'] for r in replies),
        'unexpected': sum(r['unexpected'] for r in replies),
        'out_of_order': sum(r['out_of_order'] for r in replies),
        'dropped': sum(r['dropped'] for r in replies),
        'late': sum(r['late'] for r in replies),
        'actions_per_s': round(sum(r['sent'] for r in replies) / seconds, 1),
        'round_trip': summary(x for r in replies for x in r['latencies']),
        'first_update': summary(x for r in replies for x in r['first']),
        'own_update': summary(x for r in replies for x in r['own']),
        'ack': summary(x for r in replies for x in r['acks']),
        'over_50ms': sum(1 for r in replies for x in r['latencies'] if x > 50),
        'update_bytes': round(sum(sizes) / len(sizes)) if sizes else None,
        'server_cpu_s': round(used['workers_s'], 2),
        'server_cores': round(used['workers_s'] / used['wall_s'], 2),
        'cpu_us_per_action': per_action(used['workers_s']),
        'postgres_cpu_us_per_action': (per_action(used['postgres_s'])
                                       if target.database.kind == 'postgresql' else None),
        'redis_cpu_us_per_action': per_action(used['redis_s']) if meter.redis else None,
        'commits': used['commits'],
        'machine_busy': used['machine_busy'],
        'loadgen_cpu_share': round(max(r['loadgen_cpu_ms'] / r['send_ms'] for r in replies), 2),
        'loadgen_lag_max_ms': max(r['loadgen_lag_max_ms'] for r in replies),
    }


def bench_server(target, args, log_dir, say):
    result = {'server': target.name, 'label': target.label, 'env': dict(args.env),
              'database': target.database.label, 'database_settings': target.database.settings,
              'loadavg_before': os.getloadavg()}
    say(f'{target.name}: {args.rooms} rooms x {PEERS} players on {target.database.label}')
    started = time.monotonic()
    tables = target.tables(args.rooms)
    result['setup_s'] = round(time.monotonic() - started, 1)
    meter = Meter(target)
    gens = LoadGenerators(args.procs, log_dir, script='gameload.js')
    try:
        replies = gens.ask([{'cmd': 'join', 'url': target.url, 'rooms': part,
                             'concurrency': args.connect_concurrency}
                            for part in gens.split(tables)])
        result['join'] = {'players': sum(r['connected'] for r in replies),
                          'failed': sum(r['failed'] for r in replies),
                          'errors': [e for r in replies for e in r['errors']][:5],
                          'tables_ready': all(r['tables_ready'] for r in replies),
                          'seconds': round(max(r['ms'] for r in replies) / 1000, 1)}
        say(f"  seated {result['join']['players']} players in {result['join']['seconds']} s")
        before = meter.snapshot()
        time.sleep(args.idle)  # the seated players' cost with no action: pings, upkeep
        idle = Meter.delta(before, meter.snapshot())
        result['idle_cores'] = round(idle['workers_s'] / idle['wall_s'], 3)
        if args.warmup:
            result['warmup'] = play(gens, meter, target, args.warmup, args)
            say(f"  warm-up {args.warmup} s: {_brief(result['warmup'])}")
        result['loadavg_start'] = os.getloadavg()
        result['play'] = play(gens, meter, target, args.seconds, args)
        result['loadavg_end'] = os.getloadavg()
        say(f"  {args.seconds} s: {_brief(result['play'])}")
        replies = gens.ask({'cmd': 'verify'})
        result['verify'] = {'checked': sum(r['checked'] for r in replies),
                            'wrong': sum(r['wrong_count'] for r in replies),
                            'examples': [w for r in replies for w in r['wrong']][:5]}
        gens.ask({'cmd': 'release'})
    finally:
        result['loadgen_errors'] = gens.errors()[:10]
        gens.close()
    return result


def _brief(run):
    trip = run['round_trip']
    return (f"p50 {trip['p50_ms']} p99 {trip['p99_ms']} max {trip['max_ms']} ms, "
            f"{run['acked']}/{run['sent']} acked, {run['ack_errors']} errors, "
            f"{run['incomplete']} incomplete, {run['cpu_us_per_action']} us/action, "
            f"{run['actions_per_s']}/s, load {os.getloadavg()[0]:.1f}")


# -- the report -----------------------------------------------------------------------------

def table(results, args):
    rows = []
    row = row_adder(results, rows)

    def ms(summary_):
        return (f"{fmt(summary_['p50_ms'])} / {fmt(summary_['p99_ms'])} / "
                f"{fmt(summary_['max_ms'], ' ms')}")

    row('database', lambda r: r['database'])
    row('load average at start / end', lambda r: (
        f"{r['loadavg_start'][0]:.1f} / {r['loadavg_end'][0]:.1f}"))
    row('machine busy during the run', lambda r: f"{r['play']['machine_busy'] * 100:.0f} %")
    row('players seated', lambda r: f"{r['join']['players']} ({r['join']['failed']} failed)")
    row('actions sent / acked / errors', lambda r: (
        f"{r['play']['sent']} / {r['play']['acked']} / {r['play']['ack_errors']}"))
    row('actions a second', lambda r: fmt(r['play']['actions_per_s'], '/s'))
    row('round trip to all 8: p50 / p99 / max', lambda r: ms(r['play']['round_trip']))
    row(f'  over 50 ms', lambda r: (
        f"{r['play']['over_50ms']} ({r['play']['over_50ms'] / max(1, r['play']['complete']) * 100:.1f} %)"))
    row('first update: p50 / p99 / max', lambda r: ms(r['play']['first_update']))
    row('ack: p50 / p99 / max', lambda r: ms(r['play']['ack']))
    row('incomplete / updates missing / sockets dropped', lambda r: (
        f"{r['play']['incomplete']} / {r['play']['updates_missing']} / {r['play']['dropped']}"))
    row('life totals checked / wrong', lambda r: (
        f"{r['verify']['checked']} / {r['verify']['wrong']}"))
    row('game-update size', lambda r: fmt(r['play']['update_bytes'], ' B'))
    row('server CPU per action (workers)', lambda r: (
        f"{fmt(r['play']['cpu_us_per_action'], ' µs')} ({r['play']['server_cores']} cores; "
        f"{r['idle_cores']} idle)"))
    row('  PostgreSQL backends per action (at least)', lambda r: fmt(
        r['play']['postgres_cpu_us_per_action'], ' µs'))
    row('  Redis per action', lambda r: fmt(r['play']['redis_cpu_us_per_action'], ' µs'))
    row('load generator CPU share / max lag', lambda r: (
        f"{r['play']['loadgen_cpu_share']} / {r['play']['loadgen_lag_max_ms']} ms"))
    cols = [r['server'] for r in results]
    widths = [max(len(str(x[i])) for x in rows + [['', *cols]]) for i in range(len(cols) + 1)]
    lines = ['  '.join(str(c).ljust(w) for c, w in zip(['', *cols], widths))]
    lines += ['  '.join(str(c).ljust(w) for c, w in zip(x, widths)) for x in rows]
    one = next((r for r in results if r['server'] == 'rhystic-1w'), None)
    if one and one['play']['round_trip']['p99_ms'] is not None:
        p99 = one['play']['round_trip']['p99_ms']
        lines.append(f"target, p99 under 50 ms on one worker: {'met' if p99 < 50 else 'not met'}"
                     f" ({p99:.1f} ms)")
    return '\n'.join(lines)


def problems(result):
    """What makes a run wrong (as against slow): lost, refused or miscounted actions."""
    found = []
    join, run, verify = result.get('join', {}), result.get('play'), result.get('verify')
    if join.get('failed') or not join.get('tables_ready'):
        found.append(f"{result['server']}: seating failed: {join}")
    for name in ('warmup', 'play'):
        run = result.get(name)
        if run and (run['ack_errors'] or run['incomplete'] or run['acked'] != run['sent']
                    or run['dropped']):
            found.append(f"{result['server']} {name}: {run['sent']} sent, {run['acked']} acked, "
                         f"{run['ack_errors']} refused, {run['incomplete']} not seen by all, "
                         f"{run['dropped']} sockets dropped")
    if verify and verify['wrong']:
        found.append(f"{result['server']}: {verify['wrong']} life totals wrong: "
                     f"{verify['examples']}")
    return found


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog='python -m bench.game', description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--servers', default='rhystic-1w,rhystic-2w',
                   help='which to run: rhystic-1w, rhystic-2w (comma separated)')
    p.add_argument('--database', choices=('postgresql', 'sqlite'), default='postgresql',
                   help='a throwaway PostgreSQL database per server (default), or SQLite')
    p.add_argument('--rooms', type=int, default=125, help='rooms of 8 players')
    p.add_argument('--seconds', type=float, default=60, help='length of the measured run')
    p.add_argument('--warmup', type=float, default=5, help='an unmeasured run first')
    p.add_argument('--interval', type=float, default=2.0,
                   help='seconds between one player\'s actions')
    p.add_argument('--jitter', type=float, default=0.25,
                   help='each interval is interval x (1 +- jitter), uniformly')
    p.add_argument('--idle', type=float, default=3,
                   help='seconds to measure the seated players\' idle cost')
    p.add_argument('--drain', type=float, default=10, help='seconds to wait for the last updates')
    p.add_argument('--procs', type=int, default=2, help='load-generator processes')
    p.add_argument('--connect-concurrency', type=int, default=20,
                   help='joins in flight per load generator')
    p.add_argument('--env', metavar='NAME=VALUE', action='append', default=[],
                   type=lambda text: tuple(text.split('=', 1)),
                   help='an extra setting for the servers, for experiments (repeatable)')
    p.add_argument('--json', metavar='FILE')
    p.add_argument('--keep-logs', action='store_true')
    return p.parse_args(argv)


def _stop_on_sigterm(signum, frame):
    raise SystemExit(143)  # unwind, so that every server, database and generator goes


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    if not os.path.isdir(os.path.join(os.path.dirname(__file__), 'node_modules',
                                      'socket.io-client')):
        sys.exit('bench/node_modules is missing: run `npm ci` in bench/ (see bench/README.md)')
    log_dir = tempfile.mkdtemp(prefix='rhystic-bench-game-')
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    info = machine()
    say(f"machine: {info['nproc']} x {info['cpu']}; load average {os.getloadavg()}")
    results, errors = [], []
    for name in args.servers.split(','):
        workers = {'rhystic-1w': 1, 'rhystic-2w': 2}[name]
        target = GameServer(log_dir, workers, args.database, args.env)
        try:
            target.start()
            result = bench_server(target, args, log_dir, say)
        finally:
            target.stop()
        result['server_errors'] = target.errors()
        results.append(result)
        errors += result['loadgen_errors'] + result['server_errors'] + problems(result)
    return finish(table(results, args), results, errors, info, args, log_dir, say)


if __name__ == '__main__':
    sys.exit(main())
