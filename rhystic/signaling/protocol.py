"""The wire protocol: event names, error codes and payload checks (docs/protocol.md).

Checks are written out by hand rather than with a schema library: they sit on the
per-message path, and a handful of isinstance calls is the cheapest correct answer.
"""
import re

# Server -> client
WELCOME = 'welcome'
PEER_JOINED = 'peer-joined'
PEER_LEFT = 'peer-left'
PEER_UPDATED = 'peer-updated'
SIGNAL = 'signal'
# Server -> the sender of a signal it emitted without an ack, when it was refused (§5)
SIGNAL_ERROR = 'signal-error'
# Server -> room: the host, lock and knock changed (hosting.py)
ROOM_UPDATED = 'room-updated'
# Server -> the host's seats: someone knocks, or stopped knocking / was answered
KNOCK = 'knock'
KNOCK_CANCELLED = 'knock-cancelled'
# Server -> a newcomer waiting on /lobby/<room_id>
KNOCK_PENDING = 'knock-pending'
KNOCK_ANSWER = 'knock-answer'
# Client -> server
ROOM_SETTINGS = 'room-settings'
MAKE_HOST = 'make-host'
ADMIT = 'admit'
UPDATE = 'update'
LEAVE = 'leave'
ICE_SERVERS = 'ice-servers'
KICK = 'kick'

# connect_error codes (the error's message), then ack error codes.
UNAUTHORIZED = 'unauthorized'
ROOM_NOT_FOUND = 'room_not_found'
ROOM_FULL = 'room_full'
INVALID_REQUEST = 'invalid_request'
RATE_LIMITED = 'rate_limited'
UNKNOWN_PEER = 'unknown_peer'
TOO_LARGE = 'too_large'
UNKNOWN_EVENT = 'unknown_event'
NOT_JOINED = 'not_joined'
FORBIDDEN = 'forbidden'
UNAVAILABLE = 'unavailable'  # Redis briefly away: nothing was relayed, send it again
INTERNAL = 'internal'
ROOM_LOCKED = 'room_locked'    # connect_error: the host locked the room
UNKNOWN_KNOCK = 'unknown_knock'  # admit: nobody knocks with that id
SIGN_IN_REQUIRED = 'sign_in_required'  # connect_error: the room is for signed-in players
# HTTP 429 body code for a new connection from an address that holds too many.
TOO_MANY_CONNECTIONS = 'too_many_connections'

# peer-left reasons
LEFT, TIMEOUT, KICKED = 'left', 'timeout', 'kicked'
SIGNED_OUT = 'signed_out'  # the account signed out everywhere (rhystic/signaling/signout.py)

# -- The game table (docs/protocol.md, "The game table"; handlers in rhystic/game/) ----
# Client -> server
GAME = 'game'                  # one game action, {"type": ..., ...}
GAME_SYNC = 'game-sync'        # the whole state, the latest log and chat, on demand
GAME_LOG = 'game-log'          # older log entries, a page at a time
CHAT = 'chat'                  # send a chat message
# Server -> client
GAME_UPDATE = 'game-update'    # a change: the new state, its version and the log entry
CHAT_MESSAGE = 'chat-message'  # a chat message, to everyone in the room
# The game's own ack error codes (out_of_range, unknown_player, stale_undo, stale_turn,
# game_full) live with its rules, in rhystic/game/rules.py, which imports no Flask.

SIGNAL_TYPES = ('offer', 'answer', 'ice')
MAX_SDP = 64 * 1024
MAX_CANDIDATE = 2048
# Candidates in one `ice` signal's list: a browser gathers a dozen or so per attempt, and
# 32 of the largest still fit one Engine.IO message.
MAX_CANDIDATES = 32
MAX_ID = 64
# Engine.IO refuses anything larger outright: one SDP plus its envelope.
MAX_HTTP_BUFFER = MAX_SDP + 16 * 1024
NAMESPACE_RE = re.compile(r'^/room/([a-z0-9][a-z0-9-]{1,38}[a-z0-9])$')


