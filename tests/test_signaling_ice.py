"""`ice` with a list of candidates, and signals sent without an ack (docs/protocol.md §5)."""
import pytest

from rhystic.extensions import socketio
from rhystic.signaling import protocol
from test_signaling import CANDIDATE, SDP, Peer, room, users  # noqa: F401 (room: a fixture)

SECOND = {'candidate': 'candidate:2 1 udp 1686052607 198.51.100.7 40001 typ srflx raddr '
                       '192.0.2.7 rport 54321', 'sdpMid': '0', 'sdpMLineIndex': 0}


class Acks:
    """The ACK packets the server sends, counted per Engine.IO session."""

    def __init__(self):
        self.hook, self.sent = socketio.server._send_packet, []

    def __enter__(self):
        def spy(eio_sid, pkt):
            if pkt.packet_type == 3:  # ACK
                self.sent.append(eio_sid)
            return self.hook(eio_sid, pkt)
        socketio.server._send_packet = spy
        return self

    def __exit__(self, *exc):
        socketio.server._send_packet = self.hook


def quietly(peer, payload):
    """Emit `signal` as the web client sends `ice`: without asking for an ack."""
    assert peer.sio.emit('signal', payload, namespace=peer.ns) is None


def test_a_list_of_candidates_is_relayed_as_one_signal(sqlite_app, room):
    room_id, _ = room
    a, b, c = (Peer(sqlite_app, room_id, t) for t in users(sqlite_app, 3))
    extra = {**SECOND, 'evil': '<script>'}  # unknown fields are dropped, as for one
    assert b.signal(a.peer_id, type='ice', candidates=[CANDIDATE, extra]) == {'ok': True}
    assert a.next('signal') == {'from': b.peer_id, 'type': 'ice',
                                'candidates': [CANDIDATE, SECOND]}
    assert a.events('signal') == [] and c.events('signal') == []


def test_ice_without_an_ack_is_relayed_and_answered_by_no_frame(sqlite_app, room):
    room_id, _ = room
    a, b = (Peer(sqlite_app, room_id, t) for t in users(sqlite_app, 2))
    with Acks() as acks:
        quietly(b, {'to': a.peer_id, 'type': 'ice', 'candidates': [CANDIDATE, SECOND]})
        quietly(b, {'to': a.peer_id, 'type': 'ice', 'candidate': CANDIDATE})
        assert a.next('signal')['candidates'] == [CANDIDATE, SECOND]
        assert a.next('signal')['candidate'] == CANDIDATE
        assert b.signal(a.peer_id, type='offer', sdp=SDP) == {'ok': True}
    assert len(acks.sent) == 1, 'only the offer, which asked for one, was acknowledged'
    assert b.events() == []


@pytest.mark.parametrize('payload,code', [
    ({'to': 'PEER', 'type': 'ice', 'candidates': []}, 'invalid_request'),
    ({'to': 'PEER', 'type': 'ice', 'candidates': CANDIDATE}, 'invalid_request'),
    ({'to': 'PEER', 'type': 'ice', 'candidates': [CANDIDATE, None]}, 'invalid_request'),
    ({'to': 'PEER', 'type': 'ice', 'candidates': [CANDIDATE, 'candidate:1']},
     'invalid_request'),
    ({'to': 'PEER', 'type': 'ice', 'candidates': [CANDIDATE], 'candidate': CANDIDATE},
     'invalid_request'),
    ({'to': 'PEER', 'type': 'ice', 'candidates': [{'candidate': 'c' * 5000}]}, 'too_large'),
    ({'to': 'PEER', 'type': 'ice', 'candidates': [CANDIDATE] * 33}, 'too_large'),
])
def test_bad_candidate_lists_are_refused_whole(sqlite_app, room, payload, code):
    room_id, _ = room
    a, b = (Peer(sqlite_app, room_id, t) for t in users(sqlite_app, 2))
    payload = {**payload, 'to': a.peer_id}
    ack = b.emit('signal', payload)
    assert ack['ok'] is False and ack['error']['code'] == code, ack
    quietly(b, payload)  # the same without an ack: signal-error says why
    assert b.next('signal-error') == {'to': a.peer_id, 'type': 'ice', 'error': ack['error']}
    assert a.events('signal') == []
    assert b.signal(a.peer_id, type='ice', candidates=[CANDIDATE] * 32) == {'ok': True}


def test_a_refused_signal_without_an_ack_gets_signal_error(sqlite_app, room):
    room_id, _ = room
    a, b = (Peer(sqlite_app, room_id, t) for t in users(sqlite_app, 2))
    quietly(b, {'to': 'p_nobody12345', 'type': 'ice', 'candidates': [CANDIDATE]})
    error = b.next('signal-error')
    assert error['to'] == 'p_nobody12345' and error['type'] == 'ice'
    assert error['error']['code'] == protocol.UNKNOWN_PEER and error['error']['message']
    quietly(b, {'to': 7, 'type': 'bye'})  # what cannot be named comes back as null
    assert b.next('signal-error') == {
        'to': None, 'type': None, 'error': {'code': protocol.INVALID_REQUEST, 'message':
                                            "signal needs 'to', a peer_id string"}}
    assert a.events('signal') == []


def test_rate_limited_signals_without_an_ack_are_dropped_silently(sqlite_app, room):
    room_id, _ = room
    sqlite_app.config.update(SIGNAL_RATE=1, SIGNAL_BURST=2)
    a, b = (Peer(sqlite_app, room_id, t) for t in users(sqlite_app, 2))
    for _ in range(4):
        quietly(b, {'to': a.peer_id, 'type': 'ice', 'candidate': CANDIDATE})
    assert len(a.events('signal')) == 2, 'the burst went through, the rest did not'
    assert b.events() == [], 'a flood is not answered frame for frame'
