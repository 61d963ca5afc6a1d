"""Room-wide actions: turns, clocks, markers, seat order, dice, settings, new game, players.

Each action is `run(state, raw, ctx) -> (clean action, entry details)` and mutates the
state it is given (state.apply hands it a copy). Undoable ones have an `undo_*` twin.
"""
from .rules import (
    COINS_MAX, COINS_MIN, DAY_NIGHT, DICE_MAX, DICE_MIN, FORBIDDEN, GAME_FULL, HOST,
    INVALID_REQUEST, MARKERS, MAX_PLAYERS, SIDES_MAX, SIDES_MIN, STALE_TURN, STALE_UNDO,
    Unchanged, boolean, clock_settings, display_name, fields, game_format, integer, player,
    require, require_host, require_seated, user_id,
)

UNSET = object()  # an optional field that was not sent (None may be a value)


# -- clocks -------------------------------------------------------------------------
# A player's clock holds the seconds left as of clock.since; only the active player's
# runs, and none does while the game is paused. Clients count down from `since`.

def _running(s):
    return s['clock'] is not None and s['active'] is not None and not s['paused']


def _settle(s, now):
    """Charge the running clock up to now."""
    clock = s['clock']
    if clock is not None and clock['since'] is not None and s['active'] in s['players']:
        p = s['players'][s['active']]
        p['clock'] = round(p['clock'] - (now - clock['since']), 3)


def _restart(s, now):
    if s['clock'] is not None:
        s['clock']['since'] = round(now, 3) if _running(s) else None


def _turn(s):
    return {'active': s['active'], 'turn': s['turn']}


def _set_turn(s, now, active, turn, increment=False):
    _settle(s, now)
    if increment and s['clock'] is not None and s['active'] in s['players']:
        p = s['players'][s['active']]
        p['clock'] = round(p['clock'] + s['clock']['increment'], 3)
    s['active'], s['turn'] = active, turn
    _restart(s, now)


# -- turns --------------------------------------------------------------------------

def pass_turn(s, raw, ctx):
    a = fields(raw, optional={'turn': None})
    require(s['active'] is not None, INVALID_REQUEST,
            'the game has not started: the host picks who goes first')
    require(ctx.role == HOST or ctx.actor.user_id == s['active'], FORBIDDEN,
            'only the active player or the host can pass the turn')
    if a['turn'] is not None:
        integer(a['turn'], 'turn', 0, 10**9)
        require(a['turn'] == s['turn'], STALE_TURN,
                f"the turn has moved on (it is turn {s['turn']}); nothing was passed")
    before = _turn(s)
    order = s['order']
    following = order[(order.index(s['active']) + 1) % len(order)]
    _set_turn(s, ctx.now, following, s['turn'] + 1, increment=True)
    return {'type': 'pass-turn', 'turn': a['turn']}, \
        {'player': following, 'before': before, 'after': _turn(s)}


def set_active(s, raw, ctx):
    a = fields(raw, ('player',))
    require_host(ctx.role, 'choose the active player')
    chosen = player(s, a['player'])
    before = _turn(s)
    _set_turn(s, ctx.now, chosen, max(s['turn'], 1))
    return {'type': 'set-active', 'player': chosen}, \
        {'player': chosen, 'before': before, 'after': _turn(s)}


def undo_turn(s, item, now):
    before = item['before']
    require(_turn(s) == item['after'] and
            (before['active'] is None or before['active'] in s['players']), STALE_UNDO,
            'the turn has moved on since; it cannot be undone')
    _set_turn(s, now, before['active'], before['turn'])
    return {'before': item['after'], 'after': before}


def first_player(s, raw, ctx):
    fields(raw)
    require_host(ctx.role, 'pick who goes first')
    require(s['order'], INVALID_REQUEST, 'there are no players yet')
    chosen = s['order'][ctx.draw(0, len(s['order']) - 1)]
    before = _turn(s)
    _set_turn(s, ctx.now, chosen, 1)
    return {'type': 'first-player'}, {'player': chosen, 'before': before, 'after': _turn(s),
                                      'result': {'player': chosen}}


