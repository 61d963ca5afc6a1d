"""The game table's state: a pure function from (state, action, actor) to (state, entry).

No Flask, no emits, no I/O, no clock and no randomness of its own: the caller passes
`now` and an `rng` (secrets.SystemRandom() in the server, a seeded Random in tests), so
the same inputs always give the same outputs. Every change yields one log entry, and an
entry holds what replay() needs to redo it: the clean action, the actor, the time and
the random draws. The state keeps the last HISTORY undoable entries, so undo and the
merge of rapid repeated changes need nothing outside it.

The state is a JSON-ready dict:
    version, game, seq        changes applied, game number, last log entry's seq
    format                    {name, starting_life, commander_damage}
    owner_only                only a value's owner may change it
    players                   {user_id: {name, life, poison, commander: {source: [a, b]},
                                         counters: {name: n}, partner, clock}}
    order, active, turn       seat order (user_ids), whose turn, turn number (0: not begun)
    paused, clock             {total, increment, since} or None
    markers                   {monarch, initiative, day_night}
    history                   undoable entries (internal: public() leaves it out)
"""
import copy
from collections import namedtuple

from . import table, values
from .rules import (
    FORBIDDEN, FORMATS, HISTORY, HOST, INVALID_REQUEST, MARKERS, MERGE_SECONDS, STALE_UNDO,
    Actor, GameError, Unchanged, fields, integer, require, require_seated, role_of,
)

__all__ = ['ACTIONS', 'CLIENT_ACTIONS', 'Actor', 'GameError', 'Unchanged', 'apply', 'entry',
           'new_state', 'public', 'replay']

Ctx = namedtuple('Ctx', 'actor role now draw')
Spec = namedtuple('Spec', 'run undo merges')


def _value(s, raw, ctx):
    action = values.parse(s, raw)
    return action, values.change(s, action, ctx)


def _partner(s, raw, ctx):
    action = values.parse_partner(s, raw)
    return action, values.partner(s, action, ctx)


def _undo_value(s, item, now):
    return values.undo_change(s, item)


def _undo_partner(s, item, now):
    return values.undo_partner(s, item)


def _undo(s, raw, ctx):
    """Undo one entry by its seq: a player their own last change, the host any kept one."""
    a = fields(raw, ('entry',))
    seq = integer(a['entry'], 'entry', 1, 2 ** 53)
    require_seated(ctx.role)
    item = next((h for h in s['history'] if h['seq'] == seq and not h['undone']), None)
    require(item is not None, STALE_UNDO,
            f'entry {seq} cannot be undone: it was undone already, is from an earlier game, '
            'is too old, or is not a change that undo reverses')
    mine = item['actor'] == ctx.actor.user_id
    require(mine or ctx.role == HOST, FORBIDDEN, "only the host can undo another's change")
    if ctx.role != HOST:
        last = [h for h in s['history'] if h['actor'] == ctx.actor.user_id and not h['undone']]
        require(last[-1] is item, STALE_UNDO,
                'you can undo only your own last change; it is entry %d' % last[-1]['seq'])
    details = ACTIONS[item['type']].undo(s, item, ctx.now)
    item['undone'] = True
    return {'type': 'undo', 'entry': seq}, {
        'undoes': seq, 'player': item.get('player'), **details,
        'target': {'type': item['type'], 'action': item['action'], 'actor': item['actor']}}


ACTIONS = {
    'life': Spec(_value, _undo_value, True),
    'poison': Spec(_value, _undo_value, True),
    'commander': Spec(_value, _undo_value, True),
    'counter': Spec(_value, _undo_value, True),
    'partner': Spec(_partner, _undo_partner, False),
    'marker': Spec(table.marker, table.undo_marker, False),
    'pass-turn': Spec(table.pass_turn, table.undo_turn, False),
    'set-active': Spec(table.set_active, table.undo_turn, False),
    'first-player': Spec(table.first_player, None, False),
    'seat-order': Spec(table.seat_order, None, False),
    'pause': Spec(table.pause, None, False),
    'roll': Spec(table.roll, None, False),
    'flip': Spec(table.flip, None, False),
    'settings': Spec(table.settings, None, False),
    'new-game': Spec(table.new_game, None, False),
    'remove-player': Spec(table.remove_player, None, False),
    'undo': Spec(_undo, None, False),
    'join': Spec(table.join, None, False),
}
# What a client may ask for: `join` is the server's, when an account enters the room.
CLIENT_ACTIONS = tuple(kind for kind in ACTIONS if kind != 'join')


