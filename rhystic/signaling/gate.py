"""What may reach the handlers: connection caps and a filter on Socket.IO packets.

python-socketio hands us everything a client can encode. Some of it must never reach
the handlers, and is answered here instead (docs/protocol.md §2):
- an event named `connect`, `disconnect` or `*` would be dispatched to the handler of
  that name, as if it were the lifecycle call (a second seat for one socket, a freed seat
  with the socket still listening): it gets an `unknown_event` ack and changes nothing;
- binary packets: the protocol is JSON only, and python-socketio would keep attachments
  of a binary packet in memory without limit. The packet gets an `invalid_request` ack
  and the connection is closed;
- a second CONNECT to a namespace this connection already joined: `connect_error`;
- a packet that is not Socket.IO at all: dropped, with one log line now and then.

Connections are also capped per client address (MAX_SOCKETS_PER_ADDRESS, answered with
HTTP 429 before any Engine.IO work), and a connection that holds no room JOIN_DEADLINE
seconds after it opened is closed: an idle socket costs the worker memory and pings.
"""
import collections
import logging
import time
from urllib.parse import parse_qs

from socketio import packet as sio_packet

from ..jsonfast import fast_json
from . import protocol
from .protocol import error_ack

log = logging.getLogger('rhystic.signaling')
RESERVED_EVENTS = frozenset({'connect', 'disconnect', '*'})


class LogThrottle:
    """At most `per_minute` lines of one kind a minute; the rest are counted and the
    count is reported with the next line that gets through."""

    def __init__(self, per_minute=10, clock=time.monotonic):
        self.per_minute, self.clock = per_minute, clock
        self._windows = {}  # kind -> [window start, lines, suppressed]

    def allow(self, kind):
        now = self.clock()
        window = self._windows.setdefault(kind, [now, 0, 0])
        if now - window[0] >= 60:
            window[:] = [now, 0, window[2]]
        if window[1] >= self.per_minute:
            window[2] += 1
            return None
        window[1] += 1
        suppressed, window[2] = window[2], 0
        return suppressed


