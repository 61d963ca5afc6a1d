"""Rhystic configuration: copy to config.py (next to this file) and edit.

    cp config.example.py config.py

Layers, each overriding the one before: the defaults in rhystic/config.py, then this
config.py, then environment variables named RHYSTIC_<KEY> (RHYSTIC_SECRET_KEY,
RHYSTIC_MAX_PEERS, ...), then the deploy names DATABASE_URL, REDIS_URL and PORT.
Environment values are parsed as JSON when they can be (RHYSTIC_MAX_PEERS=6 is the
number 6); lists such as RHYSTIC_TURN_URLS are comma-separated.

Every value below is the default, except where a comment says "example". config.py is
ignored by git: keep secrets here or in the environment, never in the repository.
"""

# --- Secrets -------------------------------------------------------------------------
# Signs session cookies and CSRF tokens. Required outside debug; in debug (and for
# ./setup.sh --run) one is generated once and kept in instance/secrets.json.
# Make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'
SECRET_KEY = None
DEBUG = False                  # RHYSTIC_DEBUG=1: Flask debug, and generated secrets

# --- Storage -------------------------------------------------------------------------
# None: SQLite in instance/rhystic.db. DATABASE_URL overrides this; postgres:// and
# postgresql:// are both accepted. Example: 'postgresql://rhystic@localhost/rhystic'
SQLALCHEMY_DATABASE_URI = None
# Redis, for more than one worker or host: shared room state, the Socket.IO message
# queue and the rate-limit counters. REDIS_URL overrides this.
# Example: 'redis://localhost:6379/0'
REDIS_URL = None
REDIS_PREFIX = 'rhystic:'      # prefix of the room-state keys in Redis
REDIS_MAX_CONNECTIONS = 200    # Redis connections per worker and pool; beyond, callers wait
MESSAGE_QUEUE = None           # Socket.IO message queue; None means REDIS_URL
SOCKETIO_CHANNEL = 'rhystic'   # Socket.IO channel on that queue
PORT = 8080                    # setup.sh and the Procfile bind here; PORT overrides it
# The origin players reach, scheme and host only. Links the server hands out (a new
# room's url) are built on it; unset, a client's Host header is trusted only when it is
# localhost, and the url is otherwise the path alone. Example: 'https://play.example.org'
PUBLIC_URL = None
SQLALCHEMY_TRACK_MODIFICATIONS = False
# hide_parameters keeps bound values (names, token hashes) out of errors and logs; it is
# added when missing, so set it to False explicitly to see them while debugging.
SQLALCHEMY_ENGINE_OPTIONS = {'pool_pre_ping': True, 'hide_parameters': True}

# --- TURN and STUN (see the README's TURN section) -------------------------------------
# coturn's static-auth-secret (use-auth-secret). Required outside debug when TURN_URLS
# is set; `flask turn-config` writes a coturn config with this secret and realm.
TURN_SECRET = None
# What browsers are told to use. Example:
# TURN_URLS = ['turn:turn.example.org:3478', 'turns:turn.example.org:5349']
TURN_URLS = []
STUN_URLS = []                 # example: ['stun:turn.example.org:3478']
TURN_TTL = 3600                # seconds a TURN credential stays valid
TURN_REALM = 'rhystic'         # coturn's realm
ICE_TRANSPORT_POLICY = 'all'   # 'relay' forces every call through TURN (hides addresses)

# --- Rooms and signaling ----------------------------------------------------------------
MAX_PEERS = 8                  # default seats in a new room, 2..8
GRACE_SECONDS = 20             # a dropped player keeps their seat this long
WORKER_TTL = 10                # a worker silent this long is presumed dead
PING_INTERVAL = 10             # Socket.IO ping; a dead client is noticed after
PING_TIMEOUT = 10              #   interval + timeout seconds
SIGNAL_RATE = 50               # signaling messages per second per connection
SIGNAL_BURST = 200             # burst allowance (a join sends many ICE candidates)
# Below Socket.IO, before sign-in: WebSocket messages per second per connection, and the
# burst; past it the connection is closed (1008). Keep them above SIGNAL_RATE/BURST.
FRAME_RATE = 100
FRAME_BURST = 400
WS_BUFFERED_BYTES = 256 * 1024  # unread input per connection before reading pauses
MAX_SOCKETS_PER_ADDRESS = 64   # open connections per client address; 0 for no cap
JOIN_DEADLINE = 10             # seconds a connection may stay open without joining a room
GAME_RATE = 20                 # game-table actions per second per player
GAME_BURST = 60                # burst allowance (a held -1 button repeats)
CHAT_RATE = 1                  # chat messages per second per player
CHAT_BURST = 5
BUFFER_MAX_MESSAGES = 200      # signals kept for a player who is briefly away
BUFFER_MAX_AGE = 30            # seconds they are kept
CORS_ORIGINS = []              # extra browser origins; [] means the serving host only
ASYNC_MODE = 'threading'       # wsgi.py picks 'gevent' under gunicorn -k gevent
SHUTDOWN_TIMEOUT = 5           # seconds a worker gets to hand over on SIGTERM

