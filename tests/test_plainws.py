"""The plain WebSocket API (/ws, rhystic/signaling/plainws.py) on a real gunicorn.

Its clients here are websocket-client (another WebSocket library than the server's
simple-websocket) beside python-socketio. tests/e2e/test_plainws_call.py puts a Chromium
page that speaks /ws in a call with a Chromium player on the web client.
"""
import itertools
import json
import re
import socket
import threading
from urllib.parse import urlencode

import pytest
import requests
import websocket
from websocket import ABNF

from clients import Inbox, Peer, PyPeer, api_room, api_user, refusal
from conftest import redis_env
from servers import Server, live_env, wait_until

SDP = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' + 'a=x\r\n' * 400
CANDIDATE = {'candidate': 'candidate:1 1 udp 2122260223 192.0.2.7 54321 typ host',
             'sdpMid': '0', 'sdpMLineIndex': 0}


class WsPeer(Peer):
    """A plain WebSocket client of /ws: every message it gets goes to its inbox under its
    "type"; the server's close code is kept. Pings are answered by websocket-client."""

    def __init__(self, url, room_id, token=None, header=False, expect_welcome=True, **query):
        self.url, self.room_id, self.token, self.header = url, room_id, token, header
        self.query = {k: v for k, v in query.items() if v is not None}
        self.inbox = Inbox()
        self.connect(expect_welcome)

    def connect(self, expect_welcome=True, **extra):
        query = {'room': self.room_id, **self.query, **extra}
        headers = []
        if self.token and self.header:
            headers.append(f'Authorization: Bearer {self.token}')
        elif self.token:
            query['token'] = self.token
        self.close_code = self.close_reason = None
        self.closed = threading.Event()
        welcomes = len(self.inbox.welcomes)
        self.ws = websocket.create_connection(
            self.url.replace('http', 'ws', 1) + '/ws?' + urlencode(query), header=headers,
            timeout=20)
        threading.Thread(target=self._read, args=(self.ws, self.closed), daemon=True).start()
        if expect_welcome:
            wait_until(lambda: len(self.inbox.welcomes) > welcomes or self.closed.is_set(),
                       20, message='welcome')
            assert len(self.inbox.welcomes) > welcomes, self.inbox.events('connect_error')
        return self

    def resume(self):
        return self.connect(peer_id=self.peer_id, resume=self.welcome['resume'])

    def _read(self, ws, closed):
        while True:
            try:
                opcode, frame = ws.recv_data_frame(True)
            except Exception:  # the connection ended without a close frame
                break
            if opcode == ABNF.OPCODE_TEXT:
                message = json.loads(frame.data.decode())
                self.inbox.add(message['type'], message)
            elif opcode == ABNF.OPCODE_CLOSE:
                if len(frame.data) >= 2:
                    self.close_code = int.from_bytes(frame.data[:2], 'big')
                    self.close_reason = frame.data[2:].decode()
                break
        closed.set()

    def send(self, **message):
        self.ws.send(json.dumps(message))

    def wait_closed(self, timeout=10):
        assert self.closed.wait(timeout), 'the server did not close the connection'
        return self.close_code

    def drop(self):
        """Lose the connection the way a network does: no close frame."""
        self.ws.sock.shutdown(socket.SHUT_RDWR)
        self.wait_closed()

    def close(self):
        try:
            self.ws.close(timeout=1)
        except Exception:
            pass


_refs = itertools.count(1)


def answered(peer, **message):
    """Send a message with a ref, and return the server's answer to it (ack or error)."""
    ref = next(_refs)
    peer.send(ref=ref, **message)
    return wait_until(lambda: [m for kind in ('ack', 'error') for m in peer.inbox.events(kind)
                               if m.get('ref') == ref], message=f'the answer to {message}')[0]


def ws_refusal(url, room_id, **kwargs):
    """Connect to /ws and return (the connect_error's error, the close code)."""
    peer = WsPeer(url, room_id, expect_welcome=False, **kwargs)
    error = peer.next('connect_error')['error']
    code = peer.wait_closed()
    assert not peer.inbox.welcomes
    return error, code


def connected_peers(url):
    """The server's count of live seats (its rhystic_connected_peers gauge)."""
    text = requests.get(url + '/metrics', timeout=5).text
    return float(re.search(r'^rhystic_connected_peers (\S+)$', text, re.M).group(1))


