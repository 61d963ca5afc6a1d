"""The WebSocket under Engine.IO, made safe to hand to strangers.

simple-websocket reads a client's socket in a loop of `recv`, and under gevent a `recv`
on a socket with data waiting returns at once without yielding to the hub. A client
that sends tiny frames as fast as it can therefore keeps that loop running forever:
every other socket of the worker, and /healthz, starve until gunicorn kills the worker.

Here the same reader is given:
- a turn for everyone else before each read (a greenlet switch, the cost of fairness);
- back-pressure: while more than BUFFERED_BYTES wait unconsumed, it stops reading, so
  TCP pushes back on the sender instead of the worker's memory growing;
- a cap on message frames per second, before any authentication: a socket that
  exceeds it is closed with 1008 (policy violation);
- no binary frames: the protocol is JSON text, and a binary frame closes the socket
  with 1003 (unsupported data);
- the Engine.IO packet size limit applied while a message is still arriving (1009).

simple-websocket is pinned (requirements.txt): the hooks below (handshake, _thread, sock,
ws, input_buffer) are its internals, checked by tests/test_transport.py, and so is
wsproto's frame parser (`_proto._parse_more`, tests/test_collector.py).
"""
import logging
import socket
import time
import weakref

import simple_websocket
from wsproto.events import BytesMessage, CloseConnection, TextMessage

from .gate import LogThrottle
from .throttle import TokenBucket

log = logging.getLogger('rhystic.signaling')

POLICY_VIOLATION = 1008
UNSUPPORTED_DATA = 1003
MESSAGE_TOO_BIG = 1009
YIELD_EVERY = 16  # messages Engine.IO may take from one socket in a row
_logs = LogThrottle()


class Limits:
    """Per-socket limits, from config (FRAME_RATE, FRAME_BURST, ...)."""

    def __init__(self, frame_rate, frame_burst, max_message, buffered_bytes, sleep):
        self.frame_rate, self.frame_burst = frame_rate, frame_burst
        self.max_message, self.buffered_bytes = max_message, buffered_bytes
        self.sleep = sleep


class _Refused(Exception):
    def __init__(self, code, reason):
        super().__init__(reason)
        self.code, self.reason = code, reason


class _CheckedConnection:
    """wsproto's connection as simple-websocket sees it, with each event checked first.

    A refused event becomes a CloseConnection, which simple-websocket already handles by
    answering with a close frame (the code and reason reach the client) and stopping.
    """

    def __init__(self, ws, guard):
        self._ws, self._guard = ws, guard

    def events(self):
        for event in self._ws.events():
            try:
                self._guard.check(event)
            except _Refused as refused:
                yield CloseConnection(code=refused.code, reason=refused.reason)
                return
            yield event

    def __getattr__(self, name):
        return getattr(self._ws, name)


class _PacedSocket:
    """The client's socket as the reader loop sees it: each recv waits its turn."""

    def __init__(self, sock, guard):
        self._sock, self._guard = sock, guard

    def recv(self, size):
        self._guard.before_read()
        return self._sock.recv(size)

    def close(self):
        if not self._guard.refused:  # a refused one is closed by linger_and_close
            self._sock.close()

    def linger_and_close(self, seconds=2.0, most=1 << 20):
        """Read and drop what a refused client is still sending, for a moment, before
        closing: a socket closed with data unread sends a reset, and the reset makes the
        client's side discard the close frame that says why."""
        try:
            self._sock.shutdown(socket.SHUT_WR)
            self._sock.settimeout(0.5)
            deadline, read = time.monotonic() + seconds, 0
            while time.monotonic() < deadline and read < most:
                data = self._sock.recv(65536)
                if not data:
                    break
                read += len(data)
                self._guard.limits.sleep(0)
        except OSError:
            pass
        self._sock.close()

    def __getattr__(self, name):
        return getattr(self._sock, name)


