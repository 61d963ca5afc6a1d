"""The pure game logic (rhystic/game/state.py): no app, no database, no sockets."""
import copy
import json
import random

import pytest

from rhystic.game import rules
from rhystic.game.state import Actor, GameError, Unchanged, apply, new_state, public, replay

HOST = Actor('u_host', True)
ALICE = Actor('u_alice', False)
BOB = Actor('u_bob', False)
CAROL = Actor('u_carol', False)
STRANGER = Actor('u_stranger', False)  # not in the game: a spectator
NAMES = {HOST: 'Hana', ALICE: 'Alice', BOB: 'Bob', CAROL: 'Carol'}


class Table:
    """A game with a clock and a seeded rng; keeps every entry like the store does."""

    def __init__(self, players=(HOST, ALICE, BOB), fmt='commander', seed=7):
        self.state = new_state(fmt)
        self.now = 1_000_000.0
        self.rng = random.Random(seed)
        self.log = {}
        for actor in players:
            self.do(actor, type='join', name=NAMES[actor])

    def do(self, actor, advance=5.0, **action):
        self.now += advance
        self.state, entry = apply(self.state, action, actor, self.now, self.rng)
        self.log[entry['seq']] = entry
        return entry

    def fails(self, actor, code, advance=5.0, **action):
        before = copy.deepcopy(self.state)
        with pytest.raises(GameError) as caught:
            self.do(actor, advance, **action)
        assert caught.value.code == code, caught.value.message
        assert caught.value.message
        assert self.state == before, 'a refused action changes nothing'
        return caught.value.message

    def player(self, actor):
        return self.state['players'][actor.user_id]

    def replayed(self):
        return replay([self.log[seq] for seq in sorted(self.log)])


@pytest.fixture
def t():
    return Table()

# -- players ------------------------------------------------------------------------

def test_players_join_in_order_with_the_formats_starting_life(t):
    assert t.state['order'] == ['u_host', 'u_alice', 'u_bob']
    assert t.player(ALICE) == {'name': 'Alice', 'life': 40, 'poison': 0, 'commander': {},
                               'counters': {}, 'partner': False, 'clock': None}
    assert Table(fmt='standard').player(ALICE)['life'] == 20
    newcomer = t.do(CAROL, type='join', name='Carol')
    assert t.state['order'][-1] == 'u_carol', 'newcomers go last'
    assert newcomer['type'] == 'join' and newcomer['after'] == 'Carol'


def test_a_returning_player_keeps_their_totals_and_a_new_name_is_logged(t):
    t.do(ALICE, type='life', player='u_alice', delta=-5)
    with pytest.raises(Unchanged):
        apply(t.state, {'type': 'join', 'name': 'Alice'}, ALICE, t.now, t.rng)
    renamed = t.do(ALICE, type='join', name='  Alicia ')
    assert renamed['before'] == 'Alice' and renamed['after'] == 'Alicia'
    assert t.player(ALICE)['life'] == 35 and t.state['order'].index('u_alice') == 1


def test_a_game_holds_at_most_sixteen_players():
    t = Table(players=())
    for n in range(rules.MAX_PLAYERS):
        t.do(Actor(f'u_{n}', False), type='join', name=f'P{n}')
    t.fails(Actor('u_extra', False), rules.GAME_FULL, type='join', name='Extra')


def test_apply_never_changes_the_state_it_is_given(t):
    frozen = copy.deepcopy(t.state)
    new, _ = apply(t.state, {'type': 'life', 'player': 'u_alice', 'delta': -3}, ALICE,
                   t.now + 1, t.rng)
    assert t.state == frozen and new['players']['u_alice']['life'] == 37


def test_every_change_is_one_version_and_the_state_is_plain_json(t):
    version = t.state['version']
    t.do(ALICE, type='roll')
    t.do(BOB, type='life', player='u_bob', delta=-1)
    assert t.state['version'] == version + 2
    assert json.loads(json.dumps(t.state)) == t.state


# -- values and who may change them -------------------------------------------------

