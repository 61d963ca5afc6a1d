"""The plain WebSocket API: `ws://host/ws?room=<room_id>&user_id=<user_id>`, JSON text.

The original design's second transport (docs/protocol.md, "The plain WebSocket API"),
for clients with no Socket.IO library: every message is one JSON object with a `type`.

It shares everything with Socket.IO by being one of its sockets. Each /ws connection is
registered with python-socketio as an Engine.IO socket of this worker (PlainSocket, in
`eio.sockets`) that joined the room's namespace, and is admitted by Signaling.on_connect
itself. So whatever Signaling and the game table emit (a relayed signal, peer-joined, a
broadcast that came from another worker through the message queue, a disconnect after a
kick) reaches it as it reaches a browser, and PlainSocket writes each packet out as a
`{"type": event, ...}` message; what the client sends goes to the same handlers, through
python-socketio's own dispatch. Seats, capacity, grace, resume, kick and rate limits are
therefore the Socket.IO ones, and no handler knows which transport a peer uses.

The connection gets the same guards as Socket.IO's WebSocket: transport.GuardedServer
(a turn for others per read, frame cap 1008, no binary 1003, size limit 1009,
back-pressure), the gate's per-address cap (HTTP 429 before the upgrade) and counting,
and the same origin rule as Engine.IO.
"""
import logging
import time

import orjson
from flask import Response, jsonify, request
from flask_socketio import ConnectionRefusedError
from simple_websocket import ConnectionClosed
from socketio import packet as sio_packet
from wsproto.events import Ping
from wsproto.utilities import LocalProtocolError

from ..auth import bearer_token, user_for_socket
from ..extensions import db
from ..jsonfast import UNDECODABLE
from . import protocol
from .gate import RESERVED_EVENTS

log = logging.getLogger('rhystic.signaling')

PATH = '/ws'
NORMAL, POLICY, RESTARTING = 1000, 1008, 1012  # WebSocket close codes
OUTBOX_LIMIT = 2000    # messages waiting for a client that does not read: then it is closed
MAX_REF = 64
_CLOSE = object()      # the writer's last item


