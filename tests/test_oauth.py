"""Signing in (rhystic/oauth.py, identities.py), without a browser: the providers an
operator configures, the rules of who a provider account signs in as (on SQLite and on
PostgreSQL), sessions that end, the failure pages, and a room only signed-in players may
join. tests/e2e/test_oidc_sign_in.py drives the whole flow against a real provider."""
import pytest

from conftest import make_app, new_room, new_user
from rhystic import identities
from rhystic.config import ConfigError
from rhystic.extensions import db
from rhystic.models import Room, RoomControl, User
from rhystic.oauth import providers_from
from rhystic.security import CSP
from test_signaling import Peer, refusal

TEST_PROVIDER = {'OAUTH_TEST_ISSUER': 'http://127.0.0.1:9', 'OAUTH_TEST_CLIENT_ID': 'id',
                 'OAUTH_TEST_CLIENT_SECRET': 'secret'}


# -- configuration ---------------------------------------------------------------------

def test_no_provider_is_configured_by_default():
    assert providers_from({'SECRET_KEY': 'x', 'MAX_PEERS': 8}) == {}


def test_presets_need_only_an_id_and_a_secret():
    providers = providers_from({'OAUTH_GOOGLE_CLIENT_ID': 'g', 'OAUTH_GOOGLE_CLIENT_SECRET': 's',
                                'OAUTH_DISCORD_CLIENT_ID': 123456789012345678,
                                'OAUTH_DISCORD_CLIENT_SECRET': 's'})
    google, discord = providers['google'], providers['discord']
    assert google.openid and google.metadata_url == \
        'https://accounts.google.com/.well-known/openid-configuration'
    assert not discord.openid and discord.scope == 'identify'
    assert discord.client_id == '123456789012345678' and discord.label == 'Discord'


def test_a_generic_provider_by_its_issuer():
    provider = providers_from({**TEST_PROVIDER, 'OAUTH_TEST_LABEL': 'Our club'})['test']
    assert provider.label == 'Our club' and provider.issuer == 'http://127.0.0.1:9'
    assert provider.metadata_url == 'http://127.0.0.1:9/.well-known/openid-configuration'
    assert provider.scope == 'openid profile'


@pytest.mark.parametrize('config, names', [
    ({'OAUTH_TEST_ISSUER': 'https://x', 'OAUTH_TEST_CLIENT_ID': 'id'}, 'CLIENT_SECRET'),
    ({'OAUTH_TEST_CLIENT_ID': 'id', 'OAUTH_TEST_CLIENT_SECRET': 's'}, 'ISSUER'),
    ({'OAUTH_TEST_CLIENTID': 'id'}, 'not a sign-in setting'),
    ({'OAUTH_BAD!_CLIENT_ID': 'id'}, 'not a sign-in setting'),
])
def test_half_a_provider_refuses_to_start_and_names_what_to_set(config, names):
    with pytest.raises(ConfigError, match=names):
        providers_from(config)


def test_client_ids_from_the_environment_stay_verbatim(tmp_path, monkeypatch):
    monkeypatch.setenv('RHYSTIC_OAUTH_DISCORD_CLIENT_ID', '123456789012345678')
    monkeypatch.setenv('RHYSTIC_OAUTH_DISCORD_CLIENT_SECRET', '12345e67')
    app = make_app(tmp_path)
    discord = app.extensions['rhystic.oauth'][0]['discord']
    assert (discord.client_id, discord.client_secret) == ('123456789012345678', '12345e67')


def test_with_no_provider_nothing_about_signing_in_shows(tmp_path):
    app = make_app(tmp_path)
    client = app.test_client()
    home = client.get('/')
    assert b'Sign in' not in home.data and b'sign-in' not in home.data
    assert home.headers['Content-Security-Policy'] == CSP
    assert client.get('/auth/test').status_code == 404
    assert not [r for r in app.url_map.iter_rules() if r.rule.startswith('/auth')]


def test_with_a_provider_the_home_page_offers_it(tmp_path):
    app = make_app(tmp_path, **TEST_PROVIDER)
    home = app.test_client().get('/')
    assert b'Sign in with Test' in home.data and b'href="/auth/test"' in home.data
    assert "img-src 'self' https:;" in home.headers['Content-Security-Policy']


# -- the failure pages (the provider is a closed port: nothing may reach it) -------------

def test_a_provider_that_is_down_is_a_503_page(tmp_path):
    client = make_app(tmp_path, **TEST_PROVIDER).test_client()
    response = client.get('/auth/test')
    assert response.status_code == 503
    assert b'Test did not answer' in response.data and b'<h1' in response.data


def test_a_declined_consent_is_a_403_page(tmp_path):
    client = make_app(tmp_path, **TEST_PROVIDER).test_client()
    response = client.get('/auth/test/callback?error=access_denied&state=x')
    assert response.status_code == 403
    assert b'You did not allow Rhystic to use your Test account' in response.data


def test_an_answer_with_a_state_we_never_sent_is_a_400_page(tmp_path):
    client = make_app(tmp_path, **TEST_PROVIDER).test_client()
    response = client.get('/auth/test/callback?code=abc&state=forged')
    assert response.status_code == 400
    assert b'could not be used' in response.data
    assert client.get('/api/me').status_code == 401


