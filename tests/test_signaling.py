"""Signaling handlers through Flask-SocketIO's test client: every event and error code."""
import pytest

from conftest import make_app, new_room, new_user
from rhystic.extensions import socketio
from rhystic.signaling import protocol
from servers import wait_until

SDP = 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n'
CANDIDATE = {'candidate': 'candidate:1 1 udp 2122260223 192.0.2.7 54321 typ host',
             'sdpMid': '0', 'sdpMLineIndex': 0, 'usernameFragment': 'Fq3z'}


class Peer:
    """One test client in one room, with the welcome it got."""

    def __init__(self, app, room_id, token=None, flask_client=None, **auth):
        self.ns = f'/room/{room_id}'
        if token:
            auth['token'] = token
        self.refusal = None
        self.sio = socketio.test_client(app, namespace=self.ns, auth=auth or None,
                                        flask_test_client=flask_client)
        self.inbox = []
        self.welcome = self.next('welcome') if self.connected else None

    @property
    def connected(self):
        return self.sio.is_connected(self.ns)

    @property
    def peer_id(self):
        return self.welcome['peer_id']

    def pump(self):
        # Read the test client's queue directly: get_received refuses once disconnected,
        # and what a socket was told just before it was closed matters too.
        mine = [m for m in self.sio.queue if m['namespace'] == self.ns]
        self.sio.queue[:] = [m for m in self.sio.queue if m['namespace'] != self.ns]
        self.inbox += [(m['name'], m['args'][0] if m['args'] else None) for m in mine]

    def events(self, name=None):
        self.pump()
        return [payload for event, payload in self.inbox if name in (None, event)]

    def next(self, name, timeout=5):
        def found():
            self.pump()
            for i, (event, payload) in enumerate(self.inbox):
                if event == name:
                    del self.inbox[i]
                    return [payload]
        return wait_until(found, timeout, message=f'event {name}')[0]

    def emit(self, event, *args):
        return self.sio.emit(event, *args, namespace=self.ns, callback=True)

    def signal(self, to, **body):
        return self.emit('signal', {'to': to, **body})

    def drop(self):
        self.sio.disconnect(namespace=self.ns)


def refusal(app, room_id, raw_auth=None, **auth):
    """Connect and return the connect_error payload the server sent."""
    ns = f'/room/{room_id}'
    # The test client keeps no connect_error data, so listen on the packets it is sent.
    # Its constructor installs its own packet hook: connect to '/' (no room) first.
    client = socketio.test_client(app, namespace='/')
    server = socketio.server
    hook, sent = server._send_packet, []

    def spy(eio_sid, pkt):
        if pkt.packet_type == 4 and pkt.namespace == ns:  # CONNECT_ERROR
            sent.append(pkt.data)
        return hook(eio_sid, pkt)
    server._send_packet = spy
    try:
        client.connect(namespace=ns, auth=raw_auth if raw_auth is not None else auth or None)
    finally:
        server._send_packet = hook
    assert not client.is_connected(ns)
    assert len(sent) == 1, sent
    return sent[0]


@pytest.fixture
def room(sqlite_app):
    client = sqlite_app.test_client()
    user = new_user(client, 'owner', 'Owner')
    return new_room(client, user['token'], name='Friday'), user


def users(app, n):
    return [new_user(app.test_client(), display_name=f'Player {i}')['token'] for i in range(n)]


def test_welcome_and_peer_joined(sqlite_app, room):
    room_id, owner = room
    a = Peer(sqlite_app, room_id, owner['token'])
    assert a.connected
    w = a.welcome
    assert w['peer_id'].startswith('p_') and w['resume'] and w['resumed'] is False
    assert w['room'] == {'id': room_id, 'name': 'Friday', 'max_peers': 8,
                         'host': owner['user_id'], 'locked': False, 'knock': False,
                         'knocks': []}
    assert w['peers'] == [] and w['grace_seconds'] == 20
    assert w['ice_servers'][0] == {'urls': ['stun:127.0.0.1:3478']}
    assert w['ice_servers'][1]['username'].endswith(':' + owner['user_id'])
    b = Peer(sqlite_app, room_id, users(sqlite_app, 1)[0], display_name='Bob',
             media={'audio': False, 'video': True})
    assert b.welcome['peers'] == [{'peer_id': a.peer_id, 'user_id': owner['user_id'],
                                   'display_name': 'Owner',
                                   'media': {'audio': True, 'video': True}}]
    joined = a.next('peer-joined')
    assert joined['peer_id'] == b.peer_id and joined['display_name'] == 'Bob'
    assert joined['media'] == {'audio': False, 'video': True}
    assert b.events('peer-joined') == [], 'the newcomer is not told about itself'


