"""The JSON API: users, rooms, TURN credentials and ICE servers."""
import ipaddress
import logging
import time

from flask import Blueprint, current_app, jsonify, request, url_for
from flask_login import current_user

from . import metrics, turn
from .auth import bearer_token, caller_or_401, callers, sign_in
from .errors import ApiError, ValidationError
from .extensions import limiter
from .models import Room, User
from .security import note_failed_lookup

log = logging.getLogger('rhystic.api')
bp = Blueprint('api', __name__)


def _limit(key):
    return lambda: current_app.config[key]


def json_body(allowed, required=()):
    """The request's JSON object, with unknown and missing fields refused up front."""
    if not request.get_data(cache=True):
        data = {}
    else:
        try:
            data = request.get_json(silent=True)
        except RecursionError:  # nesting deeper than the parser goes: still just bad JSON
            data = None
        if data is None:
            raise ValidationError('the body must be valid JSON (Content-Type: application/json)')
    if not isinstance(data, dict):
        raise ValidationError('the body must be a JSON object')
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationError(f'unknown field: {unknown[0]}', unknown[0])
    for name in required:
        if name not in data:
            raise ValidationError(f'{name} is required', name)
    return data


@bp.post('/api/users')
@limiter.limit(_limit('RATELIMIT_USERS'))
def create_user():
    """Create an account, or a guest when only display_name is given."""
    data = json_body({'username', 'display_name'}, required=('display_name',))
    if data.get('username') is None:
        user, token = User.create_guest(data['display_name'])
    else:
        user, token = User.create(data['username'], data['display_name'])
    sign_in(user)
    log.info('user created', extra={'event': 'user_created', 'user': user.public_id})
    return jsonify({**user.to_dict(), 'token': token}), 201


@bp.get('/api/me')
def me():
    return jsonify(caller_or_401().to_dict())


@bp.patch('/api/me')
def update_me():
    user = caller_or_401()
    data = json_body({'display_name'}, required=('display_name',))
    user.rename(data['display_name'])
    callers.forget(user.public_id)  # this worker at once; others within the cache's ttl
    return jsonify(user.to_dict())


@bp.post('/api/rooms')
@limiter.limit(_limit('RATELIMIT_ROOMS'))
def create_room():
    """A room, owned by the caller; without a caller, unowned with a one-time owner token.

    No sign-in opens no CSRF hole. security.py checks CSRF whenever the session or
    remember cookie is sent, so a browser still needs its X-CSRFToken and a forged
    request that carries the cookie is refused. A request with neither cookie nor bearer
    token acts for nobody: a forging page borrows no one's authority, makes a room it
    could have made itself, and can't read the owner token (the same-origin policy keeps
    the answer from it). The per-address limit (RATELIMIT_ROOMS) holds for everyone.
    """
    user = _caller_or_none()
    data = json_body({'name', 'max_peers'})
    fields = dict(name=data.get('name'), max_peers=data.get('max_peers'),
                  default_max=current_app.config['MAX_PEERS'])
    if user is not None:
        room, owner_token = Room.create(user, **fields), None
    else:
        room, owner_token = Room.create_unclaimed(**fields)
    log.info('room created', extra={'event': 'room_created', 'room': room.id,
                                    'user': user.public_id if user else None})
    body = {'room_id': room.id, 'status': 'created', 'name': room.name,
            'max_peers': room.max_peers, 'url': public_url('pages.room', room_id=room.id)}
    if owner_token:
        body['owner_token'] = owner_token
    return jsonify(body), 201


def _caller_or_none():
    """The caller, or None for a request that carries neither a bearer token nor a
    signed-in session. A bearer token that is wrong is still a 401, not anonymity."""
    if bearer_token() is None and not current_user.is_authenticated:
        return None
    return caller_or_401()


