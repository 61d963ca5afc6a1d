"""User and Room rules, on SQLite and PostgreSQL, on the schema the migrations build."""
import math
import re
from datetime import timedelta

import pytest
import unicodedata
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hypothesis import given
from hypothesis import strategies as st
from rhystic.errors import ApiError, ValidationError
from rhystic.extensions import db
from rhystic.models import (ROOM_ALPHABET, ROOM_ID_GROUPS, Room, User, clean_display_name,
                            hash_token, utcnow)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def test_migrations_build_exactly_the_models(ctx):
    # The schema came from `flask db upgrade`; autogenerate finds nothing left to do.
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


def test_user_create(ctx):
    user, token = User.create('  Alice_1 ', '  Alice  ')
    assert user.public_id.startswith('u_')
    assert user.username == 'alice_1'
    assert user.display_name == 'Alice'
    assert user.created_at is not None
    assert abs(user.created_at - utcnow()) < timedelta(minutes=1)
    assert not user.is_guest
    assert User.by_token(token) == user
    assert User.by_public_id(user.public_id) == user


def test_token_is_kept_only_as_its_hash(ctx):
    user, token = User.create('bob', 'Bob')
    assert user.token_hash == hash_token(token) != token
    row = db.session.execute(db.text('SELECT * FROM users WHERE id = :id'),
                             {'id': user.id}).one()
    assert token not in [str(value) for value in row]


def test_by_token_refuses_nonsense(ctx):
    User.create('carl', 'Carl')
    for token in (None, 42, '', 'short', 'x' * 500, 'y' * 43):
        assert User.by_token(token) is None


@pytest.mark.parametrize('username', ['abc', 'a' * 32, 'with-dash', 'with_under', '007'])
def test_valid_usernames(ctx, username):
    assert User.create(username, 'X')[0].username == username


@pytest.mark.parametrize('username', ['ab', 'a' * 33, 'has space', 'dot.ted', 'ünï', '', None,
                                      12, 'a\nb'])
def test_invalid_usernames(ctx, username):
    with pytest.raises(ValidationError):
        User.create(username, 'X')


def test_username_is_unique_whatever_the_case(ctx):
    User.create('dana', 'Dana')
    for spelling in ('dana', 'DANA', 'Dana'):
        with pytest.raises(ApiError) as caught:
            User.create(spelling, 'Other')
        assert caught.value.status == 409
    assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 1


@pytest.mark.parametrize('given,kept', [
    ('A', 'A'), ('  spaced  ', 'spaced'), ('x' * 40, 'x' * 40), ('Zoë 🎲', 'Zoë 🎲'),
    ('Cafe\u0301', 'Caf\u00e9'),  # NFC: one way to write the same name
])
def test_display_name_kept(ctx, given, kept):
    assert User.create('eve', given)[0].display_name == kept


# '\x85' + 40 characters: 41 sent, 40 once stripped; the API says maxLength 40 (schemathesis).
@pytest.mark.parametrize('display_name', ['', '   ', 'x' * 41, '\x85' + '*' * 40, ' ' + 'x' * 40,
                                          'tab\there', 'nul\x00', None, 5])
def test_display_name_refused(ctx, display_name):
    with pytest.raises(ValidationError):
        User.create('fay', display_name)


# Names that render as nothing, or as a smear over the names around them.
INVISIBLE_NAMES = [
    '\u3164', '\u3164' * 5, '\u115f\u1160', '\uffa0', '\u2800',  # fillers, blank braille
    '\u0301', '\u034f', '\ufe0f', '\u20dd',                      # marks with no base
    '\u200b', '\u2060', '\ufeff', '\u00ad', '\u200d', '\u202e',     # format characters
    '\u3000', '\u00a0', '\u2028',                                # space and separators
    '\u3164\u0301\u200b',
]
ZALGO = 'a' + '\u0301\u0308\u0323\u0330' * 9 + '\u0301\u0308\u0323'   # 40 code points


@pytest.mark.parametrize('display_name', INVISIBLE_NAMES + [ZALGO, 'x\u0301\u0308\u0323\u0330',
                                                            'Bob' + '\u0300' * 10])
def test_display_name_that_renders_as_nothing_or_a_smear_is_refused(display_name):
    with pytest.raises(ValidationError) as caught:
        clean_display_name(display_name)
    assert caught.value.status == 400 and caught.value.code == 'invalid_request'
    assert caught.value.extra == {'field': 'display_name'}
    assert 'display_name' in caught.value.message


@pytest.mark.parametrize('display_name', [
    'x\u0301\u0308\u0323',              # three marks on one letter: the most kept
    'Nguy\u1ec5n', 'Nguye\u0302\u0303n',  # Vietnamese, composed or not
    '\u0f66\u0f92\u0fb2\u0f7c\u0f63',      # Tibetan: a stack of three under one letter
    '\u0928\u092e\u0938\u094d\u0924\u0947',  # Devanagari, with a virama
    'ㅤA', 'Ali\u3164', '\u2764\ufe0f', '🇫🇷 Zoë',
])
def test_display_name_with_something_visible_is_kept(display_name):
    assert clean_display_name(display_name) == unicodedata.normalize('NFC', display_name)


def _renders(ch):
    # Written apart from the model's check, so the two can disagree.
    return unicodedata.category(ch)[0] in 'LNPS' and ch not in '\u115f\u1160\u3164\uffa0\u2800'


def _marks_per_base(text):
    runs, run = [0], 0
    for ch in text:
        run = run + 1 if unicodedata.category(ch) in ('Mn', 'Me') else 0
        runs.append(run)
    return max(runs)


