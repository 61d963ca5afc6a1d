"""Server-rendered pages: home (name, create, join by code) and the room, with the
lobby's seat list."""
from flask import (Blueprint, abort, current_app, flash, jsonify, redirect, render_template,
                   request, session, url_for)
from flask_login import current_user
from limits import parse_many

from .api import _is_local, _limit
from .auth import callers, sign_in
from .errors import ApiError
from .extensions import limiter
from .models import MAX_PEERS_LIMIT, Room, User
from .security import note_failed_lookup

bp = Blueprint('pages', __name__)
RECENT_MAX = 6
SEAT_CHOICES = range(2, MAX_PEERS_LIMIT + 1)
DEFAULT_SEATS = 4  # a Commander pod


@bp.get('/')
def index():
    return render_template('pages/index.html', recent=session.get('recent_rooms', []),
                           display_name=_signed_in_name(), seat_choices=SEAT_CHOICES,
                           seats=DEFAULT_SEATS, code=request.args.get('code', '')[:200],
                           cameras_blocked=_cameras_blocked())


@bp.get('/favicon.ico')
def favicon():
    # Browsers ask for it on every page whatever the page links; answer, don't 404.
    return current_app.send_static_file('favicon.ico')


@bp.post('/rooms')
@limiter.limit(_limit('RATELIMIT_ROOMS'))
def create_room():
    """The home page's "Create room": sign in under the typed name, then a new room."""
    seats = _seats_from(request.form.get('max_peers'))
    if seats is None or not _ensure_player(request.form.get('display_name')):
        return redirect(url_for('.index'))
    room = Room.create(current_user, request.form.get('room_name') or None, max_peers=seats)
    return redirect(url_for('.room', room_id=room.id))


@bp.post('/join')
@limiter.limit(_limit('RATELIMIT_ROOMS'))  # a new code creates a room: the same budget
def join_by_code():
    """"Join room" by code. An unknown code is asked about first (a typo must not open
    an empty room); with create=1, the answer "yes", it becomes a room on purpose."""
    code = _code_from(request.form.get('code', ''))
    if not Room.valid_id(code):
        flash('A room code is 3 to 40 letters, digits and dashes, like kfp-7wq2-mzt.')
        return redirect(url_for('.index'))
    found = Room.get(code)
    if found is None and request.form.get('create') != '1':
        note_failed_lookup()  # guessing codes through this form is counted like the API's
        return render_template('pages/confirm_create.html', code=code,
                               display_name=request.form.get('display_name', ''),
                               seat_choices=SEAT_CHOICES, seats=DEFAULT_SEATS), 404
    seats = _seats_from(request.form.get('max_peers')) if found is None else 0
    if seats is None or not _ensure_player(request.form.get('display_name')):
        return redirect(url_for('.index'))
    if found is None:
        Room.create(current_user, room_id=code, max_peers=seats)
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
        players=_seated_names(found.id, presence),
        display_name=_signed_in_name(),
        capture={'width': config['CAPTURE_WIDTH'], 'height': config['CAPTURE_HEIGHT'],
                 'fps': config['CAPTURE_FPS']})


@bp.get('/api/rooms/<room_id>/seats')  # JSON, beside the API's room routes
@limiter.limit(_limit('RATELIMIT_LOBBY'))
def seats(room_id):
    """The lobby's view of a room: how many seats are taken and by whom. The lobby has
    no socket yet, so it polls this (seatwatch.js: every 3 s, backing off to 20 s while
    nothing changes; browsers slow it further in a background tab): a primary-key read
    and two presence reads, cheaper than holding a socket per visitor who waits."""
    found = Room.get(room_id)
    if found is None:
        note_failed_lookup()
        raise ApiError(404, 'no such room', 'room_not_found')
    presence = current_app.extensions['rhystic.rooms']
    players = _seated_names(found.id, presence)
    response = jsonify({'peer_count': presence.peer_count(found.id),
                        'max_peers': found.max_peers, 'players': players})
    response.headers['Cache-Control'] = 'no-store'
    return response


def _seated_names(room_id, presence):
    """Who sits in the room, for its lobby; nobody's name while the host keeps it locked:
    a locked room lets in only whom the host admits, so a code alone tells only the count."""
    if current_app.extensions['rhystic.signaling'].hosting.control(room_id).locked:
        return []
    return [peer['display_name'] for peer in presence.peers(room_id)]


def _cameras_blocked():
    """Browsers open cameras only in a secure context: https, or http on a loopback
    name. Said on the home page, where a friend sent http://<your-ip>:8080 looks first."""
    return request.scheme != 'https' and not _is_local(request.host)


def _seats_from(value):
    """The home form's seat count, 2 to 8; a form without one (an older page, a script)
    gets the pod size. None, with a message, for anything else."""
    if value is None or value == '':
        return DEFAULT_SEATS
    try:
        seats = int(value)
    except ValueError:
        seats = 0
    if seats not in SEAT_CHOICES:
        flash(f'A room has 2 to {MAX_PEERS_LIMIT} seats.')
        return None
    return seats


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