def test_deltas_from_two_players_on_one_total_both_count(t):
    t.do(ALICE, type='life', player='u_alice', delta=-1)
    hit = t.do(BOB, type='life', player='u_alice', delta=-1)
    assert t.player(ALICE)['life'] == 38
    assert hit['permission'] == 'damage' and hit['actor'] == 'u_bob'
    assert hit['before'] == 39 and hit['after'] == 38 and hit['player_name'] == 'Alice'


@pytest.mark.parametrize('action', [
    {'type': 'life', 'delta': 2},
    {'type': 'life', 'delta': 0},
    {'type': 'poison', 'delta': -1},
    {'type': 'counter', 'name': 'energy', 'delta': 1},
    {'type': 'commander', 'source': 'u_host', 'delta': 3},
    {'type': 'commander', 'source': 'u_bob', 'delta': -1},
    {'type': 'partner', 'partner': True},
])
def test_a_player_may_not_heal_or_tune_anothers_values(t, action):
    t.do(BOB, type='poison', player='u_alice', delta=1)
    t.fails(BOB, rules.FORBIDDEN, player='u_alice', **action)


@pytest.mark.parametrize('action,field,value', [
    ({'type': 'life', 'delta': -4}, 'life', 36),
    ({'type': 'poison', 'delta': 2}, 'poison', 2),
    ({'type': 'commander', 'source': 'u_bob', 'delta': 6}, 'commander', {'u_bob': [6, 0]}),
])
def test_anyone_records_damage_they_dealt(t, action, field, value):
    entry = t.do(BOB, player='u_alice', **action)
    assert t.player(ALICE)[field] == value and entry['permission'] == 'damage'


def test_the_host_corrects_anyones_values(t):
    entry = t.do(HOST, type='life', player='u_alice', delta=7)
    t.do(HOST, type='counter', player='u_bob', name='energy', delta=2)
    assert t.player(ALICE)['life'] == 47 and t.player(BOB)['counters'] == {'energy': 2}
    assert entry['permission'] == 'host'


def test_owner_only_leaves_each_value_to_its_owner(t):
    t.fails(ALICE, rules.FORBIDDEN, type='settings', owner_only=True)
    t.do(HOST, type='settings', owner_only=True)
    t.fails(BOB, rules.FORBIDDEN, type='life', player='u_alice', delta=-1)
    t.fails(HOST, rules.FORBIDDEN, type='life', player='u_alice', delta=-1)
    t.do(ALICE, type='life', player='u_alice', delta=-1)
    t.do(ALICE, type='counter', player='u_alice', name='rad', delta=3)
    assert t.player(ALICE)['life'] == 39 and t.player(ALICE)['counters'] == {'rad': 3}


@pytest.mark.parametrize('action', [
    {'type': 'life', 'player': 'u_stranger', 'delta': -1},
    {'type': 'life', 'player': 'u_alice', 'delta': -1},
    {'type': 'roll'}, {'type': 'flip'},
    {'type': 'marker', 'marker': 'monarch', 'value': 'u_alice'},
    {'type': 'pause', 'paused': True},
    {'type': 'undo', 'entry': 1},
])
def test_a_spectator_changes_nothing(t, action):
    code = rules.UNKNOWN_PLAYER if action.get('player') == 'u_stranger' else rules.FORBIDDEN
    t.fails(STRANGER, code, **action)


def test_a_host_who_is_not_playing_still_hosts():
    t = Table(players=(ALICE, BOB))
    t.do(HOST, type='life', player='u_alice', delta=-2)
    t.do(HOST, type='first-player')
    entry = t.do(HOST, type='roll')
    assert entry['actor_name'] is None and t.player(ALICE)['life'] == 38


