"""Socket.IO handlers: validate, ask rooms.py, emit. One namespace per room.

`connect` goes through Flask-SocketIO, because admitting a peer needs the Flask
session and the database. Every event after that is registered on python-socketio
directly: the relay path builds no Flask request context and touches no SQL.
"""
import logging
from dataclasses import dataclass

from flask import request
from flask_socketio import ConnectionRefusedError

from .. import metrics
from ..auth import user_for_socket
from ..errors import ApiError
from ..jsonfast import UNDECODABLE
from ..models import clean_display_name
from ..security import lookups_blocked, note_failed_lookup
from ..turn import client_config
from . import protocol
from .protocol import OK, ProtocolError, error_ack
from .directory import RoomDirectory
from .rooms import Joined, Refusal
from .signout import SignOuts
from .throttle import TokenBucket
from .upkeep import Upkeep

log = logging.getLogger('rhystic.signaling')
# Looked up once: labels() costs a lock and a dict walk per call, on the hot path.
_SIGNALS_BY_TYPE = {kind: metrics.SIGNALS.labels(type=kind) for kind in protocol.SIGNAL_TYPES}


class Session:
    """What this process knows about one of its sockets."""
    __slots__ = ('room_id', 'peer_id', 'user_id', 'bucket')

    def __init__(self, room_id, peer_id, user_id, bucket):
        self.room_id, self.peer_id, self.user_id, self.bucket = room_id, peer_id, user_id, bucket


@dataclass
class Admission:
    room_id: str
    name: str
    max_peers: int
    is_owner: bool  # hosts the room (its creator, unless the role was handed on)
    joined: Joined
    control: object = None  # rhystic.signaling.control.Control


def _display_name(auth, user):
    if not auth.get('display_name'):
        return user.display_name
    try:
        return clean_display_name(auth['display_name'])
    except ValueError as exc:
        raise ProtocolError(protocol.INVALID_REQUEST, f'auth.{exc}') from None


