"""Who is calling: a Flask-Login session for browsers, a bearer token for programs."""
from flask import request
from flask_login import current_user, login_user

from .errors import ApiError
from .extensions import login_manager
from .models import User


@login_manager.user_loader
def _load_from_session(public_id):
    return User.by_public_id(public_id)


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


def user_for_socket(auth):
    """The user behind a Socket.IO connect: auth token first, then the session cookie."""
    token = auth.get('token') if isinstance(auth, dict) else None
    if token is not None:
        return User.by_token(token)
    return current_user if current_user.is_authenticated else None


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