@given(st.text(max_size=60))
def test_any_display_name_is_refused_clearly_or_kept_visible(text):
    try:
        kept = clean_display_name(text)
    except ValidationError as exc:
        assert exc.extra == {'field': 'display_name'} and exc.message
        return
    assert 1 <= len(kept) <= 40 and kept == kept.strip()
    assert any(_renders(ch) for ch in kept)
    assert _marks_per_base(kept) <= 3


@given(st.text(st.one_of(
    st.characters(categories=['Mn', 'Me', 'Cf', 'Zs', 'Zl', 'Zp', 'Cc']),
    st.sampled_from('\u115f\u1160\u3164\uffa0\u2800')), min_size=1, max_size=40))
def test_display_name_of_only_invisible_characters_is_refused(text):
    with pytest.raises(ValidationError):
        clean_display_name(text)


VISIBLE = st.characters(categories=['Lu', 'Ll', 'Lo', 'Nd', 'Po', 'So', 'Sm'],
                        exclude_characters='\u115f\u1160\u3164\uffa0\u2800')
MARKS = st.lists(st.characters(categories=['Mn']), max_size=3).map(''.join)


@given(st.lists(st.tuples(VISIBLE, MARKS).map(''.join), min_size=1, max_size=10).map(''.join))
def test_display_name_of_letters_with_up_to_three_marks_each_is_kept(text):
    # NFC may split a letter into a base and a mark (U+0958 is U+0915 U+093C): count after.
    normal = unicodedata.normalize('NFC', text)
    if len(normal) <= 40 and _marks_per_base(normal) <= 3:
        assert clean_display_name(text) == normal


def test_guest(ctx):
    guest, token = User.create_guest('  Guest Person ')
    assert guest.is_guest
    assert re.fullmatch(r'guest-[0-9a-f]{10}', guest.username)
    assert guest.display_name == 'Guest Person'
    assert User.by_token(token) == guest


def test_rename(ctx):
    user, _ = User.create('gus', 'Gus')
    user.rename('  Augustus ')
    db.session.expire_all()
    assert User.by_public_id(user.public_id).display_name == 'Augustus'
    with pytest.raises(ValidationError):
        user.rename('')


def test_room_id_is_unguessable_and_readable():
    ids = {Room.new_id() for _ in range(2000)}
    assert len(ids) == 2000
    symbols = sum(ROOM_ID_GROUPS)
    assert symbols * math.log2(len(ROOM_ALPHABET)) >= 40
    for room_id in ids:
        assert [len(part) for part in room_id.split('-')] == list(ROOM_ID_GROUPS)
        assert set(room_id.replace('-', '')) <= set(ROOM_ALPHABET)
        assert Room.valid_id(room_id)
    # Nothing that reads aloud as something else.
    assert not set('01ilo') & set(ROOM_ALPHABET)
    # Every symbol turns up: the ids use the whole alphabet, so the entropy is real.
    assert set(''.join(ids).replace('-', '')) == set(ROOM_ALPHABET)


def test_room_create_and_get(ctx):
    owner, _ = User.create('hal', 'Hal')
    room = Room.create(owner, '  Friday night ', 4)
    assert room.name == 'Friday night'
    assert room.max_peers == 4
    assert room.created_by == owner.id
    assert room.created_at is not None and room.last_active_at is not None
    db.session.expire_all()
    found = Room.get(room.id)
    assert found.to_dict(3) == {'id': room.id, 'name': 'Friday night', 'peer_count': 3,
                                'max_peers': 4}


def test_room_defaults(ctx):
    room = Room.create(None)
    assert room.name is None and room.max_peers == 8
    assert Room.create(None, '   ').name is None
    assert Room.create(None, default_max=5).max_peers == 5


@pytest.mark.parametrize('max_peers', [2, 8])
def test_room_max_peers_bounds_kept(ctx, max_peers):
    assert Room.create(None, max_peers=max_peers).max_peers == max_peers


@pytest.mark.parametrize('max_peers', [1, 9, 0, -3, '4', 4.0, True, [4]])
def test_room_max_peers_refused(ctx, max_peers):
    with pytest.raises(ValidationError):
        Room.create(None, max_peers=max_peers)


def test_room_get_refuses_invalid_ids(ctx):
    for room_id in ('', 'A', 'UPPER-CASE', '../etc', 'x' * 41, None, 'ends-'):
        assert Room.get(room_id) is None


def test_get_or_create_keeps_one_room(ctx):
    first = Room.get_or_create('game-night', None)
    second = Room.get_or_create('game-night', None)
    assert first.id == second.id == 'game-night'
    assert Room.count() == 1


def test_deleting_the_creator_keeps_the_room(ctx):
    owner, _ = User.create('ian', 'Ian')
    room = Room.create(owner)
    db.session.delete(owner)
    db.session.commit()
    db.session.expire_all()
    assert Room.get(room.id) is not None


def test_prune_deletes_only_idle_rooms(ctx):
    old = Room.create(None, 'old')
    fresh = Room.create(None, 'fresh')
    old.last_active_at = utcnow() - timedelta(days=31)
    db.session.commit()
    assert Room.prune(30) == 1
    assert Room.get(old.id) is None
    assert Room.get(fresh.id) is not None
    fresh.touch()
    assert Room.prune(30, now=utcnow() + timedelta(days=29)) == 0
    assert Room.prune(30, now=utcnow() + timedelta(days=31)) == 1