def record(py_peer, *events):
    for name in events:
        py_peer.sio.on(name, py_peer._recorder(name), namespace=py_peer.ns)


@pytest.fixture(params=['memory', 'redis'])
def live(request, tmp_path):
    extra = redis_env(request.getfixturevalue('redis_prefix')) \
        if request.param == 'redis' else {}
    server = Server(live_env(tmp_path, **extra)).start()
    peers = []
    yield server, peers
    for peer in peers:
        peer.close()
    server.stop()


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    server = Server(live_env(tmp_path_factory.mktemp('plainws'),
                             RHYSTIC_RATELIMIT_JOIN_FAILURES='1000 per minute')).start()
    yield server
    server.stop()
    assert 'Traceback' not in server.log(), server.log()[-3000:]


def test_a_plain_websocket_and_a_socketio_client_share_a_room_and_signal(live):
    server, peers = live
    alice, bob = api_user(server.url, 'Alice'), api_user(server.url, 'Bob')
    room_id = api_room(server.url, alice['token'])
    a = PyPeer(server.url, room_id, alice['token'])
    record(a, 'chat-message', 'game-update')
    b = WsPeer(server.url, room_id, bob['token'], user_id=bob['user_id'])
    peers += [a, b]
    # Each sees the other: the newcomer in its welcome, the other through peer-joined.
    assert [p['display_name'] for p in b.welcome['peers']] == ['Alice']
    assert b.welcome['self']['user_id'] == bob['user_id'] and b.welcome['resume']
    assert a.next('peer-joined') == b.welcome['self']

    # offer, answer and ice both ways; the server stamps "from", whatever is sent.
    b.send(type='offer', to=a.peer_id, sdp=SDP, **{'from': 'p_forged'})
    assert a.next('signal') == {'from': b.peer_id, 'type': 'offer', 'sdp': SDP}
    assert a.emit('signal', {'to': b.peer_id, 'type': 'answer', 'sdp': SDP}) == {'ok': True}
    assert b.next('answer') == {'type': 'answer', 'from': a.peer_id, 'sdp': SDP}
    assert a.emit('signal', {'to': b.peer_id, 'type': 'ice', 'candidate': CANDIDATE}) \
        == {'ok': True}
    assert b.next('ice') == {'type': 'ice', 'from': a.peer_id, 'candidate': CANDIDATE}
    b.send(type='ice', to=a.peer_id, candidate=CANDIDATE)
    assert a.next('signal') == {'from': b.peer_id, 'type': 'ice', 'candidate': CANDIDATE}
    # The original two-player flow: no "to", and it goes to the one other peer.
    b.send(type='ice', candidate=None)
    assert a.next('signal') == {'from': b.peer_id, 'type': 'ice', 'candidate': None}
    b.send(type='answer', sdp=SDP)
    assert a.next('signal') == {'from': b.peer_id, 'type': 'answer', 'sdp': SDP}

    b.send(type='update', media={'audio': False, 'video': True})
    assert a.next('peer-updated') == {'peer_id': b.peer_id,
                                      'media': {'audio': False, 'video': True}}
    assert a.emit('update', {'display_name': 'Alice B.'}) == {'ok': True}
    assert b.next('peer-updated') == {'type': 'peer-updated', 'peer_id': a.peer_id,
                                      'display_name': 'Alice B.'}
    # Answers: errors always, successes with data or a ref; the room's other events too.
    b.send(type='ice-servers', ref='r1')
    ack = b.next('ack')
    assert (ack['for'], ack['ref'], ack['ok'], ack['ttl']) == ('ice-servers', 'r1', True, 3600)
    b.send(type='chat', text='gg')
    assert a.next('chat-message')['text'] == 'gg'
    assert b.next('chat-message')['peer_id'] == b.peer_id
    # The game table's action travels under "action", its own "type" being the action's.
    b.send(type='game', action={'type': 'life', 'player': bob['user_id'], 'delta': -3})
    ack = b.next('ack', lambda m: m['for'] == 'game')
    assert ack['entry']['type'] == 'life' and ack['ok'] is True
    update = a.next('game-update', lambda u: u['entry']['type'] == 'life')
    assert update['state']['players'][bob['user_id']]['life'] == 37
    b.send(type='offer', to='p_nobody123', sdp=SDP, ref=7)
    assert b.next('error') == {'type': 'error', 'for': 'offer', 'ref': 7, 'error': {
        'code': 'unknown_peer', 'message': "no peer 'p_nobody123' in this room"}}
    for bad, code in [('not json', 'invalid_request'), ('[1, 2]', 'invalid_request'),
                      ('{"type": "connect"}', 'unknown_event'),
                      ('{"type": "disconnect"}', 'unknown_event'),
                      ('{"type": "no-such-event"}', 'unknown_event'),
                      ('{"type": "offer", "to": "p_x"}', 'invalid_request'),
                      ('{"type": "leave", "ref": {"a": 1}}', 'invalid_request')]:
        b.ws.send(bad)
        assert b.next('error')['error']['code'] == code, bad
    assert a.emit('signal', {'to': b.peer_id, 'type': 'ice', 'candidate': None}) \
        == {'ok': True}  # both still seated after all that
    assert b.next('ice')['from'] == a.peer_id

    # With a third peer in the room, "to" is needed.
    c = PyPeer(server.url, room_id, api_user(server.url, 'Carol')['token'])
    peers.append(c)
    assert b.next('peer-joined')['peer_id'] == c.peer_id
    b.send(type='offer', sdp=SDP)
    assert b.next('error')['error']['code'] == 'invalid_request'
    assert not c.inbox.events('signal') and not a.inbox.events('signal')

    # leave: the others hear peer-left at once, and the server closes the connection.
    b.send(type='leave')
    assert a.next('peer-left') == {'peer_id': b.peer_id, 'reason': 'left'}
    assert c.next('peer-left') == {'peer_id': b.peer_id, 'reason': 'left'}
    assert b.wait_closed() == 1000
    assert 'Traceback' not in server.log(), server.log()[-3000:]


