"""Arbitrary payloads to every event: each gets an ack, and nobody else notices.

Two layers: many examples through the in-process test client, and fewer through a real
gunicorn worker with raw Socket.IO frames, where huge and deeply nested messages reach
the real decoder.
"""
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clients import PyPeer, api_room, api_user
from conftest import make_app, new_room, new_user
from servers import Server, wait_until
from test_signaling import Peer, users
from test_signaling_live import SDP, server_env

EVENTS = ['signal', 'update', 'leave', 'ice-servers', 'kick']
# Names python-socketio would otherwise dispatch to the lifecycle handlers (gate.py).
RESERVED = ['connect', 'disconnect', '*']
# Every ack error code docs/protocol.md documents.
ERROR_CODES = {'invalid_request', 'unknown_peer', 'too_large', 'rate_limited', 'unknown_event',
               'not_joined', 'forbidden', 'unavailable'}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30)
# Payloads shaped like the real ones, so that the checks past "is it a dict" get hit too.
near_misses = st.fixed_dictionaries({}, optional={
    'to': json_values | st.text(max_size=80), 'type': st.sampled_from(
        ['offer', 'answer', 'ice', 'bye', '']) | json_values,
    'sdp': json_values | st.text(max_size=200), 'candidate': json_values,
    'candidates': json_values | st.lists(json_values | st.fixed_dictionaries(
        {'candidate': st.text(max_size=30)}, optional={'sdpMid': json_values}), max_size=4),
    'from': json_values, 'display_name': json_values | st.text(max_size=60),
    'media': json_values | st.dictionaries(st.sampled_from(['audio', 'video', 'x']),
                                           json_values, max_size=3)})
payloads = json_values | near_misses


def check_ack(ack):
    assert isinstance(ack, dict) and isinstance(ack.get('ok'), bool), ack
    if not ack['ok']:
        assert ack['error']['code'] in ERROR_CODES, ack
        assert isinstance(ack['error']['message'], str) and ack['error']['message']


@pytest.fixture
def arena(tmp_path):
    """Two rooms: the fuzzer's, and a bystander room that must not notice anything.
    The bystanders speak once per example, hundreds of times a second: no rate limit."""
    app = make_app(tmp_path, SIGNAL_RATE=10**6, SIGNAL_BURST=10**6)
    owner = new_user(app.test_client(), 'fuzzowner')
    fuzz_room = new_room(app.test_client(), owner['token'])
    quiet_room = new_room(app.test_client(), owner['token'])
    ta, tb, tc, td = users(app, 4)
    target = Peer(app, fuzz_room, ta)
    c, d = Peer(app, quiet_room, tc), Peer(app, quiet_room, td)
    c.next('peer-joined')
    return app, fuzz_room, target, tb, (c, d)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(event=st.sampled_from(EVENTS + RESERVED) | st.text(min_size=1, max_size=30),
       payload=payloads)
def test_every_event_answers_arbitrary_payloads(arena, event, payload):
    app, fuzz_room, target, token, (c, d) = arena
    fuzzer = Peer(app, fuzz_room, token)
    try:
        poke(fuzzer, target, (c, d), event, payload)
    finally:
        if fuzzer.connected:
            fuzzer.emit('leave')
            fuzzer.sio.disconnect(namespace=fuzzer.ns)