class PlainSocket:
    """An Engine.IO socket as python-socketio sees it, written out as plain JSON.

    `send` gets every packet python-socketio addresses to this connection; it only
    queues, so an emitter (another player's relay) never waits on this client. One
    writer task sends the queue in order, and pings the client, as Engine.IO does.
    """

    def __init__(self, eio, eio_sid, ws, ping_interval, ping_timeout):
        self.eio, self.sid, self.ws = eio, eio_sid, ws
        self.ping_interval, self.ping_timeout = ping_interval, ping_timeout
        self.closed = self.closing = False
        self.session = {}  # Engine.IO's per-socket session; nothing here uses it
        self.queue = eio.create_queue()
        self.writer = None

    # -- what Engine.IO's socket offers python-socketio and the server ------------------

    def send(self, pkt):
        if self.closing or not isinstance(pkt.data, str):
            return
        try:
            sio = sio_packet.Packet(encoded_packet=pkt.data)
        except Exception:  # not a Socket.IO packet: nothing we ever send
            return
        if sio.packet_type == sio_packet.EVENT and sio.data:
            self.push(outgoing(sio.data[0], sio.data[1] if len(sio.data) > 1 else None))
        elif sio.packet_type == sio_packet.DISCONNECT:  # kicked, resumed elsewhere, left
            self.close_with(NORMAL, 'closed by the server')

    def check_ping_timeout(self):
        return True  # the writer pings; Engine.IO's service task need not

    def close(self, wait=True, abort=False, reason=None):
        # abort: a worker that is stopping (shutdown.py) hands its sockets over, and
        # 1012 tells the client to reconnect and resume, as a drop would.
        self.close_with(RESTARTING if abort else NORMAL,
                        'the server is restarting: reconnect' if abort else 'closed by the server')

    # -- ours ---------------------------------------------------------------------------

    def push(self, message):
        if self.closing:
            return
        if self.queue.qsize() >= OUTBOX_LIMIT:
            self.close_with(POLICY, 'too far behind: read your messages')
            return
        self.queue.put(orjson.dumps(message).decode())

    def close_with(self, code, reason):
        if not self.closing:
            self.closing = True
            self.queue.put((_CLOSE, code, reason))

    def start(self):
        self.writer = self.eio.start_background_task(self._write_forever)

    def _write_forever(self):
        empty = self.eio.get_queue_empty_exception()
        last_pong = next_ping = time.monotonic()
        next_ping += self.ping_interval
        code, reason = POLICY, 'no pong in time'
        try:
            while True:
                try:
                    item = self.queue.get(timeout=max(0.0, next_ping - time.monotonic()))
                except empty:
                    item = None
                if isinstance(item, tuple) and item[0] is _CLOSE:
                    _, code, reason = item
                    return
                if item is not None:
                    self.ws.send(item)
                if time.monotonic() >= next_ping:
                    last_pong = self._ping(last_pong)
                    if last_pong is None:
                        return
                    next_ping = time.monotonic() + self.ping_interval
        except (ConnectionClosed, OSError, LocalProtocolError):
            code = None  # the client went: nobody is left to tell
        finally:
            self._end(code, reason)

    def _end(self, code, reason):
        """Close with code (None: the client is gone, say nothing), and wake the reader."""
        self.closing = True
        if self.ws.connected and code is not None:
            try:
                self.ws.close(code, reason)
            except (ConnectionClosed, OSError, LocalProtocolError):
                pass
        self.ws.connected = False  # the reader must stop waiting, whatever happened
        self.ws.event.set()

    def _ping(self, last_pong):
        """A WebSocket ping; the client's pong proves it alive. A client silent for
        ping interval + timeout is closed (None), and its seat enters the grace period."""
        now = time.monotonic()
        if self.ws.pong_received:
            last_pong, self.ws.pong_received = now, False
        if now - last_pong > self.ping_interval + self.ping_timeout:
            return None
        self.ws.sock.send(self.ws.ws.send(Ping()))
        return last_pong

    def finish(self, timeout=2.0):
        self.close_with(NORMAL, 'closed')
        self.closed = True
        if self.writer is not None:
            try:
                self.writer.join(timeout)
            except Exception:  # already done
                pass


def outgoing(event, payload):
    """A Socket.IO event as a plain message: a signal is sent as the original design had
    it ({"type": "offer", "from", "sdp"}); any other event as {"type": event, ...payload}."""
    if event == protocol.SIGNAL and isinstance(payload, dict):
        return payload
    if isinstance(payload, dict) and 'type' not in payload:
        return {'type': event, **payload}
    return {'type': event, 'data': payload}


