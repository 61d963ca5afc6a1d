"""/metrics on a real server with two workers: values follow real joins and signals."""
import os
import secrets
import signal

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from clients import PyPeer, api_room, api_user, refusal
from conftest import REDIS_URL
from servers import Server, migrate, wait_until

SDP = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n'
CANDIDATE = {'candidate': 'candidate:1 1 udp 2122260223 192.0.2.7 54321 typ host',
             'sdpMid': '0', 'sdpMLineIndex': 0}


@pytest.fixture
def server(tmp_path, redis_prefix):
    env = {
        'RHYSTIC_SECRET_KEY': secrets.token_urlsafe(32),
        'RHYSTIC_TURN_SECRET': 'metrics-turn-secret',
        'RHYSTIC_TURN_URLS': 'turn:127.0.0.1:3478',
        'DATABASE_URL': f'sqlite:///{tmp_path}/metrics.db',
        'REDIS_URL': REDIS_URL, 'RHYSTIC_REDIS_PREFIX': redis_prefix,
        'RHYSTIC_SOCKETIO_CHANNEL': redis_prefix + 'channel',
        'RHYSTIC_RATELIMIT_STORAGE_URI': 'memory://',
        'RHYSTIC_GRACE_SECONDS': '5',  # resumes must beat it, on a busy machine too
        'RHYSTIC_LOG_LEVEL': 'WARNING',
    }
    env.pop('PROMETHEUS_MULTIPROC_DIR', None)  # gunicorn.conf.py makes one per run
    migrate(env)
    server = Server(env, workers=2).start()
    yield server
    server.stop()


def scrape(url):
    """Every sample as {(name, (labels...)): value}; a fresh connection each time, so
    that either worker may answer."""
    response = requests.get(url + '/metrics', timeout=5, headers={'Connection': 'close'})
    assert response.status_code == 200
    assert response.headers['Content-Type'].startswith('text/plain')
    values = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            values[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return values


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def agreed(url, name, **labels):
    """The value, asserted identical over several scrapes (answered by either worker)."""
    seen = {value(scrape(url), name, **labels) for _ in range(6)}
    assert len(seen) == 1, f'{name} differs between scrapes: {seen}'
    return seen.pop()


def test_metrics_follow_joins_signals_refusals_and_worker_exits(server):
    url = server.url
    before = scrape(url)
    assert value(before, 'rhystic_connected_peers') == 0

    owner = api_user(url, 'Owner')
    room_id = api_room(url, owner['token'])
    guest = api_user(url, 'Guest')
    a, b = PyPeer(url, room_id, owner['token']), PyPeer(url, room_id, guest['token'])
    try:
        assert a.emit('signal', {'to': b.peer_id, 'type': 'offer', 'sdp': SDP})['ok']
        assert b.emit('signal', {'to': a.peer_id, 'type': 'answer', 'sdp': SDP})['ok']
        for _ in range(2):
            assert a.emit('signal', {'to': b.peer_id, 'type': 'ice',
                                     'candidate': CANDIDATE})['ok']
        refusal(url, room_id, token='not-a-real-token')
        refusal(url, 'no-such-room', token=owner['token'])
        turn = requests.get(url + '/turn', timeout=5,
                            headers={'Authorization': f'Bearer {owner["token"]}'})
        assert turn.status_code == 200
        assert requests.get(url + '/api/nothing-here', timeout=5).status_code == 404

        def grew(name, **labels):
            return agreed(url, name, **labels) - value(before, name, **labels)

        assert agreed(url, 'rhystic_connected_peers') == 2
        assert agreed(url, 'rhystic_active_rooms') == 1
        assert grew('rhystic_joins_total') == 2
        assert grew('rhystic_signals_relayed_total', type='offer') == 1
        assert grew('rhystic_signals_relayed_total', type='answer') == 1
        assert grew('rhystic_signals_relayed_total', type='ice') == 2
        assert grew('rhystic_refusals_total', code='unauthorized') == 1
        assert grew('rhystic_refusals_total', code='room_not_found') == 1
        # One for /turn, one in each welcome's ice_servers.
        assert grew('rhystic_turn_credentials_total') == 3
        assert grew('rhystic_http_requests_total', status='201') == 3
        assert grew('rhystic_http_requests_total', status='404') == 1

        # Both workers go in turn (a deploy): every peer resumes at least once, on
        # another process, and nobody is counted twice.
        joins = agreed(url, 'rhystic_joins_total')
        for victim in server.worker_pids():
            os.kill(victim, signal.SIGTERM)
            wait_until(lambda: victim not in server.worker_pids()
                       and len(server.worker_pids()) == 2, 10, message='a new worker')
            wait_until(lambda: a.sio.connected and b.sio.connected, 10,
                       message='both peers back')
        resumed = sum(len(p.inbox.welcomes) - 1 for p in (a, b))
        assert resumed >= 2
        assert all(p.welcome['resumed'] for p in (a, b))
        wait_until(lambda: value(scrape(url), 'rhystic_connected_peers') == 2, 10,
                   message='two connected peers')
        assert agreed(url, 'rhystic_connected_peers') == 2
        assert agreed(url, 'rhystic_joins_total') == joins  # counters outlive workers
        assert grew('rhystic_resumes_total') == resumed

        # A drop without coming back: the seat's grace (5 s here) runs out.
        b.sio.disconnect()
        wait_until(lambda: value(scrape(url), 'rhystic_grace_expiries_total')
                   > value(before, 'rhystic_grace_expiries_total'), 15,
                   message='a grace expiry')
        assert agreed(url, 'rhystic_connected_peers') == 1
    finally:
        a.close()
        b.close()
