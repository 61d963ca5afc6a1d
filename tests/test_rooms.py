"""Room logic in plain Python, run against both stores: no app, no sockets."""
import pytest
import redis as redis_lib

from conftest import REDIS_URL
from servers import free_port, wait_until
from rhystic.signaling import protocol
from rhystic.signaling.protocol import ProtocolError
from rhystic.signaling.rooms import Refusal, Rooms
from rhystic.signaling.store import MemoryStore, RedisStore


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture(params=['memory', 'redis'])
def store(request):
    if request.param == 'memory':
        return MemoryStore()
    prefix = request.getfixturevalue('redis_prefix')
    return RedisStore(redis_lib.Redis.from_url(REDIS_URL, decode_responses=True), prefix)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def rooms(store, clock):
    return Rooms(store, 'secret', 'worker-a', grace_seconds=20, clock=clock, buffer_max=3,
                 buffer_age=30, worker_ttl=10)


def join(rooms, user='u_1', sid='s1', room='room-a', max_peers=8, **kw):
    return rooms.join(room, max_peers, user, user.upper(), sid, **kw)


def test_first_join_gets_a_fresh_seat_and_no_peers(rooms):
    joined = join(rooms)
    assert joined.seat.peer_id.startswith('p_')
    assert joined.seat.peer_id != 's1', 'a peer id is not the socket id'
    assert joined.peers == [] and not joined.resumed and joined.announce
    assert joined.resume == rooms.resume_token('room-a', joined.seat.peer_id, 'u_1')


def test_second_join_sees_the_first(rooms):
    a = join(rooms, 'u_a', 'sa')
    b = join(rooms, 'u_b', 'sb')
    assert [p['peer_id'] for p in b.peers] == [a.seat.peer_id]
    assert b.peers[0] == {'peer_id': a.seat.peer_id, 'user_id': 'u_a', 'display_name': 'U_A',
                          'media': {'audio': True, 'video': True}}


def test_capacity_refuses_the_extra_seat_with_max_peers(rooms):
    for i in range(3):
        join(rooms, f'u_{i}', f's{i}', max_peers=3)
    with pytest.raises(Refusal) as refused:
        join(rooms, 'u_x', 'sx', max_peers=3)
    assert refused.value.code == protocol.ROOM_FULL
    assert refused.value.data()['max_peers'] == 3


def test_seats_in_grace_still_count_towards_capacity(rooms):
    a = join(rooms, 'u_a', 'sa', max_peers=2)
    join(rooms, 'u_b', 'sb', max_peers=2)
    assert rooms.disconnect('room-a', a.seat.peer_id, 'sa')
    with pytest.raises(Refusal):
        join(rooms, 'u_c', 'sc', max_peers=2)


def test_rooms_are_independent(rooms):
    join(rooms, 'u_a', 'sa', room='room-a', max_peers=2)
    join(rooms, 'u_b', 'sb', room='room-a', max_peers=2)
    other = join(rooms, 'u_c', 'sc', room='room-b', max_peers=2)
    assert other.peers == []
    assert rooms.peer_count('room-a') == 2 and rooms.peer_count('room-b') == 1


def test_resume_keeps_the_seat_without_announcing(rooms, clock):
    a = join(rooms, 'u_a', 'sa')
    b = join(rooms, 'u_b', 'sb')
    assert rooms.disconnect('room-a', a.seat.peer_id, 'sa')
    clock.now += 19
    again = join(rooms, 'u_a', 'sa2', peer_id=a.seat.peer_id, resume=a.resume)
    assert again.seat.peer_id == a.seat.peer_id
    assert again.resumed and not again.announce
    assert [p['peer_id'] for p in again.peers] == [b.seat.peer_id]
    clock.now += 60
    assert rooms.sweep() == [], 'a resumed seat does not time out'


def test_resume_with_a_wrong_secret_is_unauthorized(rooms):
    a = join(rooms, 'u_a', 'sa')
    rooms.disconnect('room-a', a.seat.peer_id, 'sa')
    with pytest.raises(Refusal) as refused:
        join(rooms, 'u_a', 'sa2', peer_id=a.seat.peer_id, resume=a.resume[:-2] + 'xx')
    assert refused.value.code == protocol.UNAUTHORIZED


