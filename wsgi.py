"""The entry point for gunicorn (`gunicorn -k gevent wsgi:app`) and the flask CLI."""
import gc
import os
import sys

from rhystic import create_app
from rhystic.collector import (keep_collections_short, record_pauses,
                               without_a_class_per_request)
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


def _on_each_loop(callback):
    """Run `callback` on every turn of gevent's event loop (a libev check watcher, which
    fires after each poll: a clock read per turn, nothing more)."""
    from gevent import get_hub
    watcher = get_hub().loop.check(ref=False)
    watcher.start(callback)
    return watcher


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
    app.wsgi_app = without_a_class_per_request(app.wsgi_app, socketio.server.eio,
                                               socketio.sockio_mw)
    # RHYSTIC_GC_YOUNG_PERIOD: seconds between young collections at the least (0: only
    # Python's own, as before); for measuring one against the other (bench/README.md).
    period = float(os.environ.get('RHYSTIC_GC_YOUNG_PERIOD', '0.1'))
    keep_collections_short(young_period=period, each_loop=_on_each_loop if period else None)
else:
    # Everything allocated so far lives as long as the process: keep it out of the
    # cyclic collector's way, so full collections don't walk it.
    gc.freeze()