def test_browser_session_cookie_admits_without_a_token(sqlite_app, room):
    room_id, _ = room
    browser = sqlite_app.test_client()
    new_user(browser, display_name='Cookie Carol')  # signs this client in
    peer = Peer(sqlite_app, room_id, flask_client=browser)
    assert peer.connected and peer.welcome['self']['display_name'] == 'Cookie Carol'


@pytest.mark.parametrize('kind,body', [
    ('offer', {'sdp': SDP}), ('answer', {'sdp': SDP}),
    ('ice', {'candidate': CANDIDATE}), ('ice', {'candidate': None})])
def test_signal_goes_to_the_addressee_only_with_from_stamped(sqlite_app, room, kind, body):
    room_id, owner = room
    a, b, c = (Peer(sqlite_app, room_id, t) for t in users(sqlite_app, 3))
    ack = b.signal(a.peer_id, type=kind, **body)
    assert ack == {'ok': True}
    assert a.next('signal') == {'from': b.peer_id, 'type': kind, **body}
    assert c.events('signal') == [] and b.events('signal') == []


def test_a_spoofed_from_is_replaced_by_the_sender(sqlite_app, room):
    room_id, _ = room
    a, b, c = (Peer(sqlite_app, room_id, t) for t in users(sqlite_app, 3))
    assert b.signal(a.peer_id, type='offer', sdp=SDP, **{'from': c.peer_id}) == {'ok': True}
    assert a.next('signal')['from'] == b.peer_id


def test_unknown_candidate_fields_are_dropped(sqlite_app, room):
    room_id, _ = room
    a, b = (Peer(sqlite_app, room_id, t) for t in users(sqlite_app, 2))
    b.signal(a.peer_id, type='ice', candidate={**CANDIDATE, 'evil': '<script>'})
    assert a.next('signal')['candidate'] == CANDIDATE


def test_signal_to_a_peer_in_another_room_is_unknown_peer(sqlite_app, room):
    room_id, owner = room
    other_room = new_room(sqlite_app.test_client(), owner['token'])
    a = Peer(sqlite_app, room_id, owner['token'])
    stranger = Peer(sqlite_app, other_room, owner['token'])
    ack = a.signal(stranger.peer_id, type='offer', sdp=SDP)
    assert ack['ok'] is False and ack['error']['code'] == protocol.UNKNOWN_PEER
    assert stranger.events('signal') == []


@pytest.mark.parametrize('payload,code', [
    (None, 'invalid_request'),
    ('offer', 'invalid_request'),
    ([1, 2], 'invalid_request'),
    ({'type': 'offer', 'sdp': SDP}, 'invalid_request'),
    ({'to': 7, 'type': 'offer', 'sdp': SDP}, 'invalid_request'),
    ({'to': 'PEER', 'type': 'bye'}, 'invalid_request'),
    ({'to': 'PEER', 'type': 'offer'}, 'invalid_request'),
    ({'to': 'PEER', 'type': 'offer', 'sdp': {'x': 1}}, 'invalid_request'),
    ({'to': 'PEER', 'type': 'offer', 'sdp': 'x' * (64 * 1024 + 1)}, 'too_large'),
    ({'to': 'PEER', 'type': 'ice', 'candidate': 'candidate:1'}, 'invalid_request'),
    ({'to': 'PEER', 'type': 'ice', 'candidate': {'sdpMid': '0'}}, 'invalid_request'),
    ({'to': 'PEER', 'type': 'ice', 'candidate': {'candidate': 'c', 'sdpMLineIndex': '0'}},
     'invalid_request'),
    ({'to': 'PEER', 'type': 'ice', 'candidate': {'candidate': 'c' * 5000}}, 'too_large'),
    ({'to': 'SELF', 'type': 'offer', 'sdp': SDP}, 'invalid_request'),
])
def test_bad_signals_get_an_error_ack_and_nothing_is_relayed(sqlite_app, room, payload, code):
    room_id, _ = room
    a, b = (Peer(sqlite_app, room_id, t) for t in users(sqlite_app, 2))
    if isinstance(payload, dict) and payload.get('to') in ('PEER', 'SELF'):
        payload = {**payload, 'to': a.peer_id if payload['to'] == 'PEER' else b.peer_id}
    ack = b.emit('signal', payload)
    assert ack['ok'] is False and ack['error']['code'] == code, ack
    assert ack['error']['message']
    assert a.events('signal') == []
    assert b.signal(a.peer_id, type='offer', sdp=SDP) == {'ok': True}, 'still serving'


