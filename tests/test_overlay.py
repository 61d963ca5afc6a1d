"""The stream overlay (rhystic/game/overlay.py): the host's link, its token, the
read-only state it opens, and revoking it; on SQLite and PostgreSQL."""
import pytest

from conftest import new_room, new_user
from rhystic.extensions import db
from rhystic.game.overlay import OverlayToken
from test_signaling import Peer


@pytest.fixture
def table(app):
    """A room whose host and one player are seated, and Alice has lost 3 life."""
    client = app.test_client()
    host = new_user(client, 'hana', 'Hana')
    alice = new_user(app.test_client(), display_name='Alice')
    room = new_room(client, host['token'], name='Friday')
    peers = [Peer(app, room, host['token']), Peer(app, room, alice['token'])]
    ack = peers[1].emit('game', {'type': 'life', 'player': alice['user_id'], 'delta': -3})
    assert ack['ok'], ack
    yield {'app': app, 'room': room, 'host': host, 'alice': alice, 'peers': peers}
    for peer in peers:
        peer.drop()


def auth(user):
    return {'Authorization': f"Bearer {user['token']}"}


def make_link(client, table):
    response = client.post(f"/api/rooms/{table['room']}/overlay", headers=auth(table['host']))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_the_host_makes_a_link_that_shows_the_totals_and_nothing_else(table):
    client = table['app'].test_client()
    link = make_link(client, table)
    assert link['path'] == f"/r/{table['room']}/overlay?token={link['token']}"
    assert link['url'].endswith(link['path'])
    state_url = f"/api/rooms/{table['room']}/overlay/state"
    response = client.get(state_url, query_string={'token': link['token']})
    assert response.status_code == 200
    assert response.headers['Cache-Control'] == 'no-store'
    view = response.get_json()
    assert [(p['name'], p['life'], p['active']) for p in view['players']] == [
        ('Hana', 40, False), ('Alice', 37, False)]
    assert 'u_' not in response.get_data(as_text=True)  # no account ids
    # Nothing new since that version: 204, no body.
    same = client.get(state_url, query_string={'token': link['token'], 'since': view['version']})
    assert same.status_code == 204 and same.get_data() == b''
    # The page itself, with its token in a data attribute and no inline script.
    page = client.get(link['path'])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'data-token="{link["token"]}"' in html and '<script>' not in html
    # Only the hash is kept.
    with table['app'].app_context():
        row = db.session.get(OverlayToken, table['room'])
        assert row.token_hash != link['token'] and len(row.token_hash) == 64


def test_a_change_shows_on_the_next_poll(table):
    client = table['app'].test_client()
    link = make_link(client, table)
    state_url = f"/api/rooms/{table['room']}/overlay/state"
    before = client.get(state_url, query_string={'token': link['token']}).get_json()
    hana = table['host']['user_id']
    assert table['peers'][0].emit('game', {'type': 'set-active', 'player': hana})['ok']
    after = client.get(state_url, query_string={'token': link['token'],
                                                'since': before['version']}).get_json()
    assert after['version'] > before['version'] and after['turn'] == 1
    assert [p['active'] for p in after['players']] == [True, False]


def test_a_new_link_or_revoking_stops_the_old_one(table):
    client = table['app'].test_client()
    first = make_link(client, table)
    second = make_link(client, table)
    state_url = f"/api/rooms/{table['room']}/overlay/state"
    old = client.get(state_url, query_string={'token': first['token']})
    assert old.status_code == 403 and old.get_json()['error']['code'] == 'forbidden'
    assert client.get(state_url, query_string={'token': second['token']}).status_code == 200
    status = client.get(f"/api/rooms/{table['room']}/overlay", headers=auth(table['host']))
    assert status.get_json()['active'] is True
    revoked = client.delete(f"/api/rooms/{table['room']}/overlay", headers=auth(table['host']))
    assert revoked.status_code == 200 and revoked.get_json()['active'] is False
    assert client.get(state_url, query_string={'token': second['token']}).status_code == 403
    assert client.get(second['path']).status_code == 403  # the page says so too
    status = client.get(f"/api/rooms/{table['room']}/overlay", headers=auth(table['host']))
    assert status.get_json() == {'room_id': table['room'], 'active': False, 'created_at': None}


def test_only_the_host_manages_the_link_and_bad_input_gets_clear_errors(table):
    client = table['app'].test_client()
    url = f"/api/rooms/{table['room']}/overlay"
    for method in (client.post, client.get, client.delete):
        refused = method(url, headers=auth(table['alice']))
        assert refused.status_code == 403
        assert refused.get_json()['error']['code'] == 'forbidden'
        assert method(url).status_code == 401
        missing = method('/api/rooms/no-such-room/overlay', headers=auth(table['host']))
        assert missing.status_code == 404
        assert missing.get_json()['error']['code'] == 'room_not_found'
    link = make_link(client, table)
    state_url = f"/api/rooms/{table['room']}/overlay/state"
    for token in (None, '', 'x' * 65, link['token'][:-1] + '?'):
        query = {} if token is None else {'token': token}
        response = client.get(state_url, query_string=query)
        assert response.status_code == 403, token
    assert client.get('/api/rooms/no-such-room/overlay/state',
                      query_string={'token': link['token']}).status_code == 404
    assert client.get(f"/r/{table['room']}/overlay").status_code == 403


def test_a_malformed_since_gets_400_not_a_500(table):
    """int() refuses digits str.isdigit() accepts ('²', 5000 of them): that was a 500."""
    client = table['app'].test_client()
    link = make_link(client, table)
    state_url = f"/api/rooms/{table['room']}/overlay/state"
    version = client.get(state_url, query_string={'token': link['token']}).get_json()['version']
    for since in ('²', '9' * 5000, '', '-1', '+1', ' 1', '1.0', 'abc', str(2 ** 53)):
        response = client.get(state_url, query_string={'token': link['token'], 'since': since})
        assert response.status_code == 400, (since[:20], response.status_code)
        error = response.get_json()['error']
        assert error['code'] == 'invalid_request' and error['field'] == 'since'
    for since, status in ((version, 204), (version + 1, 200), (0, 200), (2 ** 53 - 1, 200)):
        response = client.get(state_url, query_string={'token': link['token'], 'since': since})
        assert response.status_code == status, since


def test_the_overlay_page_answers_bad_links_with_a_page_in_words(table):
    client = table['app'].test_client()
    link = make_link(client, table)
    page = f"/r/{table['room']}/overlay"
    for query in ('', '?token=', '?token=' + 'x' * 500, f"?token={link['token']}%00",
                  '?token=%FF%ED%A0%80', f"?token={link['token'][:-1]}&token={link['token']}"):
        response = client.get(page + query)
        assert response.status_code == 403 and response.mimetype == 'text/html', query
        assert 'overlay link is not valid' in response.get_data(as_text=True)
    shown = client.get(page, query_string={'token': link['token'], 'layout': '<b>'})
    assert shown.status_code == 200 and '<b>' not in shown.get_data(as_text=True)
    for room in ('no-such-room', 'BAD_ID', 'x' * 300, '%00'):
        response = client.get(f'/r/{room}/overlay', query_string={'token': link['token']})
        assert response.status_code == 404 and response.mimetype == 'text/html', room
        assert 'There is no room with this code.' in response.get_data(as_text=True)
