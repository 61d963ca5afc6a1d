"""wsgi:app plus one route that makes every kind of noise a worker can make besides our
own log lines: third-party loggers, a warning, failing threads and background tasks, a
raw line on stderr. tests/test_logs.py serves it with gunicorn and the real
gunicorn.conf.py, and checks that every line that comes out is JSON."""
import logging
import sys
import threading
import warnings

from rhystic.extensions import socketio
from wsgi import app

THIRD_PARTY = ('engineio.server', 'socketio.server', 'simple_websocket', 'sqlalchemy.engine',
               'werkzeug', 'gunicorn.error', 'flask_limiter')


def fail(where):
    raise RuntimeError(f'{where} failed on purpose')


@app.get('/_test/noise')
def noise():
    warnings.warn('a warning on purpose', UserWarning)
    threading.Thread(target=fail, args=('a thread',)).start()
    socketio.start_background_task(fail, 'a background task')
    for name in THIRD_PARTY:
        logger = logging.getLogger(name)
        logger.warning('%s says hello\nover two lines', name)
        try:
            fail(name)
        except RuntimeError:
            logger.exception('%s with a traceback', name)
    print('a raw line on stderr', file=sys.stderr, flush=True)
    return {'ok': True}
