"""The pure game logic (rhystic/game/state.py): no app, no database, no sockets."""
import copy
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


# -- markers, turns, seats ----------------------------------------------------------

def test_markers_move_between_players(t):
    entry = t.do(BOB, type='marker', marker='monarch', value='u_alice')
    assert t.state['markers']['monarch'] == 'u_alice' and entry['player'] == 'u_alice'
    t.do(ALICE, type='marker', marker='initiative', value='u_bob')
    t.do(ALICE, type='marker', marker='day_night', value='night')
    t.do(ALICE, type='marker', marker='monarch', value=None)
    assert t.state['markers'] == {'monarch': None, 'initiative': 'u_bob', 'day_night': 'night'}
    t.fails(ALICE, rules.UNKNOWN_PLAYER, type='marker', marker='monarch', value='u_nobody')
    t.fails(ALICE, rules.INVALID_REQUEST, type='marker', marker='day_night', value='dusk')
    t.fails(ALICE, rules.INVALID_REQUEST, type='marker', marker='crown', value=None)


def test_turns_pass_around_the_seat_order(t):
    t.fails(ALICE, rules.INVALID_REQUEST, type='pass-turn')
    t.fails(ALICE, rules.FORBIDDEN, type='first-player')
    first = t.do(HOST, type='first-player')
    assert first['random'] and first['result']['player'] == t.state['active']
    assert t.state['turn'] == 1
    t.do(HOST, type='set-active', player='u_bob')
    t.fails(ALICE, rules.FORBIDDEN, type='pass-turn')
    passed = t.do(BOB, type='pass-turn', turn=1)
    assert t.state['active'] == 'u_host' and t.state['turn'] == 2, 'the order wraps round'
    assert passed['before'] == {'active': 'u_bob', 'turn': 1}
    t.fails(HOST, rules.STALE_TURN, type='pass-turn', turn=1)
    t.do(HOST, type='pass-turn', turn=2)
    assert t.state['active'] == 'u_alice'
    t.fails(ALICE, rules.FORBIDDEN, type='set-active', player='u_bob')


def test_first_player_is_a_fair_draw():
    seen = set()
    for seed in range(40):
        t = Table(seed=seed)
        seen.add(t.do(HOST, type='first-player')['result']['player'])
    assert seen == {'u_host', 'u_alice', 'u_bob'}


def test_the_host_reorders_the_seats(t):
    t.fails(ALICE, rules.FORBIDDEN, type='seat-order', order=['u_bob', 'u_alice', 'u_host'])
    for bad in (['u_bob', 'u_alice'], ['u_bob', 'u_bob', 'u_host'], 'u_bob', [1, 2, 3],
                ['u_bob', 'u_alice', 'u_nobody']):
        t.fails(HOST, rules.INVALID_REQUEST, type='seat-order', order=bad)
    t.do(HOST, type='seat-order', order=['u_bob', 'u_alice', 'u_host'])
    t.do(HOST, type='set-active', player='u_bob')
    t.do(BOB, type='pass-turn')
    assert t.state['active'] == 'u_alice'


# -- clocks -------------------------------------------------------------------------

def test_chess_clocks_run_for_the_active_player_and_stop_when_paused(t):
    t.fails(HOST, rules.OUT_OF_RANGE, type='settings', clock={'total': 10})
    t.fails(HOST, rules.INVALID_REQUEST, type='settings', clock={'total': 600, 'bonus': 1})
    t.do(HOST, type='settings', clock={'total': 600, 'increment': 5})
    assert t.player(ALICE)['clock'] == 600 and t.state['clock']['since'] is None
    t.do(HOST, type='set-active', player='u_alice', advance=1)
    assert t.state['clock']['since'] == t.now
    t.do(ALICE, type='pass-turn', advance=10)
    assert t.player(ALICE)['clock'] == 595, '600 - 10 + 5'
    t.do(ALICE, type='pause', paused=True, advance=20)
    assert t.player(BOB)['clock'] == 580 and t.state['clock']['since'] is None
    t.fails(ALICE, rules.INVALID_REQUEST, type='pause', paused=True)
    t.do(BOB, type='roll', advance=100)
    t.do(BOB, type='pause', paused=False, advance=100)
    t.do(BOB, type='pass-turn', advance=30)
    assert t.player(BOB)['clock'] == 555, 'the pause cost nothing: 600 - 20 - 30 + 5'
    t.do(HOST, type='settings', clock=None)
    assert t.player(BOB)['clock'] is None and t.state['clock'] is None


# -- dice and coins -----------------------------------------------------------------

def test_dice_and_coins_come_from_the_given_rng_and_are_logged(t):
    roll = t.do(ALICE, type='roll', dice=20, sides=1000)
    assert len(roll['result']['rolls']) == 20 and roll['random'] == roll['result']['rolls']
    assert all(1 <= r <= 1000 for r in roll['result']['rolls'])
    assert roll['result']['total'] == sum(roll['result']['rolls'])
    default = t.do(BOB, type='roll')
    assert default['result']['dice'] == 1 and default['result']['sides'] == 6
    coins = t.do(BOB, type='flip', coins=5)
    assert len(coins['result']['results']) == 5
    assert coins['result']['heads'] == coins['result']['results'].count('heads')