# --- Limits --------------------------------------------------------------------------
MAX_CONTENT_LENGTH = 64 * 1024  # bigger request bodies get 413
# Flask-Limiter storage; None means REDIS_URL when set, otherwise 'memory://'.
RATELIMIT_STORAGE_URI = None
# Per client address, in Flask-Limiter's notation ('N per minute;M per hour').
RATELIMIT_USERS = '200 per hour;20 per minute'   # POST /api/users
RATELIMIT_ROOMS = '200 per hour;20 per minute'   # POST /api/rooms
RATELIMIT_TURN = '600 per hour;60 per minute'    # GET /turn and GET /api/ice-servers
RATELIMIT_JOIN_FAILURES = '20 per minute'        # unknown room ids (guessing)
RATELIMIT_SIGN_IN = '30 per minute;300 per hour'  # sign-ins started and finished
RATELIMIT_LOBBY = '1200 per hour;120 per minute'  # GET /api/rooms/<id>/seats (the lobby polls it)
RATELIMIT_HEADERS_ENABLED = True                 # X-RateLimit-* and Retry-After

# --- Signing in with Discord, Google or any OpenID Connect provider ------------------------
# None is configured by default, and then nothing about signing in shows: players are
# guests. Each provider is OAUTH_<NAME>_<FIELD> (or RHYSTIC_OAUTH_<NAME>_<FIELD> in the
# environment, read verbatim), NAME of a-z, 0-9 and _; the README's "Signing in" says how
# to register Rhystic with Discord and Google, and the redirect URL to give them:
#   <PUBLIC_URL>/auth/<name>/callback
# Fields: CLIENT_ID and CLIENT_SECRET (always); ISSUER, the provider's issuer URL (its
# discovery document is ISSUER/.well-known/openid-configuration), or METADATA_URL for a
# discovery document elsewhere; LABEL, the button's text (default: the name); SCOPE
# (default 'openid profile'). GOOGLE and DISCORD are presets: an id and a secret suffice.
# Examples (keep secrets here or in the environment, never in the repository):
# OAUTH_DISCORD_CLIENT_ID = '123456789012345678'
# OAUTH_DISCORD_CLIENT_SECRET = '...'
# OAUTH_GOOGLE_CLIENT_ID = '1234-abc.apps.googleusercontent.com'
# OAUTH_GOOGLE_CLIENT_SECRET = '...'
# OAUTH_KEYCLOAK_ISSUER = 'https://sso.example.org/realms/games'
# OAUTH_KEYCLOAK_CLIENT_ID = 'rhystic'
# OAUTH_KEYCLOAK_CLIENT_SECRET = '...'
# OAUTH_KEYCLOAK_LABEL = 'Our club'

# --- Cookies and proxies ---------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = 'Lax'
SESSION_COOKIE_SECURE = False  # set True behind HTTPS (PROXY_FIX does it for you)
REMEMBER_COOKIE_HTTPONLY = True
REMEMBER_COOKIE_SAMESITE = 'Lax'
PROXY_FIX = 0                  # trusted proxies in front (X-Forwarded-*); 1 behind nginx
WTF_CSRF_CHECK_DEFAULT = False  # rhystic/security.py checks CSRF for cookie callers
WTF_CSRF_TIME_LIMIT = None

# --- Logs, metrics and the browser ------------------------------------------------------
LOG_FORMAT = 'text'            # 'json' for one JSON object per line
LOG_LEVEL = 'INFO'
METRICS = True                 # Prometheus metrics at /metrics
CAPTURE_WIDTH = 1920           # webcam capture size asked of browsers (ideal, up to)
CAPTURE_HEIGHT = 1080
CAPTURE_FPS = 30
