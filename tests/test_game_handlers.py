"""The game table's Socket.IO events and HTTP endpoint, through Flask-SocketIO's test
client: every event, every error code, and that nobody else notices a refusal."""
import pytest

from conftest import make_app, new_room, new_user
from rhystic.extensions import db
from rhystic.game import rules
from rhystic.game.state import Actor
from rhystic.game.store import GameStore
from test_signaling import Peer


class Table:
    """A room with its host and two players, each connected."""

    def __init__(self, app):
        self.app = app
        client = app.test_client()
        self.owner = new_user(client, 'owner', 'Hana')
        self.room = new_room(client, self.owner['token'], name='Friday')
        self.users = [new_user(app.test_client(), display_name=name) for name in ('Alice', 'Bob')]
        self.host = Peer(app, self.room, self.owner['token'])
        self.alice = Peer(app, self.room, self.users[0]['token'])
        self.bob = Peer(app, self.room, self.users[1]['token'])
        for peer in self.peers:
            drain(peer)  # what the joins said

    @property
    def peers(self):
        return [self.host, self.alice, self.bob]

    def uid(self, peer):
        return {self.host: self.owner, self.alice: self.users[0],
                self.bob: self.users[1]}[peer]['user_id']

    def act(self, peer, **action):
        ack = peer.emit('game', action)
        assert ack['ok'] is True, ack
        return ack


@pytest.fixture
def t(sqlite_app):
    return Table(sqlite_app)


def drain(peer):
    peer.pump()
    peer.inbox.clear()


def _code(ack):
    assert ack['ok'] is False and ack['error']['message'], ack
    return ack['error']['code']


# -- the welcome --------------------------------------------------------------------

def test_the_welcome_carries_the_table_and_the_others_hear_of_the_newcomer(app):
    client = app.test_client()
    owner = new_user(client, 'owner', 'Hana')
    room = new_room(client, owner['token'])
    host = Peer(app, room, owner['token'])
    game = host.welcome['game']
    assert game['role'] == 'host' and game['host'] == owner['user_id']
    assert game['version'] == 1 and game['state']['order'] == [owner['user_id']]
    assert game['state']['players'][owner['user_id']]['life'] == 40
    assert [e['type'] for e in game['log']] == ['join'] and game['chat'] == []
    assert 'history' not in game['state'] and game['server_time'] > 0

    alice = new_user(app.test_client(), display_name='Alice')
    a = Peer(app, room, alice['token'])
    assert a.welcome['game']['role'] == 'player'
    assert a.welcome['game']['state']['order'] == [owner['user_id'], alice['user_id']]
    update = host.next('game-update')
    assert update['entry']['type'] == 'join' and update['entry']['player_name'] == 'Alice'
    assert update['version'] == 2 and update['peer_id'] == a.peer_id
    assert update['state'] == a.welcome['game']['state']
    assert a.events('game-update') == [], 'the newcomer has it all in its welcome'


def test_a_player_who_comes_back_finds_their_totals_and_is_one_player(t):
    t.act(t.alice, type='life', player=t.uid(t.alice), delta=-7)
    t.bob.next('game-update')
    t.alice.drop()
    again = Peer(t.app, t.room, t.users[0]['token'], peer_id=t.alice.peer_id,
                 resume=t.alice.welcome['resume'])
    assert again.welcome['resumed'] is True
    assert again.welcome['game']['state']['players'][t.uid(t.alice)]['life'] == 33
    second_device = Peer(t.app, t.room, t.users[0]['token'])
    assert second_device.peer_id != again.peer_id
    state = second_device.welcome['game']['state']
    assert len(state['players']) == 3 and state['version'] == again.welcome['game']['version']
    assert t.bob.events('game-update') == [], 'no one joined the game'