@pytest.mark.parametrize('action,code', [
    ({'type': 'life', 'player': 'u_alice', 'delta': -10100}, rules.OUT_OF_RANGE),
    ({'type': 'life', 'player': 'u_alice', 'delta': 9960}, rules.OUT_OF_RANGE),
    ({'type': 'life', 'player': 'u_alice', 'delta': 100000}, rules.OUT_OF_RANGE),
    ({'type': 'poison', 'player': 'u_alice', 'delta': -1}, rules.OUT_OF_RANGE),
    ({'type': 'poison', 'player': 'u_alice', 'delta': 100}, rules.OUT_OF_RANGE),
    ({'type': 'counter', 'player': 'u_alice', 'name': 'x', 'delta': -1}, rules.OUT_OF_RANGE),
    ({'type': 'commander', 'player': 'u_alice', 'source': 'u_bob', 'delta': 1000},
     rules.OUT_OF_RANGE),
    ({'type': 'life', 'player': 'u_alice', 'delta': '-1'}, rules.INVALID_REQUEST),
    ({'type': 'life', 'player': 'u_alice', 'delta': True}, rules.INVALID_REQUEST),
    ({'type': 'life', 'player': 'u_alice', 'delta': 1.5}, rules.INVALID_REQUEST),
    ({'type': 'life', 'player': 'u_alice'}, rules.INVALID_REQUEST),
    ({'type': 'life', 'player': 'u_alice', 'delta': -1, 'set': 3}, rules.INVALID_REQUEST),
    ({'type': 'life', 'player': 7, 'delta': -1}, rules.INVALID_REQUEST),
    ({'type': 'life', 'player': 'u_nobody', 'delta': -1}, rules.UNKNOWN_PLAYER),
    ({'type': 'counter', 'player': 'u_alice', 'name': 'x' * 25, 'delta': 1},
     rules.INVALID_REQUEST),
    ({'type': 'counter', 'player': 'u_alice', 'name': '  ', 'delta': 1}, rules.INVALID_REQUEST),
    ({'type': 'counter', 'player': 'u_alice', 'name': 'a\nb', 'delta': 1},
     rules.INVALID_REQUEST),
    ({'type': 'commander', 'player': 'u_alice', 'source': 'u_alice', 'delta': 1},
     rules.INVALID_REQUEST),
    ({'type': 'commander', 'player': 'u_alice', 'source': 'u_nobody', 'delta': 1},
     rules.UNKNOWN_PLAYER),
    ({'type': 'commander', 'player': 'u_alice', 'source': 'u_bob', 'delta': 1, 'index': 1},
     rules.INVALID_REQUEST),
    ({'type': 'commander', 'player': 'u_alice', 'source': 'u_bob', 'delta': 1, 'index': 2},
     rules.OUT_OF_RANGE),
    ({'type': 'nonsense'}, rules.INVALID_REQUEST),
    ({'type': 'join', 'name': 'Z', 'extra': 1}, rules.INVALID_REQUEST),
])
def test_bad_value_changes_are_refused_with_a_code(t, action, code):
    t.fails(ALICE if action['type'] != 'commander' else HOST, code, **action)


@pytest.mark.parametrize('action', [None, [], 'life', {'delta': 1}, {'type': 3}])
def test_an_action_must_be_an_object_with_a_type(t, action):
    with pytest.raises(GameError) as caught:
        apply(t.state, action, ALICE, t.now, t.rng)
    assert caught.value.code == rules.INVALID_REQUEST


def test_counters_are_named_freely_up_to_twelve_a_player(t):
    t.do(ALICE, type='counter', player='u_alice', name=' Energy ', delta=3)
    t.do(ALICE, type='counter', player='u_alice', name='Energy', delta=-1, advance=2)
    assert t.player(ALICE)['counters'] == {'Energy': 2}
    for n in range(rules.MAX_COUNTERS - 1):
        t.do(ALICE, type='counter', player='u_alice', name=f'c{n}', delta=1)
    t.fails(ALICE, rules.OUT_OF_RANGE, type='counter', player='u_alice', name='one more',
            delta=1)
    t.do(ALICE, type='counter', player='u_alice', name='c0', delta=1)


# -- commander damage and losing ----------------------------------------------------

