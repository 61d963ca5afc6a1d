"""Rhystic: play tabletop games with friends who are not in the room."""
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config as config_module


def create_app(config=None):
    app = Flask(__name__, instance_path=config_module.os.path.join(
        config_module.PROJECT_ROOT, 'instance'),
        template_folder='../templates', static_folder='../static')
    config_module.load(app, config)
    from . import logs
    logs.init_app(app)

    from .extensions import csrf, db, limiter, login_manager, migrate, socketio
    # Bound values (names, token hashes) stay out of SQLAlchemy's errors and echo logs,
    # even when config.py replaces the engine options without saying so.
    from . import database
    app.config['SQLALCHEMY_ENGINE_OPTIONS'] = database.engine_options(
        app.config['SQLALCHEMY_DATABASE_URI'],
        {'hide_parameters': True, **app.config['SQLALCHEMY_ENGINE_OPTIONS']})
    db.init_app(app)
    with app.app_context():
        database.init_engine(db.engine)  # SQLite: WAL (rhystic/database.py)
    migrate.init_app(app, db, directory=config_module.os.path.join(
        config_module.PROJECT_ROOT, 'migrations'))
    login_manager.init_app(app)
    from .auth import CookieSessions
    app.session_interface = CookieSessions()
    csrf.init_app(app)
    _limiter_pool(app.config)
    limiter.init_app(app)
    socketio.init_app(app, **socketio_options(app.config))

    from . import api, cli, errors, health, pages, security, shutdown, signaling
    errors.init_app(app)
    security.init_app(app)
    health.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(cli.bp)
    from .game import overlay
    app.register_blueprint(overlay.bp)  # the stream overlay (rhystic/game/overlay.py)
    from . import oauth
    oauth.init_app(app)  # sign-in providers, when configured (rhystic/oauth.py)
    signaling.init_app(app, socketio)
    shutdown.init_app(app, socketio)

    if app.config['PROXY_FIX']:
        hops = app.config['PROXY_FIX']
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    return app


def _limiter_pool(config):
    # Flask-Limiter's Redis client would raise once its pool is exhausted; share the
    # waiting kind of pool the signaling store uses.
    uri = config['RATELIMIT_STORAGE_URI']
    if uri.startswith(('redis://', 'rediss://')) and not config.get('RATELIMIT_STORAGE_OPTIONS'):
        from .signaling import redis_client
        config['RATELIMIT_STORAGE_OPTIONS'] = {
            'connection_pool': redis_client(uri, config).connection_pool}


def socketio_options(config):
    from .signaling.protocol import MAX_HTTP_BUFFER
    from .jsonfast import fast_json
    from .signaling.queue import message_queue
    options = dict(
        namespaces='*',
        async_mode=config['ASYNC_MODE'],
        message_queue=config['MESSAGE_QUEUE'] or None,
        channel=config['SOCKETIO_CHANNEL'],
        cors_allowed_origins=config['CORS_ORIGINS'] or None,
        ping_interval=config['PING_INTERVAL'],
        ping_timeout=config['PING_TIMEOUT'],
        max_http_buffer_size=MAX_HTTP_BUFFER,
        json=fast_json,
        # Run each event in the socket's own reader greenlet instead of spawning one
        # per message: a greenlet start was a seventh of the relay path's CPU, and a
        # socket's signals then stay in the order they were sent.
        async_handlers=False,
        manage_session=False,
        logger=False, engineio_logger=False,
    )
    manager = message_queue(config)  # Redis: a pool that waits (signaling/queue.py)
    if manager is not None:
        options['client_manager'] = manager
        del options['message_queue'], options['channel']
    return options
