"""Configuration: defaults, then instance config.py, then RHYSTIC_* and deploy names.

The order matters: each layer overrides the one before it, so an operator can keep a
config.py for the stable settings and still override anything from the environment.
"""
import json
import os
import secrets
from urllib.parse import urlsplit

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET_NAMES = ('SECRET_KEY', 'TURN_SECRET')


class Defaults:
    DEBUG = False
    SECRET_KEY = None
    SQLALCHEMY_DATABASE_URI = None  # filled in from the instance folder when unset
    REDIS_URL = None
    REDIS_PREFIX = 'rhystic:'     # keys of the shared room state
    REDIS_MAX_CONNECTIONS = 200   # per worker and per pool; beyond it, callers wait
    MESSAGE_QUEUE = None          # Socket.IO message queue; defaults to REDIS_URL
    SOCKETIO_CHANNEL = 'rhystic'
    PORT = 8080
    # The origin players reach, e.g. 'https://play.example.org': links the server hands
    # out (the API's room url) are built on it. Unset, a client's Host header is used
    # only when it names this machine (localhost), and the url is otherwise the path alone.
    PUBLIC_URL = None

    # TURN REST API (coturn's use-auth-secret): see rhystic/turn.py.
    TURN_SECRET = None
    TURN_URLS = []
    STUN_URLS = []
    TURN_TTL = 3600
    TURN_REALM = 'rhystic'
    ICE_TRANSPORT_POLICY = 'all'

    MAX_PEERS = 8
    GRACE_SECONDS = 20
    WORKER_TTL = 10           # a worker silent this long is presumed dead (SIGKILL)
    # Socket.IO: a silently dead client is noticed after ping interval + timeout.
    PING_INTERVAL = 10
    PING_TIMEOUT = 10
    SIGNAL_RATE = 50          # messages per second per connection, sustained
    SIGNAL_BURST = 200        # bucket size: a join sends a burst of ICE candidates
    # Below Socket.IO, before sign-in (rhystic/signaling/transport.py): WebSocket message
    # frames per second per connection; above it the connection is closed (1008). Kept
    # well above SIGNAL_RATE/BURST, so that an honest burst gets rate_limited acks first.
    FRAME_RATE = 100
    FRAME_BURST = 400
    WS_BUFFERED_BYTES = 256 * 1024  # unconsumed input per connection before reading pauses
    MAX_SOCKETS_PER_ADDRESS = 64  # open connections per client address; 0 for no cap
    JOIN_DEADLINE = 10        # seconds a connection may stay open without joining a room
    # The game table, per player (an account in a room): a held "-1" repeats about ten
    # times a second, so bursts are generous; chat is slower (rhystic/game/handlers.py).
    GAME_RATE = 20
    GAME_BURST = 60
    CHAT_RATE = 1
    CHAT_BURST = 5
    BUFFER_MAX_MESSAGES = 200  # signals kept for a seat that is away
    BUFFER_MAX_AGE = 30       # seconds
    # Browsers connect from these origins; empty means "the host serving the page".
    CORS_ORIGINS = []
    ASYNC_MODE = 'threading'  # wsgi.py switches to gevent under gunicorn -k gevent
    SHUTDOWN_TIMEOUT = 5

    MAX_CONTENT_LENGTH = 64 * 1024
    RATELIMIT_STORAGE_URI = None  # memory://, or REDIS_URL when that is set
    # Per client address. Generous enough for a game store's shared connection.
    RATELIMIT_USERS = '200 per hour;20 per minute'
    RATELIMIT_ROOMS = '200 per hour;20 per minute'
    RATELIMIT_TURN = '600 per hour;60 per minute'
    RATELIMIT_JOIN_FAILURES = '20 per minute'
    RATELIMIT_SIGN_IN = '30 per minute;300 per hour'  # sign-ins started, per address
    # The lobby polls its seat list (GET /api/rooms/<id>/seats) every 3 to 20 s: room
    # for a few players behind one address.
    RATELIMIT_LOBBY = '1200 per hour;120 per minute'
    RATELIMIT_HEADERS_ENABLED = True

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = 'Lax'
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = 'Lax'
    PROXY_FIX = 0             # number of trusted proxies in front (X-Forwarded-*)
    WTF_CSRF_CHECK_DEFAULT = False  # rhystic/security.py decides when to check
    WTF_CSRF_TIME_LIMIT = None

    LOG_FORMAT = 'text'
    LOG_LEVEL = 'INFO'
    METRICS = True
    # Browser capture size; the tests shrink it so that 8 players fit on 2 cores.
    CAPTURE_WIDTH = 1920
    CAPTURE_HEIGHT = 1080
    CAPTURE_FPS = 30

    SQLALCHEMY_TRACK_MODIFICATIONS = False
    # hide_parameters: no bound values (names, token hashes) in errors and logs.
    SQLALCHEMY_ENGINE_OPTIONS = {'pool_pre_ping': True, 'hide_parameters': True}


class ConfigError(SystemExit):
    """Start-up refused: the message is one line that names what to set."""


