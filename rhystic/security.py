"""Security policy in one place: headers, CSRF for cookie callers, and join throttling."""
import logging

from flask import current_app, request
from flask_wtf.csrf import CSRFError
from limits import parse

from .auth import bearer_token
from .errors import ApiError, error_response
from .extensions import csrf, limiter
from .models import User

log = logging.getLogger('rhystic.security')

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
       "form-action 'self'; frame-ancestors 'none'")
UNSAFE_METHODS = {'POST', 'PUT', 'PATCH', 'DELETE'}


def _csrf_check():
    # Only ambient credentials (the session cookie) can be abused cross-site; a bearer
    # token or a cookie-less call carries no authority a forged request could borrow.
    # A bearer token that identifies nobody excuses nothing: the cookie would act.
    if request.method not in UNSAFE_METHODS:
        return
    token = bearer_token()
    if token and User.by_token(token) is not None:
        return
    cookies = request.cookies
    if current_app.config['SESSION_COOKIE_NAME'] in cookies or 'remember_token' in cookies:
        csrf.protect()


def _csrf_refused(exc):
    log.warning('csrf check failed', extra={'event': 'csrf_refused', 'reason': exc.description,
                                            'path': request.path,
                                            'remote_addr': request.remote_addr})
    return error_response(403, 'csrf_failed',
                          f'{exc.description} A request made with the session cookie needs '
                          'the X-CSRFToken header (the csrf-token meta tag of any page), or '
                          'use Authorization: Bearer <token> instead of the cookie.')


def _headers(response):
    headers = response.headers
    headers.setdefault('Content-Security-Policy', current_app.extensions.get('rhystic.csp', CSP))
    headers.setdefault('X-Content-Type-Options', 'nosniff')
    headers.setdefault('Referrer-Policy', 'same-origin')
    headers.setdefault('X-Frame-Options', 'DENY')
    headers.setdefault('Cross-Origin-Opener-Policy', 'same-origin')
    headers.setdefault('Permissions-Policy', 'camera=(self), microphone=(self), fullscreen=(self)')
    if current_app.config['SESSION_COOKIE_SECURE']:
        headers.setdefault('Strict-Transport-Security', 'max-age=31536000')
    return response


def note_failed_lookup(address=None):
    """Count a miss on a room id; too many in a row from one address means guessing."""
    address = address or request.remote_addr or 'unknown'
    item = parse(current_app.config['RATELIMIT_JOIN_FAILURES'])
    if not limiter.limiter.hit(item, 'room-miss', address):
        log.warning('room lookups throttled',
                    extra={'event': 'rate_limited', 'remote_addr': address})
        raise ApiError(429, 'too many unknown room ids; wait a minute', 'rate_limited')


def lookups_blocked(address):
    item = parse(current_app.config['RATELIMIT_JOIN_FAILURES'])
    return not limiter.limiter.test(item, 'room-miss', address)


def init_app(app):
    app.before_request(_csrf_check)
    app.register_error_handler(CSRFError, _csrf_refused)
    app.after_request(_headers)
