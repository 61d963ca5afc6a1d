"""The game table's limits, error codes, action shapes and who may do what.

Plain Python: no Flask, no I/O. state.py applies actions; this module says whether an
action is well formed and allowed, so that both read as short lists of rules.
"""
import unicodedata
from collections import namedtuple

# Error codes (the ack's error.code); docs/protocol.md, "The game table", lists them.
INVALID_REQUEST = 'invalid_request'
OUT_OF_RANGE = 'out_of_range'
UNKNOWN_PLAYER = 'unknown_player'
FORBIDDEN = 'forbidden'
STALE_UNDO = 'stale_undo'
STALE_TURN = 'stale_turn'
GAME_FULL = 'game_full'

# Roles. A spectator (anyone who is neither host nor a player) may only read: the
# spectating issue adds such seats without touching these rules.
HOST, PLAYER, SPECTATOR = 'host', 'player', 'spectator'

LIFE_MIN, LIFE_MAX = -999, 9999
POISON_MIN, POISON_MAX = 0, 99
COMMANDER_MIN, COMMANDER_MAX = 0, 999
COUNTER_MIN, COUNTER_MAX = 0, 999
# A delta may be as large as any value's whole range: merged entries add deltas up.
MAX_DELTA = 99999
STARTING_LIFE_MIN, STARTING_LIFE_MAX = 1, 999
COMMANDER_LOSS = 21
POISON_LOSS = 10
MAX_COUNTER_NAME = 24
MAX_COUNTERS = 12
MAX_PLAYERS = 16
MAX_NAME = 40
DICE_MIN, DICE_MAX = 1, 20
SIDES_MIN, SIDES_MAX = 2, 1000
COINS_MIN, COINS_MAX = 1, 20
CLOCK_TOTAL_MIN, CLOCK_TOTAL_MAX = 60, 36000
CLOCK_INCREMENT_MAX = 600
MERGE_SECONDS = 1.5
HISTORY = 50   # undoable entries kept in the state: the host can undo any of them

FORMATS = {
    'commander': {'name': 'commander', 'starting_life': 40, 'commander_damage': True},
    'standard': {'name': 'standard', 'starting_life': 20, 'commander_damage': False},
}
MARKERS = ('monarch', 'initiative', 'day_night')
DAY_NIGHT = ('day', 'night')


class GameError(Exception):
    """An action refused: code is one of the codes above, message is for people."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class Unchanged(GameError):
    """The action would change nothing (a returning player): no entry, no version."""

    def __init__(self):
        super().__init__('unchanged', 'nothing to change')


# The actor is stamped by the server: the account, and whether it is the room's host
# (read through one function, game.store.host_of, so a host transfer changes one place).
Actor = namedtuple('Actor', 'user_id host')


def role_of(state, actor):
    if actor.host:
        return HOST
    return PLAYER if actor.user_id in state['players'] else SPECTATOR


def require(condition, code, message):
    if not condition:
        raise GameError(code, message)


# -- shapes -------------------------------------------------------------------------

def fields(action, required=(), optional=None):
    """The action's fields, with unknown ones refused and optional ones defaulted."""
    optional = optional or {}
    unknown = sorted(set(action) - {'type'} - set(required) - set(optional))
    require(not unknown, INVALID_REQUEST, f"{action['type']}: unknown field {unknown[:1]}")
    for name in required:
        require(name in action, INVALID_REQUEST, f"{action['type']} needs '{name}'")
    return {**optional, **{k: v for k, v in action.items() if k != 'type'}}


def integer(value, name, low, high):
    require(isinstance(value, int) and not isinstance(value, bool), INVALID_REQUEST,
            f'{name} must be an integer')
    require(low <= value <= high, OUT_OF_RANGE, f'{name} must be from {low} to {high}')
    return value


def boolean(value, name):
    require(isinstance(value, bool), INVALID_REQUEST, f'{name} must be true or false')
    return value


def user_id(value, name):
    require(isinstance(value, str) and 0 < len(value) <= 64, INVALID_REQUEST,
            f'{name} must be a user_id string')
    return value


def player(state, value, name='player'):
    user_id(value, name)
    require(value in state['players'], UNKNOWN_PLAYER, f'no player {value[:64]!r} in this game')
    return value


def counter_name(value):
    require(isinstance(value, str), INVALID_REQUEST, 'name must be a string')
    value = unicodedata.normalize('NFC', value).strip()
    require(0 < len(value) <= MAX_COUNTER_NAME and value.isprintable(), INVALID_REQUEST,
            f'a counter name is 1 to {MAX_COUNTER_NAME} printable characters')
    return value


def display_name(value):
    value = value if isinstance(value, str) else ''
    return value.strip()[:MAX_NAME] or 'Player'


def clock_settings(value):
    """{total, increment} in seconds, or None for no clocks."""
    if value is None:
        return None
    require(isinstance(value, dict), INVALID_REQUEST,
            'clock must be null or {"total": seconds, "increment": seconds}')
    clean = fields({'type': 'clock', **value}, required=('total',), optional={'increment': 0})
    return {'total': integer(clean['total'], 'clock.total', CLOCK_TOTAL_MIN, CLOCK_TOTAL_MAX),
            'increment': integer(clean['increment'], 'clock.increment', 0,
                                 CLOCK_INCREMENT_MAX)}


def game_format(name, starting_life=None, commander_damage=None):
    require(name in (*FORMATS, 'custom'), INVALID_REQUEST,
            'format must be commander, standard or custom')
    if name != 'custom':
        require(starting_life is None and commander_damage is None, INVALID_REQUEST,
                'starting_life and commander_damage go with the custom format only')
        return dict(FORMATS[name])
    require(starting_life is not None, INVALID_REQUEST, 'a custom format needs starting_life')
    return {'name': 'custom',
            'starting_life': integer(starting_life, 'starting_life', STARTING_LIFE_MIN,
                                     STARTING_LIFE_MAX),
            'commander_damage': False if commander_damage is None
            else boolean(commander_damage, 'commander_damage')}


# -- permissions --------------------------------------------------------------------

def may_change(state, actor, role, kind, target, delta, source=None):
    """How the actor may change target's value: 'own', 'damage' or 'host'; else refuse.

    By default a player changes their own values, and may record damage they dealt to
    someone else (life lost, poison, their own commander's damage). The host may correct
    anyone's. With owner_only set, only a value's owner changes it.
    """
    require(role != SPECTATOR, FORBIDDEN, 'spectators cannot change the game')
    if actor.user_id == target:
        return 'own'
    require(not state['owner_only'], FORBIDDEN,
            'in this room only the owner of a value changes it')
    if role == HOST:
        return 'host'
    damage = ((kind == 'life' and delta < 0) or (kind == 'poison' and delta > 0) or
              (kind == 'commander' and delta > 0 and source == actor.user_id))
    require(damage, FORBIDDEN, "you may only record damage you dealt to another player")
    return 'damage'


def require_host(role, what):
    require(role == HOST, FORBIDDEN, f'only the host can {what}')


def require_seated(role):
    require(role != SPECTATOR, FORBIDDEN, 'spectators cannot change the game')