def test_update_tells_the_others_only_what_changed(sqlite_app, room):
    room_id, _ = room
    a, b = (Peer(sqlite_app, room_id, t) for t in users(sqlite_app, 2))
    assert b.emit('update', {'media': {'audio': False, 'video': True}}) == {'ok': True}
    assert a.next('peer-updated') == {'peer_id': b.peer_id,
                                      'media': {'audio': False, 'video': True}}
    assert b.emit('update', {'display_name': '  Bobby  '}) == {'ok': True}
    assert a.next('peer-updated') == {'peer_id': b.peer_id, 'display_name': 'Bobby'}
    assert b.events('peer-updated') == []
    late = Peer(sqlite_app, room_id, users(sqlite_app, 1)[0])
    seen = {p['peer_id']: p for p in late.welcome['peers']}
    assert seen[b.peer_id]['display_name'] == 'Bobby'
    assert seen[b.peer_id]['media'] == {'audio': False, 'video': True}


def test_voice_elsewhere_is_a_media_flag_everyone_sees(sqlite_app, room):
    """A player who talks on Discord opens no microphone: told apart from "Muted"."""
    room_id, _ = room
    (a_token, b_token) = users(sqlite_app, 2)
    a = Peer(sqlite_app, room_id, a_token)
    b = Peer(sqlite_app, room_id, b_token,
             media={'audio': False, 'video': True, 'voice_elsewhere': True})
    assert a.next('peer-joined')['media'] == {'audio': False, 'video': True,
                                              'voice_elsewhere': True}
    assert b.emit('update', {'media': {'voice_elsewhere': 'yes'}})['ok'] is False


@pytest.mark.parametrize('payload', [
    None, {}, {'media': 'on'}, {'media': {'audio': 'yes'}}, {'media': {'smell': True}},
    {'display_name': ''}, {'display_name': 'x' * 41}, {'display_name': 'bell\x07'},
    {'display_name': 3}])
def test_bad_updates_are_refused(sqlite_app, room, payload):
    room_id, _ = room
    a, b = (Peer(sqlite_app, room_id, t) for t in users(sqlite_app, 2))
    ack = b.emit('update', payload)
    assert ack['ok'] is False and ack['error']['code'] == 'invalid_request'
    assert a.events('peer-updated') == []


def test_leave_announces_peer_left_at_once(sqlite_app, room):
    room_id, _ = room
    a, b = (Peer(sqlite_app, room_id, t) for t in users(sqlite_app, 2))
    assert b.emit('leave') == {'ok': True}
    assert a.next('peer-left') == {'peer_id': b.peer_id, 'reason': 'left'}
    ack = b.signal(a.peer_id, type='offer', sdp=SDP)
    assert ack['error']['code'] == protocol.NOT_JOINED
    assert a.signal(b.peer_id, type='offer', sdp=SDP)['error']['code'] == protocol.UNKNOWN_PEER


def test_ice_servers_gives_fresh_credentials(sqlite_app, room):
    room_id, owner = room
    a = Peer(sqlite_app, room_id, owner['token'])
    ack = a.emit('ice-servers')
    assert ack['ok'] is True and ack['ttl'] == 3600
    assert ack['ice_servers'][1]['username'].endswith(':' + owner['user_id'])


def test_unknown_events_get_an_error_ack(sqlite_app, room):
    room_id, owner = room
    a = Peer(sqlite_app, room_id, owner['token'])
    for event in ('bogus', 'welcome', 'peer-left', 'x' * 500):
        ack = a.emit(event, {'any': 'thing'})
        assert ack['ok'] is False and ack['error']['code'] == 'unknown_event'


def test_refusal_codes(sqlite_app, room):
    room_id, owner = room
    assert refusal(sqlite_app, room_id)['message'] == 'unauthorized'
    assert refusal(sqlite_app, room_id, token='not-a-token')['message'] == 'unauthorized'
    missing = refusal(sqlite_app, 'zzz-zzzz-zzz', token=owner['token'])
    malformed = refusal(sqlite_app, 'NOT_AN_ID!', token=owner['token'])
    assert missing['message'] == malformed['message'] == 'room_not_found'
    assert missing['data'] == malformed['data'], 'a wrong id and a missing id look alike'
    bad = refusal(sqlite_app, room_id, token=owner['token'], peer_id='p_abcdefgh')
    assert bad['message'] == 'invalid_request' and bad['data']['message']
    bad = refusal(sqlite_app, room_id, token=['list'])
    assert bad['message'] == 'invalid_request'


