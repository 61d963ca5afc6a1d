"""The real server (`gunicorn -k gevent -w 1 wsgi:app`) with real clients in Python and Node."""
import pytest

from clients import NodePeer, PyPeer, api_room, api_user, refusal
from conftest import redis_env
from servers import Server, live_env, wait_until

SDP = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' + 'a=x\r\n' * 400
CANDIDATE = {'candidate': 'candidate:1 1 udp 2122260223 192.0.2.7 54321 typ host',
             'sdpMid': '0', 'sdpMLineIndex': 0}


def server_env(tmp_path, **extra):
    return live_env(tmp_path, **extra)


@pytest.fixture(params=['memory', 'redis'])
def live(request, tmp_path):
    extra = {}
    if request.param == 'redis':
        extra = redis_env(request.getfixturevalue('redis_prefix'))
    server = Server(server_env(tmp_path, **extra)).start()
    peers = []
    yield server, peers
    for peer in peers:
        peer.close()
    server.stop()


def test_python_and_node_clients_signal_through_a_real_server(live):
    server, peers = live
    owner = api_user(server.url, 'Owner')
    room_id = api_room(server.url, owner['token'], name='Live')
    a = PyPeer(server.url, room_id, owner['token'])
    peers.append(a)
    b = NodePeer(server.url, room_id, api_user(server.url, 'Node Nell')['token'])
    peers.append(b)
    assert [p['peer_id'] for p in b.welcome['peers']] == [a.peer_id]
    assert a.next('peer-joined')['display_name'] == 'Node Nell'

    # The newcomer offers; the answer and candidates come back, each stamped by the server.
    assert b.emit('signal', {'to': a.peer_id, 'type': 'offer', 'sdp': SDP,
                             'from': 'p_forged'}) == {'ok': True}
    assert a.next('signal') == {'from': b.peer_id, 'type': 'offer', 'sdp': SDP}
    assert a.emit('signal', {'to': b.peer_id, 'type': 'answer', 'sdp': SDP}) == {'ok': True}
    assert b.next('signal') == {'from': a.peer_id, 'type': 'answer', 'sdp': SDP}
    assert a.emit('signal', {'to': b.peer_id, 'type': 'ice', 'candidate': CANDIDATE}) \
        == {'ok': True}
    assert b.next('signal') == {'from': a.peer_id, 'type': 'ice', 'candidate': CANDIDATE}
    assert b.emit('signal', {'to': a.peer_id, 'type': 'ice', 'candidate': None}) == {'ok': True}
    assert a.next('signal') == {'from': b.peer_id, 'type': 'ice', 'candidate': None}

    assert b.emit('update', {'media': {'audio': False, 'video': True}}) == {'ok': True}
    assert a.next('peer-updated') == {'peer_id': b.peer_id,
                                      'media': {'audio': False, 'video': True}}
    ack = b.emit('signal', {'to': 'p_nobody123', 'type': 'offer', 'sdp': SDP})
    assert ack['error']['code'] == 'unknown_peer'
    assert b.emit('no-such-event', {})['error']['code'] == 'unknown_event'


def test_candidate_lists_without_acks_between_python_and_node_clients(live):
    """The forms the web client sends (§5); the test above keeps the old ones working."""
    server, peers = live
    owner = api_user(server.url, 'Owner')
    room_id = api_room(server.url, owner['token'])
    a = PyPeer(server.url, room_id, owner['token'])
    b = NodePeer(server.url, room_id, api_user(server.url, 'Node Nell')['token'])
    peers += [a, b]
    second = {**CANDIDATE, 'candidate': 'candidate:2 1 udp 1686052607 198.51.100.7 40001 '
                                        'typ srflx raddr 192.0.2.7 rport 54321'}
    assert b.emit('signal', {'to': a.peer_id, 'type': 'offer', 'sdp': SDP}) == {'ok': True}
    b.send_candidates(a.peer_id, [CANDIDATE, second])
    assert a.next('signal')['type'] == 'offer'
    assert a.next('signal') == {'from': b.peer_id, 'type': 'ice',
                                'candidates': [CANDIDATE, second]}
    a.send_candidates(b.peer_id, [second])
    assert b.next('signal') == {'from': a.peer_id, 'type': 'ice', 'candidates': [second]}
    # Refused without an ack: signal-error, to either client, with §8's code.
    a.send_candidates('p_nobody12345', [CANDIDATE])
    b.send_candidates(a.peer_id, [])
    assert a.next('signal-error')['error']['code'] == 'unknown_peer'
    assert b.next('signal-error') == {'to': a.peer_id, 'type': 'ice', 'error': {
        'code': 'invalid_request', 'message': "ice takes 'candidate' or 'candidates' (a "
                                              'non-empty list), not both'}}
    assert b.acks.empty(), 'nothing was acknowledged that did not ask for it'