def seat_order(s, raw, ctx):
    a = fields(raw, ('order',))
    require_host(ctx.role, 'reorder the seats')
    order = a['order']
    require(isinstance(order, list) and all(isinstance(u, str) for u in order) and
            len(order) == len(s['order']) and set(order) == set(s['order']), INVALID_REQUEST,
            "order must list every player's user_id once")
    before, s['order'] = s['order'], list(order)
    return {'type': 'seat-order', 'order': list(order)}, {'before': before, 'after': s['order']}


def pause(s, raw, ctx):
    a = fields(raw, ('paused',))
    require_seated(ctx.role)
    boolean(a['paused'], 'paused')
    require(a['paused'] != s['paused'], INVALID_REQUEST,
            'the game is already ' + ('paused' if s['paused'] else 'running'))
    _settle(s, ctx.now)
    s['paused'] = a['paused']
    _restart(s, ctx.now)
    return {'type': 'pause', 'paused': a['paused']}, \
        {'before': not a['paused'], 'after': a['paused']}


# -- markers ------------------------------------------------------------------------

def marker(s, raw, ctx):
    """Monarch and initiative go to a player (or nobody); day/night is day, night or null."""
    a = fields(raw, ('marker', 'value'))
    require_seated(ctx.role)
    require(a['marker'] in MARKERS, INVALID_REQUEST,
            'marker must be monarch, initiative or day_night')
    value = a['value']
    if a['marker'] == 'day_night':
        require(value is None or value in DAY_NIGHT, INVALID_REQUEST,
                "day_night is 'day', 'night' or null")
    elif value is not None:
        player(s, value, 'value')
    before = s['markers'][a['marker']]
    s['markers'][a['marker']] = value
    clean = {'type': 'marker', 'marker': a['marker'], 'value': value}
    details = {'before': before, 'after': value}
    if a['marker'] != 'day_night' and value is not None:
        details['player'] = value
    return clean, details


def undo_marker(s, item, now):
    name, before = item['action']['marker'], item['before']
    require(s['markers'][name] == item['after'] and
            (before is None or name == 'day_night' or before in s['players']), STALE_UNDO,
            f'the {name} has moved since; it cannot be undone')
    s['markers'][name] = before
    return {'before': item['after'], 'after': before}


# -- randomness (the server's only: ctx.draw records every draw for the log) --------

def roll(s, raw, ctx):
    a = fields(raw, optional={'dice': 1, 'sides': 6})
    require_seated(ctx.role)
    dice = integer(a['dice'], 'dice', DICE_MIN, DICE_MAX)
    sides = integer(a['sides'], 'sides', SIDES_MIN, SIDES_MAX)
    rolls = [ctx.draw(1, sides) for _ in range(dice)]
    return {'type': 'roll', 'dice': dice, 'sides': sides}, \
        {'result': {'dice': dice, 'sides': sides, 'rolls': rolls, 'total': sum(rolls)}}


def flip(s, raw, ctx):
    a = fields(raw, optional={'coins': 1})
    require_seated(ctx.role)
    coins = integer(a['coins'], 'coins', COINS_MIN, COINS_MAX)
    results = ['heads' if ctx.draw(0, 1) else 'tails' for _ in range(coins)]
    return {'type': 'flip', 'coins': coins}, \
        {'result': {'coins': coins, 'results': results, 'heads': results.count('heads')}}


# -- settings, new game, players ----------------------------------------------------

def _settings(s):
    clock = s['clock'] and {'total': s['clock']['total'], 'increment': s['clock']['increment']}
    return {'owner_only': s['owner_only'], 'clock': clock}


def _set_clock(s, now, clock):
    s['clock'] = None if clock is None else {**clock, 'since': None}
    for p in s['players'].values():
        p['clock'] = None if clock is None else float(clock['total'])
    _restart(s, now)


