"""The pure game logic, room-wide: markers, turns, seats, clocks, dice, settings, a new
game and removing a player (rhystic/game/table.py)."""
import pytest

from rhystic.game import rules
from rhystic.game.state import public
from test_game_state import ALICE, BOB, CAROL, HOST, Table, t  # noqa: F401 (t: a fixture)


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
