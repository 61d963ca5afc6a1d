"""Server-rendered pages: home and the room."""
from flask import Blueprint, abort, current_app, render_template
from flask_login import current_user

from .models import Room

bp = Blueprint('pages', __name__)


@bp.get('/')
def index():
    return render_template('pages/index.html')


@bp.get('/r/<room_id>')
def room(room_id):
    found = Room.get(room_id)
    if found is None:
        abort(404, 'There is no room with this code.')
    presence = current_app.extensions['rhystic.rooms']
    return render_template('pages/room.html', room=found.to_dict(presence.peer_count(found.id)),
                           user=current_user)