def poke(fuzzer, target, bystanders, event, payload):
    c, d = bystanders
    ack = fuzzer.emit(event, payload)
    check_ack(ack)
    if event == 'signal' or event not in EVENTS:
        assert not ack['ok'], 'no arbitrary payload is a deliverable signal'
    if event == 'signal':  # the same without an ack: refused by signal-error, once (§5)
        fuzzer.sio.emit(event, payload, namespace=fuzzer.ns)
        error = fuzzer.next('signal-error')
        assert error['error'] == ack['error'] and fuzzer.events('signal-error') == []
    if event in RESERVED:
        assert ack['error']['code'] == 'unknown_event'
        assert fuzzer.connected
        assert fuzzer.peer_id not in [e['peer_id'] for e in target.events('peer-left')]
    if event == 'kick':
        assert not ack['ok'], 'the fuzzer does not own the room'
        assert target.connected
    if event == 'update' and ack['ok']:
        update = target.next('peer-updated')
        assert update['peer_id'] == fuzzer.peer_id
        assert set(update) - {'peer_id'} <= set(payload)
    assert target.events('signal') == []
    # The bystander room keeps working, untouched.
    assert c.emit('signal', {'to': d.peer_id, 'type': 'offer', 'sdp': SDP}) == {'ok': True}
    assert d.next('signal')['from'] == c.peer_id
    assert c.events('peer-joined') == [] and c.events('peer-left') == []


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(auth=json_values | near_misses)
def test_connect_with_arbitrary_auth_never_crashes(arena, auth):
    app, fuzz_room, target, token, _ = arena
    from rhystic.extensions import socketio
    client = socketio.test_client(app, namespace=f'/room/{fuzz_room}', auth=auth)
    if client.is_connected(f'/room/{fuzz_room}'):  # only a valid session could get in
        pytest.fail(f'admitted with auth {auth!r}')


def raw_frames():
    """Messages past what any JSON library is comfortable with."""
    deep = '[' * 30000 + ']' * 30000
    deep_obj = '{"a":' * 5000 + '1' + '}' * 5000
    return [
        ('signal', deep), ('update', deep_obj), ('leave', deep), ('ice-servers', deep_obj),
        ('signal', json.dumps({'to': 'x', 'type': 'offer', 'sdp': 'x' * 70000})),
        ('update', json.dumps({'display_name': '\udcff'})),
        ('signal', '{"to": "x", "type": "ice", "candidate": {"candidate": 1e400}}'),
        ('signal', '{"to": 123456789012345678901234567890, "type": "offer"}'),
        ('signal', 'not json at all'),
    ]


@pytest.mark.slow
def test_a_real_worker_survives_huge_and_deeply_nested_messages(tmp_path):
    server = Server(server_env(tmp_path)).start()
    peers = []
    try:
        owner = api_user(server.url, 'Owner')
        quiet_room = api_room(server.url, owner['token'])
        c = PyPeer(server.url, quiet_room, api_user(server.url, 'C')['token'])
        d = PyPeer(server.url, quiet_room, api_user(server.url, 'D')['token'])
        peers += [c, d]
        pid = server.worker_pids()
        for event, body in raw_frames():
            fuzz_room = api_room(server.url, owner['token'])
            fuzzer = PyPeer(server.url, fuzz_room, api_user(server.url, 'F')['token'])
            peers.append(fuzzer)
            ack = send_raw(fuzzer, event, body)
            if ack is not None:
                check_ack(ack)
                assert not ack['ok']
            else:  # over Engine.IO's size limit: the socket is closed, nothing else
                assert len(body) > 80 * 1024
            assert c.emit('signal', {'to': d.peer_id, 'type': 'ice', 'candidate': None}) \
                == {'ok': True}
            assert d.next('signal')['from'] == c.peer_id
        assert server.worker_pids() == pid, 'the worker stayed up'
        assert server.proc.poll() is None
    finally:
        for peer in peers:
            peer.close()
        server.stop()


def send_raw(peer, event, body, timeout=10):
    """Send `42/room/x,<id>["event",<body>]` with body as given, not re-encoded."""
    eio = peer.sio.eio
    ack_id = 9000 + len(peer.inbox.items)
    replies = []
    original = peer.sio._handle_ack

    def on_ack(namespace, id, data):
        if id == ack_id:
            replies.append(data[0] if data else None)
        else:
            original(namespace, id, data)
    peer.sio._handle_ack = on_ack
    try:
        eio.send(f'2{peer.ns},{ack_id}["{event}",{body}]')
        try:
            wait_until(lambda: replies or not peer.sio.connected, timeout,
                       message='an ack or a closed socket')
        except AssertionError:
            raise AssertionError(f'no ack for {event} with a {len(body)}-byte body')
    finally:
        peer.sio._handle_ack = original
    return replies[0] if replies else None
