"""The gate in front of the handlers (rhystic/signaling/gate.py): reserved event names,
binary packets, a second CONNECT, connection caps and deadlines, closing after leave."""
import logging

import pytest
import requests
import websocket

from clients import api_room, api_user
from conftest import make_app, new_room, new_user
from rawsocket import RawSocket
from rhystic.signaling.gate import LogThrottle
from servers import wait_until
from test_signaling import Peer, users


@pytest.fixture
def room(tmp_path):
    app = make_app(tmp_path)
    owner = new_user(app.test_client(), 'gateowner')
    room_id = new_room(app.test_client(), owner['token'])
    ta, tb = users(app, 2)
    a = Peer(app, room_id, ta)
    b = Peer(app, room_id, tb)
    a.next('peer-joined')
    return app, room_id, a, b, tb


def seats(app, room_id):
    return app.extensions['rhystic.rooms'].peer_count(room_id)


@pytest.mark.parametrize('args', [
    ('x', {}), ('x',), (), ('x', {'token': 'T'}), ({'token': 'T'},)])
def test_an_event_named_connect_takes_no_seat(room, args, caplog):
    app, room_id, a, b, token = room
    args = tuple({'token': token} if arg == {'token': 'T'} else arg for arg in args)
    for _ in range(7):  # before the fix, one socket took every seat left this way
        ack = b.emit('connect', *args)
        assert ack['ok'] is False and ack['error']['code'] == 'unknown_event'
    assert seats(app, room_id) == 2
    assert a.events('peer-joined') == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_an_event_named_disconnect_frees_nothing_and_leaves_no_hidden_listener(room):
    app, room_id, a, b, token = room
    ack = b.emit('disconnect', 'client namespace disconnect')
    assert ack['error']['code'] == 'unknown_event'
    assert seats(app, room_id) == 2 and a.events('peer-left') == []
    # b still holds its seat and can act as one.
    assert b.signal(a.peer_id, type='ice', candidate=None) == {'ok': True}
    assert a.next('signal')['from'] == b.peer_id


@pytest.mark.parametrize('name', ['*', ''])
def test_a_catch_all_or_empty_event_name_is_unknown(room, name, caplog):
    app, room_id, a, b, token = room
    ack = b.emit(name, {'x': 1})
    assert ack['error']['code'] == 'unknown_event'
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_log_throttle_lets_some_lines_through_and_counts_the_rest():
    now = [0.0]
    throttle = LogThrottle(per_minute=3, clock=lambda: now[0])
    assert [throttle.allow('x') for _ in range(5)] == [0, 0, 0, None, None]
    assert throttle.allow('y') == 0, 'kinds are counted apart'
    now[0] = 61
    assert throttle.allow('x') == 2, 'the next line says how many were dropped'


# -- on a real worker ----------------------------------------------------------------------

@pytest.mark.slow
def test_a_second_connect_on_one_connection_is_refused(serve):
    server = serve()
    user = api_user(server.url, 'Twice')
    room_id = api_room(server.url, user['token'])
    raw = RawSocket(server.url)
    assert raw.join(room_id, user['token'])[-1].startswith(f'40/room/{room_id},{{"sid"')
    again = raw.join(room_id, user['token'])
    assert again[-1].startswith(f'44/room/{room_id},') and 'invalid_request' in again[-1]
    room = requests.get(f'{server.url}/api/rooms/{room_id}', timeout=5,
                        headers={'Authorization': f'Bearer {user["token"]}'}).json()
    assert room['peer_count'] == 1
    raw.close()


@pytest.mark.slow
def test_connections_per_address_are_capped(serve):
    server = serve(RHYSTIC_MAX_SOCKETS_PER_ADDRESS='3')
    held = [RawSocket(server.url) for _ in range(3)]
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        RawSocket(server.url)
    assert refused.value.status_code == 429
    polling = requests.get(server.url + '/socket.io/?EIO=4&transport=polling', timeout=5)
    assert polling.status_code == 429
    assert polling.json()['error']['code'] == 'too_many_connections'
    # An existing connection's own requests are not new connections.
    assert requests.get(server.url + '/healthz', timeout=5).status_code == 200
    held.pop().close()
    fresh = wait_until(lambda: _try_open(server.url), 10, message='a freed place')
    fresh.close()
    for raw in held:
        raw.close()


def _try_open(url):
    try:
        return RawSocket(url)
    except websocket.WebSocketBadStatusException:
        return None


@pytest.mark.slow
def test_a_connection_that_joins_no_room_is_closed_and_one_that_does_stays(serve):
    server = serve(RHYSTIC_JOIN_DEADLINE='1')
    user = api_user(server.url, 'Joiner')
    room_id = api_room(server.url, user['token'])
    idle, seated = RawSocket(server.url), RawSocket(server.url)
    assert seated.join(room_id, user['token'])[-1].startswith('40/room')
    assert idle.close_code(timeout=15) in (1000, None)
    # The seated one outlived the deadline: it still gets answers.
    seated.send(f'42/room/{room_id},5["ice-servers"]')
    assert '"ok":true' in seated.until(lambda f: f.startswith(f'43/room/{room_id},5'))
    seated.close()


@pytest.mark.slow
def test_leave_closes_the_connection_after_its_ack(serve):
    server = serve()
    user = api_user(server.url, 'Leaver')
    room_id = api_room(server.url, user['token'])
    raw = RawSocket(server.url)
    raw.join(room_id, user['token'])
    raw.send(f'42/room/{room_id},3["leave"]')
    assert raw.until(lambda f: f.startswith(f'43/room/{room_id},3')).endswith('[{"ok":true}]')
    assert raw.close_code(timeout=10) in (1000, None)


@pytest.mark.slow
def test_packets_that_are_not_socketio_log_one_line_now_and_then(serve):
    server = serve()
    raw = RawSocket(server.url)
    for i in range(150):
        raw.send(f'4x{i}')  # an Engine.IO message whose Socket.IO packet type is 'x'
    raw.send('2probe')
    wait_until(lambda: 'not Socket.IO' in server.log(), 10, message='a log line')
    lines = [line for line in server.log().splitlines() if 'not Socket.IO' in line]
    assert 1 <= len(lines) <= 10
    assert 'Traceback' not in server.log()
    raw.close()
