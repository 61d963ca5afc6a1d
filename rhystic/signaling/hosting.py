"""A room the host controls: lock, knock, hand the host role on (docs/protocol.md §7).

The decisions are in control.py; here the handlers validate, call it, persist, emit.
A newcomer to a locked room with knock on waits on the lobby namespace
`/lobby/<room_id>`, which carries nothing of the room itself: the host gets `knock`,
answers with `admit`, and the newcomer gets `knock-answer` and then joins as usual.
"""
import logging
import secrets
import time
from contextlib import nullcontext

from flask import has_app_context
from sqlalchemy.exc import IntegrityError

from ..auth import user_for_socket
from ..extensions import db
from ..models import RoomControl
from . import protocol
from .control import Control, Controls, MemoryControlCache, RedisControlCache, successor
from .protocol import OK, ProtocolError
from .rooms import Refusal

log = logging.getLogger('rhystic.signaling')


def make_controls(app, store):
    cache = RedisControlCache(store.r, store.p) if getattr(store, 'shared', False) \
        else MemoryControlCache()

    def load(room_id):
        with _context(app):
            row = db.session.get(RoomControl, room_id)
            return Control(row.host, row.locked, row.knock, row.signed_in_only) if row \
                else None

    def save(room_id, control):
        with _context(app):
            for attempt in range(2):
                row = db.session.get(RoomControl, room_id) or RoomControl(room_id=room_id)
                row.host, row.locked, row.knock = control.host, control.locked, control.knock
                row.signed_in_only = control.signed_in_only
                db.session.add(row)
                try:
                    db.session.commit()
                    return
                except IntegrityError:
                    # Two saves of a room with no row yet (its players leaving at once):
                    # the other inserted first, so this one updates that row.
                    db.session.rollback()
                    if attempt:
                        raise
    return Controls(cache, load, save), cache


def _context(app):
    """The app context a handler already runs in, else a new one. A nested context has a
    session of its own, and so takes a second pooled connection while the handler holds
    its first: a join storm then holds the whole pool and waits for more (bench/game.py)."""
    return nullcontext() if has_app_context() else app.app_context()


