"""The entry point for gunicorn (`gunicorn -k gevent wsgi:app`) and the flask CLI."""
import gc
import sys

from rhystic import create_app
from rhystic.config import ConfigError


def _async_mode():
    # gunicorn's gevent worker has monkey-patched the stdlib before importing us;
    # anything else (the flask CLI, a plain python) runs threaded.
    try:
        from gevent import monkey
    except ImportError:
        return 'threading'
    return 'gevent' if monkey.is_module_patched('socket') else 'threading'


try:
    app = create_app({'ASYNC_MODE': _async_mode()})
except ConfigError as refused:
    # The one-line reason, then status 4 (gunicorn's "app failed to load"): its master
    # stops, instead of respawning workers that can only fail the same way, forever.
    print(refused, file=sys.stderr)
    sys.exit(4)
# Everything allocated so far lives as long as the process: keep it out of the cyclic
# collector's way, so full collections don't walk it (see bench/README.md).
gc.freeze()