def test_the_table_survives_a_restart_of_the_server(tmp_path):
    first = make_app(tmp_path)
    t = Table(first)
    t.act(t.bob, type='life', player=t.uid(t.alice), delta=-3)
    t.act(t.host, type='first-player')
    t.alice.emit('chat', {'text': 'gg'})
    for peer in t.peers:
        peer.drop()
    with first.app_context():
        db.engine.dispose()
    second = make_app(tmp_path)  # the same database: a restart
    back = Peer(second, t.room, t.users[0]['token'])
    game = back.welcome['game']
    assert game['state']['players'][t.uid(t.alice)]['life'] == 37
    assert game['state']['turn'] == 1 and [m['text'] for m in game['chat']] == ['gg']
    assert [e['type'] for e in game['log']][-2:] == ['life', 'first-player']


def broken(*args, **kwargs):
    raise RuntimeError('the database is away')


def test_a_welcome_without_its_database_still_seats_the_player(t, monkeypatch):
    monkeypatch.setattr(GameStore, 'apply', broken)
    carol = new_user(t.app.test_client(), display_name='Carol')
    c = Peer(t.app, t.room, carol['token'])
    assert c.connected and c.welcome['game'] is None
    monkeypatch.undo()
    sync = c.emit('game-sync')
    assert sync['ok'] is True and carol['user_id'] not in sync['state']['players']
    assert sync['role'] == 'spectator', 'in the game once it is seated again (a reconnect)'


# -- game actions -------------------------------------------------------------------

def test_an_action_reaches_everyone_with_the_senders_request_id(t):
    ack = t.bob.emit('game', {'type': 'life', 'player': t.uid(t.alice), 'delta': -2,
                              'request_id': 'b-17'})
    assert ack['ok'] is True and ack['version'] == 4
    entry = ack['entry']
    assert entry['actor'] == t.uid(t.bob) and entry['permission'] == 'damage'
    assert entry['before'] == 40 and entry['after'] == 38
    for peer in t.peers:
        update = peer.next('game-update')
        assert update['version'] == 4 and update['entry'] == entry
        assert update['request_id'] == 'b-17' and update['peer_id'] == t.bob.peer_id
        assert update['state']['players'][t.uid(t.alice)]['life'] == 38


def test_the_server_stamps_the_actor(t):
    ack = t.bob.emit('game', {'type': 'life', 'player': t.uid(t.bob), 'delta': -1,
                              'actor': t.uid(t.host)})
    assert _code(ack) == 'invalid_request', 'no field names the actor'
    ack = t.act(t.bob, type='life', player=t.uid(t.bob), delta=-1)
    assert ack['entry']['actor'] == t.uid(t.bob) and ack['entry']['host'] is False


def test_dice_show_the_same_result_to_everyone(t):
    ack = t.act(t.alice, type='roll', dice=3, sides=20)
    rolls = ack['entry']['result']['rolls']
    assert len(rolls) == 3 and all(1 <= r <= 20 for r in rolls)
    for peer in t.peers:
        assert peer.next('game-update')['entry']['result']['rolls'] == rolls


def test_the_host_runs_the_turns_and_undo_works(t):
    assert _code(t.alice.emit('game', {'type': 'first-player'})) == 'forbidden'
    t.act(t.host, type='set-active', player=t.uid(t.alice))
    passed = t.act(t.alice, type='pass-turn', turn=1)['entry']
    assert passed['after'] == {'active': t.uid(t.bob), 'turn': 2}
    t.act(t.alice, type='undo', entry=passed['seq'])
    sync = t.bob.emit('game-sync')
    assert sync['state']['active'] == t.uid(t.alice) and sync['state']['turn'] == 1