def test_refusals_carry_the_documented_codes(server):
    alice, bob = api_user(server.url, 'Alice'), api_user(server.url, 'Bob')
    room_id = api_room(server.url, alice['token'])
    error, code = ws_refusal(server.url, room_id)
    assert (error['code'], code) == ('unauthorized', 1008)
    assert error['message'].startswith('sign in first')
    assert ws_refusal(server.url, room_id, token='x' * 43)[0]['code'] == 'unauthorized'
    assert ws_refusal(server.url, 'abc-defg-hjk', token=bob['token'])[0] == {
        'code': 'room_not_found', 'message': 'there is no room with this id'}
    assert ws_refusal(server.url, 'NOT A ROOM', token=bob['token'])[0]['code'] \
        == 'room_not_found'
    # user_id must be the caller's own: it is never taken on its word.
    error, code = ws_refusal(server.url, room_id, token=bob['token'], user_id=alice['user_id'])
    assert (error['code'], code) == ('forbidden', 1008)
    assert ws_refusal(server.url, room_id, user_id=alice['user_id'])[0]['code'] \
        == 'unauthorized'
    assert ws_refusal(server.url, room_id, token=bob['token'], peer_id='p_x')[0]['code'] \
        == 'invalid_request'  # a resume needs both peer_id and resume
    # The token may come in the Authorization header instead of the query.
    peer = WsPeer(server.url, room_id, bob['token'], header=True, user_id=bob['user_id'])
    assert peer.welcome['self']['display_name'] == 'Bob'
    peer.close()

    # Before the upgrade: plain HTTP and other sites' pages are refused in JSON.
    response = requests.get(f'{server.url}/ws?room={room_id}', timeout=5)
    assert response.status_code == 400
    assert response.json()['error']['code'] == 'invalid_request'
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(
            server.url.replace('http', 'ws') + f'/ws?room={room_id}&token={bob["token"]}',
            origin='https://evil.example', timeout=10)
    assert refused.value.status_code == 403
    assert json.loads(refused.value.resp_body)['error']['code'] == 'forbidden'


