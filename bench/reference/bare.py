"""The floor: the smallest python-socketio server that speaks what relay.js speaks.

    gunicorn -k gevent --worker-connections 20000 bench.reference.bare:app

Rhystic's stack is fixed (python-socketio on python-engineio, simple-websocket and
wsproto, under gunicorn's gevent worker). This is that stack with Rhystic's signaling
logic and nothing else, the same as bench/reference/relay.js is for Node: a namespace
per room, `welcome` with the peers already seated, `peer-joined` / `peer-left` to the
rest of the room, `signal` relayed to the one addressed peer with `from` stamped and an
ack when one was asked for (a refused signal sent without one gets `signal-error`),
`ice` with one candidate or a `candidates` list. No database, no auth beyond a non-empty
token, no TURN, no resume, no limits. What it costs is what Rhystic cannot go below
without replacing the stack (bench/README.md, "The floor: bare python-socketio").

It keeps Rhystic's settings where they change the cost (rhystic/__init__.py, wsgi.py):
async_handlers=False, orjson, permessage-deflate refused, the same Engine.IO ping
interval and timeout and the same GC policy. Not Rhystic's own additions: the WebSocket
reader's fairness yield and frame checks (rhystic/signaling/transport.py), metrics, logs.
"""
import atexit
import gc
import os
import re
import secrets

import socketio

from rhystic.collector import keep_collections_short, record_pauses
from rhystic.jsonfast import fast_json

TYPES = frozenset(('offer', 'answer', 'ice'))
MAX_CANDIDATES = 32
ROOM_NAMESPACE = re.compile(r'^/room/[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$')
OK = {'ok': True}

sio = socketio.Server(
    async_mode='gevent', namespaces='*', json=fast_json,
    ping_interval=10, ping_timeout=10,  # rhystic/config.py's defaults, as relay.js
    max_http_buffer_size=80 * 1024, async_handlers=False,
    logger=False, engineio_logger=False)
rooms = {}  # namespace -> {peer_id: (public seat, sid)}
peer_of = {}  # sid -> peer_id (a sid is per namespace: one seat per sid)


@sio.on('connect', namespace='*')
def connect(namespace, sid, environ, auth=None):
    if not ROOM_NAMESPACE.match(namespace):
        raise socketio.exceptions.ConnectionRefusedError('Invalid namespace')
    token = auth.get('token') if isinstance(auth, dict) else None
    if not isinstance(token, str) or not token:
        raise socketio.exceptions.ConnectionRefusedError(
            'unauthorized', {'message': 'sign in first'})
    seats = rooms.setdefault(namespace, {})
    peer_id = 'p_' + secrets.token_urlsafe(9)
    seat = {'peer_id': peer_id, 'user_id': 'u_ref', 'display_name': 'ref',
            'media': {'audio': True, 'video': True}}
    peers = [public for public, _ in seats.values()]
    seats[peer_id] = (seat, sid)
    peer_of[sid] = peer_id
    sio.emit('welcome', {
        'peer_id': peer_id, 'resume': 'x', 'resumed': False, 'self': seat,
        'room': {'id': namespace[6:], 'name': 'bench', 'max_peers': 8}, 'peers': peers,
        'ice_servers': [], 'ice_transport_policy': 'all', 'ice_servers_ttl': None,
        'grace_seconds': 20}, to=sid, namespace=namespace)
    sio.emit('peer-joined', seat, namespace=namespace, skip_sid=sid)


def _refusal(code, message):
    return {'ok': False, 'error': {'code': code, 'message': message}}


@sio.on('signal', namespace='*')
def signal(namespace, sid, data=None, *rest):
    if not isinstance(data, dict) or not isinstance(data.get('to'), str) or \
            data.get('type') not in TYPES:
        return _refusal('invalid_request', 'bad signal')
    seats, me = rooms.get(namespace, {}), peer_of.get(sid)
    to = seats.get(data['to'])
    if to is None or data['to'] == me:
        return _refusal('unknown_peer', 'no such peer')
    kind = data['type']
    if kind != 'ice':
        out = {'from': me, 'type': kind, 'sdp': data.get('sdp')}
    elif 'candidates' not in data:
        out = {'from': me, 'type': 'ice', 'candidate': data.get('candidate')}
    else:
        listed = data['candidates']
        if not isinstance(listed, list) or not 0 < len(listed) <= MAX_CANDIDATES or \
                'candidate' in data or not all(
                    isinstance(c, dict) and isinstance(c.get('candidate'), str)
                    for c in listed):
            return _refusal('invalid_request', 'bad candidates')
        out = {'from': me, 'type': 'ice', 'candidates': listed}
    sio.emit('signal', out, to=to[1], namespace=namespace)
    return OK


def _leave(namespace, sid):
    peer_id = peer_of.pop(sid, None)
    seats = rooms.get(namespace)
    if peer_id is None or seats is None or seats.pop(peer_id, None) is None:
        return
    sio.emit('peer-left', {'peer_id': peer_id, 'reason': 'left'}, namespace=namespace,
             skip_sid=sid)
    if not seats:
        del rooms[namespace]


@sio.on('leave', namespace='*')
def leave(namespace, sid, *args):
    _leave(namespace, sid)
    return OK


@sio.on('disconnect', namespace='*')
def disconnect(namespace, sid, reason=None):
    _leave(namespace, sid)


def answer_unacked_refusals(server):
    """A refused signal sent without an ack gets `signal-error` (docs/protocol.md §5).

    python-socketio drops a handler's answer when no ack was asked for, and tells the
    handler nothing of it, so this wraps the private method that knows (the ack `id`):
    the same hook as rhystic/signaling/handlers.py (answer_unacked_signals), checked by
    tests/test_bench_floor.py. It costs one comparison per event.
    """
    handle = server._handle_event_internal

    def handle_event(server, sid, eio_sid, data, namespace, id):
        if id is not None or data[0] != 'signal':
            return handle(server, sid, eio_sid, data, namespace, id)
        answer = server._trigger_event(data[0], namespace, sid, *data[1:])
        if isinstance(answer, dict) and not answer.get('ok'):
            sent = data[1] if len(data) > 1 and isinstance(data[1], dict) else {}
            to = sent.get('to') if isinstance(sent.get('to'), str) else None
            kind = sent.get('type') if sent.get('type') in TYPES else None
            server.emit('signal-error', {'to': to, 'type': kind, 'error': answer['error']},
                        to=sid, namespace=namespace)
    server._handle_event_internal = handle_event


def healthz(environ, start_response):
    ok = environ.get('PATH_INFO') == '/healthz'
    start_response('200 OK' if ok else '404 Not Found', [('Content-Type', 'text/plain')])
    return [b'ok']


def without_websocket_compression(wsgi_app):
    # As wsgi.py: simple-websocket would accept the client's permessage-deflate offer
    # and run every frame through zlib; Node's socket.io refuses it by default.
    def app(environ, start_response):
        environ.pop('HTTP_SEC_WEBSOCKET_EXTENSIONS', None)
        return wsgi_app(environ, start_response)
    return app


answer_unacked_refusals(sio)
app = without_websocket_compression(socketio.WSGIApp(sio, healthz))
if os.environ.get('RHYSTIC_GC_LOG'):  # each collection's pause, for bench/signaling.py
    record_pauses(os.environ['RHYSTIC_GC_LOG'])
keep_collections_short()  # as wsgi.py under gevent: freeze survivors, no long pauses


@atexit.register
def _thaw():
    # Frozen objects are freed only as the interpreter tears its modules down, where a
    # logging handler's weakref callback finds gevent gone and prints an error.
    gc.callbacks.clear()
    gc.unfreeze()
