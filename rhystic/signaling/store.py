"""Where seats live: in this process, or in Redis shared by every worker.

Both stores offer the same small set of atomic steps; the decisions are made in
rooms.py. Anything that must not race (capacity, resume, expiry) is one step here:
a lock in memory, a Lua script in Redis.
"""
import json
import threading
import time
from dataclasses import asdict, dataclass, field

from . import lua


@dataclass
class Seat:
    peer_id: str
    user_id: str
    display_name: str
    media: dict = field(default_factory=lambda: {'audio': True, 'video': True})
    sid: str = ''            # the socket holding the seat; '' while away
    worker: str = ''         # the process that socket is on
    away_until: float = 0.0  # when an away seat is given up
    joined_at: float = 0.0
    signed_in: bool = False  # a sign-in provider vouches for the account (rhystic/oauth.py)
    avatar_url: str = ''

    def public(self):
        seat = {'peer_id': self.peer_id, 'user_id': self.user_id,
                'display_name': self.display_name, 'media': dict(self.media)}
        if self.signed_in:  # a guest's seat says nothing of signing in: nothing changes
            seat.update(signed_in=True, avatar_url=self.avatar_url or None)
        return seat

    def to_redis(self):
        data = asdict(self)
        data['media'] = json.dumps(self.media)
        return {k: str(v) for k, v in data.items()}

    @classmethod
    def from_redis(cls, data):
        return cls(peer_id=data['peer_id'], user_id=data['user_id'],
                   display_name=data['display_name'], media=json.loads(data['media']),
                   sid=data.get('sid', ''), worker=data.get('worker', ''),
                   away_until=float(data.get('away_until') or 0),
                   joined_at=float(data.get('joined_at') or 0),
                   signed_in=data.get('signed_in') == 'True',
                   avatar_url=data.get('avatar_url', ''))


