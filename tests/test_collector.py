"""rhystic/collector.py: what survives a young collection is frozen, garbage is not."""
import gc
import weakref

import pytest

from rhystic.collector import FreezeAfterYoung, keep_collections_short, record_pauses


class Node:
    pass


@pytest.fixture
def collector():
    """Leave the process's collector as it was: thresholds, callbacks, nothing frozen."""
    thresholds, callbacks = gc.get_threshold(), list(gc.callbacks)
    gc.collect()
    yield
    gc.callbacks[:] = callbacks
    gc.set_threshold(*thresholds)
    gc.unfreeze()
    gc.collect()


def cycle():
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a


def test_freezes_after_a_collection_once_due_and_collects_garbage_first(collector):
    now = [0.0]
    freezer = FreezeAfterYoung(every=2.0, clock=lambda: now[0])
    gc.callbacks.append(freezer)
    kept, garbage = cycle(), weakref.ref(cycle())
    assert garbage() is not None, 'a cycle outlives its last reference until collected'

    now[0] = 1.0  # not yet due: a collection freezes nothing
    gc.collect(0)
    assert gc.get_freeze_count() == 0 and garbage() is None

    garbage = weakref.ref(cycle())
    now[0] = 2.5
    gc.collect(0)
    assert garbage() is None, 'the collection ran before the freeze: its garbage is gone'
    assert gc.get_freeze_count() > 0 and gc.get_count()[0] == 0
    assert gc.is_tracked(kept) and freezer.last == 2.5

    frozen = gc.get_freeze_count()
    now[0] = 3.0  # frozen 0.5 s ago: the next collection leaves the young alone
    fresh = cycle()
    gc.collect(0)
    assert gc.get_freeze_count() == frozen and gc.is_tracked(fresh)


def test_record_pauses_writes_one_line_per_collection(collector, tmp_path):
    path = tmp_path / 'gc.log'
    record_pauses(str(path))
    gc.collect(0)
    gc.collect(1)
    lines = [line.split() for line in path.read_text().splitlines()]
    assert [line[2] for line in lines[-2:]] == ['0', '1']
    pid, when, generation, wall_ms, cpu_ms, collected = lines[-1]
    assert int(pid) > 0 and float(when) > 0 and int(collected) >= 0
    assert float(wall_ms) >= 0 and float(cpu_ms) >= 0


def test_frozen_objects_dying_hide_a_growing_young_generation(collector):
    """Why the young generation needs a clock (FreezeAfterYoung.collect_if_due): Python
    counts a frozen object's death against the allocations that start a collection."""
    gc.disable()
    try:
        old = [Node() for _ in range(5000)]
        gc.freeze()
        young = []
        for i in range(5000):
            old.pop()             # a frozen object dies...
            young.append(Node())  # ...and a young one takes its place
        assert gc.get_count()[0] < 700, 'no collection would be due'
        assert len(gc.get_objects(0)) >= 5000, 'yet the young generation holds them all'
    finally:
        gc.enable()


def test_collect_if_due_collects_and_freezes_only_when_none_ran_lately(collector):
    now = [10.0]
    freezer = FreezeAfterYoung(every=0.0, clock=lambda: now[0])
    gc.callbacks.append(freezer)
    gc.collect(0)
    assert freezer.collected == 10.0
    frozen, kept, garbage = gc.get_freeze_count(), cycle(), weakref.ref(cycle())

    now[0] = 10.1
    freezer.collect_if_due(0.25)  # one ran 0.1 s ago: nothing to do
    assert garbage() is not None and gc.get_freeze_count() == frozen

    now[0] = 10.3
    freezer.collect_if_due(0.25)
    assert garbage() is None, 'collected'
    assert gc.get_freeze_count() > frozen and freezer.collected == 10.3, 'then frozen'
    assert gc.is_tracked(kept)


def test_keep_collections_short_checks_the_clock_on_each_turn_of_the_loop(collector):
    turns = []
    freezer = keep_collections_short(young_period=0.1, each_loop=lambda f: turns.append(f))
    assert freezer in gc.callbacks and len(turns) == 1
    freezer.collected = freezer.clock()  # one just ran: a turn does nothing
    garbage = weakref.ref(cycle())
    turns[0]()
    assert garbage() is not None
    freezer.collected -= 1  # a second ago: the next turn collects
    turns[0]()
    assert garbage() is None


def test_a_websocket_gone_without_a_close_frame_leaves_no_cycle(collector):
    """wsproto's frame parser is a generator holding its FrameProtocol; the guarded
    WebSocket (rhystic/signaling/transport.py) ends it when the connection ends, so
    reference counting alone frees the connection's state, frozen or not."""
    import base64
    import os
    import socket
    import time

    from rhystic.signaling.transport import GuardedServer, Limits

    ours, client = socket.socketpair()
    environ = {'werkzeug.socket': ours, 'REQUEST_METHOD': 'GET', 'PATH_INFO': '/ws',
               'HTTP_HOST': 'localhost', 'HTTP_CONNECTION': 'Upgrade',
               'HTTP_UPGRADE': 'websocket', 'HTTP_SEC_WEBSOCKET_VERSION': '13',
               'HTTP_SEC_WEBSOCKET_KEY': base64.b64encode(os.urandom(16)).decode()}
    limits = Limits(frame_rate=100, frame_burst=100, max_message=10000,
                    buffered_bytes=1 << 20, sleep=time.sleep)
    ws = GuardedServer(environ, limits)
    assert client.recv(4096).startswith(b'HTTP/1.1 101')
    parser = weakref.ref(ws.ws.connection._proto._parse_more)  # the pinned internal
    proto = weakref.ref(ws.ws.connection._proto)
    gc.disable()  # from here only reference counting may free anything
    try:
        client.close()  # no close frame: the parser stays where it was, mid-stream
        ws.thread.join(10)
        assert not ws.thread.is_alive()
        del ws
        assert parser() is None and proto() is None, 'freed without a collection'
    finally:
        gc.enable()


def test_engineio_middleware_defines_no_class_and_both_sides_get_the_socket():
    """without_a_class_per_request: Engine.IO's WSGIApp (pinned) defines `class Input`
    whenever it sees `gunicorn.socket`; behind it, Engine.IO and the app (/ws) need it."""
    import engineio

    from rhystic.collector import without_a_class_per_request

    seen = []

    def record(side):
        def wsgi(environ, start_response):
            seen.append((side, environ.get('gunicorn.socket'), 'eventlet.input' in environ))
            return [b'']
        return wsgi

    eio = engineio.Server(async_mode='threading')
    eio.handle_request = record('engine.io')
    middleware = engineio.WSGIApp(eio, record('app'), engineio_path='socket.io')
    app = without_a_class_per_request(middleware, eio, middleware)
    sock = object()
    for path in ('/socket.io/', '/ws', '/api/rooms'):
        app({'PATH_INFO': path, 'gunicorn.socket': sock}, lambda *a: None)
    assert seen == [('engine.io', sock, False), ('app', sock, False), ('app', sock, False)]

    seen.clear()  # and the class it would define, had it seen the socket (the premise)
    middleware({'PATH_INFO': '/ws', 'gunicorn.socket': sock}, lambda *a: None)
    assert seen == [('app', sock, True)]
