"""Logging to stdout, one line per event: text for people, JSON lines for machines.

Handlers pass context as `extra={'event': ..., 'room': ..., 'peer': ..., 'user': ...}`.
Nothing here ever logs a token, a secret or an SDP body: callers pass ids only, and a
database error's traceback leaves out the values (see format_exception).
"""
import json
import logging
import sys
import traceback
from datetime import datetime, timezone

FIELDS = ('event', 'room', 'peer', 'user', 'remote_addr', 'reason', 'path', 'status')


class JsonFormatter(logging.Formatter):
    def format(self, record):
        entry = {
            'time': datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec='milliseconds'),
            'level': record.levelname.lower(),
            'logger': record.name,
            'message': record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            entry[name] = value
        if record.exc_info:
            entry['exception'] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)

    def formatException(self, exc_info):
        return format_exception(exc_info)


class TextFormatter(logging.Formatter):
    def format(self, record):
        record.exc_text = None  # not another formatter's, which may hold a row's values
        line = super().format(record)
        context = ' '.join(f'{name}={getattr(record, name)}' for name in FIELDS
                           if getattr(record, name, None) is not None)
        return f'{line} {context}' if context else line

    def formatException(self, exc_info):
        return format_exception(exc_info)


def init_app(app):
    handler = logging.StreamHandler(sys.stdout)
    if app.config['LOG_FORMAT'] == 'json':
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter('%(asctime)s %(levelname)s %(name)s: %(message)s'))
    logger = logging.getLogger('rhystic')
    for old in list(logger.handlers):
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(app.config['LOG_LEVEL'])
    logger.propagate = False


# --- tracebacks without a database's values ------------------------------------------

def format_exception(exc_info):
    """A traceback as Python prints it, except that a database error shows its statement
    and the database's error code, never the values: a PostgreSQL DETAIL repeats the
    failing row (names, token hashes), and SQLAlchemy's message the bound parameters."""
    _, value, tb = exc_info
    if value is None:
        return ''.join(traceback.format_exception(*exc_info)).rstrip('\n')
    if tb is not None and value.__traceback__ is None:
        value = value.with_traceback(tb)
    parts = []
    for exc, link in _chain(value):
        if link:
            parts.append(link)
        if exc.__traceback__ is not None:
            parts.append('Traceback (most recent call last):\n')
            parts.extend(traceback.format_tb(exc.__traceback__))
        parts.append(_describe(exc) + '\n')
    return ''.join(parts).rstrip('\n')


CAUSE = '\nThe above exception was the direct cause of the following exception:\n\n'
CONTEXT = '\nDuring handling of the above exception, another exception occurred:\n\n'


def _chain(exc):
    """(exception, text before it) from the first cause to the exception itself."""
    chain, seen, link = [], set(), None
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        chain.append((exc, link))
        if exc.__cause__ is not None:
            exc, link = exc.__cause__, CAUSE
        elif exc.__context__ is not None and not exc.__suppress_context__:
            exc, link = exc.__context__, CONTEXT
        else:
            exc = None
    # Each link is printed before the exception that follows it, as Python does.
    ordered = list(reversed(chain))
    return [(exc, ordered[i - 1][1] if i else None) for i, (exc, _) in enumerate(ordered)]


def _describe(exc):
    kind = type(exc)
    name = f'{kind.__module__}.{kind.__qualname__}'.removeprefix('builtins.')
    safe = _database_message(exc)
    if safe is None:
        return ''.join(traceback.format_exception_only(kind, exc)).rstrip('\n')
    return f'{name}: {safe}' if safe else name


def _database_message(exc):
    """The message for a database error, or None for any other exception."""
    from sqlalchemy.exc import StatementError
    if isinstance(exc, StatementError):
        orig = exc.orig
        driver = _driver_message(orig)
        inner = type(orig).__module__ + '.' + type(orig).__qualname__ if orig else ''
        detail = f'({inner}) {driver}' if driver else f'({inner})' if inner else ''
        return f'{detail}\n[SQL: {exc.statement}]'.lstrip()
    return _driver_message(exc)


def _driver_message(exc):
    module = type(exc).__module__
    if module.startswith('psycopg'):
        # Only the error code and the names of what failed (schema, never data).
        diag = getattr(exc, 'diag', None)
        names = [f'{what} {getattr(diag, what + "_name", None)}'
                 for what in ('table', 'column', 'constraint')
                 if diag is not None and getattr(diag, what + '_name', None)]
        code = getattr(exc, 'sqlstate', None)
        if code is None:  # raised by the driver itself: connection failures and the like
            return str(exc).split('\n', 1)[0]
        return ', '.join([f'sqlstate {code}'] + names)
    if module == 'sqlite3':
        return str(exc)  # SQLite's messages name tables and constraints, never values
    if any(cls.__name__ in ('DatabaseError', 'InterfaceError') for cls in type(exc).__mro__):
        return ''  # another driver's DB-API error: its class says enough, its message may not
    return None