class MemoryStore:
    """Room state for a single process."""
    shared = False  # no other worker: no deliveries to forward, no outage to survive
    errors = ()     # what a store call raises when the store is away

    def __init__(self):
        self._epoch = None
        self._lock = threading.Lock()
        self._rooms = {}      # room_id -> {peer_id: Seat}
        self._buffers = {}    # (room_id, peer_id) -> [(time, event, payload)]
        self._tombs = {}      # (room_id, peer_id) -> (reason, expires)
        self._away = {}       # (room_id, peer_id) -> until: the sweep looks only here
        self._bans = {}       # (room_id, user_id) -> until

    def add_seat(self, room_id, seat, max_peers):
        with self._lock:
            seats = self._rooms.setdefault(room_id, {})
            if seat.peer_id in seats or len(seats) >= max_peers:
                return False
            seats[seat.peer_id] = seat
            return True

    def get_seat(self, room_id, peer_id):
        seat = self._rooms.get(room_id, {}).get(peer_id)
        return None if seat is None else Seat(**{**asdict(seat), 'media': dict(seat.media)})

    def seats(self, room_id):
        return [self.get_seat(room_id, p) for p in list(self._rooms.get(room_id, {}))]

    def peer_count(self, room_id):
        return len(self._rooms.get(room_id, ()))

    def room_ids(self):
        return [r for r, seats in self._rooms.items() if seats]

    def update_seat(self, room_id, peer_id, **fields):
        with self._lock:
            seat = self._rooms.get(room_id, {}).get(peer_id)
            if seat is None:
                return False
            for name, value in fields.items():
                setattr(seat, name, value)
            return True

    def bind(self, room_id, peer_id, sid, worker):
        """Attach a socket to an existing seat; returns the socket it had, or None."""
        with self._lock:
            seat = self._rooms.get(room_id, {}).get(peer_id)
            if seat is None:
                return None
            old, seat.sid, seat.worker, seat.away_until = seat.sid, sid, worker, 0.0
            self._away.pop((room_id, peer_id), None)
            return old

    def mark_away(self, room_id, peer_id, sid, until, match='sid', worker=None):
        """Detach sid from its seat; a no-op if the seat has moved on to another socket."""
        with self._lock:
            seat = self._rooms.get(room_id, {}).get(peer_id)
            if seat is None or not seat.sid or getattr(seat, match) != (
                    sid if match == 'sid' else worker):
                return False
            seat.sid, seat.away_until = '', until
            self._away[(room_id, peer_id)] = until
            return True

    def remove_seat(self, room_id, peer_id, reason, tomb_seconds, due_by=None):
        """Remove a seat (only if away past due_by, when given); returns it or None."""
        with self._lock:
            seats = self._rooms.get(room_id, {})
            seat = seats.get(peer_id)
            if seat is None or (due_by is not None and (seat.sid or seat.away_until > due_by)):
                return None
            del seats[peer_id]
            if not seats:
                del self._rooms[room_id]
            self._buffers.pop((room_id, peer_id), None)
            self._away.pop((room_id, peer_id), None)
            self._tombs[(room_id, peer_id)] = (reason, time.time() + tomb_seconds)
            return seat

    def tombstone(self, room_id, peer_id):
        entry = self._tombs.get((room_id, peer_id))
        return entry[0] if entry and entry[1] > time.time() else None

    def ban(self, room_id, user_id, seconds):
        self._bans.pop((room_id, user_id), None)  # to the back: kept in expiry order
        self._bans[(room_id, user_id)] = time.time() + seconds

    def banned(self, room_id, user_id):
        return self._bans.get((room_id, user_id), 0) > time.time()

    def ban_left(self, room_id, user_id):
        """Seconds until a kicked account may come back (0: it may now)."""
        return max(0.0, self._bans.get((room_id, user_id), 0) - time.time())

    def due(self, now):
        with self._lock:
            return [key for key, until in self._away.items() if until <= now]

    def buffer(self, room_id, peer_id, event, payload, now, max_count):
        with self._lock:
            queue = self._buffers.setdefault((room_id, peer_id), [])
            queue.append((now, event, payload))
            del queue[:-max_count]

    def drain(self, room_id, peer_id):
        with self._lock:
            return self._buffers.pop((room_id, peer_id), [])

    def heartbeat(self, worker, now, fresh_epoch):
        with self._lock:
            _expire_in_place(self._tombs, now, lambda entry: entry[1])
            _expire_in_place(self._bans, now, lambda until: until)
        return self.epoch(fresh_epoch)

    def epoch(self, fresh_epoch):
        with self._lock:
            self._epoch = self._epoch or fresh_epoch
            return self._epoch

    def orphans(self, now, worker_ttl):
        return []  # one process: its seats can't outlive it

    def locate(self, room_id, peer_id):
        seat = self._rooms.get(room_id, {}).get(peer_id)
        return None if seat is None else (seat.sid, seat.worker)

    def bound(self, worker):
        return [(r, p) for r, seats in list(self._rooms.items())
                for p, seat in list(seats.items()) if seat.sid and seat.worker == worker]

    def restore_seat(self, room_id, seat):
        """Put back a seat its worker still holds (see RedisStore.restore_seat)."""
        with self._lock:
            seats = self._rooms.get(room_id, {})
            current = seats.get(seat.peer_id)
            if current is not None:
                if current.sid == seat.sid:
                    return 'kept'
                if current.sid:
                    return 'moved'
                current.sid, current.worker, current.away_until = seat.sid, seat.worker, 0.0
                self._away.pop((room_id, seat.peer_id), None)
                return 'rebound'
            if self.tombstone(room_id, seat.peer_id) is not None:
                return 'gone'
            self._rooms.setdefault(room_id, {})[seat.peer_id] = Seat(
                **{**asdict(seat), 'media': dict(seat.media), 'away_until': 0.0})
            return 'restored'

    def clear(self):
        with self._lock:
            self._epoch = None
            self._rooms.clear()
            self._buffers.clear()
            self._tombs.clear()
            self._away.clear()
            self._bans.clear()