class Signaling(Upkeep):
    def __init__(self, app, socketio, rooms):
        self.socketio = socketio
        self.server = socketio.server
        self.rooms = rooms
        self.app, self.config = app, app.config
        self.sessions = metrics.PeerSessions()
        self.local = {}  # (room_id, peer_id) -> sid, for the seats held on this worker
        self.directory = RoomDirectory()
        self._sweeper = None
        self.gate = None  # rhystic.signaling.gate.Gate, set by init_app
        self.running = True
        self.signouts = SignOuts(self)  # sign out everywhere: ends the account's seats

    # -- connecting -------------------------------------------------------------------

    def on_connect(self, auth=None):
        sid, namespace = request.sid, request.namespace
        # Flask could not route the Socket.IO path and kept its NotFound on the request:
        # a cycle (exception, traceback, frame, request context) that would outlive the
        # connect if a freeze (rhystic/collector.py) caught it still alive.
        request.routing_exception = None
        self.ensure_running()  # the sweeper and the inboxes (upkeep.py)
        try:
            if protocol.is_lobby(namespace):  # a newcomer knocking on a locked room
                return self.hosting.on_lobby_connect(namespace, auth, sid)
            admitted = self._admit(namespace, auth, sid)
        except ProtocolError as refusal:  # a Refusal, or a bad auth payload
            self._refuse(namespace, refusal.code, refusal.message, refusal.extra)
        except Exception:  # e.g. Redis or the database away: say so, don't hang the client
            log.exception('join failed', extra={'event': 'error', 'remote_addr':
                                                request.remote_addr})
            self._refuse(namespace, protocol.INTERNAL, 'the server could not seat you; '
                                                       'try again in a moment', {})
        self._seat(sid, namespace, admitted)

    def _refuse(self, namespace, code, message, extra):
        metrics.REFUSALS.labels(code=code).inc()
        log.info('join refused', extra={'event': 'join_refused', 'reason': code,
                                        'room': protocol.room_id_from_namespace(namespace),
                                        'remote_addr': request.remote_addr})
        raise ConnectionRefusedError(code, {'message': message, **extra})

    def _seat(self, sid, namespace, admitted):
        joined, seat = admitted.joined, admitted.joined.seat
        self.sessions[sid] = Session(admitted.room_id, seat.peer_id, seat.user_id,
                                     self._bucket())
        self.local[(admitted.room_id, seat.peer_id)] = sid
        self.server.emit(protocol.WELCOME, self._welcome(admitted), to=sid, namespace=namespace)
        if joined.announce:
            self.server.emit(protocol.PEER_JOINED, seat.public(), namespace=namespace,
                             skip_sid=sid)
        if joined.replaced_sid:
            self.server.disconnect(joined.replaced_sid, namespace=namespace)
        for event, payload in joined.buffered:
            self.server.emit(event, payload, to=sid, namespace=namespace)
        (metrics.RESUMES if joined.resumed else metrics.JOINS).inc()
        event = 'peer_resumed' if joined.resumed else 'peer_joined'
        log.info(event.replace('_', ' '), extra={
            'event': event, 'room': admitted.room_id, 'peer': seat.peer_id,
            'user': seat.user_id, 'remote_addr': request.remote_addr})

    def _admit(self, namespace, auth, sid):
        room_id = protocol.room_id_from_namespace(namespace)
        address = request.remote_addr or 'unknown'
        auth = protocol.parse_connect_auth(auth)
        if lookups_blocked(address):
            raise Refusal(protocol.RATE_LIMITED, 'too many failed joins; wait a minute')
        user = user_for_socket(auth)
        if user is None:
            raise Refusal(protocol.UNAUTHORIZED, 'sign in first: a session cookie, or '
                                                 'auth.token with an API token')
        room = self.directory.get(room_id) if room_id else None
        if room is None:
            if room_id:  # a well-formed id that names no room: someone may be guessing
                try:
                    note_failed_lookup(address)
                except ApiError:  # this miss tripped the limit; the next join is refused
                    pass
            # A malformed id and a missing one look the same: ids can't be probed.
            raise Refusal(protocol.ROOM_NOT_FOUND, 'there is no room with this id')
        name, max_peers, owner = room
        max_peers = min(max_peers, self.config['MAX_PEERS'])
        control = self.hosting.check(room_id, user.public_id, owner,  # locked: refused
                                     signed_in=user.signed_in)
        joined = self._join(sid, namespace, room_id, max_peers, user, auth)
        return Admission(room_id, name, max_peers, control.host == user.public_id, joined,
                         control)

    def _join(self, sid, namespace, room_id, max_peers, user, auth):
        # Join the delivery room (named after the peer_id) before the seat is visible
        # to anyone: a newcomer may offer to us the moment it sees the seat.
        fresh, resumed = self.rooms.new_peer_id(), auth.get('peer_id')
        if resumed and not self.rooms.valid_resume(room_id, resumed, user.public_id,
                                                   auth.get('resume')):
            resumed = None  # join() refuses it; it must not hear that seat's signals first
        ids = [fresh] + ([resumed] if resumed else [])
        for peer_id in ids:
            self.server.enter_room(sid, peer_id, namespace=namespace)
        joined = self.rooms.join(room_id, max_peers, user.public_id,
                                 _display_name(auth, user), sid, media=auth.get('media'),
                                 peer_id=auth.get('peer_id'), resume=auth.get('resume'),
                                 fresh_id=fresh, profile={'signed_in': user.signed_in,
                                                          'avatar_url': user.avatar_url})
        for peer_id in ids:
            if peer_id != joined.seat.peer_id:
                self.server.leave_room(sid, peer_id, namespace=namespace)
        return joined

    def _welcome(self, admitted):
        joined = admitted.joined
        rtc = client_config(self.config, joined.seat.user_id)
        return {'peer_id': joined.seat.peer_id, 'resume': joined.resume,
                'resumed': joined.resumed, 'self': joined.seat.public(),
                'room': {'id': admitted.room_id, 'name': admitted.name,
                         'max_peers': admitted.max_peers,
                         **self.hosting.welcome_extra(admitted.room_id, admitted.control,
                                                      joined.seat.user_id)},
                'owner': admitted.is_owner,
                'peers': joined.peers, 'ice_servers': rtc['iceServers'],
                'ice_transport_policy': rtc['iceTransportPolicy'],
                'ice_servers_ttl': rtc['ttl'], 'grace_seconds': self.rooms.grace,
                **self.game.welcome(admitted)}  # "game": the table (rhystic/game/handlers.py)

    def _bucket(self):
        return TokenBucket(self.config['SIGNAL_RATE'], self.config['SIGNAL_BURST'])

    # -- events after connect (python-socketio level) ---------------------------------

    def seated(self, handler, throttled=True):
        """Wrap handler(namespace, sid, session, payload) for a socket holding a seat.

        The socket's session is looked up and its rate checked once, here; the payload is
        the single argument, or something no handler accepts when there were several.
        """
        def run(namespace, sid, *args):
            session = self.sessions.get(sid)
            if session is None:
                return _not_joined()
            if throttled and not session.bucket.take():
                return self._throttled(namespace, sid, session)
            payload = args[0] if len(args) == 1 else (None if not args else args)
            try:
                return handler(namespace, sid, session, payload)
            except ProtocolError as exc:
                return exc.ack()
        return guarded(run)

    def on_signal(self, namespace, sid, session, payload):
        to, payload = protocol.parse_signal(payload)
        payload = {'from': session.peer_id, **payload}  # stamped here, never by the client
        self._relay(session, namespace, to, payload)
        _SIGNALS_BY_TYPE[payload['type']].inc()
        return OK

    def answer_unacked_signals(self):
        """A `signal` emitted without an ack (the web client's `ice`) costs one frame, the
        relayed one. python-socketio drops a handler's answer when no ack was asked for,
        so a refusal goes back as `signal-error` instead (docs/protocol.md §5). Except
        rate_limited: answering every message of a flood would double it, and the sender
        that keeps it up is disconnected anyway."""
        handle = self.server._handle_event_internal

        def handle_event(server, sid, eio_sid, data, namespace, id):
            if id is not None or data[0] != protocol.SIGNAL:
                return handle(server, sid, eio_sid, data, namespace, id)
            answer = server._trigger_event(data[0], namespace, sid, *data[1:])
            error = answer.get('error') if isinstance(answer, dict) else None
            if error and error.get('code') != protocol.RATE_LIMITED:
                sent = data[1] if len(data) == 2 and isinstance(data[1], dict) else {}
                self.server.emit(protocol.SIGNAL_ERROR, protocol.signal_error(sent, error),
                                 to=sid, namespace=namespace, ignore_queue=True)
        self.server._handle_event_internal = handle_event

    def _relay(self, session, namespace, to, payload):
        # A peer whose socket is on this worker is reached directly: no store lookup and
        # no trip through the message queue, so it works while Redis is away too.
        local = self.local.get((session.room_id, to))
        if local is not None and to != session.peer_id:
            self.server.emit(protocol.SIGNAL, payload, to=local, namespace=namespace,
                             ignore_queue=True)
        else:
            self._route(session.room_id, namespace, session.peer_id, to, payload)

    def _route(self, room_id, namespace, sender, to, payload, hops=0):
        """Anyone else is found through the store. Their worker gets the signal in its own
        inbox, and only a worker that is listening counts as reached: the Socket.IO queue
        would drop it silently while Redis or that worker is away, and the ack would lie."""
        worker = self.rooms.locate(room_id, sender, to)
        if worker == self.rooms.worker:
            if self._emit_here(namespace, to, payload):
                return
        elif worker and hops < 2:
            if self.rooms.forward(worker, room_id, to, payload, hops):
                return
            raise ProtocolError(protocol.UNAVAILABLE, "the addressee's server can't be "
                                'reached just now; nothing was relayed: send it again')
        # Away, or not here after all: kept for the seat, and delivered when it resumes.
        self.rooms.hold(room_id, to, protocol.SIGNAL, payload)

    def _emit_here(self, namespace, to, payload):
        # Each socket is in a room named after its seat from before the seat was visible.
        if not any(True for _ in self.server.manager.get_participants(namespace, to)):
            return False
        self.server.emit(protocol.SIGNAL, payload, to=to, namespace=namespace,
                         ignore_queue=True)
        return True

    def on_update(self, namespace, sid, session, payload):
        changes = protocol.parse_update(payload, clean_display_name)
        update = self.rooms.update(session.room_id, session.peer_id, changes)
        self.server.emit(protocol.PEER_UPDATED, update, namespace=namespace, skip_sid=sid)
        return OK

    def on_leave(self, namespace, sid, session, payload):
        protocol.parse_empty(payload, protocol.LEAVE)
        self._forget(sid)
        self.server.leave_room(sid, session.peer_id, namespace=namespace)
        departure = self.rooms.leave(session.room_id, session.peer_id)
        if departure:
            self._announce_departure(departure)
        # Nothing is left for this connection to do: close it once the ack is sent, so it
        # can't stay on listening, or sending unthrottled.
        self.gate.close_after_answer(sid, namespace)
        return OK

    def on_ice_servers(self, namespace, sid, session, payload):
        protocol.parse_empty(payload, protocol.ICE_SERVERS)
        rtc = client_config(self.config, session.user_id)
        return {'ok': True, 'ice_servers': rtc['iceServers'], 'ttl': rtc['ttl']}

    def on_kick(self, namespace, sid, session, payload):
        peer_id = protocol.parse_kick(payload)
        if not self.hosting.is_host(session.room_id, session.user_id):
            raise ProtocolError(protocol.FORBIDDEN, 'only the host can kick')
        departure, kicked_sid = self.rooms.kick(session.room_id, session.peer_id, peer_id)
        self._announce_departure(departure)
        if kicked_sid:
            self.server.disconnect(kicked_sid, namespace=namespace)
        return OK

    def end_seat(self, sid, session, reason):
        """Free one of this worker's seats at once and close its socket; everyone, its own
        client included, gets peer-left with the reason first, as after a kick."""
        self._forget(sid)
        try:
            departure = self.rooms.leave(session.room_id, session.peer_id, reason)
            if departure:
                self._announce_departure(departure)
        finally:  # closed even with the store away: the seat then times out as orphans do
            self.server.disconnect(sid, namespace=protocol.namespace_for(session.room_id))

    def on_unknown(self, event, namespace, sid, *args):
        session = self.sessions.get(sid)
        if session is not None and not session.bucket.take():
            return self._throttled(namespace, sid, session)
        if event == UNDECODABLE:
            return error_ack(protocol.INVALID_REQUEST,
                             'the message is not valid JSON, or is nested too deeply')
        name = event if isinstance(event, str) else repr(event)
        return error_ack(protocol.UNKNOWN_EVENT, f'unknown event {name[:64]!r}')

    def _forget(self, sid):
        session = self.sessions.pop(sid, None)
        if session is not None:
            key = (session.room_id, session.peer_id)
            if self.local.get(key) == sid:  # a resume may already have moved the seat
                del self.local[key]
        return session

    def on_disconnect(self, namespace, sid, *args):
        if protocol.is_lobby(namespace):
            return self.hosting.on_lobby_disconnect(sid)
        session = self._forget(sid)
        if session is not None and self.rooms.disconnect(session.room_id, session.peer_id, sid):
            log.info('peer away', extra={'event': 'peer_away', 'room': session.room_id,
                                         'peer': session.peer_id})

    def _throttled(self, namespace, sid, session):
        if session.bucket.abusive():
            log.warning('socket dropped for flooding', extra={
                'event': 'rate_limited', 'room': session.room_id, 'peer': session.peer_id})
            self.socketio.start_background_task(self.server.disconnect, sid,
                                                namespace=namespace)
        metrics.RATE_LIMITED.inc()
        return error_ack(protocol.RATE_LIMITED, 'slow down: too many messages')

    # -- departures and upkeep --------------------------------------------------------

    def _announce_departure(self, departure):
        self.server.emit(protocol.PEER_LEFT, {'peer_id': departure.peer_id,
                                              'reason': departure.reason},
                         namespace=protocol.namespace_for(departure.room_id))
        if departure.reason == protocol.TIMEOUT:
            metrics.GRACE_EXPIRIES.inc()
        log.info('peer left', extra={'event': 'peer_left', 'room': departure.room_id,
                                     'peer': departure.peer_id, 'reason': departure.reason})
        try:
            self.hosting.after_departure(departure.room_id)
        except Exception:  # the store or database away: the next departure tries again
            log.exception('host hand-over failed', extra={'event': 'error',
                                                         'room': departure.room_id})

    def register(self):
        on = self.server.on
        self.socketio.on('connect', namespace='*')(self.on_connect)
        on('disconnect', self.on_disconnect, namespace='*')
        on(protocol.SIGNAL, self.seated(self.on_signal), namespace='*')
        on(protocol.UPDATE, self.seated(self.on_update), namespace='*')
        on(protocol.LEAVE, self.seated(self.on_leave, throttled=False), namespace='*')
        on(protocol.ICE_SERVERS, self.seated(self.on_ice_servers), namespace='*')
        on(protocol.KICK, self.seated(self.on_kick), namespace='*')
        from .hosting import Hosting
        self.hosting = Hosting(self.app, self)
        on(protocol.ROOM_SETTINGS, self.seated(self.hosting.on_settings), namespace='*')
        on(protocol.MAKE_HOST, self.seated(self.hosting.on_make_host), namespace='*')
        on(protocol.ADMIT, self.seated(self.hosting.on_admit), namespace='*')
        from ..game.handlers import register as register_game  # it imports signaling
        register_game(self)  # the game table's events; sets self.game
        on('*', guarded(self.on_unknown), namespace='*')
        self.answer_unacked_signals()


def _not_joined():
    return error_ack(protocol.NOT_JOINED, 'this socket holds no seat; reconnect to join')


def guarded(handler):
    """No input may kill a handler: an unexpected error becomes an error ack."""
    def run(*args):
        try:
            return handler(*args)
        except Exception:
            log.exception('handler failed', extra={'event': 'error'})
            return error_ack(protocol.INTERNAL, 'the server could not handle this message')
    return run