class ProtocolError(Exception):
    """A client mistake, answered as {"ok": false, "error": {code, message}}."""

    def __init__(self, code, message, **extra):
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra

    def ack(self):
        return error_ack(self.code, self.message)


OK = {'ok': True}


def error_ack(code, message):
    return {'ok': False, 'error': {'code': code, 'message': message}}


def room_id_from_namespace(namespace):
    match = NAMESPACE_RE.match(namespace or '')
    return match.group(1) if match else None


def namespace_for(room_id):
    return '/room/' + room_id


LOBBY_RE = re.compile(r'^/lobby/([a-z0-9][a-z0-9-]{1,38}[a-z0-9])$')


def room_id_from_lobby(namespace):
    match = LOBBY_RE.match(namespace or '')
    return match.group(1) if match else None


def is_lobby(namespace):
    return isinstance(namespace, str) and namespace.startswith('/lobby/')


def lobby_for(room_id):
    return '/lobby/' + room_id


def parse_room_settings(data):
    _require_dict(data, ROOM_SETTINGS)
    changes = {k: data[k] for k in ('locked', 'knock', 'signed_in_only') if k in data}
    if not changes or not all(isinstance(v, bool) for v in changes.values()):
        raise ProtocolError(INVALID_REQUEST, "room-settings takes 'locked', 'knock' and/or "
                                             "'signed_in_only', each true or false")
    return changes


def parse_peer_target(data, event):
    _require_dict(data, event)
    peer_id = data.get('peer_id')
    if not isinstance(peer_id, str) or not peer_id or len(peer_id) > MAX_ID:
        raise ProtocolError(INVALID_REQUEST, f"{event} needs 'peer_id', a peer_id string")
    return peer_id


def parse_admit(data):
    _require_dict(data, ADMIT)
    knock_id, admit = data.get('knock_id'), data.get('admit')
    if not isinstance(knock_id, str) or not knock_id or len(knock_id) > MAX_ID or \
            not isinstance(admit, bool):
        raise ProtocolError(INVALID_REQUEST, "admit needs 'knock_id' (a string) and 'admit' "
                                             '(true or false)')
    return knock_id, admit


def _require_dict(data, event):
    if not isinstance(data, dict):
        raise ProtocolError(INVALID_REQUEST, f'{event} takes a JSON object')
    return data


def parse_signal(data):
    """Validate a client's signal; return (to, outgoing payload without 'from')."""
    _require_dict(data, SIGNAL)
    to, kind = data.get('to'), data.get('type')
    if not isinstance(to, str) or not to or len(to) > MAX_ID:
        raise ProtocolError(INVALID_REQUEST, "signal needs 'to', a peer_id string")
    if kind not in SIGNAL_TYPES:
        raise ProtocolError(INVALID_REQUEST, "signal 'type' must be offer, answer or ice")
    if kind == 'ice':
        return to, _ice(data)
    sdp = data.get('sdp')
    if not isinstance(sdp, str):
        raise ProtocolError(INVALID_REQUEST, f"an {kind} needs 'sdp', a string")
    if len(sdp) > MAX_SDP:
        raise ProtocolError(TOO_LARGE, f'sdp is larger than {MAX_SDP} characters')
    return to, {'type': kind, 'sdp': sdp}


def _ice(data):
    """One candidate (`candidate`, the original form) or several (`candidates`), not both."""
    if 'candidates' not in data:
        return {'type': 'ice', 'candidate': _candidate(data.get('candidate'))}
    many = data['candidates']
    if 'candidate' in data or not isinstance(many, list) or not many:
        raise ProtocolError(INVALID_REQUEST, "ice takes 'candidate' or 'candidates' (a "
                                             'non-empty list), not both')
    if len(many) > MAX_CANDIDATES:
        raise ProtocolError(TOO_LARGE, f'at most {MAX_CANDIDATES} candidates in one signal')
    clean = [_candidate(value) for value in many]
    if None in clean:
        raise ProtocolError(INVALID_REQUEST, "a 'candidates' list holds RTCIceCandidateInit "
                                             "objects; end-of-candidates is 'candidate': null")
    return {'type': 'ice', 'candidates': clean}