class RedisStore:
    """Room state shared by every worker through Redis."""
    shared = True

    def __init__(self, client, prefix='rhystic:'):
        import redis  # here: a single-process server never needs the package
        self.errors = (redis.RedisError, OSError)
        self.r = client
        self.p = prefix
        self._epoch = client.register_script(lua.EPOCH)
        self._restore = client.register_script(lua.RESTORE)
        self._add = client.register_script(lua.ADD)
        self._bind = client.register_script(lua.BIND)
        self._away = client.register_script(lua.AWAY)
        self._remove = client.register_script(lua.REMOVE)
        self._update = client.register_script(lua.UPDATE)

    def _peers(self, room_id):
        return f'{self.p}peers:{room_id}'

    def _seat(self, room_id, peer_id):
        return f'{self.p}seat:{room_id}:{peer_id}'

    def _buf(self, room_id, peer_id):
        return f'{self.p}buf:{room_id}:{peer_id}'

    def _bound(self, worker):
        return f'{self.p}bound:{worker}'

    def add_seat(self, room_id, seat, max_peers):
        fields = [x for kv in seat.to_redis().items() for x in kv]
        keys = [self._peers(room_id), self._seat(room_id, seat.peer_id), self.p + 'rooms',
                self._bound(seat.worker)]
        args = [max_peers, seat.peer_id, room_id, f'{room_id} {seat.peer_id}', *fields]
        return bool(self._add(keys=keys, args=args))

    def get_seat(self, room_id, peer_id):
        data = self.r.hgetall(self._seat(room_id, peer_id))
        return Seat.from_redis(data) if data else None

    def seats(self, room_id):
        peer_ids = sorted(self.r.smembers(self._peers(room_id)))
        pipe = self.r.pipeline(transaction=False)
        for peer_id in peer_ids:
            pipe.hgetall(self._seat(room_id, peer_id))
        return [Seat.from_redis(d) for d in pipe.execute() if d]

    def peer_count(self, room_id):
        return self.r.scard(self._peers(room_id))

    def room_ids(self):
        return sorted(self.r.smembers(self.p + 'rooms'))

    def update_seat(self, room_id, peer_id, **fields):
        key = self._seat(room_id, peer_id)
        values = {k: json.dumps(v) if k == 'media' else str(v) for k, v in fields.items()}
        # HSET on a missing key would create a half seat; only touch one that exists.
        flat = [x for kv in values.items() for x in kv]
        return bool(self._update(keys=[key], args=flat))

    def bind(self, room_id, peer_id, sid, worker):
        member = f'{room_id} {peer_id}'
        return self._bind(keys=[self._seat(room_id, peer_id), self.p + 'away',
                                self._bound(worker)],
                          args=[sid, worker, member, self.p + 'bound:'])

    def mark_away(self, room_id, peer_id, sid, until, match='sid', worker=None):
        member = f'{room_id} {peer_id}'
        seat_key = self._seat(room_id, peer_id)
        owner = worker if match == 'worker' else self.r.hget(seat_key, 'worker') or ''
        return bool(self._away(keys=[seat_key, self.p + 'away', self._bound(owner)],
                               args=[sid if match == 'sid' else worker, until, member, match]))

    def remove_seat(self, room_id, peer_id, reason, tomb_seconds, due_by=None):
        keys = [self._seat(room_id, peer_id), self._peers(room_id), self.p + 'away',
                f'{self.p}tomb:{room_id}:{peer_id}', self._buf(room_id, peer_id),
                self.p + 'rooms']
        args = [f'{room_id} {peer_id}', '' if due_by is None else due_by,
                max(1, int(tomb_seconds)), reason, peer_id, self.p + 'bound:', room_id]
        flat = self._remove(keys=keys, args=args)
        if not flat:
            return None
        return Seat.from_redis(dict(zip(flat[::2], flat[1::2])))

    def tombstone(self, room_id, peer_id):
        return self.r.get(f'{self.p}tomb:{room_id}:{peer_id}')

    def ban(self, room_id, user_id, seconds):
        self.r.set(f'{self.p}ban:{room_id}:{user_id}', '1', ex=max(1, int(seconds)))

    def banned(self, room_id, user_id):
        return bool(self.r.exists(f'{self.p}ban:{room_id}:{user_id}'))

    def ban_left(self, room_id, user_id):
        return max(0, self.r.ttl(f'{self.p}ban:{room_id}:{user_id}'))  # -2: no such key

    def due(self, now):
        members = self.r.zrangebyscore(self.p + 'away', '-inf', now, start=0, num=500)
        return [tuple(m.split(' ', 1)) for m in members]

    def buffer(self, room_id, peer_id, event, payload, now, max_count):
        key = self._buf(room_id, peer_id)
        pipe = self.r.pipeline()
        pipe.rpush(key, json.dumps([now, event, payload]))
        pipe.ltrim(key, -max_count, -1)
        pipe.expire(key, 600)
        pipe.execute()

    def drain(self, room_id, peer_id):
        key = self._buf(room_id, peer_id)
        pipe = self.r.pipeline()
        pipe.lrange(key, 0, -1)
        pipe.delete(key)
        items, _ = pipe.execute()
        return [tuple(json.loads(item)) for item in items]

    def heartbeat(self, worker, now, fresh_epoch):
        """Say this worker is alive; returns the store's epoch (fresh_epoch if it had none)."""
        return self._epoch(keys=[self.p + 'epoch', self.p + 'workers'],
                           args=[fresh_epoch, worker, now])

    def epoch(self, fresh_epoch):
        return self._epoch(keys=[self.p + 'epoch', self.p + 'workers'],
                           args=[fresh_epoch, '', ''])

    def orphans(self, now, worker_ttl):
        """Seats held by workers that stopped heart-beating: (worker, room_id, peer_id)."""
        found = []
        for worker, beat in self.r.hgetall(self.p + 'workers').items():
            if float(beat) >= now - worker_ttl:
                continue
            members = self.r.smembers(self._bound(worker))
            found += [(worker, *m.split(' ', 1)) for m in members]
            if not members:
                self.r.hdel(self.p + 'workers', worker)
        return found

    def locate(self, room_id, peer_id):
        """(sid, worker) of a seat, sid '' while away; None if there is no such seat."""
        sid, worker = self.r.hmget(self._seat(room_id, peer_id), 'sid', 'worker')
        return None if sid is None else (sid, worker or '')

    def bound(self, worker):
        """The seats Redis believes this worker's sockets hold: [(room_id, peer_id)]."""
        return [tuple(m.split(' ', 1)) for m in self.r.smembers(self._bound(worker))]

    def restore_seat(self, room_id, seat):
        """Put back a seat its worker still holds, after Redis lost it or gave it away.

        'kept' (it was there), 'rebound' (it was away: it is this socket's again),
        'restored' (Redis had forgotten it), 'moved' (another socket holds it now) or
        'gone' (it was given up, and the others told so). Capacity is not checked: the
        seat was admitted once already.
        """
        member = f'{room_id} {seat.peer_id}'
        fields = [x for kv in {**seat.to_redis(), 'away_until': '0'}.items() for x in kv]
        keys = [self._seat(room_id, seat.peer_id), self._peers(room_id), self.p + 'rooms',
                self._bound(seat.worker), self.p + 'away',
                f'{self.p}tomb:{room_id}:{seat.peer_id}']
        return self._restore(keys=keys, args=[seat.sid, seat.worker, member, seat.peer_id,
                                              room_id, *fields])

    def _inbox(self, worker):
        return f'{self.p}inbox:{worker}'

    def forward(self, worker, message):
        """Publish to one worker's inbox; False if that worker is not listening."""
        return self.r.publish(self._inbox(worker), json.dumps(message)) > 0

    def subscribe(self, worker):
        subscription = self.r.pubsub(ignore_subscribe_messages=True)
        subscription.subscribe(self._inbox(worker))
        return subscription

    @staticmethod
    def receive(subscription, timeout):
        message = subscription.get_message(timeout=timeout)
        return json.loads(message['data']) if message else None

    def clear(self):
        keys = list(self.r.scan_iter(self.p + '*', count=1000))
        for start in range(0, len(keys), 500):
            self.r.delete(*keys[start:start + 500])


def _expire_in_place(entries, now, expires):
    """Drop the expired entries of an insertion-ordered dict from its front, in place.

    Entries are added in the order they expire (one lifetime for all of a kind), so the
    walk stops at the first live one. Rebuilding the dict every beat instead made a new
    container of every tombstone, which the next young GC collection then walked: with
    a busy worker's hour of departures, tens of thousands (bench/README.md, the soak)."""
    while entries:
        key = next(iter(entries))
        if expires(entries[key]) > now:
            return
        del entries[key]