def load(app, overrides=None):
    app.config.from_object(Defaults)
    app.config.from_pyfile(os.path.join(PROJECT_ROOT, 'config.py'), silent=True)
    app.config.from_prefixed_env('RHYSTIC')
    _keep_secrets_verbatim(app.config)
    _read_deploy_names(app.config)
    if overrides:
        app.config.update(overrides)
    _normalise(app.config)
    if not app.config['SQLALCHEMY_DATABASE_URI']:
        os.makedirs(app.instance_path, exist_ok=True)
        app.config['SQLALCHEMY_DATABASE_URI'] = (
            'sqlite:///' + os.path.join(app.instance_path, 'rhystic.db'))
    _ensure_secrets(app)


def _keep_secrets_verbatim(config):
    # from_prefixed_env parses each value as JSON: a secret such as 12345e67 (hex from
    # `openssl rand -hex`, say) would become a float, and so a different secret.
    for name in SECRET_NAMES:
        if os.environ.get('RHYSTIC_' + name):
            config[name] = os.environ['RHYSTIC_' + name]
    # Sign-in providers' client ids and secrets too: Discord's ids are all digits.
    for name, value in os.environ.items():
        if name.startswith('RHYSTIC_OAUTH_'):
            config[name[len('RHYSTIC_'):]] = value


def _read_deploy_names(config):
    url = os.environ.get('DATABASE_URL')
    if url:
        config['SQLALCHEMY_DATABASE_URI'] = url
    for name in ('REDIS_URL', 'PORT'):
        if os.environ.get(name):
            config[name] = os.environ[name]


def database_url(url):
    """Heroku still hands out postgres://, which SQLAlchemy 2 no longer accepts."""
    if url.startswith('postgres://'):
        url = 'postgresql://' + url[len('postgres://'):]
    if url.startswith('postgresql://'):
        url = 'postgresql+psycopg://' + url[len('postgresql://'):]
    return url


def _as_list(value):
    if isinstance(value, str):
        return [part.strip() for part in value.split(',') if part.strip()]
    return list(value or [])


def _normalise(config):
    for key in ('TURN_URLS', 'STUN_URLS', 'CORS_ORIGINS'):
        config[key] = _as_list(config[key])
    for key in ('MAX_PEERS', 'TURN_TTL', 'PORT', 'PROXY_FIX', 'MAX_SOCKETS_PER_ADDRESS',
                'WS_BUFFERED_BYTES'):
        config[key] = int(config[key])
    for key in ('GRACE_SECONDS', 'FRAME_RATE', 'FRAME_BURST', 'JOIN_DEADLINE', 'GAME_RATE',
                'GAME_BURST', 'CHAT_RATE', 'CHAT_BURST'):
        config[key] = float(config[key])
    if config['SQLALCHEMY_DATABASE_URI']:
        config['SQLALCHEMY_DATABASE_URI'] = database_url(config['SQLALCHEMY_DATABASE_URI'])
    if not 2 <= config['MAX_PEERS'] <= 8:
        raise ConfigError('RHYSTIC_MAX_PEERS must be between 2 and 8')
    if config['ICE_TRANSPORT_POLICY'] not in ('all', 'relay'):
        raise ConfigError("RHYSTIC_ICE_TRANSPORT_POLICY must be 'all' or 'relay'")
    if config['MESSAGE_QUEUE'] is None:
        config['MESSAGE_QUEUE'] = config['REDIS_URL']
    if config['RATELIMIT_STORAGE_URI'] is None:
        config['RATELIMIT_STORAGE_URI'] = config['REDIS_URL'] or 'memory://'
    if config['PROXY_FIX']:
        config['SESSION_COOKIE_SECURE'] = config['REMEMBER_COOKIE_SECURE'] = True
    config['PUBLIC_URL'] = public_origin(config['PUBLIC_URL'])


def public_origin(value):
    """'https://play.example.org/' -> 'https://play.example.org'; empty -> None."""
    if value is None or value == '':
        return None
    parts = urlsplit(str(value).strip().rstrip('/'))
    if (parts.scheme not in ('http', 'https') or not parts.hostname or parts.path
            or parts.query or parts.fragment or '@' in parts.netloc):
        raise ConfigError(f'RHYSTIC_PUBLIC_URL must be an origin, a scheme and a host such as '
                          f'https://play.example.org, with no path: not {value!r}')
    return f'{parts.scheme}://{parts.netloc}'


def _ensure_secrets(app):
    config = app.config
    if config['DEBUG']:
        missing = [name for name in SECRET_NAMES if not config.get(name)]
        if missing:
            kept = instance_secrets(app.instance_path)
            for name in missing:
                config[name] = kept[name]
        return
    needed = ['SECRET_KEY'] + (['TURN_SECRET'] if config['TURN_URLS'] else [])
    for name in needed:
        if not config.get(name):
            raise ConfigError(
                f'RHYSTIC_{name} is not set: refusing to start without it outside debug '
                f'(export RHYSTIC_{name}=..., or set it in config.py)')


def instance_secrets(instance_path):
    """Secrets generated once and kept in the instance folder, for debug and setup.sh."""
    path = os.path.join(instance_path, 'secrets.json')
    try:
        with open(path) as f:
            kept = json.load(f)
    except (OSError, ValueError):
        kept = {}
    if all(kept.get(name) for name in SECRET_NAMES):
        return kept
    for name in SECRET_NAMES:
        if not kept.get(name):
            kept[name] = secrets.token_urlsafe(32)
    os.makedirs(instance_path, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        json.dump(kept, f)
    return kept