def test_resume_secret_is_bound_to_the_user(rooms):
    a = join(rooms, 'u_a', 'sa')
    with pytest.raises(Refusal) as refused:
        join(rooms, 'u_mallory', 'sm', peer_id=a.seat.peer_id, resume=a.resume)
    assert refused.value.code == protocol.UNAUTHORIZED


def test_resume_while_the_old_socket_lingers_replaces_it(rooms):
    a = join(rooms, 'u_a', 'sa')
    again = join(rooms, 'u_a', 'sa2', peer_id=a.seat.peer_id, resume=a.resume)
    assert again.replaced_sid == 'sa'
    assert not rooms.disconnect('room-a', a.seat.peer_id, 'sa'), \
        "the stale socket's disconnect must not take the seat away from the new one"


def test_grace_expiry_frees_the_seat_with_reason_timeout(rooms, clock):
    a = join(rooms, 'u_a', 'sa', max_peers=2)
    join(rooms, 'u_b', 'sb', max_peers=2)
    rooms.disconnect('room-a', a.seat.peer_id, 'sa')
    clock.now += 19.9
    assert rooms.sweep() == []
    clock.now += 0.2
    gone = rooms.sweep()
    assert [(d.peer_id, d.reason) for d in gone] == [(a.seat.peer_id, protocol.TIMEOUT)]
    assert rooms.sweep() == [], 'announced once'
    join(rooms, 'u_c', 'sc', max_peers=2)  # the seat is free again


def test_resume_after_timeout_starts_afresh_with_a_new_peer_id(rooms, clock):
    a = join(rooms, 'u_a', 'sa')
    rooms.disconnect('room-a', a.seat.peer_id, 'sa')
    clock.now += 21
    rooms.sweep()
    again = join(rooms, 'u_a', 'sa2', peer_id=a.seat.peer_id, resume=a.resume)
    assert again.seat.peer_id != a.seat.peer_id
    assert not again.resumed and again.announce


def test_resume_after_state_loss_takes_the_same_seat_back(store, clock):
    first = Rooms(store, 'secret', 'w1', clock=clock)
    a = first.join('room-a', 8, 'u_a', 'A', 'sa')
    store.clear()  # what a restart without Redis looks like
    second = Rooms(store, 'secret', 'w2', clock=clock)
    again = second.join('room-a', 8, 'u_a', 'A', 'sa2', peer_id=a.seat.peer_id,
                        resume=a.resume)
    assert again.seat.peer_id == a.seat.peer_id and again.resumed and again.announce


def test_leave_is_immediate_and_blocks_a_later_resume(rooms):
    a = join(rooms, 'u_a', 'sa')
    departure = rooms.leave('room-a', a.seat.peer_id)
    assert (departure.peer_id, departure.reason) == (a.seat.peer_id, protocol.LEFT)
    assert rooms.leave('room-a', a.seat.peer_id) is None
    assert rooms.peer_count('room-a') == 0
    again = join(rooms, 'u_a', 'sa2', peer_id=a.seat.peer_id, resume=a.resume)
    assert again.seat.peer_id != a.seat.peer_id


def test_route_delivers_to_present_buffers_for_away_and_refuses_strangers(rooms):
    a = join(rooms, 'u_a', 'sa')
    b = join(rooms, 'u_b', 'sb')
    stranger = join(rooms, 'u_c', 'sc', room='room-b')
    assert rooms.route('room-a', a.seat.peer_id, b.seat.peer_id) == 'deliver'
    rooms.disconnect('room-a', b.seat.peer_id, 'sb')
    assert rooms.route('room-a', a.seat.peer_id, b.seat.peer_id) == 'buffer'
    with pytest.raises(ProtocolError) as error:
        rooms.route('room-a', a.seat.peer_id, stranger.seat.peer_id)
    assert error.value.code == protocol.UNKNOWN_PEER
    with pytest.raises(ProtocolError) as error:
        rooms.route('room-a', a.seat.peer_id, a.seat.peer_id)
    assert error.value.code == protocol.INVALID_REQUEST