class PlainWebSocket:
    """The /ws endpoint: checks before the upgrade, admission, then the message loop."""

    def __init__(self, app, socketio, signaling):
        self.server = socketio.server
        self.eio = socketio.server.eio
        self.signaling = signaling
        self.gate = signaling.gate
        self.config = app.config

    # -- HTTP, before the upgrade -------------------------------------------------------

    @staticmethod
    def not_upgraded():
        return _http_error(400, protocol.INVALID_REQUEST, 'this is a WebSocket endpoint: '
                           'ws://<host>/ws?room=<room_id> (docs/protocol.md)')

    def view(self):
        environ = request.environ
        if not self._origin_allowed(environ):
            return _http_error(403, protocol.FORBIDDEN, 'not an accepted origin')
        address = request.remote_addr
        gate = self.gate
        if gate.max_per_address and gate.by_address[address] >= gate.max_per_address:
            gate._note('too_many_sockets', 'connection refused: too many from one address',
                       address)
            response = _http_error(429, protocol.TOO_MANY_CONNECTIONS,
                                   f'at most {gate.max_per_address} connections per address')
            response.headers['Retry-After'] = '10'
            return response
        driver = self.eio._async['websocket'](self._session, self.eio)  # transport's guard
        return WebSocketResponse(driver)

    def _origin_allowed(self, environ):
        """Engine.IO's rule for Socket.IO: the page's own origin, or CORS_ORIGINS."""
        origin = environ.get('HTTP_ORIGIN')
        if not origin or self.eio.cors_allowed_origins == []:
            return True
        allowed = self.eio._cors_allowed_origins(environ)
        return allowed is None or origin in allowed

    # -- the connection -----------------------------------------------------------------

    def _session(self, driver):
        ws, environ = driver.ws, request.environ
        eio_sid = 'ws-' + self.eio.generate_id()
        socket = PlainSocket(self.eio, eio_sid, ws, self.config['PING_INTERVAL'],
                             self.config['PING_TIMEOUT'])
        self.eio.sockets[eio_sid] = socket
        self.gate.on_eio_connect(eio_sid, environ)  # the address count, environ, deadline
        socket.start()
        try:
            joined = self._join(socket, eio_sid)
            if joined:
                self._read(socket, *joined)
        except Exception:  # e.g. the store failed mid-welcome: close, never a dead greenlet
            log.exception('plain websocket failed', extra={'event': 'error',
                                                           'remote_addr': request.remote_addr})
            socket.close_with(1011, 'the server failed; reconnect')
        finally:
            socket.finish()
            self.eio.sockets.pop(eio_sid, None)
            self.gate.on_eio_disconnect(eio_sid, self.server.reason.TRANSPORT_CLOSE)

    def _join(self, socket, eio_sid):
        """Admit the connection through Signaling.on_connect; (namespace, sid) or None."""
        args = request.args
        namespace = '/room/' + args.get('room', '')[:64]
        auth = {name: args[name] for name in ('peer_id', 'resume', 'display_name')
                if args.get(name)}
        token = bearer_token() or args.get('token')
        if token:
            auth['token'] = token
        manager = self.server.manager
        sid = manager.pre_connect(eio_sid, namespace)
        # What Flask-SocketIO gives a connect handler; this request is the handshake.
        request.sid, request.namespace = sid, namespace
        try:
            self._check_user_id(auth, args.get('user_id'), namespace)
            self.signaling.on_connect(auth)
        except ConnectionRefusedError as refused:
            manager.disconnect(sid, namespace, ignore_queue=True)
            error = {'code': refused.error_args['message'],
                     **refused.error_args.get('data', {})}
            socket.push({'type': 'connect_error', 'error': error})  # as Socket.IO names it
            socket.close_with(POLICY, error['code'])
            return None
        except Exception:
            # Failed half way (after the seat was taken, say): count it connected, so that
            # closing it runs the disconnect handler like any drop and frees the manager.
            manager.connect(sid, namespace)
            raise
        finally:
            db.session.remove()  # the connection lasts a game; its SQL connection must not
        manager.connect(sid, namespace)
        return namespace, sid

    def _check_user_id(self, auth, user_id, namespace):
        """user_id is the original design's; it must be the caller's own, never trusted
        alone. Without a caller, on_connect refuses with unauthorized."""
        if user_id is None:
            return
        caller = user_for_socket(auth)
        if caller is not None and caller.public_id != user_id:
            self.signaling._refuse(namespace, protocol.FORBIDDEN,
                                   'user_id must be your own (the token or session says '
                                   'who you are; user_id may be left out)', {})

    def _read(self, socket, namespace, sid):
        ws = socket.ws
        while not socket.closing:
            try:
                text = ws.receive()
            except ConnectionClosed:
                return
            if text is None or socket.closing:
                continue
            answer = self.handle(namespace, sid, text)
            if answer is not None:
                socket.push(answer)
            if socket.sid in self.gate.close_after:  # e.g. after leave, as the gate does
                self.gate.close_after.discard(socket.sid)
                socket.close_with(NORMAL, 'closed by the server')

    # -- one message --------------------------------------------------------------------

    def handle(self, namespace, sid, text):
        """Run one client message through the Socket.IO handlers; the answer, or None."""
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError:
            return _answer(None, None, self.signaling.on_unknown(UNDECODABLE, namespace, sid))
        if not isinstance(message, dict) or not isinstance(message.get('type'), str):
            return _answer(None, None, self._refused(
                namespace, sid, protocol.INVALID_REQUEST, 'a message is a JSON object with '
                                                          'a "type"'))
        kind = message.pop('type')
        ref = message.pop('ref', None)
        if ref is not None and not _valid_ref(ref):
            return _answer(kind, None, self._refused(
                namespace, sid, protocol.INVALID_REQUEST,
                f'ref must be a string of at most {MAX_REF} characters, or an integer'))
        try:
            event, payload = self._event(namespace, sid, kind, message)
        except protocol.ProtocolError as exc:
            return _answer(kind, ref, self._refused(namespace, sid, exc.code, exc.message))
        if event in RESERVED_EVENTS or event in self.server.reserved_events:
            ack = self.signaling.on_unknown(event, namespace, sid)  # never dispatched
        else:
            ack = self.server._trigger_event(event, namespace, sid, payload)
        return _answer(kind, ref, ack)

    def _refused(self, namespace, sid, code, message):
        """An error answered here, before any handler: it costs the sender's rate all
        the same, as Signaling.on_unknown charges for unknown events."""
        session = self.signaling.sessions.get(sid)
        if session is not None and not session.bucket.take():
            return self.signaling._throttled(namespace, sid, session)
        return protocol.error_ack(code, message)

    def _event(self, namespace, sid, kind, message):
        """The Socket.IO event and payload a plain message stands for."""
        if kind in protocol.SIGNAL_TYPES:
            if 'to' not in message:
                message['to'] = self._only_other_peer(namespace, sid)
            return protocol.SIGNAL, {**message, 'type': kind}
        if kind == protocol.GAME:  # its payload has a "type" of its own: the action's
            return kind, message.get('action')
        return kind, (message or None)

    def _only_other_peer(self, namespace, sid):
        """The original two-player flow sends signals without `to`: they go to the one
        other seat, and are refused when there is not exactly one."""
        session = self.signaling.sessions.get(sid)
        if session is None:
            return None  # the handler answers not_joined
        try:
            peers = self.signaling.rooms.peers(session.room_id)
        except Exception:  # the store is away
            raise protocol.ProtocolError(protocol.UNAVAILABLE, 'the room can not be read just '
                                         'now: send it again, or name the peer in "to"')
        others = [p['peer_id'] for p in peers if p['peer_id'] != session.peer_id]
        if len(others) != 1:
            raise protocol.ProtocolError(protocol.INVALID_REQUEST,
                                         f'"to" is needed: the room holds {len(others)} '
                                         'other peers, not exactly one')
        return others[0]


