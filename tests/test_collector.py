"""rhystic/collector.py: what survives a young collection is frozen, garbage is not."""
import gc
import weakref

import pytest

from rhystic.collector import FreezeAfterYoung, record_pauses


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
