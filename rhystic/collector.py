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
        self.last = clock()

    def __call__(self, phase, info):
        if phase == 'stop' and self.clock() - self.last >= self.every:
            gc.freeze()
            self.last = self.clock()


def keep_collections_short(every=0.0):
    gc.set_threshold(700, 10, 10)  # Python's defaults: small, short young collections
    gc.freeze()
    gc.callbacks.append(FreezeAfterYoung(every))


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
