"""The game table in SQL (rhystic/game/store.py), on SQLite and PostgreSQL: atomic
actions under real concurrency, the log, chat, and the migration."""
import threading

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from rhystic.extensions import db
from rhystic.game import store as store_module
from rhystic.game.rules import FORBIDDEN, GameError
from rhystic.game.state import Actor, replay
from rhystic.game.store import CHAT_KEEP, GameStore
from rhystic.models import Room, User


@pytest.fixture
def table(app):
    with app.app_context():
        host, _ = User.create('host', 'Hana')
        alice, _ = User.create('alice', 'Alice')
        room = Room.create(host)
        store = GameStore()
        h, a = Actor(host.public_id, True), Actor(alice.public_id, False)
        store.apply(room.id, {'type': 'join', 'name': 'Hana'}, h)
        store.apply(room.id, {'type': 'join', 'name': 'Alice'}, a)
        yield app, store, room.id, h, a


def test_actions_are_kept_with_their_log(table):
    app, store, room_id, host, alice = table
    state, entry = store.apply(room_id, {'type': 'life', 'player': alice.user_id,
                                         'delta': -3}, alice)
    assert state['players'][alice.user_id]['life'] == 37 and state['version'] == 3
    db.session.remove()  # a fresh session reads what was committed
    assert store.state(room_id) == state
    assert [e['seq'] for e in store.log(room_id)] == [1, 2, 3]
    assert store.log(room_id)[-1] == entry


def test_a_returning_player_changes_nothing(table):
    app, store, room_id, host, alice = table
    state, entry = store.apply(room_id, {'type': 'join', 'name': 'Alice'}, alice)
    assert entry is None and state['version'] == 2 and len(store.whole_log(room_id)) == 2


def test_a_refused_action_writes_nothing(table):
    app, store, room_id, host, alice = table
    with pytest.raises(GameError) as caught:
        store.apply(room_id, {'type': 'new-game'}, alice)
    assert caught.value.code == FORBIDDEN
    assert store.state(room_id)['version'] == 2 and len(store.whole_log(room_id)) == 2


def test_a_merged_change_rewrites_its_entry(table):
    app, store, room_id, host, alice = table
    for _ in range(4):
        state, entry = store.apply(room_id, {'type': 'life', 'player': alice.user_id,
                                             'delta': -1}, alice)
    entries = store.whole_log(room_id)
    assert len(entries) == 3 and entries[-1]['count'] == 4 and entries[-1]['after'] == 36
    assert replay(entries) == state


def test_a_write_that_lost_the_race_is_applied_again_to_the_newer_state(table, monkeypatch):
    """Between this action's read and its write another one commits (from another
    session, as another worker would): this write matches no row, and is retried."""
    app, store, room_id, host, alice = table
    real_apply, calls = store_module.rules_state.apply, []

    def racing_apply(state, action, actor, now, rng):
        calls.append((actor, state['version']))
        if len(calls) == 1:
            other = threading.Thread(target=_apply_in_context, args=(
                app, room_id, {'type': 'life', 'player': alice.user_id, 'delta': -5}, host))
            other.start()
            other.join(10)
        return real_apply(state, action, actor, now, rng)

    monkeypatch.setattr(store_module.rules_state, 'apply', racing_apply)
    state, _ = store.apply(room_id, {'type': 'life', 'player': alice.user_id, 'delta': -1},
                           alice)
    assert calls == [(alice, 2), (host, 2), (alice, 3)], \
        'read at version 2, lost to the other, applied again at 3'
    assert state['players'][alice.user_id]['life'] == 34 and state['version'] == 4


def _apply_in_context(app, room_id, action, actor, times=1, errors=None):
    try:
        with app.app_context():
            for _ in range(times):
                GameStore().apply(room_id, action, actor)
    except Exception as exc:  # reported to the test, which fails on it
        if errors is None:
            raise
        errors.append(exc)


def test_concurrent_deltas_from_many_sessions_all_count(table):
    app, store, room_id, host, alice = table
    errors = []
    threads = [threading.Thread(target=_apply_in_context, args=(
        app, room_id, {'type': 'life', 'player': alice.user_id, 'delta': -1}, actor, 25,
        errors)) for actor in (host, alice, host, alice)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    db.session.remove()
    state = store.state(room_id)
    assert state['players'][alice.user_id]['life'] == 40 - 100
    entries = store.whole_log(room_id)
    changes = [e for e in entries if e['type'] == 'life']
    assert sum(e['action']['delta'] for e in changes) == -100
    assert sum(e['count'] for e in changes) == 100
    assert [e['seq'] for e in entries] == list(range(1, len(entries) + 1))
    assert replay(entries) == state


def test_chat_keeps_the_last_two_hundred_of_each_room(table):
    app, store, room_id, host, alice = table
    other_room = Room.create(None).id
    store.add_chat(other_room, alice.user_id, 'Alice', 'elsewhere')
    for n in range(CHAT_KEEP + 5):
        message = store.add_chat(room_id, alice.user_id, 'Alice', f'message {n}')
    assert message['text'] == f'message {CHAT_KEEP + 4}' and message['id']
    kept = store.chat(room_id)
    assert len(kept) == CHAT_KEEP
    assert kept[0]['text'] == 'message 5' and kept[-1] == message
    assert [m['text'] for m in store.chat(other_room)] == ['elsewhere']


def test_a_deleted_rooms_game_goes_with_it(table):
    app, store, room_id, host, alice = table
    store.add_chat(room_id, alice.user_id, 'Alice', 'hello')
    db.session.delete(Room.get(room_id))
    db.session.commit()
    assert store.whole_log(room_id) == [] and store.chat(room_id) == []
    assert store._read(room_id) is None


def test_the_migration_goes_down_and_up_again(app):
    with app.app_context():
        downgrade(revision='5d669dc83064')
        names = set(inspect(db.engine).get_table_names())
        assert not names & {'game_states', 'game_log', 'chat_messages'}
        upgrade()
        names = set(inspect(db.engine).get_table_names())
        assert {'game_states', 'game_log', 'chat_messages'} <= names
