"""Signed out everywhere while in a call: the player's page says so in words and does not
reconnect, and the others see the tile go (rhystic/signaling/signout.py, the web client's
static/js/signaling.js and ui.js). tests/test_signout.py covers the server side."""
import re

import pytest
import requests

from e2e.helpers import create_room, open_invite, wait_live

pytestmark = pytest.mark.browser

# POST /sign-out-everywhere exists only with a sign-in provider; nothing calls this one.
PROVIDER = {'RHYSTIC_OAUTH_TEST_ISSUER': 'http://127.0.0.1:9',
            'RHYSTIC_OAUTH_TEST_CLIENT_ID': 'id', 'RHYSTIC_OAUTH_TEST_CLIENT_SECRET': 'secret'}


@pytest.fixture(scope='module')
def site(start_server):
    return start_server(**PROVIDER)


def sign_out_everywhere_elsewhere(page, url):
    """The page's account signs out everywhere from another client holding its cookie."""
    http = requests.Session()
    for cookie in page.context.cookies():
        http.cookies.set(cookie['name'], cookie['value'])
    csrf = re.search(r'name="csrf-token" content="([^"]+)"',
                     http.get(url + '/', timeout=10).text).group(1)
    response = http.post(url + '/sign-out-everywhere', headers={'X-CSRFToken': csrf},
                         allow_redirects=False, timeout=10)
    assert response.status_code == 303, response.text


def test_a_player_signed_out_elsewhere_is_told_so_and_does_not_reconnect(site, player):
    alice, bob = player(), player()
    invite = create_room(alice, site.url, 'Alice')
    open_invite(bob, invite, 'Bob')
    wait_live(alice, ['Bob'])
    wait_live(bob, ['Alice'])

    sign_out_everywhere_elsewhere(bob, site.url)

    # Bob is told in words, with no Rejoin button and no reconnect loop.
    bob.wait_for_selector('#room-app[data-view="left"]')
    assert bob.locator('#left-title').inner_text() == 'You signed out on another device'
    assert 'Sign in again' in bob.locator('#left-reason').inner_text()
    assert bob.locator('#rejoin-link').is_hidden()
    assert bob.get_attribute('#room-app', 'data-signaling') == 'closed'

    # His tile goes for Alice at once (no grace period), and she stays in the room.
    gone = "() => !document.querySelector(\"#grid .tile.remote[data-name='Bob']\")"
    alice.wait_for_function(gone, timeout=3000)
    assert alice.get_attribute('#room-app', 'data-view') == 'call'
    assert alice.get_attribute('#room-app', 'data-signaling') == 'connected'
