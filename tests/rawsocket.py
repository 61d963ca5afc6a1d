"""A raw Engine.IO WebSocket, for tests that speak the wire as an attacker would."""
import json
import time

import websocket
from websocket import ABNF


class RawSocket:
    """`ws://host/socket.io/?EIO=4&transport=websocket`, frame by frame."""

    def __init__(self, url, timeout=10):
        self.ws = websocket.create_connection(
            url.replace('http', 'ws', 1) + '/socket.io/?EIO=4&transport=websocket',
            timeout=timeout)
        opened = self.ws.recv()
        assert opened.startswith('0'), opened
        self.handshake = json.loads(opened[1:])

    def send(self, text):
        self.ws.send(text)

    def join(self, room_id, token):
        """CONNECT to the room's namespace; returns the frames up to and including the
        server's CONNECT (or CONNECT_ERROR). The welcome comes before the CONNECT."""
        self.send(f'40/room/{room_id},' + json.dumps({'token': token}))
        frames = []
        self.until(lambda frame: frames.append(frame) or
                   frame.startswith(('40/room', '44/room')))
        return frames

    def until(self, match):
        """Read text frames until one matches; returns it (pings are answered)."""
        while True:
            frame = self.ws.recv()
            if frame == '2':
                self.send('3')
            elif match(frame):
                return frame

    def close_code(self, timeout=10):
        """Read until the server closes; returns its close code, or None if the TCP
        connection simply ended. Engine.IO pings go unanswered: only a close counts."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f'the server did not close the connection in {timeout}s')
            self.ws.settimeout(left)
            try:
                opcode, data = self.ws.recv_data(control_frame=True)
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketConnectionClosedException, ConnectionError):
                return None
            if opcode == ABNF.OPCODE_CLOSE:
                return int.from_bytes(data[:2], 'big') if len(data) >= 2 else None
            if opcode == ABNF.OPCODE_PING:
                self.ws.pong(data)

    def close(self):
        try:
            self.ws.close(timeout=1)
        except Exception:
            pass
