"""Logging to stdout, one line per event: text for people, JSON lines for machines.

Handlers pass context as `extra={'event': ..., 'room': ..., 'peer': ..., 'user': ...}`.
Nothing here ever logs a token, a secret or an SDP body: callers pass ids only.
"""
import json
import logging
import sys
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


class TextFormatter(logging.Formatter):
    def format(self, record):
        line = super().format(record)
        context = ' '.join(f'{name}={getattr(record, name)}' for name in FIELDS
                           if getattr(record, name, None) is not None)
        return f'{line} {context}' if context else line


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
