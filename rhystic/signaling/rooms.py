"""Seats, capacity, resume, grace and buffering: plain Python, no Flask, no sockets.

Every call says what changed; the Socket.IO handlers decide what to emit. A seat is
identified by its peer_id, which outlives any one socket: a network blip or a server
restart moves the seat to a new socket instead of tearing the room apart.
"""
import base64
import hashlib
import hmac
import math
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field, replace

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
    """Seat logic over a store. With Redis, it also keeps this worker's seats (what a seat
    needs: name, media, socket) so that it can put them back after an outage."""

    def __init__(self, store, secret, worker, grace_seconds=20.0, clock=time.time,
                 buffer_max=200, buffer_age=30.0, worker_ttl=10.0, tomb_seconds=600,
                 ban_seconds=600, monotonic=time.monotonic):
        self.store = store
        self.monotonic = monotonic  # real time, for how long the store has been answering
        self.held = {}            # (room_id, peer_id) -> Seat, for this worker's sockets
        self.joining = Counter()  # (room_id, peer_id) being seated right now
        self.failed_at = None     # monotonic time of the last failed store call, if unhealed
        self.outage = False       # a store call failed since our last heartbeat
        self.last_beat = None     # monotonic time our last heartbeat got through
        self.link_since = None    # clock time our unbroken run of heartbeats began
        self.epoch = None         # the store's epoch we last saw
        self.settled_at = 0.0     # joins wait until then after the store came back empty
        self.resync_needed = False
        self._secret = secret.encode() if isinstance(secret, str) else secret
        self.worker = worker
        self.grace = grace_seconds
        self.clock = clock
        self.buffer_max = buffer_max
        self.buffer_age = buffer_age
        self.worker_ttl = worker_ttl
        # A seat given up is remembered (its resume refused: the client starts afresh)
        # as long as a kick's ban lasts. Later, an old resume secret, which only its own
        # account holds, brings the seat back as after a restart. An hour of them cost a
        # single worker 0.3 KB per departure (bench/README.md, the soak).
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
             peer_id=None, resume=None, fresh_id=None, profile=None):
        """Seat a socket: take back the seat peer_id (with its resume secret), or a new
        one, called fresh_id when the caller chose it in advance (see handlers._admit).
        profile: what a new seat shows of the account (signed_in, avatar_url)."""
        if peer_id and not self.valid_resume(room_id, peer_id, user_id, resume):
            raise Refusal(protocol.UNAUTHORIZED, 'the resume secret does not match this seat')
        self._ready_for_joins()
        ban_left = self.store.ban_left(room_id, user_id)
        if ban_left > 0:  # say how long: "later" leaves the player retrying blind
            minutes = max(1, math.ceil(ban_left / 60))
            raise Refusal(protocol.UNAUTHORIZED, 'you were removed from this room; you can '
                          f'join again in {minutes} minute{"s" if minutes > 1 else ""}')
        fresh_id = fresh_id or self.new_peer_id()
        # Seats being taken count as held, so that a resync now does not mark them away.
        pending = Counter({(room_id, fresh_id): 1, **({(room_id, peer_id): 1} if peer_id else {})})
        self.joining.update(pending)
        try:
            joined = self._seat_socket(room_id, max_peers, user_id, display_name, sid, media,
                                       peer_id, fresh_id, profile or {})
        finally:
            self.joining -= pending
        self.held[(room_id, joined.seat.peer_id)] = replace(joined.seat,
                                                            media=dict(joined.seat.media))
        return joined

    def _seat_socket(self, room_id, max_peers, user_id, display_name, sid, media, peer_id,
                     fresh_id, profile):
        if peer_id:
            joined = self._resume(room_id, max_peers, user_id, display_name, sid, media,
                                  peer_id, profile)
            if joined:
                return joined
        seat = self._new_seat(fresh_id, user_id, display_name, sid, media, profile)
        self._claim(room_id, seat, max_peers)
        return Joined(seat, self.resume_token(room_id, seat.peer_id, user_id),
                      self._others(room_id, seat.peer_id), resumed=False, announce=True)

    def _ready_for_joins(self):
        """A join needs the store: refuse it at once, rather than hang or seat someone in
        a room whose seats are not all back yet after Redis restarted empty."""
        try:
            self._saw_epoch(self._shared(self.store.epoch, self._fresh_epoch()))
            ready = not self.resync_needed and self.clock() >= self.settled_at
        except protocol.ProtocolError:
            ready = False
        if not ready:
            raise Refusal(protocol.INTERNAL, 'the server could not seat you; '
                                             'try again in a moment')

    def _resume(self, room_id, max_peers, user_id, display_name, sid, media, peer_id,
                profile=None):
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
        seat = self._new_seat(peer_id, user_id, display_name, sid, media, profile)
        self._claim(room_id, seat, max_peers)
        return Joined(seat, self.resume_token(room_id, peer_id, user_id),
                      self._others(room_id, peer_id), resumed=True, announce=True)

    def _new_seat(self, peer_id, user_id, display_name, sid, media, profile=None):
        return Seat(peer_id=peer_id, user_id=user_id, display_name=display_name,
                    media=dict(media or {'audio': True, 'video': True}), sid=sid,
                    worker=self.worker, joined_at=self.clock(), **(profile or {}))

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
        held = self.held.get((room_id, peer_id))
        if held is not None and held.sid == sid:
            del self.held[(room_id, peer_id)]
        try:
            return self.store.mark_away(room_id, peer_id, sid, self.clock() + self.grace)
        except self.store.errors:
            self.link_lost()  # the resync marks it away once the store is back
            raise

    def leave(self, room_id, peer_id, reason=protocol.LEFT):
        self.held.pop((room_id, peer_id), None)
        seat = self.store.remove_seat(room_id, peer_id, reason, self.tomb_seconds)
        return Departure(room_id, peer_id, reason) if seat else None

    def kick(self, room_id, by_peer, peer_id):
        """Remove a seat for good: its user may not come back for ban_seconds.

        Returns (departure, the socket id it had, '' if away)."""
        if peer_id == by_peer:
            raise protocol.ProtocolError(protocol.INVALID_REQUEST, 'use leave to leave')
        seat = self.store.remove_seat(room_id, peer_id, protocol.KICKED, self.tomb_seconds)
        self.held.pop((room_id, peer_id), None)
        if seat is None:
            raise protocol.ProtocolError(protocol.UNKNOWN_PEER, f'no peer {peer_id!r} here')
        self.store.ban(room_id, seat.user_id, self.ban_seconds)
        return Departure(room_id, peer_id, protocol.KICKED), seat.sid

    def route(self, room_id, sender, to):
        """Where a signal goes: 'deliver' now, or 'buffer' for a seat that is away."""
        return 'deliver' if self.locate(room_id, sender, to) else 'buffer'

    def locate(self, room_id, sender, to):
        """The worker whose socket holds seat `to`, or '' while the seat is away."""
        if to == sender:
            raise protocol.ProtocolError(protocol.INVALID_REQUEST, 'a peer cannot signal itself')
        found = self._shared(self.store.locate, room_id, to)
        if found is None:
            raise protocol.ProtocolError(protocol.UNKNOWN_PEER, f'no peer {to!r} in this room')
        sid, worker = found
        return worker if sid else ''

    def forward(self, worker, room_id, to, payload, hops=0):
        """Hand a signal to the worker holding its addressee; False if it isn't listening."""
        return self._shared(self.store.forward, worker,
                            {'room': room_id, 'to': to, 'payload': payload, 'hops': hops})

    def hold(self, room_id, peer_id, event, payload):
        self._shared(self.store.buffer, room_id, peer_id, event, payload, self.clock(),
                     self.buffer_max)

    def _shared(self, call, *args):
        """A step that needs the shared store: fail fast, and say so, while it is away."""
        if self._may_try_store():
            try:
                result = call(*args)
            except self.store.errors:
                self.link_lost()
            else:
                self.failed_at = None
                return result
        raise protocol.ProtocolError(protocol.UNAVAILABLE, "the addressee's server can't be "
                                     'reached just now; nothing was relayed: send it again')

    def _may_try_store(self):
        # After a failure one caller a second tries the store again; the others are
        # answered at once rather than left waiting on a store that hangs.
        if self.failed_at is None:
            return True
        now = self.monotonic()
        if now - self.failed_at < 1.0:
            return False
        self.failed_at = now
        return True

    def subscribe(self):
        return self.store.subscribe(self.worker)

    def receive(self, subscription, timeout=1.0):
        return self.store.receive(subscription, timeout)

    def update(self, room_id, peer_id, changes):
        """Apply an update; returns what to tell the others (the fields as sent: a partial
        media is theirs to merge, as the seat here merges it)."""
        stored = dict(changes)
        if 'media' in changes:
            seat = self.store.get_seat(room_id, peer_id)
            if seat is not None:
                stored['media'] = {**seat.media, **changes['media']}
        if not self.store.update_seat(room_id, peer_id, **stored):
            raise protocol.ProtocolError(protocol.NOT_JOINED, 'you no longer hold a seat here')
        held = self.held.get((room_id, peer_id))
        if held is not None:
            for name, value in stored.items():
                setattr(held, name, value)
        return {'peer_id': peer_id, **changes}

    # -- outages of the shared store ----------------------------------------------------

    def link_lost(self):
        self.failed_at = self.monotonic()
        self.outage = True
        self.link_since = None

    def _fresh_epoch(self):
        # Written by whoever finds the store without one. 'recovered' means it was seen
        # before: the store lost its data, and joins wait for every worker's seats.
        kind = 'recovered' if self.epoch else 'first'
        return f'{secrets.token_hex(8)} {self.clock():.3f} {kind}'

    def _saw_epoch(self, epoch):
        if epoch == self.epoch:
            return
        if self.epoch is not None:
            self.resync_needed = True  # Redis came back empty: put our seats back
        self.epoch = epoch
        _, created, kind = epoch.split(' ')
        self.settled_at = float(created) + self.worker_ttl if kind == 'recovered' else 0.0

    def _beat(self, now):
        """Heartbeat, and notice a store that was away or slow: after a break longer than
        half the worker TTL, the other workers' heartbeats may look stale through no
        fault of theirs, and ours may have looked stale to them."""
        try:
            epoch = self.store.heartbeat(self.worker, now, self._fresh_epoch())
        except self.store.errors:
            self.link_lost()
            raise
        done = self.monotonic()
        stalled = self.store.shared and self.last_beat is not None and \
            done - self.last_beat > self.worker_ttl / 2
        if self.outage or stalled:
            self.link_since = None
            self.resync_needed = True  # seats may have been lost, given away or left
        if self.link_since is None:
            self.link_since = now
        self.last_beat, self.failed_at, self.outage = done, None, False
        self._saw_epoch(epoch)

    def resync(self, alive=lambda room_id, sid: True):
        """Make the store agree with the sockets this worker holds, after an outage.

        Puts back every held seat (Redis may have restarted empty, or another worker may
        have taken our seats for orphans), and marks away any seat the store still binds
        to us whose socket went while the store was away. Returns [(room_id, peer_id,
        sid)] of sockets whose seats are gone for good or taken over: close them, and
        their clients rejoin as §10 of the protocol says.
        """
        closing = []
        for (room_id, peer_id), seat in list(self.held.items()):
            if not alive(room_id, seat.sid):  # a socket that slipped away unnoticed
                self.held.pop((room_id, peer_id), None)
                continue
            outcome = self.store.restore_seat(room_id, seat)
            if outcome in ('moved', 'gone'):
                if self.held.get((room_id, peer_id)) is seat:
                    del self.held[(room_id, peer_id)]
                closing.append((room_id, peer_id, seat.sid))
            elif self.held.get((room_id, peer_id)) is not seat:  # it left meanwhile
                self.store.mark_away(room_id, peer_id, seat.sid, self.clock() + self.grace)
        mine = set(self.held) | set(self.joining)
        for room_id, peer_id in self.store.bound(self.worker):
            if (room_id, peer_id) not in mine:
                self.store.mark_away(room_id, peer_id, '', self.clock() + self.grace,
                                     match='worker', worker=self.worker)
        self.resync_needed = False
        return closing

    def sweep(self):
        """Periodic upkeep: heartbeat, adopt dead workers' seats, expire lapsed seats.

        Another worker is presumed dead only once our own heartbeats have gone through
        unbroken for longer than the worker TTL: a store that was away made everyone's
        heartbeats stale, not just the dead's."""
        self._beat(self.clock())
        now = self.clock()
        if now - self.link_since > self.worker_ttl:
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
