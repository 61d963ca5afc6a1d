"""The room's creator removes a player: a confirm step, a clear message for the removed
player, no reconnect loop, and the tile gone for everyone else."""
import pytest

from e2e.helpers import create_room, open_invite, tile, wait_live

pytestmark = pytest.mark.browser

KICK_TOOLS_SHOWN = "() => [...document.querySelectorAll('#grid .tool-kick')].filter((b) => !b.hidden).length"


def test_the_owner_removes_a_player_who_is_told_so_and_whose_tile_goes(server, player):
    alice, bob, carol = player(), player(), player()
    invite = create_room(alice, server.url, 'Alice')
    open_invite(bob, invite, 'Bob')
    open_invite(carol, invite, 'Carol')
    for page, others in ((alice, ['Bob', 'Carol']), (bob, ['Alice', 'Carol']),
                         (carol, ['Alice', 'Bob'])):
        wait_live(page, others)

    # Only the creator gets the control, on the others' tiles and never on her own.
    assert alice.evaluate(KICK_TOOLS_SHOWN) == 2
    assert alice.locator('#grid .tile.self .tool-kick').count() == 0
    assert bob.evaluate(KICK_TOOLS_SHOWN) == 0
    assert carol.evaluate(KICK_TOOLS_SHOWN) == 0

    # A confirm step: cancelling keeps Bob.
    bob_tile = tile(alice, 'Bob')
    bob_tile.hover()
    bob_tile.locator('.tool-kick').click()
    confirm = bob_tile.locator('.tile-confirm')
    confirm.wait_for(state='visible')
    assert 'Remove Bob from the room?' in confirm.inner_text()
    confirm.locator('.confirm-cancel').click()
    confirm.wait_for(state='hidden')
    assert tile(alice, 'Bob').count() == 1

    bob_tile.hover()
    bob_tile.locator('.tool-kick').click()
    confirm.locator('.confirm-kick').click()

    # Bob is told in words, with no reconnect loop and no Rejoin button.
    bob.wait_for_selector('#room-app[data-view="left"]')
    assert bob.locator('#left-title').inner_text() == 'You were removed from this room'
    assert bob.locator('#rejoin-link').is_hidden()
    assert bob.get_attribute('#room-app', 'data-signaling') == 'closed'

    # His tile goes for everyone else, and the call goes on for them.
    gone = "() => !document.querySelector(\"#grid .tile.remote[data-name='Bob']\")"
    alice.wait_for_function(gone, timeout=3000)
    carol.wait_for_function(gone, timeout=3000)
    wait_live(alice, ['Carol'])
    wait_live(carol, ['Alice'])

    # Coming straight back is refused, and says why.
    bob.goto(invite)
    bob.click('#join-button')
    error = bob.locator('#join-error')
    error.wait_for(state='visible')
    bob.wait_for_function("() => document.getElementById('join-error').textContent")
    assert 'removed from this room' in error.inner_text()
    assert bob.get_attribute('#room-app', 'data-view') == 'lobby'
