"""Acceptance 4: relay-only mode goes through coturn; bad TURN credentials are explained."""
import pytest

from e2e.helpers import SELECTED_PAIRS, create_room, open_invite, tile, wait_live

pytestmark = pytest.mark.browser


def test_relay_policy_connects_through_coturn(start_server, player):
    relay_server = start_server(RHYSTIC_ICE_TRANSPORT_POLICY='relay')
    alice, bob = player(), player()
    invite = create_room(alice, relay_server.url, 'Alice')
    open_invite(bob, invite, 'Bob')
    wait_live(alice, ['Bob'])
    wait_live(bob, ['Alice'])
    for page in (alice, bob):
        config = page.evaluate('() => window.__pcs.map((pc) => pc.getConfiguration())')
        assert config and all(c['iceTransportPolicy'] == 'relay' for c in config)
        pairs = page.evaluate(SELECTED_PAIRS)
        assert pairs and all(p['local'] == 'relay' for p in pairs), pairs
    alice.wait_for_function(
        "() => document.querySelector('#grid .tile.remote').dataset.state === 'relay'")
    assert tile(alice, 'Bob').locator('.tile-state').inner_text() == 'Via relay'


def test_bad_turn_credentials_say_why_instead_of_a_black_tile(start_server, player):
    broken = start_server(RHYSTIC_ICE_TRANSPORT_POLICY='relay',
                          RHYSTIC_TURN_SECRET='not-the-secret-coturn-knows')
    alice, bob = player(), player()
    invite = create_room(alice, broken.url, 'Alice')
    open_invite(bob, invite, 'Bob')
    for page, other in ((alice, 'Bob'), (bob, 'Alice')):
        message = tile(page, other).locator('.tile-message')
        page.wait_for_function(
            "(name) => document.querySelector(`#grid .tile.remote[data-name='${name}']`)"
            "?.dataset.state === 'failed'", arg=other)
        text = message.inner_text()
        assert text.startswith(f"Can't reach {other}: no direct route and no relay available"), text
        assert message.is_visible()
        assert "relay server refused our credentials" in text, text
