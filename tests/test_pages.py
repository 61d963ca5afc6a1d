"""The server-rendered pages: home, create and join by code, the room page."""
import re

import pytest

from conftest import make_app, new_room, new_user


@pytest.fixture
def client(tmp_path):
    return make_app(tmp_path, CAPTURE_WIDTH=160, CAPTURE_HEIGHT=120, CAPTURE_FPS=10).test_client()


def csrf_token(client):
    page = client.get('/').get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def post_form(client, url, **fields):
    return client.post(url, data={'csrf_token': csrf_token(client), **fields})


def test_home_asks_for_a_name_and_offers_create_and_join(client):
    page = client.get('/').get_data(as_text=True)
    assert 'name="display_name"' in page and 'required' in page
    assert 'Create room' in page and 'Join room' in page
    assert '<script>' not in page and 'style=' not in page  # the CSP allows neither


def test_create_room_signs_in_a_guest_and_opens_the_room(client):
    response = post_form(client, '/rooms', display_name='Alice', room_name='Friday')
    assert response.status_code == 302
    room_id = response.headers['Location'].rsplit('/r/', 1)[1]
    assert client.get('/api/me').get_json()['display_name'] == 'Alice'
    page = client.get(f'/r/{room_id}').get_data(as_text=True)
    assert 'Friday' in page and 'value="Alice"' in page
    # The home page now remembers both the name and the room.
    home = client.get('/').get_data(as_text=True)
    assert 'value="Alice"' in home and room_id in home


def test_create_room_without_a_name_is_refused_politely(client):
    response = post_form(client, '/rooms', display_name='  ')
    assert response.status_code == 302 and response.headers['Location'] == '/'
    assert 'Type the name' in client.get('/').get_data(as_text=True)


def test_join_by_an_unknown_code_asks_before_creating(client):
    response = post_form(client, '/join', display_name='Bob', code='Game-Night-42')
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert 'No room has this code.' in page and 'Create a new room with it?' in page
    assert 'name="create" value="1"' in page and 'value="game-night-42"' in page
    assert 'value="Bob"' in page and '/?code=game-night-42' in page
    # Nothing was made: no room, no guest player, nothing in the recent rooms.
    assert client.get('/api/rooms/game-night-42').status_code == 404
    assert client.get('/api/me').status_code == 401


def test_join_by_code_creates_the_room_when_asked_to(client):
    response = post_form(client, '/join', display_name='Bob', code='Game-Night-42',
                         create='1', max_peers='3')
    assert response.status_code == 302
    assert response.headers['Location'] == '/r/game-night-42'
    assert client.get('/api/rooms/game-night-42').get_json()['max_peers'] == 3


def test_join_by_a_known_code_goes_straight_in(client):
    post_form(client, '/join', display_name='Ann', code='kfp-7wq2-mzt', create='1')
    other = client.application.test_client()
    response = post_form(other, '/join', display_name='Bob', code='KFP-7wq2-mzt')
    assert response.headers['Location'] == '/r/kfp-7wq2-mzt'


def test_unknown_codes_by_the_form_count_as_failed_lookups(tmp_path):
    client = make_app(tmp_path, RATELIMIT_JOIN_FAILURES='2 per minute').test_client()
    for n in range(2):
        assert post_form(client, '/join', code=f'typo-{n}').status_code == 404
    assert post_form(client, '/join', code='typo-9').status_code == 429


def test_home_says_when_no_camera_can_open_here(client):
    for base in ('http://localhost:8080', 'http://127.0.0.1:8080', 'https://play.example.org'):
        assert 'insecure-home' not in client.get('/', base_url=base).get_data(as_text=True)
    page = client.get('/', base_url='http://192.168.1.20:8080').get_data(as_text=True)
    assert 'id="insecure-home"' in page and 'only open cameras and microphones' in page


def test_home_offers_2_to_8_seats_with_4_chosen(client):
    page = client.get('/').get_data(as_text=True)
    seats = re.search(r'<select id="seat-count" name="max_peers">(.*?)</select>', page, re.S)
    assert re.findall(r'value="(\d)"', seats.group(1)) == [str(n) for n in range(2, 9)]
    assert re.search(r'value="4" selected', seats.group(1))


def test_create_room_takes_the_seat_count_and_refuses_a_bad_one(client):
    response = post_form(client, '/rooms', display_name='Alice', max_peers='2')
    room_id = response.headers['Location'].rsplit('/r/', 1)[1]
    assert client.get(f'/api/rooms/{room_id}').get_json()['max_peers'] == 2
    for bad in ('1', '9', 'four'):
        response = post_form(client, '/rooms', display_name='Alice', max_peers=bad)
        assert response.headers['Location'] == '/'
        assert 'A room has 2 to 8 seats.' in client.get('/').get_data(as_text=True)
    # A form without the field (an older page) gets a pod of four.
    response = post_form(client, '/rooms', display_name='Alice')
    room_id = response.headers['Location'].rsplit('/r/', 1)[1]
    assert client.get(f'/api/rooms/{room_id}').get_json()['max_peers'] == 4


