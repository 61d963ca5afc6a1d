"""The Socket.IO message queue's Redis pool (rhystic/signaling/queue.py): publishes wait
for a connection instead of failing, and a reconnect keeps the listener's subscription.
Against the real Redis."""
import threading

import redis
import socketio
from conftest import REDIS_URL

from rhystic.signaling.queue import PooledRedisManager, message_queue

MANY = 40  # greenlets/threads wanting a connection at once, over a pool of 10


def busy_together(client, key):
    """MANY clients each hold a connection for 0.3 s at the same moment (BLPOP)."""
    errors, barrier = [], threading.Barrier(MANY)

    def hold():
        barrier.wait()
        try:
            client.blpop(key, timeout=0.3)
        except redis.RedisError as exc:
            errors.append(str(exc))
    threads = [threading.Thread(target=hold) for _ in range(MANY)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return errors


def test_more_publishers_than_connections_wait_their_turn(redis_prefix):
    manager = PooledRedisManager(REDIS_URL, redis_prefix + 'chan', max_connections=10)
    manager._redis_connect()
    assert busy_together(manager.redis, redis_prefix + 'nothing') == []
    # python-socketio's own client, with a pool of the same size, refuses the extras:
    # what made it rebuild its client and drop its subscription in a join storm.
    plain = socketio.RedisManager(REDIS_URL, channel=redis_prefix + 'chan',
                                  redis_options={'max_connections': 10})
    plain._redis_connect()
    assert any('Too many connections' in e for e in busy_together(plain.redis,
                                                                    redis_prefix + 'x'))


def test_a_reconnect_leaves_the_listeners_subscription_working(redis_prefix):
    manager = PooledRedisManager(REDIS_URL, redis_prefix + 'chan', max_connections=10)
    manager._redis_connect()
    listening = manager.pubsub
    listening.subscribe(manager.channel)
    listening.get_message(timeout=1)  # its confirmation, read (and not returned)
    manager._redis_connect()  # what a failed publish does before its second try
    assert manager.redis.publish(manager.channel, 'hello') == 1  # still subscribed
    message = listening.get_message(timeout=2)
    assert message is not None and message['data'] == b'hello'


def test_only_redis_urls_get_the_pooled_manager():
    config = {'SOCKETIO_CHANNEL': 'c', 'REDIS_MAX_CONNECTIONS': 5}
    assert message_queue({**config, 'MESSAGE_QUEUE': None}) is None
    assert message_queue({**config, 'MESSAGE_QUEUE': 'amqp://guest@127.0.0.1//'}) is None
    manager = message_queue({**config, 'MESSAGE_QUEUE': REDIS_URL})
    assert isinstance(manager, PooledRedisManager) and manager.channel == 'c'
    assert manager.pool.max_connections == 5
