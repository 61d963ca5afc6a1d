"""Issue 10 in the lobby: a full room says so at once and offers the seat that frees
(items 4); who is seated, the microphone meter and the sound check (item 5); "Waiting
for others" alone in the call (item 5); "my voice is elsewhere" (item 10)."""
import pytest

from e2e.helpers import create_room, join_room, open_invite, tile, wait_live

pytestmark = pytest.mark.browser

# Every getUserMedia call a page makes, to prove which devices were (not) asked for.
RECORD_GUM = """
(() => {
  const devices = navigator.mediaDevices;
  if (!devices) return;
  const original = devices.getUserMedia.bind(devices);
  window.__gum = [];
  devices.getUserMedia = (constraints) => {
    window.__gum.push({audio: Boolean(constraints && constraints.audio),
                       video: Boolean(constraints && constraints.video)});
    return original(constraints);
  };
})();
"""


def test_a_full_room_says_so_at_once_and_offers_the_seat_that_frees(server, player):
    alice, bob, carol = player(), player(), player()
    invite = create_room(alice, server.url, 'Alice', seats=2)
    open_invite(bob, invite, 'Bob')
    wait_live(alice, ['Bob'])

    carol.goto(invite)
    # At once, from the page itself: full, who is there, and no camera or device lists.
    assert carol.locator('#full-notice').is_visible()
    assert carol.inner_text('#seats').strip() == 'All 2 seats are taken'
    assert carol.inner_text('#seated') == 'At the table: Alice, Bob'
    assert carol.locator('#join-button').is_disabled()
    assert not carol.locator('#camera-select').is_visible()
    assert not carol.locator('#mic-select').is_visible()
    assert not carol.locator('#preview').is_visible()
    assert carol.evaluate('() => document.getElementById("preview").srcObject') is None
    carol.evaluate('() => { window.__samePage = true; }')

    bob.click('#leave-button')
    # Without a reload, the count comes back by itself and the seat is offered.
    carol.wait_for_selector('#seat-free', state='visible', timeout=30000)
    assert carol.evaluate('() => window.__samePage') is True
    assert carol.inner_text('#seats').strip() == '1 of 2 seats free'
    assert carol.inner_text('#seated') == 'At the table: Alice'
    assert carol.title().startswith('Seat free')
    carol.wait_for_selector('#camera-select', state='visible')
    join_room(carol, 'Carol')
    wait_live(alice, ['Carol'])
    wait_live(carol, ['Alice'])


def test_the_lobby_names_the_seated_players_and_checks_the_sound(server, player):
    alice, bob = player(), player()
    invite = create_room(alice, server.url, 'Alice', seats=4)
    bob.goto(invite)
    assert bob.inner_text('#seated') == 'At the table: Alice'
    assert bob.inner_text('#seats').strip() == '3 of 4 seats free'

    # The meter moves with the (fake, beeping) microphone once the page has been touched:
    # browsers start audio only after a click.
    bob.wait_for_function('() => document.getElementById("preview").srcObject')
    bob.click('h1')
    bob.wait_for_function(
        '() => Number(document.getElementById("mic-meter").dataset.level) > 20',
        timeout=10000)
    assert bob.locator('#meter-hint').is_hidden()

    bob.click('#sound-check')
    bob.wait_for_function(
        '() => document.getElementById("sound-status").dataset.phase === "recording"')
    bob.wait_for_function(
        '() => document.getElementById("sound-status").dataset.phase === "done"',
        timeout=15000)
    assert int(bob.get_attribute('#sound-status', 'data-bytes')) > 1000
    assert 'Sound check done' in bob.inner_text('#sound-status')

    # A newcomer in the lobby appears in the list without a reload.
    carol = player()
    open_invite(carol, invite, 'Carol')
    bob.wait_for_function(
        '() => document.getElementById("seated").textContent === "At the table: Alice, Carol"',
        timeout=30000)
    assert bob.inner_text('#seats').strip() == '2 of 4 seats free'


