"""Who hosts a room, and whether it is locked: plain Python, no Flask, no sockets.

One record per room (host, locked, knock) decides admission and every host-only
permission, on every worker at once. It lives where the seats live (this process, or
Redis), so a change is seen by the next join anywhere; and it is written through to the
database by the caller (`persist`), so a lock survives a restart or a Redis that comes
back empty: a room must not silently unlock itself.

Knocking (Jitsi's lobby): a newcomer to a locked room with knock on waits, the host
admits or turns them away, and an admission is a short-lived grant for that account.
"""
import json
import time
from dataclasses import asdict, dataclass


@dataclass
class Control:
    host: str | None = None  # the host's user_id
    locked: bool = False
    knock: bool = False
    signed_in_only: bool = False  # only accounts a sign-in provider vouches for may join

    def public(self):
        # signed_in_only is said only while on: a room that never used it (every room,
        # where no sign-in provider is configured) looks exactly as before.
        public = asdict(self)
        if not self.signed_in_only:
            del public['signed_in_only']
        return public


class MemoryControlCache:
    def __init__(self, clock=time.time):
        self.clock = clock
        self._controls, self._grants, self._knocks = {}, {}, {}

    def get(self, room_id):
        control = self._controls.get(room_id)
        return Control(**asdict(control)) if control else None

    def put(self, room_id, control):
        self._controls[room_id] = Control(**asdict(control))

    def grant(self, room_id, user_id, seconds):
        now = self.clock()
        self._grants = {k: v for k, v in self._grants.items() if v > now}
        self._grants[(room_id, user_id)] = now + seconds

    def take_grant(self, room_id, user_id):
        return self._grants.pop((room_id, user_id), 0) > self.clock()

    # Who is knocking on a room: {knock_id: entry}.
    def put_knock(self, room_id, knock_id, entry):
        self._knocks.setdefault(room_id, {})[knock_id] = entry

    def take_knock(self, room_id, knock_id):
        return self._knocks.get(room_id, {}).pop(knock_id, None)

    def knocks(self, room_id):
        return dict(self._knocks.get(room_id, {}))


class RedisControlCache:
    def __init__(self, client, prefix):
        self.r, self.p = client, prefix

    def get(self, room_id):
        raw = self.r.get(f'{self.p}control:{room_id}')
        return Control(**json.loads(raw)) if raw else None

    def put(self, room_id, control):
        # Kept a day after the last change; the database has it for longer.
        self.r.set(f'{self.p}control:{room_id}', json.dumps(asdict(control)), ex=86400)

    def grant(self, room_id, user_id, seconds):
        self.r.set(f'{self.p}grant:{room_id}:{user_id}', '1', ex=max(1, int(seconds)))

    def take_grant(self, room_id, user_id):
        return bool(self.r.delete(f'{self.p}grant:{room_id}:{user_id}'))

    # Who is knocking on a room: a hash of knock_id -> entry, seen by every worker.
    def put_knock(self, room_id, knock_id, entry):
        key = f'{self.p}knocks:{room_id}'
        self.r.hset(key, knock_id, json.dumps(entry))
        self.r.expire(key, 3600)

    def take_knock(self, room_id, knock_id):
        pipe = self.r.pipeline()
        pipe.hget(f'{self.p}knocks:{room_id}', knock_id)
        pipe.hdel(f'{self.p}knocks:{room_id}', knock_id)
        raw, _ = pipe.execute()
        return json.loads(raw) if raw else None

    def knocks(self, room_id):
        raw = self.r.hgetall(f'{self.p}knocks:{room_id}')
        return {k: json.loads(v) for k, v in raw.items()}


class Controls:
    """The host record of every room. `load(room_id)` and `save(room_id, control)` reach
    the database; they are called only on a cache miss and on a change."""

    def __init__(self, cache, load, save, grant_seconds=120):
        self.cache, self.load, self.save = cache, load, save
        self.grant_seconds = grant_seconds

    def get(self, room_id, default_host=None):
        control = self.cache.get(room_id)
        if control is None:
            control = self.load(room_id) or Control()
            self.cache.put(room_id, control)
        if control.host is None and default_host:
            control.host = default_host
        return control

    def change(self, room_id, default_host=None, **changes):
        control = self.get(room_id, default_host)
        for name, value in changes.items():
            setattr(control, name, value)
        self.save(room_id, control)
        self.cache.put(room_id, control)
        return control

    def admit(self, room_id, user_id):
        self.cache.grant(room_id, user_id, self.grant_seconds)

    def may_enter(self, control, user_id, seated_users):
        """Whether an account may take a seat: always in an open room; in a locked one,
        the host, an account already seated (a reload, a second device), or one the host
        has just admitted (the grant is used up)."""
        return (not control.locked or user_id == control.host or user_id in seated_users)


def successor(seats, leaving_host):
    """The longest-seated account other than the host's, from Seat objects; or None."""
    others = [s for s in seats if s.user_id != leaving_host]
    if not others:
        return None
    return min(others, key=lambda s: (s.joined_at, s.peer_id)).user_id