def test_a_ninth_is_refused_whichever_transport_it_uses(server):
    owner = api_user(server.url, 'Owner')
    room_id = api_room(server.url, owner['token'])
    peers = []
    try:
        for i in range(8):
            token = owner['token'] if i == 0 else api_user(server.url, f'P{i}')['token']
            peers.append(PyPeer(server.url, room_id, token) if i % 2 == 0
                         else WsPeer(server.url, room_id, token))
        ninth = api_user(server.url, 'Ninth')['token']
        error, _ = ws_refusal(server.url, room_id, token=ninth)
        assert error == {'code': 'room_full', 'message': 'this room is full (8 seats)',
                         'max_peers': 8}
        assert refusal(server.url, room_id, token=ninth)['message'] == 'room_full'
        assert requests.get(f'{server.url}/api/rooms/{room_id}', timeout=5).json()[
            'peer_count'] == 8
        # The last to join saw all seven others, over either transport.
        assert len(peers[-1].welcome['peers']) == 7
    finally:
        for peer in peers:
            peer.close()


def test_a_dropped_plain_websocket_takes_its_seat_back(server):
    alice, bob = api_user(server.url, 'Alice'), api_user(server.url, 'Bob')
    room_id = api_room(server.url, alice['token'])
    a = PyPeer(server.url, room_id, alice['token'])
    b = WsPeer(server.url, room_id, bob['token'])
    try:
        seat = b.peer_id
        a.next('peer-joined')
        wait_until(lambda: connected_peers(server.url) == 2, message='only these two connected')
        b.drop()
        wait_until(lambda: connected_peers(server.url) == 1, message='the drop noticed')
        # While it is away, a signal to it is kept for the seat.
        assert a.emit('signal', {'to': seat, 'type': 'offer', 'sdp': SDP}) == {'ok': True}
        b.resume()
        assert (b.peer_id, b.welcome['resumed']) == (seat, True)
        assert b.next('offer') == {'type': 'offer', 'from': a.peer_id, 'sdp': SDP}
        b.send(type='answer', to=a.peer_id, sdp=SDP)
        assert a.next('signal')['from'] == seat
        # Everything the drop could have announced would have come before that answer.
        assert not a.inbox.events('peer-left') and not a.inbox.events('peer-joined')
        assert requests.get(f'{server.url}/api/rooms/{room_id}', timeout=5).json()[
            'peer_count'] == 2
        # A resume secret that does not match is refused.
        error, _ = ws_refusal(server.url, room_id, token=bob['token'], peer_id=seat,
                              resume='A' * 43)
        assert error['code'] == 'unauthorized'
    finally:
        a.close()
        b.close()


def test_the_owner_kicks_a_plain_websocket_peer(server):
    alice, bob = api_user(server.url, 'Alice'), api_user(server.url, 'Bob')
    room_id = api_room(server.url, alice['token'])
    a = PyPeer(server.url, room_id, alice['token'])
    b = WsPeer(server.url, room_id, bob['token'])
    try:
        assert a.welcome['owner'] is True and b.welcome['owner'] is False
        b.send(type='kick', peer_id=a.peer_id)
        assert b.next('error')['error']['code'] == 'forbidden'
        assert a.emit('kick', {'peer_id': b.peer_id}) == {'ok': True}
        assert b.next('peer-left') == {'type': 'peer-left', 'peer_id': b.peer_id,
                                       'reason': 'kicked'}
        assert b.wait_closed() == 1000
        assert ws_refusal(server.url, room_id, token=bob['token'])[0]['code'] == 'unauthorized'
    finally:
        a.close()
        b.close()


@pytest.mark.slow
def test_a_plain_websocket_and_a_socketio_client_on_two_workers(tmp_path, redis_prefix):
    """Delivery goes through python-socketio's message queue: a /ws peer on one server
    process hears a Socket.IO peer on another, and the other way round."""
    env = live_env(tmp_path, **redis_env(redis_prefix))
    servers = [Server(env).start(), Server(env).start()]
    peers = []
    try:
        one, two = servers
        alice, bob = api_user(one.url, 'Alice'), api_user(one.url, 'Bob')
        room_id = api_room(one.url, alice['token'])
        b = WsPeer(one.url, room_id, bob['token'])
        a = PyPeer(two.url, room_id, alice['token'])
        peers += [a, b]
        assert b.next('peer-joined')['peer_id'] == a.peer_id
        assert [p['peer_id'] for p in a.welcome['peers']] == [b.peer_id]
        # No "to": found through the shared store. Until the other worker's inbox is
        # subscribed (its first seat starts it), the answer is unavailable: send again.
        wait_until(lambda: answered(b, type='offer', sdp=SDP)['type'] == 'ack', 20,
                   message="the other worker's inbox")
        assert a.next('signal') == {'from': b.peer_id, 'type': 'offer', 'sdp': SDP}
        wait_until(lambda: a.emit('signal', {'to': b.peer_id, 'type': 'answer', 'sdp': SDP})
                   == {'ok': True}, 20, message='an ok ack')
        assert b.next('answer')['from'] == a.peer_id
        assert a.emit('kick', {'peer_id': b.peer_id}) == {'ok': True}
        assert b.next('peer-left')['reason'] == 'kicked'
        assert b.wait_closed() == 1000
    finally:
        for peer in peers:
            peer.close()
        for server in servers:
            server.stop()