def settings(s, raw, ctx):
    a = fields(raw, optional={'owner_only': UNSET, 'clock': UNSET})
    require_host(ctx.role, 'change the room settings')
    require(a['owner_only'] is not UNSET or a['clock'] is not UNSET, INVALID_REQUEST,
            "settings needs 'owner_only' or 'clock'")
    before, clean = _settings(s), {'type': 'settings'}
    if a['owner_only'] is not UNSET:
        s['owner_only'] = clean['owner_only'] = boolean(a['owner_only'], 'owner_only')
    if a['clock'] is not UNSET:
        clean['clock'] = clock_settings(a['clock'])
        _set_clock(s, ctx.now, clean['clock'])
    return clean, {'before': before, 'after': _settings(s)}


def fresh_player(s, name):
    clock = s['clock']
    return {'name': name, 'life': s['format']['starting_life'], 'poison': 0,
            'commander': {}, 'counters': {}, 'partner': False,
            'clock': None if clock is None else float(clock['total'])}


def new_game(s, raw, ctx):
    """Every player starts again; the seats, the log and the room settings stay."""
    a = fields(raw, optional={'format': UNSET, 'starting_life': None,
                              'commander_damage': None, 'clock': UNSET})
    require_host(ctx.role, 'start a new game')
    clean = {'type': 'new-game'}
    if a['format'] is UNSET:
        require(a['starting_life'] is None and a['commander_damage'] is None, INVALID_REQUEST,
                "starting_life and commander_damage go with \"format\": \"custom\"")
        fmt = dict(s['format'])
    else:
        fmt = game_format(a['format'], a['starting_life'], a['commander_damage'])
        clean.update(format=a['format'], starting_life=a['starting_life'],
                     commander_damage=a['commander_damage'])
    clock = _settings(s)['clock']
    if a['clock'] is not UNSET:
        clock = clean['clock'] = clock_settings(a['clock'])
    before = {'game': s['game'], 'format': s['format']}
    s['game'] += 1
    s['format'] = fmt
    s['clock'] = None if clock is None else {**clock, 'since': None}
    for uid, p in s['players'].items():
        s['players'][uid] = fresh_player(s, p['name'])
    s.update(active=None, turn=0, paused=False, history=[],
             markers={name: None for name in MARKERS})
    return clean, {'before': before, 'after': {'game': s['game'], 'format': fmt}}


def remove_player(s, raw, ctx):
    """The host takes a player who left for good out of the game; the log keeps their
    totals (this entry's `before`)."""
    a = fields(raw, ('player',))
    require_host(ctx.role, 'remove a player')
    gone = player(s, a['player'])
    _settle(s, ctx.now)
    order = s['order']
    index = order.index(gone)
    order.remove(gone)
    if s['active'] == gone:
        s['active'] = order[index % len(order)] if order else None
    record = s['players'].pop(gone)
    for name in ('monarch', 'initiative'):
        if s['markers'][name] == gone:
            s['markers'][name] = None
    for p in s['players'].values():
        p['commander'].pop(gone, None)
    _restart(s, ctx.now)
    return {'type': 'remove-player', 'player': gone}, \
        {'player': gone, 'player_name': record['name'], 'before': record, 'after': None}


def join(s, raw, ctx):
    """The server seats an account in the game when it joins the room (never a client)."""
    a = fields(raw, ('name',))
    name = display_name(a['name'])
    uid = user_id(ctx.actor.user_id, 'actor')
    p = s['players'].get(uid)
    if p is not None:
        if p['name'] == name:
            raise Unchanged()
        before, p['name'] = p['name'], name
        return {'type': 'join', 'name': name}, {'player': uid, 'before': before, 'after': name}
    require(len(s['players']) < MAX_PLAYERS, GAME_FULL,
            f'a game holds at most {MAX_PLAYERS} players: the host can remove one who left')
    s['players'][uid] = fresh_player(s, name)
    s['order'].append(uid)
    return {'type': 'join', 'name': name}, {'player': uid, 'before': None, 'after': name}
