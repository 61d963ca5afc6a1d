"""Graceful shutdown: SIGTERM to a worker hands its peers over to the next process."""
import os
import signal
import socket
import time

import pytest
import requests

from clients import PyPeer, api_room, api_user
from conftest import redis_env
from servers import Server, live_env, wait_until

SHUTDOWN_TIMEOUT = 4
SDP = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n'


def server_env(tmp_path, **extra):
    return live_env(tmp_path, 'shutdown', **{
        'RHYSTIC_LOG_LEVEL': 'INFO', 'RHYSTIC_SHUTDOWN_TIMEOUT': str(SHUTDOWN_TIMEOUT),
        'RHYSTIC_RATELIMIT_STORAGE_URI': 'memory://', **extra})


@pytest.fixture(params=['redis', 'memory'])
def server(request, tmp_path):
    """One worker, as in the Procfile; with Redis (production) or without (state is lost)."""
    extra = {}
    if request.param == 'redis':
        extra = redis_env(request.getfixturevalue('redis_prefix'))
    server = Server(server_env(tmp_path, **extra)).start()
    yield server
    server.stop()


def running(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except FileNotFoundError:
        return False


def test_sigterm_hands_every_peer_over_to_the_next_process(server):
    owner = api_user(server.url, 'Owner')
    room_id = api_room(server.url, owner['token'], name='Shutdown')
    peers = [PyPeer(server.url, room_id, api_user(server.url, f'Player {n}')['token'])
             for n in range(3)]
    try:
        seats = [peer.peer_id for peer in peers]
        [old_worker] = server.worker_pids()
        for peer in peers:
            with peer.inbox.lock:
                peer.inbox.items.clear()  # only what happens from here on

        sent = time.monotonic()
        os.kill(old_worker, signal.SIGTERM)
        wait_until(lambda: not running(old_worker), SHUTDOWN_TIMEOUT + 1,
                   message='the old worker to exit')
        exited = time.monotonic() - sent
        wait_until(lambda: all(len(peer.inbox.welcomes) == 2 for peer in peers), 10,
                   message='every peer to resume')
        resumed = time.monotonic() - sent
        print(f'\nworker exited {exited:.2f}s after SIGTERM; all peers resumed at {resumed:.2f}s')

        new_workers = server.worker_pids()
        assert new_workers and old_worker not in new_workers
        for peer, seat in zip(peers, seats):
            assert peer.welcome['peer_id'] == seat
            assert peer.welcome['resumed'] is True
            assert not peer.inbox.events('peer-left')
        # Everyone still sees everyone: from the welcome, or (when the new process had
        # to rebuild the room, without Redis) from peer-joined as the others come back.
        for peer in peers:
            others = set(seats) - {peer.peer_id}
            wait_until(lambda: others <= {p['peer_id'] for p in peer.welcome['peers']}
                       | {p['peer_id'] for p in peer.inbox.events('peer-joined')}, 5,
                       message='the others to be known again')
        room = requests.get(f'{server.url}/api/rooms/{room_id}', timeout=5,
                            headers={'Authorization': f'Bearer {owner["token"]}'}).json()
        assert room['peer_count'] == 3

        # The seats work on the new process: a signal goes through.
        assert peers[0].emit('signal', {'to': seats[1], 'type': 'offer', 'sdp': SDP}) \
            == {'ok': True}
        assert peers[1].next('signal')['from'] == seats[0]
        assert exited < SHUTDOWN_TIMEOUT
        assert 'graceful timeout' not in server.log()
        assert 'worker draining: 3 sockets handed over' in server.log()
    finally:
        for peer in peers:
            peer.close()


def test_the_shutdown_timeout_bounds_a_worker_that_cannot_finish(tmp_path):
    """A request that never ends must not hold the worker past RHYSTIC_SHUTDOWN_TIMEOUT."""
    server = Server(server_env(tmp_path, RHYSTIC_SHUTDOWN_TIMEOUT='1')).start()
    try:
        [worker] = server.worker_pids()
        before = _sockets(worker)
        # A client that never finishes its request holds a connection open.
        stuck = socket.create_connection(('127.0.0.1', server.port))
        stuck.sendall(b'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n')
        wait_until(lambda: _sockets(worker) > before, 5, message='the worker to accept it')
        sent = time.monotonic()
        os.kill(worker, signal.SIGTERM)
        wait_until(lambda: not running(worker), 6, message='the worker to exit')
        took = time.monotonic() - sent
        # 1 s timeout, then gunicorn's own 1 s ticks and 1 s to kill handlers, then slack.
        assert took < 4.5, took
        assert 'graceful timeout' in server.log()
        stuck.close()
    finally:
        server.stop()


def _sockets(pid):
    count = 0
    for fd in os.listdir(f'/proc/{pid}/fd'):
        try:
            count += os.readlink(f'/proc/{pid}/fd/{fd}').startswith('socket:')
        except OSError:
            pass
    return count
