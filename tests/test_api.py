"""The JSON API: every shape clients rely on, and every error in its one JSON shape."""
import base64
import hashlib
import hmac
import time

import pytest

from conftest import TURN_SECRET, make_app, new_room, new_user, socket_client
from rhystic.extensions import db
from rhystic.models import User


def bearer(token):
    return {'Authorization': f'Bearer {token}'}


def assert_error(response, status, code=None):
    """The API's one error shape: {"error": {"code", "message"}} with the right status."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == 'application/json'
    body = response.get_json()
    assert set(body) == {'error'}
    error = body['error']
    assert isinstance(error['code'], str) and error['code']
    assert isinstance(error['message'], str) and error['message']
    if code:
        assert error['code'] == code
    return error


# --- users -------------------------------------------------------------------------

def test_create_user_shape(client):
    response = client.post('/api/users', json={'username': 'alice', 'display_name': ' Alice '})
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {'user_id', 'username', 'display_name', 'token'}
    assert body['user_id'].startswith('u_')
    assert body['username'] == 'alice'
    assert body['display_name'] == 'Alice'
    assert len(body['token']) >= 40


def test_token_is_stored_only_as_a_hash(app, client):
    body = new_user(client, 'alice')
    with app.app_context():
        user = User.by_public_id(body['user_id'])
        assert user.token_hash == hashlib.sha256(body['token'].encode()).hexdigest()
        stored = [str(v) for v in db.session.execute(db.text('SELECT * FROM users')).one()]
    assert body['token'] not in stored


def test_guest_from_display_name_only(client):
    body = new_user(client, display_name='Bob the Guest')
    assert body['username'].startswith('guest-')
    assert body['display_name'] == 'Bob the Guest'
    assert body['token']
    # Signed in at once: the browser's session knows who this is.
    me = client.get('/api/me')
    assert me.status_code == 200
    assert me.get_json()['user_id'] == body['user_id']


def test_two_guests_get_different_usernames(app):
    first = new_user(app.test_client(), display_name='Same')
    second = new_user(app.test_client(), display_name='Same')
    assert first['username'] != second['username']
    assert first['user_id'] != second['user_id']


def test_create_user_signs_the_browser_in(client):
    assert_error(client.get('/api/me'), 401, 'unauthorized')
    body = new_user(client, 'carol', 'Carol')
    # No bearer header: the session cookie alone identifies the caller.
    me = client.get('/api/me')
    assert me.status_code == 200
    assert me.get_json() == {'user_id': body['user_id'], 'username': 'carol',
                             'display_name': 'Carol'}
    turn = client.get(f'/turn?user_id={body["user_id"]}')
    assert turn.status_code == 200


def test_bearer_token_identifies_the_caller(app, client):
    body = new_user(client, 'dave')
    other = app.test_client()  # no cookies: only the token
    me = other.get('/api/me', headers=bearer(body['token']))
    assert me.status_code == 200
    assert me.get_json()['user_id'] == body['user_id']
    assert_error(other.get('/api/me', headers=bearer(body['token'] + 'x')), 401)
    assert_error(other.get('/api/me', headers={'Authorization': body['token']}), 401)
    assert_error(other.get('/api/me', headers={'Authorization': 'Basic ' + body['token']}), 401)


def test_rename_me(app, client):
    body = new_user(client, 'erin')
    other = app.test_client()
    response = other.patch('/api/me', json={'display_name': 'Erin R.'},
                           headers=bearer(body['token']))
    assert response.status_code == 200
    assert response.get_json()['display_name'] == 'Erin R.'
    assert other.get('/api/me', headers=bearer(body['token'])).get_json()['display_name'] \
        == 'Erin R.'


@pytest.mark.parametrize('username', ['Alice', 'ALICE', ' alice '])
def test_username_taken_is_case_insensitive(app, username):
    new_user(app.test_client(), 'alice')
    response = app.test_client().post('/api/users',
                                      json={'username': username, 'display_name': 'Other'})
    error = assert_error(response, 409, 'username_taken')
    assert 'alice' in error['message']


def test_uppercase_username_is_stored_lowercase(client):
    assert new_user(client, 'MixedCase')['username'] == 'mixedcase'


# --- rooms -------------------------------------------------------------------------

def test_create_room_shape(app, client):
    token = new_user(client, 'frank')['token']
    response = app.test_client().post('/api/rooms', json={'name': 'Friday Commander',
                                                          'max_peers': 4},
                                      headers=bearer(token))
    assert response.status_code == 201
    body = response.get_json()
    assert body['status'] == 'created'
    assert {'room_id', 'status'} <= set(body)
    room_id = body['room_id']
    got = app.test_client().get(f'/api/rooms/{room_id}')
    assert got.status_code == 200
    assert got.get_json() == {'id': room_id, 'name': 'Friday Commander', 'peer_count': 0,
                              'max_peers': 4}


def test_create_room_with_no_body_uses_defaults(app, client):
    token = new_user(client, 'gina')['token']
    response = app.test_client().post('/api/rooms', headers=bearer(token))
    assert response.status_code == 201
    room = app.test_client().get(f'/api/rooms/{response.get_json()["room_id"]}').get_json()
    assert room['name'] is None
    assert room['max_peers'] == 8


def room_url(app, token, base_url='http://localhost', **headers):
    headers = {name.replace('_', '-'): value for name, value in headers.items()}
    response = app.test_client().post('/api/rooms', headers={**bearer(token), **headers},
                                      base_url=base_url)
    assert response.status_code == 201, response.get_json()
    return response.get_json()['url'], response.get_json()['room_id']


def test_room_url_never_repeats_a_host_header_it_cannot_trust(tmp_path):
    # With no RHYSTIC_PUBLIC_URL the url is the path alone, except on this machine.
    for proxy_fix in (0, 1):
        app = make_app(tmp_path, PROXY_FIX=proxy_fix)
        token = new_user(app.test_client(), f'host{proxy_fix}')['token']
        url, room_id = room_url(app, token, 'http://evil.example')
        assert url == f'/r/{room_id}'
        url, room_id = room_url(app, token, X_Forwarded_Host='evil.example')
        assert 'evil' not in url and url.endswith(f'/r/{room_id}')
        for base in ('http://localhost:8080', 'http://127.0.0.1:9000', 'http://[::1]:8080'):
            url, room_id = room_url(app, token, base)
            assert url == f'{base}/r/{room_id}'


def test_room_url_is_built_on_the_public_url(tmp_path):
    app = make_app(tmp_path, PUBLIC_URL='https://play.example.org/', PROXY_FIX=1)
    token = new_user(app.test_client(), 'public')['token']
    for base, headers in (('http://evil.example', {}), ('http://localhost:8080', {}),
                          ('http://localhost', {'X_Forwarded_Host': 'evil.example'})):
        url, room_id = room_url(app, token, base, **headers)
        assert url == f'https://play.example.org/r/{room_id}'


def test_pages_never_repeat_the_host_header_either(sqlite_app):
    token = new_user(sqlite_app.test_client(), 'pages')['token']
    _, room_id = room_url(sqlite_app, token)
    client = sqlite_app.test_client()
    for path in ('/', f'/r/{room_id}', '/r/no-such-room', '/nowhere'):
        response = client.get(path, base_url='http://evil.example',
                              headers={'X-Forwarded-Host': 'evil.example'})
        assert 'evil' not in response.get_data(as_text=True), path
        assert 'evil' not in str(response.headers), path


def test_room_ids_are_distinct_and_readable(app, client):
    token = new_user(client, 'hank')['token']
    ids = {new_room(app.test_client(), token) for _ in range(20)}
    assert len(ids) == 20
    for room_id in ids:
        assert set(room_id) <= set('abcdefghjkmnpqrstuvwxyz23456789-')


def test_peer_count_follows_the_players(sqlite_app):
    client = sqlite_app.test_client()
    token = new_user(client, 'ivy')['token']
    room_id = new_room(client, token)
    sock = socket_client(sqlite_app, room_id, token)
    try:
        assert sock.is_connected(f'/room/{room_id}')
        room = sqlite_app.test_client().get(f'/api/rooms/{room_id}').get_json()
        assert room['peer_count'] == 1
    finally:
        sock.disconnect(f'/room/{room_id}')


def test_room_not_found(client):
    assert_error(client.get('/api/rooms/abc-defg-hjk'), 404, 'room_not_found')
    assert_error(client.get('/api/rooms/NOT%20A%20ROOM!'), 404, 'room_not_found')


def test_unknown_api_path_is_json_404(client):
    assert_error(client.get('/api/nothing-here'), 404, 'not_found')


def test_wrong_method_is_json_405(client):
    assert_error(client.delete('/api/users'), 405)


# --- TURN and ICE servers ----------------------------------------------------------

def test_turn_credentials_shape(app, client):
    body = new_user(client, 'jack')
    before = int(time.time())
    response = app.test_client().get(f'/turn?user_id={body["user_id"]}',
                                     headers=bearer(body['token']))
    after = int(time.time())
    assert response.status_code == 200
    creds = response.get_json()
    assert set(creds) == {'username', 'credential', 'ttl', 'urls'}
    assert creds['ttl'] == 3600
    assert creds['urls'] == ['turn:127.0.0.1:3478']
    expiry, _, user_id = creds['username'].partition(':')
    assert user_id == body['user_id']
    assert before + 3600 <= int(expiry) <= after + 3600
    expected = base64.b64encode(hmac.new(TURN_SECRET.encode(), creds['username'].encode(),
                                         hashlib.sha1).digest()).decode()
    assert creds['credential'] == expected


def test_turn_without_user_id_means_the_caller(app, client):
    body = new_user(client, 'kate')
    creds = app.test_client().get('/turn', headers=bearer(body['token'])).get_json()
    assert creds['username'].endswith(':' + body['user_id'])


def test_turn_for_someone_else_is_forbidden(app, client):
    mine = new_user(app.test_client(), 'liam')
    theirs = new_user(app.test_client(), 'mia')
    response = client.get(f'/turn?user_id={theirs["user_id"]}', headers=bearer(mine['token']))
    assert_error(response, 403, 'forbidden')


def test_turn_needs_a_caller(client):
    assert_error(client.get('/turn?user_id=u_someone'), 401, 'unauthorized')


def test_turn_not_configured_is_503(tmp_path):
    app = make_app(tmp_path, TURN_SECRET=None, TURN_URLS=[])
    client = app.test_client()
    body = new_user(client, 'noah')
    error = assert_error(client.get(f'/turn?user_id={body["user_id"]}'), 503, 'turn_unavailable')
    assert 'TURN' in error['message']
    # ICE servers still work: STUN only.
    servers = client.get('/api/ice-servers').get_json()
    assert servers == [{'urls': ['stun:127.0.0.1:3478']}]


def test_ice_servers_shape(app, client):
    body = new_user(client, 'olga')
    response = app.test_client().get('/api/ice-servers', headers=bearer(body['token']))
    assert response.status_code == 200
    servers = response.get_json()
    assert servers[0] == {'urls': ['stun:127.0.0.1:3478']}
    turn = servers[1]
    assert set(turn) == {'urls', 'username', 'credential'}
    assert turn['urls'] == ['turn:127.0.0.1:3478']
    assert turn['username'].endswith(':' + body['user_id'])
    assert turn['credential'] == base64.b64encode(hmac.new(
        TURN_SECRET.encode(), turn['username'].encode(), hashlib.sha1).digest()).decode()


def test_ice_servers_needs_a_caller(client):
    assert_error(client.get('/api/ice-servers'), 401, 'unauthorized')


# --- invalid input: always 400 with the JSON shape, never a 500 -------------------

BAD_USER_BODIES = [
    ('{"username": "alice", "display_name": ', 'application/json'),  # truncated
    ('{username: alice}', 'application/json'),
    ('not json at all', 'application/json'),
    ('\xff\xfe', 'application/json'),
    ('{"display_name": "A"}', 'text/plain'),       # JSON, but not declared as JSON
    ('[' * 20000 + ']' * 20000, 'application/json'),  # deeper than the parser recurses
    ('[]', 'application/json'),
    ('"Alice"', 'application/json'),
    ('42', 'application/json'),
    ('null', 'application/json'),
    ('{}', 'application/json'),                        # display_name missing
]


@pytest.mark.parametrize('data,content_type', BAD_USER_BODIES)
def test_malformed_user_bodies_are_400(client, data, content_type):
    response = client.post('/api/users', data=data.encode('latin-1'), content_type=content_type)
    assert_error(response, 400, 'invalid_request')


@pytest.mark.parametrize('body,field', [
    ({'username': 123, 'display_name': 'A'}, 'username'),
    ({'username': ['a'], 'display_name': 'A'}, 'username'),
    ({'username': 'alice', 'display_name': 5}, 'display_name'),
    ({'username': 'alice', 'display_name': None}, 'display_name'),
    ({'username': 'alice', 'display_name': {'a': 1}}, 'display_name'),
    ({'username': 'al', 'display_name': 'A'}, 'username'),
    ({'username': 'a' * 33, 'display_name': 'A'}, 'username'),
    ({'username': 'bad name', 'display_name': 'A'}, 'username'),
    ({'username': 'émile', 'display_name': 'A'}, 'username'),
    ({'username': 'alice', 'display_name': '   '}, 'display_name'),
    ({'username': 'alice', 'display_name': 'x' * 41}, 'display_name'),
    ({'username': 'alice', 'display_name': 'bell\x07'}, 'display_name'),
    ({'username': 'alice', 'display_name': '\u3164'}, 'display_name'),  # Hangul filler
    ({'username': 'alice', 'display_name': 'Bob' + '\u0301' * 37}, 'display_name'),
    ({'username': 'alice', 'display_name': 'A', 'admin': True}, 'admin'),
])
def test_invalid_user_fields_are_400(client, body, field):
    error = assert_error(client.post('/api/users', json=body), 400, 'invalid_request')
    assert error['field'] == field


@pytest.mark.parametrize('body,field', [
    ({'max_peers': '8'}, 'max_peers'),
    ({'max_peers': True}, 'max_peers'),
    ({'max_peers': 4.5}, 'max_peers'),
    ({'max_peers': 1}, 'max_peers'),
    ({'max_peers': 9}, 'max_peers'),
    ({'max_peers': 10 ** 30}, 'max_peers'),
    ({'name': 7}, 'name'),
    ({'name': 'n' * 81}, 'name'),
    ({'name': 'tab\there'}, 'name'),
    ({'name': 'ok', 'private': True}, 'private'),
])
def test_invalid_room_fields_are_400(app, client, body, field):
    token = new_user(client, 'pat')['token']
    response = app.test_client().post('/api/rooms', json=body, headers=bearer(token))
    error = assert_error(response, 400, 'invalid_request')
    assert error['field'] == field


def test_malformed_room_body_is_400(app, client):
    token = new_user(client, 'quin')['token']
    for data in ('{"name": ', '[1, 2]', '"room"'):
        response = app.test_client().post('/api/rooms', data=data,
                                          content_type='application/json',
                                          headers=bearer(token))
        assert_error(response, 400, 'invalid_request')


def test_rename_rejects_bad_input(app, client):
    token = new_user(client, 'rosa')['token']
    other = app.test_client()
    for body in ({'display_name': ''}, {'display_name': 3}, {'nickname': 'x'}, {}):
        assert_error(other.patch('/api/me', json=body, headers=bearer(token)), 400)


def test_a_room_made_without_signing_in_is_claimed_once_with_its_owner_token(app, client):
    response = client.post('/api/rooms')
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {'room_id', 'status', 'name', 'max_peers', 'url', 'owner_token'}
    assert body['status'] == 'created' and len(body['owner_token']) >= 40
    room_id, owner_token = body['room_id'], body['owner_token']
    with app.app_context():  # only a hash is kept
        from rhystic.models import Room
        assert owner_token not in (Room.get(room_id).owner_token_hash or '')

    hana = new_user(app.test_client(), 'hana')['token']
    ivan = new_user(app.test_client(), 'ivan')['token']
    claim = f'/api/rooms/{room_id}/claim'
    assert_error(app.test_client().post(claim, json={'owner_token': owner_token}), 401)
    assert_error(app.test_client().post(claim, json={'owner_token': 'x' * 43},
                                        headers=bearer(hana)), 403, 'owner_token_invalid')
    assert_error(app.test_client().post(claim, json={'owner_token': 5}, headers=bearer(hana)),
                 400, 'invalid_request')
    assert_error(app.test_client().post('/api/rooms/abc-defg-hjk/claim',
                                        json={'owner_token': owner_token},
                                        headers=bearer(hana)), 404, 'room_not_found')
    claimed = app.test_client().post(claim, json={'owner_token': owner_token},
                                     headers=bearer(hana))
    assert claimed.status_code == 200, claimed.get_json()
    hana_id = app.test_client().get('/api/me', headers=bearer(hana)).get_json()['user_id']
    assert claimed.get_json() == {'room_id': room_id, 'status': 'claimed', 'owner': hana_id}
    assert_error(app.test_client().post(claim, json={'owner_token': owner_token},
                                        headers=bearer(ivan)), 403, 'owner_token_invalid')
    with app.app_context():
        assert Room.get(room_id).owner_public_id() == hana_id


def test_a_signed_in_creator_owns_the_room_and_gets_no_owner_token(client):
    token = new_user(client, 'jules')['token']
    body = client.post('/api/rooms', headers=bearer(token)).get_json()
    assert 'owner_token' not in body
    assert_error(client.post(f'/api/rooms/{body["room_id"]}/claim',
                             json={'owner_token': 'y' * 43}, headers=bearer(token)),
                 403, 'owner_token_invalid')


def test_a_wrong_bearer_token_is_refused_not_taken_for_no_sign_in(client):
    assert_error(client.post('/api/rooms', headers=bearer('made-up-token-1234')), 401,
                 'unauthorized')


def test_oversized_body_is_413(client):
    limit = 64 * 1024
    padding = 'x' * limit
    response = client.post('/api/users', json={'username': 'big', 'display_name': padding})
    assert_error(response, 413, 'too_large')
    # Just under the limit is read and judged on its content instead.
    small = client.post('/api/users', json={'username': 'big', 'display_name': 'x' * 1000})
    assert_error(small, 400, 'invalid_request')


def test_oversized_room_body_is_413(app, client):
    token = new_user(client, 'sam')['token']
    response = app.test_client().post('/api/rooms', data=b'{"name": "' + b'n' * 70000 + b'"}',
                                      content_type='application/json', headers=bearer(token))
    assert_error(response, 413, 'too_large')


# --- rate limits: each one answers 429 in the JSON shape --------------------------

def test_rate_limit_on_user_creation(tmp_path):
    app = make_app(tmp_path, RATELIMIT_USERS='2 per minute')
    # Fresh clients: a signed-in browser would need a CSRF token for its next POST.
    new_user(app.test_client(), display_name='one')
    new_user(app.test_client(), display_name='two')
    response = app.test_client().post('/api/users', json={'display_name': 'three'})
    assert_error(response, 429, 'rate_limited')
    assert int(response.headers['Retry-After']) > 0


def test_rate_limit_on_room_creation(tmp_path):
    app = make_app(tmp_path, RATELIMIT_ROOMS='2 per minute')
    token = new_user(app.test_client(), 'tina')['token']
    client = app.test_client()
    new_room(client, token)
    new_room(client, token)
    response = client.post('/api/rooms', json={}, headers=bearer(token))
    assert_error(response, 429, 'rate_limited')


@pytest.mark.parametrize('path', ['/turn', '/api/ice-servers'])
def test_rate_limit_on_turn_credentials(tmp_path, path):
    app = make_app(tmp_path, RATELIMIT_TURN='2 per minute')
    token = new_user(app.test_client(), 'uma')['token']
    client = app.test_client()
    for _ in range(2):
        assert client.get(path, headers=bearer(token)).status_code == 200
    assert_error(client.get(path, headers=bearer(token)), 429, 'rate_limited')


def test_rate_limit_on_guessing_room_ids(tmp_path):
    client = make_app(tmp_path, RATELIMIT_JOIN_FAILURES='3 per minute').test_client()
    for _ in range(3):
        assert_error(client.get('/api/rooms/abc-defg-hjk'), 404)
    assert_error(client.get('/api/rooms/abc-defg-hjk'), 429, 'rate_limited')


def test_pages_get_html_errors(client):
    response = client.get('/r/abc-defg-hjk')
    assert response.status_code == 404
    assert response.mimetype == 'text/html'
    assert 'There is no room with this code.' in response.get_data(as_text=True)


def test_a_bearer_token_outranks_the_session_cookie(client):
    from conftest import new_user
    browser = new_user(client, 'cookieuser', 'Cookie')  # signs this client in
    other = new_user(client.application.test_client(), 'tokenuser', 'Token')
    me = client.get('/api/me', headers={'Authorization': f'Bearer {other["token"]}'})
    assert me.status_code == 200 and me.get_json()['user_id'] == other['user_id']
    assert client.get('/api/me').get_json()['user_id'] == browser['user_id']
    bad = client.get('/api/me', headers={'Authorization': 'Bearer not-a-real-token'})
    assert bad.status_code == 401 and bad.get_json()['error']['code'] == 'unauthorized'
