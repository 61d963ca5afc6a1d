"""A link that fails keeps trying, with backoff, and its tile says so.

Two real ways for a link to fail: a peer that takes its seat and never offers nor
answers (a python-socketio client), and a relay-only room whose coturn is down, until
it comes back.
"""
import re
import time

import pytest

from clients import PyPeer, api_user
from e2e.conftest import TURN_SECRET
from e2e.helpers import SELECTED_PAIRS, create_room, open_invite, tile, wait_live
from servers import Coturn

pytestmark = pytest.mark.browser

# The web client's timings (static/js/webrtc.js DEFAULTS, docs/protocol.md §9).
OFFER_WAIT_S = 5
CONNECT_TIMEOUT_S = 15
RETRY_BASE_S, RETRY_MAX_S = 2, 30

# A remote tile's state, and how many attempts its link has made since it was last up.
TILE = "(name) => document.querySelector(`#grid .tile.remote[data-name='${name}']`)"
FAILED_AFTER = TILE + ("?.dataset.state === 'failed' && Number(document.querySelector("
                       "`#grid .tile.remote[data-name='${name}']`).dataset.attempt) >= %d")


def origin(sdp):
    return re.search(r'^o=.*$', sdp, re.M).group(0)


def ice_ufrag(sdp):
    return re.search(r'^a=ice-ufrag:(\S+)', sdp, re.M).group(1)


def test_a_peer_that_never_offers_is_offered_to_then_tried_again(server, player):
    alice = player()
    invite = create_room(alice, server.url, 'Alice')
    room_id = invite.rsplit('/r/', 1)[1]

    # A newcomer ought to offer (docs/protocol.md §9); this one takes its seat and says
    # nothing, so Alice's link waits for an offer that never comes.
    silent = PyPeer(server.url, room_id, api_user(server.url, 'Silent Sam')['token'])
    try:
        seated = time.monotonic()
        first = silent.next('signal', lambda s: s['type'] == 'offer', timeout=OFFER_WAIT_S + 25)
        first_at = time.monotonic()
        assert first['from'] == silent.welcome['peers'][0]['peer_id']
        # Alice gave the newcomer its chance before offering herself.
        assert first_at - seated >= OFFER_WAIT_S - 0.5, first_at - seated

        # Nor is there an answer: the attempt runs out, and the tile says so and when
        # the link tries again.
        alice.wait_for_function(FAILED_AFTER % 0, arg='Silent Sam',
                                timeout=(CONNECT_TIMEOUT_S + 20) * 1000)
        message = tile(alice, 'Silent Sam').locator('.tile-message').inner_text()
        assert message.startswith("Can't reach Silent Sam: no direct route"), message
        assert re.search(r'Trying again (in \d+ s\.|now \(attempt 2\))', message), message

        # ... and it does, once the first attempt's time is up: the same offer again, in
        # case it was lost (a new one could be mistaken for the first one's answer).
        second = silent.next('signal', lambda s: s['type'] == 'offer',
                             timeout=RETRY_BASE_S * 1.25 + 25)
        second_at = time.monotonic()
        assert origin(second['sdp']) == origin(first['sdp'])  # session id and version
        assert ice_ufrag(second['sdp']) == ice_ufrag(first['sdp'])
        assert second_at - first_at >= CONNECT_TIMEOUT_S - OFFER_WAIT_S, second_at - first_at
        assert tile(alice, 'Silent Sam').get_attribute('data-attempt') == '1'
    finally:
        silent.close()


def test_the_wait_between_attempts_doubles_up_to_a_cap(server, player):
    page = player()
    page.goto(server.url + '/')
    delays = page.evaluate("""async () => {
      const { retryDelay } = await import('/static/js/linkhealth.js');
      const config = { retryBaseMs: 2000, retryMaxMs: 30000 };
      const at = (r) => [0, 1, 2, 3, 4, 5, 9].map((n) => retryDelay(n, config, () => r));
      return { middle: at(0.5), low: at(0), high: at(0.999999) };
    }""")
    assert delays['middle'] == [2000, 4000, 8000, 16000, 30000, 30000, 30000]
    # Spread by a quarter either way, so that both ends don't try at the same instant.
    assert delays['low'] == [1500, 3000, 6000, 12000, 22500, 22500, 22500]
    assert delays['high'] == [2500, 5000, 10000, 20000, 37500, 37500, 37500]


def test_a_failed_relay_link_keeps_trying_and_comes_up_when_the_relay_returns(
        start_server, player):
    turn = Coturn(TURN_SECRET).start()
    port = turn.port
    server = start_server(RHYSTIC_ICE_TRANSPORT_POLICY='relay',
                          RHYSTIC_TURN_URLS=f'turn:127.0.0.1:{port}')
    turn.stop()  # the relay goes away: in relay-only mode there is no other way through
    try:
        alice, bob = player(), player()
        invite = create_room(alice, server.url, 'Alice')
        open_invite(bob, invite, 'Bob')
        for page, other in ((alice, 'Bob'), (bob, 'Alice')):
            # Failed, tried again, failed again: still no relay, and still trying.
            page.wait_for_function(FAILED_AFTER % 1, arg=other, timeout=60000)
            message = tile(page, other).locator('.tile-message').inner_text()
            assert 'the relay server does not answer' in message, message
            assert 'Trying again' in message, message

        turn = Coturn(TURN_SECRET, port=port).start()  # the relay is back
        # A later attempt finds it: within the longest wait between attempts, plus one.
        timeout = (RETRY_MAX_S * 1.25 + CONNECT_TIMEOUT_S + 15) * 1000
        wait_live(alice, ['Bob'], timeout=timeout)
        wait_live(bob, ['Alice'], timeout=timeout)
        for page in (alice, bob):
            pairs = page.evaluate(SELECTED_PAIRS)
            assert pairs and all(p['local'] == 'relay' for p in pairs), pairs
        assert tile(alice, 'Bob').locator('.tile-state').inner_text() == 'Via relay'
        assert tile(alice, 'Bob').get_attribute('data-attempt') == '0'
    finally:
        turn.stop()
