"""Logging to stdout, one line per event: text for people, JSON lines for machines.

Handlers pass context as `extra={'event': ..., 'room': ..., 'peer': ..., 'user': ...}`.
Nothing here ever logs a token, a secret or an SDP body: callers pass ids only, and a
database error's traceback leaves out the values (see format_exception).

In JSON mode every line a process writes is one JSON object: third-party loggers go
through the root logger's handler, and what would otherwise print a traceback or a raw
line to stderr (warnings, a failing thread or greenlet, a library's print) is routed
here too; gunicorn.conf.py does that for the processes gunicorn runs.
"""
import json
import logging
import sys
import threading
import traceback
from datetime import datetime, timezone

FIELDS = ('event', 'room', 'peer', 'user', 'remote_addr', 'reason', 'path', 'status')
# A library's own context, shown only when a line has it: python-socketio puts the Redis
# error behind "Cannot publish to redis... retrying" there, and nowhere else.
OPTIONAL_FIELDS = ('redis_exception',)
# Libraries that add a handler of their own (plain text, to stderr) unless their logger
# already has a level: given one, they log through ours instead.
SELF_HANDLING = ('engineio.server', 'socketio.server', 'engineio.client', 'socketio.client')
THIRD_PARTY_LEVEL = 'WARNING'


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
        for name in OPTIONAL_FIELDS:
            if getattr(record, name, None) is not None:
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry['exception'] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)

    def formatException(self, exc_info):
        return format_exception(exc_info)


class TextFormatter(logging.Formatter):
    def format(self, record):
        record.exc_text = None  # not another formatter's, which may hold a row's values
        line = super().format(record)
        context = ' '.join(f'{name}={getattr(record, name)}'
                           for name in FIELDS + OPTIONAL_FIELDS
                           if getattr(record, name, None) is not None)
        return f'{line} {context}' if context else line

    def formatException(self, exc_info):
        return format_exception(exc_info)


def formatter(log_format):
    if log_format == 'json':
        return JsonFormatter()
    return TextFormatter('%(asctime)s %(levelname)s %(name)s: %(message)s')


def init_app(app):
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter(app.config['LOG_FORMAT']))
    handler.rhystic = True
    logger = logging.getLogger('rhystic')
    for old in list(logger.handlers):
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(app.config['LOG_LEVEL'])
    logger.propagate = False
    _third_party_through(handler)


def _third_party_through(handler):
    for name in SELF_HANDLING:
        library = logging.getLogger(name)
        for old in list(library.handlers):
            library.removeHandler(old)
        library.setLevel(THIRD_PARTY_LEVEL)
    root = logging.getLogger()
    # gunicorn (JSON mode) or pytest may already have a handler there: it stays theirs.
    if all(getattr(old, 'rhystic', False) for old in root.handlers):
        for old in list(root.handlers):
            root.removeHandler(old)
        root.addHandler(handler)
        root.setLevel(THIRD_PARTY_LEVEL)


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


# --- what would otherwise reach stderr raw ---------------------------------------------

def route_process_output(json_lines):
    """Warnings, failing threads and unraisable errors go to logging, as one entry each
    with the traceback inside; in JSON mode, any other line on stderr becomes JSON."""
    logging.captureWarnings(True)
    crash = logging.getLogger('rhystic.crash')

    def thread_failed(args):
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread else 'a thread'
        crash.error('%s failed with %s', name, args.exc_type.__name__,
                    exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    def unraisable(args):
        crash.error('%s: %s', args.err_msg or 'Exception ignored in', args.object,
                    exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    def uncaught(kind, value, tb):
        crash.critical('uncaught %s', kind.__name__, exc_info=(kind, value, tb))

    threading.excepthook = thread_failed
    sys.unraisablehook = unraisable
    sys.excepthook = uncaught
    if json_lines and not isinstance(sys.stderr, JsonLineStream):
        sys.stderr = JsonLineStream(sys.stderr)


def route_greenlet_errors(hub):
    """gevent prints a greenlet's failure to stderr itself; log it instead."""
    crash = logging.getLogger('rhystic.crash')

    def print_exception(context, kind, value, tb):
        crash.error('%s failed with %s', context, getattr(kind, '__name__', kind),
                    exc_info=(kind, value, tb) if value is not None else None)

    hub.print_exception = print_exception


class JsonLineStream:
    """stderr in JSON mode: each line written to it raw becomes one JSON entry, an error
    (warnings and tracebacks come through logging; what is left is a complaint)."""

    def __init__(self, stream):
        self.stream = stream
        self.pending = ''
        self.formatter = JsonFormatter()

    def write(self, text):
        self.pending += text
        while '\n' in self.pending:
            line, self.pending = self.pending.split('\n', 1)
            if line.strip():
                record = logging.LogRecord('stderr', logging.ERROR, '', 0, line, None, None)
                self.stream.write(self.formatter.format(record) + '\n')
        self.stream.flush()
        return len(text)

    def flush(self):
        self.stream.flush()

    def fileno(self):
        return self.stream.fileno()

    def isatty(self):
        return False

    def __getattr__(self, name):  # encoding, errors, buffer...: the stream's own
        return getattr(self.stream, name)
