"""Acceptance 5: the server restarts mid-call; media keeps flowing, signaling resumes."""
import pytest

from e2e.helpers import create_room, open_invite, wait_live

pytestmark = pytest.mark.browser

SIGNALING = "(state) => document.getElementById('room-app').dataset.signaling === state"


def test_server_restart_keeps_video_and_resumes_signaling(start_server, player):
    server = start_server()
    alice, bob = player(), player()
    invite = create_room(alice, server.url, 'Alice')
    open_invite(bob, invite, 'Bob')
    wait_live(alice, ['Bob'])
    wait_live(bob, ['Alice'])

    server.stop()
    for page in (alice, bob):
        page.wait_for_function(SIGNALING, arg='reconnecting')
    # Peer-to-peer: the pictures keep moving while the server is away.
    wait_live(alice, ['Bob'])
    wait_live(bob, ['Alice'])

    server.start()
    for page in (alice, bob):
        page.wait_for_function(SIGNALING, arg='connected', timeout=30000)
    wait_live(alice, ['Bob'])
    wait_live(bob, ['Alice'])

    carol = player()
    open_invite(carol, invite, 'Carol')
    wait_live(carol, ['Alice', 'Bob'])
    wait_live(alice, ['Bob', 'Carol'])
    wait_live(bob, ['Alice', 'Carol'])
