"""Socket.IO handlers of the game table: validate -> state (store.py) -> emit.

Registered by signaling's Signaling.register() and run through its `seated` wrapper, so
each event already knows its socket's seat (the actor is stamped from it, never taken
from the client) and has passed the socket's rate check. These events touch SQL, so
each runs in an app context of its own; the signal relay never waits on them.
"""
import logging
import time
import unicodedata

from ..signaling import protocol
from ..signaling.protocol import ProtocolError
from ..signaling.throttle import TokenBucket
from .rules import GameError, role_of
from .state import CLIENT_ACTIONS, Actor, public
from .store import LOG_PAGE, LOG_PAGE_MAX, GameStore

log = logging.getLogger('rhystic.game')

MAX_CHAT = 500
MAX_REQUEST_ID = 64
# Per player (an account in a room, on this worker), as (rate per second, burst), each
# overridable in the app config (RHYSTIC_GAME_RATE, ...): a held "-1" button repeats
# about ten times a second, so bursts are generous; chat is slower.
RATES = {'game': ('GAME_RATE', 20, 'GAME_BURST', 60),
         'chat': ('CHAT_RATE', 1, 'CHAT_BURST', 5)}


def register(signaling):
    """Add the game table's events to a Signaling; its welcome then carries the game."""
    handlers = GameHandlers(signaling)
    signaling.game = handlers
    on, seated = signaling.server.on, signaling.seated
    on(protocol.GAME, seated(handlers.on_game), namespace='*')
    on(protocol.GAME_SYNC, seated(handlers.on_sync), namespace='*')
    on(protocol.GAME_LOG, seated(handlers.on_log), namespace='*')
    on(protocol.CHAT, seated(handlers.on_chat), namespace='*')
    return handlers


class GameHandlers:
    def __init__(self, signaling, store=None):
        self.signaling = signaling
        self.server = signaling.server
        self.store = store or GameStore()
        config = signaling.config
        self.rates = {kind: (config.get(rate_key, rate), config.get(burst_key, burst))
                      for kind, (rate_key, rate, burst_key, burst) in RATES.items()}
        self.buckets = {}  # (room_id, user_id, kind) -> TokenBucket

    # -- who is acting ----------------------------------------------------------------

    def host_of(self, room_id):
        """The room's host (rhystic/signaling/hosting.py): every permission follows."""
        return self.signaling.hosting.host(room_id)

    def actor(self, room_id, user_id):
        return Actor(user_id, user_id is not None and self.host_of(room_id) == user_id)

    def _take(self, session, kind):
        key = (session.room_id, session.user_id, kind)
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) > 20000:  # forget idle players now and then
                self.buckets = {k: b for k, b in self.buckets.items() if b.tokens < b.burst}
            bucket = self.buckets[key] = TokenBucket(*self.rates[kind])
        if not bucket.take():
            raise ProtocolError(protocol.RATE_LIMITED, f'slow down: too many {kind} messages')

    def _context(self, sid, namespace):
        # The same app Flask-SocketIO itself finds for this socket.
        return self.server.get_environ(sid, namespace)['flask.app'].app_context()

    # -- the welcome (inside signaling's connect, which has an app context) -----------

    def welcome(self, admitted):
        """{'game': ...} for the newcomer's welcome; seats the account in the game first.

        The others hear of a new player through game-update. If the database fails, the
        seat still gets its welcome, with "game": null: the client asks game-sync later.
        """
        seat = admitted.joined.seat
        room_id = admitted.room_id
        try:
            actor = self.actor(room_id, seat.user_id)
            try:
                state, entry = self.store.apply(room_id, {'type': 'join',
                                                          'name': seat.display_name}, actor)
            except GameError as exc:  # game_full: they watch until the host makes room
                log.info('not seated in the game: %s', exc.message,
                         extra={'event': 'game_full', 'room': room_id})
                state, entry = self.store.state(room_id), None
            if entry is not None:
                self.server.emit(protocol.GAME_UPDATE, _update(state, entry, seat.peer_id),
                                 namespace=protocol.namespace_for(room_id), skip_sid=seat.sid)
            return {'game': self._snapshot(room_id, actor, state)}
        except Exception:
            log.exception('game state left out of a welcome', extra={'event': 'error',
                                                                     'room': room_id})
            return {'game': None}

    def for_player(self, room_id, user_id):
        """The table for GET /api/rooms/<id>/game, or None unless the account plays here:
        it is in the game, holds a seat in the room, or hosts it."""
        state = self.store.state(room_id)
        actor = self.actor(room_id, user_id)
        if not (actor.host or user_id in state['players'] or self._seated(room_id, user_id)):
            return None
        return self._snapshot(room_id, actor, state)

    def _seated(self, room_id, user_id):
        try:
            return any(p['user_id'] == user_id for p in self.signaling.rooms.peers(room_id))
        except Exception:  # the seat store (Redis) is away: only the game's players, then
            log.warning('seats unknown for a game read', extra={'event': 'error',
                                                                'room': room_id})
            return False

    def _snapshot(self, room_id, actor, state):
        return {'version': state['version'], 'state': public(state),
                'log': self.store.log(room_id), 'chat': self.store.chat(room_id),
                'role': role_of(state, actor), 'host': self.host_of(room_id),
                'server_time': round(time.time(), 3)}

    # -- events -----------------------------------------------------------------------

    def on_game(self, namespace, sid, session, payload):
        action, request_id = parse_action(payload)
        self._take(session, 'game')
        with self._context(sid, namespace):
            try:
                state, entry = self.store.apply(session.room_id, action,
                                                self.actor(session.room_id, session.user_id))
            except GameError as exc:
                raise ProtocolError(exc.code, exc.message) from None
        self.server.emit(protocol.GAME_UPDATE,
                         _update(state, entry, session.peer_id, request_id), namespace=namespace)
        return {'ok': True, 'version': state['version'], 'entry': entry}

    def on_sync(self, namespace, sid, session, payload):
        protocol.parse_empty(payload, protocol.GAME_SYNC)
        self._take(session, 'game')  # reads cost the database too
        with self._context(sid, namespace):
            state = self.store.state(session.room_id)
            actor = self.actor(session.room_id, session.user_id)
            return {'ok': True, **self._snapshot(session.room_id, actor, state)}

    def on_log(self, namespace, sid, session, payload):
        before, limit = parse_log_page(payload)
        self._take(session, 'game')
        with self._context(sid, namespace):
            return {'ok': True, 'log': self.store.log(session.room_id, limit, before)}

    def on_chat(self, namespace, sid, session, payload):
        text, request_id = parse_chat(payload)
        self._take(session, 'chat')
        seat = self.signaling.rooms.store.get_seat(session.room_id, session.peer_id)
        name = seat.display_name if seat is not None else 'Player'
        with self._context(sid, namespace):
            message = self.store.add_chat(session.room_id, session.user_id, name, text)
        message['peer_id'] = session.peer_id
        self.server.emit(protocol.CHAT_MESSAGE, {**message, 'request_id': request_id},
                         namespace=namespace)
        return {'ok': True, 'id': message['id']}


