"""Per-player values: life, poison, commander damage, named counters, partner commanders.

Every change is a delta, so two players who both record "-1" on one total both count.
A value change's undo is the opposite delta, which commutes with later changes by others.
"""
from .rules import (
    COMMANDER_LOSS, COMMANDER_MAX, COMMANDER_MIN, COUNTER_MAX, COUNTER_MIN, INVALID_REQUEST,
    LIFE_MAX, LIFE_MIN, MAX_COUNTERS, MAX_DELTA, OUT_OF_RANGE, POISON_LOSS, POISON_MAX,
    POISON_MIN, STALE_UNDO, UNKNOWN_PLAYER, GameError, boolean, counter_name, fields, integer,
    may_change, player, require,
)

VALUE_TYPES = ('life', 'poison', 'commander', 'counter')
RANGES = {'life': (LIFE_MIN, LIFE_MAX), 'poison': (POISON_MIN, POISON_MAX),
          'commander': (COMMANDER_MIN, COMMANDER_MAX), 'counter': (COUNTER_MIN, COUNTER_MAX)}


def parse(state, raw):
    """A value change, checked against the state; returns the clean action."""
    kind = raw['type']
    if kind == 'commander':
        a = fields(raw, ('player', 'source', 'delta'), {'index': 0, 'life': True})
    elif kind == 'counter':
        a = fields(raw, ('player', 'name', 'delta'))
        a['name'] = counter_name(a['name'])
    else:
        a = fields(raw, ('player', 'delta'))
    a['type'] = kind
    player(state, a['player'])
    integer(a['delta'], 'delta', -MAX_DELTA, MAX_DELTA)
    if kind == 'commander':
        require(state['format']['commander_damage'], INVALID_REQUEST,
                'commander damage is off in this game format')
        player(state, a['source'], 'source')
        require(a['source'] != a['player'], INVALID_REQUEST,
                'a player takes no commander damage from their own commander')
        integer(a['index'], 'index', 0, 1)
        require(a['index'] == 0 or state['players'][a['source']]['partner'], INVALID_REQUEST,
                'index 1 is for a source with partner commanders')
        boolean(a['life'], 'life')
    return a


def key(action):
    """What a change is to: two changes with the same key by one player may merge."""
    return (action['type'], action['player'], action.get('source'), action.get('index'),
            action.get('life'), action.get('name'))


def change(state, action, ctx):
    """Apply a checked value change for ctx.actor; returns the entry's details."""
    permission = may_change(state, ctx.actor, ctx.role, action['type'], action['player'],
                            action['delta'], action.get('source'))
    return {'permission': permission, **shift(state, action, action['delta'])}


def shift(state, action, delta):
    """Move the value (and, for commander damage, life) by delta, or refuse past a limit."""
    p = state['players'].get(action['player'])
    if p is None:
        raise GameError(UNKNOWN_PLAYER, 'that player has left the game')
    kind = action['type']
    if kind == 'commander':
        pair = p['commander'].get(action['source'], [0, 0])
        before = pair[action['index']]
    elif kind == 'counter':
        require(action['name'] in p['counters'] or len(p['counters']) < MAX_COUNTERS,
                OUT_OF_RANGE, f'a player has at most {MAX_COUNTERS} counters')
        before = p['counters'].get(action['name'], 0)
    else:
        before = p[kind]
    after = _within(kind, before + delta)
    details = {'before': before, 'after': after}
    if kind == 'commander' and action['life']:
        # Commander damage is combat damage: it costs life too.
        details['life'] = {'before': p['life'], 'after': _within('life', p['life'] - delta)}
        p['life'] = details['life']['after']
    if kind == 'commander':
        pair = list(pair)
        pair[action['index']] = after
        p['commander'][action['source']] = pair
    elif kind == 'counter':
        p['counters'][action['name']] = after
    else:
        p[kind] = after
    return details


def _within(kind, value):
    low, high = RANGES[kind]
    require(low <= value <= high, OUT_OF_RANGE,
            f'{kind} would be {value}; it must stay from {low} to {high}')
    return value


def undo_change(state, item):
    if item['action']['player'] not in state['players']:
        raise GameError(STALE_UNDO, 'that player has left the game')
    return shift(state, item['action'], -item['action']['delta'])


def parse_partner(state, raw):
    a = fields(raw, ('player', 'partner'))
    a['type'] = 'partner'
    player(state, a['player'])
    boolean(a['partner'], 'partner')
    return a


def partner(state, action, ctx):
    """A player has partner commanders: damage from them is kept for each commander."""
    permission = may_change(state, ctx.actor, ctx.role, 'partner', action['player'], 0)
    p = state['players'][action['player']]
    before, p['partner'] = p['partner'], action['partner']
    return {'permission': permission, 'before': before, 'after': action['partner']}


def undo_partner(state, item):
    p = state['players'].get(item['action']['player'])
    require(p is not None and p['partner'] == item['after'], STALE_UNDO,
            'that has changed since; it cannot be undone')
    p['partner'] = item['before']
    return {'before': item['after'], 'after': item['before']}


def losing(state, p):
    """Why a player has lost, by the rules the table tracks (empty: still in)."""
    reasons = []
    if p['life'] <= 0:
        reasons.append('life')
    if p['poison'] >= POISON_LOSS:
        reasons.append('poison')
    if state['format']['commander_damage'] and \
            any(v >= COMMANDER_LOSS for pair in p['commander'].values() for v in pair):
        reasons.append('commander')
    return reasons

