"""One error shape for the whole API: {"error": {"code", "message"}} with its status.

Pages get friendly HTML instead; the choice is made by path, so that a browser that
follows a link to /api/... still sees JSON, as a script would.
"""
import logging

from flask import jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger('rhystic.errors')

# The code clients switch on, for each HTTP status we answer with.
CODES = {
    400: 'invalid_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found',
    405: 'method_not_allowed', 409: 'conflict', 413: 'too_large', 415: 'invalid_request',
    429: 'rate_limited', 500: 'internal', 503: 'unavailable',
}
JSON_PREFIXES = ('/api/', '/turn')


class ApiError(Exception):
    def __init__(self, status, message, code=None, **extra):
        super().__init__(message)
        self.status = status
        self.code = code or CODES.get(status, 'error')
        self.message = message
        self.extra = extra


class ValidationError(ApiError, ValueError):
    def __init__(self, message, field=None):
        super().__init__(400, message, 'invalid_request', **({'field': field} if field else {}))


def error_response(status, code, message, **extra):
    body = {'error': {'code': code, 'message': message, **extra}}
    wants_json = request.accept_mimetypes.best == 'application/json'
    if request.path.startswith(JSON_PREFIXES) or wants_json:
        return make_response(jsonify(body), status)
    html = render_template('error.html', status=status, code=code, message=message)
    return make_response(html, status)


def _http_error(exc):
    message = exc.description or exc.name
    if exc.code == 429:
        message = f'Too many requests: the limit is {exc.description}. Try again shortly.'
        log.warning('rate limit hit', extra={'event': 'rate_limited', 'path': request.path})
    response = error_response(exc.code, CODES.get(exc.code, 'error'), message)
    original = exc.get_response().headers
    for name in ('Retry-After', 'Allow'):
        if name in original:
            response.headers[name] = original[name]
    return response


def _api_error(exc):
    return error_response(exc.status, exc.code, exc.message, **exc.extra)


def _unexpected(exc):
    log.exception('unhandled error', extra={'event': 'error', 'path': request.path})
    return error_response(500, 'internal', 'Something went wrong on our side; it has been logged.')


def init_app(app):
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