def _update(state, entry, peer_id, request_id=None):
    return {'version': state['version'], 'entry': entry, 'state': public(state),
            'peer_id': peer_id, 'request_id': request_id}


# -- payload checks (the rules check each action's own fields) -------------------------

def _request_id(data):
    value = data.pop('request_id', None)
    if value is not None and not (
            (isinstance(value, str) and len(value) <= MAX_REQUEST_ID) or
            (isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2 ** 53)):
        raise ProtocolError(protocol.INVALID_REQUEST,
                            f'request_id must be a string of at most {MAX_REQUEST_ID} '
                            'characters, or an integer')
    return value


def parse_action(payload):
    if not isinstance(payload, dict):
        raise ProtocolError(protocol.INVALID_REQUEST, 'game takes a JSON object with a type')
    action = dict(payload)
    request_id = _request_id(action)
    if action.get('type') not in CLIENT_ACTIONS:
        raise ProtocolError(protocol.INVALID_REQUEST,
                            'type must be one of: ' + ', '.join(CLIENT_ACTIONS))
    return action, request_id


def parse_log_page(payload):
    if payload is None:
        payload = {}
    if not isinstance(payload, dict) or set(payload) - {'before', 'limit'}:
        raise ProtocolError(protocol.INVALID_REQUEST,
                            'game-log takes {"before": seq, "limit": n}, both optional')
    before, limit = payload.get('before'), payload.get('limit', LOG_PAGE)
    for name, value, low in (('before', before, 1), ('limit', limit, 1)):
        if value is None and name == 'before':
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ProtocolError(protocol.INVALID_REQUEST, f'{name} must be a positive integer')
    return before, min(limit, LOG_PAGE_MAX)


def parse_chat(payload):
    if not isinstance(payload, dict) or set(payload) - {'text', 'request_id'}:
        raise ProtocolError(protocol.INVALID_REQUEST, 'chat takes {"text": "..."}')
    data = dict(payload)
    request_id = _request_id(data)
    text = data.get('text')
    if not isinstance(text, str):
        raise ProtocolError(protocol.INVALID_REQUEST, 'text must be a string')
    text = unicodedata.normalize('NFC', text).strip()
    if not text:
        raise ProtocolError(protocol.INVALID_REQUEST, 'text is empty')
    if len(text) > MAX_CHAT:
        raise ProtocolError(protocol.TOO_LARGE, f'text is longer than {MAX_CHAT} characters')
    # Line breaks and tabs are text; other control characters are not.
    if any(unicodedata.category(c) == 'Cc' and c not in '\n\t' for c in text):
        raise ProtocolError(protocol.INVALID_REQUEST, 'text may not hold control characters')
    return text, request_id

