"""Room metadata for joins (name, seat count, owner), read from SQL and cached per worker."""
import time

from ..models import Room


class RoomDirectory:
    """Room metadata by id, read from SQL once and then cached: joins are frequent."""

    def __init__(self, ttl=60.0, touch_every=600.0, unowned_ttl=2.0):
        # A room without an owner may be claimed at any moment (POST .../claim): it is
        # read again sooner, so that every worker sees its new owner within seconds.
        self.ttl, self.touch_every, self.unowned_ttl = ttl, touch_every, unowned_ttl
        self._cache = {}  # room_id -> [expires, (name, max_peers, owner), last_touch]

    def get(self, room_id):
        """(name, max_peers, owner's user_id) of a room, or None."""
        now = time.monotonic()
        hit = self._cache.get(room_id)
        if hit and hit[0] > now:
            if now - hit[2] > self.touch_every:  # last_active_at, without a write per join
                hit[2] = now
                room = Room.get(room_id)
                if room is not None:
                    room.touch()
            return hit[1]
        room = Room.get(room_id)
        if room is None:
            return None
        room.touch(unless_within=self.touch_every)
        info = (room.name, room.max_peers, room.owner_public_id())
        self._cache[room_id] = [now + (self.ttl if info[2] else self.unowned_ttl), info, now]
        return info

    def forget(self, room_id):
        self._cache.pop(room_id, None)
