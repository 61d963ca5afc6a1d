"""A soak run: one Rhystic worker for --minutes, with sockets held, relayed to and churned.

    python -m bench.soak [--minutes 30] [--hold-rooms 125] [--json FILE]

One load generator holds --hold-rooms rooms of 8 for the whole run and relays --rate
signals a second among them, in rounds of --round seconds. Another churns: --churn-rooms
rooms of 8 join at once, set every link up (offers, answers, candidate lists, as the web
client does), and go; every third round they close their sockets without `leave`, so
their seats wait out the grace period and time out on the server. The worker's RSS is
read every round. It prints RSS after the first --warmup minutes and at the end, the
largest RSS, the GC pauses (wall and CPU time) and the relay latency over the whole run.
"""
import argparse
import os
import signal
import sys
import tempfile
import threading
import time

from bench.report import finish, fmt
from bench.signaling import Meter
from bench.targets import PEERS, LoadGenerators, Rhystic, machine, percentile


def churn(gens, target, rooms, args, stop, counts):
    # A room whose sockets were dropped holds their seats for the grace period (20 s):
    # it waits 30 s before it is used again.
    free_at = {room['id']: 0.0 for room in rooms}
    part = 0
    while not stop.is_set():
        now = time.monotonic()
        batch = [room for room in rooms if free_at[room['id']] <= now][:args.churn_rooms]
        if len(batch) < args.churn_rooms:
            time.sleep(1)
            continue
        part += 1
        leave = part % 3 != 0
        for room in batch:
            free_at[room['id']] = now + (0 if leave else 30)
        reply = gens.ask({'cmd': 'setup', 'url': target.url, 'rooms': batch, 'peers': PEERS,
                          'sdpBytes': 2000, 'mode': args.churn_mode, 'candidates': 12,
                          'batches': 2,
                          'timeoutMs': 30000})[0]
        counts['rooms'] += reply['completed']
        counts['errors'] += reply['errors']
        gens.ask({'cmd': 'release', 'leave': leave})
        counts['dropped' if not leave else 'left'] += len(batch) * PEERS


def soak(target, args, say):
    rooms = target.rooms(args.hold_rooms + 20 * args.churn_rooms)
    held_rooms, churn_rooms = rooms[:args.hold_rooms], rooms[args.hold_rooms:]
    meter = Meter(target)
    holder = LoadGenerators(1, target.dir)
    churner = LoadGenerators(1, target.dir)
    stop, counts = threading.Event(), {'rooms': 0, 'errors': 0, 'left': 0, 'dropped': 0}
    result = {'loadavg_before': os.getloadavg(), 'baseline_rss_kb': meter.rss_kb()}
    try:
        held = holder.ask({'cmd': 'hold', 'url': target.url, 'rooms': held_rooms,
                           'peers': PEERS, 'concurrency': 50})[0]
        result['held'] = held['connected']
        worker = threading.Thread(target=churn, args=(churner, target, churn_rooms, args,
                                                      stop, counts), daemon=True)
        worker.start()
        start, samples, latencies, lost = time.time(), [], [], 0
        while time.time() - start < args.minutes * 60:
            reply = holder.ask({'cmd': 'relay', 'rate': args.rate, 'seconds': args.round,
                                'sdpShare': 0.25, 'sdpBytes': 2000, 'drainMs': 5000})[0]
            latencies += reply['latencies']
            lost += reply['lost']
            samples.append((round(time.time() - start), meter.rss_kb()))
            if len(samples) % 10 == 0:
                say(f'{samples[-1][0]} s: RSS {samples[-1][1] / 1024:.1f} MB, {counts}')
        stop.set()
        worker.join(120)
        end = time.time()
        after_warmup = [kb for t, kb in samples if t >= args.warmup * 60] or [samples[-1][1]]
        latencies.sort()
        result.update({
            'minutes': round((end - start) / 60, 1), 'churn': dict(counts),
            'rss_kb_after_warmup': after_warmup[0], 'rss_kb_end': samples[-1][1],
            'rss_kb_max': max(kb for _, kb in samples), 'rss_samples': samples,
            'relay': {'received': len(latencies), 'lost': lost,
                      'p50_ms': percentile(latencies, 50), 'p99_ms': percentile(latencies, 99),
                      'max_ms': latencies[-1] if latencies else None},
            'gc': target.gc_pauses(start, end), 'loadavg_after': os.getloadavg()})
    finally:
        stop.set()
        result['loadgen_errors'] = (holder.errors() + churner.errors())[:10]
        holder.close()
        churner.close()
    return result


def report(r, args):
    gc = r['gc'] or {}
    return '\n'.join([
        f"soak: {r['minutes']} min, 1 worker, {r['held']} sockets held, relay at "
        f"{args.rate}/s among them; churn: {r['churn']['rooms']} rooms of 8 set up and gone "
        f"({r['churn']['left']} sockets left, {r['churn']['dropped']} dropped without leave)",
        f"load average (1 min) before / after: {r['loadavg_before'][0]:.1f} / "
        f"{r['loadavg_after'][0]:.1f}",
        f"RSS: {r['rss_kb_after_warmup'] / 1024:.1f} MB after {args.warmup:g} min, "
        f"{r['rss_kb_end'] / 1024:.1f} MB at the end, {r['rss_kb_max'] / 1024:.1f} MB at most",
        f"relay: p50 {fmt(r['relay']['p50_ms'])} / p99 {fmt(r['relay']['p99_ms'])} / max "
        f"{fmt(r['relay']['max_ms'])} ms, {r['relay']['received']} received, "
        f"{r['relay']['lost']} lost",
        f"GC: {gc.get('count')} collections {gc.get('by_generation')}, wall p99 / max "
        f"{fmt(gc.get('p99_ms'), '', 2)} / {fmt(gc.get('max_ms'), ' ms', 2)}, CPU p99 / max "
        f"{fmt(gc.get('cpu_p99_ms'), '', 2)} / {fmt(gc.get('cpu_max_ms'), ' ms', 2)}, "
        f"{gc.get('over_5ms')} over 5 ms, {gc.get('over_20ms')} over 20 ms"])


def main(argv=None):
    p = argparse.ArgumentParser(prog='python -m bench.soak', description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--minutes', type=float, default=30)
    p.add_argument('--warmup', type=float, default=2, help='minutes before RSS counts')
    p.add_argument('--hold-rooms', type=int, default=125)
    p.add_argument('--churn-rooms', type=int, default=5)
    p.add_argument('--churn-mode', default='after', choices=['before', 'after'],
                   help='candidates one by one with acks, or in lists without (issue 15)')
    p.add_argument('--rate', type=int, default=200, help='relayed signals a second')
    p.add_argument('--round', type=float, default=10, help='seconds between RSS readings')
    p.add_argument('--json', metavar='FILE')
    p.add_argument('--keep-logs', action='store_true')
    args = p.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(143)))
    log_dir = tempfile.mkdtemp(prefix='rhystic-soak-')
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    target = Rhystic(log_dir, 1).start()
    try:
        result = soak(target, args, say)
    finally:
        target.stop()
    errors = result['loadgen_errors'] + target.errors()
    return finish(report(result, args), [result], errors, machine(), args, log_dir, say)


if __name__ == '__main__':
    sys.exit(main())
