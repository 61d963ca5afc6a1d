"""Two gunicorn gevent processes on two ports, sharing the local Redis."""
import time

import pytest

from clients import PyPeer, api_room, api_user, refusal
from conftest import redis_env
from servers import two_workers, wait_until
from test_signaling_live import SDP, server_env

pytestmark = pytest.mark.slow


@pytest.fixture
def pair(tmp_path, redis_prefix):
    env = server_env(tmp_path, **redis_env(redis_prefix),
                     RHYSTIC_GRACE_SECONDS='4', RHYSTIC_WORKER_TTL='4')
    yield from two_workers(env)


def test_signals_and_capacity_cross_workers_and_a_killed_workers_seats_time_out(pair):
    (one, two), peers = pair
    owner = api_user(one.url, 'Owner')
    room_id = api_room(one.url, owner['token'], max_peers=4)
    tokens = [api_user(one.url, f'P{n}')['token'] for n in range(5)]

    a = PyPeer(one.url, room_id, tokens[0])
    b = PyPeer(two.url, room_id, tokens[1])
    peers += [a, b]
    assert [p['peer_id'] for p in b.welcome['peers']] == [a.peer_id]
    assert a.next('peer-joined')['peer_id'] == b.peer_id, 'announced across workers'

    assert a.emit('signal', {'to': b.peer_id, 'type': 'offer', 'sdp': SDP}) == {'ok': True}
    assert b.next('signal') == {'from': a.peer_id, 'type': 'offer', 'sdp': SDP}
    assert b.emit('signal', {'to': a.peer_id, 'type': 'answer', 'sdp': SDP}) == {'ok': True}
    assert a.next('signal') == {'from': b.peer_id, 'type': 'answer', 'sdp': SDP}

    # Capacity counts seats on both workers: 4 seats, the 5th is refused on either port.
    c = PyPeer(one.url, room_id, tokens[2])
    d = PyPeer(two.url, room_id, tokens[3])
    peers += [c, d]
    for server in (one, two):
        full = refusal(server.url, room_id, token=tokens[4])
        assert full['message'] == 'room_full' and full['data']['max_peers'] == 4

    # SIGKILL the second worker: no disconnect handler runs, so only the heartbeat TTL
    # can free its seats. Its clients are stopped too, so nobody resumes them.
    for peer in (b, d):
        peer.sio.reconnection = False
    two.kill()
    killed = time.monotonic()
    gone = {a.next('peer-left', timeout=30)['peer_id'] for _ in range(2)}
    elapsed = time.monotonic() - killed
    assert gone == {b.peer_id, d.peer_id}
    assert a.inbox.events('peer-left') == []
    assert elapsed < 4 + 4 + 3, f'announced after {elapsed:.1f}s; TTL 4 s + grace 4 s'
    left = c.next('peer-left', match=lambda p: p['peer_id'] == b.peer_id)
    assert left['reason'] == 'timeout'
    e = PyPeer(one.url, room_id, tokens[4])
    peers.append(e)
    assert {p['peer_id'] for p in e.welcome['peers']} == {a.peer_id, c.peer_id}


def test_a_client_of_a_killed_worker_resumes_on_the_other(pair, redis_client, redis_prefix):
    (one, two), peers = pair
    owner = api_user(one.url, 'Owner')
    room_id = api_room(one.url, owner['token'])
    a = PyPeer(one.url, room_id, owner['token'])
    b = PyPeer(two.url, room_id, api_user(one.url, 'B')['token'])
    peers += [a, b]
    a.next('peer-joined')
    b.sio.reconnection = False
    two.kill()
    wait_until(lambda: not b.sio.connected, 15, message='the client to notice')
    # A load balancer would send it to the surviving worker: so do we.
    b.url = one.url
    b.sio = type(b.sio)(reconnection=False)
    for name in ('welcome', 'peer-joined', 'peer-updated', 'peer-left', 'signal'):
        b.sio.on(name, b._recorder(name), namespace=b.ns)
    old = b.peer_id
    b.connect()
    assert b.peer_id == old and b.welcome['resumed'] is True
    assert a.emit('signal', {'to': b.peer_id, 'type': 'offer', 'sdp': SDP}) == {'ok': True}
    assert b.next('signal')['from'] == a.peer_id
    # Once the survivor has written the dead worker off, its seats were all dealt with.
    wait_until(lambda: redis_client.hlen(redis_prefix + 'workers') == 1, 20,
               message='the dead worker to be written off')
    assert a.emit('signal', {'to': b.peer_id, 'type': 'ice', 'candidate': None}) == {'ok': True}
    assert b.next('signal')['type'] == 'ice'
    assert a.inbox.events('peer-left') == [], 'the resumed seat was never given up'
