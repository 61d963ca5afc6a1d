"""Replay: any sequence of actions by several players, replayed from its log, gives the
same state (rhystic/game/state.py replay())."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rhystic.game import rules
from rhystic.game.state import Actor, GameError, Unchanged, public
from test_game_state import ALICE, BOB, CAROL, HOST, STRANGER, Table, t  # noqa: F401


# -- replay -------------------------------------------------------------------------

def test_replaying_the_log_gives_the_same_state(t):
    t.do(HOST, type='settings', clock={'total': 600, 'increment': 3})
    t.do(HOST, type='first-player')
    for _ in range(3):
        t.do(ALICE, type='life', player='u_alice', delta=-1, advance=0.5)
    t.do(BOB, type='roll', dice=4, sides=20)
    t.do(t.state['active'] and Actor(t.state['active'], t.state['active'] == 'u_host'),
         type='pass-turn')
    assert t.replayed() == t.state


PLAYERS = [HOST, ALICE, BOB, CAROL, STRANGER]
IDS = [a.user_id for a in PLAYERS] + ['u_nobody']
# Tokens resolved while the sequence runs, so that most actions are ones the rules allow:
# SELF is the actor, ACTIVE the player whose turn it is, MINE the actor's last undoable
# entry, ANY some undoable entry, AGAIN the previous step once more (a merge, usually).
SELF, ACTIVE, MINE, ANY, AGAIN = 'SELF', 'ACTIVE', 'MINE', 'ANY', 'AGAIN'


def _actions():
    ids = st.sampled_from([SELF] * 6 + IDS)
    small = st.integers(-6, 6)
    undo = st.fixed_dictionaries({'type': st.just('undo'),
                                  'entry': st.sampled_from([MINE, MINE, ANY, 1, 99])})
    return st.one_of(
        st.just(AGAIN), st.just(AGAIN), st.just(AGAIN), undo, undo,
        st.fixed_dictionaries({'type': st.just('life'), 'player': ids, 'delta': small}),
        st.fixed_dictionaries({'type': st.just('poison'), 'player': ids, 'delta': small}),
        st.fixed_dictionaries({'type': st.just('commander'), 'player': st.sampled_from(IDS),
                               'source': ids,
                               'delta': st.integers(-3, 12), 'index': st.sampled_from([0, 1]),
                               'life': st.booleans()}),
        st.fixed_dictionaries({'type': st.just('counter'), 'player': ids,
                               'name': st.sampled_from(['energy', 'rad', 'xp']),
                               'delta': small}),
        st.fixed_dictionaries({'type': st.just('partner'), 'player': ids,
                               'partner': st.booleans()}),
        st.fixed_dictionaries({'type': st.just('marker'),
                               'marker': st.sampled_from(['monarch', 'initiative']),
                               'value': st.sampled_from(IDS + [SELF, None])}),
        st.fixed_dictionaries({'type': st.just('marker'), 'marker': st.just('day_night'),
                               'value': st.sampled_from(['day', 'night', None])}),
        st.fixed_dictionaries({'type': st.just('pass-turn')}),
        st.fixed_dictionaries({'type': st.just('set-active'), 'player': ids}),
        st.fixed_dictionaries({'type': st.just('first-player')}),
        st.fixed_dictionaries({'type': st.just('seat-order'),
                               'order': st.permutations(['u_host', 'u_alice', 'u_bob'])}),
        st.fixed_dictionaries({'type': st.just('pause'), 'paused': st.booleans()}),
        st.fixed_dictionaries({'type': st.just('roll'), 'dice': st.integers(1, 4),
                               'sides': st.integers(2, 20)}),
        st.fixed_dictionaries({'type': st.just('flip'), 'coins': st.integers(1, 3)}),
        st.fixed_dictionaries({'type': st.just('settings'), 'owner_only': st.booleans()}),
        st.fixed_dictionaries({'type': st.just('settings'), 'clock': st.sampled_from(
            [None, {'total': 60, 'increment': 2}])}),
        st.fixed_dictionaries({'type': st.just('new-game'), 'format': st.sampled_from(
            ['commander', 'standard'])}),
        st.fixed_dictionaries({'type': st.just('remove-player'), 'player': ids}),
        st.fixed_dictionaries({'type': st.just('join'), 'name': st.sampled_from(['C', 'D'])}),
    )


def _resolve(t, actor, action):
    """The step's actor and action with its tokens replaced by what they stand for."""
    if actor == ACTIVE:
        active = t.state['active'] or 'u_host'
        actor = Actor(active, active == 'u_host')
    undo = public(t.state)
    resolved = {}
    for name, value in action.items():
        if value == SELF:
            value = actor.user_id
        elif value == MINE:
            value = undo['undo'].get(actor.user_id, 1)
        elif value == ANY:
            value = undo['undoable'][0] if undo['undoable'] else 1
        resolved[name] = value
    return actor, resolved


steps = st.lists(st.tuples(st.sampled_from(PLAYERS + [ACTIVE] * 2), _actions(),
                           st.sampled_from([0.0, 0.3, 1.0, 1.5, 1.6, 7.0, 40.0])),
                 min_size=10, max_size=80)
CODES = (rules.INVALID_REQUEST, rules.OUT_OF_RANGE, rules.UNKNOWN_PLAYER, rules.FORBIDDEN,
         rules.STALE_UNDO, rules.STALE_TURN, rules.GAME_FULL)


def run_steps(t, steps):
    """Run the steps, skipping the refused ones; returns how many changed the state."""
    applied, previous = 0, (HOST, {'type': 'roll'})
    for actor, action, advance in steps:
        actor, action = previous if action == AGAIN else _resolve(t, actor, action)
        previous = actor, action
        try:
            t.do(actor, advance, **action)
            applied += 1
        except Unchanged:
            pass
        except GameError as exc:
            assert exc.code in CODES, exc.code
    return applied


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps, seed=st.integers(0, 2 ** 32))
def test_any_sequence_of_actions_replays_from_its_log_to_the_same_state(steps, seed):
    t = Table(seed=seed)
    applied = run_steps(t, steps)
    assert t.replayed() == t.state
    assert t.state['version'] == 3 + applied
    assert sum(e['count'] for e in t.log.values()) == t.state['version']
