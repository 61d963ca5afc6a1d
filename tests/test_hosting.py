"""A room the host controls (rhystic/signaling/hosting.py, control.py): lock, knock,
hand the host role on, and the role passing on when the host leaves."""
import pytest

from conftest import make_app, new_room, new_user
from rhystic.extensions import socketio
from rhystic.signaling.control import Control, Controls, MemoryControlCache, successor
from rhystic.signaling.store import Seat
from servers import wait_until
from test_signaling import Peer, refusal


@pytest.fixture
def table(tmp_path):
    app = make_app(tmp_path, GAME_RATE=10**6, GAME_BURST=10**6)
    host = new_user(app.test_client(), 'host', 'Hana')
    room_id = new_room(app.test_client(), host['token'], name='Friday')
    others = [new_user(app.test_client(), display_name=n) for n in ('Bo', 'Cy', 'Di')]
    return app, room_id, host, others


class Lobby:
    def __init__(self, app, room_id, token):
        self.ns = f'/lobby/{room_id}'
        self.sio = socketio.test_client(app, namespace=self.ns, auth={'token': token})

    def received(self, name):
        return [m['args'][0] for m in self.sio.get_received(self.ns) if m['name'] == name]


def test_a_locked_room_refuses_newcomers_but_not_the_seated(table):
    app, room_id, host, (bo, cy, _) = table
    a = Peer(app, room_id, host['token'])
    b = Peer(app, room_id, bo['token'])
    assert b.emit('room-settings', {'locked': True})['error']['code'] == 'forbidden'
    ack = a.emit('room-settings', {'locked': True})
    assert ack == {'ok': True, 'room': {'host': host['user_id'], 'locked': True,
                                        'knock': False}}
    assert b.next('room-updated') == {'host': host['user_id'], 'locked': True,
                                      'knock': False, 'reason': 'settings'}
    refused = refusal(app, room_id, token=cy['token'])
    assert refused['message'] == 'room_locked' and refused['data']['knock'] is False
    # A second device of a seated account, and the host, still get in.
    assert Peer(app, room_id, bo['token']).connected
    assert Peer(app, room_id, host['token']).connected
    a.emit('room-settings', {'locked': False})
    assert Peer(app, room_id, cy['token']).connected


@pytest.mark.parametrize('payload', [None, {}, {'locked': 'yes'}, {'knock': 1}, [True]])
def test_room_settings_need_booleans(table, payload):
    app, room_id, host, _ = table
    a = Peer(app, room_id, host['token'])
    assert a.emit('room-settings', payload)['error']['code'] == 'invalid_request'


def test_a_knock_is_admitted_by_the_host_once(table):
    app, room_id, host, (bo, cy, _) = table
    a = Peer(app, room_id, host['token'])
    a.emit('room-settings', {'locked': True, 'knock': True})
    lobby = Lobby(app, room_id, bo['token'])
    pending = lobby.received('knock-pending')
    assert len(pending) == 1
    knock = a.next('knock')
    assert knock['knock_id'] == pending[0]['knock_id']
    assert knock['user_id'] == bo['user_id'] and knock['display_name'] == 'Bo'
    assert a.emit('admit', {'knock_id': knock['knock_id'], 'admit': True}) == {'ok': True}
    assert lobby.received('knock-answer') == [{'knock_id': knock['knock_id'],
                                               'admitted': True}]
    assert a.emit('admit', {'knock_id': knock['knock_id'], 'admit': True})['error']['code'] \
        == 'unknown_knock'
    b = Peer(app, room_id, bo['token'])
    assert b.connected
    b.drop()
    wait_until(lambda: not b.connected, 5)
    # The grant was used up; the seat is in its grace, so Bo comes back all the same.
    assert Peer(app, room_id, bo['token']).connected
    assert refusal(app, room_id, token=cy['token'])['data']['knock'] is True


