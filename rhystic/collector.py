"""The cyclic garbage collector in a worker holding thousands of sockets (wsgi.py).

No gevent and no Flask here: plain gc, so that it can be tested alone.
"""
import gc
import os
import time


class FreezeAfterYoung:
    """Keep the cyclic GC from walking every long-lived socket, with no pause of our own.

    A full collection walks every tracked object: with 8,000 sockets that is about a
    million objects and a stall of 1-2 s. So what has lived a while is moved to the
    permanent generation (gc.freeze), which collections never walk; frozen objects are
    still freed by reference counting when their socket closes.

    It used to be done by a task every 2 s, gc.collect(1) then gc.freeze(): each of
    those collections walked up to 20k young objects and took 20-30 ms, the worst pause
    the worker had (bench/README.md, issue 15). Now Python's own young collections, at
    the default threshold of 700, do the collecting, and this callback freezes right
    after one of them, at most every `every` seconds: then the young generation has just
    been emptied of its garbage cycles, so what is frozen is what survived, not garbage
    that would stay for good. gc.freeze itself only splices lists: it costs
    microseconds, whatever the number of objects. The worker freezes after every
    collection (every=0): with 8,000 sockets, what survived 2 s of young collections
    made generation-1 collections of up to 61 ms and generation-2 ones of up to 97 ms
    while sockets connected; frozen at once, neither happened (bench/README.md).
    """

    def __init__(self, every=2.0, clock=time.monotonic):
        self.every, self.clock = every, clock
        self.last = self.collected = clock()

    def __call__(self, phase, info):
        if phase != 'stop':
            return
        self.collected = self.clock()
        if self.collected - self.last >= self.every:
            gc.freeze()
            self.last = self.collected

    def collect_if_due(self, period):
        """A young collection if Python has not run one for `period` seconds.

        Python starts one when allocations minus deallocations of containers pass 700,
        and the death of a frozen object counts as a deallocation. A worker holding
        sockets mostly replaces frozen objects with young ones (each socket's writer
        waits on its queue with a fresh gevent Waiter, Timeout and timer per packet), so
        that count stays low while the young generation grows: 18,822 objects after 6 s
        with 1,000 sockets (4.3 ms to walk), and about eight times that with 8,000 (the
        48 ms collections in bench/README.md). Collected on a clock instead, the young
        generation holds at most `period` seconds of survivors; the total work is the
        same, each object being walked once before it is frozen.
        """
        if self.clock() - self.collected >= period:
            gc.collect(0)


def keep_collections_short(every=0.0, young_period=0.1, each_loop=None):
    """Freeze after every young collection; given `each_loop`, which runs a function on
    every turn of the event loop (wsgi.py: a gevent check watcher), also collect the
    young generation whenever `young_period` seconds passed without a collection.

    On the loop's turns, not in a task that sleeps: a worker busy enough to allocate
    fast also wakes a sleeping task late, and the young generation grows meanwhile."""
    gc.set_threshold(700, 10, 10)  # Python's defaults: small, short young collections
    gc.freeze()
    freezer = FreezeAfterYoung(every)
    gc.callbacks.append(freezer)
    if each_loop is not None:
        freezer.watcher = each_loop(lambda: freezer.collect_if_due(young_period))
    return freezer


def record_pauses(path):
    """RHYSTIC_GC_LOG=<file>: one line per collection, `pid time generation wall_ms cpu_ms
    collected`, for bench/signaling.py to read the pauses from. Not for production.
    Both clocks: on a loaded machine the wall clock also counts the time the scheduler
    gave other processes, and the CPU clock only the collection's own work."""
    out, started = open(path, 'a', buffering=1), [0.0, 0.0]

    def on_gc(phase, info):
        if phase == 'start':
            started[:] = time.perf_counter(), time.thread_time()
        else:
            wall_ms = (time.perf_counter() - started[0]) * 1000
            cpu_ms = (time.thread_time() - started[1]) * 1000
            out.write(f'{os.getpid()} {time.time():.3f} {info["generation"]} {wall_ms:.3f} '
                      f'{cpu_ms:.3f} {info["collected"]}\n')
    gc.callbacks.insert(0, on_gc)


def without_a_class_per_request(wsgi_app, eio, middleware):
    """Keep Engine.IO's middleware (`middleware`, flask-socketio's) from defining a class
    for every request.

    Under gunicorn, engineio's WSGIApp.__call__ defines `class Input` afresh for each
    request, to hand eventlet the socket (gevent never asks for it). A class is a
    reference cycle; a WebSocket request (Engine.IO's, or /ws) lives as long as its
    connection, so its class is frozen and then outlives it, some 3 KB a connection for
    good; any other request's class is frozen when a collection lands while it runs. So
    the middleware is shown every request without `gunicorn.socket`, and both sides
    behind it, Engine.IO and the Flask app, get the socket back as they start on it.
    """
    def app(environ, start_response):
        if 'gunicorn.socket' in environ:
            environ['rhystic.gunicorn_socket'] = environ.pop('gunicorn.socket')
        return wsgi_app(environ, start_response)

    def with_the_socket(inner):
        def give_back(environ, start_response):
            if 'rhystic.gunicorn_socket' in environ:
                environ['gunicorn.socket'] = environ.pop('rhystic.gunicorn_socket')
            return inner(environ, start_response)
        return give_back
    eio.handle_request = with_the_socket(eio.handle_request)
    middleware.wsgi_app = with_the_socket(middleware.wsgi_app)
    return app