def test_a_ninth_client_is_refused_and_every_refusal_has_its_code(live):
    server, peers = live
    owner = api_user(server.url, 'Owner')
    room_id = api_room(server.url, owner['token'])
    node = NodePeer(server.url, room_id, owner['token'])
    peers.append(node)
    for n in range(7):
        peers.append(PyPeer(server.url, room_id, api_user(server.url, f'P{n}')['token']))
    ninth = api_user(server.url, 'Ninth')['token']
    assert refusal(server.url, room_id, token=ninth) == {
        'message': 'room_full', 'data': {'message': 'this room is full (8 seats)',
                                         'max_peers': 8}}
    node_ninth = NodePeer(server.url, room_id, ninth)
    peers.append(node_ninth)
    assert node_ninth.inbox.events('connect_error')[0]['message'] == 'room_full'
    assert node_ninth.inbox.events('connect_error')[0]['data']['max_peers'] == 8

    assert refusal(server.url, room_id)['message'] == 'unauthorized'
    assert refusal(server.url, room_id, token='bogus-token-123')['message'] == 'unauthorized'
    assert refusal(server.url, 'zzz-zzzz-zzz', token=ninth)['message'] == 'room_not_found'
    bad = refusal(server.url, room_id, token=ninth, peer_id='p_only_half')
    assert bad['message'] == 'invalid_request' and bad['data']['message']
    resume = refusal(server.url, room_id, token=owner['token'], peer_id=node.peer_id,
                     resume='x' * 43)
    assert resume['message'] == 'unauthorized'


def test_failed_joins_are_rate_limited(tmp_path):
    server = Server(server_env(tmp_path, RHYSTIC_RATELIMIT_JOIN_FAILURES='5 per minute')).start()
    try:
        owner = api_user(server.url, 'Owner')
        room_id = api_room(server.url, owner['token'])
        codes = [refusal(server.url, f'gone-{n}', token=owner['token'])['message']
                 for n in range(5)]
        assert codes == ['room_not_found'] * 5
        limited = refusal(server.url, room_id, token=owner['token'])
        assert limited['message'] == 'rate_limited' and limited['data']['message']
    finally:
        server.stop()


def test_clients_resume_their_seats_after_a_server_restart(live):
    server, peers = live
    owner = api_user(server.url, 'Owner')
    room_id = api_room(server.url, owner['token'])
    a = PyPeer(server.url, room_id, owner['token'])
    b = NodePeer(server.url, room_id, api_user(server.url, 'Node Nell')['token'])
    peers += [a, b]
    a.next('peer-joined')
    before = (a.peer_id, b.peer_id)

    server.stop()
    server.start()

    wait_until(lambda: len(a.inbox.welcomes) == 2 and len(b.inbox.welcomes) == 2, 20,
               message='both clients to resume')
    assert (a.peer_id, b.peer_id) == before, 'the same seats, not new ones'
    assert a.welcome['resumed'] and b.welcome['resumed']
    assert a.inbox.events('peer-left') == [] and b.inbox.events('peer-left') == []
    wait_until(lambda: a.emit('signal', {'to': b.peer_id, 'type': 'offer', 'sdp': SDP})
               == {'ok': True}, 10, message='signaling to work again')
    assert b.next('signal')['from'] == a.peer_id
    third = PyPeer(server.url, room_id, api_user(server.url, 'Third')['token'])
    peers.append(third)
    assert {p['peer_id'] for p in third.welcome['peers']} == set(before)


def test_a_silently_dead_client_is_noticed_by_ping_and_times_out(tmp_path):
    """A raw Engine.IO client that stops answering pings, as a frozen laptop would."""
    import json
    import websocket
    server = Server(server_env(tmp_path, RHYSTIC_PING_INTERVAL='1', RHYSTIC_PING_TIMEOUT='1',
                               RHYSTIC_GRACE_SECONDS='1')).start()
    watcher = None
    try:
        owner = api_user(server.url, 'Owner')
        room_id = api_room(server.url, owner['token'])
        watcher = PyPeer(server.url, room_id, owner['token'])
        ws = websocket.create_connection(
            f'ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket', timeout=5)
        assert ws.recv().startswith('0{')  # Engine.IO open
        token = api_user(server.url, 'Frozen')['token']
        ws.send(f'40/room/{room_id},' + json.dumps({'token': token}))
        assert ws.recv().startswith(f'42/room/{room_id},["welcome"')  # before CONNECT: §3
        assert ws.recv().startswith(f'40/room/{room_id},')
        frozen = watcher.next('peer-joined')['peer_id']
        # From here on the client answers nothing: no pongs.
        left = watcher.next('peer-left', timeout=15)
        assert left == {'peer_id': frozen, 'reason': 'timeout'}
        ws.close()
    finally:
        if watcher:
            watcher.close()
        server.stop()