def test_alone_in_the_call_waiting_for_others_with_the_invite(server, player):
    alice, bob = player(), player()
    alice.context.grant_permissions(['clipboard-read', 'clipboard-write'], origin=server.url)
    invite = create_room(alice, server.url, 'Alice')
    card = alice.locator('#waiting-card')
    card.wait_for(state='visible')
    assert 'Waiting for others' in card.inner_text()
    assert alice.locator('#waiting-card .waiting-link').input_value() == invite
    alice.click('#waiting-card .waiting-copy')
    alice.wait_for_function("() => document.querySelector('#waiting-card .waiting-copy')"
                            ".textContent === 'Link copied'")
    assert alice.evaluate('() => navigator.clipboard.readText()') == invite

    open_invite(bob, invite, 'Bob')
    card.wait_for(state='hidden')
    bob.click('#leave-button')
    card.wait_for(state='visible', timeout=30000)


def test_voice_elsewhere_opens_no_microphone_and_the_others_see_it(server, player):
    alice, bob = player(), player()
    bob.context.add_init_script(RECORD_GUM)
    invite = create_room(alice, server.url, 'Alice')
    bob.goto(invite)
    bob.wait_for_function('() => document.getElementById("preview").srcObject')
    bob.check('#voice-elsewhere')
    assert not bob.locator('#mic-select').is_visible()
    assert not bob.locator('#sound-tools').is_visible()

    # Remembered: a new visit opens the camera alone, and never asks for a microphone.
    bob.reload()
    assert bob.locator('#voice-elsewhere').is_checked()
    bob.wait_for_function('() => document.getElementById("preview").srcObject')
    join_room(bob, 'Bob')
    wait_live(alice, ['Bob'])
    calls = bob.evaluate('() => window.__gum')
    assert calls and all(not call['audio'] for call in calls), calls
    assert calls[-1]['video']

    # Nothing audio is sent, and Alice's tile for Bob says where his voice is.
    senders = bob.evaluate("""() => window.__pcs.flatMap((pc) => pc.getSenders())
        .filter((s) => s.track).map((s) => s.track.kind)""")
    assert 'video' in senders and 'audio' not in senders
    badge = tile(alice, 'Bob').locator('.badge-muted')
    badge.wait_for(state='visible')
    assert badge.text_content() == 'Voice elsewhere'
    assert not bob.locator('#mute-button').is_visible()
    # The mute shortcut has nothing to unmute. Camera off goes after it, in order: once
    # Alice sees that, she would have seen an unmute too.
    bob.keyboard.press('m')
    bob.click('#camera-button')
    tile(alice, 'Bob').locator('.badge-camera-off').wait_for(state='visible')
    assert badge.is_visible() and badge.text_content() == 'Voice elsewhere'


def test_plain_http_from_another_machine_says_cameras_need_https(server, player):
    """http://<host-ip>:8080 is not a secure context: no camera can open. The page says
    why and what to do, instead of "Opening your camera…" forever."""
    alice, friend = player(), player()
    code = create_room(alice, server.url, 'Alice').rsplit('/r/', 1)[1]
    # Another name than localhost for the same server: Chromium treats only loopback
    # names as secure over http, so this page is what a friend on the LAN gets.
    friend.context.route('http://rhystic.test/**', lambda route: route.fulfill(
        response=route.fetch(url=route.request.url.replace('http://rhystic.test', server.url))))
    friend.goto(f'http://rhystic.test/r/{code}')
    assert friend.evaluate('() => window.isSecureContext') is False
    notice = friend.locator('#insecure-notice')
    notice.wait_for(state='visible')
    assert 'only open cameras and microphones on https://' in ' '.join(notice.inner_text().split())
    assert not friend.locator('.lobby-preview').is_visible()
    assert not friend.locator('#camera-select').is_visible()
    assert friend.locator('#join-button').is_enabled()
    # The seat list still comes in over plain http.
    friend.wait_for_function(
        '() => document.getElementById("seated").textContent === "At the table: Alice"')
    # The home page, where such a friend looks first, says it too (from the Host).
    friend.context.unroute('http://rhystic.test/**')
    friend.context.route('http://rhystic.test/**', lambda route: route.fulfill(response=route.fetch(
        url=route.request.url.replace('http://rhystic.test', server.url),
        headers={**route.request.headers, 'host': 'rhystic.test'})))
    friend.goto('http://rhystic.test/')
    assert 'No camera will open on this address.' in friend.inner_text('#insecure-home')