def test_commander_damage_costs_life_and_21_from_one_commander_loses(t):
    entry = t.do(BOB, type='commander', player='u_alice', source='u_bob', delta=20)
    assert entry['before'] == 0 and entry['after'] == 20
    assert entry['life'] == {'before': 40, 'after': 20}
    assert public(t.state)['players']['u_alice']['out'] == []
    t.do(HOST, type='commander', player='u_alice', source='u_host', delta=15)
    assert public(t.state)['players']['u_alice']['out'] == [], '20 + 15 from two is not 21'
    t.do(BOB, type='commander', player='u_alice', source='u_bob', delta=1, advance=2)
    assert public(t.state)['players']['u_alice']['out'] == ['commander']
    assert t.player(ALICE)['life'] == 4
    t.do(ALICE, type='life', player='u_alice', delta=20)
    assert public(t.state)['players']['u_alice']['out'] == ['commander'], 'life back, 21 stays'


def test_partner_commanders_count_apart(t):
    t.do(BOB, type='partner', player='u_bob', partner=True)
    t.do(BOB, type='commander', player='u_alice', source='u_bob', delta=15)
    t.do(BOB, type='commander', player='u_alice', source='u_bob', index=1, delta=15)
    assert t.player(ALICE)['commander'] == {'u_bob': [15, 15]}
    assert 'commander' not in public(t.state)['players']['u_alice']['out']
    t.do(ALICE, type='commander', player='u_alice', source='u_bob', index=1, delta=6,
         life=False)
    assert t.player(ALICE)['life'] == 10
    assert public(t.state)['players']['u_alice']['out'] == ['commander']


def test_life_and_poison_losses_and_no_commander_panel_in_standard():
    t = Table(fmt='standard')
    t.do(ALICE, type='life', player='u_alice', delta=-20)
    t.do(ALICE, type='poison', player='u_alice', delta=10)
    assert public(t.state)['players']['u_alice']['out'] == ['life', 'poison']
    t.fails(BOB, rules.INVALID_REQUEST, type='commander', player='u_alice', source='u_bob',
            delta=1)


# -- merging ------------------------------------------------------------------------

def test_rapid_changes_to_one_value_merge_into_one_entry(t):
    first = t.do(ALICE, type='life', player='u_alice', delta=-1)
    for _ in range(6):
        merged = t.do(ALICE, type='life', player='u_alice', delta=-1, advance=1.4)
    assert merged['seq'] == first['seq'] and merged['count'] == 7
    assert merged['before'] == 40 and merged['after'] == 33
    assert merged['action']['delta'] == -7 and merged['version'] == t.state['version']
    later = t.do(ALICE, type='life', player='u_alice', delta=-1, advance=1.6)
    assert later['seq'] == first['seq'] + 1, 'more than 1.5 s later: a new entry'


@pytest.mark.parametrize('second', [
    (ALICE, {'type': 'poison', 'player': 'u_alice', 'delta': 1}),
    (BOB, {'type': 'life', 'player': 'u_alice', 'delta': -1}),
    (ALICE, {'type': 'life', 'player': 'u_bob', 'delta': -1}),
])
def test_changes_to_another_value_or_by_another_player_do_not_merge(t, second):
    first = t.do(ALICE, type='life', player='u_alice', delta=-1)
    actor, action = second
    assert t.do(actor, advance=0.1, **action)['seq'] == first['seq'] + 1


def test_an_entry_in_between_ends_a_merge(t):
    first = t.do(ALICE, type='life', player='u_alice', delta=-1)
    t.do(BOB, type='roll', advance=0.1)
    again = t.do(ALICE, type='life', player='u_alice', delta=-1, advance=0.1)
    assert again['seq'] == first['seq'] + 2 and again['count'] == 1


def test_undoing_a_merged_entry_reverts_all_of_it(t):
    first = t.do(ALICE, type='life', player='u_alice', delta=-2)
    t.do(ALICE, type='life', player='u_alice', delta=-3, advance=0.5)
    t.do(ALICE, type='undo', entry=first['seq'])
    assert t.player(ALICE)['life'] == 40
    again = t.do(ALICE, type='life', player='u_alice', delta=-1, advance=0.1)
    assert again['seq'] != first['seq'], 'nothing merges into an undone entry'


# -- undo ---------------------------------------------------------------------------