@pytest.mark.parametrize('who,payload,code', [
    ('alice', None, 'invalid_request'),
    ('alice', 'life', 'invalid_request'),
    ('alice', {'type': 'join', 'name': 'Mallory'}, 'invalid_request'),
    ('alice', {'type': 'nonsense'}, 'invalid_request'),
    ('alice', {'type': 'roll', 'request_id': ['x']}, 'invalid_request'),
    ('alice', {'type': 'roll', 'request_id': 'x' * 65}, 'invalid_request'),
    ('alice', {'type': 'life', 'player': 'ALICE', 'delta': '-1'}, 'invalid_request'),
    ('alice', {'type': 'roll', 'dice': 21}, 'out_of_range'),
    ('alice', {'type': 'poison', 'player': 'ALICE', 'delta': -1}, 'out_of_range'),
    ('alice', {'type': 'life', 'player': 'u_nobody', 'delta': -1}, 'unknown_player'),
    ('alice', {'type': 'life', 'player': 'BOB', 'delta': 1}, 'forbidden'),
    ('alice', {'type': 'new-game'}, 'forbidden'),
    ('alice', {'type': 'undo', 'entry': 1}, 'stale_undo'),
    ('host', {'type': 'pass-turn', 'turn': 5}, 'stale_turn'),
])
def test_bad_actions_get_a_coded_ack_and_nobody_notices(t, who, payload, code):
    if who == 'host':
        t.act(t.host, type='set-active', player=t.uid(t.host))
        for peer in t.peers:
            peer.next('game-update')
    if isinstance(payload, dict):
        names = {'ALICE': t.uid(t.alice), 'BOB': t.uid(t.bob)}
        payload = {k: names.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}
    version = t.host.emit('game-sync')['version']
    assert _code(getattr(t, who).emit('game', payload)) == code
    assert t.host.emit('game-sync')['version'] == version
    assert all(peer.events('game-update') == [] for peer in t.peers)
    t.act(t.alice, type='roll')  # and the table still serves


def test_an_action_flood_is_rate_limited_per_player(tmp_path):
    t = Table(make_app(tmp_path, GAME_RATE=0.001, GAME_BURST=3))
    for _ in range(3):
        t.act(t.alice, type='life', player=t.uid(t.alice), delta=-1)
    assert _code(t.alice.emit('game', {'type': 'roll'})) == 'rate_limited'
    assert _code(t.alice.emit('game-sync')) == 'rate_limited', 'reads cost too'
    second_device = Peer(t.app, t.room, t.users[0]['token'])
    assert _code(second_device.emit('game', {'type': 'roll'})) == 'rate_limited', \
        'the limit is the player’s, not the socket’s'
    t.act(t.bob, type='roll')


def test_a_full_game_leaves_a_newcomer_watching(t):
    with t.app.app_context():
        store = GameStore()
        for n in range(rules.MAX_PLAYERS - 3):
            store.apply(t.room, {'type': 'join', 'name': f'P{n}'}, Actor(f'u_p{n}', False))
    carol = new_user(t.app.test_client(), display_name='Carol')
    c = Peer(t.app, t.room, carol['token'])
    assert c.welcome['game']['role'] == 'spectator'
    assert carol['user_id'] not in c.welcome['game']['state']['players']
    assert _code(c.emit('game', {'type': 'roll'})) == 'forbidden'


def test_a_removed_player_still_connected_can_only_watch(t):
    t.act(t.host, type='remove-player', player=t.uid(t.bob))
    assert _code(t.bob.emit('game', {'type': 'roll'})) == 'forbidden'
    assert t.bob.emit('game-sync')['role'] == 'spectator'


def test_another_room_hears_nothing(t):
    other_room = new_room(t.app.test_client(), t.owner['token'])
    stranger = Peer(t.app, other_room, t.users[0]['token'])
    drain(stranger)
    t.act(t.bob, type='life', player=t.uid(t.bob), delta=-1)
    t.bob.emit('chat', {'text': 'hello'})
    t.host.next('chat-message')
    assert stranger.events('game-update') == [] and stranger.events('chat-message') == []
    assert stranger.emit('game-sync')['state']['players'][t.uid(t.alice)]['life'] == 40


# -- sync and log -------------------------------------------------------------------

def test_game_sync_and_the_log_in_pages(t):
    for n in range(5):
        t.act(t.alice, type='roll')
    sync = t.bob.emit('game-sync')
    assert sync['ok'] is True and sync['version'] == 8 and sync['role'] == 'player'
    assert [e['seq'] for e in sync['log']] == list(range(1, 9))
    page = t.bob.emit('game-log', {'before': 6, 'limit': 2})
    assert [e['seq'] for e in page['log']] == [4, 5]
    assert [e['seq'] for e in t.bob.emit('game-log')['log']][-1] == 8
    assert t.bob.emit('game-log', {'before': 1})['log'] == []


