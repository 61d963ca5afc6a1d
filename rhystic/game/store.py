"""The game table in SQL: each action applied atomically, however many workers there are.

An action reads the room's state and version, applies the pure rules (state.py), and
writes back with `UPDATE ... WHERE version = :read`: if another worker got there first
no row matches, and the action is applied again to the newer state. So every action is
applied once, in one total order per room, and none is lost. The state row and the log
entry are written in one short transaction: SQLite blocks a gevent worker while it
waits, so nothing else happens inside it.

Needs an app context (Flask-SQLAlchemy's session); the handlers provide one.
"""
import logging
import secrets
import time

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from ..extensions import db
from ..models import utcnow
from . import state as rules_state
from .models import ChatMessage, GameLogEntry, GameState
from .rules import GameError, Unchanged

log = logging.getLogger('rhystic.game')

UNAVAILABLE = 'unavailable'
TRIES = 50          # each retry means another action went first: bounded by the players
LOG_PAGE = 50       # log entries in a welcome or a sync
LOG_PAGE_MAX = 200
CHAT_KEEP = 200     # chat messages kept per room, and sent to newcomers

_states, _log, _chat = GameState.__table__, GameLogEntry.__table__, ChatMessage.__table__


class GameStore:
    def __init__(self, rng=None, clock=time.time):
        self.rng = rng or secrets.SystemRandom()  # the server's dice: `secrets`, never random
        self.clock = clock

    # -- the state ----------------------------------------------------------------------

    def state(self, room_id):
        """The room's state (internal form), or a new room's if it has none yet."""
        found = self._read(room_id)
        return found if found is not None else rules_state.new_state()

    def _read(self, room_id):
        return db.session.execute(
            select(_states.c.state).where(_states.c.room_id == room_id)).scalar_one_or_none()

    def apply(self, room_id, action, actor):
        """Apply one action for actor; returns (new state, log entry).

        (state, None) when there was nothing to do (a player who is already seated);
        GameError for an action the rules refuse.
        """
        for _ in range(TRIES):
            try:
                stored = self._read(room_id)
                state = stored if stored is not None else rules_state.new_state()
                new, entry = rules_state.apply(state, action, actor, self.clock(), self.rng)
                if self._write(room_id, stored, new, entry):
                    db.session.commit()
                    return new, entry
                db.session.rollback()  # another action went first: apply to the newer state
            except Unchanged:
                db.session.rollback()
                return state, None
            except GameError:
                db.session.rollback()
                raise
            except IntegrityError:  # two first actions in a new room: one inserts first
                db.session.rollback()
            except OperationalError as exc:
                db.session.rollback()
                if 'locked' not in str(exc):  # SQLite busy: try again; anything else is real
                    raise
        log.warning('game action gave up after %d conflicts', TRIES,
                    extra={'event': 'game_conflict', 'room': room_id})
        raise GameError(UNAVAILABLE, 'the table is very busy; nothing was changed: try again')

    def _write(self, room_id, stored, new, entry):
        values = {'state': new, 'version': new['version'], 'updated_at': utcnow()}
        if stored is None:
            db.session.execute(insert(_states).values(room_id=room_id, **values))
        else:
            done = db.session.execute(update(_states).where(
                _states.c.room_id == room_id,
                _states.c.version == stored['version']).values(**values))
            if done.rowcount != 1:
                return False
        if entry['count'] > 1:  # a merged change rewrites its entry
            done = db.session.execute(update(_log).where(
                _log.c.room_id == room_id, _log.c.seq == entry['seq']).values(entry=entry))
            if done.rowcount == 1:
                return True
        db.session.execute(insert(_log).values(room_id=room_id, seq=entry['seq'],
                                               game=entry['game'], entry=entry))
        return True

    # -- the log --------------------------------------------------------------------------

    def log(self, room_id, limit=LOG_PAGE, before=None):
        """Up to `limit` entries, oldest first: the latest, or the ones before seq `before`."""
        query = select(_log.c.entry).where(_log.c.room_id == room_id)
        if before is not None:
            query = query.where(_log.c.seq < before)
        rows = db.session.execute(query.order_by(_log.c.seq.desc()).limit(limit)).scalars()
        return list(rows)[::-1]

    def whole_log(self, room_id):
        return list(db.session.execute(select(_log.c.entry).where(_log.c.room_id == room_id)
                                       .order_by(_log.c.seq)).scalars())

    # -- chat -----------------------------------------------------------------------------

    def add_chat(self, room_id, user_id, name, text):
        """Keep a message, and only the last CHAT_KEEP of the room; returns it as a dict."""
        at = round(self.clock(), 3)
        new_id = db.session.execute(insert(_chat).values(
            room_id=room_id, user_id=user_id, name=name, text=text, at=at)
            .returning(_chat.c.id)).scalar_one()
        oldest_kept = (select(_chat.c.id).where(_chat.c.room_id == room_id)
                       .order_by(_chat.c.id.desc()).offset(CHAT_KEEP - 1).limit(1)
                       .scalar_subquery())
        db.session.execute(delete(_chat).where(_chat.c.room_id == room_id,
                                               _chat.c.id < oldest_kept))
        db.session.commit()
        return {'id': new_id, 'user_id': user_id, 'name': name, 'text': text, 'at': at}

    def chat(self, room_id, limit=CHAT_KEEP):
        rows = db.session.execute(
            select(_chat).where(_chat.c.room_id == room_id)
            .order_by(_chat.c.id.desc()).limit(limit)).mappings()
        return [{'id': r['id'], 'user_id': r['user_id'], 'name': r['name'], 'text': r['text'],
                 'at': r['at']} for r in rows][::-1]
