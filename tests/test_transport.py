"""The WebSocket under Engine.IO (rhystic/signaling/transport.py), on a real gevent worker,
as an anonymous attacker would try it: floods, binary frames, oversized messages."""
import json
import os
import subprocess
import sys

import pytest
import requests
from websocket import ABNF

from clients import PyPeer, api_room, api_user
from rawsocket import RawSocket

pytestmark = pytest.mark.slow
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start_flood(url, seconds):
    """bench/flood.py's flooder, in a process of its own (a thread would share our GIL)."""
    return subprocess.Popen([sys.executable, '-m', 'bench.flood', '--flood-only', url,
                             str(seconds)], cwd=ROOT, stdout=subprocess.PIPE, text=True)


def test_a_flooding_socket_cannot_starve_the_worker(serve):
    """With the frame cap out of the way, a flood must still leave time for everyone else:
    /healthz and a game in another room keep answering while it runs. (Liveness, not
    speed: before the fix /healthz stopped answering within seconds; figures are in
    bench/flood.py.)"""
    server = serve(RHYSTIC_FRAME_RATE='1000000', RHYSTIC_FRAME_BURST='1000000')
    owner = api_user(server.url, 'Owner')
    room = api_room(server.url, owner['token'])
    a = PyPeer(server.url, room, api_user(server.url, 'A')['token'])
    b = PyPeer(server.url, room, api_user(server.url, 'B')['token'])
    worker = server.worker_pids()
    flooder = start_flood(server.url, 10)
    try:
        answered = 0
        while flooder.poll() is None:
            assert requests.get(server.url + '/healthz', timeout=5).status_code == 200
            assert a.emit('signal', {'to': b.peer_id, 'type': 'ice', 'candidate': None},
                          timeout=5) == {'ok': True}
            assert b.next('signal', timeout=5)['from'] == a.peer_id
            answered += 1
        flooded = json.loads(flooder.communicate(timeout=30)[0])
    finally:
        if flooder.poll() is None:
            flooder.kill()
        a.close()
        b.close()
    assert flooded['sent'] > 50_000 and flooded['closed'] <= 1, 'it flooded, on one socket'
    assert answered >= 3, f'only {answered} probes were answered in 10 s of flood'
    assert server.worker_pids() == worker


def test_a_socket_over_the_frame_rate_is_closed_with_policy_violation(serve):
    server = serve()
    raw = RawSocket(server.url)
    for _ in range(2000):  # five times the burst, faster than any rate
        try:
            raw.ws.send('3')
        except OSError:
            break
    assert raw.close_code() == 1008
    assert requests.get(server.url + '/healthz', timeout=5).status_code == 200
    assert 'too many messages' in server.log()


def test_a_binary_frame_closes_the_socket_with_unsupported_data(serve):
    server = serve()
    raw = RawSocket(server.url)
    raw.ws.send_binary(b'\x04' + b'x' * 1000)
    assert raw.close_code() == 1003


def test_a_message_over_the_size_limit_is_refused_while_it_arrives(serve):
    """Fragments of one text message, 160 KB in all: closed with 1009 (too big) instead of
    being buffered whole first."""
    server = serve()
    raw = RawSocket(server.url)
    chunk = 'x' * 8192
    raw.ws.send_frame(ABNF.create_frame('4' + chunk, ABNF.OPCODE_TEXT, fin=0))
    try:
        for _ in range(19):
            raw.ws.send_frame(ABNF.create_frame(chunk, ABNF.OPCODE_CONT, fin=0))
    except OSError:
        pass
    assert raw.close_code() == 1009


def test_a_binary_socketio_packet_is_answered_and_its_attachments_never_kept(serve):
    """A packet that announces a huge number of attachments, then binary frames: the
    packet gets an invalid_request ack and the connection is closed, before any
    attachment can be kept."""
    server = serve()
    user = api_user(server.url, 'Binary')
    room = api_room(server.url, user['token'])
    raw = RawSocket(server.url)
    joined = raw.join(room, user['token'])
    assert joined[-1].startswith('40/room') and '"welcome"' in joined[0]
    raw.send(f'451000000000-/room/{room},7["signal",{{"_placeholder":true,"num":0}}]')
    ack = raw.until(lambda f: f.startswith(f'43/room/{room},7'))
    assert '"invalid_request"' in ack and 'binary' in ack
    try:
        raw.ws.send_binary(b'y' * 80_000)
    except OSError:
        pass
    assert raw.close_code() in (1000, 1003, None)
    assert requests.get(server.url + '/healthz', timeout=5).status_code == 200
