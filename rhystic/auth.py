"""Who is calling: a Flask-Login session for browsers, a bearer token for programs."""
import time
from typing import NamedTuple

from flask import request, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user, login_user, logout_user

from .errors import ApiError
from .extensions import login_manager
from .models import User, hash_token


@login_manager.user_loader
def _load_from_session(session_id):
    return User.by_session_id(session_id)


@login_manager.request_loader
def _load_from_bearer(req):
    token = bearer_token(req)
    return User.by_token(token) if token else None


@login_manager.unauthorized_handler
def _unauthorized():
    raise ApiError(401, 'sign in first: a browser session, or Authorization: Bearer <token>')


def bearer_token(req=None):
    header = (req or request).headers.get('Authorization', '')
    scheme, _, token = header.partition(' ')
    return token.strip() if scheme.lower() == 'bearer' and token.strip() else None


def sign_in(user):
    # remember=True: a player who comes back tomorrow is still themselves.
    login_user(user, remember=True)


# What a browser keeps across signing in and out: it is the browser's, not the account's.
KEPT_ACROSS_SIGN_IN = ('recent_rooms',)


def sign_in_fresh(user):
    """Sign in with a session made anew (no fixation): nothing of the session before
    carries over but the browser's own recent rooms, and a new CSRF token is made."""
    kept = {k: session[k] for k in KEPT_ACROSS_SIGN_IN if k in session}
    session.clear()
    session.update(kept)
    sign_in(user)


def sign_out():
    """End this browser's session and its remember-me cookie."""
    session.clear()
    logout_user()  # after clear(): it marks the remember-me cookie for deletion


class Caller(NamedTuple):
    public_id: str
    display_name: str
    signed_in: bool = False  # a sign-in provider vouches for the account
    avatar_url: str = ''


def caller_of(user):
    if user is None:
        return None
    return Caller(user.public_id, user.display_name, user.signed_in, user.avatar_url or '')


class CallerCache:
    """Who holds a token or a session id, remembered briefly: a join storm of thousands
    of sockets then costs a few SQL queries, not one each. A rename shows up within ttl."""

    def __init__(self, ttl=30.0, size=10_000):
        self.ttl, self.size, self._entries = ttl, size, {}
        self._forgets = 0  # how many forget() calls so far

    def get(self, key, load):
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit and hit[0] > now:
            return hit[1]
        forgets = self._forgets
        caller = caller_of(load())
        if len(self._entries) >= self.size:
            self._entries.clear()
        # Unknown tokens are not cached: they must stay cheap to refuse. Nor is what was
        # read while someone was forgotten (load() waits on SQL): it may be from before
        # a sign-out everywhere, and would let the old session in for another ttl.
        if caller and forgets == self._forgets:
            self._entries[key] = (now + self.ttl, caller)
        return caller

    def forget(self, public_id):
        """Sign out everywhere, a rename: the next socket of this account reads SQL."""
        self._forgets += 1
        self._entries = {k: v for k, v in self._entries.items() if v[1].public_id != public_id}


callers = CallerCache()


def user_for_socket(auth):
    """The caller behind a Socket.IO connect: auth token first, then the session cookie."""
    token = auth.get('token') if isinstance(auth, dict) else None
    if token is not None:
        if not 10 <= len(token) <= 200:
            return None
        return callers.get('t:' + hash_token(token), lambda: User.by_token(token))
    # Flask-Login's session key: the user's public id and session epoch (User.get_id).
    session_id = session.get('_user_id')
    if session_id:
        return callers.get('s:' + session_id, lambda: User.by_session_id(session_id))
    # No session user: Flask-Login may still restore one from the remember-me cookie.
    return caller_of(current_user if current_user.is_authenticated else None)


def caller_or_401():
    """The API caller. An explicit bearer token speaks louder than an ambient cookie:
    a program that sends one is that token's user, whoever the browser session is."""
    token = bearer_token()
    if token is not None:
        user = User.by_token(token)
        if user is None:
            raise ApiError(401, 'the bearer token is not valid')
        return user
    if not current_user.is_authenticated:
        _unauthorized()
    return current_user


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer built once.

    Flask builds it for every request, in case the secret key changed; ours is fixed at
    start-up, and building it was half the CPU of admitting a Socket.IO connection.
    """

    def get_signing_serializer(self, app):
        key = (app.secret_key, tuple(app.config['SECRET_KEY_FALLBACKS'] or ()))
        cached = getattr(self, '_serializer', None)
        if cached is None or cached[0] != key:
            self._serializer = cached = (key, super().get_signing_serializer(app))
        return cached[1]