def _valid_ref(ref):
    return (isinstance(ref, str) and len(ref) <= MAX_REF) or \
        (isinstance(ref, int) and not isinstance(ref, bool) and abs(ref) < 2 ** 53)


def _answer(kind, ref, ack):
    """An error always answers; a success only when it says more than ok, or the client
    sent a ref to match it with."""
    extra = {'ref': ref} if ref is not None else {}
    kind = kind[:64] if kind is not None else None
    if not isinstance(ack, dict):  # not_handled: no handler took it (can't happen)
        ack = protocol.error_ack(protocol.UNKNOWN_EVENT, f'unknown event {kind!r}')
    if not ack.get('ok'):
        return {'type': 'error', 'for': kind, **extra,
                'error': ack.get('error') or {'code': protocol.INTERNAL, 'message': 'failed'}}
    if ack == protocol.OK and ref is None:
        return None
    return {**ack, 'type': 'ack', 'for': kind, **extra}


def _http_error(status, code, message):
    response = jsonify({'error': {'code': code, 'message': message}})
    response.status_code = status
    return response


class WebSocketResponse(Response):
    """What the view returns. Flask calls a response outside the view's error handling,
    and this one runs the guarded driver, which serves the connection to its end and
    then tells the server that the connection was its own (gunicorn: StopIteration,
    Werkzeug: ConnectionError), as Engine.IO's WebSocket does: no HTTP response follows
    the 101 the handshake sent."""

    def __init__(self, driver):
        super().__init__(status=101)
        self.driver = driver

    def __call__(self, environ, start_response):
        return self.driver(environ, start_response)


def init_app(app, socketio, signaling):
    endpoint = PlainWebSocket(app, socketio, signaling)
    # Werkzeug routes an Upgrade: websocket request only to rules marked websocket=True.
    app.add_url_rule(PATH, 'plain_websocket', endpoint.view, websocket=True)
    app.add_url_rule(PATH, 'plain_websocket_http', endpoint.not_upgraded)
    app.extensions['rhystic.plainws'] = endpoint
    return endpoint