def test_auth_that_is_not_an_object_is_invalid(sqlite_app, room):
    room_id, _ = room
    assert refusal(sqlite_app, room_id, raw_auth=['token'])['message'] == 'invalid_request'
    assert refusal(sqlite_app, room_id, raw_auth='token')['message'] == 'invalid_request'
    assert refusal(sqlite_app, room_id, **{'0': 'x'})['message'] == 'unauthorized'


def test_room_full_carries_max_peers(sqlite_app):
    client = sqlite_app.test_client()
    owner = new_user(client, 'owner2')
    room_id = new_room(client, owner['token'], max_peers=2)
    tokens = users(sqlite_app, 3)
    first = [Peer(sqlite_app, room_id, t) for t in tokens[:2]]
    assert all(p.connected for p in first)
    full = refusal(sqlite_app, room_id, token=tokens[2])
    assert full == {'message': 'room_full',
                    'data': {'message': 'this room is full (2 seats)', 'max_peers': 2}}


def test_failed_joins_are_rate_limited(tmp_path):
    app = make_app(tmp_path, RATELIMIT_JOIN_FAILURES='3 per minute')
    client = app.test_client()
    owner = new_user(client, 'owner3')
    room_id = new_room(client, owner['token'])
    for n in range(3):
        assert refusal(app, f'nope-{n}', token=owner['token'])['message'] == 'room_not_found'
    limited = refusal(app, room_id, token=owner['token'])
    assert limited['message'] == 'rate_limited' and limited['data']['message']


def test_resume_keeps_the_seat_and_the_others_see_nothing(sqlite_app, room):
    room_id, _ = room
    ta, tb = users(sqlite_app, 2)
    a, b = Peer(sqlite_app, room_id, ta), Peer(sqlite_app, room_id, tb)
    a.next('peer-joined')
    b.drop()
    again = Peer(sqlite_app, room_id, tb, peer_id=b.peer_id, resume=b.welcome['resume'])
    assert again.connected and again.welcome['resumed'] is True
    assert again.peer_id == b.peer_id
    assert [p['peer_id'] for p in again.welcome['peers']] == [a.peer_id]
    assert a.events('peer-left') == [] and a.events('peer-joined') == []
    assert again.signal(a.peer_id, type='offer', sdp=SDP) == {'ok': True}
    assert a.next('signal')['from'] == b.peer_id


def test_resume_with_a_bad_secret_is_unauthorized(sqlite_app, room):
    room_id, _ = room
    tb = users(sqlite_app, 1)[0]
    b = Peer(sqlite_app, room_id, tb)
    b.drop()
    bad = refusal(sqlite_app, room_id, token=tb, peer_id=b.peer_id, resume='x' * 43)
    assert bad['message'] == 'unauthorized'


def test_signals_to_an_away_seat_are_buffered_and_delivered_on_resume(sqlite_app, room):
    room_id, _ = room
    ta, tb = users(sqlite_app, 2)
    a, b = Peer(sqlite_app, room_id, ta), Peer(sqlite_app, room_id, tb)
    a.drop()
    assert b.signal(a.peer_id, type='offer', sdp=SDP) == {'ok': True}
    assert b.signal(a.peer_id, type='ice', candidate=CANDIDATE) == {'ok': True}
    again = Peer(sqlite_app, room_id, ta, peer_id=a.peer_id, resume=a.welcome['resume'])
    assert again.next('signal') == {'from': b.peer_id, 'type': 'offer', 'sdp': SDP}
    assert again.next('signal') == {'from': b.peer_id, 'type': 'ice', 'candidate': CANDIDATE}


def test_grace_expiry_announces_timeout(tmp_path):
    app = make_app(tmp_path, GRACE_SECONDS=0.3)
    client = app.test_client()
    owner = new_user(client, 'owner4')
    room_id = new_room(client, owner['token'], max_peers=2)
    ta, tb = users(app, 2)
    a, b = Peer(app, room_id, ta), Peer(app, room_id, tb)
    b.drop()
    assert a.next('peer-left', timeout=5) == {'peer_id': b.peer_id, 'reason': 'timeout'}
    assert Peer(app, room_id, users(app, 1)[0]).connected, 'the seat is free again'


