"""Security policy: headers, cookies, CSRF, origins, sign-in, and room-id enumeration."""
import re
import secrets

import pytest
import requests
import socketio
import websocket

from clients import PyPeer, api_room, api_user, refusal
from conftest import make_app, new_room, new_user
from servers import Server, live_env

# -- headers and cookies (in process) ------------------------------------------------


def every_get_url(app, room_id):
    """One URL for each GET route, with its arguments filled in, plus error pages."""
    urls = []
    for rule in app.url_map.iter_rules():
        if 'GET' not in rule.methods:
            continue
        if rule.endpoint == 'static':
            urls += ['/static/css/rhystic.css', '/static/js/signaling.js']
        elif rule.arguments == {'room_id'}:
            urls.append(rule.rule.replace('<room_id>', room_id))
        else:
            assert not rule.arguments, f'fill in the arguments of {rule.rule}'
            urls.append(rule.rule)
    return urls + ['/no-such-page', '/r/no-such-room', '/api/rooms/no-such-room']


def assert_security_headers(response, url):
    headers = response.headers
    csp = headers.get('Content-Security-Policy', '')
    assert "default-src 'self'" in csp, url
    assert "frame-ancestors 'none'" in csp, url
    assert "script-src 'self';" in csp, url  # no 'unsafe-inline', no other host
    assert not re.search(r'https?:|\*', csp), url
    assert headers.get('X-Content-Type-Options') == 'nosniff', url
    assert headers.get('Referrer-Policy') == 'same-origin', url
    assert headers.get('X-Frame-Options') == 'DENY', url


def test_every_page_and_error_carries_the_security_headers(tmp_path):
    app = make_app(tmp_path)
    client = app.test_client()
    user = new_user(client)  # signed in: the pages that need a user render fully
    room_id = new_room(client, user['token'])
    for url in every_get_url(app, room_id):
        response = client.get(url, headers={'Authorization': f'Bearer {user["token"]}'})
        assert response.status_code < 500, url
        assert_security_headers(response, url)
    assert_security_headers(client.post('/api/users', data='{'), 'bad json')
    assert_security_headers(client.delete('/api/me'), '405')


def session_cookies(response):
    return {c.split('=', 1)[0]: c for c in response.headers.getlist('Set-Cookie')}


def test_session_cookies_are_httponly_and_lax_and_secure_behind_https(tmp_path):
    for sub in ('plain', 'proxied'):
        (tmp_path / sub).mkdir()
    plain = make_app(tmp_path / 'plain').test_client()
    cookies = session_cookies(plain.post('/api/users', json={'display_name': 'Ann'}))
    assert {'session', 'remember_token'} <= set(cookies)
    for cookie in cookies.values():
        assert 'HttpOnly' in cookie and 'SameSite=Lax' in cookie and 'Secure' not in cookie

    proxied = make_app(tmp_path / 'proxied', PROXY_FIX=1).test_client()
    response = proxied.post('/api/users', json={'display_name': 'Ann'},
                            headers={'X-Forwarded-Proto': 'https', 'X-Forwarded-For': '192.0.2.9'})
    for cookie in session_cookies(response).values():
        assert 'Secure' in cookie and 'HttpOnly' in cookie and 'SameSite=Lax' in cookie
    assert response.headers['Strict-Transport-Security'].startswith('max-age=')


# -- CSRF ------------------------------------------------------------------------------


def csrf_token(client):
    page = client.get('/').get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def test_cookie_callers_need_a_csrf_token_for_every_change(tmp_path):
    client = make_app(tmp_path).test_client()
    user = new_user(client)  # cookie-less: this one is free, and signs the browser in

    for method, url, body in [('post', '/api/rooms', {}),
                              ('patch', '/api/me', {'display_name': 'Mallory'})]:
        refused = getattr(client, method)(url, json=body)
        assert refused.status_code == 403, url
        assert refused.get_json()['error']['code'] == 'csrf_failed'
    form = client.post('/rooms', data={'display_name': 'Ann'})
    assert form.status_code == 403 and 'csrf' in form.get_data(as_text=True).lower()
    assert client.get('/api/me').get_json()['display_name'] == 'Alice'  # nothing changed

    token = csrf_token(client)
    assert client.post('/api/rooms', json={}, headers={'X-CSRFToken': token}).status_code == 201
    assert client.patch('/api/me', json={'display_name': 'Ann'},
                        headers={'X-CSRFToken': token}).status_code == 200
    form = client.post('/rooms', data={'display_name': 'Ann', 'csrf_token': token})
    assert form.status_code == 302
    assert client.post('/api/rooms', json={}, headers={'X-CSRFToken': 'forged'}).status_code \
        == 403
    # A made-up bearer token does not excuse the cookie from the check.
    assert client.post('/api/rooms', json={},
                       headers={'Authorization': 'Bearer made-up-token-1234'}).status_code \
        == 403
    # A bearer token carries no ambient authority: no CSRF token needed with it.
    assert client.post('/api/rooms', json={},
                       headers={'Authorization': f'Bearer {user["token"]}'}).status_code == 201


# -- a real server: origins, sign-in, enumeration ----------------------------------------


def start_server(tmp_path, **extra):
    env = live_env(tmp_path, 'security', RHYSTIC_RATELIMIT_STORAGE_URI='memory://', **extra)
    return Server(env).start()


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp('security'),
                          RHYSTIC_RATELIMIT_JOIN_FAILURES='1000 per minute')
    yield server
    server.stop()


