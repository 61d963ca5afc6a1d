"""Server-rendered pages: home (name, create, join by code) and the room."""
from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   session, url_for)
from flask_login import current_user
from limits import parse_many

from .api import _limit
from .auth import callers, sign_in
from .errors import ApiError
from .extensions import limiter
from .models import Room, User

bp = Blueprint('pages', __name__)
RECENT_MAX = 6


@bp.get('/')
def index():
    return render_template('pages/index.html', recent=session.get('recent_rooms', []),
                           display_name=_signed_in_name())


@bp.post('/rooms')
@limiter.limit(_limit('RATELIMIT_ROOMS'))
def create_room():
    """The home page's "Create room": sign in under the typed name, then a new room."""
    if not _ensure_player(request.form.get('display_name')):
        return redirect(url_for('.index'))
    room = Room.create(current_user, request.form.get('room_name') or None,
                       default_max=current_app.config['MAX_PEERS'])
    return redirect(url_for('.room', room_id=room.id))


@bp.post('/join')
@limiter.limit(_limit('RATELIMIT_ROOMS'))  # a new code creates a room: the same budget
def join_by_code():
    """"Join room" by code. A code nobody has used yet becomes a room, as promised."""
    code = _code_from(request.form.get('code', ''))
    if not Room.valid_id(code):
        flash('A room code is 3 to 40 letters, digits and dashes, like kfp-7wq2-mzt.')
        return redirect(url_for('.index'))
    if not _ensure_player(request.form.get('display_name')):
        return redirect(url_for('.index'))
    Room.get_or_create(code, current_user, default_max=current_app.config['MAX_PEERS'])
    return redirect(url_for('.room', room_id=code))


@bp.get('/r/<room_id>')
def room(room_id):
    found = Room.get(room_id)
    if found is None:
        abort(404, 'There is no room with this code. Join it by code from the home page '
                   'to create it.')
    _remember_room(found)
    presence = current_app.extensions['rhystic.rooms']
    config = current_app.config
    return render_template(
        'pages/room.html', room=found.to_dict(presence.peer_count(found.id)),
        display_name=_signed_in_name(),
        capture={'width': config['CAPTURE_WIDTH'], 'height': config['CAPTURE_HEIGHT'],
                 'fps': config['CAPTURE_FPS']})


def _code_from(text):
    """Accept a bare code or a pasted invite link."""
    text = text.strip().rstrip('/')
    if '/r/' in text:
        text = text.rsplit('/r/', 1)[1]
    return text.lower()


def _signed_in_name():
    return current_user.display_name if current_user.is_authenticated else ''


def _ensure_player(display_name):
    """Sign in as a guest under this name, or rename the signed-in player. False if refused."""
    try:
        if current_user.is_authenticated:
            if display_name and display_name.strip() != current_user.display_name:
                current_user.rename(display_name)
                callers.forget(current_user.public_id)
            return True
        if not display_name or not display_name.strip():
            flash('Type the name the others will see first.')
            return False
        _count_new_guest()
        user, _token = User.create_guest(display_name)
    except ApiError as exc:
        flash(exc.message[:1].upper() + exc.message[1:] + '.')
        return False
    sign_in(user)
    return True


def _count_new_guest():
    # The same budget as POST /api/users: a form is not a way around it.
    address = request.remote_addr or 'unknown'
    for item in parse_many(current_app.config['RATELIMIT_USERS']):
        if not limiter.limiter.hit(item, 'guest-form', address):
            raise ApiError(429, 'too many new players from your address; wait a minute',
                           'rate_limited')


def _remember_room(room):
    recent = [r for r in session.get('recent_rooms', []) if r.get('id') != room.id]
    recent.insert(0, {'id': room.id, 'name': room.name or ''})
    session['recent_rooms'] = recent[:RECENT_MAX]