def new_state(fmt='commander'):
    return {'version': 0, 'game': 1, 'seq': 0, 'format': dict(FORMATS[fmt]),
            'owner_only': False, 'players': {}, 'order': [], 'active': None, 'turn': 0,
            'paused': False, 'clock': None, 'markers': {name: None for name in MARKERS},
            'history': []}


def apply(state, action, actor, now, rng):
    """Apply one action by actor at now; returns (new state, log entry).

    Raises GameError (code, message) and leaves `state` untouched when the action is
    malformed, out of range or not allowed; rules.Unchanged when there is nothing to do.
    """
    require(isinstance(action, dict) and isinstance(action.get('type'), str), INVALID_REQUEST,
            "an action is an object with a 'type'")
    spec = ACTIONS.get(action['type'])
    require(spec is not None, INVALID_REQUEST, f"unknown action type {action['type'][:40]!r}")
    now = round(now, 3)  # as the log keeps it, so that replay decides merges the same way
    s = copy.deepcopy(state)
    draws = []

    def draw(low, high):
        value = rng.randint(low, high)
        draws.append(value)
        return value

    clean, details = spec.run(s, action, Ctx(actor, role_of(s, actor), now, draw))
    s['version'] += 1
    item = _merge_target(s, spec, clean, actor, now)
    if item is not None:
        _merge(item, clean, details, s['version'], now)
    else:
        s['seq'] += 1
        item = {'seq': s['seq'], 'game': s['game'], 'version': s['version'], 'at': now,
                'actor': actor.user_id, 'host': bool(actor.host), 'type': clean['type'],
                'action': clean, 'count': 1, 'player': clean.get('player'), **details}
        if draws:
            item['random'] = draws
        if spec.undo is not None:
            s['history'] = (s['history'] + [{**item, 'undone': False}])[-HISTORY:]
    return s, entry(s, item, undoable=spec.undo is not None)


def _merge_target(s, spec, clean, actor, now):
    """The entry this change folds into: the room's latest entry, when it is the same
    player's change to the same value less than MERGE_SECONDS ago."""
    if not spec.merges or not s['history']:
        return None
    last = s['history'][-1]
    same = (last['seq'] == s['seq'] and not last['undone'] and last['actor'] == actor.user_id
            and last['host'] == bool(actor.host) and last['type'] == clean['type']
            and values.key(last['action']) == values.key(clean))
    return last if same and now - last['at'] <= MERGE_SECONDS else None


def _merge(item, clean, details, version, now):
    item['action']['delta'] += clean['delta']
    item['after'] = details['after']
    if 'life' in details:
        item['life']['after'] = details['life']['after']
    item.update(version=version, at=now, count=item['count'] + 1)


def entry(s, item, undoable):
    """The log entry as clients see it: the item plus names for people."""
    out = {k: v for k, v in item.items() if k != 'undone'}
    out['undoable'] = undoable
    out['actor_name'] = _name(s, item['actor'])
    if item.get('player') and 'player_name' not in out:
        out['player_name'] = _name(s, item['player'])
    return out


def _name(s, uid):
    p = s['players'].get(uid)
    return p['name'] if p else None


def public(state):
    """What clients see: everything but the undo history, plus who has lost and what
    can be undone (`undo`: each player's own last undoable entry; `undoable`: all)."""
    view = {k: copy.deepcopy(v) for k, v in state.items() if k != 'history'}
    for p in view['players'].values():
        p['out'] = values.losing(state, p)
    open_items = [h for h in state['history'] if not h['undone']]
    view['undo'] = {h['actor']: h['seq'] for h in open_items}
    view['undoable'] = [h['seq'] for h in open_items]
    return view


class ReplayRng:
    """Hands back the draws an entry recorded, so replay rolls the same dice."""

    def __init__(self, draws):
        self.draws = list(draws)

    def randint(self, low, high):
        value = self.draws.pop(0)
        assert low <= value <= high, (value, low, high)
        return value


def replay(entries, initial=None):
    """The state the given log entries (in seq order) lead to, from a new room's state."""
    s = initial if initial is not None else new_state()
    for e in entries:
        s, _ = apply(s, e['action'], Actor(e['actor'], e['host']), e['at'],
                     ReplayRng(e.get('random', ())))
        if e['count'] > 1:  # one entry stands for several merged changes
            s['version'] += e['count'] - 1
            last = s['history'][-1]
            last.update(version=s['version'], count=e['count'])
    return s