def test_a_player_undoes_their_own_last_change(t):
    hit = t.do(BOB, type='life', player='u_alice', delta=-5)
    t.do(ALICE, type='life', player='u_alice', delta=-1)
    undo = t.do(BOB, type='undo', entry=hit['seq'])
    assert t.player(ALICE)['life'] == 39, "Alice's own change stands"
    assert undo['undoes'] == hit['seq'] and undo['before'] == 34 and undo['after'] == 39
    assert undo['target']['type'] == 'life' and undo['player'] == 'u_alice'
    t.fails(BOB, rules.STALE_UNDO, type='undo', entry=hit['seq'])


def test_only_the_last_own_change_and_only_the_host_undoes_others(t):
    older = t.do(ALICE, type='poison', player='u_alice', delta=1)
    newer = t.do(ALICE, type='life', player='u_alice', delta=-1)
    t.do(ALICE, type='roll')
    assert public(t.state)['undo']['u_alice'] == newer['seq']
    t.fails(ALICE, rules.STALE_UNDO, type='undo', entry=older['seq'])
    t.fails(BOB, rules.FORBIDDEN, type='undo', entry=newer['seq'])
    t.do(HOST, type='undo', entry=older['seq'])
    assert t.player(ALICE)['poison'] == 0 and t.player(ALICE)['life'] == 39
    t.do(ALICE, type='undo', entry=newer['seq'])
    assert t.player(ALICE)['life'] == 40 and 'u_alice' not in public(t.state)['undo']


@pytest.mark.parametrize('entry', [0, -1, 'x', None])
def test_an_undo_needs_an_entry_number(t, entry):
    t.fails(ALICE, rules.OUT_OF_RANGE if isinstance(entry, int) else rules.INVALID_REQUEST,
            type='undo', entry=entry)


def test_rolls_and_unknown_entries_are_stale_undos(t):
    roll = t.do(ALICE, type='roll')
    t.fails(ALICE, rules.STALE_UNDO, type='undo', entry=roll['seq'])
    t.fails(HOST, rules.STALE_UNDO, type='undo', entry=999)


def test_the_host_undoes_any_of_the_last_fifty_changes(t):
    first = t.do(ALICE, type='life', player='u_alice', delta=-1)
    for n in range(rules.HISTORY):
        t.do(ALICE, type='life', player='u_alice', delta=-1)
    t.fails(HOST, rules.STALE_UNDO, type='undo', entry=first['seq'])
    t.do(HOST, type='undo', entry=first['seq'] + 1)


def test_an_undo_that_would_leave_the_range_is_out_of_range(t):
    gave = t.do(ALICE, type='poison', player='u_bob', delta=1)
    t.do(BOB, type='poison', player='u_bob', delta=-1)
    t.fails(ALICE, rules.OUT_OF_RANGE, type='undo', entry=gave['seq'])


def test_undoing_a_marker_or_a_turn_that_moved_on_is_stale(t):
    crown = t.do(ALICE, type='marker', marker='monarch', value='u_alice')
    t.do(BOB, type='marker', marker='monarch', value='u_bob')
    t.fails(ALICE, rules.STALE_UNDO, type='undo', entry=crown['seq'])
    t.do(HOST, type='set-active', player='u_alice')
    passed = t.do(ALICE, type='pass-turn')
    t.do(BOB, type='pass-turn')
    t.fails(ALICE, rules.STALE_UNDO, type='undo', entry=passed['seq'])


def test_undo_brings_back_a_passed_turn_and_a_marker(t):
    t.do(HOST, type='set-active', player='u_alice')
    passed = t.do(ALICE, type='pass-turn')
    assert t.state['active'] == 'u_bob' and t.state['turn'] == 2
    t.do(ALICE, type='undo', entry=passed['seq'])
    assert t.state['active'] == 'u_alice' and t.state['turn'] == 1
    day = t.do(BOB, type='marker', marker='day_night', value='day')
    t.do(BOB, type='undo', entry=day['seq'])
    assert t.state['markers']['day_night'] is None


def test_undoing_a_removed_players_change_is_stale(t):
    hit = t.do(CAROL, type='join', name='Carol')
    hit = t.do(CAROL, type='life', player='u_carol', delta=-2)
    t.do(HOST, type='remove-player', player='u_carol')
    t.fails(HOST, rules.STALE_UNDO, type='undo', entry=hit['seq'])
