"""Acceptance 6 and 7: controls, and the viewer's spotlight and rotation."""
import pytest

from e2e.helpers import Stopwatch, create_room, open_invite, record_timing, tile, wait_live

pytestmark = pytest.mark.browser


@pytest.fixture
def call(server, player):
    alice, bob = player(), player(second_camera=True)
    invite = create_room(alice, server.url, 'Alice')
    open_invite(bob, invite, 'Bob')
    wait_live(alice, ['Bob'])
    wait_live(bob, ['Alice'])
    return alice, bob


def test_mute_and_camera_off_show_as_badges_on_the_other_side(call):
    alice, bob = call
    bob_tile = tile(alice, 'Bob')
    bob.click('#mute-button')
    bob_tile.locator('.badge-muted').wait_for(state='visible')
    bob.click('#camera-button')
    bob_tile.locator('.badge-camera-off').wait_for(state='visible')
    assert 'turned their camera off' in bob_tile.locator('.tile-message').inner_text()
    bob.click('#mute-button')
    bob.click('#camera-button')
    bob_tile.locator('.badge-muted').wait_for(state='hidden')
    bob_tile.locator('.badge-camera-off').wait_for(state='hidden')
    wait_live(alice, ['Bob'])


def test_switching_camera_keeps_the_link_live_without_renegotiating(call):
    alice, bob = call
    before = alice.evaluate('() => window.__pcs.map((pc) => pc.remoteDescription.sdp)')
    options = bob.locator('#call-camera-select option')
    assert options.count() == 2
    first = bob.evaluate("() => document.querySelector('.tile.self video').srcObject"
                         ".getVideoTracks()[0].label")
    other = [options.nth(i).get_attribute('value') for i in range(2)
             if options.nth(i).get_attribute('value') != bob.input_value('#call-camera-select')]
    bob.select_option('#call-camera-select', other[0])
    bob.wait_for_function(
        "(first) => document.querySelector('.tile.self video').srcObject"
        ".getVideoTracks()[0].label !== first", arg=first)
    wait_live(alice, ['Bob'])
    after = alice.evaluate('() => window.__pcs.map((pc) => pc.remoteDescription.sdp)')
    assert after == before  # replaceTrack: no new offer reached Alice


def test_leaving_removes_the_tile_within_two_seconds(call, artifacts):
    alice, bob = call
    clock = Stopwatch()
    bob.click('#leave-button')
    alice.wait_for_function(
        "() => !document.querySelector('#grid .tile.remote')", timeout=2000)
    record_timing(artifacts, 'leave_to_tile_removed_s', clock.elapsed())
    assert bob.locator('#left').is_visible()


ROTATION = """(name) => {
  const tile = document.querySelector(`#grid .tile.remote[data-name='${name}']`);
  const m = new DOMMatrix(getComputedStyle(tile.querySelector('video')).transform);
  return Math.round(Math.atan2(m.b, m.a) * 180 / Math.PI);
}"""


def test_spotlight_enlarges_and_rotation_survives_a_reload(call):
    alice, bob = call
    bob_tile = tile(alice, 'Bob')
    small = bob_tile.bounding_box()
    bob_tile.locator('.tile-media').click()
    alice.wait_for_function("() => document.querySelector('#grid .tile.remote.spotlight')")
    # layout.js places the tiles a moment after the class changes (seen: the own view
    # still 349 px wide at once, 188 px soon after): wait for the strip, then measure.
    alice.wait_for_function(
        "() => document.querySelector('#grid .tile.self').getBoundingClientRect().width <= 240",
        timeout=5000)
    big = bob_tile.bounding_box()
    # Tiles already fill the stage (layout.js): the spotlight keeps Bob at least as large
    # and moves the others, here the own view, to a narrow strip beside him.
    assert big['width'] * big['height'] >= 0.99 * small['width'] * small['height']
    own = alice.locator('#grid .tile.self').bounding_box()
    assert own['width'] <= 240 and own['width'] * own['height'] < 0.25 * big['width'] * big['height']

    bob_tile.hover()
    bob_tile.locator('.tool-rotate').click()
    assert bob_tile.get_attribute('data-rotate') == '90'
    assert alice.evaluate(ROTATION, 'Bob') == 90

    alice.reload()
    alice.click('#join-button')
    alice.wait_for_selector('#room-app[data-view="call"]')
    wait_live(alice, ['Bob'])
    bob_tile = tile(alice, 'Bob')
    assert bob_tile.get_attribute('data-rotate') == '90'
    assert alice.evaluate(ROTATION, 'Bob') == 90
    assert 'spotlight' in bob_tile.get_attribute('class')
