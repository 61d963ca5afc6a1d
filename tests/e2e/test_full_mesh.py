"""Acceptance 3: eight players in a full mesh (56 live links); a ninth finds the room full."""
import os
import secrets

import pytest
import redis as redis_lib

from conftest import REDIS_URL

from e2e.helpers import (create_room, join_together, negotiation_summary, record_timing,
                         wait_all_live, wait_live)

pytestmark = pytest.mark.browser

NAMES = ['Alice', 'Bob', 'Carol', 'Dave', 'Erin', 'Frank', 'Grace', 'Heidi']
# Lobby previews open: what is left after Join is signing in, the socket and WebRTC.
PREVIEW_READY = "() => document.getElementById('preview').srcObject"


@pytest.fixture(scope='module')
def redis_server(start_server):
    """Seats in Redis: seating yields, so of eight joins at once a newcomer can hear of
    a peer before its own welcome, and two newcomers can each list the other."""
    prefix = f'rhystic-e2e:{secrets.token_hex(6)}:'
    yield start_server(REDIS_URL=REDIS_URL, RHYSTIC_REDIS_PREFIX=prefix,
                       RHYSTIC_SOCKETIO_CHANNEL=prefix + 'channel',
                       RHYSTIC_RATELIMIT_KEY_PREFIX=prefix + 'limits')
    r = redis_lib.Redis.from_url(REDIS_URL)
    keys = list(r.scan_iter(prefix + '*', count=1000))
    if keys:
        r.delete(*keys)


@pytest.mark.parametrize('store', ['memory', 'redis'])
def test_eight_players_join_at_once_all_56_links_live_and_a_ninth_sees_room_full(
        store, request, player, artifacts):
    server = request.getfixturevalue('server' if store == 'memory' else 'redis_server')
    pages = {NAMES[0]: player(viewport={'width': 1280, 'height': 800})}
    invite = create_room(pages[NAMES[0]], server.url, NAMES[0], join=False)
    for name in NAMES[1:]:
        pages[name] = player()
        pages[name].goto(invite)
        pages[name].fill('#name-input', name)
    for page in pages.values():
        page.wait_for_function(PREVIEW_READY)

    # Friends click Join at nearly the same moment: all eight at once, microphones on.
    clicked_at = join_together(list(pages.values()))
    for page in pages.values():
        page.wait_for_selector('#room-app[data-view="call"]')
    all_live_at = wait_all_live(pages, NAMES, timeout=60000)
    seconds = (all_live_at - clicked_at) / 1000
    record_timing(artifacts, f'eight_players_join_at_once_all_56_links_live_s_{store}', seconds)
    print(f'{store}: all 56 links live {seconds:.2f} s after eight simultaneous joins; '
          f'negotiation: {negotiation_summary(pages, clicked_at)}')

    # The ninth comes while the eight are seated: asked right away, because on two
    # cores eight browsers' signaling sockets have been seen to stall for good some
    # 35-60 s after such a storm (see the closing note), and the seats then lapse.
    ninth = player()
    ninth.goto(invite)
    notice = ninth.locator('#full-notice')
    notice.wait_for(state='visible')
    assert 'room is full' in notice.inner_text().lower()
    assert ninth.locator('#join-button').is_disabled()

    for name, page in pages.items():  # and still live now, checked the usual way
        wait_live(page, [n for n in NAMES if n != name])

    host = pages[NAMES[0]]
    host.wait_for_function(
        "() => [...document.querySelectorAll('#grid .tile.remote')]"
        ".every((t) => /fps/.test(t.querySelector('.tile-quality').textContent))")
    host.screenshot(path=os.path.join(artifacts, f'eight-players-{store}.png'))
    phone = pages[NAMES[1]]
    phone.set_viewport_size({'width': 390, 'height': 844})
    phone.screenshot(path=os.path.join(artifacts, f'eight-players-phone-{store}.png'))
