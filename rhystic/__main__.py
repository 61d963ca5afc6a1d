"""`python -m rhystic`: serve Rhystic for development, without gunicorn.

The original design started the server with `python -m server.main`; this is that door.
It follows `./setup.sh --run`'s rules: settings as everywhere (rhystic/config.py), the
port from PORT (default 8080), secrets that are not in the environment generated once
and kept in instance/secrets.json, TURN URLs defaulting to turn:localhost:3478, and the
database migrated before serving. It serves with Werkzeug's threaded server and
Socket.IO in threading mode, so a debugger and print() work as usual; for anything
else use `./setup.sh --run` or gunicorn (README, Deploy).
"""
import argparse
import os
import sys

from . import config as config_module


def local_environment(environ=os.environ, instance=None):
    """What setup.sh exports for a local run, where the environment does not say: the
    secrets kept in the instance folder (made there once), and local TURN URLs."""
    missing = [name for name in config_module.SECRET_NAMES
               if not environ.get('RHYSTIC_' + name)]
    if missing:
        kept = config_module.instance_secrets(
            instance or os.path.join(config_module.PROJECT_ROOT, 'instance'))
        for name in missing:
            environ['RHYSTIC_' + name] = kept[name]
    environ.setdefault('RHYSTIC_TURN_URLS', 'turn:localhost:3478')


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m rhystic',
        description='Serve Rhystic for development (Werkzeug, threads); in production use '
                    'gunicorn -k gevent, as ./setup.sh --run does.')
    parser.add_argument('--host', default='0.0.0.0',
                        help='address to listen on (default 0.0.0.0, as setup.sh)')
    parser.add_argument('--port', type=int, default=None,
                        help='port (default: PORT from the environment, or 8080)')
    parser.add_argument('--no-migrate', action='store_true',
                        help='do not run the database migrations first')
    args = parser.parse_args(argv)

    local_environment()
    from flask_migrate import upgrade

    from . import create_app
    from .config import ConfigError
    from .extensions import socketio
    try:
        app = create_app({'ASYNC_MODE': 'threading'})
    except ConfigError as refused:
        print(refused, file=sys.stderr)
        return 4
    if not args.no_migrate:
        with app.app_context():
            upgrade()
    port = args.port or app.config['PORT']
    print(f'Rhystic (development server) on http://localhost:{port}', file=sys.stderr,
          flush=True)
    # Werkzeug is fine for one developer; Flask-SocketIO wants that said out loud.
    socketio.run(app, host=args.host, port=port, allow_unsafe_werkzeug=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