class Gate:
    def __init__(self, server, config, sleep):
        self.server = server
        self.max_per_address = int(config['MAX_SOCKETS_PER_ADDRESS'])
        self.join_deadline = float(config['JOIN_DEADLINE'])
        self.sleep = sleep
        self.by_address = collections.Counter()
        self.address_of = {}     # eio_sid -> remote address
        self.pending = {}        # eio_sid -> time by which it must hold a room
        self.close_after = set()  # eio_sids to close once the current packet is answered
        self.logs = LogThrottle()
        self._deliver = server._handle_eio_message
        self._runner = None

    def install(self, app):
        server = self.server
        server._handle_eio_message = self.on_message  # the test client calls this too
        server.eio.on('message', self.on_message)
        server.eio.on('connect', self.on_eio_connect)
        server.eio.on('disconnect', self.on_eio_disconnect)
        app.wsgi_app = self.middleware(app.wsgi_app)

    # -- connections ---------------------------------------------------------------------

    def middleware(self, wsgi_app):
        """Refuse a new Engine.IO connection from an address that holds too many."""
        def app(environ, start_response):
            if self.max_per_address and environ.get('PATH_INFO', '').startswith('/socket.io') \
                    and self.by_address[environ.get('REMOTE_ADDR')] >= self.max_per_address \
                    and 'sid' not in parse_qs(environ.get('QUERY_STRING', '')):
                self._note('too_many_sockets', 'connection refused: too many from one address',
                           environ.get('REMOTE_ADDR'))
                body = fast_json.dumps({'error': {
                    'code': protocol.TOO_MANY_CONNECTIONS,
                    'message': f'at most {self.max_per_address} connections per address'}})
                start_response('429 Too Many Requests', [
                    ('Content-Type', 'application/json'), ('Retry-After', '10')])
                return [body.encode()]
            return wsgi_app(environ, start_response)
        return app

    def on_eio_connect(self, eio_sid, environ):
        address = environ.get('REMOTE_ADDR')
        self.by_address[address] += 1
        self.address_of[eio_sid] = address
        if self.join_deadline > 0:
            self.pending[eio_sid] = time.monotonic() + self.join_deadline
            if self._runner is None:
                self._runner = self.server.start_background_task(self.run)
        return self.server._handle_eio_connect(eio_sid, environ)

    def on_eio_disconnect(self, eio_sid, reason=None):
        self.pending.pop(eio_sid, None)
        self.close_after.discard(eio_sid)
        address = self.address_of.pop(eio_sid, None)
        if address is not None:
            self.by_address[address] -= 1
            if self.by_address[address] <= 0:
                del self.by_address[address]
        return self.server._handle_eio_disconnect(eio_sid, reason)

    def close_after_answer(self, sid, namespace):
        """Close the connection of socket `sid` once the packet being handled is answered."""
        eio_sid = self.server.manager.eio_sid_from_sid(sid, namespace)
        if eio_sid:
            self.close_after.add(eio_sid)

    def close_idle(self):
        """Close connections that joined no room in time; returns how many."""
        now, closed = time.monotonic(), 0
        for eio_sid, deadline in list(self.pending.items()):
            if deadline > now:
                continue
            del self.pending[eio_sid]
            if not self._in_a_room(eio_sid):
                closed += 1
                self._note('join_deadline', 'connection closed: it joined no room in time',
                           self.address_of.get(eio_sid))
                self.server.eio.disconnect(eio_sid)
        return closed

    def _in_a_room(self, eio_sid):
        manager = self.server.manager
        for namespace in list(manager.get_namespaces()):
            sid = manager.sid_from_eio_sid(eio_sid, namespace)
            if sid and manager.is_connected(sid, namespace):
                return True
        return False

    def run(self):
        while True:
            self.sleep(1.0)
            try:
                self.close_idle()
            except Exception:
                log.exception('closing idle connections failed', extra={'event': 'error'})

    # -- packets -------------------------------------------------------------------------

    def on_message(self, eio_sid, data):
        try:
            self._filter(eio_sid, data)
        except Exception as exc:  # python-socketio's parse errors: the client's mistake
            self._note('bad_packet', f'a packet could not be handled: {str(exc)[:120]}',
                       self.address_of.get(eio_sid))
        if eio_sid in self.close_after:
            self.close_after.discard(eio_sid)
            self.server.eio.disconnect(eio_sid)

    def _filter(self, eio_sid, data):
        if isinstance(data, (bytes, bytearray)):
            return self._refuse_binary(eio_sid, None)
        try:
            # Engine.IO hands over text that starts with a digit as it came, and decodes
            # anything else as JSON: that can't be a Socket.IO packet.
            if not isinstance(data, str):
                raise ValueError(type(data).__name__)
            pkt = self.server.packet_class(encoded_packet=data)
        except Exception:
            return self._note('bad_packet', 'a message that is not Socket.IO was dropped',
                              self.address_of.get(eio_sid))
        kind = pkt.packet_type
        if kind in (sio_packet.BINARY_EVENT, sio_packet.BINARY_ACK):
            return self._refuse_binary(eio_sid, pkt)
        if kind == sio_packet.EVENT and not _ordinary_event(pkt.data):
            return self._answer(eio_sid, pkt, error_ack(
                protocol.UNKNOWN_EVENT, 'unknown event: event names must be ordinary strings'))
        if kind == sio_packet.CONNECT and self._connected(eio_sid, pkt.namespace):
            return self._send(eio_sid, sio_packet.CONNECT_ERROR, pkt.namespace, {
                'message': protocol.INVALID_REQUEST,
                'data': {'message': 'this connection has already joined this room'}})
        self._deliver(eio_sid, data)

    def _refuse_binary(self, eio_sid, pkt):
        self._note('binary', 'connection closed: binary packets are not supported',
                   self.address_of.get(eio_sid))
        if pkt is not None:
            self._answer(eio_sid, pkt, error_ack(
                protocol.INVALID_REQUEST, 'binary packets are not supported: send JSON'))
        self.close_after.add(eio_sid)

    def _connected(self, eio_sid, namespace):
        namespace = namespace or '/'
        sid = self.server.manager.sid_from_eio_sid(eio_sid, namespace)
        return bool(sid) and self.server.manager.is_connected(sid, namespace)

    def _answer(self, eio_sid, pkt, ack):
        if pkt.id is not None and self._connected(eio_sid, pkt.namespace):
            self._send(eio_sid, sio_packet.ACK, pkt.namespace, [ack], id=pkt.id)

    def _send(self, eio_sid, kind, namespace, data, id=None):
        self.server._send_packet(eio_sid, self.server.packet_class(
            kind, namespace=namespace or '/', data=data, id=id))

    def _note(self, kind, message, address):
        suppressed = self.logs.allow(kind)
        if suppressed is None:
            return
        if suppressed:
            message += f' (and {suppressed} more like it since the last line)'
        log.warning(message, extra={'event': kind, 'remote_addr': address})


def _ordinary_event(data):
    return isinstance(data, list) and data and isinstance(data[0], str) and \
        data[0] not in RESERVED_EVENTS


def init_app(app, socketio):
    """Put the gate and the guarded WebSocket between clients and the handlers."""
    from . import heartbeat, transport
    config = app.config
    gate = Gate(socketio.server, config, socketio.sleep)
    gate.install(app)
    transport.install(socketio.server.eio, transport.Limits(
        frame_rate=config['FRAME_RATE'], frame_burst=config['FRAME_BURST'],
        max_message=protocol.MAX_HTTP_BUFFER, buffered_bytes=config['WS_BUFFERED_BYTES'],
        sleep=socketio.sleep))
    heartbeat.install(socketio.server.eio)
    return gate