def test_seats_lists_who_is_seated(tmp_path):
    app = make_app(tmp_path)
    client = app.test_client()
    user = new_user(client)
    room_id = new_room(client, user['token'], max_peers=3)
    app.extensions['rhystic.rooms'].join(room_id, 3, 'u_1', 'Ann', 'sid1')
    response = client.get(f'/api/rooms/{room_id}/seats')
    assert response.headers['Cache-Control'] == 'no-store'
    assert response.get_json() == {'peer_count': 1, 'max_peers': 3, 'players': ['Ann']}
    missing = client.get('/api/rooms/zzz-zzzz-zzz/seats')
    assert missing.status_code == 404
    assert missing.get_json()['error']['code'] == 'room_not_found'


def test_seats_of_a_locked_room_name_nobody(tmp_path):
    app = make_app(tmp_path)
    client = app.test_client()
    room_id = new_room(client, new_user(client)['token'], max_peers=3)
    app.extensions['rhystic.rooms'].join(room_id, 3, 'u_1', 'Ann', 'sid1')
    with app.app_context():
        app.extensions['rhystic.signaling'].hosting.controls.change(room_id, locked=True)
    seats = client.get(f'/api/rooms/{room_id}/seats').get_json()
    assert seats == {'peer_count': 1, 'max_peers': 3, 'players': []}
    assert b'Ann' not in client.get(f'/r/{room_id}').data


def test_seats_is_rate_limited(tmp_path):
    app = make_app(tmp_path, RATELIMIT_LOBBY='2 per minute')
    client = app.test_client()
    room_id = new_room(client, new_user(client)['token'])
    assert [client.get(f'/api/rooms/{room_id}/seats').status_code for _ in range(3)] == [200, 200, 429]


def test_join_accepts_a_pasted_invite_link(client):
    post_form(client, '/join', display_name='Bob', code='kfp-7wq2-mzt', create='1')
    response = post_form(client, '/join', code='http://example.org/r/kfp-7wq2-mzt/')
    assert response.headers['Location'] == '/r/kfp-7wq2-mzt'


def test_join_with_a_malformed_code_explains(client):
    response = post_form(client, '/join', display_name='Bob', code='no spaces!')
    assert response.headers['Location'] == '/'
    assert 'room code is' in client.get('/').get_data(as_text=True)


def test_signed_in_player_renamed_from_the_form(client):
    post_form(client, '/rooms', display_name='Alice')
    post_form(client, '/rooms', display_name='Alice the Judge')
    assert client.get('/api/me').get_json()['display_name'] == 'Alice the Judge'


def test_room_page_passes_the_room_and_capture_size_to_the_client(client):
    user = new_user(client, display_name='Carol')
    room_id = new_room(client, user['token'], name='Commander')
    page = client.get(f'/r/{room_id}').get_data(as_text=True)
    for attribute in (f'data-room-id="{room_id}"', 'data-room-name="Commander"',
                      'data-max-peers="8"', 'data-peer-count="0"',
                      'data-capture-width="160"', 'data-capture-height="120"',
                      'data-capture-fps="10"', 'data-signed-in="1"'):
        assert attribute in page
    assert '8 of 8 seats free' in page
    assert re.search(r'id="full-notice"[^>]*hidden', page)
    assert 'js/ui.js' in page and 'type="module"' in page


def test_room_page_shows_the_full_state(tmp_path):
    app = make_app(tmp_path)
    client = app.test_client()
    user = new_user(client)
    room_id = new_room(client, user['token'], max_peers=2)
    rooms = app.extensions['rhystic.rooms']
    for n in range(2):
        rooms.join(room_id, 2, f'u_{n}', f'P{n}', f'sid{n}')
    page = client.get(f'/r/{room_id}').get_data(as_text=True)
    assert 'This room is full.' in page and 'At the table: P0, P1' in page
    assert 'data-full="1"' in page
    assert not re.search(r'id="full-notice"[^>]*hidden', page)
    assert re.search(r'id="join-button"[^>]*disabled', page)


def test_unknown_room_page_is_a_friendly_404(client):
    response = client.get('/r/zzz-zzzz-zzz')
    assert response.status_code == 404
    assert 'There is no room with this code' in response.get_data(as_text=True)


def test_recent_rooms_are_capped(client):
    post_form(client, '/rooms', display_name='Dana')
    for n in range(8):
        post_form(client, '/join', code=f'room-{n}', create='1')
        client.get(f'/r/room-{n}')
    home = client.get('/').get_data(as_text=True)
    assert 'room-7' in home and 'room-2' in home and 'room-1<' not in home


def test_guest_creation_from_the_form_is_rate_limited(tmp_path):
    app = make_app(tmp_path, RATELIMIT_USERS='2 per minute')
    for name in ('A', 'B'):
        assert post_form(app.test_client(), '/rooms', display_name=name).status_code == 302
    client = app.test_client()
    response = post_form(client, '/rooms', display_name='C')
    assert response.headers['Location'] == '/'
    assert 'too many new players' in client.get('/').get_data(as_text=True).lower()


def test_pages_send_the_strict_csp(client):
    csp = client.get('/').headers['Content-Security-Policy']
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