def test_an_unknown_provider_is_a_404_page(tmp_path):
    client = make_app(tmp_path, **TEST_PROVIDER).test_client()
    assert client.get('/auth/nobody').status_code == 404
    assert client.get('/auth/nobody/callback?code=x&state=y').status_code == 404


# -- who a provider account signs in as --------------------------------------------------

def profile(subject='alice', provider='test', issuer='https://idp.example', **extra):
    return identities.Profile(provider, issuer, subject, **extra)


def guest(name='Guesty'):
    user, token = User.create_guest(name)
    return user, token


def test_a_new_account_takes_the_providers_name_and_picture(app):
    with app.app_context():
        result = identities.sign_in(profile(display_name='Alice Liddell',
                                            avatar_url='https://img.example/a.png'))
        assert result.outcome == 'new'
        assert result.user.display_name == 'Alice Liddell' and not result.user.is_guest
        assert result.user.avatar_url == 'https://img.example/a.png'
        assert result.user.signed_in


def test_a_guest_is_upgraded_in_place_and_keeps_rooms_and_name(app):
    with app.app_context():
        user, token = guest()
        room = Room.create(user, 'Friday')
        epoch = user.session_epoch
        old_session = user.get_id()
        result = identities.sign_in(profile(display_name='Alice'), user)
        assert result.outcome == 'upgraded' and result.user.id == user.id
        assert user.display_name == 'Guesty' and not user.is_guest and user.signed_in
        assert db.session.get(Room, room.id).created_by == user.id
        # Copies of the guest's cookie or token from before do not inherit the account.
        assert user.session_epoch == epoch + 1
        assert User.by_session_id(old_session) is None
        assert User.by_token(token) is None
        assert User.by_session_id(user.get_id()).id == user.id


def test_the_same_provider_account_later_reaches_the_same_user(app):
    with app.app_context():
        user, _ = guest()
        identities.sign_in(profile(), user)
        again = identities.sign_in(profile())  # another browser: nobody signed in there
        assert again.outcome == 'returning' and again.user.id == user.id


def test_a_second_provider_links_to_the_signed_in_account(app):
    with app.app_context():
        user = identities.sign_in(profile()).user
        epoch = user.session_epoch
        linked = identities.sign_in(profile(provider='other', issuer='https://other.example'),
                                    user)
        assert linked.outcome == 'linked' and linked.user.id == user.id
        assert user.session_epoch == epoch  # linking signs no other device out
        assert identities.providers_of(user) == ['test', 'other']
        via_other = identities.sign_in(profile(provider='other', issuer='https://other.example'))
        assert via_other.user.id == user.id


def test_a_subject_is_never_trusted_across_providers_or_issuers(app):
    with app.app_context():
        alice = identities.sign_in(profile('alice')).user
        other_provider = identities.sign_in(profile('alice', provider='other')).user
        other_issuer = identities.sign_in(profile('alice', issuer='https://evil.example')).user
        assert len({alice.id, other_provider.id, other_issuer.id}) == 3


def test_a_guest_signing_in_to_an_existing_account_brings_their_rooms(app):
    with app.app_context():
        account = identities.sign_in(profile()).user
        visitor, _ = guest('Visitor')
        room = Room.create(visitor, 'Made as a guest')
        db.session.add(RoomControl(room_id=room.id, host=visitor.public_id))
        db.session.commit()
        result = identities.sign_in(profile(), visitor)
        assert result.outcome == 'returning' and result.user.id == account.id
        assert db.session.get(Room, room.id).created_by == account.id
        assert db.session.get(RoomControl, room.id).host == account.public_id


def test_sign_out_everywhere_ends_every_session_and_replaces_the_token(app):
    with app.app_context():
        user = identities.sign_in(profile()).user
        token = user.rotate_token()
        db.session.commit()
        session_id = user.get_id()
        new_token = user.end_sessions()
        assert User.by_session_id(session_id) is None
        assert User.by_token(token) is None
        assert User.by_token(new_token).id == user.id


def test_avatars_are_https_urls_or_nothing():
    assert identities.clean_avatar_url('https://img.example/a.png') == 'https://img.example/a.png'
    for bad in ('http://img.example/a.png', 'javascript:alert(1)', 'https://u@x/a',
                'https://x/' + 'a' * 600, None, 42):
        assert identities.clean_avatar_url(bad) is None


def test_a_session_from_before_epochs_still_works_until_the_first_sign_out(app):
    with app.app_context():
        user, _ = guest()
        assert User.by_session_id(user.public_id).id == user.id  # no ':0' suffix
        user.end_sessions()
        assert User.by_session_id(user.public_id) is None


# -- only signed-in players ----------------------------------------------------------------

