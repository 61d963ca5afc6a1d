"""gunicorn settings and hooks for Rhystic.

gunicorn reads ./gunicorn.conf.py from its working directory by itself, so the fixed
Procfile line (`gunicorn -k gevent -w 1 --bind 0.0.0.0:$PORT wsgi:app`) gets these
without a `-c`. Hooks, rather than code in wsgi.py, because only hooks know which process
they run in (master or worker, even with --preload) and get the worker object:

- graceful shutdown: the worker's SIGTERM hands sockets over (rhystic/shutdown.py) and
  the worker exits within RHYSTIC_SHUTDOWN_TIMEOUT seconds (default 5), not 30;
- metrics: a Prometheus multiprocess directory shared by all workers, cleaned at start
  and of dead workers' live gauges, so /metrics is right whichever worker answers;
- RHYSTIC_LOG_FORMAT=json makes every line JSON: gunicorn's own, other libraries', and
  what would reach stderr raw (warnings, a failing thread or greenlet, a stray print).
"""
import glob
import os
import shutil
import signal
import sys
import tempfile

from rhystic import logs

graceful_timeout = int(os.environ.get('RHYSTIC_SHUTDOWN_TIMEOUT', 5))
# gunicorn's control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl),
# so two instances (rhystic-api@8080 and @8081) would take it from each other; and it
# lets whoever reaches it resize or stop the server. Nothing here uses gunicornc.
control_socket_disable = True
# gevent: one greenlet per connection, and every player holds a Socket.IO connection
# open; gunicorn's default of 1000 would cap a worker there.
worker_connections = 10000

if os.environ.get('RHYSTIC_LOG_FORMAT') == 'json':
    logconfig_dict = {
        'version': 1,
        'disable_existing_loggers': False,
        'formatters': {'json': {'()': 'rhystic.logs.JsonFormatter'}},
        'handlers': {'stdout': {'class': 'logging.StreamHandler', 'formatter': 'json',
                                'stream': 'ext://sys.stdout'}},
        'root': {'level': 'WARNING', 'handlers': ['stdout']},
        'loggers': {
            'gunicorn.error': {'level': 'INFO', 'handlers': ['stdout'], 'propagate': False},
            # No access log: request lines would add little, and URLs can carry ids.
        },
    }
# Here, so the master has it too; forked workers inherit it.
logs.route_process_output(json_lines=os.environ.get('RHYSTIC_LOG_FORMAT') == 'json')


def on_starting(server):
    path = os.environ.get('PROMETHEUS_MULTIPROC_DIR')
    if path:
        # The directory must not carry counts over from an earlier run.
        os.makedirs(path, exist_ok=True)
        for stale in glob.glob(os.path.join(path, '*.db')):
            os.remove(stale)
    else:
        path = tempfile.mkdtemp(prefix='rhystic-metrics-')
        server.rhystic_metrics_dir = path
        os.environ['PROMETHEUS_MULTIPROC_DIR'] = path


def child_exit(server, worker):
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    path = getattr(server, 'rhystic_metrics_dir', None)
    if path:
        shutil.rmtree(path, ignore_errors=True)


def post_worker_init(worker):
    if 'gevent' in sys.modules:  # the gevent worker, whose hub prints failures itself
        from gevent import get_hub
        logs.route_greenlet_errors(get_hub())
    drain = getattr(worker.wsgi, 'extensions', {}).get('rhystic.drain')
    if drain is None:
        return
    # The worker's run loop honours graceful_timeout; the app's setting wins (config.py).
    worker.cfg.set('graceful_timeout', int(drain.timeout))
    stop_accepting = signal.getsignal(signal.SIGTERM)  # gunicorn's: leave the run loop

    def on_sigterm(sig, frame):
        stop_accepting(sig, frame)
        # Not in the handler itself: closing sockets blocks, as gunicorn's own SIGQUIT
        # handling in its gevent worker avoids too.
        drain.socketio.start_background_task(drain.handover, listeners_closed)

    def listeners_closed():
        return all(s.fileno() == -1 for s in worker.sockets)

    signal.signal(signal.SIGTERM, on_sigterm)
