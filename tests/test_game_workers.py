"""Two server processes sharing Redis and one database: no game action is lost.

Two players on different processes each press "-1" on the same life total 50 times as
fast as they can (each waits only for its ack): the total drops by exactly 100, both
see the final state, and the log holds every change.
"""
import threading
import uuid

import psycopg
import pytest

from clients import PyPeer, api_room, api_user
from conftest import PG_ADMIN, redis_env
from servers import live_env, two_workers, wait_until

pytestmark = pytest.mark.slow
PRESSES = 50


@pytest.fixture(params=['sqlite', 'postgresql'])
def database_url(request, tmp_path):
    if request.param == 'sqlite':
        yield f'sqlite:///{tmp_path}/workers.db'
        return
    name = f'rhystic_game_{uuid.uuid4().hex[:10]}'
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE {name}')
    yield PG_ADMIN.rsplit('/', 1)[0] + '/' + name
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS {name} WITH (FORCE)')


@pytest.fixture
def pair(tmp_path, redis_prefix, database_url):
    env = live_env(tmp_path, DATABASE_URL=database_url, **redis_env(redis_prefix))
    yield from two_workers(env)


def _player(url, room_id, token, peers):
    peer = PyPeer(url, room_id, token, connect=False)
    peer.sio.on('game-update', peer._recorder('game-update'), namespace=peer.ns)
    peers.append(peer)
    return peer.connect()


def _press(peer, action, acks):
    for _ in range(PRESSES):
        acks.append(peer.emit('game', action))


def test_two_players_on_two_workers_lose_no_press(pair):
    (one, two), peers = pair
    owner = api_user(one.url, 'Alice')
    room_id = api_room(one.url, owner['token'])
    alice = _player(one.url, room_id, owner['token'], peers)
    bob = _player(two.url, room_id, api_user(two.url, 'Bob')['token'], peers)
    target = owner['user_id']
    start = bob.emit('game-sync')
    assert start['state']['players'][target]['life'] == 40 and len(start['state']['players']) == 2

    acks = {'alice': [], 'bob': []}
    action = {'type': 'life', 'player': target, 'delta': -1}  # Bob's is damage he dealt
    threads = [threading.Thread(target=_press, args=(peer, action, acks[name]))
               for name, peer in (('alice', alice), ('bob', bob))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for name, answers in acks.items():
        assert len(answers) == PRESSES and all(a['ok'] for a in answers), (name, answers[-1])

    final = start['version'] + 2 * PRESSES
    for peer in (alice, bob):
        sync = peer.emit('game-sync')
        assert sync['version'] == final
        assert sync['state']['players'][target]['life'] == 40 - 2 * PRESSES
        wait_until(lambda: any(u['version'] == final for u in peer.inbox.events('game-update')),
                   15, message='the last update on both workers')

    entries, before = [], None
    while True:
        page = alice.emit('game-log', {'limit': 200, **({'before': before} if before else {})})
        if not page['log']:
            break
        entries = page['log'] + entries
        before = page['log'][0]['seq']
    assert [e['seq'] for e in entries] == list(range(1, len(entries) + 1))
    presses = [e for e in entries if e['type'] == 'life']
    assert sum(e['count'] for e in presses) == 2 * PRESSES
    assert sum(e['action']['delta'] for e in presses) == -2 * PRESSES
    by = {name: sum(e['count'] for e in presses if e['actor'] == user)
          for name, user in (('alice', target), ('bob', bob.welcome['self']['user_id']))}
    assert by == {'alice': PRESSES, 'bob': PRESSES}
    assert presses[0]['before'] == 40 and presses[-1]['after'] == 40 - 2 * PRESSES