def signal_error(sent, error):
    """What `signal-error` tells the sender: which signal (its `to` and `type`, when they
    were well formed) and the error an ack would have carried."""
    to, kind = sent.get('to'), sent.get('type')
    return {'to': to if isinstance(to, str) and len(to) <= MAX_ID else None,
            'type': kind if kind in SIGNAL_TYPES else None, 'error': error}


_CANDIDATE_FIELDS = {'candidate': str, 'sdpMid': str, 'sdpMLineIndex': int,
                     'usernameFragment': str}


def _candidate(value):
    """An RTCIceCandidateInit, or None for end-of-candidates; only known fields pass."""
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get('candidate'), str):
        raise ProtocolError(INVALID_REQUEST, "ice 'candidate' must be an RTCIceCandidateInit "
                                             'object or null')
    clean = {}
    for name, kind in _CANDIDATE_FIELDS.items():
        field = value.get(name)
        if field is None:
            continue
        if not isinstance(field, kind) or isinstance(field, bool):
            raise ProtocolError(INVALID_REQUEST, f'candidate.{name} has the wrong type')
        if kind is str and len(field) > MAX_CANDIDATE:
            raise ProtocolError(TOO_LARGE, f'candidate.{name} is too long')
        clean[name] = field
    return clean


def parse_empty(data, event):
    """Events that take nothing accept an empty object too, and refuse anything else."""
    if data is not None and not isinstance(data, dict):
        raise ProtocolError(INVALID_REQUEST, f'{event} takes no payload, or {{}}')


def parse_kick(data):
    _require_dict(data, KICK)
    peer_id = data.get('peer_id')
    if not isinstance(peer_id, str) or not peer_id or len(peer_id) > MAX_ID:
        raise ProtocolError(INVALID_REQUEST, "kick needs 'peer_id', a peer_id string")
    return peer_id


def parse_update(data, clean_display_name):
    """Validate an update; return only the fields that were given."""
    _require_dict(data, UPDATE)
    changes = {}
    if 'display_name' in data:
        try:
            changes['display_name'] = clean_display_name(data['display_name'])
        except ValueError as exc:
            raise ProtocolError(INVALID_REQUEST, str(exc)) from None
    if 'media' in data:
        changes['media'] = parse_media(data['media'])
    if not changes:
        raise ProtocolError(INVALID_REQUEST, "update needs 'display_name' or 'media'")
    return changes


# voice_elsewhere: the player talks over another app (Discord, a phone) and opened no
# microphone at all; the others show that instead of "Muted".
MEDIA_FLAGS = {'audio', 'video', 'voice_elsewhere'}


def parse_media(value):
    if not isinstance(value, dict) or not value or \
            set(value) - MEDIA_FLAGS or \
            not all(isinstance(v, bool) for v in value.values()):
        raise ProtocolError(INVALID_REQUEST,
                            "media must be an object like {\"audio\": true, \"video\": false}")
    return dict(value)


def parse_connect_auth(auth):
    """The connect auth: token, and for a resume, peer_id and resume. Returns a dict."""
    if auth is None:
        return {}
    if not isinstance(auth, dict):
        raise ProtocolError(INVALID_REQUEST, 'auth must be an object')
    for name in ('token', 'peer_id', 'resume', 'display_name'):
        value = auth.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > 256):
            raise ProtocolError(INVALID_REQUEST, f'auth.{name} must be a short string')
    if bool(auth.get('peer_id')) != bool(auth.get('resume')):
        raise ProtocolError(INVALID_REQUEST, 'a resume needs both peer_id and resume')
    if 'media' in auth and auth['media'] is not None:
        parse_media(auth['media'])
    return auth