@pytest.mark.parametrize('event,payload', [
    ('game-sync', 'x'), ('game-sync', [1]),
    ('game-log', {'before': 0}), ('game-log', {'limit': 'all'}), ('game-log', {'after': 3}),
    ('game-log', {'limit': True}), ('game-log', 7),
])
def test_bad_sync_and_log_requests(t, event, payload):
    assert _code(t.bob.emit(event, payload)) == 'invalid_request'


# -- chat ---------------------------------------------------------------------------

def test_chat_reaches_everyone_as_text_and_newcomers_get_the_last_messages(t):
    ack = t.bob.emit('chat', {'text': '  <script>alert(1)</script>\nhi  ', 'request_id': 9})
    assert ack['ok'] is True and ack['id']
    for peer in t.peers:
        message = peer.next('chat-message')
        assert message['text'] == '<script>alert(1)</script>\nhi'
        assert message['name'] == 'Bob' and message['user_id'] == t.uid(t.bob)
        assert message['peer_id'] == t.bob.peer_id and message['request_id'] == 9
    carol = new_user(t.app.test_client(), display_name='Carol')
    c = Peer(t.app, t.room, carol['token'])
    assert [m['text'] for m in c.welcome['game']['chat']] == ['<script>alert(1)</script>\nhi']


@pytest.mark.parametrize('payload,code', [
    (None, 'invalid_request'), ('hi', 'invalid_request'), ({}, 'invalid_request'),
    ({'text': 5}, 'invalid_request'), ({'text': '   '}, 'invalid_request'),
    ({'text': 'a\x00b'}, 'invalid_request'), ({'text': 'hi', 'to': 'x'}, 'invalid_request'),
    ({'text': 'x' * 501}, 'too_large'),
])
def test_bad_chat_messages_are_refused_and_not_sent(t, payload, code):
    assert _code(t.bob.emit('chat', payload)) == code
    assert t.bob.emit('chat', {'text': 'x' * 500})['ok'] is True
    assert [m['text'] for m in t.host.events('chat-message')] == ['x' * 500]


def test_chat_is_rate_limited_per_player(tmp_path):
    t = Table(make_app(tmp_path, CHAT_RATE=0.001))
    for n in range(5):
        assert t.alice.emit('chat', {'text': f'm{n}'})['ok'] is True
    assert _code(t.alice.emit('chat', {'text': 'again'})) == 'rate_limited'
    assert t.bob.emit('chat', {'text': 'me too'})['ok'] is True


# -- HTTP ---------------------------------------------------------------------------

def test_the_game_over_http_is_for_players_of_the_room(t):
    url = f'/api/rooms/{t.room}/game'
    client = t.app.test_client()

    def get(token=None, path=url):
        headers = {'Authorization': f'Bearer {token}'} if token else {}
        return client.get(path, headers=headers)

    t.act(t.alice, type='life', player=t.uid(t.alice), delta=-4)
    response = get(t.users[0]['token'])
    assert response.status_code == 200
    body = response.get_json()
    assert body['state']['players'][t.uid(t.alice)]['life'] == 36 and body['role'] == 'player'
    assert body['log'][-1]['type'] == 'life' and body['version'] == 4
    assert get(t.owner['token']).get_json()['role'] == 'host'

    assert get().status_code == 401 and get().get_json()['error']['code'] == 'unauthorized'
    stranger = new_user(t.app.test_client(), display_name='Stranger')['token']
    refused = get(stranger)
    assert refused.status_code == 403 and refused.get_json()['error']['code'] == 'forbidden'
    for path in ('/api/rooms/no-such-room/game', '/api/rooms/BAD!/game'):
        missing = get(stranger, path)
        assert missing.status_code == 404
        assert missing.get_json()['error']['code'] == 'room_not_found'


def test_a_seated_watcher_may_read_the_game_over_http(t, monkeypatch):
    monkeypatch.setattr(GameStore, 'apply', broken)
    carol = new_user(t.app.test_client(), display_name='Carol')
    Peer(t.app, t.room, carol['token'])  # seated, but not in the game
    response = t.app.test_client().get(f'/api/rooms/{t.room}/game',
                                       headers={'Authorization': f"Bearer {carol['token']}"})
    assert response.status_code == 200 and response.get_json()['role'] == 'spectator'