def test_flooding_is_rate_limited_then_disconnected(tmp_path):
    app = make_app(tmp_path, SIGNAL_RATE=1, SIGNAL_BURST=5)
    client = app.test_client()
    owner = new_user(client, 'owner5')
    room_id = new_room(client, owner['token'])
    ta, tb = users(app, 2)
    a, b = Peer(app, room_id, ta), Peer(app, room_id, tb)
    acks = [b.signal(a.peer_id, type='ice', candidate=None) for _ in range(8)]
    assert [x['ok'] for x in acks[:5]] == [True] * 5
    assert all(x['error']['code'] == 'rate_limited' for x in acks[5:])
    def flood():
        try:
            b.emit('signal', {'to': a.peer_id, 'type': 'ice', 'candidate': None})
        except RuntimeError:  # not connected: the server dropped it
            return True
        return not b.connected
    wait_until(flood, 5, message='the flooding socket to be dropped')
    assert a.connected and a.emit('ice-servers')['ok'], 'the others are unaffected'


def test_the_rooms_creator_can_kick_and_the_kicked_cannot_come_straight_back(sqlite_app, room):
    room_id, owner = room
    tb, tc = users(sqlite_app, 2)
    host = Peer(sqlite_app, room_id, owner['token'])
    assert host.welcome['owner'] is True
    b, c = Peer(sqlite_app, room_id, tb), Peer(sqlite_app, room_id, tc)
    assert b.welcome['owner'] is False
    denied = c.emit('kick', {'peer_id': b.peer_id})
    assert denied['ok'] is False and denied['error']['code'] == 'forbidden'
    assert host.emit('kick', {'peer_id': host.peer_id})['error']['code'] == 'invalid_request'
    assert host.emit('kick', {'peer_id': 'p_nobody123'})['error']['code'] == 'unknown_peer'
    assert host.emit('kick', {'peer': 'x'})['error']['code'] == 'invalid_request'

    assert host.emit('kick', {'peer_id': b.peer_id}) == {'ok': True}
    gone = {'peer_id': b.peer_id, 'reason': 'kicked'}
    assert c.next('peer-left') == gone and host.next('peer-left') == gone
    assert b.next('peer-left') == gone, 'the kicked client learns why'
    wait_until(lambda: not b.connected, 5, message='the kicked socket to be closed')
    again = refusal(sqlite_app, room_id, token=tb)
    assert again['message'] == 'unauthorized' and 'removed' in again['data']['message']
    resume = refusal(sqlite_app, room_id, token=tb, peer_id=b.peer_id,
                     resume=b.welcome['resume'])
    assert resume['message'] == 'unauthorized'


def test_a_resume_from_a_second_socket_takes_over_and_signals_follow_it(sqlite_app, room):
    room_id, _ = room
    ta, tb = users(sqlite_app, 2)
    a, b = Peer(sqlite_app, room_id, ta), Peer(sqlite_app, room_id, tb)
    # The old socket never noticed it was dead (a laptop waking up on a new network).
    b2 = Peer(sqlite_app, room_id, tb, peer_id=b.peer_id, resume=b.welcome['resume'])
    assert b2.welcome['resumed'] and b2.peer_id == b.peer_id
    wait_until(lambda: not b.connected, 5, message='the stale socket to be closed')
    assert a.signal(b.peer_id, type='offer', sdp=SDP) == {'ok': True}
    assert b2.next('signal')['from'] == a.peer_id
    assert a.events('peer-left') == []


def test_a_socket_is_in_its_own_seats_delivery_room_and_no_other(sqlite_app, room):
    room_id, _ = room
    token = users(sqlite_app, 1)[0]

    def delivery_rooms(peer):
        manager = socketio.server.manager
        sid = manager.sid_from_eio_sid(peer.sio.eio_sid, peer.ns)
        return set(manager.get_rooms(sid, peer.ns)) - {sid}

    first = Peer(sqlite_app, room_id, token)
    assert delivery_rooms(first) == {first.peer_id}
    first.drop()
    again = Peer(sqlite_app, room_id, token, peer_id=first.peer_id,
                 resume=first.welcome['resume'])
    assert delivery_rooms(again) == {first.peer_id}, 'the unused fresh id was left'


def test_a_partial_media_update_is_merged_into_the_seat(sqlite_app, room):
    room_id, owner = room
    a = Peer(sqlite_app, room_id, owner['token'])
    assert a.emit('update', {'media': {'audio': False}}) == {'ok': True}
    b = Peer(sqlite_app, room_id, users(sqlite_app, 1)[0])
    (seen,) = [p for p in b.welcome['peers'] if p['peer_id'] == a.peer_id]
    assert seen['media'] == {'audio': False, 'video': True}