@bp.post('/api/rooms/<room_id>/claim')
@limiter.limit(_limit('RATELIMIT_ROOMS'))
def claim_room(room_id):
    """Become the owner of a room made without signing in, with its one-time token."""
    user = caller_or_401()
    data = json_body({'owner_token'}, required=('owner_token',))
    token = data['owner_token']
    if not isinstance(token, str):
        raise ValidationError('owner_token must be a string', 'owner_token')
    if Room.get(room_id) is None:
        note_failed_lookup()
        raise ApiError(404, 'no such room', 'room_not_found')
    if not Room.claim(room_id, token, user):
        raise ApiError(403, 'this owner token does not fit this room, or it was used '
                            'already: a room is claimed once', 'owner_token_invalid')
    signaling = current_app.extensions.get('rhystic.signaling')
    if signaling is not None:
        signaling.directory.forget(room_id)  # this worker's joins see the owner at once
        # The claimer hosts from now on, even if the role had passed to a player seated
        # before the claim; everyone in the room hears of it.
        signaling.hosting.claimed(room_id, user.public_id)
    log.info('room claimed', extra={'event': 'room_claimed', 'room': room_id,
                                    'user': user.public_id})
    return jsonify({'room_id': room_id, 'status': 'claimed', 'owner': user.public_id})


def public_url(endpoint, **values):
    """A link to hand out, never on a host the client made up.

    The Host header (and X-Forwarded-Host, even through our nginx example, which
    forwards whatever Host reached it) is the client's to choose: repeated in a link, it
    would let anyone have this server vouch for their site. So links are built on
    PUBLIC_URL; without it, on the request's host only when that is this machine (a
    local run), and otherwise they are the path alone, for the client to resolve.
    """
    path = url_for(endpoint, **values)
    origin = current_app.config['PUBLIC_URL']
    if origin:
        return origin + path
    if _is_local(request.host):
        return request.host_url.rstrip('/') + path
    return path


def _is_local(host):
    name = host.rsplit(':', 1)[0] if not host.endswith(']') else host
    name = name.strip('[]').lower()
    if name == 'localhost':
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@bp.get('/api/rooms/<room_id>')
def get_room(room_id):
    room = Room.get(room_id)
    if room is None:
        note_failed_lookup()
        raise ApiError(404, 'no such room', 'room_not_found')
    presence = current_app.extensions['rhystic.rooms']
    return jsonify(room.to_dict(presence.peer_count(room.id)))


@bp.get('/api/rooms/<room_id>/game')
def get_game(room_id):
    """The room's game table (state, latest log and chat), for a player of the room."""
    user = caller_or_401()
    room = Room.get(room_id)
    if room is None:
        note_failed_lookup()
        raise ApiError(404, 'no such room', 'room_not_found')
    game = current_app.extensions['rhystic.signaling'].game.for_player(room.id, user.public_id)
    if game is None:
        raise ApiError(403, 'only a player of this room can see its game')
    return jsonify(game)


@bp.get('/turn')
@limiter.limit(_limit('RATELIMIT_TURN'))
def turn_credentials():
    user = caller_or_401()
    user_id = request.args.get('user_id', user.public_id)
    if user_id != user.public_id:
        raise ApiError(403, 'user_id must be your own')
    config = current_app.config
    if not turn.turn_configured(config):
        raise ApiError(503, 'TURN is not configured on this server '
                            '(set RHYSTIC_TURN_SECRET and RHYSTIC_TURN_URLS)', 'turn_unavailable')
    log.info('turn credentials issued', extra={'event': 'turn_issued', 'user': user_id})
    metrics.TURN_ISSUED.inc()
    return jsonify(turn.turn_credentials(config['TURN_SECRET'], user_id, config['TURN_TTL'],
                                         _now(), config['TURN_URLS']))


@bp.get('/api/ice-servers')
@limiter.limit(_limit('RATELIMIT_TURN'))
def ice_servers():
    user = caller_or_401()
    return jsonify(turn.ice_servers(current_app.config, user.public_id, _now()))


def _now():
    return time.time()