class Hosting:
    def __init__(self, app, signaling):
        self.signaling = signaling
        self.server = signaling.server
        self.rooms = signaling.rooms
        self.controls, self.cache = make_controls(app, signaling.rooms.store)
        self.waiting = {}  # lobby sid -> (room_id, knock_id)

    def _owner(self, room_id):
        # A cache miss reads SQL: 'leave', disconnects and the grace sweeper have no app
        # context of their own.
        with _context(self.signaling.app):
            info = self.signaling.directory.get(room_id)
        return info[2] if info else None

    def control(self, room_id):
        return self.controls.get(room_id, self._owner(room_id))

    def host(self, room_id):
        return self.control(room_id).host

    def is_host(self, room_id, user_id):
        return user_id is not None and self.host(room_id) == user_id

    # -- admission ------------------------------------------------------------------------

    def check(self, room_id, user_id, owner, signed_in=False):
        """The room's control, or a Refusal if this account may not take a seat now."""
        control = self.controls.get(room_id, owner)
        self._check_signed_in(room_id, user_id, control, signed_in)
        if control.locked and not self._may_enter(room_id, user_id, control):
            raise Refusal(protocol.ROOM_LOCKED, 'the host has locked this room' + (
                '; knock to ask them to let you in' if control.knock else ''),
                knock=control.knock)
        return control

    def _check_signed_in(self, room_id, user_id, control, signed_in):
        """A signed-in-only room refuses guests, but not its host or a seated account
        (a reload): turning it on sends nobody away."""
        if not control.signed_in_only or signed_in or user_id == control.host:
            return
        if user_id in {p['user_id'] for p in self.rooms.peers(room_id)}:
            return
        raise Refusal(protocol.SIGN_IN_REQUIRED, 'only signed-in players may join this room: '
                      'sign in on the home page, then come back')

    def _may_enter(self, room_id, user_id, control):
        seated = {p['user_id'] for p in self.rooms.peers(room_id)}
        return self.controls.may_enter(control, user_id, seated) or \
            self.cache.take_grant(room_id, user_id)

    # -- the host's events ----------------------------------------------------------------

    def _require_host(self, session):
        if not self.is_host(session.room_id, session.user_id):
            raise ProtocolError(protocol.FORBIDDEN, 'only the host can do that')

    def on_settings(self, namespace, sid, session, payload):
        changes = protocol.parse_room_settings(payload)
        self._require_host(session)
        providers = self.signaling.app.extensions['rhystic.oauth'][0]
        if changes.get('signed_in_only') and not providers:
            raise ProtocolError(protocol.INVALID_REQUEST, 'no sign-in provider is configured '
                                                          'here, so nobody could sign in')
        control = self.controls.change(session.room_id, self._owner(session.room_id),
                                       **changes)
        self._announce(session.room_id, control, 'settings')
        if not control.locked:  # opening the room lets everyone who knocked in
            for knock_id, entry in self.cache.knocks(session.room_id).items():
                self._answer(session.room_id, knock_id, entry, True)
        return {'ok': True, 'room': control.public()}

    def on_make_host(self, namespace, sid, session, payload):
        peer_id = protocol.parse_peer_target(payload, protocol.MAKE_HOST)
        self._require_host(session)
        seat = self.rooms.store.get_seat(session.room_id, peer_id)
        if seat is None:
            raise ProtocolError(protocol.UNKNOWN_PEER, f'no peer {peer_id!r} here')
        control = self.controls.change(session.room_id, self._owner(session.room_id),
                                       host=seat.user_id)
        self._announce(session.room_id, control, 'handed_over')
        return {'ok': True, 'room': control.public()}

    def on_admit(self, namespace, sid, session, payload):
        knock_id, admit = protocol.parse_admit(payload)
        self._require_host(session)
        entry = self.cache.take_knock(session.room_id, knock_id)
        if entry is None:
            raise ProtocolError(protocol.UNKNOWN_KNOCK, 'nobody is knocking with that id '
                                                        '(they left, or were answered)')
        self._answer(session.room_id, knock_id, entry, admit)
        return OK

    def _answer(self, room_id, knock_id, entry, admit):
        self.cache.take_knock(room_id, knock_id)
        if admit:
            self.controls.admit(room_id, entry['user_id'])
        self.server.emit(protocol.KNOCK_ANSWER, {'knock_id': knock_id, 'admitted': admit},
                         to=knock_id, namespace=protocol.lobby_for(room_id))
        self._to_host(room_id, protocol.KNOCK_CANCELLED, {'knock_id': knock_id,
                                                          'admitted': admit})

    def _announce(self, room_id, control, reason):
        self.server.emit(protocol.ROOM_UPDATED, {**control.public(), 'reason': reason},
                         namespace=protocol.namespace_for(room_id))
        if reason != 'settings':  # a new host: tell them who is already knocking
            for knock_id, entry in self.cache.knocks(room_id).items():
                self._to_host(room_id, protocol.KNOCK, {'knock_id': knock_id, **entry})

    def _to_host(self, room_id, event, payload):
        host = self.host(room_id)
        for seat in self.rooms.store.seats(room_id):
            if seat.user_id == host:
                self.server.emit(event, payload, to=seat.peer_id,
                                 namespace=protocol.namespace_for(room_id))

    def claimed(self, room_id, user_id):
        """The room was claimed with its owner token (POST /api/rooms/<id>/claim)."""
        control = self.controls.change(room_id, host=user_id)
        self._announce(room_id, control, 'claimed')

    def welcome_extra(self, room_id, control, user_id):
        """What the welcome's `room` says of hosting; the host also gets who is knocking."""
        extra = control.public()
        if user_id == control.host:
            extra['knocks'] = [{'knock_id': k, **v}
                               for k, v in self.cache.knocks(room_id).items()]
        return extra

    # -- departures -----------------------------------------------------------------------

    def after_departure(self, room_id):
        """When the host's last seat is gone, the longest-seated player becomes host."""
        control = self.control(room_id)
        seats = self.rooms.store.seats(room_id)
        if any(s.user_id == control.host for s in seats):
            return
        heir = successor(seats, control.host)
        if heir is not None:
            control = self.controls.change(room_id, host=heir)
            self._announce(room_id, control, 'host_left')

    # -- the lobby ------------------------------------------------------------------------

    def on_lobby_connect(self, namespace, auth, sid):
        room_id = protocol.room_id_from_lobby(namespace)
        auth = protocol.parse_connect_auth(auth)
        user = user_for_socket(auth)
        if user is None:
            raise Refusal(protocol.UNAUTHORIZED, 'sign in first')
        owner = self._owner(room_id) if room_id else None
        if owner is None and (not room_id or self.signaling.directory.get(room_id) is None):
            raise Refusal(protocol.ROOM_NOT_FOUND, 'there is no room with this id')
        control = self.controls.get(room_id, owner)
        self._check_signed_in(room_id, user.public_id, control, user.signed_in)
        if not control.locked or self._may_enter(room_id, user.public_id, control):
            self.controls.admit(room_id, user.public_id)
            self.server.emit(protocol.KNOCK_ANSWER, {'knock_id': None, 'admitted': True},
                             to=sid, namespace=namespace)
            return
        if not control.knock:
            raise Refusal(protocol.ROOM_LOCKED, 'the host has locked this room', knock=False)
        knock_id = 'k_' + secrets.token_urlsafe(6)
        entry = {'user_id': user.public_id, 'display_name': auth.get('display_name') or
                 user.display_name, 'at': round(time.time(), 3)}
        self.server.enter_room(sid, knock_id, namespace=namespace)
        self.cache.put_knock(room_id, knock_id, entry)
        self.waiting[sid] = (room_id, knock_id)
        self.server.emit(protocol.KNOCK_PENDING, {'knock_id': knock_id}, to=sid,
                         namespace=namespace)
        self._to_host(room_id, protocol.KNOCK, {'knock_id': knock_id, **entry})

    def on_lobby_disconnect(self, sid):
        waiting = self.waiting.pop(sid, None)
        if waiting and self.cache.take_knock(*waiting) is not None:
            self._to_host(waiting[0], protocol.KNOCK_CANCELLED, {'knock_id': waiting[1],
                                                                 'admitted': None})

