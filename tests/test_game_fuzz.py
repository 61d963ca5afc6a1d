"""Arbitrary payloads to the game table's events: each gets an ack with a documented
code, a refusal changes nothing, and another room never notices."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import make_app, new_room, new_user
from rhystic.game.state import CLIENT_ACTIONS
from test_signaling import Peer
from test_signaling_fuzz import json_values

EVENTS = ['game', 'game-sync', 'game-log', 'chat']
# Every ack error code of these events that docs/protocol.md documents.
ERROR_CODES = {'invalid_request', 'out_of_range', 'unknown_player', 'forbidden', 'stale_undo',
               'stale_turn', 'too_large', 'rate_limited', 'unavailable'}


def messages(ids):
    """(event, payload): mostly shaped like real ones and well formed, so the rules past
    the shape checks get hit too; now and then a stray field, a wrong type, or junk."""
    def mostly(good):
        return st.one_of(*[good] * 6, json_values)
    player = mostly(st.sampled_from(ids))
    number = mostly(st.integers(-30, 30)) | st.integers(-2**63, 2**63 - 1)
    flag = mostly(st.booleans())
    clock = st.none() | st.fixed_dictionaries({'total': mostly(st.integers(0, 40000))},
                                              optional={'increment': number})
    fields = {
        'life': ({'player': player, 'delta': number}, {}),
        'poison': ({'player': player, 'delta': number}, {}),
        'commander': ({'player': player, 'source': player, 'delta': number},
                      {'index': number, 'life': flag}),
        'counter': ({'player': player, 'name': mostly(st.text(max_size=30)), 'delta': number},
                    {}),
        'partner': ({'player': player, 'partner': flag}, {}),
        'marker': ({'marker': mostly(st.sampled_from(['monarch', 'initiative', 'day_night'])),
                    'value': player | st.sampled_from(['day', 'night'])}, {}),
        'pass-turn': ({}, {'turn': number}),
        'set-active': ({'player': player}, {}),
        'first-player': ({}, {}),
        'seat-order': ({'order': mostly(st.permutations(ids[:2]).map(list))}, {}),
        'pause': ({'paused': flag}, {}),
        'roll': ({}, {'dice': number, 'sides': number}),
        'flip': ({}, {'coins': number}),
        'undo': ({'entry': number}, {}),
        'settings': ({}, {'owner_only': flag, 'clock': mostly(clock)}),
        'new-game': ({}, {'format': mostly(st.sampled_from(['commander', 'standard', 'custom'])),
                          'starting_life': number, 'commander_damage': flag,
                          'clock': mostly(clock)}),
        'remove-player': ({'player': mostly(st.just('u_nobody'))}, {}),
    }
    assert set(fields) == set(CLIENT_ACTIONS), 'every action a client may send is fuzzed'
    extra = {'request_id': mostly(st.text(max_size=20)) | st.text(min_size=60, max_size=70)
             | st.integers(-2**63, 2**63 - 1)}
    actions = [st.fixed_dictionaries({'type': st.just(kind), **required},
                                     optional={**optional, **extra})
               for kind, (required, optional) in fields.items()]
    chat = st.fixed_dictionaries({'text': mostly(st.text(max_size=600))}, optional=extra)
    page = st.fixed_dictionaries({}, optional={'before': number, 'limit': number})
    stray = st.builds(lambda payload, name, value: {**payload, name: value},
                      st.one_of(*actions), st.text(max_size=10), json_values)
    game = st.one_of(*actions, stray)
    return st.one_of(
        st.tuples(st.just('game'), game), st.tuples(st.just('game'), game),
        st.tuples(st.just('chat'), chat), st.tuples(st.just('game-log'), page),
        st.tuples(st.just('game-sync'), st.sampled_from([None, {}])),
        st.tuples(st.sampled_from(EVENTS), json_values | game | chat | page))


@pytest.fixture(scope='module')
def arena(tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp('fuzz'), SIGNAL_RATE=10**6, SIGNAL_BURST=10**6,
                   GAME_RATE=10**6, GAME_BURST=10**6, CHAT_RATE=10**6, CHAT_BURST=10**6)
    owner = new_user(app.test_client(), 'fuzzhost', 'Host')
    players = [new_user(app.test_client(), display_name=n) for n in ('Fuzz', 'Bystander')]
    room, quiet_room = (new_room(app.test_client(), owner['token']) for _ in range(2))
    host = Peer(app, room, owner['token'])
    fuzzer = Peer(app, room, players[0]['token'])
    quiet = Peer(app, quiet_room, players[1]['token'])
    ids = [owner['user_id'], players[0]['user_id'], 'u_nobody']
    return (fuzzer, host), host, quiet, ids


def check_ack(ack):
    assert isinstance(ack, dict) and isinstance(ack.get('ok'), bool), ack
    if not ack['ok']:
        assert ack['error']['code'] in ERROR_CODES, ack
        assert isinstance(ack['error']['message'], str) and ack['error']['message']


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_game_event_answers_arbitrary_payloads(arena, data):
    players, host, quiet, ids = arena
    fuzzer = data.draw(st.sampled_from(players))
    event, payload = data.draw(messages(ids))
    for peer in (*players, quiet):
        peer.pump()
    for peer in players:
        peer.inbox.clear()
    before = host.emit('game-sync')['version']
    ack = fuzzer.emit(event, payload)
    check_ack(ack)
    after = host.emit('game-sync')['version']
    if event == 'game' and ack['ok']:
        assert after == ack['version'] > before
        assert host.next('game-update')['version'] == ack['version']
    else:
        assert after == before, 'only an accepted action changes the table'
        assert host.events('game-update') == []
    if event == 'chat' and ack['ok']:
        assert host.next('chat-message')['id'] == ack['id']
    assert quiet.events() == [], 'another room notices nothing'