@pytest.fixture
def signed_in_room(tmp_path):
    app = make_app(tmp_path, **TEST_PROVIDER)
    host = new_user(app.test_client(), 'host', 'Hana')
    room_id = new_room(app.test_client(), host['token'])
    with app.app_context():
        user = identities.sign_in(profile('sam', display_name='Sam',
                                          avatar_url='https://img.example/s.png')).user
        sam_token = user.rotate_token()
        db.session.commit()
    return app, room_id, host, sam_token


def test_a_signed_in_seat_shows_it_and_a_guest_seat_says_nothing(signed_in_room):
    app, room_id, host, sam_token = signed_in_room
    hana = Peer(app, room_id, host['token'])
    sam = Peer(app, room_id, sam_token)
    assert sam.welcome['self']['signed_in'] is True
    assert sam.welcome['self']['avatar_url'] == 'https://img.example/s.png'
    assert hana.next('peer-joined')['signed_in'] is True
    assert 'signed_in' not in hana.welcome['self'] and 'avatar_url' not in hana.welcome['self']


def test_only_signed_in_players_may_join_when_the_host_says_so(signed_in_room):
    app, room_id, host, sam_token = signed_in_room
    hana = Peer(app, room_id, host['token'])
    seated_guest = new_user(app.test_client(), display_name='Early')
    early = Peer(app, room_id, seated_guest['token'])
    ack = hana.sio.emit('room-settings', {'signed_in_only': True}, namespace=hana.ns,
                        callback=True)
    assert ack == {'ok': True, 'room': {'host': host['user_id'], 'locked': False,
                                        'knock': False, 'signed_in_only': True}}
    late = new_user(app.test_client(), display_name='Late')
    refused = refusal(app, room_id, token=late['token'])
    assert refused['message'] == 'sign_in_required'
    assert 'signed-in players' in refused['data']['message']
    assert Peer(app, room_id, sam_token).connected  # signed in: welcome
    assert early.connected  # turning it on sends nobody away
    # The host is never locked out of their own room, signed in or not.
    assert Peer(app, room_id, host['token']).connected
    ack = hana.sio.emit('room-settings', {'signed_in_only': False}, namespace=hana.ns,
                        callback=True)
    assert 'signed_in_only' not in ack['room']
    assert Peer(app, room_id, late['token']).connected


def test_a_guest_knocking_on_a_signed_in_only_room_is_refused(signed_in_room):
    from rhystic.extensions import socketio
    app, room_id, host, _ = signed_in_room
    hana = Peer(app, room_id, host['token'])
    hana.sio.emit('room-settings', {'signed_in_only': True, 'locked': True, 'knock': True},
                  namespace=hana.ns, callback=True)
    late = new_user(app.test_client(), display_name='Late')
    lobby = socketio.test_client(app, namespace=f'/lobby/{room_id}',
                                 auth={'token': late['token']})
    assert not lobby.is_connected(f'/lobby/{room_id}')


def test_without_providers_the_setting_is_refused(tmp_path):
    app = make_app(tmp_path)
    host = new_user(app.test_client(), 'host', 'Hana')
    room_id = new_room(app.test_client(), host['token'])
    hana = Peer(app, room_id, host['token'])
    ack = hana.sio.emit('room-settings', {'signed_in_only': True}, namespace=hana.ns,
                        callback=True)
    assert ack['ok'] is False and ack['error']['code'] == 'invalid_request'


@pytest.mark.parametrize('kind', ['memory', 'redis'])
def test_a_seat_keeps_its_profile_in_either_store(kind, request):
    """What a seat shows of a signed-in account survives the store (Redis keeps strings),
    and a resumed seat keeps it."""
    import redis as redis_lib

    from conftest import REDIS_URL
    from rhystic.signaling.rooms import Rooms
    from rhystic.signaling.store import MemoryStore, RedisStore
    store = MemoryStore() if kind == 'memory' else RedisStore(
        redis_lib.Redis.from_url(REDIS_URL, decode_responses=True),
        request.getfixturevalue('redis_prefix'))
    rooms = Rooms(store, 'secret', 'worker-a')
    avatar = 'https://img.example/s.png'
    sam = rooms.join('room-a', 8, 'u_sam', 'Sam', 's1',
                     profile={'signed_in': True, 'avatar_url': avatar})
    gus = rooms.join('room-a', 8, 'u_gus', 'Gus', 's2')
    seen = {p['user_id']: p for p in gus.peers}
    assert seen['u_sam']['signed_in'] is True and seen['u_sam']['avatar_url'] == avatar
    assert 'signed_in' not in gus.seat.public()
    again = rooms.join('room-a', 8, 'u_sam', 'Sam', 's3', peer_id=sam.seat.peer_id,
                       resume=sam.resume)
    assert again.resumed and again.seat.public()['avatar_url'] == avatar


@pytest.mark.parametrize('next_path, kept', [
    ('/r/kfp-7wq2-mzt', True), ('/', True),
    ('//evil.example/', False), ('/\t/evil.example', False), ('/\\evil.example', False),
    ('https://evil.example/', False), ('/\n/evil.example', False), (None, False),
])
def test_only_a_path_on_this_site_is_a_place_to_return_to(next_path, kept):
    from rhystic.oauth import _local_path
    assert _local_path(next_path) == (next_path if kept else None)
