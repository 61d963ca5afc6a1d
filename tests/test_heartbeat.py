"""Engine.IO heartbeats from one timing wheel per worker (rhystic/signaling/heartbeat.py):
what a client sees must be Engine.IO's, on a real gevent worker and in threading mode."""
import inspect
import threading
import time

import engineio
import engineio.base_socket
import engineio.server
import engineio.socket
import pytest
import requests
import websocket
from werkzeug.serving import make_server

from conftest import make_app
from rawsocket import RawSocket
from rhystic.signaling import heartbeat

pytestmark = pytest.mark.slow
FAST = {'RHYSTIC_PING_INTERVAL': '1', 'RHYSTIC_PING_TIMEOUT': '1'}


def frames_until_closed(raw, answer, most=5, timeout=15):
    """Text frames, with the time each arrived, until the server closes the WebSocket or
    `most` frames came; PINGs are answered only if `answer`."""
    frames, deadline = [], time.monotonic() + timeout
    while len(frames) < most:
        left = deadline - time.monotonic()
        assert left > 0, f'neither closed nor {most} frames in {timeout}s: {frames}'
        raw.ws.settimeout(left)
        try:
            opcode, data = raw.ws.recv_data(control_frame=True)
        except websocket.WebSocketTimeoutException:
            continue
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            return frames, True
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return frames, True
        if opcode == websocket.ABNF.OPCODE_TEXT:
            frames.append((data.decode(), time.monotonic()))
            if answer and data == b'2':
                raw.send('3')
    return frames, False


def check_silent_client_is_closed(url):
    raw = RawSocket(url)
    opened = time.monotonic()
    assert (raw.handshake['pingInterval'], raw.handshake['pingTimeout']) == (1000, 1000)
    frames, closed = frames_until_closed(raw, answer=False)
    # One PING, after the interval (never before it), then the close. (Engine.IO means
    # to send a CLOSE packet first, but its send() refuses a socket past its ping
    # timeout, so none goes out, with or without the wheel.)
    assert [text for text, _ in frames] == ['2'] and closed
    assert frames[0][1] - opened >= 0.9


def check_answering_client_stays(url):
    raw = RawSocket(url)
    try:
        frames, closed = frames_until_closed(raw, answer=True, most=5)
        assert [text for text, _ in frames] == ['2'] * 5 and not closed
        gaps = [b[1] - a[1] for a, b in zip(frames, frames[1:])]
        assert min(gaps) >= 0.9, gaps  # one PING per interval after each PONG, not more
    finally:
        raw.close()


def test_a_silent_client_is_closed_after_interval_plus_timeout_on_gevent(serve):
    check_silent_client_is_closed(serve(**FAST).url)


def test_a_client_answering_pings_stays_connected_on_gevent(serve):
    check_answering_client_stays(serve(**FAST).url)


@pytest.fixture
def threaded(tmp_path):
    """The app in threading mode under Werkzeug's threaded server, as `python -m rhystic`;
    yields its URL, its Engine.IO server and the reasons its sockets were closed for."""
    app = make_app(tmp_path, PING_INTERVAL=1, PING_TIMEOUT=1)
    eio = app.extensions['socketio'].server.eio
    reasons, disconnect = [], eio.handlers['disconnect']
    eio.handlers['disconnect'] = lambda sid, reason: (reasons.append(reason),
                                                      disconnect(sid, reason))
    server = make_server('127.0.0.1', 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{server.server_port}', eio, reasons
    server.shutdown()
    thread.join(10)


def test_threading_mode_closes_a_silent_client_and_keeps_an_answering_one(threaded):
    url, eio, reasons = threaded
    check_silent_client_is_closed(url)
    # For the ping timeout: had nobody checked the PONG, the writer would have given up
    # later, for want of anything to send (TRANSPORT_CLOSE).
    assert reasons == [eio.reason.PING_TIMEOUT]
    check_answering_client_stays(url)
    assert eio.async_mode == 'threading' and eio.service_task_handle is None


def test_a_long_polling_client_that_went_away_is_closed_and_forgotten(threaded):
    """Nobody polls it again: only the wheel can close it and drop it from the server's
    sockets, which Engine.IO's service task (not started) used to do."""
    url, eio, reasons = threaded
    opened = requests.get(url + '/socket.io/?EIO=4&transport=polling', timeout=5)
    sid = engineio.packet.Packet(encoded_packet=opened.text).data['sid']
    assert sid in eio.sockets
    sock = eio.sockets[sid]
    deadline = time.monotonic() + 15
    while sid in eio.sockets:
        assert time.monotonic() < deadline, 'the abandoned polling socket was never dropped'
        time.sleep(0.05)
    assert sock.closed and reasons == [eio.reason.PING_TIMEOUT]


def test_sockets_that_answer_together_are_spread_over_the_next_buckets():
    """8,000 sockets whose PONGs come in the same instant (they connected together) would
    otherwise be pinged in one bucket, in one go, every interval."""
    server = engineio.Server(async_mode='threading', ping_interval=10, ping_timeout=10)
    server.sockets = {str(n): None for n in range(8000)}
    wheel = heartbeat.Heartbeat(server)
    wheel.started = True  # no task: only where the PINGs are filed is looked at

    class Answered:
        last_ping = 1.0
    for _ in range(1000):
        wheel.ping_later(Answered())
    sizes = [len(entries) for _, entries in sorted(wheel.wheel.items())]
    assert sum(sizes) == 1000 and len(sizes) <= heartbeat.SPREAD
    assert max(sizes) <= 4 * 8000 * wheel.tick / 10  # twice the pings and deadlines


def test_the_pinned_engineio_internals_the_heartbeat_relies_on():
    """python-engineio is pinned; if an upgrade changes any of this, heartbeat.py must be
    read again before the pin moves."""
    original = heartbeat._engineio_schedule_ping
    assert original.__qualname__ == 'Socket.schedule_ping'
    assert list(inspect.signature(original).parameters) == ['self']
    source = inspect.getsource(original)
    assert 'if self.last_ping:' in source and 'start_background_task(self._send_ping)' in source
    send_ping = inspect.getsource(engineio.socket.Socket._send_ping)
    assert 'self.last_ping = time.time()' in send_ping and 'packet.PING' in send_ping
    receive = inspect.getsource(engineio.socket.Socket.receive)
    assert 'packet.PONG:\n            self.schedule_ping()' in receive
    check = inspect.getsource(engineio.socket.Socket.check_ping_timeout)
    assert 'time.time() - last_ping > self.server.ping_timeout' in check
    assert 'raise exceptions.SocketIsClosedError()' in check
    assert 'self.last_ping = time.time()' in inspect.getsource(engineio.base_socket.BaseSocket)
    connect = inspect.getsource(engineio.server.Server._handle_connect)
    assert 'if self.start_service_task:' in connect and 's.schedule_ping()' in connect
    assert engineio.socket.Socket.schedule_ping is heartbeat.schedule_ping  # installed
