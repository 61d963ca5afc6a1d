"""Signaling: a Socket.IO namespace per room (docs/protocol.md)."""
import os
import secrets
import socket

from .handlers import Signaling
from .rooms import Rooms
from .store import MemoryStore, RedisStore


def make_store(config):
    if not config['REDIS_URL']:
        return MemoryStore()
    return RedisStore(redis_client(config['REDIS_URL'], config, decode_responses=True),
                      prefix=config['REDIS_PREFIX'])


def redis_client(url, config, **options):
    """A client whose pool makes a greenlet wait for a connection, rather than raise,
    when thousands of sockets all want Redis at once (a join storm)."""
    import redis
    pool = redis.BlockingConnectionPool.from_url(
        url, max_connections=config['REDIS_MAX_CONNECTIONS'], timeout=10, socket_timeout=5,
        health_check_interval=30, **options)
    return redis.Redis(connection_pool=pool)


def init_app(app, socketio):
    config = app.config
    worker = f'{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}'
    rooms = Rooms(make_store(config), config['SECRET_KEY'], worker,
                  grace_seconds=config['GRACE_SECONDS'],
                  buffer_max=config['BUFFER_MAX_MESSAGES'],
                  buffer_age=config['BUFFER_MAX_AGE'],
                  worker_ttl=config['WORKER_TTL'])
    signaling = Signaling(app, socketio, rooms)
    signaling.register()
    from . import gate
    signaling.gate = gate.init_app(app, socketio)
    from . import plainws  # the plain WebSocket API, /ws: after the gate, which it uses
    plainws.init_app(app, socketio, signaling)
    app.extensions['rhystic.rooms'] = rooms
    app.extensions['rhystic.signaling'] = signaling
    return signaling
