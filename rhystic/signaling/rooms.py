"""Seats, capacity, resume, grace and buffering: plain Python, no Flask, no sockets.

Every call says what changed; the Socket.IO handlers decide what to emit. A seat is
identified by its peer_id, which outlives any one socket: a network blip or a server
restart moves the seat to a new socket instead of tearing the room apart.
"""
import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field

from . import protocol
from .store import Seat


class Refusal(protocol.ProtocolError):
    """A connection that is not admitted; code is a protocol connect_error code."""

    def data(self):
        return {'message': self.message, **self.extra}


@dataclass
class Joined:
    seat: Seat
    resume: str
    peers: list            # the others, as public dicts
    resumed: bool          # the seat existed before this socket
    announce: bool         # the others should get peer-joined
    replaced_sid: str = ''  # a stale socket that held the seat, to be closed
    buffered: list = field(default_factory=list)  # [(event, payload)] to deliver now


@dataclass
class Departure:
    room_id: str
    peer_id: str
    reason: str


class Rooms:
    def __init__(self, store, secret, worker, grace_seconds=20.0, clock=time.time,
                 buffer_max=200, buffer_age=30.0, worker_ttl=10.0, tomb_seconds=3600,
                 ban_seconds=600):
        self.store = store
        self._secret = secret.encode() if isinstance(secret, str) else secret
        self.worker = worker
        self.grace = grace_seconds
        self.clock = clock
        self.buffer_max = buffer_max
        self.buffer_age = buffer_age
        self.worker_ttl = worker_ttl
        self.tomb_seconds = tomb_seconds
        self.ban_seconds = ban_seconds

    def resume_token(self, room_id, peer_id, user_id):
        """A resume secret that needs no storage, so it survives a restart without Redis."""
        msg = f'{room_id}\n{peer_id}\n{user_id}'.encode()
        digest = hmac.new(self._secret, msg, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip('=')

    @staticmethod
    def new_peer_id():
        return 'p_' + secrets.token_urlsafe(9)

    def valid_resume(self, room_id, peer_id, user_id, resume):
        expected = self.resume_token(room_id, peer_id, user_id)
        return isinstance(resume, str) and hmac.compare_digest(resume, expected)

    def join(self, room_id, max_peers, user_id, display_name, sid, media=None,
             peer_id=None, resume=None, fresh_id=None):
        """Seat a socket: take back the seat peer_id (with its resume secret), or a new
        one, called fresh_id when the caller chose it in advance (see handlers._admit)."""
        if peer_id and not self.valid_resume(room_id, peer_id, user_id, resume):
            raise Refusal(protocol.UNAUTHORIZED, 'the resume secret does not match this seat')
        if self.store.banned(room_id, user_id):
            raise Refusal(protocol.UNAUTHORIZED, 'you were removed from this room; '
                                                 'try again later')
        if peer_id:
            joined = self._resume(room_id, max_peers, user_id, display_name, sid, media,
                                  peer_id)
            if joined:
                return joined
        seat = self._new_seat(fresh_id or self.new_peer_id(), user_id, display_name, sid, media)
        self._claim(room_id, seat, max_peers)
        return Joined(seat, self.resume_token(room_id, seat.peer_id, user_id),
                      self._others(room_id, seat.peer_id), resumed=False, announce=True)

    def _resume(self, room_id, max_peers, user_id, display_name, sid, media, peer_id):
        seat = self.store.get_seat(room_id, peer_id)
        if seat is not None:
            old = self.store.bind(room_id, peer_id, sid, self.worker)
            if old is not None:
                seat.sid, seat.worker = sid, self.worker
                return Joined(seat, self.resume_token(room_id, peer_id, user_id),
                              self._others(room_id, peer_id), resumed=True, announce=False,
                              replaced_sid=old if old != sid else '',
                              buffered=self._drain(room_id, peer_id))
        if self.store.tombstone(room_id, peer_id) is not None:
            return None  # the seat ran out or was left: the client starts afresh
        # The seat is unknown and was never given up: this process lost its state
        # (a restart without Redis). Take the same seat back, and announce it, since
        # peers who joined in the meantime have never heard of it.
        seat = self._new_seat(peer_id, user_id, display_name, sid, media)
        self._claim(room_id, seat, max_peers)
        return Joined(seat, self.resume_token(room_id, peer_id, user_id),
                      self._others(room_id, peer_id), resumed=True, announce=True)

    def _new_seat(self, peer_id, user_id, display_name, sid, media):
        return Seat(peer_id=peer_id, user_id=user_id, display_name=display_name,
                    media=dict(media or {'audio': True, 'video': True}), sid=sid,
                    worker=self.worker, joined_at=self.clock())

    def _claim(self, room_id, seat, max_peers):
        if not self.store.add_seat(room_id, seat, max_peers):
            raise Refusal(protocol.ROOM_FULL, f'this room is full ({max_peers} seats)',
                          max_peers=max_peers)

    def _others(self, room_id, peer_id):
        return [s.public() for s in self.store.seats(room_id) if s.peer_id != peer_id]

    def _drain(self, room_id, peer_id):
        oldest = self.clock() - self.buffer_age
        return [(event, payload) for at, event, payload in self.store.drain(room_id, peer_id)
                if at >= oldest]

    def disconnect(self, room_id, peer_id, sid):
        """The socket is gone; keep the seat for the grace period. True if now away."""
        return self.store.mark_away(room_id, peer_id, sid, self.clock() + self.grace)

    def leave(self, room_id, peer_id, reason=protocol.LEFT):
        seat = self.store.remove_seat(room_id, peer_id, reason, self.tomb_seconds)
        return Departure(room_id, peer_id, reason) if seat else None

    def kick(self, room_id, by_peer, peer_id):
        """Remove a seat for good: its user may not come back for ban_seconds.

        Returns (departure, the socket id it had, '' if away)."""
        if peer_id == by_peer:
            raise protocol.ProtocolError(protocol.INVALID_REQUEST, 'use leave to leave')
        seat = self.store.remove_seat(room_id, peer_id, protocol.KICKED, self.tomb_seconds)
        if seat is None:
            raise protocol.ProtocolError(protocol.UNKNOWN_PEER, f'no peer {peer_id!r} here')
        self.store.ban(room_id, seat.user_id, self.ban_seconds)
        return Departure(room_id, peer_id, protocol.KICKED), seat.sid

    def route(self, room_id, sender, to):
        """Where a signal goes: 'deliver' now, or 'buffer' for a seat that is away."""
        if to == sender:
            raise protocol.ProtocolError(protocol.INVALID_REQUEST, 'a peer cannot signal itself')
        sid = self.store.target_sid(room_id, to)
        if sid is None:
            raise protocol.ProtocolError(protocol.UNKNOWN_PEER, f'no peer {to!r} in this room')
        return 'deliver' if sid else 'buffer'

    def hold(self, room_id, peer_id, event, payload):
        self.store.buffer(room_id, peer_id, event, payload, self.clock(), self.buffer_max)

    def update(self, room_id, peer_id, changes):
        if not self.store.update_seat(room_id, peer_id, **changes):
            raise protocol.ProtocolError(protocol.NOT_JOINED, 'you no longer hold a seat here')
        return {'peer_id': peer_id, **changes}

    def sweep(self):
        """Periodic upkeep: heartbeat, adopt dead workers' seats, expire lapsed seats."""
        now = self.clock()
        self.store.heartbeat(self.worker, now)
        for worker, room_id, peer_id in self.store.orphans(now, self.worker_ttl):
            self.store.mark_away(room_id, peer_id, '', now + self.grace, match='worker',
                                 worker=worker)
        departures = []
        for room_id, peer_id in self.store.due(now):
            if self.store.remove_seat(room_id, peer_id, protocol.TIMEOUT, self.tomb_seconds,
                                      due_by=now):
                departures.append(Departure(room_id, peer_id, protocol.TIMEOUT))
        return departures

    def peers(self, room_id):
        return [s.public() for s in self.store.seats(room_id)]

    def peer_count(self, room_id):
        return self.store.peer_count(room_id)