def test_buffered_signals_arrive_on_resume_in_order_within_bounds(rooms, clock):
    a = join(rooms, 'u_a', 'sa')
    b = join(rooms, 'u_b', 'sb')
    rooms.disconnect('room-a', b.seat.peer_id, 'sb')
    for n in range(5):  # the bound is 3: the oldest two go
        rooms.hold('room-a', b.seat.peer_id, 'signal', {'from': a.seat.peer_id, 'n': n})
    again = join(rooms, 'u_b', 'sb2', peer_id=b.seat.peer_id, resume=b.resume)
    assert [p['n'] for _, p in again.buffered] == [2, 3, 4]
    rooms.disconnect('room-a', b.seat.peer_id, 'sb2')
    rooms.hold('room-a', b.seat.peer_id, 'signal', {'n': 'old'})
    clock.now += 31  # older than buffer_age
    rooms.hold('room-a', b.seat.peer_id, 'signal', {'n': 'new'})
    later = join(rooms, 'u_b', 'sb3', peer_id=b.seat.peer_id, resume=b.resume)
    assert [p['n'] for _, p in later.buffered] == ['new']


def test_update_changes_only_the_given_fields(rooms):
    a = join(rooms, 'u_a', 'sa')
    assert rooms.update('room-a', a.seat.peer_id, {'media': {'audio': False, 'video': True}}) \
        == {'peer_id': a.seat.peer_id, 'media': {'audio': False, 'video': True}}
    seat = rooms.peers('room-a')[0]
    assert seat['media'] == {'audio': False, 'video': True} and seat['display_name'] == 'U_A'
    rooms.leave('room-a', a.seat.peer_id)
    with pytest.raises(ProtocolError):
        rooms.update('room-a', a.seat.peer_id, {'display_name': 'x'})


def test_a_dead_workers_seats_time_out_after_ttl_and_grace(redis_prefix, clock):
    # Only Redis has other workers: in one process, seats can't outlive their worker.
    store = RedisStore(redis_lib.Redis.from_url(REDIS_URL, decode_responses=True), redis_prefix)
    dead = Rooms(store, 'secret', 'worker-dead', grace_seconds=5, clock=clock, worker_ttl=10)
    alive = Rooms(store, 'secret', 'worker-alive', grace_seconds=5, clock=clock, worker_ttl=10)
    dead.sweep()
    alive.sweep()
    a = dead.join('room-a', 8, 'u_a', 'A', 'sa')
    b = alive.join('room-a', 8, 'u_b', 'B', 'sb')
    clock.now += 9
    alive.sweep()
    assert alive.peer_count('room-a') == 2, 'within the worker TTL nothing happens'
    clock.now += 2  # the dead worker missed its heartbeats: its seats go away
    assert alive.sweep() == []
    assert alive.route('room-a', b.seat.peer_id, a.seat.peer_id) == 'buffer'
    clock.now += 5.1
    gone = alive.sweep()
    assert [(d.peer_id, d.reason) for d in gone] == [(a.seat.peer_id, protocol.TIMEOUT)]
    assert alive.peer_count('room-a') == 1


def test_kick_removes_the_seat_and_bans_the_user_for_a_while(rooms, store):
    a = join(rooms, 'u_a', 'sa')
    b = join(rooms, 'u_b', 'sb')
    departure, sid = rooms.kick('room-a', a.seat.peer_id, b.seat.peer_id)
    assert (departure.peer_id, departure.reason, sid) == (b.seat.peer_id, 'kicked', 'sb')
    with pytest.raises(Refusal) as refused:
        join(rooms, 'u_b', 'sb2')
    assert refused.value.code == protocol.UNAUTHORIZED
    assert refused.value.message.endswith('you can join again in 10 minutes')  # how long
    join(rooms, 'u_c', 'sc')  # others are unaffected
    with pytest.raises(ProtocolError):
        rooms.kick('room-a', a.seat.peer_id, b.seat.peer_id)
    with pytest.raises(ProtocolError):
        rooms.kick('room-a', a.seat.peer_id, a.seat.peer_id)


# -- a shared store that goes away ---------------------------------------------------------

