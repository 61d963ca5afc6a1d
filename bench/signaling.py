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
import os
import signal
import sys
import tempfile
import time

from bench.report import finish, passes, table
from bench.targets import (BENCH, PEERS, LoadGenerators, NodeReference, PythonBare,
                           Rhystic, cpu_seconds, machine, percentile, redis_pid, rss_kb)


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


if __name__ == '__main__':
    sys.exit(main())
