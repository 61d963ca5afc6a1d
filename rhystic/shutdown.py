"""Graceful shutdown: a stopping worker refuses new work and hands its sockets over.

A Socket.IO connection lasts as long as a game, so waiting for connections to finish
(gunicorn's graceful wait) would always run into the timeout and then cut everyone off
at once. Instead the worker closes each Engine.IO connection at the transport level,
without a Socket.IO "disconnect" packet: clients take that for a network drop, reconnect
(to another worker, or to the one gunicorn starts next) and resume their seats, which
wait in their grace period meanwhile (docs/protocol.md §10).

gunicorn.conf.py calls `Drain.handover` from the worker's SIGTERM handler.
"""
import logging
import time

log = logging.getLogger('rhystic.shutdown')

REFUSAL = (b'{"error": {"code": "unavailable", '
           b'"message": "this server process is shutting down; retry"}}')


class Drain:
    def __init__(self, app, socketio):
        self.app = app
        self.socketio = socketio
        self.draining = False

    @property
    def timeout(self):
        return float(self.app.config['SHUTDOWN_TIMEOUT'])

    def middleware(self, wsgi_app):
        """Refuse every new request while draining: a client must land elsewhere."""
        def refuse_while_draining(environ, start_response):
            if not self.draining:
                return wsgi_app(environ, start_response)
            start_response('503 Service Unavailable', [
                ('Content-Type', 'application/json'), ('Retry-After', '1'),
                ('Connection', 'close'), ('Content-Length', str(len(REFUSAL)))])
            return [REFUSAL]
        return refuse_while_draining

    def handover(self, listeners_closed=lambda: True, wait=2.0):
        """Once the server stops accepting, close every socket; returns how many.

        Closing first would let a quick client reconnect to this very process, so wait
        (briefly) until `listeners_closed()` says new connections go elsewhere.
        """
        deadline = time.monotonic() + wait
        while not listeners_closed() and time.monotonic() < deadline:
            self.socketio.sleep(0.02)
        return self.begin()

    def begin(self):
        if self.draining:
            return 0
        self.draining = True
        signaling = self.app.extensions.get('rhystic.signaling')
        if signaling is not None:
            signaling.running = False
        eio = self.socketio.server.eio
        sockets = list(eio.sockets.values())
        for socket in sockets:
            try:
                # abort: no CLOSE packet, so that clients reconnect instead of giving up.
                socket.close(wait=False, abort=True, reason=eio.reason.TRANSPORT_CLOSE)
            except Exception:
                log.exception('closing a socket failed', extra={'event': 'error'})
        log.info('worker draining: %d sockets handed over', len(sockets),
                 extra={'event': 'shutdown', 'reason': 'SIGTERM'})
        return len(sockets)


def init_app(app, socketio):
    drain = Drain(app, socketio)
    app.wsgi_app = drain.middleware(app.wsgi_app)
    app.extensions['rhystic.drain'] = drain
    return drain
