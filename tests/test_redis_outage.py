"""Two gunicorn workers on a Redis of the test's own, which is paused, then wiped.

Redis is the Socket.IO message queue and the shared seat store. While it is away, the
players must keep being served by their own worker; once it is back, nobody who is
still connected may be announced gone, every signal acked ok must have arrived, and
the room must read right again (peer_count, a newcomer's welcome.peers, capacity).
"""
import os
import signal
import subprocess
import threading
import time

import pytest
import redis as redis_lib
import requests
import socketio

from clients import PyPeer, api_room, api_user
from conftest import redis_env
from servers import Server, free_port, wait_until
from test_signaling_live import server_env

pytestmark = pytest.mark.slow

TTL = GRACE = 4
PREFIX = 'rhystic:'
PER_WORKER = 3


class RedisServer:
    """A throwaway redis-server on a port of its own, with no persistence at all."""

    def __init__(self):
        self.port = free_port()
        self.proc = None
        self.client = redis_lib.Redis(port=self.port, decode_responses=True,
                                      socket_timeout=2)

    @property
    def url(self):
        return f'redis://127.0.0.1:{self.port}/0'

    def start(self):
        self.proc = subprocess.Popen(
            ['redis-server', '--port', str(self.port), '--bind', '127.0.0.1',
             '--save', '', '--appendonly', 'no'],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_until(self._answers, 10, message=f'redis-server on {self.port}')
        return self

    def _answers(self):
        try:
            return self.client.ping()
        except redis_lib.RedisError:
            return False

    def pause(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.resume()  # a stopped process would not act on SIGKILL's exit until then
            self.proc.kill()
            self.proc.wait(10)


class Traffic:
    """Every player signals every other, paced, and remembers each ack."""

    def __init__(self, players, worker_of):
        self.players, self.worker_of = players, worker_of
        self.sent = []  # (sender index, target index, tag, ack, redis_down)
        self.redis_down = False
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(len(players))]
        self.lock = threading.Lock()

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(30)

    def _run(self, i):
        n = 0
        while not self.stop.is_set():
            for j, target in enumerate(self.players):
                if j == i or self.stop.is_set():
                    continue
                n += 1
                self.send(i, j, f'{i}-{n}')
                # Pacing, not synchronisation: stay well under the 50/s per-socket limit.
                self.stop.wait(0.1)

    def send(self, i, j, tag):
        down = self.redis_down
        ack = signal_to(self.players[i], self.players[j], tag)
        with self.lock:
            self.sent.append((i, j, tag, ack, down or self.redis_down))
        return ack

    def local(self, i, j):
        return self.worker_of[self.players[i].peer_id] == self.worker_of[self.players[j].peer_id]

    def served_locally_while_down(self):
        """The workers that relayed a signal between their own players while Redis was away."""
        with self.lock:
            sent = list(self.sent)
        return {self.worker_of[self.players[i].peer_id] for i, j, _, ack, down in sent
                if down and ack == {'ok': True} and self.local(i, j)}

    def summary(self):
        with self.lock:
            sent = list(self.sent)
        counts = {}
        for i, j, _, ack, down in sent:
            key = ('local' if self.local(i, j) else 'cross', 'down' if down else 'up',
                   ack['error']['code'] if isinstance(ack, dict) and not ack.get('ok')
                   else 'ok' if isinstance(ack, dict) else ack)
            counts[key] = counts.get(key, 0) + 1
        return sent, counts


def signal_to(sender, target, tag):
    try:
        return sender.emit('signal', {'to': target.peer_id, 'type': 'ice', 'candidate': {
            'candidate': f'candidate:{tag}', 'sdpMid': '0', 'sdpMLineIndex': 0}}, timeout=20)
    except socketio.exceptions.TimeoutError:
        return 'timeout'


def arrived(sender, target, tag):
    return any(s['from'] == sender.peer_id and s['candidate']['candidate'] == f'candidate:{tag}'
               for s in target.inbox.events('signal'))


@pytest.fixture
def world(tmp_path):
    redis = RedisServer().start()
    env = server_env(tmp_path, **{**redis_env(PREFIX), 'REDIS_URL': redis.url},
                     RHYSTIC_GRACE_SECONDS=str(GRACE), RHYSTIC_WORKER_TTL=str(TTL))
    server = Server(env, workers=2).start()
    peers = []
    yield redis, server, peers
    for peer in peers:
        try:
            peer.close()
        except Exception:  # a client already gone is fine at teardown
            pass
    server.stop()
    redis.stop()
    print(server.log()[-4000:])  # shown when the test fails


def seat_worker(redis, room_id, peer_id):
    return redis.client.hget(f'{PREFIX}seat:{room_id}:{peer_id}', 'worker')


def seat_players(redis, server, room_id, peers):
    """Join until each of the two workers holds PER_WORKER players; surplus ones go."""
    players, worker_of = [], {}
    for n in range(40):
        if len(players) == 2 * PER_WORKER:
            break
        token = api_user(server.url, f'P{n}')['token']
        peer = PyPeer(server.url, room_id, token)
        peers.append(peer)
        worker = seat_worker(redis, room_id, peer.peer_id)
        if sum(w == worker for w in worker_of.values()) >= PER_WORKER:
            peer.close()  # its seat times out after the grace period
            wait_until(lambda: peer_count(server, room_id) == len(players), GRACE + 15,
                       message='a surplus player to be gone')
            continue
        players.append(peer)
        worker_of[peer.peer_id] = worker
    assert len(players) == 2 * PER_WORKER, f'the players landed on one worker: {worker_of}'
    assert len(set(worker_of.values())) == 2
    everyone = {p.peer_id for p in players}
    for peer in players:  # each has heard of each other, through welcome or peer-joined
        wait_until(lambda: everyone - {peer.peer_id} <= {
            p['peer_id'] for p in peer.welcome['peers'] + peer.inbox.events('peer-joined')},
            15, message='every player to know every other')
    return players, worker_of


def probe(url, room_id, token):
    """One fresh join: its welcome, or its connect_error."""
    ns = f'/room/{room_id}'
    sio = socketio.Client(reconnection=False)
    got = []
    sio.on('welcome', lambda data: got.append(('welcome', data)), namespace=ns)
    sio.on('connect_error', lambda data: got.append(('refused', data)), namespace=ns)
    try:
        sio.connect(url, namespaces=[ns], transports=['websocket'], auth={'token': token},
                    wait_timeout=15)
    except socketio.exceptions.ConnectionError:
        pass
    try:
        wait_until(lambda: got, 15, message='welcome or connect_error')
        return got[0], sio
    except AssertionError:
        sio.disconnect()
        raise


def whole_again(server, room_id, players, token):
    """peer_count and a newcomer's welcome.peers name exactly the connected players."""
    everyone = {p.peer_id for p in players}
    count = peer_count(server, room_id)
    if count != len(players):
        return False
    (kind, data), sio = probe(server.url, room_id, token)
    try:
        if kind != 'welcome':
            return False
        return {p['peer_id'] for p in data['peers']} == everyone
    finally:
        sio.disconnect()  # without leave: its seat times out after the grace period


def peer_count(server, room_id):
    return requests.get(f'{server.url}/api/rooms/{room_id}', timeout=5).json()['peer_count']


def refused_at_once(server, room_id, token):
    """A join while Redis is away gets connect_error internal, promptly: no hang."""
    started = time.monotonic()
    (kind, data), sio = probe(server.url, room_id, token)
    sio.disconnect()
    assert kind == 'refused' and data['message'] == 'internal', (kind, data)
    print(f'join refused in {time.monotonic() - started:.1f}s while Redis was away')


def check_recovered(redis, server, room_id, players, traffic, came_back, tokens):
    wait_until(lambda: whole_again(server, room_id, players, tokens[0]), 30, interval=0.5,
               message='peer_count and welcome.peers to be right again')
    print(f'room whole again {time.time() - came_back:.1f}s after Redis came back')
    wait_until(lambda: peer_count(server, room_id) == len(players), GRACE + 15,
               message="the newcomer's seat to be given up")
    # One newcomer fits (max_peers is players + 1); a second one must not overfill.
    (kind, data), first = probe(server.url, room_id, tokens[0])
    assert kind == 'welcome', data
    (kind, data), second = probe(server.url, room_id, tokens[1])
    second.disconnect()
    assert kind == 'refused' and data['message'] == 'room_full', data
    first.disconnect()
    wait_until(lambda: peer_count(server, room_id) == len(players), GRACE + 15,
               message='the newcomer to be gone again')

    # Every pair can signal again, across workers too, and each ok arrives.
    for i in range(len(players)):
        for j in range(len(players)):
            if i != j:
                wait_until(lambda: traffic.send(i, j, f'after-{i}-{j}') == {'ok': True}, 30,
                           interval=0.5, message=f'signals {i} -> {j} to be accepted again')
    sent, counts = traffic.summary()
    print('signal acks by (route, redis, ack):', counts)
    for i, j, tag, ack, down in sent:
        if ack == {'ok': True}:
            try:
                wait_until(lambda: arrived(players[i], players[j], tag), 15)
            except AssertionError:
                seat = redis.client.hgetall(f'{PREFIX}seat:{room_id}:{players[j].peer_id}')
                raise AssertionError(
                    f'signal {tag} acked ok never reached player {j}: '
                    f'{"same worker" if traffic.local(i, j) else "across workers"}, sent '
                    f'{"while Redis was away" if down else "with Redis up"}; the target '
                    f'had {len(players[j].inbox.welcomes)} welcome(s); its seat: '
                    f'{ {k: seat.get(k) for k in ("sid", "worker", "away_until")} }') from None

    # Both workers sweep on past the worker TTL with Redis healthy: by then a worker
    # that wrongly took the other's players for orphans would have done so.
    def beats_after(moment):
        beats = redis.client.hgetall(PREFIX + 'workers')
        return len([b for b in beats.values() if float(b.split()[0]) > moment]) >= 2
    wait_until(lambda: beats_after(came_back + TTL + 1), 30, interval=0.2,
               message='both workers to heart-beat a worker TTL after Redis came back')
    # A control player drops for good: its timeout proves the sweep ran a grace period on.
    control = PyPeer(server.url, room_id, tokens[0])
    control.sio.reconnection = False
    control.sio.disconnect()
    players[0].next('peer-left', match=lambda p: p['peer_id'] == control.peer_id,
                    timeout=GRACE + 15)
    everyone = {p.peer_id for p in players}
    for peer in players:
        gone = [p for p in peer.inbox.events('peer-left') if p['peer_id'] in everyone]
        assert gone == [], f'connected players announced gone: {gone}'
        assert peer.sio.connected
    return counts


def assert_served_locally(traffic):
    """While Redis was away, each worker relayed between its own players, every time."""
    _, counts = traffic.summary()
    assert not [k for k in counts if k[0] == 'local' and k[2] != 'ok'], counts
    assert len(traffic.served_locally_while_down()) == 2, counts


def start_room(redis, server, peers):
    owner = api_user(server.url, 'Owner')
    room_id = api_room(server.url, owner['token'], max_peers=2 * PER_WORKER + 1)
    players, worker_of = seat_players(redis, server, room_id, peers)
    # Accounts for later joins, made now: the HTTP API's rate limits live in Redis too.
    tokens = [api_user(server.url, f'Late{n}')['token'] for n in range(2)]
    return room_id, players, worker_of, tokens


def test_a_paused_redis_evicts_no_one_and_loses_no_acked_signal(world):
    redis, server, peers = world
    room_id, players, worker_of, tokens = start_room(redis, server, peers)
    with Traffic(players, worker_of) as traffic:
        wait_until(lambda: len(traffic.sent) >= 30, 15, message='traffic to flow')
        traffic.redis_down = True
        redis.pause()
        paused = time.monotonic()
        refused_at_once(server, room_id, tokens[1])
        # The scenario: Redis hangs for 12 s (a stall, a failover), not a synchronisation.
        time.sleep(max(0.0, 12 - (time.monotonic() - paused)))
        redis.resume()
        traffic.redis_down = False
        came_back = time.time()
        print(f'paused for {time.monotonic() - paused:.1f}s')
    check_recovered(redis, server, room_id, players, traffic, came_back, tokens)
    assert_served_locally(traffic)


def test_a_redis_restarted_empty_is_refilled_with_the_seats_the_workers_hold(world):
    redis, server, peers = world
    room_id, players, worker_of, tokens = start_room(redis, server, peers)
    with Traffic(players, worker_of) as traffic:
        wait_until(lambda: len(traffic.sent) >= 30, 15, message='traffic to flow')
        traffic.redis_down = True
        redis.stop()
        stopped = time.time()
        refused_at_once(server, room_id, tokens[1])

        def served_while_down():
            _, counts = traffic.summary()
            return len(traffic.served_locally_while_down()) == 2 and sum(
                n for k, n in counts.items() if k[:2] == ('cross', 'down')) >= 5
        wait_until(served_while_down, 30, message='signals to be answered while Redis is down')
        redis.start()
        traffic.redis_down = False
        came_back = time.time()
        print(f'Redis down for {came_back - stopped:.1f}s, back with '
              f'{redis.client.dbsize()} keys')
    check_recovered(redis, server, room_id, players, traffic, came_back, tokens)
    assert_served_locally(traffic)