def test_a_knock_turned_away_stays_out(table):
    app, room_id, host, (bo, _, _) = table
    a = Peer(app, room_id, host['token'])
    a.emit('room-settings', {'locked': True, 'knock': True})
    lobby = Lobby(app, room_id, bo['token'])
    knock = a.next('knock')
    a.emit('admit', {'knock_id': knock['knock_id'], 'admit': False})
    assert lobby.received('knock-answer')[0]['admitted'] is False
    assert refusal(app, room_id, token=bo['token'])['message'] == 'room_locked'


def test_the_host_who_reloads_sees_who_is_knocking_and_the_knock_ends_when_they_go(table):
    app, room_id, host, (bo, _, _) = table
    a = Peer(app, room_id, host['token'])
    a.emit('room-settings', {'locked': True, 'knock': True})
    lobby = Lobby(app, room_id, bo['token'])
    knock = a.next('knock')
    again = Peer(app, room_id, host['token'])
    assert [k['knock_id'] for k in again.welcome['room']['knocks']] == [knock['knock_id']]
    lobby.sio.disconnect(namespace=lobby.ns)
    assert a.next('knock-cancelled') == {'knock_id': knock['knock_id'], 'admitted': None}


def test_a_locked_room_without_knock_refuses_the_lobby_too(table):
    app, room_id, host, (bo, _, _) = table
    Peer(app, room_id, host['token']).emit('room-settings', {'locked': True})
    lobby = Lobby(app, room_id, bo['token'])
    assert not lobby.sio.is_connected(lobby.ns)


def test_the_lobby_of_an_open_room_lets_you_in_at_once(table):
    app, room_id, host, (bo, _, _) = table
    lobby = Lobby(app, room_id, bo['token'])
    assert lobby.received('knock-answer') == [{'knock_id': None, 'admitted': True}]


def test_the_host_hands_the_role_on_and_permissions_follow(table):
    app, room_id, host, (bo, _, _) = table
    a = Peer(app, room_id, host['token'])
    b = Peer(app, room_id, bo['token'])
    assert b.emit('make-host', {'peer_id': b.peer_id})['error']['code'] == 'forbidden'
    assert a.emit('make-host', {'peer_id': 'p_nobody'})['error']['code'] == 'unknown_peer'
    assert a.emit('make-host', {'peer_id': b.peer_id})['ok']
    assert b.next('room-updated')['host'] == bo['user_id']
    assert a.emit('kick', {'peer_id': b.peer_id})['error']['code'] == 'forbidden'
    assert b.emit('room-settings', {'locked': True})['ok']
    assert b.emit('kick', {'peer_id': a.peer_id}) == {'ok': True}


def test_a_new_host_is_told_who_is_already_knocking(table):
    app, room_id, host, (bo, cy, _) = table
    a = Peer(app, room_id, host['token'])
    b = Peer(app, room_id, bo['token'])
    a.emit('room-settings', {'locked': True, 'knock': True})
    Lobby(app, room_id, cy['token'])
    knock = a.next('knock')
    assert b.events('knock') == [], 'only the host hears a knock'
    a.emit('make-host', {'peer_id': b.peer_id})
    assert b.next('knock')['knock_id'] == knock['knock_id']
    assert b.emit('admit', {'knock_id': knock['knock_id'], 'admit': True}) == {'ok': True}


def test_the_longest_seated_player_becomes_host_when_the_host_leaves(table):
    app, room_id, host, (bo, cy, _) = table
    a = Peer(app, room_id, host['token'])
    b = Peer(app, room_id, bo['token'])
    c = Peer(app, room_id, cy['token'])
    a.emit('leave')
    update = c.next('room-updated')
    assert update['host'] == bo['user_id'] and update['reason'] == 'host_left'
    assert b.emit('room-settings', {'locked': True})['ok']


def test_a_lock_survives_a_restart(tmp_path):
    url = f'sqlite:///{tmp_path}/keep.db'
    app = make_app(tmp_path, SQLALCHEMY_DATABASE_URI=url)
    host = new_user(app.test_client(), 'keeper', 'Kay')
    guest = new_user(app.test_client(), display_name='Guest')
    room_id = new_room(app.test_client(), host['token'])
    Peer(app, room_id, host['token']).emit('room-settings', {'locked': True})
    restarted = make_app(tmp_path, SQLALCHEMY_DATABASE_URI=url)  # a new process's memory
    assert refusal(restarted, room_id, token=guest['token'])['message'] == 'room_locked'