@pytest.mark.slow
def test_the_connection_guards_hold_on_the_plain_websocket(tmp_path):
    """The guards of Socket.IO's WebSocket (test_transport.py): frame cap 1008, binary 1003,
    size limit 1009, and the per-address cap (429 before the upgrade). The signal rate is
    raised here so that the frame cap, not rate_limited answers, meets the flood. A client
    that answers no ping is closed, and its seat given up after its grace; a stopping
    worker closes with 1012 (reconnect)."""
    server = Server(live_env(tmp_path, RHYSTIC_MAX_SOCKETS_PER_ADDRESS='3',
                             RHYSTIC_SIGNAL_RATE='10000', RHYSTIC_SIGNAL_BURST='10000',
                             RHYSTIC_PING_INTERVAL='1', RHYSTIC_PING_TIMEOUT='1',
                             RHYSTIC_GRACE_SECONDS='2')).start()
    try:
        owner = api_user(server.url, 'Owner')
        room_id = api_room(server.url, owner['token'])
        watcher = PyPeer(server.url, room_id, owner['token'])
        silent = websocket.create_connection(  # never reads, so never answers a ping
            server.url.replace('http', 'ws') + f'/ws?room={room_id}&token='
            + api_user(server.url, 'Silent')['token'], timeout=10)
        gone = watcher.next('peer-joined')['peer_id']
        assert watcher.next('peer-left', lambda p: p['peer_id'] == gone, timeout=20) \
            == {'peer_id': gone, 'reason': 'timeout'}
        silent.close()

        def seated():
            return WsPeer(server.url, room_id, api_user(server.url, 'W')['token'])

        flooder = seated()
        for _ in range(2000):  # five times the burst, faster than any rate
            try:
                flooder.ws.send('{"type": "ice-servers"}')
            except Exception:
                break
        assert flooder.wait_closed() == 1008
        binary = seated()
        binary.ws.send_binary(b'{"type": "leave"}')
        assert binary.wait_closed() == 1003
        big = seated()
        chunk = 'x' * 8192
        big.ws.send_frame(ABNF.create_frame('{"type": "chat", "text": "' + chunk,
                                            ABNF.OPCODE_TEXT, fin=0))
        try:
            for _ in range(19):
                big.ws.send_frame(ABNF.create_frame(chunk, ABNF.OPCODE_CONT, fin=0))
        except Exception:
            pass
        assert big.wait_closed() == 1009

        # Once the server has counted the closed ones out: with the watcher's, three.
        held = [wait_until(_seat_or_none(server.url, room_id), message='a seat')
                for _ in range(2)]
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            seated()
        assert refused.value.status_code == 429
        assert json.loads(refused.value.resp_body)['error']['code'] == 'too_many_connections'
        held[0].close()
        wait_until(lambda: _connects(server.url, room_id, owner['token']),
                   message='a free place after one closed')
        assert requests.get(server.url + '/healthz', timeout=5).status_code == 200
        # A stopping worker hands its sockets over (shutdown.py): 1012, reconnect.
        server.stop()
        assert held[1].wait_closed() == 1012
        assert 'Traceback' not in server.log(), server.log()[-3000:]
    finally:
        server.stop()


def _seat_or_none(url, room_id):
    def attempt():
        try:
            return WsPeer(url, room_id, api_user(url, 'H')['token'])
        except websocket.WebSocketBadStatusException:
            return None
    return attempt


def _connects(url, room_id, token):
    try:
        peer = WsPeer(url, room_id, token)
    except websocket.WebSocketBadStatusException:
        return False
    peer.close()
    return True
