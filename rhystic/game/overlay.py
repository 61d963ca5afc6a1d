"""The stream overlay: a read-only page of a room's life totals for OBS and the like.

The host makes a link with a secret token (`POST /api/rooms/<id>/overlay`), pastes it
into a browser source, and may revoke it (`DELETE`); making a new one revokes the old.
Only the token's SHA-256 is kept, like API tokens. The page (`/r/<id>/overlay?token=…`)
polls `GET /api/rooms/<id>/overlay/state?token=…`, which answers names and numbers only:
no account ids, no chat, no log. A wrong token counts as a failed room lookup, so
guessing is throttled like guessing room ids.
"""
import hashlib
import hmac
import secrets
from datetime import datetime

from flask import Blueprint, abort, current_app, jsonify, render_template, request, url_for
from sqlalchemy import ForeignKey, String, delete, event
from sqlalchemy.orm import Mapped, mapped_column

from ..api import public_url
from ..auth import caller_or_401
from ..errors import ApiError, ValidationError
from ..extensions import db
from ..models import Room, utcnow
from ..security import note_failed_lookup
from .store import GameStore
from .values import losing

bp = Blueprint('overlay', __name__)
TOKEN_BYTES = 24
MAX_TOKEN = 64
MAX_SINCE = 2 ** 53 - 1  # the largest version a JavaScript number holds exactly


class OverlayToken(db.Model):
    """At most one live overlay link per room (migration 9c4e1f7a2b63)."""
    __tablename__ = 'overlay_tokens'

    room_id: Mapped[str] = mapped_column(
        String(40), ForeignKey('rooms.id', ondelete='CASCADE'), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


@event.listens_for(Room, 'after_delete')
def _delete_room_token(mapper, connection, room):  # SQLite enforces no foreign keys
    connection.execute(delete(OverlayToken).where(OverlayToken.room_id == room.id))


def _hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def _room_or_404(room_id):
    room = Room.get(room_id)
    if room is None:
        note_failed_lookup()
        raise ApiError(404, 'no such room', 'room_not_found')
    return room


def _host_room(room_id):
    """The room, if the caller is its host; 401/403/404 otherwise."""
    user = caller_or_401()
    room = _room_or_404(room_id)
    signaling = current_app.extensions['rhystic.signaling']
    if signaling.game.host_of(room.id) != user.public_id:
        raise ApiError(403, 'only the host can manage the stream overlay')
    return room, user


def token_valid(room_id, token):
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN:
        return False
    row = db.session.get(OverlayToken, room_id)
    return row is not None and hmac.compare_digest(row.token_hash, _hash(token))


def overlay_view(state):
    """What the overlay shows: seats in order, names and numbers, the turn."""
    commander = state['format']['commander_damage']
    players = []
    for user_id in state['order']:
        p = state['players'].get(user_id)
        if p is None:
            continue
        worst = max([v for pair in p['commander'].values() for v in pair] or [0])
        players.append({
            'name': p['name'], 'life': p['life'], 'poison': p['poison'],
            'commander': worst if commander else None, 'out': bool(losing(state, p)),
            'active': state['active'] == user_id,
            'monarch': state['markers']['monarch'] == user_id,
        })
    return {'version': state['version'], 'game': state['game'], 'turn': state['turn'],
            'paused': state['paused'], 'format': state['format']['name'], 'players': players}


# -- the host's link --------------------------------------------------------------------

@bp.post('/api/rooms/<room_id>/overlay')
def create_link(room_id):
    """A new overlay link; any earlier one stops working."""
    room, user = _host_room(room_id)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = db.session.get(OverlayToken, room.id)
    if row is None:
        row = OverlayToken(room_id=room.id)
        db.session.add(row)
    row.token_hash, row.created_by, row.created_at = _hash(token), user.public_id, utcnow()
    db.session.commit()
    path = url_for('overlay.page', room_id=room.id, token=token)
    return jsonify({'room_id': room.id, 'token': token, 'path': path,
                    'url': public_url('overlay.page', room_id=room.id, token=token)}), 201


@bp.get('/api/rooms/<room_id>/overlay')
def link_status(room_id):
    room, _user = _host_room(room_id)
    row = db.session.get(OverlayToken, room.id)
    return jsonify({'room_id': room.id, 'active': row is not None,
                    'created_at': row.created_at.isoformat() + 'Z' if row else None})


@bp.delete('/api/rooms/<room_id>/overlay')
def revoke_link(room_id):
    room, _user = _host_room(room_id)
    db.session.execute(delete(OverlayToken).where(OverlayToken.room_id == room.id))
    db.session.commit()
    return jsonify({'room_id': room.id, 'active': False})


# -- the overlay itself -----------------------------------------------------------------

@bp.get('/api/rooms/<room_id>/overlay/state')
def state(room_id):
    """The overlay's numbers; 204 while the state is still at `since`."""
    room = _room_or_404(room_id)
    if not token_valid(room.id, request.args.get('token')):
        note_failed_lookup()
        raise ApiError(403, 'this overlay link is not valid (it may have been revoked)')
    since = _since()
    table = GameStore().state(room.id)
    if since == table['version']:
        return '', 204
    response = jsonify(overlay_view(table))
    response.headers['Cache-Control'] = 'no-store'
    return response


def _since():
    """The version the page already shows, or None; 400 for anything but one."""
    raw = request.args.get('since')
    if raw is None:
        return None
    # isdigit() alone lets '²' and 5000-digit strings through to int(), which raises.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 16 and int(raw) <= MAX_SINCE):
        raise ValidationError(f'since must be a state version: a whole number from 0 to '
                              f'{MAX_SINCE}', 'since')
    return int(raw)


@bp.get('/r/<room_id>/overlay')
def page(room_id):
    room = Room.get(room_id)
    if room is None:
        note_failed_lookup()
        abort(404, 'There is no room with this code.')
    token = request.args.get('token', '')
    if not token_valid(room.id, token):
        note_failed_lookup()
        abort(403, 'This overlay link is not valid: the host may have made a new one or '
                   'revoked it.')
    return render_template('pages/overlay.html', room=room, token=token)