def connect(url, room_id, token, origin):
    """A python-socketio client joining from a page at `origin`. Long-polling, because
    the websocket library adds an Origin header of its own; websocket_opens checks that
    transport."""
    client = socketio.Client(reconnection=False)
    try:
        client.connect(url, namespaces=[f'/room/{room_id}'], transports=['polling'],
                       auth={'token': token}, headers={'Origin': origin}, wait_timeout=5)
    except socketio.exceptions.ConnectionError:
        return False
    client.disconnect()
    return True


def websocket_opens(url, origin):
    """Whether an Engine.IO WebSocket opens for a page at `origin`."""
    ws_url = url.replace('http://', 'ws://') + '/socket.io/?EIO=4&transport=websocket'
    try:
        ws = websocket.create_connection(ws_url, origin=origin, timeout=5)
    except websocket.WebSocketBadStatusException as exc:
        assert exc.status_code == 400
        return False
    try:
        return ws.recv().startswith('0{')  # Engine.IO "open"
    finally:
        ws.close()


def test_a_cross_origin_socketio_connection_is_refused(server):
    user = api_user(server.url)
    room_id = api_room(server.url, user['token'])
    assert connect(server.url, room_id, user['token'], server.url)  # same origin: fine
    assert websocket_opens(server.url, server.url)
    for origin in ('http://evil.example', 'http://127.0.0.1.evil.example', 'null',
                   server.url.replace('http:', 'https:')):
        assert not connect(server.url, room_id, user['token'], origin), origin
        assert not websocket_opens(server.url, origin), origin
    polling = requests.get(server.url + '/socket.io/?EIO=4&transport=polling', timeout=5,
                           headers={'Origin': 'http://evil.example'})
    assert polling.status_code == 400
    assert 'Access-Control-Allow-Origin' not in polling.headers


def test_configured_origins_are_the_only_foreign_ones_allowed(tmp_path):
    server = start_server(tmp_path, RHYSTIC_CORS_ORIGINS='https://play.example')
    try:
        user = api_user(server.url)
        room_id = api_room(server.url, user['token'])
        assert connect(server.url, room_id, user['token'], 'https://play.example')
        assert websocket_opens(server.url, 'https://play.example')
        assert not connect(server.url, room_id, user['token'], 'http://evil.example')
        assert not websocket_opens(server.url, 'http://evil.example')
    finally:
        server.stop()


def test_no_turn_credentials_and_no_room_without_signing_in(server):
    owner = api_user(server.url)
    room_id = api_room(server.url, owner['token'])
    for headers in ({}, {'Authorization': 'Bearer not-a-token-at-all'},
                    {'Authorization': owner['token']}):  # no scheme: not a bearer token
        for path in (f'/turn?user_id={owner["user_id"]}', '/api/ice-servers', '/api/me'):
            response = requests.get(server.url + path, headers=headers, timeout=5)
            assert response.status_code == 401, (path, headers)
            assert response.json()['error']['code'] == 'unauthorized'
            assert 'credential' not in response.text
    other = api_user(server.url, 'Other')
    response = requests.get(f'{server.url}/turn?user_id={owner["user_id"]}', timeout=5,
                            headers={'Authorization': f'Bearer {other["token"]}'})
    assert response.status_code == 403

    assert refusal(server.url, room_id)['message'] == 'unauthorized'
    assert refusal(server.url, room_id, token='x' * 43)['message'] == 'unauthorized'


def test_a_wrong_room_id_and_a_malformed_one_look_alike(server):
    user = api_user(server.url)
    headers = {'Authorization': f'Bearer {user["token"]}'}
    answers = [requests.get(f'{server.url}/api/rooms/{room_id}', headers=headers, timeout=5)
               for room_id in ('abc-defg-hjk', 'NOT_AN_ID!', 'x' * 200)]
    assert {(r.status_code, r.text) for r in answers} == {(answers[0].status_code,
                                                            answers[0].text)}
    assert answers[0].status_code == 404
    refusals = [refusal(server.url, room_id, token=user['token'])
                for room_id in ('abc-defg-hjk', 'NOT_AN_ID', 'x' * 60)]
    assert all(r == refusals[0] for r in refusals)
    assert refusals[0]['message'] == 'room_not_found'


def test_failed_joins_are_rate_limited(tmp_path):
    server = start_server(tmp_path, RHYSTIC_RATELIMIT_JOIN_FAILURES='3 per minute')
    try:
        user = api_user(server.url)
        room_id = api_room(server.url, user['token'])
        for _ in range(3):
            assert refusal(server.url, f'zzz-{secrets.token_hex(4)}',
                           token=user['token'])['message'] == 'room_not_found'
        # Now even the right id is refused, and so is an HTTP lookup: guessing is over.
        assert refusal(server.url, room_id, token=user['token'])['message'] == 'rate_limited'
        response = requests.get(f'{server.url}/api/rooms/zzz-zzzz-zzz', timeout=5,
                                headers={'Authorization': f'Bearer {user["token"]}'})
        assert response.status_code == 429
        assert response.json()['error']['code'] == 'rate_limited'
    finally:
        server.stop()


def test_a_signed_in_peer_with_the_right_id_gets_in(server):
    """The refusals above are not a server that refuses everything."""
    user = api_user(server.url)
    peer = PyPeer(server.url, api_room(server.url, user['token']), user['token'])
    try:
        assert peer.welcome['peer_id'].startswith('p_')
    finally:
        peer.close()