# -- the rules alone ------------------------------------------------------------------------

def test_controls_read_through_and_write_through():
    saved = {}
    controls = Controls(MemoryControlCache(), saved.get, saved.__setitem__)
    assert controls.get('r', default_host='u_a') == Control('u_a', False, False)
    controls.change('r', default_host='u_a', locked=True)
    assert saved['r'] == Control('u_a', True, False)
    fresh = Controls(MemoryControlCache(), saved.get, saved.__setitem__)
    assert fresh.get('r').locked is True


def test_successor_is_the_longest_seated_other_account():
    seats = [Seat('p_c', 'u_c', 'C', joined_at=30), Seat('p_b', 'u_b', 'B', joined_at=20),
             Seat('p_h', 'u_h', 'H', joined_at=10), Seat('p_b2', 'u_b', 'B', joined_at=40)]
    assert successor(seats, 'u_h') == 'u_b'
    assert successor([Seat('p_h', 'u_h', 'H')], 'u_h') is None


def test_a_join_needs_one_database_connection_at_a_time(tmp_path):
    # The host record was read in an app context of its own: a second session, so a
    # second pooled connection while the join's own was held. Many joins at once (a
    # join storm, bench/game.py) then held every connection and waited for another:
    # the pool deadlocked until its timeout. With a pool of one, the join must still work.
    app = make_app(tmp_path, SQLALCHEMY_ENGINE_OPTIONS={
        'pool_size': 1, 'max_overflow': 0, 'pool_timeout': 2})
    host = new_user(app.test_client(), 'host', 'Hana')
    room_id = new_room(app.test_client(), host['token'], name='Friday')
    guest = new_user(app.test_client(), display_name='Bo')
    a = Peer(app, room_id, host['token'])
    assert a.connected, a.refusal
    b = Peer(app, room_id, guest['token'])
    assert b.connected, b.refusal
    assert a.emit('leave') == {'ok': True}
    update = b.next('room-updated')  # the role passed on, and was saved
    assert update['host'] == guest['user_id'] and update['reason'] == 'host_left'


def test_the_role_passes_on_after_the_room_left_the_cache(table):
    # The room directory keeps a room for 60 s; a departure after that read the room
    # from SQL outside any app context ('leave' and the grace sweeper have none), and the
    # hand-over failed with "Working outside of application context" (bench/game.py).
    app, room_id, host, (bo, _, _) = table
    a = Peer(app, room_id, host['token'])
    b = Peer(app, room_id, bo['token'])
    app.extensions['rhystic.signaling'].directory.forget(room_id)  # as when its ttl ran out
    assert a.emit('leave') == {'ok': True}
    update = b.next('room-updated')
    assert update['host'] == bo['user_id'] and update['reason'] == 'host_left'


def test_a_claim_makes_the_claimer_host_even_after_the_role_passed_on(table):
    app, room_id_unused, host, (bo, cy, _) = table
    client = app.test_client()
    made = client.post('/api/rooms', json={})  # no sign-in: an owner token comes back
    assert made.status_code == 201
    room_id, token = made.get_json()['room_id'], made.get_json()['owner_token']
    b = Peer(app, room_id, bo['token'])
    c = Peer(app, room_id, cy['token'])
    b.emit('leave')  # nobody hosted; the role passes to the longest-seated, Cy
    assert c.next('room-updated')['host'] == cy['user_id']
    claim = client.post(f'/api/rooms/{room_id}/claim', json={'owner_token': token},
                        headers={'Authorization': f'Bearer {host["token"]}'})
    assert claim.status_code == 200, claim.get_json()
    update = c.next('room-updated')
    assert update['host'] == host['user_id'] and update['reason'] == 'claimed'
    assert c.emit('room-settings', {'locked': True})['error']['code'] == 'forbidden'
