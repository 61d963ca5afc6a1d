"""An anonymous WebSocket flood against one worker, and what everyone else sees meanwhile.

    python -m bench.flood [--seconds 60] [--floods 1] [--json FILE]

Starts Rhystic (gunicorn, one gevent worker), then for --seconds:
- --floods raw Engine.IO WebSockets (no namespace, no sign-in) each send tiny frames
  ('3') as fast as they can; when the server closes one (frame cap, 1008), it opens
  another at once, so the flood never lets up;
- a probe asks /healthz every 50 ms;
- two signaling clients in another room relay a signal every 50 ms.
It prints /healthz and signal round-trip p50/p99/max, frames sent, how many flood
sockets were closed, whether the worker survived, and the machine's load.

As a library, `flood_frames(url, seconds, frames)` is the flooder on its own (the tests
run it in a subprocess: `python -m bench.flood --flood-only URL SECONDS`).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests'))
from clients import PyPeer, api_room, api_user  # noqa: E402
from rawsocket import RawSocket  # noqa: E402
from servers import Server, live_env  # noqa: E402


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))] if values else None


def flood_frames(url, seconds, frames=10**9):
    """Flood for `seconds`, reopening each socket the server closes. Returns
    (frames sent, sockets closed by the server)."""
    deadline, sent, closed = time.monotonic() + seconds, 0, 0
    while time.monotonic() < deadline and sent < frames:
        try:
            raw = RawSocket(url, timeout=5)
        except Exception:
            closed += 1
            continue
        try:
            while time.monotonic() < deadline and sent < frames:
                raw.ws.send('3')
                sent += 1
        except Exception:
            closed += 1
        finally:
            raw.close()
    return sent, closed


def timed(samples, errors, call):
    start = time.perf_counter()
    try:
        call()
        samples.append((time.perf_counter() - start) * 1000)
    except Exception as exc:
        errors.append(repr(exc)[:200])


def probe(url, seconds, room_peers):
    a, b = room_peers
    health, relay, errors = [], [], []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        timed(health, errors, lambda: requests.get(url + '/healthz', timeout=5).raise_for_status())
        timed(relay, errors, lambda: a.emit('signal', {'to': b.peer_id, 'type': 'ice',
                                                       'candidate': None}, timeout=5))
        time.sleep(0.05)
    return health, relay, errors


def run(seconds, floods):
    tmp = tempfile.mkdtemp(prefix='rhystic-flood-')
    server = Server(live_env(tmp), log_path=os.path.join(tmp, 'server.log')).start()
    worker = server.worker_pids()
    peers = []
    try:
        owner = api_user(server.url, 'Owner')
        room = api_room(server.url, owner['token'])
        peers = [PyPeer(server.url, room, api_user(server.url, n)['token']) for n in 'AB']
        procs = [subprocess.Popen([sys.executable, '-m', 'bench.flood', '--flood-only',
                                   server.url, str(seconds)], cwd=ROOT, stdout=subprocess.PIPE,
                                  text=True) for _ in range(floods)]
        health, relay, errors = probe(server.url, seconds, peers)
        flooded = [json.loads(p.communicate(timeout=seconds + 30)[0]) for p in procs]
        survived = server.worker_pids() == worker and server.proc.poll() is None
    finally:
        for peer in peers:
            peer.close()
        server.stop()
    return {
        'seconds': seconds, 'floods': floods, 'load_before': os.getloadavg(),
        'frames_sent': sum(f['sent'] for f in flooded),
        'flood_sockets_closed': sum(f['closed'] for f in flooded),
        'healthz_ms': summary(health), 'signal_ms': summary(relay),
        'errors': errors, 'worker_survived': survived, 'nproc': os.cpu_count(),
    }


def summary(samples):
    return {'n': len(samples), 'p50': percentile(samples, 50), 'p99': percentile(samples, 99),
            'max': max(samples) if samples else None}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seconds', type=float, default=60)
    parser.add_argument('--floods', type=int, default=1)
    parser.add_argument('--json')
    parser.add_argument('--flood-only', nargs=2, metavar=('URL', 'SECONDS'))
    args = parser.parse_args(argv)
    if args.flood_only:
        sent, closed = flood_frames(args.flood_only[0], float(args.flood_only[1]))
        print(json.dumps({'sent': sent, 'closed': closed}))
        return
    result = run(args.seconds, args.floods)
    for name in ('healthz_ms', 'signal_ms'):
        s = result[name]
        print(f"{name:10} n={s['n']:5}  p50={s['p50']:.1f}  p99={s['p99']:.1f}  max={s['max']:.1f}")
    print(f"flood: {result['frames_sent']} frames, {result['flood_sockets_closed']} sockets closed "
          f"by the server; worker survived: {result['worker_survived']}; "
          f"errors: {len(result['errors'])}; load before: {result['load_before']}")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2)


if __name__ == '__main__':
    main()