class GuardedServer(simple_websocket.Server):
    """simple_websocket.Server with the limits in this module's docstring."""

    def __init__(self, environ, limits, **kwargs):
        self.limits = limits
        self.frames = TokenBucket(limits.frame_rate, limits.frame_burst)
        self.refused = None
        self._taken = 0
        self._arriving = 0  # characters of the message now arriving, over its frames
        self._drained = kwargs.get('event_class', _threading_event())()
        super().__init__(environ, **kwargs)

    def handshake(self):
        # Called by simple-websocket's constructor before its reader starts: the one
        # moment to put the checks between the reader and the socket.
        # Weakly: a cycle here would outlive the connection in a frozen generation
        # (rhystic/collector.py), and with it the whole connection's state.
        guard = weakref.proxy(self)
        self.ws = _CheckedConnection(self.ws, guard)
        self.sock = _PacedSocket(self.sock, guard)
        super().handshake()

    def _thread(self):
        try:
            super()._thread()
        finally:
            self._end_parser()

    def _end_parser(self):
        # wsproto parses frames with a generator that holds its FrameProtocol: a cycle
        # that ends only when a close frame is parsed. A client gone without one (dropped,
        # timed out) left it suspended; frozen while the connection lived
        # (rhystic/collector.py), it outlived it with its buffers, the soak's slow growth
        # (bench/README.md). Closing the generator ends it.
        connection = getattr(self.ws, 'connection', None)
        if connection is not None:
            connection._proto._parse_more.close()

    def check(self, event):
        if isinstance(event, BytesMessage):
            self._refuse(UNSUPPORTED_DATA, 'binary frames are not supported: send JSON text')
        if not isinstance(event, TextMessage):
            return
        self._arriving += len(event.data)
        if self._arriving > self.limits.max_message:
            self._refuse(MESSAGE_TOO_BIG, f'a message is limited to {self.limits.max_message} '
                                          'characters')
        if event.message_finished:
            self._arriving = 0
            if not self.frames.take():
                self._refuse(POLICY_VIOLATION, 'too many messages: slow down')

    def _refuse(self, code, reason):
        self.refused = (code, reason)
        raise _Refused(code, reason)

    def before_read(self):
        self.limits.sleep(0)
        while self.connected and self._unconsumed() > self.limits.buffered_bytes:
            self._drained.clear()
            self._drained.wait(timeout=1.0)

    def _unconsumed(self):
        return sum(len(m) for m in self.input_buffer) + self.incoming_message_len

    def receive(self, timeout=None):
        # Engine.IO's reader takes messages one after another while any are buffered:
        # after a batch, it too lets the others run.
        self._taken += 1
        if self._taken % YIELD_EVERY == 0 and self.input_buffer:
            self.limits.sleep(0)
        message = super().receive(timeout)
        self._drained.set()
        return message


def _threading_event():
    import threading
    return threading.Event


def guarded_driver(base, limits):
    """A subclass of Engine.IO's WebSocket driver class `base` that builds GuardedServer."""

    class GuardedWebSocketWSGI(base):
        def __call__(self, environ, start_response):
            self.ws = GuardedServer(environ, limits, **self.server_args)
            ret = self.app(self)
            if self.ws.refused:
                code, reason = self.ws.refused
                suppressed = _logs.allow('websocket_refused')
                if suppressed is not None:
                    more = f' (and {suppressed} more since the last line)' if suppressed else ''
                    log.warning('websocket closed: %s%s', reason, more, extra={
                        'event': 'websocket_refused', 'reason': str(code),
                        'remote_addr': environ.get('REMOTE_ADDR')})
                # Here, before the server closes the connection under us.
                self.ws.sock.linger_and_close()
            if self.ws.mode == 'gunicorn':
                raise StopIteration()
            if self.ws.mode == 'werkzeug':
                raise ConnectionError()
            return ret

    return GuardedWebSocketWSGI


def install(eio, limits):
    """Give this Engine.IO server the guarded WebSocket (its async driver table is shared
    by every server of the same mode, so it is copied, not changed in place)."""
    base = eio._async['websocket']
    eio._async = {**eio._async, 'websocket': guarded_driver(base, limits)}