class Outage:
    """Swap a Rooms' store for a real client of a port where nothing listens, and back."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.dead = RedisStore(redis_lib.Redis(port=free_port(), socket_timeout=0.5,
                                               decode_responses=True), prefix)

    def begin(self, *workers):
        for rooms in workers:
            rooms.live_store, rooms.store = rooms.store, self.dead

    def end(self, *workers):
        for rooms in workers:
            rooms.store = rooms.live_store


def two_workers(store, clock):
    """Two workers on one store; the fake clock stands for real time too."""
    return tuple(Rooms(store, 'secret', name, grace_seconds=5, clock=clock, worker_ttl=10,
                       monotonic=clock) for name in ('w1', 'w2'))


def test_store_that_came_back_empty_gets_every_held_seat_back(store, clock):
    w1, w2 = two_workers(store, clock)
    w1.sweep()
    w2.sweep()
    a = w1.join('room-a', 3, 'u_a', 'A', 'sa', media={'audio': False, 'video': True})
    b = w2.join('room-a', 3, 'u_b', 'B', 'sb')
    w1.update('room-a', a.seat.peer_id, {'display_name': 'Alice'})
    store.clear()  # Redis restarted with nothing
    clock.now += 1
    with pytest.raises(Refusal) as refused:  # newcomers wait: the room is not whole yet
        w1.join('room-a', 3, 'u_c', 'C', 'sc')
    assert refused.value.code == protocol.INTERNAL
    for worker in (w1, w2):
        worker.sweep()
        assert worker.resync_needed
        assert worker.resync() == []
    assert {p['peer_id']: (p['display_name'], p['media']) for p in w2.peers('room-a')} == {
        a.seat.peer_id: ('Alice', {'audio': False, 'video': True}),
        b.seat.peer_id: ('B', {'audio': True, 'video': True})}
    assert w1.route('room-a', a.seat.peer_id, b.seat.peer_id) == 'deliver'
    with pytest.raises(Refusal):  # every worker gets a worker TTL to put its seats back
        w2.join('room-a', 3, 'u_c', 'C', 'sc')
    clock.now += 10
    w2.join('room-a', 3, 'u_c', 'C', 'sc')
    with pytest.raises(Refusal) as refused:
        w1.join('room-a', 3, 'u_d', 'D', 'sd')
    assert refused.value.code == protocol.ROOM_FULL, 'the put-back seats count again'


def test_a_store_outage_makes_no_live_worker_an_orphan(redis_prefix, clock):
    store = RedisStore(redis_lib.Redis.from_url(REDIS_URL, decode_responses=True), redis_prefix)
    w1, w2 = two_workers(store, clock)
    w1.sweep()
    w2.sweep()
    a = w1.join('room-a', 8, 'u_a', 'A', 'sa')
    b = w2.join('room-a', 8, 'u_b', 'B', 'sb')
    clock.now += 11  # both workers with a healthy link for over a worker TTL
    w1.sweep()
    w2.sweep()
    outage = Outage(redis_prefix)
    outage.begin(w1, w2)
    with pytest.raises(redis_lib.RedisError):
        w1.sweep()
    with pytest.raises(ProtocolError) as error:  # answered at once, and said so
        w1.locate('room-a', a.seat.peer_id, b.seat.peer_id)
    assert error.value.code == protocol.UNAVAILABLE
    with pytest.raises(Refusal) as refused:
        w1.join('room-a', 8, 'u_c', 'C', 'sc')
    assert refused.value.code == protocol.INTERNAL
    clock.now += 12  # Redis hung for 12 s: every heartbeat in it is now stale
    outage.end(w1, w2)
    assert w1.sweep() == []
    assert w1.locate('room-a', a.seat.peer_id, b.seat.peer_id) == 'w2', \
        "w1 came back first, and does not take w2's players for orphans"
    clock.now += 1
    w2.sweep()
    clock.now += 10
    w1.sweep()
    clock.now += 6
    assert w1.sweep() == [] and w1.peer_count('room-a') == 2


def test_a_heartbeat_gap_longer_than_half_the_ttl_counts_as_an_outage(redis_prefix, clock):
    store = RedisStore(redis_lib.Redis.from_url(REDIS_URL, decode_responses=True), redis_prefix)
    w1, w2 = two_workers(store, clock)
    w1.sweep()
    w2.sweep()
    w2.join('room-a', 8, 'u_b', 'B', 'sb')
    clock.now += 11  # a stall with no error: w1's own beat is as late as w2's
    w1.sweep()
    assert w1.resync_needed and store.orphans(clock.now, 10) != []
    assert w1.peer_count('room-a') == 1 and w1.sweep() == []
    assert [s.sid for s in w1.store.seats('room-a')] == ['sb'], 'not adopted'


def test_a_socket_that_left_during_the_outage_is_marked_away_afterwards(redis_prefix, clock):
    store = RedisStore(redis_lib.Redis.from_url(REDIS_URL, decode_responses=True), redis_prefix)
    w1, w2 = two_workers(store, clock)
    w1.sweep()
    a = w1.join('room-a', 8, 'u_a', 'A', 'sa')
    b = w1.join('room-a', 8, 'u_b', 'B', 'sb')
    outage = Outage(redis_prefix)
    outage.begin(w1)
    with pytest.raises(redis_lib.RedisError):
        w1.disconnect('room-a', b.seat.peer_id, 'sb')
    outage.end(w1)
    clock.now += 1
    w1.sweep()
    assert w1.resync() == []
    assert w1.route('room-a', a.seat.peer_id, b.seat.peer_id) == 'buffer'
    clock.now += 5.1
    gone = w1.sweep()
    assert [(d.peer_id, d.reason) for d in gone] == [(b.seat.peer_id, protocol.TIMEOUT)]
    assert w1.route('room-a', b.seat.peer_id, a.seat.peer_id) == 'deliver'


def test_resync_closes_sockets_whose_seats_moved_on_or_were_given_up(store, clock):
    w1, w2 = two_workers(store, clock)
    a = w1.join('room-a', 8, 'u_a', 'A', 'sa')
    b = w1.join('room-a', 8, 'u_b', 'B', 'sb')
    c = w1.join('room-a', 8, 'u_c', 'C', 'sc')
    w2.join('room-a', 8, 'u_a', 'A', 'sa2', peer_id=a.seat.peer_id, resume=a.resume)
    w2.leave('room-a', b.seat.peer_id)  # as if w1 missed the news of both
    assert set(w1.resync()) == {('room-a', a.seat.peer_id, 'sa'),
                                ('room-a', b.seat.peer_id, 'sb')}
    assert set(w1.held) == {('room-a', c.seat.peer_id)}
    assert {p['peer_id'] for p in w1.peers('room-a')} == {a.seat.peer_id, c.seat.peer_id}


def test_forward_reaches_only_a_listening_worker(redis_prefix):
    store = RedisStore(redis_lib.Redis.from_url(REDIS_URL, decode_responses=True), redis_prefix)
    w1 = Rooms(store, 'secret', 'w1')
    assert w1.forward('w2', 'room-a', 'p_b', {'from': 'p_a'}) is False
    w2 = Rooms(store, 'secret', 'w2')
    inbox = w2.subscribe()
    try:
        assert w1.forward('w2', 'room-a', 'p_b', {'from': 'p_a'}) is True
        got = wait_until(lambda: w2.receive(inbox, timeout=0.2), 5, message='the signal')
        assert got == {'room': 'room-a', 'to': 'p_b', 'payload': {'from': 'p_a'}, 'hops': 0}
    finally:
        inbox.close()


def test_the_memory_store_expires_tombstones_and_bans_in_place(monkeypatch):
    # In place, from the front: a new dict of every tombstone each beat was a big young
    # object for the collector to walk (rhystic/signaling/store.py _expire_in_place).
    from rhystic.signaling import store as store_module
    clock = [1000.0]
    monkeypatch.setattr(store_module.time, 'time', lambda: clock[0])
    store = MemoryStore()
    rooms = Rooms(store, 's' * 32, 'w1', tomb_seconds=600, ban_seconds=600)
    seats = [rooms.join('r1', 8, f'u{i}', f'U{i}', f'sid{i}').seat for i in range(4)]
    tombs, bans = store._tombs, store._bans
    for i, seat in enumerate(seats[:3]):
        clock[0] = 1000.0 + 100 * i
        rooms.leave('r1', seat.peer_id, protocol.LEFT)
    store.ban('r1', 'u0', 600)  # bans until 1800
    store.ban('r1', 'u9', 600)
    clock[0] = 1210.0
    store.ban('r1', 'u0', 600)  # renewed until 1810: it moves behind u9's
    clock[0] = 1650.0  # past the first tomb (until 1600) only
    store.heartbeat('w1', clock[0], 'e')
    assert store._tombs is tombs and store._bans is bans
    assert [k[1] for k in tombs] == [seats[1].peer_id, seats[2].peer_id]
    assert store.tombstone('r1', seats[0].peer_id) is None
    assert store.tombstone('r1', seats[1].peer_id) == protocol.LEFT
    assert list(bans) == [('r1', 'u9'), ('r1', 'u0')]
    clock[0] = 1805.0  # u9's ban is over, u0's renewed one is not
    store.heartbeat('w1', clock[0], 'e')
    assert list(tombs) == [] and list(bans) == [('r1', 'u0')]
