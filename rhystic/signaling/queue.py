"""The Socket.IO message queue between workers (Redis), with a pool that waits.

python-socketio's RedisManager opens its client with `Redis.from_url`, whose pool holds
100 connections and then raises "Too many connections". In a join storm on two workers
more than 100 greenlets publish at once (peer-joined, game-update: every emit that
another worker must deliver), and each refused publish made the manager build a new
client and subscription, which closed the one its listener was reading: the listener
then slept a second and more, and every broadcast other workers sent meanwhile was
lost for this worker's sockets (bench/README.md, "The message queue's pool"). Here the
manager gets a BlockingConnectionPool for the worker's whole life, like the signaling
store's (signaling/__init__.py redis_client): a greenlet waits for a connection, and a
reconnect after a real Redis error reuses the pool, leaving the listener's subscription
alone.

The pool has no socket timeout: the listener blocks reading its subscription for as
long as nothing is published.
"""
import redis
import socketio


class PooledRedisManager(socketio.RedisManager):
    def __init__(self, url, channel, max_connections):
        super().__init__(url, channel=channel)
        self.pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=10)

    def _redis_connect(self):  # replaces python-socketio's (pinned: requirements.txt)
        self.redis = redis.Redis(connection_pool=self.pool)
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.connected = True


def message_queue(config):
    """The client manager for Flask-SocketIO, or None to let it choose (none, or a
    non-Redis queue through Kombu)."""
    url = config['MESSAGE_QUEUE']
    if not url or not url.startswith(('redis://', 'rediss://')):
        return None
    return PooledRedisManager(url, config['SOCKETIO_CHANNEL'],
                              config['REDIS_MAX_CONNECTIONS'])
