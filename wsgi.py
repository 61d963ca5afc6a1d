"""The entry point for gunicorn (`gunicorn -k gevent wsgi:app`) and the flask CLI."""
import gc
import os
import sys

from rhystic import create_app
from rhystic.collector import keep_collections_short, record_pauses
from rhystic.config import ConfigError


def _async_mode():
    # gunicorn's gevent worker has monkey-patched the stdlib before importing us;
    # anything else (the flask CLI, a plain python) runs threaded.
    try:
        from gevent import monkey
    except ImportError:
        return 'threading'
    return 'gevent' if monkey.is_module_patched('socket') else 'threading'


def without_websocket_compression(wsgi_app):
    """Refuse permessage-deflate, as Node's socket.io does by default.

    simple-websocket accepts it whenever a client offers it (browsers and
    socket.io-client always do), and then every frame goes through zlib: about a
    fifth of the CPU per relayed signal, and a deflate context of some 100 KB per
    socket. Signaling messages are small and travel over loopback or a LAN-fast
    link; they are not worth compressing. Without the offer, the handshake simply
    agrees no extension.
    """
    def app(environ, start_response):
        environ.pop('HTTP_SEC_WEBSOCKET_EXTENSIONS', None)
        return wsgi_app(environ, start_response)
    return app


def without_a_class_per_connection(wsgi_app, eio):
    """Keep Engine.IO's middleware from defining a class for every connection.

    Under gunicorn, engineio's WSGIApp.__call__ defines `class Input` afresh for each
    request, to hand eventlet the socket (gevent never asks for it). A class is a
    reference cycle; a WebSocket request lives as long as its connection, so its class
    is frozen (rhystic/collector.py) and then outlives it, some 3 KB a connection for
    good. So the middleware is shown an Engine.IO request without `gunicorn.socket`,
    and Engine.IO gets the socket back as it starts on the request.
    """
    def app(environ, start_response):
        if 'gunicorn.socket' in environ and \
                environ.get('PATH_INFO', '').startswith('/socket.io'):
            environ['rhystic.gunicorn_socket'] = environ.pop('gunicorn.socket')
        return wsgi_app(environ, start_response)

    handle_request = eio.handle_request

    def handle_with_socket(environ, start_response):
        if 'rhystic.gunicorn_socket' in environ:
            environ['gunicorn.socket'] = environ.pop('rhystic.gunicorn_socket')
        return handle_request(environ, start_response)
    eio.handle_request = handle_with_socket
    return app


try:
    app = create_app({'ASYNC_MODE': _async_mode()})
except ConfigError as refused:
    # The one-line reason, then status 4 (gunicorn's "app failed to load"): its master
    # stops, instead of respawning workers that can only fail the same way, forever.
    print(refused, file=sys.stderr)
    sys.exit(4)
app.wsgi_app = without_websocket_compression(app.wsgi_app)
if os.environ.get('RHYSTIC_GC_LOG'):
    record_pauses(os.environ['RHYSTIC_GC_LOG'])
if app.config['ASYNC_MODE'] != 'threading':
    from rhystic.extensions import socketio
    app.wsgi_app = without_a_class_per_connection(app.wsgi_app, socketio.server.eio)
    keep_collections_short()
else:
    # Everything allocated so far lives as long as the process: keep it out of the
    # cyclic collector's way, so full collections don't walk it.
    gc.freeze()