@pytest.mark.parametrize('action,code', [
    ({'type': 'roll', 'dice': 0}, rules.OUT_OF_RANGE),
    ({'type': 'roll', 'dice': 21}, rules.OUT_OF_RANGE),
    ({'type': 'roll', 'sides': 1}, rules.OUT_OF_RANGE),
    ({'type': 'roll', 'sides': 1001}, rules.OUT_OF_RANGE),
    ({'type': 'roll', 'sides': '6'}, rules.INVALID_REQUEST),
    ({'type': 'flip', 'coins': 21}, rules.OUT_OF_RANGE),
    ({'type': 'flip', 'coins': 1, 'bias': 1}, rules.INVALID_REQUEST),
])
def test_bad_rolls_are_refused(t, action, code):
    t.fails(ALICE, code, **action)


def test_the_same_seed_rolls_the_same_and_another_does_not():
    rolls = [Table(seed=s).do(ALICE, type='roll', dice=10, sides=100)['result']['rolls']
             for s in (1, 1, 2)]
    assert rolls[0] == rolls[1] != rolls[2]


# -- settings, new game, removal ----------------------------------------------------

def test_settings_are_the_hosts_and_need_a_field(t):
    t.fails(HOST, rules.INVALID_REQUEST, type='settings')
    t.fails(HOST, rules.INVALID_REQUEST, type='settings', owner_only='yes')
    entry = t.do(HOST, type='settings', owner_only=True)
    assert entry['before']['owner_only'] is False and entry['after']['owner_only'] is True


def test_a_new_game_resets_the_table_and_keeps_players_and_log(t):
    t.do(HOST, type='settings', clock={'total': 300, 'increment': 0})
    t.do(BOB, type='partner', player='u_bob', partner=True)
    hit = t.do(BOB, type='commander', player='u_alice', source='u_bob', delta=5)
    t.do(ALICE, type='counter', player='u_alice', name='energy', delta=2)
    t.do(ALICE, type='marker', marker='monarch', value='u_alice')
    t.do(HOST, type='first-player')
    t.fails(ALICE, rules.FORBIDDEN, type='new-game')
    entry = t.do(HOST, type='new-game', format='custom', starting_life=30)
    assert entry['before']['game'] == 1 and entry['after']['game'] == 2 and entry['game'] == 2
    assert t.state['game'] == 2 and t.state['order'] == ['u_host', 'u_alice', 'u_bob']
    assert t.player(ALICE) == {'name': 'Alice', 'life': 30, 'poison': 0, 'commander': {},
                               'counters': {}, 'partner': False, 'clock': 300.0}
    assert t.state['active'] is None and t.state['turn'] == 0
    assert t.state['markers']['monarch'] is None
    assert t.state['format'] == {'name': 'custom', 'starting_life': 30,
                                 'commander_damage': False}
    t.fails(HOST, rules.STALE_UNDO, type='undo', entry=hit['seq'])
    assert hit['seq'] in t.log, 'the finished game stays in the log'
    t.do(HOST, type='new-game', format='standard', clock=None)
    assert t.player(BOB)['life'] == 20 and t.player(BOB)['clock'] is None
    t.do(HOST, type='new-game')
    assert t.player(BOB)['life'] == 20 and t.state['game'] == 4


@pytest.mark.parametrize('action,code', [
    ({'format': 'custom'}, rules.INVALID_REQUEST),
    ({'format': 'custom', 'starting_life': 0}, rules.OUT_OF_RANGE),
    ({'format': 'custom', 'starting_life': 1000}, rules.OUT_OF_RANGE),
    ({'format': 'standard', 'starting_life': 30}, rules.INVALID_REQUEST),
    ({'starting_life': 30}, rules.INVALID_REQUEST),
    ({'format': 'vintage'}, rules.INVALID_REQUEST),
    ({'format': 'custom', 'starting_life': 30, 'commander_damage': 'yes'},
     rules.INVALID_REQUEST),
])
def test_bad_new_game_settings_are_refused(t, action, code):
    t.fails(HOST, code, type='new-game', **action)


def test_a_custom_format_may_track_commander_damage(t):
    t.do(HOST, type='new-game', format='custom', starting_life=25, commander_damage=True)
    t.do(BOB, type='commander', player='u_alice', source='u_bob', delta=21)
    assert public(t.state)['players']['u_alice']['out'] == ['commander']


def test_removing_a_player_keeps_their_totals_in_the_log(t):
    t.do(CAROL, type='join', name='Carol')
    t.do(CAROL, type='life', player='u_carol', delta=-9)
    t.do(CAROL, type='commander', player='u_alice', source='u_carol', delta=4)
    t.do(ALICE, type='marker', marker='monarch', value='u_carol')
    t.do(HOST, type='set-active', player='u_carol')
    t.fails(ALICE, rules.FORBIDDEN, type='remove-player', player='u_carol')
    t.fails(HOST, rules.UNKNOWN_PLAYER, type='remove-player', player='u_nobody')
    entry = t.do(HOST, type='remove-player', player='u_carol')
    assert entry['before']['life'] == 31 and entry['player_name'] == 'Carol'
    assert 'u_carol' not in t.state['players'] and 'u_carol' not in t.state['order']
    assert t.state['active'] == 'u_host', 'the turn goes to the next seat'
    assert t.state['markers']['monarch'] is None
    assert t.player(ALICE)['commander'] == {}
    t.fails(CAROL, rules.FORBIDDEN, type='roll')
    assert t.do(CAROL, type='join', name='Carol')['before'] is None, 'back as a newcomer'
    assert t.player(CAROL)['life'] == 40 and t.state['order'][-1] == 'u_carol'


def test_public_view_leaves_out_the_history(t):
    t.do(ALICE, type='life', player='u_alice', delta=-1)
    view = public(t.state)
    assert 'history' not in view and view['undoable'] == [t.state['seq']]
    assert view['version'] == t.state['version']


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
